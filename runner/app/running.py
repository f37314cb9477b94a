"""Run planned tasks: execute, keep the evidence, compare with the last run, write back.

One event loop per command invocation; tasks run one after another or `jobs` at once, hosts
always concurrently, all sharing one SSH pool. SIGINT/SIGTERM cancel the run: evidence so far
is kept (`state: interrupted`) and the task files are left alone.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from runner.app.api import (
    EXIT_CHECK_DRIFT,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_WRITE_REFUSED,
    PlannedTask,
    ValidateOptions,
    build_task_redactor,
    filter_plan,
    outcome_exit_code,
    task_relpath,
    today_for,
)
from runner.errors import EvidenceError, InputError, WriteBackRefused
from runner.models import CheckResult, Plan, RunRecord
from runner.project.settings import Settings


@dataclass(slots=True)
class TaskRunOutcome:
    record: RunRecord
    exit_code: int
    run_dir: Path | None = None
    messages: list[str] = field(default_factory=list)
    comparison: Any = None  # runner.evaluate.regressions.Comparison against the previous run
    previous_run_id: str | None = None
    wrote: bool = False


@dataclass(slots=True)
class _Interrupt:
    signum: int | None = None


class ProgressSink(Protocol):
    """What the runner tells the person at the terminal (implemented by the console)."""

    def check_started(self, check_id: str, component: str) -> None: ...

    def check_finished(self, result: CheckResult) -> None: ...


def run_tasks(
    planned_tasks: Sequence[PlannedTask],
    settings: Settings,
    options: ValidateOptions,
    *,
    progress: ProgressSink,
    set_mask: Callable[[Callable[[str], str]], None],
    cwd: Path,
    environ: Mapping[str, str],
    batch: bool = False,
    jobs: int = 1,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[list[TaskRunOutcome], int | None]:
    """Returns the outcomes (in task order) and the signal that interrupted the run, if any."""
    for planned in planned_tasks:
        plan = filter_plan(planned.plan, only=options.only, components=options.components)
        if not plan.components and not any(c.components for c in plan.checks):
            raise InputError(
                "the task names no Component and no default_component is set "
                "(add a Component field, or default_component to taskrun.yaml)",
                path=task_relpath(planned.path, cwd),
            )
    interrupt = _Interrupt()
    outcomes: list[TaskRunOutcome | None] = [None] * len(planned_tasks)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def on_signal(signum: int) -> None:
            interrupt.signum = signum
            main_task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        pools: dict[str, Any] = {}
        limit = asyncio.Semaphore(max(1, jobs))

        async def one(index: int, planned: PlannedTask) -> None:
            async with limit:
                outcomes[index] = await _run_one(
                    planned,
                    settings,
                    options,
                    progress=progress,
                    set_mask=set_mask,
                    cwd=cwd,
                    environ=environ,
                    pools=pools,
                    now=now,
                    interrupt=interrupt,
                    batch=batch,
                )

        try:
            await asyncio.gather(*(one(i, p) for i, p in enumerate(planned_tasks)))
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            if "forwarder" in pools:
                await pools["forwarder"].close()
            if "ssh" in pools:
                await pools["ssh"].close()

    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        if interrupt.signum is None:
            interrupt.signum = signal.SIGINT
    return [o for o in outcomes if o is not None], interrupt.signum


def _transport_factory(pools: dict[str, Any]) -> Callable[[Any], Any]:
    def transport_for(target: Any) -> Any:
        from runner.transports.local import LocalTransport

        if target.is_local:
            return LocalTransport(target)
        from runner.transports.ssh import SshPool, SshTransport

        if "ssh" not in pools:
            pools["ssh"] = SshPool()
        return SshTransport(target, pool=pools["ssh"])

    return transport_for


def _probe_runner(
    pools: dict[str, Any],
    settings: Settings,
    options: ValidateOptions,
    environ: Mapping[str, str],
    mask: Callable[[str], str],
) -> Callable[[Any, Any], Any]:
    async def run(check: Any, target: Any) -> CheckResult:
        from runner.evidence.baselines import BaselineStore
        from runner.execute.http import SshForwarder, run_probe_on

        if "baselines" not in pools:
            pools["baselines"] = BaselineStore(
                settings.reports / "baselines",
                fixed_file=options.baseline,
                update=options.update_baseline,
            )
        forwarder = None
        if not target.is_local:
            if "ssh" not in pools:
                from runner.transports.ssh import SshPool

                pools["ssh"] = SshPool()
            if "forwarder" not in pools:
                pools["forwarder"] = SshForwarder(pools["ssh"])
            forwarder = pools["forwarder"]
        return await run_probe_on(
            check,
            target,
            environ=environ,
            redact=mask,
            forwarder=forwarder,
            baselines=pools["baselines"],
        )

    return run


def _resolve_playbook_check(check: Any, target: Any) -> Any:
    from runner.project.playbooks import Settled, component_vars, resolve_check

    resolved = resolve_check(
        check, component=target.component, vars=component_vars(target.component, target.vars)
    )
    if isinstance(resolved, Settled):
        return resolved.status, resolved.reason
    return resolved


def _targets_for(plan: Plan, inventory: Any) -> dict[str, Any]:
    from runner.transports.base import Target

    names = {name for check in plan.checks for name in check.components}
    targets: dict[str, Target] = {}
    for name in sorted(names):
        if inventory is not None and name in inventory.components:
            targets[name] = inventory.components[name]
        elif name == "local":
            targets[name] = Target(component="local", host="local")
    return targets


def _exported_env(target: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """Only the variables the inventory names travel to a host; a local target inherits ours."""
    if target.is_local:
        return {}
    names = (*target.env, *target.secrets)
    return {name: environ[name] for name in names if name in environ}


def _now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _run_one(
    planned: PlannedTask,
    settings: Settings,
    options: ValidateOptions,
    *,
    progress: ProgressSink,
    set_mask: Callable[[Callable[[str], str]], None],
    cwd: Path,
    environ: Mapping[str, str],
    pools: dict[str, Any],
    now: Callable[[], datetime],
    interrupt: _Interrupt,
    batch: bool,
) -> TaskRunOutcome:
    from runner.evidence.store import (
        iter_runs,
        load_run,
        new_run_dir,
        write_reports,
        write_run_json,
    )
    from runner.evidence.taskfile import read_snapshot
    from runner.execute.scheduler import CheckFinished, CheckStarted, ExecuteOptions, execute_plan

    plan = filter_plan(planned.plan, only=options.only, components=options.components)
    snapshot = read_snapshot(planned.path)
    redactor = build_task_redactor(planned, environ)
    set_mask(redactor.mask)
    task_path = task_relpath(planned.path, cwd)
    started = now()
    run_dir = new_run_dir(
        settings.reports, task_id=planned.doc.task_id, task_path=task_path, now=started
    )
    record = RunRecord(
        task_id=planned.doc.task_id,
        task_path=task_path,
        title=planned.doc.title,
        run_id=run_dir.run_id,
        state="running",
        started_at=_now_iso(started),
        finished_at=None,
        filtered=bool(options.only or options.components),
        options={
            "only": options.only,
            "components": list(options.components),
            "allow_mutating": options.allow_mutating,
            "run_dir": task_relpath(run_dir.path, cwd),
        },
    )
    write_run_json(run_dir, record)

    def on_event(event: object) -> None:
        if isinstance(event, CheckStarted):
            progress.check_started(event.check_id, event.component)
        elif isinstance(event, CheckFinished):
            progress.check_finished(event.result)

    gathered: list[CheckResult] = []
    ordered: list[CheckResult] = []
    log_errors: list[str] = []
    try:
        ordered = await execute_plan(
            plan,
            targets=_targets_for(plan, planned.inventory),
            transport_for=_transport_factory(pools),
            options=ExecuteOptions(
                concurrency=options.concurrency or settings.concurrency,
                default_timeout=options.timeout or settings.timeout,
                allow_mutating=options.allow_mutating,
                env_for=lambda target: _exported_env(target, environ),
                redact=redactor.mask,
                probe_runner=_probe_runner(pools, settings, options, environ, redactor.mask),
                resolve_for=_resolve_playbook_check,
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
        finished_at=_now_iso(now()),
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

    from runner.evaluate.regressions import compare_runs, previous_run, regression_names

    earlier = [
        load_run(path)
        for run_id, path in iter_runs(
            settings.reports, task_id=planned.doc.task_id, task_path=task_path
        )
        if run_id != record.run_id
    ]
    previous = previous_run(earlier, before_run_id=record.run_id)
    outcome.comparison = compare_runs(previous, record)
    outcome.previous_run_id = previous.get("run_id") if previous else None

    if options.check:
        from runner.evaluate.drift import recorded_outcome_differs

        differs, why = recorded_outcome_differs(snapshot.doc, record)
        if differs:
            outcome.exit_code = EXIT_CHECK_DRIFT
            outcome.messages.append(f"--check: {why}")
        return outcome
    if options.no_write:
        return outcome
    if batch and previous is not None and not outcome.comparison.changed:
        outcome.messages.append(f"{task_path}: outcome unchanged since {outcome.previous_run_id}")
        return outcome
    _write_back(planned, settings, options, outcome, snapshot, regression_names)
    return outcome


def _write_back(
    planned: PlannedTask,
    settings: Settings,
    options: ValidateOptions,
    outcome: TaskRunOutcome,
    snapshot: Any,
    regression_names: Callable[[Any], list[str]],
) -> None:
    from runner.evaluate.regressions import check_name
    from runner.evidence.taskfile import write_back

    record = outcome.record
    comparison = outcome.comparison
    try:
        result = write_back(
            planned.path,
            snapshot,
            record,
            today=today_for(settings, record.started_at),
            set_status=options.set_status,
            regressions=regression_names(comparison) if outcome.previous_run_id else (),
            since=outcome.previous_run_id,
            recovered=[check_name(r) for r in comparison.recovered],
        )
    except WriteBackRefused as exc:
        outcome.exit_code = EXIT_WRITE_REFUSED
        outcome.messages.append(
            f"{exc} — evidence kept in {record.options['run_dir']}; apply it later with: "
            f"taskrun report {record.task_path} --run {record.run_id} --apply"
        )
        return
    outcome.wrote = result.changed
    if result.changed:
        outcome.messages.append(f"updated Status Tracking in {record.task_path}")
