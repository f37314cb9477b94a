"""Finding tasks by path, Task ID and FOLDER/ID in the team's own fixture folder (the twin of
the corpus part of test_discovery.py, which needs ../shared/corpus)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.errors import AmbiguousTaskError, InputError
from runner.project.discovery import (
    display_path,
    find_task_files,
    iter_tasks,
    resolve_task,
    scan_tasks,
)
from tests.generations import GEN_TASKS, A, B, C, generation_markdown_files

ROOT = GEN_TASKS


def test_duplicate_id_is_ambiguous_and_lists_both_files() -> None:
    with pytest.raises(AmbiguousTaskError) as caught:
        resolve_task("ENG-005", dirs=[ROOT], cwd=ROOT)
    assert caught.value.candidates == [
        f"{A}/ENG-005-Gateway-Smoke-Test.md",
        f"{C}/05_Retire_Cron_Scheduler.md",
    ]
    assert "FOLDER/ID" in str(caught.value)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"{C}/ENG-005", f"{C}/05_Retire_Cron_Scheduler.md"),
        (f"{A}/ENG-005", f"{A}/ENG-005-Gateway-Smoke-Test.md"),
        (f"tasks/{C}/ENG-001", f"{C}/01_Pin_Scheduler_Runtime.md"),  # a longer folder tail
        ("orchestrator tasks/eng-001", f"{C}/01_Pin_Scheduler_Runtime.md"),  # any case
        ("eng-002.5", f"{A}/ENG-002.5-Configure-Gateway-Environment.md"),  # a decimal sub-ID
        ("MOD-004.1", f"{B}/04-validate-chat-path.md"),  # the file name does not say 004.1
        ("mod-004.2", f"{B}/05-validate-embedding-path.md"),  # CRLF file
        ("MOD-005", f"{B}/05-document-rollback.md"),  # the other `05-` file
        ("ENG-010", f"{C}/10_Document_Scheduler_Rollback.md"),  # BOM file
    ],
)
def test_id_and_folder_queries_pick_one(query: str, expected: str) -> None:
    ref = resolve_task(query, dirs=[ROOT], cwd=ROOT)
    assert display_path(ref.path, ROOT) == expected
    assert ref.path.is_absolute()
    assert ref.doc.task_id is not None
    assert ref.doc.task_id.casefold() == query.rpartition("/")[2].casefold()
    assert ref.doc.path == expected


def test_folder_must_align_with_path_components() -> None:
    # "Tasks" is only the tail of the component "Orchestrator Tasks": no match
    with pytest.raises(InputError, match="in a folder ending 'Tasks'") as caught:
        resolve_task("Tasks/ENG-005", dirs=[ROOT], cwd=ROOT)
    assert not isinstance(caught.value, AmbiguousTaskError)
    assert "05_Retire_Cron_Scheduler.md" in str(caught.value)  # where the ID does live


def test_a_path_works_relative_and_absolute() -> None:
    relative = f"{C}/03_Route_Embeddings_Via_Gateway.md"
    ref = resolve_task(relative, dirs=[Path("nowhere")], cwd=ROOT)
    assert ref.doc.task_id == "ENG-003"
    assert ref.doc.path == relative
    absolute = resolve_task(str(ROOT / relative), dirs=[], cwd=Path("/"))
    assert absolute.path == ROOT / relative


def test_the_template_plans_by_path_only() -> None:
    ref = resolve_task("task-template.md", dirs=[ROOT], cwd=ROOT)
    assert ref.doc.is_task and ref.doc.task_id is None
    assert all(r.path.name != "task-template.md" for r in iter_tasks([ROOT], cwd=ROOT))


def test_unknown_id_says_how_many_files_were_searched() -> None:
    with pytest.raises(InputError) as caught:
        resolve_task("ENG-999", dirs=[ROOT], cwd=ROOT.parent)
    message = str(caught.value)
    assert message.startswith("no task with ID 'ENG-999' under tasks/ (21 task files searched)")


def test_unknown_id_suggests_close_candidates() -> None:
    # MOD-005 refers to "Task `MOD-004`", which was split into MOD-004.1 and MOD-004.2
    with pytest.raises(InputError) as caught:
        resolve_task("MOD-004", dirs=[ROOT], cwd=ROOT)
    assert "did you mean" in str(caught.value)
    assert "MOD-004.1" in str(caught.value)


def test_readme_by_path_is_not_a_task() -> None:
    with pytest.raises(InputError, match="is not a task file"):
        resolve_task(f"{A}/README.md", dirs=[ROOT], cwd=ROOT)


def test_a_directory_is_not_a_task() -> None:
    with pytest.raises(InputError, match=f"^{re.escape(C)} is a directory"):
        resolve_task(C, dirs=[ROOT], cwd=ROOT)


def test_the_non_task_files_never_match() -> None:
    tasks = {ref.path for ref in scan_tasks([ROOT], cwd=ROOT).tasks}
    non_tasks = [p for p in generation_markdown_files() if p not in tasks]
    assert sorted(p.name for p in non_tasks) == ["Load-Test-Notes.md", "README.md", "overview.md"]
    for path in non_tasks:
        with pytest.raises(InputError, match="is not a task file"):
            resolve_task(str(path), dirs=[ROOT], cwd=ROOT)


def test_iter_tasks_gives_the_20_tasks_with_ids() -> None:
    refs = iter_tasks([ROOT], cwd=ROOT)
    assert len(refs) == 20
    assert len({ref.path for ref in refs}) == 20
    scan = scan_tasks([ROOT], cwd=ROOT)
    assert (len(scan.tasks), scan.files_searched, scan.skipped) == (21, 24, ())


def test_find_task_files_lists_every_fixture_markdown_file() -> None:
    found = find_task_files([ROOT])
    assert sorted(found) == generation_markdown_files()
    assert [p.as_posix() for p in found] == sorted(p.as_posix() for p in found)
