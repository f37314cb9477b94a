"""Fast checks of the benchmark's own parts, no fleet: `python -m pytest bench/test_bench.py`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from local import LocalResults  # noqa: E402
from measure import Sample, run_timed  # noqa: E402
from report import ANSIBLE, FLOOR, TASKRUN, FleetResult, evaluate_targets, render  # noqa: E402
from tools import COMMANDS, pids_mentioning, task_markdown  # noqa: E402

from runner.markdown.document import parse_document  # noqa: E402
from runner.plan.build import PlanContext, build_plan  # noqa: E402


def test_generated_task_plans_one_check_per_command_on_every_component() -> None:
    doc = parse_document(task_markdown("BENCH-001", "global", COMMANDS).encode(), "bench.md")
    plan = build_plan(doc, PlanContext(inventory_components=("host1", "host2")))

    assert doc.task_id == "BENCH-001"
    # every command runs; `echo ok` prints a caption, so it runs as a setup step, not a check
    assert [c.command for c in plan.checks if c.kind in ("command", "setup")] == list(COMMANDS)
    assert [c.command for c in plan.checks if c.decorative] == ["echo ok"]
    assert all(c.components == ("host1", "host2") for c in plan.checks)


def test_run_timed_reports_failure_and_child_cpu(tmp_path: Path) -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass"
    ok = run_timed([[sys.executable, "-c", burn]], log=tmp_path / "log", timeout_s=30)
    failed = run_timed([["bash", "-c", "echo oops; exit 3"]], log=tmp_path / "log", timeout_s=30)

    assert ok.ok and ok.cpu_s >= 0.15 and ok.max_rss_mib > 1
    assert not failed.ok and "exit 3" in failed.detail
    assert "oops" in (tmp_path / "log").read_text()


def test_run_timed_kills_the_whole_group_on_timeout(tmp_path: Path) -> None:
    marker = f"bench-test-{os.getpid()}-{time.time_ns()}"
    script = f"sleep 30 & sleep 31; : {marker}"
    started = time.monotonic()
    sample = run_timed([["bash", "-c", script]], log=tmp_path / "log", timeout_s=0.5)

    assert not sample.ok and "timed out" in sample.detail
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while pids_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids_mentioning(marker) == []


def _fleet(taskrun: float, floor: float, ansible: float) -> FleetResult:
    result = FleetResult(hosts=50, commands=10)
    for name, wall in ((TASKRUN, taskrun), (FLOOR, floor), (ANSIBLE, ansible)):
        result.samples[name] = [Sample(wall, wall / 2, 50.0, True)] * 3
    result.samples[ANSIBLE].append(Sample(99.0, 1.0, 1.0, False, "exit 4: ansible"))
    return result


def test_targets_judge_ratios_at_the_largest_fleet() -> None:
    small = FleetResult(hosts=4, commands=10)
    small.samples[TASKRUN] = [Sample(9.0, 1.0, 1.0, True)]
    targets = {t.name: t for t in evaluate_targets([small, _fleet(2.0, 1.0, 30.0)], None)}

    assert targets["taskrun vs bare asyncssh, N=50"].met is False  # 2.0× > 1.3×
    assert targets["Ansible ad-hoc ÷ taskrun, N=50"].met is True  # 15× ≥ 10×
    assert targets["fastest testinfra ÷ taskrun, N=50"].met is None  # not measured


def test_render_lists_failed_runs_and_leaves_them_out_of_medians() -> None:
    local = LocalResults(0.1, 0.2, None, 60.0, 5.0, 5.0, ())
    text = render(
        machine={
            "date": "2026-01-01 00:00 UTC",
            "cpus": "2",
            "cpu_model": "x",
            "memory": "1 GiB",
            "kernel": "k",
            "commit": "abc",
        },
        versions={"python": "3.11"},
        fleets=[_fleet(1.2, 1.0, 30.0)],
        local=local,
        rounds=3,
        quick=False,
        command_line="python bench/run.py",
    )

    assert "| Ansible ad-hoc | 3, 1 failed | 30.0 |" in text
    assert "exit 4: ansible" in text
    assert "| `taskrun --help` | ≤ 0.25 s | 0.100 s | met |" in text
