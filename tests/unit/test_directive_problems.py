"""Every bad `# taskrun:` directive of a task is found (not only the first), with its line;
a bare `skip` is a directive without a reason."""

from __future__ import annotations

import pytest

from runner.bash.directives import SKIP_WITHOUT_REASON, parse_directive_comment, parse_fence_info
from runner.markdown.document import parse_document
from runner.plan.directive_problems import directive_problems
from tests.e2e.conftest import task_markdown


def _doc(commands: str, **extra: str) -> object:
    text = task_markdown("D-1", component="lo", commands=commands)
    return parse_document(text.encode(), "tasks/D-1.md")


def _line_of(doc: object, needle: str) -> int:
    return next(n for n, line in enumerate(doc.lines, start=1) if needle in line)  # type: ignore[attr-defined]


def test_bare_skip_in_a_comment_and_in_the_fence() -> None:
    given = parse_directive_comment("# taskrun: skip", path="t.md", line=3)
    assert given is not None and given.skip == SKIP_WITHOUT_REASON
    assert parse_fence_info("bash {skip on=lo}", path="t.md", line=3).skip == SKIP_WITHOUT_REASON
    reason = parse_directive_comment("# taskrun: skip='not here'", path="t.md", line=3)
    assert reason is not None and reason.skip == "not here"


def test_every_bad_directive_is_found_in_line_order() -> None:
    doc = _doc(
        "```bash {tmeout=3}\n# taskrun: retries=x\ntrue\n\n# taskrun: name=ok\ntrue\n```\n\n"
        "```bash\n# taskrun: nope=1\ntrue\n\n# taskrun: timeout=5\n\necho dangling\n```"
    )
    problems = directive_problems(doc)  # type: ignore[arg-type]
    lines = [p.line for p in problems]
    assert lines == sorted(lines) and len(lines) == 4
    assert lines == [
        _line_of(doc, "tmeout"),
        _line_of(doc, "retries=x"),
        _line_of(doc, "nope=1"),
        _line_of(doc, "timeout=5"),
    ]
    assert "not directly above a command" in problems[-1].message
    assert all(p.path == "tasks/D-1.md" for p in problems)


def test_a_good_file_has_no_problem_and_shown_blocks_are_not_judged() -> None:
    doc = _doc("```bash\n# taskrun: timeout=5\ntrue\n```\n\n```python\n# taskrun: nope=1\n```")
    assert directive_problems(doc) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("word", ["skipp", "skip:", "Skip"])
def test_only_the_bare_word_skip_is_accepted(word: str) -> None:
    from runner.errors import InputError

    with pytest.raises(InputError):
        parse_directive_comment(f"# taskrun: {word}", path="t.md", line=1)


def test_bad_directives_in_validation_sections_are_found_too() -> None:
    # The planner runs validation and pre-flight sections by name (issue 18): their bad
    # directives are reported all at once like those of Test Commands; sample output is not.
    text = (
        "# Task: Two sections\n\n**Task ID**: D-2\n**Component**: lo\n\n"
        "## Pre-Flight Checks\n\n```bash\n# taskrun: tmeout=3\ntrue\n```\n\n"
        "## Verification\n\n```bash\n# taskrun: retries=x\ntrue\n```\n\n"
        "Expected output:\n\n```\n# taskrun: nope=1\nok\n```\n"
    )
    doc = parse_document(text.encode(), "tasks/D-2.md")
    problems = directive_problems(doc)
    assert [p.line for p in problems] == [_line_of(doc, "tmeout"), _line_of(doc, "retries=x")]
