"""Selection: which tasks a batch run takes (`--status`, `--since`) and which checks of a plan
a filtered run keeps (`--only`, `--component`). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runner.models import Plan, PlannedCheck, TaskDocument

__all__ = ["field_value", "filter_plan", "selected_by_status"]


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
        wanted = set(components)
        checks = [
            replace(c, components=tuple(x for x in c.components if x in wanted)) for c in checks
        ]
        checks = [c for c in checks if c.components]
    return replace(plan, checks=tuple(checks))


def field_value(doc: TaskDocument, key: str) -> str | None:
    """A Status Tracking field's value (`current status`, `last updated`), None when absent."""
    if doc.status is None:
        return None
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
