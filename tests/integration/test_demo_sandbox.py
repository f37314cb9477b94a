"""The `taskrun demo` sandbox: real asyncssh clients and httpx against its servers on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncssh
import httpx
import pytest

from runner.demo.run import DEMO_TASK, demo_environment
from runner.demo.sandbox import HOST_NAMES, MASTER_KEY_ENV, Sandbox
from runner.evidence.baselines import BaselineStore
from runner.execute.http import run_probe
from runner.models import MustPassItem
from runner.plan.mustpass import component_vars, playbook_checks
from runner.project.inventory import load_inventory
from runner.project.playbooks import load_playbooks
from runner.project.settings import PACKAGED_PLAYBOOKS
from runner.transports.ssh import SshPool, SshTransport

TIMEOUT_S = 10


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    started = await Sandbox(tmp_path / "sandbox").start()
    try:
        yield started
    finally:
        await started.stop()


def connect(
    sandbox: Sandbox, name: str, *, client_keys: list[asyncssh.SSHKey] | None = None
) -> AbstractAsyncContextManager[asyncssh.SSHClientConnection]:
    """A client with strict host key checking against the sandbox's known_hosts only."""
    return asyncssh.connect(
        "127.0.0.1",
        sandbox.hosts[name].port,
        username=sandbox.user,
        known_hosts=str(sandbox.known_hosts_path),
        client_keys=client_keys if client_keys is not None else [str(sandbox.client_key_path)],
        agent_path=None,
        config=[],
    )


def live_group_members(pgid: int) -> list[int]:
    """PIDs in process group `pgid` that are not zombies (this box's init may not reap)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


async def wait_until_group_gone(pgid: int) -> list[int]:
    for _ in range(50):
        if not live_group_members(pgid):
            return []
        await asyncio.sleep(0.1)
    return live_group_members(pgid)


def refuses(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        try:
            probe.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


async def start_sleeper(
    conn: asyncssh.SSHClientConnection,
) -> tuple[asyncssh.SSHClientProcess[bytes], int]:
    """A session running `sleep 300` (plus a background sleep); returns it and its pgid."""
    process = await conn.create_process("echo $$; sleep 300 & sleep 300", encoding=None)
    line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT_S)
    pgid = int(line)
    for _ in range(50):  # bash prints its PID before it forks the sleeps
        if len(live_group_members(pgid)) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(live_group_members(pgid)) >= 3
    return process, pgid


# --------------------------------------------------------------------------- SSH hosts


async def test_each_host_runs_commands_as_itself_in_its_own_folder(sandbox: Sandbox) -> None:
    for name in HOST_NAMES:
        async with connect(sandbox, name) as conn:
            result = await conn.run('echo "$DEMO_HOST"; pwd', check=False)
        assert result.stdout == f"{name}\n{sandbox.host_dir(name)}\n"
        assert result.exit_status == 0


async def test_exit_status_and_separate_streams(sandbox: Sandbox) -> None:
    async with connect(sandbox, "orc") as conn:
        result = await conn.run("echo out; echo err >&2; exit 42", check=False)
    assert (result.stdout, result.stderr, result.exit_status) == ("out\n", "err\n", 42)


async def test_bytes_pass_both_ways_intact(sandbox: Sandbox) -> None:
    every_byte = bytes(range(256)) * 512
    async with connect(sandbox, "llm-01") as conn:
        echoed = await conn.run("cat", input=every_byte, encoding=None, check=False)
        printed = await conn.run(r"printf '\377\000\r\n\200end'", encoding=None, check=False)
    assert echoed.stdout == every_byte
    assert printed.stdout == b"\xff\x00\r\n\x80end"


async def test_large_output_arrives_whole_before_the_exit_status(sandbox: Sandbox) -> None:
    async with connect(sandbox, "llm-02") as conn:
        process = await conn.create_process("head -c 4000000 /dev/zero; exit 5", encoding=None)
        await asyncio.sleep(1.2)  # a slow reader: the output waits in the channel's window
        stdout = await asyncio.wait_for(process.stdout.read(), TIMEOUT_S)
        await asyncio.wait_for(process.wait_closed(), TIMEOUT_S)
    assert len(stdout) == 4_000_000
    assert process.exit_status == 5


async def test_a_background_job_does_not_hold_back_the_exit_status(sandbox: Sandbox) -> None:
    async with connect(sandbox, "orc") as conn:
        process = await conn.create_process("echo $$; sleep 300 & exit 7")
        pgid = int(await asyncio.wait_for(process.stdout.readline(), TIMEOUT_S))
        await asyncio.wait_for(process.wait_closed(), 5)
        assert process.exit_status == 7
    assert await wait_until_group_gone(pgid) == []  # the channel closed: its group is killed


async def test_death_by_signal_is_reported_as_a_signal(sandbox: Sandbox) -> None:
    async with connect(sandbox, "orc") as conn:
        result = await conn.run("kill -KILL $$", check=False)
    assert result.exit_signal is not None and result.exit_signal[0] == "KILL"


async def test_a_second_channel_kills_a_sleeping_session_group(sandbox: Sandbox) -> None:
    async with connect(sandbox, "api-gateway") as conn:
        process, pgid = await start_sleeper(conn)
        await conn.run(f"kill -TERM -- -{pgid}", check=True)
        await asyncio.wait_for(process.wait_closed(), TIMEOUT_S)
        assert process.exit_signal is not None and process.exit_signal[0] == "TERM"
    assert await wait_until_group_gone(pgid) == []


async def test_closing_the_connection_kills_the_session_group(sandbox: Sandbox) -> None:
    async with connect(sandbox, "llm-02") as conn:
        _process, pgid = await start_sleeper(conn)
    assert await wait_until_group_gone(pgid) == []


async def test_an_unknown_client_key_is_refused(sandbox: Sandbox) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(sandbox, "orc", client_keys=[stranger]):
            pass


async def test_a_host_presenting_another_hosts_key_is_not_trusted(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    gateway_line = sandbox.hosts["api-gateway"].known_hosts_line()
    wrong = gateway_line.replace(
        f":{sandbox.hosts['api-gateway'].port} ", f":{sandbox.hosts['orc'].port} "
    )
    known_hosts = tmp_path / "wrong_known_hosts"
    known_hosts.write_text(wrong + "\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect(
            "127.0.0.1",
            sandbox.hosts["orc"].port,
            username=sandbox.user,
            known_hosts=str(known_hosts),
            client_keys=[str(sandbox.client_key_path)],
            config=[],
        ):
            pass


async def test_fake_systemctl_keeps_unit_state_per_host(sandbox: Sandbox) -> None:
    script = (
        "systemctl is-active --quiet hx-litellm-gateway.service; echo gw=$?; "
        "systemctl is-active hx-orchestrator.service; echo orc=$?; "
        "sudo systemctl stop hx-litellm-gateway.service; "
        "systemctl is-active hx-litellm-gateway.service; echo after=$?"
    )
    async with connect(sandbox, "api-gateway") as conn:
        gateway = await conn.run(script, check=False)
    async with connect(sandbox, "orc") as conn:
        orc = await conn.run("systemctl is-active --quiet hx-orchestrator.service", check=False)
    assert gateway.stdout == "gw=0\ninactive\norc=3\ninactive\nafter=3\n"
    assert orc.exit_status == 0


async def test_forwarding_reaches_loopback_services_only(sandbox: Sandbox) -> None:
    async with connect(sandbox, "api-gateway") as conn:
        reader, writer = await conn.open_connection("127.0.0.1", sandbox.gateway.port)
        writer.write(b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), TIMEOUT_S)
        assert answer.startswith(b"HTTP/1.1 200 ")
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("192.0.2.1", 80)


async def test_the_ssh_transport_runs_sessions_and_kills_trees(sandbox: Sandbox) -> None:
    inventory = load_inventory(sandbox.write_inventory(sandbox.root / "inventory.yaml"))
    pool = SshPool(config=[])
    try:
        transport = SshTransport(inventory.components["llm-01"], pool=pool)
        process = await transport.start('echo "$DEMO_HOST"; echo t0 >&2; exit 3', env={})
        process.close_stdin()
        stdout = b"".join([chunk async for chunk in process.stdout()])
        stderr = b"".join([chunk async for chunk in process.stderr()])
        assert (stdout, stderr, await process.wait()) == (b"llm-01\n", b"t0\n", 3)

        sleeper = await transport.start("sleep 300", env={})
        sleeper.close_stdin()
        await asyncio.wait_for(sleeper.kill_tree(), TIMEOUT_S)
        assert await asyncio.wait_for(sleeper.wait(), TIMEOUT_S) == 143
        assert await wait_until_group_gone(sleeper.pgid) == []
    finally:
        await pool.close()


# --------------------------------------------------------------------------- HTTP stand-ins


async def test_the_gateway_stand_in_guards_models_and_chat_with_the_master_key(
    sandbox: Sandbox,
) -> None:
    key = {"Authorization": f"Bearer {sandbox.master_key}"}
    async with httpx.AsyncClient(base_url=sandbox.gateway.url, timeout=TIMEOUT_S) as client:
        assert (await client.get("/health/liveliness")).status_code == 200
        readiness = await client.get("/health/readiness")
        assert readiness.json()["status"] == "healthy"
        assert (await client.get("/v1/models")).status_code == 401
        wrong = await client.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401
        models = await client.get("/v1/models", headers=key)
        assert [m["id"] for m in models.json()["data"]] == list(sandbox.models)
        body = {"model": sandbox.models[0], "messages": [{"role": "user", "content": "ping"}]}
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 401
        chat = await client.post("/v1/chat/completions", json=body, headers=key)
        assert chat.json()["choices"][0]["message"]["content"] == "pong"
        assert (await client.get("/nowhere")).status_code == 404


async def test_each_ollama_stand_in_serves_version_tags_and_ps(sandbox: Sandbox) -> None:
    for stand_in in sandbox.ollama.values():
        async with httpx.AsyncClient(base_url=stand_in.url, timeout=TIMEOUT_S) as client:
            assert (await client.get("/api/version")).json()["version"]
            tags = (await client.get("/api/tags")).json()["models"]
            assert [model["name"] for model in tags] == ["llama3.2:3b"]
            assert (await client.get("/api/ps")).status_code == 200


async def test_every_shipped_playbook_probe_passes_through_the_sandbox_tunnels(
    sandbox: Sandbox,
) -> None:
    """The demo's Must-Pass items: each HTTP probe of the packaged playbooks, `via: ssh`."""
    inventory = load_inventory(sandbox.write_inventory(sandbox.root / "inventory.yaml"))
    playbooks = load_playbooks(PACKAGED_PLAYBOOKS / "must-pass")
    inventory_vars = {name: target.vars for name, target in inventory.components.items()}
    environ = sandbox.environment()
    pool = SshPool(config=[])
    outcomes: dict[str, str] = {}
    try:
        for slug, playbook in playbooks.items():
            item = MustPassItem(name=slug, description="", line=0)
            checks = playbook_checks(
                item, playbook, tuple(inventory.components), inventory_vars=inventory_vars
            )
            for check in (check for check in checks if check.kind == "http"):
                for component in check.components:
                    target = inventory.components[component]
                    result = await run_probe(
                        check,
                        component=component,
                        host=target.display,
                        vars=component_vars(component, target.vars),
                        environ=environ,
                        redact=lambda text: text.replace(sandbox.master_key, "***"),
                        forward=SshTransport(target, pool=pool).tunnel,
                        baselines=BaselineStore(sandbox.root / "baselines"),
                    )
                    outcomes[f"{slug}: {check.label} @{component}"] = (
                        f"{result.status} {result.reason or ''}{result.error or ''}"
                    )
    finally:
        await pool.close()
    assert set(playbooks) == {"service-health", "end-to-end", "performance", "security"}
    assert len(outcomes) >= 12
    assert {key: value for key, value in outcomes.items() if not value.startswith("pass")} == {}


# --------------------------------------------------------------------------- lifecycle


async def test_stop_closes_every_port_and_leaves_no_child(tmp_path: Path) -> None:
    sandbox = await Sandbox().start()
    root = sandbox.root
    ports = sandbox.ports()
    assert len(ports) == 7 and not any(refuses(port) for port in ports.values())
    async with connect(sandbox, "orc") as conn:
        _process, pgid = await start_sleeper(conn)
        await sandbox.stop()
    assert [name for name, port in ports.items() if not refuses(port)] == []
    assert await wait_until_group_gone(pgid) == []
    assert not root.exists()  # its own temporary folder


async def test_prepare_demo_lays_out_task_inventory_and_reports(tmp_path: Path) -> None:
    async with demo_environment(tmp_path) as layout:
        assert layout.task_path.read_bytes() == DEMO_TASK.read_bytes()
        assert layout.inventory_path == tmp_path / "playbooks" / "inventory.yaml"
        assert layout.reports_dir.is_dir()
        inventory = load_inventory(layout.inventory_path)
        assert list(inventory.components) == list(HOST_NAMES)
        gateway = inventory.components["api-gateway"]
        assert gateway.host == "127.0.0.1" and gateway.secrets == (MASTER_KEY_ENV,)
        assert Path(gateway.identity or "").is_file() and Path(gateway.known_hosts or "").is_file()
        assert layout.env[MASTER_KEY_ENV].startswith("sk-demo-")
        ollama_port = inventory.components["llm-02"].vars["ollama_port"]
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            version = await client.get(f"http://127.0.0.1:{ollama_port}/api/version")
            assert version.status_code == 200
        ports = [target.port for target in inventory.components.values()]
    assert all(refuses(port) for port in ports)
