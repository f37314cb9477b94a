"""End-to-end fixtures: a throwaway project folder driven by the real CLI in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.fleet import Fleet, require_sshd, start_fleet

CLI_TIMEOUT_S = 60.0
E2E_FLEET_SIZE = 3

# Variables a developer's shell might carry that would change what the CLI under test does.
_SCRUBBED_ENV = (
    "TASKRUN_TASKS",
    "TASKRUN_REPORTS",
    "TASKRUN_INVENTORY",
    "TASKRUN_PLAYBOOKS",
    "TASKRUN_NOTIFY",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    env.update(extra or {})
    return env


def task_markdown(
    task_id: str,
    *,
    component: str | None,
    commands: str,
    status: str = "Not Started",
    completion: str = "0%",
    title: str = "End-to-end probe",
    objective: str = "Prove the CLI end to end.",
) -> str:
    """A variant-A task file with one Test Commands section (`commands`: Markdown with fences)."""
    context = f"- **Component**: `{component}`\n" if component else "- **Network Changes**: `No`\n"
    return (
        f"# Engineering Task: {title}\n\n"
        f"> **Task ID**: `{task_id}`  \n"
        "> **Priority**: `High`\n\n"
        "---\n\n"
        f"## 🎯 Objective\n{objective}\n\n"
        f"## 🏗️ Infrastructure Context\n{context}\n"
        "## 🧪 Validation Criteria\n\n"
        "### Test Commands\n\n"
        f"{textwrap.dedent(commands).strip()}\n\n"
        "---\n\n"
        "## 📊 Status Tracking\n\n"
        f"- **Current Status**: `{status}`\n"
        f"- **Completion**: `{completion}`\n"
        "- **Last Updated**: `2026-01-01`\n\n"
        "### Change Log\n\n"
        "- **2026-01-01**: Task created.\n\n"
        "---\n\n"
        "## 📎 Additional Information\n\n"
        "Nothing else.\n"
    )


def bash_block(body: str, info: str = "bash") -> str:
    return f"```{info}\n{textwrap.dedent(body).strip()}\n```"


@dataclass(slots=True)
class Project:
    """A project folder: tasks/, playbooks/inventory.yaml, reports/ — the CLI runs inside it."""

    root: Path

    @property
    def tasks(self) -> Path:
        return self.root / "tasks"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def inventory(self) -> Path:
        return self.root / "playbooks" / "inventory.yaml"

    def write_inventory(self, text: str) -> Path:
        self.inventory.parent.mkdir(parents=True, exist_ok=True)
        # An empty must-pass folder: Must-Pass items stay manual, never the packaged playbooks.
        (self.inventory.parent / "must-pass").mkdir(exist_ok=True)
        self.inventory.write_text(textwrap.dedent(text))
        return self.inventory

    def write_task(self, name: str, text: str) -> Path:
        path = self.tasks / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = CLI_TIMEOUT_S,
        preexec: Callable[[], None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`preexec` runs in the child before taskrun starts (resource limits, signals)."""
        return subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=self.root,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec,
        )

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start the CLI without waiting; the caller stops it by PID (see `finish`)."""
        return subprocess.Popen(
            [sys.executable, "-m", "runner", *args],
            cwd=self.root,
            env=cli_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def run_dirs(self, task_id: str) -> list[Path]:
        folder = self.reports / task_id
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if (p / "run.json").is_file())

    def run_json(self, task_id: str, index: int = -1) -> dict[str, Any]:
        dirs = self.run_dirs(task_id)
        assert dirs, f"no run of {task_id} under {self.reports}"
        return json.loads((dirs[index] / "run.json").read_text())

    def files_under(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file())


def finish(process: subprocess.Popen[str], timeout: float = 20.0) -> tuple[int, str, str]:
    """Wait for a spawned CLI; kill it by PID if it overstays. Returns (code, stdout, stderr)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=5)
        pytest.fail(f"the CLI did not finish within {timeout}s:\n{out}\n{err}")
    return process.returncode, out, err


def wait_until(predicate: Any, *, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def pids_with_argv(argv: Sequence[str]) -> list[int]:
    """PIDs whose command line is exactly `argv` (from /proc)."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
    return found


def kill_pids(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def change_log_items(text: str) -> list[str]:
    """The list items of the Change Log section (up to the next heading or rule)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "### Change Log")
    items = []
    for line in lines[start + 1 :]:
        if line.startswith("#") or line.strip() == "---":
            break
        if line.startswith("- "):
            items.append(line)
    return items


def status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"- **{name}**:"):
            return line.split(":", 1)[1].strip().strip("`")
    raise AssertionError(f"no {name} field in:\n{text}")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "reports").mkdir()
    made = Project(root)
    made.write_inventory("components:\n  lo: {host: local}\n")
    return made


@pytest.fixture(scope="session")
def e2e_fleet() -> Iterator[Fleet]:
    """Three sshd hosts (host1…host3) shared read-only by the e2e tests; stopped by PID."""
    require_sshd()
    started = start_fleet(E2E_FLEET_SIZE)
    try:
        yield started
    finally:
        started.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def evidence_rows(text: str) -> list[dict[str, str]]:
    """The evidence block's table as {column: cell} rows (read here, not by taskrun's parser)."""
    lines = text.splitlines()
    start = lines.index("<!-- taskrun:evidence -->")
    end = lines.index("<!-- /taskrun:evidence -->")
    table = [line for line in lines[start:end] if line.startswith("| ")]
    if not table:
        return []
    header = [cell.strip() for cell in table[0].strip("|").split(" | ")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split(" | ")), strict=True))
        for line in table[2:]
    ]
