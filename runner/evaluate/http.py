"""Judge an HTTP answer against a playbook probe's expectations: status, latency, body regex,
JSON paths. Pure; a reason in plain words, or None when the answer passes."""

from __future__ import annotations

import json
import re

from runner.models import HttpProbe, JsonExpectation

__all__ = ["json_path", "judge_response", "status_matches"]


def judge_response(
    status: int, body: str, latency_ms: float, probe: HttpProbe, *, judge_body: bool
) -> str | None:
    """Why the answer fails the probe, or None when it passes."""
    if not status_matches(status, probe.expect_status):
        return f"HTTP {status} (expected {_expected_text(probe.expect_status)})"
    if probe.max_latency_ms is not None and latency_ms > probe.max_latency_ms:
        return f"took {latency_ms:.0f} ms (max {probe.max_latency_ms:g} ms)"
    if not judge_body:
        return None
    if probe.body_regex is not None and not re.search(probe.body_regex, body, re.MULTILINE):
        return f"body does not match /{probe.body_regex}/"
    if probe.expect_json:
        try:
            document = json.loads(body)
        except ValueError:
            return "body is not JSON"
        for expectation in probe.expect_json:
            reason = _json_reason(document, expectation)
            if reason:
                return reason
    return None


def status_matches(status: int, expected: tuple[str, ...]) -> bool:
    """`200` matches "200"; `404` matches "4xx"."""
    text = str(status)
    return any(text == want or (want.endswith("xx") and text[0] == want[0]) for want in expected)


def _expected_text(expected: tuple[str, ...]) -> str:
    return " or ".join(expected)


def json_path(document: object, path: str) -> object:
    """The value at a dotted path (`data.0.id`); LookupError when it is not there."""
    value = document
    for part in path.split("."):
        if isinstance(value, list):
            if not re.fullmatch(r"-?[0-9]+", part):
                raise LookupError(path)
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise LookupError(path)
    return value


def _json_reason(document: object, expectation: JsonExpectation) -> str | None:
    path = expectation.path
    try:
        value = json_path(document, path)
    except (LookupError, IndexError):
        return f"JSON {path} is missing"
    op = expectation.op
    if op == "exists":
        return None
    if op == "nonempty":
        return None if value not in (None, "", [], {}) else f"JSON {path} is empty"
    if op == "equals":
        if value == expectation.value:
            return None
        return f"JSON {path} is {_short(value)} (expected {_short(expectation.value)})"
    if op == "matches":
        if isinstance(value, str | int | float) and re.search(str(expectation.value), str(value)):
            return None
        return f"JSON {path} is {_short(value)} (expected to match /{expectation.value}/)"
    if op == "min_length":
        minimum = int(expectation.value)  # type: ignore[call-overload]
        if isinstance(value, list | dict | str) and len(value) >= minimum:
            return None
        size = len(value) if isinstance(value, list | dict | str) else "no length"
        return f"JSON {path} has length {size} (expected at least {minimum})"
    return f"unknown JSON expectation {op!r}"


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"
