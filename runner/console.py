"""The only module that prints: results to stdout, progress and errors to stderr.

Plain text (no colour, no live view) when the stream is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console as RichConsole
from rich.markup import escape
from rich.table import Table

from runner.models import CheckResult, Plan, RunRecord
from runner.redact.neutralise import neutralise

_RUN_COLUMNS = ("result", "check", "component", "host", "time", "reason")
_STATUS_STYLE = {
    "pass": "green",
    "fail": "red",
    "error": "yellow",
    "skip": "blue",
    "manual": "magenta",
}


def _state_note(record: RunRecord) -> str:
    """A run that did not finish says so: its table is not the task's outcome."""
    if record.state == "complete":
        return ""
    return f" ({record.state}: not every check ran; this is not a result)"


def _run_title(record: RunRecord) -> str:
    title = record.task_id or record.task_path
    if record.state == "error":  # a batch task that could not be read or planned
        return f"{title} — not run: the task file could not be read or planned"
    return f"{title} — run {record.run_id}{_state_note(record)}"


def _fit(cell: str, width: int) -> str:
    """Pad to `width`, or cut with an ellipsis; width 0 means the free last column."""
    if not width:
        return cell
    return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "…"


def _plain(stream: Any) -> bool:
    return bool(os.environ.get("NO_COLOR")) or not getattr(stream, "isatty", lambda: False)()


class Console:
    def __init__(self, *, mask: Callable[[str], str] = lambda text: text) -> None:
        self.mask = mask
        out_plain = _plain(sys.stdout)
        err_plain = _plain(sys.stderr)
        self.out = RichConsole(
            file=sys.stdout,
            no_color=out_plain,
            highlight=False,
            soft_wrap=out_plain,
            width=None if not out_plain else 200,
            emoji=False,
        )
        self.err = RichConsole(
            file=sys.stderr, no_color=err_plain, highlight=False, stderr=True, emoji=False
        )
        self.live_progress = not err_plain
        # Plain streams get pre-formatted lines: rich's layout costs ~1 ms a line, which is
        # most of taskrun's own CPU on a 500-check run (bench/RESULTS.md).
        self.plain_out = out_plain
        self.plain_err = err_plain

    def _safe(self, text: str) -> str:
        """Anything that may hold a command's output or a task file's text: secrets masked,
        terminal escapes and CI workflow commands made inert."""
        return neutralise(self.mask(text))

    # ----------------------------------------------------------------- plain messages

    def error(self, message: str) -> None:
        self.err.print(f"taskrun: error: {escape(self._safe(message))}", soft_wrap=True)

    def info(self, message: str) -> None:
        self.err.print(escape(self._safe(message)), soft_wrap=True)

    def json(self, document: object) -> None:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def text(self, text: str) -> None:
        """Text taskrun composed (JSON, its own annotations): masked, printed as it is."""
        sys.stdout.write(self.mask(text))
        sys.stdout.flush()

    # ----------------------------------------------------------------- plan

    def plan(self, plan: Plan, *, extra_notes: Sequence[str] = ()) -> None:
        title = plan.task_id or "(no Task ID)"
        if plan.title:
            title += f" — {plan.title}"
        self.out.print(
            f"{escape(self._safe(title))}\n{escape(self._safe(plan.task_path))}", soft_wrap=True
        )
        components = ", ".join(plan.components) if plan.components else "[]"
        self.out.print(f"components: {escape(components)}", soft_wrap=True)
        table = Table(show_lines=False, expand=False)
        columns = ("id", "line", "label", "section", "components", "kind", "command", "notes")
        for column in columns:
            table.add_column(column, overflow="fold")
        for check in plan.checks:
            command = self._safe(check.command.splitlines()[0] if check.command else "")
            if check.command.count("\n"):
                command += f" (+{check.command.count(chr(10))} lines)"
            directives = " ".join(
                f"{k}={','.join(v) if isinstance(v, tuple) else v}"
                for k, v in check.directives.as_dict().items()
            )
            notes = "; ".join(self._safe(n) for n in check.notes)
            if directives:
                notes = f"[{directives}] {notes}".strip()
            table.add_row(
                check.id,
                str(check.line),
                escape(self._safe(check.label)),
                escape(check.section or check.source),
                escape(", ".join(check.components)),
                check.kind,
                escape(command),
                escape(notes),
            )
        self.out.print(table)
        for skipped in plan.skipped_sections:
            self.out.print(
                f"skipped: {escape(skipped.heading)} (line {skipped.line}): "
                f"{escape(skipped.reason)}",
                soft_wrap=True,
            )
        for note in (*plan.notes, *extra_notes):
            self.out.print(f"note: {escape(self._safe(note))}", soft_wrap=True)

    # ----------------------------------------------------------------- validate

    def check_started(self, check_id: str, component: str) -> None:
        if not self.live_progress:
            return
        self.err.print(f"[dim]… {escape(check_id)} on {escape(component)}[/dim]")

    def check_finished(self, result: CheckResult) -> None:
        style = _STATUS_STYLE[result.status]
        duration = f" {result.duration_s:.2f}s" if result.duration_s is not None else ""
        why = result.reason or result.error or ""
        if self.plain_err:
            text = f"{result.status:6} {result.label} ({result.component}){duration}"
            if why and result.status != "pass":
                text += f": {why}"
            sys.stderr.write(self._safe(text) + "\n")
            return
        line = (
            f"[{style}]{result.status:6}[/{style}] {escape(self._safe(result.label))} "
            f"({escape(self._safe(result.component))}){duration}"
        )
        if why and result.status != "pass":
            line += f": {escape(self._safe(why))}"
        self.err.print(line, soft_wrap=True)

    def run_table(self, record: RunRecord) -> None:
        if self.plain_out:
            self._plain_run_table(record)
            return
        table = Table(title=_run_title(record), expand=False)
        for column in ("result", "check", "component", "host", "time", "reason"):
            table.add_column(column, overflow="fold")
        for result in record.results:
            style = _STATUS_STYLE[result.status]
            duration = f"{result.duration_s:.2f}s" if result.duration_s is not None else ""
            why = result.reason or result.error or ""
            table.add_row(
                f"[{style}]{result.status}[/{style}]",
                escape(self._safe(result.label)),
                escape(self._safe(result.component)),
                escape(self._safe(result.host)),
                duration,
                escape(self._safe(why)),
            )
        self.out.print(table)
        for result in record.results:
            if result.status not in ("fail", "error"):
                continue
            tail = (result.stdout_tail.strip() + "\n" + result.stderr_tail.strip()).strip()
            if tail:
                last = "\n".join(tail.splitlines()[-8:])
                self.out.print(
                    f"--- {escape(self._safe(result.label))} "
                    f"({escape(self._safe(result.component))}) output tail ---",
                    soft_wrap=True,
                )
                self.out.print(escape(self._safe(last)), soft_wrap=True, markup=False)
        s = record.summary
        self.out.print(
            f"{s.passed} passed, {s.failed} failed, {s.errors} errors, {s.skipped} skipped, "
            f"{s.manual} manual — evidence: {escape(str(record.options.get('run_dir', '')))}",
            soft_wrap=True,
        )

    def _plain_run_table(self, record: RunRecord) -> None:
        """The same content as the rich table, as aligned lines, for logs and pipes."""
        rows = [
            (
                result.status,
                result.label,
                result.component,
                result.host,
                f"{result.duration_s:.2f}s" if result.duration_s is not None else "",
                " ".join((result.reason or result.error or "").split()),
            )
            for result in record.results
        ]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(_RUN_COLUMNS)]
        widths = [min(w, 60) for w in widths[:-1]] + [0]
        lines = [_run_title(record)]
        for row in (_RUN_COLUMNS, *rows):
            cells = [_fit(cell, width) for cell, width in zip(row, widths, strict=True)]
            lines.append("  ".join(cells).rstrip())
        for result in record.results:
            if result.status not in ("fail", "error"):
                continue
            tail = (result.stdout_tail.strip() + "\n" + result.stderr_tail.strip()).strip()
            if tail:
                lines.append(f"--- {result.label} ({result.component}) output tail ---")
                lines.extend(tail.splitlines()[-8:])
        s = record.summary
        lines.append(
            f"{s.passed} passed, {s.failed} failed, {s.errors} errors, {s.skipped} skipped, "
            f"{s.manual} manual — evidence: {record.options.get('run_dir', '')}"
        )
        sys.stdout.write(self._safe("\n".join(lines) + "\n"))
        sys.stdout.flush()

    def batch_table(self, outcomes: Sequence[Any]) -> None:
        """One line per task of a batch run."""
        table = Table(title="taskrun: all tasks", expand=False)
        for column in ("task", "file", "pass", "fail", "error", "skip", "manual", "change"):
            table.add_column(column, overflow="fold")
        for outcome in outcomes:
            record = outcome.record
            s = record.summary
            change = ""
            comparison = outcome.comparison
            if comparison is not None and outcome.previous_run_id:
                if comparison.regressed:
                    change = f"{len(comparison.regressed)} regressed"
                if comparison.recovered:
                    change = (change + ", " if change else "") + (
                        f"{len(comparison.recovered)} recovered"
                    )
            table.add_row(
                escape(self._safe(record.task_id or "")),
                escape(self._safe(record.task_path)),
                str(s.passed),
                str(s.failed),
                str(s.errors),
                str(s.skipped),
                str(s.manual),
                change,
            )
        self.out.print(table)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
        table = Table(title=title or None, expand=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(self._safe(str(cell))) for cell in row))
        self.out.print(table)
