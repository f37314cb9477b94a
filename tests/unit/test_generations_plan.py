"""The planner on the team's own fixtures: every check written down by hand from the Markdown
(the twin of test_plan_corpus.py, which needs ../shared/corpus).

Expectations come from reading each fixture (DESIGN.md §2), not from the planner.
"""

# ruff: noqa: E501 (commands are written out as they stand in the fixtures, long lines included)

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.bash.guard import mutation_reason
from runner.markdown.document import parse_document
from runner.models import Plan, PlannedCheck
from runner.plan.build import PlanContext, build_plan
from tests.generations import GEN_TASKS, A, B, C, generation_markdown_files, relative

CONTEXT = PlanContext(default_component="api-gateway")  # B and C name no Component
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
    components: tuple[str, ...] = ("api-gateway",)
    has_component_field: bool = True


def a_task(
    path: str,
    task_id: str,
    checks: tuple[Want, ...],
    must_pass: tuple[MustPass, ...],
    components: tuple[str, ...] = ("api-gateway",),
) -> TaskWant:
    return TaskWant(f"{A}/{path}", task_id, "test-commands", checks, must_pass, components)


def b_task(path: str, task_id: str, checks: tuple[Want, ...]) -> TaskWant:
    return TaskWant(f"{B}/{path}", task_id, "test-steps", checks, has_component_field=False)


def c_task(path: str, task_id: str, checks: tuple[Want, ...]) -> TaskWant:
    return TaskWant(f"{C}/{path}", task_id, "test-steps", checks, has_component_field=False)


GW = "/srv/llm-gateway"
ENV_FILE = "/etc/llm-gateway/gateway.env"
PYTEST_IN_GW = f"cd {GW} && export PYTHONPATH=. && pytest"

# --------------------------------------------------------------------------- template A

ENG_001 = a_task(
    "ENG-001-Install-LiteLLM-Proxy.md",
    "ENG-001",
    (
        Want(
            87,
            f'test -x {GW}/venv/bin/litellm && echo "✅ LiteLLM proxy installed."',
            "Verify the proxy binary is installed",
        ),
        Want(
            90,
            f"cd {GW} && venv/bin/python -c \"import litellm; print('✅ litellm imports')\"",
            "Import the proxy module",
        ),
        Want(93, f"ls -la {GW}/venv/bin/", "Show what the venv holds"),
        Want(
            96, f"python -m pyflakes {GW}/config_loader.py", "Check the config loader for mistakes"
        ),
        Want(99, f"{PYTEST_IN_GW} -q", "Run the gateway's own tests"),
        Want(100, f"{PYTEST_IN_GW} tests/test_routes.py -v"),  # no comment of its own
    ),
    (
        MustPass(67, "Test Infrastructure", "The gateway's own test suite runs on the host"),
        MustPass(68, "End-to-End", "The proxy module imports in its venv"),
        MustPass(69, "Performance", "Installing changes nothing for current clients"),
        MustPass(70, "Security", "The venv belongs to the service user"),
    ),
)

ENG_002 = a_task(
    "ENG-002-Write-Gateway-Config.md",
    "ENG-002",
    (
        Want(
            80,
            f'test -s {GW}/config.yaml && echo "✅ Config file written."',
            "Verify the config file exists",
        ),
        # a multi-line `python -c "…"` is one command; its indentation is kept
        Want(
            83,
            f'cd {GW} && python -c "\n'
            "import yaml\n"
            "config = yaml.safe_load(open('config.yaml'))\n"
            "names = [m['model_name'] for m in config['model_list']]\n"
            "print('✅ models:', ', '.join(names))\n"
            '"',
            "Check the model list parses",
        ),
        Want(
            91,
            f'cd {GW} && python -c "\n'
            "import yaml\n"
            "for model in yaml.safe_load(open('config.yaml'))['model_list']:\n"
            "    base = model['litellm_params']['api_base']\n"
            "    assert base.startswith(('http://llm-01:11434', 'http://llm-02:11434')), base\n"
            "print('✅ every model routes to llm-01 or llm-02')\n"
            '"',
            "Check every model points at an Ollama host",
        ),
        Want(100, f"python -m pyflakes {GW}/config_loader.py", "Lint the loader"),
    ),
    (
        MustPass(60, "Service Health", "The proxy starts with the new config"),
        MustPass(61, "End-to-End", "Each listed model answers through the proxy"),
        MustPass(62, "Performance", "No model is routed across the slow link"),
        MustPass(63, "Security", "The config file is readable by the service user only"),
    ),
)

ENG_002_5 = a_task(
    "ENG-002.5-Configure-Gateway-Environment.md",
    "ENG-002.5",
    (
        Want(
            88,
            f'test -s {ENV_FILE} && echo "✅ Env file exists"',
            "Verify the env file exists and is not empty",
        ),
        Want(
            91,
            f'grep -q "OLLAMA_BASE_URL=" {ENV_FILE} && echo "✅ OLLAMA_BASE_URL set"',
            "Check the required variables are set",
        ),
        Want(92, f'grep -q "LITELLM_MASTER_KEY=" {ENV_FILE} && echo "✅ master key set"'),
        Want(
            95,
            f'set -a && source {ENV_FILE} && set +a && echo "✅ Env file sources cleanly"',
            "The file can be sourced",
        ),
        Want(
            98,
            f'source {ENV_FILE} && [[ "$REQUEST_TIMEOUT" == "120" ]] && echo "✅ REQUEST_TIMEOUT is 120"',
            "The request timeout has the agreed value",
        ),
        Want(
            101,
            f'ls -la {ENV_FILE} | grep -E "^-rw-r-----" && echo "✅ File mode is 640"',
            "Only root and the service group may read it",
        ),
        Want(
            104,
            f'cut -d= -f1 {ENV_FILE} | sort | uniq -d | wc -l | grep -q "^0$" && echo "✅ No duplicate names"',
            "No variable is set twice",
        ),
    ),
    (
        MustPass(68, "Service Health", "The unit loads the file without warnings"),
        MustPass(69, "End-to-End", "The variables reach the proxy process"),
        MustPass(70, "Performance", "No change to start-up time"),
        MustPass(71, "Security", "Only root and the service group can read the key"),
    ),
)

JOURNAL = 'sudo journalctl -u ollama.service --since="10 minutes ago" --no-pager'

ENG_003 = a_task(
    "ENG-003-Restart-Ollama-Hosts.md",
    "ENG-003",
    (
        Want(83, "sudo systemctl is-active ollama.service", "Check the service is running"),
        Want(
            86,
            "sudo netstat -tlnp | grep :11434 || ss -tlnp | grep :11434",
            "Check the port is listening",
        ),
        Want(
            89,
            'curl -f http://127.0.0.1:11434/api/version || echo "❌ Ollama did not answer"',
            "Ask Ollama for its version",
        ),
        Want(92, f"{JOURNAL} | grep -i error", "Look for errors since the restart"),
        Want(95, f"{JOURNAL} | tail -10", "Show the last lines of the log"),
    ),
    (
        MustPass(62, "Service Health", "Ollama is active on both hosts"),
        MustPass(63, "End-to-End", "A chat request through the gateway reaches each host"),
        MustPass(64, "Performance", "The first token arrives as fast as before"),
        MustPass(65, "Security", "Port 11434 is still closed to the outside"),
    ),
    components=("llm-01", "llm-02"),  # `llm-01, llm-02`: two components, in order
)

SCHEMA = "curl -s http://localhost:4000/openapi.json"

ENG_004 = a_task(
    "ENG-004-Publish-OpenAPI-Schema.md",
    "ENG-004",
    (
        Want(
            76,
            'curl -s -o /dev/null -w "%{http_code}" http://localhost:4000/docs',
            "The docs page answers",
        ),
        Want(
            79,
            f"{SCHEMA} | jq '.paths | keys[]' | grep -i chat && echo \"✅ Chat route documented\"",
            "The chat route is in the schema",
        ),
        Want(
            82,
            f"{SCHEMA} | jq '.paths[\"/v1/chat/completions\"]'",
            "Show the chat route's schema",
        ),
        Want(
            85,
            f"{SCHEMA} | jq '.paths | keys[]' | grep -i embeddings",
            "The embeddings route is in the schema too",
        ),
        Want(
            88,
            'curl -X OPTIONS -s -o /dev/null -w "%{http_code}" http://localhost:4000/v1/chat/completions',
            "CORS preflight on the chat route",
        ),
        Want(91, f"{SCHEMA} | jq '.paths | keys[]'", "List every documented route"),
    ),
    (
        MustPass(57, "Service Health", "The proxy keeps answering while docs are on"),
        MustPass(58, "End-to-End", "A client can generate code from the schema"),
        MustPass(59, "Performance", "The docs page loads in under a second"),
        MustPass(60, "Security", "The schema shows no keys or internal hosts"),
    ),
)

KEYS = "curl -X POST http://localhost:4000/key/generate \\\n"
CHAT = "curl -X POST http://localhost:4000/v1/chat/completions \\\n"
JSON = '  -H "Content-Type: application/json" \\\n'
MASTER = '  -H "Authorization: Bearer sk-gw-master-0000" \\\n'
USER = '  -H "Authorization: Bearer sk-gw-test-5678" \\\n'

ENG_005 = a_task(
    "ENG-005-Gateway-Smoke-Test.md",
    "ENG-005",
    (
        Want(
            91,
            KEYS + JSON + "  -d @/tmp/gw-smoke-key.json \\\n"
            '  -w "%{http_code}" -o /dev/null | grep -q "401" && echo "✅ Key creation is protected"',
            "Creating a key without the master key must be refused (should return 401)",
        ),
        Want(
            97,
            KEYS + JSON + MASTER + "  -d @/tmp/gw-smoke-key.json",
            "Create a short-lived key with the master key",
        ),
        Want(
            103,
            CHAT + JSON + USER + '  -d \'{"model": "llama3", "messages": '
            '[{"role": "user", "content": "Say ok"}]}\' | jq .',
            "Ask a model through the gateway",
        ),
        Want(
            109,
            "curl -X POST http://localhost:4000/v1/embeddings \\\n"
            + USER
            + '  -d \'{"model": "nomic-embed-text", "input": "hello"}\' | jq -e \'.data[0].embedding | length\'',
            "Embed a sentence",
        ),
        Want(
            114,
            "curl -fsS -X POST http://localhost:4000/v1/vector_stores/lab-docs/search \\\n"
            + USER
            + "  -d '{\"query\": \"gateway ports\"}' | jq -e '.data | length > 0'",
            "Search the lab documents",
        ),
        Want(
            119,
            'sudo journalctl -u llm-gateway.service --since="10 minutes ago" | grep -E "(key_alias|smoke-test)" && echo "✅ Spend logging works"',
            "Check the spend log mentions the smoke key",
        ),
        Want(
            122,
            "curl -X POST http://localhost:4000/key/delete \\\n"
            + MASTER
            + '  -d \'{"key_aliases": ["smoke-test"]}\'',
            "Delete the smoke key (clean-up)",
        ),
        Want(
            127,
            CHAT + USER + '  -d \'{"model": "llama3"}\' \\\n'
            "  | jq '.error' || echo \"Expected a validation error\"",
            "A chat request without messages is rejected (should fail with 400)",
        ),
        Want(133, f"git -C {GW} log --oneline -5", "Show recent commits of the config repo"),
        # only an echo of literal text (a restart command as a caption): it runs in the
        # session but is no check; no label of its own (the comment is above git)
        Want(
            134,
            'echo "✅ Rollback: git checkout <previous> && sudo systemctl restart llm-gateway.service"',
            kind="setup",
        ),
    ),
    (
        # the five-item "Definition of Done" list under its own H3 is not Must-Pass
        MustPass(62, "Service Health", "The gateway stays up through the test"),
        MustPass(63, "End-to-End", "Key, chat, embedding and search all work in one pass"),
        MustPass(64, "Performance", "Each call returns within five seconds"),
        MustPass(65, "Security", "Key creation needs the master key"),
    ),
)

# --------------------------------------------------------------------------- template B

MOD_001 = b_task(
    "01-pull-embedding-model.md",
    "MOD-001",
    (
        Want(
            41,
            'if ollama list | grep -q "nomic-embed-text"; then\n'
            '    echo "✅ Model Check: nomic-embed-text is present."\n'
            "else\n"
            '    echo "❌ Model Check: nomic-embed-text is missing."\n'
            "    exit 1\n"
            "fi",
            "Verify the model is listed",  # the step's bold title, colon dropped
        ),
        Want(50, 'VENV="/srv/model-tools/venv"', "Verify the client library", kind="setup"),
        Want(
            51,
            "$VENV/bin/python -c \"import ollama; print('✅ Client Check: ollama package imports.')\"",
            "Verify the client library",
        ),
    ),
)

MOD_002 = b_task(
    "02-keep-models-loaded.md",
    "MOD-002",
    (
        Want(44, "sudo systemctl daemon-reload", "Reload the Units"),
        Want(49, "systemctl show ollama | grep OLLAMA_KEEP_ALIVE", "Check the Unit's Environment"),
    ),
)

MOD_003 = b_task(
    "03-restart-ollama.md",
    "MOD-003",
    (
        Want(
            44,
            'sudo systemctl is-active --quiet ollama && echo "✅ Ollama is active." || echo "❌ Ollama failed to start."',
            "Check the Unit",
        ),
        Want(
            48,
            "curl -fsS http://127.0.0.1:11434/api/tags | jq -e '.models | length > 0'",
            "Check the Model List",
        ),
    ),
)

MOD_004_1 = b_task(
    "04-validate-chat-path.md",
    "MOD-004.1",
    (
        Want(35, 'BASE_URL="http://127.0.0.1:4000"', "--- Test Setup ---", kind="setup"),
        Want(
            36,
            'AUTH_HEADER="Authorization: Bearer sk-9fQ2ZbXw..." # paste a real key here',
            kind="setup",
        ),
        # an echo of literal text is a caption: it runs in the session, no check
        Want(
            39,
            'echo "--- Testing Chat Path (expects 200 OK) ---"',
            "--- Test Execution ---",
            kind="setup",
        ),
        # assigning a command substitution runs curl: a command, not a setup step
        Want(
            40,
            'STATUS=$(curl -s -o /dev/null -w "%{http_code}" \\\n'
            '  -H "$AUTH_HEADER" -H "Content-Type: application/json" \\\n'
            '  -d \'{"model":"llama3","messages":[{"role":"user","content":"ping"}]}\' \\\n'
            '  "$BASE_URL/v1/chat/completions")',
        ),
        Want(44, '[ "$STATUS" -eq 200 ] && echo "✅ PASSED" || echo "❌ FAILED (Status: $STATUS)"'),
    ),
)

MOD_004_2 = b_task(  # CRLF line endings: none of them reaches a command's text
    "05-validate-embedding-path.md",
    "MOD-004.2",
    (
        Want(
            35,
            'if [ -z "$API_KEY" ]; then\n'
            '  echo "❌ ERROR: API_KEY environment variable is not set."\n'
            "  exit 1\n"
            "fi",
            "Note: export API_KEY first; never write a real key here.",
        ),
        Want(39, 'BASE_URL="http://127.0.0.1:4000"', kind="setup"),
        Want(40, 'AUTH_HEADER="Authorization: Bearer ${API_KEY}"', kind="setup"),
        Want(  # a caption: runs in the session, no check
            43,
            'echo "--- Testing Embedding Path (expects 200) ---"',
            "--- Test Execution ---",
            kind="setup",
        ),
        Want(
            44,
            'STATUS=$(curl -s -o /dev/null -w "%{http_code}" --request POST \\\n'
            "  --max-time 10 --connect-timeout 3 \\\n"
            '  -H "$AUTH_HEADER" -H "Content-Type: application/json" \\\n'
            '  -d \'{"model":"nomic-embed-text","input":"ping"}\' \\\n'
            '  "$BASE_URL/v1/embeddings")',
        ),
        Want(
            51,
            'if [ "$STATUS" -eq 200 ]; then\n'
            '  echo "✅ PASSED (Status: $STATUS)"\n'
            "else\n"
            '  echo "❌ FAILED (Status: $STATUS)"\n'
            "fi",
            "--- Validation ---",
        ),
    ),
)

KEEP_ALIVE_STEP = "Confirm the Old Keep-Alive Is Used"

MOD_005 = b_task(
    "05-document-rollback.md",
    "MOD-005",
    (
        Want(
            46,
            'sudo systemctl is-active --quiet ollama && echo "✅ Ollama is back on the old settings."',
            "Confirm the Service Came Back",
        ),
        # several commands under one step title: `title: comment`, where the comment is the
        # one directly above the command (of the five comment lines above line 55)
        Want(
            55,
            'AUTH_HEADER="Authorization: Bearer ${API_KEY}"',
            f'{KEEP_ALIVE_STEP}: export BASE_URL="http://127.0.0.1:4000"',
            kind="setup",
        ),
        Want(56, 'BASE_URL="${BASE_URL:-http://127.0.0.1:4000}"', KEEP_ALIVE_STEP, kind="setup"),
        Want(
            59,
            'STATUS_AFTER=$(curl -s -o /dev/null -w "%{http_code}" -H "$AUTH_HEADER"'
            ' -H "Content-Type: application/json" -d \'{"model":"llama3","prompt":"ping",'
            '"keep_alive":"30m"}\' "$BASE_URL/api/generate")',
            f"{KEEP_ALIVE_STEP}: --- Test Execution ---",
        ),
        Want(
            62,
            'if [ "$STATUS_AFTER" -eq 400 ] || [ "$STATUS_AFTER" -eq 422 ]; then\n'
            '  echo "✅ Rollback Validated: long keep-alive is refused (Status: $STATUS_AFTER)."\n'
            "else\n"
            '  echo "❌ Rollback Failed (Status: $STATUS_AFTER)"\n'
            "fi",
            f"{KEEP_ALIVE_STEP}: --- Validation ---",
        ),
    ),
)

# --------------------------------------------------------------------------- template C

ORC = "http://127.0.0.1:8088"
HTTP_CODE = r'curl -s -o /dev/null -w "%{http_code}\n"'
TOKEN = '-H "Authorization: Bearer sk-orc-dev-local"'

ORC_01 = c_task(
    "01_Pin_Scheduler_Runtime.md",
    "ENG-001",
    (
        Want(31, "sudo systemctl is-active orc-scheduler", stdout_line="active"),
        # prose around the one code span: shown, not checked (`LISTEN` is not a whole line)
        Want(
            32,
            "ss -ltnp | grep ':8088'",
            prose_note="a `LISTEN` line for the python process",
        ),
        Want(33, f"{HTTP_CODE} {ORC}/healthz", stdout_line="200"),
    ),
)

ORC_02 = c_task(  # no final newline
    "02_Require_Scheduler_Token.md",
    "ENG-002",
    (
        Want(25, f"{HTTP_CODE} {ORC}/v1/jobs", stdout_line="401"),
        Want(
            27,
            f"{HTTP_CODE} {TOKEN} {ORC}/v1/jobs",
            prose_note="`200`, or any code except `401`",
        ),
    ),
)

ORC_03 = c_task(
    "03_Route_Embeddings_Via_Gateway.md",
    "ENG-003",
    (
        # continuation lines written without indentation stay so
        Want(
            26,
            f'curl -sS {TOKEN} -H "Content-Type: application/json" \\\n'
            '-d \'{"model":"nomic-embed-text","prompt":"hello"}\' \\\n'
            f"{ORC}/v1/embeddings | jq '.data[0].embedding | length'",
        ),
    ),
)

ORC_05 = c_task(
    "05_Retire_Cron_Scheduler.md",
    "ENG-005",
    (
        # the code span sits alone on the list item's second line
        Want(
            25,
            "systemctl cat orc-scheduler | grep -i ExecStart",
            prose_note="shows `python -m orc.scheduler`",
        ),
        Want(27, "pgrep -af cron.py", prose_note="No results"),
    ),
)

ORC_06 = c_task(
    "06_Share_Scheduler_Config.md",
    "ENG-006",
    (
        Want(
            23,
            "ls -l /srv/orc/scheduler.yaml",
            prose_note="a symlink into `/srv/config/orc/`",
        ),
        Want(
            24,
            "sudo systemctl restart orc-scheduler && sleep 5",
            prose_note="the unit is `active` afterwards",
        ),
        Want(25, f"{HTTP_CODE} {TOKEN} {ORC}/healthz", stdout_line="200"),
        # step 4 ("compare … by eye") has no command
    ),
)

ORC_08 = c_task(
    "08_Add_Scheduler_Tests.md",
    "ENG-008",
    (
        Want(23, "cd /srv/orc/"),
        Want(24, "pytest -q tests/", prose_note="all tests pass"),
    ),
)

ORC_09 = c_task("09_Write_Scheduler_Runbook.md", "ENG-009", ())

ORC_10 = c_task(  # starts with a BOM
    "10_Document_Scheduler_Rollback.md",
    "ENG-010",
    (
        Want(38, "sudo systemctl is-active orc-scheduler", stdout_line="active"),
        # "(Note: …)" is not an expectation
        Want(40, f"{HTTP_CODE} {TOKEN} {ORC}/health"),
    ),
)

TASKS = (
    ENG_001,
    ENG_002,
    ENG_002_5,
    ENG_003,
    ENG_004,
    ENG_005,
    MOD_001,
    MOD_002,
    MOD_003,
    MOD_004_1,
    MOD_004_2,
    MOD_005,
    ORC_01,
    ORC_02,
    ORC_03,
    ORC_05,
    ORC_06,
    ORC_08,
    ORC_09,
    ORC_10,
)


def plan_of(relative_path: str, context: PlanContext = CONTEXT) -> Plan:
    path = GEN_TASKS / relative_path
    return build_plan(parse_document(path.read_bytes(), str(path)), context)


def ran_checks(plan: Plan) -> list[PlannedCheck]:
    return [check for check in plan.checks if check.source != "must-pass"]


def describe(check: PlannedCheck) -> tuple[int, str, str, str]:
    return (check.line, check.kind, check.label, check.command)


def wanted(want: Want) -> tuple[int, str, str, str]:
    return (want.line, want.kind, want.label or unlabelled(want.command), want.command)


def test_every_fixture_task_is_in_the_table() -> None:
    tasks = {
        relative(path)
        for path in generation_markdown_files()
        if parse_document(path.read_bytes(), str(path)).task_id is not None
    }
    assert tasks == {task.path for task in TASKS}


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_the_plan_holds_the_checks_read_by_hand(task: TaskWant) -> None:
    plan = plan_of(task.path)
    assert plan.task_id == task.task_id
    checks = ran_checks(plan)
    assert [describe(check) for check in checks] == [wanted(want) for want in task.checks]
    assert {check.source for check in checks} <= {task.source}
    assert all(check.components == task.components for check in checks)
    counted = [want for want in task.checks if want.kind == "command"]
    assert sum(check.kind == "command" for check in plan.checks) == len(counted)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_expectations_from_the_prose(task: TaskWant) -> None:
    checks = ran_checks(plan_of(task.path))
    for check, want in zip(checks, task.checks, strict=True):
        assert check.expectation.exit_code == 0
        assert check.expectation.stdout_regex is None
        assert check.expectation.stdout_line == want.stdout_line, check.line
        if want.prose_note is not None:
            assert any(want.prose_note in note for note in check.notes), check.notes


@pytest.mark.parametrize(
    "task", [task for task in TASKS if task.must_pass], ids=lambda task: task.path
)
def test_must_pass_items_without_playbooks_are_one_not_run_check_each(task: TaskWant) -> None:
    plan = plan_of(task.path)
    must_pass = [check for check in plan.checks if check.source == "must-pass"]
    assert [
        (check.line, check.must_pass, check.label, check.kind, check.command) for check in must_pass
    ] == [
        (item.line, item.name, f"{item.name}: {item.description}", "not-run", "")
        for item in task.must_pass
    ]
    # a sign-off is one decision for the task, not one per host: ENG-003's is "llm-01+llm-02"
    assert all(check.components == ("+".join(task.components),) for check in must_pass)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.path)
def test_plan_notes_that_matter(task: TaskWant) -> None:
    plan = plan_of(task.path)
    uses_default = any("default_component" in note for note in plan.notes)
    assert uses_default is not task.has_component_field
    assert plan.components == task.components
    no_runnable = any("no runnable command" in note for note in plan.notes)
    assert no_runnable is (not any(want.kind == "command" for want in task.checks))


def test_commands_of_one_block_share_a_session_and_blocks_do_not() -> None:
    first, setup, second = ran_checks(plan_of(MOD_001.path))
    assert setup.session == second.session  # VENV= carries over to the next line
    assert first.session != second.session


def test_inline_commands_of_one_list_share_a_session() -> None:
    # `cd …` and `pytest -q tests/` sit in separate list items
    cd, pytest_run = ran_checks(plan_of(ORC_08.path))
    assert cd.session == pytest_run.session


def test_a_b_template_without_test_commands_uses_its_test_steps() -> None:
    plan = plan_of(MOD_002.path)
    assert [check.source for check in plan.checks] == ["test-steps", "test-steps"]
    # the Execution Plan's `sudo systemctl edit` and its ini block are the change, not checks
    assert all("systemctl edit" not in check.command for check in plan.checks)


def test_execution_commands_are_never_checks() -> None:
    for task in TASKS:
        for check in plan_of(task.path).checks:
            assert "systemctl edit" not in check.command, task.path
            assert "pip install" not in check.command, task.path
            assert "<<" not in check.command, task.path  # both heredocs are execution steps


def test_check_ids_are_unique_within_each_plan() -> None:
    for task in TASKS:
        ids = [check.id for check in plan_of(task.path).checks]
        assert len(ids) == len(set(ids)), task.path


def test_the_template_plans_its_example_block() -> None:
    plan = plan_of("task-template.md")
    assert plan.task_id is None
    assert [(c.line, c.command) for c in ran_checks(plan)] == [
        (69, "curl -s http://127.0.0.1:4000/health/liveliness | jq ."),
        (70, "systemctl status llm-gateway.service"),
    ]
    assert ran_checks(plan)[0].label == "Example checks: replace them with this task's own"


# --------------------------------------------------------------------------- all fixtures

# The validation commands that change state (file, 1-based line)
MUTATING_VALIDATION = {
    (f"{A}/ENG-005-Gateway-Smoke-Test.md", 91),  # POST /key/generate, meant to be refused
    (f"{A}/ENG-005-Gateway-Smoke-Test.md", 97),  # POST /key/generate
    (f"{A}/ENG-005-Gateway-Smoke-Test.md", 122),  # POST /key/delete
    (f"{B}/02-keep-models-loaded.md", 44),  # daemon-reload
    (f"{C}/06_Share_Scheduler_Config.md", 24),  # restart
}


def fixture_plans(context: PlanContext) -> dict[str, Plan]:
    plans = {}
    for path in generation_markdown_files():
        doc = parse_document(path.read_bytes(), str(path))
        if doc.is_task and doc.task_id is not None:
            plans[relative(path)] = build_plan(doc, context)
    return plans


def test_the_guard_flags_exactly_the_mutating_validation_commands() -> None:
    plans = fixture_plans(PlanContext(default_component="api-gateway", guard=mutation_reason))
    flagged = {
        (relative_path, check.line)
        for relative_path, plan in plans.items()
        for check in plan.checks
        if check.guard_reason is not None
    }
    # the read-only POSTs (chat completions, embeddings, …/search, /api/generate) are not here
    assert flagged == MUTATING_VALIDATION
    for relative_path, plan in plans.items():
        for check in plan.checks:
            if check.guard_reason is not None:
                assert any("--allow-mutating" in note for note in check.notes), (
                    relative_path,
                    check,
                )


def test_totals_read_by_hand() -> None:
    """76 validation steps in 20 tasks (assignments counted): 38 in Test Commands, 24 in Test
    Steps fences, 14 inline; 24 Must-Pass items (six A tasks, four each)."""
    plans = fixture_plans(CONTEXT)
    assert len(plans) == 20
    by_source = {"test-commands": 0, "test-steps-fenced": 0, "test-steps-inline": 0}
    for relative_path, plan in plans.items():
        path = GEN_TASKS / relative_path
        inline_lines = {
            inline.line + 1
            for inline in parse_document(path.read_bytes(), str(path)).inline_commands
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
    assert by_source == {"test-commands": 38, "test-steps-fenced": 24, "test-steps-inline": 14}
    must_pass = [
        check for plan in plans.values() for check in plan.checks if check.kind == "not-run"
    ]
    assert len(must_pass) == 6 * 4


def test_the_table_paths_exist() -> None:
    assert all(Path(GEN_TASKS / task.path).is_file() for task in TASKS)
