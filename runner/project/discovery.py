"""Finding task files: by path, by Task ID (case-insensitive), or by FOLDER/ID under the task dirs.

A file that has a Task ID but cannot be read or parsed is kept as `Unreadable` (with the ID as
far as it can be read), so a batch reports it as an error and a query for its ID says why it
cannot be used; a file named directly that cannot be read is an InputError. Only files with a
Task ID field are found by ID (and by `--all`); a file that has one but is not a task is still
found, to say why. `validation_sections` is the setting of that name.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import AmbiguousTaskError, InputError
from runner.markdown.document import field_on_line, parse_document
from runner.markdown.lines import split_lines
from runner.markdown.sections import skipped_sections
from runner.models import TaskDocument

TASK_MARKER = b"task id"  # cheap pre-filter: every task file spells its Task ID field
_RUN_ID_TEXT = re.compile(r"\b\d{8}T\d{6}Z(?:-\d+)?\b")


@dataclass(frozen=True, slots=True)
class TaskRef:
    path: Path  # absolute
    doc: TaskDocument


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file that looked like a task but cannot be read or parsed."""

    path: Path  # absolute
    error: InputError  # names the file (and the line, where there is one)
    task_id: str | None  # its Task ID as far as the damaged text shows one
    run_ids: tuple[str, ...] = ()  # run ids written in it (its evidence block, Change Log)
    maybe_task: bool = True  # it has a Task ID, or its bytes could not be read at all


@dataclass(frozen=True, slots=True)
class TaskScan:
    """Every task file under the task dirs, and what could not be read on the way."""

    tasks: tuple[TaskRef, ...]  # is_task documents, templates included, in path order
    unreadable: tuple[Unreadable, ...]  # files that looked like tasks, in path order
    files_searched: int  # Markdown files looked at
    rejected: tuple[TaskRef, ...] = ()  # a Task ID field, but not a task (and why: doc.rejection)

    @property
    def skipped(self) -> tuple[InputError, ...]:
        return tuple(u.error for u in self.unreadable)

    @property
    def broken_tasks(self) -> tuple[Unreadable, ...]:
        """The unreadable files that are (or may be) tasks: a batch must not drop them quietly.
        A file with no Task ID to be read (a stray README) is only mentioned."""
        return tuple(u for u in self.unreadable if u.maybe_task)


def parse_task_bytes(
    data: bytes, path: str, validation_sections: Sequence[str] | None = None
) -> TaskDocument:
    """The one seam to the parser."""
    return parse_document(data, path, validation_sections=validation_sections)


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


def salvage(data: bytes) -> tuple[str | None, tuple[str, ...]]:
    """(Task ID, run ids) read from a file that does not parse: bytes that are not UTF-8
    become U+FFFD, a NUL a space, and the lines are read one by one."""
    text = data.decode("utf-8", errors="replace").replace("\x00", " ")
    lines, _ = split_lines(text)
    task_id = None
    for number, line in enumerate(lines):
        field = field_on_line(line, number)
        if field is not None and field.key == "task id":
            if field.value and not field.placeholder:
                task_id = field.value
            break
    return task_id, tuple(dict.fromkeys(_RUN_ID_TEXT.findall(text)))


def scan_tasks(
    dirs: Sequence[Path],
    *,
    cwd: Path | None = None,
    validation_sections: Sequence[str] | None = None,
) -> TaskScan:
    base = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    files = find_task_files(dirs, cwd=base)
    tasks: list[TaskRef] = []
    rejected: list[TaskRef] = []
    unreadable: list[Unreadable] = []
    for path in files:
        data = b""
        try:
            data = _read(path, base)
            if not _looks_like_task(data):
                continue
            doc = parse_task_bytes(data, display_path(path, base), validation_sections)
        except (InputError, UnicodeDecodeError) as exc:
            error = (
                exc
                if isinstance(exc, InputError)
                else InputError("not UTF-8 text", path=display_path(path, base))
            )
            task_id, run_ids = salvage(data)
            maybe_task = task_id is not None or not data  # not data: the read itself failed
            unreadable.append(
                Unreadable(Path(os.path.abspath(path)), error, task_id, run_ids, maybe_task)
            )
            continue
        if doc.is_task:
            tasks.append(TaskRef(path=path, doc=doc))
        elif doc.has_id_field:
            rejected.append(TaskRef(path=path, doc=doc))
    return TaskScan(
        tasks=tuple(tasks),
        unreadable=tuple(unreadable),
        files_searched=len(files),
        rejected=tuple(rejected),
    )


def iter_tasks(
    dirs: Sequence[Path],
    *,
    cwd: Path | None = None,
    validation_sections: Sequence[str] | None = None,
) -> list[TaskRef]:
    """The tasks for `--all`: only files with a Task ID field (not the template, not a file
    whose ID comes from its H1 or name: those plan only when given by path)."""
    scan = scan_tasks(dirs, cwd=cwd, validation_sections=validation_sections)
    return [ref for ref in scan.tasks if ref.doc.has_id_field]


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


def _resolve_path(candidate: Path, cwd: Path, validation_sections: Sequence[str] | None) -> TaskRef:
    shown = display_path(candidate, cwd)
    if candidate.is_dir():
        raise InputError(f"{shown} is a directory (name a task file, a Task ID or FOLDER/ID)")
    data = _read(candidate, cwd)
    try:
        doc = parse_task_bytes(data, shown, validation_sections)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=shown) from None
    if not doc.is_task:
        raise InputError(rejection_message(shown, doc))
    return TaskRef(path=Path(os.path.abspath(candidate)), doc=doc)


def rejection_message(shown: str, doc: TaskDocument) -> str:
    """`X is not a task file: <the condition that failed>`, with the sections it skipped."""
    message = f"{shown} is not a task file: {doc.rejection}"
    skipped = [s for s in skipped_sections(doc, ()) if not s.reason.startswith("nested")]
    if skipped:
        listed = ", ".join(f"{s.heading} (line {s.line})" for s in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        message += f"; its commands are under {listed}{more}, which are not validation"
    return message


def _close_candidates(task_id: str, scan: TaskScan) -> list[str]:
    ids = sorted(
        {ref.doc.task_id for ref in scan.tasks if ref.doc.has_id_field and ref.doc.task_id}
    )
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
        if ref.doc.has_id_field and (ref.doc.task_id or "").casefold() == task_id.casefold()
    ]
    if same_id:
        return message + f"; {task_id} is in: " + ", ".join(same_id)
    close = _close_candidates(task_id, scan)
    if close:
        message += "; did you mean " + ", ".join(close) + "?"
    return message


def resolve_task(
    query: str,
    *,
    dirs: Sequence[Path],
    cwd: Path,
    validation_sections: Sequence[str] | None = None,
) -> TaskRef:
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
        return _resolve_path(candidate, cwd, validation_sections)
    if text.lower().endswith(".md"):
        raise InputError(f"{display_path(candidate, cwd)}: no such file")

    folder_text, _, task_id = text.replace("\\", "/").rpartition("/")
    folder = _folder_parts(folder_text)
    scan = scan_tasks(dirs, cwd=cwd, validation_sections=validation_sections)
    wanted = task_id.casefold()

    def same_id(refs: Sequence[TaskRef]) -> list[TaskRef]:
        return [
            ref
            for ref in refs
            if ref.doc.has_id_field
            and (ref.doc.task_id or "").casefold() == wanted
            and _folder_ends_with(ref.path, folder)
        ]

    matches = same_id(scan.tasks)
    damaged = [
        u
        for u in scan.broken_tasks
        if u.task_id is not None
        and u.task_id.casefold() == wanted
        and _folder_ends_with(u.path, folder)
    ]
    if len(matches) == 1 and not damaged:
        return matches[0]
    if len(matches) + len(damaged) > 1:
        raise AmbiguousTaskError(
            query,
            [display_path(ref.path, cwd) for ref in matches]
            + [f"{display_path(u.path, cwd)} (cannot be read)" for u in damaged],
        )
    if damaged:
        error = damaged[0].error
        raise InputError(
            f"task {damaged[0].task_id} cannot be read: {error.message}",
            path=error.path,
            line=error.line,
        )
    rejected = same_id(scan.rejected)
    if rejected:
        raise InputError(
            "; ".join(rejection_message(display_path(ref.path, cwd), ref.doc) for ref in rejected)
        )
    dirs_text = _display_dirs(dirs, cwd)
    raise InputError(_no_match_message(task_id, folder_text.strip("/"), scan, dirs_text, cwd))
