"""Sick hosts at the execute level: real sshd hosts on loopback that die, freeze, drop the
connection after auth or allow one session; and 200 hosts at once (`-m slow`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest

from runner.execute.scheduler import ExecuteOptions, execute_plan
from runner.models import CheckResult, Directives, Expectation, Plan, PlannedCheck, Target
from runner.transports.ssh import SshPool, SshTransport
from tests.fleet import Fleet, require_sshd, start_fleet, start_host, stop_host

REPO = Path(__file__).resolve().parents[2]
NO_DIRECTIVES = Directives()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """Four hosts of our own (tests here kill and freeze them); host4 allows one session."""
    require_sshd()
    started = start_fleet(4, max_sessions={3: 1})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def pool() -> AsyncIterator[SshPool]:
    ssh_pool = SshPool(config=[])
    try:
        yield ssh_pool
    finally:
        await ssh_pool.close()


def check(
    check_id: str,
    command: str,
    components: tuple[str, ...],
    *,
    session: str = "block-1",
    timeout: float | None = None,
) -> PlannedCheck:
    return PlannedCheck(
        id=check_id,
        label=check_id,
        source="test-commands",
        must_pass=None,
        components=components,
        kind="command",
        command=command,
        line=1,
        directives=Directives(timeout=timeout),
        expectation=Expectation(),
        session=session,
    )


async def execute(
    checks: list[PlannedCheck],
    targets: dict[str, Target],
    pool: SshPool,
    log_dir: Path,
    *,
    default_timeout: float = 60.0,
    on_event=lambda event: None,
) -> dict[str, CheckResult]:
    plan = Plan(
        task_path="t.md",
        task_id="T-1",
        title="t",
        components=tuple(targets),
        checks=tuple(checks),
    )
    results = await execute_plan(
        plan,
        targets=targets,
        transport_for=lambda target: SshTransport(target, pool=pool),
        options=ExecuteOptions(default_timeout=default_timeout),
        log_dir=log_dir,
        on_event=on_event,
    )
    return {result.id: result for result in results}


def targets_of(fleet: Fleet, *indexes: int, **overrides: object) -> dict[str, Target]:
    return {fleet.hosts[i].name: fleet.target(i, **overrides) for i in indexes}


# --------------------------------------------------------------------------- a host dies


async def test_sshd_killed_mid_command_is_an_error_and_others_finish(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    # The login user cannot reach into pytest's 0700 tmp folders: mark under the fleet's root.
    marker = Path(tempfile.mkdtemp(prefix="started-", dir=fleet.root))
    marker.chmod(0o777)
    names = ("host1", "host2", "host3")
    command = (
        f'touch {marker}/"$FLEET_HOST"; '
        'if [ "$FLEET_HOST" = host1 ]; then sleep 30; else sleep 1; fi; echo done'
    )
    checks = [check("c1", command, names), check("c2", "echo after", names)]

    async def kill_host1_when_started() -> None:
        for _ in range(200):  # 10 s at most
            if (marker / "host1").exists():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(stop_host, fleet.hosts[0])  # the listener and its sessions

    started = time.monotonic()
    try:
        killer = asyncio.ensure_future(kill_host1_when_started())
        # Bounded well below the 60 s command timeout: the drop itself must end the check.
        results = await asyncio.wait_for(
            execute(checks, targets_of(fleet, 0, 1, 2), pool, tmp_path / "logs"), 12
        )
        await killer
    finally:
        await asyncio.to_thread(start_host, fleet.hosts[0])
    elapsed = time.monotonic() - started
    dropped = results["c1@host1"]
    assert dropped.status == "error", dropped
    assert results["c2@host1"].status == "error"
    for name in ("host2", "host3"):
        assert results[f"c1@{name}"].status == "pass"
        assert results[f"c2@{name}"].status == "pass"
    assert "connection lost" in (dropped.error or ""), dropped.error
    assert (marker / "host1").exists()  # host1 was killed mid-command, not before
    print(f"\nkilled mid-command: {dropped.error!r}; run took {elapsed:.1f}s")
    assert elapsed < 5, f"took {elapsed:.1f}s after a drop ~1 s in"


# --------------------------------------------------------------------------- a frozen host


async def test_frozen_host_ends_by_connect_timeout_not_the_command_timeout(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    targets = targets_of(fleet, 1, 2, connect_timeout=1.0)
    checks = [check("c1", "echo $FLEET_HOST", tuple(targets)), check("c2", "true", tuple(targets))]
    with fleet.frozen(1):
        started = time.monotonic()
        results = await asyncio.wait_for(
            execute(checks, targets, pool, tmp_path / "logs", default_timeout=60), 30
        )
        elapsed = time.monotonic() - started
    frozen = results["c1@host2"]
    assert frozen.status == "error"
    assert "timed out" in (frozen.error or "") and "1s" in (frozen.error or ""), frozen.error
    assert results["c2@host2"].status == "error"  # the broken host is not tried again
    assert results["c1@host3"].status == "pass" and results["c1@host3"].stdout_tail == "host3\n"
    print(f"\nfrozen host: {frozen.error!r}; run took {elapsed:.1f}s")
    assert elapsed < 8, f"took {elapsed:.1f}s: not ended by the 1 s connect timeout"


# --------------------------------------------------------------------------- drops after auth


class _DropAfterAuth(asyncssh.SSHServer):
    """Lets anyone in without a password or key, then closes the connection at once."""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        return False  # no authentication needed

    def auth_completed(self) -> None:
        asyncio.get_running_loop().call_soon(self._conn.abort)


class _DropOnSession(asyncssh.SSHServer):
    """Accepts auth, then drops the connection when a session channel is asked for."""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        return False

    def session_requested(self) -> bool:
        asyncio.get_running_loop().call_soon(self._conn.abort)
        return False


@pytest.mark.parametrize("server", [_DropAfterAuth, _DropOnSession], ids=["after-auth", "session"])
async def test_host_that_drops_after_auth_is_an_error_quickly(
    server: type[asyncssh.SSHServer], pool: SshPool, tmp_path: Path
) -> None:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    listener = await asyncssh.create_server(server, "127.0.0.1", 0, server_host_keys=[host_key])
    port = listener.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    public = host_key.export_public_key("openssh").decode().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    client_key = tmp_path / "id_ed25519"
    client_key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    target = Target(
        component="dropper",
        host="127.0.0.1",
        port=port,
        user="agent0",
        identity=str(client_key),
        known_hosts=str(known_hosts),
        connect_timeout=3.0,
    )
    checks = [check("c1", "echo hi", ("dropper",)), check("c2", "echo again", ("dropper",))]
    started = time.monotonic()
    try:
        results = await asyncio.wait_for(
            execute(checks, {"dropper": target}, pool, tmp_path / "logs"), 8
        )
    finally:
        listener.close()
        await listener.wait_closed()
    elapsed = time.monotonic() - started
    for result in results.values():
        assert result.status == "error", result
        assert result.error
    print(f"\n{server.__name__}: {results['c1@dropper'].error!r} in {elapsed:.1f}s")
    assert "MaxSessions" not in (results["c1@dropper"].error or "")


# --------------------------------------------------------------------------- MaxSessions 1


async def test_max_sessions_one_runs_many_blocks_and_commands(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    """Three components on one host (one shared connection) whose sshd allows one session,
    each with two blocks of five commands: every command runs, none is refused."""
    limited = fleet.target(3)
    names = ("one", "two", "three")
    targets = {name: Target(**{**_fields(limited), "component": name}) for name in names}
    checks = [
        check(f"b{block}c{n}", f"echo {block}-{n}; sleep 0.05", names, session=f"block-{block}")
        for block in (1, 2)
        for n in range(5)
    ]
    started = time.monotonic()
    results = await asyncio.wait_for(execute(checks, targets, pool, tmp_path / "logs"), 90)
    elapsed = time.monotonic() - started
    bad = {key: (r.status, r.error) for key, r in results.items() if r.status != "pass"}
    assert not bad, bad
    assert len(results) == 30
    assert results["b2c4@three"].stdout_tail == "2-4\n"
    print(f"\nMaxSessions 1: 30 commands in 6 blocks over one connection in {elapsed:.1f}s")


async def test_max_sessions_one_timeout_still_kills_and_continues(
    fleet: Fleet, pool: SshPool, tmp_path: Path
) -> None:
    """A timeout needs a control channel to kill the remote tree; with MaxSessions 1 there is
    none, so the signal fallback must end it, and the next block must still get its channel."""
    targets = {"limited": fleet.target(3, component="limited")}
    checks = [
        check("slow", "sleep 30", ("limited",), session="block-1", timeout=1.0),
        check("next", "echo next", ("limited",), session="block-2"),
    ]
    started = time.monotonic()
    results = await asyncio.wait_for(execute(checks, targets, pool, tmp_path / "logs"), 10)
    elapsed = time.monotonic() - started
    assert results["slow@limited"].status == "error"
    assert "timed out" in (results["slow@limited"].error or "")
    assert results["next@limited"].status == "pass", results["next@limited"]
    print(f"\nMaxSessions 1 with a timeout: {elapsed:.1f}s")
    assert elapsed < 6


def _fields(target: Target) -> dict[str, object]:
    return {name: getattr(target, name) for name in target.__slots__}


# --------------------------------------------------------------------------- 200 hosts

_BENCH = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time
    from pathlib import Path
    from runner.execute.scheduler import ExecuteOptions, execute_plan
    from runner.models import Directives, Expectation, Plan, PlannedCheck
    from runner.models import Target
    from runner.transports.ssh import SshPool, SshTransport

    spec = json.loads(sys.stdin.read())
    targets = {t["component"]: Target(**t) for t in spec["targets"]}
    names = tuple(targets)
    checks = tuple(
        PlannedCheck(id=f"c{n}", label=f"c{n}", source="test-commands", must_pass=None,
                     components=names, kind="command", command=command, line=1,
                     directives=Directives(), expectation=Expectation(), session="block-1")
        for n, command in enumerate(spec["commands"])
    )
    plan = Plan(task_path="t.md", task_id="T", title="t", components=names, checks=checks)

    async def main():
        pool = SshPool(config=[])
        started = time.monotonic()
        try:
            results = await execute_plan(
                plan, targets=targets,
                transport_for=lambda t: SshTransport(t, pool=pool),
                options=ExecuteOptions(concurrency=spec["concurrency"]),
                log_dir=Path(spec["log_dir"]),
            )
        finally:
            await pool.close()
        return time.monotonic() - started, results

    wall, results = asyncio.run(main())
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    errors = sorted({r.error for r in results if r.error})[:5]
    print(json.dumps({
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": len(results), "counts": counts, "errors": errors,
    }))
    """
)


@pytest.mark.parametrize("concurrency", [32])
def test_two_hundred_hosts_at_once(concurrency: int, tmp_path: Path) -> None:
    require_sshd()
    started = time.monotonic()
    big = start_fleet(200)
    fleet_start = time.monotonic() - started
    try:
        spec = {
            "targets": [
                {
                    "component": host.name,
                    "host": host.address,
                    "port": host.port,
                    "user": big.user,
                    "identity": str(big.client_key),
                    "known_hosts": str(big.known_hosts),
                    "connect_timeout": 30.0,
                }
                for host in big.hosts
            ],
            "commands": ["echo $FLEET_HOST", "uname -s", "test -d /", "sleep 0.1"],
            "concurrency": concurrency,
            "log_dir": str(tmp_path / "logs"),
        }
        bench = subprocess.run(
            [sys.executable, "-c", _BENCH],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
        )
    finally:
        big.stop()
    assert bench.returncode == 0, bench.stderr[-3000:]
    figures = json.loads(bench.stdout.strip().splitlines()[-1])
    print(
        f"\n200 hosts × 4 commands, concurrency {concurrency}: fleet started in "
        f"{fleet_start:.1f}s; execute_plan {figures['wall_s']}s wall, peak RSS "
        f"{figures['peak_rss_mib']} MiB; {figures['counts']} {figures['errors']}"
    )
    assert figures["results"] == 800
    assert figures["counts"] == {"pass": 800}, figures
