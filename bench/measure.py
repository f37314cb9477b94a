"""Timing child processes: wall time, the children's CPU time (RUSAGE_CHILDREN deltas) and peak RSS.

Every process is started in its own session and, on timeout, killed by its process-group id.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.002


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run of a tool: possibly several processes one after another."""

    wall_s: float
    cpu_s: float  # user + system time of every reaped descendant
    max_rss_mib: float  # the largest of the processes' (and their reaped children's) peaks
    ok: bool
    detail: str = ""  # why it is not ok


def run_timed(
    commands: Sequence[Sequence[str]],
    *,
    log: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Sample:
    """Run `commands` one after another (output appended to `log`); stop at the first failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    deadline = started + timeout_s
    peak_kib = 0
    detail = ""
    with log.open("ab") as sink:
        for argv in commands:
            code, usage = _run_one(argv, sink=sink, env=env, cwd=cwd, deadline=deadline)
            if usage is not None:
                peak_kib = max(peak_kib, usage.ru_maxrss)
            if code != 0:
                what = "timed out" if code is None else f"exit {code}"
                detail = f"{what}: {' '.join(argv)[:120]} (log {log})"
                break
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall_s=wall, cpu_s=cpu, max_rss_mib=peak_kib / 1024, ok=not detail, detail=detail)


def _run_one(
    argv: Sequence[str],
    *,
    sink: object,
    env: Mapping[str, str] | None,
    cwd: Path | None,
    deadline: float,
) -> tuple[int | None, resource.struct_rusage | None]:
    """Exit code (None on timeout) and the child's rusage (wait4 reaps it)."""
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=sink,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.perf_counter() > deadline:
            kill_group(process.pid)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return None, usage
        time.sleep(POLL_S)


def kill_group(pgid: int) -> None:
    """SIGKILL the process group a child of ours leads (it was started with its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference
