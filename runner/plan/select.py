"""Selection: which tasks a batch run takes (`--status`, `--since`) and which checks of a plan
a filtered run keeps (`--only`, `--component`). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runner.models import Plan, PlannedCheck, TaskDocument

__all__ = ["field_value", "filter_plan", "preconditions_or_validation", "selected_by_status"]


def preconditions_or_validation(plan: Plan, *, pre: bool) -> Plan:
    """`validate --pre`: only the pre-flight checks (kind "pre") and the setup steps of their
    blocks; otherwise everything but them. The two are never counted together."""
    pre_sessions = {c.session for c in plan.checks if c.kind == "pre"}
    other_sessions = {c.session for c in plan.checks if c.kind not in ("pre", "setup")}

    def kept(check: PlannedCheck) -> bool:
        if check.kind == "setup":
            in_pre = check.session in pre_sessions and check.session not in other_sessions
            return in_pre if pre else not in_pre
        return (check.kind == "pre") is pre

    return replace(plan, checks=tuple(c for c in plan.checks if kept(c)))


def filter_plan(plan: Plan, *, only: str | None, components: Sequence[str]) -> Plan:
    """--only TEXT / --component C. Setup steps of a kept check's session stay (its variables)."""
    checks: Sequence[PlannedCheck] = plan.checks
    if only:
        needle = only.casefold()

        def matches(check: PlannedCheck) -> bool:
            return any(
                needle in (text or "").casefold()
                for text in (check.id, check.label, check.command, check.must_pass)
            )

        kept_sessions = {c.session for c in checks if c.kind != "setup" and matches(c)}
        checks = [
            c
            for c in checks
            if (c.kind == "setup" and c.session in kept_sessions)
            or (c.kind != "setup" and matches(c))
        ]
    if components:
        wanted = {name.casefold() for name in components}  # one spelling-blind comparison
        checks = [
            replace(c, components=tuple(x for x in c.components if x.casefold() in wanted))
            for c in checks
        ]
        checks = [c for c in checks if c.components]
    return replace(plan, checks=tuple(checks))


def field_value(doc: TaskDocument, key: str) -> str | None:
    """A Status Tracking field's value (`current status`, `last updated`), None when absent;
    a file without Status Tracking answers `current status` from its `**Status**:` field."""
    if doc.status is None:
        top = doc.status_field
        return top.value.strip() if key == "current status" and top is not None else None
    for field in doc.status.fields:
        if field.key == key and not field.placeholder:
            return field.value.strip()
    return None


def selected_by_status(doc: TaskDocument, *, statuses: Sequence[str], since: str | None) -> bool:
    """`--status S` (any of, case-insensitive) and `--since DATE` (Last Updated on or after)."""
    wanted = {s.casefold() for s in statuses}
    status = (field_value(doc, "current status") or "").casefold()
    if wanted and status not in wanted:
        return False
    if since is not None:
        updated = field_value(doc, "last updated") or ""
        if not updated[:10] >= since:
            return False
    return True
