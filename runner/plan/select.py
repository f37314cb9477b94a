"""Selection: which tasks a batch run takes (`--status`, `--since`) and which checks of a plan
a filtered run keeps (`--only`, `--component`). Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from runner.markdown.status_values import TEMPLATE_STATUSES, owned_value
from runner.models import Plan, PlannedCheck, TaskDocument

__all__ = [
    "closest",
    "field_value",
    "filter_plan",
    "known_statuses",
    "preconditions_or_validation",
    "result_ids",
    "runs_something",
    "selected_by_status",
]


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
    """A Status Tracking field's value (`current status`, `last updated`) without a note
    written after it, None when absent; a file without Status Tracking answers
    `current status` from its `**Status**:` field."""
    if doc.status is None:
        top = doc.status_field
        if key != "current status" or top is None or top.placeholder:
            return None
        return owned_value(doc.lines[top.line], top).value.strip()
    for field in doc.status.fields:
        if field.key == key and not field.placeholder:
            return owned_value(doc.lines[field.line], field).value.strip()
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


# Kinds that never give a result: setup steps (their output goes to the block's log) and
# checks only shown in the plan.
_NO_RESULT = ("setup", "shown")


def runs_something(plan: Plan) -> bool:
    """The plan has a check (setup steps and shown-only checks are not one)."""
    return any(check.kind not in _NO_RESULT and check.components for check in plan.checks)


def result_ids(plan: Plan) -> frozenset[str]:
    """The ids a run of `plan` gives its results (`<plan id>@<component>`)."""
    return frozenset(
        f"{check.id}@{component}"
        for check in plan.checks
        if check.kind not in _NO_RESULT
        for component in check.components
    )


def known_statuses(docs: Iterable[TaskDocument]) -> tuple[str, ...]:
    """The template's Current Status values, then the others these files use (as written)."""
    known = {status.casefold(): status for status in TEMPLATE_STATUSES}
    for doc in docs:
        value = field_value(doc, "current status")
        if value and value.casefold() not in known:
            known[value.casefold()] = value
    return tuple(known.values())


def closest(name: str, known: Sequence[str]) -> str | None:
    """The known name closest to `name` (case-insensitively), for "did you mean …?"."""
    folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None
