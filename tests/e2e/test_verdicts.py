"""No false greens, through the real CLI: statuses as bash gives them, a killed shell, a timeout
the block survives, a coloured failure marker, nothing verified, playbook checks that do not
apply, bad baselines — and a session's secrets (the inventory's, the host's own) in no argv and
no file.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import (
    Project,
    bash_block,
    finish,
    status_field,
    task_markdown,
)
from tests.fleet import Fleet, host_only_secret
from tests.stand_ins import OllamaStandIn


def component_for(project: Project, request: pytest.FixtureRequest, where: str) -> str:
    """`lo` (this machine), or the first fleet host, its inventory written."""
    if where == "local":
        return "lo"
    fleet: Fleet = request.getfixturevalue("e2e_fleet")
    project.write_inventory(fleet.inventory_yaml())
    return fleet.hosts[0].name


def checks_of(project: Project, task_id: str) -> list[dict]:
    return project.run_json(task_id)["checks"]


def with_must_pass(text: str, items: str) -> str:
    """`task_markdown` with a Must-Pass Validations list before its Test Commands."""
    return text.replace(
        "### Test Commands\n",
        f"### Must-Pass Validations\n\n{items.strip()}\n\n### Test Commands\n",
    )


def all_bytes_written(project: Project, *extra: str) -> bytes:
    data = b"".join(path.read_bytes() for path in project.files_under(project.root))
    return data + "".join(extra).encode()


# --------------------------------------------------------------------------- statuses


NEGATED = bash_block(
    """
    # taskrun: mutating=ok
    d=$(mktemp -d); printf 'ok\\nERROR boom\\n' > "$d/app.log"; printf 'ok\\n' > "$d/clean.log"

    # no error in the clean log
    ! grep -v '^#' "$d/clean.log" | grep -qi error

    # no error in the broken log
    ! grep -v '^#' "$d/app.log" | grep -qi error

    # a loop over a pipeline ends well
    while printf 'x\\n' | grep -q y; do :; done
    """
)


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_negated_pipelines_are_judged_as_bash_judges_them(
    project: Project, request: pytest.FixtureRequest, where: str
) -> None:
    component = component_for(project, request, where)
    path = project.write_task("V-1.md", task_markdown("V-1", component=component, commands=NEGATED))
    proc = project.run("validate", "V-1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    statuses = [(c["label"], c["status"]) for c in checks_of(project, "V-1")]
    assert statuses[0][1] == "pass"  # the logs were written
    assert statuses[1:] == [
        ("no error in the clean log", "pass"),
        ("no error in the broken log", "fail"),
        ("a loop over a pipeline ends well", "pass"),
    ]
    assert status_field(path.read_text(), "Current Status") == "Testing"


def test_a_coloured_failure_marker_fails_and_tails_carry_no_escapes(project: Project) -> None:
    commands = bash_block(
        """
        # service answers
        curl -fsS http://127.0.0.1:9/ 2>/dev/null || echo -e "\\e[31m❌ down\\e[0m"
        """
    )
    project.write_task("V-2.md", task_markdown("V-2", component="lo", commands=commands))
    proc = project.run("validate", "V-2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (check,) = checks_of(project, "V-2")
    assert (check["status"], check["reason"]) == ("fail", "printed a failure marker: ❌ down")
    assert check["stdout_tail"] == "❌ down\n"
    log = project.run_dirs("V-2")[-1] / check["log_paths"][0]
    assert log.read_bytes() == "\x1b[31m❌ down\x1b[0m\n".encode()  # the log keeps the bytes


# --------------------------------------------------------------------------- the shell


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_a_shell_killed_by_a_signal_is_an_error_and_stops_the_block(
    project: Project, request: pytest.FixtureRequest, where: str
) -> None:
    component = component_for(project, request, where)
    commands = bash_block(
        """
        # before
        true

        # kills its own shell
        # taskrun: mutating=ok
        kill $$

        # after
        true
        """
    )
    path = project.write_task(
        "V-3.md", task_markdown("V-3", component=component, commands=commands)
    )
    proc = project.run("validate", "V-3")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    checks = checks_of(project, "V-3")
    assert [(c["status"], c["error"]) for c in checks] == [
        ("pass", None),
        ("error", "shell killed by SIGTERM"),
        ("error", "not run: shell killed by SIGTERM"),
    ]
    assert status_field(path.read_text(), "Current Status") == "Testing"


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_a_timeout_costs_one_check_not_the_block(
    project: Project, request: pytest.FixtureRequest, where: str
) -> None:
    component = component_for(project, request, where)
    commands = bash_block(
        """
        BASE=/tmp
        cd "$BASE"

        # slow
        # taskrun: timeout=1
        sleep 60.5172; echo late

        # variables and directory carried over
        test "$PWD" = /tmp && test "$BASE" = /tmp

        # stuck in a builtin loop
        # taskrun: timeout=1
        spin() { while :; do :; done; }; spin

        # runs in a fresh shell with the setup replayed
        test "$PWD" = /tmp && test "$BASE" = /tmp
        """
    )
    project.write_task("V-4.md", task_markdown("V-4", component=component, commands=commands))
    started = time.monotonic()
    proc = project.run("validate", "V-4")
    assert time.monotonic() - started < 30
    assert proc.returncode == 3, proc.stdout + proc.stderr
    checks = {c["label"]: c for c in checks_of(project, "V-4")}
    assert checks["slow"]["error"] == "timed out after 1s"
    assert checks["slow"]["stdout_tail"] == ""  # the rest of the line was abandoned
    assert checks["variables and directory carried over"]["status"] == "pass"
    assert checks["variables and directory carried over"]["reason"] is None
    assert checks["stuck in a builtin loop"]["error"] == "timed out after 1s"
    fresh = checks["runs in a fresh shell with the setup replayed"]
    assert fresh["status"] == "pass", fresh
    assert fresh["reason"].startswith("ran in a fresh shell")
    assert "replayed 2 setup step(s)" in fresh["reason"]
    assert subprocess.run(["pgrep", "-f", "sleep 60.5172"], capture_output=True).stdout == b""


# --------------------------------------------------------------------------- nothing verified


@pytest.mark.parametrize(
    ("commands", "must_pass", "why"),
    [
        pytest.param("```ini\n[Service]\nUser=nobody\n```", "", "no runnable check", id="ini"),
        pytest.param(bash_block("A=1\nexport B=2"), "", "no runnable check", id="only-setup"),
        pytest.param(
            "```ini\nx=1\n```",
            "1. **Change Approval**: CAB sign-off recorded",
            "1 need a person's sign-off",
            id="only-manual",
        ),
        pytest.param(
            bash_block("# guarded\nrm -f /tmp/taskrun-e2e-none"),
            "",
            "1 skipped (first: state-changing command",
            id="only-skipped",
        ),
    ],
)
def test_nothing_verified_exits_3_and_writes_no_status(
    project: Project, commands: str, must_pass: str, why: str
) -> None:
    text = task_markdown("V-5", component="lo", commands=commands)
    path = project.write_task("V-5.md", with_must_pass(text, must_pass) if must_pass else text)
    before = path.read_bytes()
    proc = project.run("validate", "V-5")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "nothing could be verified" in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nothing could be verified: tasks/V-5.md: ")
    assert why in lines[0]
    assert path.read_bytes() == before  # no Testing, no Complete, no Change Log item


# --------------------------------------------------------------------------- playbooks


PERF_PLAYBOOK = """\
checks:
  - name: version latency
    components: [ollama]
    http:
      url: "http://127.0.0.1:{{ollama_port}}/api/version"
      expect: {status: [200]}
      performance: {samples: 3, tolerance: 100, tolerance_ms: 1000}
"""

HEALTH_PLAYBOOK = """\
checks:
  - name: unit is active
    components: [ollama]
    when: ollama_unit
    run: systemctl is-active --quiet {{ollama_unit}}
  - name: version answers
    components: [ollama]
    http:
      url: "http://127.0.0.1:{{ollama_port}}/api/version"
      expect: {status: [200]}
"""


LOOPBACK_PLAYBOOK = """\
checks:
  - name: version answers
    components: [ollama]
    http:
      url: "http://127.0.0.1:11434/api/version"
"""


@pytest.fixture
def ollama() -> Iterator[OllamaStandIn]:
    stand_in = OllamaStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def write_playbook(project: Project, slug: str, text: str) -> None:
    folder = project.inventory.parent / "must-pass"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.yaml").write_text(text)


def test_a_null_when_var_is_not_applicable_and_the_task_can_complete(
    project: Project, ollama: OllamaStandIn
) -> None:
    project.write_inventory(
        "components:\n"
        f"  llm-01: {{host: local, vars: {{ollama_port: {ollama.port}, ollama_unit: null}}}}\n"
    )
    write_playbook(project, "service-health", HEALTH_PLAYBOOK)
    text = task_markdown("V-6", component="llm-01", commands=bash_block("true"))
    path = project.write_task(
        "V-6.md", with_must_pass(text, "1. **Service Health**: services answer")
    )
    plan = json.loads(project.run("plan", "V-6", "--json").stdout)
    shown = [c for c in plan["checks"] if c["kind"] == "shown"]
    assert [c["label"] for c in shown] == ["unit is active"]
    assert any("not applicable: ollama_unit is null for llm-01" in n for n in shown[0]["notes"])
    proc = project.run("validate", "V-6")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c["label"] for c in checks_of(project, "V-6")] == ["true", "version answers"]
    assert status_field(path.read_text(), "Current Status") == "Complete"


def test_a_loopback_probe_on_a_remote_component_needs_via(
    project: Project, e2e_fleet: Fleet
) -> None:
    project.write_inventory(
        e2e_fleet.inventory_yaml().replace("{host:", "{vars: {role: ollama}, host:")
    )
    write_playbook(project, "service-health", LOOPBACK_PLAYBOOK)
    host = e2e_fleet.hosts[0].name
    text = task_markdown("V-7", component=host, commands=bash_block("true"))
    path = project.write_task("V-7.md", with_must_pass(text, "1. **Service Health**: answers"))
    before = path.read_bytes()
    for command in ("plan", "validate"):
        proc = project.run(command, "V-7")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert "service-health.yaml(" in proc.stderr
        assert f"on remote component {host}" in proc.stderr and "via: ssh" in proc.stderr
    assert path.read_bytes() == before
    # `via: local` says the runner's own loopback is meant
    folder = project.inventory.parent / "must-pass"
    playbook = folder / "service-health.yaml"
    playbook.write_text(playbook.read_text() + "      via: local\n")
    assert project.run("plan", "V-7").returncode == 0


def test_a_playbook_for_no_role_of_the_task_is_manual_with_that_reason(project: Project) -> None:
    write_playbook(project, "service-health", HEALTH_PLAYBOOK)  # ollama only
    text = task_markdown("V-8", component="lo", commands=bash_block("true"))
    project.write_task("V-8.md", with_must_pass(text, "1. **Service Health**: answers"))
    proc = project.run("validate", "V-8")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manual = [c for c in checks_of(project, "V-8") if c["status"] == "manual"]
    assert len(manual) == 1
    assert manual[0]["reason"].startswith("no check of playbook ")
    assert "applies to the task's components (lo)" in manual[0]["reason"]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("corrupt", "invalid JSON"),
        ("blocked", "cannot read baseline"),
        ("unwritable", "cannot write baseline"),
    ],
)
def test_a_bad_baseline_is_an_error_for_that_check(
    project: Project, ollama: OllamaStandIn, damage: str, expected: str
) -> None:
    project.write_inventory(
        f"components:\n  llm-01: {{host: local, vars: {{ollama_port: {ollama.port}}}}}\n"
    )
    write_playbook(project, "performance", PERF_PLAYBOOK)
    text = task_markdown("V-9", component="llm-01", commands=bash_block("true"))
    project.write_task("V-9.md", with_must_pass(text, "1. **Performance**: no degradation"))
    baselines = project.reports / "baselines"
    if damage == "corrupt":
        folder = baselines / "llm-01"
        folder.mkdir(parents=True)
        (folder / "version-latency.json").write_text('{"schema": "taskrun.baseline/1", "p5')
    elif damage == "blocked":
        baselines.parent.mkdir(parents=True, exist_ok=True)
        baselines.write_text("a file where the baselines folder belongs\n")
    else:  # no baseline yet, and its folder cannot be made (as on a full disk)
        baselines.mkdir(parents=True)
        (baselines / "llm-01").symlink_to(project.root / "nowhere" / "at-all")
    proc = project.run("validate", "V-9")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    run = project.run_json("V-9")
    assert run["state"] == "complete"
    checks = {c["label"]: c for c in run["checks"]}
    assert checks["true"]["status"] == "pass"
    probe = checks["version latency"]
    assert probe["status"] == "error"
    assert "baseline" in probe["error"]
    assert expected in probe["error"], probe["error"]


# --------------------------------------------------------------------------- secrets


SECRET_VALUE = "argv-canary-5b1e0d2c9a"


def test_inventory_secrets_never_appear_in_any_argv(project: Project, e2e_fleet: Fleet) -> None:
    inventory = e2e_fleet.inventory_yaml().replace(
        "  connect_timeout: 5\n", "  connect_timeout: 5\n  secrets: [E2E_ARGV_TOKEN]\n"
    )
    project.write_inventory(inventory)
    commands = bash_block(
        f"""
        # the secret arrived
        test "${{#E2E_ARGV_TOKEN}}" -eq {len(SECRET_VALUE)}

        # takes a moment
        sleep 1.5
        """
    )
    host = e2e_fleet.hosts[0].name
    project.write_task("V-10.md", task_markdown("V-10", component=host, commands=commands))
    process = project.spawn("validate", "V-10", env={"E2E_ARGV_TOKEN": SECRET_VALUE})
    seen: list[str] = []
    scans = 0
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            scans += 1
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as argv:
                    if SECRET_VALUE.encode() in argv.read():
                        seen.append(entry)
    finally:
        code, out, err = finish(process, timeout=30)
    assert code == 0, out + err
    assert scans > 5
    assert seen == []
    assert SECRET_VALUE.encode() not in all_bytes_written(project, out, err)


def test_a_value_only_the_host_has_is_masked_everywhere(project: Project, e2e_fleet: Fleet) -> None:
    project.write_inventory(e2e_fleet.inventory_yaml())
    host = e2e_fleet.hosts[0]
    commands = bash_block(
        """
        # prints a host secret by name
        printenv FLEET_API_TOKEN

        # and the whole environment
        env | grep FLEET_ && env | grep -c FLEET_API_TOKEN=
        """
    )
    path = project.write_task(
        "V-11.md", task_markdown("V-11", component=host.name, commands=commands)
    )
    proc = project.run("validate", "V-11", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    secret = host_only_secret(host.name).encode()
    assert secret not in all_bytes_written(project, proc.stdout, proc.stderr)
    assert secret not in path.read_bytes()
    checks = checks_of(project, "V-11")
    assert checks[0]["stdout_tail"] == "***\n"
    assert "FLEET_API_TOKEN=***" in checks[1]["stdout_tail"]
