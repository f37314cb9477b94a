"""The parser on the team's own fixtures in the three template generations (the twin of
test_corpus_parse.py, which needs ../shared/corpus); expected values read by hand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from runner.markdown.document import parse_document
from runner.models import TaskDocument
from tests.generations import (
    GEN_HISTORY,
    GEN_TASKS,
    A,
    B,
    C,
    generation_markdown_files,
    relative,
)

TEMPLATE = "task-template.md"
TASK_FILES = {
    TEMPLATE,
    *(
        f"{A}/{name}"
        for name in (
            "ENG-001-Install-LiteLLM-Proxy.md",
            "ENG-002-Write-Gateway-Config.md",
            "ENG-002.5-Configure-Gateway-Environment.md",
            "ENG-003-Restart-Ollama-Hosts.md",
            "ENG-004-Publish-OpenAPI-Schema.md",
            "ENG-005-Gateway-Smoke-Test.md",
        )
    ),
    *(
        f"{B}/{name}"
        for name in (
            "01-pull-embedding-model.md",
            "02-keep-models-loaded.md",
            "03-restart-ollama.md",
            "04-validate-chat-path.md",
            "05-document-rollback.md",
            "05-validate-embedding-path.md",
        )
    ),
    *(
        f"{C}/{name}"
        for name in (
            "01_Pin_Scheduler_Runtime.md",
            "02_Require_Scheduler_Token.md",
            "03_Route_Embeddings_Via_Gateway.md",
            "05_Retire_Cron_Scheduler.md",
            "06_Share_Scheduler_Config.md",
            "08_Add_Scheduler_Tests.md",
            "09_Write_Scheduler_Runbook.md",
            "10_Document_Scheduler_Rollback.md",
        )
    ),
}
NOT_TASKS = {f"{A}/README.md", f"{A}/Load-Test-Notes.md", f"{B}/overview.md"}

MUST_PASS = ["Service Health", "End-to-End", "Performance", "Security"]
A_STATUS = [
    "Current Status",
    "Completion",
    "Time Estimated",
    "Time Actual",
    "Last Updated",
    "Blocked By",
]
B_STATUS = [("Current Status", "Not Started"), ("Completion", "0%"), ("Last Updated", "2026-03-02")]
C_STATUS = [
    ("Current Status", "Not Started"),
    ("Completion Percentage", "0%"),
    ("Last Updated", "2026-03-02"),
]
CODE = 'curl -s -o /dev/null -w "%{http_code}\\n"'
TOKEN = '-H "Authorization: Bearer sk-orc-dev-local"'
ORC = "http://127.0.0.1:8088"


def a_status(estimated: str, blocked_by: str) -> list[tuple[str, str]]:
    values = ["Not Started", "0%", estimated, "[To be filled]", "2026-03-02", blocked_by]
    return list(zip(A_STATUS, values, strict=True))


# Read by hand from the files. `runnable`: runnable fenced blocks per section.
EXPECTED: dict[str, dict[str, object]] = {
    f"{A}/ENG-001-Install-LiteLLM-Proxy.md": {
        "task_id": "ENG-001",
        "title": "Install the LiteLLM Proxy on the Gateway Host",
        "components": ("api-gateway",),
        "must_pass": ["Test Infrastructure", "End-to-End", "Performance", "Security"],
        "runnable": {"execution": 2, "test-commands": 1},
        "status": a_status("0.7 hours", "None"),
        "change_log": 1,
    },
    f"{A}/ENG-002-Write-Gateway-Config.md": {
        "task_id": "ENG-002",
        "title": "Write the Gateway Model Config",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},
        "status": a_status("1.2 hours", "ENG-001 (Proxy Install)"),
        "change_log": 1,
    },
    f"{A}/ENG-002.5-Configure-Gateway-Environment.md": {
        "task_id": "ENG-002.5",
        "title": "Configure the Gateway Environment File",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},
        "status": a_status("0.4 hours", "ENG-002 (Gateway Config)"),
        "change_log": 1,
    },
    f"{A}/ENG-003-Restart-Ollama-Hosts.md": {
        "task_id": "ENG-003",
        "title": "Restart Ollama on Both Model Hosts",
        "components": ("llm-01", "llm-02"),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},
        "status": a_status("0.5 hours", "ENG-002.5 (Environment File)"),
        "change_log": 1,
    },
    f"{A}/ENG-004-Publish-OpenAPI-Schema.md": {
        "task_id": "ENG-004",
        "title": "Publish the Gateway's OpenAPI Schema",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},  # and a `markdown` block in the Notes
        "status": a_status("0.3 hours", "None"),
        "change_log": 1,
    },
    f"{A}/ENG-005-Gateway-Smoke-Test.md": {
        "task_id": "ENG-005",
        "title": "Smoke-Test Keys, Chat and Search Through the Gateway",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,  # not the five-item Definition of Done list
        "runnable": {"execution": 1, "test-commands": 1},
        "status": a_status("0.8 hours", "ENG-003 (Ollama Restart), ENG-004 (OpenAPI)"),
        "change_log": 1,
    },
    TEMPLATE: {
        "task_id": None,
        "title": None,
        "components": (),
        "must_pass": MUST_PASS,
        "runnable": {"test-commands": 1},
        "status": list(
            zip(
                A_STATUS,
                [
                    "[Not Started | In Progress | Blocked | Testing | Complete]",
                    "[0-100%]",
                    "[Hours]",
                    "[Hours]",
                    "[YYYY-MM-DD]",
                    "[Task IDs, or None]",
                ],
                strict=True,
            )
        ),
        "change_log": 2,
    },
    f"{B}/01-pull-embedding-model.md": {
        "task_id": "MOD-001",
        "title": "Pull the Embedding Model on llm-02",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 1, "test-steps": 2},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/02-keep-models-loaded.md": {
        "task_id": "MOD-002",
        "title": "Keep Models Loaded Longer on llm-01",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 1, "test-steps": 2},  # plus one `ini` block, not runnable
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/03-restart-ollama.md": {
        "task_id": "MOD-003",
        "title": "Restart Ollama on llm-01",
        "runnable": {"execution": 2, "test-steps": 2},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/04-validate-chat-path.md": {
        "task_id": "MOD-004.1",
        "title": "Validate the Chat Path Through the Gateway",
        "components": (),
        "must_pass": [],
        "runnable": {"test-steps": 1},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/05-validate-embedding-path.md": {  # CRLF line endings
        "task_id": "MOD-004.2",
        "title": "Validate the Embedding Path Through the Gateway",
        "runnable": {"test-steps": 1},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/05-document-rollback.md": {
        "task_id": "MOD-005",
        "title": "Confirm the Keep-Alive Rollback Procedure",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 2, "test-steps": 2},  # and an `ini` block
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{C}/01_Pin_Scheduler_Runtime.md": {
        "task_id": "ENG-001",
        # the Task Title line has no trailing double space: it runs into the Priority line
        "title": "Run the Scheduler From Its Own Virtualenv",
        "components": (),
        "must_pass": [],
        "runnable": {},  # its one block is `ini`
        "inline": [
            ("sudo systemctl is-active orc-scheduler", "active"),
            ("ss -ltnp | grep ':8088'", None),
            (f"{CODE} {ORC}/healthz", "200"),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/02_Require_Scheduler_Token.md": {  # no final newline
        "task_id": "ENG-002",
        "title": "Require a Token on the Scheduler API",
        "runnable": {},
        "inline": [
            (f"{CODE} {ORC}/v1/jobs", "401"),
            (f"{CODE} {TOKEN} {ORC}/v1/jobs", None),  # two code spans in the parenthesis
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/03_Route_Embeddings_Via_Gateway.md": {
        "task_id": "ENG-003",
        "title": "Send the Scheduler's Embedding Calls Through the Gateway",
        "runnable": {"test-steps": 1},
        "inline": [],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/05_Retire_Cron_Scheduler.md": {
        "task_id": "ENG-005",
        "title": "Retire the Old `cron.py` Entry Point",
        "runnable": {},
        "inline": [
            ("systemctl cat orc-scheduler | grep -i ExecStart", None),
            ("pgrep -af cron.py", None),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/06_Share_Scheduler_Config.md": {
        "task_id": "ENG-006",
        "title": "Move the Scheduler Config Into the Shared Config Repo",
        "runnable": {},
        "inline": [
            ("ls -l /srv/orc/scheduler.yaml", None),
            ("sudo systemctl restart orc-scheduler && sleep 5", None),
            (f"{CODE} {TOKEN} {ORC}/healthz", "200"),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/08_Add_Scheduler_Tests.md": {
        "task_id": "ENG-008",
        "title": "Add Automated Tests for the Scheduler",
        "runnable": {},
        "inline": [("cd /srv/orc/", None), ("pytest -q tests/", None)],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/09_Write_Scheduler_Runbook.md": {
        "task_id": "ENG-009",
        "title": "Write the Scheduler Runbook",
        "runnable": {},
        "inline": [],  # a person does every step; `orc-admin audit` is named mid-sentence
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/10_Document_Scheduler_Rollback.md": {  # starts with a UTF-8 BOM
        "task_id": "ENG-010",
        "title": "Document and Try the Scheduler Rollback",
        "runnable": {},
        "inline": [
            ("sudo systemctl is-active orc-scheduler", "active"),
            (f"{CODE} {TOKEN} {ORC}/health", None),  # "(Note: …)" is no expectation
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
}


@pytest.fixture(scope="module")
def parsed() -> dict[str, TaskDocument]:
    return {
        relative(path): parse_document(path.read_bytes(), str(path))
        for path in generation_markdown_files()
    }


def test_the_fixture_folder_has_24_markdown_files(parsed: dict[str, TaskDocument]) -> None:
    assert len(parsed) == 24
    assert set(parsed) == TASK_FILES | NOT_TASKS


def test_exactly_the_template_family_is_tasks(parsed: dict[str, TaskDocument]) -> None:
    tasks = {name for name, doc in parsed.items() if doc.is_task}
    assert tasks == TASK_FILES
    with_ids = [doc.task_id for doc in parsed.values() if doc.is_task and doc.task_id]
    assert len(with_ids) == 20
    assert parsed[TEMPLATE].task_id is None  # `[e.g., ENG-001]` is a placeholder
    # the same IDs in the gateway (A) and orchestrator (C) folders, with unrelated content
    twice = sorted(task_id for task_id, count in Counter(with_ids).items() if count == 2)
    assert twice == ["ENG-001", "ENG-002", "ENG-003", "ENG-005"]


def test_non_task_markdown_with_template_words_is_not_a_task(
    parsed: dict[str, TaskDocument],
) -> None:
    # README: a `| Task ID |` table, a broken H1 and `**Current Status**` under Progress Tracking
    readme = parsed[f"{A}/README.md"]
    assert not readme.is_task and readme.task_id is None
    assert any(f.key == "current status" for f in readme.fields)
    # overview: a Validation Criteria heading over a bash block, but no Task ID
    overview = parsed[f"{B}/overview.md"]
    assert not overview.is_task
    assert any(h.name == "validation criteria" for h in overview.headings)
    # notes whose last fence is never closed: it runs to the end of the file, harmlessly
    notes = parsed[f"{A}/Load-Test-Notes.md"]
    assert not notes.is_task
    assert [(b.lang, b.closed) for b in notes.code_blocks] == [("bash", True), ("text", False)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_values_read_by_hand(parsed: dict[str, TaskDocument], name: str) -> None:
    doc = parsed[name]
    expected = EXPECTED[name]
    assert doc.is_task
    assert doc.task_id == expected["task_id"]
    assert doc.title == expected["title"]
    if "components" in expected:
        assert doc.components == expected["components"]
    if "must_pass" in expected:
        assert [item.name for item in doc.must_pass] == expected["must_pass"]
    runnable = Counter(block.section for block in doc.code_blocks if block.runnable)
    assert dict(runnable) == expected["runnable"]
    if "inline" in expected:
        assert [(c.command, c.expected) for c in doc.inline_commands] == expected["inline"]
    assert doc.status is not None and doc.status.change_log is not None
    assert [(f.name, f.value) for f in doc.status.fields] == expected["status"]
    assert len(doc.status.change_log.items) == expected["change_log"]


def test_block_counts_read_by_hand(parsed: dict[str, TaskDocument]) -> None:
    blocks = [block for doc in parsed.values() if doc.is_task for block in doc.code_blocks]
    assert len(blocks) == 36
    assert Counter(block.lang for block in blocks) == {"bash": 31, "ini": 4, "markdown": 1}
    by_family = Counter(
        (name.split("/")[0], block.section)
        for name, doc in parsed.items()
        if doc.is_task
        for block in doc.code_blocks
        if block.section in ("test-commands", "test-steps")
    )
    assert by_family == {
        (A, "test-commands"): 6,
        (TEMPLATE, "test-commands"): 1,
        (B, "test-steps"): 10,
        (C, "test-steps"): 1,
    }
    inline = Counter(
        name.split("/")[0] for name, doc in parsed.items() for _ in doc.inline_commands
    )
    assert inline == {C: 14}


def test_list_indented_heredoc_terminator_lands_in_column_zero(
    parsed: dict[str, TaskDocument],
) -> None:
    doc = parsed[f"{A}/ENG-002.5-Configure-Gateway-Environment.md"]
    (execution,) = [b for b in doc.code_blocks if b.section == "execution"]
    assert execution.indent == 3
    assert execution.body[-1] == "ENV"
    assert execution.body[2] == ""  # L50 is three spaces: all container indent
    assert execution.body[4] == "sudo tee -a /etc/llm-gateway/gateway.env >/dev/null <<'ENV'"
    assert execution.body[7] == "LITELLM_MASTER_KEY=sk-gw-master-0000     # rotate before go-live"


def test_b_test_steps_fences_know_their_list_item(parsed: dict[str, TaskDocument]) -> None:
    doc = parsed[f"{B}/01-pull-embedding-model.md"]
    steps = [b for b in doc.code_blocks if b.section == "test-steps"]
    assert [(b.list_item, b.indent, b.span.start + 1) for b in steps] == [(0, 4, 40), (1, 4, 49)]
    assert steps[0].body[-1] == "fi"
    assert steps[0].body[1] == '    echo "✅ Model Check: nomic-embed-text is present."'


def test_whitespace_only_lines_in_fences_keep_what_the_indent_leaves(
    parsed: dict[str, TaskDocument],
) -> None:
    # B's CRLF file: L49 inside its Test Steps fence is four spaces, all container indent
    doc = parsed[f"{B}/05-validate-embedding-path.md"]
    (block,) = doc.code_blocks
    assert doc.lines[48] == "    "
    assert block.body[49 - 1 - block.body_start] == ""


def test_emoji_headings_with_and_without_variation_selector(
    parsed: dict[str, TaskDocument],
) -> None:
    with_vs16 = parsed[f"{A}/ENG-002-Write-Gateway-Config.md"]
    without = parsed[f"{A}/ENG-002.5-Configure-Gateway-Environment.md"]
    risk = [h for h in with_vs16.headings if h.name == "risk assessment"]
    assert [h.text for h in risk] == ["\u26a0\ufe0f Risk Assessment"]
    risk = [h for h in without.headings if h.name == "risk assessment"]
    assert [h.text for h in risk] == ["\u26a0 Risk Assessment"]
    context = [h.text for h in with_vs16.headings if h.name == "infrastructure context"]
    assert context == ["\U0001f3d7\ufe0f Infrastructure Context"]
    plain = parsed[f"{C}/01_Pin_Scheduler_Runtime.md"]
    assert [h.name for h in plain.headings if h.level == 2] == [
        "task information",
        "execution steps",
        "validation test",
        "status tracking",
        "additional requirements",
        "notes",
    ]


def test_task_id_label_spellings_and_value_styles(parsed: dict[str, TaskDocument]) -> None:
    a = parsed[f"{A}/ENG-002-Write-Gateway-Config.md"]
    c = parsed[f"{C}/02_Require_Scheduler_Token.md"]
    (a_id,) = [f for f in a.fields if f.key == "task id"]
    (c_id,) = [f for f in c.fields if f.key == "task id"]
    assert (a_id.name, a_id.value, a_id.backticked) == ("Task ID", "ENG-002", True)
    assert a.lines[a_id.line] == "> **Task ID**: `ENG-002`  "
    assert (c_id.name, c_id.value, c_id.backticked) == ("Task ID", "ENG-002", False)
    assert c.lines[c_id.line] == "**Task ID:** ENG-002  "
    # B leaves its header placeholders in place
    b = parsed[f"{B}/04-validate-chat-path.md"]
    header = {f.key: f.value for f in b.fields[:4]}
    assert header == {
        "task id": "MOD-004.1",
        "priority": "High",
        "assigned to": "[Assignee]",
        "due date": "[YYYY-MM-DD]",
    }


def test_a_title_line_without_hard_break_still_ends_at_its_line(
    parsed: dict[str, TaskDocument],
) -> None:
    doc = parsed[f"{C}/01_Pin_Scheduler_Runtime.md"]
    values = {f.key: f.value for f in doc.fields}
    assert values["task title"] == "Run the Scheduler From Its Own Virtualenv"
    assert values["priority"] == "High"


def test_line_endings_and_bom_are_read_as_written(parsed: dict[str, TaskDocument]) -> None:
    no_newline = parsed[f"{C}/02_Require_Scheduler_Token.md"]
    assert no_newline.endings[-1] == ""
    assert all(ending == "\n" for ending in no_newline.endings[:-1])
    crlf = parsed[f"{B}/05-validate-embedding-path.md"]
    assert set(crlf.endings) == {"\r\n"}
    bom = parsed[f"{C}/10_Document_Scheduler_Rollback.md"]
    assert bom.has_bom and bom.lines[0] == "# Engineering Task Template"
    assert not any(doc.has_bom for name, doc in parsed.items() if name != relative(Path(bom.path)))


def test_every_field_value_is_its_line_slice(parsed: dict[str, TaskDocument]) -> None:
    checked = 0
    for doc in parsed.values():
        for f in doc.fields:
            assert doc.lines[f.line][f.value_start : f.value_end] == f.value
            checked += 1
    assert checked > 200


def test_text_round_trips_for_every_file(parsed: dict[str, TaskDocument]) -> None:
    for path in generation_markdown_files():
        doc = parsed[relative(path)]
        rebuilt = "".join(a + b for a, b in zip(doc.lines, doc.endings, strict=True))
        bom = b"\xef\xbb\xbf" if doc.has_bom else b""
        assert bom + rebuilt.encode("utf-8") == path.read_bytes()


def test_history_files_parse() -> None:
    one_line = GEN_HISTORY / "02_Require_Scheduler_Token@newlines-lost.md"
    data = one_line.read_bytes()
    assert b"\n" not in data and b"\r" not in data
    doc = parse_document(data, str(one_line))
    assert len(doc.lines) == 1
    assert not doc.is_task
    assert doc.status is None and doc.code_blocks == ()
    first = GEN_HISTORY / "task-template@first.md"
    template_v1 = parse_document(first.read_bytes(), str(first))
    assert template_v1.is_task and template_v1.task_id is None
    assert template_v1.status is not None
    assert [f.key for f in template_v1.status.fields] == [
        "current status",
        "completion",
        "last updated",
    ]
    assert template_v1.must_pass == () and template_v1.code_blocks == ()


def test_the_fixture_folder_is_where_the_helpers_look() -> None:
    assert GEN_TASKS.is_dir() and GEN_HISTORY.is_dir()
