"""Shell completion values: Task IDs from the tasks folders, component names from the
inventory, and Status Tracking statuses. Completion runs on every <Tab>: it never raises and
never prints; a project it cannot read offers nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from runner.app.project import Project
from runner.app.requests import ProjectFlags
from runner.errors import TaskrunError
from runner.plan.select import field_value
from runner.project.components import GLOBAL
from runner.project.discovery import scan_tasks

__all__ = ["TEMPLATE_STATUSES", "component_names", "statuses", "task_ids"]

# The template's values of Current Status, offered even before any task uses them.
TEMPLATE_STATUSES = ("Not Started", "In Progress", "Blocked", "Testing", "Complete")


def task_ids(incomplete: str, *, tasks: Sequence[Path] = ()) -> list[str]:
    """Task IDs under the tasks folders; an ID that several files share is offered once."""

    def values(project: Project) -> Iterable[str]:
        scan = scan_tasks(project.settings.tasks, cwd=project.cwd)
        return (ref.doc.task_id for ref in scan.tasks if ref.doc.task_id)

    return _offer(values, incomplete, ProjectFlags(tasks=tuple(tasks)))


def component_names(
    incomplete: str, *, playbooks: Path | None = None, inventory: Path | None = None
) -> list[str]:
    """The inventory's components and groups, and `global`."""

    def values(project: Project) -> Iterable[str]:
        found = project.inventory
        if found is None:
            return ()
        return (*found.components, *found.groups, GLOBAL)

    return _offer(values, incomplete, ProjectFlags(playbooks=playbooks, inventory=inventory))


def statuses(incomplete: str, *, tasks: Sequence[Path] = ()) -> list[str]:
    """The template's statuses and any other the tasks use."""

    def values(project: Project) -> Iterable[str]:
        scan = scan_tasks(project.settings.tasks, cwd=project.cwd)
        used = (field_value(ref.doc, "current status") for ref in scan.tasks)
        return (*TEMPLATE_STATUSES, *(status for status in used if status))

    offered = _offer(values, incomplete, ProjectFlags(tasks=tuple(tasks)))
    return offered or _matching(TEMPLATE_STATUSES, incomplete)


def _offer(
    values: Callable[[Project], Iterable[str]], incomplete: str, flags: ProjectFlags
) -> list[str]:
    try:
        project = Project.open(flags)
        found = list(values(project))
    except (TaskrunError, OSError, ValueError):
        return []
    return _matching(found, incomplete)


def _matching(values: Iterable[str], incomplete: str) -> list[str]:
    """Case-insensitive prefix matches, first spelling kept, in the order found."""
    wanted = incomplete.casefold()
    seen: dict[str, str] = {}
    for value in values:
        key = value.casefold()
        if key.startswith(wanted) and key not in seen:
            seen[key] = value
    return list(seen.values())
