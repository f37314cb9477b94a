from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.errors import EvidenceError
from runner.evidence.store import atomic_write_bytes
from runner.models import CheckResult, RunRecord
from runner.reporters.prometheus import escape_label_value, metric_names, render_textfile

parser = pytest.importorskip(
    "prometheus_client.parser", reason="prometheus_client is needed to parse the textfile"
)

NOW = 1_800_000_000.0


def _result(key: str, status: str, component: str = "api-gateway", **extra: object) -> CheckResult:
    values: dict[str, object] = {
        "id": f"tc-{key}@{component}",
        "plan_id": f"tc-{key}",
        "label": key,
        "source": "test-commands",
        "must_pass": None,
        "component": component,
        "host": "agent0@10.0.0.1",
        "command": "true",
        "status": status,
        "duration_s": 0.25,
    }
    values.update(extra)
    return CheckResult(**values)  # type: ignore[arg-type]


def _record(task_id: str | None, path: str, *results: CheckResult, **extra: object) -> RunRecord:
    values: dict[str, object] = {
        "task_id": task_id,
        "task_path": path,
        "title": "t",
        "run_id": "20261124T130550Z",
        "state": "complete",
        "started_at": "2026-11-24T13:05:50.000Z",
        "finished_at": "2026-11-24T13:05:51.500Z",
        "results": results,
    }
    values.update(extra)
    return RunRecord(**values)  # type: ignore[arg-type]


def _parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    families = {}
    for family in parser.text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation
        families[family.name] = {
            tuple(sorted(sample.labels.items())): sample.value for sample in family.samples
        }
    return families


def _key(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def test_textfile_parses_with_the_expected_series() -> None:
    record = _record(
        "ENG-001",
        "tasks/ENG-001.md",
        _result("live", "pass", duration_s=0.125),
        _result("models", "fail"),
        _result("gpu", "error", component="llm-01", duration_s=None),
        _result("manual", "manual", duration_s=None),
        _result("skipped", "skip", duration_s=None),
    )
    families = _parse(render_textfile([record], now=NOW))
    assert set(families) == set(metric_names())
    task = {"task": "ENG-001", "path": "tasks/ENG-001.md"}
    status = families["taskrun_check_status"]
    assert status == {
        _key(**task, check="tc-live@api-gateway", component="api-gateway"): 1.0,
        _key(**task, check="tc-models@api-gateway", component="api-gateway"): 0.0,
        _key(**task, check="tc-gpu@llm-01", component="llm-01"): -1.0,
    }
    durations = families["taskrun_check_duration_seconds"]
    assert durations[_key(**task, check="tc-live@api-gateway", component="api-gateway")] == 0.125
    assert len(durations) == 2
    finished = datetime(2026, 11, 24, 13, 5, 51, 500000, tzinfo=UTC).timestamp()
    assert families["taskrun_last_run_timestamp_seconds"] == {_key(**task): finished}
    counts = families["taskrun_run_checks"]
    assert counts[_key(**task, status="pass")] == 1
    assert counts[_key(**task, status="manual")] == 1
    assert counts[_key(**task, status="skip")] == 1
    assert len(counts) == 5


def test_help_and_type_come_once_before_the_samples() -> None:
    text = render_textfile(
        [_record("A", "a.md", _result("x", "pass")), _record("B", "b.md", _result("x", "fail"))],
        now=NOW,
    )
    lines = text.splitlines()
    for name in metric_names():
        assert lines.count(f"# TYPE {name} gauge") == 1
        help_at = next(i for i, line in enumerate(lines) if line.startswith(f"# HELP {name} "))
        assert lines[help_at + 1] == f"# TYPE {name} gauge"
        first_sample = next(i for i, line in enumerate(lines) if line.startswith(name + "{"))
        assert first_sample == help_at + 2
    assert text.endswith("\n")


def test_label_values_are_escaped() -> None:
    nasty = 'back\\slash "quoted"\nnew line'
    record = _record(nasty, "tasks/odd.md", _result("x", "pass", component='c"1'))
    text = render_textfile([record], now=NOW)
    assert escape_label_value(nasty) == 'back\\\\slash \\"quoted\\"\\nnew line'
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == 8
    status = _parse(text)["taskrun_check_status"]
    assert status == {_key(task=nasty, path="tasks/odd.md", check='tc-x@c"1', component='c"1'): 1.0}


def test_duplicate_task_ids_stay_apart_by_path() -> None:
    # The corpus has each of ENG-001…ENG-008 twice; duplicate series break the whole file.
    text = render_textfile(
        [
            _record("ENG-001", "tasks/a/ENG-001.md", _result("x", "pass")),
            _record("ENG-001", "tasks/b/ENG-001.md", _result("x", "fail")),
        ],
        now=NOW,
    )
    status = _parse(text)["taskrun_check_status"]
    assert sorted(status.values()) == [0.0, 1.0]


def test_the_same_task_twice_keeps_the_later_record() -> None:
    text = render_textfile(
        [
            _record("ENG-001", "tasks/ENG-001.md", _result("x", "pass")),
            _record("ENG-001", "tasks/ENG-001.md", _result("x", "fail")),
        ],
        now=NOW,
    )
    assert list(_parse(text)["taskrun_check_status"].values()) == [0.0]


def test_a_task_without_id_uses_its_path_and_a_run_without_time_uses_now() -> None:
    record = _record(None, "tasks/template.md", started_at="?", finished_at=None)
    families = _parse(render_textfile([record], now=NOW))
    key = _key(task="tasks/template.md", path="tasks/template.md")
    assert families["taskrun_last_run_timestamp_seconds"] == {key: NOW}
    assert families["taskrun_check_status"] == {}


def test_no_records_still_parses() -> None:
    families = _parse(render_textfile([], now=NOW))
    assert families == {name: {} for name in metric_names()}


def test_write_textfile_replaces_atomically_and_is_world_readable(tmp_path: Path) -> None:
    target = tmp_path / "taskrun.prom"
    write_textfile(target, "a 1\n")  # as `--prometheus PATH` writes it
    assert target.read_text() == "a 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    write_textfile(target, render_textfile([], now=NOW))
    assert target.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an operator's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taskrun.prom"]


def test_write_textfile_into_a_missing_folder_is_an_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="cannot save evidence"):
        write_textfile(tmp_path / "missing" / "taskrun.prom", "a 1\n")


def write_textfile(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
