"""`# taskrun:` directives: the comment form (`# taskrun: timeout=5 expect-exit=1`) and the
Runme-style fence info (```` ```bash {on=llm-01} ````), parsed into `Directives`. Pure; an
unknown key or a bad value is an `InputError` naming the line (and the closest known key).
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from collections.abc import Callable, Sequence

from runner.errors import InputError
from runner.models import Directives

__all__ = [
    "DIRECTIVE_KEYS",
    "SKIP_WITHOUT_REASON",
    "parse_directive_comment",
    "parse_fence_info",
]

DIRECTIVE_KEYS = (
    "on",
    "expect-exit",
    "expect-stdout",
    "timeout",
    "retries",
    "retry-delay",
    "skip",
    "mutating",
    "name",
    "pipefail",
)
SKIP_WITHOUT_REASON = "skipped by directive"

# Runme's own cell attributes: a fence info like ```bash {name=x interactive=false}``` must stay
# valid for Runme, so these are accepted in fence info and ignored.
_RUNME_KEYS = frozenset(
    key.casefold()
    for key in (
        "id",
        "interactive",
        "background",
        "closeTerminalOnSuccess",
        "excludeFromRunAll",
        "cwd",
        "interpreter",
        "mimeType",
        "promptEnv",
        "terminalRows",
        "category",
        "skipPrompts",
    )
)

_DIRECTIVE_COMMENT = re.compile(r"^[ \t]*#[ \t]*taskrun:(?P<rest>.*)$", re.IGNORECASE)


class _BadValue(ValueError):
    """A directive value that does not fit its key; the message says what fits."""


def _parse_on(value: str) -> tuple[str, ...]:
    components = tuple(part.strip() for part in value.split(","))
    if not components or any(not part for part in components):
        raise _BadValue("expected COMPONENT[,COMPONENT…] or local")
    return components


def _parse_int(value: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        upper = f"-{high}" if high is not None else " or more"
        raise _BadValue(f"expected a whole number {low}{upper}")
    return number


def _parse_seconds(value: str, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise _BadValue("expected seconds, a number " + (">= 0" if allow_zero else "> 0"))
    return number


def _parse_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _BadValue(f"not a valid regular expression ({exc})") from exc
    return value


def _parse_text(value: str) -> str:
    if not value.strip():
        raise _BadValue("expected a non-empty text")
    return value


def _parse_mutating(value: str) -> bool:
    if value != "ok":
        raise _BadValue("the only value is 'ok'")
    return True


def _parse_pipefail(value: str) -> bool:
    if value not in ("on", "off"):
        raise _BadValue("expected 'on' or 'off'")
    return value == "on"


_CONVERTERS: dict[str, tuple[str, Callable[[str], object]]] = {
    "on": ("on", _parse_on),
    "expect-exit": ("expect_exit", lambda v: _parse_int(v, 0, 255)),
    "expect-stdout": ("expect_stdout", _parse_regex),
    "timeout": ("timeout", lambda v: _parse_seconds(v, allow_zero=False)),
    "retries": ("retries", lambda v: _parse_int(v, 0, None)),
    "retry-delay": ("retry_delay", lambda v: _parse_seconds(v, allow_zero=True)),
    "skip": ("skip", _parse_text),
    "mutating": ("mutating_ok", _parse_mutating),
    "name": ("name", _parse_text),
    "pipefail": ("pipefail", _parse_pipefail),
}


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, DIRECTIVE_KEYS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown directive key '{key}' (known: {', '.join(DIRECTIVE_KEYS)}){hint}"


def _directives_from_pairs(
    pairs: Sequence[tuple[str, str]], *, path: str, line: int, ignore_runme: bool
) -> Directives:
    values: dict[str, object] = {}
    for key, value in pairs:
        if key not in _CONVERTERS:
            if ignore_runme and key.casefold() in _RUNME_KEYS:
                continue
            raise InputError(_unknown_key_message(key), path=path, line=line)
        field_name, convert = _CONVERTERS[key]
        if field_name in values:
            raise InputError(f"directive key '{key}' is given twice", path=path, line=line)
        try:
            values[field_name] = convert(value)
        except _BadValue as exc:
            raise InputError(
                f"bad value {value!r} for directive '{key}': {exc}", path=path, line=line
            ) from None
    return Directives(**values)  # type: ignore[arg-type]


def _split_pairs(text: str, *, path: str, line: int, what: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(text, posix=True)
    except ValueError as exc:
        raise InputError(f"{what}: unbalanced quotes ({exc})", path=path, line=line) from None
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if word == "skip":  # a bare `skip`, as people write it: no reason given
            pairs.append(("skip", SKIP_WITHOUT_REASON))
            continue
        if not sep or not key:
            raise InputError(
                f"{what}: {word!r} is not key=value (e.g. timeout=30)", path=path, line=line
            )
        pairs.append((key, value))
    return pairs


def parse_directive_comment(text: str, *, path: str, line: int) -> Directives | None:
    """Directives of a `# taskrun: key=value …` comment line; None for any other line."""
    match = _DIRECTIVE_COMMENT.match(text)
    if match is None:
        return None
    pairs = _split_pairs(match["rest"], path=path, line=line, what="taskrun directive")
    return _directives_from_pairs(pairs, path=path, line=line, ignore_runme=False)


def _json_pairs(text: str, *, path: str, line: int) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"fence attributes are not valid JSON ({exc})", path=path, line=line
        ) from None
    if not isinstance(data, dict):
        raise InputError("fence attributes must be an object", path=path, line=line)
    pairs = []
    for key, value in data.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((str(key), str(value)))
    return pairs


def parse_fence_info(info: str, *, path: str, line: int) -> Directives:
    """Directives of a Runme-style fence info string: ```` ```bash {on=llm-01 timeout=5} ````."""
    start = info.find("{")
    if start < 0:
        return Directives()
    end = info.rfind("}")
    if end < start:
        raise InputError("fence attributes: '{' without a closing '}'", path=path, line=line)
    inner = info[start + 1 : end].strip()
    if inner.startswith('"'):
        pairs = _json_pairs(info[start : end + 1], path=path, line=line)
    else:
        pairs = _split_pairs(inner, path=path, line=line, what="fence attributes")
    return _directives_from_pairs(pairs, path=path, line=line, ignore_runme=True)
