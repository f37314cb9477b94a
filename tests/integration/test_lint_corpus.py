"""`taskrun lint` and `plan` on the REAL corpus files (parser + planner + lint, as subprocesses),
against findings written down by reading each file by hand (issue 6, FINDINGS.md §6-§8)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS_TASKS, REPO

CLI_TIMEOUT_S = 60.0


UPSERT = "RAG-Document-Upsert-Endpoint-Tasks"
SEARCH = "Rag-Serach-Tasks"
REFACTOR = "Refactor Tasks"

ERROR, WARNING = "error", "warning"
# The four rules a person finds by reading; other rules (jq-no-e, output-only, SC…) may appear.
MASKED, INVERTED, CURL, MUTATING = (
    "masked-failure",
    "inverted-grep",
    "curl-no-fail",
    "mutating-validation",
)
READ_RULES = frozenset([MASKED, INVERTED, CURL, MUTATING])

Expected = frozenset[tuple[int, str, str]]  # (1-based line, rule, level)

# Read by hand. The line of a masked failure is the line of its `|| echo` / `if`; the others are
# the line where the command (or its curl) starts. A masked failure whose echo starts with ❌ is a
# warning, not an error: DESIGN §2's failure-marker rule makes that check fail at run time, so it
# *can* fail (a plain `|| echo "Expected …"` cannot, and is an error).
EXPECTED: dict[str, Expected] = {
    # --- template A (Test Commands) -------------------------------------------------------------
    # Clean: every check is `test -s … && echo ✅`, `python -c`, `ls`, `pyflakes`.
    f"{UPSERT}/ENG-001-Create-SOLID-Models-Module.md": frozenset(),
    # Clean: `grep -q … && echo ✅`, `source` + `[[ ]]`, `sort | uniq -d | wc -l | grep -q`.
    f"{UPSERT}/ENG-004.5-Configure-Environment-Variables.md": frozenset(),
    # L108 `netstat | grep || ss | grep` is a real fallback, not a mask; L117 is output-only.
    f"{UPSERT}/ENG-005-Restart-Service-Verify-Deployment.md": frozenset(
        {
            (111, MASKED, WARNING),  # curl -f … || echo "❌ Health check failed"
            (114, INVERTED, ERROR),  # journalctl … | grep -i error: exit 0 = errors found
        }
    ),
    # L104/L110 pipe through `grep -i upsert`, which fails on a wrong answer: no finding.
    f"{UPSERT}/ENG-006-Validate-OpenAPI-Documentation.md": frozenset(
        {
            (101, CURL, WARNING),  # -w %{http_code} printed, never compared
            (107, CURL, WARNING),  # curl -s | jq '.paths[…]'
            (113, CURL, WARNING),  # OPTIONS, status printed, never compared
            (116, CURL, WARNING),  # curl -s | jq '… | keys[]'
        }
    ),
    # L123 compares the status (`| grep -q 403`), so no curl finding there; L135/L148 POST to
    # /v1/rag/search, a read-only endpoint (DESIGN §5), so not mutating.
    f"{UPSERT}/ENG-007-Functional-Smoke-Test.md": frozenset(
        {
            (123, MUTATING, ERROR),  # unauthenticated upsert: writes if auth is broken
            (129, MUTATING, ERROR),  # authenticated upsert
            (129, CURL, WARNING),
            (135, CURL, WARNING),  # search | jq .
            (143, MUTATING, ERROR),  # Qdrant points/delete
            (143, CURL, WARNING),
            (148, CURL, WARNING),  # "verify cleanup" search, output never judged
        }
    ),
    # Four upserts, each `| jq '.error' || echo "Expected …"`. L139 `grep -i validation` wants a
    # match (not inverted); L143 only echoes the words "sudo systemctl restart" (not mutating).
    f"{UPSERT}/ENG-008-Production-Hardening-Implementation.md": frozenset(
        {
            (111, MUTATING, ERROR),
            (111, CURL, WARNING),
            (115, MASKED, ERROR),
            (118, MUTATING, ERROR),
            (118, CURL, WARNING),
            (122, MASKED, ERROR),
            (125, MUTATING, ERROR),
            (125, CURL, WARNING),
            (129, MASKED, ERROR),
            (132, MUTATING, ERROR),
            (132, CURL, WARNING),
            (136, MASKED, ERROR),
        }
    ),
    # --- template B (fences inside Test Steps) --------------------------------------------------
    # Clean: its `if … else echo ❌; exit 1; fi` does fail.
    f"{SEARCH}/01-deploy-rag-code.md": frozenset(),
    f"{SEARCH}/02-configure-rag-feature.md": frozenset({(44, MUTATING, ERROR)}),  # daemon-reload
    f"{SEARCH}/03-restart-and-verify-service.md": frozenset({(58, MASKED, WARNING)}),
    # B's curls sit in `STATUS=$(curl … -w %{http_code})` setup lines and the status is compared
    # on a later line, so none is a curl-no-fail; their POSTs go to /v1/rag/search (read-only).
    f"{SEARCH}/04-validate-query-path.md": frozenset({(44, MASKED, WARNING)}),  # RAG-004.1
    f"{SEARCH}/05-validate-vector-path.md": frozenset({(51, MASKED, WARNING)}),  # RAG-004.2
    f"{SEARCH}/06-validate-auth-requirement.md": frozenset({(43, MASKED, WARNING)}),  # RAG-004.3
    f"{SEARCH}/07-validate-input-validation.md": frozenset({(54, MASKED, WARNING)}),  # RAG-004.4
    f"{SEARCH}/05-document-rollback-procedure.md": frozenset({(65, MASKED, WARNING)}),  # RAG-005
    # --- template C (inline spans / fences in Test Steps) ---------------------------------------
    # Clean: L33's status code is judged by its `(Expected: `200`)`.
    f"{REFACTOR}/01_Switch_Runtime_To_Pipeline.md": frozenset(),
    # L27 has `(Expected: `401`)`; L29's expectation is prose ("`200` or … but not `401`").
    f"{REFACTOR}/02_Migrate_Security_Middleware.md": frozenset({(29, CURL, WARNING)}),
    f"{REFACTOR}/03_Migrate_Transform_Middleware.md": frozenset({(28, CURL, WARNING)}),
    f"{REFACTOR}/04_Migrate_Execution_Middleware.md": frozenset({(28, CURL, WARNING)}),
    # `pgrep -af main.py` "(Expected: No results)": pgrep exits 0 on a match, so the check passes
    # exactly when main.py still runs (FINDINGS §6 lists it as inverted).
    f"{REFACTOR}/05_Deprecate_Monolithic_Main.md": frozenset({(30, INVERTED, ERROR)}),
    f"{REFACTOR}/06_Consolidate_Configuration.md": frozenset({(30, MUTATING, ERROR)}),  # restart
    f"{REFACTOR}/07_Correct_Master_Key_Handling.md": frozenset({(26, MUTATING, ERROR)}),  # restart
    f"{REFACTOR}/10_Document_Rollback_Procedure.md": frozenset({(40, CURL, WARNING)}),
}

# Findings of other rules that are certain by reading (a subset of what lint reports).
ALSO_EXPECTED: dict[str, frozenset[tuple[int, str]]] = {
    f"{UPSERT}/ENG-001-Create-SOLID-Models-Module.md": frozenset({(98, "output-only")}),
    f"{UPSERT}/ENG-005-Restart-Service-Verify-Deployment.md": frozenset({(117, "output-only")}),
    f"{UPSERT}/ENG-006-Validate-OpenAPI-Documentation.md": frozenset(
        {(107, "jq-no-e"), (116, "jq-no-e")}
    ),
    f"{UPSERT}/ENG-007-Functional-Smoke-Test.md": frozenset({(137, "jq-no-e")}),
    f"{UPSERT}/ENG-008-Production-Hardening-Implementation.md": frozenset(
        {
            (115, "jq-no-e"),
            (122, "jq-no-e"),
            (129, "jq-no-e"),
            (136, "jq-no-e"),
            (142, "output-only"),  # git log --oneline -5
            # L143 `echo "✅ Rollback plan: …"` is a caption (issue 18 item 7): it runs in the
            # session, is no check, and is not linted as output-only
        }
    ),
    f"{REFACTOR}/03_Migrate_Transform_Middleware.md": frozenset({(30, "jq-no-e")}),
    f"{REFACTOR}/06_Consolidate_Configuration.md": frozenset({(28, "output-only")}),
}


# --------------------------------------------------------------------------- helpers


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKRUN_", "GITHUB_"))}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    return env


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, from a folder with no taskrun.yaml or playbooks/."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def lint_json(cwd: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    proc = run_cli(cwd, "lint", *args, "--tasks", str(CORPUS_TASKS), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.lint/1"
    return proc.returncode, document["findings"]


@pytest.fixture(scope="module")
def lint_file(
    tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path
) -> Callable[[str], list[dict[str, Any]]]:
    """Lint one corpus file (relative path) once per module; later calls reuse the findings.
    Skips (fails under TASKRUN_REQUIRE_CORPUS=1) where ../shared/corpus is missing."""
    cwd = tmp_path_factory.mktemp("lint-cwd")
    seen: dict[str, tuple[int, list[dict[str, Any]]]] = {}

    def lint(relative: str) -> list[dict[str, Any]]:
        if relative not in seen:
            path = CORPUS_TASKS / relative
            assert path.is_file(), path
            code, findings = lint_json(cwd, str(path))
            assert all(_corpus_path(f["file"], cwd).resolve() == path.resolve() for f in findings)
            has_error = any(f["level"] == "error" for f in findings)
            assert code == (1 if has_error else 0), (code, findings)
            seen[relative] = (code, findings)
        return seen[relative][1]

    return lint


def read_rule_findings(findings: Iterable[dict[str, Any]]) -> set[tuple[int, str, str]]:
    return {(f["line"], f["rule"], f["level"]) for f in findings if f["rule"] in READ_RULES}


def _heading_name(text: str) -> str:
    """`## 🧪 Validation Criteria` → `validation criteria` (emoji and VS-16 dropped)."""
    return re.sub(r"^[^\w]+", "", text.strip()).strip().casefold()


VALIDATION_H3 = frozenset(["test commands", "test steps"])
EXECUTION_H2 = frozenset(["execution plan", "execution steps"])


def section_of_each_line(path: Path) -> dict[int, tuple[str, str]]:
    """1-based line → (H2 name, H3 name) it sits under, fences respected (`# x` in a block is
    not a heading); a `---` break outside a fence ends the H3."""
    sections: dict[int, tuple[str, str]] = {}
    h2 = h3 = ""
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if fence is None and marker:
            fence = marker.group(1)
        elif fence is not None and stripped.startswith(fence) and stripped.strip("`~") == "":
            fence = None
        elif fence is None:
            heading = re.match(r"(#{1,6})\s+(.*)", line)
            if heading and len(heading.group(1)) <= 2:
                h2, h3 = _heading_name(heading.group(2)), ""
            elif heading and len(heading.group(1)) == 3:
                h3 = _heading_name(heading.group(2))
            elif stripped == "---":
                h3 = ""
        sections[number] = (h2, h3)
    return sections


def _corpus_path(finding_file: str, cwd: Path) -> Path:
    path = Path(finding_file)
    return path if path.is_absolute() else (cwd / path)


# --------------------------------------------------------------------------- 1. per file


@pytest.mark.parametrize("relative", sorted(EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_finds_what_a_reader_finds(
    corpus_dir: Path, lint_file: Callable[[str], list[dict[str, Any]]], relative: str
) -> None:
    found = read_rule_findings(lint_file(relative))
    expected = EXPECTED[relative]
    assert found == expected, (
        f"missed: {sorted(expected - found)}; not expected: {sorted(found - expected)}"
    )


@pytest.mark.parametrize("relative", sorted(ALSO_EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_reports_the_certain_findings_of_other_rules(
    corpus_dir: Path, lint_file: Callable[[str], list[dict[str, Any]]], relative: str
) -> None:
    found = {(f["line"], f["rule"]) for f in lint_file(relative)}
    assert ALSO_EXPECTED[relative] <= found, sorted(ALSO_EXPECTED[relative] - found)


def test_the_expected_table_covers_the_three_templates_and_every_rule() -> None:
    folders = {relative.split("/")[0] for relative, expected in EXPECTED.items() if expected}
    assert folders == {UPSERT, SEARCH, REFACTOR}
    rules = {rule for expected in EXPECTED.values() for _, rule, _ in expected}
    assert rules == READ_RULES
    assert sum(1 for expected in EXPECTED.values() if expected) >= 10


# The env rule needs an inventory (without one it is not judged). B's files have no Component,
# so nothing is provided: every $API_KEY from outside the block must be reported.
ENV_EXPECTED = {
    f"{SEARCH}/05-validate-vector-path.md": 38,  # RAG-004.2 `if [ -z "$API_KEY" ]`
    f"{SEARCH}/07-validate-input-validation.md": 38,  # RAG-004.4, same guard
    # RAG-005 L58 `AUTH_HEADER="Authorization: Bearer ${API_KEY}"`, no guard (FINDINGS §8): the
    # request then goes out with an empty key.
    f"{SEARCH}/05-document-rollback-procedure.md": 58,
}


@pytest.mark.parametrize("relative", sorted(ENV_EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_reports_api_key_the_inventory_does_not_provide(
    corpus_dir: Path, tmp_path: Path, relative: str
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("components:\n  api-gateway: {host: local}\n", encoding="utf-8")
    _, findings = lint_json(tmp_path, str(corpus_dir / relative), "--inventory", str(inventory))
    env = {(f["line"], f["rule"]) for f in findings if "API_KEY" in f["message"]}
    assert (ENV_EXPECTED[relative], "env-not-provided") in env, findings


# --------------------------------------------------------------------------- 2. --all


def test_lint_all_errors_lie_in_validation_sections_never_the_execution_plan(
    corpus_dir: Path, tmp_path: Path
) -> None:
    code, findings = lint_json(tmp_path, "--all")
    assert code == 1
    errors = [f for f in findings if f["level"] == "error"]
    sections_by_file: dict[Path, dict[int, tuple[str, str]]] = {}
    misplaced = []
    for finding in errors:
        path = _corpus_path(finding["file"], tmp_path)
        sections = sections_by_file.setdefault(path, section_of_each_line(path))
        h2, h3 = sections.get(finding["line"], ("", ""))
        if h2 in EXECUTION_H2 or h3 not in VALIDATION_H3:
            misplaced.append((path.name, finding["line"], finding["rule"], h2, h3))
    assert misplaced == []
    # Every error the per-file table expects is in the batch too, at the same line (bar the
    # Refactor 05 miss, which the per-file test reports).
    batch = {(_corpus_path(f["file"], tmp_path).resolve(), f["line"], f["rule"]) for f in errors}
    for relative, expected in EXPECTED.items():
        for line, rule, level in expected:
            if level == ERROR and relative != f"{REFACTOR}/05_Deprecate_Monolithic_Main.md":
                assert ((corpus_dir / relative).resolve(), line, rule) in batch


def test_section_scanner_ignores_comment_lines_inside_fences(corpus_dir: Path) -> None:
    sections = section_of_each_line(
        corpus_dir / UPSERT / "ENG-005-Restart-Service-Verify-Deployment.md"
    )
    assert sections[114] == ("validation criteria", "test commands")  # after `# Check …` L113
    assert sections[122][0] == "status tracking"


# --------------------------------------------------------------------------- 3. plan notes


def test_plan_json_of_eng_005_carries_the_lint_verdicts_on_the_right_checks(
    corpus_dir: Path, tmp_path: Path
) -> None:
    path = corpus_dir / UPSERT / "ENG-005-Restart-Service-Verify-Deployment.md"
    proc = run_cli(tmp_path, "plan", str(path), "--tasks", str(CORPUS_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.plan/1"
    commands = {
        c["line"]: c
        for c in document["checks"]
        if c["kind"] == "command" and c["source"] == "test-commands"
    }
    assert sorted(commands) == [105, 108, 111, 114, 117]
    assert "grep -i error" in commands[114]["command"]
    assert any("error inverted-grep" in note for note in commands[114]["notes"])
    assert "healthz" in commands[111]["command"]
    assert any("masked-failure" in note for note in commands[111]["notes"])
    for line in (105, 108):  # read-only checks with a meaningful exit code: no lint verdict
        assert not any(note.startswith("lint ") for note in commands[line]["notes"])
    for line in (111, 117):  # the verdicts do not spill onto neighbours
        assert not any("inverted-grep" in note for note in commands[line]["notes"])


def test_plan_json_of_eng_007_shows_guard_and_lint_on_the_writes_only(
    corpus_dir: Path, tmp_path: Path
) -> None:
    path = corpus_dir / UPSERT / "ENG-007-Functional-Smoke-Test.md"
    proc = run_cli(tmp_path, "plan", str(path), "--tasks", str(CORPUS_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    commands = {
        c["line"]: c for c in json.loads(proc.stdout)["checks"] if c["source"] == "test-commands"
    }
    for line in (123, 129, 143):
        notes = commands[line]["notes"]
        assert any(n.startswith("guard:") for n in notes), notes
        assert any("mutating-validation" in n for n in notes), notes
    for line in (135, 140, 148):  # searches and a journal grep are read-only
        assert not any(n.startswith("guard:") or "mutating" in n for n in commands[line]["notes"])


def test_a_caption_echo_is_not_linted_as_output_only(
    lint_file: Callable[[str], list[dict[str, Any]]],
) -> None:
    findings = lint_file(f"{UPSERT}/ENG-008-Production-Hardening-Implementation.md")
    assert (143, "output-only") not in {(f["line"], f["rule"]) for f in findings}
