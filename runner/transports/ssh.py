"""The SSH transport: bash sessions on remote hosts, over one pooled asyncssh connection per host.

Host keys are always verified against `known_hosts`. asyncssh errors are translated here into
`ConnectError`, `AuthError` and `HostKeyError`; none of its types leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import shlex
import signal
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from runner.errors import (
    AuthError,
    ConnectError,
    HostKeyError,
    ServiceRefused,
    TransportError,
)
from runner.models import Target
from runner.transports.base import Shared

__all__ = [
    "DEFAULT_MAX_CHANNELS",
    "ConnectionKey",
    "SshPool",
    "SshProcess",
    "SshTransport",
    "interrupt_command",
    "known_hosts_pattern",
    "parse_jump",
    "remote_command",
]

DEFAULT_MAX_CHANNELS = 10  # sshd's MaxSessions default
CHANNEL_OPEN_ATTEMPTS = 40
CHANNEL_RETRY_DELAY_S = 0.05
CHANNEL_RETRY_DELAY_MAX_S = 0.5
KEEPALIVE_INTERVAL_S = 15
KEEPALIVE_COUNT_MAX = 4
KILL_GRACE_STEPS = 10  # × 0.1 s between TERM and KILL
KILL_TIMEOUT_S = 10.0
CONTROL_RETRY_BUDGET_S = 5.0  # at most, waiting for a free channel to kill a tree
CLOSE_TIMEOUT_S = 3.0
READ_CHUNK = 65536
PID_MARKER = b"taskrun-session-pid:"
PREAMBLE_MAX_LINES = 200  # junk a login rc file may print before our marker
# Channel refusals that may mean "too many channels now, try again later" while the connection
# stays up: the MaxSessions refusal of OpenSSH 9 is "connect failed: open failed", of older
# releases "administratively prohibited: open failed". asyncssh reports a closed connection as
# "connect failed" too, so the connection's state decides first.
_RETRYABLE_OPEN_CODES = frozenset(
    {
        asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
        asyncssh.OPEN_CONNECT_FAILED,
        asyncssh.OPEN_RESOURCE_SHORTAGE,
    }
)


# --------------------------------------------------------------------------- pure helpers


def remote_command(script: str) -> str:
    """The command sent to the login shell: report our PID, exec bash.

    No environment value travels here: the command is an argv on the host (`ps`, auditd), so
    the session sends its environment over stdin. The login shell is the leader of its own
    session (sshd calls setsid), and `exec` keeps its PID, so that PID is the process group
    `kill_tree` signals and the session `interrupt` searches.
    """
    lines = [f'echo "{PID_MARKER.decode()}$$"', "export LC_ALL=C.UTF-8"]
    lines.append(f"exec bash --noprofile --norc -c {shlex.quote(script)}")
    return "\n".join(lines)


def kill_group_command(pgid: int) -> str:
    """TERM the group, give it about a second, then KILL what is left. Always exits 0."""
    group = f"-{pgid}"
    # `kill -0` also sees zombies, which a host whose init does not reap keeps forever; pgrep
    # with run states skips them, and `kill -0` stays the fallback where pgrep lacks `-r`.
    alive = (
        f"alive() {{ pgrep -g {pgid} -r D,R,S,T,t >/dev/null 2>&1; r=$?; "
        f'[ "$r" -eq 0 ] || {{ [ "$r" -gt 1 ] && kill -0 -- {group} 2>/dev/null; }}; }}; '
    )
    return (
        f"kill -TERM -- {group} 2>/dev/null || exit 0; {alive}i=0; "
        f"while [ $i -lt {KILL_GRACE_STEPS} ] && alive; "
        "do sleep 0.1; i=$((i+1)); done; "
        f"kill -KILL -- {group} 2>/dev/null; exit 0"
    )


def interrupt_command(sid: int, spare: Sequence[int], *, abort: str) -> str:
    """Stop the shell (session `sid`'s leader), TERM every other process of its session except
    the process trees rooted at `spare`, KILL what is left after about a second, then send the
    shell `abort` and let it continue. Always exits 0.

    `ps` lists the host's processes; awk walks each one's parents up to the shell, sparing those
    under a background job. Zombies (state Z) are skipped.
    """
    keep = " ".join(str(int(pid)) for pid in spare)
    program = (
        'BEGIN { n = split(keep, k, " "); for (i = 1; i <= n; i++) spare[k[i]] = 1 } '
        "$3 == sid && $1 != sid && $4 !~ /^[ZX]/ { up[$1] = $2 } "
        "END { for (p in up) { q = p; while ((q in up) && !(q in spare)) q = up[q]; "
        'if (!(q in spare)) printf "%s ", p } }'
    )
    listing = (
        "ps -e -o pid= -o ppid= -o sid= -o stat= 2>/dev/null | "
        f"awk -v sid={int(sid)} -v keep={shlex.quote(keep)} {shlex.quote(program)}"
    )
    shell = int(sid)
    if not re.fullmatch(r"[A-Z0-9]+", abort):
        raise ValueError(f"not a signal name: {abort!r}")
    return (
        f"s={shell}; kill -STOP $s 2>/dev/null || exit 0; "
        f"resume() {{ kill -{abort} $s 2>/dev/null; kill -CONT $s 2>/dev/null; exit 0; }}; "
        f't() {{ {listing}; }}; p=$(t); [ -n "$p" ] || resume; '
        "kill -TERM $p 2>/dev/null; kill -CONT $p 2>/dev/null; i=0; "
        f"while [ $i -lt {KILL_GRACE_STEPS} ]; do sleep 0.1; p=$(t); "
        '[ -n "$p" ] || resume; i=$((i+1)); done; '
        "kill -KILL $p 2>/dev/null; resume"
    )


def parse_jump(spec: str) -> tuple[str | None, str, int]:
    """`[user@]host[:port]` (IPv6 as `[addr]:port`) → (user, host, port)."""
    user, _, rest = spec.rpartition("@")
    port = 22
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, _, number = rest.partition(":")
        port = int(number)
    else:
        host = rest
    return (user or None), host, port


def _status_from(
    exit_status: int | None, exit_signal: tuple[str, bool, str, str] | None
) -> int | None:
    if exit_status is not None and exit_status >= 0:
        return exit_status
    if exit_signal:
        with contextlib.suppress(KeyError):
            return 128 + signal.Signals[f"SIG{exit_signal[0]}"].value
    return None


def _describe(target: Target) -> str:
    return f"{target.host}:{target.port}"


def _retry_delay(attempt: int) -> float:
    return min(CHANNEL_RETRY_DELAY_S * 2**attempt, CHANNEL_RETRY_DELAY_MAX_S)


def known_hosts_pattern(host: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the pool


@dataclass(frozen=True, slots=True)
class ConnectionKey:
    host: str
    port: int
    user: str | None
    jump: str | None

    @classmethod
    def of(cls, target: Target) -> ConnectionKey:
        return cls(target.host, target.port, target.user, target.jump)


class _SessionProcess(asyncssh.SSHClientProcess[bytes]):
    """asyncssh's process, plus an event for the exit status: `wait()` must not wait for the
    channel to close, which a background job holding the output pipes delays indefinitely."""

    def __init__(self) -> None:
        super().__init__()
        self.exited = asyncio.Event()
        self.lost: Exception | None = None  # why the channel closed, when not by the server

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.lost = exc
        super().connection_lost(exc)

    def exit_status_received(self, status: int) -> None:
        super().exit_status_received(status)
        self.exited.set()

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        super().exit_signal_received(signal, core_dumped, msg, lang)
        self.exited.set()


class _ChannelGate:
    """Limits the channels open at once on one connection; learns the server's real limit.

    Sessions leave one slot free so that `kill_tree` can always open its control channel,
    even when every session has timed out at once. That cannot hold while the limit is still
    unknown, nor with a limit of 1: then `kill_tree` falls back to a signal.
    """

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.open = 0  # sessions and control channels
        self.controls = 0
        self._changed = asyncio.Condition()

    def sessions_fill_every_slot(self) -> bool:
        """No control channel can open until one of the sessions ends."""
        return self.open - self.controls >= self.limit

    def _session_capacity(self) -> int:
        return self.limit - 1 if self.limit > 1 else 1

    async def acquire_session(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.open < self._session_capacity())
            self.open += 1

    def take_control(self) -> None:
        self.open += 1
        self.controls += 1

    async def release(self) -> None:
        async with self._changed:
            self.open -= 1
            self._changed.notify_all()

    async def release_control(self) -> None:
        self.controls -= 1
        await self.release()

    def refused(self) -> None:
        """The server refused a channel while we held `open` (ours included): it allows fewer."""
        self.limit = max(1, min(self.limit, self.open - 1))


class _PooledConnection:
    """One live connection to a host and the gate for its channels."""

    def __init__(self, conn: asyncssh.SSHClientConnection, target: Target, max_channels: int):
        self.conn = conn
        self.target = target
        self.gate = _ChannelGate(max_channels)

    def is_closed(self) -> bool:
        return self.conn.is_closed()

    def lost_error(self) -> ConnectError:
        return ConnectError(f"connection lost to {_describe(self.target)}")

    async def open_session(self, command: str) -> _SessionProcess:
        """A session channel running `command`; retries while the server says MaxSessions.

        The retries are bounded by count and by the time spent trying (the connect timeout),
        not counting the wait for one of our own sessions to end.
        """
        budget = self.target.connect_timeout
        for attempt in range(CHANNEL_OPEN_ATTEMPTS):
            if self.is_closed():
                raise self.lost_error()
            await self.gate.acquire_session()
            tried = time.monotonic()
            try:
                _channel, session = await self.conn.create_session(
                    _SessionProcess, command, encoding=None
                )
                assert isinstance(session, _SessionProcess)
                return session
            except asyncssh.ChannelOpenError as exc:
                try:
                    await self._raise_unless_retryable(exc)
                    self.gate.refused()
                finally:
                    await self.gate.release()
            except (asyncssh.Error, OSError) as exc:
                await self.gate.release()
                if self.is_closed():
                    raise self.lost_error() from exc
                raise ConnectError(
                    f"cannot open a session on {_describe(self.target)}: {exc}"
                ) from exc
            except BaseException:
                await self.gate.release()
                raise
            delay = _retry_delay(attempt)
            budget -= time.monotonic() - tried + delay
            if budget <= 0:
                break
            await asyncio.sleep(delay)
        raise ConnectError(
            f"{_describe(self.target)} kept refusing session channels "
            f"({attempt + 1} tries; MaxSessions reached?)"
        )

    async def _raise_unless_retryable(self, exc: asyncssh.ChannelOpenError) -> None:
        """A lost connection or a final refusal raises; a full server returns (retry)."""
        # The server may refuse the channel just before it drops the connection: let the
        # loss arrive before naming the cause.
        await asyncio.sleep(0)
        if self.is_closed():
            raise self.lost_error() from exc
        if exc.code not in _RETRYABLE_OPEN_CODES:
            raise ConnectError(
                f"{_describe(self.target)} refused a session channel: {exc.reason}"
            ) from exc

    async def run_control(self, command: str, *, holding_slot: bool = False) -> bool:
        """Run a short command on a channel of its own; False when no channel could be had.

        `holding_slot`: the caller's session still holds a channel. When sessions fill every
        channel the server allows (with a limit of 1, the caller's own), waiting for one to
        end could outlast the caller: give up at once and let it signal instead.
        """
        if self.is_closed():
            return False
        self.gate.take_control()
        deadline = time.monotonic() + min(self.target.connect_timeout, CONTROL_RETRY_BUDGET_S)
        try:
            for attempt in range(CHANNEL_OPEN_ATTEMPTS):
                try:
                    await asyncio.wait_for(self.conn.run(command, check=False), KILL_TIMEOUT_S)
                    return True
                except asyncssh.ChannelOpenError as exc:
                    if self.is_closed() or exc.code not in _RETRYABLE_OPEN_CODES:
                        return False
                    self.gate.refused()
                    if holding_slot and self.gate.sessions_fill_every_slot():
                        return False
                except (asyncssh.Error, OSError, TimeoutError):
                    return False
                delay = _retry_delay(attempt)
                if time.monotonic() + delay > deadline:
                    return False
                await asyncio.sleep(delay)
            return False
        finally:
            await self.gate.release_control()


class SshPool:
    """One SSH connection per (host, port, user, jump), opened lazily and shared by sessions.

    A failed connection is remembered: every later session on that host fails at once with the
    same error instead of waiting for another timeout. `await pool.close()` closes them all.
    """

    def __init__(
        self,
        *,
        max_channels: int = DEFAULT_MAX_CHANNELS,
        config: Sequence[str] | None = None,
        default_known_hosts: str | None = None,
    ):
        self._max_channels = max_channels
        # None: asyncssh's default, ~/.ssh/config as OpenSSH reads it.
        self._config: Sequence[str] | tuple[()] = () if config is None else list(config)
        self._default_known_hosts = default_known_hosts or str(
            Path("~/.ssh/known_hosts").expanduser()
        )
        self._connections: dict[ConnectionKey, _PooledConnection] = {}
        self._failures: dict[ConnectionKey, TransportError] = {}
        self._locks: dict[ConnectionKey, asyncio.Lock] = {}
        # Local listeners tunnelled through a pooled connection, one per (connection, host,
        # port): keyed by the live connection, so a reconnected pool gets fresh listeners.
        self._listeners: dict[tuple[object, str, int], asyncssh.SSHListener] = {}
        self._listener_lock = asyncio.Lock()

    def known_hosts_path(self, target: Target) -> str:
        return target.known_hosts or self._default_known_hosts

    async def connection(self, target: Target) -> _PooledConnection:
        key = ConnectionKey.of(target)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            failure = self._failures.get(key)
            if failure is not None:
                raise type(failure)(str(failure))
            pooled = self._connections.get(key)
            if pooled is not None and not pooled.is_closed():
                return pooled
            try:
                conn = await self._connect(target)
            except TransportError as exc:
                self._failures[key] = exc
                raise
            pooled = _PooledConnection(conn, target, self._max_channels)
            self._connections[key] = pooled
            return pooled

    async def raw_connection(self, target: Target) -> asyncssh.SSHClientConnection:
        """The pooled asyncssh connection (tests and `inventory check`)."""
        return (await self.connection(target)).conn

    async def tunnel(self, target: Target, remote_host: str, remote_port: int) -> tuple[str, int]:
        """A local (host, port) that reaches `remote_host:remote_port` as the target sees it.

        Raises `ServiceRefused` when the target's side refuses the connection (the service is
        down: the probe fails) and `ConnectError` when the tunnel itself cannot be had.
        """
        conn = (await self.connection(target)).conn
        await _check_reachable(conn, remote_host, remote_port)
        key = (conn, remote_host, remote_port)
        async with self._listener_lock:
            listener = self._listeners.get(key)
            if listener is None:
                try:
                    listener = await conn.forward_local_port(
                        "127.0.0.1", 0, remote_host, remote_port
                    )
                except (asyncssh.Error, OSError) as exc:
                    raise ConnectError(
                        f"cannot forward a local port to {remote_host}:{remote_port}: {exc}"
                    ) from exc
                self._listeners[key] = listener
        return "127.0.0.1", listener.get_port()

    async def close(self) -> None:
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for listener in listeners:
            listener.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), CLOSE_TIMEOUT_S)
        connections = list(self._connections.values())
        self._connections.clear()
        for pooled in connections:
            pooled.conn.close()
        for pooled in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pooled.conn.wait_closed(), CLOSE_TIMEOUT_S)

    async def _connect(self, target: Target) -> asyncssh.SSHClientConnection:
        tunnel: asyncssh.SSHClientConnection | tuple[()] = ()
        if target.jump:
            tunnel = await self._jump_connection(target)
        known_hosts_path = self.known_hosts_path(target)
        known_hosts = _load_known_hosts(known_hosts_path)
        client_keys = _client_keys(target)
        timeout = target.connect_timeout
        try:
            return await asyncio.wait_for(
                asyncssh.connect(
                    target.host,
                    port=target.port,
                    username=target.user if target.user else (),
                    known_hosts=known_hosts,
                    client_keys=client_keys,
                    config=self._config,
                    tunnel=tunnel,
                    connect_timeout=timeout,
                    login_timeout=timeout,
                    keepalive_interval=KEEPALIVE_INTERVAL_S,
                    keepalive_count_max=KEEPALIVE_COUNT_MAX,
                ),
                timeout,
            )
        except (asyncssh.Error, OSError, TimeoutError, ValueError) as exc:
            raise translate_connect_error(exc, target=target, known_hosts=known_hosts_path) from exc

    def has_known_key(self, target: Target) -> bool:
        """Whether known_hosts holds any key for the target (so a mismatch means "changed")."""
        known_hosts = _load_known_hosts(self.known_hosts_path(target))
        address = target.host if _is_ip_address(target.host) else ""
        host_keys, ca_keys, *_rest = known_hosts.match(target.host, address, target.port)
        return bool(host_keys or ca_keys)

    async def fetch_host_key(self, target: Target) -> str:
        """The key the server presents, UNVERIFIED, as `ssh-ed25519 AAAA…` (for --accept-new)."""
        tunnel: asyncssh.SSHClientConnection | tuple[()] = ()
        if target.jump:
            tunnel = await self._jump_connection(target)
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(
                    target.host, target.port, tunnel=tunnel, config=self._config
                ),
                target.connect_timeout,
            )
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise translate_connect_error(
                exc, target=target, known_hosts=self.known_hosts_path(target)
            ) from exc
        if key is None:
            raise HostKeyError(f"{_describe(target)} presented no host key")
        algorithm, data = key.export_public_key("openssh").decode().split()[:2]
        return f"{algorithm} {data}"

    async def _jump_connection(self, target: Target) -> asyncssh.SSHClientConnection:
        assert target.jump is not None
        try:
            user, host, port = parse_jump(target.jump)
        except ValueError as exc:
            raise ConnectError(f"jump host {target.jump!r} is not [user@]host[:port]") from exc
        bastion = Target(
            component=f"jump {target.jump}",
            host=host,
            port=port,
            user=user or target.user,
            identity=target.identity,
            known_hosts=target.known_hosts,
            connect_timeout=target.connect_timeout,
        )
        try:
            return (await self.connection(bastion)).conn
        except TransportError as exc:
            raise type(exc)(f"jump host {target.jump}: {exc}") from exc


def _load_known_hosts(path: str) -> asyncssh.SSHKnownHosts:
    """Never None: a missing file trusts no key (asyncssh would turn checking off for None)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise HostKeyError(f"cannot read known_hosts {path}: {exc.strerror}") from exc
    try:
        return asyncssh.import_known_hosts(text)
    except ValueError as exc:
        raise HostKeyError(f"cannot read known_hosts {path}: {exc}") from exc


def _client_keys(target: Target) -> list[asyncssh.SSHKey] | tuple[()]:
    """The identity file's key, or () for asyncssh's defaults (agent, ~/.ssh/id_*)."""
    if not target.identity:
        return ()
    try:
        return [asyncssh.read_private_key(target.identity)]
    except OSError as exc:
        raise AuthError(f"cannot read identity {target.identity}: {exc.strerror}") from exc
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        raise AuthError(f"cannot use identity {target.identity}: {exc}") from exc


def translate_connect_error(
    exc: BaseException, *, target: Target, known_hosts: str
) -> TransportError:
    """The most specific TransportError for a failure to connect or log in."""
    where = _describe(target)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return HostKeyError(
            f"host key for {target.host} not verifiable against {known_hosts}: "
            "unknown or changed key"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        who = f"{target.user}@{target.host}" if target.user else target.host
        return AuthError(f"permission denied for {who} (publickey)")
    if isinstance(exc, TimeoutError):
        return ConnectError(f"timed out after {target.connect_timeout:g}s connecting to {where}")
    if isinstance(exc, asyncssh.ConnectionLost):
        return ConnectError(f"connection lost to {where}")
    if isinstance(exc, asyncssh.DisconnectError):
        return ConnectError(f"{where} disconnected: {exc.reason}")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"connection refused by {where}")
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"host not found: {target.host}")
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {where}: {exc.strerror or exc}")
    return ConnectError(f"cannot connect to {where}: {exc}")


# --------------------------------------------------------------------------- transport


class SshTransport:
    """Starts bash sessions on `target` through the shared `pool`."""

    def __init__(self, target: Target, *, pool: SshPool):
        self.target = target
        self._pool = pool
        self._owns_pool = False

    @classmethod
    def standalone(cls, target: Target, *, config: Sequence[str] | None = None) -> SshTransport:
        """A transport with a pool of its own, closed by `close()` (tests, one-off use)."""
        transport = cls(target, pool=SshPool(config=config))
        transport._owns_pool = True
        return transport

    async def start(self, script: str, *, env: Mapping[str, str]) -> SshProcess:
        if env:
            # sshd refuses most env requests, and the exec command is an argv on the host.
            raise ValueError("an SSH session takes its environment over stdin, not in start()")
        command = remote_command(script)
        pooled = await self._pool.connection(self.target)
        process = await pooled.open_session(command)
        try:
            pgid = await asyncio.wait_for(
                _read_session_pid(process, self.target), max(self.target.connect_timeout, 5.0)
            )
        except BaseException as exc:
            process.close()
            await pooled.gate.release()
            if isinstance(exc, TimeoutError | ConnectError) and pooled.is_closed():
                raise pooled.lost_error() from exc
            if isinstance(exc, TimeoutError):
                raise ConnectError(
                    f"the shell on {_describe(self.target)} did not start in time"
                ) from exc
            raise
        return SshProcess(process, pooled=pooled, pgid=pgid)

    async def tunnel(self, host: str, port: int) -> tuple[str, int]:
        return await self._pool.tunnel(self.target, host, port)

    async def close(self) -> None:
        """Closes the pool only when it is our own; a shared pool is closed by its owner."""
        if self._owns_pool:
            await self._pool.close()


def create(target: Target, shared: Shared) -> SshTransport:
    """The registry's factory (`runner.transports.TRANSPORTS`): one pool per command."""
    return SshTransport(target, pool=shared.get("ssh-pool", SshPool))


async def _check_reachable(
    conn: asyncssh.SSHClientConnection, remote_host: str, remote_port: int
) -> None:
    """Open and close one direct-tcpip channel: a refused service shows here, not as a
    connection the tunnel accepts and then drops."""
    try:
        reader, writer = await asyncio.wait_for(
            conn.open_connection(remote_host, remote_port), 10.0
        )
    except asyncssh.ChannelOpenError as exc:
        if exc.code == asyncssh.OPEN_CONNECT_FAILED:
            raise ServiceRefused(f"{remote_host}:{remote_port}: {exc.reason}") from exc
        raise ConnectError(
            f"SSH server refused a tunnel to {remote_host}:{remote_port}: {exc.reason}"
        ) from exc
    except (asyncssh.Error, OSError, TimeoutError) as exc:
        raise ConnectError(f"cannot open a tunnel to {remote_host}:{remote_port}: {exc}") from exc
    writer.close()
    del reader


async def _read_session_pid(process: _SessionProcess, target: Target) -> int:
    """Skip whatever a login rc file prints, up to our marker line; return the PID on it."""
    try:
        for _line_number in range(PREAMBLE_MAX_LINES):
            line = await process.stdout.readline()
            if not line:
                break
            text = line.strip()
            if text.startswith(PID_MARKER):
                return int(text[len(PID_MARKER) :])
    except (asyncssh.Error, OSError, ValueError) as exc:
        raise ConnectError(f"the shell on {_describe(target)} failed to start: {exc}") from exc
    stderr = b""
    with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
        stderr = await asyncio.wait_for(process.stderr.read(4096), 1.0)
    detail = stderr.decode(errors="replace").strip() or "no output"
    raise ConnectError(f"the shell on {_describe(target)} exited before the session: {detail}")


class SshProcess:
    """A remote bash session; stdout is bytes without our PID line."""

    def __init__(self, process: _SessionProcess, *, pooled: _PooledConnection, pgid: int):
        self._process = process
        self._pooled = pooled
        self.pgid = pgid
        self._released = False
        self._watcher = asyncio.ensure_future(self._release_when_closed())

    async def _release_when_closed(self) -> None:
        try:
            await self._process.wait_closed()
        finally:
            if not self._released:
                self._released = True
                await self._pooled.gate.release()

    def write_stdin(self, data: bytes) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._process.stdin.write(data)

    def close_stdin(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._process.stdin.write_eof()

    async def stdout(self) -> AsyncIterator[bytes]:
        async for chunk in _chunks(self._process.stdout):
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        async for chunk in _chunks(self._process.stderr):
            yield chunk

    @property
    def lost_reason(self) -> str | None:
        """Why the session ended with no status from the server ("connection lost to h:p"),
        or None while it runs and when it ended normally."""
        if self._process.exited.is_set():
            return None
        if self._process.lost is None and not self._pooled.is_closed():
            return None
        return str(self._pooled.lost_error())

    async def wait(self) -> int | None:
        """The shell's status as soon as sshd reports it; None once the channel is gone
        without one (then `lost_reason` says whether the connection was lost)."""
        exited = asyncio.ensure_future(self._process.exited.wait())
        try:
            await asyncio.wait({exited, self._watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
        return _status_from(self._process.exit_status, self._process.exit_signal)

    @property
    def killed_by(self) -> str | None:
        if self._process.exit_status is not None and self._process.exit_status >= 0:
            return None
        exit_signal = self._process.exit_signal
        return f"SIG{exit_signal[0]}" if exit_signal else None

    async def interrupt(self, spare: Sequence[int], *, abort: str) -> bool:
        if self._pooled.is_closed():
            return False
        return await self._pooled.run_control(
            interrupt_command(self.pgid, spare, abort=abort), holding_slot=not self._released
        )

    async def kill_tree(self) -> None:
        if self._pooled.is_closed():
            # Nothing can reach the remote tree any more: no channel, no signal.
            with contextlib.suppress(asyncssh.Error, OSError):
                self._process.close()
            return
        ran = await self._pooled.run_control(
            kill_group_command(self.pgid), holding_slot=not self._released
        )
        if not ran:
            # No control channel: a signal request still works for non-root logins.
            with contextlib.suppress(asyncssh.Error, OSError):
                self._process.send_signal("KILL")
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait_closed()), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._process.close()


async def _chunks(reader: asyncssh.SSHReader[bytes]) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await reader.read(READ_CHUNK)
        except (asyncssh.Error, OSError):
            return
        if not chunk:
            return
        yield chunk
