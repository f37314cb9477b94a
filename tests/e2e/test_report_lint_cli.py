"""`taskrun report`, `lint`, `inventory check` and `schedule` as subprocesses."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import CORPUS_TASKS, REPO
from tests.e2e.conftest import Project, bash_block, closed_port, task_markdown
from tests.fleet import Fleet

# --------------------------------------------------------------------------- report


@pytest.fixture
def two_runs(project: Project) -> tuple[Project, str, str]:
    """R-1 failed once (run A), then passed (run B). Returns (project, A, B)."""
    flag = project.root / "flag"
    commands = bash_block(f"# the flag is up\ntest -e {flag}")
    project.write_task("R-1.md", task_markdown("R-1", component="lo", commands=commands))
    assert project.run("validate", "R-1", "--no-write").returncode == 1
    flag.touch()
    assert project.run("validate", "R-1", "--no-write").returncode == 0
    first, second = (d.name for d in project.run_dirs("R-1"))
    return project, first, second


def test_report_shows_the_latest_run(two_runs: tuple[Project, str, str]) -> None:
    project, _, latest = two_runs
    proc = project.run("report", "R-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest in proc.stdout
    assert "the flag is up" in proc.stdout


def test_report_run_picks_an_earlier_run_and_its_exit_code(
    two_runs: tuple[Project, str, str],
) -> None:
    project, earlier, latest = two_runs
    proc = project.run("report", "R-1", "--run", earlier)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # that run failed
    assert earlier in proc.stdout and latest not in proc.stdout
    unknown = project.run("report", "R-1", "--run", "19990101T000000Z")
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr


def test_report_json_is_the_run_document(two_runs: tuple[Project, str, str]) -> None:
    project, earlier, latest = two_runs
    document = json.loads(project.run("report", "R-1", "--json").stdout)
    assert document["schema"] == "taskrun.run/1"
    assert document["run_id"] == latest
    older = json.loads(project.run("report", "R-1", "--json", "--run", earlier).stdout)
    assert older["run_id"] == earlier
    assert older["checks"][0]["status"] == "fail"


def test_report_history_has_one_line_per_run(two_runs: tuple[Project, str, str]) -> None:
    project, earlier, latest = two_runs
    proc = project.run("report", "R-1", "--history")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith(earlier) and lines[1].startswith(latest)
    assert "fail" in lines[0]


def test_report_prune_0_removes_the_runs(two_runs: tuple[Project, str, str]) -> None:
    project, _, _ = two_runs
    proc = project.run("report", "--prune", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.run_dirs("R-1") == []
    assert project.run("report", "R-1").returncode == 2  # nothing left to show


# --------------------------------------------------------------------------- lint


def test_lint_of_the_repository_example_is_clean() -> None:
    proc = Project(REPO).run("lint", "ENG-001")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r": (error|warning) ", proc.stdout) is None, proc.stdout


def test_lint_all_of_the_corpus_finds_errors(corpus_dir: Path, project: Project) -> None:
    proc = project.run("lint", "--all", "--tasks", str(CORPUS_TASKS), "--json")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.lint/1"
    findings = document["findings"]
    assert {"file", "line", "rule", "level", "message", "fix"} <= set(findings[0])
    errors = [f for f in findings if f["level"] == "error"]
    assert errors
    assert all(isinstance(f["line"], int) and f["line"] >= 1 for f in findings)
    # The corpus masks failures with `|| echo` (FINDINGS.md): some error must say so.
    assert any("echo" in f["message"] or "mask" in f["rule"] for f in errors), errors[:5]


# --------------------------------------------------------------------------- inventory check


def test_inventory_check_reports_each_host(
    project: Project, e2e_fleet: Fleet, tmp_path: Path
) -> None:
    empty_known_hosts = tmp_path / "empty_known_hosts"
    empty_known_hosts.write_text("")
    impostor = " ".join(Path(f"{e2e_fleet.wrong_key}.pub").read_text().split()[:2])
    ok, stranger, changed = e2e_fleet.hosts
    lying_known_hosts = tmp_path / "lying_known_hosts"
    lying_known_hosts.write_text(f"[{changed.address}]:{changed.port} {impostor}\n")
    project.write_inventory(
        e2e_fleet.inventory_yaml().split("components:")[0]
        + "components:\n"
        + f"  good: {{host: {ok.address}}}\n"
        + f"  refused: {{host: 127.0.0.1, port: {closed_port()}}}\n"
        + f"  stranger: {{host: {stranger.address}, known_hosts: {empty_known_hosts}}}\n"
        + f"  impostor: {{host: {changed.address}, known_hosts: {lying_known_hosts}}}\n"
    )
    proc = project.run("inventory", "check", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    hosts = {h["component"]: h for h in json.loads(proc.stdout)["hosts"]}
    assert hosts["good"]["status"] == "ok"
    assert hosts["good"]["rtt_ms"] is not None
    assert hosts["refused"]["status"] == "unreachable"
    assert "refused" in hosts["refused"]["detail"]
    assert hosts["stranger"]["status"] == "unknown-key"
    keyscan = hosts["stranger"]["keyscan"] or ""
    assert keyscan.startswith("ssh-keyscan ") and stranger.address in keyscan
    assert str(empty_known_hosts) in keyscan
    assert hosts["impostor"]["status"] == "changed-key"
    assert str(lying_known_hosts) in hosts["impostor"]["detail"]

    table = project.run("inventory", "check")
    assert table.returncode == 3, table.stdout + table.stderr
    for words in ("good", "refused", "stranger", "impostor", "unknown-key", "ssh-keyscan"):
        assert words in table.stdout
    assert empty_known_hosts.read_text() == ""  # nothing recorded without --accept-new


def test_inventory_check_exits_0_when_every_host_is_ok(project: Project, e2e_fleet: Fleet) -> None:
    project.write_inventory(e2e_fleet.inventory_yaml())
    proc = project.run("inventory", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in e2e_fleet.hosts:
        assert host.name in proc.stdout


# --------------------------------------------------------------------------- schedule


def systemd_units(text: str) -> dict[str, configparser.ConfigParser]:
    """`--print systemd` output: units headed by `# /etc/systemd/system/NAME` comment lines."""
    units: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"#\s*(/\S+/(\S+\.(service|timer)))\s*$", line)
        if header:
            current = header.group(2)
            units[current] = []
        elif current is not None:
            units[current].append(line)
    parsed = {}
    for name, lines in units.items():
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
        parser.read_string("\n".join(lines))
        parsed[name] = parser
    return parsed


def test_schedule_prints_systemd_units_that_parse(project: Project) -> None:
    proc = project.run("schedule", "--print", "systemd", "--on-calendar", "*-*-* 03:17:00")
    assert proc.returncode == 0, proc.stderr
    units = systemd_units(proc.stdout)
    services = [u for name, u in units.items() if name.endswith(".service")]
    timers = [u for name, u in units.items() if name.endswith(".timer")]
    assert len(services) == 1 and len(timers) == 1
    exec_start = shlex.split(services[0]["Service"]["ExecStart"])
    assert Path(exec_start[0]).is_absolute()
    assert "validate" in exec_start and "--all" in exec_start
    assert Path(services[0]["Service"]["WorkingDirectory"]) == project.root.resolve()
    assert timers[0]["Timer"]["OnCalendar"] == "*-*-* 03:17:00"


def test_schedule_prints_a_cron_line_with_five_fields(project: Project) -> None:
    proc = project.run("schedule", "--print", "cron")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split()
    minute, hour, dom, month, dow = fields[:5]
    assert re.fullmatch(r"\d{1,2}|\*", minute) and int(minute) < 60
    assert re.fullmatch(r"\d{1,2}|\*", hour) and int(hour) < 24
    assert (dom, month, dow) == ("*", "*", "*")
    assert "validate --all" in lines[0]
    assert any(Path(word).is_absolute() and word.endswith("taskrun") for word in fields[5:])
