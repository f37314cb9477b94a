"""The team's real task folder (`../shared/corpus`), and what a test does where it is missing.

The corpus sits beside the team's own checkout, never inside the repository, so a clone with
nothing beside it has none. A test that reads it asks for the `corpus_dir` fixture, is marked
`needs_corpus`, or calls `require_corpus()`: where the folder is missing the test skips and names
it; with TASKRUN_REQUIRE_CORPUS=1 (CI, which has `../shared`) it fails instead, as
TASKRUN_REQUIRE_SSHD and TASKRUN_REQUIRE_GATEWAY do for their tools. Every behaviour these tests
cover is covered again over the team's own fixtures (tests/generations.py), by twins named
after them (test_generations_*.py, test_lint_generations.py, test_writeback_generations.py, …).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
CORPUS_TASKS = CORPUS / "hx-infrastructure" / "api-gateway" / "x-Tasks"
CORPUS_HISTORY = CORPUS / "history"
REQUIRE_VARIABLE = "TASKRUN_REQUIRE_CORPUS"


def corpus_missing_reason() -> str | None:
    """Why the corpus tests cannot run here, or None when they can."""
    for folder in (SHARED, CORPUS, CORPUS_TASKS, CORPUS_HISTORY):
        if not folder.is_dir():
            return (
                "needs ../shared/corpus (the team's real task folder), which is not beside "
                f"this clone: {folder} is missing"
            )
    return None


def require_corpus() -> Path:
    """In a test: the corpus task folder; skip where it is missing, unless
    TASKRUN_REQUIRE_CORPUS=1 (CI), then fail."""
    reason = corpus_missing_reason()
    if reason is None:
        return CORPUS_TASKS
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but the test {reason}")
    pytest.skip(reason)


# For tests that take no fixture argument (hypothesis tests, module-level corpus data).
needs_corpus = pytest.mark.usefixtures("corpus_dir")


def corpus_markdown_files() -> list[Path]:
    """Every Markdown file of the real task folder (tasks and non-tasks), sorted; [] if absent."""
    return sorted(CORPUS_TASKS.rglob("*.md"))


def corpus_params(values: Sequence[Any], ids: Callable[[Any], str] | None = None) -> list[Any]:
    """Parameters for a test over corpus files. With no corpus, one placeholder that the test's
    `corpus_dir` fixture skips (or fails) with the reason, instead of pytest's silent
    "got empty parameter set"."""
    if values:
        return [pytest.param(value, id=None if ids is None else ids(value)) for value in values]
    return [pytest.param(None, id="corpus-missing")]
