"""Verdict cases of the session, against every transport (see conftest.TRANSPORT_FACTORIES):
bash's own status (negated pipelines, SIGPIPE), a shell killed by a signal, timeouts that let
the block go on, a session that does not depend on the user's shell state, and the environment
travelling over the control channel.

Where a status is bash's, real bash (`bash -o pipefail`, one shell for the whole list) is the
oracle; the SIGPIPE cases, where taskrun deliberately differs from pipefail, are spelled out.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from runner.execute.capture import StreamCapture
from runner.execute.session import BlockSession
from runner.transports.base import Transport
from tests.contract.test_session_contract import (
    processes_with_argv,
    run_commands,
    unique_seconds,
)

# Every case creates its own files, so it runs the same in any shell on any host.
_LOGS = (
    "d=$(mktemp -d); printf '# header\\nok\\nERROR boom\\n' > \"$d/bad.log\"; "
    "printf '# header\\nok\\n' > \"$d/good.log\""
)

NEGATIONS = [
    "! grep -v '^#' \"$d/bad.log\" | grep -qi error",
    "! grep -v '^#' \"$d/good.log\" | grep -qi error",
    "if true; then ! grep -v '^#' \"$d/bad.log\" | grep -qi error; fi",
    "if true; then ! grep -v '^#' \"$d/good.log\" | grep -qi error; fi",
    "while printf 'x\\n' | grep -q y; do :; done",
    "n=0; while printf 'x\\n' | grep -q x && [ $n -lt 3 ]; do n=$((n+1)); done; [ $n = 3 ]",
    "until printf 'x\\n' | grep -q x; do :; done",
    "! false | true",
    "! true | false",
    "false | true",
    "{ false | true; }",
    '! grep -q ERROR "$d/bad.log"',
    "f() { ! printf 'error\\n' | grep -q error; }; f",
    'for f in "$d"/*.log; do ! grep -q nothing "$f" | cat; done',
]


def bash_statuses(commands: list[str]) -> list[int]:
    """`$?` after each command, as one `bash -o pipefail` running them in turn sees it."""
    script = (
        "set -o pipefail\n"
        "while IFS= read -r -d '' c; do eval \"$c\" </dev/null >/dev/null 2>&1; "
        "printf '%s\\n' \"$?\"; done"
    )
    given = "".join(f"{command}\0" for command in commands)
    out = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        input=given,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [int(line) for line in out.stdout.split()]


async def test_statuses_are_bash_own(session_transport: Transport) -> None:
    commands = [_LOGS, *NEGATIONS]
    expected = bash_statuses(commands)
    ran = await run_commands(session_transport, commands)
    assert [r.outcome.exit_code for r in ran] == expected
    # the cases the issue names, in words
    assert expected[1:5] == [1, 0, 1, 0]  # errors in the log fail `! … | grep -qi error`
    assert expected[5:8] == [0, 0, 0]  # `while a | grep -q x` loops end well


SIGPIPE_CASES = [
    # (command, status): pipefail, but a non-last stage's SIGPIPE does not fail a pipeline
    ("yes | head -1 >/dev/null", 0),
    ("! yes | head -1 >/dev/null", 1),
    ("seq 1 300000 | sed 's/$/ error/' > \"$d/big.log\"", 0),
    ('cat "$d/big.log" | grep -qi error', 0),
    ('! cat "$d/big.log" | grep -qi error', 1),  # errors there: the negation fails
    ('! cat "$d/good.log" | grep -qi error', 0),
    ("false | yes | head -1 >/dev/null", 1),
    ("yes | false", 1),
    ("! yes | false", 0),
    ("if true; then yes | head -1 >/dev/null; fi", 0),
    ("yes | head -1 >/dev/null; exit_was=$?; [ $exit_was = 141 ]", 0),  # bash's own `$?` inside
]


async def test_sigpipe_is_forgiven_only_where_it_made_the_status(
    session_transport: Transport,
) -> None:
    commands = [_LOGS, *(command for command, _ in SIGPIPE_CASES)]
    ran = await run_commands(session_transport, commands)
    assert [r.outcome.exit_code for r in ran[1:]] == [status for _, status in SIGPIPE_CASES]


# --------------------------------------------------------------------------- a killed shell


@pytest.mark.parametrize("name", ["TERM", "HUP", "KILL", "PIPE"])
async def test_a_shell_killed_by_a_signal_is_an_error_not_a_pass(
    session_transport: Transport, name: str
) -> None:
    ran = await run_commands(session_transport, ["echo first", f"kill -{name} $$", "echo later"])
    killed = ran[1].outcome
    assert killed.error == f"shell killed by SIG{name}"
    assert killed.killed_by == f"SIG{name}"
    assert killed.shell_exited
    assert ran[2].outcome.ended == "shell-exited"


async def test_kill_dollar_dollar_is_seen_even_while_a_job_holds_the_pipes(
    session_transport: Transport,
) -> None:
    seconds = unique_seconds(30)
    started = time.monotonic()
    ran = await run_commands(session_transport, [f"sleep {seconds} & kill $$"], timeout=20)
    assert ran[0].outcome.error == "shell killed by SIGTERM"
    assert time.monotonic() - started < 8
    assert processes_with_argv("sleep", seconds) == []


async def test_a_shell_killed_between_commands_does_not_hang_the_next(
    session_transport: Transport,
) -> None:
    session = await BlockSession.open(session_transport)
    try:
        sinks = [StreamCapture(None) for _ in range(4)]
        first = await session.run(
            "(sleep 0.2; kill -KILL $$) >/dev/null 2>&1 &",
            stdout=sinks[0],
            stderr=sinks[1],
            timeout=10,
        )
        assert first.exit_code == 0
        await asyncio.sleep(1.5)
        started = time.monotonic()
        later = await session.run("echo x", stdout=sinks[2], stderr=sinks[3], timeout=30)
        assert time.monotonic() - started < 5
        assert later.shell_exited and later.ended != "timeout"
    finally:
        await session.close()


async def test_exit_with_a_signal_like_status_is_just_a_status(
    session_transport: Transport,
) -> None:
    (ran,) = await run_commands(session_transport, ["exit 143"])
    assert (ran.outcome.exit_code, ran.outcome.error, ran.outcome.killed_by) == (143, None, None)


# --------------------------------------------------------------------------- timeouts


async def test_after_a_timeout_the_block_goes_on_in_the_same_shell(
    session_transport: Transport,
) -> None:
    seconds = unique_seconds(300)
    ran = await run_commands(
        session_transport,
        [
            "X=kept; cd /tmp; export Y=exported",
            f"sleep {seconds}; echo after",
            'echo "$X $Y $PWD"',
            f'x=$(sleep {seconds}; echo sub); echo "after $x"',
            "while :; do :; done; echo after",
            f"until false; do sleep {seconds}; done",
            f"bash -c \"trap '' TERM; sleep {seconds}\"; echo after",  # deaf to TERM: KILL
            'echo "$X still"',
        ],
        timeout=1.0,
    )
    outcomes = [r.outcome for r in ran]
    assert [o.ended for o in outcomes] == [
        "done",
        "timeout",
        "done",
        "timeout",
        "timeout",
        "timeout",
        "timeout",
        "done",
    ]
    assert not any(o.shell_exited for o in outcomes)
    assert ran[2].out == "kept exported /tmp\n"
    assert [ran[i].out for i in (1, 3, 4, 5, 6)] == ["", "", "", "", ""]  # nothing after
    assert ran[7].out == "kept still\n"
    assert processes_with_argv("sleep", seconds) == []


async def test_a_timeout_spares_background_jobs_of_earlier_commands(
    session_transport: Transport,
) -> None:
    job, slow = unique_seconds(60), unique_seconds(300)
    session = await BlockSession.open(session_transport)
    try:
        sinks = [StreamCapture(None) for _ in range(6)]
        started = await session.run(f"sleep {job} &", stdout=sinks[0], stderr=sinks[1], timeout=10)
        assert started.exit_code == 0
        timed_out = await session.run(
            f"sleep {slow}", stdout=sinks[2], stderr=sinks[3], timeout=1.0
        )
        assert (timed_out.ended, timed_out.shell_exited) == ("timeout", False)
        assert processes_with_argv("sleep", slow) == []
        assert processes_with_argv("sleep", job) != []
        after = await session.run("jobs | wc -l", stdout=sinks[4], stderr=sinks[5], timeout=10)
        sinks[4].close()
        assert (after.exit_code, sinks[4].head.strip()) == (0, "1")
    finally:
        await session.close()
    assert processes_with_argv("sleep", job) == []  # the session's end ends it


async def test_a_shell_stuck_in_a_function_loop_is_given_up(session_transport: Transport) -> None:
    started = time.monotonic()
    ran = await run_commands(
        session_transport, ["f() { while :; do :; done; }; f", "echo never"], timeout=1.0
    )
    assert (ran[0].outcome.ended, ran[0].outcome.shell_exited) == ("timeout", True)
    assert ran[1].outcome.ended == "shell-exited"
    assert time.monotonic() - started < 8


# --------------------------------------------------------------------------- the user's state


async def test_strict_mode_does_not_break_the_session(session_transport: Transport) -> None:
    started = time.monotonic()
    ran = await run_commands(
        session_transport,
        [
            "set -euo pipefail; IFS=$'\\n\\t'",
            "printf 'a b\\n' | tr ' ' '\\n' | wc -l",
            'echo "$HOME" | cat >/dev/null; echo ok',
            "! false | true",
            "false",
            "echo never",
        ],
        timeout=10,
    )
    assert time.monotonic() - started < 6  # no marker lost to the user's IFS
    assert [r.outcome.exit_code for r in ran[:5]] == [0, 0, 0, 0, 1]
    assert [r.out.strip() for r in ran[1:3]] == ["2", "ok"]
    assert ran[4].outcome.shell_exited  # set -e ends the shell, as it would a terminal's
    assert ran[5].outcome.ended == "shell-exited"


async def test_set_u_and_an_unbound_variable(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport, ["set -u", "echo ok", 'echo "$NOT_SET_ANYWHERE"'], timeout=10
    )
    assert [r.outcome.exit_code for r in ran[:2]] == [0, 0]
    assert ran[1].out == "ok\n"
    assert ran[2].outcome.exit_code != 0
    assert "NOT_SET_ANYWHERE" in ran[2].err


async def test_xtrace_traces_only_the_users_commands(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport, ["set -x", "echo hi", "cd /tmp", "set +x", "echo z"], timeout=10
    )
    # `++`: bash marks the trace of `eval`'d commands one level deeper than a terminal's `+`
    assert [r.err for r in ran] == ["", "++ echo hi\n", "++ cd /tmp\n", "++ set +x\n", ""]
    assert [r.out for r in ran] == ["", "hi\n", "", "", "z\n"]


async def test_aliases_and_functions_named_like_builtins(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport,
        [
            "shopt -s expand_aliases; alias printf='echo HACKED'; alias builtin=false",
            "alias set=false read=false eval=false exec=false trap=false",
            "printf() { echo HACKED; }; read() { return 1; }; eval() { return 1; }",
            "set() { return 1; }; echo() { command echo HACKED; }",
            "command echo fine; unset -f echo",
            "X=1 | true",
            "echo still fine",
        ],
        timeout=10,
    )
    assert [r.outcome.ended for r in ran] == ["done"] * 7
    assert ran[4].out == "fine\n"
    assert ran[6].out == "still fine\n"


async def test_user_traps_do_not_take_the_session(session_transport: Transport) -> None:
    ran = await run_commands(
        session_transport,
        [
            "trap 'echo user-exit' EXIT; trap 'true' DEBUG; trap 'true' ERR",
            "false",
            "echo y",
            "exit 3",
            "echo never",
        ],
        timeout=10,
    )
    assert [r.outcome.exit_code for r in ran[:4]] == [0, 1, 0, 3]
    assert ran[2].out == "y\n"
    assert ran[3].outcome.shell_exited
    assert ran[4].outcome.ended == "shell-exited"


# --------------------------------------------------------------------------- environment


async def test_the_environment_travels_over_the_control_channel(
    session_transport: Transport,
) -> None:
    secret = "multi word\nvalue $HOME 'quoted'"
    session = await BlockSession.open(
        session_transport, env={"A_TEST_TOKEN": secret, "PLAIN_VAR": "plain value"}
    )
    try:
        out, err = StreamCapture(None), StreamCapture(None)
        outcome = await session.run(
            'printf %s "$A_TEST_TOKEN"; printf "|%s" "$PLAIN_VAR"',
            stdout=out,
            stderr=err,
            timeout=10,
        )
        out.close()
        assert outcome.exit_code == 0
        assert out.head == f"{secret}|plain value"
        assert secret in session.sensitive_values
        assert "plain value" not in session.sensitive_values
    finally:
        await session.close()
