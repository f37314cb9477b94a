"""The block-session protocol: one bash per block and target, commands sent one at a time over
stdin, each command's output and status delimited by markers carrying a per-run random token.

Transport-agnostic: it uses only `Transport.start(script, env)` and the `Process` methods.

Wire format. Python writes `"<seq> <pipefail 0|1>\\0<command>\\0"` on the control channel. The
shell prints `\\n__TASKRUN_<token>__ BEGIN <seq>\\n` on stdout and stderr, `eval`s the command
in the current shell (stdin from /dev/null), then prints
`\\n__TASKRUN_<token>__ END <seq> <rc> <pipestatus,…> <t0> <t1> <how>\\n` on both streams
(`how` is `done`, or `exit` when printed by the EXIT trap because the shell is exiting). The
leading `\\n` of a marker belongs to the marker, so output without a final newline is kept
exactly. The token lives only in a shell variable, so no command text contains a marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Literal

from runner.execute.capture import Sink
from runner.transports.base import Process, Transport

SIGPIPE_STATUS = 141
# A marker line longer than this is not ours: it is passed through as output.
_MAX_MARKER_LINE = 256
DRAIN_TIMEOUT_S = 2.0

_SCRIPT = r"""
__tr_tok=@TOKEN@
exec {__tr_ctl}<&0 {__tr_out}>&1 {__tr_err}>&2 </dev/null
unset SUDO_ASKPASS
sudo() { command sudo -n "$@"; }
export -f sudo
__tr_seq=0 __tr_in=0 __tr_t0=0 __tr_rc=0 __tr_ps= __tr_hdr= __tr_cmd= __tr_erc=0
__tr_mark() {
  printf '\n__TASKRUN_%s__ %s\n' "$__tr_tok" "$1" >&"$__tr_out"
  printf '\n__TASKRUN_%s__ %s\n' "$__tr_tok" "$1" >&"$__tr_err"
}
__tr_on_exit() {
  __tr_erc=$?
  if [ "$__tr_in" = 1 ]; then
    exec 1>&"$__tr_out" 2>&"$__tr_err"
    __tr_mark "END $__tr_seq $__tr_erc $__tr_erc $__tr_t0 $EPOCHREALTIME exit"
  fi
}
trap __tr_on_exit EXIT
while IFS= read -r -d '' -u "$__tr_ctl" __tr_hdr && IFS= read -r -d '' -u "$__tr_ctl" __tr_cmd
do
  __tr_seq=${__tr_hdr%% *}
  if [ "${__tr_hdr#* }" = 1 ]; then set -o pipefail; else set +o pipefail; fi
  __tr_mark "BEGIN $__tr_seq"
  __tr_ps= __tr_in=1 __tr_t0=$EPOCHREALTIME
  eval "$__tr_cmd"$'\n\n''__tr_rc=$? __tr_ps="${PIPESTATUS[*]}"'
  __tr_erc=$? __tr_in=0
  exec 1>&"$__tr_out" 2>&"$__tr_err" </dev/null
  if [ -z "$__tr_ps" ]; then __tr_rc=$__tr_erc __tr_ps=$__tr_erc; fi
  __tr_mark "END $__tr_seq $__tr_rc ${__tr_ps// /,} $__tr_t0 $EPOCHREALTIME done"
done
"""

EndKind = Literal["done", "timeout", "shell-exited"]


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How one command ended. `exit_code` already forgives SIGPIPE in non-last stages."""

    ended: EndKind
    exit_code: int | None
    raw_exit_code: int | None  # as bash reported it
    pipestatus: tuple[int, ...]
    started_at: float  # epoch seconds
    duration_s: float
    shell_exited: bool  # the session cannot run anything more
    error: str | None = None  # the transport lost the session ("connection lost to h:p")


@dataclass(frozen=True, slots=True)
class _EndMarker:
    seq: int
    rc: int
    pipestatus: tuple[int, ...]
    t0: float
    t1: float
    how: str


def build_script(token: str) -> str:
    return _SCRIPT.replace("@TOKEN@", token)


def effective_exit_code(rc: int, pipestatus: tuple[int, ...], *, pipefail: bool) -> int:
    """With pipefail, a SIGPIPE (141) of a stage that is not the last does not fail the
    pipeline: `yes | head -1` is 0, `false | true` stays 1."""
    if not pipefail or len(pipestatus) < 2:
        return rc
    stages = [0 if code == SIGPIPE_STATUS else code for code in pipestatus[:-1]]
    stages.append(pipestatus[-1])
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

    def expect(self, seq: int, sink: Sink) -> asyncio.Future[_EndMarker | None]:
        self._sinks[seq] = sink
        future: asyncio.Future[_EndMarker | None] = asyncio.get_running_loop().create_future()
        self.ends[seq] = future
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
            if parts[0] == "END" and len(parts) == 7:
                end = _EndMarker(
                    seq=int(parts[1]),
                    rc=int(parts[2]),
                    pipestatus=tuple(int(p) for p in parts[3].split(",") if p),
                    t0=float(parts[4]),
                    t1=float(parts[5]),
                    how=parts[6],
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
    """One bash session on one target: run commands in order, sharing shell state."""

    def __init__(self, process: Process, token: str, idle_stdout: Sink, idle_stderr: Sink):
        self.process = process
        self._out = _Demux(token, idle_stdout)
        self._err = _Demux(token, idle_stderr)
        self._seq = 0
        self._readers = [
            asyncio.ensure_future(_pump(process.stdout(), self._out)),
            asyncio.ensure_future(_pump(process.stderr(), self._err)),
        ]
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
        """Start the shell. Raises `TransportError` when the target cannot run anything."""
        token = token or secrets.token_hex(16)
        process = await transport.start(build_script(token), env=dict(env or {}))
        return cls(process, token, idle_stdout or _NullSink(), idle_stderr or _NullSink())

    async def run(
        self,
        command: str,
        *,
        stdout: Sink,
        stderr: Sink,
        timeout: float | None,
        pipefail: bool = True,
    ) -> CommandOutcome:
        """Send one command and wait for both of its end markers (or EOF, or the timeout).

        After a timeout the whole process tree is killed and the session is over.
        """
        started_wall = time.time()
        started = time.monotonic()
        if self.exited:
            return CommandOutcome("shell-exited", None, None, (), started_wall, 0.0, True)
        self._seq += 1
        seq = self._seq
        ends = [self._out.expect(seq, stdout), self._err.expect(seq, stderr)]
        text = command.replace("\0", "")
        self.process.write_stdin(f"{seq} {int(pipefail)}\0{text}\0".encode())
        done, _ = await asyncio.wait(ends, timeout=timeout)
        if len(done) < len(ends):
            await self.kill()
            return CommandOutcome(
                "timeout",
                None,
                None,
                (),
                started_wall,
                round(time.monotonic() - started, 3),
                True,
            )
        markers = [future.result() for future in ends]
        marker = markers[0] or markers[1]
        if marker is None or any(m is None for m in markers):
            return await self._shell_gone(marker, started_wall, started)
        code = effective_exit_code(marker.rc, marker.pipestatus, pipefail=pipefail)
        if marker.how == "exit":
            await self._reap()
        return CommandOutcome(
            "done",
            code,
            marker.rc,
            marker.pipestatus,
            marker.t0,
            round(max(0.0, marker.t1 - marker.t0), 3),
            self.exited,
        )

    async def close(self) -> None:
        """End the session: close the control channel, then kill whatever is left (background
        jobs included) and stop reading."""
        if not self.exited:
            self.process.close_stdin()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), timeout=DRAIN_TIMEOUT_S)
        await self.kill()

    async def kill(self) -> None:
        self.exited = True
        with contextlib.suppress(Exception):
            await self.process.kill_tree()
        await self._drain_readers()

    async def _shell_gone(
        self, marker: _EndMarker | None, started_wall: float, started: float
    ) -> CommandOutcome:
        """The shell ended without finishing the command's markers (`exec prog`, killed)."""
        status = await self._reap()
        code = marker.rc if marker is not None else status
        return CommandOutcome(
            "shell-exited",
            code,
            code,
            (),
            started_wall,
            round(time.monotonic() - started, 3),
            True,
            error=None if code is not None else self.process.lost_reason,
        )

    async def _reap(self) -> int | None:
        self.exited = True
        status: int | None = None
        with contextlib.suppress(asyncio.TimeoutError):
            status = await asyncio.wait_for(self.process.wait(), timeout=DRAIN_TIMEOUT_S)
        self.exit_status = status
        # Background jobs may still hold the pipes open: end them so the readers see EOF.
        await self.kill()
        return status

    async def _drain_readers(self) -> None:
        _, pending = await asyncio.wait(self._readers, timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _pump(chunks: AsyncIterator[bytes], demux: _Demux) -> None:
    try:
        async for chunk in chunks:
            demux.feed(chunk)
    finally:
        demux.finish()
