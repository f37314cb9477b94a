"""run.json (`taskrun.run/1`) and plan JSON (`taskrun.plan/1`) documents."""

from __future__ import annotations

from typing import Any

from runner.models import CheckResult, Plan, PlannedCheck, RunRecord

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
    }


def run_from_dict(data: dict[str, Any]) -> RunRecord:
    """The inverse of `run_to_dict` (for `report --apply` and history)."""
    from runner.models import Attempt

    def result(c: dict[str, Any]) -> CheckResult:
        plan_id = c.get("id", "").rsplit("@", 1)[0]
        return CheckResult(
            id=c["id"],
            plan_id=plan_id,
            label=c.get("label") or "",
            source=c.get("source") or "test-commands",
            must_pass=c.get("must_pass"),
            component=c.get("component") or "",
            host=c.get("host") or "",
            command=c.get("command"),
            status=c["status"],
            exit_code=c.get("exit_code"),
            started_at=c.get("started_at"),
            duration_s=c.get("duration_s"),
            stdout_tail=c.get("stdout_tail") or "",
            stderr_tail=c.get("stderr_tail") or "",
            log_paths=tuple(c.get("log_paths") or ()),
            reason=c.get("reason"),
            error=c.get("error"),
            flaky=bool(c.get("flaky")),
            attempts=tuple(
                Attempt(
                    exit_code=a.get("exit_code"),
                    started_at=a.get("started_at") or "",
                    duration_s=a.get("duration_s") or 0.0,
                    status=a["status"],
                    reason=a.get("reason"),
                )
                for a in c.get("attempts") or ()
            ),
            line=c.get("line"),
            http=c.get("http"),
        )

    task = data.get("task") or {}
    return RunRecord(
        task_id=task.get("id"),
        task_path=task.get("path") or "",
        title=task.get("title"),
        run_id=data["run_id"],
        state=data.get("state", "complete"),
        started_at=data.get("started_at") or "",
        finished_at=data.get("finished_at"),
        results=tuple(result(c) for c in data.get("checks") or ()),
        filtered=bool(data.get("filtered")),
        options=dict(data.get("options") or {}),
    )
