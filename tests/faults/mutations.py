"""Hypothesis strategies that mutate corpus files (and YAML seeds) line by line and byte by byte.

Documents are bytes: a mutation may break UTF-8, inject a NUL or a BOM, or change line endings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from runner.markdown.document import parse_document
from runner.markdown.evidence_block import EVIDENCE_END, EVIDENCE_START
from runner.models import CheckResult, RunRecord

REPO = Path(__file__).resolve().parents[2]
CORPUS_TASKS = REPO.parent / "shared" / "corpus" / "hx-infrastructure" / "api-gateway" / "x-Tasks"
CORPUS_HISTORY = REPO.parent / "shared" / "corpus" / "history"

_LINE_ENDING = re.compile(rb"\r\n|\r|\n")

# Fragments that stress the parser and the write-back: line breaks Markdown does and does not
# count, bytes that are not text, fences, evidence markers, and the template's own syntax.
SAFE_TOKENS: tuple[bytes, ...] = (
    b"\r",
    b"\r\n",
    b"\n",
    b"\n\n",
    "\u2028".encode(),
    "\u2029".encode(),
    "\x85".encode(),
    b"\x0b",
    b"\x0c",
    b"\t",
    b"  ",
    b"    ",
    b"\xef\xbb\xbf",
    b"```",
    b"```bash\n",
    b"\n```\n",
    b"~~~",
    b"    ```bash",
    EVIDENCE_START.encode(),
    EVIDENCE_END.encode(),
    f"\n{EVIDENCE_START}\n".encode(),
    f"\n{EVIDENCE_END}\n".encode(),
    b"<!-- taskrun:checksum sha256:0123456789abcdef -->",
    b"<!--",
    b"-->",
    b"<div>",
    b"**Task ID**: `ENG-999`",
    b"**Task ID:** ENG-998  ",
    b"**Current Status**: `Complete`",
    b"- **Completion**: `100%`",
    b"**Last Updated:** 2025-01-01  ",
    b"\n## Status Tracking\n",
    b"\n## \xf0\x9f\x93\x8a Status Tracking\n",
    b"\n### Change Log\n",
    b"\n### Test Commands\n",
    b"\n## Validation Criteria\n",
    b"- **2026-01-01**: Validation 1/1 passed (run 20260101T000000Z)",
    b"- 2026-01-01 - Validation 0/1 passed (run 20260101T000000Z-2)",
    b"(Expected: `200`)",
    b"`curl -s localhost`",
    b"> ",
    b"- ",
    b"1. ",
    b"# ",
    b"---\n",
    b"***",
    b"|",
    b"`",
    b"\\",
    b"**",
    b"[",
    b"]",
    "\u2013\u2192\u2705\u274c\U0001f3d7\ufe0f".encode(),
    "\u00a0".encode(),
)
# Bytes that make a file unreadable as text: the parser must refuse them with a line number.
BROKEN_TOKENS: tuple[bytes, ...] = (b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc")
ALL_TOKENS = SAFE_TOKENS + BROKEN_TOKENS

# Fragments for the YAML loaders: flow and block syntax, tags, anchors, odd scalars.
YAML_TOKENS: tuple[bytes, ...] = (
    b": ",
    b":",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"? ",
    b"|",
    b">",
    b"'",
    b'"',
    b"#",
    b"\t",
    b"  ",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"~",
    b"null",
    b"yes",
    b"0x1F",
    b"0o17",
    b"1e309",
    b".inf",
    b".nan",
    b"-1",
    b"99999999999999999999",
    b"2026-01-01",
    b"!!str ",
    b"!!int ",
    b"!!float ",
    b"!!bool ",
    b"!!binary ",
    b"!!timestamp ",
    b"!!set ",
    b"!!omap ",
    b"!!python/object:os.system ",
    b"!local ",
    b"\xef\xbb\xbf",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\x07",
    b"\xff",
    "\u2028".encode(),
    "\x85".encode(),
    b"host: ",
    b"port: ",
    b"vars: ",
    b"env: ",
    b"components:\n",
    b"defaults:\n",
    b"all:\n",
    b"hosts:\n",
    b"children:\n",
)


def split_keeping_endings(data: bytes) -> list[bytes]:
    """Lines with their endings (CRLF, CR or LF), as the parser counts them."""
    lines: list[bytes] = []
    position = 0
    for match in _LINE_ENDING.finditer(data):
        lines.append(data[position : match.end()])
        position = match.end()
    if position < len(data):
        lines.append(data[position:])
    return lines


def line_count(data: bytes) -> int:
    return len(split_keeping_endings(data))


def corpus_markdown() -> list[tuple[str, bytes]]:
    """(name, bytes) of every Markdown file of the corpus (tasks, non-tasks, history)."""
    paths = sorted(CORPUS_TASKS.rglob("*.md")) + sorted(CORPUS_HISTORY.glob("*.md"))
    return [(path.name, path.read_bytes()) for path in paths]


def corpus_tasks() -> list[tuple[str, bytes]]:
    """(name, bytes) of the corpus files that are tasks with an ID (write-back targets)."""
    found = []
    for name, data in corpus_markdown():
        doc = parse_document(data, name)
        if doc.is_task and doc.task_id is not None:
            found.append((name, data))
    return found


def budget(examples: int) -> settings:
    """Hypothesis settings for a fuzz test: `examples` inputs, no per-example deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------- mutations

_OPS = ("delete", "duplicate", "swap", "inject", "insert-line", "ending", "truncate", "bom")


@st.composite
def mutated(
    draw: st.DrawFn,
    seeds: Sequence[tuple[str, bytes]],
    *,
    tokens: Sequence[bytes] = ALL_TOKENS,
    max_mutations: int = 6,
    max_window: int | None = None,
    ops: Sequence[str] = _OPS,
) -> bytes:
    """A seed file, optionally cut to a window of lines, with up to `max_mutations` edits."""
    _name, data = draw(st.sampled_from(list(seeds)))
    lines = split_keeping_endings(data)
    if max_window is not None and len(lines) > max_window:
        start = draw(st.integers(0, len(lines) - 1))
        size = draw(st.integers(1, max_window))
        lines = lines[start : start + size]
    for _ in range(draw(st.integers(0, max_mutations))):
        lines = _mutate_once(draw, lines, tokens, ops)
    return b"".join(lines)


def _mutate_once(
    draw: st.DrawFn, lines: list[bytes], tokens: Sequence[bytes], ops: Sequence[str]
) -> list[bytes]:
    op = draw(st.sampled_from(list(ops)))
    if not lines:
        return [draw(st.sampled_from(list(tokens)))]
    index = draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    out = list(lines)
    if op == "delete":
        del out[index]
    elif op == "duplicate":
        out.insert(index, line)
    elif op == "swap":
        other = draw(st.integers(0, len(lines) - 1))
        out[index], out[other] = out[other], out[index]
    elif op == "inject":
        column = draw(st.integers(0, len(line)))
        out[index] = line[:column] + draw(st.sampled_from(list(tokens))) + line[column:]
    elif op == "insert-line":
        out.insert(index, draw(st.sampled_from(list(tokens))) + b"\n")
    elif op == "ending":
        body = line.rstrip(b"\r\n")
        out[index] = body + draw(st.sampled_from([b"\n", b"\r\n", b"\r", b""]))
    elif op == "truncate":
        column = draw(st.integers(0, len(line)))
        out = [*out[:index], line[:column]]
    elif op == "bom":
        out[0] = b"\xef\xbb\xbf" + out[0]
    return out


# --------------------------------------------------------------------------- run records

# Text a check's label or reason may carry: table and Markdown syntax, markers, line breaks
# Python and Markdown disagree on, emoji.
_NASTY = st.sampled_from(
    [
        "|",
        "`",
        "``",
        "<",
        ">",
        "<!--",
        "-->",
        EVIDENCE_END,
        "**",
        "_",
        "#",
        "\\",
        "\\|",
        "\n",
        "\r",
        "\r\n",
        "\t",
        "\u2028",
        "\x85",
        " ",
        "  ",
        "é",
        "❌",
        "✅",
        "🏗️",
        "(run 20260101T000000Z)",
        "- ",
        "---",
        "[x]",
        "sk-hx-dev-1234",
    ]
)
_WORDS = st.text(alphabet="abcdefghij-_ ./:0123456789", max_size=12)
NASTY_TEXT = st.lists(st.one_of(_NASTY, _WORDS), max_size=6).map("".join)
STATUSES = ("pass", "fail", "error", "skip", "manual")
COMPONENTS = ("api-gateway", "llm-01", "llm-02", "orc")


@st.composite
def check_results(draw: st.DrawFn, number: int) -> CheckResult:
    status = draw(st.sampled_from(STATUSES))
    component = draw(st.sampled_from(COMPONENTS))
    plan_id = f"tc{number}-{draw(st.sampled_from(['abc123', 'def456', '0a1b2c']))}"
    reason = draw(st.none() | NASTY_TEXT)
    return CheckResult(
        id=f"{plan_id}@{component}",
        plan_id=plan_id,
        label=draw(NASTY_TEXT),
        source=draw(st.sampled_from(["test-commands", "test-steps", "must-pass"])),
        must_pass=draw(st.none() | st.sampled_from(["Service Health", "Security"])),
        component=component,
        host=draw(st.sampled_from(["local", "192.168.10.39", "agent0@llm-01:2222", ""])),
        command="true",
        status=status,
        exit_code=draw(st.none() | st.integers(0, 255)),
        started_at="2026-11-24T13:05:51.000Z",
        duration_s=draw(st.none() | st.floats(0, 1e6, allow_nan=False)),
        reason=None if status == "error" else reason,
        error=reason if status == "error" else None,
        flaky=status == "pass" and draw(st.booleans()),
    )


@st.composite
def run_ids(draw: st.DrawFn) -> str:
    base = f"2026{draw(st.integers(1, 12)):02d}{draw(st.integers(1, 28)):02d}T130550Z"
    suffix = draw(st.sampled_from(["", "-2", "-17"]))
    return base + suffix


@st.composite
def run_records(draw: st.DrawFn, *, task_id: str | None, run_id: str | None = None) -> RunRecord:
    count = draw(st.integers(0, 6))
    results = tuple(draw(check_results(number)) for number in range(1, count + 1))
    return RunRecord(
        task_id=task_id,
        task_path="tasks/t.md",
        title="t",
        run_id=run_id or draw(run_ids()),
        state="complete",
        started_at="2026-11-24T13:05:50Z",
        finished_at="2026-11-24T13:06:10Z",
        results=results,
        filtered=draw(st.booleans()),
    )
