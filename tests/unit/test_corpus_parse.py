"""The parser on the 44 real Markdown files of the shared corpus; expected values read by hand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from runner.markdown.document import parse_document
from runner.models import TaskDocument
from tests.conftest import CORPUS, corpus_markdown_files

A = "RAG-Document-Upsert-Endpoint-Tasks"
B = "Rag-Serach-Tasks"
C = "Refactor Tasks"

TASK_FILES = {
    "task-template.md",
    *(
        f"{A}/{name}"
        for name in (
            "ENG-000-Create-Test-Suite.md",
            "ENG-001-Create-SOLID-Models-Module.md",
            "ENG-002-Implement-Services-Module.md",
            "ENG-003-Create-Routes-Module.md",
            "ENG-004-Register-Router-App-Factory.md",
            "ENG-004.5-Configure-Environment-Variables.md",
            "ENG-005-Restart-Service-Verify-Deployment.md",
            "ENG-006-Validate-OpenAPI-Documentation.md",
            "ENG-007-Functional-Smoke-Test.md",
            "ENG-008-Production-Hardening-Implementation.md",
        )
    ),
    *(
        f"{B}/{name}"
        for name in (
            "01-deploy-rag-code.md",
            "02-configure-rag-feature.md",
            "03-restart-and-verify-service.md",
            "04-validate-query-path.md",
            "05-document-rollback-procedure.md",
            "05-validate-vector-path.md",
            "06-validate-auth-requirement.md",
            "07-validate-input-validation.md",
        )
    ),
    *(
        f"{C}/{name}"
        for name in (
            "01_Switch_Runtime_To_Pipeline.md",
            "02_Migrate_Security_Middleware.md",
            "03_Migrate_Transform_Middleware.md",
            "04_Migrate_Execution_Middleware.md",
            "05_Deprecate_Monolithic_Main.md",
            "06_Consolidate_Configuration.md",
            "07_Correct_Master_Key_Handling.md",
            "08_Implement_Pipeline_Tests.md",
            "09_Update_Documentation.md",
            "10_Document_Rollback_Procedure.md",
        )
    ),
}

MUST_PASS = ["Service Health", "End-to-End", "Performance", "Security"]
A_STATUS = [
    "Current Status",
    "Completion",
    "Time Estimated",
    "Time Actual",
    "Last Updated",
    "Blocked By",
]
B_STATUS = [("Current Status", "Not Started"), ("Completion", "0%"), ("Last Updated", "2025-08-21")]
C_STATUS = [
    ("Current Status", "Not Started"),
    ("Completion Percentage", "0%"),
    ("Last Updated", "2025-08-21"),
]
CURL_CODE = 'curl -s -o /dev/null -w "%{http_code}\\n" '

# Read by hand from the files. `runnable`: runnable fenced blocks per section.
EXPECTED: dict[str, dict[str, object]] = {
    f"{A}/ENG-000-Create-Test-Suite.md": {
        "task_id": "ENG-000",
        "title": "Create Comprehensive Test Suite for RAG Upsert Implementation",
        "components": ("api-gateway",),
        "must_pass": ["Test Infrastructure", "End-to-End", "Performance", "Security"],
        "runnable": {"execution": 2, "test-commands": 1},
        "status": list(
            zip(
                A_STATUS,
                ["Not Started", "0%", "2.1 hours", "[To be filled]", "2025-08-21", "None"],
                strict=True,
            )
        ),
        "change_log": 1,
    },
    f"{A}/ENG-004.5-Configure-Environment-Variables.md": {
        "task_id": "ENG-004.5",
        "title": "Configure Environment Variables for RAG Write Authentication",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},
        "status": list(
            zip(
                A_STATUS,
                [
                    "Not Started",
                    "0%",
                    "0.5 hours",
                    "[To be filled]",
                    "2025-08-21",
                    "ENG-003 (Routes Module)",
                ],
                strict=True,
            )
        ),
        "change_log": 1,
    },
    f"{A}/ENG-005-Restart-Service-Verify-Deployment.md": {
        "task_id": "ENG-005",
        "title": "Restart Gateway Service and Verify Deployment",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 2, "test-commands": 1},
        "status": list(
            zip(
                A_STATUS,
                [
                    "Not Started",
                    "0%",
                    "0.6 hours",
                    "[To be filled]",
                    "2025-08-21",
                    "ENG-004.5 (Environment Configuration)",
                ],
                strict=True,
            )
        ),
        "change_log": 1,
    },
    f"{A}/ENG-007-Functional-Smoke-Test.md": {
        "task_id": "ENG-007",
        "title": "Functional Smoke Test with Document Upsert and Search Verification",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,
        "runnable": {"execution": 1, "test-commands": 1},
        "change_log": 1,
    },
    f"{A}/ENG-008-Production-Hardening-Implementation.md": {
        "task_id": "ENG-008",
        "title": "Implement Production Hardening with Dimension Guards and Schema Hygiene",
        "components": ("api-gateway",),
        "must_pass": MUST_PASS,  # not the 9-item Definition of Done list
        "runnable": {"test-commands": 1},
        "change_log": 1,
    },
    "task-template.md": {
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
                    "[Hours/Days]",
                    "[Hours/Days]",
                    "[YYYY-MM-DD]",
                    "[If blocked, what's blocking it]",
                ],
                strict=True,
            )
        ),
        "change_log": 2,
    },
    f"{B}/01-deploy-rag-code.md": {
        "task_id": "RAG-001",
        "title": "Deploy RAG Feature Code and Dependencies",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 1, "test-steps": 2},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/02-configure-rag-feature.md": {
        "task_id": "RAG-002",
        "title": "Configure and Enable the RAG Feature",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 1, "test-steps": 2},  # plus one `ini` block, not runnable
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/04-validate-query-path.md": {
        "task_id": "RAG-004.1",
        "title": "Validate RAG Query Path",
        "components": (),
        "must_pass": [],
        "runnable": {"test-steps": 1},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{B}/05-document-rollback-procedure.md": {
        "task_id": "RAG-005",
        "title": "Confirm RAG Feature Rollback Procedure",
        "components": (),
        "must_pass": [],
        "runnable": {"execution": 2, "test-steps": 2},
        "status": B_STATUS,
        "change_log": 1,
    },
    f"{C}/01_Switch_Runtime_To_Pipeline.md": {
        "task_id": "ENG-001",
        "title": "Switch Runtime to GatewayPipeline Entrypoint",
        "components": (),
        "must_pass": [],
        "runnable": {},  # the one block is `ini`
        "inline": [
            ("sudo systemctl is-active hx-gateway-ml", "active"),
            ("ss -ltnp | grep ':4010'", None),
            (CURL_CODE + "http://127.0.0.1:4010/healthz", "200"),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/02_Migrate_Security_Middleware.md": {
        "task_id": "ENG-002",
        "title": "Migrate Security Logic to SecurityMiddleware",
        "runnable": {},
        "inline": [
            (CURL_CODE + "http://127.0.0.1:4010/v1/models", "401"),
            (
                CURL_CODE + '-H "Authorization: Bearer sk-hx-dev-default" '
                "http://127.0.0.1:4010/v1/models",
                None,
            ),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/03_Migrate_Transform_Middleware.md": {
        "task_id": "ENG-003",
        "title": "Migrate Request Transformation to TransformMiddleware",
        "runnable": {"test-steps": 1},
        "inline": [],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/05_Deprecate_Monolithic_Main.md": {
        "task_id": "ENG-005",
        "title": "Deprecate Monolithic `main.py` File",
        "runnable": {},
        "inline": [
            ("systemctl cat hx-gateway-ml | grep -i ExecStart", None),
            ("pgrep -af main.py", None),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/08_Implement_Pipeline_Tests.md": {
        "task_id": "ENG-008",
        "title": "Implement Automated Pipeline Tests",
        "runnable": {},
        "inline": [
            ("cd /opt/HX-Infrastructure-/api-gateway/gateway/", None),
            ("pytest -q tests/", None),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/09_Update_Documentation.md": {
        "task_id": "ENG-009",
        "title": "Update All Technical Documentation",
        "runnable": {},
        "inline": [],  # every step is done by a person
        "status": C_STATUS,
        "change_log": 1,
    },
    f"{C}/10_Document_Rollback_Procedure.md": {
        "task_id": "ENG-010",
        "title": "Document and Verify Rollback Procedure",
        "runnable": {},
        "inline": [
            ("sudo systemctl is-active hx-gateway-ml", "active"),
            (
                CURL_CODE + '-H "Authorization: Bearer sk-hx-dev-default" '
                "http://127.0.0.1:4010/health",
                None,
            ),
        ],
        "status": C_STATUS,
        "change_log": 1,
    },
}


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


@pytest.fixture(scope="module")
def parsed(corpus_dir: Path) -> dict[str, TaskDocument]:
    return {
        _relative(path, corpus_dir): parse_document(path.read_bytes(), str(path))
        for path in corpus_markdown_files()
    }


def test_corpus_has_44_markdown_files(parsed: dict[str, TaskDocument]) -> None:
    assert len(parsed) == 44


def test_exactly_the_template_family_is_tasks(parsed: dict[str, TaskDocument]) -> None:
    tasks = {name for name, doc in parsed.items() if doc.is_task}
    assert tasks == TASK_FILES
    with_ids = [doc.task_id for doc in parsed.values() if doc.is_task and doc.task_id]
    assert len(with_ids) == 28
    assert parsed["task-template.md"].task_id is None
    # ENG-001 … ENG-008 each appear twice (upsert tasks and refactor tasks)
    twice = sorted(task_id for task_id, count in Counter(with_ids).items() if count == 2)
    assert twice == [f"ENG-00{n}" for n in range(1, 9)]


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
    if "status" in expected:
        assert [(f.name, f.value) for f in doc.status.fields] == expected["status"]
    assert len(doc.status.change_log.items) == expected["change_log"]


def test_corpus_counts_from_findings(parsed: dict[str, TaskDocument]) -> None:
    blocks = [block for doc in parsed.values() if doc.is_task for block in doc.code_blocks]
    assert len(blocks) == 45
    assert Counter(block.lang for block in blocks) == {"bash": 41, "ini": 4}
    by_family = Counter(
        (name.split("/")[0], block.section)
        for name, doc in parsed.items()
        if doc.is_task
        for block in doc.code_blocks
        if block.section in ("test-commands", "test-steps")
    )
    assert by_family == {
        (A, "test-commands"): 10,
        ("task-template.md", "test-commands"): 1,
        (B, "test-steps"): 11,
        (C, "test-steps"): 2,
    }
    inline = Counter(
        name.split("/")[0] for name, doc in parsed.items() for _ in doc.inline_commands
    )
    assert inline == {C: 15}


def test_list_indented_heredoc_terminator_lands_in_column_zero(
    parsed: dict[str, TaskDocument],
) -> None:
    doc = parsed[f"{A}/ENG-004.5-Configure-Environment-Variables.md"]
    (execution,) = [b for b in doc.code_blocks if b.section == "execution"]
    assert execution.indent == 3
    assert execution.body[-1] == "ENV"
    assert execution.body[2] == ""  # L54 is three spaces: all container indent
    assert execution.body[4] == "sudo tee -a /etc/hx/gateway.env >/dev/null <<'ENV'"


def test_b_test_steps_fences_know_their_list_item(parsed: dict[str, TaskDocument]) -> None:
    doc = parsed[f"{B}/01-deploy-rag-code.md"]
    steps = [b for b in doc.code_blocks if b.section == "test-steps"]
    assert [(b.list_item, b.indent, b.span.start + 1) for b in steps] == [(0, 4, 40), (1, 4, 49)]
    assert steps[0].body[-1] == "fi"


def test_refactor_02_keeps_its_missing_final_newline(parsed: dict[str, TaskDocument]) -> None:
    doc = parsed[f"{C}/02_Migrate_Security_Middleware.md"]
    assert doc.endings[-1] == ""
    assert all(ending == "\n" for ending in doc.endings[:-1])


def test_every_field_value_is_its_line_slice(parsed: dict[str, TaskDocument]) -> None:
    checked = 0
    for doc in parsed.values():
        for f in doc.fields:
            assert doc.lines[f.line][f.value_start : f.value_end] == f.value
            checked += 1
    assert checked > 300


def test_text_round_trips_for_every_file(parsed: dict[str, TaskDocument]) -> None:
    for path in corpus_markdown_files():
        doc = next(d for d in parsed.values() if d.path == str(path))
        rebuilt = "".join(a + b for a, b in zip(doc.lines, doc.endings, strict=True))
        assert rebuilt.encode("utf-8") == path.read_bytes()


def test_history_files_parse(corpus_dir: Path) -> None:
    one_line = CORPUS / "history" / "02_Migrate_Security_Middleware@dc3b0ab.md"
    doc = parse_document(one_line.read_bytes(), str(one_line))
    assert len(doc.lines) == 1
    assert not doc.is_task
    assert doc.status is None and doc.code_blocks == ()
    first = CORPUS / "history" / "task-template@dc3b0ab.md"
    template_v1 = parse_document(first.read_bytes(), str(first))
    assert template_v1.is_task and template_v1.task_id is None
    assert template_v1.status is not None
    assert [f.key for f in template_v1.status.fields] == [
        "current status",
        "completion",
        "last updated",
    ]
