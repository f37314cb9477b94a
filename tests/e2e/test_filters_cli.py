"""Filters fail closed (`--status`, `--component`, `--only`), and a filtered run updates only
the evidence rows of the checks it ran (issue 15, items 1 and 2)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (
    Project,
    bash_block,
    change_log_items,
    evidence_rows,
    status_field,
    task_markdown,
)
from tests.fleet import Fleet

EVERYWHERE = "\n\n".join(
    [
        bash_block('# liveness: says where it ran\necho "on $FLEET_HOST"'),
        bash_block('# readiness: has a shell\ntest -n "$BASH_VERSION"'),
    ]
)


@pytest.fixture
def fleet_project(project: Project, e2e_fleet: Fleet) -> Project:
    project.write_inventory(e2e_fleet.inventory_yaml())
    project.write_task(
        "F-1.md",
        task_markdown("F-1", component="global", commands=EVERYWHERE, status="In Progress"),
    )
    return project


def snapshot(project: Project) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.tasks.rglob("*.md"))}


# --------------------------------------------------------------------------- item 1


def test_a_mistyped_status_is_exit_2_with_the_known_statuses(project: Project) -> None:
    project.write_task(
        "S-1.md", task_markdown("S-1", component="lo", commands=bash_block("# ok\ntrue"))
    )
    project.write_task(
        "S-2.md",
        task_markdown(
            "S-2",
            component="lo",
            commands=bash_block("# ok\ntrue"),
            status="Ready for Implementation",
        ),
    )
    before = snapshot(project)
    proc = project.run("validate", "--all", "--status", "Completed")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1  # one line, no traceback
    assert (
        "known statuses: Not Started, In Progress, Blocked, Testing, Complete, "
        "Ready for Implementation" in proc.stderr
    )
    assert "did you mean Complete?" in proc.stderr
    assert snapshot(project) == before
    assert not any(project.reports.iterdir())

    # A status a task file uses is known, in any case; it selects that task only.
    proc = project.run("validate", "--all", "--status", "ready for IMPLEMENTATION")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.run_dirs("S-2") and not project.run_dirs("S-1")
    # A template status no file has yet is no mistake (not exit 2): there is nothing to run.
    proc = project.run("validate", "--all", "--status", "blocked")
    assert proc.returncode != 2, proc.stdout + proc.stderr
    assert "nothing to run" in proc.stderr


def test_a_mistyped_component_is_exit_2_with_a_suggestion(fleet_project: Project) -> None:
    before = snapshot(fleet_project)
    for args in (("F-1",), ("--all",)):
        proc = fleet_project.run("validate", *args, "--component", "hots2")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "did you mean host2?" in proc.stderr
        assert "known components: host1, host2, host3, global" in proc.stderr
    assert snapshot(fleet_project) == before
    assert fleet_project.run_dirs("F-1") == []


def test_an_only_that_matches_nothing_is_exit_2_and_writes_nothing(project: Project) -> None:
    path = project.write_task(
        "O-1.md", task_markdown("O-1", component="lo", commands=bash_block("# liveness\ntrue"))
    )
    assert project.run("validate", "O-1").returncode == 0
    recorded = path.read_bytes()
    runs = project.run_dirs("O-1")
    for args in (("O-1",), ("--all",)):
        proc = project.run("validate", *args, "--only", "nosuch")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "--only 'nosuch' matches no check" in proc.stderr
    single = project.run("validate", "O-1", "--only", "nosuch")
    assert "its checks: liveness" in single.stderr
    assert path.read_bytes() == recorded  # not "0/0 passed"
    assert project.run_dirs("O-1") == runs  # and no run folder either
    # A component of the inventory that the task does not run on matches nothing either.
    project.write_inventory("components:\n  lo: {host: local}\n  other: {host: local}\n")
    proc = project.run("validate", "O-1", "--component", "other")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "it runs on: lo" in proc.stderr
    assert path.read_bytes() == recorded


# --------------------------------------------------------------------------- item 2


def test_a_component_filter_updates_its_rows_and_keeps_the_others(
    fleet_project: Project, e2e_fleet: Fleet
) -> None:
    path = fleet_project.tasks / "F-1.md"
    full = fleet_project.run("validate", "F-1")
    assert full.returncode == 0, full.stdout + full.stderr
    first = fleet_project.run_json("F-1")["run_id"]
    rows = evidence_rows(path.read_text())
    assert len(rows) == 6 and {r["Run"] for r in rows} == {first}
    assert status_field(path.read_text(), "Current Status") == "Complete"

    # Component names are case-insensitive, and the filter runs on that host only.
    part = fleet_project.run("validate", "F-1", "--component", "HOST2")
    assert part.returncode == 0, part.stdout + part.stderr
    second = fleet_project.run_json("F-1")
    assert {c["component"] for c in second["checks"]} == {"host2"}
    text = path.read_text()
    after = evidence_rows(text)
    assert [r["ID"] for r in after] == [r["ID"] for r in rows]  # same rows, same order
    for row in after:
        expected = second["run_id"] if row["ID"].endswith("@host2`") else first
        assert row["Run"] == expected, row
    assert "4 rows from earlier runs kept" in text
    # Complete stays (a clean partial run is no regression), and no false alarm is written.
    assert status_field(text, "Current Status") == "Complete"
    assert "Regression" not in text
    assert "filtered run" in change_log_items(text)[-1]


def test_a_filtered_run_never_completes_and_records_a_failure_in_its_row(
    project: Project,
) -> None:
    flag = project.root / "flag"
    commands = bash_block(f"# liveness\ntrue\n\n# readiness flag\ntest -e {flag}\n\n# other\ntrue")
    path = project.write_task("P-1.md", task_markdown("P-1", component="lo", commands=commands))
    first = project.run("validate", "P-1")
    assert first.returncode == 1, first.stdout + first.stderr
    assert status_field(path.read_text(), "Current Status") == "Testing"

    flag.touch()
    fixed = project.run("validate", "P-1", "--only", "readiness")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    text = path.read_text()
    rows = {r["Check"]: r for r in evidence_rows(text)}
    assert sorted(rows) == ["liveness", "other", "readiness flag"]
    assert rows["readiness flag"]["Result"] == "pass"
    assert rows["readiness flag"]["Run"] == project.run_json("P-1")["run_id"]
    assert rows["liveness"]["Run"] == project.run_json("P-1", 0)["run_id"]
    # Every row now passes, but only an unfiltered run may set Complete.
    assert status_field(text, "Current Status") == "Testing"
    assert status_field(text, "Completion") == "0%"
    done = project.run("validate", "P-1")
    assert done.returncode == 0
    assert status_field(path.read_text(), "Current Status") == "Complete"
