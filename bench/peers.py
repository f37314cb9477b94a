"""The peers' own virtual environment (bench/.venv-peers), built from requirements-peers.txt,
and the versions of everything measured."""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
import sys
import venv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
REQUIREMENTS = BENCH / "requirements-peers.txt"
VENV = BENCH / ".venv-peers"
STAMP = VENV / "requirements.sha256"
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True, slots=True)
class Peers:
    python: Path  # the venv's interpreter (runs pytest)
    ansible: Path


def ensure_peers(*, log: Path) -> Peers:
    """Create the venv and install the pinned peers, unless it already holds exactly these pins."""
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if not python.exists() or not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print(f"bench: installing the peers into {VENV} (log {log})", file=sys.stderr)
        if not python.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        with log.open("ab") as sink:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        STAMP.write_text(wanted + "\n")
    return Peers(python=python, ansible=VENV / "bin" / "ansible")


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(_nproc()),
        "cpu_model": _cpu_model(),
        "memory": _memory(),
        "kernel": platform.release(),
        "commit": _git_commit(),
    }


def versions(peers: Peers) -> dict[str, str]:
    import asyncssh

    return {
        "python": platform.python_version(),
        "asyncssh": asyncssh.__version__,
        "ansible-core": _peer_version(peers, "ansible-core"),
        "pytest-testinfra": _peer_version(peers, "pytest-testinfra"),
        "pytest-xdist": _peer_version(peers, "pytest-xdist"),
        "paramiko": _peer_version(peers, "paramiko"),
        "OpenSSH": _openssh_version(),
    }


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "unknown"


def _memory() -> str:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return "unknown"
    found = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else "unknown"


def _git_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    commit = result.stdout.strip() or "unknown"
    return f"{commit} (with uncommitted changes)" if dirty.stdout.strip() else commit


def _peer_version(peers: Peers, distribution: str) -> str:
    result = subprocess.run(
        [
            str(peers.python),
            "-c",
            f"import importlib.metadata as m; print(m.version({distribution!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.stdout.strip() or "missing"


def _openssh_version() -> str:
    result = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False, timeout=10)
    return (result.stderr or result.stdout).strip().split(",")[0]
