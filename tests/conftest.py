from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
CORPUS_TASKS = CORPUS / "hx-infrastructure" / "api-gateway" / "x-Tasks"


def corpus_markdown_files() -> list[Path]:
    """Every Markdown file of the real task folder (tasks and non-tasks), sorted."""
    return sorted(CORPUS_TASKS.rglob("*.md"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS_TASKS.is_dir():
        pytest.skip(f"the shared corpus is missing at {CORPUS_TASKS}")
    return CORPUS_TASKS
