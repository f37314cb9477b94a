"""What `taskrun init` and `taskrun new` write: the files that start a project (from the
package's data) and a new task file from the team's template, with the next free Task ID.

Reads the package's data files; everything else is pure. The app layer does the writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from runner.errors import InputError
from runner.project.settings import PACKAGED_PLAYBOOKS

__all__ = [
    "GITIGNORE_LINE",
    "TASK_TEMPLATE",
    "ScaffoldFile",
    "check_task_id",
    "gitignore_with_reports",
    "init_files",
    "next_task_id",
    "render_task",
    "task_file_name",
]

DATA = PACKAGED_PLAYBOOKS.parent
TASK_TEMPLATE = DATA / "task-template.md"
_SETTINGS_TEMPLATE = DATA / "init" / "taskrun.yaml"
_EXAMPLE_INVENTORY = "inventory.example.yaml"

GITIGNORE_LINE = "reports/"
DEFAULT_PREFIX = "ENG"
_ID_WIDTH = 3  # ENG-001, as the team numbers them
_TASK_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9][0-9A-Za-z.]*\Z")
_NUMBERED = re.compile(r"([A-Za-z][A-Za-z0-9_]*)-([0-9]+)")
_TEMPLATE_FIELD = re.compile(r"\{\{([a-z_]+)\}\}")
_FILE_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class ScaffoldFile:
    path: PurePosixPath  # relative to the project folder
    data: bytes


# --------------------------------------------------------------------------- taskrun init


def init_files() -> tuple[ScaffoldFile, ...]:
    """The files of a new project: settings, the commented inventory, the packaged Must-Pass
    playbooks and the JSON Schemas they name (so `$schema=` resolves in the project too)."""
    files = [ScaffoldFile(PurePosixPath("taskrun.yaml"), _SETTINGS_TEMPLATE.read_bytes())]
    for source in sorted(PACKAGED_PLAYBOOKS.rglob("*")):
        if not source.is_file() or source.suffix not in (".yaml", ".yml", ".json"):
            continue
        relative = PurePosixPath(source.relative_to(PACKAGED_PLAYBOOKS).as_posix())
        if relative.name == _EXAMPLE_INVENTORY:
            relative = relative.with_name("inventory.yaml")
        files.append(ScaffoldFile(PurePosixPath("playbooks") / relative, source.read_bytes()))
    return tuple(files)


def gitignore_with_reports(existing: bytes | None) -> bytes | None:
    """The `.gitignore` with a `reports/` line added; None when it already ignores reports/."""
    text = (existing or b"").decode("utf-8", errors="surrogateescape")
    for line in text.splitlines():
        if line.strip() in ("reports", "reports/", "/reports", "/reports/"):
            return None
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# taskrun evidence: one folder per run (taskrun report shows them)\n"
    text += GITIGNORE_LINE + "\n"
    return text.encode("utf-8", errors="surrogateescape")


# --------------------------------------------------------------------------- taskrun new


def check_task_id(task_id: str) -> str:
    """A Task ID as `--id` may give it: PREFIX-NUMBER (ENG-012, OPS-7, ENG-004.5)."""
    text = task_id.strip()
    if not _TASK_ID.match(text):
        raise InputError(f"--id: {task_id!r} is not a Task ID such as ENG-012")
    return text


def next_task_id(existing: Iterable[str], *, prefix: str = DEFAULT_PREFIX) -> str:
    """One more than the highest `PREFIX-N` in use (gaps are left alone: a removed task's
    number is not handed out again), zero-padded as the team writes them."""
    highest = 0
    width = _ID_WIDTH
    for task_id in existing:
        match = _NUMBERED.match(task_id.strip())
        if match is None or match.group(1).casefold() != prefix.casefold():
            continue
        highest = max(highest, int(match.group(2)))
        width = max(width, len(match.group(2)))
    return f"{prefix}-{highest + 1:0{width}d}"


def task_file_name(task_id: str, title: str) -> str:
    """`ENG-012-Rotate-the-gateway-key.md`, as the team names task files."""
    words = _FILE_WORD.findall(title)
    stem = task_id
    for word in words:
        if len(stem) + len(word) + 1 > 80:
            break
        stem += f"-{word}"
    return f"{stem}.md"


def render_task(
    template: str, *, task_id: str, title: str, components: Iterable[str], date: str
) -> str:
    """The template with its `{{field}}`s filled; an unknown field is a bug in the template."""
    values = {
        "task_id": task_id,
        "title": title,
        "component": ", ".join(components),
        "date": date,
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InputError(
                f"task template: unknown field {{{{{name}}}}}", path=str(TASK_TEMPLATE)
            )
        return values[name]

    return _TEMPLATE_FIELD.sub(fill, template)
