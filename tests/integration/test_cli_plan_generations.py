"""The CLI as a subprocess on the team's own fixtures: every file plans or is refused as not a
task, and duplicate IDs need a folder (the twin of the corpus tests in test_cli_plan.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.generations import GEN_HISTORY, GEN_TASKS, A, C, generation_markdown_files, relative
from tests.integration.test_cli_plan import taskrun

# Read by hand: the files of the template family (a Task ID and a template section).
NOT_TASKS = {f"{A}/README.md", f"{A}/Load-Test-Notes.md", "Ollama-Model-Tasks/overview.md"}
FILES = [*generation_markdown_files(), *sorted(GEN_HISTORY.glob("*.md"))]


def _name(path: Path) -> str:
    return relative(path) if path.is_relative_to(GEN_TASKS) else f"history/{path.name}"


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_every_fixture_file_plans_or_is_refused_as_not_a_task(path: Path) -> None:
    proc = taskrun("plan", str(path), "--json")
    refused = _name(path) in NOT_TASKS or path.name.endswith("@newlines-lost.md")
    if refused:
        assert proc.returncode == 2, proc.stdout
        assert "not a task file" in proc.stderr
        assert "Traceback" not in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["schema"] == "taskrun.plan/1"


def test_ambiguous_id_lists_both_candidates() -> None:
    proc = taskrun("plan", "ENG-002", "--tasks", str(GEN_TASKS))
    assert proc.returncode == 2
    assert f"{C}/02_Require_Scheduler_Token.md" in proc.stderr
    assert "ENG-002-Write-Gateway-Config.md" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line


def test_folder_and_id_picks_one() -> None:
    proc = taskrun("plan", f"{C}/ENG-002", "--tasks", str(GEN_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    task = json.loads(proc.stdout)["task"]
    assert task["path"].endswith("02_Require_Scheduler_Token.md")
    assert task["id"] == "ENG-002"


def test_unknown_id_is_exit_2() -> None:
    proc = taskrun("plan", "ENG-999", "--tasks", str(GEN_TASKS))
    assert proc.returncode == 2, proc.stderr
    assert "ENG-999" in proc.stderr and "Traceback" not in proc.stderr
