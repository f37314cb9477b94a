"""The only module that prints: results to stdout, progress and errors to stderr.

Plain text (no colour, no live view) when the stream is not a terminal or NO_COLOR is set.
Progress while checks run: on a terminal a live view (erased when the results are printed);
in logs no line per check (the results table follows), only a "still running" line every
`HEARTBEAT_INTERVAL_S` seconds, so a long CI run is visibly alive without doubling its log.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console as RichConsole
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
    return bool(os.environ.get("NO_COLOR")) or not _is_terminal(stream)


def _is_terminal(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


PLAIN_WIDTH = 200  # a pipe or a log without COLUMNS: wide enough that tables rarely fold


def plain_width(environ: Mapping[str, str]) -> int:
    """Where output is not a terminal: `COLUMNS` when it is a sensible width, else 200."""
    text = environ.get("COLUMNS", "").strip()
    return int(text) if text.isdigit() and 20 <= int(text) <= 10_000 else PLAIN_WIDTH


# --------------------------------------------------------------------------- progress

# A CI log gets one line this often while checks run, so a long run is visibly alive.
HEARTBEAT_INTERVAL_S = 10.0
_LIVE_ROWS = 5  # running checks shown in the live view, longest-running first


class Progress:
    """Checks started and not finished (and since when), and the outcomes so far.
    Thread-safe: the heartbeat reads it from its own thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}  # "<plan id>@<component>" → when it started
        self._done: Counter[str] = Counter()

    def started(self, check_id: str) -> None:
        with self._lock:
            self._running.setdefault(check_id, self.clock())

    def finished(self, result: CheckResult) -> None:
        with self._lock:
            self._running.pop(result.id, None)
            self._done[result.status] += 1

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def slowest(self, limit: int = 1) -> list[tuple[str, float]]:
        """(check id, seconds running so far), longest first."""
        now = self.clock()
        with self._lock:
            ordered = sorted(self._running.items(), key=lambda item: item[1])
        return [(check_id, now - start) for check_id, start in ordered[:limit]]

    def done_text(self) -> str:
        with self._lock:
            total = sum(self._done.values())
            parts = [f"{self._done[s]} {s}" for s in _STATUS_STYLE if self._done[s]]
        return f"{total} done" + (f" ({', '.join(parts)})" if parts else "")

    def still_running_line(self) -> str | None:
        """`still running: 3 checks, slowest tc1.2-ab12cd@llm-01 (41 s); 12 done (…)`."""
        count = self.running
        slowest = self.slowest()
        if not count or not slowest:
            return None
        check_id, seconds = slowest[0]
        noun = "check" if count == 1 else "checks"
        return (
            f"still running: {count} {noun}, slowest {check_id} ({seconds:.0f} s); "
            f"{self.done_text()}"
        )

    def live_view(self) -> Text:
        text = Text(f"running {self.running} · {self.done_text()}", style="bold")
        for check_id, seconds in self.slowest(_LIVE_ROWS):
            text.append(f"\n  … {check_id}  {seconds:.1f} s", style="dim")
        return text


class Heartbeat:
    """Writes `progress.still_running_line()` every `interval` seconds from a daemon thread
    while checks run; `stop()` ends it and joins the thread."""

    def __init__(
        self, progress: Progress, write: Callable[[str], None], *, interval: float
    ) -> None:
        self.progress = progress
        self.write = write
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._beat, name="taskrun-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            line = self.progress.still_running_line()
            if line:
                self.write(line)


class Console:
    def __init__(
        self,
        *,
        mask: Callable[[str], str] = lambda text: text,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        self.mask = mask
        out_plain = _plain(sys.stdout)
        err_plain = _plain(sys.stderr)
        self.out = RichConsole(
            file=sys.stdout,
            no_color=out_plain,
            highlight=False,
            soft_wrap=out_plain,
            width=None if _is_terminal(sys.stdout) else plain_width(os.environ),
            emoji=False,
        )
        self.err = RichConsole(
            file=sys.stderr, no_color=err_plain, highlight=False, stderr=True, emoji=False
        )
        self.live_progress = (
            not err_plain and self.err.is_terminal and not self.err.is_dumb_terminal
        )
        # Plain streams get pre-formatted lines: rich's layout costs ~1 ms a line, which is
        # most of taskrun's own CPU on a 500-check run (bench/RESULTS.md).
        self.plain_out = out_plain
        self.plain_err = err_plain
        self.progress = Progress()
        self._heartbeat = Heartbeat(self.progress, self._write_err, interval=heartbeat_interval)
        self._live: Live | None = None
        self._progress_over = False

    def _write_err(self, line: str) -> None:
        sys.stderr.write(self._safe(line) + "\n")
        sys.stderr.flush()

    def end_progress(self) -> None:
        """Stop the live view (erasing it) or the heartbeat: the results come next."""
        self._progress_over = True
        self._heartbeat.stop()
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def _safe(self, text: str) -> str:
        """Anything that may hold a command's output or a task file's text: secrets masked,
        terminal escapes and CI workflow commands made inert."""
        return neutralise(self.mask(text))

    # ----------------------------------------------------------------- plain messages

    def error(self, message: str) -> None:
        self.end_progress()
        # Several problems at once (`InputErrors`): each line is an error line of its own.
        for line in self.mask(message).split("\n"):
            self.err.print(f"taskrun: error: {escape(neutralise(line))}", soft_wrap=True)

    def info(self, message: str) -> None:
        self.err.print(escape(self._safe(message)), soft_wrap=True)

    def json(self, document: object) -> None:
        self.end_progress()
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def text(self, text: str) -> None:
        """Text taskrun composed (JSON, its own annotations): masked, printed as it is."""
        self.end_progress()
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
        """A check began: the live view or the heartbeat shows it; no line of its own."""
        self.progress.started(check_id)
        if self._progress_over:
            return
        if self.live_progress:
            if self._live is None:
                self._live = Live(
                    get_renderable=self.progress.live_view,
                    console=self.err,
                    transient=True,
                    refresh_per_second=4,
                )
                self._live.start()
        else:
            self._heartbeat.ensure_started()

    def check_finished(self, result: CheckResult) -> None:
        """Counted in the progress; the result itself is printed once, in the results."""
        self.progress.finished(result)

    def run_table(self, record: RunRecord) -> None:
        self.end_progress()
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
        self.end_progress()
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
