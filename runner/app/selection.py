"""What `taskrun validate` runs: the tasks (named, or `--all` with `--status`/`--since`), the
pre-flight checks or the validation (`--pre`), the filters (`--only`, `--component`) checked
against what exists, and the tasks of a batch that cannot be read or planned.

Nothing here fails open. A filter that names nothing known or matches no check is an input
error (exit 2) with the known values; a batch task that cannot be read or planned is kept as
a `BrokenTask` (an `error` row of the batch), so it never drops out of a nightly run quietly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from runner.app.project import PlannedTask, Project
from runner.app.requests import ValidateRequest
from runner.console import Console
from runner.errors import InputError
from runner.models import CheckResult, RunRecord
from runner.plan.select import (
    closest,
    filter_plan,
    known_statuses,
    preconditions_or_validation,
    runs_something,
    selected_by_status,
)
from runner.project.components import Components
from runner.project.discovery import TaskRef, TaskScan, scan_tasks

__all__ = ["BrokenTask", "Selection", "broken_record", "select"]

BROKEN_CHECK_ID = "task-file"


@dataclass(frozen=True, slots=True)
class BrokenTask:
    """A task of a batch that cannot be read or planned."""

    task_path: str  # as reports name it
    task_id: str | None  # as far as it could be read
    reason: str  # one line: the path, the line where there is one, what is wrong


@dataclass(frozen=True, slots=True)
class Selection:
    planned: tuple[PlannedTask, ...]
    broken: tuple[BrokenTask, ...]
    components: tuple[str, ...]  # `--component` as the inventory spells it, groups expanded


def select(request: ValidateRequest, project: Project, console: Console) -> Selection:
    """The tasks to run, or InputError (exit 2) for a filter that fails open."""
    broken: list[BrokenTask] = []
    if request.all_tasks:
        scan = scan_tasks(
            project.settings.tasks,
            cwd=project.cwd,
            validation_sections=project.settings.validation_sections,
        )
        _check_statuses(request.statuses, scan)
        for unreadable in scan.unreadable:
            if unreadable.maybe_task:
                broken.append(
                    BrokenTask(
                        project.relpath(unreadable.path),
                        unreadable.task_id,
                        f"cannot read the task file: {unreadable.error}",
                    )
                )
            else:
                console.info(f"skipped (no Task ID in it): {unreadable.error}")
        refs = [
            ref
            for ref in scan.tasks
            if ref.doc.has_id_field  # not the template, not a file without a Task ID field
            and selected_by_status(ref.doc, statuses=request.statuses, since=request.since)
        ]
    else:
        refs = [project.resolve(query) for query in request.tasks]
    planned: list[PlannedTask] = []
    for ref in refs:
        try:
            planned.append(_planned(project, ref))
        except InputError as exc:
            if not request.all_tasks:
                raise
            broken.append(BrokenTask(project.relpath(ref.path), ref.doc.task_id, str(exc)))
    planned = _pre_or_validation(planned, pre=request.pre)
    components = _canonical_components(request.components, project, planned)
    kept = _filtered(request, project, planned, components)
    return Selection(tuple(kept), tuple(broken), components)


def _planned(project: Project, ref: TaskRef) -> PlannedTask:
    planned = project.plan(ref.path, ref.doc)
    plan = planned.plan
    if not plan.components and not any(c.components for c in plan.checks):
        raise InputError(
            "the task names no Component and no default_component is set "
            "(add a Component field, or default_component to taskrun.yaml)",
            path=project.relpath(planned.path),
        )
    return planned


def _pre_or_validation(planned: list[PlannedTask], *, pre: bool) -> list[PlannedTask]:
    """`--pre`: the pre-flight checks only (tasks without any dropped); else the rest."""
    chosen = [replace(p, plan=preconditions_or_validation(p.plan, pre=pre)) for p in planned]
    chosen = [p for p in chosen if not pre or any(c.kind == "pre" for c in p.plan.checks)]
    if pre and planned and not chosen:
        raise InputError("--pre: no pre-flight checks (Pre-Flight Checks, Prerequisites, …)")
    return chosen


# --------------------------------------------------------------------------- --status


def _check_statuses(statuses: Sequence[str], scan: TaskScan) -> None:
    """`--status` takes the template's values and the ones the task files use (any case)."""
    if not statuses:
        return
    known = known_statuses(ref.doc for ref in scan.tasks)
    folded = {status.casefold() for status in known}
    for status in statuses:
        if status.strip().casefold() not in folded:
            hint = closest(status.strip(), known)
            raise InputError(
                f"--status {status!r} is not a status (known statuses: {', '.join(known)})"
                + (f"; did you mean {hint}?" if hint else "")
            )


# --------------------------------------------------------------------------- --component


def _canonical_components(
    names: Sequence[str], project: Project, planned: Sequence[PlannedTask]
) -> tuple[str, ...]:
    """`--component` names as the inventory spells them (case-insensitive; groups and `global`
    expanded); an unknown name is an InputError with the known ones and the closest."""
    if not names:
        return ()
    resolver = project.plan_context.components
    if resolver.names is None:
        # No inventory: the components are the ones the tasks name, as written.
        named = {c for p in planned for check in p.plan.checks for c in check.components}
        named |= {c for p in planned for c in p.plan.components}
        resolver = Components(tuple(sorted(named)))
    expanded, unknown = resolver.expand(names)
    if unknown:
        hint = resolver.suggest(unknown[0])
        raise InputError(
            f"--component {unknown[0]!r}: no such component (known components: "
            f"{', '.join(resolver.known())})" + (f"; did you mean {hint}?" if hint else "")
        )
    return expanded


# --------------------------------------------------------------------------- --only


def _describe_filters(request: ValidateRequest, components: Sequence[str]) -> str:
    given = []
    if request.only:
        given.append(f"--only {request.only!r}")
    if components:
        given.append("--component " + ",".join(components))
    return " and ".join(given)


def _filtered(
    request: ValidateRequest,
    project: Project,
    planned: Sequence[PlannedTask],
    components: tuple[str, ...],
) -> list[PlannedTask]:
    """The tasks that have a check the filters keep. A named task the filters leave nothing
    of is an InputError; so is a batch where they leave nothing of any task."""
    if not request.filtered:
        return list(planned)
    kept = []
    for task in planned:
        plan = filter_plan(task.plan, only=request.only, components=components)
        if runs_something(plan):
            kept.append(task)
        elif not request.all_tasks:
            labels = [c.label for c in task.plan.checks if c.kind not in ("setup", "shown")]
            more = f", … ({len(labels)} in all)" if len(labels) > 8 else ""
            shown = ", ".join(labels[:8]) + more
            where = sorted({c for check in task.plan.checks for c in check.components})
            raise InputError(
                f"{_describe_filters(request, components)} matches no check of "
                f"{task.doc.task_id or project.relpath(task.path)} (its checks: {shown or 'none'}; "
                f"it runs on: {', '.join(where) or 'nothing'})"
            )
    if planned and not kept:
        count = len(planned)
        raise InputError(
            f"{_describe_filters(request, components)} matches no check of the {count} selected "
            f"task{'s' if count != 1 else ''}"
        )
    return kept


# --------------------------------------------------------------------------- error rows


def broken_record(task: BrokenTask, *, now: str) -> RunRecord:
    """A batch's `error` row for a task that was not run: one result, in every report."""
    result = CheckResult(
        id=BROKEN_CHECK_ID,
        plan_id=BROKEN_CHECK_ID,
        label="read and plan the task file",
        source="task-file",
        must_pass=None,
        component="",
        host="",
        command=None,
        status="error",
        error=task.reason,
        started_at=now,
    )
    return RunRecord(
        task_id=task.task_id,
        task_path=task.task_path,
        title=None,
        run_id="",
        state="error",
        started_at=now,
        finished_at=now,
        results=(result,),
        options={"error": task.reason},
    )
