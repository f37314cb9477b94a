"""Progress while checks run: what is running and for how long, the "still running" line a
log gets every so often, and no line per check when output is not a terminal."""

from __future__ import annotations

import threading
import time

import pytest

from runner.console import Console, Heartbeat, Progress, plain_width
from runner.models import CheckResult


def _result(check_id: str, status: str = "pass") -> CheckResult:
    return CheckResult(
        id=check_id,
        plan_id=check_id.split("@")[0],
        label="a check",
        source="test-commands",
        must_pass=None,
        component=check_id.split("@")[1],
        host="local",
        command="true",
        status=status,  # type: ignore[arg-type]
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_and_names_the_slowest() -> None:
    clock = _Clock()
    progress = Progress(clock)
    assert progress.still_running_line() is None
    progress.started("tc1.1-a@llm-01")
    clock.now += 30
    progress.started("tc1.2-b@llm-02")
    progress.started("tc1.2-b@llm-02")  # announced twice: counted once, first start kept
    clock.now += 12
    assert progress.running == 2
    assert progress.still_running_line() == (
        "still running: 2 checks, slowest tc1.1-a@llm-01 (42 s); 0 done"
    )
    progress.finished(_result("tc1.1-a@llm-01", "fail"))
    progress.finished(_result("tc1.3-c@orc", "pass"))  # finished without a start: counted
    assert progress.still_running_line() == (
        "still running: 1 check, slowest tc1.2-b@llm-02 (12 s); 2 done (1 pass, 1 fail)"
    )
    assert "tc1.2-b@llm-02" in progress.live_view().plain
    progress.finished(_result("tc1.2-b@llm-02"))
    assert progress.still_running_line() is None


def test_the_heartbeat_writes_while_checks_run_and_stops() -> None:
    progress = Progress()
    lines: list[str] = []
    wrote = threading.Event()

    def write(line: str) -> None:
        lines.append(line)
        wrote.set()

    beat = Heartbeat(progress, write, interval=0.02)
    progress.started("tc1.1-a@lo")
    beat.ensure_started()
    assert wrote.wait(timeout=5), "no heartbeat line within 5 s"
    beat.stop()
    count = len(lines)
    time.sleep(0.1)
    assert len(lines) == count  # stopped: nothing more
    assert lines[0].startswith("still running: 1 check, slowest tc1.1-a@lo (")
    assert not any(t.name == "taskrun-heartbeat" and t.is_alive() for t in threading.enumerate())


def test_a_plain_console_prints_no_line_per_check(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(heartbeat_interval=0.02)
    assert not console.live_progress
    console.check_started("tc1.1-a@lo", "lo")
    deadline = time.monotonic() + 5
    seen = ""
    while "still running" not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
        seen += capsys.readouterr().err
    assert seen.startswith("still running: 1 check, slowest tc1.1-a@lo"), seen
    console.check_finished(_result("tc1.1-a@lo"))
    console.end_progress()
    captured = capsys.readouterr()
    assert "a check" not in captured.err and captured.out == ""
    console.check_started("tc1.2-b@lo", "lo")  # after the results: no heartbeat again
    time.sleep(0.1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("columns", "width"),
    [(None, 200), ("80", 80), ("150", 150), ("", 200), ("abc", 200), ("5", 200), ("-3", 200)],
)
def test_plain_width_honours_columns(columns: str | None, width: int) -> None:
    environ = {} if columns is None else {"COLUMNS": columns}
    assert plain_width(environ) == width
