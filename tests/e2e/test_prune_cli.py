"""`taskrun report --prune DAYS`: keeps the runs task files refer to, never follows a symlink
out of reports/, removes the folders it empties, and `--dry-run` removes nothing (item 10)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Project, bash_block, evidence_rows, task_markdown

OLD = "2026-01-01T00:00:00Z"
LATER = "2026-01-02T00:00:00Z"
NOW = "2026-06-01T00:00:00Z"


def at(moment: str) -> dict[str, str]:
    return {"TASKRUN_NOW": moment}


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_prune_keeps_the_recorded_run_and_removes_what_it_empties(
    project: Project, tmp_path: Path
) -> None:
    commands = bash_block("# fine\ntrue")
    path = project.write_task("P-1.md", task_markdown("P-1", component="lo", commands=commands))
    project.write_task("P-2.md", task_markdown("P-2", component="lo", commands=commands))
    assert project.run("validate", "P-1", env=at(OLD)).returncode == 0
    recorded = evidence_rows(path.read_text())[0]["Run"]
    assert project.run("validate", "P-1", "--no-write", env=at(LATER)).returncode == 0
    assert project.run("validate", "P-2", "--no-write", env=at(OLD)).returncode == 0
    unrecorded = [n for n in names(project.reports / "P-1") if n != recorded]
    assert len(unrecorded) == 1

    # Symlinks into a folder outside reports/: a linked task folder and a linked run.
    outside = tmp_path / "outside"
    (outside / "20250101T000000Z").mkdir(parents=True)
    (outside / "20250101T000000Z" / "keep.txt").write_text("not taskrun's")
    (project.reports / "LINKED").symlink_to(outside)
    (project.reports / "P-1" / "20250102T000000Z").symlink_to(outside / "20250101T000000Z")

    dry = project.run("report", "--prune", "30", "--dry-run", env=at(NOW))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"would remove reports/P-1/{unrecorded[0]}" in dry.stdout
    assert "would remove reports/P-2/" in dry.stdout
    assert f"kept reports/P-1/{recorded}" in dry.stderr
    assert len(names(project.reports / "P-1")) == 3 and names(project.reports / "P-2")

    pruned = project.run("report", "--prune", "30", env=at(NOW))
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert f"removed reports/P-1/{unrecorded[0]}" in pruned.stdout
    assert "removed empty folder reports/P-2" in pruned.stdout
    assert names(project.reports / "P-1") == sorted([recorded, "20250102T000000Z"])
    assert not (project.reports / "P-2").exists()  # emptied, so removed
    assert "a symlink (pruning never follows one)" in pruned.stderr
    assert (outside / "20250101T000000Z" / "keep.txt").read_text() == "not taskrun's"
    assert (project.reports / "LINKED").is_symlink()
    # The task's record still has its evidence behind it.
    shown = project.run("report", "P-1", "--run", recorded)
    assert shown.returncode == 0, shown.stdout + shown.stderr


def test_prune_keeps_runs_a_filtered_record_still_shows(project: Project) -> None:
    commands = bash_block("# liveness\ntrue\n\n# readiness\ntrue")
    path = project.write_task("P-3.md", task_markdown("P-3", component="lo", commands=commands))
    assert project.run("validate", "P-3", env=at(OLD)).returncode == 0
    assert project.run("validate", "P-3", "--only", "readiness", env=at(LATER)).returncode == 0
    rows = {row["Check"]: row["Run"] for row in evidence_rows(path.read_text())}
    assert rows["liveness"] != rows["readiness"]
    pruned = project.run("report", "--prune", "30", env=at(NOW))
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert names(project.reports / "P-3") == sorted(rows.values())


def test_prune_keeps_the_runs_named_in_a_file_it_cannot_read(project: Project) -> None:
    commands = bash_block("# fine\ntrue")
    path = project.write_task("P-4.md", task_markdown("P-4", component="lo", commands=commands))
    assert project.run("validate", "P-4", env=at(OLD)).returncode == 0
    recorded = evidence_rows(path.read_text())[0]["Run"]
    path.write_bytes(path.read_bytes().replace(b"Nothing else.", b"Nothing else \xe9."))
    pruned = project.run("report", "--prune", "30", env=at(NOW))
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert names(project.reports / "P-4") == [recorded]


def test_prune_without_task_files_to_read_removes_nothing(project: Project) -> None:
    commands = bash_block("# fine\ntrue")
    project.write_task("P-5.md", task_markdown("P-5", component="lo", commands=commands))
    assert project.run("validate", "P-5", env=at(OLD)).returncode == 0
    kept = names(project.reports / "P-5")
    proc = project.run("report", "--prune", "30", "--tasks", "nowhere", env=at(NOW))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nothing was pruned" in proc.stderr
    assert names(project.reports / "P-5") == kept
