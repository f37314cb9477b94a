"""The reading rules on the shape fixtures (tests/fixtures/shapes/): each task file is planned,
linted, discovered and written back through the real parser, planner, lint and write-back,
and compared with its hand-written expectation (expected/<stem>.yaml, schema in the README).
"""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.errors import InputError
from runner.lint.task import lint_task
from runner.markdown.document import parse_document
from runner.markdown.writeback import render_write_back
from runner.models import CheckResult, Plan, PlannedCheck, RunRecord, TaskDocument
from runner.plan.build import PlanContext, build_plan
from runner.project.discovery import iter_tasks, resolve_task

SHAPES = Path(__file__).resolve().parents[1] / "fixtures" / "shapes"
EXPECTED = sorted((SHAPES / "expected").glob("*.yaml"), key=lambda p: p.name)
LABEL_WIDTH = 60


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def read(want: dict[str, Any]) -> TaskDocument:
    path = SHAPES / want["file"]
    return parse_document(path.read_bytes(), f"tasks/{want['file']}")


def plan_of(want: dict[str, Any]) -> Plan:
    vars_ = want.get("inventory_vars")
    context = PlanContext(
        inventory_vars=vars_, inventory_components=tuple(vars_) if vars_ else None
    )
    return build_plan(read(want), context)


def unlabelled(command: str) -> str:
    first = command.strip().splitlines()[0]
    return first if len(first) <= LABEL_WIDTH else first[: LABEL_WIDTH - 1] + "…"


def expectation_of(check: PlannedCheck, wanted: dict[str, Any] | None) -> dict[str, Any]:
    got: dict[str, Any] = {}
    if check.expectation.stdout_line is not None:
        got["stdout_line"] = check.expectation.stdout_line
    if check.expectation.exit_code != 0 or (wanted and "exit_code" in wanted):
        got["exit_code"] = check.expectation.exit_code
    return got


def described(check: PlannedCheck, wanted: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": check.line,
        "kind": check.kind,
        "section": check.section,
        "label": check.label,
        "command": check.command,
        "expectation": expectation_of(check, wanted["expectation"]) or None,
        "expected_prose": check.expected_prose,
        "counted": check.kind == "command",
        "shown_reason": check.shown_reason,
        "decorative": check.decorative,
        "warns": list(check.warnings),
        **({"shown_output": check.shown_output} if "shown_output" in wanted else {}),
    }


def wanted_check(want: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": want["line"],
        "kind": want["kind"],
        "section": want["section"],
        # no title: the command's first line, cut to 60 characters (README: Labels)
        "label": want["label"] if want["label"] is not None else unlabelled(want["command"]),
        "command": want["command"],
        "expectation": want["expectation"],
        "expected_prose": want["expected_prose"],
        "counted": want["counted"],
        "shown_reason": want.get("shown_reason"),
        "decorative": want.get("decorative", False),
        "warns": want.get("warns", []),
        **({"shown_output": want["shown_output"]} if "shown_output" in want else {}),
    }


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_identity_and_recognition(path: Path) -> None:
    want = load(path)
    doc = read(want)
    assert doc.is_task is want["is_task_by_path"]
    assert doc.task_id == want["task_id"]
    assert doc.id_source == want["id_source"]
    assert doc.title == want["title"]
    assert list(doc.components) == want["components"]
    assert doc.rejection == want["rejection"]
    assert doc.has_id_field is (want["id_source"] == "field")


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_the_plan_lists_exactly_the_expected_checks(path: Path) -> None:
    want = load(path)
    plan = plan_of(want)
    checks = [c for c in plan.checks if c.source != "must-pass"]
    wanted = want["checks"]
    assert [c.line for c in checks] == [w["line"] for w in wanted]
    for check, expected in zip(checks, wanted, strict=True):
        assert described(check, expected) == wanted_check(expected), check.line


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_no_never_run_command_is_ever_planned(path: Path) -> None:
    want = load(path)
    plan = plan_of(want)
    spans = {
        line
        for check in plan.checks
        for line in range(check.line, check.line + check.command.count("\n") + 1)
    }
    assert spans.isdisjoint(want["never_planned"])


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_the_plan_names_the_sections_it_skipped_and_why(path: Path) -> None:
    want = load(path)
    got = [(s.line, s.heading, s.reason.split(":", 1)[0]) for s in plan_of(want).skipped_sections]
    assert got == [
        (s["line"], s["heading"], s["reason"].split(":", 1)[0]) for s in want["skipped_sections"]
    ]


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_must_pass_items_plan_as_before(path: Path) -> None:
    want = load(path)
    must_pass = [c for c in plan_of(want).checks if c.source == "must-pass"]
    assert [(c.line, c.must_pass) for c in must_pass] == [
        (m["line"], m["name"]) for m in want.get("must_pass", [])
    ]


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_lint_gives_the_expected_findings_of_the_new_rules(path: Path) -> None:
    want = load(path)
    if not want["is_task_by_path"]:
        return
    doc = read(want)
    vars_ = want.get("inventory_vars")
    findings = lint_task(
        doc,
        plan_of(want),
        provided_env=None,
        inventory_components=tuple(vars_) if vars_ else None,
        shellcheck=False,
    )
    new_rules = {"placeholder", "never-ends", "prose-expectation", "step-without-command"}
    got = {(f.line, f.rule, f.level) for f in findings if f.rule in new_rules}
    assert got == {(f["line"], f["rule"], f["level"]) for f in want["lint"]}
    for absent in want["lint_absent"]:
        rules = {f.rule for f in findings if f.line == absent["line"]}
        assert not any(rule.startswith(absent["rule"]) for rule in rules), (absent, rules)


# --------------------------------------------------------------------------- discovery


def test_all_and_id_lookup_take_only_files_with_a_task_id_field(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for fixture in SHAPES.glob("*.md"):
        if fixture.name != "README.md":
            (tasks / fixture.name).write_bytes(fixture.read_bytes())
    picked = {ref.path.name for ref in iter_tasks([tasks], cwd=tmp_path)}
    wants = [load(path) for path in EXPECTED]
    assert picked == {w["file"] for w in wants if w["picked_by_all"]}
    for want in wants:
        found_by_id = want.get("found_by_id", want["picked_by_all"])
        if want["task_id"] is None or not found_by_id:
            continue
        if want["is_task_by_path"]:
            ref = resolve_task(want["task_id"], dirs=[tasks], cwd=tmp_path)
            assert ref.path.name == want["file"]
        else:
            with pytest.raises(InputError) as caught:
                resolve_task(want["task_id"].lower(), dirs=[tasks], cwd=tmp_path)
            assert "is not a task file" in caught.value.message
            assert want["rejection"] in caught.value.message


def test_an_id_from_the_h1_or_the_file_name_is_no_id_lookup(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("task-h1-id.md", "T-039-rotate-gateway-certs.md", "post-deployment.md"):
        (tasks / name).write_bytes((SHAPES / name).read_bytes())
    for task_id in ("Task 002", "T-039", "CHG-2291"):
        with pytest.raises(InputError, match="no task with ID"):
            resolve_task(task_id, dirs=[tasks], cwd=tmp_path)
    ref = resolve_task("tasks/T-039-rotate-gateway-certs.md", dirs=[tasks], cwd=tmp_path)
    assert ref.doc.task_id == "T-039"


@pytest.mark.parametrize(
    "path", [p for p in EXPECTED if not load(p)["is_task_by_path"]], ids=lambda p: p.stem
)
def test_a_rejected_file_by_path_says_which_condition_failed(path: Path) -> None:
    want = load(path)
    with pytest.raises(InputError) as caught:
        resolve_task(str(SHAPES / want["file"]), dirs=[], cwd=SHAPES)
    message = caught.value.message
    assert want["rejection"] in message
    for section in want["skipped_sections"]:
        if not section["reason"].startswith("nested"):
            assert f"{section['heading']} (line {section['line']})" in message


# --------------------------------------------------------------------------- write-back


def passing_record(doc: TaskDocument, plan: Plan) -> RunRecord:
    results = tuple(
        CheckResult(
            id=f"{c.id}@orc",
            plan_id=c.id,
            label=c.label,
            source=c.source,
            must_pass=c.must_pass,
            component="orc",
            host="local",
            command=c.command,
            status="pass" if c.kind != "not-run" else "manual",
            line=c.line,
            duration_s=0.01,
        )
        for c in plan.checks
        if c.kind in ("command", "not-run")
    )
    return RunRecord(
        task_id=doc.task_id,
        task_path=doc.path,
        title=doc.title,
        run_id="20270102T000000Z",
        state="complete",
        started_at="2027-01-02T00:00:00.000Z",
        finished_at="2027-01-02T00:00:01.000Z",
        results=results,
    )


@pytest.mark.parametrize(
    "path", [p for p in EXPECTED if load(p)["writeback"]], ids=lambda p: p.stem
)
def test_write_back_goes_where_the_file_keeps_its_status(path: Path) -> None:
    want = load(path)
    doc = read(want)
    plan = build_plan(doc, PlanContext(default_component="orc"))
    new = render_write_back(doc, passing_record(doc, plan), today="2027-01-02")
    assert new is not None
    old_lines = doc.text.split("\n")
    new_lines = new.split("\n")
    after = parse_document(new.encode(), doc.path)
    assert after.evidence is not None
    start, end = after.evidence.start_line, after.evidence.end_line
    if want["writeback"] == "status-tracking":
        assert after.status is not None and after.status.evidence is not None
    elif want["writeback"] == "added-section":
        assert doc.status is None and after.status is not None
        assert new.startswith(doc.text.rstrip("\n"))  # the section is added at the end
    else:
        line = want["status_line"] - 1
        status = old_lines[line].split(":", 1)[1].strip(" *")
        assert new_lines[line] == old_lines[line].replace(status, "Complete")
        assert new_lines[line] != old_lines[line]
        # nothing else moved: the old file, the status value changed, the block inserted
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, old_lines, new_lines).get_opcodes():
            if tag == "replace":
                assert (i1, i2, j1, j2) == (line, line + 1, line, line + 1)
            else:
                assert tag in ("equal", "insert"), (tag, i1, i2)
                if tag == "insert":
                    assert start - 1 <= j1 and j2 <= end + 2, (j1, j2, start, end)
        holding = [
            s
            for s in after.sections
            if s.name == want["evidence_section"] and s.span.start < start < s.span.end
        ]
        assert holding, f"the evidence block is not inside {want['evidence_section']!r}"
        # at the end of it: only blank lines and a thematic break follow before the next part
        tail = new_lines[end + 1 : holding[0].span.end]
        assert all(not line.strip() or line.strip() == "---" for line in tail), tail
    again = parse_document(new.encode(), doc.path)
    assert render_write_back(again, passing_record(doc, plan), today="2027-01-02") is None
