"""`taskrun plan`: what would run, where, and why. Runs and writes nothing."""

from __future__ import annotations

from runner.app.project import Project
from runner.app.requests import PlanRequest
from runner.console import Console
from runner.errors import EXIT_OK
from runner.redact import build_redactor
from runner.reporters.json import plan_to_dict

__all__ = ["run"]


def run(request: PlanRequest, console: Console) -> int:
    project = Project.open(request.project)
    planned = project.plan_query(request.task, with_lint=True)
    redactor = build_redactor(
        environ=project.environ, commands=[c.command for c in planned.plan.checks]
    )
    console.mask = redactor.mask
    if request.json:
        document = plan_to_dict(planned.plan, redactor.mask)
        document["notes"] += [redactor.mask(n) for n in planned.notes]
        console.json(document)
    else:
        console.plan(planned.plan, extra_notes=planned.notes)
    return EXIT_OK
