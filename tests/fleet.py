"""A fleet of real OpenSSH servers on 127.0.0.2…, one port, for integration tests and benchmarks.

Each "host" is its own `sshd -D` with generated ed25519 keys, `SetEnv FLEET_HOST=<name>` so a
command can tell where it ran, a secret only that host has (`FLEET_API_TOKEN`, see
`host_only_secret`), and strict known_hosts on the client side. Stop it by PID.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.models import Target

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = "ssh-keygen"
TEST_USER = "taskrun-test"
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
TEST_FLEET_SIZE = 5  # the integration tests' fleet: host1 … host5
LIMITED_HOST = 4  # index of its host whose sshd allows only 2 sessions per connection


def sshd_unavailable_reason() -> str | None:
    """Why a fleet cannot start here, or None when it can."""
    if not SSHD.is_file():
        return f"OpenSSH server not installed ({SSHD} missing)"
    if shutil.which(SSH_KEYGEN) is None:
        return "ssh-keygen not installed"
    return None


@dataclass(slots=True)
class FleetHost:
    name: str  # "host1"; also the value of FLEET_HOST on that host
    address: str  # "127.0.0.2"
    port: int
    config_path: Path
    pid_path: Path
    log_path: Path
    host_key: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def known_hosts_line(self) -> str:
        public = Path(f"{self.host_key}.pub").read_text().split()
        return f"[{self.address}]:{self.port} {public[0]} {public[1]}\n"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass(slots=True)
class Fleet:
    root: Path
    user: str
    port: int
    client_key: Path  # authorised on every host
    wrong_key: Path  # a valid key that no host authorises
    known_hosts: Path  # every host's key
    hosts: list[FleetHost] = field(default_factory=list)

    def target(self, index: int, **overrides: object) -> Target:
        """A Target for host `index` (0-based) with the fleet's user, key and known_hosts."""
        host = self.hosts[index]
        values: dict[str, object] = {
            "component": host.name,
            "host": host.address,
            "port": host.port,
            "user": self.user,
            "identity": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "connect_timeout": 5.0,
        }
        values.update(overrides)
        return Target(**values)  # type: ignore[arg-type]

    def inventory_yaml(self) -> str:
        """An inventory (§3 format) naming every host as a component."""
        lines = [
            "defaults:",
            f"  user: {self.user}",
            f"  port: {self.port}",
            f"  identity: {self.client_key}",
            f"  known_hosts: {self.known_hosts}",
            "  connect_timeout: 5",
            "components:",
        ]
        lines += [f"  {host.name}: {{host: {host.address}}}" for host in self.hosts]
        return "\n".join(lines) + "\n"

    @contextlib.contextmanager
    def frozen(self, index: int) -> Iterator[FleetHost]:
        """SIGSTOP the host's listener (TCP accepts, no banner ever comes), CONT it after."""
        host = self.hosts[index]
        os.kill(host.pid, signal.SIGSTOP)
        try:
            yield host
        finally:
            os.kill(host.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop every sshd (and its connection children) by PID and remove the fleet folder."""
        for host in self.hosts:
            stop_host(host)
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- starting


def start_fleet(
    count: int = 4,
    *,
    max_sessions: Mapping[int, int] | None = None,
    user: str | None = None,
) -> Fleet:
    """Start `count` sshd hosts on 127.0.0.2 … 127.0.0.(count+1), sharing one free port.

    `max_sessions` maps a host index to its MaxSessions (default 10, sshd's own default).
    On failure everything started so far is stopped before the error propagates.
    """
    reason = sshd_unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    login = user or _login_user()
    root = Path(tempfile.mkdtemp(prefix="taskrun-fleet-"))
    # sshd reads authorized_keys as the login user: the folder must be traversable by them.
    root.chmod(0o755)
    addresses = [f"127.0.0.{index + 2}" for index in range(count)]
    fleet = Fleet(
        root=root,
        user=login,
        port=_free_port(addresses),
        client_key=_keygen(root / "client_ed25519"),
        wrong_key=_keygen(root / "wrong_ed25519"),
        known_hosts=root / "known_hosts",
    )
    authorized = root / "authorized_keys"
    authorized.write_text(Path(f"{fleet.client_key}.pub").read_text())
    authorized.chmod(0o644)
    sessions = dict(max_sessions or {})
    try:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        for index, address in enumerate(addresses):
            host = _configure_host(
                fleet, index=index, address=address, max_sessions=sessions.get(index, 10)
            )
            fleet.hosts.append(host)
            start_host(host)
        fleet.known_hosts.write_text("".join(host.known_hosts_line() for host in fleet.hosts))
    except BaseException:
        fleet.stop()
        raise
    return fleet


def start_test_fleet() -> Fleet:
    """The fleet the integration and contract tests share: 5 hosts, host5 with MaxSessions 2."""
    return start_fleet(TEST_FLEET_SIZE, max_sessions={LIMITED_HOST: 2})


def start_host(host: FleetHost) -> None:
    """Start (or restart) one host's sshd and wait until it sends its banner."""
    with contextlib.suppress(FileNotFoundError):
        host.pid_path.unlink()
    host.process = subprocess.Popen(
        [str(SSHD), "-D", "-f", str(host.config_path), "-E", str(host.log_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # setsid: its own process group, out of the test's
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            stderr = (
                host.process.stderr.read().decode(errors="replace") if host.process.stderr else ""
            )
            raise RuntimeError(f"sshd for {host.name} exited: {stderr}{host.log()}")
        if host.pid_path.exists() and _sends_banner(host.address, host.port):
            return
        time.sleep(0.02)
    stop_host(host)
    raise RuntimeError(f"sshd for {host.name} not ready after {READY_TIMEOUT_S}s: {host.log()}")


def stop_host(host: FleetHost) -> None:
    """TERM the listener and every process it forked (connections live on otherwise)."""
    process = host.process
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGCONT)  # a frozen listener cannot act on TERM
    children = _descendants(process.pid)
    for pid in [process.pid, *children]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
    for pid in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if process.stderr:
        process.stderr.close()
    host.process = None


def _configure_host(fleet: Fleet, *, index: int, address: str, max_sessions: int) -> FleetHost:
    name = f"host{index + 1}"
    host = FleetHost(
        name=name,
        address=address,
        port=fleet.port,
        config_path=fleet.root / f"{name}.sshd_config",
        pid_path=fleet.root / f"{name}.pid",
        log_path=fleet.root / f"{name}.log",
        host_key=_keygen(fleet.root / f"{name}_host_ed25519"),
    )
    host.config_path.write_text(
        "\n".join(
            [
                f"ListenAddress {address}:{fleet.port}",
                f"HostKey {host.host_key}",
                f"PidFile {host.pid_path}",
                f"AuthorizedKeysFile {fleet.root / 'authorized_keys'}",
                f"AllowUsers {fleet.user}",
                "StrictModes no",
                "UsePAM no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                f"MaxSessions {max_sessions}",
                "MaxStartups 200:30:400",
                "LoginGraceTime 20",
                "AllowTcpForwarding yes",
                "UseDNS no",
                "PrintMotd no",
                "PrintLastLog no",
                "X11Forwarding no",
                "LogLevel VERBOSE",
                f"SetEnv FLEET_HOST={name} FLEET_API_TOKEN={host_only_secret(name)}",
                "",
            ]
        )
    )
    return host


# --------------------------------------------------------------------------- helpers


def host_only_secret(name: str) -> str:
    """The value of `FLEET_API_TOKEN` on host `name`: a secret the runner never holds."""
    return f"fleet-host-only-{name}-7f3a9c"


def _login_user() -> str:
    """As root, a dedicated user with a plain profile; otherwise whoever runs the tests."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name
    ensure_test_user(TEST_USER)
    return TEST_USER


def ensure_test_user(name: str) -> None:
    """Create `name` (bash, home folder) if missing; unlock it for key logins under UsePAM no."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        # Another test process may create it at the same moment: check again on failure.
        result = subprocess.run(
            ["useradd", "-m", "-s", "/bin/bash", name], capture_output=True, check=False
        )
        if result.returncode != 0:
            pwd.getpwnam(name)
    # A `!` password field means "locked", which sshd honours for key logins too.
    subprocess.run(["usermod", "-p", "*", name], capture_output=True, check=True)


def _keygen(path: Path) -> Path:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _free_port(addresses: list[str]) -> int:
    """A port free on every address (bind 127.0.0.1:0, then try it on each)."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if all(_can_bind(address, port) for address in addresses):
            return port
    raise RuntimeError("no port free on every fleet address after 50 tries")


def _can_bind(address: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _sends_banner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Every live descendant of `pid`, from /proc (sshd's connection children call setsid)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def require_sshd() -> None:
    """In a test: skip where sshd is missing, unless TASKRUN_REQUIRE_SSHD=1 (CI), then fail."""
    import pytest

    reason = sshd_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("TASKRUN_REQUIRE_SSHD") == "1":
        pytest.fail(f"TASKRUN_REQUIRE_SSHD=1 but {reason}")
    pytest.skip(reason)
