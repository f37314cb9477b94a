"""`taskrun validate` as a subprocess on a `host: local` component: exit codes, outputs, flags."""

from __future__ import annotations

import json
import os
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Project,
    bash_block,
    change_log_items,
    closed_port,
    finish,
    kill_pids,
    pids_with_argv,
    status_field,
    task_markdown,
    wait_until,
)

PASSING = bash_block(
    """
    GREETING=hello
    # greets the world
    echo "$GREETING world"

    # arithmetic holds
    test 2 -gt 1
    """
)


def write_passing(project: Project) -> Path:
    return project.write_task("T-100.md", task_markdown("T-100", component="lo", commands=PASSING))


def test_all_pass_exits_0_and_completes_the_task(project: Project) -> None:
    path = write_passing(project)
    proc = project.run("validate", "T-100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("T-100")
    assert run["schema"] == "taskrun.run/1"
    assert run["state"] == "complete"
    assert run["summary"] == {"total": 2, "pass": 2, "fail": 0, "error": 0, "skip": 0, "manual": 0}
    assert run["checks"][0]["stdout_tail"] == "hello world\n"  # the setup step's variable held
    text = path.read_text()
    assert status_field(text, "Current Status") == "Complete"
    assert status_field(text, "Completion") == "100%"
    assert run["run_id"] in change_log_items(text)[-1]


def test_a_failure_exits_1_with_reason_and_output_tail_on_stdout(project: Project) -> None:
    commands = bash_block(
        """
        # fails loudly
        echo tail-marker-123; echo err-marker-456 >&2; false

        # still runs after the failure
        true
        """
    )
    path = project.write_task("T-101.md", task_markdown("T-101", component="lo", commands=commands))
    proc = project.run("validate", "T-101")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fails loudly" in proc.stdout
    assert "exit 1" in proc.stdout  # the reason
    assert "tail-marker-123" in proc.stdout and "err-marker-456" in proc.stdout
    statuses = [c["status"] for c in project.run_json("T-101")["checks"]]
    assert statuses == ["fail", "pass"]
    assert status_field(path.read_text(), "Current Status") == "Testing"


def test_only_errors_exit_3(project: Project) -> None:
    project.write_inventory(
        f"""
        components:
          lo: {{host: local}}
          dead: {{host: 127.0.0.1, port: {closed_port()}, connect_timeout: 2}}
        """
    )
    commands = "\n\n".join(
        [
            bash_block("# passes here\ntrue"),
            # a check, not a caption (a literal echo is one, issue 18 item 7); an unknown
            # component is an input error before anything runs (issue 19), so no `on=ghost`
            bash_block("# on a refused host\nuname -n", info="bash {on=dead}"),
        ]
    )
    project.write_task("T-102.md", task_markdown("T-102", component="lo", commands=commands))
    proc = project.run("validate", "T-102")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    checks = {c["label"]: c for c in project.run_json("T-102")["checks"]}
    assert checks["passes here"]["status"] == "pass"
    assert checks["on a refused host"]["status"] == "error"
    assert "refused" in checks["on a refused host"]["error"]


@pytest.mark.parametrize(
    "commands",
    [
        pytest.param(bash_block("# taskrun: bogus=1\necho hi"), id="unknown-directive"),
        pytest.param(bash_block("echo hi", info="bash {expect-exit=notanumber}"), id="bad-value"),
    ],
)
def test_bad_input_exits_2_and_leaves_everything_alone(project: Project, commands: str) -> None:
    path = project.write_task("T-103.md", task_markdown("T-103", component="lo", commands=commands))
    before = path.read_bytes()
    proc = project.run("validate", "T-103")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "tasks/T-103.md" in proc.stderr  # names the file…
    assert path.read_bytes() == before
    assert project.run_dirs("T-103") == []  # …and nothing ran


def test_no_component_anywhere_exits_2(project: Project) -> None:
    path = project.write_task("T-104.md", task_markdown("T-104", component=None, commands=PASSING))
    before = path.read_bytes()
    proc = project.run("validate", "T-104")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Component" in proc.stderr
    assert path.read_bytes() == before
    assert project.run_dirs("T-104") == []


def test_json_prints_exactly_one_run_document(project: Project) -> None:
    write_passing(project)
    proc = project.run("validate", "T-100", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)  # raises on anything but one JSON document
    assert document["schema"] == "taskrun.run/1"
    assert document["task"] == {
        "id": "T-100",
        "path": "tasks/T-100.md",
        "title": "End-to-end probe",
    }
    assert document["run_id"] == project.run_json("T-100")["run_id"]
    assert [c["label"] for c in document["checks"]] == ["greets the world", "arithmetic holds"]
    assert proc.stdout.strip().startswith("{") and proc.stdout.strip().endswith("}")


def test_junit_path_gets_one_suite_with_a_case_per_check(project: Project) -> None:
    commands = bash_block("# ok\ntrue\n\n# not ok\nfalse")
    project.write_task("T-105.md", task_markdown("T-105", component="lo", commands=commands))
    junit = project.root / "out" / "junit.xml"
    junit.parent.mkdir()
    proc = project.run("validate", "T-105", "--junit", str(junit))
    assert proc.returncode == 1, proc.stderr
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert len(cases) == 2
    assert {c.get("classname") for c in cases} == {"lo"}
    assert [c.find("failure") is not None for c in cases] == [False, True]


def test_dry_run_runs_nothing(project: Project) -> None:
    marker = project.root / "made-by-the-run"
    commands = bash_block(f"# would create a file\ntouch {marker}", info="bash {mutating=ok}")
    path = project.write_task("T-106.md", task_markdown("T-106", component="lo", commands=commands))
    before = path.read_bytes()
    proc = project.run("validate", "T-106", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would create a file" in proc.stdout  # the plan is shown
    assert not marker.exists()
    assert path.read_bytes() == before
    assert project.run_dirs("T-106") == []
    # The same command does run without --dry-run: the assertion above could fail.
    assert project.run("validate", "T-106", "--no-write").returncode == 0
    assert marker.exists()


def test_only_keeps_the_setup_steps_and_marks_the_run_filtered(project: Project) -> None:
    commands = bash_block(
        """
        PREFIX=kept
        # alpha check
        echo "$PREFIX-alpha"

        # beta check
        echo beta
        """
    )
    path = project.write_task("T-107.md", task_markdown("T-107", component="lo", commands=commands))
    proc = project.run("validate", "T-107", "--only", "alpha")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("T-107")
    assert [c["label"] for c in run["checks"]] == ["alpha check"]
    assert run["checks"][0]["stdout_tail"] == "kept-alpha\n"
    assert run["filtered"] is True
    text = path.read_text()
    assert status_field(text, "Current Status") != "Complete"  # a filtered run earns nothing
    assert status_field(text, "Completion") == "0%"


def test_no_write_keeps_the_file_byte_identical(project: Project) -> None:
    path = write_passing(project)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # CRLF, to be sure of bytes
    before = path.read_bytes()
    proc = project.run("validate", "T-100", "--no-write")
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == before
    assert project.run_json("T-100")["state"] == "complete"  # the evidence is still kept


SECRET = "s3cr3t-value"


def test_a_secret_appears_nowhere(project: Project) -> None:
    project.write_inventory("components:\n  lo: {host: local, secrets: [MY_TOKEN]}\n")
    commands = bash_block(
        """
        # echoes the token
        echo "token is $MY_TOKEN"

        # fails with the token in its output
        echo "again $MY_TOKEN" >&2; false
        """
    )
    path = project.write_task("T-108.md", task_markdown("T-108", component="lo", commands=commands))
    runs = [
        project.run("validate", "T-108", env={"MY_TOKEN": SECRET}),
        project.run("validate", "T-108", "--json", env={"MY_TOKEN": SECRET}),
    ]
    for proc in runs:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert SECRET not in proc.stdout
        assert SECRET not in proc.stderr
    assert "***" in runs[0].stdout  # masked, not dropped: the output tail is still there
    assert SECRET not in path.read_text()
    written = project.files_under(project.reports)
    assert any(p.name.endswith(".stdout") for p in written)
    for file in written:
        assert SECRET.encode() not in file.read_bytes(), file
    # The command really printed it: the masked log holds the line around the secret.
    assert "token is ***" in project.run_json("T-108")["checks"][0]["stdout_tail"]


def test_complete_only_when_everything_passed(project: Project) -> None:
    commands = bash_block("# passes\ntrue\n\n# guarded, so skipped\nrm -f /tmp/taskrun-e2e-none")
    path = project.write_task("T-109.md", task_markdown("T-109", component="lo", commands=commands))
    proc = project.run("validate", "T-109")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a skip does not fail the run…
    assert [c["status"] for c in project.run_json("T-109")["checks"]] == ["pass", "skip"]
    text = path.read_text()
    assert status_field(text, "Current Status") == "Testing"  # …but does not earn Complete
    assert status_field(text, "Completion") == "0%"


@pytest.mark.parametrize(
    "commands",
    [
        pytest.param("```ini\n[Service]\nUser=nobody\n```", id="only-ini"),
        pytest.param(bash_block("A=1\nexport B=2"), id="only-setup"),
    ],
)
def test_zero_runnable_checks_never_completes(project: Project, commands: str) -> None:
    path = project.write_task("T-110.md", task_markdown("T-110", component="lo", commands=commands))
    proc = project.run("validate", "T-110")
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    text = path.read_text()
    assert status_field(text, "Current Status") != "Complete"
    assert status_field(text, "Completion") == "0%"


SLEEP_ARGV = ("sleep", "30.7213")  # an odd duration: no other process runs exactly this


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_and_keeps_the_evidence(
    project: Project, signum: int, code: int
) -> None:
    sleep = " ".join(SLEEP_ARGV)
    commands = bash_block(f"# quick\ntrue\n\n# slow\n{sleep}\n\n# never reached\ntrue")
    path = project.write_task("T-111.md", task_markdown("T-111", component="lo", commands=commands))
    before = path.read_bytes()
    process = project.spawn("validate", "T-111")
    try:
        assert wait_until(lambda: bool(pids_with_argv(SLEEP_ARGV)), timeout=15), "sleep not started"
        sent = time.monotonic()
        os.kill(process.pid, signum)
        returncode, out, err = finish(process, timeout=15)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        leftovers = pids_with_argv(SLEEP_ARGV)
        kill_pids(leftovers)
    assert returncode == code, out + err
    assert elapsed < 5.0
    assert leftovers == [], "the sleep survived the interrupted run"
    run = project.run_json("T-111")
    assert run["state"] == "interrupted"
    assert run["checks"][0]["status"] == "pass"  # the evidence so far
    assert path.read_bytes() == before
