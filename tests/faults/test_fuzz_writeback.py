"""Fuzz the write-back over mutated corpus task files and generated run records.

Properties: a write-back either refuses (WriteBackRefused: the file stays as it was, and the
message names what in the file is in the way, never "a taskrun bug") or gives a text that
parses, keeps every byte of every line taskrun does not own in order, adds lines only inside the
Status Tracking section, and is a fixed point (applying the same run again changes nothing).
The last tests pin defects this suite found, now fixed (DEFECT-1 … DEFECT-4).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import InputError, WriteBackRefused
from runner.markdown.document import parse_document
from runner.markdown.writeback import owned_line_numbers, render_write_back
from runner.models import CheckResult, RunRecord, TaskDocument
from tests.corpus import needs_corpus
from tests.faults.mutations import (
    SAFE_TOKENS,
    budget,
    corpus_tasks,
    mutated,
    run_ids,
    run_records,
    split_keeping_endings,
)

PATH = "fuzz/task.md"
TODAY = "2026-11-24"
TASKS = corpus_tasks()
BOM = b"\xef\xbb\xbf"


def assert_only_owned_lines_changed(doc: TaskDocument, old: bytes, new: bytes) -> TaskDocument:
    """Every line taskrun does not own is carried over byte for byte, in order; whatever was
    added lies inside the new document's Status Tracking section. Returns the new document."""
    assert new.startswith(BOM) == old.startswith(BOM)
    old_lines = split_keeping_endings(old.removeprefix(BOM))
    new_lines = split_keeping_endings(new.removeprefix(BOM))
    owned = owned_line_numbers(doc)
    kept = [(i, line) for i, line in enumerate(old_lines) if i not in owned]
    matched: set[int] = set()
    cursor = 0
    for index, line in kept:
        # The file's last line may gain a line ending when lines are appended after it.
        last = index == len(old_lines) - 1
        want = line.rstrip(b"\r\n") if last else line
        while cursor < len(new_lines):
            candidate = new_lines[cursor].rstrip(b"\r\n") if last else new_lines[cursor]
            cursor += 1
            if candidate == want:
                matched.add(cursor - 1)
                break
        else:
            raise AssertionError(f"line {index + 1} not owned by taskrun was lost: {line!r}")
    new_doc = parse_document(new, PATH)
    assert new_doc.status is not None, "the written file has no Status Tracking section"
    section = new_doc.status.span
    added = [i for i in range(len(new_lines)) if i not in matched]
    # A new section may bring a `---` break and blank lines before its heading.
    outside = [
        i + 1
        for i in added
        if not section.start <= i < section.end and new_lines[i].strip() not in (b"", b"---")
    ]
    assert not outside, f"lines added outside Status Tracking: {outside}"
    assert new_doc.task_id == doc.task_id
    assert new_doc.status.evidence is not None
    return new_doc


def write_back_property(data: bytes, record: RunRecord, second_run_id: str) -> str:
    """Apply `record`, check locality and idempotence, then a second run on top. Returns what
    happened, for the statistics."""
    try:
        doc = parse_document(data, PATH)
    except InputError:
        return "input error"
    if not doc.is_task or doc.task_id is None:
        assert render_write_back(doc, record, today=TODAY) is None
        return "not a task"
    try:
        text = render_write_back(doc, record, today=TODAY)
    except WriteBackRefused as refused:
        # The file is left alone. A refusal names what in the file prevents a safe edit: a
        # "taskrun bug" here means the write-back misplaced its own lines.
        assert "taskrun bug" not in str(refused), str(refused)
        return "refused"
    if text is None:
        return "unchanged"
    new = text.encode("utf-8")
    new_doc = assert_only_owned_lines_changed(doc, data, new)
    assert render_write_back(new_doc, record, today=TODAY) is None, "twice differs from once"
    later = RunRecord(
        task_id=record.task_id,
        task_path=record.task_path,
        title=record.title,
        run_id=second_run_id,
        state="complete",
        started_at=record.started_at,
        finished_at=record.finished_at,
        results=record.results[:1],
    )
    if second_run_id == record.run_id:
        return "written"
    try:
        again = render_write_back(new_doc, later, today="2026-11-25")
    except WriteBackRefused as refused:
        assert "taskrun bug" not in str(refused), str(refused)
        return "written, second refused"
    assert again is not None  # a new run adds a Change Log item
    third_doc = assert_only_owned_lines_changed(new_doc, new, again.encode("utf-8"))
    assert render_write_back(third_doc, later, today="2026-11-25") is None
    return "written twice"


@st.composite
def write_back_cases(draw: st.DrawFn, max_mutations: int) -> tuple[bytes, RunRecord, str]:
    data = draw(mutated(TASKS, tokens=SAFE_TOKENS, max_mutations=max_mutations))
    try:
        task_id = parse_document(data, PATH).task_id
    except InputError:
        task_id = None
    return data, draw(run_records(task_id=task_id)), draw(run_ids())


# --------------------------------------------------------------------------- the corpus itself


@needs_corpus
def test_every_corpus_task_writes_back_locally_and_idempotently() -> None:
    assert len(TASKS) == 28
    record = RunRecord(
        task_id=None,
        task_path="t.md",
        title="t",
        run_id="20261124T130550Z",
        state="complete",
        started_at="2026-11-24T13:05:50Z",
        finished_at="2026-11-24T13:06:10Z",
    )
    for name, data in TASKS:
        for variant in (data, data.replace(b"\n", b"\r\n"), BOM + data):
            outcome = write_back_property(variant, record, "20261125T000000Z")
            assert outcome == "written twice", name


# --------------------------------------------------------------------------- fuzzing


@needs_corpus
@budget(700)
@given(write_back_cases(max_mutations=4))
def test_write_back_of_mutated_tasks_is_local_and_idempotent(
    case: tuple[bytes, RunRecord, str],
) -> None:
    write_back_property(*case)


@needs_corpus
@pytest.mark.slow
@budget(10_000)
@given(write_back_cases(max_mutations=8))
def test_slow_write_back_of_many_mutated_tasks(case: tuple[bytes, RunRecord, str]) -> None:
    write_back_property(*case)


# --------------------------------------------------------------------------- defects found (fixed)


def _corpus(name: str) -> bytes:
    return next(data for found, data in TASKS if found == name)


def _failing_record(reason: str) -> RunRecord:
    result = CheckResult(
        id="tc1-abc123@api-gateway",
        plan_id="tc1-abc123",
        label="Verify service",
        source="test-commands",
        must_pass=None,
        component="api-gateway",
        host="local",
        command="true",
        status="fail",
        exit_code=0,
        reason=reason,
    )
    return RunRecord(
        task_id="ENG-002",
        task_path="t.md",
        title="t",
        run_id="20261124T130550Z",
        state="complete",
        started_at="2026-11-24T13:05:50Z",
        finished_at="2026-11-24T13:06:10Z",
        results=(result,),
    )


@needs_corpus
@pytest.mark.parametrize("style", ["all CR", "one stray CR"])
def test_cr_line_endings_write_back(style: str) -> None:
    data = _corpus("ENG-002-Implement-Services-Module.md")
    if style == "all CR":
        data = data.replace(b"\n", b"\r")
    else:
        data = data.replace(b"`ENG-002`  \n", b"`ENG-002`  \r", 1)
    assert write_back_property(data, _failing_record("exit 1"), "20261125T000000Z") == (
        "written twice"
    )


def test_unclosed_fence_at_the_end_is_refused_with_a_clear_message() -> None:
    data = b"**Task ID:** ENG-006  \n\n## Validation Test\n\n```bash\ncurl -s localhost\n"
    doc = parse_document(data, PATH)
    assert doc.is_task
    with pytest.raises(WriteBackRefused) as refused:
        render_write_back(doc, _failing_record("exit 1"), today=TODAY)
    message = str(refused.value)
    assert "self-check" not in message and "taskrun bug" not in message
    assert "(5)" in message or "line 5" in message


@needs_corpus
def test_nul_in_a_reason_is_escaped_not_refused() -> None:
    data = _corpus("ENG-002-Implement-Services-Module.md")
    record = _failing_record("printed a failure marker: ❌ bad\x00byte")
    assert write_back_property(data, record, "20261125T000000Z") == "written twice"


@needs_corpus
def test_surrogate_in_a_reason_does_not_crash_the_write_back() -> None:
    data = _corpus("ENG-002-Implement-Services-Module.md")
    record = _failing_record("printed a failure marker: ❌ bad \udcff")
    assert write_back_property(data, record, "20261125T000000Z") == "written twice"
