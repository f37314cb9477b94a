from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.evaluate.regressions import (
    compare_runs,
    describe,
    history_lines,
    previous_run,
    regression_names,
)
from runner.evidence.store import iter_runs, load_run, new_run_dir, write_reports
from runner.models import Attempt, CheckResult, RunRecord
from runner.reporters.json import run_from_dict, run_to_dict

LABELS = {"live": "Gateway liveness", "models": "Models listed", "db": "Database reachable"}


def _result(key: str, status: str, component: str = "api-gateway") -> CheckResult:
    return CheckResult(
        id=f"tc-{key}@{component}",
        plan_id=f"tc-{key}",
        label=LABELS.get(key, key),
        source="test-commands",
        must_pass=None,
        component=component,
        host="agent0@10.0.0.1",
        command=f"check {key}",
        status=status,  # type: ignore[arg-type]
        exit_code=0 if status == "pass" else 1,
        started_at="2026-11-20T01:00:00.000Z",
        duration_s=0.5,
        reason=None if status == "pass" else f"{key} broke",
        line=10,
    )


def _record(run_id: str, *results: CheckResult, state: str = "complete") -> RunRecord:
    stamp = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return RunRecord(
        task_id="ENG-001",
        task_path="tasks/ENG-001.md",
        title="Verify the gateway",
        run_id=run_id,
        state=state,  # type: ignore[arg-type]
        started_at=stamp,
        finished_at=stamp,
        results=results,
    )


def _json(record: RunRecord) -> dict:
    # Through real JSON, as stored run.json files come back.
    return json.loads(json.dumps(run_to_dict(record)))


def _doc(record: RunRecord) -> RunRecord:
    return run_from_dict(_json(record))


def _ids(results: tuple[CheckResult, ...]) -> list[str]:
    return [r.id for r in results]


BEFORE = _record("20261120T010000Z", _result("live", "pass"), _result("models", "fail"),
                 _result("db", "pass"), _result("old", "pass"))  # fmt: skip


def test_pass_to_fail_is_a_regression_and_fail_to_pass_a_recovery() -> None:
    now = _record("20261121T010000Z", _result("live", "fail"), _result("models", "pass"),
                  _result("db", "error"), _result("new", "pass"))  # fmt: skip
    comparison = compare_runs(_doc(BEFORE), now)
    assert _ids(comparison.regressed) == ["tc-live@api-gateway", "tc-db@api-gateway"]
    assert _ids(comparison.recovered) == ["tc-models@api-gateway"]
    assert _ids(comparison.new_checks) == ["tc-new@api-gateway"]
    assert _ids(comparison.gone_checks) == ["tc-old@api-gateway"]
    assert comparison.changed and comparison.outcome_changed
    assert regression_names(comparison) == [
        "Gateway liveness on api-gateway",
        "Database reachable on api-gateway",
    ]


def test_same_outcome_is_not_a_change() -> None:
    same = _record("20261121T010000Z", *BEFORE.results)
    comparison = compare_runs(_doc(BEFORE), same)
    assert not comparison.changed
    assert comparison.regressed == comparison.recovered == comparison.new_checks == ()
    assert describe(comparison, BEFORE.run_id) == ""


@pytest.mark.parametrize(
    ("before", "after", "regressed", "recovered", "changed"),
    [
        ("pass", "fail", True, False, True),
        ("pass", "error", True, False, True),
        ("fail", "pass", False, True, True),
        ("error", "pass", False, True, True),
        ("fail", "error", False, False, True),  # still broken: a change, not news
        ("pass", "skip", False, False, True),
        ("skip", "fail", False, False, True),  # never passed: not a regression
        ("manual", "manual", False, False, False),
    ],
)
def test_transition_table(
    before: str, after: str, regressed: bool, recovered: bool, changed: bool
) -> None:
    comparison = compare_runs(
        _doc(_record("20261120T010000Z", _result("live", before))),
        _record("20261121T010000Z", _result("live", after)),
    )
    assert bool(comparison.regressed) is regressed
    assert bool(comparison.recovered) is recovered
    assert comparison.changed is changed


def test_same_check_on_another_component_is_another_check() -> None:
    before = _record("20261120T010000Z", _result("live", "pass", "llm-01"))
    now = _record("20261121T010000Z", _result("live", "fail", "llm-02"))
    comparison = compare_runs(_doc(before), now)
    assert comparison.regressed == ()
    assert _ids(comparison.new_checks) == ["tc-live@llm-02"]
    assert _ids(comparison.gone_checks) == ["tc-live@llm-01"]


def test_first_run_is_a_change_with_every_check_new() -> None:
    now = _record("20261121T010000Z", _result("live", "pass"), _result("db", "fail"))
    comparison = compare_runs(None, now)
    assert comparison.changed
    assert comparison.regressed == comparison.recovered == ()
    assert _ids(comparison.new_failures) == ["tc-db@api-gateway"]
    assert describe(comparison, None) == ""


def test_describe_names_regressions_since_the_previous_run_and_recoveries() -> None:
    now = _record("20261121T010000Z", _result("live", "fail"), _result("models", "pass"),
                  _result("db", "pass"), _result("new", "error"))  # fmt: skip
    text = describe(compare_runs(_doc(BEFORE), now), BEFORE.run_id)
    assert text == (
        "regressed since 20261120T010000Z: Gateway liveness on api-gateway; "
        "new check failing: new on api-gateway; recovered: Models listed on api-gateway"
    )


def test_describe_caps_long_listings() -> None:
    keys = [f"k{i}" for i in range(8)]
    before = _record("20261120T010000Z", *(_result(k, "pass") for k in keys))
    now = _record("20261121T010000Z", *(_result(k, "error") for k in keys))
    text = describe(compare_runs(_doc(before), now), before.run_id, limit=3)
    assert text == "regressed since 20261120T010000Z: k0 on api-gateway, k1 on api-gateway, " \
        "k2 on api-gateway, and 5 more"  # fmt: skip


def test_run_from_dict_inverts_run_to_dict() -> None:
    attempt = Attempt(exit_code=1, started_at="t", duration_s=0.1, status="fail", reason="x")
    rich = replace(
        _result("live", "pass"),
        flaky=True,
        attempts=(attempt,),
        log_paths=("logs/a.out",),
        http={"url": "http://x"},
    )
    original = _record("20261120T010000Z", rich, _result("db", "error"))
    assert run_to_dict(run_from_dict(_json(original))) == run_to_dict(original)
    assert run_from_dict(_json(original)).results == original.results


def test_previous_run_skips_interrupted_runs_and_the_current_one() -> None:
    runs = [
        _doc(_record("20261119T010000Z", _result("live", "pass"))),
        _doc(_record("20261120T010000Z", _result("live", "pass"), state="interrupted")),
        _doc(_record("20261121T010000Z", _result("live", "fail"))),
    ]
    assert previous_run(runs).run_id == "20261121T010000Z"
    assert previous_run(runs, before_run_id="20261121T010000Z").run_id == "20261119T010000Z"
    assert previous_run(runs[1:2]) is None
    assert previous_run([]) is None


def test_history_lines_from_stored_runs(tmp_path: Path) -> None:
    """Runs written by the evidence store and read back, oldest first, one line each."""
    reports = tmp_path / "reports"
    nights = [
        ("live", "pass", "db", "pass"),
        ("live", "fail", "db", "pass"),
        ("live", "fail", "db", "pass"),
        ("live", "pass", "db", "error"),
    ]
    for day, (k1, s1, k2, s2) in enumerate(nights, start=20):
        when = datetime(2026, 11, day, 1, 0, 0, tzinfo=UTC)
        run_dir = new_run_dir(reports, task_id="ENG-001", task_path="tasks/ENG-001.md", now=when)
        record = _record(run_dir.run_id, _result(k1, s1), _result(k2, s2))
        write_reports(run_dir, record)
    runs = [
        load_run(path)
        for _, path in iter_runs(reports, task_id="ENG-001", task_path="tasks/ENG-001.md")
    ]
    assert history_lines(runs) == [
        "20261120T010000Z  2026-11-20 01:00:00Z  2/2 passed",
        "20261121T010000Z  2026-11-21 01:00:00Z  1/2 passed, 1 failed  "
        "regressed since 20261120T010000Z: Gateway liveness on api-gateway",
        "20261122T010000Z  2026-11-22 01:00:00Z  1/2 passed, 1 failed",
        "20261123T010000Z  2026-11-23 01:00:00Z  1/2 passed, 1 error  "
        "regressed since 20261122T010000Z: Database reachable on api-gateway; "
        "recovered: Gateway liveness on api-gateway",
    ]


def test_history_marks_interrupted_runs_and_compares_past_them() -> None:
    runs = [
        _doc(_record("20261120T010000Z", _result("live", "pass"))),
        _doc(_record("20261121T010000Z", state="interrupted")),
        _doc(_record("20261122T010000Z", _result("live", "fail"))),
    ]
    lines = history_lines(runs)
    assert lines[1] == "20261121T010000Z  2026-11-21 01:00:00Z  0/0 passed  (interrupted)"
    assert lines[2].endswith("regressed since 20261120T010000Z: Gateway liveness on api-gateway")
