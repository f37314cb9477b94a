"""execute_plan on this machine: hand-built plans run through real bash sessions."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.execute.scheduler import (
    CheckFinished,
    CheckStarted,
    Event,
    ExecuteOptions,
    execute_plan,
)
from runner.models import CheckResult, Directives, Expectation, Plan, PlannedCheck, Target
from runner.transports.local import LocalTransport, live_group_members

REPO = Path(__file__).resolve().parents[2]
ORC = Target(component="orc", host="local")
NO_DIRECTIVES = Directives()
DEFAULT_EXPECTATION = Expectation()
DEFAULT_OPTIONS = ExecuteOptions()


def check(
    check_id: str,
    command: str,
    *,
    kind: str = "command",
    session: str = "block-1",
    directives: Directives = NO_DIRECTIVES,
    expectation: Expectation = DEFAULT_EXPECTATION,
    guard_reason: str | None = None,
    components: tuple[str, ...] = ("orc",),
) -> PlannedCheck:
    return PlannedCheck(
        id=check_id,
        label=check_id,
        source="test-commands",
        must_pass=None,
        components=components,
        kind=kind,  # type: ignore[arg-type]
        command=command,
        line=1,
        directives=directives,
        expectation=expectation,
        session=session,
        guard_reason=guard_reason,
    )


def plan_of(*checks: PlannedCheck) -> Plan:
    return Plan(
        task_path="tasks/T.md", task_id="T-1", title="t", components=("orc",), checks=checks
    )


async def run(
    *checks: PlannedCheck,
    log_dir: Path,
    options: ExecuteOptions = DEFAULT_OPTIONS,
    targets: dict[str, Target] | None = None,
    events: list[Event] | None = None,
) -> dict[str, CheckResult]:
    results = await execute_plan(
        plan_of(*checks),
        targets=targets if targets is not None else {"orc": ORC},
        transport_for=LocalTransport,
        options=options,
        log_dir=log_dir,
        on_event=(events.append if events is not None else lambda e: None),
    )
    return {result.id: result for result in results}


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "run" / "logs"


def status_of(results: dict[str, CheckResult]) -> dict[str, str]:
    return {key: result.status for key, result in results.items()}


# ----------------------------------------------------------------------- issue 3 "Done when"


async def test_variables_and_cd_carry_over_and_failures_do_not_stop(log_dir: Path) -> None:
    results = await run(
        check("set", "BASE=/tmp", kind="setup"),
        check("cd", 'cd "$BASE" && NAME=taskrun'),
        check("fails", "ls /no/such/dir"),
        check("later", 'echo "$NAME in $PWD"'),
        log_dir=log_dir,
    )
    assert list(results) == ["cd@orc", "fails@orc", "later@orc"]  # setup is not a check
    assert status_of(results) == {"cd@orc": "pass", "fails@orc": "fail", "later@orc": "pass"}
    assert results["fails@orc"].reason == "exit 2 (expected 0)"
    assert results["later@orc"].stdout_tail == "taskrun in /tmp\n"


async def test_heredoc_if_and_continuation_each_run_as_one_check(log_dir: Path) -> None:
    heredoc = "cat <<'EOF'\nline one\n$NOT_EXPANDED\nEOF"
    compound = 'if [ -d /tmp ]; then\n  echo "tmp exists"\nelse\n  echo "❌ no tmp"\nfi'
    continued = "printf '%s-%s\\n' \\\n  first \\\n  second"
    results = await run(
        check("heredoc", heredoc),
        check("if", compound),
        check("continued", continued),
        check("after", "echo after"),
        log_dir=log_dir,
    )
    assert set(status_of(results).values()) == {"pass"}
    assert results["heredoc@orc"].stdout_tail == "line one\n$NOT_EXPANDED\n"
    assert results["if@orc"].stdout_tail == "tmp exists\n"
    assert results["continued@orc"].stdout_tail == "first-second\n"


async def test_masked_curl_failure_is_caught_by_the_marker(log_dir: Path) -> None:
    results = await run(
        check("masked", 'curl -fsS http://127.0.0.1:9/ || echo "❌ down"'), log_dir=log_dir
    )
    result = results["masked@orc"]
    assert (result.status, result.exit_code) == ("fail", 0)
    assert result.reason == "printed a failure marker: ❌ down"
    assert "127.0.0.1" in result.stderr_tail


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
async def test_pipefail_fails_curl_into_jq_and_passes_yes_into_head(log_dir: Path) -> None:
    results = await run(
        check("jq", "curl -s http://127.0.0.1:9/ | jq ."),
        check("head", "yes | head -1"),
        check("nopf", "false | true", directives=Directives(pipefail=False)),
        log_dir=log_dir,
    )
    assert status_of(results) == {"jq@orc": "fail", "head@orc": "pass", "nopf@orc": "pass"}
    assert results["jq@orc"].exit_code == 7  # curl: couldn't connect


async def test_timeout_kills_the_tree_and_the_block_goes_on(log_dir: Path) -> None:
    started = time.monotonic()
    results = await run(
        check("setup", "X=kept", kind="setup"),
        check(
            "slow", f"echo partial; sleep {SLEEP_300}; echo more", directives=Directives(timeout=2)
        ),
        check("next", 'echo "next $X"'),
        log_dir=log_dir,
    )
    assert time.monotonic() - started < 6
    slow = results["slow@orc"]
    assert (slow.status, slow.error, slow.reason) == ("error", "timed out after 2s", None)
    assert slow.stdout_tail == "partial\n"
    assert 1.9 <= (slow.duration_s or 0) < 5
    following = results["next@orc"]
    assert (following.status, following.stdout_tail, following.reason) == (
        "pass",
        "next kept\n",
        None,
    )
    assert _sleep_300_processes() == []


async def test_mutating_check_is_skipped_unless_allowed(log_dir: Path) -> None:
    target = log_dir.parent / "victim"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("keep")
    guarded = check("rm", f"rm -f {target}", guard_reason="rm deletes files")
    results = await run(guarded, log_dir=log_dir)
    assert results["rm@orc"].status == "skip"
    assert results["rm@orc"].reason == (
        "state-changing command: rm deletes files (use --allow-mutating or mutating=ok)"
    )
    assert target.exists()
    allowed = check(
        "rm", f"rm -f {target}", guard_reason="rm", directives=Directives(mutating_ok=True)
    )
    results = await run(allowed, log_dir=log_dir)
    assert results["rm@orc"].status == "pass"
    assert not target.exists()


async def test_secret_passed_to_redact_appears_in_no_log(log_dir: Path) -> None:
    secret = "sk-hx-dev-0123456789"
    options = ExecuteOptions(redact=lambda text: text.replace(secret, "***"))
    results = await run(
        check("setup", f"KEY={secret}; echo setup saw $KEY; echo $KEY >&2", kind="setup"),
        check("out", 'echo "key=$KEY"; echo "$KEY" >&2'),
        # the secret arrives split across two writes
        check("split", "printf 'sk-hx-dev-01234'; sleep 0.1; printf '56789\\n'"),
        check("fail", f'echo "❌ bad {secret}"; exit 1'),
        log_dir=log_dir,
        options=options,
    )
    logs = sorted(p for p in log_dir.iterdir())
    assert any(p.name.endswith("-setup.log") for p in logs)
    for path in logs:
        assert secret.encode() not in path.read_bytes(), path
    for result in results.values():
        assert secret not in json.dumps(
            [result.stdout_tail, result.stderr_tail, result.reason, result.command]
        )
    assert results["out@orc"].stdout_tail == "key=***\n"
    assert results["split@orc"].stdout_tail == "***\n"
    assert results["fail@orc"].command == 'echo "❌ bad ***"; exit 1'


async def test_output_is_capped_without_memory_growth(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from runner.execute.scheduler import ExecuteOptions, execute_plan
        from runner.models import Directives, Expectation, Plan, PlannedCheck
        from runner.models import Target
        from runner.transports.local import LocalTransport

        def hwm_kib():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        def plan(command):
            check = PlannedCheck(id="big", label="big", source="test-commands",
                must_pass=None, components=("orc",), kind="command", command=command, line=1,
                directives=Directives(), expectation=Expectation(), session="s")
            return Plan(task_path="t.md", task_id=None, title=None, components=("orc",),
                checks=(check,))

        async def go(command, logs):
            return await execute_plan(plan(command), targets={{"orc": Target("orc", "local")}},
                transport_for=LocalTransport, options=ExecuteOptions(),
                log_dir=Path(logs))

        asyncio.run(go("head -c 2000000 /dev/zero | tr '\\\\0' 'w'", {str(tmp_path / "warm")!r}))
        before = hwm_kib()
        (result,) = asyncio.run(go("yes 0123456789abcdef | head -c 52428800; echo",
                                   {str(tmp_path / "big")!r}))
        after = hwm_kib()
        print(json.dumps({{"delta_kib": after - before, "status": result.status,
                          "tail": result.stdout_tail[-60:], "logs": list(result.log_paths)}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "pass"
    assert report["delta_kib"] < 8 * 1024, report
    assert report["tail"].endswith("\n0123456789abcdef\n0\n")  # 52428800 % 17 == 1
    log = tmp_path / "big" / "big@orc.stdout"
    assert report["logs"] == ["big/big@orc.stdout"]
    size = log.stat().st_size
    assert 10 * 1024 * 1024 < size < 10 * 1024 * 1024 + 200
    with log.open("rb") as handle:
        handle.seek(-100, os.SEEK_END)
        last = handle.read().decode().splitlines()[-1]
    dropped = 52428800 + 1 - 10 * 1024 * 1024
    assert last == f"[taskrun: output capped at 10 MiB; {dropped} bytes dropped]"


# ----------------------------------------------------------------------- more semantics


async def test_exit_and_set_e_end_the_block(log_dir: Path) -> None:
    results = await run(
        check("three", "exit 3"),
        check("never", "echo never"),
        check("seterr", "set -e; false", session="block-2"),
        check("never2", "echo never", session="block-2"),
        check("exec", "exec sleep 0.1", session="block-3"),
        check("never3", "echo never", session="block-3"),
        log_dir=log_dir,
    )
    assert results["three@orc"].exit_code == 3
    assert results["three@orc"].reason == "exit 3 (expected 0)"
    assert results["seterr@orc"].exit_code == 1
    assert (results["exec@orc"].status, results["exec@orc"].exit_code) == ("pass", 0)
    for key in ("never@orc", "never2@orc", "never3@orc"):
        assert (results[key].status, results[key].error) == ("error", "not run: shell exited")


async def test_background_job_is_killed_with_the_session(log_dir: Path) -> None:
    results = await run(
        check("bg", "sleep 30 & echo started"),
        check("pgid", "ps -o pgid= -p $$ | tr -d ' '"),
        log_dir=log_dir,
    )
    assert results["bg@orc"].status == "pass"
    pgid = int(results["pgid@orc"].stdout_tail)
    assert live_group_members(pgid) == []


async def test_retries_record_attempts_and_flag_flaky(log_dir: Path) -> None:
    counter = log_dir.parent / "counter"
    counter.parent.mkdir(parents=True, exist_ok=True)
    flaky = (
        f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ "$n" -ge 3 ]'
    )
    results = await run(
        check("flaky", flaky, directives=Directives(retries=3, retry_delay=0.05)),
        check("never", "false", directives=Directives(retries=1)),
        log_dir=log_dir,
    )
    result = results["flaky@orc"]
    assert (result.status, result.flaky) == ("pass", True)
    assert [a.status for a in result.attempts] == ["fail", "fail", "pass"]
    assert results["never@orc"].status == "fail"
    assert not results["never@orc"].flaky
    assert len(results["never@orc"].attempts) == 2


async def test_expectations_from_the_plan(log_dir: Path) -> None:
    results = await run(
        check("code", "sh -c 'exit 4'", expectation=Expectation(exit_code=4)),
        check("regex", "echo 'status: ok'", expectation=Expectation(stdout_regex=r"^status: ok$")),
        check("line", "echo '  42 '", expectation=Expectation(stdout_line="42")),
        check("miss", "echo 41", expectation=Expectation(stdout_line="42"), session="b2"),
        log_dir=log_dir,
    )
    assert status_of(results) == {
        "code@orc": "pass",
        "regex@orc": "pass",
        "line@orc": "pass",
        "miss@orc": "fail",
    }


async def test_static_outcomes_and_events(log_dir: Path) -> None:
    events: list[Event] = []
    results = await run(
        check("manual", "", kind="not-run"),
        check("skipped", "echo x", directives=Directives(skip="needs a GPU")),
        check("http", "", kind="http"),
        check("elsewhere", "echo x", components=("llm-01",)),
        check("ok", "echo ok"),
        log_dir=log_dir,
        events=events,
    )
    assert results["manual@orc"].status == "manual"
    assert results["manual@orc"].reason == "needs a person's sign-off"
    assert (results["skipped@orc"].status, results["skipped@orc"].reason) == (
        "skip",
        "needs a GPU",
    )
    assert results["http@orc"].error == "http probes not supported yet"
    assert results["elsewhere@llm-01"].error == "component llm-01 is not in the inventory"
    ok = results["ok@orc"]
    assert ok.host == "local"
    assert ok.started_at is not None and ok.started_at.endswith("Z") and len(ok.started_at) == 24
    assert ok.log_paths == ("logs/ok@orc.stdout",)
    assert (log_dir / "ok@orc.stdout").read_text() == "ok\n"
    started = [e.check_id for e in events if isinstance(e, CheckStarted)]
    finished = [e.result.id for e in events if isinstance(e, CheckFinished)]
    assert sorted(started) == sorted(finished) == sorted(results)


async def test_unreachable_target_errors_only_its_own_checks(log_dir: Path) -> None:
    class BrokenTransport:
        def __init__(self, target: Target) -> None:
            self.target = target

        async def start(self, script: str, *, env: object) -> object:
            from runner.errors import ConnectError

            raise ConnectError(f"cannot reach {self.target.host}: connection refused")

        async def close(self) -> None:
            return None

    def transport_for(target: Target) -> object:
        return LocalTransport(target) if target.is_local else BrokenTransport(target)

    remote = Target(component="llm-01", host="192.0.2.1")
    results = await execute_plan(
        plan_of(
            check("a", "echo a", components=("orc", "llm-01")),
            check("b", "echo b", components=("llm-01",), session="block-2"),
        ),
        targets={"orc": ORC, "llm-01": remote},
        transport_for=transport_for,  # type: ignore[arg-type]
        options=ExecuteOptions(),
        log_dir=log_dir,
    )
    by_id = {r.id: r for r in results}
    assert by_id["a@orc"].status == "pass"
    assert by_id["a@llm-01"].error == "cannot reach 192.0.2.1: connection refused"
    assert by_id["b@llm-01"].error == "cannot reach 192.0.2.1: connection refused"
    assert [r.id for r in results] == ["a@orc", "a@llm-01", "b@llm-01"]


async def test_targets_run_concurrently(log_dir: Path) -> None:
    names = [f"node-{i}" for i in range(4)]
    targets = {name: Target(component=name, host="local") for name in names}
    started = time.monotonic()
    results = await run(
        check("nap", "sleep 1", components=tuple(names)), log_dir=log_dir, targets=targets
    )
    assert time.monotonic() - started < 3
    assert status_of(results) == {f"nap@{name}": "pass" for name in names}


async def test_blocks_of_one_target_run_in_file_order(log_dir: Path) -> None:
    flag = log_dir.parent / "flag"
    results = await run(
        check("make", f"mkdir -p {flag.parent}; sleep 0.3; touch {flag}", session="block-1"),
        check("see", f"test -f {flag}", session="block-2"),
        log_dir=log_dir,
    )
    assert status_of(results) == {"make@orc": "pass", "see@orc": "pass"}


async def test_block_timeout(log_dir: Path) -> None:
    results = await run(
        check("a", "sleep 0.2"),
        check("b", "sleep 10"),
        check("c", "echo never"),
        log_dir=log_dir,
        options=ExecuteOptions(block_timeout=1.0),
    )
    assert results["a@orc"].status == "pass"
    assert results["b@orc"].error == "block timed out after 1s"
    assert results["c@orc"].error == "not run: block timed out"


async def test_cancellation_kills_processes_and_keeps_results(log_dir: Path) -> None:
    gathered: list[CheckResult] = []
    marker = log_dir.parent / "pgid"
    marker.parent.mkdir(parents=True, exist_ok=True)
    task = asyncio.ensure_future(
        execute_plan(
            plan_of(
                check("first", "echo first"),
                check("hang", f"ps -o pgid= -p $$ > {marker}; sleep 300"),
            ),
            targets={"orc": ORC},
            transport_for=LocalTransport,
            options=ExecuteOptions(),
            log_dir=log_dir,
            results=gathered,
        )
    )
    for _ in range(100):
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.05)
    pgid = int(marker.read_text())
    assert live_group_members(pgid) != []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.id for r in gathered] == ["first@orc"]
    assert live_group_members(pgid) == []


# ----------------------------------------------------------------------- sudo


@pytest.fixture(scope="module")
def user_without_sudo() -> Iterator[str]:
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed")
    if os.geteuid() != 0:
        probe = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            pytest.skip("the current user has password-less sudo")
        yield pwd.getpwuid(os.geteuid()).pw_name
        return
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd is not installed")
    name = f"trnopw{os.getpid()}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/bin/bash", name], check=True, timeout=30
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, timeout=30)


def test_sudo_never_prompts_and_is_an_error(user_without_sudo: str) -> None:
    script = textwrap.dedent(
        """
        import asyncio, json, sys, time
        from runner.execute.session import BlockSession
        from runner.execute.capture import StreamCapture
        from runner.evaluate.command import evaluate
        from runner.models import Expectation
        from runner.models import Target
        from runner.transports.local import LocalTransport

        async def main():
            session = await BlockSession.open(LocalTransport(Target("orc", "local")))
            out = []
            for command in ["sudo true", "echo go && sudo ls / && echo never",
                            "bash -c 'sudo true'", "echo fine"]:
                o, e = StreamCapture(None), StreamCapture(None)
                t0 = time.monotonic()
                r = await session.run(command, stdout=o, stderr=e, timeout=20)
                o.close(); e.close()
                status = evaluate(r.exit_code, o.head, Expectation(), stderr_text=e.head,
                                  sudo_password=e.sudo_password)
                out.append([*status, round(time.monotonic() - t0, 2)])
            await session.close()
            print(json.dumps(out))

        asyncio.run(main())
        """
    )
    # The test interpreter may live under /root; the system one runs this stdlib-only code.
    python = "/usr/bin/python3" if os.geteuid() == 0 else sys.executable
    done = subprocess.run(
        [python, "-c", script],
        user=user_without_sudo,
        cwd="/tmp",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    assert [o[:2] for o in outcomes] == [
        ["error", "sudo needs a password"],
        ["error", "sudo needs a password"],
        ["error", "sudo needs a password"],
        ["pass", None],
    ]
    assert all(o[2] < 10 for o in outcomes)


# 300 s, spelt so that no other process on the machine has the same argv (other checkouts
# run this suite on the same machine at the same time).
SLEEP_300 = f"300.{os.getpid():07d}"


def _sleep_300_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", SLEEP_300.encode()] and state != b"Z":
            found.append(int(entry))
    return found
