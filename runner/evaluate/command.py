"""Judge one command's raw result against its expectation: a status and a reason in plain words.

Pure. `stdout_text`/`stderr_text` are what the executor kept of the streams (the first MiB of
stdout for expectations); `failure_line` carries a ❌ line found while streaming beyond that.
"""

from __future__ import annotations

import re
import signal

from runner.models import Expectation, Status

FAILURE_MARKER = "❌"
# Terminal escape sequences (ECMA-48): CSI (colours, cursor), OSC (titles, links; ended by BEL
# or ST), other two-byte escapes, and a lone ESC.
_TERMINAL_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x1b"
)
_SUDO_PASSWORD = re.compile(r"^sudo: (a password is required|a terminal is required)", re.M)
_MAX_QUOTED = 200


def evaluate(
    exit_code: int | None,
    stdout_text: str,
    expectation: Expectation,
    *,
    stderr_text: str = "",
    timed_out: bool = False,
    timeout_s: float | None = None,
    failure_line: str | None = None,
    sudo_password: bool = False,
) -> tuple[Status, str | None]:
    """Return `(status, reason)`; for `error` the reason is the error message."""
    if timed_out:
        if timeout_s is None:
            return "error", "timed out"
        return "error", f"timed out after {format_seconds(timeout_s)}s"
    if exit_code is None:
        return "error", "the shell ended without an exit status"
    status, reason = _judge(exit_code, stdout_text, stderr_text, expectation, failure_line)
    if status != "pass" and (sudo_password or _SUDO_PASSWORD.search(stderr_text)):
        return "error", "sudo needs a password"
    return status, reason


def _judge(
    exit_code: int,
    stdout_text: str,
    stderr_text: str,
    expectation: Expectation,
    failure_line: str | None,
) -> tuple[Status, str | None]:
    if exit_code != expectation.exit_code:
        return "fail", f"exit {describe_exit(exit_code)} (expected {expectation.exit_code})"
    marker = find_failure_line(stdout_text) or find_failure_line(stderr_text) or failure_line
    if marker is not None:
        return "fail", f"printed a failure marker: {_shorten(marker)}"
    if expectation.stdout_regex is not None:
        try:
            matched = re.search(expectation.stdout_regex, stdout_text, re.MULTILINE)
        except re.error as exc:
            return "error", f"bad expect-stdout regex /{expectation.stdout_regex}/: {exc}"
        if matched is None:
            return "fail", f"stdout did not match /{expectation.stdout_regex}/"
    if expectation.stdout_line is not None:
        wanted = expectation.stdout_line.strip()
        if not any(line.strip() == wanted for line in split_lines(stdout_text)):
            return "fail", f"no stdout line equals {wanted!r}"
    return "pass", None


def strip_terminal_escapes(text: str) -> str:
    r"""`\e[31m❌ down\e[0m` → `❌ down`: the text as a terminal shows it."""
    if "\x1b" not in text:
        return text
    return _TERMINAL_ESCAPE.sub("", text)


def find_failure_line(text: str) -> str | None:
    """The first line whose first non-space character is ❌ (terminal escapes ignored),
    stripped."""
    if FAILURE_MARKER not in text:
        return None
    text = strip_terminal_escapes(text)
    for line in split_lines(text):
        stripped = line.strip()
        if stripped.startswith(FAILURE_MARKER):
            return stripped
    return None


def split_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def describe_exit(code: int) -> str:
    """`137` → `137 (SIGKILL)`: name the signal for 128+N statuses."""
    if 128 < code < 128 + 65:
        try:
            return f"{code} ({signal.Signals(code - 128).name})"
        except ValueError:
            return str(code)
    return str(code)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:g}"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"
