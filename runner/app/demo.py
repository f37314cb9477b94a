"""`taskrun demo`: start the sandbox, validate the demo task in it, show what changed, stop."""

from __future__ import annotations

import os
from pathlib import Path

from runner.app.project import Project
from runner.app.requests import DemoRequest, ValidateRequest
from runner.app.validate import validate
from runner.console import Console
from runner.demo.cli import check_keep_folder, demo_project, demo_worked, inside, task_diff
from runner.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from runner.project.settings import load_settings

__all__ = ["run"]


def run(request: DemoRequest, console: Console) -> int:
    keep = request.keep
    if keep is not None:
        check_keep_folder(keep)
    console.info("starting the sandbox: 4 SSH hosts, a gateway and 2 Ollama stand-ins on 127.0.0.1")
    with demo_project(keep) as layout, inside(layout):
        settings = load_settings(
            cwd=layout.workdir,
            environ={},
            flags={
                "tasks": (layout.tasks_dir,),
                "playbooks": layout.playbooks_dir,
                "inventory": layout.inventory_path,
                "reports": layout.reports_dir,
            },
        )
        project = Project(settings, cwd=layout.workdir, environ=os.environ)
        before = layout.task_path.read_bytes()
        outcomes, code = validate(ValidateRequest(tasks=(str(layout.task_path),)), console, project)
        after = layout.task_path.read_bytes()
        console.text("\nWhat taskrun changed in the task file (nothing else was touched):\n")
        console.text(task_diff(before, after, layout.task_path.name))
        if outcomes and outcomes[0].run_dir is not None:
            console.text(_evidence_sentence(outcomes[0].run_dir, kept=keep is not None))
        if code in (EXIT_SIGINT, EXIT_SIGTERM):
            return code
        worked, problems = demo_worked(outcomes)
        if worked:
            console.text(
                "\nThe demo worked: every check passed except the one that fails on purpose, "
                "the restart was skipped by the safety guard, and Change Approval awaits a "
                "person's sign-off.\n"
            )
            return EXIT_OK
        for problem in problems:
            console.error(f"demo: {problem}")
        return code or EXIT_FAILED


def _evidence_sentence(run_dir: Path, *, kept: bool) -> str:
    files = "run.json, junit.xml, summary.md and logs/"
    if kept:
        return f"\nEvidence: {files} in {run_dir}\n"
    return (
        f"\nEvidence: {files} were in {run_dir}, removed with the sandbox; "
        "keep them with: taskrun demo --keep DIR\n"
    )
