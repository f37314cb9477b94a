"""`taskrun validate`: plan the tasks, run them (one event loop, one SSH pool), keep the
evidence, compare with the previous run, write back, report.

The stages it calls: plan (select, filter), execute (runtime, scheduler), evaluate (verdict,
regressions, drift), evidence (store, taskfile, baselines), reporters, ops.notify.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from runner.app.project import PlannedTask, Project
from runner.app.requests import ValidateRequest
from runner.app.selection import BrokenTask, broken_record, select
from runner.clock import iso_utc
from runner.console import Console
from runner.errors import (
    EXIT_CHECK_DRIFT,
    EXIT_COULD_NOT_RUN,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_WRITE_REFUSED,
    EvidenceError,
    HandEditedEvidence,
    InputError,
    WriteBackRefused,
    combined_exit_code,
)
from runner.evaluate.drift import recorded_outcome_differs
from runner.evaluate.regressions import (
    Comparison,
    check_name,
    compare_with_recorded,
    describe,
    regression_names,
)
from runner.evaluate.verdict import outcome_exit_code, unverified_reason
from runner.evidence.baselines import BaselineStore
from runner.evidence.store import (
    atomic_write_bytes,
    new_run_dir,
    write_reports,
    write_run_json,
)
from runner.evidence.taskfile import Snapshot, read_snapshot, write_back
from runner.execute.runtime import Interrupt, Job, run_jobs
from runner.execute.scheduler import CheckFinished, CheckStarted, ExecuteOptions, execute_plan
from runner.models import CheckResult, Plan, RunRecord, Target
from runner.ops.notify import notify_on_change
from runner.plan.select import filter_plan, result_ids
from runner.project.settings import settings_file_note
from runner.reporters import REPORTERS
from runner.reporters.github import workflow_annotations, workspace_root
from runner.transports import transport_for
from runner.transports.base import Shared

__all__ = ["TaskRunOutcome", "run", "validate"]


@dataclass(slots=True)
class TaskRunOutcome:
    record: RunRecord
    exit_code: int
    run_dir: Path | None = None
    messages: list[str] = field(default_factory=list)
    comparison: Comparison | None = None  # against the previous run
    previous_run_id: str | None = None
    wrote: bool = False


def run(request: ValidateRequest, console: Console, project: Project | None = None) -> int:
    return validate(request, console, project)[1]


def validate(
    request: ValidateRequest, console: Console, project: Project | None = None
) -> tuple[list[TaskRunOutcome], int]:
    """Run the tasks; (outcomes, exit code)."""
    _check_request(request)
    if request.pre:  # preconditions are their own run, never written into the task file
        if request.check:
            raise InputError("--pre runs the pre-flight checks; --check judges the validation")
        request = replace(request, no_write=True)
    project = project or Project.open(request.project)
    settings_note = settings_file_note(project.settings)
    if settings_note:
        console.info(settings_note)
    selection = select(request, project, console)
    request = replace(request, components=selection.components)
    planned_tasks = list(selection.planned)
    if not planned_tasks and not selection.broken:
        console.info("no task matches the filters: nothing to run")
        return [], EXIT_OK
    # One redactor for the whole command: the dry-run, every task's output, reports, the task
    # file and notifications all mask the same secrets (a value only a host has is added to it).
    project.learn_commands(p.plan for p in planned_tasks)
    redactor = project.redactor
    console.mask = redactor.mask
    if request.dry_run:
        for planned in planned_tasks:
            filtered = filter_plan(planned.plan, only=request.only, components=request.components)
            unmaskable = project.unmaskable_note(planned.plan)
            notes = (*planned.notes, *([unmaskable] if unmaskable else []))
            console.plan(filtered, extra_notes=notes)
        for broken in selection.broken:
            console.info(f"{broken.task_path}: not run: {broken.reason}")
        return [], EXIT_COULD_NOT_RUN if selection.broken else EXIT_OK
    if not request.all_tasks:  # a batch runs on: the checks there are `error`, exit 3
        for planned in planned_tasks:
            plan = filter_plan(planned.plan, only=request.only, components=request.components)
            project.require_known_components(planned.path, planned.doc, plan)

    def job(planned: PlannedTask) -> Job[TaskRunOutcome]:
        async def one(shared: Shared, interrupt: Interrupt) -> TaskRunOutcome:
            try:
                return await _run_task(
                    planned, request, project, console, shared, interrupt, batch=request.all_tasks
                )
            except InputError as exc:  # the file changed into something unreadable meanwhile
                if not request.all_tasks:
                    raise
                return _with_broken_tasks([], [_broken(planned, exc, project)], project)[0]

        return one

    gathered, signum = run_jobs([job(p) for p in planned_tasks], limit=request.jobs)
    outcomes = _with_broken_tasks([o for o in gathered if o is not None], selection.broken, project)
    _show(console, outcomes, request)
    _write_reports(console, [o.record for o in outcomes], request, project)
    if request.notify:
        _notify(console, outcomes, request.notify)
    codes = [o.exit_code for o in outcomes]
    if signum is not None:
        codes.append(EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT)
    return outcomes, combined_exit_code(codes)


def _check_request(request: ValidateRequest) -> None:
    if request.all_tasks and request.tasks:
        raise InputError("give task IDs or --all, not both")
    if not request.all_tasks and not request.tasks:
        raise InputError("name a task (ENG-001, FOLDER/ID or a path) or use --all")
    if (request.statuses or request.since) and not request.all_tasks:
        raise InputError("--status and --since go with --all")
    if request.since is not None:
        try:
            date.fromisoformat(request.since)
        except ValueError as exc:
            raise InputError(f"--since takes a date as YYYY-MM-DD, not {request.since!r}") from exc
    for name, _ in request.reports:
        if name not in REPORTERS:
            known = ", ".join(REPORTERS)
            raise InputError(f"--report: unknown reporter {name!r} (known: {known})")


def _with_broken_tasks(
    outcomes: list[TaskRunOutcome], broken: Sequence[BrokenTask], project: Project
) -> list[TaskRunOutcome]:
    """The batch's outcomes with an `error` row for each task that could not be read or
    planned, in task path order: the batch never drops a task quietly, nor exits 0 with one."""
    if not broken:
        return outcomes
    now = iso_utc(project.clock())
    rows = [
        TaskRunOutcome(
            record=broken_record(task, now=now),
            exit_code=EXIT_COULD_NOT_RUN,
            messages=[f"{task.task_path}: not run: {task.reason}"],
        )
        for task in broken
    ]
    return sorted([*outcomes, *rows], key=lambda o: o.record.task_path)


# --------------------------------------------------------------------------- one task


async def _run_task(
    planned: PlannedTask,
    request: ValidateRequest,
    project: Project,
    console: Console,
    shared: Shared,
    interrupt: Interrupt,
    *,
    batch: bool,
) -> TaskRunOutcome:
    settings = project.settings
    plan = filter_plan(planned.plan, only=request.only, components=request.components)
    snapshot = read_snapshot(planned.path, validation_sections=project.settings.validation_sections)
    redactor = project.redactor
    task_path = project.relpath(planned.path)
    started = project.clock()
    run_dir = new_run_dir(
        settings.reports, task_id=planned.doc.task_id, task_path=task_path, now=started
    )
    record = RunRecord(
        task_id=planned.doc.task_id,
        task_path=task_path,
        title=planned.doc.title,
        run_id=run_dir.run_id,
        state="running",
        started_at=iso_utc(started),
        finished_at=None,
        filtered=request.filtered,
        options={
            "only": request.only,
            "components": list(request.components),
            "allow_mutating": request.allow_mutating,
            "pre": request.pre,
            "run_dir": project.relpath(run_dir.path),
        },
    )
    write_run_json(run_dir, record)

    def on_event(event: object) -> None:
        if isinstance(event, CheckStarted):
            console.check_started(event.check_id, event.component)
        elif isinstance(event, CheckFinished):
            console.check_finished(event.result)

    gathered: list[CheckResult] = []
    ordered: list[CheckResult] = []
    log_errors: list[str] = []
    environ = project.environ
    try:
        ordered = await execute_plan(
            plan,
            targets=_targets_for(plan, planned),
            transport_for=lambda target: transport_for(target, shared),
            options=ExecuteOptions(
                concurrency=request.concurrency or settings.concurrency,
                failure_markers=tuple(settings.failure_markers),
                default_timeout=request.timeout or settings.timeout,
                allow_mutating=request.allow_mutating,
                env_for=lambda target: _exported_env(target, environ),
                redact=redactor,  # extended per session with the host's own secrets
                probe_env=environ,
                baselines=shared.get(
                    "baselines",
                    lambda: BaselineStore(
                        settings.reports / "baselines",
                        fixed_file=request.baseline,
                        update=request.update_baseline,
                    ),
                ),
            ),
            log_dir=run_dir.logs,
            on_event=on_event,
            results=gathered,
            log_errors=log_errors,
        )
    except asyncio.CancelledError:
        if interrupt.signum is None:
            interrupt.signum = signal.SIGINT
    results = ordered or gathered
    record = replace(
        record,
        results=tuple(results),
        state="interrupted" if interrupt.signum is not None else "complete",
        finished_at=iso_utc(project.clock()),
    )
    write_reports(run_dir, record)
    if log_errors:
        # The checks ran, but their full output is not kept: not evidence to write back.
        raise EvidenceError(f"cannot save evidence in {record.options['run_dir']}: {log_errors[0]}")
    outcome = TaskRunOutcome(
        record=record, exit_code=outcome_exit_code(results), run_dir=run_dir.path
    )
    if interrupt.signum is not None:
        outcome.exit_code = EXIT_SIGTERM if interrupt.signum == signal.SIGTERM else EXIT_SIGINT
        outcome.messages.append("interrupted: evidence so far kept, task file untouched")
        return outcome
    unverified = unverified_reason(results)
    if unverified is not None:
        # Nothing ran against a target: not a pass, and no status to write.
        outcome.exit_code = EXIT_COULD_NOT_RUN
        outcome.messages.append(f"nothing could be verified: {task_path}: {unverified}")
        return outcome

    # The reference is what the task file records, not the newest folder in reports/.
    outcome.comparison, outcome.previous_run_id = compare_with_recorded(snapshot.doc, record)

    if request.check:
        differs, why = recorded_outcome_differs(snapshot.doc, record)
        if differs:
            outcome.exit_code = EXIT_CHECK_DRIFT
            outcome.messages.append(f"--check: {why}")
        return outcome
    if request.no_write:
        return outcome
    if batch and not outcome.comparison.changed:
        outcome.messages.append(
            f"{task_path}: outcome unchanged since {outcome.previous_run_id or 'the recorded run'}"
        )
        return outcome
    _write_back(planned, project, request, outcome, snapshot)
    return outcome


def _write_back(
    planned: PlannedTask,
    project: Project,
    request: ValidateRequest,
    outcome: TaskRunOutcome,
    snapshot: Snapshot,
) -> None:
    record = outcome.record
    comparison = outcome.comparison
    assert comparison is not None
    try:
        result = write_back(
            planned.path,
            snapshot,
            record,
            today=project.today(record.started_at),
            set_status=request.set_status,
            regressions=regression_names(comparison) if outcome.previous_run_id else (),
            since=outcome.previous_run_id,
            recovered=[check_name(r) for r in comparison.recovered],
            keep_ids=result_ids(planned.plan),
        )
    except WriteBackRefused as exc:
        outcome.exit_code = EXIT_WRITE_REFUSED
        outcome.messages.append(_refusal_advice(exc, record))
        return
    outcome.wrote = result.changed
    if result.changed:
        outcome.messages.append(f"updated Status Tracking in {record.task_path}")


def _refusal_advice(exc: WriteBackRefused, record: RunRecord) -> str:
    """What to do after a refused write-back: the command that applies the kept run, with
    `--force` where only that can (a hand-edited evidence block)."""
    apply = f"taskrun report {record.task_path} --run {record.run_id} --apply"
    if isinstance(exc, HandEditedEvidence):
        return (
            f"{exc} — evidence kept in {record.options['run_dir']}; to replace the hand-edited "
            f"block with this run: {apply} --force"
        )
    return f"{exc} — evidence kept in {record.options['run_dir']}; apply it later with: {apply}"


def _broken(planned: PlannedTask, exc: InputError, project: Project) -> BrokenTask:
    return BrokenTask(project.relpath(planned.path), planned.doc.task_id, str(exc))


def _targets_for(plan: Plan, planned: PlannedTask) -> dict[str, Target]:
    names = {name for check in plan.checks for name in check.components}
    inventory = planned.inventory
    targets: dict[str, Target] = {}
    for name in sorted(names):
        if inventory is not None and name in inventory.components:
            targets[name] = inventory.components[name]
        elif name == "local":
            targets[name] = Target(component="local", host="local", connection="local")
    return targets


def _exported_env(target: Target, environ: Mapping[str, str]) -> dict[str, str]:
    """Only the variables the inventory names travel to a host; a local target inherits ours."""
    if target.is_local:
        return {}
    names = (*target.env, *target.secrets)
    return {name: environ[name] for name in names if name in environ}


# --------------------------------------------------------------------------- output


def _show(console: Console, outcomes: Sequence[TaskRunOutcome], request: ValidateRequest) -> None:
    for outcome in outcomes:
        if not request.json:
            console.run_table(outcome.record)
            if outcome.comparison is not None and outcome.previous_run_id:
                change = describe(outcome.comparison, outcome.previous_run_id)
                if change:
                    console.info(f"{outcome.record.task_path}: {change}")
        for message in outcome.messages:
            console.info(message)
    if len(outcomes) > 1 and not request.json:
        console.batch_table(outcomes)


def _write_reports(
    console: Console, records: Sequence[RunRecord], request: ValidateRequest, project: Project
) -> None:
    now = project.clock()
    for name, path in request.reports:
        atomic_write_bytes(path, REPORTERS[name](records, now=now))
    environ = project.environ
    if environ.get("GITHUB_ACTIONS") == "true":
        root = workspace_root(str(project.cwd), environ.get("GITHUB_WORKSPACE"))
        for line in workflow_annotations(records, task_files_root=root):
            console.text(line + "\n")
    summary_path = environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        _append_step_summary(Path(summary_path), REPORTERS["github"](records, now=now))
    if request.json:
        console.text(REPORTERS["json"](records, now=now).decode("utf-8"))


def _append_step_summary(path: Path, data: bytes) -> None:
    try:
        with open(path, "ab") as handle:
            handle.write(data + b"\n")
    except OSError:
        pass  # the step summary is a courtesy; the evidence is in reports/


def _notify(console: Console, outcomes: Sequence[TaskRunOutcome], url: str) -> None:
    for outcome in outcomes:
        if outcome.comparison is None or outcome.record.state != "complete":
            continue
        sent = notify_on_change(
            url,
            outcome.record,
            outcome.comparison,
            previous_run_id=outcome.previous_run_id,
            timeout=10.0,
            mask=console.mask,
        )
        if sent.warning:
            console.info(f"warning: {sent.warning}")
