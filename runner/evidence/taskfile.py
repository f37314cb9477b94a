"""The task file on disk: snapshot at run start, then a locked, atomic, conflict-checked write-back.

The lock is a sibling file `.<name>.taskrun.lock` held with flock(2) for the read-modify-write
only. The file itself cannot be the lock: the atomic rename gives the path a new inode, so a
writer that arrives after the rename would lock the new inode while another still holds the
old one. The lock file is removed by its holder before release, and every taker checks it still
locks the file at that path, so nothing is left behind and a killed holder never blocks anyone
(the kernel drops flock locks with the process).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import WriteBackRefused
from runner.evidence.atomic import remove_stale_temps, write_atomic
from runner.markdown.concurrent import owned_edit
from runner.markdown.document import parse_document
from runner.markdown.writeback import owned_line_numbers, render_write_back
from runner.models import RunRecord, TaskDocument

LOCK_WAIT_S = 30.0
_POLL_S = 0.01
_LOCK_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The task file as it was when the run started."""

    path: Path
    data: bytes
    doc: TaskDocument
    fingerprint: str  # of the lines taskrun does not own


@dataclass(frozen=True, slots=True)
class WriteResult:
    changed: bool
    path: Path  # the file written (a symlink's target)


def fingerprint(doc: TaskDocument) -> str:
    """Hash of the lines taskrun does not own, blank lines left out.

    Blank lines are left out because taskrun inserts blank lines around its evidence block;
    leaving them in would make a concurrent run's first write look like a person's edit.
    """
    owned = owned_line_numbers(doc)
    kept = (line for n, line in enumerate(doc.lines) if n not in owned and line.strip())
    return hashlib.sha256("\n".join(kept).encode("utf-8")).hexdigest()


def read_snapshot(
    path: str | os.PathLike[str], *, validation_sections: Sequence[str] | None = None
) -> Snapshot:
    """Read and parse the task file at run start (InputError when it does not parse)."""
    data = Path(path).read_bytes()
    doc = parse_document(data, str(path), validation_sections=validation_sections)
    return Snapshot(path=Path(path), data=data, doc=doc, fingerprint=fingerprint(doc))


def write_back(
    path: str | os.PathLike[str],
    snapshot: Snapshot,
    record: RunRecord,
    *,
    today: str,
    set_status: bool = False,
    regressions: Sequence[str] = (),
    since: str | None = None,
    recovered: Sequence[str] = (),
    keep_ids: Collection[str] | None = None,
    force: bool = False,
    notes: Sequence[str] = (),
) -> WriteResult:
    """Write the run's evidence into the task file, or refuse (WriteBackRefused, exit 5).

    Refuses when a line taskrun does not own changed since `snapshot` (a person edited the
    file during the run), when an owned line changed other than by another taskrun
    write-back (a person's note on the status line), or when the evidence block was edited by
    hand (unless `force`).
    """
    target = Path(os.path.realpath(path))
    with _exclusive_lock(target):
        remove_stale_temps(target)
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise WriteBackRefused(f"{path}: cannot read the task file: {_why(exc)}") from exc
        doc = parse_document(data, str(path), validation_sections=snapshot.doc.validation_sections)
        if fingerprint(doc) != snapshot.fingerprint:
            raise WriteBackRefused(
                f"{path}: the task file was edited during the run (lines taskrun does not own "
                "changed); the evidence is kept in reports/, apply it with `taskrun report "
                "TASK --apply`"
            )
        edit = owned_edit(snapshot.doc, doc)
        if edit is not None:
            raise WriteBackRefused(
                f"{path}: the task file was edited during the run ({edit}); taskrun does not "
                "overwrite a person's change: the evidence is kept in reports/, apply it with "
                "`taskrun report TASK --apply` once the edit is settled"
            )
        text = render_write_back(
            doc,
            record,
            today=today,
            set_status=set_status,
            regressions=regressions,
            since=since,
            recovered=recovered,
            keep_ids=keep_ids,
            force=force,
            notes=notes,
        )
        if text is None:
            return WriteResult(changed=False, path=target)
        new = text.encode("utf-8")
        if new == data:
            return WriteResult(changed=False, path=target)
        _atomic_replace(target, new)
    return WriteResult(changed=True, path=target)


# --------------------------------------------------------------------------- lock


def lock_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.taskrun.lock")


@contextlib.contextmanager
def _exclusive_lock(target: Path, *, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    lock = lock_path_for(target)
    deadline = time.monotonic() + wait_s
    for _ in range(_LOCK_ATTEMPTS):
        fd = _open_lock(lock)
        try:
            _flock_until(fd, deadline, lock)
            if _still_at_path(fd, lock):
                try:
                    yield
                finally:
                    # Unlink before unlocking: a waiter on this inode then sees it is stale.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(lock)
                return
        finally:
            os.close(fd)
    raise WriteBackRefused(f"{target}: could not take the write-back lock {lock}")


def _open_lock(lock: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise WriteBackRefused(f"{lock}: cannot create the write-back lock: {_why(exc)}") from exc


def _flock_until(fd: int, deadline: float, lock: Path) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise WriteBackRefused(f"{lock}: cannot lock: {_why(exc)}") from exc
        if time.monotonic() >= deadline:
            raise WriteBackRefused(f"{lock}: another taskrun is still writing this task file")
        time.sleep(_POLL_S)


def _still_at_path(fd: int, lock: Path) -> bool:
    try:
        on_disk = os.stat(lock)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


# --------------------------------------------------------------------------- atomic write


def _atomic_replace(target: Path, data: bytes) -> None:
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise WriteBackRefused(f"{target}: cannot write the task file: {_why(exc)}") from exc


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


__all__ = ["Snapshot", "WriteResult", "fingerprint", "lock_path_for", "read_snapshot", "write_back"]
