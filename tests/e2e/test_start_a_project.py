"""A newcomer's path through the CLI: `taskrun init`, `taskrun new`, then `plan` and `lint`
show the four Must-Pass items as playbook checks. Real folders, the CLI as a subprocess."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.conftest import Project, task_markdown

PACKAGED = REPO / "runner" / "data" / "playbooks"
MUST_PASS = ("Service Health", "End-to-End", "Performance", "Security")
NOW = {"TASKRUN_NOW": "2027-03-04T10:00:00Z"}


@pytest.fixture
def empty(tmp_path: Path) -> Project:
    root = tmp_path / "work"
    root.mkdir()
    return Project(root)


def _plan(project: Project, task: str) -> dict:
    proc = project.run("plan", task, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document: dict = json.loads(proc.stdout)
    return document


# --------------------------------------------------------------------------- init


def test_init_writes_a_project(empty: Project) -> None:
    proc = empty.run("init", "proj")
    assert proc.returncode == 0, proc.stderr
    root = empty.root / "proj"
    assert (root / "taskrun.yaml").is_file() and (root / "tasks").is_dir()
    inventory = yaml.safe_load((root / "playbooks" / "inventory.yaml").read_text())
    assert list(inventory["components"]) == ["api-gateway", "llm-01", "llm-02", "orc"]
    lines = (root / "playbooks" / "inventory.yaml").read_text().splitlines()
    assert sum(line.lstrip().startswith("#") for line in lines) >= 10  # commented
    for packaged in (PACKAGED / "must-pass").glob("*.yaml"):
        copy = root / "playbooks" / "must-pass" / packaged.name
        assert copy.read_bytes() == packaged.read_bytes()
    for schema in (PACKAGED / "schema").glob("*.json"):  # what the `$schema=` lines name
        assert (root / "playbooks" / "schema" / schema.name).read_bytes() == schema.read_bytes()
    assert "reports/" in (root / ".gitignore").read_text().splitlines()
    assert "playbooks/inventory.yaml" in proc.stdout and "taskrun new" in proc.stdout

    config = Project(root).run("config")
    assert config.returncode == 0, config.stderr
    assert "taskrun.yaml" in config.stdout  # the settings file is found and used


def test_init_refuses_to_overwrite_and_lists_what_is_there(empty: Project) -> None:
    assert empty.run("init").returncode == 0
    inventory = empty.root / "playbooks" / "inventory.yaml"
    inventory.write_text("components:\n  mine: {host: local}\n")
    before = {p: p.read_bytes() for p in empty.files_under(empty.root)}

    proc = empty.run("init")
    assert proc.returncode == 2
    assert "playbooks/inventory.yaml" in proc.stderr and "taskrun.yaml" in proc.stderr
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in empty.files_under(empty.root)} == before

    forced = empty.run("init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "mine" not in inventory.read_text()
    assert "(overwritten)" in forced.stdout
    assert (empty.root / ".gitignore").read_text().count("reports/") == 1  # not added twice


def test_init_keeps_an_existing_gitignore_and_adds_one_line(empty: Project) -> None:
    (empty.root / ".gitignore").write_text("*.pyc")
    assert empty.run("init").returncode == 0
    assert (empty.root / ".gitignore").read_text().splitlines()[0] == "*.pyc"
    assert (empty.root / ".gitignore").read_text().splitlines()[-1] == "reports/"


def test_init_new_plan_show_the_four_must_pass_items_as_playbook_checks(empty: Project) -> None:
    assert empty.run("init").returncode == 0
    new = empty.run(
        "new", "--title", "Rotate the gateway key", "--component", "api-gateway", env=NOW
    )
    assert new.returncode == 0, new.stderr
    task = empty.tasks / "ENG-001-Rotate-the-gateway-key.md"
    assert task.is_file(), new.stdout

    plan = _plan(empty, "ENG-001")
    assert plan["task"]["title"] == "Rotate the gateway key"
    by_item: dict[str, set[str]] = {}
    for check in plan["checks"]:
        by_item.setdefault(check["must_pass"], set()).add(check["kind"])
    assert set(MUST_PASS) <= set(by_item)
    for item in MUST_PASS:
        assert by_item[item] and "not-run" not in by_item[item], (item, by_item)

    lint = empty.run("lint", "ENG-001")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""  # no finding at all
    assert "0 errors, 0 warnings, 0 info" in lint.stderr


# --------------------------------------------------------------------------- packaged fallback


def _must_pass_task() -> str:
    text = task_markdown("MP-1", component="api-gateway", commands="```bash\ntrue\n```")
    items = "".join(
        f"{n}. **{name}**: it holds\n"
        for n, name in enumerate((*MUST_PASS, "Change Approval"), start=1)
    )
    return text.replace(
        "### Test Commands", f"### Must-Pass Validations\n\n{items}\n### Test Commands"
    )


def test_the_packaged_playbook_applies_where_the_project_has_none(project: Project) -> None:
    """A project with its own playbooks/ (here: the inventory and an empty must-pass/) still
    gets the packaged Must-Pass playbooks; only an item with none anywhere is manual."""
    project.write_inventory("components:\n  api-gateway: {host: local}\n")
    project.write_task("MP-1.md", _must_pass_task())
    plan = _plan(project, "MP-1")
    kinds = {c["must_pass"]: c["kind"] for c in plan["checks"] if c["must_pass"]}
    assert {kinds[name] for name in MUST_PASS} <= {"http", "command"}
    assert kinds["Change Approval"] == "not-run"
    assert any("packaged" in note and "service-health.yaml" in note for note in plan["notes"])

    text = project.run("plan", "MP-1")
    assert "the packaged ones apply" in text.stdout


def test_a_project_playbook_wins_over_the_packaged_one(project: Project) -> None:
    project.write_inventory("components:\n  api-gateway: {host: local}\n")
    (project.inventory.parent / "must-pass" / "security.yaml").write_text(
        "checks:\n  - name: our own security check\n    run: 'true'\n"
    )
    project.write_task("MP-1.md", _must_pass_task())
    plan = _plan(project, "MP-1")
    security = [c for c in plan["checks"] if c["must_pass"] == "Security"]
    assert [c["label"] for c in security] == ["our own security check"]
    note = next(n for n in plan["notes"] if "packaged" in n)
    assert "security.yaml" not in note and "end-to-end.yaml" in note


# --------------------------------------------------------------------------- new


def test_new_takes_the_next_free_id_today_and_the_template(project: Project) -> None:
    project.write_inventory("components:\n  api-gateway: {host: local}\n  orc: {host: local}\n")
    project.write_task("ENG-007-old.md", task_markdown("ENG-007", component="orc", commands=""))
    project.write_task("sub/ENG-012-x.md", task_markdown("ENG-012", component="orc", commands=""))
    proc = project.run("new", "--title", "Check  the\tqueue", "--component", "ORC", env=NOW)
    assert proc.returncode == 0, proc.stderr
    path = project.tasks / "ENG-013-Check-the-queue.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Engineering Task: Check the queue\n")
    assert "> **Task ID**: `ENG-013`" in text
    assert "- **Component**: `orc`" in text  # as the inventory spells it
    assert "- **Last Updated**: `2027-03-04`" in text
    assert "- **2027-03-04**: Task created" in text
    assert "- **Current Status**: `Not Started`" in text
    for number, item in enumerate(MUST_PASS, start=1):
        assert f"{number}. **{item}**:" in text
    block = re.search(r"### Test Commands\n\n```bash\n(.*?)```", text, re.S)
    assert block is not None
    assert all(line.startswith("#") for line in block.group(1).splitlines())  # runs nothing
    assert "curl" in block.group(1)  # with a commented example

    plan = _plan(project, "ENG-013")
    assert not [c for c in plan["checks"] if c["source"] == "test-commands"]
    assert [c["components"] for c in plan["checks"] if c["kind"] == "command"] == [["orc"]]


def test_new_with_an_id_refuses_one_in_use_and_never_overwrites(project: Project) -> None:
    project.write_inventory("components:\n  api-gateway: {host: local}\n")
    project.write_task("a.md", task_markdown("ENG-003", component="api-gateway", commands=""))
    taken = project.run("new", "--title", "x", "--component", "api-gateway", "--id", "eng-003")
    assert taken.returncode == 2 and "already used by tasks/a.md" in taken.stderr

    made = project.run("new", "--title", "x", "--component", "api-gateway", "--id", "OPS-7")
    assert made.returncode == 0, made.stderr
    before = (project.tasks / "OPS-7-x.md").read_bytes()
    again = project.run("new", "--title", "x", "--component", "api-gateway", "--id", "OPS-7")
    assert again.returncode == 2
    assert (project.tasks / "OPS-7-x.md").read_bytes() == before

    bad = project.run("new", "--title", "x", "--component", "api-gateway", "--id", "../x")
    assert bad.returncode == 2 and "not a Task ID" in bad.stderr


def test_new_never_reuses_the_id_of_a_file_that_cannot_be_read(project: Project) -> None:
    # A task file that does not parse is still ENG-020 (`validate ENG-020` says why it cannot
    # be read, issue 15): a new task must not take that ID and make `validate ENG-020` ambiguous.
    project.write_inventory("components:\n  api-gateway: {host: local}\n")
    damaged = task_markdown("ENG-020", component="api-gateway", commands="").encode()
    (project.tasks / "ENG-020-damaged.md").write_bytes(damaged + b"caf\xe9\n")
    taken = project.run("new", "--title", "x", "--component", "api-gateway", "--id", "ENG-020")
    assert taken.returncode == 2 and "already used by tasks/ENG-020-damaged.md" in taken.stderr
    made = project.run("new", "--title", "Next", "--component", "api-gateway")
    assert made.returncode == 0, made.stderr
    assert (project.tasks / "ENG-021-Next.md").is_file()


def test_new_refuses_an_unknown_component_with_a_suggestion(project: Project) -> None:
    project.write_inventory("components:\n  api-gateway: {host: local}\n")
    proc = project.run("new", "--title", "x", "--component", "api-gatway")
    assert proc.returncode == 2
    assert "did you mean api-gateway?" in proc.stderr and "Traceback" not in proc.stderr
    assert project.files_under(project.tasks) == []
