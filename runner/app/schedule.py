"""`taskrun schedule --print`: systemd units or a crontab line for a nightly `validate --all`."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from runner.app.requests import ScheduleRequest
from runner.console import Console
from runner.errors import EXIT_OK, InputError
from runner.ops import schedule as units

__all__ = ["run"]


def run(request: ScheduleRequest, console: Console) -> int:
    taskrun_path = shutil.which("taskrun") or str(Path(sys.argv[0]).resolve())
    taskrun_path = str(Path(taskrun_path).resolve())
    extra = tuple(request.args) if request.args else units.DEFAULT_ARGS
    workdir = str(Path.cwd().resolve())
    _warn(console, taskrun_path=taskrun_path, workdir=workdir, args=extra)
    if request.what == "cron":
        console.text(
            units.render_cron(
                taskrun_path=taskrun_path,
                args=extra,
                schedule=request.cron,
                workdir=workdir,
                log_file=request.log_file,
                environment_file=request.env_file,
            )
            + "\n"
        )
        return EXIT_OK
    if request.what not in ("systemd", "systemd-service", "systemd-timer"):
        raise InputError(
            f"--print takes systemd, systemd-service, systemd-timer or cron, not {request.what!r}"
        )
    pair = units.systemd_units(
        taskrun_path=taskrun_path,
        args=extra,
        on_calendar=request.on_calendar,
        workdir=workdir,
        user=request.user,
        environment_file=request.env_file,
    )
    text = {
        "systemd": units.printable_units(pair),
        "systemd-service": pair.service,
        "systemd-timer": pair.timer,
    }[request.what]
    console.text(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _warn(console: Console, *, taskrun_path: str, workdir: str, args: tuple[str, ...]) -> None:
    """On stderr, so the units piped into a file stay clean."""
    temp_dirs = [tempfile.gettempdir(), os.environ.get("TMPDIR", "")]
    for warning in units.schedule_warnings(
        taskrun_path=taskrun_path,
        workdir=workdir,
        args=args,
        temp_dirs=[d for d in temp_dirs if d],
    ):
        console.info(f"warning: {warning}")
