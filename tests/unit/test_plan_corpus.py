"""The planner on real corpus task files: every check written down by hand from the Markdown.

Expectations come from reading each file (DESIGN.md §2, FINDINGS.md), not from the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.bash.guard import mutation_reason
from runner.markdown.document import parse_document
from runner.models import Plan, PlannedCheck
from runner.plan.build import PlanContext, build_plan
from tests.conftest import corpus_markdown_files

A = "RAG-Document-Upsert-Endpoint-Tasks"
B = "Rag-Serach-Tasks"
C = "Refactor Tasks"
CONTEXT = PlanContext(default_component="api-gateway")  # B and C name no Component (FINDINGS §9)
LABEL_WIDTH = 60


def unlabelled(command: str) -> str:
    """A command with no comment above it is named by its first line, cut to 60 characters."""
    first = command.splitlines()[0]
    return first if len(first) <= LABEL_WIDTH else first[: LABEL_WIDTH - 1] + "…"


@dataclass(frozen=True, slots=True)
class Want:
    line: int  # 1-based line of the command's first line in the task file
    command: str  # the whole command text, fence indentation removed
    label: str | None = None  # None: unlabelled (named by its first line)
    kind: str = "command"
    stdout_line: str | None = None  # template C's `(Expected: `X`)`
    prose_note: str | None = None  # template C's prose expectation, shown as a note


@dataclass(frozen=True, slots=True)
class MustPass:
    line: int
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class TaskWant:
    path: str
    task_id: str
    source: str  # where the runnable commands come from
    checks: tuple[Want, ...]
    must_pass: tuple[MustPass, ...] = ()
    has_component_field: bool = True


def a_task(
    path: str, task_id: str, checks: tuple[Want, ...], must_pass: tuple[MustPass, ...]
) -> TaskWant:
    return TaskWant(f"{A}/{path}", task_id, "test-commands", checks, must_pass)


def b_task(path: str, task_id: str, checks: tuple[Want, ...]) -> TaskWant:
    return TaskWant(f"{B}/{path}", task_id, "test-steps", checks, has_component_field=False)


def c_task(path: str, task_id: str, checks: tuple[Want, ...]) -> TaskWant:
    return TaskWant(f"{C}/{path}", task_id, "test-steps", checks, has_component_field=False)


GW = "/opt/HX-Infrastructure-/api-gateway"
PYTEST_IN_GW = f"cd {GW} && export PYTHONPATH=. && pytest"

# --------------------------------------------------------------------------- template A

ENG_000 = a_task(
    "ENG-000-Create-Test-Suite.md",
    "ENG-000",
    (
        Want(
            113,
            f'cd {GW} && python -c "import pytest, httpx;'
            " print('✅ Test dependencies available')\"",
            "Verify test dependencies",
        ),
        Want(116, f"{PYTEST_IN_GW} -q", "Set PYTHONPATH and run tests"),
        Want(119, f"{PYTEST_IN_GW} -v", "Run with verbose output for debugging"),
        Want(122, f"{PYTEST_IN_GW} --tb=short tests/", "Check test coverage"),
        Want(125, f"{PYTEST_IN_GW} tests/test_models.py -v", "Verify specific test files"),
        Want(126, f"{PYTEST_IN_GW} tests/test_helpers.py -v"),
        Want(127, f"{PYTEST_IN_GW} tests/test_route_upsert.py -v"),
    ),
    (
        MustPass(92, "Test Infrastructure", "All test files created and properly structured"),
        MustPass(93, "End-to-End", "Tests can run without external network calls"),
        MustPass(94, "Performance", "Test suite runs quickly with monkeypatched dependencies"),
        MustPass(95, "Security", "Tests validate authentication and authorization logic"),
    ),
)

ENG_001 = a_task(
    "ENG-001-Create-SOLID-Models-Module.md",
    "ENG-001",
    (
        Want(
            92,
            f"test -s {GW}/gateway/src/models/rag_upsert_models.py"
            ' && echo "✅ Models file created."',
            "Verify file creation",
        ),
        Want(
            95,
            f'cd {GW}/gateway && python -c "from src.models.rag_upsert_models import UpsertDoc,'
            " UpsertRequest, UpsertResponse; print('✅ Models import successfully')\"",
            "Test Python imports",
        ),
        Want(98, f"ls -la {GW}/gateway/src/models/", "Check file permissions"),
        Want(
            101,
            f"python -m pyflakes {GW}/gateway/src/models/rag_upsert_models.py",
            "Verify module structure",
        ),
    ),
    (
        MustPass(71, "Service Health", "Gateway service remains operational during changes"),
        MustPass(72, "End-to-End", "Models can be imported without errors"),
        MustPass(73, "Performance", "No impact on existing functionality"),
        MustPass(74, "Security", "File permissions are correctly set"),
    ),
)

ENG_004_5 = a_task(
    "ENG-004.5-Configure-Environment-Variables.md",
    "ENG-004.5",
    (
        Want(
            99,
            'test -s /etc/hx/gateway.env && echo "✅ Gateway environment file exists"',
            "Verify file exists and has content",
        ),
        Want(
            102,
            'grep -q "EMBEDDING_DIM=1024" /etc/hx/gateway.env'
            ' && echo "✅ EMBEDDING_DIM configured"',
            "Check for required variables",
        ),
        Want(
            103,
            'grep -q "RAG_WRITE_KEY=" /etc/hx/gateway.env && echo "✅ RAG_WRITE_KEY configured"',
        ),
        Want(
            106,
            "set -a && source /etc/hx/gateway.env && set +a"
            ' && echo "✅ Environment file sources successfully"',
            "Test file can be sourced",
        ),
        Want(
            109,
            'source /etc/hx/gateway.env && [[ "$EMBEDDING_DIM" == "1024" ]]'
            ' && echo "✅ EMBEDDING_DIM value correct"',
            "Verify variables are available",
        ),
        Want(
            112,
            'ls -la /etc/hx/gateway.env | grep -E "^-rw-r--r--"'
            ' && echo "✅ File permissions correct"',
            "Check file permissions",
        ),
        Want(
            115,
            'sort /etc/hx/gateway.env | uniq -d | wc -l | grep -q "^0$"'
            ' && echo "✅ No duplicate entries"',
            "Verify no duplicate entries",
        ),
    ),
    (
        MustPass(78, "Service Health", "Environment file is properly formatted and loadable"),
        MustPass(79, "End-to-End", "Variables can be sourced and accessed correctly"),
        MustPass(80, "Performance", "No impact on existing configuration"),
        MustPass(81, "Security", "Proper file permissions for sensitive configuration"),
    ),
)

ENG_005 = a_task(
    "ENG-005-Restart-Service-Verify-Deployment.md",
    "ENG-005",
    (
        Want(105, "sudo systemctl is-active hx-gateway-ml.service", "Check service status"),
        Want(
            108,
            "sudo netstat -tlnp | grep :4010 || ss -tlnp | grep :4010",
            "Verify port is listening",
        ),
        Want(
            111,
            'curl -f http://localhost:4010/healthz || echo "❌ Health check failed"',
            "Test health endpoint",
        ),
        Want(
            114,
            'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" --no-pager'
            " | grep -i error",
            "Check service logs for errors",
        ),
        Want(
            117,
            'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" --no-pager'
            " | tail -10",
            "Verify service started successfully message",
        ),
    ),
    (
        MustPass(84, "Service Health", "Gateway service starts and runs without errors"),
        MustPass(85, "End-to-End", "All existing endpoints remain functional"),
        MustPass(86, "Performance", "Service startup time within normal parameters"),
        MustPass(87, "Security", "No security issues introduced during restart"),
    ),
)

UPSERT = "curl -X POST http://localhost:4010/v1/rag/upsert \\\n"
SEARCH = "curl -X POST http://localhost:4010/v1/rag/search \\\n"
JSON_HEADER = '  -H "Content-Type: application/json" \\\n'
ADMIN_HEADER = '  -H "X-HX-Admin-Key: supersecret" \\\n'

ENG_007 = a_task(
    "ENG-007-Functional-Smoke-Test.md",
    "ENG-007",
    (
        Want(
            123,
            UPSERT + JSON_HEADER + "  -d @/tmp/test-upsert-payload.json \\\n"
            '  -w "%{http_code}" -o /dev/null | grep -q "403" && echo "✅ Auth protection working"',
            "Test authentication failure (should return 403)",
        ),
        Want(
            129,
            UPSERT + JSON_HEADER + ADMIN_HEADER + "  -d @/tmp/test-upsert-payload.json",
            "Test document upsert with authentication",
        ),
        Want(
            135,
            SEARCH + JSON_HEADER + '  -d \'{"query": "What is Citadel?", "limit": 3,'
            ' "namespace": "docs:test"}\' | jq .',
            "Test search functionality",
        ),
        Want(
            140,
            'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago"'
            ' | grep -E "(qdrant_upsert|embed_texts)" && echo "✅ Telemetry logging working"',
            "Check telemetry logs",
        ),
        Want(
            143,
            "curl -X POST http://localhost:6333/collections/hx_rag_default/points/delete \\\n"
            + JSON_HEADER
            + '  -d \'{"filter": {"must": [{"key": "metadata.source",'
            ' "match": {"value": "functional-test"}}]}}\'',
            "Clean up test data (example command)",
        ),
        Want(
            148,
            SEARCH + JSON_HEADER + '  -H "Authorization: Bearer sk-hx-dev-1234" \\\n'
            '  -d \'{"query": "test document RAG upsert functionality",'
            ' "namespace": "test-rag-upsert", "limit": 5}\'',
            "Verify cleanup",
        ),
    ),
    (
        MustPass(101, "Service Health", "Gateway service remains operational during testing"),
        MustPass(102, "End-to-End", "Complete upsert and search cycle works successfully"),
        MustPass(103, "Performance", "Operations complete within reasonable time limits"),
        MustPass(104, "Security", "Authentication works correctly for all operations"),
    ),
)


def _hardening_upsert(document: str, jq_filter: str, fallback: str) -> str:
    return (
        UPSERT + JSON_HEADER + ADMIN_HEADER + f"  -d '{{\"documents\": [{document}]}}' \\\n"
        f"  | jq '{jq_filter}' || echo \"{fallback}\""
    )


ENG_008 = a_task(
    "ENG-008-Production-Hardening-Implementation.md",
    "ENG-008",
    (
        Want(
            111,
            _hardening_upsert(
                '{"text": "test", "metadata": {"namespace": "test"}}',
                ".error",
                "Expected dimension validation error",
            ),
            "Test dimension validation (should fail)",
        ),
        Want(
            118,
            _hardening_upsert(
                '{"text": "test", "metadata": {"namespace": "invalid@namespace!"}}',
                ".error",
                "Expected namespace validation error",
            ),
            "Test namespace validation (should fail with invalid namespace)",
        ),
        Want(
            125,
            _hardening_upsert(
                '{"text": "Valid test document content", "metadata": {"namespace": "test-valid"}}',
                ".status",
                "Expected successful upsert",
            ),
            "Test valid input (should succeed)",
        ),
        Want(
            132,
            _hardening_upsert(
                '{"text": "", "metadata": {"namespace": "test"}}',
                ".error",
                "Expected content length validation error",
            ),
            "Test content length validation",
        ),
        Want(
            139,
            'sudo journalctl -u hx-gateway-ml.service --since="5 minutes ago" | grep -i validation',
            "Check validation error logging",
        ),
        Want(142, f"git -C {GW} log --oneline -5", "Verify rollback capability"),
        # issue 18 item 7: an echo of literal text is a caption (it runs, it is no check)
        Want(
            143,
            'echo "✅ Rollback plan: git checkout <prev-commit>'
            ' && sudo systemctl restart hx-gateway-ml.service"',
            kind="setup",
        ),
    ),
    (
        # the 9-item "Definition of Done" list under its own H3 is not Must-Pass
        MustPass(
            78, "Service Health", "Gateway service remains operational with enhanced validation"
        ),
        MustPass(
            79,
            "End-to-End",
            "Validation correctly rejects invalid inputs while accepting valid ones",
        ),
        MustPass(80, "Performance", "Validation doesn't significantly impact processing time"),
        MustPass(81, "Security", "Proper input sanitization prevents injection attacks"),
    ),
)

# --------------------------------------------------------------------------- template B

RAG_001 = b_task(
    "01-deploy-rag-code.md",
    "RAG-001",
    (
        Want(
            41,
            f'if [ -f "{GW}/gateway/src/routes/rag.py" ]; then\n'
            '    echo "✅ Code Validation: RAG route file is present."\n'
            "else\n"
            '    echo "❌ Code Validation: RAG route file is missing."\n'
            "    exit 1\n"
            "fi",
            "Verify RAG route file",  # issue 18 item 3: the step's bold title, not the command
        ),
        Want(50, f'VENV="{GW}/gateway/venv"', "Verify dependency installation", kind="setup"),
        Want(
            51,
            "$VENV/bin/python -c \"import httpx; print('✅ Dependency Validation:"
            " httpx is installed.')\"",
            "Verify dependency installation",
        ),
    ),
)

RAG_002 = b_task(
    "02-configure-rag-feature.md",
    "RAG-002",
    (
        Want(44, "sudo systemctl daemon-reload", "Reload Systemd Daemon"),
        Want(49, "systemctl show hx-gateway-ml | grep ENABLE_RAG", "Verify Service Configuration"),
    ),
)

RAG_004_1 = b_task(
    "04-validate-query-path.md",
    "RAG-004.1",
    (
        Want(35, 'BASE_URL="http://127.0.0.1:4000"', "--- Test Setup ---", kind="setup"),
        Want(
            36,
            'AUTH_HEADER="Authorization: Bearer sk-mDyhCELJX..." # Use a valid key',
            kind="setup",
        ),
        # "**Run Validation Command**" is a lead-in, not a title; the echo is a caption
        Want(
            39,
            'echo "--- Testing Query Path (expects 200 OK) ---"',
            "--- Test Execution ---",
            kind="setup",
        ),
        # assigning a command substitution runs curl: a command, not a setup step
        Want(
            40,
            'STATUS=$(curl -s -o /dev/null -w "%{http_code}" \\\n'
            '  -H "$AUTH_HEADER" -H "Content-Type: application/json" \\\n'
            '  -d \'{"query":"hello world","limit":3}\' \\\n'
            '  "$BASE_URL/v1/rag/search")',
        ),
        Want(44, '[ "$STATUS" -eq 200 ] && echo "✅ PASSED" || echo "❌ FAILED (Status: $STATUS)"'),
    ),
)

RAG_004_4 = b_task(
    "07-validate-input-validation.md",
    "RAG-004.4",
    (
        Want(
            38,
            'if [ -z "$API_KEY" ]; then\n'
            '  echo "❌ ERROR: API_KEY environment variable is not set."\n'
            "  exit 1\n"
            "fi",
            "Note: Do not commit real keys.",  # the comment line directly above
        ),
        Want(42, 'BASE_URL="http://127.0.0.1:4000"', kind="setup"),
        Want(43, 'AUTH_HEADER="Authorization: Bearer ${API_KEY}"', kind="setup"),
        Want(
            46,
            'echo "--- Testing Input Validation (expects 400 or 422) ---"',
            "--- Test Execution ---",
            kind="setup",
        ),
        Want(
            47,
            'STATUS=$(curl -s -o /dev/null -w "%{http_code}" --request POST \\\n'
            "  --max-time 5 --connect-timeout 3 \\\n"
            '  -H "$AUTH_HEADER" -H "Content-Type: application/json" \\\n'
            "  -d '{}' \\\n"
            '  "$BASE_URL/v1/rag/search")',
        ),
        Want(
            54,
            'if [ "$STATUS" -eq 400 ] || [ "$STATUS" -eq 422 ]; then\n'
            '  echo "✅ PASSED (Status: $STATUS)"\n'
            "else\n"
            '  echo "❌ FAILED (Status: $STATUS)"\n'
            "fi",
            "--- Validation ---",
        ),
    ),
)

RAG_005 = b_task(
    "05-document-rollback-procedure.md",
    "RAG-005",
    (
        Want(
            49,
            "sudo systemctl is-active --quiet hx-gateway-ml"
            ' && echo "✅ Service reverted successfully."',
            "Confirm Service is Active",
        ),
        # one title over two checks: each is "title: its own comment" (five comment lines
        # above the setup step: the one directly above is its comment)
        Want(
            58,
            'AUTH_HEADER="Authorization: Bearer ${API_KEY}"',
            'Confirm Endpoint is Disabled: export BASE_URL="http://127.0.0.1:4000"',
            kind="setup",
        ),
        Want(
            59,
            'BASE_URL="${BASE_URL:-http://127.0.0.1:4000}"',
            "Confirm Endpoint is Disabled",
            kind="setup",
        ),
        Want(
            62,
            'STATUS_ROLLBACK=$(curl -s -o /dev/null -w "%{http_code}" -H "$AUTH_HEADER"'
            ' -H "Content-Type: application/json" -d \'{"query":"test"}\''
            ' "$BASE_URL/v1/rag/search")',
            "Confirm Endpoint is Disabled: --- Test Execution ---",
        ),
        Want(
            65,
            'if [ "$STATUS_ROLLBACK" -eq 404 ] || [ "$STATUS_ROLLBACK" -eq 403 ]; then\n'
            '  echo "✅ Rollback Validated: RAG endpoint is disabled (Status: $STATUS_ROLLBACK)."\n'
            "else\n"
            '  echo "❌ Rollback Failed (Status: $STATUS_ROLLBACK)"\n'
            "fi",
            "Confirm Endpoint is Disabled: --- Validation ---",
        ),
    ),
)

# --------------------------------------------------------------------------- template C

LOCAL_GW = "http://127.0.0.1:4010"
HTTP_CODE = r'curl -s -o /dev/null -w "%{http_code}\n"'
DEV_BEARER = '-H "Authorization: Bearer sk-hx-dev-default"'

REFACTOR_01 = c_task(
    "01_Switch_Runtime_To_Pipeline.md",
    "ENG-001",
    (
        Want(31, "sudo systemctl is-active hx-gateway-ml", stdout_line="active"),
        # prose around the one code span: shown, not checked (`LISTEN` is not a whole line)
        Want(
            32,
            "ss -ltnp | grep ':4010'",
            prose_note="Shows a `LISTEN` state for the uvicorn process",
        ),
        Want(33, f"{HTTP_CODE} {LOCAL_GW}/healthz", stdout_line="200"),
    ),
)

REFACTOR_02 = c_task(
    "02_Migrate_Security_Middleware.md",
    "ENG-002",
    (
        Want(27, f"{HTTP_CODE} {LOCAL_GW}/v1/models", stdout_line="401"),
        Want(
            29,
            f"{HTTP_CODE} {DEV_BEARER} {LOCAL_GW}/v1/models",
            prose_note="`200` or another success/valid error code, but not `401`",
        ),
    ),
)

REFACTOR_03 = c_task(
    "03_Migrate_Transform_Middleware.md",
    "ENG-003",
    (
        # continuation lines written without indentation stay so
        Want(
            28,
            f'curl -sS {DEV_BEARER} -H "Content-Type: application/json" \\\n'
            '-d \'{"model":"text-embedding-ada-002","prompt":"hello"}\' \\\n'
            f"{LOCAL_GW}/v1/embeddings | jq '.data[0].embedding | length'",
        ),
    ),
)

REFACTOR_04 = c_task(
    "04_Migrate_Execution_Middleware.md",
    "ENG-004",
    (Want(28, f"curl -sS {DEV_BEARER} {LOCAL_GW}/v1/models | jq"),),
)

REFACTOR_05 = c_task(
    "05_Deprecate_Monolithic_Main.md",
    "ENG-005",
    (
        Want(
            28,
            "systemctl cat hx-gateway-ml | grep -i ExecStart",
            prose_note="Shows `uvicorn` pointing to `gateway.src.app:build_app`",
        ),
        Want(30, "pgrep -af main.py", prose_note="No results"),
    ),
)

REFACTOR_06 = c_task(
    "06_Consolidate_Configuration.md",
    "ENG-006",
    (
        Want(
            28,
            f"ls -l {GW}/gateway/model_registry.yaml",
            prose_note="Shows it is a symlink to the file in `config/api-gateway/`",
        ),
        Want(
            30,
            "sudo systemctl restart hx-gateway-ml && sleep 5",
            prose_note="Service is `active`",
        ),
    ),
)

REFACTOR_07 = c_task(
    "07_Correct_Master_Key_Handling.md",
    "ENG-007",
    (
        Want(26, "sudo systemctl restart hx-gateway-ml && sleep 5"),
        Want(28, f"{HTTP_CODE} {DEV_BEARER} {LOCAL_GW}/healthz", stdout_line="200"),
    ),
)

REFACTOR_08 = c_task(
    "08_Implement_Pipeline_Tests.md",
    "ENG-008",
    (
        Want(28, f"cd {GW}/gateway/"),
        Want(29, "pytest -q tests/", prose_note="All tests pass"),
    ),
)

REFACTOR_09 = c_task("09_Update_Documentation.md", "ENG-009", ())

REFACTOR_10 = c_task(
    "10_Document_Rollback_Procedure.md",
    "ENG-010",
    (
        Want(38, "sudo systemctl is-active hx-gateway-ml", stdout_line="active"),
        # "(Note: …)" is not an expectation
        Want(40, f"{HTTP_CODE} {DEV_BEARER} {LOCAL_GW}/health"),
    ),
)

TASKS = (
    ENG_000,
    ENG_001,
    ENG_004_5,
    ENG_005,
    ENG_007,
    ENG_008,
    RAG_001,
    RAG_002,
    RAG_004_1,
    RAG_004_4,
    RAG_005,
    REFACTOR_01,
    REFACTOR_02,
    REFACTOR_03,
    REFACTOR_04,
    REFACTOR_05,
    REFACTOR_06,
    REFACTOR_07,
    REFACTOR_08,
    REFACTOR_09,
    REFACTOR_10,
)


def plan_of(corpus_dir: Path, relative: str, context: PlanContext = CONTEXT) -> Plan:
    path = corpus_dir / relative
    return build_plan(parse_document(path.read_bytes(), str(path)), context)


def ran_checks(plan: Plan) -> list[PlannedCheck]:
    return [check for check in plan.checks if check.source != "must-pass"]


def describe(check: PlannedCheck) -> tuple[int, str, str, str]:
    return (check.line, check.kind, check.label, check.command)


def wanted(want: Want) -> tuple[int, str, str, str]:
    return (want.line, want.kind, want.label or unlabelled(want.command), want.command)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_the_plan_holds_the_checks_read_by_hand(corpus_dir: Path, task: TaskWant) -> None:
    plan = plan_of(corpus_dir, task.path)
    assert plan.task_id == task.task_id
    checks = ran_checks(plan)
    assert [describe(check) for check in checks] == [wanted(want) for want in task.checks]
    assert {check.source for check in checks} <= {task.source}
    assert all(check.components == ("api-gateway",) for check in checks)
    counted = [want for want in task.checks if want.kind == "command"]
    assert sum(check.kind == "command" for check in plan.checks) == len(counted)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_expectations_from_the_prose(corpus_dir: Path, task: TaskWant) -> None:
    checks = ran_checks(plan_of(corpus_dir, task.path))
    for check, want in zip(checks, task.checks, strict=True):
        assert check.expectation.exit_code == 0
        assert check.expectation.stdout_regex is None
        assert check.expectation.stdout_line == want.stdout_line, check.line
        if want.prose_note is not None:
            assert any(want.prose_note in note for note in check.notes), check.notes


@pytest.mark.parametrize(
    "task", [task for task in TASKS if task.must_pass], ids=lambda task: task.path
)
def test_must_pass_items_without_playbooks_are_one_not_run_check_each(
    corpus_dir: Path, task: TaskWant
) -> None:
    plan = plan_of(corpus_dir, task.path)
    must_pass = [check for check in plan.checks if check.source == "must-pass"]
    assert [
        (check.line, check.must_pass, check.label, check.kind, check.command) for check in must_pass
    ] == [
        (item.line, item.name, f"{item.name}: {item.description}", "not-run", "")
        for item in task.must_pass
    ]
    assert all(check.components == ("api-gateway",) for check in must_pass)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_plan_notes_that_matter(corpus_dir: Path, task: TaskWant) -> None:
    plan = plan_of(corpus_dir, task.path)
    uses_default = any("default_component" in note for note in plan.notes)
    assert uses_default is not task.has_component_field
    assert plan.components == ("api-gateway",)
    no_runnable = any("no runnable command" in note for note in plan.notes)
    assert no_runnable is (not any(want.kind == "command" for want in task.checks))


def test_commands_of_one_block_share_a_session_and_blocks_do_not(corpus_dir: Path) -> None:
    plan = plan_of(corpus_dir, RAG_001.path)
    first, setup, second = ran_checks(plan)
    assert setup.session == second.session  # VENV= carries over to the next line
    assert first.session != second.session


def test_inline_commands_of_one_list_share_a_session(corpus_dir: Path) -> None:
    # Refactor 08 puts `cd …` and `pytest -q tests/` in separate list items (FINDINGS §5)
    cd, pytest_run = ran_checks(plan_of(corpus_dir, REFACTOR_08.path))
    assert cd.session == pytest_run.session


def test_a_b_template_without_test_commands_uses_its_test_steps(corpus_dir: Path) -> None:
    plan = plan_of(corpus_dir, RAG_002.path)
    assert [check.source for check in plan.checks] == ["test-steps", "test-steps"]
    # the Execution Plan's `sudo systemctl edit` and its ini block are the change, not checks
    assert all("systemctl edit" not in check.command for check in plan.checks)


def test_check_ids_are_unique_within_each_plan(corpus_dir: Path) -> None:
    for task in TASKS:
        ids = [check.id for check in plan_of(corpus_dir, task.path).checks]
        assert len(ids) == len(set(ids)), task.path


# --------------------------------------------------------------------------- whole corpus

# FINDINGS §7: the ten validation commands that change state (file, 1-based line)
MUTATING_VALIDATION = {
    (f"{A}/ENG-007-Functional-Smoke-Test.md", 123),  # unauthenticated upsert
    (f"{A}/ENG-007-Functional-Smoke-Test.md", 129),
    (f"{A}/ENG-007-Functional-Smoke-Test.md", 143),  # Qdrant points/delete
    (f"{A}/ENG-008-Production-Hardening-Implementation.md", 111),
    (f"{A}/ENG-008-Production-Hardening-Implementation.md", 118),
    (f"{A}/ENG-008-Production-Hardening-Implementation.md", 125),
    (f"{A}/ENG-008-Production-Hardening-Implementation.md", 132),
    (f"{B}/02-configure-rag-feature.md", 44),  # daemon-reload
    (f"{C}/06_Consolidate_Configuration.md", 30),  # restart
    (f"{C}/07_Correct_Master_Key_Handling.md", 26),  # restart
}


def corpus_plans(corpus_dir: Path, context: PlanContext) -> dict[str, Plan]:
    plans = {}
    for path in corpus_markdown_files():
        doc = parse_document(path.read_bytes(), str(path))
        relative = path.relative_to(corpus_dir).as_posix()
        if doc.is_task and relative != "task-template.md":
            plans[relative] = build_plan(doc, context)
    return plans


def test_the_guard_flags_exactly_the_ten_mutating_validation_commands(corpus_dir: Path) -> None:
    plans = corpus_plans(
        corpus_dir, PlanContext(default_component="api-gateway", guard=mutation_reason)
    )
    flagged = {
        (relative, check.line)
        for relative, plan in plans.items()
        for check in plan.checks
        if check.guard_reason is not None
    }
    assert flagged == MUTATING_VALIDATION
    for relative, plan in plans.items():
        for check in plan.checks:
            if check.guard_reason is not None:
                assert any("--allow-mutating" in note for note in check.notes), (relative, check)


def test_corpus_totals_agree_with_the_findings(corpus_dir: Path) -> None:
    """FINDINGS §0: 104 validation commands in 28 tasks (assignments counted as commands):
    55 in Test Commands, 34 in Test Steps fences, 15 inline."""
    plans = corpus_plans(corpus_dir, CONTEXT)
    assert len(plans) == 28
    steps = [check for plan in plans.values() for check in plan.checks if check.kind != "not-run"]
    by_source = {"test-commands": 0, "test-steps-fenced": 0, "test-steps-inline": 0}
    for relative, plan in plans.items():
        inline_lines = {
            inline.line + 1
            for inline in parse_document(
                (corpus_dir / relative).read_bytes(), str(corpus_dir / relative)
            ).inline_commands
        }
        for check in plan.checks:
            if check.kind == "not-run":
                continue
            if check.source == "test-commands":
                by_source["test-commands"] += 1
            elif check.line in inline_lines:
                by_source["test-steps-inline"] += 1
            else:
                by_source["test-steps-fenced"] += 1
    assert len(steps) == 104
    assert by_source == {"test-commands": 55, "test-steps-fenced": 34, "test-steps-inline": 15}
    must_pass = [
        check for plan in plans.values() for check in plan.checks if check.kind == "not-run"
    ]
    assert len(must_pass) == 10 * 4  # A's ten tasks, four items each (FINDINGS §10)
