"""The CLI as a subprocess: plan on the example and the corpus, bad input, start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS_TASKS, REPO, corpus_markdown_files
from tests.corpus import corpus_params
from tests.generations import GEN_TASKS


def taskrun(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 60):
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("TASKRUN_TASKS", None)
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env={**full_env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_plan_of_the_example_task() -> None:
    proc = taskrun("plan", "ENG-001", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "taskrun.plan/1"
    assert doc["task"]["id"] == "ENG-001"
    assert doc["task"]["components"] == ["api-gateway", "llm-01", "llm-02", "orc"]
    commands = [
        c for c in doc["checks"] if c["kind"] == "command" and c["source"] == "test-commands"
    ]
    assert [c["components"] for c in commands] == [
        ["api-gateway"],
        ["api-gateway"],
        ["llm-01", "llm-02"],
        ["orc"],
    ]
    assert (
        commands[1]["command"] == "curl -fsS --max-time 5 http://127.0.0.1:4000/health/liveliness"
    )
    assert commands[1]["label"] == "Gateway answers its liveness probe"
    assert all("guard" not in " ".join(c["notes"]) for c in commands)
    must_pass = [c for c in doc["checks"] if c["source"] == "must-pass"]
    names = list(dict.fromkeys(c["must_pass"] for c in must_pass))
    assert names == ["Service Health", "End-to-End", "Performance", "Security"]
    # backed by the playbooks: real checks, not manual sign-offs
    assert {c["kind"] for c in must_pass} == {"command", "http"}
    liveness = next(c for c in must_pass if c["label"] == "gateway liveness")
    assert any("GET http://127.0.0.1:4000/health/liveliness" in n for n in liveness["notes"])


def test_plan_table_is_readable_text() -> None:
    proc = taskrun("plan", "ENG-001")
    assert proc.returncode == 0, proc.stderr
    assert "ENG-001 — Verify the inference stack" in proc.stdout
    assert "Gateway answers its liveness probe" in proc.stdout


@pytest.mark.parametrize(
    "path",
    corpus_params(corpus_markdown_files(), ids=lambda p: p.relative_to(CORPUS_TASKS).as_posix()),
)
def test_every_corpus_file_plans_or_is_refused_as_not_a_task(corpus_dir: Path, path: Path) -> None:
    proc = taskrun("plan", str(path), "--json")
    text = path.read_text(encoding="utf-8")
    is_template_family = "Task ID" in text and "Status Tracking" in text
    if is_template_family:
        assert proc.returncode == 0, proc.stderr
        json.loads(proc.stdout)
    else:
        assert proc.returncode == 2
        assert "not a task file" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_ambiguous_id_lists_both_candidates(corpus_dir: Path) -> None:
    proc = taskrun("plan", "ENG-005", "--tasks", str(CORPUS_TASKS))
    assert proc.returncode == 2
    assert "Refactor Tasks/05_Deprecate_Monolithic_Main.md" in proc.stderr
    assert "ENG-005-Restart-Service-Verify-Deployment.md" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line


def test_folder_and_id_picks_one(corpus_dir: Path) -> None:
    proc = taskrun("plan", "Refactor Tasks/ENG-005", "--tasks", str(CORPUS_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["task"]["path"].endswith("05_Deprecate_Monolithic_Main.md")


def _bad(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


TASK_HEAD = b"# Engineering Task: X\n\n> **Task ID**: `ENG-900`\n\n## Validation Criteria\n\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.md", b"", "empty file"),
        ("binary.md", b"\x00\x01\x02 PNG", "binary file"),
        ("latin1.md", "caf\xe9 **Task ID**: x".encode("latin-1"), "not UTF-8"),
        ("notask.md", b"# Notes\n\nJust notes.\n", "not a task file"),
        (
            "unterminated.md",
            TASK_HEAD + b"### Test Commands\n\n```bash\necho hi\n\n## Status Tracking\n",
            "unterminated code fence",
        ),
        (
            "baddirective.md",
            TASK_HEAD + b"### Test Commands\n\n```bash\n# taskrun: timout=5\necho hi\n```\n",
            "timout",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = _bad(tmp_path, name, data)
    before = path.read_bytes()
    proc = taskrun("plan", str(path))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert name in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert path.read_bytes() == before


def test_missing_file_directory_and_unknown_id(tmp_path: Path) -> None:
    for args, message in (
        (("plan", str(tmp_path / "nope.md")), "nope.md: no such file"),
        (("plan", str(tmp_path)), "is a directory"),
        (("plan", "ENG-999", "--tasks", str(GEN_TASKS)), "ENG-999"),
    ):
        proc = taskrun(*args)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr


def test_broken_taskrun_yaml_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "taskrun.yaml").write_text("tasks: [unclosed\n")
    proc = taskrun("config", cwd=tmp_path)
    assert proc.returncode == 2
    assert "taskrun.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_version_and_help() -> None:
    assert taskrun("--version").stdout.strip() == "taskrun 0.1.0"
    proc = taskrun("--help")
    assert proc.returncode == 0 and "validate" in proc.stdout


@pytest.mark.parametrize("args", [("--help",), ("plan", "ENG-001", "--json")])
def test_plan_and_help_never_import_network_libraries(args: tuple[str, ...]) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['taskrun', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('runner', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('asyncssh', 'httpx') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert "HEAVY=\n" in proc.stderr, proc.stderr
