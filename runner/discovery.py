"""Finding task files: by path, by Task ID (case-insensitive), or by FOLDER/ID under the task dirs.

Files that cannot be read or parsed while scanning are skipped; a file named directly is not.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import AmbiguousTaskError, InputError
from runner.models import TaskDocument

TASK_MARKER = b"task id"  # cheap pre-filter: every task file spells its Task ID field


@dataclass(frozen=True, slots=True)
class TaskRef:
    path: Path  # absolute
    doc: TaskDocument


@dataclass(frozen=True, slots=True)
class TaskScan:
    """Every task file under the task dirs, and what was skipped on the way."""

    tasks: tuple[TaskRef, ...]  # is_task documents, templates included, in path order
    skipped: tuple[InputError, ...]  # unreadable or unparseable files that looked like tasks
    files_searched: int  # Markdown files looked at


def parse_task_bytes(data: bytes, path: str) -> TaskDocument:
    """The one seam to the parser."""
    from runner.markdown.document import parse_document

    return parse_document(data, path)


# --------------------------------------------------------------------------- paths


def display_path(path: Path, cwd: Path) -> str:
    """POSIX path relative to `cwd` when it lies below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    base = Path(os.path.abspath(cwd))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return absolute.resolve().relative_to(base.resolve()).as_posix()
    except (ValueError, OSError):
        return absolute.as_posix()


def _display_dirs(dirs: Sequence[Path], cwd: Path) -> str:
    shown = [display_path(cwd / d, cwd) for d in dirs]
    return ", ".join(s if s.endswith("/") else s + "/" for s in shown)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _markdown_files_under(root: Path) -> list[Path]:
    """Recursive *.md under `root`, hidden folders and files skipped, symlink loops cut."""
    found: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    for folder, subdirs, files in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            subdirs[:] = []
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in seen_dirs:
            subdirs[:] = []
            continue
        seen_dirs.add(identity)
        subdirs[:] = sorted(d for d in subdirs if not _is_hidden(d))
        for name in files:
            if name.lower().endswith(".md") and not _is_hidden(name):
                candidate = Path(folder) / name
                if candidate.is_file():
                    found.append(candidate)
    return sorted(found, key=lambda p: p.as_posix())


def find_task_files(dirs: Sequence[Path], *, cwd: Path | None = None) -> list[Path]:
    """Every Markdown file under `dirs` (absolute paths, sorted per dir, no duplicates).

    A missing dir is an InputError naming it; a file given as a dir stands for itself.
    """
    base = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    roots = [Path(os.path.abspath(base / d)) for d in dirs]
    missing = [r for r in roots if not r.exists()]
    if missing:
        names = ", ".join(display_path(m, base) for m in missing)
        raise InputError(
            f"task folder not found: {names} (set --tasks DIR, TASKRUN_TASKS or tasks: in "
            "taskrun.yaml)"
        )
    files: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        for path in [root] if root.is_file() else _markdown_files_under(root):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files


# --------------------------------------------------------------------------- scanning


def _read(path: Path, cwd: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read: {exc.strerror or exc}", path=display_path(path, cwd)
        ) from None


def _looks_like_task(data: bytes) -> bool:
    return TASK_MARKER in data.lower()


def scan_tasks(dirs: Sequence[Path], *, cwd: Path | None = None) -> TaskScan:
    base = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    files = find_task_files(dirs, cwd=base)
    tasks: list[TaskRef] = []
    skipped: list[InputError] = []
    for path in files:
        try:
            data = _read(path, base)
            if not _looks_like_task(data):
                continue
            doc = parse_task_bytes(data, display_path(path, base))
        except InputError as exc:
            skipped.append(exc)
            continue
        except UnicodeDecodeError:
            skipped.append(InputError("not UTF-8 text", path=display_path(path, base)))
            continue
        if doc.is_task:
            tasks.append(TaskRef(path=path, doc=doc))
    return TaskScan(tasks=tuple(tasks), skipped=tuple(skipped), files_searched=len(files))


def iter_tasks(dirs: Sequence[Path], *, cwd: Path | None = None) -> list[TaskRef]:
    """The tasks for `--all`: templates (no Task ID) left out."""
    return [ref for ref in scan_tasks(dirs, cwd=cwd).tasks if ref.doc.task_id is not None]


# --------------------------------------------------------------------------- resolving


def _folder_parts(text: str) -> tuple[str, ...]:
    return tuple(p.casefold() for p in text.replace("\\", "/").split("/") if p not in ("", "."))


def _folder_ends_with(path: Path, wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return True
    folder = tuple(p.casefold() for p in path.parent.parts)
    return len(folder) >= len(wanted) and folder[-len(wanted) :] == wanted


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, or with a NUL byte: not a path
        return False


def _resolve_path(candidate: Path, cwd: Path) -> TaskRef:
    shown = display_path(candidate, cwd)
    if candidate.is_dir():
        raise InputError(f"{shown} is a directory (name a task file, a Task ID or FOLDER/ID)")
    data = _read(candidate, cwd)
    try:
        doc = parse_task_bytes(data, shown)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=shown) from None
    if not doc.is_task:
        raise InputError(
            f"{shown} is not a task file (no Task ID / template section: Validation Criteria "
            "or Status Tracking)"
        )
    return TaskRef(path=Path(os.path.abspath(candidate)), doc=doc)


def _close_candidates(task_id: str, scan: TaskScan) -> list[str]:
    ids = sorted({ref.doc.task_id for ref in scan.tasks if ref.doc.task_id})
    by_folded = {i.casefold(): i for i in ids}
    wanted = task_id.casefold()
    prefixed = [i for i in ids if i.casefold().startswith(wanted)]
    close = [by_folded[m] for m in difflib.get_close_matches(wanted, list(by_folded), n=5)]
    return (prefixed + [i for i in close if i not in prefixed])[:6]


def _no_match_message(task_id: str, folder: str, scan: TaskScan, dirs_text: str, cwd: Path) -> str:
    count = len(scan.tasks)
    message = f"no task with ID {task_id!r}"
    if folder:
        message += f" in a folder ending {folder!r}"
    message += f" under {dirs_text} ({count} task file{'s' if count != 1 else ''} searched)"
    same_id = [
        display_path(ref.path, cwd)
        for ref in scan.tasks
        if ref.doc.task_id and ref.doc.task_id.casefold() == task_id.casefold()
    ]
    if same_id:
        return message + f"; {task_id} is in: " + ", ".join(same_id)
    close = _close_candidates(task_id, scan)
    if close:
        message += "; did you mean " + ", ".join(close) + "?"
    return message


def resolve_task(query: str, *, dirs: Sequence[Path], cwd: Path) -> TaskRef:
    """A path to a task file, a Task ID, or FOLDER/ID (the folder path's trailing part)."""
    cwd = Path(os.path.abspath(cwd))
    text = query.strip()
    if not text:
        raise InputError("no task given (a Task ID, FOLDER/ID or a path)")
    try:
        candidate = cwd / Path(text).expanduser()
    except RuntimeError:  # `~name/…` for a user this machine does not have: taken as written
        candidate = cwd / text
    if _exists(candidate):
        return _resolve_path(candidate, cwd)
    if text.lower().endswith(".md"):
        raise InputError(f"{display_path(candidate, cwd)}: no such file")

    folder_text, _, task_id = text.replace("\\", "/").rpartition("/")
    folder = _folder_parts(folder_text)
    scan = scan_tasks(dirs, cwd=cwd)
    wanted = task_id.casefold()
    matches = [
        ref
        for ref in scan.tasks
        if ref.doc.task_id is not None
        and ref.doc.task_id.casefold() == wanted
        and _folder_ends_with(ref.path, folder)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousTaskError(query, [display_path(ref.path, cwd) for ref in matches])
    dirs_text = _display_dirs(dirs, cwd)
    raise InputError(_no_match_message(task_id, folder_text.strip("/"), scan, dirs_text, cwd))
