"""The reading rules through the real CLI (issue 18, issue 14 items 4 and 7, issue 15 item 8):
`plan --json` on shape fixtures, and `validate` on task files in those shapes whose commands
really run on this machine (`host: local`)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Project

SHAPES = Path(__file__).resolve().parents[1] / "fixtures" / "shapes"


def plan_json(project: Project, *args: str) -> dict[str, Any]:
    proc = project.run("plan", *args, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.plan/1"
    return document


def md(text: str) -> str:
    return textwrap.dedent(text).lstrip()


# --------------------------------------------------------------------------- plan --json


@pytest.mark.parametrize(
    "stem", ["transcript", "preflight", "placeholders", "decorative-echo", "sibling-template"]
)
def test_plan_json_of_a_fixture_matches_its_expectation(project: Project, stem: str) -> None:
    want = yaml.safe_load((SHAPES / "expected" / f"{stem}.yaml").read_text())
    project.write_task(want["file"], (SHAPES / want["file"]).read_text())
    components = "\n".join(
        f"  {name}: {{host: local, vars: {json.dumps(v)}}}"
        for name, v in (want.get("inventory_vars") or {}).items()
    )
    project.write_inventory(
        "components:\n"
        + (components or "  orc: {host: local}")
        + "\n  llm-02: {host: local}\n  lo: {host: local}\n"
    )
    document = plan_json(project, f"tasks/{want['file']}")
    checks = [c for c in document["checks"] if c["source"] != "must-pass"]
    assert [(c["line"], c["kind"], c["section"]) for c in checks] == [
        (w["line"], w["kind"], w["section"]) for w in want["checks"]
    ]
    for check, wanted in zip(checks, want["checks"], strict=True):
        # a bearer token, placeholder or not, is masked like any other
        masked = re.sub(r"Bearer [^\s\"]+", "Bearer ***", wanted["command"])
        assert check["command"] == masked
        assert check["counted"] is wanted["counted"]
        if wanted["label"] is not None:
            assert check["label"] == wanted["label"]
        if check["kind"] == "shown":
            assert check["shown_reason"] == wanted["shown_reason"]
            assert any("not run" in note for note in check["notes"]), check["notes"]
        if check["kind"] == "pre":
            assert any("--pre" in note for note in check["notes"])
    assert [(s["line"], s["heading"]) for s in document["skipped_sections"]] == [
        (s["line"], s["heading"]) for s in want["skipped_sections"]
    ]


def test_plan_by_id_explains_a_rejected_file_instead_of_no_such_id(project: Project) -> None:
    project.write_task("rejected-with-id.md", (SHAPES / "rejected-with-id.md").read_text())
    proc = project.run("plan", "ops-301")
    assert proc.returncode == 2
    assert "no task with ID" not in proc.stderr
    assert "tasks/rejected-with-id.md is not a task file" in proc.stderr
    assert '"Verification" is inside Rollback' in proc.stderr


def test_plan_text_names_each_checks_section_and_the_skipped_sections(project: Project) -> None:
    project.write_task(
        "T-039-rotate-gateway-certs.md", (SHAPES / "T-039-rotate-gateway-certs.md").read_text()
    )
    proc = project.run("plan", "tasks/T-039-rotate-gateway-certs.md")
    assert proc.returncode == 0, proc.stderr
    assert "T-039 — Rotate the gateway TLS certificate" in proc.stdout
    assert "skipped: Step 2: Install the pair (line 23): not-validation" in proc.stdout
    assert "skipped: Rollback (line 57): rollback" in proc.stdout


# --------------------------------------------------------------------------- validate


STATUS_AT_TOP = md(
    """
    # Task: Keep the scratch folder tidy

    **Task ID**: OPS-900
    **Status**: Not Started
    **Component**: lo

    ## Steps

    ```bash
    mkdir -p /tmp/never-created-by-taskrun
    ```

    ## Verification Steps

    ```bash
    # The shell works
    test 2 -gt 1

    # A file that is there
    test -d /
    ```

    **Pass Criteria**:
    - [ ] both pass

    ---

    ## Rollback

    ```bash
    rm -rf /tmp/never-created-by-taskrun
    ```
    """
)


def test_validate_writes_a_status_field_and_the_evidence_into_the_validation_section(
    project: Project,
) -> None:
    path = project.write_task("OPS-900.md", STATUS_AT_TOP)
    proc = project.run("validate", "OPS-900")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("OPS-900")
    assert [(c["label"], c["status"], c["source"]) for c in run["checks"]] == [
        ("The shell works", "pass", "validation"),
        ("A file that is there", "pass", "validation"),
    ]
    text = path.read_text()
    lines = text.splitlines()
    assert lines[3] == "**Status**: Complete"
    start = lines.index("<!-- taskrun:evidence -->")
    end = lines.index("<!-- /taskrun:evidence -->")
    assert lines.index("- [ ] both pass") < start < end < lines.index("---")
    assert "Status Tracking" not in text
    old, new = STATUS_AT_TOP.splitlines(), lines
    kept = [line for i, line in enumerate(new) if not start - 1 <= i <= end and i != 3]
    assert kept == [line for i, line in enumerate(old) if i != 3]
    again = project.run("validate", "OPS-900")
    assert again.returncode == 0
    assert path.read_text().count("<!-- taskrun:evidence -->") == 1


def test_a_status_field_files_evidence_is_the_record_for_check_and_hand_edits(
    project: Project,
) -> None:
    # The evidence block of a `**Status**:` file sits in its validation section, not in a
    # Status Tracking section: `--check`, the regression reference and the hand-edit refusal
    # (issue 15) read it there too.
    path = project.write_task("OPS-900.md", STATUS_AT_TOP)
    assert project.run("validate", "OPS-900").returncode == 0
    recorded = project.run_json("OPS-900")["run_id"]
    check = project.run("validate", "OPS-900", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    again = project.run("validate", "--all")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"outcome unchanged since {recorded}" in again.stderr
    text = path.read_text()
    edited = text.replace("| The shell works |", "| The shell works (checked by hand) |")
    assert edited != text
    path.write_text(edited)
    check = project.run("validate", "OPS-900", "--check")
    assert check.returncode == 4
    assert "evidence block edited by hand" in check.stderr
    refused = project.run("validate", "OPS-900")
    assert refused.returncode == 5
    assert "edited by hand" in refused.stderr and "--apply --force" in refused.stderr
    assert path.read_text() == edited
    run_id = project.run_json("OPS-900")["run_id"]
    forced = project.run("report", "OPS-900", "--run", run_id, "--apply", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"run `{run_id}`" in path.read_text()
    assert "(checked by hand)" not in path.read_text()


PREFLIGHT = md(
    """
    # Task: Raise a limit

    **Task ID**: OPS-901
    **Component**: lo
    **Status**: Not Started

    ## Pre-Flight Checks

    ```bash
    # The scratch folder exists
    test -d /tmp
    ```

    ## Execution Steps

    ```bash
    false
    ```

    ## Validation

    ```bash
    # The limit is raised
    test 1 -eq 1
    ```
    """
)


def test_pre_runs_only_the_pre_flight_checks_and_never_writes_the_task_file(
    project: Project,
) -> None:
    path = project.write_task("OPS-901.md", PREFLIGHT)
    before = path.read_bytes()
    proc = project.run("validate", "OPS-901", "--pre")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("OPS-901")
    assert [(c["label"], c["status"], c["source"]) for c in run["checks"]] == [
        ("The scratch folder exists", "pass", "pre")
    ]
    assert run["options"]["pre"] is True
    assert path.read_bytes() == before
    proc = project.run("validate", "OPS-901")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c["label"] for c in project.run_json("OPS-901")["checks"]] == ["The limit is raised"]
    assert "**Status**: Complete" in path.read_text()


def test_report_apply_writes_the_validation_and_never_a_pre_flight_run(
    project: Project,
) -> None:
    # `report --apply` judges a kept run against the checks a validate run plans: the
    # pre-flight checks are not among them, and a `--pre` run is never written.
    path = project.write_task("OPS-901.md", PREFLIGHT)
    before = path.read_bytes()
    assert project.run("validate", "OPS-901", "--pre").returncode == 0
    pre_run = project.run_json("OPS-901")["run_id"]
    refused = project.run("report", "OPS-901", "--run", pre_run, "--apply")
    assert refused.returncode == 2
    assert "pre-flight checks (--pre)" in refused.stderr
    assert path.read_bytes() == before
    assert project.run("validate", "OPS-901", "--no-write").returncode == 0
    applied = project.run("report", "OPS-901", "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "**Status**: Complete" in path.read_text()


def test_pre_without_pre_flight_checks_is_an_input_error(project: Project) -> None:
    path = project.write_task("OPS-900.md", STATUS_AT_TOP)
    before = path.read_bytes()
    proc = project.run("validate", "OPS-900", "--pre")
    assert proc.returncode == 2
    assert "no pre-flight checks" in proc.stderr
    assert path.read_bytes() == before


MARKERS = md(
    """
    # Task: Markers

    **Task ID**: OPS-902
    **Component**: lo

    ## Validation

    ```bash
    # colon form
    test -d /nonexistent && echo "PASS: two" || echo "FAIL: two"
    # bracket form
    if test -d /nonexistent; then echo "[PASS] three"; else echo "[FAIL] three"; fi
    # ballot x
    python3 -c "print('  ✗ four')"
    # past tense
    if true; then echo "FAILED: five"; fi
    # all good
    test -d / && echo "PASS: six" || echo "FAIL: six"
    ```

    ## Status Tracking

    - **Current Status**: `Not Started`
    """
)


def test_the_files_own_failure_markers_fail_their_checks(project: Project) -> None:
    project.write_task("OPS-902.md", MARKERS)
    proc = project.run("validate", "OPS-902", "--no-write")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = project.run_json("OPS-902")["checks"]
    assert [(c["label"], c["status"]) for c in checks] == [
        ("colon form", "fail"),
        ("bracket form", "fail"),
        ("ballot x", "fail"),
        ("past tense", "fail"),
        ("all good", "pass"),
    ]
    assert "printed a failure marker: FAIL: two" in checks[0]["reason"]
    assert "printed a failure marker: ✗ four" in checks[2]["reason"]


def test_failure_markers_are_a_setting(project: Project) -> None:
    (project.root / "taskrun.yaml").write_text("failure_markers: ['[FAIL]']\n")
    project.write_task("OPS-902.md", MARKERS)
    proc = project.run("validate", "OPS-902", "--no-write")
    assert proc.returncode == 1
    statuses = [c["status"] for c in project.run_json("OPS-902")["checks"]]
    assert statuses == ["pass", "fail", "pass", "pass", "pass"]
    config = project.run("config")
    assert "failure_markers" in config.stdout and "[FAIL]" in config.stdout


INLINE_STEPS = md(
    """
    # Engineering Task Template

    ## Task Information
    **Task ID:** OPS-903
    **Task Title:** Inline steps

    ## Validation Test

    ### Test Steps
    1.  Run `test -f /nonexistent/taskrun-file` (Expected: `exit 0`)
    2.  The same file is absent: `test -f /nonexistent/taskrun-file` (Expected: exit status 1)
    3.  `printf '1\\n2\\n3\\n4\\n5\\n' | wc -l` (Expected: `0`)
    4.  Who am I `whoami` (Expected: returns 0)
    5.  Check the endpoint answers (Expected: a JSON document)

    ## Status Tracking
    **Current Status:** Not Started
    """
)


def test_inline_steps_run_the_command_not_the_expectation(project: Project) -> None:
    (project.root / "taskrun.yaml").write_text("default_component: lo\n")
    path = project.write_task("OPS-903.md", INLINE_STEPS)
    plan = plan_json(project, "OPS-903")
    commands = [(c["command"], c["expectation"]["exit_code"]) for c in plan["checks"]]
    assert commands == [
        ("test -f /nonexistent/taskrun-file", 0),
        ("test -f /nonexistent/taskrun-file", 1),
        ("printf '1\\n2\\n3\\n4\\n5\\n' | wc -l", 0),
        ("whoami", 0),
    ]
    assert any("line 14" in n and "command cannot be found" in n for n in plan["notes"])
    proc = project.run("validate", "OPS-903")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    statuses = [c["status"] for c in project.run_json("OPS-903")["checks"]]
    assert statuses == ["fail", "pass", "fail", "pass"]  # wc prints 5, not 0: a stdout line
    assert "Complete" not in path.read_text()
    lint = project.run("lint", "OPS-903", "--json")
    rules = {(f["line"], f["rule"]) for f in json.loads(lint.stdout)["findings"]}
    assert (14, "step-without-command") in rules


TRANSCRIPT_AND_SAMPLES = md(
    """
    # Task: Transcripts

    **Task ID**: OPS-904
    **Component**: lo

    ## Verification

    ```bash
    # Prompt lines run
    $ expr 40 + 2
    42
    ```

    **Expected Output:**

    ```
    false
    ```

    Sample output:

    ```
    exit 7
    ```

    ```
    INFO worker ready (model=x, batch=32)
    ```

    ```
    test 3 -gt 2
    ```

    ## Status Tracking

    - **Current Status**: `Not Started`
    """
)


def test_transcripts_run_their_prompt_lines_and_sample_output_never_runs(
    project: Project,
) -> None:
    project.write_task("OPS-904.md", TRANSCRIPT_AND_SAMPLES)
    plan = plan_json(project, "OPS-904")
    assert [(c["kind"], c["shown_reason"]) for c in plan["checks"]] == [
        ("command", None),
        ("shown", "output-label"),
        ("shown", "output-label"),
        ("shown", "not-shell"),
        ("command", None),
    ]
    assert plan["checks"][0]["shown_output"] == "42"
    proc = project.run("validate", "OPS-904", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = project.run_json("OPS-904")
    assert [(c["command"], c["status"]) for c in run["checks"]] == [
        ("expr 40 + 2", "pass"),
        ("test 3 -gt 2", "pass"),
    ]
    assert run["summary"]["total"] == 2


def test_a_task_id_with_test_commands_is_a_task_without_the_template_sections(
    project: Project,
) -> None:
    # issue 15 item 8: no Validation Criteria, no Status Tracking; `Global` means every component
    project.write_inventory("components:\n  lo: {host: local}\n  lo2: {host: local}\n")
    path = project.write_task(
        "OPS-905.md",
        md(
            """
            # Engineering Task: Bare

            **Task ID**: OPS-905
            **Component**: Global

            ### Test Commands

            ```bash
            test -d /
            ```
            """
        ),
    )
    plan = plan_json(project, "OPS-905")
    assert plan["task"]["components"] == ["lo", "lo2"]
    proc = project.run("validate", "OPS-905")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c["component"] for c in project.run_json("OPS-905")["checks"]] == ["lo", "lo2"]
    text = path.read_text()
    assert "## Status Tracking" in text and "`Complete`" in text


def test_inventory_vars_fill_a_tasks_own_command_at_run_time(project: Project) -> None:
    project.write_inventory("components:\n  lo: {host: local, vars: {greeting: hi}}\n")
    project.write_task(
        "OPS-906.md",
        md(
            """
            # Task: Vars

            **Task ID**: OPS-906
            **Component**: lo

            ## Health Check

            ```bash
            # the var is filled
            test "{{greeting}}" = hi
            # not filled by any var: a placeholder, shown and never run
            test "{{nobody_sets_this}}" = x
            ```
            """
        ),
    )
    plan = plan_json(project, "tasks/OPS-906.md")
    assert [c["kind"] for c in plan["checks"]] == ["command", "shown"]
    proc = project.run("validate", "tasks/OPS-906.md", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (check,) = project.run_json("OPS-906")["checks"]
    assert (check["command"], check["status"]) == ('test "hi" = hi', "pass")
    lint = project.run("lint", "tasks/OPS-906.md", "--json")
    assert lint.returncode == 1
    assert ("placeholder", "error") in {
        (f["rule"], f["level"]) for f in json.loads(lint.stdout)["findings"]
    }
