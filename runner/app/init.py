"""`taskrun init [DIR]`: start a project — settings, a commented inventory, the packaged
Must-Pass playbooks (and their JSON Schemas), `tasks/`, and `reports/` in `.gitignore`.

Never overwrites a file unless `--force`: every file that is already there is listed first and
nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from runner.app.requests import InitRequest
from runner.console import Console
from runner.errors import EXIT_OK, InputError
from runner.evidence.atomic import write_atomic
from runner.project.scaffold import ScaffoldFile, gitignore_with_reports, init_files

__all__ = ["run"]

TASKS_DIR = "tasks"


def run(request: InitRequest, console: Console) -> int:
    root = Path(os.path.abspath(request.directory))
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} is a file, not a folder")
    files = init_files()
    blocked = _blocked_paths(root, files)
    if blocked:
        raise InputError(
            f"{root}: cannot create {', '.join(blocked)}: a file is in the way (move it first)"
        )
    existing = [f.path.as_posix() for f in files if (root / f.path).exists()]
    if existing and not request.force:
        raise InputError(
            f"{root} already has {', '.join(existing)}: nothing written (--force overwrites them)"
        )
    written: list[str] = []
    try:
        for item in files:
            target = root / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, item.data, overwrite=request.force)
            note = " (overwritten)" if item.path.as_posix() in existing else ""
            written.append(f"{item.path.as_posix()}{note}")
        (root / TASKS_DIR).mkdir(exist_ok=True)
        written.append(f"{TASKS_DIR}/")
        ignore = root / ".gitignore"
        updated = gitignore_with_reports(ignore.read_bytes() if ignore.is_file() else None)
        if updated is not None:
            write_atomic(ignore, updated)
            written.append(".gitignore (reports/ added)")
    except OSError as exc:
        raise InputError(f"cannot write the project in {root}: {exc.strerror or exc}") from None
    console.text(_summary(root, written))
    return EXIT_OK


def _blocked_paths(root: Path, files: tuple[ScaffoldFile, ...]) -> list[str]:
    """Folders the project needs where a file (not a folder) already is."""
    needed = {PurePosixPath(TASKS_DIR)}
    for item in files:
        needed.update(p for p in item.path.parents if p != PurePosixPath("."))
    return sorted(p.as_posix() for p in needed if (root / p).exists() and not (root / p).is_dir())


def _write(target: Path, data: bytes, *, overwrite: bool) -> None:
    if overwrite:
        write_atomic(target, data)
        return
    # Exclusive create: a file that appeared since the check is never clobbered.
    try:
        with open(target, "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise InputError(
            f"{target} appeared while writing: left alone (--force overwrites)"
        ) from None


def _summary(root: Path, written: list[str]) -> str:
    lines = [f"Created a taskrun project in {root}:"]
    lines += [f"  {item}" for item in written]
    lines += [
        "",
        "Next:",
        "  1. put your hosts into playbooks/inventory.yaml (api-gateway, llm-01, llm-02, orc),",
        "     then `taskrun inventory check`",
        '  2. taskrun new --title "What the task does" --component api-gateway',
        "  3. taskrun plan ENG-001       # what would run, where, and why (runs nothing)",
        "  4. taskrun validate ENG-001   # run it, keep the evidence, update Status Tracking",
        "",
    ]
    return "\n".join(lines)
