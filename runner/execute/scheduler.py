"""Run a plan: one bash session per (block session, target); targets concurrently, a target's
blocks in file order, a block's commands in order. Every check becomes a `CheckResult`; emits
events, never prints."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from runner.errors import TaskrunError, TransportError
from runner.evaluate.command import evaluate, format_seconds
from runner.evidence.baselines import BaselineStore
from runner.execute.capture import Redactor, StreamCapture, identity
from runner.execute.http import run_probe_on
from runner.execute.session import BlockSession, CommandOutcome
from runner.models import Attempt, CheckResult, Plan, PlannedCheck, Status, Target
from runner.plan.mustpass import NotApplicable, Settled, component_vars, resolve_check
from runner.redact import build_redactor, is_maskable_value
from runner.transports.base import Transport

NOT_RUN_SHELL_EXITED = "not run: shell exited"
NOT_RUN_TIMED_OUT = "not run: block timed out"
MANUAL_REASON = "needs a person's sign-off"
# A block's steps that put the shell where the next commands expect it: replayed, in order, in
# a fresh shell when a timed-out command left the old one stuck. `cd` alone on its line only.
_REPLAYED_CD = re.compile(r"\s*(?:cd|pushd|popd)(?:[ \t][^;&|\n`]*)?\s*\Z")
HTTP_NOT_SUPPORTED = "http probes not supported yet"
# Kinds that run in a target's bash session; every other runnable kind is in `RUNNERS`.
SHELL_KINDS = ("command", "setup")


@dataclass(frozen=True, slots=True)
class ExecuteOptions:
    concurrency: int = 32
    default_timeout: float = 60.0
    allow_mutating: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    # Per-target environment (inventory `env`/`secrets` names); wins over `env` when given,
    # so a remote host never receives the runner's whole environment.
    env_for: Callable[[Target], Mapping[str, str]] | None = None
    # Masks secrets in everything written. A `runner.redact.Redactor` is extended, per session,
    # with the values the host reports for its secret-named variables (`with_values`); a plain
    # function is combined with a redactor for them.
    redact: Redactor = identity
    # HTTP probes: the runner's environment for `${ENV}` in headers and bodies (None: probes
    # cannot run here, each is an `error`), and where performance baselines live.
    probe_env: Mapping[str, str] | None = None
    baselines: BaselineStore | None = None
    block_timeout: float | None = None  # per session (block × target); None: no limit


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a session-less check's runner gets besides the check and its target."""

    environ: Mapping[str, str]
    redact: Redactor
    transport: Transport | None  # None: the target is this machine
    baselines: BaselineStore | None


StepRunner = Callable[[PlannedCheck, Target, StepContext], Awaitable[CheckResult]]


async def _http_step(check: PlannedCheck, target: Target, context: StepContext) -> CheckResult:
    return await run_probe_on(
        check,
        target,
        environ=context.environ,
        redact=context.redact,
        transport=context.transport,
        baselines=context.baselines,
    )


# The check kinds that run without a bash session, by `PlannedCheck.kind`. Adding a kind (a
# TCP or TLS probe) is a runner module and one line here; the plan gives checks the kind.
RUNNERS: dict[str, StepRunner] = {
    "http": _http_step,
}


@dataclass(frozen=True, slots=True)
class CheckStarted:
    check_id: str  # "<plan id>@<component>"
    component: str


@dataclass(frozen=True, slots=True)
class CheckFinished:
    result: CheckResult


Event = CheckStarted | CheckFinished
EventSink = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class _Item:
    """One planned check on one component, with its position for stable ordering."""

    order: tuple[int, int]
    check: PlannedCheck
    component: str

    @property
    def result_id(self) -> str:
        return f"{self.check.id}@{self.component}"


async def execute_plan(
    plan: Plan,
    *,
    targets: Mapping[str, Target],
    transport_for: Callable[[Target], Transport],
    options: ExecuteOptions,
    log_dir: Path,
    on_event: EventSink = lambda event: None,
    results: list[CheckResult] | None = None,
    log_errors: list[str] | None = None,
) -> list[CheckResult]:
    """Run every check of `plan`; return the results in plan order.

    `results`, when given, receives each result as it finishes, so a caller that cancels this
    coroutine (SIGINT) keeps what was gathered. On cancellation every running process tree is
    killed before the cancellation propagates. `log_errors` receives every log file that could
    not be written (the checks still ran; their evidence is incomplete).
    """
    run = _Run(targets, transport_for, options, log_dir, on_event, results)
    try:
        return await run.execute(plan)
    finally:
        if log_errors is not None:
            log_errors.extend(dict.fromkeys(run.log_errors))


class _Run:
    def __init__(
        self,
        targets: Mapping[str, Target],
        transport_for: Callable[[Target], Transport],
        options: ExecuteOptions,
        log_dir: Path,
        on_event: EventSink,
        sink: list[CheckResult] | None,
    ) -> None:
        self.targets = targets
        self.transport_for = transport_for
        self.options = options
        self.log_dir = log_dir
        self.on_event = on_event
        self.sink = sink
        self.gathered: list[tuple[tuple[int, int], CheckResult]] = []
        self.transports: dict[str, Transport] = {}
        self.broken_targets: dict[str, str] = {}
        self.log_names: set[str] = set()
        # Only the errors are kept: a capture holds up to 1 MiB of head for expectations, and
        # keeping every capture alive held 500 MiB on a 500-check run.
        self.log_errors: list[str] = []
        self.semaphore = asyncio.Semaphore(max(1, options.concurrency))

    async def execute(self, plan: Plan) -> list[CheckResult]:
        units: dict[tuple[str, str], list[_Item]] = {}
        for index, check in enumerate(plan.checks):
            if check.kind == "shown":
                continue  # in the plan with its reason; never run, never counted
            for position, component in enumerate(check.components):
                resolved = self._resolved(_Item((index, position), check, component))
                if resolved is None:
                    continue
                item = resolved
                if not self._settle_statically(item):
                    units.setdefault((check.session, component), []).append(item)
        per_target: dict[str, list[tuple[str, list[_Item]]]] = {}
        for (session, component), items in units.items():
            per_target.setdefault(component, []).append((session, items))
        try:
            async with asyncio.TaskGroup() as group:
                for component, sessions in per_target.items():
                    group.create_task(self._run_target(component, sessions))
        finally:
            await self._close_transports()
        return [result for _, result in sorted(self.gathered, key=lambda pair: pair[0])]

    def _resolved(self, item: _Item) -> _Item | None:
        """A playbook check as it runs on its component; None when that settled it."""
        target = self.targets.get(item.component)
        if target is None or item.check.source != "must-pass":
            return item
        if item.check.kind not in (*SHELL_KINDS, *RUNNERS):
            return item
        resolved = resolve_check(
            item.check,
            component=target.component,
            vars=component_vars(target.component, target.vars),
        )
        if isinstance(resolved, NotApplicable):
            return None  # not applicable there: no result (the plan says why)
        if isinstance(resolved, Settled):
            if item.check.kind != "setup":
                self._finish(
                    item, self._result(item, status=resolved.status, message=resolved.reason)
                )
            return None
        return _Item(item.order, resolved, item.component)

    # ------------------------------------------------------------------ static outcomes
    def _settle_statically(self, item: _Item) -> bool:
        """Give a result without running anything where one is due; True when settled."""
        check = item.check
        if check.kind == "setup" and (check.directives.skip or item.component not in self.targets):
            return True
        if check.kind == "setup":
            return False
        verdict = self._static_verdict(item)
        if verdict is None:
            return False
        status, message = verdict
        self._finish(item, self._result(item, status=status, message=message))
        return True

    def _static_verdict(self, item: _Item) -> tuple[Status, str] | None:
        check = item.check
        if check.kind == "not-run":
            return "manual", check.reason or MANUAL_REASON
        if check.directives.skip:
            return "skip", check.directives.skip
        if item.component not in self.targets:
            return "error", f"component {item.component} is not in the inventory"
        if check.guard_reason and not (self.options.allow_mutating or check.directives.mutating_ok):
            return "skip", (
                f"state-changing command: {check.guard_reason} "
                "(use --allow-mutating or mutating=ok)"
            )
        if check.kind == "http" and self.options.probe_env is None:
            return "error", HTTP_NOT_SUPPORTED
        if check.kind not in (*SHELL_KINDS, *RUNNERS):
            return "error", f"unknown check kind {check.kind!r}"
        return None

    # ------------------------------------------------------------------ sessions
    async def _run_target(self, component: str, sessions: list[tuple[str, list[_Item]]]) -> None:
        """A target's blocks run one after another in file order (a later block may rely on
        an earlier one, as when a person pastes them); targets run concurrently."""
        async with self.semaphore:
            for session_name, items in sessions:
                await self._run_unit(session_name, component, items)

    async def _run_unit(self, session_name: str, component: str, items: list[_Item]) -> None:
        target = self.targets[component]
        if all(item.check.kind in RUNNERS for item in items):
            await self._run_steps(target, items)
            return
        session_log = self._session_log(session_name, component)
        unit = _Unit(target=target, log=session_log, redact=self.options.redact)
        try:
            await self._open(unit)
        except TransportError as exc:
            self.broken_targets.setdefault(component, str(exc) or type(exc).__name__)
            for item in items:
                self._not_run(item, self.broken_targets[component])
            session_log.close()
            return
        try:
            await self._run_items(unit, items)
        except asyncio.CancelledError:
            if unit.session is not None:
                await unit.session.kill()
            raise
        finally:
            if unit.session is not None:
                await unit.session.close()
            session_log.close()

    async def _run_steps(self, target: Target, items: list[_Item]) -> None:
        """Checks that need no bash session (HTTP probes, …): each by its kind's runner,
        from the runner or through the component's transport (a tunnel for `via: ssh`)."""
        for item in items:
            self.on_event(CheckStarted(item.result_id, item.component))
            try:
                transport = None if target.is_local else self._transport(target)
            except TransportError as exc:
                failed = self._result(item, status="error", message=str(exc))
                self._finish(item, failed, announced=True)
                continue
            context = StepContext(
                environ=self.options.probe_env or {},
                redact=self.options.redact,
                transport=transport,
                baselines=self.options.baselines,
            )
            try:
                result = await RUNNERS[item.check.kind](item.check, target, context)
            except TaskrunError as exc:
                # One check that cannot be judged (its evidence cannot be read or kept) is an
                # `error` for that check; the run goes on.
                result = self._result(item, status="error", message=self.options.redact(str(exc)))
            self._finish(item, replace(result, id=item.result_id), announced=True)

    def _transport(self, target: Target) -> Transport:
        transport = self.transports.get(target.component)
        if transport is None:
            transport = self.transport_for(target)
            self.transports[target.component] = transport
        return transport

    async def _open(self, unit: _Unit) -> None:
        """Start the unit's shell and learn its host's secrets before any of its output is
        written: from here on the unit's captures, log and results mask them."""
        broken = self.broken_targets.get(unit.target.component)
        if broken is not None:
            raise TransportError(broken)
        target = unit.target
        session = await BlockSession.open(
            self._transport(target),
            env=self.options.env_for(target) if self.options.env_for else self.options.env,
            idle_stdout=unit.log.stdout,
            idle_stderr=unit.log.stderr,
        )
        values = [v for v in session.sensitive_values if is_maskable_value(v)]
        if values:
            self.options = replace(self.options, redact=_extended(self.options.redact, values))
            unit.redact = _extended(unit.redact, values)
            unit.log.set_redact(unit.redact)
        unit.session = session

    async def _run_items(self, unit: _Unit, items: list[_Item]) -> None:
        deadline = (
            None
            if self.options.block_timeout is None
            else time.monotonic() + self.options.block_timeout
        )
        stopped: str | None = None
        replay: list[str] = []
        for item in items:
            if stopped is not None:
                self._not_run(item, stopped)
                continue
            if deadline is not None and time.monotonic() >= deadline:
                stopped = NOT_RUN_TIMED_OUT
                self._not_run(item, stopped)
                continue
            assert unit.session is not None
            if item.check.kind == "setup":
                outcome = await self._run_setup(unit, item, deadline)
            else:
                outcome = await self._run_check(unit, item, deadline)
            if _replayable(item.check):
                replay.append(item.check.command)
            if outcome.ended == "timeout" and deadline is not None and time.monotonic() >= deadline:
                stopped = NOT_RUN_TIMED_OUT
            elif outcome.ended == "timeout" and outcome.shell_exited:
                stopped = await self._fresh_shell(unit, item, replay)
            elif outcome.shell_exited:
                stopped = f"not run: {outcome.error}" if outcome.error else NOT_RUN_SHELL_EXITED

    async def _fresh_shell(self, unit: _Unit, stuck: _Item, replay: list[str]) -> str | None:
        """The shell itself did not come back from a timed-out command (a builtin loop): start
        another, replay the block's setup steps and `cd`s in it, and note it on every later
        check. Returns why the rest cannot run, or None."""
        if unit.session is not None:
            await unit.session.close()
            unit.session = None
        try:
            await self._open(unit)
        except TransportError as exc:
            return f"not run: {exc}"
        assert unit.session is not None
        for command in replay:
            outcome = await unit.session.run(
                command,
                stdout=unit.log.stdout,
                stderr=unit.log.stderr,
                timeout=self.options.default_timeout,
            )
            if outcome.shell_exited:
                why = outcome.error or "the fresh shell exited while replaying the setup"
                return f"not run: {why}"
        steps = f"replayed {len(replay)} setup step(s)" if replay else "nothing to replay"
        unit.note = (
            f"ran in a fresh shell: the shell was stuck after {unit.redact(stuck.check.label)!r} "
            f"timed out; {steps} (assignments, export, cd); other shell state was lost"
        )
        return None

    async def _run_setup(self, unit: _Unit, item: _Item, deadline: float | None) -> CommandOutcome:
        assert unit.session is not None
        timeout = self._timeout(item.check, deadline)
        return await unit.session.run(
            item.check.command,
            stdout=unit.log.stdout,
            stderr=unit.log.stderr,
            timeout=timeout,
            pipefail=item.check.directives.pipefail is not False,
        )

    async def _run_check(self, unit: _Unit, item: _Item, deadline: float | None) -> CommandOutcome:
        check = item.check
        target = unit.target
        session = unit.session
        assert session is not None
        redact = unit.redact
        self.on_event(CheckStarted(item.result_id, item.component))
        retries = max(0, check.directives.retries or 0)
        attempts: list[Attempt] = []
        log_paths: list[str] = []
        while True:
            number = len(attempts) + 1
            timeout = self._timeout(check, deadline)
            stdout, stderr = self._captures(item, number, redact)
            try:
                outcome = await session.run(
                    check.command,
                    stdout=stdout,
                    stderr=stderr,
                    timeout=timeout,
                    pipefail=check.directives.pipefail is not False,
                )
            finally:
                stdout.close()
                stderr.close()
            log_paths.extend(self._relative(c) for c in (stdout, stderr) if c.has_file)
            status, message = self._judge(outcome, stdout, stderr, check, timeout, deadline)
            attempts.append(
                Attempt(
                    exit_code=outcome.exit_code,
                    started_at=iso_utc(outcome.started_at),
                    duration_s=outcome.duration_s,
                    status=status,
                    reason=message,
                )
            )
            if (
                status != "fail"
                or len(attempts) > retries
                or outcome.shell_exited
                or outcome.ended == "timeout"
            ):
                break
            await asyncio.sleep(max(0.0, check.directives.retry_delay or 0.0))
        message = _with_note(message, unit.note)
        result = CheckResult(
            id=item.result_id,
            plan_id=check.id,
            label=redact(check.label),
            source=check.source,
            must_pass=check.must_pass,
            component=item.component,
            host=target.display,
            command=redact(check.command),
            status=status,
            exit_code=outcome.exit_code,
            started_at=attempts[0].started_at,
            duration_s=round(sum(a.duration_s for a in attempts), 3),
            stdout_tail=stdout.tail,
            stderr_tail=stderr.tail,
            log_paths=tuple(log_paths),
            reason=None if status == "error" else message,
            error=message if status == "error" else None,
            flaky=status == "pass" and len(attempts) > 1,
            attempts=tuple(attempts) if retries else (),
            line=check.line,
        )
        self._finish(item, result, announced=True)
        return outcome

    def _judge(
        self,
        outcome: CommandOutcome,
        stdout: StreamCapture,
        stderr: StreamCapture,
        check: PlannedCheck,
        timeout: float | None,
        deadline: float | None,
    ) -> tuple[Status, str | None]:
        if outcome.ended == "timeout" and deadline is not None and time.monotonic() >= deadline:
            return "error", f"block timed out after {format_seconds(self.options.block_timeout)}s"
        if outcome.error:
            return "error", outcome.error
        return evaluate(
            outcome.exit_code,
            stdout.head,
            check.expectation,
            stderr_text=stderr.head,
            timed_out=outcome.ended == "timeout",
            timeout_s=timeout,
            failure_line=stdout.failure_line or stderr.failure_line,
            sudo_password=stderr.sudo_password,
        )

    def _timeout(self, check: PlannedCheck, deadline: float | None) -> float:
        timeout = check.directives.timeout or self.options.default_timeout
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        return timeout

    # ------------------------------------------------------------------ results and logs
    def _not_run(self, item: _Item, message: str) -> None:
        if item.check.kind != "setup":
            self._finish(item, self._result(item, status="error", message=message))

    def _result(self, item: _Item, *, status: Status, message: str) -> CheckResult:
        check = item.check
        target = self.targets.get(item.component)
        return CheckResult(
            id=item.result_id,
            plan_id=check.id,
            label=self.options.redact(check.label),
            source=check.source,
            must_pass=check.must_pass,
            component=item.component,
            host=target.display if target is not None else "",
            command=self.options.redact(check.command) if check.kind != "not-run" else None,
            status=status,
            reason=None if status == "error" else message,
            error=message if status == "error" else None,
            line=check.line,
        )

    def _finish(self, item: _Item, result: CheckResult, *, announced: bool = False) -> None:
        """Record a result; `announced`: its CheckStarted event was already emitted."""
        self.gathered.append((item.order, result))
        if self.sink is not None:
            self.sink.append(result)
        if not announced:
            self.on_event(CheckStarted(item.result_id, item.component))
        self.on_event(CheckFinished(result))

    def _captures(
        self, item: _Item, attempt: int, redact: Redactor
    ) -> tuple[StreamCapture, StreamCapture]:
        base = self._log_name(item.result_id if attempt == 1 else f"{item.result_id}.try{attempt}")
        return (
            self._capture(self.log_dir / f"{base}.stdout", redact=redact),
            self._capture(self.log_dir / f"{base}.stderr", redact=redact),
        )

    def _capture(
        self, path: Path, *, redact: Redactor | None = None, unbuffered: bool = False
    ) -> StreamCapture:
        return StreamCapture(
            path,
            redact=redact or self.options.redact,
            unbuffered=unbuffered,
            on_error=self.log_errors.append,
        )

    def _session_log(self, session: str, component: str) -> _SessionLog:
        """The block's log: setup steps and output between commands (background jobs)."""
        path = self.log_dir / f"{self._log_name(f'{session}@{component}-setup')}.log"
        return _SessionLog(
            self._capture(path, unbuffered=True), self._capture(path, unbuffered=True)
        )

    def _log_name(self, wanted: str) -> str:
        """A file-name-safe, unique stem for a log file."""
        stem = re.sub(r"[^A-Za-z0-9@._-]+", "_", wanted).strip("._") or "check"
        name, counter = stem, 2
        while name in self.log_names:
            name, counter = f"{stem}-{counter}", counter + 1
        self.log_names.add(name)
        return name

    def _relative(self, capture: StreamCapture) -> str:
        assert capture.path is not None
        return capture.path.relative_to(self.log_dir.parent).as_posix()

    async def _close_transports(self) -> None:
        for transport in self.transports.values():
            try:
                await transport.close()
            except Exception:
                continue


@dataclass(frozen=True, slots=True)
class _SessionLog:
    """Both streams append whole lines, unbuffered, to one file."""

    stdout: StreamCapture
    stderr: StreamCapture

    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()

    def set_redact(self, redact: Redactor) -> None:
        self.stdout.redact = redact
        self.stderr.redact = redact


@dataclass(slots=True)
class _Unit:
    """One block on one target while it runs: its shell (replaced when one gets stuck), its
    log, the redactor that knows its host's secrets, and the note later checks carry."""

    target: Target
    log: _SessionLog
    redact: Redactor
    session: BlockSession | None = None
    note: str | None = None


def _replayable(check: PlannedCheck) -> bool:
    """Setup steps (assignments, `export`) and a plain `cd`: what a fresh shell replays."""
    if check.directives.skip:
        return False
    return check.kind == "setup" or _REPLAYED_CD.match(check.command) is not None


def _with_note(message: str | None, note: str | None) -> str | None:
    if note is None:
        return message
    return note if message is None else f"{message} ({note})"


def _extended(redact: Redactor, values: list[str]) -> Redactor:
    """`redact` that also masks `values`."""
    with_values = getattr(redact, "with_values", None)
    if with_values is not None:
        extended: Redactor = with_values(values)
        return extended
    extra = build_redactor(secret_values=values)
    return lambda text: extra(redact(text))


def iso_utc(epoch_seconds: float) -> str:
    """`2026-11-24T13:05:50.123Z`."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
