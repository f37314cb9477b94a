"""`taskrun report`: show a kept run (or the history), apply it to the task file, prune."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.app.project import Project
from runner.app.requests import ReportRequest
from runner.console import Console
from runner.errors import EXIT_COULD_NOT_RUN, EXIT_OK, InputError
from runner.evaluate.regressions import history_lines
from runner.evaluate.verdict import outcome_exit_code
from runner.evidence.store import iter_runs, load_run, prune_runs
from runner.evidence.taskfile import read_snapshot, write_back
from runner.models import RunRecord
from runner.reporters.json import run_to_dict

__all__ = ["run"]


def run(request: ReportRequest, console: Console) -> int:
    project = Project.open(request.project)
    settings = project.settings
    if request.prune_days is not None:
        if request.prune_days < 0:
            raise InputError("--prune takes a number of days ≥ 0")
        removed = prune_runs(
            settings.reports, days=request.prune_days, now=project.clock().timestamp()
        )
        console.info(f"removed {len(removed)} run(s) older than {request.prune_days:g} days")
        if request.task is None:
            return EXIT_OK
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
        return _apply(console, project, ref.path, record)
    if request.json:
        console.json(run_to_dict(record))
    else:
        console.run_table(record)
    return outcome_exit_code(record.results) if record.state == "complete" else EXIT_COULD_NOT_RUN


def _apply(console: Console, project: Project, path: Path, record: RunRecord) -> int:
    if record.state != "complete":
        raise InputError(f"run {record.run_id} is {record.state}: only a complete run is applied")
    snapshot = read_snapshot(path, validation_sections=project.settings.validation_sections)
    result = write_back(path, snapshot, record, today=project.today(record.started_at))
    console.info(
        f"applied run {record.run_id} to {record.task_path}"
        if result.changed
        else f"run {record.run_id} is already in {record.task_path}: nothing to change"
    )
    return EXIT_OK


def _history(console: Console, runs: Sequence[RunRecord], *, as_json: bool) -> int:
    if as_json:
        console.json({"schema": "taskrun.history/1", "runs": [run_to_dict(r) for r in runs]})
    else:
        for line in history_lines(runs):
            console.text(line + "\n")
    return EXIT_OK
