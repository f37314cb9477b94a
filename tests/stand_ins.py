"""Small real HTTP servers for tests: an Ollama stand-in (no Ollama binary can be installed
here) on 127.0.0.1, port 0, served from a thread and stopped by the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["OllamaStandIn", "SeenRequest", "ollama_stand_in"]

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class OllamaStandIn:
    """`GET /api/version`, `/api/tags`, `/api/ps` like Ollama, `/echo` (the request's headers and
    body as JSON) and `/slow`; every endpoint waits `delay_s` before answering (change it while
    running to simulate a regression)."""

    host: str = "127.0.0.1"
    version: str = "0.12.3"
    models: list[str] = field(default_factory=lambda: ["llama3.2:1b", "nomic-embed-text:latest"])
    loaded: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    status: int | None = None  # answer every request with this status instead
    fail_first: int = 0  # answer this many requests with 500 first (then normally)
    seen: list[SeenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> OllamaStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                stand_in._answer(self)

            def do_POST(self) -> None:
                stand_in._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        self._server = None
        self._thread = None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.seen.append(
            SeenRequest(handler.command, handler.path, dict(handler.headers.items()), body)
        )
        if self.delay_s:
            time.sleep(self.delay_s)
        status, payload = self._route(handler.path)
        if handler.path.split("?", 1)[0] == "/echo":
            payload = {
                "headers": dict(handler.headers.items()),
                "body": body.decode(errors="replace"),
            }
        if self.status is not None:
            status = self.status
        if self.fail_first > 0:
            self.fail_first -= 1
            status, payload = 500, {"error": "warming up"}
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, path: str) -> tuple[int, object]:
        path = path.split("?", 1)[0]
        if path == "/api/version":
            return 200, {"version": self.version}
        if path == "/api/tags":
            return 200, {"models": [_model(name) for name in self.models]}
        if path == "/api/ps":
            return 200, {"models": [_model(name) for name in self.loaded]}
        if path in ("/slow", "/echo"):
            return 200, {"ok": True}
        return 404, {"error": "not found"}


def _model(name: str) -> dict[str, object]:
    return {
        "name": name,
        "model": name,
        "size": 1_000_000,
        "digest": "0" * 64,
        "details": {"format": "gguf", "family": name.split(":")[0]},
    }


@contextmanager
def ollama_stand_in(**options: object) -> Iterator[OllamaStandIn]:
    """Start a stand-in for the `with` block; stopped on the way out."""
    stand_in = OllamaStandIn(**options).start()  # type: ignore[arg-type]
    try:
        yield stand_in
    finally:
        stand_in.stop()
