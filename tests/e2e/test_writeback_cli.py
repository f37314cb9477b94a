"""Write-back through the CLI: Change Log items, `--check`, refused writes and `report --apply`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import (
    Project,
    bash_block,
    change_log_items,
    finish,
    kill_pids,
    pids_with_argv,
    status_field,
    task_markdown,
    wait_until,
)

EVIDENCE_START = "<!-- taskrun:evidence -->"


def flag_task(project: Project, flag: Path) -> Path:
    """A task whose only check passes while `flag` exists."""
    commands = bash_block(f"# the flag is up\ntest -e {flag}")
    return project.write_task("W-1.md", task_markdown("W-1", component="lo", commands=commands))


def test_each_run_adds_exactly_one_change_log_item(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    assert len(change_log_items(path.read_text())) == 1
    for expected in (2, 3):
        proc = project.run("validate", "W-1")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        items = change_log_items(path.read_text())
        assert len(items) == expected
        assert project.run_json("W-1")["run_id"] in items[-1]
    assert path.read_text().count(EVIDENCE_START) == 1  # replaced, never stacked
    # Applying the latest run again changes no byte.
    before = path.read_bytes()
    proc = project.run("report", "W-1", "--apply")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.read_bytes() == before


def test_check_without_evidence_exits_4_and_writes_nothing(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    before = path.read_bytes()
    proc = project.run("validate", "W-1", "--check")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert path.read_bytes() == before


def test_check_holds_then_drifts_and_never_writes(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    assert project.run("validate", "W-1").returncode == 0
    recorded = path.read_bytes()
    assert EVIDENCE_START.encode() in recorded

    still = project.run("validate", "W-1", "--check")
    assert still.returncode == 0, still.stdout + still.stderr
    assert path.read_bytes() == recorded

    flag.unlink()  # the recorded pass is no longer true
    drift = project.run("validate", "W-1", "--check")
    assert drift.returncode == 4, drift.stdout + drift.stderr
    assert path.read_bytes() == recorded
    assert project.run_json("W-1")["checks"][0]["status"] == "fail"  # it did run


def test_an_edit_during_the_run_is_kept_and_the_run_applied_later(project: Project) -> None:
    sleep_argv = ("sleep", "2.0113")
    commands = bash_block(f"# takes a while\n{' '.join(sleep_argv)}")
    path = project.write_task("W-2.md", task_markdown("W-2", component="lo", commands=commands))
    original = path.read_text()
    person_line = "Prove the CLI end to end."
    edited = original.replace(person_line, "Prove the CLI end to end, edited by a person.")
    process = project.spawn("validate", "W-2")
    try:
        assert wait_until(lambda: bool(pids_with_argv(sleep_argv)), timeout=15), "sleep not started"
        path.write_text(edited)
        code, out, err = finish(process, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        kill_pids(pids_with_argv(sleep_argv))
    assert code == 5, out + err
    assert "--apply" in out + err
    assert path.read_text() == edited  # the person's edit, and nothing of ours
    run = project.run_json("W-2")
    assert run["state"] == "complete"  # evidence kept

    applied = project.run("report", "W-2", "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    text = path.read_text()
    assert "edited by a person" in text
    assert EVIDENCE_START in text
    assert run["run_id"] in change_log_items(text)[-1]
    assert status_field(text, "Current Status") == "Complete"


def test_two_concurrent_runs_both_land(project: Project) -> None:
    sleep_argv = ("sleep", "1.0117")
    commands = bash_block(f"# overlaps the other run\n{' '.join(sleep_argv)}")
    path = project.write_task("W-3.md", task_markdown("W-3", component="lo", commands=commands))
    processes = [project.spawn("validate", "W-3") for _ in range(2)]
    try:
        results = [finish(p, timeout=30) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        kill_pids(pids_with_argv(sleep_argv))
    assert [code for code, _, _ in results] == [0, 0], results
    run_ids = [d.name for d in project.run_dirs("W-3")]
    assert len(run_ids) == 2
    first, second = (project.run_json("W-3", i) for i in (0, 1))
    # They really overlapped: each started before the other finished.
    assert second["started_at"] < first["finished_at"]
    assert first["started_at"] < second["finished_at"]
    items = change_log_items(path.read_text())
    assert len(items) == 3
    for run_id in run_ids:
        assert sum(f"(run {run_id})" in item for item in items) == 1, items
