"""Fuzz the parser and the write-back from the team's own fixtures as seeds (the twin of the
corpus-seeded tests in test_fuzz_parser.py and test_fuzz_writeback.py, which need
../shared/corpus): any mutation parses or gives an InputError; a write-back is local, idempotent
and refuses cleanly; the fixed defects stay fixed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import InputError
from runner.markdown.document import parse_document
from runner.markdown.writeback import render_write_back
from runner.models import RunRecord
from tests.faults.mutations import SAFE_TOKENS, budget, mutated, run_ids, run_records
from tests.faults.test_fuzz_parser import RAW_BYTES, SPLICED, parse_or_input_error
from tests.faults.test_fuzz_writeback import _failing_record, write_back_property
from tests.generations import GEN_TASKS, A, generation_markdown, generation_tasks

SEEDS = generation_markdown()
TASKS = generation_tasks()
BOM = b"\xef\xbb\xbf"

# --------------------------------------------------------------------------- the fixtures


def test_every_fixture_file_parses_consistently() -> None:
    assert len(SEEDS) == 26  # 24 in the task folder, 2 in history
    for name, data in SEEDS:
        assert parse_or_input_error(data) is not None, name


def test_every_fixture_task_writes_back_locally_and_idempotently() -> None:
    assert len(TASKS) == 20
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
        plain = data.removeprefix(BOM).replace(b"\r\n", b"\n")
        for variant in (data, plain, plain.replace(b"\n", b"\r\n"), BOM + plain):
            outcome = write_back_property(variant, record, "20261125T000000Z")
            assert outcome == "written twice", name


# --------------------------------------------------------------------------- mutated fixtures

MUTATIONS = mutated(SEEDS, max_mutations=8)
WINDOWED_MUTATIONS = mutated(SEEDS, max_mutations=5, max_window=40)


@budget(1500)
@given(MUTATIONS)
def test_mutated_fixture_files_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@budget(3000)
@given(WINDOWED_MUTATIONS)
def test_mutated_fixture_windows_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@pytest.mark.slow
@budget(40_000)
@given(st.one_of(MUTATIONS, WINDOWED_MUTATIONS, RAW_BYTES, SPLICED))
def test_slow_many_mutated_fixture_documents_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@st.composite
def write_back_cases(draw: st.DrawFn, max_mutations: int) -> tuple[bytes, RunRecord, str]:
    data = draw(mutated(TASKS, tokens=SAFE_TOKENS, max_mutations=max_mutations))
    try:
        task_id = parse_document(data, "fuzz/task.md").task_id
    except InputError:
        task_id = None
    return data, draw(run_records(task_id=task_id)), draw(run_ids())


@budget(700)
@given(write_back_cases(max_mutations=4))
def test_write_back_of_mutated_fixture_tasks_is_local_and_idempotent(
    case: tuple[bytes, RunRecord, str],
) -> None:
    write_back_property(*case)


@pytest.mark.slow
@budget(10_000)
@given(write_back_cases(max_mutations=8))
def test_slow_write_back_of_many_mutated_fixture_tasks(case: tuple[bytes, RunRecord, str]) -> None:
    write_back_property(*case)


# --------------------------------------------------------------------------- defects found (fixed)

ENG_002 = (GEN_TASKS / A / "ENG-002-Write-Gateway-Config.md").read_bytes()


@pytest.mark.parametrize("style", ["all CR", "one stray CR"])
def test_cr_line_endings_write_back(style: str) -> None:
    if style == "all CR":
        data = ENG_002.replace(b"\n", b"\r")
    else:
        assert b"`ENG-002`  \n" in ENG_002
        data = ENG_002.replace(b"`ENG-002`  \n", b"`ENG-002`  \r", 1)
    assert write_back_property(data, _failing_record("exit 1"), "20261125T000000Z") == (
        "written twice"
    )


def test_nul_in_a_reason_is_escaped_not_refused() -> None:
    record = _failing_record("printed a failure marker: ❌ bad\x00byte")
    assert write_back_property(ENG_002, record, "20261125T000000Z") == "written twice"


def test_surrogate_in_a_reason_does_not_crash_the_write_back() -> None:
    record = _failing_record("printed a failure marker: ❌ bad \udcff")
    assert write_back_property(ENG_002, record, "20261125T000000Z") == "written twice"


ORC_02 = (GEN_TASKS / "Orchestrator Tasks" / "02_Require_Scheduler_Token.md").read_bytes()


@pytest.mark.parametrize("character", ["\x85", "\xa0", "\u2028", "\x0c"], ids=repr)
def test_a_line_python_calls_blank_but_markdown_does_not_after_the_change_log(
    character: str,
) -> None:
    """Found by this fuzz test: `str.strip()` empties a line of U+0085 (or NBSP, U+2028, a form
    feed) while CommonMark reads it as text that goes on the last Change Log item. The new item
    used to be put between the two, taking that line over (for U+0085 the self-check then
    refused the write as "a taskrun bug"); it belongs after it."""
    item = b"- 2026-03-02 - Task created.\n"
    odd = character.encode() + b"\n"
    assert ORC_02.count(item) == 1
    data = ORC_02.replace(item, item + odd)
    record = _failing_record("exit 1")
    assert write_back_property(data, record, "20261125T000000Z") == "written twice"
    text = render_write_back(parse_document(data, "t.md"), record, today="2026-11-24")
    assert text is not None
    assert item + odd + b"- 2026-11-24 - Validation 0/1 passed" in text.encode()


@pytest.mark.parametrize("character", ["\x85", "\xa0", "\u2028", "\x0c"], ids=repr)
def test_such_a_line_where_a_status_field_was_does_not_upset_the_self_check(
    character: str,
) -> None:
    """Found by this fuzz test while fixing the one above: the missing Current Status field is
    added after the others, and the odd line above them stays where it was."""
    field = b"**Current Status:** Not Started  \n"
    assert ORC_02.count(field) == 1
    data = ORC_02.replace(field, character.encode() + b"\n")
    assert write_back_property(data, _failing_record("exit 1"), "20261125T000000Z") == (
        "written twice"
    )


ORC_06 = (GEN_TASKS / "Orchestrator Tasks" / "06_Share_Scheduler_Config.md").read_bytes()


@pytest.mark.parametrize("character", ["\x85", "\xa0", "\u2028", "\x0c"], ids=repr)
def test_such_a_line_ending_the_status_paragraph_does_not_upset_the_self_check(
    character: str,
) -> None:
    """Found by this fuzz test: Current Status missing (a line of the person's own in its place)
    and such a line after the last field. markdown-it-py strips that line off the paragraph's
    content, so the self-check lined the content up with the wrong lines and refused the write
    as "a taskrun bug"."""
    field = b"**Current Status:** Not Started  \n"
    end = b"**Last Updated:** 2026-03-02  \n\n### Change Log"
    assert ORC_06.count(field) == 1 and ORC_06.count(end) == 1
    odd = character.encode()
    data = ORC_06.replace(field, b"Reviewed with the on-call lead.  \n").replace(
        end, end.replace(b"\n\n", b"\n" + odd + b"\n")
    )
    assert write_back_property(data, _failing_record("exit 1"), "20261125T000000Z") == (
        "written twice"
    )
