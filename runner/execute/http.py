"""Run the HTTP probes of Must-Pass playbooks: render the request, send it (directly, or
through the component's transport tunnel for `via: ssh`), judge the answer
(`runner.evaluate.http`), and measure p50/p95 against a baseline (`runner.evaluate.performance`).
Never raises for an outcome: refused, timed out or wrong → `fail`; a tunnel that cannot open →
`error`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from runner.errors import (
    EvidenceError,
    InputError,
    ServiceError,
    ServiceRefused,
    TransportError,
)
from runner.evaluate.http import json_path, judge_response
from runner.evaluate.performance import Baseline, judge, percentile
from runner.evidence.baselines import BaselineStore
from runner.models import (
    Attempt,
    CheckResult,
    HttpProbe,
    PlannedCheck,
    Status,
    Target,
)
from runner.plan.mustpass import (
    NotApplicable,
    Settled,
    component_vars,
    missing_var_message,
    render_template,
    resolve_check,
)
from runner.project.playbooks import SAMPLES_FROM_VARS
from runner.transports.base import Transport
from runner.transports.http import HttpClient, HttpRequest

__all__ = ["DISCOVERABLE_VARS", "Forward", "run_probe", "run_probe_on"]

Forward = Callable[[str, int], Awaitable[tuple[str, int]]]

MASK = "***"
TAIL_CHARS = 2000
RETRY_DELAY_S = 1.0
DEFAULT_SAMPLES = 20
MIN_SECRET_LENGTH = 4

# A var that is null in the inventory but can be asked of the service under test: (path on the
# probe's own server, JSON path of the value). GET with the probe's headers.
DISCOVERABLE_VARS: Mapping[str, tuple[str, str]] = {
    "e2e_model": ("/v1/models", "data.0.id"),
}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_HEADER = re.compile(r"(?i)^(?:(?:proxy-)?authorization|cookie|.*-(?:key|token|secret))$")


class _NotRendered(Exception):
    """A template or environment reference could not be filled: the check is `error`."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """One request's outcome."""

    status: Status
    reason: str | None
    http_status: int | None
    latency_ms: float | None
    body: str
    started_at: str
    duration_s: float


# --------------------------------------------------------------------------- the runner


async def run_probe(
    check: PlannedCheck,
    *,
    component: str,
    host: str,
    vars: Mapping[str, object],
    environ: Mapping[str, str],
    redact: Callable[[str], str],
    forward: Forward | None,
    baselines: BaselineStore | None,
    retry_delay_s: float | None = None,
) -> CheckResult:
    """Run the HTTP probe of `check` on `component`.

    `vars`: the component's vars (`playbooks.component_vars`). `forward(host, port)`: for
    `via: ssh`, a local (host, port) tunnelled through the component's SSH connection (None: the
    component is this machine, connect directly). `baselines`: where performance probes find
    and record their baseline (None: measure and report only).
    """
    probe = check.probe
    assert probe is not None, "run_probe needs a check with a probe"
    secrets: list[str] = []

    def mask(text: str) -> str:
        for value in sorted(secrets, key=len, reverse=True):
            text = text.replace(value, MASK)
        return redact(text)

    def settled(status: Status, message: str, http: dict[str, object] | None = None) -> CheckResult:
        return _result(check, component, host, status, mask(message), http=http)

    resolved = resolve_check(check, component=component, vars=vars)
    if isinstance(resolved, Settled):
        return settled(resolved.status, resolved.reason)
    if isinstance(resolved, NotApplicable):  # the scheduler drops these; a direct call skips
        return settled("skip", resolved.reason)
    try:
        url = _fill(probe.url, vars, environ, secrets)
    except KeyError as exc:
        return settled("error", missing_var_message(str(exc.args[0]), component, vars))
    except _NotRendered as exc:
        return settled(*_split_outcome(str(exc)))
    http: dict[str, object] = {"method": probe.method, "url": url}
    if probe.via == "ssh":
        http["via"] = "ssh"

    def http_info() -> dict[str, object]:
        return {
            key: mask(value) if isinstance(value, str) else value for key, value in http.items()
        }

    try:
        send_url = await _tunnelled(url, probe, forward)
    except ServiceRefused:
        return settled("fail", f"connection refused: {url} (through SSH to {host})", http_info())
    except TransportError as exc:
        return settled("error", f"cannot open an SSH tunnel to {host}: {exc}", http_info())

    timeout = check.directives.timeout or probe.timeout_s
    async with HttpClient(timeout_s=timeout) as client:
        try:
            request = await _render_request(
                probe, url, send_url, dict(vars), environ, secrets, client, component
            )
        except _NotRendered as exc:
            return settled(*_split_outcome(str(exc)), http_info())
        if probe.samples is not None:
            return await _measure(
                check,
                probe,
                request,
                client,
                component=component,
                host=host,
                vars=vars,
                baselines=baselines,
                mask=mask,
                http=http,
            )
        delay = retry_delay_s if retry_delay_s is not None else _retry_delay(check)
        answers: list[_Answer] = []
        for attempt in range(probe.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
            answer = await _send(client, request, probe, mask)
            answers.append(answer)
            if answer.status == "pass":
                break
    last = answers[-1]
    http.update(status=last.http_status, latency_ms=_ms(last.latency_ms))
    result = _result(
        check,
        component,
        host,
        last.status,
        mask(last.reason) if last.reason else None,
        http=http_info(),
        started_at=answers[0].started_at,
        duration_s=round(sum(a.duration_s for a in answers), 3),
        stdout_tail=mask(last.body)[-TAIL_CHARS:],
    )
    if not probe.retries:
        return result
    return replace(
        result,
        flaky=last.status == "pass" and len(answers) > 1,
        attempts=tuple(
            Attempt(
                exit_code=None,
                started_at=a.started_at,
                duration_s=a.duration_s,
                status=a.status,
                reason=mask(a.reason) if a.reason else None,
            )
            for a in answers
        ),
    )


async def run_probe_on(
    check: PlannedCheck,
    target: Target,
    *,
    environ: Mapping[str, str],
    redact: Callable[[str], str],
    transport: Transport | None,
    baselines: BaselineStore | None,
) -> CheckResult:
    """`run_probe` for an inventory target: its vars over the defaults, its display name, and
    its transport's tunnel for `via: ssh` (none for this machine)."""
    forward = None
    if not target.is_local and transport is not None:
        forward = transport.tunnel
    return await run_probe(
        check,
        component=target.component,
        host=target.display,
        vars=component_vars(target.component, target.vars),
        environ=environ,
        redact=redact,
        forward=forward,
        baselines=baselines,
    )


def _retry_delay(check: PlannedCheck) -> float:
    given = check.directives.retry_delay
    return RETRY_DELAY_S if given is None else given


def _split_outcome(message: str) -> tuple[Status, str]:
    status, _, reason = message.partition(":")
    return ("fail" if status == "fail" else "error"), reason.strip()


# --------------------------------------------------------------------------- rendering


async def _tunnelled(url: str, probe: HttpProbe, forward: Forward | None) -> str:
    """The URL to send to: through the SSH tunnel for `via: ssh`, else `url` itself."""
    if probe.via != "ssh" or forward is None:
        return url
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    local_host, local_port = await forward(parts.hostname or "127.0.0.1", port)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    netloc += f"{local_host}:{local_port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _render_request(
    probe: HttpProbe,
    url: str,
    send_url: str,
    vars: dict[str, object],
    environ: Mapping[str, str],
    secrets: list[str],
    client: HttpClient,
    component: str,
) -> HttpRequest:
    """Headers and body rendered (`{{var}}`, then `${ENV}`); discoverable vars asked for."""
    while True:
        try:
            headers = {
                name: _fill(value, vars, environ, secrets, secret=bool(_SECRET_HEADER.match(name)))
                for name, value in probe.headers
            }
            content = (
                _fill(probe.body, vars, environ, secrets).encode()
                if probe.body is not None
                else None
            )
            json_body = _fill_json(probe.json_body, vars, environ, secrets)
            break
        except KeyError as exc:
            name = str(exc.args[0])
            if name not in DISCOVERABLE_VARS or vars.get(name) is not None:
                raise _NotRendered("error: " + missing_var_message(name, component, vars)) from None
            known = _headers_so_far(probe, vars, environ, secrets)
            vars[name] = await _discover(name, url, send_url, known, client)
    if send_url != url:
        headers.setdefault("Host", urlsplit(url).netloc.rpartition("@")[2])
    return HttpRequest(
        method=probe.method,
        url=send_url,
        shown_url=url,
        headers=headers,
        content=content,
        json_body=json_body,
    )


def _headers_so_far(
    probe: HttpProbe, vars: Mapping[str, object], environ: Mapping[str, str], secrets: list[str]
) -> dict[str, str]:
    """The headers that render without the var being discovered (auth, mostly)."""
    headers: dict[str, str] = {}
    for name, value in probe.headers:
        try:
            headers[name] = _fill(
                value, vars, environ, secrets, secret=bool(_SECRET_HEADER.match(name))
            )
        except KeyError:
            continue
    return headers


async def _discover(
    name: str, url: str, send_url: str, headers: dict[str, str], client: HttpClient
) -> object:
    path, pointer = DISCOVERABLE_VARS[name]
    shown = _with_path(url, path)
    request = HttpRequest(
        method="GET", url=_with_path(send_url, path), shown_url=shown, headers=headers
    )
    try:
        response = await client.send(request)
    except ServiceError as exc:
        raise _NotRendered(f"fail: cannot find {name}: {exc}") from None
    if response.status != 200:
        raise _NotRendered(
            f"fail: cannot find {name}: GET {shown}: HTTP {response.status} (expected 200)"
        )
    try:
        found = json_path(json.loads(response.text), pointer)
    except (ValueError, LookupError):
        found = None
    if found in (None, ""):
        raise _NotRendered(
            f"fail: {name} is not set and GET {shown} lists none ({pointer} missing); "
            f"set {name} in the inventory"
        )
    return found


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _fill(
    text: str,
    vars: Mapping[str, object],
    environ: Mapping[str, str],
    secrets: list[str],
    *,
    secret: bool = False,
) -> str:
    """`{{var}}` then `${ENV}`; every environment value used becomes a secret to mask."""
    rendered = render_template(text, vars)

    def env_value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise _NotRendered(f"error: environment variable {name} is not set")
        value = environ[name]
        if len(value) >= MIN_SECRET_LENGTH:
            secrets.append(value)
        return value

    filled = _ENV_REF.sub(env_value, rendered)
    if secret:
        # The whole value of an Authorization/*-Key header is secret, and so is its token part.
        for part in (filled, filled.split(" ", 1)[-1]):
            if len(part) >= MIN_SECRET_LENGTH:
                secrets.append(part)
    return filled


def _fill_json(
    value: object, vars: Mapping[str, object], environ: Mapping[str, str], secrets: list[str]
) -> object:
    if isinstance(value, str):
        return _fill(value, vars, environ, secrets)
    if isinstance(value, list):
        return [_fill_json(item, vars, environ, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _fill_json(item, vars, environ, secrets) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------- sending and judging


async def _send(
    client: HttpClient,
    request: HttpRequest,
    probe: HttpProbe,
    mask: Callable[[str], str],
    *,
    judge_body: bool = True,
) -> _Answer:
    started_at = _iso_now()
    start = time.perf_counter()
    try:
        response = await client.send(request)
    except ServiceError as exc:
        return _Answer(
            status="fail",
            reason=str(exc),
            http_status=None,
            latency_ms=None,
            body="",
            started_at=started_at,
            duration_s=round(time.perf_counter() - start, 3),
        )
    reason = judge_response(
        response.status, response.text, response.latency_ms, probe, judge_body=judge_body
    )
    return _Answer(
        status="fail" if reason else "pass",
        reason=reason,
        http_status=response.status,
        latency_ms=response.latency_ms,
        body=response.text,
        started_at=started_at,
        duration_s=round(response.latency_ms / 1000, 3),
    )


# --------------------------------------------------------------------------- performance


async def _measure(
    check: PlannedCheck,
    probe: HttpProbe,
    request: HttpRequest,
    client: HttpClient,
    *,
    component: str,
    host: str,
    vars: Mapping[str, object],
    baselines: BaselineStore | None,
    mask: Callable[[str], str],
    http: dict[str, object],
) -> CheckResult:
    """`samples` sequential requests after one warm-up (connection setup is not latency)."""
    samples = _sample_count(probe, vars)
    if isinstance(samples, str):
        return _result(check, component, host, "error", samples, http=_masked(http, mask))
    started_at = _iso_now()
    start = time.perf_counter()
    warmup = await _send(client, request, probe, mask, judge_body=False)
    latencies: list[float] = []
    failure: _Answer | None = None if warmup.status == "pass" else warmup
    failed_at = 0
    for number in range(1, samples + 1):
        if failure is not None:
            break
        answer = await _send(client, request, _without_latency_limit(probe), mask, judge_body=False)
        if answer.status != "pass" or answer.latency_ms is None:
            failure, failed_at = answer, number
            break
        latencies.append(answer.latency_ms)
    duration = round(time.perf_counter() - start, 3)
    if failure is not None:
        http.update(status=failure.http_status, samples=len(latencies))
        where = "warm-up request" if failed_at == 0 else f"sample {failed_at}/{samples}"
        return _result(
            check,
            component,
            host,
            "fail",
            mask(f"{where}: {failure.reason}"),
            http=_masked(http, mask),
            started_at=started_at,
            duration_s=duration,
            stdout_tail=mask(failure.body)[-TAIL_CHARS:],
        )
    measured = Baseline(
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        samples=samples,
        recorded_at=started_at,
    )
    http.update(
        status=warmup.http_status,
        latency_ms=_ms(measured.p50_ms),
        samples=samples,
        p50_ms=_ms(measured.p50_ms),
        p95_ms=_ms(measured.p95_ms),
    )
    try:
        status, reason = _against_baseline(check, probe, measured, component, baselines, http)
    except (InputError, EvidenceError) as exc:
        # A corrupt baseline file, or a disk too full to record one: this check cannot be
        # judged, the others still run.
        status, reason = "error", f"{shown_measurement(measured)}; baseline: {exc}"
    lines = [f"{value:.1f}" for value in latencies]
    return _result(
        check,
        component,
        host,
        status,
        mask(reason),
        http=_masked(http, mask),
        started_at=started_at,
        duration_s=duration,
        stdout_tail=f"latencies (ms): {' '.join(lines)}\n",
    )


def _against_baseline(
    check: PlannedCheck,
    probe: HttpProbe,
    measured: Baseline,
    component: str,
    baselines: BaselineStore | None,
    http: dict[str, object],
) -> tuple[Status, str]:
    shown = shown_measurement(measured)
    if baselines is None:
        return "pass", f"{shown} (no baseline store: not compared)"
    name = check.label
    baseline = baselines.get(component, name)
    if baseline is not None:
        http["baseline_p95_ms"] = _ms(baseline.p95_ms)
    verdict = judge(measured, baseline, tolerance=probe.tolerance, tolerance_ms=probe.tolerance_ms)
    if baseline is None:
        if baselines.may_record(component, name):
            baselines.record(component, name, measured)
            return "pass", f"baseline recorded (p95 {measured.p95_ms:.1f} ms)"
        return "pass", (
            f"no baseline in {baselines.describe(component, name)} ({shown}); not recorded "
            "(use --update-baseline to record it)"
        )
    if baselines.update:
        baselines.record(component, name, measured)
        return verdict.status, f"{verdict.reason}; baseline updated (p95 {measured.p95_ms:.1f} ms)"
    return verdict.status, verdict.reason


def shown_measurement(measured: Baseline) -> str:
    return f"p50 {measured.p50_ms:.1f} ms, p95 {measured.p95_ms:.1f} ms"


def _sample_count(probe: HttpProbe, vars: Mapping[str, object]) -> int | str:
    if probe.samples is not None and probe.samples != SAMPLES_FROM_VARS:
        return probe.samples
    value = vars.get("perf_samples", DEFAULT_SAMPLES)
    if value is None:
        value = DEFAULT_SAMPLES
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"inventory var perf_samples must be a whole number ≥ 1 (got {value!r})"
    return value


def _without_latency_limit(probe: HttpProbe) -> HttpProbe:
    """Samples are judged as a whole (p95 against the baseline), not one by one."""
    return replace(probe, max_latency_ms=None)


# --------------------------------------------------------------------------- results


def _result(
    check: PlannedCheck,
    component: str,
    host: str,
    status: Status,
    message: str | None,
    *,
    http: dict[str, object] | None = None,
    started_at: str | None = None,
    duration_s: float | None = None,
    stdout_tail: str = "",
) -> CheckResult:
    return CheckResult(
        id=f"{check.id}@{component}",
        plan_id=check.id,
        label=check.label,
        source=check.source,
        must_pass=check.must_pass,
        component=component,
        host=host,
        command=None,
        status=status,
        started_at=started_at,
        duration_s=duration_s,
        stdout_tail=stdout_tail,
        reason=None if status == "error" else message,
        error=message if status == "error" else None,
        line=check.line,
        http=http,
    )


def _masked(http: dict[str, object], mask: Callable[[str], str]) -> dict[str, object]:
    return {key: mask(value) if isinstance(value, str) else value for key, value in http.items()}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _iso_now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
