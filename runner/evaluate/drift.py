"""`validate --check`: is the evidence recorded in the task file still true?"""

from __future__ import annotations

from runner.markdown.writeback import hand_edited, recorded_outcomes
from runner.models import RunRecord, TaskDocument


def recorded_outcome_differs(doc: TaskDocument, record: RunRecord) -> tuple[bool, str]:
    """(differs, why). Compares (check id @ component, status) sets, like `cog --check`; a
    filtered run only on the checks it ran. A hand-edited block is not a record to trust."""
    recorded = recorded_outcomes(doc)
    if recorded is None:
        return True, "the task file has no recorded evidence block"
    if hand_edited(doc):
        assert doc.evidence is not None
        line = doc.evidence.start_line + 1
        return True, (
            f"evidence block edited by hand (line {line} of {doc.path}): its checksum does not "
            "match, so what it records cannot be checked; restore it, or write a run over it "
            "with `taskrun report TASK --run RUN-ID --apply --force`"
        )
    now = {(r.id, r.status) for r in record.results}
    before = set(recorded)
    if record.filtered:
        ran = {r.id for r in record.results}
        before = {pair for pair in before if pair[0] in ran}
    if now == before:
        return False, "recorded evidence still holds"
    changed = sorted({cid for cid, _ in now ^ before})
    shown = ", ".join(changed[:5]) + (f" (+{len(changed) - 5} more)" if len(changed) > 5 else "")
    return True, f"outcome differs from the recorded evidence for {shown}"
