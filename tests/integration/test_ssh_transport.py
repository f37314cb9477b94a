"""The SSH transport against a fleet of real sshd hosts on loopback (strict host keys)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from runner.errors import AuthError, ConnectError, HostKeyError
from runner.models import Target
from runner.transports.base import Process
from runner.transports.ssh import (
    SshPool,
    SshTransport,
    known_hosts_pattern,
    parse_jump,
    remote_command,
)
from tests.fleet import LIMITED_HOST, Fleet


@dataclass(frozen=True, slots=True)
class Finished:
    stdout: bytes
    stderr: bytes
    status: int | None


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def finish(process: Process) -> Finished:
    stdout, stderr, status = await asyncio.gather(
        _collect(process.stdout()), _collect(process.stderr()), process.wait()
    )
    return Finished(stdout, stderr, status)


async def run(transport: SshTransport, script: str, **env: str) -> Finished:
    process = await transport.start(script, env=env)
    process.close_stdin()
    return await asyncio.wait_for(finish(process), 30)


def accepted_logins(fleet: Fleet, index: int) -> int:
    return fleet.hosts[index].log().count("Accepted publickey")


def live_group_members(pgid: int) -> list[str]:
    """Processes of group `pgid` that still run (zombies excluded: this box's init keeps them)."""
    result = subprocess.run(
        ["pgrep", "-g", str(pgid), "-r", "D,R,S,T,t", "-a"], capture_output=True, text=True
    )
    return result.stdout.splitlines()


# --------------------------------------------------------------------------- sessions


async def test_each_check_runs_on_its_own_host(fleet: Fleet, pool: SshPool) -> None:
    transports = [SshTransport(fleet.target(index), pool=pool) for index in range(4)]
    results = await asyncio.gather(
        *(run(t, 'echo "$FLEET_HOST"; echo oops >&2; exit 42') for t in transports)
    )
    assert [r.stdout for r in results] == [b"host1\n", b"host2\n", b"host3\n", b"host4\n"]
    assert all(r.stderr == b"oops\n" and r.status == 42 for r in results)


async def test_a_clean_non_login_bash_with_a_utf8_locale(fleet: Fleet, pool: SshPool) -> None:
    result = await run(
        SshTransport(fleet.target(0), pool=pool),
        'printf "%s|" "$LC_ALL" "$-"; if shopt -q login_shell; then echo login; fi',
    )
    locale, flags, rest = result.stdout.decode().split("|")
    assert (locale, rest) == ("C.UTF-8", "")
    assert "i" not in flags  # not interactive either
    assert result.status == 0


async def test_an_environment_never_travels_in_the_exec_command(
    fleet: Fleet, pool: SshPool
) -> None:
    # The exec command is an argv on the host: the session sends its environment over stdin.
    with pytest.raises(ValueError, match="stdin"):
        await SshTransport(fleet.target(0), pool=pool).start("true", env={"A_KEY": "value"})


async def test_stdin_reaches_the_session_and_output_is_bytes(fleet: Fleet, pool: SshPool) -> None:
    transport = SshTransport(fleet.target(1), pool=pool)
    process = await transport.start("cat; printf '\\377\\000end'; exit 3", env={})
    process.write_stdin(b"line one\nline two\n")
    process.close_stdin()
    result = await asyncio.wait_for(finish(process), 10)
    assert result.stdout == b"line one\nline two\n\xff\x00end"
    assert result.status == 3


async def test_large_output_arrives_whole(fleet: Fleet, pool: SshPool) -> None:
    result = await run(SshTransport(fleet.target(0), pool=pool), "head -c 3000000 /dev/zero")
    assert len(result.stdout) == 3_000_000
    assert result.status == 0


async def test_death_by_signal_is_128_plus_the_signal(fleet: Fleet, pool: SshPool) -> None:
    result = await run(SshTransport(fleet.target(0), pool=pool), "kill -KILL $$")
    assert result.status == 137


async def test_wait_does_not_wait_for_a_background_job_holding_the_output(
    fleet: Fleet, pool: SshPool
) -> None:
    process = await SshTransport(fleet.target(0), pool=pool).start("sleep 30 & exit 7", env={})
    process.close_stdin()
    started = time.monotonic()
    assert await asyncio.wait_for(process.wait(), 10) == 7
    assert time.monotonic() - started < 3
    await process.kill_tree()
    assert live_group_members(process.pgid) == []  # type: ignore[attr-defined]


async def test_sessions_share_one_connection_per_host(fleet: Fleet, pool: SshPool) -> None:
    before = accepted_logins(fleet, 2)
    transport = SshTransport(fleet.target(2), pool=pool)
    results = await asyncio.gather(*(run(transport, "echo $$") for _ in range(5)))
    assert len({r.stdout for r in results}) == 5  # five sessions (five shells) …
    await asyncio.sleep(0.1)  # sshd writes its log line after answering
    assert accepted_logins(fleet, 2) - before == 1  # … over one login


async def test_hosts_run_concurrently(fleet: Fleet, pool: SshPool) -> None:
    transports = [SshTransport(fleet.target(index), pool=pool) for index in range(4)]
    await asyncio.gather(*(run(t, "true") for t in transports))  # connect first
    started = time.monotonic()
    results = await asyncio.gather(*(run(t, "sleep 1\nsleep 1") for t in transports))
    elapsed = time.monotonic() - started
    assert all(r.status == 0 for r in results)
    assert 1.9 < elapsed < 4.0, f"4 hosts × 2 s took {elapsed:.1f}s: not concurrent"


async def test_more_sessions_than_max_sessions_all_complete(fleet: Fleet, pool: SshPool) -> None:
    transport = SshTransport(fleet.target(LIMITED_HOST), pool=pool)
    results = await asyncio.gather(
        *(run(transport, f'sleep 0.3; echo "$FLEET_HOST {n}"') for n in range(6))
    )
    assert [r.stdout for r in results] == [f"host5 {n}\n".encode() for n in range(6)]
    assert all(r.status == 0 for r in results)


# --------------------------------------------------------------------------- killing


async def test_kill_tree_leaves_nothing_running_on_the_host(fleet: Fleet, pool: SshPool) -> None:
    transport = SshTransport(fleet.target(0), pool=pool)
    process = await transport.start("sleep 300 & echo started; sleep 300", env={})
    stdout = process.stdout()
    assert await asyncio.wait_for(anext(stdout), 5) == b"started\n"
    pgid = process.pgid  # type: ignore[attr-defined]
    assert any("sleep 300" in line for line in live_group_members(pgid))
    started = time.monotonic()
    await process.kill_tree()
    status = await asyncio.wait_for(process.wait(), 5)
    assert status in (143, 137)
    assert time.monotonic() - started < 3
    assert live_group_members(pgid) == []
    own_sleeps = subprocess.run(
        ["pgrep", "-u", fleet.user, "-r", "D,R,S,T,t", "-g", str(pgid), "sleep"],
        capture_output=True,
    )
    assert own_sleeps.returncode == 1


async def test_kill_tree_works_when_every_session_slot_is_taken(fleet: Fleet) -> None:
    """Sessions leave one channel free, so the kill channel opens even at the limit."""
    small = SshPool(config=[], max_channels=2)
    try:
        transport = SshTransport(fleet.target(3), pool=small)
        process = await transport.start("sleep 300", env={})
        pgid = process.pgid  # type: ignore[attr-defined]
        await asyncio.wait_for(process.kill_tree(), 5)
        assert await asyncio.wait_for(process.wait(), 5) in (143, 137)
        assert live_group_members(pgid) == []
    finally:
        await small.close()


async def test_kill_tree_signals_when_our_sessions_fill_every_slot(
    fleet: Fleet, pool: SshPool
) -> None:
    """host5 allows 2 sessions and the pool does not know it yet: both are ours and running,
    so the control channel is refused; the kill must not wait for a free channel."""
    transport = SshTransport(fleet.target(LIMITED_HOST), pool=pool)
    first = await transport.start("sleep 300", env={})
    second = await transport.start("sleep 300", env={})
    groups = [first.pgid, second.pgid]  # type: ignore[attr-defined]
    try:
        started = time.monotonic()
        await asyncio.wait_for(first.kill_tree(), 10)
        assert await asyncio.wait_for(first.wait(), 5) == 137
        assert time.monotonic() - started < 2
    finally:
        await asyncio.wait_for(second.kill_tree(), 30)
    assert await asyncio.wait_for(second.wait(), 5) in (143, 137)
    assert [live_group_members(pgid) for pgid in groups] == [[], []]


# --------------------------------------------------------------------------- failures


async def test_refused_host_fails_fast_without_affecting_others(
    fleet: Fleet, pool: SshPool
) -> None:
    dead = fleet.target(0, component="dead", host="127.0.0.99")
    started = time.monotonic()
    failed, ok = await asyncio.gather(
        run(SshTransport(dead, pool=pool), "true"),
        run(SshTransport(fleet.target(1), pool=pool), "echo $FLEET_HOST"),
        return_exceptions=True,
    )
    assert isinstance(failed, ConnectError)
    assert str(failed) == f"connection refused by 127.0.0.99:{fleet.port}"
    assert isinstance(ok, Finished) and ok.stdout == b"host2\n"
    assert time.monotonic() - started < 3
    # The failure is remembered: the next session on that host fails at once, same message.
    with pytest.raises(ConnectError, match="connection refused"):
        await SshTransport(dead, pool=pool).start("true", env={})


async def test_changed_host_key_is_refused(fleet: Fleet, pool: SshPool, tmp_path: Path) -> None:
    wrong = tmp_path / "known_hosts"
    host1_key = fleet.hosts[0].known_hosts_line().split(" ", 1)[1]
    wrong.write_text(f"[{fleet.hosts[1].address}]:{fleet.port} {host1_key}")
    target = fleet.target(1, known_hosts=str(wrong))
    with pytest.raises(HostKeyError) as caught:
        await SshTransport(target, pool=pool).start("true", env={})
    assert str(caught.value) == (
        f"host key for 127.0.0.3 not verifiable against {wrong}: unknown or changed key"
    )
    assert isinstance(caught.value.__cause__, Exception)


async def test_key_and_auth_failures_are_quick_and_leave_other_hosts_alone(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    started = time.monotonic()
    unknown, bad_key, good = await asyncio.gather(
        run(SshTransport(fleet.target(0, known_hosts=str(empty)), pool=pool), "true"),
        run(SshTransport(fleet.target(1, identity=str(fleet.wrong_key)), pool=pool), "true"),
        run(SshTransport(fleet.target(2), pool=pool), 'echo "$FLEET_HOST"'),
        return_exceptions=True,
    )
    assert isinstance(unknown, HostKeyError)
    assert isinstance(bad_key, AuthError)
    assert isinstance(good, Finished) and good.stdout == b"host3\n"
    assert time.monotonic() - started < 3


async def test_unknown_host_key_is_refused_even_with_no_known_hosts_file(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    target = fleet.target(0, known_hosts=str(tmp_path / "missing"))
    with pytest.raises(HostKeyError, match="not verifiable"):
        await SshTransport(target, pool=pool).start("true", env={})


async def test_wrong_user_key_is_an_auth_error(fleet: Fleet, pool: SshPool) -> None:
    target = fleet.target(0, identity=str(fleet.wrong_key))
    with pytest.raises(AuthError) as caught:
        await SshTransport(target, pool=pool).start("true", env={})
    assert str(caught.value) == f"permission denied for {fleet.user}@127.0.0.2 (publickey)"


async def test_missing_identity_is_an_auth_error(fleet: Fleet, pool: SshPool) -> None:
    target = fleet.target(0, identity=str(fleet.root / "no-such-key"))
    with pytest.raises(AuthError, match="cannot read identity"):
        await SshTransport(target, pool=pool).start("true", env={})


async def test_frozen_host_ends_at_connect_timeout(fleet: Fleet, pool: SshPool) -> None:
    target = fleet.target(2, connect_timeout=1.0)
    with fleet.frozen(2):
        started = time.monotonic()
        with pytest.raises(ConnectError) as caught:
            await SshTransport(target, pool=pool).start("true", env={})
        elapsed = time.monotonic() - started
    address = fleet.hosts[2].address
    assert str(caught.value) == f"timed out after 1s connecting to {address}:{fleet.port}"
    assert 0.9 < elapsed < 2.5


async def test_unknown_host_name_is_host_not_found(pool: SshPool) -> None:
    target = Target(component="x", host="no-such-host.invalid", connect_timeout=3)
    with pytest.raises(ConnectError, match=r"host not found: no-such-host\.invalid"):
        await SshTransport(target, pool=pool).start("true", env={})


async def test_jump_host_tunnels_to_the_target(fleet: Fleet, pool: SshPool) -> None:
    jump = f"{fleet.user}@{fleet.hosts[0].address}:{fleet.port}"
    result = await run(SshTransport(fleet.target(1, jump=jump), pool=pool), 'echo "$FLEET_HOST"')
    assert result.stdout == b"host2\n"


async def test_unreachable_jump_host_names_the_jump(fleet: Fleet, pool: SshPool) -> None:
    jump = f"{fleet.user}@127.0.0.99:{fleet.port}"
    with pytest.raises(ConnectError, match=r"^jump host .*127\.0\.0\.99.*: connection refused"):
        await SshTransport(fleet.target(1, jump=jump), pool=pool).start("true", env={})


# --------------------------------------------------------------------------- the preamble


def test_remote_command_reports_the_pid_then_execs_a_clean_bash() -> None:
    command = remote_command('echo "[$0]"; echo "$LC_ALL"; shopt -q login_shell || echo plain')
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10)
    marker, name, locale, plain = result.stdout.splitlines()
    assert marker.startswith("taskrun-session-pid:") and marker.split(":")[1].isdigit()
    assert (name, locale, plain) == ("[bash]", "C.UTF-8", "plain")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("bastion", (None, "bastion", 22)),
        ("ops@bastion", ("ops", "bastion", 22)),
        ("ops@10.0.0.1:2022", ("ops", "10.0.0.1", 2022)),
        ("[::1]:2222", (None, "::1", 2222)),
        ("me@[fe80::1]", ("me", "fe80::1", 22)),
    ],
)
def test_parse_jump(spec: str, parsed: tuple[str | None, str, int]) -> None:
    assert parse_jump(spec) == parsed


def test_known_hosts_pattern_brackets_only_off_port_22() -> None:
    assert known_hosts_pattern("h.example", 22) == "h.example"
    assert known_hosts_pattern("127.0.0.2", 2222) == "[127.0.0.2]:2222"


# --------------------------------------------------------------------------- lost connections


class _OpenServer(asyncssh.SSHServer):
    """Lets anyone in and records its connections; refuses sessions unless a process
    factory is given to the listener."""

    connections: list[asyncssh.SSHServerConnection]

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        return False


async def _fake_shell(process: asyncssh.SSHServerProcess[str]) -> None:
    """Says its PID like our remote command does, then idles until the connection goes."""
    process.stdout.write("taskrun-session-pid:4242\n")
    await asyncio.sleep(30)


@dataclass
class FakeHost:
    target: Target
    connections: list[asyncssh.SSHServerConnection]


@pytest.fixture
async def fake_host(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[FakeHost]:
    """A fake shell host on loopback; parametrized with True, it refuses every session."""
    connections: list[asyncssh.SSHServerConnection] = []
    refuse = bool(getattr(request, "param", False))
    server = type("Server", (_OpenServer,), {"connections": connections})
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    listener = await asyncssh.create_server(
        server,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        process_factory=None if refuse else _fake_shell,
    )
    port = listener.sockets[0].getsockname()[1]
    algorithm, data = host_key.export_public_key("openssh").decode().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {algorithm} {data}\n")
    client_key = tmp_path / "id_ed25519"
    client_key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    target = Target(
        component="fake",
        host="127.0.0.1",
        port=port,
        user="someone",
        identity=str(client_key),
        known_hosts=str(known_hosts),
        connect_timeout=1.0,
    )
    try:
        yield FakeHost(target, connections)
    finally:
        for conn in connections:
            conn.abort()
        listener.close()
        await listener.wait_closed()


async def test_a_lost_connection_ends_the_session_at_once_and_says_so(
    fake_host: FakeHost, pool: SshPool
) -> None:
    transport = SshTransport(fake_host.target, pool=pool)
    process = await transport.start("ignored", env={})
    assert process.lost_reason is None  # type: ignore[attr-defined]
    started = time.monotonic()
    fake_host.connections[0].abort()
    assert await asyncio.wait_for(process.wait(), 5) is None
    await asyncio.wait_for(process.kill_tree(), 5)
    assert time.monotonic() - started < 1
    port = fake_host.target.port
    assert process.lost_reason == f"connection lost to 127.0.0.1:{port}"  # type: ignore[attr-defined]
    # The pool does not hand out the dead connection: the next session logs in again.
    again = await asyncio.wait_for(transport.start("ignored", env={}), 5)
    assert again.pgid == 4242  # type: ignore[attr-defined]
    assert len(fake_host.connections) == 2


async def test_a_finished_session_is_not_reported_lost(fleet: Fleet, pool: SshPool) -> None:
    process = await SshTransport(fleet.target(0), pool=pool).start("exit 3", env={})
    process.close_stdin()
    assert (await asyncio.wait_for(finish(process), 10)).status == 3
    assert process.lost_reason is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("fake_host", [True], indirect=True, ids=["refusing"])
async def test_a_host_refusing_every_session_gives_up_within_the_connect_timeout(
    fake_host: FakeHost, pool: SshPool
) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectError, match="kept refusing session channels"):
        await SshTransport(fake_host.target, pool=pool).start("ignored", env={})
    assert time.monotonic() - started < 2.5  # connect_timeout is 1 s
