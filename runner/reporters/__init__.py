"""Reporters: one protocol, one registry. A reporter renders finished runs into the bytes of one
file; the app writes them (atomically) where `--report NAME=PATH` says. `--json`, `--junit` and
`--prometheus` are aliases of `--report json=-`, `junit=PATH` and `prometheus=PATH`.

Adding a reporter is one module with a `render(records, *, now) -> bytes` and one line in
`REPORTERS`. Reporters are pure: they write nothing themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from runner.models import RunRecord
from runner.reporters import github, json, junit, markdown, prometheus

__all__ = ["REPORTERS", "Reporter"]


class Reporter(Protocol):
    def __call__(self, records: Sequence[RunRecord], *, now: datetime) -> bytes: ...


REPORTERS: dict[str, Reporter] = {
    "json": json.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "prometheus": prometheus.render,
    "github": github.render,
}
