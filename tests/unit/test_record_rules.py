"""The pure rules behind issue 15: status values with notes, the evidence table's Run column and
filtered merges, the regression reference, owned-line edits during a run, stale runs."""

from __future__ import annotations

import pytest

from runner.evaluate.drift import recorded_outcome_differs
from runner.evaluate.regressions import compare_with_recorded
from runner.evaluate.staleness import run_order_key, stale_reasons
from runner.markdown.concurrent import owned_edit
from runner.markdown.document import field_on_line
from runner.markdown.evidence_table import recorded_rows, recorded_run_id, recorded_run_ids
from runner.markdown.status_values import owned_value
from runner.markdown.writeback import render_write_back
from runner.project.discovery import salvage
from tests.golden.writeback_records import TODAY, result
from tests.unit.test_writeback import FAIL, PASS, doc_of, run, task_a, write

# --------------------------------------------------------------------------- status values

VALUES = [
    ("- **Current Status**: `In Progress` (blocked on CAB-123)", "In Progress", True),
    ("- **Completion**: 60% — waiting on vendor patch", "60%", False),
    ("**Current Status:** In Progress (blocked on CAB-123)  ", "In Progress", False),
    ("- **Completion**: `60%` - waiting", "60%", True),
    ("- **Last Updated**: 2026-01-01 (by Ann)", "2026-01-01", False),
    ("- **Current Status**: Blocked - vendor", "Blocked", False),
    ("- **Current Status**: `Complete`", "Complete", True),
    ("- **Current Status**: Ready for Implementation", "Ready for Implementation", False),
    ("- **Current Status**: `[Not Started | In Progress]`", "[Not Started | In Progress]", True),
    ("- **Completion**: 0%", "0%", False),
]


@pytest.mark.parametrize(("line", "value", "backticked"), VALUES)
def test_the_value_is_told_from_the_note_after_it(line: str, value: str, backticked: bool) -> None:
    field = field_on_line(line, 0)
    assert field is not None
    owned = owned_value(line, field)
    assert (owned.value, owned.backticked) == (value, backticked)
    assert line[owned.start : owned.end] == value
    rest = line[: owned.start] + line[owned.end :]
    assert rest.replace(" ", "").replace("`", "") != ""  # only the value is taken out


def test_write_back_replaces_the_value_and_keeps_the_note() -> None:
    noted = task_a().replace("`Not Started`", "`Blocked` (waiting on CAB-9)")
    new = write(noted, run((PASS,)))
    assert new is not None
    assert "- **Current Status**: `Complete` (waiting on CAB-9)\n" in new
    # A Complete task with a note is still Complete: a failing run leaves it and says so.
    done = task_a(status="Complete").replace("`Complete`", "`Complete` (DO NOT REOPEN)")
    failed = write(done, run((FAIL,)))
    assert failed is not None
    assert "- **Current Status**: `Complete` (DO NOT REOPEN)\n" in failed
    assert "status left Complete" in failed


# --------------------------------------------------------------------------- the table


def test_rows_carry_their_run_and_a_filtered_run_keeps_the_others() -> None:
    a, b, c = (result("pass", number=n, label=f"check {n}") for n in (1, 2, 3))
    first = write(task_a(), run((a, b, c), run_id="20261124T000001Z"))
    assert first is not None
    doc = doc_of(first)
    assert recorded_run_id(doc) == "20261124T000001Z"
    rows = recorded_rows(doc)
    assert rows is not None and [r.run_id for r in rows] == ["20261124T000001Z"] * 3

    b_fails = result("fail", number=2, label="check 2", reason="nope")
    d_new = result("pass", number=4, label="check 4")
    second = write(first, run((b_fails, d_new), run_id="20261124T000002Z", filtered=True))
    assert second is not None
    rows = recorded_rows(doc_of(second))
    assert rows is not None
    assert [(r.id.split("-")[0], r.status, r.run_id[-2:]) for r in rows] == [
        ("tc1", "pass", "1Z"),
        ("tc2", "fail", "2Z"),
        ("tc3", "pass", "1Z"),
        ("tc4", "pass", "2Z"),  # new to the table: last
    ]
    assert "2 rows from earlier runs kept" in second
    assert recorded_run_ids(doc_of(second)) == ("20261124T000002Z", "20261124T000001Z")

    # keep_ids: a row of a check the file no longer has is not carried along.
    kept_ids = {a.id, b.id}
    third = render_write_back(
        doc_of(first),
        run((b_fails,), run_id="20261124T000003Z", filtered=True),
        today=TODAY,
        keep_ids=kept_ids,
    )
    assert third is not None
    rows = recorded_rows(doc_of(third))
    assert rows is not None and {r.id for r in rows} == {a.id, b.id}


def test_an_unfiltered_run_replaces_every_row() -> None:
    a, b = result("pass", number=1), result("pass", number=2)
    first = write(task_a(), run((a, b), run_id="20261124T000001Z"))
    assert first is not None
    second = write(first, run((a,), run_id="20261124T000002Z"))
    assert second is not None
    rows = recorded_rows(doc_of(second))
    assert rows is not None and [(r.id, r.run_id) for r in rows] == [(a.id, "20261124T000002Z")]


def test_a_table_without_a_run_column_reads_with_the_blocks_run() -> None:
    first = write(task_a(), run((PASS,), run_id="20261124T000001Z"))
    assert first is not None
    old = first.replace("| Result | Run |", "| Result |").replace(
        " | --- | --- | --- | --- |", " | --- | --- | --- |"
    )
    old = old.replace(" | 20261124T000001Z |", " |")
    rows = recorded_rows(doc_of(old))
    assert rows is not None and [(r.id, r.status, r.run_id) for r in rows] == [
        (PASS.id, "pass", "20261124T000001Z")
    ]


# --------------------------------------------------------------------------- reference, drift


def test_the_reference_is_the_recorded_outcome_and_a_filtered_run_compares_its_own_checks() -> None:
    a, b = result("pass", number=1), result("pass", number=2)
    written = write(task_a(), run((a, b), run_id="20261124T000001Z"))
    assert written is not None
    doc = doc_of(written)
    a_fails = result("fail", number=1)
    comparison, since = compare_with_recorded(doc, run((a_fails,), filtered=True))
    assert since == "20261124T000001Z"
    assert [r.id for r in comparison.regressed] == [a.id]
    assert comparison.gone_checks == ()  # b did not run: not gone, only not compared
    same, _ = compare_with_recorded(doc, run((a,), filtered=True))
    assert not same.changed
    nothing, since = compare_with_recorded(doc_of(task_a()), run((a,)))
    assert since is None and nothing.changed


def test_check_on_a_hand_edited_block_says_so() -> None:
    written = write(task_a(), run((PASS,)))
    assert written is not None
    edited = doc_of(written.replace("| pass |", "| ok |"))
    differs, why = recorded_outcome_differs(edited, run((PASS,)))
    assert differs and why.startswith("evidence block edited by hand")
    differs, why = recorded_outcome_differs(doc_of(written), run((PASS,), filtered=True))
    assert not differs


# --------------------------------------------------------------------------- owned-line edits


def test_another_write_back_is_recognised_and_a_persons_edit_is_not() -> None:
    start = task_a()
    before = doc_of(start)
    other = write(start, run((PASS,), run_id="20261124T000009Z"))
    assert other is not None
    assert owned_edit(before, doc_of(other)) is None  # a concurrent taskrun write lands
    assert owned_edit(before, before) is None

    person = start.replace("`Not Started`", "`Blocked` (DO NOT CLOSE)")
    assert "Current Status line changed" in (owned_edit(before, doc_of(person)) or "")
    # Both at once: a person's note is not something a write-back writes.
    both = other.replace("`Complete`", "`Complete` (DO NOT CLOSE)")
    assert "Current Status" in (owned_edit(before, doc_of(both)) or "")
    # A person setting a value taskrun writes, with no write-back in between, is theirs too.
    typed = start.replace("`Not Started`", "`Complete`")
    assert owned_edit(before, doc_of(typed)) is not None


def test_a_changed_or_removed_change_log_item_of_ours_is_a_persons_edit() -> None:
    once = write(task_a(), run((PASS,), run_id="20261124T000001Z"))
    assert once is not None
    before = doc_of(once)
    reworded = once.replace("Validation 1/1 passed", "Validation passed (Ann)")
    assert "Change Log item" in (owned_edit(before, doc_of(reworded)) or "")


STATUS_AT_TOP = """# Task: Tidy

**Task ID**: ENG-100
**Status**: In Progress (waiting on CAB-7)
**Component**: lo

## Verification Steps

```bash
test -d /
```
"""


def test_a_status_field_files_block_is_read_and_its_write_backs_recognised() -> None:
    # A file without Status Tracking keeps its status in `**Status**:` and its evidence block
    # in the validation section: the record, the note and concurrent write-backs work there too.
    before = doc_of(STATUS_AT_TOP)
    once = write(STATUS_AT_TOP, run((PASS,), run_id="20261124T000001Z"))
    assert once is not None
    assert "**Status**: Complete (waiting on CAB-7)" in once  # the note is kept
    written = doc_of(once)
    assert recorded_run_id(written) == "20261124T000001Z"
    assert recorded_outcome_differs(written, run((PASS,))) == (
        False,
        "recorded evidence still holds",
    )
    assert owned_edit(before, written) is None  # another taskrun's write-back lands
    person = STATUS_AT_TOP.replace("In Progress (waiting", "Blocked (DO NOT CLOSE, waiting")
    assert "Status line changed" in (owned_edit(before, doc_of(person)) or "")
    edited = doc_of(once.replace("| pass |", "| ok |"))
    differs, why = recorded_outcome_differs(edited, run((PASS,)))
    assert differs and why.startswith("evidence block edited by hand")


# --------------------------------------------------------------------------- stale runs


def test_stale_reasons() -> None:
    rec = run((PASS,), run_id="20261124T000001Z")
    assert stale_reasons(rec, recorded_runs=["20261124T000001Z"], expected_ids={PASS.id}) == []
    [older] = stale_reasons(rec, recorded_runs=["20261124T000001Z-2"], expected_ids=None)
    assert "older than run 20261124T000001Z-2" in older
    [earlier] = stale_reasons(
        rec, recorded_runs=[], expected_ids={PASS.id, "new@lo"}, names={"new@lo": "New on lo"}
    )
    assert "1 check(s) of the file never ran in it: New on lo" in earlier
    [gone] = stale_reasons(rec, recorded_runs=[], expected_ids=set())
    assert "1 check(s) of the run are no longer in the file" in gone
    assert run_order_key("20261124T000001Z") < run_order_key("20261124T000001Z-2")
    assert run_order_key("20261124T000001Z-9") < run_order_key("20261124T000001Z-10")


# --------------------------------------------------------------------------- salvage


def test_a_damaged_file_still_shows_its_task_id_and_runs() -> None:
    data = b"> **Task ID**: `ENG-7`\ncaf\xe9 \x00\n- **2026**: x (run 20261124T000001Z)\n"
    assert salvage(data) == ("ENG-7", ("20261124T000001Z",))
    assert salvage(b"no id here \xe9") == (None, ())
