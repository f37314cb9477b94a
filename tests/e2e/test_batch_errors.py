"""`validate --all` never drops a task quietly: a task file that cannot be read or planned is an
`error` row in the table, the JSON and the JUnit file, every other task still runs, and the
exit code is not 0 (issue 15, item 3)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.e2e.conftest import Project, bash_block, task_markdown

EVIDENCE = (
    "<!-- taskrun:evidence -->\n<!-- taskrun:checksum sha256:0000000000000000 -->\n"
    "<!-- /taskrun:evidence -->\n"
)


@pytest.fixture
def damaged(project: Project) -> Project:
    ok = bash_block("# fine\ntrue")
    project.write_task("G-1.md", task_markdown("G-1", component="lo", commands=ok))
    # One stray Latin-1 byte (an editor saved "café" as 0xE9) in an otherwise UTF-8 file.
    latin1 = task_markdown("L-1", component="lo", commands=ok, objective="Cafe check.")
    (project.tasks / "L-1.md").write_bytes(latin1.encode().replace(b"Cafe", b"Caf\xe9"))
    nul = task_markdown("N-1", component="lo", commands=ok).replace("Prove", "Pro\x00ve")
    (project.tasks / "N-1.md").write_bytes(nul.encode())
    # A merge that kept both sides' evidence blocks.
    merged = task_markdown("D-1", component="lo", commands=ok).replace(
        "### Change Log", EVIDENCE + "\n" + EVIDENCE + "\n### Change Log"
    )
    project.write_task("D-1.md", merged)
    directive = bash_block("# taskrun: frobnicate=1\ntrue")
    project.write_task("X-1.md", task_markdown("X-1", component="lo", commands=directive))
    # Not a task (no Task ID): mentioned, never an error row.
    (project.tasks / "README.md").write_bytes(b"Notes on the task id scheme: caf\xe9\n")
    return project


BROKEN = {"D-1", "L-1", "N-1", "X-1"}


def test_every_broken_task_is_an_error_row_and_the_others_run(damaged: Project) -> None:
    junit = damaged.root / "junit.xml"
    before = {p.name: p.read_bytes() for p in damaged.tasks.iterdir()}
    proc = damaged.run("validate", "--all", "--json", "--junit", str(junit))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.batch/1"
    runs = {run["task"]["id"]: run for run in document["runs"]}
    assert set(runs) == {"G-1", *BROKEN}
    assert runs["G-1"]["state"] == "complete" and runs["G-1"]["summary"]["pass"] == 1
    reasons = {}
    for task_id in BROKEN:
        run = runs[task_id]
        assert run["state"] == "error", run
        assert run["task"]["path"] == f"tasks/{task_id}.md"
        [check] = run["checks"]
        assert check["status"] == "error" and run["summary"]["error"] == 1
        reasons[task_id] = check["error"]
    assert "not UTF-8" in reasons["L-1"] and "tasks/L-1.md(" in reasons["L-1"]
    assert "binary file" in reasons["N-1"]
    assert "evidence markers" in reasons["D-1"]
    assert "frobnicate" in reasons["X-1"]
    assert "README.md" in proc.stderr  # mentioned, not a row
    # Nothing was written into the broken files; the good one ran and was written.
    after = {p.name: p.read_bytes() for p in damaged.tasks.iterdir()}
    assert {name for name in after if after[name] != before[name]} == {"G-1.md"}
    assert damaged.run_dirs("G-1")

    suites = {s.get("name"): s for s in ET.parse(junit).getroot().findall("testsuite")}
    assert set(suites) == {"G-1", *BROKEN}
    for task_id in BROKEN:
        [case] = suites[task_id].findall("testcase")
        error = case.find("error")
        assert error is not None and error.get("message") == reasons[task_id]


def test_the_table_names_each_broken_task_with_its_reason(damaged: Project) -> None:
    proc = damaged.run("validate", "--all")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    for task_id in BROKEN:
        assert f"tasks/{task_id}.md: not run:" in proc.stderr
    table = proc.stdout[proc.stdout.index("taskrun: all tasks") :]
    for task_id in ("G-1", *BROKEN):
        assert task_id in table


def test_a_failing_task_beside_a_broken_one_exits_1(damaged: Project) -> None:
    damaged.write_task(
        "G-1.md", task_markdown("G-1", component="lo", commands=bash_block("# breaks\nfalse"))
    )
    proc = damaged.run("validate", "--all")
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_status_filtering_cannot_hide_a_broken_task(damaged: Project) -> None:
    # Nobody can tell an unreadable file's status: it stays in the batch, as an error.
    proc = damaged.run("validate", "--all", "--status", "Not Started", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    states = {run["task"]["id"]: run["state"] for run in json.loads(proc.stdout)["runs"]}
    # L-1, N-1, D-1 cannot be read; X-1 is readable, Not Started, but cannot be planned.
    assert {task for task, state in states.items() if state == "error"} == BROKEN
    assert states["G-1"] == "complete"


def test_a_broken_task_asked_for_by_id_says_why(damaged: Project) -> None:
    cases = (("L-1", "not UTF-8"), ("n-1", "binary file"), ("D-1", "the evidence markers"))
    for task_id, why in cases:
        proc = damaged.run("validate", task_id)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "no task with ID" not in proc.stderr
        assert f"cannot be read: {why}" in proc.stderr
        assert proc.stderr.count("\n") == 1


def test_a_dry_run_of_a_batch_with_a_broken_task_is_not_0(damaged: Project) -> None:
    proc = damaged.run("validate", "--all", "--dry-run")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "tasks/L-1.md: not run" in proc.stderr
    assert not any(damaged.reports.iterdir())
