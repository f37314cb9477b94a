from __future__ import annotations

import pytest

from runner.models import CheckResult, RunRecord
from runner.reporters.github import (
    escape_data,
    escape_property,
    step_summary,
    workflow_annotations,
    workspace_root,
)
from runner.reporters.markdown import render_summary


def _result(key: str, status: str, **extra: object) -> CheckResult:
    values: dict[str, object] = {
        "id": f"tc-{key}@api-gateway",
        "plan_id": f"tc-{key}",
        "label": f"check {key}",
        "source": "test-commands",
        "must_pass": None,
        "component": "api-gateway",
        "host": "agent0@10.0.0.1",
        "command": f"curl -fsS http://127.0.0.1:4000/{key}",
        "status": status,
        "reason": None if status == "pass" else f"{key}: exit 7",
        "line": 42,
    }
    values.update(extra)
    return CheckResult(**values)  # type: ignore[arg-type]


def _record(path: str, *results: CheckResult, task_id: str | None = "ENG-001") -> RunRecord:
    return RunRecord(
        task_id=task_id,
        task_path=path,
        title="Verify",
        run_id="20261124T130550Z",
        state="complete",
        started_at="2026-11-24T13:05:50.000Z",
        finished_at="2026-11-24T13:05:51.000Z",
        results=results,
    )


def _unescape_data(text: str) -> str:
    # The order of actions/runner's ActionCommand unescaping.
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return _unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def _parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command line as the Actions runner reads it: `::name k=v,k=v::message`."""
    assert line.startswith("::") and "\n" not in line and "\r" not in line
    head, sep, message = line[2:].partition("::")
    assert sep
    name, _, props = head.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, eq, value = pair.partition("=")
        assert eq, pair
        properties[key] = _unescape_property(value)
    return name, properties, _unescape_data(message)


def test_one_error_annotation_per_failing_or_error_check() -> None:
    record = _record(
        "tasks/ENG-001.md",
        _result("ok", "pass"),
        _result("health", "fail", stdout_tail="a\nb\n❌ Health check failed\n"),
        _result("gpu", "error", reason=None, error="ssh: connection refused", line=None),
        _result("later", "skip", reason="mutating"),
        _result("sign", "manual", reason="needs a person"),
    )
    lines = workflow_annotations([record])
    assert len(lines) == 2
    name, props, message = _parse_command(lines[0])
    assert name == "error"
    assert props == {
        "file": "tasks/ENG-001.md",
        "line": "42",
        "title": "taskrun: check health failed",
    }
    assert message.splitlines() == [
        "check health on api-gateway (agent0@10.0.0.1): health: exit 7",
        "$ curl -fsS http://127.0.0.1:4000/health",
        "--- stdout (tail) ---",
        "a",
        "b",
        "❌ Health check failed",
    ]
    name, props, message = _parse_command(lines[1])
    assert props == {"file": "tasks/ENG-001.md", "title": "taskrun: check gpu could not run"}
    assert message.startswith("check gpu on api-gateway (agent0@10.0.0.1): ssh: connection refused")


def test_special_characters_survive_the_runner_parsing() -> None:
    label = "50% done: a, b\r\nnext"
    result = _result("x", "fail", label=label, reason="100% :: broken,\nreally", command=None)
    lines = workflow_annotations([_record("tasks/dir,with:odd%/T.md", result)])
    _name, props, message = _parse_command(lines[0])
    assert props["file"] == "tasks/dir,with:odd%/T.md"
    assert props["title"] == f"taskrun: {label} failed"
    assert message == f"{label} on api-gateway (agent0@10.0.0.1): 100% :: broken,\nreally"


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("a%b", "a%25b", "a%25b"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("k: v, w", "k: v, w", "k%3A v%2C w"),
        ("%0A", "%250A", "%250A"),  # an escape sequence in the text stays literal
    ],
)
def test_escaping_rules(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop
    assert _unescape_data(escape_data(raw)) == raw
    assert _unescape_property(escape_property(raw)) == raw


def test_paths_are_made_relative_to_the_repository_root() -> None:
    record = _record("../tasks/ENG-001.md", _result("x", "fail"))
    [line] = workflow_annotations([record], task_files_root="ops/runner")
    assert _parse_command(line)[1]["file"] == "ops/tasks/ENG-001.md"
    assert workspace_root("/w/repo/ops/runner", "/w/repo") == "ops/runner"
    assert workspace_root("/w/repo", "/w/repo") == "."
    assert workspace_root("/anywhere", None) == "."


def test_step_summary_of_one_run_is_its_summary_md() -> None:
    record = _record("tasks/ENG-001.md", _result("a", "pass"), _result("b", "fail"))
    assert step_summary([record]) == render_summary(record)


def test_step_summary_of_a_batch_starts_with_an_overview() -> None:
    records = [
        _record("tasks/a.md", _result("a", "pass"), task_id="ENG-001"),
        _record("tasks/b.md", _result("b", "fail"), _result("c", "error"), task_id="ENG-002"),
    ]
    text = step_summary(records)
    assert text.startswith("# taskrun: 2 tasks\n\n1 passed, 1 failed, 1 errors, 0 skipped")
    assert "| ✅ | ENG-001 | `tasks/a.md` | 1 | 0 | 0 | 0 | 0 | `20261124T130550Z` |" in text
    assert "| ❌ | ENG-002 | `tasks/b.md` | 0 | 1 | 1 | 0 | 0 | `20261124T130550Z` |" in text
    for record in records:
        assert render_summary(record) in text


def test_step_summary_over_the_size_limit_keeps_only_the_overview() -> None:
    big = _result("b", "fail", stdout_tail="x" * 5000 + "\n")
    records = [_record(f"tasks/{i}.md", big) for i in range(3)]
    text = step_summary(records, limit_bytes=4000)
    assert len(text.encode()) < 4000
    assert "Details left out" in text
    assert "`tasks/2.md`" in text
    single = step_summary(records[:1], limit_bytes=4000)
    assert "Details left out" in single


# --------------------------------------------------------------------------- issue 17 item 5

HOSTILE = (
    "::set-output name=x::y\n"
    "  ::error file=a,line=1::fake failure\n"
    "ok \x1b[31mred\x1b[0m \x1b]0;title\x07 done\r"
    "overwritten\n"
    "log ##[group]hidden\n"
    "\u202eevil\x9b31m\n"
)


def _hostile_record() -> RunRecord:
    result = _result(
        "x",
        "fail",
        label="::warning::label \x1b[2J",
        reason="printed ::error::oops",
        command="printf '::set-output name=a::b\\n'",
        stdout_tail=HOSTILE,
        stderr_tail=HOSTILE,
    )
    return _record("tasks/T.md", result)


def _assert_inert(text: str, *, own_commands: int = 0) -> None:
    commands = [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert len(commands) == own_commands, commands
    assert "##[" not in text
    for char in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert char not in text
    assert "\r" not in text.replace("\r\n", "")


def test_output_cannot_issue_workflow_commands_or_terminal_escapes() -> None:
    from runner.redact.neutralise import neutralise
    from runner.reporters.junit import render_junit
    from runner.reporters.markdown import render_summary

    record = _hostile_record()
    (line,) = workflow_annotations([record])
    _assert_inert(line, own_commands=1)
    assert line.startswith("::error file=tasks/T.md,line=42,")
    _assert_inert(step_summary([record]))
    _assert_inert(render_summary(record))
    _assert_inert(render_junit([record]).decode())
    assert neutralise(HOSTILE).count("\n") == HOSTILE.count("\n")
    assert neutralise("plain text, 100% fine: a::b") == "plain text, 100% fine: a::b"


def test_output_cannot_close_the_summarys_code_fence() -> None:
    from runner.reporters.markdown import render_summary

    result = _result("x", "fail", stdout_tail="```\n# injected heading\n````\n")
    text = render_summary(_record("tasks/T.md", result))
    assert "`````\n```\n# injected heading\n````\n`````" in text
