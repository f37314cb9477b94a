"""The value of a Status Tracking field, told apart from a note written after it.

People write `` `In Progress` (blocked on CAB-123) `` or `60% — waiting on vendor patch`: the
value is `In Progress` / `60%`, the rest is their note. Write-back replaces the value and keeps
the note; selection (`--status`) and the status policy read the value. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.models import Field

__all__ = ["TEMPLATE_STATUSES", "OwnedValue", "owned_value"]

# The template's Current Status values (task-template.md), in its order.
TEMPLATE_STATUSES = ("Not Started", "In Progress", "Blocked", "Testing", "Complete")

_PERCENT = re.compile(r"\d{1,3}(?:\.\d+)?\s?%")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?")
# Where a note starts after a bare value: an opening bracket, a dash used as a separator,
# `;`, `,` or `: `.
_NOTE_START = re.compile(r"\s*(?:\(|\[|—|–|\s-\s|;|,|:\s)")
_BACKTICK_RUN = re.compile(r"`+")


@dataclass(frozen=True, slots=True)
class OwnedValue:
    """`start`/`end`: character offsets of the value in the line (backticks excluded)."""

    value: str
    start: int
    end: int
    backticked: bool
    note: str  # what follows the value on the line, as written ("" when nothing does)


def owned_value(line: str, field: Field) -> OwnedValue:
    """The field's value and the note after it. A whole-value code span, a placeholder or a
    value with nothing recognisable after it is the whole value."""
    whole = OwnedValue(field.value, field.value_start, field.value_end, field.backticked, "")
    if field.backticked or field.placeholder:
        return whole
    raw = line[field.value_start : field.value_end]
    leading = _leading_code_span(raw)
    if leading is not None:
        inner_start, inner_end, after = leading
        start, end = field.value_start + inner_start, field.value_start + inner_end
        return OwnedValue(line[start:end], start, end, True, raw[after:].strip())
    length = _bare_value_length(raw, field.key)
    if length is None:
        return whole
    end = field.value_start + length
    note = raw[length:].strip()
    return OwnedValue(line[field.value_start : end], field.value_start, end, False, note)


def _leading_code_span(raw: str) -> tuple[int, int, int] | None:
    """(content start, content end, span end) of a code span that opens `raw`, with text after
    it; None when `raw` does not start with one."""
    runs = list(_BACKTICK_RUN.finditer(raw))
    if not runs or runs[0].start() != 0:
        return None
    width = len(runs[0].group())
    closing = next((run for run in runs[1:] if len(run.group()) == width), None)
    if closing is None or closing.end() == len(raw):
        return None
    start, end = width, closing.start()
    while start < end and raw[start] == " ":
        start += 1
    while end > start and raw[end - 1] == " ":
        end -= 1
    return (start, end, closing.end()) if end > start else None


def _bare_value_length(raw: str, key: str) -> int | None:
    """Length of the value at the start of a value written without backticks."""
    shape = _PERCENT if key.startswith("completion") else _DATE if key == "last updated" else None
    if shape is not None and (match := shape.match(raw)):
        return match.end() if match.end() < len(raw) else None
    note = _NOTE_START.search(raw)
    if note is None or note.start() == 0:
        return None
    return note.start()
