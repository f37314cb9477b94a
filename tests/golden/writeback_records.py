"""Fixed run records and corpus (and fixture) helpers shared by the write-back tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from runner.markdown.document import parse_document
from runner.models import CheckResult, RunRecord, Status, TaskDocument
from tests import generations

REPO = Path(__file__).resolve().parents[2]
CORPUS_TASKS = REPO.parent / "shared" / "corpus" / "hx-infrastructure" / "api-gateway" / "x-Tasks"
GOLDEN = Path(__file__).resolve().parent / "expected"

# One file per template generation: A (full v2), B (v1), C (flat; no final newline).
GOLDEN_SOURCES = {
    "A": "RAG-Document-Upsert-Endpoint-Tasks/ENG-002-Implement-Services-Module.md",
    "B": "Rag-Serach-Tasks/01-deploy-rag-code.md",
    "C": "Refactor Tasks/02_Migrate_Security_Middleware.md",
}
TODAY = "2026-11-24"
RUN_ID = "20261124T130550Z"


def result(
    status: Status,
    *,
    label: str = "Verify file creation",
    component: str = "api-gateway",
    number: int = 1,
    **extra: object,
) -> CheckResult:
    values: dict[str, object] = {
        "id": f"tc{number}-abc123@{component}",
        "plan_id": f"tc{number}-abc123",
        "label": label,
        "source": "test-commands",
        "must_pass": None,
        "component": component,
        "host": "192.168.10.39",
        "command": "test -s /opt/x",
        "status": status,
        "exit_code": 0 if status == "pass" else (None if status in ("skip", "manual") else 1),
        "started_at": "2026-11-24T13:05:51Z",
        "duration_s": 0.25,
    }
    values.update(extra)
    return CheckResult(**values)  # type: ignore[arg-type]


def standard_results() -> tuple[CheckResult, ...]:
    """7 of 8 non-manual checks pass, one fails on llm-02, and one item is manual."""
    passing = tuple(result("pass", label=f"Check number {n}", number=n) for n in range(1, 8))
    failing = result(
        "fail",
        label="Service Health",
        component="llm-02",
        number=8,
        host="192.168.10.29",
        source="must-pass",
        must_pass="Service Health",
        reason="HTTP 503 from http://127.0.0.1:4000/health | want 200",
        duration_s=1.5,
    )
    manual = result(
        "manual",
        label="Security",
        number=9,
        source="must-pass",
        must_pass="Security",
        reason="no playbook; needs a person's sign-off",
        duration_s=None,
    )
    return (*passing, failing, manual)


def record(
    results: tuple[CheckResult, ...] | None = None,
    *,
    run_id: str = RUN_ID,
    task_id: str | None = "ENG-002",
    filtered: bool = False,
) -> RunRecord:
    return RunRecord(
        task_id=task_id,
        task_path="tasks/x.md",
        title="A task",
        run_id=run_id,
        state="complete",
        started_at="2026-11-24T13:05:50Z",
        finished_at="2026-11-24T13:06:10Z",
        results=standard_results() if results is None else results,
        filtered=filtered,
    )


def corpus_task_files() -> list[Path]:
    """Every corpus file that parses as a task (the template included)."""
    found = []
    for path in sorted(CORPUS_TASKS.rglob("*.md")):
        if parse_document(path.read_bytes(), str(path)).is_task:
            found.append(path)
    return found


def copy_corpus(relative: str, folder: Path) -> Path:
    source = CORPUS_TASKS / relative
    target = folder / source.name
    shutil.copyfile(source, target)
    return target


def copy_task(template: str, folder: Path) -> Path:
    """A copy of the team's own fixture of template generation "A", "B" or "C" (C's has no
    final newline, like the corpus's), for tests that only need a task file on disk."""
    source = generations.GEN_TASKS / generations.GOLDEN_SOURCES[template]
    target = folder / source.name
    shutil.copyfile(source, target)
    return target


def parse(data: bytes, path: str = "task.md") -> TaskDocument:
    return parse_document(data, path)
