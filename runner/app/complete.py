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
from runner.markdown.status_values import TEMPLATE_STATUSES
from runner.plan.select import known_statuses
from runner.project.components import GLOBAL
from runner.project.discovery import TaskScan, scan_tasks

__all__ = ["TEMPLATE_STATUSES", "component_names", "statuses", "task_ids"]


def task_ids(incomplete: str, *, tasks: Sequence[Path] = ()) -> list[str]:
    """Task IDs under the tasks folders; an ID that several files share is offered once."""

    def values(project: Project) -> Iterable[str]:
        # What `validate ID` finds: files with a Task ID field (not an ID from an H1 or a name)
        scan = _scan(project)
        return (ref.doc.task_id for ref in scan.tasks if ref.doc.has_id_field and ref.doc.task_id)

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
    """The template's statuses and any other the tasks use (what `--status` accepts)."""

    def values(project: Project) -> Iterable[str]:
        return known_statuses(ref.doc for ref in _scan(project).tasks)

    offered = _offer(values, incomplete, ProjectFlags(tasks=tuple(tasks)))
    return offered or _matching(TEMPLATE_STATUSES, incomplete)


def _scan(project: Project) -> TaskScan:
    return scan_tasks(
        project.settings.tasks,
        cwd=project.cwd,
        validation_sections=project.settings.validation_sections,
    )


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
