"""The one atomic writer: every file taskrun writes (run folders, baselines, the Prometheus
textfile, the task file) goes through `write_atomic`.

Temp file in the same folder, written and fsynced, renamed over the target, then the folder
fsynced: a reader sees the old file or the whole new one, never half, even after a crash.

One permission policy: a new file gets the mode the umask gives any new file (mkstemp's 0600
would hide evidence from a CI user or node_exporter); a file being replaced keeps its mode and,
where the system allows, its owner (as an editor that saves by rename would).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "new_file_mode", "remove_stale_temps", "temp_prefix", "write_atomic"]

# Never `.prom`/`.json`/`.md`: readers that pick files by suffix never see a temp file.
TEMP_SUFFIX = ".taskrun.tmp"


def new_file_mode() -> int:
    """What `open()` would give a new file: 0666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temp_prefix(target: Path) -> str:
    return f".{target.name}."


def write_atomic(target: Path, data: bytes) -> None:
    """Replace (or create) `target` with `data` atomically. Raises `OSError`; callers say what
    the file was for (`EvidenceError`, `WriteBackRefused`)."""
    try:
        before: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        before = None
    fd, temp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        try:
            if before is None:
                os.fchmod(fd, new_file_mode())
            else:
                os.fchmod(fd, stat.S_IMODE(before.st_mode))
                _keep_owner(fd, before)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def remove_stale_temps(target: Path) -> None:
    """Remove temp files left by a writer that died; call only while holding the target's
    lock (a temp file exists only while its writer holds that lock)."""
    prefix = temp_prefix(target)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _keep_owner(fd: int, before: os.stat_result) -> None:
    held = os.fstat(fd)
    if (held.st_uid, held.st_gid) != (before.st_uid, before.st_gid):
        # Only root (or a group member) may; otherwise the file becomes the writer's.
        with contextlib.suppress(OSError):
            os.fchown(fd, before.st_uid, before.st_gid)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder is synced; some filesystems refuse: not fatal.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
