"""Configuration taskrun obeys must be yours: a settings or inventory file that another user
can write — or that another user owns — decides what runs and where, so it is refused.

The file is opened once and checked on the open handle (`fstat`), so what is checked is what
is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runner.errors import InputError

__all__ = ["read_trusted"]


def read_trusted(path: Path, *, what: str, shown: str) -> bytes:
    """The bytes of a settings or inventory file, after checking who may change it.

    Refused (InputError, exit 2): group- or world-writable, or owned by neither the user
    running taskrun nor root. `OSError` from opening or reading propagates for the caller's
    own message.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        _check(info, what=what, shown=shown)
        return handle.read()


def _check(info: os.stat_result, *, what: str, shown: str) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "world" if mode & stat.S_IWOTH else "group"
        raise InputError(
            f"refusing the {what}: it is {who}-writable (mode {mode:04o}), so another user "
            f"could change what taskrun runs (fix: chmod go-w {shown})",
            path=shown,
        )
    if info.st_uid not in (os.geteuid(), 0):
        raise InputError(
            f"refusing the {what}: it is owned by another user (uid {info.st_uid}), not by "
            f"you (uid {os.geteuid()}) or root",
            path=shown,
        )
