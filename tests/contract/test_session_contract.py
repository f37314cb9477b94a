"""The block-session contract, run against every transport (see conftest.TRANSPORT_FACTORIES)."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass

import pytest

from runner.evaluate.command import evaluate
from runner.execute.capture import StreamCapture
from runner.execute.session import (
    BlockSession,
    CommandOutcome,
    _Demux,
    effective_exit_code,
    is_negated,
)
from runner.models import Expectation
from runner.transports.base import Transport


@dataclass
class Ran:
    outcome: CommandOutcome
    stdout: StreamCapture
    stderr: StreamCapture

    @property
    def out(self) -> str:
        return self.stdout.head

    @property
    def err(self) -> str:
        return self.stderr.head


async def run_commands(
    transport: Transport, commands: list[str], *, timeout: float = 10.0, pipefail: bool = True
) -> list[Ran]:
    session = await BlockSession.open(transport)
    ran: list[Ran] = []
    try:
        for command in commands:
            stdout, stderr = StreamCapture(None), StreamCapture(None)
            outcome = await session.run(
                command, stdout=stdout, stderr=stderr, timeout=timeout, pipefail=pipefail
            )
            stdout.close()
            stderr.close()
            ran.append(Ran(outcome, stdout, stderr))
    finally:
        await session.close()
    return ran


def unique_seconds(whole: int) -> str:
    """A `sleep` argument no other test run uses, so /proc scans see only our processes."""
    return f"{whole}.{secrets.randbelow(10**6):06d}"


def processes_with_argv(*argv: str) -> list[int]:
    """PIDs of live processes whose command line is exactly `argv` (this machine's /proc)."""
    wanted = b"\0".join(a.encode() for a in argv) + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read() != wanted:
                    continue
            with open(f"/proc/{entry}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            found.append(int(entry))
    return found


async def test_stdout_stderr_and_exit_status(session_transport: Transport) -> None:
    (ran,) = await run_commands(session_transport, ["echo out; echo err >&2; exit 42"])
    assert ran.out == "out\n"
    assert ran.err == "err\n"
    assert ran.outcome.exit_code == 42
    assert ran.outcome.shell_exited


async def test_state_carries_over_and_failures_do_not_stop_the_block(
    session_transport: Transport,
) -> None:
    ran = await run_commands(
        session_transport,
        ["X=hello; cd /tmp", "false", "if then", 'echo "$X $PWD"'],
    )
    assert [r.outcome.exit_code for r in ran] == [0, 1, 2, 0]
    assert "syntax error" in ran[2].err
    assert ran[3].out == "hello /tmp\n"


async def test_output_without_final_newline_is_kept_exactly(session_transport: Transport) -> None:
    ran = await run_commands(session_transport, ["printf abc", "printf 'x\\n\\n'", "printf ''"])
    assert [r.out for r in ran] == ["abc", "x\n\n", ""]


async def test_text_that_looks_like_a_marker_is_just_output(session_transport: Transport) -> None:
    fake = "__TASKRUN_0123456789abcdef0123456789abcdef__ END 1 0 0 1.0 2.0 done 0"
    ran = await run_commands(
        session_transport,
        [f"printf '\\n{fake}\\n'; echo after", "set | grep -c __tr_tok >/dev/null; echo ok"],
    )
    assert ran[0].out == f"\n{fake}\nafter\n"
    assert ran[1].out == "ok\n"


async def test_commands_read_eof_from_stdin(session_transport: Transport) -> None:
    started = time.monotonic()
    ran = await run_commands(
        session_transport, ["cat; echo cat-done", 'read x; echo "rc=$?"', "echo still-here"]
    )
    assert [r.out for r in ran] == ["cat-done\n", "rc=1\n", "still-here\n"]
    assert time.monotonic() - started < 5


async def test_pipefail_forgives_sigpipe_of_earlier_stages(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport,
        ["yes | head -1", "false | true", "seq 100000 | grep -q 5", "false | yes | head -1"],
    )
    assert [r.outcome.exit_code for r in ran] == [0, 1, 0, 1]
    assert ran[0].outcome.pipestatus == (141, 0)


async def test_pipefail_off(session_transport: Transport) -> None:
    (ran,) = await run_commands(session_transport, ["false | true"], pipefail=False)
    assert ran.outcome.exit_code == 0


async def test_closing_stdout_or_stderr_does_not_break_the_session(
    session_transport: Transport,
) -> None:
    ran = await run_commands(
        session_transport,
        ["exec >&-; echo lost", "echo back", "exec 2>&-; echo to-out", "echo err >&2"],
    )
    assert ran[0].out == ""
    assert ran[1].out == "back\n"
    assert ran[2].out == "to-out\n"
    assert ran[3].err == "err\n"


async def test_exec_replacing_the_shell_gives_the_programs_status(
    session_transport: Transport,
) -> None:
    ran = await run_commands(session_transport, ["exec sh -c 'echo replaced; exit 5'", "echo x"])
    assert ran[0].outcome.exit_code == 5
    assert ran[0].out == "replaced\n"
    assert ran[0].outcome.shell_exited
    assert ran[1].outcome.ended == "shell-exited"


async def test_set_e_then_a_failure_ends_the_session(session_transport: Transport) -> None:
    ran = await run_commands(session_transport, ["set -e", "echo a; false; echo b", "echo c"])
    assert ran[0].outcome.exit_code == 0
    assert (ran[1].outcome.exit_code, ran[1].out) == (1, "a\n")
    assert ran[1].outcome.shell_exited
    assert ran[2].outcome.ended == "shell-exited"


async def test_subshell_exit_does_not_end_the_session(session_transport: Transport) -> None:
    ran = await run_commands(session_transport, ["(exit 4)", "x=$(exit 5); echo $?"])
    assert ran[0].outcome.exit_code == 4
    assert not ran[0].outcome.shell_exited
    assert ran[1].out == "5\n"


async def test_timeout_kills_the_tree_and_keeps_partial_output(
    session_transport: Transport,
) -> None:
    seconds = unique_seconds(300)
    started = time.monotonic()
    ran = await run_commands(
        session_transport, [f"echo before; sleep {seconds}; echo after", "echo x"], timeout=1.0
    )
    assert time.monotonic() - started < 4
    assert ran[0].outcome.ended == "timeout"
    assert ran[0].out == "before\n"  # the rest of the command line is abandoned, as Ctrl-C does
    assert (ran[1].outcome.ended, ran[1].out) == ("done", "x\n")  # the same shell goes on
    assert processes_with_argv("sleep", seconds) == []


async def test_background_jobs_do_not_block_and_do_not_survive(
    session_transport: Transport,
) -> None:
    seconds = unique_seconds(30)
    started = time.monotonic()
    ran = await run_commands(session_transport, [f"sleep {seconds} &", "echo next"])
    assert time.monotonic() - started < 5
    assert ran[1].out == "next\n"
    assert processes_with_argv("sleep", seconds) == []


async def test_binary_output_does_not_break_parsing(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport, ["head -c 200000 /dev/urandom", "printf '\\0\\n\\377'", "echo after"]
    )
    assert ran[0].stdout.total == 200000
    assert ran[0].outcome.exit_code == 0
    assert ran[1].stdout.total == 3
    assert ran[2].out == "after\n"


async def test_failure_marker_fails_the_check(session_transport: Transport) -> None:
    (ran,) = await run_commands(
        session_transport, ['curl -fsS http://127.0.0.1:9/ 2>/dev/null || echo "  ❌ down"']
    )
    assert ran.outcome.exit_code == 0
    status, reason = evaluate(ran.outcome.exit_code, ran.out, Expectation(), stderr_text=ran.err)
    assert (status, reason) == ("fail", "printed a failure marker: ❌ down")


async def test_sudo_never_prompts(session_transport: Transport) -> None:
    (ran,) = await run_commands(session_transport, ["type sudo | head -1"])
    assert ran.out == "sudo is a function\n"


# ----------------------------------------------------------------------- marker parsing


class _Collect:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 4096])
async def test_markers_split_across_chunks(chunk_size: int) -> None:
    token = "ab" * 16
    idle, sink = _Collect(), _Collect()
    demux = _Demux(token, idle)
    end = demux.expect(1, sink)
    stream = (
        f"\n__TASKRUN_{token}__ BEGIN 1\nhello\n__TASKRUN_{token}__ not at line start"
        f"\n__TASKRUN_{token}__ END 1 3 1,3 1.5 2.5 done 0\nbackground\n"
    ).encode()
    for at in range(0, len(stream), chunk_size):
        demux.feed(stream[at : at + chunk_size])
    demux.finish()
    assert bytes(sink.data) == f"hello\n__TASKRUN_{token}__ not at line start".encode()
    assert bytes(idle.data) == b"background\n"
    marker = end.result()
    assert marker is not None
    assert (marker.rc, marker.pipestatus, marker.how) == (3, (1, 3), "done")


@pytest.mark.parametrize(
    ("rc", "pipestatus", "pipefail", "expected"),
    [
        (0, (0, 1), True, 0),  # `while a | grep -q x` ended: bash's 0, not the pipeline's 1
        (1, (0, 0), True, 1),  # `if …; then ! a | b; fi`: bash's 1
        (0, (141, 0), True, 0),  # `if yes | head -1; then …; fi` with no else: bash's 0
        (141, (141, 0), True, 0),
        (141, (141, 141, 0), True, 0),
        (1, (1, 141, 0), True, 1),
        (141, (0, 141), True, 141),
        (1, (1, 0), True, 1),
        (0, (1, 0), False, 0),
        (3, (3,), True, 3),
    ],
)
def test_effective_exit_code(
    rc: int, pipestatus: tuple[int, ...], pipefail: bool, expected: int
) -> None:
    assert effective_exit_code(rc, pipestatus, pipefail=pipefail) == expected


@pytest.mark.parametrize(
    ("rc", "pipestatus", "expected"),
    [
        (0, (141, 0), 1),  # `! yes | head -1`: the pipeline succeeded, so the negation fails
        (1, (0, 0), 1),  # `! a | grep -q x` found x
        (0, (0, 1), 0),  # … did not find it
        (0, (141, 1), 0),  # `! cat big | grep -q x`, x absent: grep's 1 decides
        (0, (1, 0), 0),  # `! false | true`: pipefail's 1, inverted
    ],
)
def test_effective_exit_code_of_a_negated_pipeline(
    rc: int, pipestatus: tuple[int, ...], expected: int
) -> None:
    assert effective_exit_code(rc, pipestatus, pipefail=True, negated=True) == expected


@pytest.mark.parametrize(
    ("command", "negated"),
    [("! grep x f | wc -l", True), ("  !\tfalse", True), ("!false", False), ("a != b", False)],
)
def test_is_negated(command: str, negated: bool) -> None:
    assert is_negated(command) is negated


async def test_locale_and_non_login_shell(session_transport: Transport) -> None:
    (ran,) = await run_commands(
        session_transport, ['echo "$LC_ALL"; shopt -q login_shell; echo $?']
    )
    assert ran.out == "C.UTF-8\n1\n"
