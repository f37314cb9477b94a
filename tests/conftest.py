from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import CORPUS, CORPUS_TASKS, REPO, SHARED, corpus_markdown_files, require_corpus

__all__ = ["CORPUS", "CORPUS_TASKS", "REPO", "SHARED", "corpus_markdown_files"]


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real task folder; skips (fails under TASKRUN_REQUIRE_CORPUS=1) where it is missing."""
    return require_corpus()
