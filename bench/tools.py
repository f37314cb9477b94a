"""The same work for every tool: M short commands on each host of a fleet, as each tool runs it.

`prepare_tools` writes each tool's inputs (task file, inventories, ssh config, test file, loop
script) into a work folder and returns how to run it and how to clean up after a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from peers import BENCH, REPO, Peers

from tests.fleet import Fleet

COMMANDS: tuple[str, ...] = (
    "true",
    "hostname",
    "cat /etc/os-release",
    "systemctl is-system-running || true",
    "uname -a",
    "id",
    "date",
    "echo ok",
    "ls /",
    "test -d /tmp",
)
TASK_ID = "BENCH-001"
CONTROL_PERSIST_S = 60  # the peers' default; masters are stopped after every run anyway
MASTER_EXIT_TIMEOUT_S = 5
PYCACHE = BENCH / "work" / "pycache"


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    commands: tuple[tuple[str, ...], ...]  # run one after another; together they are one sample
    cwd: Path
    env: dict[str, str] | None = None
    cleanup: Callable[[], None] | None = None  # after every run, outside the timing
    max_runs: int | None = None  # a cap on repetitions (the slow sequential loop)
    note: str = ""


def measured_env() -> dict[str, str]:
    """The environment of every measured process: bytecode cached as on a usual machine.

    Some sandboxes set PYTHONDONTWRITEBYTECODE, which makes a source checkout compile every
    module on every start; the cache goes to bench/work/pycache, not into the checkout.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def taskrun_env() -> dict[str, str]:
    """This checkout's `runner` first on the path, plain output."""
    env = measured_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    return env


def taskrun_argv(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "runner", *args)


def task_markdown(task_id: str, component: str, commands: Sequence[str]) -> str:
    """A minimal task file (template A's shape) with one Test Commands block."""
    body = "\n".join(commands)
    return (
        f"# Engineering Task: benchmark {task_id}\n\n"
        f"> **Task ID**: `{task_id}`  \n"
        f"> **Component**: `{component}`  \n\n"
        "## ✅ Validation Criteria\n\n"
        "### Test Commands\n\n"
        f"```bash\n{body}\n```\n\n"
        "## 📊 Status Tracking\n\n"
        "**Current Status**: `Testing`  \n"
        "**Last Updated**: `2026-01-01`  \n"
    )


# --------------------------------------------------------------------------- the tools


def prepare_tools(
    fleet: Fleet,
    workdir: Path,
    *,
    peers: Peers | None,
    sequential_cap: int | None,
    xdist_workers: int,
) -> list[Tool]:
    """Every tool's inputs for `fleet` under `workdir`; peers are left out when `peers` is None."""
    workdir.mkdir(parents=True, exist_ok=True)
    tools = [_taskrun(fleet, workdir / "taskrun"), _floor(fleet, workdir / "floor")]
    if peers is not None:
        tools.append(_ansible(fleet, workdir / "ansible", peers))
        for backend in ("ssh", "paramiko"):
            tools.append(
                _testinfra(fleet, workdir / f"ti-{backend}", peers, backend, xdist_workers)
            )
    tools.append(_ssh_loop(fleet, workdir / "loop", sequential_cap))
    return tools


def _taskrun(fleet: Fleet, folder: Path) -> Tool:
    (folder / "tasks").mkdir(parents=True, exist_ok=True)
    (folder / "tasks" / "bench.md").write_text(task_markdown(TASK_ID, "global", COMMANDS))
    (folder / "inventory.yaml").write_text(fleet.inventory_yaml())
    reports = folder / "reports"
    argv = taskrun_argv(
        "validate",
        TASK_ID,
        "--tasks",
        str(folder / "tasks"),
        "--inventory",
        str(folder / "inventory.yaml"),
        "--reports",
        str(reports),
        "--no-write",
    )
    return Tool(
        name="taskrun",
        commands=(argv,),
        cwd=folder,
        env=taskrun_env(),
        cleanup=lambda: shutil.rmtree(reports, ignore_errors=True),
        note="`taskrun validate --no-write`, default concurrency, evidence to a temp folder",
    )


def _floor(fleet: Fleet, folder: Path) -> Tool:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "commands": list(COMMANDS),
        "hosts": [
            {
                "address": host.address,
                "port": host.port,
                "user": fleet.user,
                "identity": str(fleet.client_key),
                "known_hosts": str(fleet.known_hosts),
            }
            for host in fleet.hosts
        ],
    }
    (folder / "hosts.json").write_text(json.dumps(spec, indent=1))
    return Tool(
        name="floor (asyncssh)",
        commands=((sys.executable, str(BENCH / "floor.py"), str(folder / "hosts.json")),),
        cwd=folder,
        env=measured_env(),
        note="one connection per host, M `conn.run` in order, all hosts at once; own process",
    )


def _ansible(fleet: Fleet, folder: Path, peers: Peers) -> Tool:
    folder.mkdir(parents=True, exist_ok=True)
    control = folder / "cp"
    control.mkdir(exist_ok=True)
    lines = ["all:", "  hosts:"]
    for host in fleet.hosts:
        lines.append(
            f"    {host.name}: {{ansible_host: {host.address}, ansible_port: {host.port}, "
            f"ansible_user: {fleet.user}, ansible_ssh_private_key_file: {fleet.client_key}}}"
        )
    (folder / "inventory.yaml").write_text("\n".join(lines) + "\n")
    (folder / "ansible.cfg").write_text("[defaults]\n")
    env = measured_env()
    env.update(
        {
            "ANSIBLE_CONFIG": str(folder / "ansible.cfg"),
            "ANSIBLE_HOME": str(folder / "home"),
            "ANSIBLE_LOCAL_TEMP": str(folder / "tmp"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": (
                f"-C -o ControlMaster=auto -o ControlPersist={CONTROL_PERSIST_S}s "
                f"-o UserKnownHostsFile={fleet.known_hosts} -o StrictHostKeyChecking=yes"
            ),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "LC_ALL": "C.UTF-8",
        }
    )
    forks = str(len(fleet.hosts))
    inventory = str(folder / "inventory.yaml")
    commands = tuple(
        (str(peers.ansible), "all", "-i", inventory, "-m", "shell", "-a", command, "-f", forks)
        for command in COMMANDS
    )
    return Tool(
        name="Ansible ad-hoc",
        commands=commands,
        cwd=folder,
        env=env,
        cleanup=lambda: stop_control_masters(control),
        note=(
            "`ansible all -m shell -a CMD -f N` ×M; pipelining on, ControlPersist (reused across "
            "the M invocations), host keys checked"
        ),
    )


def _ssh_config(fleet: Fleet, control: Path | None) -> str:
    lines: list[str] = []
    for host in fleet.hosts:
        lines += [
            f"Host {host.name}",
            f"  HostName {host.address}",
            f"  Port {host.port}",
            f"  User {fleet.user}",
            f"  IdentityFile {fleet.client_key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {fleet.known_hosts}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
        ]
        if control is not None:
            lines.append(f"  ControlPath {control}/%C")
    return "\n".join(lines) + "\n"


def _testinfra(fleet: Fleet, folder: Path, peers: Peers, backend: str, workers: int) -> Tool:
    folder.mkdir(parents=True, exist_ok=True)
    control = folder / "cp"
    control.mkdir(exist_ok=True)
    config = folder / "ssh_config"
    config.write_text(_ssh_config(fleet, control if backend == "ssh" else None))
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (folder / "test_bench.py").write_text(
        "import pytest\n\n"
        f"COMMANDS = {list(COMMANDS)!r}\n\n\n"
        '@pytest.mark.parametrize("command", COMMANDS)\n'
        "def test_command(host, command):\n"
        "    assert host.run(command).rc == 0\n"
    )
    hosts = ",".join(f"{backend}://{host.name}" for host in fleet.hosts)
    argv: list[str] = [str(peers.python), "-m", "pytest", "-q", "test_bench.py"]
    argv += [f"--hosts={hosts}", f"--ssh-config={config}"]
    if workers > 1:
        argv += ["-n", str(workers)]
    extra = (
        "ssh multiplexed (ControlPath in its ssh config)"
        if backend == "ssh"
        else "paramiko: testinfra sets WarningPolicy, so host keys are not checked"
    )
    return Tool(
        name=f"testinfra {backend}://",
        commands=(tuple(argv),),
        cwd=folder,
        env=measured_env(),
        cleanup=(lambda: stop_control_masters(control)) if backend == "ssh" else None,
        note=f"one test per command per host, `-n {workers}`; {extra}",
    )


def _ssh_loop(fleet: Fleet, folder: Path, cap: int | None) -> Tool:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "ssh_config"
    config.write_text(_ssh_config(fleet, None))
    hosts = " ".join(host.name for host in fleet.hosts)
    commands = " ".join(shlex.quote(command) for command in COMMANDS)
    (folder / "loop.sh").write_text(
        "#!/bin/bash\n"
        "# One `ssh host cmd` per command per host, one after another.\n"
        "failed=0\n"
        f"commands=({commands})\n"
        f"for host in {hosts}; do\n"
        '  for command in "${commands[@]}"; do\n'
        f'    ssh -F {shlex.quote(str(config))} -o BatchMode=yes "$host" "$command" >/dev/null'
        " || failed=1\n"
        "  done\n"
        "done\n"
        'exit "$failed"\n'
    )
    return Tool(
        name="ssh loop",
        commands=(("bash", str(folder / "loop.sh")),),
        cwd=folder,
        env=measured_env(),
        max_runs=cap,
        note="`for host; for cmd; ssh -o BatchMode=yes host cmd`, no multiplexing",
    )


# --------------------------------------------------------------------------- cleaning up


def stop_control_masters(control: Path) -> None:
    """Ask every ssh ControlPersist master under `control` to exit, then TERM any left by PID."""
    for socket_path in _sockets_under(control):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "bench-master"],
            capture_output=True,
            check=False,
            timeout=MASTER_EXIT_TIMEOUT_S,
        )
    for pid in pids_mentioning(str(control)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def _sockets_under(control: Path) -> list[Path]:
    if not control.is_dir():
        return []
    return [path for path in control.rglob("*") if path.is_socket()]


def pids_mentioning(text: str) -> list[int]:
    """Processes whose command line holds `text` (a folder unique to this benchmark run)."""
    found: list[int] = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found
