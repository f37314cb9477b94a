"""Configuration from elsewhere and paths from task files (issue 17 items 12 and 13), through the
real CLI: a settings or inventory file another user can change is refused, the settings file in
effect is named, and no Task ID writes evidence outside `reports/`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, bash_block, task_markdown

PASSING = bash_block("test 2 -gt 1")


def _task(project: Project, task_id: str = "T-1") -> Path:
    return project.write_task("T-1.md", task_markdown(task_id, component="lo", commands=PASSING))


# --------------------------------------------------------------------------- item 12


def test_plan_and_validate_name_the_settings_file_found_in_a_parent_folder(
    project: Project,
) -> None:
    _task(project)
    parent = project.root.parent / "taskrun.yaml"
    parent.write_text("timeout: 30\n")
    try:
        plan = project.run("plan", "T-1")
        assert plan.returncode == 0, plan.stderr
        assert "settings: ../taskrun.yaml" in plan.stdout
        plan_json = project.run("plan", "T-1", "--json")
        assert "settings: ../taskrun.yaml" in plan_json.stdout
        run = project.run("validate", "T-1", "--no-write")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "settings: ../taskrun.yaml" in run.stderr
    finally:
        parent.unlink()
    quiet = project.run("plan", "T-1")
    assert "settings:" not in quiet.stdout


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
@pytest.mark.parametrize("which", ["settings", "inventory"])
def test_writable_by_others_is_refused_with_the_path(
    project: Project, mode: int, which: str
) -> None:
    path = _task(project)
    before = path.read_bytes()
    target = project.root / "taskrun.yaml" if which == "settings" else project.inventory
    if which == "settings":
        target.write_text("timeout: 30\n")
    target.chmod(mode)
    for command in (("plan", "T-1"), ("validate", "T-1")):
        proc = project.run(*command)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        shown = "taskrun.yaml" if which == "settings" else str(project.inventory)
        assert f"{shown}: refusing the" in proc.stderr
        assert "writable" in proc.stderr and "chmod go-w" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert path.read_bytes() == before
    assert not list(project.reports.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user (chown)")
@pytest.mark.parametrize("which", ["settings", "inventory"])
def test_owned_by_another_user_is_refused(project: Project, which: str) -> None:
    _task(project)
    target = project.root / "taskrun.yaml" if which == "settings" else project.inventory
    if which == "settings":
        target.write_text("timeout: 30\n")
    os.chown(target, 65534, 65534)  # nobody
    proc = project.run("validate", "T-1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "owned by another user (uid 65534)" in proc.stderr


def test_own_files_with_private_modes_are_accepted(project: Project) -> None:
    _task(project)
    (project.root / "taskrun.yaml").write_text("timeout: 30\n")
    (project.root / "taskrun.yaml").chmod(0o600)
    project.inventory.chmod(0o640)
    proc = project.run("validate", "T-1", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- item 13


@pytest.mark.parametrize("task_id", ["..", ".", "../../escape", "/tmp/abs", ".hidden", "a/b"])
def test_any_task_id_keeps_evidence_inside_reports(project: Project, task_id: str) -> None:
    _task(project, task_id)
    outside_before = sorted(p.name for p in project.root.iterdir())
    proc = project.run("validate", "tasks/T-1.md", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in project.root.iterdir()) == outside_before
    runs = list(project.reports.rglob("run.json"))
    assert len(runs) == 1
    folder = runs[0].parent.parent
    assert folder.parent == project.reports  # reports/<one safe name>/<run id>/
    assert not folder.name.startswith(".")
    again = project.run("report", "tasks/T-1.md")
    assert again.returncode == 0, again.stdout + again.stderr
