"""`--notify URL`: POST a JSON summary (Slack-compatible `text`) when a task's state changes.

Only new failures (regressions, new checks failing) and recoveries notify, never an unchanged
night. Sending never raises: a failed notification must not fail the run, so it comes back
as a warning for the caller to print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner.errors import ServiceError
from runner.evaluate.regressions import BROKEN, Comparison, check_name, describe
from runner.models import CheckResult, RunRecord
from runner.transports.http import post_json

NOTIFY_SCHEMA = "taskrun.notify/1"
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Notification:
    sent: bool
    warning: str | None = None  # why it could not be sent (None: sent, or nothing to send)


def state_changed(comparison: Comparison) -> bool:
    """True on new failures or recoveries; `fail` ↔ `error` and skips are not news."""
    return bool(comparison.new_failures or comparison.recovered)


def _check(result: CheckResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "name": check_name(result),
        "component": result.component,
        "status": result.status,
        "reason": result.reason or result.error,
    }


def build_payload(
    record: RunRecord, comparison: Comparison, *, previous_run_id: str | None
) -> dict[str, Any]:
    """`{"text": "…", "taskrun": {…}}`; `text` is what chat webhooks (Slack, Mattermost) show."""
    s = record.summary
    task = record.task_id or record.task_path
    change = describe(comparison, previous_run_id)
    if not change and comparison.new_failures:
        change = "failing: " + ", ".join(check_name(r) for r in comparison.new_failures[:5])
    text = (
        f"taskrun {task} ({record.task_path}): {change or 'outcome changed'} — "
        f"{s.passed}/{s.total - s.manual} passed (run {record.run_id})"
    )
    return {
        "text": text,
        "taskrun": {
            "schema": NOTIFY_SCHEMA,
            "task": {"id": record.task_id, "path": record.task_path, "title": record.title},
            "run_id": record.run_id,
            "previous_run_id": previous_run_id,
            "summary": s.as_dict(),
            "regressed": [_check(r) for r in comparison.regressed],
            "new_failures": [_check(r) for r in comparison.new_checks if r.status in BROKEN],
            "recovered": [_check(r) for r in comparison.recovered],
        },
    }


def redact_url(url: str) -> str:
    """`https://hooks.slack.com/…`: webhook URLs carry their secret in the path and query."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the notification URL"
    if not parts.scheme or not parts.hostname:
        return "the notification URL"
    return f"{parts.scheme}://{parts.hostname}/…"


def _warning(url: str, what: str) -> str:
    return f"notification to {redact_url(url)} failed: {what.replace(url, redact_url(url))}"


def send_notification(
    url: str, payload: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT_S
) -> Notification:
    """POST `payload` as JSON; never raises."""
    try:
        status = post_json(url, payload, timeout_s=timeout)
    # Anything (bad URL, refused, TLS, timeout) is only a warning: the run's result stands.
    except ServiceError as exc:
        return Notification(sent=False, warning=_warning(url, str(exc)))
    if 200 <= status < 300:
        return Notification(sent=True)
    return Notification(sent=False, warning=_warning(url, f"HTTP {status}"))


def notify_on_change(
    url: str,
    record: RunRecord,
    comparison: Comparison,
    *,
    previous_run_id: str | None,
    timeout: float = DEFAULT_TIMEOUT_S,
    mask: Callable[[str], str] = lambda text: text,
) -> Notification:
    """Send only when the state changed; `Notification(sent=False)` without a warning otherwise.
    `mask`: the run's redactor, applied to every string of the payload on its way out."""
    if not state_changed(comparison):
        return Notification(sent=False)
    payload = _masked(build_payload(record, comparison, previous_run_id=previous_run_id), mask)
    return send_notification(url, payload, timeout=timeout)


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item, mask) for key, item in value.items()}
    return value
