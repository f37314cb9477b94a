"""The demo sandbox's servers: in-process SSH "hosts" that run commands with local bash, and
small HTTP stand-ins for the LiteLLM gateway and Ollama. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

__all__ = [
    "LOOPBACK",
    "DemoSshHost",
    "HttpResponse",
    "HttpStandIn",
    "gateway_routes",
    "ollama_routes",
]

LOOPBACK = "127.0.0.1"
READ_CHUNK = 65536
OUTPUT_DRAIN_S = 1.0  # after bash exits: how long quiet pipes may stay open before we stop
DRAIN_POLL_S = 0.1
KILL_GRACE_STEPS = 10  # × 0.1 s between TERM and KILL
SESSION_STOP_TIMEOUT_S = 5.0
EXIT_POLL_S = 0.02
HTTP_HEAD_LIMIT = 64 * 1024
DEMO_MODEL = "llama3.2:3b"
OLLAMA_VERSION = "0.6.0-demo"
LITELLM_VERSION = "1.0.0-demo"
_FORWARDABLE_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --------------------------------------------------------------------------- SSH hosts


@dataclass(eq=False, slots=True)
class _Session:
    process: asyncio.subprocess.Process
    task: asyncio.Task[None] | None = None


class _HostServer(asyncssh.SSHServer):
    """Per connection: remembers it for `stop()`, allows forwarding to loopback only."""

    def __init__(self, host: DemoSshHost):
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._host.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._host.connections.discard(self._conn)

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        # HTTP probes `via: ssh` reach the stand-ins through the host; nothing else is reachable.
        return dest_host in _FORWARDABLE_HOSTS


@dataclass(slots=True)
class DemoSshHost:
    """One fake host: an asyncssh server whose sessions run `bash -c COMMAND` on this machine,
    in `workdir`, with `env`, each in a process group of its own that dies with its channel."""

    name: str
    workdir: Path
    env: Mapping[str, str]
    host_key: asyncssh.SSHKey
    authorized_keys: asyncssh.SSHAuthorizedKeys
    port: int = field(default=0, init=False)
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set, init=False)
    sessions: set[_Session] = field(default_factory=set, init=False)
    acceptor: asyncssh.SSHAcceptor | None = field(default=None, init=False)

    async def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        self.acceptor = await asyncssh.create_server(
            lambda: _HostServer(self),
            LOOPBACK,
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=self.authorized_keys,
            process_factory=self._run_session,
            encoding=None,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
        )
        self.port = self.acceptor.get_port()
        return self.port

    def known_hosts_line(self) -> str:
        public = self.host_key.export_public_key("openssh").decode().split()
        return f"[{LOOPBACK}]:{self.port} {public[0]} {public[1]}"

    async def stop(self) -> None:
        """Stop listening, drop every connection, and kill every session's process group."""
        if self.acceptor is not None:
            self.acceptor.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.acceptor.wait_closed(), SESSION_STOP_TIMEOUT_S)
            self.acceptor = None
        for conn in list(self.connections):
            conn.close()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), SESSION_STOP_TIMEOUT_S)
        tasks = [session.task for session in self.sessions if session.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=SESSION_STOP_TIMEOUT_S)
        for session in list(self.sessions):
            # A session whose handler is stuck still must not leave a process behind.
            _signal_group(session.process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_exit_status(session.process), SESSION_STOP_TIMEOUT_S)
            if session.task is not None:
                session.task.cancel()
        self.sessions.clear()

    async def _run_session(self, channel: asyncssh.SSHServerProcess[bytes]) -> None:
        command = channel.command
        if command is None:
            channel.stderr.write(b"this demo host runs commands, not interactive shells\n")
            channel.exit(1)
            return
        try:
            process = await asyncio.create_subprocess_exec(
                "bash",
                "-c",
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.workdir,
                env=dict(self.env),
                start_new_session=True,
            )
        except OSError as exc:
            channel.stderr.write(f"cannot start bash: {exc}\n".encode())
            channel.exit(127)
            return
        session = _Session(process, asyncio.current_task())
        self.sessions.add(session)
        try:
            await _serve_process(channel, process)
        finally:
            await _kill_group(process)
            self.sessions.discard(session)


async def _serve_process(
    channel: asyncssh.SSHServerProcess[bytes], process: asyncio.subprocess.Process
) -> None:
    """Pump the streams until bash exits (then report its status) or the channel closes."""
    assert process.stdout is not None and process.stderr is not None
    activity = _Activity(asyncio.get_running_loop().time())
    pumps = [
        asyncio.ensure_future(_pump_stdin(channel, process)),
        asyncio.ensure_future(_pump_output(process.stdout, channel.stdout, activity)),
        asyncio.ensure_future(_pump_output(process.stderr, channel.stderr, activity)),
    ]
    exited = asyncio.ensure_future(_exit_status(process))
    closed = asyncio.ensure_future(channel.wait_closed())
    try:
        await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            return  # the client went away: the caller kills the group
        await _drain(pumps[1:], activity)
        _report_exit(channel, exited.result())
    finally:
        for task in (*pumps, exited, closed):
            task.cancel()
        await asyncio.gather(*pumps, exited, closed, return_exceptions=True)


@dataclass(slots=True)
class _Activity:
    last: float  # loop time output was last read from bash's pipes
    sending: int = 0  # pumps waiting for the client to take what they wrote


async def _drain(pumps: Sequence[asyncio.Future[None]], activity: _Activity) -> None:
    """Let the output pumps finish; stop waiting once the pipes have been quiet for a while
    (a background job holding them open must not hold back the exit status forever)."""
    loop = asyncio.get_running_loop()
    while True:
        _done, pending = await asyncio.wait(pumps, timeout=DRAIN_POLL_S)
        quiet = activity.sending == 0 and loop.time() - activity.last > OUTPUT_DRAIN_S
        if not pending or quiet:
            return


async def _exit_status(process: asyncio.subprocess.Process) -> int:
    """The status as soon as bash exits: Python 3.11's `Process.wait()` also waits for every
    holder of its pipes (a background job) to let go."""
    while process.returncode is None:
        await asyncio.sleep(EXIT_POLL_S)
    return process.returncode


def _report_exit(channel: asyncssh.SSHServerProcess[bytes], returncode: int) -> None:
    with contextlib.suppress(asyncssh.Error, OSError):
        if returncode >= 0:
            channel.exit(returncode)
        else:
            name = signal.Signals(-returncode).name.removeprefix("SIG")
            channel.exit_with_signal(name)


async def _pump_stdin(
    channel: asyncssh.SSHServerProcess[bytes], process: asyncio.subprocess.Process
) -> None:
    assert process.stdin is not None
    try:
        while True:
            try:
                chunk = await channel.stdin.read(READ_CHUNK)
            except asyncssh.SignalReceived as exc:
                # Like sshd: a signal request goes to the session's process itself.
                with contextlib.suppress(ProcessLookupError, ValueError, AttributeError):
                    process.send_signal(signal.Signals[f"SIG{exc.signal}"])
                continue
            except asyncssh.BreakReceived:
                continue
            if not chunk:
                break
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (asyncssh.Error, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()


async def _pump_output(
    source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes], activity: _Activity
) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(asyncssh.Error, OSError):
        while chunk := await source.read(READ_CHUNK):
            sink.write(chunk)
            activity.sending += 1
            try:
                await sink.drain()
            finally:
                activity.sending -= 1
            activity.last = loop.time()


def _signal_group(pgid: int, signum: int) -> bool:
    """False when the group has no member left (signal 0 only asks)."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a member of the group still runs. Zombies do not count: where PID 1 does not
    reap orphans they stay forever, and `killpg(pgid, 0)` would still find them."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return _signal_group(pgid, 0)
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """TERM the session's group, KILL what is left after a short grace, reap bash."""
    pgid = process.pid  # start_new_session: bash leads its own group
    if _signal_group(pgid, signal.SIGTERM):
        for _step in range(KILL_GRACE_STEPS):
            await asyncio.sleep(0.1)
            if not _group_alive(pgid):
                break
        _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exit_status(process), SESSION_STOP_TIMEOUT_S)


# --------------------------------------------------------------------------- HTTP stand-ins


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # without the query string
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: object) -> HttpResponse:
        return cls(status, json.dumps(value).encode())


Route = Callable[[HttpRequest], HttpResponse]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_REASONS |= {405: "Method Not Allowed", 411: "Length Required", 500: "Internal Server Error"}


class HttpStandIn:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) on a free loopback port."""

    def __init__(self, name: str, route: Route):
        self.name = name
        self.port = 0
        self._route = route
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Python 3.11's Server.close leaves accepted connections open.
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), SESSION_STOP_TIMEOUT_S)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._answer_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection should end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        if len(head) > HTTP_HEAD_LIMIT:
            return False
        request_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            await _send(writer, HttpResponse.json(400, {"error": "bad request line"}), "HEAD")
            return False
        method, target, version = parts
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _send(writer, HttpResponse.json(411, {"error": "send Content-Length"}), method)
            return False
        length = int(headers.get("content-length", "0") or "0")
        body = await reader.readexactly(length) if length > 0 else b""
        request = HttpRequest(method.upper(), target.split("?", 1)[0], headers, body)
        try:
            response = self._route(request)
        except Exception as exc:  # a stand-in bug must show as a 500, not a dropped connection
            response = HttpResponse.json(500, {"error": f"{type(exc).__name__}: {exc}"})
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        await _send(writer, response, request.method, keep_alive=keep_alive)
        return keep_alive


async def _send(
    writer: asyncio.StreamWriter, response: HttpResponse, method: str, *, keep_alive: bool = False
) -> None:
    reason = _REASONS.get(response.status, "Status")
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else response.body))
    await writer.drain()


def _not_found(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(404, {"detail": f"Not Found: {request.path}"})


def _method_not_allowed(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(405, {"detail": f"Method {request.method} not allowed"})


def gateway_routes(master_key: str, models: tuple[str, ...]) -> Route:
    """A LiteLLM proxy stand-in: open health endpoints; models and chat need the master key."""

    def authorised(request: HttpRequest) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == master_key

    def route(request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/") or "/"
        get_paths = {"/health/liveliness", "/health/liveness", "/health/readiness"}
        if path in get_paths and request.method not in ("GET", "HEAD"):
            return _method_not_allowed(request)
        if path in ("/health/liveliness", "/health/liveness"):
            return HttpResponse.json(200, "I'm alive!")
        if path == "/health/readiness":
            return HttpResponse.json(
                200,
                {"status": "healthy", "db": "Not connected", "litellm_version": LITELLM_VERSION},
            )
        if path not in ("/v1/models", "/models", "/v1/chat/completions", "/chat/completions"):
            return _not_found(request)
        if not authorised(request):
            return HttpResponse.json(
                401,
                {"error": {"message": "Authentication Error, invalid key", "type": "auth_error"}},
            )
        if path.endswith("/models"):
            if request.method not in ("GET", "HEAD"):
                return _method_not_allowed(request)
            data = [{"id": model, "object": "model", "owned_by": "demo"} for model in models]
            return HttpResponse.json(200, {"object": "list", "data": data})
        if request.method != "POST":
            return _method_not_allowed(request)
        return _chat_completion(request, models)

    return route


def _chat_completion(request: HttpRequest, models: tuple[str, ...]) -> HttpResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponse.json(400, {"error": {"message": "body is not JSON"}})
    model = payload.get("model") if isinstance(payload, dict) else None
    if model not in models:
        return HttpResponse.json(400, {"error": {"message": f"unknown model {model!r}"}})
    return HttpResponse.json(
        200,
        {
            "id": "chatcmpl-demo",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "pong"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    )


def ollama_routes(model: str = DEMO_MODEL) -> Route:
    """An Ollama stand-in: version, one pulled model (also loaded), tiny chat/generate."""
    details = {"family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
    entry = {
        "name": model,
        "model": model,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": details,
    }

    def route(request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/") or "/"
        if path == "/":
            return HttpResponse(200, b"Ollama is running", "text/plain; charset=utf-8")
        reads = {
            "/api/version": {"version": OLLAMA_VERSION},
            "/api/tags": {"models": [entry]},
            "/api/ps": {"models": [{**entry, "expires_at": "2099-01-01T00:00:00Z"}]},
        }
        if path in reads:
            if request.method not in ("GET", "HEAD"):
                return _method_not_allowed(request)
            return HttpResponse.json(200, reads[path])
        if path in ("/api/generate", "/api/chat"):
            if request.method != "POST":
                return _method_not_allowed(request)
            answer: dict[str, object] = {"model": model, "done": True}
            if path == "/api/chat":
                answer["message"] = {"role": "assistant", "content": "pong"}
            else:
                answer["response"] = "pong"
            return HttpResponse.json(200, answer)
        return _not_found(request)

    return route
