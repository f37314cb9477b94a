"""`taskrun inventory check`: can each component be reached, logged into, and is its host key known?

Unknown keys are only ever recorded on request (`accept_new`); a changed key never is.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.errors import AuthError, ConnectError, HostKeyError, TransportError
from runner.models import Target
from runner.project.inventory import Inventory
from runner.transports.ssh import SshPool, SshTransport, known_hosts_pattern

__all__ = ["HostCheck", "HostKeyState", "HostStatus", "check_inventory"]

HostStatus = Literal["ok", "unreachable", "auth-failed", "unknown-key", "changed-key"]
HostKeyState = Literal["verified", "accepted", "unknown", "changed", "not-checked", "local"]


@dataclass(frozen=True, slots=True)
class HostCheck:
    component: str
    target: str  # "user@host:port" or "local"
    status: HostStatus
    detail: str  # plain words: what happened, or what to do
    host_key: HostKeyState
    rtt_s: float | None = None  # round trip of `true` in a fresh session
    keyscan: str | None = None  # for an unknown key: the command that records it

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def check_inventory(
    inventory: Inventory,
    *,
    accept_new: bool,
    config: Sequence[str] | None = None,
    default_known_hosts: str | None = None,
) -> list[HostCheck]:
    """One HostCheck per component, in inventory order; hosts are checked concurrently.

    `config` and `default_known_hosts` are the SshPool's (None: ~/.ssh/config and
    ~/.ssh/known_hosts).
    """
    checker = _Checker(
        accept_new=accept_new, config=config, default_known_hosts=default_known_hosts
    )
    return list(await asyncio.gather(*(checker.check(t) for t in inventory.components.values())))


class _Checker:
    def __init__(
        self, *, accept_new: bool, config: Sequence[str] | None, default_known_hosts: str | None
    ):
        self._accept_new = accept_new
        self._config = config
        self._default_known_hosts = default_known_hosts
        self._recording = asyncio.Lock()  # one writer of known_hosts files at a time

    def _pool(self) -> SshPool:
        return SshPool(config=self._config, default_known_hosts=self._default_known_hosts)

    async def check(self, target: Target) -> HostCheck:
        if target.is_local:
            return HostCheck(target.component, "local", "ok", "this machine", "local")
        pool = self._pool()
        try:
            return await self._check_remote(target, pool)
        finally:
            await pool.close()

    async def _check_remote(self, target: Target, pool: SshPool) -> HostCheck:
        try:
            return await self._round_trip(target, pool, host_key="verified")
        except HostKeyError:
            pass  # unknown or changed: told apart below
        except TransportError as exc:
            return self._failed(target, exc)
        try:
            known = pool.has_known_key(target)
        except TransportError as exc:  # an unreadable known_hosts file
            return self._failed(target, exc)
        if known:
            return self._changed(target, pool)
        if not self._accept_new:
            return self._unknown(target, pool)
        try:
            await self._record_key(target, pool)
        except TransportError as exc:
            return self._failed(target, exc)
        fresh = self._pool()
        try:
            return await self._round_trip(target, fresh, host_key="accepted")
        except TransportError as exc:
            return self._failed(target, exc)
        finally:
            await fresh.close()

    async def _round_trip(
        self, target: Target, pool: SshPool, *, host_key: HostKeyState
    ) -> HostCheck:
        await pool.connection(target)  # connect + authenticate, outside the timing
        started = time.perf_counter()
        process = await SshTransport(target, pool=pool).start("true", env={})
        process.close_stdin()
        try:
            status = await asyncio.wait_for(process.wait(), target.connect_timeout)
        except TimeoutError:
            await process.kill_tree()
            raise ConnectError(
                f"`true` did not finish within {target.connect_timeout:g}s on {target.display}"
            ) from None
        rtt = time.perf_counter() - started
        if status != 0:
            return HostCheck(
                target.component,
                target.display,
                "ok",
                f"logged in, but `true` exited {status}",
                host_key,
                rtt,
            )
        note = "; host key recorded" if host_key == "accepted" else ""
        detail = f"ok, `true` in {rtt * 1000:.0f} ms{note}"
        return HostCheck(target.component, target.display, "ok", detail, host_key, rtt)

    async def _record_key(self, target: Target, pool: SshPool) -> None:
        key = await pool.fetch_host_key(target)
        path = Path(pool.known_hosts_path(target))
        async with self._recording:
            if pool.has_known_key(target):  # another component on the same host got there first
                return
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = path.read_bytes() if path.exists() else b""
            separator = "" if not existing or existing.endswith(b"\n") else "\n"
            with path.open("a", encoding="utf-8") as known_hosts:
                pattern = known_hosts_pattern(target.host, target.port)
                known_hosts.write(f"{separator}{pattern} {key}\n")

    @staticmethod
    def _failed(target: Target, exc: TransportError) -> HostCheck:
        if isinstance(exc, AuthError):
            return HostCheck(target.component, target.display, "auth-failed", str(exc), "verified")
        if isinstance(exc, HostKeyError):
            return HostCheck(target.component, target.display, "changed-key", str(exc), "changed")
        assert isinstance(exc, ConnectError)
        return HostCheck(target.component, target.display, "unreachable", str(exc), "not-checked")

    @staticmethod
    def _unknown(target: Target, pool: SshPool) -> HostCheck:
        known_hosts = pool.known_hosts_path(target)
        port = f"-p {target.port} " if target.port != 22 else ""
        keyscan = f"ssh-keyscan {port}{shlex.quote(target.host)} >> {shlex.quote(known_hosts)}"
        detail = (
            f"host key not in {known_hosts}: check its fingerprint, then run `{keyscan}` "
            "or `taskrun inventory check --accept-new`"
        )
        return HostCheck(
            target.component, target.display, "unknown-key", detail, "unknown", keyscan=keyscan
        )

    @staticmethod
    def _changed(target: Target, pool: SshPool) -> HostCheck:
        known_hosts = pool.known_hosts_path(target)
        pattern = known_hosts_pattern(target.host, target.port)
        detail = (
            f"host key for {target.host} differs from the one in {known_hosts}: possibly an "
            "attack; if the host was reinstalled, remove the old key with "
            f"`ssh-keygen -R {shlex.quote(pattern)} -f {shlex.quote(known_hosts)}`"
        )
        return HostCheck(target.component, target.display, "changed-key", detail, "changed")
