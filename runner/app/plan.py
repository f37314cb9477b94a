"""`taskrun plan`: what would run, where, and why. Runs and writes nothing."""

from __future__ import annotations

from runner.app.project import Project
from runner.app.requests import PlanRequest
from runner.console import Console
from runner.errors import EXIT_OK
from runner.project.settings import settings_file_note
from runner.reporters.json import plan_to_dict

__all__ = ["run"]


def run(request: PlanRequest, console: Console) -> int:
    project = Project.open(request.project)
    planned = project.plan_query(request.task, with_lint=True)
    project.learn_commands([planned.plan])
    redactor = project.redactor
    console.mask = redactor.mask
    notes = list(planned.notes)
    settings_note = settings_file_note(project.settings)
    if settings_note:
        notes.insert(0, settings_note)
    unmaskable = project.unmaskable_note(planned.plan)
    if unmaskable:
        notes.append(unmaskable)
    if request.json:
        document = plan_to_dict(planned.plan, redactor.mask)
        document["notes"] += [redactor.mask(n) for n in notes]
        console.json(document)
    else:
        console.plan(planned.plan, extra_notes=notes)
    return EXIT_OK
