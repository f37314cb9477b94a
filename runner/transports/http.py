"""HTTP for probes: send one request with httpx and time it. The only home of httpx.

httpx errors become `ServiceError` here (one map, `_service_error`), with the reason in plain
words ("connection refused: URL"); no httpx type leaves this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType

import httpx

from runner.errors import ServiceError

__all__ = ["HttpClient", "HttpRequest", "HttpResponse", "post_json"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str  # where it is sent (a tunnel's local end for `via: ssh`)
    shown_url: str  # as the service sees it: what reasons name
    headers: dict[str, str]
    content: bytes | None = None
    json_body: object = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    text: str
    latency_ms: float  # from sending the request to the whole body read


class HttpClient:
    """One connection pool for a probe's requests: no redirects followed, no proxy from the
    environment (a probe checks the service, not the path to it)."""

    def __init__(self, *, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False)

    async def __aenter__(self) -> HttpClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Raises `ServiceError` when no answer came (refused, timed out, dropped)."""
        start = time.perf_counter()
        try:
            response = await self._client.request(
                request.method,
                request.url,
                headers=request.headers,
                content=request.content,
                json=request.json_body if request.content is None else None,
            )
            await response.aread()
        except httpx.HTTPError as exc:
            raise _service_error(exc, request.shown_url) from exc
        latency_ms = (time.perf_counter() - start) * 1000
        return HttpResponse(status=response.status_code, text=response.text, latency_ms=latency_ms)


def post_json(url: str, payload: object, *, timeout_s: float) -> int:
    """POST `payload` as JSON (notifications); the answer's status code. Raises `ServiceError`
    when no answer came, the URL included (bad URL, refused, TLS, timeout)."""
    try:
        with httpx.Client(timeout=timeout_s) as client:
            return client.post(url, json=payload).status_code
    except httpx.HTTPError as exc:
        raise _service_error(exc, url) from exc
    except (httpx.InvalidURL, httpx.StreamError, ValueError, TypeError) as exc:
        raise ServiceError(f"invalid request: {exc}") from exc


def _service_error(exc: httpx.HTTPError, url: str) -> ServiceError:
    if isinstance(exc, httpx.TimeoutException):
        return ServiceError(f"timed out: {url}")
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "refused" in text.lower() or "all connection attempts failed" in text.lower():
            return ServiceError(f"connection refused: {url}")
        return ServiceError(f"cannot connect: {url}: {text}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return ServiceError(f"connection closed without an answer: {url}")
    return ServiceError(f"HTTP request failed: {url}: {type(exc).__name__}: {exc}")
