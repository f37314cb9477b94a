"""The task-file parser on synthetic documents, one variant feature at a time."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import InputError
from runner.markdown.document import (
    field_on_line,
    heading_name,
    looks_like_command,
    parse_document,
)
from runner.markdown.evidence_block import (
    EVIDENCE_END,
    EVIDENCE_START,
    body_checksum,
    checksum_line,
)
from runner.models import Span, TaskDocument

# "␠" marks a space that matters (hard breaks, whitespace-only code lines).
TEMPLATE_A = """\
# Engineering Task: Restart the Gateway

> **Task ID**: `ENG-042`␠␠
> **Priority**: `High`␠␠
> **Due Date**: `[YYYY-MM-DD]`

---

## 🏗️ Infrastructure Context
- **Component**: `api-gateway, llm-01 | orc`
- **Service Impact**: `hx-gateway-ml.service (port 4010)`

---

## ✅ Execution Plan

### Step 0: Verify Preconditions/Pre-Flight

1. **Check** *(Est: 0.1 hours)*

### Implementation Steps

1. **Write the env file** *(Est: 0.2 hours)*

   ```bash
   sudo tee -a /etc/hx/gateway.env >/dev/null <<'ENV'
   EMBEDDING_DIM=1024
␠␠␠␠␠␠
   ENV
   ```

---

## 🧪 Validation Criteria

### Must-Pass Validations

1. **Service Health**: All affected services respond to health checks
2. **End-to-End**: Complete workflow functions as expected␠␠
3. **Performance**: No degradation in response times

### Test Case

- **Description**: Restart and check the service
- **Expected Result**: The service is active

### Test Steps

1. Check the service is up

### Test Commands

```bash
# Check the service
systemctl is-active hx-gateway-ml
```

```ini
[Service]
```

---

## 📊 Status Tracking

- **Current Status**: `Not Started`
- **Completion**: `0%`
- **Last Updated**: `2025-08-21`

### Change Log

- **2025-08-21**: Task created.
- **2025-08-22**: Reviewed.

---

## 📎 Additional Information

```bash
echo other
```
""".replace("␠", " ")

TEMPLATE_C = """\
# Engineering Task Template

## Task Information
**Task ID:** ENG-007␠␠
**Task Title:** Deprecate Monolithic `main.py` File
**Priority:** High␠␠

---

## Execution Steps
1.  Reload: `sudo systemctl daemon-reload`.

---

## Validation Test
**Test Description:** Confirm the service is live.␠␠
**Expected Result:** It answers `200`.

### Test Steps
1.  Check if the service is active: `sudo systemctl is-active hx-gateway-ml` (Expected: `active`).
2.  Check the systemd definition to confirm the `ExecStart` command.
    `systemctl cat hx-gateway-ml | grep -i ExecStart` (Expected: Shows `uvicorn` pointing to `app`).
3.  Use `systemctl show` and `grep` to look at it.
4.  Make a request to `/v1/models` without an `Authorization` header.
    - `curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:4010/v1/models` (Expected: `401`).
5.  Send a request.
    ```bash
    curl -sS http://127.0.0.1:4010/v1/models | jq
    ```
    (Expected: A JSON object).
6.  Run the suite: `pytest -q tests/` (Expected: `0` or `1`, see (notes)).

---

## Status Tracking
**Current Status:** Not Started␠␠
**Completion Percentage:** 0%␠␠
**Last Updated:** 2025-08-21␠␠

### Change Log
- 2025-08-21 - Task created.""".replace("␠", " ")


def parse(text: str, *, bom: bool = False) -> TaskDocument:
    data = text.encode("utf-8")
    return parse_document(b"\xef\xbb\xbf" + data if bom else data, "tasks/t.md")


def field(doc: TaskDocument, key: str):
    return next(f for f in doc.fields if f.key == key)


def line_of(doc: TaskDocument, text: str) -> int:
    return next(index for index, line in enumerate(doc.lines) if text in line)


# --------------------------------------------------------------------------- template A


def test_template_a_header_title_and_components() -> None:
    doc = parse(TEMPLATE_A)
    assert doc.is_task
    assert doc.task_id == "ENG-042"
    assert doc.task_id_line == 2
    assert doc.title == "Restart the Gateway"
    assert doc.title_line == 0
    assert doc.components == ("api-gateway", "llm-01", "orc")
    assert doc.component_line == line_of(doc, "**Component**")
    due = field(doc, "due date")
    assert due.placeholder and due.backticked and due.value == "[YYYY-MM-DD]"


def test_blockquote_field_with_trailing_spaces_has_exact_value_span() -> None:
    doc = parse(TEMPLATE_A)
    task_id = field(doc, "task id")
    assert doc.lines[task_id.line] == "> **Task ID**: `ENG-042`  "
    assert (task_id.value_start, task_id.value_end) == (16, 23)
    assert task_id.backticked and not task_id.placeholder
    assert task_id.name == "Task ID"


def test_every_field_value_is_its_line_slice() -> None:
    for doc in (parse(TEMPLATE_A), parse(TEMPLATE_C)):
        assert doc.fields
        for f in doc.fields:
            assert doc.lines[f.line][f.value_start : f.value_end] == f.value


def test_headings_strip_emoji_with_variation_selector() -> None:
    doc = parse(TEMPLATE_A)
    context = next(h for h in doc.headings if h.line == line_of(doc, "Infrastructure Context"))
    assert context.text == "🏗️ Infrastructure Context"
    assert "\ufe0f" in context.text
    assert context.name == "infrastructure context"
    assert context.level == 2
    # the section runs to the next H2, the `---` line included
    assert context.section == Span(context.line, line_of(doc, "## ✅ Execution Plan"))
    assert heading_name("⚠️  Risk   Assessment") == "risk assessment"
    assert heading_name("📊 STATUS Tracking") == "status tracking"


def test_comment_lines_in_code_are_not_headings() -> None:
    doc = parse(TEMPLATE_A)
    assert "# Check the service" in doc.lines
    assert all(h.text != "Check the service" for h in doc.headings)


def test_must_pass_items_with_names_and_descriptions() -> None:
    doc = parse(TEMPLATE_A)
    assert [(m.name, m.description) for m in doc.must_pass] == [
        ("Service Health", "All affected services respond to health checks"),
        ("End-to-End", "Complete workflow functions as expected"),
        ("Performance", "No degradation in response times"),
    ]
    assert doc.must_pass[0].line == line_of(doc, "**Service Health**")
    assert all(f.key != "service health" for f in doc.fields)


def test_test_case_from_list_fields() -> None:
    doc = parse(TEMPLATE_A)
    assert doc.test_case is not None
    assert doc.test_case.description == "Restart and check the service"
    assert doc.test_case.expected_result == "The service is active"
    assert doc.test_case.line == line_of(doc, "**Description**")


def test_code_blocks_with_sections_and_list_indent_removed() -> None:
    doc = parse(TEMPLATE_A)
    kinds = [(b.section, b.lang, b.runnable) for b in doc.code_blocks]
    assert kinds == [
        ("execution", "bash", True),
        ("test-commands", "bash", True),
        ("test-commands", "ini", False),
        ("other", "bash", True),
    ]
    execution = doc.code_blocks[0]
    assert execution.indent == 3
    # heredoc terminator lands in column 0; the whitespace-only line keeps what the indent left
    assert execution.body == (
        "sudo tee -a /etc/hx/gateway.env >/dev/null <<'ENV'",
        "EMBEDDING_DIM=1024",
        "   ",
        "ENV",
    )
    assert execution.closed
    assert execution.body_start == execution.span.start + 1
    assert execution.span.end - execution.span.start == len(execution.body) + 2
    commands = doc.code_blocks[1]
    assert commands.body == ("# Check the service", "systemctl is-active hx-gateway-ml")
    assert doc.lines[commands.span.start] == "```bash"
    assert doc.lines[commands.span.end - 1] == "```"


def test_status_section_fields_and_change_log() -> None:
    doc = parse(TEMPLATE_A)
    status = doc.status
    assert status is not None
    assert status.heading_line == line_of(doc, "Status Tracking")
    assert [(f.name, f.value, f.backticked) for f in status.fields] == [
        ("Current Status", "Not Started", True),
        ("Completion", "0%", True),
        ("Last Updated", "2025-08-21", True),
    ]
    log = status.change_log
    assert log is not None
    assert log.heading_line == line_of(doc, "### Change Log")
    assert [item.text for item in log.items] == [
        "- **2025-08-21**: Task created.",
        "- **2025-08-22**: Reviewed.",
    ]
    assert log.span.end == line_of(doc, "Additional Information")
    assert status.span.end == log.span.end
    assert status.evidence is None
    assert all(f.key != "2025-08-21" for f in doc.fields)


# --------------------------------------------------------------------------- line endings, BOM


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_and_cr_parse_like_lf(ending: str) -> None:
    lf = parse(TEMPLATE_A)
    other = parse(TEMPLATE_A.replace("\n", ending))
    assert other.lines == lf.lines
    assert set(other.endings) == {ending}
    assert other.fields == lf.fields
    assert other.code_blocks == lf.code_blocks
    assert other.headings == lf.headings
    assert other.status == lf.status
    assert "".join(a + b for a, b in zip(other.lines, other.endings, strict=True)) == other.text


def test_mixed_endings_keep_line_numbers() -> None:
    doc = parse("# Engineering Task: X\r\n\r> **Task ID**: `A-1`\n\n## Status Tracking\r\n")
    assert doc.endings == ("\r\n", "\r", "\n", "\n", "\r\n")
    assert doc.task_id == "A-1" and doc.task_id_line == 2
    assert doc.is_task
    assert doc.headings[-1].line == 4


def test_bom_is_removed_and_reported() -> None:
    doc = parse(TEMPLATE_A, bom=True)
    assert doc.has_bom
    assert doc.text == TEMPLATE_A
    assert doc.title == "Restart the Gateway"
    assert not parse(TEMPLATE_A).has_bom


def test_missing_final_newline_is_kept() -> None:
    doc = parse(TEMPLATE_C)
    assert doc.endings[-1] == ""
    assert doc.lines[-1] == "- 2025-08-21 - Task created."
    assert doc.status is not None and doc.status.change_log is not None
    assert [i.text for i in doc.status.change_log.items] == ["- 2025-08-21 - Task created."]


def test_u2028_inside_a_line_does_not_shift_lines() -> None:
    doc = parse("# Engineering Task: A\u2028B\n\n> **Task ID**: `X-1`\n")
    assert len(doc.lines) == 3
    assert doc.title == "A\u2028B"
    assert doc.task_id_line == 2


# --------------------------------------------------------------------------- template C


def test_template_c_fields_title_and_test_case() -> None:
    doc = parse(TEMPLATE_C)
    assert doc.is_task
    assert doc.task_id == "ENG-007"
    assert not field(doc, "task id").backticked
    assert doc.title == "Deprecate Monolithic `main.py` File"
    assert doc.title_line == 4
    assert doc.components == ()
    assert doc.component_line is None
    assert doc.test_case is not None
    assert doc.test_case.description == "Confirm the service is live."
    assert doc.test_case.expected_result == "It answers `200`."


def test_template_c_hard_break_status_lines_are_separate_fields() -> None:
    doc = parse(TEMPLATE_C)
    assert doc.status is not None
    fields = doc.status.fields
    assert [(f.name, f.value, f.backticked) for f in fields] == [
        ("Current Status", "Not Started", False),
        ("Completion Percentage", "0%", False),
        ("Last Updated", "2025-08-21", False),
    ]
    assert [f.key for f in fields] == ["current status", "completion percentage", "last updated"]
    last = fields[-1]
    assert doc.lines[last.line] == "**Last Updated:** 2025-08-21  "
    assert (last.value_start, last.value_end) == (18, 28)


def test_template_c_inline_commands_and_expectations() -> None:
    doc = parse(TEMPLATE_C)
    found = [(c.command, c.expected, c.expected_text, c.item) for c in doc.inline_commands]
    assert found == [
        # the prose is what follows "Expected:" (issue 18 item 5: shown as written)
        ("sudo systemctl is-active hx-gateway-ml", "active", "`active`", 0),
        (
            "systemctl cat hx-gateway-ml | grep -i ExecStart",
            None,
            "Shows `uvicorn` pointing to `app`",
            1,
        ),
        (
            'curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:4010/v1/models',
            "401",
            "`401`",
            3,
        ),
        ("pytest -q tests/", None, "`0` or `1`, see (notes)", 5),
    ]
    steps_list = doc.inline_commands[0].list_span
    assert all(c.list_span == steps_list for c in doc.inline_commands)
    assert doc.lines[steps_list.start].startswith("1.  Check if the service")
    assert [c.line for c in doc.inline_commands] == [
        line_of(doc, "`sudo systemctl is-active"),
        line_of(doc, "`systemctl cat"),
        line_of(doc, "- `curl"),
        line_of(doc, "`pytest -q"),
    ]


def test_fence_in_a_test_steps_item_records_the_item_and_no_inline_command() -> None:
    doc = parse(TEMPLATE_C)
    (block,) = doc.code_blocks
    assert block.section == "test-steps"
    assert block.list_item == 4
    assert block.indent == 4
    assert block.body == ("curl -sS http://127.0.0.1:4010/v1/models | jq",)
    assert all(c.item != 4 for c in doc.inline_commands)


def test_execution_inline_spans_are_not_commands() -> None:
    doc = parse(TEMPLATE_C)
    assert all("daemon-reload" not in c.command for c in doc.inline_commands)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("sudo systemctl is-active hx-gateway-ml", True),
        ("ss -ltnp | grep ':4010'", True),
        ("cd /opt/app/", True),
        ("pytest -q tests/", True),
        ("python3.11 -m pytest", True),
        ("./deploy.sh --check", True),
        ("$VENV/bin/python -c 'import x'", True),
        ("FOO=1 env", True),
        ("ExecStart", False),
        ("main.py", False),
        ("/v1/models", False),
        ("/etc/hx/gateway.env", False),
        ("Authorization", False),
        ("pytest", False),
        ("Environment=ENABLE_RAG=true", False),
        ("200 OK", False),
        ("http://127.0.0.1:4010/healthz", False),
        ("FOO=1", False),
        ("", False),
    ],
)
def test_looks_like_command(span: str, expected: bool) -> None:
    assert looks_like_command(span) is expected


# --------------------------------------------------------------------------- variants and edges


def test_placeholder_task_id_is_a_task_without_id() -> None:
    doc = parse(
        "# Engineering Task: [Task Title]\n\n> **Task ID**: `[e.g., ENG-001]`\n\n"
        "## 📊 Status Tracking\n\n- **Component**: `[api-gateway | global]`\n"
    )
    assert doc.is_task
    assert doc.task_id is None
    assert doc.task_id_line == 2
    assert doc.title is None
    assert doc.components == ()
    assert field(doc, "task id").placeholder


def test_task_needs_a_template_section() -> None:
    assert not parse("# Notes\n\n**Task ID:** ENG-1\n\n## Objective\n").is_task
    assert not parse("# Notes\n\n## Status Tracking\n\n- **Current Status**: `x`\n").is_task
    assert parse("# N\n\n**Task ID:** ENG-1\n\n## Validation Test\n").is_task


def test_field_spellings() -> None:
    assert field_on_line("**Task ID**: `ENG-000`  ", 0).value == "ENG-000"
    assert field_on_line("**Task ID:** ENG-001  ", 0).value == "ENG-001"
    assert field_on_line("- **Task ID** : ENG-2", 0).value == "ENG-2"
    assert field_on_line("> > **Task ID**: ``A`B``", 0).value == "A`B"
    spaced = field_on_line("  1. **Blocked By**: `None`", 0)
    assert spaced is not None and spaced.key == "blocked by" and spaced.backticked
    mixed = field_on_line("**Component**: `a`, `b`", 0)
    assert mixed is not None and not mixed.backticked and mixed.value == "`a`, `b`"
    assert field_on_line("**Bold** text", 0) is None
    assert field_on_line("Text **Task ID**: x", 0) is None
    assert field_on_line("****: x", 0) is None


def test_components_separated_by_commas_pipes_spaces_and_backticks() -> None:
    doc = parse("- **Components**: `llm-01`, `llm-02` orc|global\n")
    assert doc.components == ("llm-01", "llm-02", "orc", "global")


def test_blockquoted_fence_loses_the_quote_prefix() -> None:
    doc = parse("## Test Commands\n\n> ```bash\n> echo hi\n>   indented\n>\n> ```\n")
    (block,) = doc.code_blocks
    assert block.body == ("echo hi", "  indented", "")
    assert block.section == "test-commands"
    assert block.indent == 0
    assert block.closed


def test_tab_indented_fence_in_list_item() -> None:
    doc = parse("## Test Steps\n\n1.\t```bash\n\techo hi\n\t```\n")
    (block,) = doc.code_blocks
    assert block.body == ("echo hi",)
    assert block.indent == 4
    assert block.list_item == 0
    assert block.section == "test-steps"


def test_whitespace_only_code_lines_are_never_stripped_further() -> None:
    doc = parse("- x\n\n  ```sh\n  a\n      \n  \t\n  ```\n")
    (block,) = doc.code_blocks
    assert block.body == ("a", "    ", "\t")


def test_unterminated_fence_runs_to_the_end() -> None:
    doc = parse("## Test Commands\n\n```bash\necho one\n\necho two\n")
    (block,) = doc.code_blocks
    assert not block.closed
    assert block.span == Span(2, 6)
    assert block.body == ("echo one", "", "echo two")


def test_unterminated_fence_in_list_item_ends_with_the_item() -> None:
    doc = parse("## Test Steps\n\n- ```sh\n  x\n\nAfter.\n")
    (block,) = doc.code_blocks
    assert not block.closed
    assert block.body == ("x", "")
    assert block.span == Span(2, 5)


def test_fence_at_end_without_newline_is_closed() -> None:
    doc = parse("```\na\n```")
    (block,) = doc.code_blocks
    assert block.closed and block.body == ("a",)
    assert parse("```").code_blocks[0].closed is False


@pytest.mark.parametrize(
    ("fence", "info", "lang", "runnable"),
    [
        ("```bash {on=llm-01}", "bash {on=llm-01}", "bash", True),
        ("```bash{name=x}", "bash{name=x}", "bash", True),
        ("``` {name=x}", "{name=x}", "", True),
        ("```", "", "", True),
        ("```Shell", "Shell", "shell", True),
        ("```console", "console", "console", True),
        ("~~~sh", "sh", "sh", True),
        ("```ini", "ini", "ini", False),
        ("```python title", "python title", "python", False),
    ],
)
def test_fence_info_and_lang(fence: str, info: str, lang: str, runnable: bool) -> None:
    closing = "~~~" if fence.startswith("~") else "```"
    (block,) = parse(f"{fence}\nx\n{closing}\n").code_blocks
    assert (block.info, block.lang, block.runnable) == (info, lang, runnable)


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("## ✅ Execution Plan", "execution"),
        ("## Execution Steps", "execution"),
        ("### Implementation Steps", "execution"),
        ("### Step 0: Verify Preconditions", "execution"),
        ("## 📊 Status Tracking", "status"),
        ("## 🧪 Validation Criteria", "criteria"),
        ("## Validation Test", "criteria"),
        ("## Validation", "validation"),
        ("### Verification Commands", "validation"),
        ("## Post-Deployment Validation", "validation"),
        ("### Step 4: Verify the proxy", "validation"),
        ("## Pre-Flight Checks", "pre"),
        ("## Pre-Execution Validation", "pre"),
        ("## Rollback Procedure", "rollback"),
        ("## Troubleshooting", "troubleshooting"),
        ("## Credential Setup", "credentials"),
        ("## Implementation", "execution"),
        ("### Test Commands", "test-commands"),
        ("### Test Steps", "test-steps"),
        ("## 📎 Additional Information", "other"),
    ],
)
def test_section_kind_of_a_fence(heading: str, kind: str) -> None:
    (block,) = parse(f"{heading}\n\n```bash\nx\n```\n").code_blocks
    assert block.section == kind


def test_nested_heading_inherits_the_outer_kind() -> None:
    doc = parse("## 🧪 Validation Criteria\n\n### Definition of Done\n\n```bash\nx\n```\n")
    assert doc.code_blocks[0].section == "criteria"


def test_a_never_run_section_wins_over_a_validation_heading_inside_it() -> None:
    doc = parse("## Rollback\n\n### Verification\n\n```bash\nx\n```\n")
    assert doc.code_blocks[0].section == "rollback"
    doc = parse("## Verification\n\n### Rollback\n\n```bash\nx\n```\n")
    assert doc.code_blocks[0].section == "rollback"


def test_one_line_file_without_sections_parses() -> None:
    doc = parse("# Engineering Task Template## Task Information**Task ID:** ENG-002  **Priority")
    assert not doc.is_task
    assert doc.task_id is None and doc.title is None
    assert doc.status is None
    assert len(doc.lines) == 1


# --------------------------------------------------------------------------- evidence block


def _with_evidence(body: list[str], *, checksum: str | None = None) -> str:
    lines = [checksum_line(checksum)] if checksum else []
    block = "\n".join([EVIDENCE_START, *lines, *body, EVIDENCE_END])
    return (
        "# Engineering Task: E\n\n> **Task ID**: `E-1`\n\n## 📊 Status Tracking\n\n"
        f"- **Current Status**: `Testing`\n\n{block}\n\n### Change Log\n\n- **2026-01-01**: x\n"
    )


def test_evidence_block_with_matching_checksum() -> None:
    body = ["| check | status |", "|---|---|", "| a | pass |"]
    doc = parse(_with_evidence(body, checksum=body_checksum(body)))
    assert doc.status is not None
    evidence = doc.status.evidence
    assert evidence is not None
    assert doc.lines[evidence.start_line] == EVIDENCE_START
    assert doc.lines[evidence.end_line] == EVIDENCE_END
    assert evidence.checksum == body_checksum(body)
    assert evidence.actual_checksum == evidence.checksum
    assert [f.key for f in doc.status.fields] == ["current status"]
    assert doc.status.change_log is not None and len(doc.status.change_log.items) == 1


def test_evidence_block_edited_by_hand_shows_a_different_checksum() -> None:
    body = ["| check | status |", "|---|---|", "| a | pass |"]
    text = _with_evidence(body, checksum=body_checksum(body)).replace("| a | pass |", "| a | ok |")
    evidence = parse(text).status.evidence  # type: ignore[union-attr]
    assert evidence is not None
    assert evidence.checksum == body_checksum(body)
    assert evidence.actual_checksum != evidence.checksum


def test_evidence_block_without_checksum_line() -> None:
    evidence = parse(_with_evidence(["| a |"])).status.evidence  # type: ignore[union-attr]
    assert evidence is not None and evidence.checksum is None


def test_evidence_markers_inside_code_are_ignored() -> None:
    text = f"## 📊 Status Tracking\n\n```\n{EVIDENCE_START}\n```\n"
    assert parse(text).status.evidence is None  # type: ignore[union-attr]


def test_unpaired_evidence_marker_is_an_input_error_with_its_line() -> None:
    text = _with_evidence(["| a |"]).replace(EVIDENCE_END, "")
    with pytest.raises(InputError) as caught:
        parse(text)
    assert caught.value.line == text.splitlines().index(EVIDENCE_START) + 1
    assert caught.value.path == "tasks/t.md"


def test_evidence_outside_status_tracking_is_an_input_error() -> None:
    text = f"## Notes\n\n{EVIDENCE_START}\n{EVIDENCE_END}\n\n## Status Tracking\n"
    with pytest.raises(InputError, match="inside the Status Tracking"):
        parse(text)


# --------------------------------------------------------------------------- property


_PIECES = st.sampled_from(
    [
        "\r",
        "\n",
        "\r\n",
        "```",
        "```bash",
        "~~~",
        "> ",
        "- ",
        "1. ",
        "   ",
        "\t",
        "**Task ID**:",
        "**Task ID:**",
        "# ",
        "## Status Tracking",
        "### Test Steps",
        "### Test Commands",
        "`",
        "`cmd arg`",
        "(Expected: `x`)",
        "🏗️",
        "\u2028",
        "x",
        "word ",
        "<!-- taskrun:evidence -->",
        "<!-- /taskrun:evidence -->",
        "[",
        "]",
        "**",
        ":",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_PIECES, max_size=40).map("".join), st.text(max_size=200)))
def test_any_text_parses_or_is_an_input_error(text: str) -> None:
    try:
        doc = parse(text)
    except InputError:
        return
    assert "".join(a + b for a, b in zip(doc.lines, doc.endings, strict=True)) == text
    for f in doc.fields:
        assert doc.lines[f.line][f.value_start : f.value_end] == f.value
    for block in doc.code_blocks:
        assert 0 <= block.span.start < block.span.end <= len(doc.lines)
        if block.indented:  # a 4-space indented block has no fence lines
            assert len(block.body) <= block.span.end - block.span.start
        else:
            fences = 2 if block.closed else 1
            assert len(block.body) == block.span.end - block.span.start - fences
    for heading in doc.headings:
        assert heading.section.start == heading.line < heading.section.end <= len(doc.lines)


# --------------------------------------------------------------------------- issue 14 item 4


def steps(*items: str) -> TaskDocument:
    body = "\n".join(f"{n}.  {item}" for n, item in enumerate(items, start=1))
    return parse(f"# T\n\n**Task ID:** X-1\n\n## Validation Test\n\n### Test Steps\n{body}\n")


@pytest.mark.parametrize(
    ("item", "command", "stdout_line", "exit_status"),
    [
        ("Run `test -f /x` (Expected: `exit 0`)", "test -f /x", None, 0),
        ("Run `test -f /x` (Expected: exit status 1)", "test -f /x", None, 1),
        ("Check: `test -f /x` (Expected: `exit code 0`)", "test -f /x", None, 0),
        ("`test -f /x` (Expected: returns 0)", "test -f /x", None, 0),
        ("Print the host name `hostname` (Expected: `exit 0`)", "hostname", None, 0),
        ("Count: `ls /x | wc -l` (Expected: `0`)", "ls /x | wc -l", "0", None),
        (
            "Is it up: `systemctl is-active x` (Expected: `active`)",
            "systemctl is-active x",
            "active",
            None,
        ),
        ("Run `uptime` and `hostname` (Expected: `exit 0`)", "hostname", None, 0),
    ],
)
def test_an_inline_step_runs_the_code_span_before_its_expectation(
    item: str, command: str, stdout_line: str | None, exit_status: int | None
) -> None:
    (found,) = steps(item).inline_commands
    assert (found.command, found.expected, found.expected_exit) == (
        command,
        stdout_line,
        exit_status,
    )


@pytest.mark.parametrize(
    "item",
    [
        "Make a request to `/v1/chat/completions` (Expected: a completion)",
        "Service is `active` (Expected: `exit 0`)",
        "Check the endpoint answers (Expected: `200`)",
    ],
)
def test_a_step_whose_command_cannot_be_found_is_recorded_not_dropped(item: str) -> None:
    doc = steps("Check: `test -d /` (Expected: `exit 0`)", item)
    assert [c.command for c in doc.inline_commands] == ["test -d /"]
    (missing,) = doc.missing_commands
    assert missing.line == line_of(doc, "2.  ") and item[:20] in missing.text


# --------------------------------------------------------------------------- issue 15 item 8


@pytest.mark.parametrize(
    "section", ["### Test Commands", "### Test Steps", "### Must-Pass Validations"]
)
def test_a_task_id_and_a_test_section_make_a_task(section: str) -> None:
    doc = parse(f"# Engineering Task: X\n\n**Task ID**: `X-2`\n\n{section}\n\n- a\n")
    assert doc.is_task and doc.task_id == "X-2" and doc.rejection is None


def test_without_a_task_id_field_the_id_comes_from_the_h1_or_the_file_name() -> None:
    h1 = parse_document(b"# CHG-77: Upgrade\n\n## Validation\n", "notes/change.md")
    assert (h1.task_id, h1.id_source, h1.title) == ("CHG-77", "h1", "Upgrade")
    named = parse_document(b"# Upgrade\n\n## Smoke Test\n", "runbooks/OPS-12-upgrade.md")
    assert (named.task_id, named.id_source) == ("OPS-12", "filename")
    plain = parse_document(b"# Upgrade\n\n## Health Checks\n", "runbooks/upgrade.md")
    assert (plain.task_id, plain.id_source, plain.has_id_field) == ("upgrade", "filename", False)


def test_validation_sections_come_from_the_setting() -> None:
    text = b"# Notes\n\n## Checks\n\n```bash\ntest -d /\n```\n"
    assert not parse_document(text, "a.md").is_task
    doc = parse_document(text, "a.md", validation_sections=["checks"])
    assert doc.is_task and doc.code_blocks[0].section == "validation"
    assert doc.validation_sections == ("checks",)


def test_the_documents_title_does_not_make_the_whole_file_a_validation_section() -> None:
    text = (
        "# Post-Deployment Validation\n\n## Deployment Steps\n\n```bash\nsudo systemctl "
        "restart x\n```\n\n## Verification\n\n```bash\ntest -d /\n```\n"
    )
    doc = parse(text)
    assert [b.section for b in doc.code_blocks] == ["other", "validation"]
    assert parse("# Rollback runbook\n\n## Health Check\n\n```bash\ntrue\n```\n").is_task
