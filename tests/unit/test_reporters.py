from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.errors import EvidenceError
from runner.evidence.store import iter_runs, new_run_dir, prune_runs, write_reports
from runner.models import Attempt, CheckResult, RunRecord
from runner.reporters.json import run_to_dict
from runner.reporters.junit import render_junit
from runner.reporters.markdown import cell, render_summary


def _result(status: str, **extra: object) -> CheckResult:
    values: dict[str, object] = {
        "id": f"tc1-abc123@{status}",
        "plan_id": "tc1-abc123",
        "label": f"check that {status}s",
        "source": "test-commands",
        "must_pass": None,
        "component": "api-gateway",
        "host": "agent0@10.0.0.1",
        "command": "curl -fsS http://127.0.0.1:4000/health/liveliness",
        "status": status,
        "exit_code": 0 if status == "pass" else 7,
        "started_at": "2026-11-24T13:05:50.000Z",
        "duration_s": 0.25,
        "line": 12,
    }
    values.update(extra)
    return CheckResult(**values)  # type: ignore[arg-type]


def _record(*results: CheckResult, run_id: str = "20261124T130550Z") -> RunRecord:
    return RunRecord(
        task_id="ENG-001",
        task_path="tasks/ENG-001.md",
        title="Verify",
        run_id=run_id,
        state="complete",
        started_at="2026-11-24T13:05:50.000Z",
        finished_at="2026-11-24T13:05:51.000Z",
        results=results,
    )


def test_run_json_has_the_contract_fields() -> None:
    attempt = Attempt(exit_code=1, started_at="t", duration_s=0.1, status="fail", reason="exit 1")
    record = _record(_result("pass", flaky=True, attempts=(attempt,)), _result("fail"))
    doc = run_to_dict(record)
    assert doc["schema"] == "taskrun.run/1"
    assert doc["task"] == {"id": "ENG-001", "path": "tasks/ENG-001.md", "title": "Verify"}
    assert doc["summary"] == {"total": 2, "pass": 1, "fail": 1, "error": 0, "skip": 0, "manual": 0}
    check = doc["checks"][0]
    for key in (
        "id",
        "label",
        "source",
        "must_pass",
        "component",
        "host",
        "command",
        "status",
        "exit_code",
        "started_at",
        "duration_s",
        "stdout_tail",
        "stderr_tail",
        "log_paths",
        "reason",
        "error",
        "flaky",
        "attempts",
    ):
        assert key in check
    assert check["attempts"][0]["status"] == "fail"


def test_junit_maps_statuses_and_escapes_illegal_characters() -> None:
    record = _record(
        _result("pass"),
        _result("fail", reason="exit 7 (expected 0)", stdout_tail="bad \x00\x1b[31m byte"),
        _result("error", error="connection refused"),
        _result("skip", reason="state-changing command"),
        _result("manual", reason="needs a person's sign-off"),
    )
    data = render_junit([record])
    root = ET.fromstring(data)  # parses: no illegal characters left
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5" and suite.get("failures") == "1"
    assert suite.get("errors") == "1" and suite.get("skipped") == "2"
    cases = suite.findall("testcase")
    assert all(case.get("classname") == "api-gateway" for case in cases)
    assert cases[1].find("failure").get("message") == "exit 7 (expected 0)"
    assert cases[2].find("error").get("message") == "connection refused"
    assert cases[4].find("skipped").get("message").startswith("manual:")


def test_summary_markdown_table_cells_are_one_line_and_escaped() -> None:
    assert cell("a | b\nc") == "a \\| b c"
    assert len(cell("x" * 500)) == 80
    text = render_summary(
        _record(_result("fail", reason="printed ❌ down", stdout_tail="❌ down\n"))
    )
    assert "| ❌ |" in text and "printed ❌ down" in text
    assert "```bash\ncurl -fsS" in text


def test_run_dirs_get_suffixes_on_collision_and_reports_are_written(tmp_path: Path) -> None:
    now = datetime(2026, 11, 24, 13, 5, 50, tzinfo=UTC)
    first = new_run_dir(tmp_path, task_id="ENG-001", task_path="tasks/a.md", now=now)
    second = new_run_dir(tmp_path, task_id="ENG-001", task_path="tasks/a.md", now=now)
    assert (first.run_id, second.run_id) == ("20261124T130550Z", "20261124T130550Z-2")
    write_reports(first, _record(_result("pass"), run_id=first.run_id))
    assert json.loads((first.path / "run.json").read_text())["run_id"] == first.run_id
    assert (first.path / "junit.xml").is_file() and (first.path / "summary.md").is_file()
    # the history of a task belongs to its path: another file with the same ID is not mixed in
    assert [
        rid for rid, _ in iter_runs(tmp_path, task_id="ENG-001", task_path="tasks/ENG-001.md")
    ] == [first.run_id]
    assert iter_runs(tmp_path, task_id="ENG-001", task_path="other/ENG-001.md") == []


def test_unwritable_reports_folder_is_an_evidence_error(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(EvidenceError, match="cannot save evidence"):
        new_run_dir(blocker, task_id="ENG-001", task_path="t.md", now=datetime.now(UTC))


def test_prune_removes_only_old_runs(tmp_path: Path) -> None:
    for run_id in ("20260101T000000Z", "20261120T000000Z"):
        (tmp_path / "ENG-001" / run_id).mkdir(parents=True)
    now = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    removed = prune_runs(tmp_path, days=30, now=now).removed
    assert [p.name for p in removed] == ["20260101T000000Z"]
    assert (tmp_path / "ENG-001" / "20261120T000000Z").is_dir()
