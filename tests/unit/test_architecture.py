"""The rules of the house (docs/architecture.md), checked by walking the package's source.

These read the code, not run it: where a rule says "only here", a new module that breaks it
fails here with its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import runner
from runner.reporters import REPORTERS
from runner.transports import TRANSPORTS
from tests.contract.conftest import TRANSPORT_FACTORIES

PACKAGE = Path(runner.__file__).resolve().parent
STAGE_PACKAGES = (
    "app",
    "project",
    "markdown",
    "bash",
    "plan",
    "lint",
    "execute",
    "transports",
    "evaluate",
    "evidence",
    "reporters",
)
# Pure: no transports, no network or terminal libraries, no files written.
PURE = ("markdown", "bash", "plan", "lint", "evaluate", "reporters", "models.py")
HEAVY_LIBRARIES = ("asyncssh", "httpx", "rich", "typer")


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _in(path: Path, *parts: str) -> bool:
    relative = _relative(path)
    return any(relative == part or relative.startswith(part + "/") for part in parts)


def test_at_most_eight_loose_modules_and_at_least_six_stage_packages() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 8, loose
    packages = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert set(STAGE_PACKAGES) <= set(packages)
    assert len(packages) >= 6


def test_network_libraries_are_imported_only_by_transports_and_the_demo_servers() -> None:
    offenders = [
        f"{_relative(path)}:{line}: {name}"
        for path, tree in _modules()
        for line, name in _imports(tree)
        if name.split(".")[0] in ("asyncssh", "httpx") and not _in(path, "transports", "demo")
    ]
    assert offenders == []


def test_pure_packages_import_no_transport_and_no_heavy_library() -> None:
    offenders = [
        f"{_relative(path)}:{line}: {name}"
        for path, tree in _modules()
        if _in(path, *PURE)
        for line, name in _imports(tree)
        if name.split(".")[0] in HEAVY_LIBRARIES
        or name.startswith(("runner.transports", "runner.execute", "runner.app"))
        or name in ("runner.evidence.atomic", "runner.evidence.store", "runner.evidence.taskfile")
    ]
    assert offenders == []


_WRITES = ("write_text", "write_bytes", "mkstemp", "mkdir", "unlink", "rmtree", "replace")


def test_pure_packages_write_no_files() -> None:
    offenders = []
    for path, tree in _modules():
        if not _in(path, *PURE):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value if isinstance(func, ast.Attribute) else None
            is_os = isinstance(owner, ast.Name) and owner.id in ("os", "shutil", "tempfile")
            if name == "open" and not isinstance(func, ast.Attribute):
                offenders.append(f"{_relative(path)}:{node.lineno}: open()")
            elif name in _WRITES and (is_os or name in ("write_text", "write_bytes")):
                offenders.append(f"{_relative(path)}:{node.lineno}: {name}()")
    assert offenders == []


def test_renames_happen_only_in_the_atomic_writer() -> None:
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("replace", "rename")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and _relative(path) != "evidence/atomic.py"
            ):
                offenders.append(f"{_relative(path)}:{node.lineno}: os.{node.attr}")
    assert offenders == []


def test_stages_never_call_the_app_layer() -> None:
    offenders = [
        f"{_relative(path)}:{line}: {name}"
        for path, tree in _modules()
        if not _in(path, "app", "cli.py")
        for line, name in _imports(tree)
        if name == "runner.app" or name.startswith("runner.app.")
    ]
    assert offenders == []


def test_the_cli_imports_only_requests_and_errors_at_the_top() -> None:
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    top = {name for _, name in _imports(tree) if name.startswith("runner")}
    assert top <= {"runner", "runner.app.requests", "runner.errors", "runner.console"}


def test_imports_are_at_the_top_of_modules() -> None:
    """The deliberate lazy loads use importlib (cli → the command's module; the transport
    registry → the transport's module), never an import statement inside a function."""
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    offenders.append(f"{_relative(path)}:{inner.lineno}")
    allowed = {"cli.py"}  # `_call` imports the console only when a command runs
    assert [o for o in offenders if o.split(":")[0] not in allowed] == []


def test_exactly_one_bash_tokenizer() -> None:
    """Splitting, the guard and lint read shell text through one tokenizer, so the guard
    judges the very words the splitter cut."""
    found = [
        f"{_relative(path)}:{node.name}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith(("Lexer", "Scanner", "Tokenizer"))
    ]
    assert found == ["bash/tokenizer.py:Tokenizer"]


def test_one_answer_to_does_this_only_assign() -> None:
    """Setup steps (split), the names a command sets (guard) and what a block leaves set (lint)
    all come from `bash/assignments.py`."""
    found = [
        f"{_relative(path)}:{node.name}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and ("assign" in node.name.lower() or node.name.lower() in ("variables_set",))
        and _relative(path) != "bash/assignments.py"
    ]
    assert found == []


def test_every_transport_has_a_factory_and_a_contract_fixture() -> None:
    import importlib

    for name, module_name in TRANSPORTS.items():
        module = importlib.import_module(module_name)
        assert callable(module.create), name
    assert set(TRANSPORT_FACTORIES) == set(TRANSPORTS)


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_bytes_for_no_runs_and_one(name: str) -> None:
    from datetime import UTC, datetime

    from runner.models import CheckResult, RunRecord

    record = RunRecord(
        task_id="ENG-1",
        task_path="tasks/ENG-1.md",
        title="t",
        run_id="20270102T000000Z",
        state="complete",
        started_at="2027-01-02T00:00:00.000Z",
        finished_at="2027-01-02T00:00:01.000Z",
        results=(
            CheckResult(
                id="tc1.1-abc@orc",
                plan_id="tc1.1-abc",
                label="ok",
                source="test-commands",
                must_pass=None,
                component="orc",
                host="local",
                command="true",
                status="pass",
            ),
        ),
    )
    out = REPORTERS[name]([record], now=datetime(2027, 1, 2, tzinfo=UTC))
    assert isinstance(out, bytes) and out
