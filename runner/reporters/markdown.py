"""summary.md: a human-readable report of one run (also used for GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from runner.models import CheckResult, RunRecord
from runner.redact.neutralise import neutralise

_ICON = {"pass": "✅", "fail": "❌", "error": "⚠️", "skip": "⏭️", "manual": "✋"}


def cell(text: str | None, width: int = 80) -> str:
    """One Markdown table cell: one line, pipes escaped, bounded length, inert for CI."""
    flat = " ".join(neutralise(text or "").split())
    if len(flat) > width:
        flat = flat[: width - 1] + "…"
    return flat.replace("|", "\\|")


def fenced(text: str, info: str = "") -> list[str]:
    """A code block that output cannot close early (its fence is longer than any run of
    backticks inside), with the text made inert for CI."""
    body = neutralise(text.rstrip("\n"))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence]


def _why(result: CheckResult) -> str:
    return result.reason or result.error or ""


def render_summary(record: RunRecord) -> str:
    s = record.summary
    lines = [
        f"# taskrun: {record.task_id or record.task_path}"
        + (f" — {record.title}" if record.title else ""),
        "",
        f"- Task file: `{record.task_path}`",
        f"- Run: `{record.run_id}` ({record.state}), started {record.started_at}",
        f"- Result: {s.passed} passed, {s.failed} failed, {s.errors} errors, "
        f"{s.skipped} skipped, {s.manual} manual (of {s.total})",
        "",
        "| | Check | Component | Host | Result | Duration | Reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record.results:
        duration = f"{r.duration_s:.2f}s" if r.duration_s is not None else ""
        lines.append(
            f"| {_ICON[r.status]} | {cell(r.label, 60)} | {cell(r.component)} | {cell(r.host)} "
            f"| {r.status} | {duration} | {cell(_why(r))} |"
        )
    failing = [r for r in record.results if r.status in ("fail", "error")]
    for r in failing:
        lines += ["", f"## {_ICON[r.status]} {cell(r.label, 100)} ({r.component})", ""]
        if r.command:
            lines += [*fenced(r.command, "bash"), ""]
        lines.append(f"{r.status}: {neutralise(_why(r))}")
        for name, tail in (("stdout", r.stdout_tail), ("stderr", r.stderr_tail)):
            if tail.strip():
                lines += [
                    "",
                    f"<details><summary>{name} (tail)</summary>",
                    "",
                    *fenced(tail),
                    "",
                    "</details>",
                ]
    return "\n".join(lines) + "\n"


def render(records: Sequence[RunRecord], *, now: datetime) -> bytes:
    """The reporter (`REPORTERS["markdown"]`): each run's summary, one after another."""
    return "\n".join(render_summary(record) for record in records).encode("utf-8")
