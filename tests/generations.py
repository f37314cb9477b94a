"""The team's own task fixtures in the corpus's three template generations (tests/fixtures/).

Written for these tests (a made-up LiteLLM gateway on port 4000, Ollama hosts llm-01/llm-02 and
an orchestrator `orc`), they reproduce the shapes FINDINGS.md catalogues, so that a clone with
nothing beside it tests every behaviour the real corpus tests do. tests/fixtures/generations/
README.md lists which file carries which variation. The files are byte-exact on purpose (CRLF,
a BOM, a missing final newline, trailing spaces): .gitattributes keeps git away from them.
"""

from __future__ import annotations

from pathlib import Path

from runner.markdown.document import parse_document

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "generations"
GEN_TASKS = FIXTURES / "tasks"  # the task folder, as `x-Tasks` is in the corpus
GEN_HISTORY = FIXTURES / "history"

A = "Gateway-Rollout-Tasks"  # template v2, the "full" one (Infrastructure Context, Test Commands)
B = "Ollama-Model-Tasks"  # template v1: fences inside Test Steps list items
C = "Orchestrator Tasks"  # the flat "Engineering Task Template" (a space in the folder name)

# One write-back source per generation (C's has no final newline), plus the CRLF and BOM files.
GOLDEN_SOURCES = {
    "A": f"{A}/ENG-002-Write-Gateway-Config.md",
    "B": f"{B}/01-pull-embedding-model.md",
    "C": f"{C}/02_Require_Scheduler_Token.md",
    "CRLF": f"{B}/05-validate-embedding-path.md",
    "BOM": f"{C}/10_Document_Scheduler_Rollback.md",
}


def generation_markdown_files() -> list[Path]:
    """Every Markdown file of the fixture task folder (tasks and non-tasks), sorted."""
    return sorted(GEN_TASKS.rglob("*.md"))


def generation_markdown() -> list[tuple[str, bytes]]:
    """(name, bytes) of every fixture Markdown file (tasks, non-tasks, history): fuzz seeds."""
    paths = generation_markdown_files() + sorted(GEN_HISTORY.glob("*.md"))
    return [(path.name, path.read_bytes()) for path in paths]


def generation_tasks() -> list[tuple[str, bytes]]:
    """(name, bytes) of the fixture files that are tasks with an ID (write-back targets)."""
    return [
        (name, data)
        for name, data in generation_markdown()
        if (doc := parse_document(data, name)).is_task and doc.task_id is not None
    ]


def relative(path: Path) -> str:
    """A fixture's path under the task folder, POSIX style."""
    return path.relative_to(GEN_TASKS).as_posix()
