"""Golden write-back over the team's own fixtures: task file in, expected task file out, compared
as bytes (the twin of test_writeback_golden.py, whose inputs are ../shared/corpus files).

`UPDATE_GOLDEN=1 python -m pytest tests/golden/test_writeback_generations.py` regenerates the
expected files; read every changed line before committing them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from runner.markdown.evidence_block import EVIDENCE_END, EVIDENCE_START
from runner.markdown.writeback import owned_line_numbers
from runner.models import Span, TaskDocument
from tests.generations import GEN_TASKS, GOLDEN_SOURCES, generation_markdown_files, relative
from tests.golden.test_writeback_golden import _carried, _lines_taken_away, _render
from tests.golden.writeback_records import GOLDEN, parse, record, result

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
EXPECTED = GOLDEN / "generations"
BOM = b"\xef\xbb\xbf"


def expected_path(key: str) -> Path:
    return EXPECTED / f"{key}-{Path(GOLDEN_SOURCES[key]).name}"


@pytest.mark.parametrize("key", sorted(GOLDEN_SOURCES))
def test_golden_output_matches_byte_for_byte(key: str) -> None:
    source = GEN_TASKS / GOLDEN_SOURCES[key]
    new = _render(source.read_bytes(), str(source))
    assert new is not None
    if UPDATE:
        expected_path(key).write_bytes(new)
    assert new == expected_path(key).read_bytes()


def _text(key: str) -> str:
    return expected_path(key).read_bytes().decode("utf-8")


def test_the_golden_files_show_each_template_style() -> None:
    a, b, c, crlf, bom = (_text(key) for key in ("A", "B", "C", "CRLF", "BOM"))
    # A: list items, backticked values; the Change Log keeps its blank line after the heading
    assert "- **Current Status**: `Testing`\n" in a
    assert "- **Completion**: `0%`\n" in a  # left as it is: the run was not clean
    assert "- **Last Updated**: `2026-11-24`\n" in a
    assert "- **Time Actual**: `[To be filled]`\n" in a  # not taskrun's field
    assert (
        "\n- **2026-03-02**: Task written for the gateway rollout\n"
        "- **2026-11-24**: Validation 7/8 passed; failed: Service Health on llm-02; 1 manual "
        "(run 20261124T130550Z)\n"
    ) in a
    # B: three fields, no blank line after `### Change Log`
    assert "- **Current Status**: `Testing`\n- **Completion**: `0%`\n" in b
    assert (
        "### Change Log\n- **2026-03-02**: Task created from `overview.md`.\n- **2026-11-24**" in b
    )
    # C: bold-colon labels, bare values, the hard-break double spaces kept
    assert "**Current Status:** Testing  \n" in c
    assert "**Completion Percentage:** 0%  \n" in c
    assert "**Last Updated:** 2026-11-24  \n" in c
    assert "\n- 2026-11-24 - Validation 7/8 passed; failed: Service Health on llm-02; 1 manual" in c
    assert not c.endswith("\n")  # the source has no final newline, and keeps it that way
    assert c.endswith("clients parse them.")
    # CRLF stays CRLF on every line, new ones included; the BOM stays first
    assert crlf.count("\n") == crlf.count("\r\n")
    assert "- **Last Updated**: `2026-11-24`\r\n" in crlf
    assert bom.startswith("\ufeff# Engineering Task Template\n")
    assert "**Current Status:** Testing  \n" in bom
    for text in (a, b, c, crlf, bom):
        assert text.count(EVIDENCE_START) == 1 and text.count(EVIDENCE_END) == 1
        assert "| Service Health | `tc8-abc123@llm-02` |" in text


# The fixture tasks, each also with CRLF endings and with a BOM.
TASK_FILES = [
    path for path in generation_markdown_files() if parse(path.read_bytes(), str(path)).is_task
]


def _variants(data: bytes) -> list[tuple[str, bytes]]:
    plain = data.removeprefix(BOM).replace(b"\r\n", b"\n")
    return [
        ("as written", data),
        ("crlf", plain.replace(b"\n", b"\r\n")),
        ("bom", BOM + plain),
    ]


@pytest.mark.parametrize("path", TASK_FILES, ids=relative)
def test_every_fixture_task_changes_only_owned_lines(path: Path) -> None:
    for _, data in _variants(path.read_bytes()):
        doc = parse(data, str(path))
        new = _render(data, str(path))
        if doc.task_id is None:
            assert new is None  # the template is never written
            continue
        assert new is not None
        old_lines, new_lines = data.splitlines(keepends=True), new.splitlines(keepends=True)
        changed = _lines_taken_away(old_lines, new_lines)
        assert set(changed) <= owned_line_numbers(doc), [old_lines[i] for i in changed]
        # Every inserted line sits in the Status Tracking section of the new file.
        new_doc = parse(new, str(path))
        assert new_doc.status is not None and new_doc.status.evidence is not None
        section = range(new_doc.status.span.start, new_doc.status.span.end)
        inserted = set(range(len(new_lines))) - _carried(old_lines, new_lines)
        assert inserted <= set(section), sorted(inserted - set(section))
        assert new_doc.lines[new_doc.status.evidence.start_line] == EVIDENCE_START
        assert new_doc.lines[new_doc.status.evidence.end_line] == EVIDENCE_END
        assert new_doc.task_id == doc.task_id and new_doc.title == doc.title
        assert new_doc.code_blocks == _moved(doc, new_doc)
        assert data.endswith(b"\n") == new.endswith(b"\n")
        assert new.startswith(BOM) == data.startswith(BOM)
        assert (b"\r\n" in new) == (b"\r\n" in data)
        assert new.count(b"\n") == new.count(b"\r\n") or b"\r\n" not in data


def _moved(old: TaskDocument, new: TaskDocument) -> tuple:
    """The old document's code blocks as the new one must have them: those above Status
    Tracking where they were, those below it (ENG-004's Notes block) moved down by the number of
    lines the write-back added."""
    assert old.status is not None
    added = len(new.lines) - len(old.lines)
    moved = []
    for block in old.code_blocks:
        if block.span.end <= old.status.heading_line:
            moved.append(block)
        else:
            assert block.span.start >= old.status.span.end
            moved.append(
                replace(
                    block,
                    span=Span(block.span.start + added, block.span.end + added),
                    body_start=block.body_start + added,
                )
            )
    return tuple(moved)


def test_the_table_covers_every_task_and_the_template() -> None:
    assert len(TASK_FILES) == 21
    assert "task-template.md" in {path.name for path in TASK_FILES}


@pytest.mark.parametrize("key", sorted(GOLDEN_SOURCES))
def test_applying_the_same_run_twice_equals_once(key: str) -> None:
    source = GEN_TASKS / GOLDEN_SOURCES[key]
    once = _render(source.read_bytes(), str(source))
    assert once is not None
    assert _render(once, str(source)) is None


@pytest.mark.parametrize("key", sorted(GOLDEN_SOURCES))
def test_a_second_run_adds_exactly_one_change_log_item(key: str) -> None:
    source = GEN_TASKS / GOLDEN_SOURCES[key]
    once = _render(source.read_bytes(), str(source))
    assert once is not None
    second = record(
        (result("pass", number=1),), run_id="20261125T080000Z", task_id=parse(once).task_id
    )
    twice = _render(once, str(source), run=second)
    assert twice is not None
    first_doc, second_doc = parse(once), parse(twice)
    assert first_doc.status and first_doc.status.change_log
    assert second_doc.status and second_doc.status.change_log
    before = [item.text for item in first_doc.status.change_log.items]
    after = [item.text for item in second_doc.status.change_log.items]
    assert after[:-1] == before
    assert len(after) == len(before) + 1
    assert "(run 20261125T080000Z)" in after[-1]
    # The evidence block was replaced, not added to.
    assert twice.count(EVIDENCE_START.encode()) == 1
    assert b"20261124T130550Z`" not in twice.split(EVIDENCE_START.encode())[1].split(b"###")[0]
    # A clean run of every check: the task becomes Complete.
    values = {f.key: f.value for f in second_doc.status.fields}
    assert values["current status"] == "Complete"
    assert values.get("completion", values.get("completion percentage")) == "100%"
