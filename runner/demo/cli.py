"""`taskrun demo`: start the sandbox, validate the demo task in it, show what changed, stop.

The sandbox's servers live on their own event loop in a background thread, so the ordinary
`validate` pipeline (which owns the main thread's loop and its signal handlers) runs unchanged.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.demo.run import DemoLayout, prepare_demo, start_sandbox
from runner.errors import InputError

DELIBERATE = "Deliberately failing"
_START_TIMEOUT_S = 60.0


class _SandboxThread:
    """The sandbox on a private event loop; `stop()` closes it and joins the thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="demo-sandbox", daemon=True
        )
        self.sandbox: Any = None

    def start(self, workdir: Path) -> DemoLayout:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_sandbox(workdir), self.loop)
        self.sandbox = future.result(timeout=_START_TIMEOUT_S)
        return prepare_demo(workdir, self.sandbox)

    def stop(self) -> None:
        try:
            if self.sandbox is not None:
                asyncio.run_coroutine_threadsafe(self.sandbox.stop(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            if not self.thread.is_alive():
                self.loop.close()


# Marks a folder as a kept demo, so `demo --keep` into it again is a re-run, not a clobbering.
KEPT_MARKER = ".taskrun-demo"
_SHOWN_ENTRIES = 5


def check_keep_folder(keep: Path) -> None:
    """`--keep DIR` writes a whole project (tasks/, playbooks/inventory.yaml, reports/): only
    into a new or empty folder, or one an earlier `demo --keep` made."""
    if not keep.exists():
        return
    if not keep.is_dir():
        raise InputError(f"--keep {keep}: is a file, not a folder")
    try:
        entries = sorted(keep.iterdir())
    except OSError as exc:
        raise InputError(f"--keep {keep}: cannot read the folder: {exc.strerror or exc}") from None
    if not entries or (keep / KEPT_MARKER).is_file():
        return
    names = [e.name + ("/" if e.is_dir() else "") for e in entries[:_SHOWN_ENTRIES]]
    more = len(entries) - len(names)
    listing = ", ".join(names) + (f" and {more} more" if more else "")
    raise InputError(
        f"--keep {keep}: the folder is not empty ({listing}) and holds no earlier demo; "
        "the demo writes tasks/, playbooks/ and reports/ there: choose a new or empty folder"
    )


@contextmanager
def demo_project(keep: Path | None) -> Iterator[DemoLayout]:
    """A started sandbox and its project folder; everything stopped (and removed unless kept)."""
    workdir = Path(tempfile.mkdtemp(prefix="taskrun-demo-")) if keep is None else keep.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if keep is not None:
        (workdir / KEPT_MARKER).write_text(
            "A project kept by `taskrun demo --keep`; `taskrun demo --keep` into this folder "
            "runs the demo again here.\n",
            encoding="utf-8",
        )
    runner = _SandboxThread()
    try:
        yield runner.start(workdir)
    finally:
        runner.stop()
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def inside(layout: DemoLayout) -> Iterator[None]:
    """Run from the demo project (paths in the evidence stay short) with its environment."""
    previous_cwd = Path.cwd()
    saved = {key: os.environ.get(key) for key in layout.env}
    os.chdir(layout.workdir)
    os.environ.update(layout.env)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def task_diff(before: bytes, after: bytes, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.decode("utf-8").splitlines(keepends=True),
            after.decode("utf-8").splitlines(keepends=True),
            fromfile=f"{name} (before)",
            tofile=f"{name} (after)",
        )
    )


def demo_worked(outcomes: list[Any]) -> tuple[bool, list[str]]:
    """The demo worked when every check passed except the deliberate failure(s)."""
    problems = []
    deliberate = 0
    for outcome in outcomes:
        for result in outcome.record.results:
            if result.status == "fail" and result.label.startswith(DELIBERATE):
                deliberate += 1
            elif result.status in ("fail", "error"):
                problems.append(
                    f"{result.label} on {result.component}: {result.reason or result.error}"
                )
    if deliberate == 0:
        problems.append("the deliberately failing check did not fail")
    return not problems, problems
