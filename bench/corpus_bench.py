"""Parse + plan + lint every Markdown file of the corpus in one process; prints JSON timings.

`python bench/corpus_bench.py CORPUS_DIR [REPEATS]`. The first pass (ShellCheck
included) is what a fresh `taskrun lint --all` pays after its imports; then medians of the
repeats without and with ShellCheck (one subprocess per block). Lint is `runner.lint.task`
when it exists, else `runner.lint.rules.lint_command` on every command check.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

IMPORT_STARTED = time.perf_counter()
from runner.markdown.document import parse_document  # noqa: E402
from runner.plan.build import build_plan  # noqa: E402

try:
    from runner.lint.task import lint_task  # type: ignore[import-not-found]
except ImportError:  # the whole-task linter arrives later
    lint_task = None
try:
    from runner import lint as lint_module
except ImportError:
    lint_module = None  # type: ignore[assignment]
IMPORT_S = time.perf_counter() - IMPORT_STARTED


def corpus_files(root: Path) -> list[Path]:
    """Every Markdown file except the corpus's own README and FINDINGS at its top."""
    skip = {root / "README.md", root / "FINDINGS.md"}
    return sorted(path for path in root.rglob("*.md") if path not in skip)


def plan_context() -> Any:
    """The context `taskrun plan` uses without an inventory (guard and packaged playbooks)."""
    from runner.app.project import Project
    from runner.project.settings import Settings

    settings = Settings(playbooks=Path("/nonexistent/playbooks"))
    return Project(settings, cwd=Path.cwd(), environ={}).plan_context


def lint_one(doc: Any, plan: Any, *, shellcheck: bool) -> int:
    if lint_task is not None:
        found = lint_task(
            doc, plan, provided_env=None, inventory_components=None, shellcheck=shellcheck
        )
        return len(found)
    if lint_module is None:
        return 0
    count = 0
    for check in plan.checks:
        if check.kind != "command":
            continue
        count += len(
            lint_module.lint_command(
                check.command,
                file=doc.path,
                line=check.line,
                section=check.source,
                guard_reason=check.guard_reason,
                available_env=None,
            )
        )
    return count


def one_pass(files: list[tuple[str, bytes]], context: Any, *, shellcheck: bool) -> dict[str, int]:
    tasks = checks = findings = 0
    for path, data in files:
        doc = parse_document(data, path)
        if not doc.is_task:
            continue
        plan = build_plan(doc, context)
        tasks += 1
        checks += len(plan.checks)
        findings += lint_one(doc, plan, shellcheck=shellcheck)
    return {"tasks": tasks, "checks": checks, "findings": findings}


def main() -> int:
    root = Path(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    files = [(str(path.relative_to(root)), path.read_bytes()) for path in corpus_files(root)]
    context = plan_context()
    started = time.perf_counter()
    counts = one_pass(files, context, shellcheck=True)
    first = time.perf_counter() - started
    times = [timed_pass(files, context, shellcheck=False) for _ in range(repeats)]
    with_shellcheck = [timed_pass(files, context, shellcheck=True) for _ in range(repeats)]
    lint_kind = "lint_task" if lint_task is not None else "lint_command per check"
    result = {
        "files": len(files),
        **counts,
        "import_s": IMPORT_S,
        "first_s": first,
        "median_s": statistics.median(times),
        "shellcheck_median_s": statistics.median(with_shellcheck) if lint_task else None,
        "lint": lint_kind,
    }
    print(json.dumps(result))
    return 0


def timed_pass(files: list[tuple[str, bytes]], context: Any, *, shellcheck: bool) -> float:
    started = time.perf_counter()
    one_pass(files, context, shellcheck=shellcheck)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
