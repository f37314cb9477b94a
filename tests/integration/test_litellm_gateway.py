"""The shipped Must-Pass playbooks against a real LiteLLM proxy on loopback (offline: models
answer with `mock_response`). Install it with `scripts/install-litellm.sh`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runner.evidence.baselines import BaselineStore
from runner.execute.http import run_probe
from runner.models import CheckResult, MustPassItem
from runner.plan.mustpass import NotApplicable, component_vars, playbook_checks, resolve_check
from runner.project.playbooks import load_playbooks
from runner.redact import build_redactor

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "runner" / "data" / "playbooks" / "must-pass"
DEFAULT_BINARY = Path("/opt/taskrun-litellm/bin/litellm")
MASTER_KEY = "sk-test-taskrun-master-9f8e7d6c5b4a"
MODEL = "fake-chat"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
COMPONENT = "api-gateway"
NAMES = {
    "service-health": "Service Health",
    "end-to-end": "End-to-End",
    "security": "Security",
    "performance": "Performance",
}


def litellm_binary() -> Path:
    """The proxy binary, or skip (fail under TASKRUN_REQUIRE_GATEWAY=1) naming what is missing."""
    binary = Path(os.environ.get("TASKRUN_LITELLM") or DEFAULT_BINARY)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    reason = (
        f"LiteLLM proxy not installed ({binary} missing; run scripts/install-litellm.sh "
        "or set TASKRUN_LITELLM)"
    )
    if os.environ.get("TASKRUN_REQUIRE_GATEWAY") == "1":
        pytest.fail(f"TASKRUN_REQUIRE_GATEWAY=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Gateway:
    port: int
    process: subprocess.Popen[bytes] | None
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # its own group (start_new_session)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(master_key: str | None) -> str:
    settings: dict[str, object] = {"disable_model_info_refresh": True}
    if master_key:
        settings["master_key"] = master_key
    else:
        # LiteLLM refuses to start without a key unless told that this is on purpose.
        settings["dangerously_permit_weak_or_unset_master_key"] = True
    return json.dumps(  # JSON is YAML
        {
            "model_list": [
                {
                    "model_name": MODEL,
                    "litellm_params": {
                        "model": "openai/fake",
                        "mock_response": "pong",
                        "api_base": "http://127.0.0.1:9",
                        "api_key": "unused",
                    },
                }
            ],
            "general_settings": settings,
        }
    )


def _start(binary: Path, folder: Path, master_key: str | None) -> Gateway:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(_config(master_key))
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "LITELLM_MASTER_KEY")
    }
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY_DISABLED="True",
        LITELLM_MODE="PRODUCTION",
    )
    log_path = folder / "litellm.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Gateway(port=port, process=process, log_path=log_path)


def _wait_ready(gateway: Gateway) -> None:
    """Until it answers on OUR port (on a busy port LiteLLM silently picks another)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    url = f"http://127.0.0.1:{gateway.port}/health/liveliness"
    while time.monotonic() < deadline:
        assert gateway.process is not None
        if gateway.process.poll() is not None:
            raise RuntimeError(f"litellm exited: {gateway.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"litellm not answering on port {gateway.port}: {gateway.log()}")


@pytest.fixture(scope="session")
def gateways() -> Iterator[dict[str, Gateway]]:
    """Two proxies started together: `keyed` (master key) and `open` (no master key)."""
    binary = litellm_binary()
    root = Path(tempfile.mkdtemp(prefix="taskrun-litellm-"))
    started: dict[str, Gateway] = {}
    try:
        started["keyed"] = _start(binary, root / "keyed", MASTER_KEY)
        started["open"] = _start(binary, root / "open", None)
        for gateway in started.values():
            _wait_ready(gateway)
        yield started
    finally:
        for gateway in started.values():
            gateway.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks(SHIPPED)


async def run_must_pass(
    playbooks,
    slug: str,
    port: int,
    *,
    environ: Mapping[str, str],
    inventory_vars: Mapping[str, object] | None = None,
    baselines: BaselineStore | None = None,
) -> list[CheckResult]:
    """What the executor does for one Must-Pass item on the gateway running on this machine."""
    given = {"gateway_port": port, "gateway_unit": None, "perf_samples": 5}
    given.update(inventory_vars or {})
    vars = component_vars(COMPONENT, given)
    item = MustPassItem(name=NAMES[slug], description="as written", line=80)
    checks = playbook_checks(item, playbooks[slug], (COMPONENT,), inventory_vars={COMPONENT: given})
    redact = build_redactor(secret_values=environ.values())
    results = []
    for check in checks:
        if check.kind != "http":
            # gateway_unit is null: the unit check does not apply (shown, never run)
            assert check.kind == "shown", check
            assert isinstance(resolve_check(check, component=COMPONENT, vars=vars), NotApplicable)
            continue
        results.append(
            await run_probe(
                check,
                component=COMPONENT,
                host="local",
                vars=vars,
                environ=environ,
                redact=redact,
                forward=None,
                baselines=baselines,
            )
        )
    assert results, f"no http checks in {slug}"
    return results


def outcome(results: list[CheckResult]) -> list[tuple[str, str, str | None]]:
    return [(r.label, r.status, r.reason or r.error) for r in results]


def assert_key_nowhere(results: list[CheckResult]) -> None:
    dumped = json.dumps([dataclasses.asdict(r) for r in results], default=str)
    assert MASTER_KEY not in dumped
    assert MASTER_KEY[8:] not in dumped


KEY_ENV = {"LITELLM_MASTER_KEY": MASTER_KEY}


async def test_service_health_end_to_end_and_security_pass(gateways, playbooks) -> None:
    port = gateways["keyed"].port
    everything: list[CheckResult] = []
    for slug in ("service-health", "end-to-end", "security"):
        results = await run_must_pass(playbooks, slug, port, environ=KEY_ENV)
        everything += results
        assert all(r.status == "pass" for r in results), outcome(results)
        assert all(r.must_pass == NAMES[slug] for r in results)
    by_label = {r.label: r for r in everything}
    chat = by_label["gateway chat completion"]
    assert chat.http is not None and chat.http["status"] == 200
    assert json.loads(chat.stdout_tail)["choices"][0]["message"]["content"] == "pong"
    assert json.loads(chat.stdout_tail)["model"] == MODEL  # discovered from /v1/models
    assert by_label["no key is refused"].http["status"] == 401  # type: ignore[index]
    assert by_label["a wrong key is refused"].http["status"] == 400  # type: ignore[index]
    assert_key_nowhere(everything)


async def test_end_to_end_uses_the_inventory_model(gateways, playbooks) -> None:
    port = gateways["keyed"].port
    results = await run_must_pass(
        playbooks, "end-to-end", port, environ=KEY_ENV, inventory_vars={"e2e_model": "missing"}
    )
    assert results[0].status == "fail"
    assert results[0].reason is not None and results[0].reason.startswith("HTTP 400")
    assert_key_nowhere(results)


async def test_without_the_key_in_the_environment_security_is_an_error(gateways, playbooks) -> None:
    results = await run_must_pass(playbooks, "security", gateways["keyed"].port, environ={})
    assert outcome(results)[2] == (
        "the right key is served",
        "error",
        "environment variable LITELLM_MASTER_KEY is not set",
    )
    assert [r.status for r in results[:2]] == ["pass", "pass"]


async def test_performance_records_a_baseline_on_the_gateway(
    gateways, playbooks, tmp_path: Path
) -> None:
    store = BaselineStore(tmp_path / "baselines")
    port = gateways["keyed"].port
    (first,) = await run_must_pass(playbooks, "performance", port, environ=KEY_ENV, baselines=store)
    assert first.status == "pass" and (first.reason or "").startswith("baseline recorded")
    assert (tmp_path / "baselines" / COMPONENT / "gateway-liveness-latency.json").is_file()
    (second,) = await run_must_pass(
        playbooks, "performance", port, environ=KEY_ENV, baselines=store
    )
    assert second.status == "pass", second.reason
    assert second.http is not None and second.http["samples"] == 5


async def test_no_master_key_fails_security_and_a_stopped_proxy_is_refused(
    gateways, playbooks
) -> None:
    gateway = gateways["open"]
    results = await run_must_pass(playbooks, "security", gateway.port, environ=KEY_ENV)
    assert outcome(results)[0] == ("no key is refused", "fail", "HTTP 200 (expected 401 or 403)")
    assert results[0].status == "fail"

    gateway.stop()
    url = f"http://127.0.0.1:{gateway.port}"
    for slug, path in (
        ("service-health", "/health/liveliness"),
        ("end-to-end", "/v1/models"),
        ("security", "/v1/models"),
    ):
        results = await run_must_pass(playbooks, slug, gateway.port, environ=KEY_ENV)
        assert all(r.status == "fail" for r in results), outcome(results)
        reason = results[0].reason or ""
        assert reason.endswith(f"connection refused: {url}{path}"), reason
        assert_key_nowhere(results)
