"""Was a change to the lines taskrun owns, made during a run, another taskrun write-back's?

DESIGN §7: concurrent runs that only touch owned lines both land, but a person's edit is never
overwritten — `` `Blocked` (DO NOT CLOSE) `` typed into the status line during a run must not
become `Complete`. Another write-back is recognisable: the evidence block is intact (its
checksum matches), names a run the snapshot's block did not, and the Change Log has that run's
item. Then the status values may have moved to values taskrun writes, the rest of each line
(a note) unchanged, and taskrun's Change Log items may have been added, never changed. Any
other change to an owned line is a person's. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from runner.markdown.evidence_table import recorded_run_id
from runner.markdown.status_values import owned_value
from runner.markdown.writeback import (
    COMPLETION_KEYS,
    RUN_MARK,
    STATUS_KEY,
    UPDATED_KEY,
    hand_edited,
    one_line,
)
from runner.models import Field, TaskDocument

__all__ = ["owned_edit"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OWNED_FIELDS = ((STATUS_KEY,), COMPLETION_KEYS, (UPDATED_KEY,))


def owned_edit(before: TaskDocument, now: TaskDocument) -> str | None:
    """None when the owned lines are as in `before` or changed only as another taskrun
    write-back changes them; else what changed, in a few words, for the refusal."""
    other = _other_write_back(before, now)
    for keys in _OWNED_FIELDS:
        problem = _field_change(before, now, keys, other is not None)
        if problem:
            return problem
    problem = _change_log_change(before, now, other is not None)
    if problem:
        return problem
    if other is None and _block_lines(before) != _block_lines(now) and not hand_edited(now):
        # (A hand-edited block is refused by the write-back itself, with its own advice.)
        return "the evidence block changed, and not by a taskrun write-back"
    return None


def _other_write_back(before: TaskDocument, now: TaskDocument) -> str | None:
    """The run id of a taskrun write-back that landed after `before` was read, if one did."""
    if now.evidence is None or hand_edited(now):
        return None
    run_id = recorded_run_id(now)
    if run_id is None or run_id == recorded_run_id(before):
        return None
    if now.status is None:
        # A `**Status**:` file has no Change Log: the intact block naming a new run is the sign.
        return run_id
    mark = f"(run {run_id})"
    if any(mark in item for item in _log_items(now)) and not any(
        mark in item for item in _log_items(before)
    ):
        return run_id
    return None


def _field(doc: TaskDocument, keys: Sequence[str]) -> Field | None:
    if doc.status is None:  # a file without Status Tracking: only its `**Status**:` field
        return doc.status_field if keys == (STATUS_KEY,) else None
    return next((f for f in doc.status.fields if f.key in keys), None)


def _writable(keys: Sequence[str], value: str) -> bool:
    """A value taskrun's write-back writes into this field."""
    if keys == (STATUS_KEY,):
        return value in ("Complete", "Testing")
    if keys == COMPLETION_KEYS:
        return value == "100%"
    return bool(_DATE.match(value))


def _field_change(
    before: TaskDocument, now: TaskDocument, keys: Sequence[str], other: bool
) -> str | None:
    old, new = _field(before, keys), _field(now, keys)
    if old is None and new is None:
        return None
    if old is None:
        assert new is not None
        return None if other else f"a {new.name} line was added"
    if new is None:
        return f"the {old.name} line was removed"
    old_line, new_line = before.lines[old.line], now.lines[new.line]
    if old_line == new_line:
        return None
    if other:
        was, is_ = owned_value(old_line, old), owned_value(new_line, new)
        same_rest = (
            old_line[: was.start] == new_line[: is_.start]
            and old_line[was.end :] == new_line[is_.end :]
        )
        if same_rest and _writable(keys, is_.value):
            return None
    return f"the {old.name} line changed to {one_line(new_line.strip(), 80)!r}"


def _log_items(doc: TaskDocument) -> list[str]:
    log = doc.status.change_log if doc.status else None
    return [item.text for item in log.items] if log is not None else []


def _change_log_change(before: TaskDocument, now: TaskDocument, other: bool) -> str | None:
    ours_before = [text for text in _log_items(before) if RUN_MARK.search(text)]
    ours_now = [text for text in _log_items(now) if RUN_MARK.search(text)]
    remaining = list(ours_now)
    for text in ours_before:
        if text in remaining:
            remaining.remove(text)
        else:
            return f"the Change Log item {one_line(text.strip(), 80)!r} was changed or removed"
    if remaining and not other:
        return f"a Change Log item with a run id was added: {one_line(remaining[0].strip(), 80)!r}"
    return None


def _block_lines(doc: TaskDocument) -> tuple[str, ...]:
    block = doc.evidence
    if block is None:
        return ()
    return tuple(line.rstrip() for line in doc.lines[block.start_line : block.end_line + 1])
