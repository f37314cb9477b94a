"""The block-session protocol: one bash per block and target, commands sent one at a time over
stdin, each command's output and status delimited by markers carrying a per-run random token.

Transport-agnostic: it uses only `Transport.start(script, env)` and the `Process` methods.

Wire format. The control channel (the shell's stdin) first carries the environment to export,
`NAME=value\\0` records ended by an empty record (so no value is ever in an argv, on any host).
The shell answers on stdout with `\\n__TASKRUN_<token>__ SENSITIVE\\n`, the values of its
exported variables whose names look secret (`*KEY*`, `*TOKEN*`, …), each ended by `\\0`, then
`\\n__TASKRUN_<token>__ READY\\n`; that preamble is never written anywhere. Then Python writes
`"<seq> <pipefail 0|1>\\0<command>\\0"` per command. The shell prints
`\\n__TASKRUN_<token>__ BEGIN <seq>\\n` on stdout and stderr, `eval`s the command in the current
shell (stdin from /dev/null), then prints
`\\n__TASKRUN_<token>__ END <seq> <rc> <pipestatus,…> <t0> <t1> <how> <last background pid>\\n`
on both streams (`how` is `done`, or `exit` when printed by the EXIT trap because the shell is
exiting). The leading `\\n` of a marker belongs to the marker, so output without a final
newline is kept exactly. The token lives only in a shell variable, so no command text contains
a marker.

The session's own code does not depend on the user's shell state: `IFS`, `set -euxo`, aliases
(the loop is parsed before any command runs), functions named like builtins, or an EXIT trap the
user replaced (the process's own exit is watched too).

A timeout kills the command's processes (everything in the shell's session except the shell
itself and the background jobs earlier commands started) and the shell goes on with the next
command, keeping its variables and directory. Only a shell that does not come back (it is
itself busy: a builtin loop) is killed; the caller may then start a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Literal

from runner.errors import ConnectError, InputError
from runner.execute.capture import Sink
from runner.redact import SECRET_NAME_PARTS
from runner.transports.base import Process, Transport

SIGPIPE_STATUS = 141
# A marker line longer than this is not ours: it is passed through as output.
_MAX_MARKER_LINE = 256
DRAIN_TIMEOUT_S = 2.0
# After the shell process exits: how long its last output may take to arrive.
EXIT_DRAIN_S = 0.5
# After a timeout's processes are killed: how long the shell has to print its end markers
# before it counts as stuck.
RECOVER_S = 1.0
START_TIMEOUT_S = 10.0
# The signal that asks the shell to abandon the rest of a timed-out command (its trap jumps
# back to the command loop, like Ctrl-C at a terminal); ignored by default, so a shell whose
# trap a command replaced is not killed by it.
ABORT_SIGNAL = "WINCH"
# Background job PIDs remembered per session (spared when a later command times out).
_MAX_BACKGROUND = 256

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NEGATED = re.compile(r"\s*!\s")

_SCRIPT = r"""
__tr_tok=@TOKEN@
exec {__tr_ctl}<&0 {__tr_out}>&1 {__tr_err}>&2 </dev/null
__tr_kv=
while IFS= builtin read -r -d '' -u "$__tr_ctl" __tr_kv && [[ -n $__tr_kv ]]; do
  builtin export -- "$__tr_kv"
done
__tr_kv=
unset SUDO_ASKPASS
sudo() { command sudo -n "$@"; }
export -f sudo
__tr_seq=0 __tr_in=0 __tr_t0=0 __tr_hdr= __tr_cmd= __tr_erc=0 __tr_ps= __tr_x= __tr_f= __tr_m=
__tr_n=
__tr_st=(0 0)
__tr_tail=$'\n\n''{ __tr_st=("$?" "${PIPESTATUS[@]}") __tr_f=$-; \builtin set +x; } 2>/dev/null'
builtin printf '\n__TASKRUN_%s__ SENSITIVE\n' "$__tr_tok"
for __tr_n in @NAMES@; do
  case ${__tr_n^^} in
    @PATTERNS@) if [[ ${!__tr_n@a} == *x* ]]; then builtin printf '%s\0' "${!__tr_n}"; fi ;;
  esac
done
builtin printf '\n__TASKRUN_%s__ READY\n' "$__tr_tok"
__tr_end() {
  builtin printf -v __tr_m '\n__TASKRUN_%s__ END %s %s %s %s %s %s %s\n' "$__tr_tok" \
    "$__tr_seq" "$2" "$3" "$__tr_t0" "$EPOCHREALTIME" "$1" "${!:-0}"
  builtin printf '%s' "$__tr_m" >&"$__tr_out"
  builtin printf '%s' "$__tr_m" >&"$__tr_err"
}
__tr_on_exit() {
  __tr_erc=$?
  if [[ $__tr_in != 0 ]]; then
    exec 1>&"$__tr_out" 2>&"$__tr_err"
    __tr_end exit "$__tr_erc" "$__tr_erc"
  fi
}
trap '{ __tr_on_exit; } 2>/dev/null' EXIT
trap '{ [[ $__tr_in == 1 ]] && __tr_in=2 && continue 1000; } 2>/dev/null' @ABORT@
while
  if [[ $__tr_in == 2 ]]; then
    { __tr_f=$-; \builtin set +x; } 2>/dev/null
    exec 1>&"$__tr_out" 2>&"$__tr_err" </dev/null
    case $__tr_f in *x*) __tr_x='\builtin set -x; ' ;; *) __tr_x= ;; esac
    __tr_in=0
    __tr_end abandoned 130 130
  fi
  IFS= builtin read -r -d '' -u "$__tr_ctl" __tr_hdr &&
    IFS= builtin read -r -d '' -u "$__tr_ctl" __tr_cmd
do
  __tr_seq=${__tr_hdr%% *}
  if [[ ${__tr_hdr#* } == 1 ]]; then builtin set -o pipefail; else builtin set +o pipefail; fi
  builtin printf -v __tr_m '\n__TASKRUN_%s__ BEGIN %s\n' "$__tr_tok" "$__tr_seq"
  builtin printf '%s' "$__tr_m" >&"$__tr_out"
  builtin printf '%s' "$__tr_m" >&"$__tr_err"
  __tr_st=(x) __tr_in=1 __tr_t0=$EPOCHREALTIME
  builtin eval "$__tr_x$__tr_cmd$__tr_tail"
  __tr_erc=$? __tr_in=0
  exec 1>&"$__tr_out" 2>&"$__tr_err" </dev/null
  if [[ ${__tr_st[0]} == x ]]; then __tr_st=("$__tr_erc" "$__tr_erc") __tr_f=$-; fi
  case $__tr_f in *x*) __tr_x='\builtin set -x; ' ;; *) __tr_x= ;; esac
  builtin printf -v __tr_ps '%s,' "${__tr_st[@]:1}"
  __tr_end done "${__tr_st[0]}" "$__tr_ps"
done
"""

EndKind = Literal["done", "timeout", "shell-exited"]


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How one command ended. `exit_code` is bash's own status, SIGPIPE forgiven (see
    `effective_exit_code`).

    `ended == "timeout"`: the command's processes were killed; `shell_exited` then says the
    shell itself did not come back (it was busy itself) and was killed too. `killed_by`: the
    signal that killed the shell while the command ran (`SIGTERM`); `error` says so.
    """

    ended: EndKind
    exit_code: int | None
    raw_exit_code: int | None  # as bash reported it
    pipestatus: tuple[int, ...]
    started_at: float  # epoch seconds
    duration_s: float
    shell_exited: bool  # the session cannot run anything more
    error: str | None = None  # "connection lost to h:p", "shell killed by SIGTERM"
    killed_by: str | None = None


@dataclass(frozen=True, slots=True)
class _EndMarker:
    seq: int
    rc: int
    pipestatus: tuple[int, ...]
    t0: float
    t1: float
    how: str
    background: int  # `$!` after the command (0: none yet)


def build_script(token: str) -> str:
    names = " ".join(f'"${{!{first}@}}"' for first in string.ascii_letters + "_")
    patterns = "|".join(f"*{part}*" for part in SECRET_NAME_PARTS)
    return (
        _SCRIPT.replace("@TOKEN@", token)
        .replace("@NAMES@", names)
        .replace("@PATTERNS@", patterns)
        .replace("@ABORT@", ABORT_SIGNAL)
    )


def env_message(env: Mapping[str, str]) -> bytes:
    """The first message on the control channel: `NAME=value\\0` records, then `\\0`."""
    records = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise InputError(f"environment variable name {name!r} is not valid")
        records.append(f"{name}={value.replace(chr(0), '')}\0")
    return ("".join(records) + "\0").encode("utf-8", "surrogateescape")


def effective_exit_code(
    rc: int, pipestatus: tuple[int, ...], *, pipefail: bool, negated: bool = False
) -> int:
    """bash's own status `rc`, except that with pipefail a SIGPIPE (141) of a stage that is not
    the last is forgiven where it is what made the status non-zero: `yes | head -1` is 0,
    `false | true` stays 1, `false | yes | head -1` is 1.

    `pipestatus` is `PIPESTATUS` after the command: the last pipeline bash ran, which may sit
    inside a compound command, so it only ever corrects `rc` when `rc` is that pipeline's own
    pipefail status. `negated`: the command is `! pipeline`, whose status bash inverted, so
    `! yes | head -1` is 1 (the pipeline succeeded) rather than bash's 0.
    """
    if not pipefail or len(pipestatus) < 2:
        return rc
    raw = _pipefail_status(pipestatus)
    forgiven = _pipefail_status(
        tuple(0 if code == SIGPIPE_STATUS else code for code in pipestatus[:-1]) + pipestatus[-1:]
    )
    if raw == forgiven:
        return rc
    if rc == raw:
        return forgiven
    if negated and rc == int(raw == 0):
        return int(forgiven == 0)
    return rc


def is_negated(command: str) -> bool:
    """`! a | b`: the command is a negated pipeline (bash inverts its status)."""
    return _NEGATED.match(command) is not None


def _pipefail_status(stages: tuple[int, ...]) -> int:
    failed = [code for code in stages if code != 0]
    return failed[-1] if failed else 0


class _Demux:
    """Splits one output stream at the session's markers and routes bytes to sinks."""

    def __init__(self, token: str, idle: Sink) -> None:
        self._prefix = f"\n__TASKRUN_{token}__ ".encode()
        self._buf = bytearray()
        self._idle = idle
        self._current: Sink = idle
        self._sinks: dict[int, Sink] = {}
        self.ends: dict[int, asyncio.Future[_EndMarker | None]] = {}
        self.eof = False
        self.released = False

    def expect(self, seq: int, sink: Sink) -> asyncio.Future[_EndMarker | None]:
        self._sinks[seq] = sink
        future: asyncio.Future[_EndMarker | None] = asyncio.get_running_loop().create_future()
        self.ends[seq] = future
        if self.released:
            future.set_result(None)  # the shell is gone: nothing will end this command
        return future

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk
        while self._buf:
            at = self._buf.find(self._prefix)
            if at < 0:
                self._emit_keeping_partial_prefix()
                return
            if at > 0:
                self._current.write(bytes(self._buf[:at]))
                del self._buf[:at]
            line_end = self._buf.find(b"\n", len(self._prefix))
            if line_end < 0:
                if len(self._buf) <= _MAX_MARKER_LINE:
                    return  # wait for the rest of the marker line
                self._pass_through_first_byte()
                continue
            line = bytes(self._buf[len(self._prefix) : line_end])
            if self._handle_marker(line):
                del self._buf[: line_end + 1]
            else:
                self._pass_through_first_byte()

    def finish(self) -> None:
        """EOF: flush what is left and release anyone waiting for an end marker."""
        if self._buf:
            self._current.write(bytes(self._buf))
            self._buf.clear()
        self.eof = True
        self.release()

    def release(self) -> None:
        """No end marker is coming any more: whoever waits for one gets None."""
        self.released = True
        for future in self.ends.values():
            if not future.done():
                future.set_result(None)

    def _emit_keeping_partial_prefix(self) -> None:
        keep = len(self._prefix) - 1
        if len(self._buf) > keep:
            cut = len(self._buf) - keep
            self._current.write(bytes(self._buf[:cut]))
            del self._buf[:cut]

    def _pass_through_first_byte(self) -> None:
        self._current.write(bytes(self._buf[:1]))
        del self._buf[:1]

    def _handle_marker(self, line: bytes) -> bool:
        parts = line.decode("ascii", errors="replace").split(" ")
        try:
            if parts[0] == "BEGIN" and len(parts) == 2:
                seq = int(parts[1])
                self._current = self._sinks.get(seq, self._idle)
                return True
            if parts[0] == "END" and len(parts) == 8:
                end = _EndMarker(
                    seq=int(parts[1]),
                    rc=int(parts[2]),
                    pipestatus=tuple(int(p) for p in parts[3].split(",") if p),
                    # EPOCHREALTIME follows the locale's decimal point
                    t0=float(parts[4].replace(",", ".")),
                    t1=float(parts[5].replace(",", ".")),
                    how=parts[6],
                    background=int(parts[7]),
                )
                self._current = self._idle
                self._sinks.pop(end.seq, None)
                future = self.ends.get(end.seq)
                if future is not None and not future.done():
                    future.set_result(end)
                return True
        except ValueError:
            return False
        return False


class _NullSink:
    def write(self, data: bytes) -> None:
        return None


class BlockSession:
    """One bash session on one target: run commands in order, sharing shell state.

    `sensitive_values`: what the shell reported at start for its exported variables whose
    names look secret (the caller masks them in everything it writes).
    """

    def __init__(
        self,
        process: Process,
        token: str,
        idle_stdout: Sink,
        idle_stderr: Sink,
        *,
        stdout_chunks: AsyncIterator[bytes] | None = None,
        first_stdout: bytes = b"",
        sensitive_values: tuple[str, ...] = (),
    ):
        self.process = process
        self.sensitive_values = sensitive_values
        self._out = _Demux(token, idle_stdout)
        self._err = _Demux(token, idle_stderr)
        self._seq = 0
        chunks = stdout_chunks if stdout_chunks is not None else process.stdout()
        self._readers = [
            asyncio.ensure_future(_pump(chunks, self._out, first=first_stdout)),
            asyncio.ensure_future(_pump(process.stderr(), self._err)),
        ]
        self._exit_watch: asyncio.Future[int | None] = asyncio.ensure_future(process.wait())
        self._exit_watch.add_done_callback(self._on_exit)
        self._background: list[int] = []
        self.exited = False
        self.exit_status: int | None = None

    @classmethod
    async def open(
        cls,
        transport: Transport,
        *,
        env: Mapping[str, str] | None = None,
        idle_stdout: Sink | None = None,
        idle_stderr: Sink | None = None,
        token: str | None = None,
    ) -> BlockSession:
        """Start the shell, hand it `env` over the control channel and read its preamble.
        Raises `TransportError` when the target cannot run anything."""
        token = token or secrets.token_hex(16)
        message = env_message(env or {})
        process = await transport.start(build_script(token), env={})
        process.write_stdin(message)
        chunks = aiter(process.stdout())
        limit = max(START_TIMEOUT_S, transport.target.connect_timeout)
        try:
            values, rest = await asyncio.wait_for(_read_preamble(chunks, token), limit)
        except (TimeoutError, ConnectError) as exc:
            with contextlib.suppress(Exception):
                await process.kill_tree()
            why = "did not start in time" if isinstance(exc, TimeoutError) else str(exc)
            raise ConnectError(f"the shell on {transport.target.display} {why}") from exc
        except BaseException:
            with contextlib.suppress(Exception):
                await process.kill_tree()
            raise
        return cls(
            process,
            token,
            idle_stdout or _NullSink(),
            idle_stderr or _NullSink(),
            stdout_chunks=chunks,
            first_stdout=rest,
            sensitive_values=values,
        )

    async def run(
        self,
        command: str,
        *,
        stdout: Sink,
        stderr: Sink,
        timeout: float | None,
        pipefail: bool = True,
    ) -> CommandOutcome:
        """Send one command and wait for both of its end markers (or the shell's exit, or the
        timeout). After a timeout the command's processes are killed and the shell goes on;
        a shell that does not come back is killed (`shell_exited`)."""
        started_wall = time.time()
        started = time.monotonic()
        if self.exited:
            return CommandOutcome("shell-exited", None, None, (), started_wall, 0.0, True)
        self._seq += 1
        seq = self._seq
        ends = [self._out.expect(seq, stdout), self._err.expect(seq, stderr)]
        text = command.replace("\0", "")
        self.process.write_stdin(f"{seq} {int(pipefail)}\0{text}\0".encode())
        if not await self._ended(ends, timeout):
            return await self._timed_out(ends, started_wall, started)
        markers = [future.result() if future.done() else None for future in ends]
        marker = markers[0] or markers[1]
        if marker is None or any(m is None for m in markers):
            return await self._shell_gone(marker, started_wall, started)
        self._remember_background(marker.background)
        code = effective_exit_code(
            marker.rc, marker.pipestatus, pipefail=pipefail, negated=is_negated(text)
        )
        outcome = CommandOutcome(
            "done",
            code,
            marker.rc,
            marker.pipestatus,
            marker.t0,
            round(max(0.0, marker.t1 - marker.t0), 3),
            False,
        )
        if marker.how != "exit":
            return outcome
        status = await self._reap()
        killed = self.process.killed_by
        if killed is not None:
            return _killed(outcome, killed, status)
        return CommandOutcome(
            "done",
            code,
            marker.rc,
            marker.pipestatus,
            outcome.started_at,
            outcome.duration_s,
            True,
        )

    async def close(self) -> None:
        """End the session: close the control channel, then kill whatever is left (background
        jobs included) and stop reading."""
        if not self.exited:
            self.process.close_stdin()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exit_watch), timeout=DRAIN_TIMEOUT_S)
        await self.kill()

    async def kill(self) -> None:
        self.exited = True
        with contextlib.suppress(Exception):
            await self.process.kill_tree()
        await self._drain_readers()
        self._exit_watch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._exit_watch

    async def _ended(
        self, ends: list[asyncio.Future[_EndMarker | None]], timeout: float | None
    ) -> bool:
        """Wait for both end markers (None for a marker that never came: EOF, or the shell
        process exited); False when `timeout` passed first."""
        done, _ = await asyncio.wait(ends, timeout=timeout)
        return len(done) == len(ends)

    def _on_exit(self, _watch: asyncio.Future[int | None]) -> None:
        """The shell process is gone: its last output gets `EXIT_DRAIN_S` to arrive, then
        whoever waits for an end marker stops waiting (a background job may hold the pipes
        open, so EOF may never come)."""
        if not self._exit_watch.cancelled():
            loop = asyncio.get_running_loop()
            loop.call_later(EXIT_DRAIN_S, self._out.release)
            loop.call_later(EXIT_DRAIN_S, self._err.release)

    async def _timed_out(
        self,
        ends: list[asyncio.Future[_EndMarker | None]],
        started_wall: float,
        started: float,
    ) -> CommandOutcome:
        """Kill the command's processes, like Ctrl-C at a terminal, and let the shell go on;
        a shell that does not print its end markers in time is stuck itself: kill it."""
        duration = round(time.monotonic() - started, 3)
        interrupted = False
        with contextlib.suppress(Exception):
            interrupted = await self.process.interrupt(tuple(self._background), abort=ABORT_SIGNAL)
        if interrupted and await self._ended(ends, RECOVER_S) and not self._exit_watch.done():
            markers = [future.result() if future.done() else None for future in ends]
            if all(m is not None and m.how in ("done", "abandoned") for m in markers):
                assert markers[0] is not None
                self._remember_background(markers[0].background)
                return CommandOutcome("timeout", None, None, (), started_wall, duration, False)
        await self.kill()
        return CommandOutcome("timeout", None, None, (), started_wall, duration, True)

    async def _shell_gone(
        self, marker: _EndMarker | None, started_wall: float, started: float
    ) -> CommandOutcome:
        """The shell ended without finishing the command's markers (`exec prog`, killed)."""
        status = await self._reap()
        code = marker.rc if marker is not None else status
        outcome = CommandOutcome(
            "shell-exited",
            code,
            code,
            (),
            started_wall,
            round(time.monotonic() - started, 3),
            True,
            error=None if code is not None else self.process.lost_reason,
        )
        killed = self.process.killed_by
        return outcome if killed is None else _killed(outcome, killed, status)

    async def _reap(self) -> int | None:
        self.exited = True
        status: int | None = None
        with contextlib.suppress(asyncio.TimeoutError):
            status = await asyncio.wait_for(
                asyncio.shield(self._exit_watch), timeout=DRAIN_TIMEOUT_S
            )
        self.exit_status = status
        # Background jobs may still hold the pipes open: end them so the readers see EOF.
        await self.kill()
        return status

    def _remember_background(self, pid: int) -> None:
        if pid > 0 and pid not in self._background:
            self._background.append(pid)
            del self._background[:-_MAX_BACKGROUND]

    async def _drain_readers(self) -> None:
        _, pending = await asyncio.wait(self._readers, timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _killed(outcome: CommandOutcome, signal_name: str, status: int | None) -> CommandOutcome:
    """The shell died of a signal while the command ran: whatever its EXIT trap said (`$?`
    of the last command, often 0), the command did not finish."""
    return CommandOutcome(
        "shell-exited",
        status,
        outcome.raw_exit_code,
        outcome.pipestatus,
        outcome.started_at,
        outcome.duration_s,
        True,
        error=f"shell killed by {signal_name}",
        killed_by=signal_name,
    )


async def _read_preamble(chunks: AsyncIterator[bytes], token: str) -> tuple[tuple[str, ...], bytes]:
    """The values the shell reported as sensitive, and the bytes after its READY marker."""
    start = f"\n__TASKRUN_{token}__ SENSITIVE\n".encode()
    ready = f"\n__TASKRUN_{token}__ READY\n".encode()
    buffer = bytearray()
    while ready not in buffer:
        chunk = await anext(chunks, b"")
        if not chunk:
            raise ConnectError("exited before the session started")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(ready)
    _, _, reported = head.partition(start)
    values = tuple(
        dict.fromkeys(
            value.decode("utf-8", "surrogateescape") for value in reported.split(b"\0") if value
        )
    )
    return values, rest


async def _pump(chunks: AsyncIterator[bytes], demux: _Demux, *, first: bytes = b"") -> None:
    try:
        if first:
            demux.feed(first)
        async for chunk in chunks:
            demux.feed(chunk)
    finally:
        demux.finish()


__all__ = [
    "BlockSession",
    "CommandOutcome",
    "build_script",
    "effective_exit_code",
    "env_message",
    "is_negated",
]
