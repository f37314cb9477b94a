"""The transport interface: how a bash session is started on a target.

A transport starts one `bash` process per block session and hands back its byte streams; the
session protocol (markers, per-command results, timeouts) lives in `runner/session.py` and is
the same for every transport.

Contract for `Transport.start(script, env)`:
- runs `bash --noprofile --norc -c SCRIPT` (non-login, no rc files) with `LC_ALL=C.UTF-8`
  and the given extra environment exported before SCRIPT runs;
- the process is the leader of its own process group, so `kill_tree()` reaches every
  descendant (background jobs included);
- `stdin` is writable and is the session's control channel (SCRIPT decides what the commands
  themselves get as stdin);
- failures to reach the target raise `runner.errors.TransportError` subclasses (never a
  library exception).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Target:
    """Where a component's checks run (from the inventory, or `local`)."""

    component: str
    host: str  # "local" means this machine, no SSH
    port: int = 22
    user: str | None = None
    identity: str | None = None
    known_hosts: str | None = None
    connect_timeout: float = 10.0
    jump: str | None = None
    vars: Mapping[str, object] = field(default_factory=dict)
    env: tuple[str, ...] = ()  # names of the runner's variables to export remotely
    secrets: tuple[str, ...] = ()  # like env, values redacted everywhere

    @property
    def is_local(self) -> bool:
        return self.host == "local"

    @property
    def display(self) -> str:
        if self.is_local:
            return "local"
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{who}{self.host}{port}"


class Process(Protocol):
    """A running bash session."""

    def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]: ...

    async def wait(self) -> int | None:
        """The exit status (128+N for a signal); None when it cannot be known."""
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

    async def close(self) -> None: ...
