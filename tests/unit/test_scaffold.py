"""What `taskrun init` and `taskrun new` write: the project files, the next Task ID, the task
file name, the `.gitignore` line, and a rendered template that parses and plans."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from runner.errors import InputError
from runner.markdown.document import parse_document
from runner.plan.build import PlanContext, build_plan
from runner.project.playbooks import MUST_PASS_SLUGS, load_playbooks
from runner.project.scaffold import (
    TASK_TEMPLATE,
    check_task_id,
    gitignore_with_reports,
    init_files,
    next_task_id,
    render_task,
    task_file_name,
)
from runner.project.settings import PACKAGED_PLAYBOOKS


def test_init_files_are_settings_inventory_playbooks_and_schemas() -> None:
    paths = {f.path for f in init_files()}
    assert PurePosixPath("taskrun.yaml") in paths
    assert PurePosixPath("playbooks/inventory.yaml") in paths
    assert PurePosixPath("playbooks/inventory.example.yaml") not in paths
    for slug in MUST_PASS_SLUGS:
        assert PurePosixPath(f"playbooks/must-pass/{slug}.yaml") in paths
    assert PurePosixPath("playbooks/schema/playbook.schema.json") in paths
    assert all(not p.is_absolute() and ".." not in p.parts for p in paths)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], "ENG-001"),
        (["ENG-001", "ENG-002"], "ENG-003"),
        (["ENG-001", "ENG-009"], "ENG-010"),  # gaps are not refilled
        (["eng-041", "OPS-900"], "ENG-042"),  # case-insensitive prefix, other prefixes ignored
        (["ENG-004.5", "ENG-004"], "ENG-005"),
        (["ENG-1234"], "ENG-1235"),
        (["ENG-0999"], "ENG-1000"),  # width grows as needed, never shrinks
        (["ENG-007-Some-Title"], "ENG-008"),  # a file stem counts too
        (["not an id", ""], "ENG-001"),
    ],
)
def test_next_task_id(ids: list[str], expected: str) -> None:
    assert next_task_id(ids) == expected


@pytest.mark.parametrize("given", ["ENG-12", "OPS-7", "ENG-004.5", " ENG-001 "])
def test_check_task_id_accepts(given: str) -> None:
    assert check_task_id(given) == given.strip()


@pytest.mark.parametrize("given", ["", "ENG", "12", "ENG-x", "../ENG-1", "ENG-1/x", "ENG 1"])
def test_check_task_id_refuses(given: str) -> None:
    with pytest.raises(InputError, match="not a Task ID"):
        check_task_id(given)


def test_task_file_name_keeps_words_and_stays_short() -> None:
    assert task_file_name("ENG-3", "Rotate the gateway key!") == "ENG-3-Rotate-the-gateway-key.md"
    assert task_file_name("ENG-3", "../../etc/passwd") == "ENG-3-etc-passwd.md"
    assert task_file_name("ENG-3", "ñ") == "ENG-3.md"
    assert len(task_file_name("ENG-3", "word " * 50)) <= 83


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, b"# taskrun evidence: one folder per run (taskrun report shows them)\nreports/\n"),
        (b"*.pyc", b"*.pyc\n# taskrun evidence: one folder per run (taskrun report shows them)\n"
         b"reports/\n"),
        (b"x\n/reports\n", None),
        (b"reports/\n", None),
    ],
)  # fmt: skip
def test_gitignore_gets_one_reports_line(before: bytes | None, after: bytes | None) -> None:
    assert gitignore_with_reports(before) == after


def test_the_rendered_template_parses_and_plans_the_four_must_pass_items() -> None:
    text = render_task(
        TASK_TEMPLATE.read_text(encoding="utf-8"),
        task_id="ENG-005",
        title="Rotate the key",
        components=("api-gateway",),
        date="2027-01-02",
    )
    assert "{{" not in text
    doc = parse_document(text.encode(), "tasks/ENG-005.md")
    assert (doc.task_id, doc.title, doc.components) == (
        "ENG-005",
        "Rotate the key",
        ("api-gateway",),
    )
    assert [item.name for item in doc.must_pass] == [
        "Service Health",
        "End-to-End",
        "Performance",
        "Security",
    ]
    fields = {f.key: f.value for f in doc.status.fields} if doc.status else {}
    assert fields["last updated"] == "2027-01-02" and fields["current status"] == "Not Started"
    context = PlanContext(
        playbooks=load_playbooks(PACKAGED_PLAYBOOKS / "must-pass"),
        inventory_components=("api-gateway",),
    )
    plan = build_plan(doc, context)
    assert {c.must_pass for c in plan.checks} == {item.name for item in doc.must_pass}
    assert all(c.kind in ("command", "http") for c in plan.checks)
    assert not [c for c in plan.checks if c.source == "test-commands"]  # the example is a comment


def test_an_unknown_template_field_is_refused() -> None:
    with pytest.raises(InputError, match="unknown field"):
        render_task("{{nope}}", task_id="A-1", title="t", components=(), date="d")
