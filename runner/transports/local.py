"""The local transport: a bash session on this machine, in its own process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from runner.errors import ConnectError
from runner.models import Target
from runner.transports.base import Shared

CHUNK_BYTES = 64 * 1024
KILL_GRACE_S = 1.0
POLL_S = 0.02


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol plus an event set the moment the process exits: Python 3.11's
    `Process.wait()` also waits for every holder of the pipes (a background job) to let go."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class LocalProcess:
    """A `bash` process started by `LocalTransport`; implements `base.Process`."""

    lost_reason: str | None = None  # a local process always reports its exit status

    def __init__(self, proc: asyncio.subprocess.Process, exited: asyncio.Event) -> None:
        self._proc = proc
        self._exited = exited
        self.pid = proc.pid
        self.pgid = proc.pid  # start_new_session: the shell leads its own group
        self._killed = False

    def write_stdin(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            return
        # The shell may be gone already: the session notices through EOF on its streams.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(data)

    def close_stdin(self) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stdin.close()

    def stdout(self) -> AsyncIterator[bytes]:
        return _chunks(self._proc.stdout)

    def stderr(self) -> AsyncIterator[bytes]:
        return _chunks(self._proc.stderr)

    async def wait(self) -> int | None:
        await self._exited.wait()
        code = self._proc.returncode
        if code is None:
            return None
        return 128 - code if code < 0 else code

    @property
    def killed_by(self) -> str | None:
        code = self._proc.returncode
        if code is None or code >= 0:
            return None
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"

    async def interrupt(self, spare: Sequence[int], *, abort: str) -> bool:
        # Stopped, the shell cannot start the rest of the command line while its processes
        # die; the abort signal waits for it, and its trap runs before the next command.
        _signal_each([self.pid], signal.SIGSTOP)
        try:
            await _end_processes(self.pid, spare)
            _signal_each([self.pid], signal.Signals[f"SIG{abort}"])
        finally:
            _signal_each([self.pid], signal.SIGCONT)
        return True

    async def kill_tree(self) -> None:
        if not _group_alive(self.pgid):
            return
        _signal_group(self.pgid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + KILL_GRACE_S
        while loop.time() < deadline and _group_alive(self.pgid):
            await asyncio.sleep(0.02)
        _signal_group(self.pgid, signal.SIGKILL)
        self._killed = True
        # Reap our own child so it leaves no zombie; bounded in case something is odd.
        with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
            await asyncio.wait_for(self._proc.wait(), timeout=2.0)


class LocalTransport:
    """Runs block sessions as `bash --noprofile --norc -c SCRIPT` on this machine."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def start(self, script: str, *, env: Mapping[str, str]) -> LocalProcess:
        full_env = {**os.environ, **env, "LC_ALL": "C.UTF-8"}
        loop = asyncio.get_running_loop()
        protocol: _Protocol | None = None

        def make_protocol() -> _Protocol:
            nonlocal protocol
            protocol = _Protocol(limit=CHUNK_BYTES, loop=loop)
            return protocol

        try:
            transport, _ = await loop.subprocess_exec(
                make_protocol,
                "bash",
                "--noprofile",
                "--norc",
                "-c",
                script,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=full_env,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConnectError(f"cannot start bash on this machine: {exc}") from exc
        assert protocol is not None
        return LocalProcess(asyncio.subprocess.Process(transport, protocol, loop), protocol.exited)

    async def tunnel(self, host: str, port: int) -> tuple[str, int]:
        """This machine reaches the service itself: no tunnel."""
        return host, port

    async def close(self) -> None:
        return None


def create(target: Target, shared: Shared) -> LocalTransport:
    """The registry's factory (`runner.transports.TRANSPORTS`)."""
    return LocalTransport(target)


async def _chunks(stream: asyncio.StreamReader | None) -> AsyncIterator[bytes]:
    if stream is None:
        return
    while True:
        chunk = await stream.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _end_processes(shell: int, spare: Sequence[int]) -> None:
    """TERM what `foreground_processes` finds, KILL what is left after `KILL_GRACE_S`."""
    targets = foreground_processes(shell, spare)
    if not targets:
        return
    _signal_each(targets, signal.SIGTERM)
    _signal_each(targets, signal.SIGCONT)  # a stopped process gets the TERM too
    loop = asyncio.get_running_loop()
    deadline = loop.time() + KILL_GRACE_S
    while loop.time() < deadline:
        await asyncio.sleep(POLL_S)
        targets = foreground_processes(shell, spare)
        if not targets:
            return
    _signal_each(targets, signal.SIGKILL)


def _signal_each(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


@dataclass(frozen=True, slots=True)
class ProcessEntry:
    pid: int
    ppid: int
    pgid: int
    sid: int


def process_table() -> list[ProcessEntry]:
    """Every live (non-zombie) process of this machine (Linux /proc; empty elsewhere)."""
    table: list[ProcessEntry] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the ")" of comm: state, ppid, pgrp, session, ...
        if fields[0] in (b"Z", b"X"):
            continue
        table.append(ProcessEntry(int(entry), int(fields[1]), int(fields[2]), int(fields[3])))
    return table


def foreground_processes(shell: int, spare: Sequence[int]) -> list[int]:
    """The processes of session `shell` (the shell leads it) other than the shell and the
    process trees rooted at `spare`: what a timed-out command left running."""
    parent = {p.pid: p.ppid for p in process_table() if p.sid == shell and p.pid != shell}
    kept = set(spare)
    found = []
    for pid in parent:
        node = pid
        while node in parent and node not in kept:
            node = parent[node]
        if node not in kept:
            found.append(pid)
    return found


def _group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in the group.

    `killpg(pgid, 0)` also succeeds for zombies, which linger when PID 1 does not reap
    orphans (containers), so /proc decides where it exists.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc"):
        return True
    return bool(live_group_members(pgid))


def live_group_members(pgid: int) -> list[int]:
    """PIDs of non-zombie processes in process group `pgid` (Linux /proc)."""
    members: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the ")" of comm: state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members
