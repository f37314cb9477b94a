"""Performance: the measured p50/p95 of a probe and the rule that judges it against a baseline.

Pure. Where baselines are kept is `runner.evidence.baselines`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from runner.models import Status

__all__ = ["Baseline", "Judgement", "judge", "percentile", "probe_slug"]


@dataclass(frozen=True, slots=True)
class Baseline:
    p50_ms: float
    p95_ms: float
    samples: int
    recorded_at: str  # ISO 8601 UTC

    def as_dict(self) -> dict[str, object]:
        return {
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "samples": self.samples,
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True, slots=True)
class Judgement:
    status: Status  # "pass" or "fail"
    reason: str
    limit_ms: float | None  # the p95 above which the measurement fails (None: first run)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (`pct` in 0–100): a value that was actually measured."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def probe_slug(name: str) -> str:
    """`Gateway liveness` → `gateway-liveness` (a file name that is safe everywhere)."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "probe"


def judge(
    measured: Baseline,
    baseline: Baseline | None,
    *,
    tolerance: float,
    tolerance_ms: float,
) -> Judgement:
    """Fail when p95 > baseline p95 × (1 + tolerance) + tolerance_ms; no baseline → pass."""
    shown = f"p50 {measured.p50_ms:.1f} ms, p95 {measured.p95_ms:.1f} ms"
    if baseline is None:
        return Judgement("pass", f"no baseline yet ({shown})", None)
    limit = baseline.p95_ms * (1 + tolerance) + tolerance_ms
    against = (
        f"baseline p95 {baseline.p95_ms:.1f} ms, limit {limit:.1f} ms "
        f"(+{tolerance:.0%} +{tolerance_ms:g} ms)"
    )
    if measured.p95_ms > limit:
        return Judgement("fail", f"p95 {measured.p95_ms:.1f} ms over the {against}", limit)
    return Judgement("pass", f"{shown}; {against}", limit)
