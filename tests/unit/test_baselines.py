"""Performance baselines: percentiles, the tolerance rule, and the store's write discipline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.errors import EvidenceError, InputError
from runner.evaluate.performance import Baseline, judge, percentile, probe_slug
from runner.evidence.baselines import BASELINE_SCHEMA, BASELINES_SCHEMA, BaselineStore


def base(p95: float, p50: float = 1.0) -> Baseline:
    return Baseline(p50_ms=p50, p95_ms=p95, samples=20, recorded_at="2026-11-24T13:05:50.000Z")


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([4.0, 3.0, 2.0, 1.0], 95, 4.0),
        ([float(v) for v in range(1, 21)], 95, 19.0),
        ([float(v) for v in range(1, 21)], 50, 10.0),
        ([float(v) for v in range(1, 101)], 95, 95.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_percentile_of_nothing_is_a_bug() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_judge_allows_tolerance_plus_fixed_milliseconds() -> None:
    baseline = base(p95=100.0)
    limit = 100.0 * 1.25 + 20.0
    at_limit = judge(base(p95=limit), baseline, tolerance=0.25, tolerance_ms=20.0)
    assert at_limit.status == "pass" and at_limit.limit_ms == limit
    over = judge(base(p95=limit + 0.1), baseline, tolerance=0.25, tolerance_ms=20.0)
    assert over.status == "fail"
    assert over.reason.startswith("p95 145.1 ms over the baseline p95 100.0 ms, limit 145.0 ms")


def test_judge_without_a_baseline_passes() -> None:
    verdict = judge(base(p95=3.0), None, tolerance=0.25, tolerance_ms=20.0)
    assert verdict.status == "pass" and verdict.limit_ms is None


def test_probe_slug() -> None:
    assert probe_slug("Gateway liveness latency") == "gateway-liveness-latency"
    assert probe_slug("../../etc") == "etc"
    assert probe_slug("!!!") == "probe"


def test_the_first_baseline_is_recorded_then_only_with_update(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    assert store.get("llm-01", "ollama version latency") is None
    assert store.may_record("llm-01", "ollama version latency")
    written = store.record("llm-01", "ollama version latency", base(p95=12.34))
    assert written == tmp_path / "baselines" / "llm-01" / "ollama-version-latency.json"
    document = json.loads(written.read_text())
    assert document["schema"] == BASELINE_SCHEMA
    assert (document["component"], document["p95_ms"]) == ("llm-01", 12.34)
    assert store.get("llm-01", "ollama version latency") == base(p95=12.34)
    assert not store.may_record("llm-01", "ollama version latency")
    updating = BaselineStore(tmp_path / "baselines", update=True)
    assert updating.may_record("llm-01", "ollama version latency")


def test_a_fixed_file_is_read_only_without_update(tmp_path: Path) -> None:
    fixed = tmp_path / "ci-baselines.json"
    fixed.write_text(
        json.dumps(
            {
                "schema": BASELINES_SCHEMA,
                "baselines": {"api-gateway/gateway-liveness-latency": base(p95=8.0).as_dict()},
            }
        )
    )
    before = fixed.read_bytes()
    store = BaselineStore(tmp_path / "baselines", fixed_file=fixed)
    assert store.get("api-gateway", "gateway liveness latency") == base(p95=8.0)
    assert store.get("llm-01", "ollama version latency") is None
    assert not store.may_record("llm-01", "ollama version latency")
    with pytest.raises(EvidenceError, match="read-only"):
        store.record("llm-01", "ollama version latency", base(p95=1.0))
    assert fixed.read_bytes() == before
    assert not (tmp_path / "baselines").exists()


def test_update_writes_into_the_fixed_file(tmp_path: Path) -> None:
    fixed = tmp_path / "ci-baselines.json"
    store = BaselineStore(tmp_path / "baselines", fixed_file=fixed, update=True)
    assert store.get("llm-01", "v") is None
    store.record("llm-01", "v", base(p95=2.0))
    store.record("api-gateway", "w", base(p95=3.0))
    document = json.loads(fixed.read_text())
    assert list(document["baselines"]) == ["api-gateway/w", "llm-01/v"]
    again = BaselineStore(tmp_path / "other", fixed_file=fixed)
    assert again.get("llm-01", "v") == base(p95=2.0)


def test_a_missing_fixed_file_is_an_input_error(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, fixed_file=tmp_path / "nope.json")
    with pytest.raises(InputError, match="baseline file not found"):
        store.get("a", "b")


def test_a_corrupt_baseline_names_file_and_line(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.path_for("orc", "p")
    path.parent.mkdir(parents=True)
    path.write_text('{\n  "schema": "taskrun.baseline/1",\n  "p50_ms": oops\n}\n')
    with pytest.raises(InputError) as caught:
        store.get("orc", "p")
    assert caught.value.line == 3 and caught.value.path == str(path)
    path.write_text(json.dumps({"schema": BASELINE_SCHEMA, "p50_ms": "x", "p95_ms": 1}))
    with pytest.raises(InputError, match="numeric"):
        store.get("orc", "p")


def test_a_store_under_a_file_is_an_evidence_error(tmp_path: Path) -> None:
    blocker = tmp_path / "baselines"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(EvidenceError, match="cannot write baseline"):
        BaselineStore(blocker).record("orc", "p", base(p95=1.0))
