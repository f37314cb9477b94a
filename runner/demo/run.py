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
        shutil.copytree(PACKAGED_PLAYBOOKS, playbooks_dir, dirs_exist_ok=True)
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


@contextlib.asynccontextmanager
async def demo_environment(workdir: Path) -> AsyncIterator[DemoLayout]:
    """Start the sandbox, lay out the project, and stop the sandbox however the block ends."""
    sandbox = await start_sandbox(workdir)
    try:
        yield prepare_demo(workdir, sandbox)
    finally:
        await sandbox.stop()
