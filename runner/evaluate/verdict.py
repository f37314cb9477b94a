"""A run's verdict for the exit code: the statuses of its results, in DESIGN §8's terms. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from runner.errors import EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_OK
from runner.models import CheckResult

__all__ = ["outcome_exit_code"]


def outcome_exit_code(results: Sequence[CheckResult]) -> int:
    """1 when a check failed, else 3 when one could not run, else 0."""
    statuses = {r.status for r in results}
    if "fail" in statuses:
        return EXIT_FAILED
    if "error" in statuses:
        return EXIT_COULD_NOT_RUN
    return EXIT_OK
