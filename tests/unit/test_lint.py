"""Lint rules: a table per rule (positive and negative), corpus expectations (FINDINGS §6), and
ShellCheck through the real binary."""

# ruff: noqa: E501 (corpus commands are copied verbatim, long lines included)

from __future__ import annotations

import pytest

from runner.bash.guard import mutation_reason
from runner.lint.rules import Finding, assigned_variables, lint_command
from runner.lint.shellcheck import lint_shellcheck, shellcheck_path


def rules_of(
    command: str, *, env: set[str] | None = None, expects_output: bool = False
) -> list[tuple[str, str]]:
    findings = lint_command(
        command,
        file="t.md",
        line=1,
        section="test-commands",
        guard_reason=mutation_reason(command),
        available_env=env,
        expects_output=expects_output,
    )
    return sorted((f.rule, f.level) for f in findings)


CLEAN = [
    "curl -fsS http://127.0.0.1:4000/health/liveliness",
    "systemctl is-active --quiet x",
    "test -s FILE",
    "ollama list | grep -q llama3",
    "systemctl status x",
    "curl -s -o /dev/null -w '%{http_code}' http://h/ | grep -qx 200",
    "curl -fsS http://h/x | jq -e '.ok'",
    "test -s f && echo '✅ created'",
    "! sudo journalctl -u x --no-pager | grep -qi error",
    "sudo journalctl -u x | grep -v error",
    "grep -q '0 errors' report.txt",
    "pytest -q tests/",
    "a || b",
    "if [ -f x ]; then echo ok; else echo '❌ missing'; exit 1; fi",
]


@pytest.mark.parametrize("command", CLEAN)
def test_clean_checks_have_no_findings(command: str) -> None:
    assert rules_of(command, env=set()) == []


TABLE: list[tuple[str, list[tuple[str, str]]]] = [
    # masked-failure
    ('curl -f http://h/healthz || echo "Health check failed"', [("masked-failure", "error")]),
    ('curl -f http://h/healthz || echo "❌ Health check failed"', [("masked-failure", "warning")]),
    # issue 18 item 6: the files' own failure markers make such a check fail at run time
    ('test -d /x && echo "PASS: x" || echo "FAIL: x missing"', [("masked-failure", "warning")]),
    ("if grep -q y f; then echo 'FAILED: y found'; fi", [("masked-failure", "warning")]),
    (
        'if test -d /x; then echo "[PASS] x"; else echo "[FAIL] x"; fi',
        [("masked-failure", "warning")],
    ),
    ('if test -d /x; then echo "x there"; fi', [("masked-failure", "error")]),
    # issue 18 item 9
    ("tail -f /var/log/syslog | grep -m1 x", [("never-ends", "error")]),
    ("timeout 10 tail -f /var/log/syslog | grep -m1 x", []),
    ("test -s f || true", [("masked-failure", "error")]),
    ("test -s f || :", [("masked-failure", "error")]),
    ("test -s f || exit 0", [("masked-failure", "error")]),
    ("test -s f; echo done", [("masked-failure", "error")]),
    ("test -s f || { echo '❌ missing'; exit 1; }", []),
    ("if test -s f; then echo yes; else echo no; fi", [("masked-failure", "error")]),
    ("if test -s f; then echo '✅'; else echo '❌ no'; fi", [("masked-failure", "warning")]),
    ("if test -s f; then echo yes; fi", [("masked-failure", "error")]),
    ("if test -s f; then echo yes; else false; fi", []),
    # inverted-grep
    ("journalctl -u x | grep -i error", [("inverted-grep", "error")]),
    ('journalctl -u x | grep -E "error|fail"', [("inverted-grep", "error")]),
    (
        "journalctl -u x | grep -iE '(traceback|exception)' && echo found",
        [("inverted-grep", "error")],
    ),
    ("journalctl -u x | grep -c ERROR", [("inverted-grep", "error")]),
    ("journalctl -u x | grep -i validation", []),
    ("! journalctl -u x | grep -qi error", []),
    # mutating-validation
    ("sudo systemctl restart x && sleep 5", [("mutating-validation", "error")]),
    ("curl -f -X POST -d '{}' http://h/v1/rag/upsert", [("mutating-validation", "error")]),
    ("curl -f -d '{}' http://h/v1/rag/search", []),
    ("curl -fsSL https://h/check.sh | sh", [("mutating-validation", "error")]),
    ('eval "$CHECK"', [("mutating-validation", "error")]),
    ("(( n > 0 )) && test -s f", []),
    # curl-no-fail
    ("curl -s http://h/health", [("curl-no-fail", "warning")]),
    ("curl -s -o /dev/null -w '%{http_code}' http://h/docs", [("curl-no-fail", "warning")]),
    ("curl -sS http://h/x | head -5", [("curl-no-fail", "warning")]),
    ("curl -sf http://h/x", []),
    ("curl --fail-with-body http://h/x", []),
    ("curl -s http://h/x | grep -q ok", []),
    ("curl -s -w '%{http_code}' -o /dev/null http://h/x | grep -q 403", []),
    # jq-no-e
    ("curl -fsS http://h/x | jq '.status'", [("jq-no-e", "warning")]),
    ("curl -fsS http://h/x | jq", [("jq-no-e", "warning")]),
    ("curl -fsS http://h/x | jq -er '.status'", []),
    ("curl -fsS http://h/x | jq --exit-status .a", []),
    ("jq .a file.json", []),
    # output-only
    ("ls -la /opt/x", [("output-only", "warning")]),
    ("cat /etc/hx/gateway.env", [("output-only", "warning")]),
    ("tail -20 /var/log/x.log", [("output-only", "warning")]),
    ("journalctl -u x --no-pager | tail -10", [("output-only", "warning")]),
    ("git log --oneline -5", [("output-only", "warning")]),
    ("git -C /opt/x log --oneline -5", [("output-only", "warning")]),
    ('echo "✅ done"', [("output-only", "warning")]),
    ("ls /opt/x | grep -q app.py", []),
    ("git diff --exit-code", []),
]


@pytest.mark.parametrize(("command", "expected"), TABLE, ids=[c for c, _ in TABLE])
def test_rule_table(command: str, expected: list[tuple[str, str]]) -> None:
    assert rules_of(command, env=set()) == sorted(expected)


@pytest.mark.parametrize(
    ("command", "env", "expected_names"),
    [
        ('curl -fsS -H "Authorization: Bearer $API_KEY" http://h/', set(), ["API_KEY"]),
        ('curl -fsS -H "Authorization: Bearer ${API_KEY}" http://h/', {"API_KEY"}, []),
        ('curl -fsS "${BASE_URL:-http://127.0.0.1:4000}/x"', set(), []),
        ("X=1; test $X = 1", set(), []),
        ("for f in a b; do test -s $f; done", set(), []),
        ('test -n "$HOME" && test -n "$PATH"', set(), []),
        ("test -n '$NOT_EXPANDED'", set(), []),
        ('test "$(cat $CONF)" = x', set(), ["CONF"]),
        ('test "${REQUIRED:?set it}" = x', set(), ["REQUIRED"]),
        ('source /etc/hx/gateway.env && test "$EMBEDDING_DIM" = 1024', set(), []),
    ],
)
def test_env_not_provided(command: str, env: set[str], expected_names: list[str]) -> None:
    findings = lint_command(
        command, file="t.md", line=3, section="test-steps", guard_reason=None, available_env=env
    )
    names = [
        f.message.split("$", 1)[1].split(",", 1)[0]
        for f in findings
        if f.rule == "env-not-provided"
    ]
    assert names == expected_names
    assert all(
        f.level == "warning" and f.line == 3 for f in findings if f.rule == "env-not-provided"
    )


def test_env_rule_is_skipped_when_the_environment_is_unknown() -> None:
    findings = lint_command(
        "echo $API_KEY | grep -q x",
        file="t.md",
        line=1,
        section="test-steps",
        guard_reason=None,
        available_env=None,
    )
    assert findings == []


def test_assigned_variables() -> None:
    assert assigned_variables('BASE_URL="http://h"') == {"BASE_URL"}
    assert assigned_variables("STATUS=$(curl -s x); export A=1") == {"STATUS", "A"}
    assert assigned_variables("set -a && source /etc/hx/gateway.env && set +a") is None


def test_expected_output_silences_print_rules() -> None:
    command = 'curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:4010/healthz'
    assert rules_of(command, env=set()) == [("curl-no-fail", "warning")]
    assert rules_of(command, env=set(), expects_output=True) == []
    assert rules_of("sudo systemctl is-active hx-gateway-ml", env=set(), expects_output=True) == []
    assert rules_of("ls -l /x", env=set(), expects_output=True) == []


def test_findings_point_at_the_line_of_the_problem() -> None:
    command = (
        "curl -X POST http://localhost:4010/v1/rag/upsert \\\n"
        '  -H "X-HX-Admin-Key: supersecret" \\\n'
        "  -d '{}' \\\n"
        "  | jq '.error' || echo \"Expected dimension validation error\""
    )
    findings = lint_command(
        command,
        file="ENG-008.md",
        line=111,
        section="test-commands",
        guard_reason=mutation_reason(command),
        available_env=set(),
    )
    by_rule = {f.rule: f for f in findings}
    assert by_rule["mutating-validation"].line == 111
    assert by_rule["curl-no-fail"].line == 111
    assert by_rule["masked-failure"].line == 114
    assert by_rule["jq-no-e"].line == 114
    assert all(isinstance(f, Finding) and f.file == "ENG-008.md" and f.fix for f in findings)


# --------------------------------------------------------------------------- corpus (FINDINGS §6)

OPT = "/opt/HX-Infrastructure-/api-gateway"
UPSERT_008 = (
    "curl -X POST http://localhost:4010/v1/rag/upsert \\\n"
    '  -H "Content-Type: application/json" \\\n'
    '  -H "X-HX-Admin-Key: supersecret" \\\n'
    "  -d '{BODY}' \\\n"
    "  | jq '{FIELD}' || echo \"{MESSAGE}\""
)

# (file, line, command, env set earlier in the block, expected (rule, level) findings)
CORPUS: list[tuple[str, int, str, set[str], list[tuple[str, str]]]] = [
    # ENG-001 Test Commands
    (
        "ENG-001",
        92,
        f'test -s {OPT}/gateway/src/models/rag_upsert_models.py && echo "✅ Models file created."',
        set(),
        [],
    ),
    ("ENG-001", 98, f"ls -la {OPT}/gateway/src/models/", set(), [("output-only", "warning")]),
    (
        "ENG-001",
        101,
        f"python -m pyflakes {OPT}/gateway/src/models/rag_upsert_models.py",
        set(),
        [],
    ),
    # ENG-004 Test Commands
    ("ENG-004", 100, f'grep -n "rag_upsert" {OPT}/gateway/src/app.py', set(), []),
    # ENG-004.5
    (
        "ENG-004.5",
        112,
        'ls -la /etc/hx/gateway.env | grep -E "^-rw-r--r--" && echo "✅ File permissions correct"',
        set(),
        [],
    ),
    (
        "ENG-004.5",
        109,
        'source /etc/hx/gateway.env && [[ "$EMBEDDING_DIM" == "1024" ]] && echo "✅ EMBEDDING_DIM value correct"',
        set(),
        [],
    ),
    # ENG-005: masked failure, inverted grep, output-only
    ("ENG-005", 105, "sudo systemctl is-active hx-gateway-ml.service", set(), []),
    ("ENG-005", 108, "sudo netstat -tlnp | grep :4010 || ss -tlnp | grep :4010", set(), []),
    (
        "ENG-005",
        111,
        'curl -f http://localhost:4010/healthz || echo "❌ Health check failed"',
        set(),
        [("masked-failure", "warning")],
    ),
    (
        "ENG-005",
        114,
        'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" --no-pager | grep -i error',
        set(),
        [("inverted-grep", "error")],
    ),
    (
        "ENG-005",
        117,
        'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" --no-pager | tail -10',
        set(),
        [("output-only", "warning")],
    ),
    # ENG-006: curl without --fail, jq without -e
    (
        "ENG-006",
        101,
        'curl -s -o /dev/null -w "%{http_code}" http://localhost:4010/docs',
        set(),
        [("curl-no-fail", "warning")],
    ),
    (
        "ENG-006",
        104,
        "curl -s http://localhost:4010/openapi.json | jq '.paths | keys[]' | grep -i upsert && echo \"✅ Upsert route present\"",
        set(),
        [],
    ),
    (
        "ENG-006",
        107,
        "curl -s http://localhost:4010/openapi.json | jq '.paths[\"/v1/rag/upsert\"]'",
        set(),
        [("curl-no-fail", "warning"), ("jq-no-e", "warning")],
    ),
    (
        "ENG-006",
        113,
        'curl -X OPTIONS -s -o /dev/null -w "%{http_code}" http://localhost:4010/v1/rag/upsert',
        set(),
        [("curl-no-fail", "warning")],
    ),
    # ENG-007: mutating validation, curl without --fail
    (
        "ENG-007",
        123,
        'curl -X POST http://localhost:4010/v1/rag/upsert \\\n  -H "Content-Type: application/json" \\\n'
        '  -d @/tmp/test-upsert-payload.json \\\n  -w "%{http_code}" -o /dev/null | grep -q "403" && echo "✅ Auth protection working"',
        set(),
        [("mutating-validation", "error")],
    ),
    (
        "ENG-007",
        129,
        'curl -X POST http://localhost:4010/v1/rag/upsert \\\n  -H "Content-Type: application/json" \\\n'
        '  -H "X-HX-Admin-Key: supersecret" \\\n  -d @/tmp/test-upsert-payload.json',
        set(),
        [("curl-no-fail", "warning"), ("mutating-validation", "error")],
    ),
    (
        "ENG-007",
        135,
        'curl -X POST http://localhost:4010/v1/rag/search \\\n  -H "Content-Type: application/json" \\\n'
        '  -d \'{"query": "What is Citadel?", "limit": 3, "namespace": "docs:test"}\' | jq .',
        set(),
        [("curl-no-fail", "warning"), ("jq-no-e", "warning")],
    ),
    (
        "ENG-007",
        143,
        "curl -X POST http://localhost:6333/collections/hx_rag_default/points/delete \\\n"
        '  -H "Content-Type: application/json" \\\n  -d \'{"filter": {}}\'',
        set(),
        [("curl-no-fail", "warning"), ("mutating-validation", "error")],
    ),
    # ENG-008: four masked, mutating upserts; an informational git log and echo
    *[
        (
            "ENG-008",
            line,
            UPSERT_008.replace("{BODY}", body)
            .replace("{FIELD}", field)
            .replace("{MESSAGE}", message),
            set(),
            [
                ("curl-no-fail", "warning"),
                ("jq-no-e", "warning"),
                ("masked-failure", "error"),
                ("mutating-validation", "error"),
            ],
        )
        for line, body, field, message in [
            (
                111,
                '{"documents": [{"text": "test", "metadata": {"namespace": "test"}}]}',
                ".error",
                "Expected dimension validation error",
            ),
            (
                118,
                '{"documents": [{"text": "test", "metadata": {"namespace": "invalid@namespace!"}}]}',
                ".error",
                "Expected namespace validation error",
            ),
            (
                125,
                '{"documents": [{"text": "Valid test document content", "metadata": {"namespace": "test-valid"}}]}',
                ".status",
                "Expected successful upsert",
            ),
            (
                132,
                '{"documents": [{"text": "", "metadata": {"namespace": "test"}}]}',
                ".error",
                "Expected content length validation error",
            ),
        ]
    ],
    (
        "ENG-008",
        139,
        'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" | grep -i validation',
        set(),
        [],
    ),
    (
        "ENG-008",
        142,
        "git -C /opt/HX-Infrastructure-/api-gateway log --oneline -5",
        set(),
        [("output-only", "warning")],
    ),
    (
        "ENG-008",
        143,
        'echo "✅ Rollback plan: git checkout <prev-commit> && sudo systemctl restart hx-gateway-ml.service"',
        set(),
        [("output-only", "warning")],
    ),
    # RAG-001: a guarded if/else that exits 1 is fine
    (
        "RAG-001",
        41,
        'if [ -f "/opt/HX-Infrastructure-/api-gateway/gateway/src/routes/rag.py" ]; then\n'
        '    echo "✅ Code Validation: RAG route file is present."\nelse\n'
        '    echo "❌ Code Validation: RAG route file is missing."\n    exit 1\nfi',
        set(),
        [],
    ),
    (
        "RAG-001",
        51,
        "$VENV/bin/python -c \"import httpx; print('✅ Dependency Validation: httpx is installed.')\"",
        {"VENV"},
        [],
    ),
    # RAG-002: daemon-reload as a test step
    ("RAG-002", 44, "sudo systemctl daemon-reload", set(), [("mutating-validation", "error")]),
    ("RAG-002", 49, "systemctl show hx-gateway-ml | grep ENABLE_RAG", set(), []),
    # RAG-003: && echo ✅ || echo ❌
    (
        "RAG-003",
        58,
        'sudo systemctl is-active --quiet hx-litellm-gateway && echo "✅ Service is active." || '
        'echo "❌ Service failed to start."',
        set(),
        [("masked-failure", "warning")],
    ),
    # RAG-004.1: STATUS compared by a masked test
    (
        "RAG-004.1",
        40,
        'STATUS=$(curl -s -o /dev/null -w "%{http_code}" \\\n  -H "$AUTH_HEADER" -H "Content-Type: '
        'application/json" \\\n  -d \'{"query":"hello world","limit":3}\' \\\n  "$BASE_URL/v1/rag/search")',
        {"BASE_URL", "AUTH_HEADER"},
        [],
    ),
    (
        "RAG-004.1",
        44,
        '[ "$STATUS" -eq 200 ] && echo "✅ PASSED" || echo "❌ FAILED (Status: $STATUS)"',
        {"BASE_URL", "AUTH_HEADER", "STATUS"},
        [("masked-failure", "warning")],
    ),
    # RAG-004.2: $API_KEY from outside the block
    (
        "RAG-004.2",
        38,
        'if [ -z "$API_KEY" ]; then\n  echo "❌ ERROR: API_KEY environment variable is not set."\n'
        "  exit 1\nfi",
        set(),
        [("env-not-provided", "warning")],
    ),
    # RAG-004.4: if/else that only echoes
    (
        "RAG-004.4",
        54,
        'if [ "$STATUS" -eq 400 ] || [ "$STATUS" -eq 422 ]; then\n  echo "✅ PASSED (Status: $STATUS)"\n'
        'else\n  echo "❌ FAILED (Status: $STATUS)"\nfi',
        {"STATUS"},
        [("masked-failure", "warning")],
    ),
    # RAG-005: API_KEY unguarded; BASE_URL has a default
    (
        "RAG-005",
        58,
        'AUTH_HEADER="Authorization: Bearer ${API_KEY}"',
        set(),
        [("env-not-provided", "warning")],
    ),
    ("RAG-005", 59, 'BASE_URL="${BASE_URL:-http://127.0.0.1:4000}"', {"AUTH_HEADER"}, []),
    (
        "RAG-005",
        65,
        'if [ "$STATUS_ROLLBACK" -eq 404 ] || [ "$STATUS_ROLLBACK" -eq 403 ]; then\n'
        '  echo "✅ Rollback Validated: RAG endpoint is disabled (Status: $STATUS_ROLLBACK)."\nelse\n'
        '  echo "❌ Rollback Failed (Status: $STATUS_ROLLBACK)"\nfi',
        {"STATUS_ROLLBACK"},
        [("masked-failure", "warning")],
    ),
    # Refactor 01/04/06/07: expectations, curl | jq, restarts as test steps
    ("Refactor 01", 31, "sudo systemctl is-active hx-gateway-ml", set(), []),
    (
        "Refactor 04",
        28,
        'curl -sS -H "Authorization: Bearer sk-hx-dev-default" http://127.0.0.1:4010/v1/models | jq',
        set(),
        [("curl-no-fail", "warning"), ("jq-no-e", "warning")],
    ),
    (
        "Refactor 06",
        28,
        "ls -l /opt/HX-Infrastructure-/api-gateway/gateway/model_registry.yaml",
        set(),
        [("output-only", "warning")],
    ),
    (
        "Refactor 06",
        30,
        "sudo systemctl restart hx-gateway-ml && sleep 5",
        set(),
        [("mutating-validation", "error")],
    ),
    (
        "Refactor 07",
        26,
        "sudo systemctl restart hx-gateway-ml && sleep 5",
        set(),
        [("mutating-validation", "error")],
    ),
    # template
    (
        "template",
        71,
        "curl -s http://127.0.0.1:4000/health | jq .",
        set(),
        [("curl-no-fail", "warning"), ("jq-no-e", "warning")],
    ),
    ("template", 72, "systemctl status hx-litellm-gateway.service", set(), []),
]


@pytest.mark.parametrize(
    ("task", "line", "command", "env", "expected"), CORPUS, ids=[f"{t}:{n}" for t, n, *_ in CORPUS]
)
def test_corpus_expectations(
    task: str, line: int, command: str, env: set[str], expected: list[tuple[str, str]]
) -> None:
    findings = lint_command(
        command,
        file=task,
        line=line,
        section="test-commands",
        guard_reason=mutation_reason(command),
        available_env=env,
    )
    assert sorted((f.rule, f.level) for f in findings) == sorted(expected)
    assert all(line <= f.line <= line + command.count("\n") for f in findings)


def test_corpus_covers_ten_files_and_every_finding_kind() -> None:
    assert len({task for task, *_ in CORPUS}) >= 10
    kinds = {rule for *_, expected in CORPUS for rule, _ in expected}
    assert kinds >= {
        "masked-failure",
        "inverted-grep",
        "mutating-validation",
        "curl-no-fail",
        "jq-no-e",
        "output-only",
        "env-not-provided",
    }


# --------------------------------------------------------------------------- shellcheck

needs_shellcheck = pytest.mark.skipif(
    shellcheck_path() is None, reason="shellcheck is not installed"
)


@needs_shellcheck
def test_shellcheck_maps_lines_and_levels() -> None:
    block = "read -r X\necho $X\ncd /tmp\n"
    findings = lint_shellcheck(block, file="t.md", first_line=40)
    by_rule = {f.rule: f for f in findings}
    assert by_rule["SC2086"].line == 41 and by_rule["SC2086"].level == "info"
    assert by_rule["SC2164"].line == 42 and by_rule["SC2164"].level == "warning"
    assert by_rule["SC2086"].fix.endswith("/SC2086")


@needs_shellcheck
def test_shellcheck_syntax_errors_are_errors() -> None:
    findings = lint_shellcheck("if [ x; then\n  echo\n", file="t.md", first_line=1)
    assert any(f.level == "error" and f.rule.startswith("SC1") for f in findings)


@needs_shellcheck
def test_shellcheck_clean_block() -> None:
    block = "curl -fsS http://127.0.0.1:4000/health/liveliness\nsystemctl is-active --quiet x\n"
    assert lint_shellcheck(block, file="t.md", first_line=1) == []


def test_cannot_see_what_runs_is_said_plainly() -> None:
    command = "curl -fsSL https://h/check.sh | sh"
    (finding,) = [
        f
        for f in lint_command(
            command,
            file="t.md",
            line=3,
            section="test-commands",
            guard_reason=mutation_reason(command),
            available_env=None,
        )
        if f.rule == "mutating-validation"
    ]
    assert finding.message == (
        "the guard cannot see what this validation command runs: "
        "cannot see what runs (sh reads a script from curl)"
    )
