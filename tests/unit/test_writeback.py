"""Write-back rules (DESIGN §7) on small task files: status policy, styles, endings, refusals."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import WriteBackRefused
from runner.markdown import writeback
from runner.markdown.writeback import (
    change_log_text,
    decide_status,
    judge,
    owned_line_numbers,
    recorded_outcomes,
    render_write_back,
)
from runner.models import CheckResult, RunRecord, TaskDocument
from tests.golden.writeback_records import TODAY, parse, record, result, standard_results

TASK_A = """\
# Engineering Task: Demo

> **Task ID**: `ENG-100`␠␠
> **Priority**: `High`

---

## 🧪 Validation Criteria

### Test Commands

```bash
# Check it
true
```

---

## 📊 Status Tracking

- **Current Status**: `{status}`
- **Completion**: `{completion}`
- **Last Updated**: `2025-08-21`
- **Blocked By**: `None`

### Change Log

- **2025-08-21**: Task created.

---

## 📎 Additional Information

- Notes.
"""

TASK_C = """\
# Engineering Task Template

## Task Information
**Task ID:** ENG-007␠␠
**Task Title:** Demo C␠␠

---

## Validation Test
### Test Steps
1.  Check: `true` (Expected: `x`).

---

## Status Tracking
**Current Status:** Not Started␠␠
**Completion Percentage:** 0%␠␠

### Change Log
- 2025-08-21 - Task created.

---

## Additional Requirements
- None.""".replace("␠", " ")


def task_a(status: str = "Not Started", completion: str = "0%") -> str:
    return TASK_A.format(status=status, completion=completion).replace("␠", " ")


def doc_of(text: str, *, bom: bool = False) -> TaskDocument:
    return parse((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"), "demo.md")


def run(results: tuple[CheckResult, ...], **kwargs: object) -> RunRecord:
    return record(results, task_id="ENG-100", **kwargs)  # type: ignore[arg-type]


def write(text: str, rec: RunRecord, **kwargs: object) -> str | None:
    return render_write_back(doc_of(text), rec, today=TODAY, **kwargs)  # type: ignore[arg-type]


def fields_of(text: str) -> dict[str, str]:
    doc = doc_of(text)
    assert doc.status is not None
    return {f.key: f.value for f in doc.status.fields}


def log_items(text: str) -> list[str]:
    doc = doc_of(text)
    assert doc.status is not None and doc.status.change_log is not None
    return [item.text for item in doc.status.change_log.items]


PASS, FAIL, ERROR = result("pass"), result("fail", number=2), result("error", number=3)
SKIP, MANUAL = result("skip", number=4), result("manual", number=5)

# (results, filtered, current status, set_status) → (Current Status, Completion) afterwards
POLICY = [
    ((PASS,), False, "Not Started", False, ("Complete", "100%")),
    ((PASS, result("pass", number=6)), False, "Testing", False, ("Complete", "100%")),
    ((PASS,), True, "Not Started", False, ("Testing", "0%")),  # filtered run
    ((PASS, MANUAL), False, "Not Started", False, ("Testing", "0%")),  # a manual item left
    ((PASS, SKIP), False, "Not Started", False, ("Testing", "0%")),  # a skip is not a pass
    ((SKIP,), False, "Not Started", False, ("Testing", "0%")),  # nothing ran
    ((MANUAL,), False, "Not Started", False, ("Testing", "0%")),
    ((), False, "Not Started", False, ("Testing", "0%")),  # zero checks: never Complete
    ((PASS, FAIL), False, "In Progress", False, ("Testing", "0%")),
    ((PASS, ERROR), False, "Blocked", False, ("Testing", "0%")),
    ((FAIL,), False, "Complete", False, ("Complete", "100%")),  # never leaves Complete …
    ((FAIL,), False, "Complete", True, ("Testing", "100%")),  # … unless --set-status
    ((PASS,), False, "Complete", False, ("Complete", "100%")),
]


@pytest.mark.parametrize(("results", "filtered", "current", "set_status", "after"), POLICY)
def test_status_policy(
    results: tuple[CheckResult, ...],
    filtered: bool,
    current: str,
    set_status: bool,
    after: tuple[str, str],
) -> None:
    completion = "100%" if current == "Complete" else "0%"
    new = write(task_a(current, completion), run(results, filtered=filtered), set_status=set_status)
    assert new is not None
    values = fields_of(new)
    assert (values["current status"], values["completion"]) == after
    assert values["last updated"] == TODAY
    assert values["blocked by"] == "None"


def test_judge_counts_non_manual_checks() -> None:
    outcome = judge(run((PASS, FAIL, SKIP, MANUAL)))
    assert (outcome.counted, outcome.passed, outcome.ran, outcome.manual) == (3, 1, 2, 1)
    assert not outcome.complete
    assert decide_status("complete", outcome, set_status=False).regression_kept


def test_change_log_text_matches_the_design_example() -> None:
    passing = tuple(result("pass", number=n) for n in range(1, 8))
    failing = result("fail", label="Service Health", component="llm-02", number=8)
    rec = run((*passing, failing))
    text = change_log_text(rec, judge(rec), regression_kept=False, regressions=())
    assert text == "Validation 7/8 passed; failed: Service Health on llm-02 (run 20261124T130550Z)"


def test_change_log_text_bounds_long_failure_lists_and_counts_the_rest() -> None:
    failing = tuple(result("fail", label="x" * 100, number=n) for n in range(1, 7))
    rec = run((*failing, ERROR, SKIP, MANUAL), filtered=True)
    text = change_log_text(rec, judge(rec), regression_kept=True, regressions=("Old check",))
    assert text.startswith("Validation 0/8 passed; failed: ")
    assert "3 more" in text and "x" * 41 not in text
    assert "; could not run: Verify file creation on api-gateway; 1 skipped; 1 manual" in text
    assert "; filtered run; regressed: Old check; status left Complete" in text
    assert text.endswith("(run 20261124T130550Z)")


def test_regression_is_recorded_instead_of_leaving_complete() -> None:
    new = write(task_a("Complete", "100%"), run((FAIL,)), regressions=("Verify file creation",))
    assert new is not None
    assert fields_of(new)["current status"] == "Complete"
    assert "⚠️ Regression: the task is marked Complete" in new
    assert "⚠️ Regressed since the last run: Verify file creation." in new
    assert log_items(new)[-1].endswith("; status left Complete (run 20261124T130550Z)")


def test_the_same_run_twice_changes_nothing_and_a_template_is_never_written() -> None:
    once = write(task_a(), run((PASS,)))
    assert once is not None
    assert write(once, run((PASS,))) is None
    template = task_a().replace("`ENG-100`", "`[e.g., ENG-001]`")
    assert render_write_back(doc_of(template), run((PASS,)), today=TODAY) is None


def test_an_interrupted_run_is_not_written() -> None:
    rec = run((PASS,))
    interrupted = RunRecord(
        **{**{s: getattr(rec, s) for s in rec.__slots__}, "state": "interrupted"}
    )
    assert write(task_a(), interrupted) is None


def test_crlf_stays_crlf_and_bom_is_kept() -> None:
    crlf = task_a().replace("\n", "\r\n")
    new = render_write_back(doc_of(crlf, bom=True), run((PASS,)), today=TODAY)
    assert new is not None
    assert new.startswith("\ufeff")
    assert new.count("\r\n") == new.count("\n")
    assert "\r\n<!-- taskrun:evidence -->\r\n" in new


def test_mixed_endings_stay_mixed_and_new_lines_follow_their_neighbours() -> None:
    text = task_a()
    head, tail = text.split("## 📊 Status Tracking")
    mixed = head + "## 📊 Status Tracking" + tail.replace("\n", "\r\n")
    new = render_write_back(doc_of(mixed), run((PASS,)), today=TODAY)
    assert new is not None
    new_head, new_tail = new.split("## 📊 Status Tracking")
    assert new_head == head  # LF part untouched
    assert "\n" not in new_tail.replace("\r\n", "")  # every new line in the CRLF part is CRLF


def test_missing_final_newline_stays_missing_when_the_log_is_the_last_line() -> None:
    text = task_a().split("\n---\n\n## 📎")[0].rstrip("\n")
    assert text.endswith("Task created.")
    new = write(text, run((PASS,)))
    assert new is not None
    assert not new.endswith("\n")
    assert new.endswith("(run 20261124T130550Z)")
    assert "- **2025-08-21**: Task created.\n- **2026-11-24**: Validation 1/1 passed" in new


def test_template_c_keeps_its_style_and_gets_a_missing_last_updated() -> None:
    new = render_write_back(doc_of(TASK_C), record((PASS,), task_id="ENG-007"), today=TODAY)
    assert new is not None
    assert "**Completion Percentage:** 100%  \n**Last Updated:** 2026-11-24  \n\n<!--" in new
    assert "**Current Status:** Complete  \n" in new
    assert "- 2025-08-21 - Task created.\n- 2026-11-24 - Validation 1/1 passed (run " in new
    assert not new.endswith("\n")
    assert new.endswith("## Additional Requirements\n- None.")


def test_a_missing_status_section_is_added_before_additional_information() -> None:
    text = task_a()
    start = text.index("## 📊 Status Tracking")
    end = text.index("## 📎 Additional Information")
    without = text[:start] + text[end:]
    new = write(without, run((PASS, MANUAL)))
    assert new is not None
    section = new[new.index("## 📊 Status Tracking") :]
    assert section.startswith(
        "## 📊 Status Tracking\n\n- **Current Status**: `Testing`\n"
        "- **Last Updated**: `2026-11-24`\n\n<!-- taskrun:evidence -->\n"
    )
    assert "### Change Log\n\n- **2026-11-24**: Validation 1/1 passed; 1 manual (run " in section
    assert "\n\n---\n\n## 📎 Additional Information\n" in section
    assert new.replace(new[new.index("## 📊") : new.index("## 📎")], "") == without


def test_a_missing_status_section_goes_to_the_end_without_a_later_section() -> None:
    text = task_a()
    without = text[: text.index("## 📊 Status Tracking")]
    new = write(without, run((PASS,)))
    assert new is not None
    assert new.startswith(without)
    assert new[len(without) :].startswith(
        "## 📊 Status Tracking\n\n- **Current Status**: `Complete`"
    )
    assert new.endswith("(run 20261124T130550Z)\n")


def test_a_hand_edited_evidence_block_is_refused() -> None:
    once = write(task_a(), run((PASS,)))
    assert once is not None
    edited = once.replace("| pass |", "| PASS (checked by Ann) |")
    line = edited.splitlines().index("<!-- taskrun:evidence -->") + 1
    with pytest.raises(
        WriteBackRefused, match=rf"\({line}\): the evidence block was edited by hand.*--force"
    ):
        write(edited, run((FAIL,), run_id="20261125T000000Z"))


def test_a_loose_change_log_gets_a_loose_item() -> None:
    loose = task_a().replace(
        "- **2025-08-21**: Task created.",
        "- **2025-08-20**: Drafted.\n\n- **2025-08-21**: Task created.",
    )
    new = write(loose, run((PASS,)))
    assert new is not None
    assert "- **2025-08-21**: Task created.\n\n- **2026-11-24**: Validation" in new


def test_trailing_double_spaces_of_log_items_are_copied() -> None:
    spaced = task_a().replace("Task created.", "Task created.  ")
    new = write(spaced, run((PASS,)))
    assert new is not None
    assert "(run 20261124T130550Z)  \n" in new


def test_owned_lines_and_recorded_outcomes_of_a_written_file() -> None:
    rec = run((PASS, FAIL, MANUAL))
    new = write(task_a(), rec)
    assert new is not None
    doc = doc_of(new)
    assert doc.status is not None and doc.status.evidence is not None
    owned = owned_line_numbers(doc)
    lines = doc.lines
    assert {n for n in owned if lines[n].startswith("- **")} == {
        n
        for n, line in enumerate(lines)
        if line.startswith(("- **Current", "- **Completion", "- **Last", "- **2026"))
    }
    assert set(range(doc.status.evidence.start_line, doc.status.evidence.end_line + 1)) <= owned
    assert not any("Task created" in lines[n] or "Blocked By" in lines[n] for n in owned)
    assert recorded_outcomes(doc) == tuple((r.id, r.status) for r in rec.results)
    assert recorded_outcomes(doc_of(task_a())) is None


def test_cells_stay_on_one_line_with_pipes_escaped() -> None:
    nasty = result(
        "fail",
        label="a | b\n<!-- /taskrun:evidence -->",
        reason="line one\nline two | three " + "z" * 200,
    )
    new = write(task_a(), run((nasty,)))
    assert new is not None
    row = next(line for line in new.splitlines() if line.startswith("| a \\| b"))
    assert "&lt;!-- /taskrun:evidence -->" in row
    assert "line one line two \\| three" in row and row.endswith("… |")
    assert new.count("<!-- /taskrun:evidence -->") == 1


def test_the_token_guard_sees_a_change_outside_owned_lines() -> None:
    text = task_a()
    changed = text.replace("- Notes.", "- Notes!")
    assert writeback._outside_owned(text, set()) != writeback._outside_owned(changed, set())
    line = text.splitlines().index("- Notes.")
    assert writeback._outside_owned(text, {line}) == writeback._outside_owned(changed, {line})


_cell_text = st.lists(
    st.sampled_from([*"ab |`*_<>-#\n\r\\![]()✅❌", "<!--", "-->", "sk-"]), max_size=20
).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(_cell_text, min_size=0, max_size=4), reason=_cell_text)
def test_any_labels_and_reasons_change_only_owned_lines(labels: list[str], reason: str) -> None:
    statuses = ("pass", "fail", "error", "skip", "manual")
    results = tuple(
        result(statuses[n % 5], label=label, reason=reason, number=n)  # type: ignore[arg-type]
        for n, label in enumerate(labels)
    )
    text = task_a()
    new = write(text, run(results))
    assert new is not None
    original = text.splitlines(keepends=True)
    owned = owned_line_numbers(doc_of(text))
    rest = iter(new.splitlines(keepends=True))
    for number, line in enumerate(original):
        if number not in owned:
            assert any(candidate == line for candidate in rest), line
    assert write(new, run(results)) is None


def test_standard_results_render_into_every_template() -> None:
    for text in (task_a(), TASK_C):
        doc = doc_of(text)
        new = render_write_back(doc, record(standard_results(), task_id=doc.task_id), today=TODAY)
        assert new is not None and "7/8 passed, 1 failed, 1 manual" in new


def test_a_missing_change_log_is_added_after_the_evidence_block() -> None:
    text = task_a().replace("### Change Log\n\n- **2025-08-21**: Task created.\n\n", "")
    new = write(text, run((PASS,)))
    assert new is not None
    assert "<!-- /taskrun:evidence -->\n\n### Change Log\n\n- **2026-11-24**: Validation" in new
    assert "(run 20261124T130550Z)\n\n---\n\n## 📎 Additional Information" in new
    once_more = write(new, run((PASS,), run_id="20261125T000000Z"))
    assert once_more is not None and len(log_items(once_more)) == 2


def test_template_c_without_change_log_gets_one_in_its_style() -> None:
    text = TASK_C.replace("### Change Log\n- 2025-08-21 - Task created.\n\n", "")
    new = render_write_back(doc_of(text), record((FAIL,), task_id="ENG-007"), today=TODAY)
    assert new is not None
    assert "<!-- /taskrun:evidence -->\n\n### Change Log\n- 2026-11-24 - Validation 0/1" in new


def test_a_status_section_without_fields_gets_them() -> None:
    text = task_a()
    start = text.index("- **Current Status**")
    end = text.index("### Change Log")
    new = write(text[:start] + text[end:], run((PASS,)))
    assert new is not None
    assert (
        "## 📊 Status Tracking\n\n- **Current Status**: `Complete`\n- **Completion**: `100%`\n"
        "- **Last Updated**: `2026-11-24`\n\n<!-- taskrun:evidence -->" in new
    )


# --------------------------------------------------------------------------- found by fuzzing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exit\x001", "exit\ufffd1"),  # a NUL would make the written file "binary"
        ("bell\x07 esc\x1b[31m del\x7f", "bell\ufffd esc\ufffd[31m del\ufffd"),
        ("bad \udcff byte", "bad \ufffd byte"),  # surrogateescape leftovers: not encodable
        ("tab\there\r\nnext\x0cpage", "tab here next page"),  # whitespace is collapsed
        ("café ❌ 🏗️", "café ❌ 🏗️"),
    ],
)
def test_one_line_makes_any_text_writable(text: str, expected: str) -> None:
    flat = writeback.one_line(text, 80)
    assert flat == expected
    flat.encode("utf-8")  # no surrogate left


def test_lone_cr_endings_stay_lone_cr() -> None:
    text = task_a().replace("\n", "\r")
    new = write(text, run((FAIL,)))
    assert new is not None
    assert "\n" not in new and new.count("\r") > text.count("\r")
    assert write(new, run((FAIL,))) is None


def test_a_field_line_with_a_hard_break_gets_a_new_field_after_it() -> None:
    text = TASK_C.replace("**Completion Percentage:** 0%  \n", "**Assigned To:** Docs  \n")
    new = render_write_back(doc_of(text), record((FAIL,), task_id="ENG-007"), today=TODAY)
    assert new is not None
    assert "**Assigned To:** Docs  \n**Completion Percentage:** 0%" not in new
    assert "**Assigned To:** Docs  \n**Last Updated:** 2026-11-24  \n" in new


def refusal(text: str) -> str:
    with pytest.raises(WriteBackRefused) as refused:
        write(text, run((FAIL,)))
    message = str(refused.value)
    assert "taskrun bug" not in message and "self-check" not in message
    return message


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_an_unclosed_fence_in_the_change_log_is_refused_naming_its_line() -> None:
    text = task_a().replace("Task created.\n", "Task created.\n\n    ```bash\n")
    text = text.split("    ```bash\n")[0] + "    ```bash\n\n## 📎 Additional Information\n"
    message = refusal(text)
    assert message.startswith(f"demo.md({line_of(text, '    ```bash')}): the code fence opened")


def test_an_unclosed_html_comment_at_the_end_is_refused_naming_its_line() -> None:
    text = task_a()
    text = text[: text.index("## 📊 Status Tracking")] + "<!-- notes\nstill a comment\n"
    message = refusal(text)
    assert message.startswith(f"demo.md({line_of(text, '<!-- notes')}): the HTML block")


def test_an_indented_line_under_an_empty_change_log_is_refused_naming_it() -> None:
    text = task_a().replace("- **2025-08-21**: Task created.", "    indented note")
    message = refusal(text)
    assert message.startswith(f"demo.md({line_of(text, 'indented note')}): line ")
    assert "would join the list item" in message


def test_an_indented_code_block_under_a_bare_status_heading() -> None:
    text = task_a()
    start = text.index("- **Current Status**")
    end = text.index("### Change Log")
    text = text[:start].rstrip("\n") + "\n    fi\n    done\n\n" + text[end:]
    new = write(text, run((FAIL,)))  # the evidence block ends above it: the code stays code
    assert new is not None and "<!-- /taskrun:evidence -->\n\n    fi\n    done\n" in new
    without_log = text[: text.index("### Change Log")] + text[text.index("---\n\n## 📎") :]
    message = refusal(without_log)  # a new Change Log item would take it in
    assert message.startswith(f"demo.md({line_of(without_log, '    fi')}): line ")


def test_a_new_field_goes_after_the_lines_indented_under_the_last_field() -> None:
    text = task_a().replace("- **Last Updated**: `2025-08-21`\n", "")
    text = text.replace("- **Blocked By**: `None`\n", "- **Blocked By**: `None`\n  until Friday\n")
    new = write(text, run((FAIL,)))
    assert new is not None
    assert "- **Blocked By**: `None`\n  until Friday\n- **Last Updated**: `2026-11-24`\n" in new
    assert write(new, run((FAIL,))) is None


def test_a_new_field_joins_status_fields_nested_in_a_list() -> None:
    text = task_a().replace("- **Last Updated**: `2025-08-21`\n", "")
    for name in ("Current Status", "Completion", "Blocked By"):
        text = text.replace(f"- **{name}**", f"  - **{name}**")
    text = text.replace("  - **Current Status**", "- Fields:\n  - **Current Status**")
    new = write(text, run((FAIL,)))
    assert new is not None
    assert "  - **Blocked By**: `None`\n  - **Last Updated**: `2026-11-24`\n" in new
