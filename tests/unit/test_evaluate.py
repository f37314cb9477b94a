"""evaluate(): raw result + expectation → status and a reason in plain words."""

from __future__ import annotations

import pytest

from runner.evaluate.command import (
    describe_exit,
    evaluate,
    find_failure_line,
    strip_terminal_escapes,
)
from runner.evaluate.verdict import outcome_exit_code, unverified_reason
from runner.models import CheckResult, Expectation

DEFAULT = Expectation()

# fmt: off
CASES = [
    # id, exit, stdout, stderr, expectation, extra kwargs, status, reason
    ("exit-0-passes", 0, "ok\n", "", DEFAULT, {}, "pass", None),
    ("exit-7-fails", 7, "", "", DEFAULT, {}, "fail", "exit 7 (expected 0)"),
    ("expected-exit", 3, "", "", Expectation(exit_code=3), {}, "pass", None),
    ("expected-exit-missed", 0, "", "", Expectation(exit_code=3), {}, "fail",
     "exit 0 (expected 3)"),
    ("signal-named", 137, "", "", DEFAULT, {}, "fail", "exit 137 (SIGKILL) (expected 0)"),
    ("marker-stdout", 0, "fine\n❌ down\n", "", DEFAULT, {}, "fail",
     "printed a failure marker: ❌ down"),
    ("marker-indented", 0, "  \t❌ Health check failed  \n", "", DEFAULT, {}, "fail",
     "printed a failure marker: ❌ Health check failed"),
    ("marker-stderr", 0, "", "❌ bad\n", DEFAULT, {}, "fail", "printed a failure marker: ❌ bad"),
    ("marker-crlf", 0, "a\r\n❌ x\r\n", "", DEFAULT, {}, "fail", "printed a failure marker: ❌ x"),
    ("marker-mid-line-is-fine", 0, "status: ❌ means down\n", "", DEFAULT, {}, "pass", None),
    ("marker-from-streaming", 0, "", "", DEFAULT, {"failure_line": "❌ late"}, "fail",
     "printed a failure marker: ❌ late"),
    ("exit-before-marker", 2, "❌ x\n", "", DEFAULT, {}, "fail", "exit 2 (expected 0)"),
    ("regex-match", 0, "version: 1.2\nstatus: ok\n", "", Expectation(stdout_regex=r"^status: ok$"),
     {}, "pass", None),
    ("regex-miss", 0, "status: down\n", "", Expectation(stdout_regex=r"^status: ok$"), {}, "fail",
     "stdout did not match /^status: ok$/"),
    ("regex-bad", 0, "", "", Expectation(stdout_regex="("), {}, "error", None),
    ("line-equal-trimmed", 0, "a\n  200  \n", "", Expectation(stdout_line=" 200"), {}, "pass",
     None),
    ("line-missing", 0, "2000\n", "", Expectation(stdout_line="200"), {}, "fail",
     "no stdout line equals '200'"),
    ("timeout", None, "partial", "", DEFAULT, {"timed_out": True, "timeout_s": 2.0}, "error",
     "timed out after 2s"),
    ("timeout-fraction", None, "", "", DEFAULT, {"timed_out": True, "timeout_s": 0.5}, "error",
     "timed out after 0.5s"),
    ("no-status", None, "", "", DEFAULT, {}, "error", "the shell ended without an exit status"),
    ("sudo-password", 1, "", "sudo: a password is required\n", DEFAULT, {}, "error",
     "sudo needs a password"),
    ("sudo-flag", 0, "❌ no root\n", "", DEFAULT, {"sudo_password": True}, "error",
     "sudo needs a password"),
    ("sudo-handled-passes", 0, "fallback\n", "sudo: a password is required\n", DEFAULT, {}, "pass",
     None),
]
# fmt: on


@pytest.mark.parametrize(
    ("exit_code", "stdout", "stderr", "expectation", "extra", "status", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_evaluate(
    exit_code: int | None,
    stdout: str,
    stderr: str,
    expectation: Expectation,
    extra: dict[str, object],
    status: str,
    reason: str | None,
) -> None:
    got_status, got_reason = evaluate(
        exit_code,
        stdout,
        expectation,
        stderr_text=stderr,
        **extra,  # type: ignore[arg-type]
    )
    assert got_status == status
    if reason is not None or status == "pass":
        assert got_reason == reason
    else:
        assert got_reason  # errors always say why


def test_find_failure_line_returns_first() -> None:
    assert find_failure_line("❌ one\n❌ two\n") == "❌ one"
    assert find_failure_line("✅ fine\n") is None


@pytest.mark.parametrize(("code", "text"), [(1, "1"), (141, "141 (SIGPIPE)"), (255, "255")])
def test_describe_exit(code: int, text: str) -> None:
    assert describe_exit(code) == text


# --------------------------------------------------------------------------- terminal escapes


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31m❌ down\x1b[0m", "❌ down"),
        ("\x1b[1;38;5;196mred\x1b[m", "red"),
        ("\x1b]0;title\x07body", "body"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b(B\x1b=plain\x1b", "plain"),
        ("no escapes ✓", "no escapes ✓"),
    ],
)
def test_strip_terminal_escapes(text: str, shown: str) -> None:
    assert strip_terminal_escapes(text) == shown


def test_a_coloured_failure_marker_is_a_failure_marker() -> None:
    out = "checking…\n\x1b[31m❌ gateway down\x1b[0m\n"
    assert find_failure_line(out) == "❌ gateway down"
    status, reason = evaluate(0, out, Expectation())
    assert (status, reason) == ("fail", "printed a failure marker: ❌ gateway down")


# --------------------------------------------------------------------------- nothing verified


def _result(status: str, reason: str | None = None) -> CheckResult:
    return CheckResult(
        id="c@x",
        plan_id="c",
        label="c",
        source="test-commands",
        must_pass=None,
        component="x",
        host="local",
        command="true",
        status=status,  # type: ignore[arg-type]
        reason=reason,
    )


@pytest.mark.parametrize(
    ("statuses", "why"),
    [
        ((), "the plan has no runnable check"),
        (("manual",), "no check ran: 1 need a person's sign-off"),
        (("skip", "manual", "skip"), "no check ran: 2 skipped (first: guarded), 1 need a"),
        (("pass", "manual"), None),
        (("skip", "error"), None),
        (("fail",), None),
    ],
)
def test_unverified_reason(statuses: tuple[str, ...], why: str | None) -> None:
    results = [_result(s, "guarded" if s == "skip" else None) for s in statuses]
    reason = unverified_reason(results)
    if why is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(why)
    # a run where nothing ran never exits 0
    if reason is not None:
        assert outcome_exit_code(results) == 0  # …by statuses alone: validate makes it 3
