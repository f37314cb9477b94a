"""The restructure's user-visible rules, through the real CLI: reporters chosen by name, the
clock passed in (`TASKRUN_NOW`), one component resolver, connections from the inventory."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.e2e.conftest import Project, bash_block, change_log_items, task_markdown

PASSING = bash_block(
    """
    # answers (a check: a literal `echo ok` would be a caption, issue 18 item 7)
    test -d /
    """
)


def test_reports_are_chosen_by_name_and_the_old_flags_are_aliases(project: Project) -> None:
    project.write_task("T-1.md", task_markdown("T-1", component="lo", commands=PASSING))
    out = project.root / "out"
    out.mkdir()
    proc = project.run(
        "validate",
        "T-1",
        "--no-write",
        "--report",
        f"json={out / 'run.json'}",
        "--report",
        f"markdown={out / 'summary.md'}",
        "--junit",
        str(out / "junit.xml"),
        "--prometheus",
        str(out / "taskrun.prom"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((out / "run.json").read_text())["schema"] == "taskrun.run/1"
    assert (out / "summary.md").read_text().startswith("# taskrun: T-1")
    assert ET.parse(out / "junit.xml").getroot().tag == "testsuites"
    assert "taskrun_check_status" in (out / "taskrun.prom").read_text()


def test_an_unknown_reporter_is_an_input_error(project: Project) -> None:
    path = project.write_task("T-1.md", task_markdown("T-1", component="lo", commands=PASSING))
    before = path.read_bytes()
    proc = project.run("validate", "T-1", "--report", "html5=x.html")
    assert proc.returncode == 2
    assert "unknown reporter 'html5' (known: json, junit, markdown, prometheus, github)" in (
        proc.stderr
    )
    assert path.read_bytes() == before
    assert list(project.reports.iterdir()) == []


def test_taskrun_now_fixes_the_run_id_times_and_last_updated(project: Project) -> None:
    path = project.write_task("T-1.md", task_markdown("T-1", component="lo", commands=PASSING))
    proc = project.run("validate", "T-1", env={"TASKRUN_NOW": "2027-01-02T03:04:05Z"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("T-1")
    assert run["run_id"] == "20270102T030405Z"
    assert run["started_at"] == "2027-01-02T03:04:05.000Z"
    assert run["finished_at"] == "2027-01-02T03:04:05.000Z"
    text = path.read_text()
    assert "- **Last Updated**: `2027-01-02`" in text
    assert change_log_items(text)[-1].startswith("- **2027-01-02**:")


def test_a_bad_taskrun_now_is_an_input_error(project: Project) -> None:
    project.write_task("T-1.md", task_markdown("T-1", component="lo", commands=PASSING))
    proc = project.run("validate", "T-1", env={"TASKRUN_NOW": "yesterday"})
    assert proc.returncode == 2
    assert "TASKRUN_NOW='yesterday' is not an ISO 8601 time" in proc.stderr


def test_component_names_are_case_insensitive_global_included(project: Project) -> None:
    project.write_inventory(
        """
        components:
          lo: {host: local}
          orc: {host: local}
        """
    )
    project.write_task("T-2.md", task_markdown("T-2", component="Global", commands=PASSING))
    proc = project.run("validate", "T-2", "--no-write", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert [c["component"] for c in run["checks"]] == ["lo", "orc"]


def test_an_unknown_inventory_connection_is_refused_before_anything_runs(
    project: Project,
) -> None:
    project.write_inventory(
        """
        components:
          lo: {host: 10.9.9.9, connection: winrm}
        """
    )
    path = project.write_task("T-3.md", task_markdown("T-3", component="lo", commands=PASSING))
    before = path.read_bytes()
    proc = project.run("validate", "T-3")
    assert proc.returncode == 2
    assert "unknown connection 'winrm' (known: ssh, local)" in proc.stderr
    assert path.read_bytes() == before
