"""`validate --check`: is the evidence recorded in the task file still true?"""

from __future__ import annotations

from runner.markdown.writeback import recorded_outcomes
from runner.models import RunRecord, TaskDocument


def recorded_outcome_differs(doc: TaskDocument, record: RunRecord) -> tuple[bool, str]:
    """(differs, why). Compares (check id @ component, status) sets, like `cog --check`."""
    recorded = recorded_outcomes(doc)
    if recorded is None:
        return True, "the task file has no recorded evidence block"
    now = {(r.id, r.status) for r in record.results}
    before = set(recorded)
    if now == before:
        return False, "recorded evidence still holds"
    changed = sorted({cid for cid, _ in now ^ before})
    shown = ", ".join(changed[:5]) + (f" (+{len(changed) - 5} more)" if len(changed) > 5 else "")
    return True, f"outcome differs from the recorded evidence for {shown}"
