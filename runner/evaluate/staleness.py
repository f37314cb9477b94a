"""`report --apply`: may a kept run still be written into the task file?

Not when it would roll the record back (the evidence block already records a newer run), nor
when the file has changed since the run was made (a check added since never ran in it, or a
check of the run is no longer in the file). `--force` applies it anyway. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from runner.models import RunRecord

__all__ = ["run_order_key", "stale_reasons"]

_LISTED = 3
_RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")


def run_order_key(run_id: str) -> tuple[str, int]:
    """Run ids sort by their UTC time, then the `-2`, `-3` … of runs started in one second."""
    match = _RUN_ID.match(run_id)
    if match is None:
        return run_id, 0
    return match.group(1), int(match.group(2) or 1)


def _listing(ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [names.get(i, i) for i in ids[:_LISTED]]
    if len(ids) > _LISTED:
        shown.append(f"{len(ids) - _LISTED} more")
    return ", ".join(shown)


def stale_reasons(
    record: RunRecord,
    *,
    recorded_runs: Collection[str],
    expected_ids: Collection[str] | None,
    names: Mapping[str, str] = {},
) -> list[str]:
    """Why `record` must not be applied over the task file as it is now ([]: it may be).

    `recorded_runs`: the runs the evidence block refers to; `expected_ids`: the result ids a
    run of the file's current plan (with the record's filters) gives, None when unknown;
    `names`: how to name a check id to people.
    """
    reasons = []
    newer = [r for r in recorded_runs if run_order_key(r) > run_order_key(record.run_id)]
    if newer:
        newest = max(newer, key=run_order_key)
        reasons.append(
            f"run {record.run_id} is older than run {newest}, which the task file records "
            "(applying it would roll the record back)"
        )
    if expected_ids is not None:
        ran = {r.id for r in record.results}
        missing = sorted(set(expected_ids) - ran)
        gone = sorted(ran - set(expected_ids))
        parts = []
        if missing:
            listed = _listing(missing, names)
            parts.append(f"{len(missing)} check(s) of the file never ran in it: {listed}")
        if gone:
            listed = _listing(gone, names)
            parts.append(f"{len(gone)} check(s) of the run are no longer in the file: {listed}")
        if parts:
            reasons.append(
                f"run {record.run_id} was made from an earlier version of the task file ("
                + "; ".join(parts)
                + ")"
            )
    return reasons
