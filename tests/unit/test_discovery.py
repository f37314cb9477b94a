"""Finding tasks by path, Task ID and FOLDER/ID, on the corpus and on small synthetic trees."""

from __future__ import annotations

import os
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
from tests.conftest import corpus_markdown_files

RAG = "RAG-Document-Upsert-Endpoint-Tasks"
REFACTOR = "Refactor Tasks"


def task_text(task_id: str, title: str = "Something") -> str:
    return (
        f"# Engineering Task: {title}\n\n"
        f"> **Task ID**: `{task_id}`  \n\n"
        "## Status Tracking\n\n"
        "- **Current Status**: `Not Started`\n"
    )


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- corpus


def test_duplicate_id_is_ambiguous_and_lists_both_files(corpus_dir: Path) -> None:
    with pytest.raises(AmbiguousTaskError) as caught:
        resolve_task("ENG-005", dirs=[corpus_dir], cwd=corpus_dir)
    assert caught.value.candidates == [
        f"{RAG}/ENG-005-Restart-Service-Verify-Deployment.md",
        f"{REFACTOR}/05_Deprecate_Monolithic_Main.md",
    ]
    assert "FOLDER/ID" in str(caught.value)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"{REFACTOR}/ENG-005", f"{REFACTOR}/05_Deprecate_Monolithic_Main.md"),
        (f"{RAG}/ENG-005", f"{RAG}/ENG-005-Restart-Service-Verify-Deployment.md"),
        (f"x-Tasks/{REFACTOR}/ENG-001", f"{REFACTOR}/01_Switch_Runtime_To_Pipeline.md"),
        ("refactor tasks/eng-001", f"{REFACTOR}/01_Switch_Runtime_To_Pipeline.md"),
        ("eng-004.5", f"{RAG}/ENG-004.5-Configure-Environment-Variables.md"),
        ("RAG-004.1", "Rag-Serach-Tasks/04-validate-query-path.md"),
        ("ENG-010", f"{REFACTOR}/10_Document_Rollback_Procedure.md"),
    ],
)
def test_id_and_folder_queries_pick_one(corpus_dir: Path, query: str, expected: str) -> None:
    ref = resolve_task(query, dirs=[corpus_dir], cwd=corpus_dir)
    assert display_path(ref.path, corpus_dir) == expected
    assert ref.path.is_absolute()
    assert ref.doc.task_id is not None
    assert ref.doc.task_id.casefold() == query.rpartition("/")[2].casefold()
    assert ref.doc.path == expected


def test_folder_must_align_with_path_components(corpus_dir: Path) -> None:
    # "Tasks" is only the tail of the component "Refactor Tasks": no match
    with pytest.raises(InputError, match="in a folder ending 'Tasks'") as caught:
        resolve_task("Tasks/ENG-005", dirs=[corpus_dir], cwd=corpus_dir)
    assert not isinstance(caught.value, AmbiguousTaskError)
    assert "05_Deprecate_Monolithic_Main.md" in str(caught.value)  # where the ID does live


def test_a_path_works_relative_and_absolute(corpus_dir: Path) -> None:
    relative = f"{REFACTOR}/03_Migrate_Transform_Middleware.md"
    ref = resolve_task(relative, dirs=[Path("nowhere")], cwd=corpus_dir)
    assert ref.doc.task_id == "ENG-003"
    assert ref.doc.path == relative
    absolute = resolve_task(str(corpus_dir / relative), dirs=[], cwd=Path("/"))
    assert absolute.path == corpus_dir / relative


def test_the_template_plans_by_path_only(corpus_dir: Path) -> None:
    ref = resolve_task("task-template.md", dirs=[corpus_dir], cwd=corpus_dir)
    assert ref.doc.is_task and ref.doc.task_id is None
    assert all(r.path.name != "task-template.md" for r in iter_tasks([corpus_dir], cwd=corpus_dir))


def test_unknown_id_says_how_many_files_were_searched(corpus_dir: Path) -> None:
    with pytest.raises(InputError) as caught:
        resolve_task("ENG-999", dirs=[corpus_dir], cwd=corpus_dir.parent)
    message = str(caught.value)
    assert message.startswith("no task with ID 'ENG-999' under x-Tasks/ (29 task files searched)")


def test_unknown_id_suggests_close_candidates(corpus_dir: Path) -> None:
    with pytest.raises(InputError) as caught:
        resolve_task("RAG-004", dirs=[corpus_dir], cwd=corpus_dir)
    assert "did you mean" in str(caught.value)
    assert "RAG-004.1" in str(caught.value)


def test_readme_by_path_is_not_a_task(corpus_dir: Path) -> None:
    with pytest.raises(InputError, match="is not a task file"):
        resolve_task(f"{RAG}/README.md", dirs=[corpus_dir], cwd=corpus_dir)


def test_a_directory_is_not_a_task(corpus_dir: Path) -> None:
    with pytest.raises(InputError, match=f"^{REFACTOR} is a directory"):
        resolve_task(REFACTOR, dirs=[corpus_dir], cwd=corpus_dir)


def test_the_non_task_files_never_match(corpus_dir: Path) -> None:
    tasks = {ref.path for ref in scan_tasks([corpus_dir], cwd=corpus_dir).tasks}
    non_tasks = [p for p in corpus_markdown_files() if p not in tasks]
    assert len(non_tasks) == 15
    for path in non_tasks:
        with pytest.raises(InputError, match="is not a task file"):
            resolve_task(str(path), dirs=[corpus_dir], cwd=corpus_dir)


def test_iter_tasks_gives_the_28_real_tasks(corpus_dir: Path) -> None:
    refs = iter_tasks([corpus_dir], cwd=corpus_dir)
    assert len(refs) == 28
    assert len({ref.path for ref in refs}) == 28
    scan = scan_tasks([corpus_dir], cwd=corpus_dir)
    assert (len(scan.tasks), scan.files_searched, scan.skipped) == (29, 44, ())


def test_find_task_files_lists_every_corpus_markdown_file(corpus_dir: Path) -> None:
    found = find_task_files([corpus_dir])
    assert sorted(found) == corpus_markdown_files()
    assert [p.as_posix() for p in found] == sorted(p.as_posix() for p in found)


# --------------------------------------------------------------------------- synthetic trees


def test_hidden_folders_are_skipped_and_duplicate_dirs_collapse(tmp_path: Path) -> None:
    write(tmp_path / "tasks" / "a.md", task_text("T-1"))
    write(tmp_path / "tasks" / ".git" / "b.md", task_text("T-2"))
    write(tmp_path / "tasks" / ".hidden.md", task_text("T-3"))
    write(tmp_path / "tasks" / "notes.txt", "Task ID")
    found = find_task_files([Path("tasks"), tmp_path / "tasks"], cwd=tmp_path)
    assert found == [tmp_path / "tasks" / "a.md"]
    with pytest.raises(InputError, match="no task with ID 'T-2'"):
        resolve_task("T-2", dirs=[Path("tasks")], cwd=tmp_path)


def test_symlink_loops_are_followed_once(tmp_path: Path) -> None:
    write(tmp_path / "tasks" / "sub" / "a.md", task_text("T-1"))
    os.symlink(tmp_path / "tasks", tmp_path / "tasks" / "sub" / "loop")
    write(tmp_path / "elsewhere" / "b.md", task_text("T-2"))
    os.symlink(tmp_path / "elsewhere", tmp_path / "tasks" / "linked")
    found = find_task_files([tmp_path / "tasks"])
    assert [display_path(p, tmp_path) for p in found] == ["tasks/linked/b.md", "tasks/sub/a.md"]
    assert resolve_task("t-2", dirs=[Path("tasks")], cwd=tmp_path).doc.task_id == "T-2"


def test_missing_task_dirs_are_named(tmp_path: Path) -> None:
    (tmp_path / "present").mkdir()
    with pytest.raises(InputError, match="task folder not found: gone, also-gone"):
        resolve_task("T-1", dirs=[Path("present"), Path("gone"), Path("also-gone")], cwd=tmp_path)


def test_bad_neighbour_does_not_break_a_lookup(tmp_path: Path) -> None:
    write(tmp_path / "tasks" / "good.md", task_text("T-1"))
    bad = write(tmp_path / "tasks" / "bad.md", b"**Task ID**: `T-1` \xff\xfe broken\n")
    unreadable = write(tmp_path / "tasks" / "locked.md", task_text("T-2"))
    unreadable.chmod(0)
    try:
        ref = resolve_task("T-1", dirs=[Path("tasks")], cwd=tmp_path)
        scan = scan_tasks([Path("tasks")], cwd=tmp_path)
    finally:
        unreadable.chmod(0o644)
    assert ref.path == tmp_path / "tasks" / "good.md"
    skipped_paths = {error.path for error in scan.skipped}
    assert "tasks/bad.md" in skipped_paths
    if os.geteuid() != 0:  # root reads anything
        assert "tasks/locked.md" in skipped_paths
    # named directly, the bad file's own error surfaces
    with pytest.raises(InputError, match="not UTF-8") as caught:
        resolve_task(str(bad), dirs=[Path("tasks")], cwd=tmp_path)
    assert caught.value.path == "tasks/bad.md"


def test_files_without_the_marker_are_not_parsed_as_tasks(tmp_path: Path) -> None:
    # bytes that are not UTF-8 but carry no "Task ID" never reach the parser: nothing skipped
    write(tmp_path / "tasks" / "binary.md", b"\xff\xfe\x00 plain notes\n")
    write(tmp_path / "tasks" / "t.md", task_text("T-1"))
    scan = scan_tasks([Path("tasks")], cwd=tmp_path)
    assert [r.doc.task_id for r in scan.tasks] == ["T-1"]
    assert scan.skipped == ()
    assert scan.files_searched == 2


def test_a_file_given_as_a_task_dir_stands_for_itself(tmp_path: Path) -> None:
    single = write(tmp_path / "one.md", task_text("T-9"))
    assert resolve_task("T-9", dirs=[single], cwd=tmp_path).path == single


def test_missing_md_path_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    with pytest.raises(InputError, match=r"^tasks/nope\.md: no such file$"):
        resolve_task("tasks/nope.md", dirs=[Path("tasks")], cwd=tmp_path)


def test_empty_query_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no task given"):
        resolve_task("  ", dirs=[Path("tasks")], cwd=tmp_path)


def test_paths_outside_cwd_are_shown_absolute(tmp_path: Path) -> None:
    inside = tmp_path / "a" / "b.md"
    assert display_path(inside, tmp_path) == "a/b.md"
    assert display_path(inside, tmp_path / "c") == inside.as_posix()
