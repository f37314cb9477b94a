"""The shape fixtures (tests/fixtures/shapes/) agree with their hand-written expectations.

This checks only that the fixture set is self-consistent: every expectation names a
fixture, every line number points at the text it claims, nothing in a never-run section
is listed as a check. It does not run the planner: `test_shapes_plan.py` does. The schema
is in tests/fixtures/shapes/README.md.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

SHAPES = Path(__file__).resolve().parents[1] / "fixtures" / "shapes"
EXPECTED = SHAPES / "expected"
MIN_FIXTURES = 12
MIN_LINES, MAX_LINES = 40, 150

TOP_KEYS = {
    "file",
    "shape",
    "modelled_on",
    "is_task_by_path",
    "picked_by_all",
    "task_id",
    "id_source",
    "title",
    "components",
    "rejection",
    "writeback",
    "checks",
    "skipped_sections",
    "never_planned",
    "lint",
    "lint_absent",
}
OPTIONAL_TOP_KEYS = {
    "found_by_id",
    "status_line",
    "evidence_section",
    "must_pass",
    "inventory_vars",
}
CHECK_KEYS = {
    "line",
    "kind",
    "section",
    "label",
    "command",
    "expectation",
    "expected_prose",
    "counted",
}
OPTIONAL_CHECK_KEYS = {"shown_reason", "shown_output", "decorative", "warns", "failure_markers"}
KINDS = {"command", "pre", "shown", "setup"}
SHOWN_REASONS = {"output-label", "not-shell", "placeholder"}
ID_SOURCES = {"field", "h1", "filename", None}
WRITEBACKS = {"status-tracking", "status-field", "added-section", None}
REASONS = {"execution", "rollback", "troubleshooting", "credentials", "nested", "not-validation"}
LINT_LEVELS = {"error", "warning", "info"}
COMPONENTS = {"api-gateway", "llm-01", "llm-02", "orc", "global"}
EXPECTATION_KEYS = {"exit_code", "stdout_line"}

HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
LEADING_DECORATION = re.compile(r"^[^\w]+")  # emoji and their variation selectors
FIELD_STATUS = re.compile(r"^\*\*Status:?\*\*:?\s")


def fixture_files() -> list[Path]:
    return sorted((p for p in SHAPES.glob("*.md") if p.name != "README.md"), key=lambda p: p.name)


def expectation_files() -> list[Path]:
    return sorted(EXPECTED.glob("*.yaml"), key=lambda p: p.name)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def source_lines(fixture: Path) -> list[str]:
    """1-based access: lines[n - 1]. Split on LF only (the fixtures are LF)."""
    text = fixture.read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def without_prompt(line: str) -> str:
    stripped = line.lstrip()
    return stripped[2:] if stripped.startswith("$ ") else stripped


def heading_text(line: str) -> str | None:
    match = HEADING.match(line)
    if match is None:
        return None
    return LEADING_DECORATION.sub("", match.group(1)).rstrip(":")


def test_enough_fixtures() -> None:
    assert len(fixture_files()) >= MIN_FIXTURES


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture() -> None:
    fixtures = {p.stem for p in fixture_files()}
    expected = {p.stem for p in expectation_files()}
    assert fixtures - expected == set(), "fixtures without an expectation"
    assert expected - fixtures == set(), "expectations without a fixture"


def test_no_two_fixtures_are_identical() -> None:
    digests: dict[str, str] = {}
    for fixture in fixture_files():
        digest = hashlib.sha256(fixture.read_bytes()).hexdigest()
        assert digest not in digests, f"{fixture.name} is identical to {digests.get(digest)}"
        digests[digest] = fixture.name


def test_readme_documents_every_fixture() -> None:
    readme = (SHAPES / "README.md").read_text(encoding="utf-8")
    for fixture in fixture_files():
        assert f"`{fixture.name}`" in readme, f"README.md does not list {fixture.name}"


@pytest.mark.parametrize("fixture", fixture_files(), ids=lambda p: p.name)
def test_fixture_is_plain_lf_text_of_a_realistic_length(fixture: Path) -> None:
    data = fixture.read_bytes()
    assert b"\r" not in data, "LF line endings only"
    assert data.endswith(b"\n"), "ends with a newline"
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert MIN_LINES <= len(source_lines(fixture)) <= MAX_LINES


@pytest.mark.parametrize("path", expectation_files(), ids=lambda p: p.name)
def test_expectation_is_self_consistent(path: Path) -> None:
    want = load(path)
    assert want["file"] == path.stem + ".md", "file: names the fixture of the same stem"
    fixture = SHAPES / want["file"]
    assert fixture.is_file()
    lines = source_lines(fixture)

    assert set(want) >= TOP_KEYS, f"missing keys: {TOP_KEYS - set(want)}"
    unknown = set(want) - TOP_KEYS - OPTIONAL_TOP_KEYS
    assert not unknown, f"unknown keys: {unknown}"
    assert want["modelled_on"], "name the public repositories the shape was modelled on"
    assert all(isinstance(source, str) for source in want["modelled_on"])
    _check_identity(want, lines)
    covered = _check_checks(want, lines)
    _check_sections(want, lines)
    for line in want["never_planned"]:
        assert lines[line - 1].strip(), f"never_planned line {line} is blank"
        assert line not in covered, f"line {line} is both a check and never planned"
    _check_lint(want, lines)


@pytest.mark.parametrize("path", expectation_files(), ids=lambda p: p.name)
def test_every_code_block_is_accounted_for(path: Path) -> None:
    """Each code block holding more than comments is a check, shown, or never planned."""
    want = load(path)
    text = (SHAPES / want["file"]).read_text(encoding="utf-8")
    lines = source_lines(SHAPES / want["file"])
    listed = {c["line"] for c in want["checks"]} | set(want["never_planned"])
    for token in MarkdownIt("commonmark").parse(text):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        first, end = token.map
        if token.type == "fence":
            first, end = first + 1, end - 1
        body = range(first + 1, end + 1)  # 1-based line numbers of the block's content
        if all(not lines[n - 1].strip() or lines[n - 1].strip().startswith("#") for n in body):
            continue
        assert listed & set(body), f"the block at line {first} is neither planned nor skipped"


def _check_identity(want: dict[str, Any], lines: list[str]) -> None:
    assert want["id_source"] in ID_SOURCES
    assert want["writeback"] in WRITEBACKS
    assert set(want["components"]) <= COMPONENTS
    is_task = want["is_task_by_path"]
    assert (want["rejection"] is None) == is_task, "a rejection exactly when it is not a task"
    if not is_task:
        assert want["writeback"] is None and want["checks"] == []
    if want["picked_by_all"]:
        assert is_task and want["id_source"] == "field", "--all needs a Task ID field"
    if want.get("found_by_id"):
        assert want["id_source"] == "field", "an ID lookup needs a Task ID field"
    task_id = want["task_id"]
    if want["id_source"] == "field":
        assert any("Task ID" in line and task_id in line for line in lines)
    elif want["id_source"] == "h1":
        assert lines[0].startswith("# ") and task_id in lines[0]
        assert not any("Task ID" in line for line in lines)
    elif want["id_source"] == "filename":
        assert want["file"].startswith(task_id)
        assert not any(task_id in line for line in lines)
    if want["writeback"] == "status-field":
        status_line = want["status_line"]
        assert FIELD_STATUS.match(lines[status_line - 1]), "status_line points at **Status**:"
        assert status_line <= 10, "the status field is near the top"
        assert any(heading_text(line) == want["evidence_section"] for line in lines)
    if want["writeback"] != "status-tracking":
        assert not any(heading_text(line) == "Status Tracking" for line in lines)
    for item in want.get("must_pass", []):
        assert f"**{item['name']}**" in lines[item["line"] - 1]


def _check_checks(want: dict[str, Any], lines: list[str]) -> set[int]:
    covered: set[int] = set()
    previous = 0
    for check in want["checks"]:
        assert set(check) >= CHECK_KEYS, (
            f"line {check.get('line')}: missing {CHECK_KEYS - set(check)}"
        )
        unknown = set(check) - CHECK_KEYS - OPTIONAL_CHECK_KEYS
        assert not unknown, f"line {check.get('line')}: unknown {unknown}"
        line = check["line"]
        assert line > previous, f"checks are in file order (line {line})"
        previous = line
        assert check["kind"] in KINDS
        assert check["counted"] is (check["kind"] == "command"), f"line {line}: counted"
        if check["kind"] == "shown":
            assert check.get("shown_reason") in SHOWN_REASONS, f"line {line}: shown_reason"
        assert check["label"] is None or check["label"].strip()
        if check["expectation"] is not None:
            assert set(check["expectation"]) <= EXPECTATION_KEYS
        assert isinstance(check["section"], str) and check["section"]
        command_lines = check["command"].split("\n")
        assert command_lines[0].strip(), f"line {line}: the command starts with text"
        for offset, text in enumerate(command_lines):
            number = line + offset
            assert number <= len(lines), f"line {line}: the command runs past the file"
            source = without_prompt(lines[number - 1])
            assert text.strip() in source, f"line {number}: {text!r} is not in {source!r}"
            covered.add(number)
    return covered


def _check_sections(want: dict[str, Any], lines: list[str]) -> None:
    for section in want["skipped_sections"]:
        assert heading_text(lines[section["line"] - 1]) == section["heading"], section
        category = section["reason"].split(":", 1)[0]
        assert category in REASONS, f"reason category {category!r}"
    names = {heading_text(line) for line in lines} | {
        match.group(1) for line in lines for match in re.finditer(r"\*\*([^*]+?):?\*\*", line)
    }
    for check in want["checks"]:
        assert check["section"] in names, f"section {check['section']!r} is no heading or label"


def _check_lint(want: dict[str, Any], lines: list[str]) -> None:
    for finding in want["lint"]:
        assert finding["level"] in LINT_LEVELS
        assert finding["rule"]
        assert lines[finding["line"] - 1].strip(), f"lint line {finding['line']} is blank"
    for absent in want["lint_absent"]:
        assert lines[absent["line"] - 1].strip(), f"lint_absent line {absent['line']} is blank"
        assert {"line": absent["line"], "rule": absent["rule"]} not in [
            {"line": f["line"], "rule": f["rule"]} for f in want["lint"]
        ]
