"""A run's verdict for the exit code: the statuses of its results, in DESIGN §8's terms. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from runner.errors import EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_OK
from runner.models import CheckResult

__all__ = ["outcome_exit_code", "unverified_reason"]

# Statuses that mean a check actually ran against the target.
_RAN = ("pass", "fail", "error")


def outcome_exit_code(results: Sequence[CheckResult]) -> int:
    """1 when a check failed, else 3 when one could not run, else 0."""
    statuses = {r.status for r in results}
    if "fail" in statuses:
        return EXIT_FAILED
    if "error" in statuses:
        return EXIT_COULD_NOT_RUN
    return EXIT_OK


def unverified_reason(results: Sequence[CheckResult]) -> str | None:
    """Why nothing was verified when no check ran (every result a sign-off or a skip, or
    none at all); None when at least one check ran. Such a run is not a pass."""
    if any(r.status in _RAN for r in results):
        return None
    if not results:
        return "the plan has no runnable check"
    manual = [r for r in results if r.status == "manual"]
    skipped = [r for r in results if r.status == "skip"]
    parts = []
    if skipped:
        parts.append(f"{len(skipped)} skipped (first: {skipped[0].reason or 'no reason'})")
    if manual:
        parts.append(f"{len(manual)} need a person's sign-off")
    return "no check ran: " + ", ".join(parts)
