"""Laying out a `taskrun demo` project: the sandbox, its inventory, the demo task, reports/.

The CLI starts the sandbox, calls `prepare_demo`, runs `validate` on `layout.task_path` with
`layout.env` added to the runner's environment, and stops the sandbox (on Ctrl-C too).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.demo.sandbox import Sandbox
from runner.project.settings import PACKAGED_PLAYBOOKS

__all__ = [
    "DEMO_TASK",
    "DEMO_TASK_ID",
    "DemoLayout",
    "demo_environment",
    "prepare_demo",
    "start_sandbox",
]

DEMO_TASK = Path(__file__).resolve().parent.parent / "data" / "demo" / "ENG-042-demo.md"
DEMO_TASK_ID = "ENG-042"
# p95 may be twice the recorded baseline plus one second before the demo calls it slower.
DEMO_PERFORMANCE_TOLERANCE = {"tolerance": 1.0, "tolerance_ms": 1000}


@dataclass(frozen=True, slots=True)
class DemoLayout:
    """Where everything of one demo run lives; `workdir` is the project root (run from it)."""

    workdir: Path
    task_path: Path  # workdir/tasks/ENG-042-demo.md
    tasks_dir: Path
    playbooks_dir: Path  # the packaged playbooks, copied, plus the sandbox inventory
    inventory_path: Path
    reports_dir: Path
    env: Mapping[str, str]  # add to the runner's environment (the gateway's master key)


async def start_sandbox(workdir: Path) -> Sandbox:
    """A started sandbox keeping its keys and host folders under `workdir/sandbox/`."""
    return await Sandbox(workdir / "sandbox").start()


def prepare_demo(workdir: Path, sandbox: Sandbox) -> DemoLayout:
    """Copy the demo task and the packaged playbooks into `workdir`; write the inventory.

    The playbooks are copied because a project `playbooks/` folder (which the inventory needs)
    replaces the packaged one, and the Must-Pass items need their playbooks.
    """
    tasks_dir = workdir / "tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    task_path = tasks_dir / DEMO_TASK.name
    task_path.write_bytes(DEMO_TASK.read_bytes())
    playbooks_dir = workdir / "playbooks"
    if PACKAGED_PLAYBOOKS.is_dir():
        shutil.copytree(
            PACKAGED_PLAYBOOKS,
            playbooks_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("inventory.example.yaml"),  # the sandbox writes its own
        )
        performance = playbooks_dir / "must-pass" / "performance.yaml"
        if performance.is_file():
            performance.write_text(
                demo_performance_playbook(performance.read_text(encoding="utf-8")),
                encoding="utf-8",
            )
    inventory_path = sandbox.write_inventory(playbooks_dir / "inventory.yaml")
    reports_dir = workdir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    return DemoLayout(
        workdir=workdir,
        task_path=task_path,
        tasks_dir=tasks_dir,
        playbooks_dir=playbooks_dir,
        inventory_path=inventory_path,
        reports_dir=reports_dir,
        env=sandbox.environment(),
    )


def demo_performance_playbook(text: str) -> str:
    """The packaged performance playbook with the demo's tolerance.

    A kept demo run again compares with the baseline its first run recorded; on a busy machine
    a loopback stand-in's p95 can jump from 2 ms to 50 ms or more, which the production
    tolerance (+25% +20 ms) rightly calls a regression. The demo keeps the comparison but
    allows what a loaded laptop or CI runner does to a loopback round trip.
    """
    data = yaml.safe_load(text)
    for check in data.get("checks", ()):
        performance = (check.get("http") or {}).get("performance")
        if isinstance(performance, dict):
            performance.update(DEMO_PERFORMANCE_TOLERANCE)
    schema_line = next((line for line in text.splitlines() if "$schema=" in line), None)
    header = [
        *([schema_line] if schema_line else []),
        "# taskrun demo: the packaged performance playbook with a tolerance a demo on a busy",
        "# machine can keep (the packaged one allows +25% +20 ms over the baseline p95).",
    ]
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body


@contextlib.asynccontextmanager
async def demo_environment(workdir: Path) -> AsyncIterator[DemoLayout]:
    """Start the sandbox, lay out the project, and stop the sandbox however the block ends."""
    sandbox = await start_sandbox(workdir)
    try:
        yield prepare_demo(workdir, sandbox)
    finally:
        await sandbox.stop()
