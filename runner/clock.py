"""The one clock. Stages that need the time are given `now` (a `Clock`); only the edges choose
it: the real time, or `TASKRUN_NOW` (ISO 8601 UTC, e.g. `2027-01-02T00:00:00Z`), which fixes
"now" for a whole command — run ids, timestamps, `Last Updated` — so tests and reviews can
reproduce a run. Durations are measured with a monotonic timer, never with this clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from runner.errors import InputError

__all__ = ["NOW_VARIABLE", "Clock", "clock_from_env", "iso_utc", "system_clock"]

NOW_VARIABLE = "TASKRUN_NOW"

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from_env(environ: Mapping[str, str]) -> Clock:
    """`TASKRUN_NOW` when set (a fixed instant), else the system clock."""
    text = environ.get(NOW_VARIABLE, "").strip()
    if not text:
        return system_clock
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"{NOW_VARIABLE}={text!r} is not an ISO 8601 time such as 2027-01-02T00:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fixed = moment.astimezone(UTC)
    return lambda: fixed


def iso_utc(moment: datetime) -> str:
    """`2026-11-24T13:05:50.123Z`: milliseconds, UTC, as run.json writes times."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
