"""HTTP probes against real servers on 127.0.0.1: the Ollama stand-in, and through a real sshd
(`via: ssh`). Outcomes, masking, retries, and performance baselines."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from runner.errors import ConnectError
from runner.evaluate.http import json_path, status_matches
from runner.evidence.baselines import BaselineStore
from runner.execute.http import run_probe, run_probe_on
from runner.models import MustPassItem, PlannedCheck, Target
from runner.plan.mustpass import component_vars, playbook_checks
from runner.project.playbooks import parse_playbook
from runner.redact import build_redactor
from runner.transports.ssh import SshTransport
from tests.fleet import Fleet
from tests.stand_ins import OllamaStandIn

SECRET = "sk-probe-secret-0123456789"
ITEM = MustPassItem(name="Service Health", description="d", line=9)


@pytest.fixture
def ollama() -> Iterator[OllamaStandIn]:
    stand_in = OllamaStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def check_from(
    http_yaml: str, *, slug: str = "service-health", name: str = "probe"
) -> PlannedCheck:
    """One http check from a playbook entry (indented YAML under `http:`)."""
    body = "\n".join(f"      {line}" for line in http_yaml.strip().splitlines())
    text = f"checks:\n  - name: {name}\n    components: ['*']\n    http:\n{body}\n"
    playbook = parse_playbook(text, path=f"{slug}.yaml", slug=slug)
    (check,) = playbook_checks(ITEM, playbook, ("llm-01",))
    return check


async def probe(
    check: PlannedCheck,
    port: int,
    *,
    environ: Mapping[str, str] | None = None,
    baselines: BaselineStore | None = None,
    forward=None,
    extra_vars: Mapping[str, object] | None = None,
):
    vars = component_vars("llm-01", {"ollama_port": port, **(extra_vars or {})})
    environ = {"OLLAMA_TOKEN": SECRET} if environ is None else environ
    return await run_probe(
        check,
        component="llm-01",
        host="local",
        vars=vars,
        environ=environ,
        redact=build_redactor(secret_values=[SECRET]),
        forward=forward,
        baselines=baselines,
        retry_delay_s=0.01,
    )


VERSION = """
url: "http://127.0.0.1:{{ollama_port}}/api/version"
expect:
  status: [200]
  json: [{path: version, op: matches, value: '^0\\.'}]
"""


# --------------------------------------------------------------------------- outcomes


async def test_a_healthy_endpoint_passes_with_http_evidence(ollama: OllamaStandIn) -> None:
    result = await probe(check_from(VERSION), ollama.port)
    assert result.status == "pass", result.reason
    assert result.id == f"{result.plan_id}@llm-01" and result.must_pass == "Service Health"
    assert result.http is not None
    assert result.http["url"] == f"http://127.0.0.1:{ollama.port}/api/version"
    assert (result.http["method"], result.http["status"]) == ("GET", 200)
    assert isinstance(result.http["latency_ms"], float) and result.http["latency_ms"] >= 0
    assert json.loads(result.stdout_tail) == {"version": "0.12.3"}
    assert result.command is None and result.attempts == ()


async def test_a_stopped_service_fails_with_connection_refused(ollama: OllamaStandIn) -> None:
    port = ollama.port
    ollama.stop()
    result = await probe(check_from(VERSION), port)
    assert result.status == "fail"
    assert result.reason == f"connection refused: http://127.0.0.1:{port}/api/version"
    assert result.http is not None and result.http["status"] is None


async def test_a_slow_service_fails_with_timed_out(ollama: OllamaStandIn) -> None:
    ollama.delay_s = 1.0
    check = check_from(VERSION + "timeout: 0.2\n")
    result = await probe(check, ollama.port)
    assert result.status == "fail"
    assert result.reason == f"timed out: http://127.0.0.1:{ollama.port}/api/version"


async def test_a_wrong_status_fails_and_says_what_was_expected(ollama: OllamaStandIn) -> None:
    ollama.status = 500
    result = await probe(check_from(VERSION), ollama.port)
    assert (result.status, result.reason) == ("fail", "HTTP 500 (expected 200)")
    result = await probe(check_from("url: 'http://127.0.0.1:{{ollama_port}}/nope'"), ollama.port)
    assert result.reason == "HTTP 500 (expected 2xx)"


@pytest.mark.parametrize(
    ("expect", "reason"),
    [
        (
            "json: [{path: version, op: equals, value: '1.0'}]",
            "JSON version is '0.12.3' (expected '1.0')",
        ),
        ("json: [{path: models.0.name, op: exists}]", "JSON models.0.name is missing"),
        ("body_regex: 'ollama'", "body does not match /ollama/"),
    ],
)
async def test_body_expectations_fail_with_a_plain_reason(
    ollama: OllamaStandIn, expect: str, reason: str
) -> None:
    check = check_from(
        f"url: 'http://127.0.0.1:{{{{ollama_port}}}}/api/version'\nexpect: {{{expect}}}"
    )
    result = await probe(check, ollama.port)
    assert (result.status, result.reason) == ("fail", reason)


async def test_tags_min_length(ollama: OllamaStandIn) -> None:
    check = check_from(
        "url: 'http://127.0.0.1:{{ollama_port}}/api/tags'\n"
        "expect: {json: [{path: models, op: min_length, value: 1}]}"
    )
    assert (await probe(check, ollama.port)).status == "pass"
    ollama.models = []
    result = await probe(check, ollama.port)
    assert result.reason == "JSON models has length 0 (expected at least 1)"


async def test_max_latency_fails_a_slow_answer(ollama: OllamaStandIn) -> None:
    ollama.delay_s = 0.15
    check = check_from(VERSION + "max_latency_ms: 50\n")
    result = await probe(check, ollama.port)
    assert result.status == "fail"
    assert result.reason is not None and result.reason.endswith("ms (max 50 ms)")


async def test_retries_record_every_attempt_and_mark_flaky(ollama: OllamaStandIn) -> None:
    ollama.fail_first = 2
    result = await probe(check_from(VERSION + "retries: 2\n"), ollama.port)
    assert result.status == "pass" and result.flaky
    assert [a.status for a in result.attempts] == ["fail", "fail", "pass"]
    assert result.attempts[0].reason == "HTTP 500 (expected 200)"
    ollama.fail_first = 5
    result = await probe(check_from(VERSION + "retries: 1\n"), ollama.port)
    assert result.status == "fail" and not result.flaky and len(result.attempts) == 2


async def test_a_missing_var_or_environment_variable_is_an_error(ollama: OllamaStandIn) -> None:
    check = check_from("url: 'http://127.0.0.1:{{tags_port}}/api/tags'")
    result = await probe(check, ollama.port)
    assert result.status == "error"
    assert result.error == "inventory var 'tags_port' is not set for llm-01"
    check = check_from(
        "url: 'http://127.0.0.1:{{ollama_port}}/echo'\nheaders: {X-Api-Key: '${NOT_SET_HERE}'}"
    )
    result = await probe(check, ollama.port, environ={})
    assert (result.status, result.error) == (
        "error",
        "environment variable NOT_SET_HERE is not set",
    )
    assert ollama.seen == []


async def test_secrets_never_reach_the_result(ollama: OllamaStandIn) -> None:
    check = check_from(
        "method: POST\n"
        "url: 'http://127.0.0.1:{{ollama_port}}/echo?token=${OLLAMA_TOKEN}'\n"
        "headers: {Authorization: 'Bearer ${OLLAMA_TOKEN}', X-Custom: 'v-${OLLAMA_TOKEN}'}\n"
        "json: {prompt: 'key ${OLLAMA_TOKEN}'}\n"
    )
    result = await probe(check, ollama.port)
    assert result.status == "pass", result.reason
    sent = ollama.seen[-1]
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert json.loads(sent.body) == {"prompt": f"key {SECRET}"}
    assert sent.path == f"/echo?token={SECRET}"
    dumped = json.dumps(
        {
            "http": result.http,
            "tail": result.stdout_tail,
            "reason": result.reason,
            "label": result.label,
        }
    )
    assert SECRET not in dumped
    assert "***" in result.stdout_tail


async def test_a_failure_reason_masks_the_secret(ollama: OllamaStandIn) -> None:
    ollama.stop()
    check = check_from("url: 'http://127.0.0.1:{{ollama_port}}/x?api_key=${OLLAMA_TOKEN}'")
    result = await probe(check, 1)
    assert result.status == "fail" and result.reason is not None
    assert result.reason.startswith("connection refused: http://127.0.0.1:1/x?api_key=***")
    assert SECRET not in json.dumps(result.http)


async def test_a_null_when_var_is_not_applicable(ollama: OllamaStandIn) -> None:
    text = (
        "checks:\n  - name: p\n    when: ollama_unit\n    http:\n"
        "      url: 'http://127.0.0.1:{{ollama_port}}/api/version'\n"
    )
    (check,) = playbook_checks(ITEM, parse_playbook(text, path="p", slug="s"), ("llm-01",))
    result = await probe(check, ollama.port, extra_vars={"ollama_unit": None})
    # called directly (the scheduler drops such checks before they run)
    assert (result.status, result.reason) == (
        "skip",
        "not applicable: ollama_unit is null for llm-01",
    )
    assert ollama.seen == []


# --------------------------------------------------------------------------- performance

PERF = """
url: "http://127.0.0.1:{{ollama_port}}/api/version"
expect: {status: [200]}
performance: {samples: 6, tolerance: 0.25, tolerance_ms: 20}
"""


async def test_performance_records_then_compares_and_catches_a_regression(
    ollama: OllamaStandIn, tmp_path: Path
) -> None:
    check = check_from(PERF, slug="performance", name="ollama version latency")
    store = BaselineStore(tmp_path / "baselines")
    first = await probe(check, ollama.port, baselines=store)
    assert first.status == "pass"
    assert first.reason is not None and first.reason.startswith("baseline recorded (p95 ")
    recorded = tmp_path / "baselines" / "llm-01" / "ollama-version-latency.json"
    before = recorded.read_bytes()
    assert first.http is not None and first.http["samples"] == 6
    assert len(ollama.seen) == 7  # one warm-up request, then the samples

    normal = await probe(check, ollama.port, baselines=store)
    assert normal.status == "pass", normal.reason
    assert "baseline p95" in (normal.reason or "")

    ollama.delay_s = 0.08  # far above 25% + 20 ms over a loopback baseline of ~1 ms
    slow = await probe(check, ollama.port, baselines=store)
    assert slow.status == "fail"
    assert slow.reason is not None and " over the baseline p95 " in slow.reason
    assert slow.http is not None and slow.http["p95_ms"] >= 80
    assert recorded.read_bytes() == before  # no silent ratchet

    updated = await probe(check, ollama.port, baselines=BaselineStore(store.root, update=True))
    assert "baseline updated" in (updated.reason or "")
    assert json.loads(recorded.read_text())["p95_ms"] >= 80


async def test_performance_sample_count_comes_from_perf_samples(
    ollama: OllamaStandIn, tmp_path: Path
) -> None:
    check = check_from(
        "url: 'http://127.0.0.1:{{ollama_port}}/api/version'\nperformance: {}",
        slug="performance",
    )
    result = await probe(
        check, ollama.port, baselines=BaselineStore(tmp_path), extra_vars={"perf_samples": 3}
    )
    assert result.status == "pass" and result.http is not None and result.http["samples"] == 3
    assert len(ollama.seen) == 4


async def test_a_failing_sample_fails_performance(ollama: OllamaStandIn, tmp_path: Path) -> None:
    check = check_from(PERF, slug="performance")
    ollama.status = 503
    result = await probe(check, ollama.port, baselines=BaselineStore(tmp_path))
    assert result.status == "fail"
    assert result.reason == "warm-up request: HTTP 503 (expected 200)"
    assert not any(tmp_path.iterdir())


async def test_a_fixed_baseline_file_is_compared_and_left_alone(
    ollama: OllamaStandIn, tmp_path: Path
) -> None:
    fixed = tmp_path / "ci.json"
    fixed.write_text(
        json.dumps(
            {
                "schema": "taskrun.baselines/1",
                "baselines": {"llm-01/probe": {"p50_ms": 0.01, "p95_ms": 0.01}},
            }
        )
    )
    before = fixed.read_bytes()
    ollama.delay_s = 0.05
    result = await probe(
        check_from(PERF, slug="performance"),
        ollama.port,
        baselines=BaselineStore(tmp_path / "b", fixed_file=fixed),
    )
    assert result.status == "fail" and "baseline p95 0.0 ms" in (result.reason or "")
    assert fixed.read_bytes() == before
    other = await probe(
        check_from(PERF, slug="performance", name="unknown probe"),
        ollama.port,
        baselines=BaselineStore(tmp_path / "b", fixed_file=fixed),
    )
    assert other.status == "pass" and "not recorded" in (other.reason or "")
    assert fixed.read_bytes() == before


# --------------------------------------------------------------------------- pure helpers


def test_status_matching_and_json_paths() -> None:
    assert status_matches(200, ("200",)) and status_matches(404, ("4xx",))
    assert not status_matches(500, ("200", "4xx"))
    assert json_path({"data": [{"id": "m"}]}, "data.0.id") == "m"
    with pytest.raises(LookupError):
        json_path({"data": []}, "data.x")


# --------------------------------------------------------------------------- via ssh

VIA_SSH = """
url: "http://127.0.0.1:{{ollama_port}}/api/version"
via: ssh
expect: {status: [200]}
"""


async def test_via_ssh_reaches_a_service_on_the_hosts_loopback(
    fleet: Fleet, pool, ollama: OllamaStandIn
) -> None:
    target = fleet.target(0, component="llm-01", vars={"ollama_port": ollama.port})
    transport = SshTransport(target, pool=pool)
    try:
        result = await run_probe_on(
            check_from(VIA_SSH),
            target,
            environ={},
            redact=build_redactor(),
            transport=transport,
            baselines=None,
        )
        assert result.status == "pass", result.reason or result.error
        assert result.host == target.display and result.component == "llm-01"
        assert result.http is not None and result.http["via"] == "ssh"
        assert result.http["url"] == f"http://127.0.0.1:{ollama.port}/api/version"
        # It went through the tunnel's own local port, yet the service saw its own address.
        listener = next(iter(pool._listeners.values()))
        assert listener.get_port() != ollama.port
        assert ollama.seen[-1].headers["Host"] == f"127.0.0.1:{ollama.port}"

        port = ollama.port
        ollama.stop()
        refused = await probe(check_from(VIA_SSH), port, forward=transport.tunnel)
        assert refused.status == "fail"
        assert refused.reason == (
            f"connection refused: http://127.0.0.1:{port}/api/version (through SSH to local)"
        )
    finally:
        await pool.close()


async def test_via_ssh_to_an_unreachable_host_is_an_error(fleet: Fleet, pool) -> None:
    closed_port = fleet.target(0, port=1, connect_timeout=2.0)
    transport = SshTransport(closed_port, pool=pool)
    result = await probe(check_from(VIA_SSH), 9, forward=transport.tunnel)
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("cannot open an SSH tunnel")
    with pytest.raises(ConnectError):
        await transport.tunnel("127.0.0.1", 9)


async def test_via_ssh_on_a_local_target_connects_directly(ollama: OllamaStandIn) -> None:
    target = Target(component="llm-01", host="local", vars={"ollama_port": ollama.port})
    result = await run_probe_on(
        check_from(VIA_SSH),
        target,
        environ={},
        redact=build_redactor(),
        transport=None,
        baselines=None,
    )
    assert (result.status, result.host) == ("pass", "local")
    assert ollama.seen[-1].headers["Host"] == f"127.0.0.1:{ollama.port}"
