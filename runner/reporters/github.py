"""GitHub Actions output: `::error` annotations on the failing command's line, and the step summary.

Pure: the caller decides from `GITHUB_ACTIONS` / `GITHUB_STEP_SUMMARY` whether to print or
append these.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from datetime import datetime

from runner.models import CheckResult, RunRecord
from runner.redact.neutralise import neutralise
from runner.reporters.markdown import cell, render_summary

# GitHub rejects a step summary over 1 MiB; stay below it with room for other steps' text.
SUMMARY_LIMIT_BYTES = 1000 * 1024
_TAIL_LINES = 5
_ICON = {"pass": "✅", "fail": "❌", "error": "⚠️", "skip": "⏭️", "manual": "✋"}


def escape_data(text: str) -> str:
    """A workflow command's message (after `::`): GitHub's `escapeData`."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (`file=…,title=…`): GitHub's `escapeProperty`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_root(cwd: str, workspace: str | None) -> str:
    """Where task paths start, relative to the repository (`GITHUB_WORKSPACE`): `.` usually."""
    if not workspace:
        return "."
    relative = os.path.relpath(cwd, workspace)
    return "." if relative == os.curdir else relative.replace(os.sep, "/")


def _file_in_repo(task_path: str, task_files_root: str) -> str:
    return posixpath.normpath(posixpath.join(task_files_root, task_path))


def _tail(text: str) -> list[str]:
    return [line for line in text.rstrip("\n").split("\n") if line.strip()][-_TAIL_LINES:]


def _message(result: CheckResult) -> str:
    why = result.reason or result.error or result.status
    lines = [f"{result.label} on {result.component} ({result.host}): {why}"]
    if result.command:
        lines.append(f"$ {result.command}")
    for name, text in (("stdout", result.stdout_tail), ("stderr", result.stderr_tail)):
        tail = _tail(text)
        if tail:
            lines += [f"--- {name} (tail) ---", *tail]
    return "\n".join(lines)


def annotation(result: CheckResult, *, file: str) -> str:
    what = "failed" if result.status == "fail" else "could not run"
    properties = [f"file={escape_property(neutralise(file))}"]
    if result.line:
        properties.append(f"line={result.line}")
    title = neutralise(f"taskrun: {result.label} {what}")
    properties.append(f"title={escape_property(title)}")
    # the message is the command's output: made inert first, then escaped as GitHub does
    return f"::error {','.join(properties)}::{escape_data(neutralise(_message(result)))}"


def workflow_annotations(records: Sequence[RunRecord], *, task_files_root: str = ".") -> list[str]:
    """One `::error file=…,line=…,title=…::message` line per `fail` or `error` check.

    `task_files_root` is the folder task paths are relative to (the current directory),
    given relative to the repository root; see `workspace_root`.
    """
    lines = []
    for record in records:
        file = _file_in_repo(record.task_path, task_files_root)
        lines += [
            annotation(result, file=file)
            for result in record.results
            if result.status in ("fail", "error")
        ]
    return lines


def _overview(records: Sequence[RunRecord]) -> list[str]:
    total = {"pass": 0, "fail": 0, "error": 0, "skip": 0, "manual": 0}
    rows = []
    for record in records:
        s = record.summary.as_dict()
        for status in total:
            total[status] += s[status]
        worst = next((x for x in ("fail", "error") if s[x]), "pass")
        rows.append(
            f"| {_ICON[worst]} | {cell(record.task_id or record.task_path)} "
            f"| `{cell(record.task_path)}` | {s['pass']} | {s['fail']} | {s['error']} "
            f"| {s['skip']} | {s['manual']} | `{record.run_id}` |"
        )
    return [
        f"# taskrun: {len(records)} tasks",
        "",
        f"{total['pass']} passed, {total['fail']} failed, {total['error']} errors, "
        f"{total['skip']} skipped, {total['manual']} manual",
        "",
        "| | Task | File | Pass | Fail | Error | Skip | Manual | Run |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def step_summary(records: Sequence[RunRecord], *, limit_bytes: int = SUMMARY_LIMIT_BYTES) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`: each run's summary.md, under an overview when
    there are several; only the overview when the whole would exceed GitHub's limit."""
    if len(records) == 1:
        full = render_summary(records[0])
        if len(full.encode("utf-8")) <= limit_bytes:
            return full
    overview = _overview(records)
    full = "\n".join(overview) + "\n\n" + "\n".join(render_summary(r) for r in records)
    if len(full.encode("utf-8")) <= limit_bytes:
        return full
    note = "Details left out: over GitHub's step summary size limit. See the `reports/` artifact."
    return "\n".join([*overview, "", note]) + "\n"


def render(records: Sequence[RunRecord], *, now: datetime) -> bytes:
    """The reporter (`REPORTERS["github"]`): the step summary (annotations go to stdout)."""
    return step_summary(records).encode("utf-8")
