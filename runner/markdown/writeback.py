"""Write a run's evidence back into a task file, touching only the lines taskrun owns.

Pure: text in, text out. The owned lines are the Status Tracking values, the evidence block and
the Change Log items taskrun added; every other byte of the file stays as it was. A file
without a Status Tracking section but with a `**Status**:` field near the top gets that value
and an evidence block at the end of the validation section it ran; a file with neither gets a
Status Tracking section.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from runner.errors import HandEditedEvidence, InputError, WriteBackRefused
from runner.markdown.document import parse_document
from runner.markdown.evidence_block import (
    EVIDENCE_END,
    EVIDENCE_START,
    body_checksum,
    checksum_line,
)
from runner.markdown.evidence_table import EvidenceRow, header_line, merge_rows, recorded_rows
from runner.markdown.lines import split_lines
from runner.markdown.status_values import owned_value
from runner.models import CheckResult, Field, RunRecord, TaskDocument

STATUS_KEY = "current status"
COMPLETION_KEYS = ("completion", "completion percentage")
UPDATED_KEY = "last updated"
OWNED_FIELD_KEYS = frozenset({STATUS_KEY, UPDATED_KEY, *COMPLETION_KEYS})

# A Change Log item taskrun wrote ends with the run id in parentheses.
RUN_MARK = re.compile(r"\(run (\d{8}T\d{6}Z(?:-\d+)?)\)\s*$")
_BOLD_DATE_ITEM = re.compile(r"^(\s*[-*+]\s+)\*\*[^*]+\*\*:\s")
_DASH_DATE_ITEM = re.compile(r"^(\s*[-*+]\s+)(?:\d{4}-\d{2}-\d{2}|\[[^\]]*\]) - ")
_BULLET = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
# C0 controls and DEL (whitespace ones are already collapsed), and lone surrogates.
_UNWRITABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")
_PLACE_BEFORE = ("additional information", "additional requirements", "notes", "references")

_LABEL_WIDTH = 60
_REASON_WIDTH = 80
_LIST_LABEL_WIDTH = 40
_LISTED_FAILURES = 3


# --------------------------------------------------------------------------- outcome policy


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run means for the task's status."""

    counted: int  # non-manual checks (the M of "N/M passed")
    passed: int
    ran: int  # non-manual, non-skip checks
    manual: int
    complete: bool  # every rule for `Complete` holds


def judge(record: RunRecord) -> Outcome:
    counted = [r for r in record.results if r.status != "manual"]
    passed = sum(1 for r in counted if r.status == "pass")
    ran = sum(1 for r in counted if r.status != "skip")
    manual = len(record.results) - len(counted)
    complete = ran >= 1 and passed == len(counted) and manual == 0 and not record.filtered
    return Outcome(len(counted), passed, ran, manual, complete)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str | None  # new Current Status value; None leaves it
    completion: str | None  # new Completion value; None leaves it
    regression_kept: bool  # the task stays Complete although this run did not pass


def decide_status(
    current: str | None, outcome: Outcome, *, set_status: bool, filtered: bool = False
) -> StatusChange:
    """DESIGN §7: Complete only on a clean, unfiltered run; never leave Complete silently.

    A filtered run whose checks all passed leaves a Complete task as it is: it proves part
    of the task again, which is no regression.
    """
    if outcome.complete:
        return StatusChange("Complete", "100%", regression_kept=False)
    if current is not None and current.strip().casefold() == "complete" and not set_status:
        clean = outcome.ran >= 1 and outcome.passed == outcome.counted and not outcome.manual
        return StatusChange(None, None, regression_kept=not (filtered and clean))
    return StatusChange("Testing", None, regression_kept=False)


# --------------------------------------------------------------------------- one-line text


def one_line(text: str | None, width: int) -> str:
    """Collapse whitespace, neutralise `<` (no stray HTML), bound the length.

    Control characters (a NUL would make the file "binary") and lone surrogates (not encodable
    as UTF-8) become U+FFFD.
    """
    flat = " ".join((text or "").split()).replace("<", "&lt;")
    flat = _UNWRITABLE.sub("\ufffd", flat)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table_cell(text: str | None, width: int = _REASON_WIDTH) -> str:
    return one_line(text, width).replace("|", "\\|")


def _check_names(results: Iterable[CheckResult]) -> str:
    names = [
        f"{one_line(r.label, _LIST_LABEL_WIDTH)} on {one_line(r.component, _LABEL_WIDTH)}"
        for r in results
    ]
    if len(names) > _LISTED_FAILURES:
        rest = len(names) - _LISTED_FAILURES
        names = [*names[:_LISTED_FAILURES], f"{rest} more"]
    return ", ".join(names)


def change_log_text(
    record: RunRecord,
    outcome: Outcome,
    *,
    regression_kept: bool,
    regressions: Sequence[str],
    since: str | None = None,
    recovered: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """`Validation 7/8 passed; failed: Service Health on llm-02 (run 20261124T130550Z)`.

    `notes` say how the run came to be written when that was out of the ordinary
    (`report --apply --force`)."""
    parts = [f"Validation {outcome.passed}/{outcome.counted} passed"]
    if outcome.ran == 0:
        parts.append("no check ran")
    failed = [r for r in record.results if r.status == "fail"]
    errors = [r for r in record.results if r.status == "error"]
    skipped = sum(1 for r in record.results if r.status == "skip")
    if failed:
        parts.append(f"failed: {_check_names(failed)}")
    if errors:
        parts.append(f"could not run: {_check_names(errors)}")
    if skipped:
        parts.append(f"{skipped} skipped")
    if outcome.manual:
        parts.append(f"{outcome.manual} manual")
    if record.filtered:
        parts.append("filtered run")
    if regressions:
        what = f"regressed since {since}" if since else "regressed"
        parts.append(f"{what}: " + ", ".join(one_line(r, _LIST_LABEL_WIDTH) for r in regressions))
    if recovered:
        parts.append("recovered: " + ", ".join(one_line(r, _LIST_LABEL_WIDTH) for r in recovered))
    if regression_kept:
        parts.append("status left Complete")
    parts += [one_line(note, 200) for note in notes]
    return "; ".join(parts) + f" (run {record.run_id})"


# --------------------------------------------------------------------------- evidence block


def _where(result: CheckResult) -> str:
    if result.host and result.host not in (result.component, "local"):
        return f"{result.component} ({result.host})"
    return result.component


def _result_word(result: CheckResult) -> str:
    return f"{result.status} (flaky)" if result.flaky else result.status


def result_row(record: RunRecord, result: CheckResult) -> EvidenceRow:
    """The table row of one of this run's results."""
    duration = f"{result.duration_s:.2f} s" if result.duration_s is not None else ""
    return EvidenceRow(
        check=table_cell(result.label, _LABEL_WIDTH),
        id_cell=f"`{table_cell(result.id, 80)}`",
        where=table_cell(_where(result), 60),
        result=_result_word(result),
        run_id=table_cell(record.run_id, 40),
        duration=duration,
        reason=table_cell(result.reason or result.error),
    )


def evidence_body(
    record: RunRecord,
    outcome: Outcome,
    *,
    regression_kept: bool,
    regressions: Sequence[str],
    since: str | None = None,
    recovered: Sequence[str] = (),
    previous_rows: Sequence[EvidenceRow] = (),
    keep_ids: Collection[str] | None = None,
) -> list[str]:
    """The block's lines between the markers, checksum line excluded.

    A filtered run replaces the rows of the checks it ran and keeps `previous_rows` of the
    others (those still in `keep_ids`, the task's checks now, when given).
    """
    rows = [result_row(record, r) for r in record.results]
    kept = 0
    if record.filtered and previous_rows:
        rows, kept = merge_rows(
            previous_rows, rows, keep=lambda check_id: keep_ids is None or check_id in keep_ids
        )
    s = record.summary
    counts = [f"{outcome.passed}/{outcome.counted} passed"]
    counts += [
        f"{n} {word}"
        for n, word in (
            (s.failed, "failed"),
            (s.errors, "could not run"),
            (s.skipped, "skipped"),
            (s.manual, "manual"),
        )
        if n
    ]
    filtered = ""
    if record.filtered:
        earlier = f"; {kept} row{'s' if kept != 1 else ''} from earlier runs kept" if kept else ""
        filtered = f" (filtered: only part of the checks ran{earlier})"
    body = [
        f"**taskrun** run `{record.run_id}`, started {one_line(record.started_at, 40)}: "
        f"{', '.join(counts)}{filtered}.",
        "",
    ]
    if regression_kept:
        body += [
            "⚠️ Regression: the task is marked Complete but this run did not pass; the status "
            "was left as it is (`--set-status` changes it).",
            "",
        ]
    if regressions:
        listed = ", ".join(one_line(r, _LIST_LABEL_WIDTH) for r in regressions)
        body += [f"⚠️ Regressed since {since or 'the last run'}: {listed}.", ""]
    if recovered:
        listed = ", ".join(one_line(r, _LIST_LABEL_WIDTH) for r in recovered)
        body += [f"Recovered since {since or 'the last run'}: {listed}.", ""]
    if not rows:
        return [*body, "No check ran."]
    return [*body, *header_line(), *(row.line() for row in rows)]


def evidence_lines(body: Sequence[str]) -> list[str]:
    """The whole block, markers and checksum line included."""
    inner = [*body, ""]
    return [EVIDENCE_START, checksum_line(body_checksum(inner)), *inner, EVIDENCE_END]


def recorded_outcomes(doc: TaskDocument) -> tuple[tuple[str, str], ...] | None:
    """(check id, status) pairs of the evidence block, for `validate --check`; None: no block."""
    rows = recorded_rows(doc)
    return None if rows is None else tuple((row.id, row.status) for row in rows)


# --------------------------------------------------------------------------- owned lines


def _owned_fields(doc: TaskDocument) -> list[Field]:
    if doc.status is None:
        return []
    return [f for f in doc.status.fields if f.key in OWNED_FIELD_KEYS]


def owned_line_numbers(doc: TaskDocument) -> set[int]:
    """0-based lines taskrun may change: its status values, evidence block, Change Log items."""
    owned = {f.line for f in _owned_fields(doc)}
    if doc.status is None:
        if doc.status_field is not None:
            owned.add(doc.status_field.line)
        if doc.evidence is not None:
            owned.update(range(doc.evidence.start_line, doc.evidence.end_line + 1))
        return owned
    if doc.status.evidence is not None:
        owned.update(range(doc.status.evidence.start_line, doc.status.evidence.end_line + 1))
    if doc.status.change_log is not None:
        owned.update(i.line for i in doc.status.change_log.items if RUN_MARK.search(i.text))
    return owned


# --------------------------------------------------------------------------- edits


@dataclass(frozen=True, slots=True)
class _Edit:
    """Replace original lines [start, end) with `lines` (texts without endings)."""

    start: int
    end: int
    lines: tuple[str, ...]
    order: int = 0  # ties at one insertion point apply in this order


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    ending: str
    owned: bool
    original: int | None  # index in the original document, None for a line taskrun wrote
    added: bool = False  # written by an insertion (not in place of an owned line)


def _file_lines(doc: TaskDocument) -> tuple[list[str], list[str]]:
    """The document's real lines; a virtual empty line after the final newline is dropped."""
    lines, endings = list(doc.lines), list(doc.endings)
    if len(lines) > 1 and lines[-1] == "" and endings[-1] == "" and endings[-2] != "":
        lines.pop()
        endings.pop()
    return lines, endings


def _default_ending(endings: Sequence[str]) -> str:
    seen = [e for e in endings if e]
    return max(set(seen), key=seen.count) if seen else "\n"


def _apply(doc: TaskDocument, edits: Sequence[_Edit]) -> list[_Line]:
    lines, endings = _file_lines(doc)
    default = _default_ending(endings)
    ordered = sorted(edits, key=lambda e: (e.start, e.end, e.order))
    out: list[_Line] = []
    cursor = 0
    for edit in ordered:
        if edit.start < cursor:
            raise WriteBackRefused(f"{doc.path}: overlapping write-back edits (a taskrun bug)")
        out += [_Line(lines[i], endings[i], False, i) for i in range(cursor, edit.start)]
        # New lines take the ending of their neighbour: the line they replace or follow.
        if edit.end > edit.start:
            ending = endings[edit.start]
        elif edit.start > 0:
            ending = endings[edit.start - 1]
        else:
            ending = endings[0] if endings else default
        added = edit.end == edit.start
        out += [_Line(text, ending or default, True, None, added) for text in edit.lines]
        cursor = max(cursor, edit.end)
    out += [_Line(lines[i], endings[i], False, i) for i in range(cursor, len(lines))]
    final_newline = bool(endings) and endings[-1] != ""
    fixed = [
        line if line.ending or n == len(out) - 1 else _with_ending(line, default)
        for n, line in enumerate(out)
    ]
    if fixed:
        last = fixed[-1]
        fixed[-1] = _with_ending(last, (last.ending or default) if final_newline else "")
    return fixed


def _with_ending(line: _Line, ending: str) -> _Line:
    return _Line(line.text, ending, line.owned, line.original, line.added)


def _replace_value(line: str, field: Field, value: str) -> str:
    """The value replaced, the note after it (`(blocked on CAB-123)`) kept."""
    owned = owned_value(line, field)
    return line[: owned.start] + value + line[owned.end :]


def _field_line_like(model: Field, model_line: str, name: str, value: str) -> str:
    """A new field line in the style of `model` (label punctuation, backticks, trailing)."""
    at = model_line.find(model.name)
    owned = owned_value(model_line, model)
    tick = 1 if owned.backticked else 0
    if at < 0 or at + len(model.name) > owned.start - tick:
        return f"- **{name}**: `{value}`"
    before = model_line[:at]
    between = model_line[at + len(model.name) : owned.start - tick]
    # What follows the model's whole value (a hard break), never its note.
    after = model_line[model.value_end + (1 if model.backticked else 0) :]
    shown = f"`{value}`" if owned.backticked else value
    return f"{before}{name}{between}{shown}{after}"


# --------------------------------------------------------------------------- markdown blocks


# Only block tokens and their `content` are compared: the inline pass would only cost time
# (it was most of a 10 MB file's write-back).
_MD = MarkdownIt("commonmark").enable("table").disable("inline")


@functools.lru_cache(maxsize=2)
def _tokens(text: str) -> tuple:
    """Block tokens whose maps count exactly the lines `split_lines` gives (CR, CRLF, LF).

    Cached: one write-back asks for the tokens of the same two texts several times.
    """
    lines, _ = split_lines(text)
    return tuple(_MD.parse("".join(line + "\n" for line in lines)))


def _block_end(tokens: Sequence[Any], line: int, total: int) -> int:
    """End (exclusive) of the outermost block holding `line`, trailing blank lines excluded."""
    for token in tokens:
        if token.level == 0 and token.map and token.map[0] <= line < token.map[1]:
            return token.map[1]
    return min(line + 1, total)


def _blank(line: str) -> bool:
    """Blank as Markdown sees a line: nothing but spaces and tabs. `str.strip()` also drops
    U+0085, U+00A0, U+2028, form feeds …, which CommonMark reads as text (such a line goes on
    the paragraph or list item above it)."""
    return not line.strip(" \t")


def _last_content_line(lines: Sequence[str], start: int, end: int) -> int:
    last = start
    for i in range(start, min(end, len(lines))):
        if not _blank(lines[i]):
            last = i
    return last


def _is_c_style(doc: TaskDocument) -> bool:
    """Template C: `**Name:** value` labels and plain headings."""
    for f in doc.fields:
        text = doc.lines[f.line]
        if f"**{f.name}:**" in text:
            return True
        if f"**{f.name}**:" in text:
            return False
    return False


def _uses_emoji_headings(doc: TaskDocument) -> bool:
    return any(h.level == 2 and h.text[:1] and not h.text[0].isalnum() for h in doc.headings)


# --------------------------------------------------------------------------- the edits


@dataclass(frozen=True, slots=True)
class _Plan:
    status: StatusChange
    outcome: Outcome
    log_text: str
    evidence: list[str]


def _change_log_item(doc: TaskDocument, today: str, text: str) -> tuple[str, bool]:
    """(new item line, loose list) in the style of the existing items."""
    log = doc.status.change_log if doc.status else None
    items = log.items if log else ()
    if not items:
        item = f"- {today} - {text}" if _is_c_style(doc) else f"- **{today}**: {text}"
        return item, False
    last = items[-1].text
    if m := _BOLD_DATE_ITEM.match(last):
        item = f"{m.group(1)}**{today}**: {text}"
    elif m := _DASH_DATE_ITEM.match(last):
        item = f"{m.group(1)}{today} - {text}"
    else:
        bullet = m.group(1) if (m := _BULLET.match(last)) else "- "
        item = f"{bullet}**{today}**: {text}"
    if all(i.text.endswith("  ") for i in items):
        item += "  "
    loose = len(items) >= 2 and _blank(doc.lines[items[-1].line - 1])
    return item, loose


def _field_edits(
    doc: TaskDocument, plan: _Plan, today: str, tokens: Sequence[Any]
) -> tuple[list[_Edit], int]:
    """Value replacements and missing fields; returns the edits and the insertion line used."""
    assert doc.status is not None
    fields = {f.key: f for f in doc.status.fields}
    wanted: list[tuple[tuple[str, ...], str, str | None]] = [
        ((STATUS_KEY,), "Current Status", plan.status.status),
        (COMPLETION_KEYS, "Completion", plan.status.completion),
        ((UPDATED_KEY,), "Last Updated", today),
    ]
    edits: list[_Edit] = []
    missing: list[tuple[str, str]] = []
    for keys, name, value in wanted:
        if value is None:
            continue
        present = next((fields[k] for k in keys if k in fields), None)
        if present is None:
            if keys == COMPLETION_KEYS and _is_c_style(doc):
                name = "Completion Percentage"
            missing.append((name, value))
        elif owned_value(doc.lines[present.line], present).value != value:
            line = doc.lines[present.line]
            edits.append(
                _Edit(present.line, present.line + 1, (_replace_value(line, present, value),))
            )
    if not doc.status.fields:
        if missing:
            at = doc.status.heading_line + 1
            new_fields = [_default_field_line(doc, name, value) for name, value in missing]
            edits.append(_Edit(at, at, ("", *new_fields), order=0))
        return edits, -1
    last = max(doc.status.fields, key=lambda f: f.line)
    if missing:
        model_line = doc.lines[last.line]
        new = [_field_line_like(last, model_line, name, value) for name, value in missing]
        end = _field_end(tokens, doc.lines, last.line)
        paragraph_style = not _BULLET.match(model_line)
        if paragraph_style and not doc.lines[end].endswith(("  ", "\\")):
            new.insert(0, "")  # no hard break to continue: start a paragraph of our own
        edits.append(_Edit(end + 1, end + 1, tuple(new), order=0))
    return edits, last.line


def _field_end(tokens: Sequence[Any], lines: Sequence[str], line: int) -> int:
    """Last line of the field's list item (or paragraph): lines indented under a field belong
    to it, and a new field goes after them."""
    item = paragraph = None
    for token in tokens:
        if not token.map or not token.map[0] <= line < token.map[1]:
            continue
        if token.type == "list_item_open" and token.map[0] == line:
            item = token.map
        elif token.type == "paragraph_open":
            paragraph = token.map
    span = item or paragraph
    return line if span is None else _last_content_line(lines, line, span[1])


def _default_field_line(doc: TaskDocument, name: str, value: str) -> str:
    if _is_c_style(doc):
        return f"**{name}:** {value}  "
    return f"- **{name}**: `{value}`"


def _status_section_edits(doc: TaskDocument, plan: _Plan, today: str) -> list[_Edit]:
    assert doc.status is not None
    lines, _ = _file_lines(doc)
    tokens = _tokens(doc.text)
    edits, last_field = _field_edits(doc, plan, today, tokens)
    evidence = doc.status.evidence
    log = doc.status.change_log

    log_lines: tuple[str, ...] = ()
    if log is None:
        item, _ = _change_log_item(doc, today, plan.log_text)
        log_lines = ("### Change Log", *(() if _is_c_style(doc) else ("",)), item)

    if evidence is not None:
        edits.append(_Edit(evidence.start_line, evidence.end_line + 1, tuple(plan.evidence)))
        if log_lines:
            at = evidence.end_line + 1
            tail = () if at >= len(lines) or _blank(lines[at]) else ("",)
            edits.append(_Edit(at, at, ("", *log_lines, *tail), order=2))
    else:
        if last_field >= 0:
            anchor = _last_content_line(
                lines, last_field, _block_end(tokens, last_field, len(lines))
            )
        else:
            anchor = doc.status.heading_line
        at = anchor + 1
        block = list(plan.evidence)
        if log_lines:
            block += ["", *log_lines]  # a new Change Log goes right after the new block
        if at < len(lines) and _blank(lines[at]):
            at += 1  # reuse the blank line already there
        else:
            block.insert(0, "")
        if at >= len(lines) or not _blank(lines[at]):
            block.append("")
        edits.append(_Edit(at, at, tuple(block), order=1))

    if log is not None and log.items:
        item, loose = _change_log_item(doc, today, plan.log_text)
        last = log.items[-1].line
        end = _last_content_line(lines, last, _block_end(tokens, last, len(lines)))
        edits.append(_Edit(end + 1, end + 1, ("", item) if loose else (item,), order=2))
    elif log is not None:
        item, _ = _change_log_item(doc, today, plan.log_text)
        at = log.heading_line + 1
        pad = ("",) if not _is_c_style(doc) else ()
        after = () if at >= len(lines) or _blank(lines[at]) else ("",)
        edits.append(_Edit(at, at, (*pad, item, *after), order=2))
    return edits


def _status_field_edits(doc: TaskDocument, plan: _Plan, record: RunRecord) -> list[_Edit]:
    """The `**Status**:` value near the top, and the evidence block at the end of the
    outermost validation section holding the last check that ran (replaced where it is)."""
    field = doc.status_field
    assert field is not None
    edits: list[_Edit] = []
    current = owned_value(doc.lines[field.line], field).value
    if plan.status.status is not None and current != plan.status.status:
        line = doc.lines[field.line]
        new = _replace_value(line, field, plan.status.status)
        edits.append(_Edit(field.line, field.line + 1, (new,)))
    if doc.evidence is not None:
        block = doc.evidence
        edits.append(_Edit(block.start_line, block.end_line + 1, tuple(plan.evidence)))
        return edits
    lines, _ = _file_lines(doc)
    after = _evidence_anchor(doc, record, lines)
    at = after + 1
    block_lines = ["", *plan.evidence]
    if at < len(lines) and not _blank(lines[at]):
        block_lines.append("")
    edits.append(_Edit(at, at, tuple(block_lines), order=1))
    return edits


_RUN_KINDS = ("test-commands", "test-steps", "validation")


def _evidence_anchor(doc: TaskDocument, record: RunRecord, lines: Sequence[str]) -> int:
    """The last content line of the outermost validation section holding the last check that
    ran (a thematic break at its end stays after the block); else the status field's line."""
    ran = sorted(r.line - 1 for r in record.results if r.line)
    for line in reversed(ran):
        holding = [
            s for s in doc.sections if s.kind in _RUN_KINDS and s.span.start <= line < s.span.end
        ]
        if not holding:
            continue
        outer = min(holding, key=lambda s: (s.level, s.line))
        end = min(outer.span.end, len(lines)) - 1
        while end > line and (_blank(lines[end]) or _THEMATIC_BREAK.match(lines[end])):
            end -= 1
        return end
    assert doc.status_field is not None
    tokens = _tokens(doc.text)
    return _field_end(tokens, lines, doc.status_field.line)


def _new_section_edit(doc: TaskDocument, plan: _Plan, today: str) -> _Edit:
    """A whole Status Tracking section at the template's place, in the file's style."""
    lines, _ = _file_lines(doc)
    c_style = _is_c_style(doc)
    status = plan.status.status or "Testing"
    if c_style:
        fields = [f"**Current Status:** {status}  "]
        if plan.status.completion:
            fields.append(f"**Completion Percentage:** {plan.status.completion}  ")
        fields.append(f"**Last Updated:** {today}  ")
        heading = "## Status Tracking"
        log = ["### Change Log", f"- {today} - {plan.log_text}"]
    else:
        fields = [f"- **Current Status**: `{status}`"]
        if plan.status.completion:
            fields.append(f"- **Completion**: `{plan.status.completion}`")
        fields.append(f"- **Last Updated**: `{today}`")
        heading = "## 📊 Status Tracking" if _uses_emoji_headings(doc) else "## Status Tracking"
        log = ["### Change Log", "", f"- **{today}**: {plan.log_text}"]
    section = [heading, "", *fields, "", *plan.evidence, "", *log]

    target = next((h for h in doc.headings if h.level == 2 and h.name in _PLACE_BEFORE), None)
    uses_breaks = any(_THEMATIC_BREAK.match(line) for line in lines)
    if target is None:
        before = [] if not lines or _blank(lines[-1]) else [""]
        ends_with_break = _break_before(lines, len(lines))
        breaks = ["---", ""] if uses_breaks and not ends_with_break else []
        return _Edit(len(lines), len(lines), (*before, *breaks, *section))
    at = target.line
    if uses_breaks and _break_before(lines, target.line):
        return _Edit(at, at, (*section, "", "---", ""))
    before = [] if at == 0 or _blank(lines[at - 1]) else [""]
    return _Edit(at, at, (*before, *section, ""))


def _break_before(lines: Sequence[str], heading: int) -> bool:
    i = heading - 1
    while i >= 0 and _blank(lines[i]):
        i -= 1
    return i >= 0 and bool(_THEMATIC_BREAK.match(lines[i]))


# --------------------------------------------------------------------------- guard


def _token_key(token, content: str) -> tuple[str, str, str]:
    return (token.type, token.tag, content)


def _outside_owned(text: str, owned: set[int]) -> list[tuple[str, str, str]]:
    """Block tokens (type, tag, content) not wholly inside owned lines; owned lines dropped.

    Blank lines belong to no block, so a token counts as owned when all its non-blank lines
    are owned. A token without a map (a table cell, a closing tag) shares its parent's lines.
    """
    lines, _ = split_lines(text)
    keys: list[tuple[str, str, str]] = []
    parents: list[tuple[int, int] | None] = []
    for token in _tokens(text):
        inherited = parents[-1] if parents else None
        own_span = (token.map[0], token.map[1]) if token.map else None
        if token.nesting == -1:
            span = parents.pop() if parents else None
        else:
            span = own_span or inherited
            if token.nesting == 1:
                parents.append(span)
        content = token.content
        if span is not None:
            # str.strip(), not _blank(): markdown-it-py strips such characters (U+2028, NBSP,
            # …) off a paragraph's ends, so a line of them adds nothing to the content compared.
            solid = [i for i in range(span[0], span[1]) if i < len(lines) and lines[i].strip()]
            if solid and all(i in owned for i in solid):
                continue
            parts = content.split("\n")
            first, last = span
            if token.type == "inline":
                # markdown-it-py strips a paragraph's content, whole lines of such characters at
                # its ends included: the parts line up with the lines that are left.
                while first < last and first < len(lines) and not lines[first].strip():
                    first += 1
                while last > first and last - 1 < len(lines) and not lines[last - 1].strip():
                    last -= 1
            width = last - first
            if content and any(i in owned for i in solid) and len(parts) >= width:
                content = "\n".join(
                    p for n, p in enumerate(parts) if n >= width or first + n not in owned
                )
        if token.type == "inline":
            # markdown-it drops a paragraph's trailing spaces only on its last line: a field line
            # ending in a hard break (`  `) reads differently once taskrun adds a line after it.
            content = "\n".join(part.rstrip() for part in content.split("\n"))
        keys.append(_token_key(token, content))
    return keys


def _refuse_unclosed_fence(doc: TaskDocument, edits: Sequence[_Edit]) -> None:
    """An unclosed fence runs on to the end of its container: lines added inside or right after
    it would end it early or become code."""
    for block in doc.code_blocks:
        if block.closed:
            continue
        if any(block.span.start < edit.start <= block.span.end for edit in edits):
            line = block.span.start + 1
            raise WriteBackRefused(
                f"{doc.path}({line}): the code fence opened on line {line} is never closed, so "
                "what taskrun writes after it would change that code block; close the fence "
                "and run again (the file was left alone)"
            )


# Blocks of the file that can take in the lines taskrun adds, and what to tell the person.
_TAKING_BLOCKS = {
    "fence": "the code fence opened on line {line} is never closed",
    "code_block": "the indented code block on line {line} would run into them",
    "html_block": "the HTML block on line {line} is not closed",
    "list_item_open": "line {line} is indented (or follows without a blank line), so it would "
    "join the list item taskrun adds before it",
}


def _refuse_taken_in_lines(doc: TaskDocument, out: Sequence[_Line], new_text: str) -> None:
    """Refuse, naming the line at fault, when the file's shape makes a block mix lines taskrun
    adds with lines it does not own (an unclosed fence or `<!--`, an indented line below)."""
    owned = owned_line_numbers(doc)
    for token in _tokens(new_text):
        if token.type not in _TAKING_BLOCKS or not token.map:
            continue
        span = [out[i] for i in range(token.map[0], min(token.map[1], len(out)))]
        theirs = [
            line
            for line in span
            if line.original is not None and line.original not in owned and line.text.strip()
        ]
        ours = [line for line in span if line.added and line.text.strip()]
        if token.type == "list_item_open" and not span[0].added:
            continue  # their item may hold lines taskrun adds (a field in a nested list)
        if ours and theirs:
            line = theirs[0].original + 1  # type: ignore[operator]
            why = _TAKING_BLOCKS[token.type].format(line=line)
            raise WriteBackRefused(
                f"{doc.path}({line}): {why}; taskrun cannot add its lines there without "
                "changing yours (the file was left alone)"
            )


def _guard(doc: TaskDocument, out: Sequence[_Line], new_text: str, record: RunRecord) -> None:
    """Refuse unless the change stays inside the lines taskrun owns: naming the line at fault
    when the file's shape is in the way, as a taskrun bug otherwise."""
    _refuse_taken_in_lines(doc, out, new_text)
    lines, endings = _file_lines(doc)
    touched = _touched(out, len(lines))
    kept = [(line.original, line.text) for line in out if not line.owned]
    problem = None
    if not touched <= owned_line_numbers(doc):
        problem = "replace lines it does not own"
    elif kept != [(i, lines[i]) for i in range(len(lines)) if i not in touched]:
        problem = "move or change lines it does not own"
    elif any(
        line.original is not None
        and line.original != len(lines) - 1  # the last line may gain an ending
        and line.ending != endings[line.original]
        for line in out
    ):
        problem = "change a line ending"
    else:
        old_owned = touched | owned_line_numbers(doc)
        new_owned = {n for n, line in enumerate(out) if line.owned or line.original in old_owned}
        if _outside_owned(doc.text, old_owned) != _outside_owned(new_text, new_owned):
            problem = "change the Markdown outside the lines taskrun owns"
    if problem:
        raise WriteBackRefused(
            f"{doc.path}: write-back would {problem} (a taskrun bug); the file was left alone"
        )
    _check_reparse(doc, new_text, record)


def _touched(out: Sequence[_Line], total: int) -> set[int]:
    """Original lines that were replaced (not carried over)."""
    carried = {line.original for line in out if line.original is not None}
    return set(range(total)) - carried


def _check_reparse(doc: TaskDocument, new_text: str, record: RunRecord) -> None:
    data = ("\ufeff" if doc.has_bom else "") + new_text
    try:
        new = parse_document(
            data.encode("utf-8"), doc.path, validation_sections=doc.validation_sections
        )
    except InputError as exc:
        raise WriteBackRefused(f"{doc.path}: the written file would not parse: {exc}") from exc
    problems = []
    if new.task_id != doc.task_id:
        problems.append("Task ID changed")
    if new.evidence is None:
        problems.append("evidence block not found")
    elif new.evidence.checksum != new.evidence.actual_checksum:
        problems.append("evidence checksum does not match")
    if doc.status is None and doc.status_field is not None:
        # the `**Status**:` field form has no Change Log: the block names the run
        block = new.evidence
        if new.status_field is None:
            problems.append("Status field not found")
        if block is None or not any(
            f"run `{record.run_id}`" in line
            for line in new.lines[block.start_line : block.end_line]
        ):
            problems.append("evidence block of this run not found")
    elif (
        new.status is None
        or new.status.change_log is None
        or not any(f"(run {record.run_id})" in item.text for item in new.status.change_log.items)
    ):
        problems.append("Change Log item not found")
    if problems:
        raise WriteBackRefused(f"{doc.path}: write-back self-check failed: {'; '.join(problems)}")


# --------------------------------------------------------------------------- entry point


def _already_applied(doc: TaskDocument, run_id: str) -> bool:
    if doc.status is None:
        block = doc.evidence
        return block is not None and any(
            f"run `{run_id}`" in line for line in doc.lines[block.start_line : block.end_line]
        )
    log = doc.status.change_log
    return log is not None and any(
        (m := RUN_MARK.search(item.text)) and m.group(1) == run_id for item in log.items
    )


def hand_edited(doc: TaskDocument) -> bool:
    """The evidence block's checksum no longer matches its lines: a person changed them."""
    block = doc.evidence
    return block is not None and block.checksum != block.actual_checksum


def _refuse_hand_edit(doc: TaskDocument) -> None:
    if hand_edited(doc):
        assert doc.evidence is not None
        line = doc.evidence.start_line + 1
        raise HandEditedEvidence(
            f"{doc.path}({line}): the evidence block was edited by hand, so taskrun does not "
            "overwrite it: restore or remove the block, or apply the run with `taskrun report "
            "TASK --run RUN-ID --apply --force` (the Change Log records that it replaced a hand "
            "edit)"
        )


def current_status(doc: TaskDocument) -> str | None:
    """The Current Status value, without a note written after it."""
    if doc.status is None:
        top = doc.status_field
        return None if top is None else owned_value(doc.lines[top.line], top).value
    field = next((f for f in doc.status.fields if f.key == STATUS_KEY), None)
    return None if field is None else owned_value(doc.lines[field.line], field).value


def render_write_back(
    doc: TaskDocument,
    record: RunRecord,
    *,
    today: str,
    set_status: bool = False,
    regressions: Sequence[str] = (),
    since: str | None = None,
    recovered: Sequence[str] = (),
    keep_ids: Collection[str] | None = None,
    force: bool = False,
    notes: Sequence[str] = (),
) -> str | None:
    """The new file text (BOM and line endings kept), or None when nothing changes.

    Raises WriteBackRefused on a hand-edited evidence block (unless `force`: then the block is
    replaced and the Change Log says so), or when the self-check finds a change outside the
    owned lines. `keep_ids`: the task's check ids now, so a filtered run does not keep rows of
    checks the file no longer has. `notes` go into the Change Log item.
    """
    if doc.task_id is None or not doc.is_task or record.state != "complete":
        return None
    if _already_applied(doc, record.run_id):
        return None
    notes = list(notes)
    previous_rows: Sequence[EvidenceRow] = ()
    if hand_edited(doc):
        if not force:
            _refuse_hand_edit(doc)
        notes.append("replaced a hand-edited evidence block (--force)")
    else:
        previous_rows = recorded_rows(doc) or ()
    outcome = judge(record)
    status = decide_status(
        current_status(doc), outcome, set_status=set_status, filtered=record.filtered
    )
    body = evidence_body(
        record,
        outcome,
        regression_kept=status.regression_kept,
        regressions=regressions,
        since=since,
        recovered=recovered,
        previous_rows=previous_rows,
        keep_ids=keep_ids,
    )
    plan = _Plan(
        status=status,
        outcome=outcome,
        log_text=change_log_text(
            record,
            outcome,
            regression_kept=status.regression_kept,
            regressions=regressions,
            since=since,
            recovered=recovered,
            notes=notes,
        ),
        evidence=evidence_lines(body),
    )
    if doc.status is not None:
        edits = _status_section_edits(doc, plan, today)
    elif doc.status_field is not None:
        edits = _status_field_edits(doc, plan, record)
    else:
        edits = [_new_section_edit(doc, plan, today)]
    _refuse_unclosed_fence(doc, edits)
    out = _apply(doc, edits)
    new_text = "".join(line.text + line.ending for line in out)
    if new_text == doc.text:
        return None
    _guard(doc, out, new_text, record)
    return ("\ufeff" if doc.has_bom else "") + new_text


__all__ = [
    "Outcome",
    "StatusChange",
    "change_log_text",
    "current_status",
    "decide_status",
    "evidence_body",
    "evidence_lines",
    "hand_edited",
    "judge",
    "owned_line_numbers",
    "recorded_outcomes",
    "render_write_back",
    "result_row",
]
