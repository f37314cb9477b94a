"""The `taskrun demo` sandbox: four SSH "hosts" and the HTTP stand-ins they serve, on loopback.

Generated keys and strict known_hosts, free ports only; `stop()` leaves nothing listening and no
child process behind.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import asyncssh
import yaml

from runner.demo.servers import (
    DEMO_MODEL,
    LOOPBACK,
    DemoSshHost,
    HttpStandIn,
    gateway_routes,
    ollama_routes,
)

__all__ = ["GATEWAY", "HOST_NAMES", "MASTER_KEY_ENV", "OLLAMA_HOSTS", "Sandbox"]

GATEWAY = "api-gateway"
OLLAMA_HOSTS = ("llm-01", "llm-02")
ORCHESTRATOR = "orc"
HOST_NAMES = (GATEWAY, *OLLAMA_HOSTS, ORCHESTRATOR)
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
GATEWAY_UNIT = "hx-litellm-gateway.service"
OLLAMA_UNIT = "ollama.service"
ORC_UNIT = "hx-orchestrator.service"
CONNECT_TIMEOUT_S = 5
PERF_SAMPLES = 5  # the demo must finish in well under a minute


@dataclass(frozen=True, slots=True)
class _HostSpec:
    role: str
    unit: str
    unit_var: str


_SPECS: dict[str, _HostSpec] = {
    GATEWAY: _HostSpec("gateway", GATEWAY_UNIT, "gateway_unit"),
    **{name: _HostSpec("ollama", OLLAMA_UNIT, "ollama_unit") for name in OLLAMA_HOSTS},
    ORCHESTRATOR: _HostSpec("orchestrator", ORC_UNIT, "orc_unit"),
}


class Sandbox:
    """Start with `async with Sandbox(root) as sandbox:` (or `await start()` / `await stop()`).

    `root` holds the keys, known_hosts and one working directory per host; without it a
    temporary folder is made and removed by `stop()`.
    """

    def __init__(self, root: Path | None = None, *, user: str | None = None):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="taskrun-demo-")) if root is None else root
        self.user = user or getpass.getuser()
        self.master_key = f"sk-demo-{secrets.token_hex(16)}"
        self.client_key_path = self.root / "keys" / "id_ed25519"
        self.known_hosts_path = self.root / "known_hosts"
        self.models = tuple(f"{name}/{DEMO_MODEL}" for name in OLLAMA_HOSTS)
        self.gateway = HttpStandIn(GATEWAY, gateway_routes(self.master_key, self.models))
        self.ollama = {name: HttpStandIn(name, ollama_routes()) for name in OLLAMA_HOSTS}
        self.hosts: dict[str, DemoSshHost] = {}
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> Sandbox:
        if self._started:
            return self
        self._started = True
        try:
            await self.gateway.start()
            for stand_in in self.ollama.values():
                await stand_in.start()
            client_key = asyncssh.generate_private_key("ssh-ed25519")
            _write_private_key(self.client_key_path, client_key)
            authorized = asyncssh.import_authorized_keys(
                client_key.export_public_key("openssh").decode()
            )
            for name in HOST_NAMES:
                host = DemoSshHost(
                    name=name,
                    workdir=self.host_dir(name),
                    env=self._host_env(name),
                    host_key=asyncssh.generate_private_key("ssh-ed25519"),
                    authorized_keys=authorized,
                )
                _prepare_host_dir(self.host_dir(name), active_units=(_SPECS[name].unit,))
                self.hosts[name] = host
                await host.start()
            lines = [host.known_hosts_line() for host in self.hosts.values()]
            self.known_hosts_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        """Close every listener and connection, kill every session; idempotent."""
        for host in self.hosts.values():
            await host.stop()
        await self.gateway.stop()
        for stand_in in self.ollama.values():
            await stand_in.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        self._started = False

    # ------------------------------------------------------------------ what it offers

    def host_dir(self, name: str) -> Path:
        return self.root / "hosts" / name

    def ports(self) -> dict[str, int]:
        """Every port the sandbox listens on, by what listens there."""
        ports = {f"ssh {name}": host.port for name, host in self.hosts.items()}
        ports[f"http {GATEWAY}"] = self.gateway.port
        ports |= {f"http ollama {name}": stand_in.port for name, stand_in in self.ollama.items()}
        return ports

    def environment(self) -> dict[str, str]:
        """What the runner's environment needs for a run against the sandbox."""
        return {MASTER_KEY_ENV: self.master_key}

    def inventory(self) -> dict[str, object]:
        """The sandbox inventory (taskrun's format) as data."""
        components: dict[str, object] = {}
        for name, host in self.hosts.items():
            entry: dict[str, object] = {"port": host.port, "vars": self._component_vars(name)}
            if name == GATEWAY:
                entry["secrets"] = [MASTER_KEY_ENV]
            components[name] = entry
        return {
            "defaults": {
                "host": LOOPBACK,
                "user": self.user,
                "identity": str(self.client_key_path),
                "known_hosts": str(self.known_hosts_path),
                "connect_timeout": CONNECT_TIMEOUT_S,
                "vars": {"perf_samples": PERF_SAMPLES},
            },
            "components": components,
        }

    def write_inventory(self, path: Path) -> Path:
        header = (
            "# The `taskrun demo` sandbox: every component is an SSH server on 127.0.0.1,\n"
            "# started for this run only (generated keys, strict known_hosts).\n"
        )
        body = yaml.safe_dump(self.inventory(), sort_keys=False, default_flow_style=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + body, encoding="utf-8")
        return path

    def _component_vars(self, name: str) -> dict[str, object]:
        spec = _SPECS[name]
        values: dict[str, object] = {"role": spec.role, spec.unit_var: spec.unit}
        if name == GATEWAY:
            values["gateway_port"] = self.gateway.port
            values["e2e_model"] = self.models[0]
        if name in self.ollama:
            values["ollama_port"] = self.ollama[name].port
        return values

    def _host_env(self, name: str) -> dict[str, str]:
        home = self.host_dir(name)
        env = {
            "PATH": f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(home),
            "USER": self.user,
            "LOGNAME": self.user,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "DEMO_HOST": name,
            "DEMO_GATEWAY_URL": self.gateway.url,
        }
        if name in self.ollama:
            env["DEMO_OLLAMA_URL"] = self.ollama[name].url
        return env


# --------------------------------------------------------------------------- host folders


def _write_private_key(path: Path, key: asyncssh.SSHKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))


def _prepare_host_dir(home: Path, *, active_units: tuple[str, ...]) -> None:
    """The host's working folder: `bin/` with the fake tools, unit states under `state/`."""
    units = home / "state" / "units"
    units.mkdir(parents=True, exist_ok=True)
    for unit in active_units:
        (units / unit).write_text("active\n", encoding="utf-8")
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    scripts = {
        "systemctl": _SYSTEMCTL.replace("@UNITS@", shlex.quote(str(units))),
        "ollama": _OLLAMA.replace("@MODEL@", DEMO_MODEL),
        "sudo": _SUDO,
    }
    for name, text in scripts.items():
        script = bin_dir / name
        script.write_text(text, encoding="utf-8")
        script.chmod(0o755)


_SYSTEMCTL = r"""#!/usr/bin/env bash
# taskrun demo stand-in for systemctl: a unit's state is a file in the host's state folder.
units=@UNITS@
quiet=0; args=()
for arg in "$@"; do
  case $arg in
    -q|--quiet) quiet=1 ;;
    -*) ;;
    *) args+=("$arg") ;;
  esac
done
verb=${args[0]:-}
names=("${args[@]:1}")
unit_file() { local u=$1; [[ $u == *.* ]] || u=$u.service; printf '%s/%s' "$units" "$u"; }
state_of() { local f; f=$(unit_file "$1"); if [[ -f $f ]]; then cat "$f"; else echo inactive; fi; }
case $verb in
  is-active)
    rc=0
    for u in "${names[@]}"; do
      s=$(state_of "$u"); ((quiet)) || echo "$s"; [[ $s == active ]] || rc=3
    done
    exit $rc ;;
  is-enabled)
    ((quiet)) || echo enabled; exit 0 ;;
  status)
    rc=0
    for u in "${names[@]}"; do
      s=$(state_of "$u"); f=$(unit_file "$u"); u=${f##*/}
      echo "● $u - $u (taskrun demo)"
      echo "     Loaded: loaded (/etc/systemd/system/$u; enabled)"
      if [[ $s == active ]]; then echo "     Active: active (running)"
      else echo "     Active: inactive (dead)"; rc=3; fi
    done
    exit $rc ;;
  show)
    for u in "${names[@]}"; do
      s=$(state_of "$u")
      echo "ActiveState=$s"
      if [[ $s == active ]]; then echo "SubState=running"; else echo "SubState=dead"; fi
    done ;;
  start|restart|reload|reload-or-restart|try-restart)
    for u in "${names[@]}"; do echo active > "$(unit_file "$u")"; done ;;
  stop)
    for u in "${names[@]}"; do echo inactive > "$(unit_file "$u")"; done ;;
  enable|disable|daemon-reload) ;;
  *)
    echo "systemctl (taskrun demo): '$verb' is not supported here" >&2; exit 1 ;;
esac
"""

_OLLAMA = r"""#!/usr/bin/env bash
# taskrun demo stand-in for the ollama CLI: one model, pulled and loaded.
case ${1:-} in
  -v|--version|version) echo "ollama version is 0.6.0-demo" ;;
  list|ls)
    printf '%-16s%-16s%-10s%s\n' NAME ID SIZE MODIFIED @MODEL@ a80c4f17acd5 "2.0 GB" "2 days ago" ;;
  ps)
    printf '%-16s%-16s%-10s%-12s%s\n' NAME ID SIZE PROCESSOR UNTIL \
      @MODEL@ a80c4f17acd5 "4.0 GB" "100% GPU" Forever ;;
  *) echo "ollama (taskrun demo): '${1:-}' is not supported here" >&2; exit 1 ;;
esac
"""

_SUDO = r"""#!/usr/bin/env bash
# taskrun demo stand-in for sudo: the sandbox's hosts are you, so run the command as you.
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in
    -u|-g|-C|-D|-h|-p|-r|-t|-U) shift 2 ;;
    --) shift; break ;;
    *) shift ;;
  esac
done
exec "$@"
"""
