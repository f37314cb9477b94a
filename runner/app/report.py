"""`taskrun report`: show a kept run (or the history), apply it to the task file, prune."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.app.project import Project
from runner.app.requests import ReportRequest
from runner.console import Console
from runner.errors import EXIT_COULD_NOT_RUN, EXIT_OK, InputError, WriteBackRefused
from runner.evaluate.regressions import (
    check_name,
    compare_with_recorded,
    history_lines,
    regression_names,
)
from runner.evaluate.staleness import stale_reasons
from runner.evaluate.verdict import outcome_exit_code
from runner.evidence.store import iter_runs, load_run, prune_runs, task_folder_name
from runner.evidence.taskfile import read_snapshot, write_back
from runner.markdown.evidence_table import recorded_run_ids
from runner.models import RunRecord, TaskDocument
from runner.plan.select import filter_plan, preconditions_or_validation, result_ids
from runner.project.discovery import scan_tasks
from runner.reporters.json import run_to_dict

__all__ = ["run"]


def run(request: ReportRequest, console: Console) -> int:
    project = Project.open(request.project)
    settings = project.settings
    if request.prune_days is not None:
        _prune(console, project, request.prune_days, dry_run=request.dry_run)
        if request.task is None:
            return EXIT_OK
    elif request.dry_run:
        raise InputError("--dry-run goes with --prune")
    if request.force and not request.apply:
        raise InputError("--force goes with --apply")
    if request.task is None:
        raise InputError("name a task (ENG-001, FOLDER/ID or a path)")
    ref = project.resolve(request.task)
    task_path = project.relpath(ref.path)
    runs = iter_runs(settings.reports, task_id=ref.doc.task_id, task_path=task_path)
    if not runs:
        raise InputError(f"no runs of {task_path} under {settings.reports}")
    if request.history:
        return _history(console, [load_run(path) for _, path in runs], as_json=request.json)
    chosen = dict(runs).get(request.run_id) if request.run_id else runs[-1][1]
    if chosen is None:
        known = ", ".join(rid for rid, _ in runs[-5:])
        raise InputError(f"no run {request.run_id!r} of {task_path} (latest: {known})")
    record = load_run(chosen)
    if request.apply:
        return _apply(console, project, ref.path, record, force=request.force)
    if request.json:
        console.json(run_to_dict(record))
    else:
        console.run_table(record)
    return outcome_exit_code(record.results) if record.state == "complete" else EXIT_COULD_NOT_RUN


# --------------------------------------------------------------------------- --apply


def _apply(
    console: Console, project: Project, path: Path, record: RunRecord, *, force: bool
) -> int:
    if record.state != "complete":
        raise InputError(f"run {record.run_id} is {record.state}: only a complete run is applied")
    if record.options.get("pre"):
        raise InputError(
            f"run {record.run_id} ran the pre-flight checks (--pre): they are never written "
            "into the task file"
        )
    snapshot = read_snapshot(path, validation_sections=project.settings.validation_sections)
    doc = snapshot.doc
    expected, names = _expected_ids(project, path, doc, record, force=force)
    reasons = stale_reasons(
        record, recorded_runs=recorded_run_ids(doc), expected_ids=expected, names=names
    )
    if reasons and not force:
        raise WriteBackRefused(
            f"{record.task_path}: not applying run {record.run_id}: {'; '.join(reasons)}. "
            "`--force` applies it anyway (the Change Log says so)"
        )
    comparison, since = compare_with_recorded(doc, record)
    result = write_back(
        path,
        snapshot,
        record,
        today=project.today(record.started_at),
        regressions=regression_names(comparison) if since else (),
        since=since,
        recovered=[check_name(r) for r in comparison.recovered],
        keep_ids=expected,
        force=force,
        notes=[f"applied with --force although {reason}" for reason in reasons],
    )
    if result.changed and reasons:
        console.info(f"--force: {'; '.join(reasons)}")
    console.info(
        f"applied run {record.run_id} to {record.task_path}"
        if result.changed
        else f"run {record.run_id} is already in {record.task_path}: nothing to change"
    )
    return EXIT_OK


def _expected_ids(
    project: Project, path: Path, doc: TaskDocument, record: RunRecord, *, force: bool
) -> tuple[frozenset[str] | None, dict[str, str]]:
    """The result ids a run of the file as it is now gives (with the run's own filters), and
    a name for each id; (None, …) when the file cannot be planned and `--force` was given."""
    names = {r.id: check_name(r) for r in record.results}
    try:
        planned = project.plan(path, doc)
    except InputError as exc:
        if force:
            return None, names
        raise InputError(
            f"cannot tell whether run {record.run_id} matches the task file as it is now: "
            f"{exc} (`--force` applies it without that check)"
        ) from exc
    only = record.options.get("only")
    components = record.options.get("components") or ()
    plan = filter_plan(
        preconditions_or_validation(planned.plan, pre=False),  # what a validate run plans
        only=only if isinstance(only, str) else None,
        components=[str(c) for c in components] if isinstance(components, list) else (),
    )
    for check in plan.checks:
        for component in check.components:
            names.setdefault(f"{check.id}@{component}", f"{check.label} on {component}")
    return result_ids(plan), names


# --------------------------------------------------------------------------- --prune


def _prune(console: Console, project: Project, days: float, *, dry_run: bool) -> None:
    if days < 0:
        raise InputError("--prune takes a number of days ≥ 0")
    keep, keep_anywhere = _referenced_runs(project)
    pruned = prune_runs(
        project.settings.reports,
        days=days,
        now=project.clock().timestamp(),
        keep=keep,
        keep_anywhere=keep_anywhere,
        dry_run=dry_run,
    )
    verb = "would remove" if dry_run else "removed"
    for run_dir in pruned.removed:
        console.text(f"{verb} {project.relpath(run_dir)}\n")
    for folder in pruned.folders:
        console.text(f"removed empty folder {project.relpath(folder)}\n")
    for run_dir in pruned.referenced:
        console.info(f"kept {project.relpath(run_dir)}: a task file's evidence block refers to it")
    for link in pruned.symlinks:
        console.info(f"left {project.relpath(link)} alone: a symlink (pruning never follows one)")
    console.info(f"{verb} {len(pruned.removed)} run(s) older than {days:g} days")


def _referenced_runs(project: Project) -> tuple[set[tuple[str, str]], set[str]]:
    """The runs task files' evidence blocks refer to, as (task folder name, run id); and, for
    files that cannot be read, every run id written in them (kept in any folder)."""
    try:
        scan = scan_tasks(
            project.settings.tasks,
            cwd=project.cwd,
            validation_sections=project.settings.validation_sections,
        )
    except InputError as exc:
        raise InputError(
            f"cannot tell which runs the task files refer to, so nothing was pruned: {exc}"
        ) from exc
    keep: set[tuple[str, str]] = set()
    for ref in (*scan.tasks, *scan.rejected):
        folder = task_folder_name(ref.doc.task_id, project.relpath(ref.path))
        keep.update((folder, run_id) for run_id in recorded_run_ids(ref.doc))
    anywhere = {run_id for unreadable in scan.unreadable for run_id in unreadable.run_ids}
    return keep, anywhere


def _history(console: Console, runs: Sequence[RunRecord], *, as_json: bool) -> int:
    if as_json:
        console.json({"schema": "taskrun.history/1", "runs": [run_to_dict(r) for r in runs]})
    else:
        for line in history_lines(runs):
            console.text(line + "\n")
    return EXIT_OK
