"""Compare a run with what the task file records: what newly fails, what recovered, what changed.

The reference is the outcome the task file's evidence block records, not the newest folder in
reports/: a `--check` or `--no-write` run is not written, so it does not move the reference,
and a regression it saw is still news to the next run that writes. `report --history` compares
kept runs with each other. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from runner.markdown.evidence_table import recorded_rows, recorded_run_id
from runner.models import CheckResult, RunRecord, Status, TaskDocument

BROKEN = frozenset({"fail", "error"})
_LISTED = 5  # names listed in one sentence before "and N more"


@dataclass(frozen=True, slots=True)
class Comparison:
    """How `current` differs from the previous run, check by check (by check id).

    - `regressed`: passed in the previous run, `fail` or `error` now.
    - `recovered`: `fail` or `error` in the previous run, `pass` now.
    - `new_checks`: ids absent from the previous run (all of them when there is none).
    - `gone_checks`: the previous run's checks this run does not have (as of that run).
    - `changed`: the set of (check id, status) differs; always True without a previous run.
      `fail` ↔ `error` and `pass` ↔ `skip` moves count as changes but are neither a
      regression nor a recovery.
    """

    regressed: tuple[CheckResult, ...]
    recovered: tuple[CheckResult, ...]
    new_checks: tuple[CheckResult, ...]
    gone_checks: tuple[CheckResult, ...]
    changed: bool

    @property
    def outcome_changed(self) -> bool:
        return self.changed

    @property
    def new_failures(self) -> tuple[CheckResult, ...]:
        """Checks that newly fail: regressions plus new checks that fail or error."""
        return self.regressed + tuple(r for r in self.new_checks if r.status in BROKEN)


def compare_results(
    previous: Sequence[CheckResult] | None, current: Sequence[CheckResult]
) -> Comparison:
    if previous is None:
        return Comparison((), (), tuple(current), (), changed=True)
    before = {r.id: r for r in previous}
    now_ids = {r.id for r in current}
    was = {r.id: before[r.id].status for r in current if r.id in before}
    regressed = tuple(r for r in current if was.get(r.id) == "pass" and r.status in BROKEN)
    recovered = tuple(r for r in current if was.get(r.id) in BROKEN and r.status == "pass")
    new_checks = tuple(r for r in current if r.id not in before)
    gone_checks = tuple(r for r in previous if r.id not in now_ids)
    changed = {(r.id, r.status) for r in previous} != {(r.id, r.status) for r in current}
    return Comparison(regressed, recovered, new_checks, gone_checks, changed=changed)


def compare_runs(previous: RunRecord | None, current: RunRecord) -> Comparison:
    """Compare `current` with the previous run (None: the task's first run)."""
    return compare_results(None if previous is None else previous.results, current.results)


def recorded_results(doc: TaskDocument) -> tuple[CheckResult, ...] | None:
    """The outcome the evidence block records, check by check (None: the file has no block).

    Only what the table shows comes back (id, label, component, status); that is all a
    comparison reads."""
    rows = recorded_rows(doc)
    if rows is None:
        return None
    return tuple(
        CheckResult(
            id=row.id,
            plan_id=row.id.rpartition("@")[0],
            label=row.check.replace("\\|", "|"),
            source="test-commands",
            must_pass=None,
            component=row.component,
            host="",
            command=None,
            status=cast(Status, row.status),
        )
        for row in rows
    )


def compare_with_recorded(doc: TaskDocument, current: RunRecord) -> tuple[Comparison, str | None]:
    """(comparison, the run the block was written from) for `current` against the outcome the
    task file records. A filtered run is compared only on the checks it ran."""
    recorded = recorded_results(doc)
    if recorded is None:
        return compare_results(None, current.results), None
    if current.filtered:
        ran = {r.id for r in current.results}
        recorded = tuple(r for r in recorded if r.id in ran)
    return compare_results(recorded, current.results), recorded_run_id(doc)


def previous_run(
    runs: Sequence[RunRecord], *, before_run_id: str | None = None
) -> RunRecord | None:
    """The run to compare with: the latest finished (`complete`) run, oldest-first `runs`.

    Interrupted runs are partial, so comparing with one would report every check it did not
    reach as gone. `before_run_id` excludes that run and everything after it.
    """
    candidates = list(runs)
    if before_run_id is not None:
        ids = [r.run_id for r in candidates]
        if before_run_id in ids:
            candidates = candidates[: ids.index(before_run_id)]
    for run in reversed(candidates):
        if run.state == "complete" and not run.options.get("pre"):  # `--pre`: other checks
            return run
    return None


def check_name(result: CheckResult) -> str:
    """`Gateway liveness on api-gateway`: how people name a check in one line."""
    label = " ".join(result.label.split()) or result.id
    return f"{label} on {result.component}" if result.component else label


def regression_names(comparison: Comparison) -> list[str]:
    """The regressed checks' names, as write-back's Change Log item lists them."""
    return [check_name(r) for r in comparison.regressed]


def _listing(results: Sequence[CheckResult], limit: int) -> str:
    names = [check_name(r) for r in results]
    if len(names) > limit:
        names = [*names[:limit], f"and {len(names) - limit} more"]
    return ", ".join(names)


def describe(comparison: Comparison, previous_run_id: str | None, *, limit: int = _LISTED) -> str:
    """One sentence: `regressed since 20261120T010000Z: A on x; recovered: B on y`.

    Empty when nothing regressed, recovered or newly fails.
    """
    since = f" since {previous_run_id}" if previous_run_id else ""
    parts = []
    if comparison.regressed:
        parts.append(f"regressed{since}: {_listing(comparison.regressed, limit)}")
    new_broken = [r for r in comparison.new_checks if r.status in BROKEN]
    # Without a previous run every check is new; "new check failing" would then be noise.
    if new_broken and previous_run_id:
        parts.append(f"new check failing: {_listing(new_broken, limit)}")
    if comparison.recovered:
        parts.append(f"recovered: {_listing(comparison.recovered, limit)}")
    return "; ".join(parts)


def _counts(record: RunRecord) -> str:
    s = record.summary
    counted = s.total - s.manual
    words = [f"{s.passed}/{counted} passed"]
    words += [
        f"{n} {word}"
        for n, word in (
            (s.failed, "failed"),
            (s.errors, "error" if s.errors == 1 else "errors"),
            (s.skipped, "skipped"),
        )
        if n
    ]
    if s.manual:
        words.append(f"{s.manual} manual")
    return ", ".join(words)


def _when(record: RunRecord) -> str:
    # "2026-11-24T13:05:50.123Z" → "2026-11-24 13:05:50Z"; anything else is shown as written.
    stamp = record.started_at
    if len(stamp) >= 19 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:19]}Z"
    return stamp


def history_lines(runs: Sequence[RunRecord]) -> list[str]:
    """One line per run (oldest first, as `iter_runs` gives them) for `report --history`.

    `20261124T130550Z  2026-11-24 13:05:50Z  7/8 passed, 1 failed  regressed: …`; each run
    is compared with the last complete run before it.
    """
    lines = []
    for index, record in enumerate(runs):
        parts = [record.run_id, _when(record), _counts(record)]
        if record.state != "complete":
            parts.append(f"({record.state})")
        if record.filtered:
            parts.append("(filtered)")
        # An interrupted run is partial: comparing it would report unreached checks as gone.
        before = previous_run(runs[:index]) if record.state == "complete" else None
        if before is not None:
            comparison = compare_runs(before, record)
            change = describe(comparison, before.run_id or None)
            if change:
                parts.append(change)
            elif comparison.changed:
                parts.append("outcome changed")
        lines.append("  ".join(parts))
    return lines
