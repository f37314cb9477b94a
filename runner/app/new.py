"""`taskrun new --title … --component …`: write a task from the team's template into the first
tasks folder, with the next free Task ID (or `--id`), today's date and the four Must-Pass
items. Never overwrites a file.
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.app.project import Project
from runner.app.requests import NewRequest
from runner.clock import iso_utc
from runner.console import Console
from runner.errors import EXIT_OK, InputError
from runner.project.components import GLOBAL
from runner.project.discovery import display_path, scan_tasks
from runner.project.scaffold import (
    TASK_TEMPLATE,
    check_task_id,
    next_task_id,
    render_task,
    task_file_name,
)

__all__ = ["run"]

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def run(request: NewRequest, console: Console) -> int:
    title = _title(request.title)
    project = Project.open(request.project)
    components = _components(project, request.components)
    scan = scan_tasks(
        project.settings.tasks,
        cwd=project.cwd,
        validation_sections=project.settings.validation_sections,
    )
    # IDs in use: tasks, files with a Task ID that are not tasks, and files that cannot be read
    # (their ID as far as it can be read): `validate ID` must not become ambiguous.
    used = [(ref.path, ref.doc.task_id) for ref in (*scan.tasks, *scan.rejected)]
    used += [(broken.path, broken.task_id) for broken in scan.broken_tasks]
    in_use = [task_id for _, task_id in used if task_id]
    in_use += [path.stem for path in _task_dir_files(project)]
    if request.task_id is not None:
        task_id = check_task_id(request.task_id)
        taken = [
            display_path(path, project.cwd)
            for path, used_id in used
            if (used_id or "").casefold() == task_id.casefold()
        ]
        if taken:
            raise InputError(f"--id {task_id} is already used by {', '.join(taken)}")
    else:
        task_id = next_task_id(in_use)
    folder = project.settings.tasks[0]
    path = folder / task_file_name(task_id, title)
    today = project.today(iso_utc(project.clock()))
    text = render_task(
        TASK_TEMPLATE.read_text(encoding="utf-8"),
        task_id=task_id,
        title=title,
        components=components,
        date=today,
    )
    shown = display_path(path, project.cwd)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:  # never overwrite a task file
            handle.write(text.encode("utf-8"))
    except FileExistsError:
        raise InputError(f"{shown} already exists: left alone (choose another --id)") from None
    except OSError as exc:
        raise InputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    console.text(
        f"Created {shown} ({task_id}, component {', '.join(components)}).\n"
        "Next: add the commands that prove it is done under ### Test Commands, then\n"
        f"  taskrun plan {task_id}\n"
        f"  taskrun validate {task_id}\n"
    )
    return EXIT_OK


def _title(given: str) -> str:
    title = " ".join(given.split())
    if not title:
        raise InputError("--title: give the task a title")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in title):  # whitespace is folded above
        raise InputError("--title: control characters are not allowed")
    return title


def _components(project: Project, given: tuple[str, ...]) -> tuple[str, ...]:
    """The names as the inventory spells them; an unknown one is an input error."""
    if not given:
        raise InputError("--component: name where the task runs (for example api-gateway)")
    inventory = project.inventory
    found: list[str] = []
    for name in given:
        text = name.strip()
        if inventory is None:
            if text.casefold() != GLOBAL and not _COMPONENT.match(text):
                raise InputError(f"--component: {name!r} is not a component name")
            found.append(GLOBAL if text.casefold() == GLOBAL else text)
            continue
        resolver = inventory.resolver
        canonical = resolver.canonical(text)
        if canonical is None:
            hint = resolver.suggest(text)
            known = ", ".join(resolver.known())
            did_you_mean = f"; did you mean {hint}?" if hint else ""
            where = display_path(Path(inventory.path or "inventory"), project.cwd)
            raise InputError(
                f"--component: {name!r} is not in {where}{did_you_mean} (known: {known})"
            )
        found.append(canonical)
    return tuple(dict.fromkeys(found))


def _task_dir_files(project: Project) -> list[Path]:
    """Markdown files of the tasks folders, so a file named ENG-007-… counts as taken even
    when it does not parse as a task."""
    files: list[Path] = []
    for folder in project.settings.tasks:
        if folder.is_dir():
            files.extend(folder.rglob("*.md"))
    return files
