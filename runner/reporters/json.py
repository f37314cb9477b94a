"""run.json (`taskrun.run/1`) and plan JSON (`taskrun.plan/1`) documents."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from runner.models import Attempt, CheckResult, Plan, PlannedCheck, RunRecord

RUN_SCHEMA = "taskrun.run/1"
PLAN_SCHEMA = "taskrun.plan/1"
BATCH_SCHEMA = "taskrun.batch/1"


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "label": result.label,
        "source": result.source,
        "must_pass": result.must_pass,
        "component": result.component,
        "host": result.host,
        "command": result.command,
        "http": result.http,
        "line": result.line,
        "expected": result.expected,
        "status": result.status,
        "exit_code": result.exit_code,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "stdout_tail": result.stdout_tail,
        "stderr_tail": result.stderr_tail,
        "log_paths": list(result.log_paths),
        "reason": result.reason,
        "error": result.error,
        "flaky": result.flaky,
        "attempts": [
            {
                "exit_code": a.exit_code,
                "started_at": a.started_at,
                "duration_s": a.duration_s,
                "status": a.status,
                "reason": a.reason,
            }
            for a in result.attempts
        ],
    }


def run_to_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "schema": RUN_SCHEMA,
        "task": {"id": record.task_id, "path": record.task_path, "title": record.title},
        "run_id": record.run_id,
        "state": record.state,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "filtered": record.filtered,
        "options": record.options,
        "summary": record.summary.as_dict(),
        "checks": [result_to_dict(r) for r in record.results],
    }


def planned_check_to_dict(check: PlannedCheck, mask: Any = lambda s: s) -> dict[str, Any]:
    return {
        "id": check.id,
        "label": mask(check.label),
        "source": check.source,
        "must_pass": check.must_pass,
        "components": list(check.components),
        "kind": check.kind,
        "command": mask(check.command),
        "line": check.line,
        "session": check.session,
        "directives": check.directives.as_dict(),
        "expectation": {
            "exit_code": check.expectation.exit_code,
            "stdout_regex": check.expectation.stdout_regex,
            "stdout_line": check.expectation.stdout_line,
        },
        "notes": [mask(n) for n in check.notes],
        "section": check.section,
        "counted": check.kind in ("command", "http"),
        "expected_prose": None if check.expected_prose is None else mask(check.expected_prose),
        "shown_reason": check.shown_reason,
        "shown_output": None if check.shown_output is None else mask(check.shown_output),
        "decorative": check.decorative,
        "warnings": list(check.warnings),
    }


def plan_to_dict(plan: Plan, mask: Any = lambda s: s) -> dict[str, Any]:
    return {
        "schema": PLAN_SCHEMA,
        "task": {
            "id": plan.task_id,
            "path": plan.task_path,
            "title": plan.title,
            "components": list(plan.components),
        },
        "checks": [planned_check_to_dict(c, mask) for c in plan.checks],
        "notes": [mask(n) for n in plan.notes],
        "skipped_sections": [
            {"line": s.line, "heading": s.heading, "reason": s.reason}
            for s in plan.skipped_sections
        ],
    }


def result_from_dict(check: Mapping[str, Any]) -> CheckResult:
    """A `CheckResult` back from a run.json check (the inverse of `result_to_dict`)."""
    check_id = str(check.get("id", ""))
    return CheckResult(
        id=check_id,
        plan_id=check_id.rsplit("@", 1)[0],
        label=str(check.get("label") or check_id),
        source=check.get("source", "test-commands"),
        must_pass=check.get("must_pass"),
        component=str(check.get("component", "")),
        host=str(check.get("host", "")),
        command=check.get("command"),
        status=check.get("status", "error"),
        exit_code=check.get("exit_code"),
        started_at=check.get("started_at"),
        duration_s=check.get("duration_s"),
        stdout_tail=check.get("stdout_tail") or "",
        stderr_tail=check.get("stderr_tail") or "",
        log_paths=tuple(check.get("log_paths") or ()),
        reason=check.get("reason"),
        error=check.get("error"),
        flaky=bool(check.get("flaky", False)),
        attempts=tuple(
            Attempt(
                exit_code=a.get("exit_code"),
                started_at=str(a.get("started_at", "")),
                duration_s=float(a.get("duration_s") or 0.0),
                status=a.get("status", "error"),
                reason=a.get("reason"),
            )
            for a in check.get("attempts") or ()
        ),
        line=check.get("line"),
        http=check.get("http"),
        expected=check.get("expected"),
    )


def run_from_dict(run: Mapping[str, Any]) -> RunRecord:
    """A `RunRecord` back from a run.json document (the inverse of `run_to_dict`)."""
    task = run.get("task") or {}
    return RunRecord(
        task_id=task.get("id"),
        task_path=str(task.get("path", "")),
        title=task.get("title"),
        run_id=str(run.get("run_id", "")),
        state=run.get("state", "complete"),
        started_at=str(run.get("started_at", "")),
        finished_at=run.get("finished_at"),
        results=tuple(result_from_dict(c) for c in run.get("checks") or ()),
        filtered=bool(run.get("filtered", False)),
        options=dict(run.get("options") or {}),
    )


def batch_to_dict(records: Sequence[RunRecord]) -> dict[str, Any]:
    """One run's `taskrun.run/1` document, or `taskrun.batch/1` for several."""
    if len(records) == 1:
        return run_to_dict(records[0])
    return {"schema": BATCH_SCHEMA, "runs": [run_to_dict(r) for r in records]}


def render(records: Sequence[RunRecord], *, now: datetime) -> bytes:
    """The reporter (`REPORTERS["json"]`): what `--json` prints."""
    return (json.dumps(batch_to_dict(records), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
