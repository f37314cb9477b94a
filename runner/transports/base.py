"""The transport interface: how a bash session is started on a target.

A transport starts one `bash` process per block session and hands back its byte streams; the
session protocol (markers, per-command results, timeouts) lives in `runner/execute/session.py`
and is the same for every transport.

Contract for `Transport.start(script, env)`:
- runs `bash --noprofile --norc -c SCRIPT` (non-login, no rc files) with `LC_ALL=C.UTF-8`
  and the given extra environment exported before SCRIPT runs; `env` never travels in an argv
  (a transport that could only do that refuses a non-empty `env`: the session sends its
  environment over the control channel);
- the process is the leader of its own process group and session, so `kill_tree()` reaches
  every descendant (background jobs included) and `interrupt()` every process but the shell;
- `stdin` is writable and is the session's control channel (SCRIPT decides what the commands
  themselves get as stdin);
- failures to reach the target raise `runner.errors.TransportError` subclasses (never a
  library exception).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from runner.models import Target


class Process(Protocol):
    """A running bash session."""

    def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]: ...

    async def wait(self) -> int | None:
        """The exit status (128+N for a signal) as soon as the process exits, even while a
        background job still holds its pipes; None when it cannot be known."""
        ...

    @property
    def killed_by(self) -> str | None:
        """The signal that ended the process (`SIGTERM`), once it has ended; None when it
        exited by itself or still runs."""
        ...

    async def interrupt(self, spare: Sequence[int], *, abort: str) -> bool:
        """Like Ctrl-C for the running command: stop the shell, TERM (then KILL after a short
        grace) every other process of its session except the process trees of `spare`
        (background jobs of earlier commands), send the shell the signal `abort` ("WINCH")
        and let it continue. False when it could not be tried."""
        ...

    async def kill_tree(self) -> None:
        """TERM the whole process group, then KILL what is left after a short grace."""
        ...

    @property
    def lost_reason(self) -> str | None:
        """Why the session ended without an exit status ("connection lost to h:p"), if known."""
        ...


class Transport(Protocol):
    target: Target

    async def start(self, script: str, *, env: Mapping[str, str]) -> Process: ...

    async def tunnel(self, host: str, port: int) -> tuple[str, int]:
        """A local (host, port) that reaches `host:port` as the target sees it (HTTP probes
        with `via: ssh`). Raises `ServiceRefused` when the target's side refuses (the service is
        down) and `TransportError` when the tunnel itself cannot be had."""
        ...

    async def close(self) -> None: ...


class Closeable(Protocol):
    async def close(self) -> None: ...


class Shared:
    """What the transports of one command share (the SSH pool and its tunnels), made on first
    use and closed together when the command's run ends."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._items:
            self._items[key] = make()
        return self._items[key]

    async def close(self) -> None:
        items = list(self._items.values())
        self._items.clear()
        for item in reversed(items):
            try:
                await item.close()
            except Exception:  # closing is best effort; every item gets its turn
                continue
