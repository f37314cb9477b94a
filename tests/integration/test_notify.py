from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runner.evaluate.regressions import compare_runs
from runner.models import CheckResult, RunRecord
from runner.ops.notify import (
    notify_on_change,
    send_notification,
    state_changed,
)
from runner.reporters.json import run_from_dict, run_to_dict


@dataclass
class Recorder:
    url: str
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def webhook() -> Iterator[Recorder]:
    """A real HTTP server on 127.0.0.1, port 0, recording every request it gets."""
    recorder = Recorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.requests.append(("POST", self.path, dict(self.headers), body))
            self.send_response(recorder.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _result(key: str, status: str) -> CheckResult:
    return CheckResult(
        id=f"tc-{key}@api-gateway",
        plan_id=f"tc-{key}",
        label={"live": "Gateway liveness", "models": "Models listed"}[key],
        source="test-commands",
        must_pass=None,
        component="api-gateway",
        host="agent0@10.0.0.1",
        command="true",
        status=status,  # type: ignore[arg-type]
        reason=None if status == "pass" else "exit 7",
    )


def _record(run_id: str, *results: CheckResult) -> RunRecord:
    return RunRecord(
        task_id="ENG-001",
        task_path="tasks/ENG-001.md",
        title="Verify the gateway",
        run_id=run_id,
        state="complete",
        started_at="2026-11-21T01:00:00.000Z",
        finished_at="2026-11-21T01:00:05.000Z",
        results=results,
    )


PREVIOUS = _record("20261120T010000Z", _result("live", "pass"), _result("models", "fail"))


def _previous_doc() -> RunRecord:
    return run_from_dict(json.loads(json.dumps(run_to_dict(PREVIOUS))))


def test_a_regression_posts_once_with_slack_text(webhook: Recorder) -> None:
    now = _record("20261121T010000Z", _result("live", "fail"), _result("models", "fail"))
    comparison = compare_runs(_previous_doc(), now)
    outcome = notify_on_change(
        webhook.url, now, comparison, previous_run_id=PREVIOUS.run_id, timeout=5
    )
    assert outcome.sent and outcome.warning is None
    assert len(webhook.requests) == 1
    method, path, headers, body = webhook.requests[0]
    assert (method, path) == ("POST", "/services/T000/B000/secret-token")
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["text"] == (
        "taskrun ENG-001 (tasks/ENG-001.md): regressed since 20261120T010000Z: "
        "Gateway liveness on api-gateway — 0/2 passed (run 20261121T010000Z)"
    )
    assert payload["taskrun"]["regressed"] == [
        {
            "id": "tc-live@api-gateway",
            "name": "Gateway liveness on api-gateway",
            "component": "api-gateway",
            "status": "fail",
            "reason": "exit 7",
        }
    ]
    assert payload["taskrun"]["recovered"] == []
    assert payload["taskrun"]["summary"]["fail"] == 2


def test_a_recovery_posts(webhook: Recorder) -> None:
    now = _record("20261121T010000Z", _result("live", "pass"), _result("models", "pass"))
    comparison = compare_runs(_previous_doc(), now)
    outcome = notify_on_change(
        webhook.url, now, comparison, previous_run_id=PREVIOUS.run_id, timeout=5
    )
    assert outcome.sent
    payload = json.loads(webhook.requests[0][3])
    assert "recovered: Models listed on api-gateway" in payload["text"]


def test_an_unchanged_state_posts_nothing(webhook: Recorder) -> None:
    now = _record("20261121T010000Z", *PREVIOUS.results)
    comparison = compare_runs(_previous_doc(), now)
    assert not state_changed(comparison)
    outcome = notify_on_change(
        webhook.url, now, comparison, previous_run_id=PREVIOUS.run_id, timeout=5
    )
    assert not outcome.sent and outcome.warning is None
    assert webhook.requests == []


def test_still_broken_in_another_way_is_not_news(webhook: Recorder) -> None:
    now = _record("20261121T010000Z", _result("live", "pass"), _result("models", "error"))
    comparison = compare_runs(_previous_doc(), now)
    assert comparison.changed and not state_changed(comparison)
    notify_on_change(webhook.url, now, comparison, previous_run_id=PREVIOUS.run_id, timeout=5)
    assert webhook.requests == []


def test_a_first_run_with_failures_posts(webhook: Recorder) -> None:
    now = _record("20261121T010000Z", _result("live", "pass"), _result("models", "fail"))
    comparison = compare_runs(None, now)
    outcome = notify_on_change(webhook.url, now, comparison, previous_run_id=None, timeout=5)
    assert outcome.sent
    payload = json.loads(webhook.requests[0][3])
    assert payload["text"].startswith(
        "taskrun ENG-001 (tasks/ENG-001.md): failing: Models listed on api-gateway"
    )
    assert [c["id"] for c in payload["taskrun"]["new_failures"]] == ["tc-models@api-gateway"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_is_a_warning_not_an_exception() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hooks/secret-token"
    outcome = send_notification(url, {"text": "x"}, timeout=2)
    assert not outcome.sent
    assert outcome.warning is not None
    assert outcome.warning.startswith(
        "notification to http://127.0.0.1/… failed: connection refused"
    )
    assert "secret-token" not in outcome.warning


def test_a_non_2xx_answer_is_a_warning(webhook: Recorder) -> None:
    webhook.status = 500
    outcome = send_notification(webhook.url, {"text": "x"}, timeout=5)
    assert outcome == type(outcome)(sent=False, warning=outcome.warning)
    assert outcome.warning == "notification to http://127.0.0.1/… failed: HTTP 500"
    assert len(webhook.requests) == 1


@pytest.mark.parametrize("url", ["not a url", "ftp://example.invalid/x", ""])
def test_a_bad_url_is_a_warning(url: str) -> None:
    outcome = send_notification(url, {"text": "x"}, timeout=2)
    assert not outcome.sent and outcome.warning
