"""Benchmark taskrun against Ansible ad-hoc, pytest-testinfra, an ssh loop and bare asyncssh.

`python bench/run.py [--quick]` installs the peers into bench/.venv-peers (once), runs every
tool on fleets of real sshd hosts on 127.0.0.x, measures start-up, corpus and memory, and
writes bench/RESULTS.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # bench helpers, then this checkout's packages

from local import run_local  # noqa: E402
from measure import Sample, run_timed  # noqa: E402
from peers import Peers, ensure_peers, machine, versions  # noqa: E402
from report import FleetResult, render  # noqa: E402
from tools import COMMANDS, Tool, pids_mentioning, prepare_tools  # noqa: E402

from tests.fleet import Fleet, sshd_unavailable_reason, start_fleet  # noqa: E402

SIZES = (4, 20, 50)
ROUNDS = 5
QUICK_ROUNDS = 2
RUN_TIMEOUT_S = 600.0
LOCAL_REPEATS = 10
LOCAL_REPEATS_QUICK = 5
SEQUENTIAL_CAP_FROM = 50  # hosts: from here the ssh loop runs fewer times (it is the slowest)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, 5 start-up repeats")
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="fleet sizes, e.g. 4,20,50"
    )
    parser.add_argument("--rounds", type=int, help=f"repetitions per tool (default {ROUNDS})")
    parser.add_argument("--tools", help="only tools whose name holds one of these (comma list)")
    parser.add_argument("--no-peers", action="store_true", help="skip Ansible and testinfra")
    parser.add_argument("--no-local", action="store_true", help="skip start-up/corpus/RSS")
    parser.add_argument("--xdist", type=int, help="testinfra's -n (default: min(N, 2 × cores))")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    reason = sshd_unavailable_reason()
    if reason:
        print(f"bench: cannot start a fleet: {reason}", file=sys.stderr)
        return 2
    logs = BENCH / "work"
    logs.mkdir(exist_ok=True)
    peers = None if args.no_peers else ensure_peers(log=logs / "pip.log")
    only = [name.strip() for name in args.tools.split(",")] if args.tools else None

    with _stopped_on_sigterm(), _workdir() as workdir:
        fleets = [
            bench_fleet(
                size,
                workdir / f"n{size}",
                peers=peers,
                rounds=rounds,
                quick=args.quick,
                warm_up=index == 0,
                only=only,
                xdist=args.xdist,
            )
            for index, size in enumerate(sizes)
        ]
        local = None
        if not args.no_local:
            _progress("start-up, corpus and peak RSS")
            repeats = LOCAL_REPEATS_QUICK if args.quick else LOCAL_REPEATS
            local = run_local(workdir / "local", repeats=repeats)
    text = render(
        machine=machine(),
        versions=versions(peers) if peers else _versions_without_peers(),
        fleets=fleets,
        local=local,
        rounds=rounds,
        quick=args.quick,
        command_line=" ".join(["python bench/run.py", *argv]),
    )
    args.output.write_text(text)
    print(text)
    _progress(f"wrote {args.output}")
    return 0


def bench_fleet(
    size: int,
    workdir: Path,
    *,
    peers: Peers | None,
    rounds: int,
    quick: bool,
    warm_up: bool,
    only: list[str] | None,
    xdist: int | None = None,
) -> FleetResult:
    """Start `size` sshd hosts, run every tool `rounds` times in rotating order, stop them."""
    _progress(f"N={size}: starting {size} sshd hosts")
    result = FleetResult(hosts=size, commands=len(COMMANDS))
    fleet: Fleet = start_fleet(size)
    try:
        cap = (1 if quick else 2) if size >= SEQUENTIAL_CAP_FROM else None
        tools = prepare_tools(
            fleet,
            workdir,
            peers=peers,
            sequential_cap=cap,
            xdist_workers=xdist if xdist is not None else xdist_workers(size),
        )
        if only:
            tools = [tool for tool in tools if any(part in tool.name for part in only)]
        for tool in tools:
            result.samples[tool.name] = []
            result.notes[tool.name] = tool.note
            if tool.max_runs is not None:
                result.caps[tool.name] = tool.max_runs
        if warm_up:
            for tool in tools:  # compiles .pyc files, fills caches; not counted
                sample = run_tool(tool, workdir, label="warm-up")
                _progress(f"N={size} warm-up {tool.name}: {_shown(sample)}")
        for round_index in range(rounds):
            shift = round_index % len(tools) if tools else 0
            for tool in tools[shift:] + tools[:shift]:
                done = len(result.samples[tool.name])
                if tool.max_runs is not None and done >= tool.max_runs:
                    continue
                sample = run_tool(tool, workdir, label=f"round{round_index + 1}")
                result.samples[tool.name].append(sample)
                _progress(
                    f"N={size} round {round_index + 1}/{rounds} {tool.name}: {_shown(sample)}"
                )
    finally:
        fleet.stop()
        _stop_leftovers(workdir)
    return result


def run_tool(tool: Tool, workdir: Path, *, label: str) -> Sample:
    log = workdir / "logs" / f"{tool.name.split()[0]}-{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        return run_timed(
            tool.commands, log=log, timeout_s=RUN_TIMEOUT_S, env=tool.env, cwd=tool.cwd
        )
    finally:
        if tool.cleanup is not None:
            tool.cleanup()


def xdist_workers(hosts: int) -> int:
    """testinfra's `-n`: one worker per core, a few more while connections wait on the network."""
    return min(hosts, 2 * len(os.sched_getaffinity(0)))


# --------------------------------------------------------------------------- plumbing


def _stop_leftovers(workdir: Path) -> None:
    """TERM, by PID, anything still running that names our work folder (ssh masters)."""
    for pid in pids_mentioning(str(workdir)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A short path (ssh control sockets must fit in 108 bytes), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="trb-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        _stop_leftovers(path)
        if os.environ.get("BENCH_KEEP_WORK"):
            _progress(f"work folder kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _stopped_on_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every fleet is stopped by the `finally` blocks."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _versions_without_peers() -> dict[str, str]:
    import platform

    import asyncssh

    return {"python": platform.python_version(), "asyncssh": asyncssh.__version__}


def _shown(sample: Sample) -> str:
    text = f"{sample.wall_s:.2f}s wall, {sample.cpu_s:.2f}s CPU"
    return text if sample.ok else f"{text} FAILED {sample.detail}"


_STARTED = time.monotonic()


def _progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
