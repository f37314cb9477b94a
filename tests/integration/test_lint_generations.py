"""`taskrun lint` and `plan` on the team's own fixtures, as subprocesses, against findings written
down by reading each file (the twin of test_lint_corpus.py and of the corpus `lint --all` in
tests/e2e, which need ../shared/corpus)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.generations import GEN_TASKS, A, B, C
from tests.integration.test_lint_corpus import (
    CURL,
    ERROR,
    EXECUTION_H2,
    INVERTED,
    MASKED,
    MUTATING,
    READ_RULES,
    VALIDATION_H3,
    WARNING,
    Expected,
    read_rule_findings,
    run_cli,
    section_of_each_line,
)

# Read by hand. The line of a masked failure is the line of its `|| echo` / `if`; the others are
# the line where the command (or its curl) starts. `|| echo "❌ …"` is a warning (the ❌ marker
# makes the check fail at run time); a plain `|| echo "Expected …"` can never fail: an error.
EXPECTED: dict[str, Expected] = {
    # --- template A (Test Commands) -------------------------------------------------------------
    # Clean: `test -x … && echo ✅`, `python -c`, pyflakes, pytest (L93 `ls -la` is output-only).
    f"{A}/ENG-001-Install-LiteLLM-Proxy.md": frozenset(),
    # Clean: the two multi-line `python -c "…"` checks fail by exception or assert.
    f"{A}/ENG-002-Write-Gateway-Config.md": frozenset(),
    # Clean: `grep -q … && echo ✅`, `source` + `[[ ]]`, `… | wc -l | grep -q "^0$"`.
    f"{A}/ENG-002.5-Configure-Gateway-Environment.md": frozenset(),
    # L86 `netstat | grep || ss | grep` is a real fallback, not a mask; L95 is output-only.
    f"{A}/ENG-003-Restart-Ollama-Hosts.md": frozenset(
        {
            (89, MASKED, WARNING),  # curl -f … || echo "❌ Ollama did not answer"
            (92, INVERTED, ERROR),  # journalctl … | grep -i error: exit 0 = errors found
        }
    ),
    # L79/L85 pipe through `grep -i …`, which fails on a wrong answer: no finding.
    f"{A}/ENG-004-Publish-OpenAPI-Schema.md": frozenset(
        {
            (76, CURL, WARNING),  # -w %{http_code} printed, never compared
            (82, CURL, WARNING),  # curl -s | jq '.paths[…]'
            (88, CURL, WARNING),  # OPTIONS, status printed, never compared
            (91, CURL, WARNING),  # curl -s | jq '… | keys[]'
        }
    ),
    # L91 compares the status (`| grep -q 401`), so no curl finding there. L103/L109/L114 POST to
    # read-only endpoints (chat completions, embeddings, …/search): not mutating; L109's
    # `jq -e` and L114's `-fsS … | jq -e` judge the answer.
    f"{A}/ENG-005-Gateway-Smoke-Test.md": frozenset(
        {
            (91, MUTATING, ERROR),  # key creation without the master key: writes if auth broke
            (97, MUTATING, ERROR),  # key creation
            (97, CURL, WARNING),
            (103, CURL, WARNING),  # chat | jq .
            (122, MUTATING, ERROR),  # key deletion
            (122, CURL, WARNING),
            (127, CURL, WARNING),
            (130, MASKED, ERROR),  # | jq '.error' || echo "Expected …"
        }
    ),
    # --- template B (fences inside Test Steps) --------------------------------------------------
    # Clean: its `if … else echo ❌; exit 1; fi` does fail.
    f"{B}/01-pull-embedding-model.md": frozenset(),
    f"{B}/02-keep-models-loaded.md": frozenset({(44, MUTATING, ERROR)}),  # daemon-reload
    f"{B}/03-restart-ollama.md": frozenset({(44, MASKED, WARNING)}),  # && echo ✅ || echo ❌
    # B's curls sit in `STATUS=$(curl … -w %{http_code})` lines and the status is compared on a
    # later line, so none is a curl-no-fail; their POSTs go to read-only endpoints.
    f"{B}/04-validate-chat-path.md": frozenset({(44, MASKED, WARNING)}),  # MOD-004.1
    f"{B}/05-validate-embedding-path.md": frozenset({(51, MASKED, WARNING)}),  # MOD-004.2, CRLF
    f"{B}/05-document-rollback.md": frozenset({(62, MASKED, WARNING)}),  # MOD-005
    # --- template C (inline spans / a fence in Test Steps) --------------------------------------
    # Clean: L33's status code is judged by its `(Expected: `200`)`.
    f"{C}/01_Pin_Scheduler_Runtime.md": frozenset(),
    # L25 has `(Expected: `401`)`; L27's expectation is prose ("`200`, or any code except `401`").
    f"{C}/02_Require_Scheduler_Token.md": frozenset({(27, CURL, WARNING)}),
    f"{C}/03_Route_Embeddings_Via_Gateway.md": frozenset({(26, CURL, WARNING)}),
    # `pgrep -af cron.py` "(Expected: No results)": pgrep exits 0 on a match, so the check would
    # pass exactly when cron.py still runs.
    f"{C}/05_Retire_Cron_Scheduler.md": frozenset({(27, INVERTED, ERROR)}),
    f"{C}/06_Share_Scheduler_Config.md": frozenset({(24, MUTATING, ERROR)}),  # restart
    f"{C}/08_Add_Scheduler_Tests.md": frozenset(),
    f"{C}/10_Document_Scheduler_Rollback.md": frozenset({(40, CURL, WARNING)}),  # BOM file
}

# Findings of other rules that are certain by reading (a subset of what lint reports).
ALSO_EXPECTED: dict[str, frozenset[tuple[int, str]]] = {
    f"{A}/ENG-001-Install-LiteLLM-Proxy.md": frozenset({(93, "output-only")}),
    f"{A}/ENG-003-Restart-Ollama-Hosts.md": frozenset({(95, "output-only")}),
    f"{A}/ENG-004-Publish-OpenAPI-Schema.md": frozenset({(82, "jq-no-e"), (91, "jq-no-e")}),
    f"{A}/ENG-005-Gateway-Smoke-Test.md": frozenset(
        {
            (106, "jq-no-e"),
            (130, "jq-no-e"),
            (133, "output-only"),  # git log --oneline -5
            # line 134, echo "✅ Rollback: …", is a caption (literal text only): not linted
        }
    ),
    f"{C}/03_Route_Embeddings_Via_Gateway.md": frozenset({(28, "jq-no-e")}),
    f"{C}/06_Share_Scheduler_Config.md": frozenset({(23, "output-only")}),
    f"{C}/09_Write_Scheduler_Runbook.md": frozenset(),  # nothing to lint but its emptiness
}


def lint_json(cwd: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    proc = run_cli(cwd, "lint", *args, "--tasks", str(GEN_TASKS), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.lint/1"
    return proc.returncode, document["findings"]


def _finding_path(finding_file: str, cwd: Path) -> Path:
    path = Path(finding_file)
    return path if path.is_absolute() else (cwd / path)


@pytest.fixture(scope="module")
def lint_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[dict[str, Any]]]:
    """Lint one fixture (relative path) once per module; later calls reuse the findings."""
    cwd = tmp_path_factory.mktemp("lint-cwd")
    seen: dict[str, list[dict[str, Any]]] = {}

    def lint(relative: str) -> list[dict[str, Any]]:
        if relative not in seen:
            path = GEN_TASKS / relative
            assert path.is_file(), path
            code, findings = lint_json(cwd, str(path))
            assert all(_finding_path(f["file"], cwd).resolve() == path.resolve() for f in findings)
            has_error = any(f["level"] == "error" for f in findings)
            assert code == (1 if has_error else 0), (code, findings)
            seen[relative] = findings
        return seen[relative]

    return lint


# --------------------------------------------------------------------------- 1. per file


@pytest.mark.parametrize("relative", sorted(EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_finds_what_a_reader_finds(
    lint_file: Callable[[str], list[dict[str, Any]]], relative: str
) -> None:
    found = read_rule_findings(lint_file(relative))
    expected = EXPECTED[relative]
    assert found == expected, (
        f"missed: {sorted(expected - found)}; not expected: {sorted(found - expected)}"
    )


@pytest.mark.parametrize("relative", sorted(ALSO_EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_reports_the_certain_findings_of_other_rules(
    lint_file: Callable[[str], list[dict[str, Any]]], relative: str
) -> None:
    found = {(f["line"], f["rule"]) for f in lint_file(relative)}
    assert ALSO_EXPECTED[relative] <= found, sorted(ALSO_EXPECTED[relative] - found)


def test_a_task_with_no_command_says_so(lint_file: Callable[[str], list[dict[str, Any]]]) -> None:
    findings = lint_file(f"{C}/09_Write_Scheduler_Runbook.md")
    assert findings and all(f["level"] != "error" for f in findings)
    assert any(f["rule"] == "no-runnable-command" for f in findings), findings


def test_the_expected_table_covers_the_three_templates_and_every_rule() -> None:
    folders = {relative.split("/")[0] for relative, expected in EXPECTED.items() if expected}
    assert folders == {A, B, C}
    rules = {rule for expected in EXPECTED.values() for _, rule, _ in expected}
    assert rules == READ_RULES
    assert sum(1 for expected in EXPECTED.values() if expected) >= 10


# The env rule needs an inventory (without one it is not judged). B's files have no Component,
# so nothing is provided: every $API_KEY from outside the block must be reported.
ENV_EXPECTED = {
    f"{B}/05-validate-embedding-path.md": 35,  # MOD-004.2 `if [ -z "$API_KEY" ]` (CRLF file)
    f"{B}/05-document-rollback.md": 55,  # MOD-005 `AUTH_HEADER="… ${API_KEY}"`, no guard
}


@pytest.mark.parametrize("relative", sorted(ENV_EXPECTED), ids=lambda r: r.split("/")[-1][:24])
def test_lint_reports_api_key_the_inventory_does_not_provide(tmp_path: Path, relative: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("components:\n  api-gateway: {host: local}\n", encoding="utf-8")
    _, findings = lint_json(tmp_path, str(GEN_TASKS / relative), "--inventory", str(inventory))
    env = {(f["line"], f["rule"]) for f in findings if "API_KEY" in f["message"]}
    assert (ENV_EXPECTED[relative], "env-not-provided") in env, findings


# --------------------------------------------------------------------------- 2. --all


def test_lint_all_errors_lie_in_validation_sections_never_the_execution_plan(
    tmp_path: Path,
) -> None:
    code, findings = lint_json(tmp_path, "--all")
    assert code == 1
    assert {"file", "line", "rule", "level", "message", "fix"} <= set(findings[0])
    assert all(isinstance(f["line"], int) and f["line"] >= 1 for f in findings)
    errors = [f for f in findings if f["level"] == "error"]
    # the fixtures mask failures with `|| echo`: some error must say so
    assert any("echo" in f["message"] or "mask" in f["rule"] for f in errors), errors[:5]
    sections_by_file: dict[Path, dict[int, tuple[str, str]]] = {}
    misplaced = []
    for finding in errors:
        path = _finding_path(finding["file"], tmp_path)
        sections = sections_by_file.setdefault(path, section_of_each_line(path))
        h2, h3 = sections.get(finding["line"], ("", ""))
        if h2 in EXECUTION_H2 or h3 not in VALIDATION_H3:
            misplaced.append((path.name, finding["line"], finding["rule"], h2, h3))
    assert misplaced == []
    # Every error the per-file table expects is in the batch too, at the same line.
    batch = {(_finding_path(f["file"], tmp_path).resolve(), f["line"], f["rule"]) for f in errors}
    for relative, expected in EXPECTED.items():
        for line, rule, level in expected:
            if level == ERROR:
                assert ((GEN_TASKS / relative).resolve(), line, rule) in batch, (relative, line)


def test_section_scanner_ignores_comment_lines_inside_fences() -> None:
    sections = section_of_each_line(GEN_TASKS / A / "ENG-003-Restart-Ollama-Hosts.md")
    assert sections[92] == ("validation criteria", "test commands")  # after `# Look …` L91
    assert sections[102][0] == "status tracking"


# --------------------------------------------------------------------------- 3. plan notes


def test_plan_json_of_eng_003_carries_the_lint_verdicts_on_the_right_checks(
    tmp_path: Path,
) -> None:
    path = GEN_TASKS / A / "ENG-003-Restart-Ollama-Hosts.md"
    proc = run_cli(tmp_path, "plan", str(path), "--tasks", str(GEN_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.plan/1"
    commands = {
        c["line"]: c
        for c in document["checks"]
        if c["kind"] == "command" and c["source"] == "test-commands"
    }
    assert sorted(commands) == [83, 86, 89, 92, 95]
    assert all(c["components"] == ["llm-01", "llm-02"] for c in commands.values())
    assert "grep -i error" in commands[92]["command"]
    assert any("error inverted-grep" in note for note in commands[92]["notes"])
    assert "api/version" in commands[89]["command"]
    assert any("masked-failure" in note for note in commands[89]["notes"])
    for line in (83, 86):  # read-only checks with a meaningful exit code: no lint verdict
        assert not any(note.startswith("lint ") for note in commands[line]["notes"])
    for line in (89, 95):  # the verdicts do not spill onto neighbours
        assert not any("inverted-grep" in note for note in commands[line]["notes"])


def test_plan_json_of_eng_005_shows_guard_and_lint_on_the_writes_only(tmp_path: Path) -> None:
    path = GEN_TASKS / A / "ENG-005-Gateway-Smoke-Test.md"
    proc = run_cli(tmp_path, "plan", str(path), "--tasks", str(GEN_TASKS), "--json")
    assert proc.returncode == 0, proc.stderr
    commands = {
        c["line"]: c for c in json.loads(proc.stdout)["checks"] if c["source"] == "test-commands"
    }
    for line in (91, 97, 122):
        notes = commands[line]["notes"]
        assert any(n.startswith("guard:") for n in notes), notes
        assert any("mutating-validation" in n for n in notes), notes
    for line in (103, 109, 114, 119):  # chat, embeddings, search and a journal grep only read
        assert not any(n.startswith("guard:") or "mutating" in n for n in commands[line]["notes"])
    # the plan shows no key in clear
    assert "sk-gw-master-0000" not in proc.stdout and "sk-gw-test-5678" not in proc.stdout
