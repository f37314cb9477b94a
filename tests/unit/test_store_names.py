"""Report folder names come from Task IDs written by people: any ID gives one plain name."""

from __future__ import annotations

import pytest

from runner.evidence.store import task_folder_name


@pytest.mark.parametrize(
    ("task_id", "name"),
    [
        ("ENG-001", "ENG-001"),
        ("RAG-004.1", "RAG-004.1"),
        ("ENG 1", "ENG_1"),
        ("a/b", "a_b"),
        ("/etc/passwd", "_etc_passwd"),
        (".hidden", "_hidden"),
        (None, "T"),
        ("", "T"),
    ],
)
def test_plain_names(task_id: str | None, name: str) -> None:
    assert task_folder_name(task_id, "tasks/T.md") == name


@pytest.mark.parametrize("task_id", ["..", ".", "...", "../..", "…", "x" * 300, "/", "-"])
def test_unsafe_ids_give_a_safe_distinct_name(task_id: str) -> None:
    name = task_folder_name(task_id, "tasks/T.md")
    assert name not in (".", "..", "") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and len(name) <= 100
    assert name == task_folder_name(task_id, "tasks/other.md")  # stable for the same ID


def test_different_ids_that_clean_alike_stay_apart() -> None:
    assert task_folder_name("..", "t.md") != task_folder_name("...", "t.md")
    assert task_folder_name("x" * 200, "t.md") != task_folder_name("x" * 201, "t.md")
