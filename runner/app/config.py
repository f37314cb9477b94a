"""`taskrun config`: the effective settings and where each came from."""

from __future__ import annotations

from runner.app.project import Project
from runner.app.requests import ConfigRequest
from runner.console import Console
from runner.errors import EXIT_OK
from runner.project.settings import settings_table

__all__ = ["run"]


def run(request: ConfigRequest, console: Console) -> int:
    project = Project.open(request.project)
    console.table(("setting", "value", "source"), settings_table(project.settings))
    return EXIT_OK
