"""Golden write-back: corpus task file in, expected task file out, compared as bytes.

`UPDATE_GOLDEN=1 python -m pytest tests/golden/test_writeback_golden.py` regenerates the
expected files; review the diff before committing them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.markdown.evidence_block import EVIDENCE_END, EVIDENCE_START
from runner.markdown.writeback import owned_line_numbers, render_write_back
from runner.models import TaskDocument
from tests.corpus import corpus_params, needs_corpus
from tests.golden.writeback_records import (
    CORPUS_TASKS,
    GOLDEN,
    GOLDEN_SOURCES,
    TODAY,
    corpus_task_files,
    parse,
    record,
    result,
)

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _render(data: bytes, path: str, **kwargs: object) -> bytes | None:
    doc = parse(data, path)
    run = kwargs.pop("run", None) or record(task_id=doc.task_id)
    text = render_write_back(doc, run, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return None if text is None else text.encode("utf-8")


@needs_corpus
@pytest.mark.parametrize("template", sorted(GOLDEN_SOURCES))
def test_golden_output_matches_byte_for_byte(template: str) -> None:
    source = CORPUS_TASKS / GOLDEN_SOURCES[template]
    expected_path = GOLDEN / f"{template}-{source.name}"
    new = _render(source.read_bytes(), str(source))
    assert new is not None
    if UPDATE:
        expected_path.write_bytes(new)
    assert new == expected_path.read_bytes()


def test_the_golden_files_show_each_template_style() -> None:
    a, b, c = (
        (GOLDEN / f"{t}-{Path(GOLDEN_SOURCES[t]).name}").read_text(encoding="utf-8") for t in "ABC"
    )
    assert "- **Current Status**: `Testing`" in a
    assert "- **Last Updated**: `2026-11-24`" in a
    assert "\n- **2026-11-24**: Validation 7/8 passed; failed: Service Health on llm-02; " in a
    assert "- **2026-11-24**: Validation 7/8 passed" in b
    assert "**Current Status:** Testing  \n" in c
    assert "**Last Updated:** 2026-11-24  \n" in c
    assert "\n- 2026-11-24 - Validation 7/8 passed; failed: Service Health on llm-02; 1 manual" in c
    assert not c.endswith("\n")  # Refactor 02 has no final newline, and keeps it that way


def _split(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _lines_taken_away(old: list[bytes], new: list[bytes]) -> list[int]:
    """Original line numbers that are not carried over unchanged, in order (greedy match)."""
    missing = []
    cursor = 0
    for number, line in enumerate(old):
        at = next((i for i in range(cursor, len(new)) if new[i] == line), None)
        if at is None:
            missing.append(number)
        else:
            cursor = at + 1
    return missing


TASK_FILES = corpus_task_files()


@pytest.mark.parametrize(
    "path", corpus_params(TASK_FILES, ids=lambda p: p.relative_to(CORPUS_TASKS).as_posix())
)
def test_every_corpus_task_changes_only_owned_lines(corpus_dir: Path, path: Path) -> None:
    data = path.read_bytes()
    doc = parse(data, str(path))
    new = _render(data, str(path))
    if doc.task_id is None:
        assert new is None  # the template is never written
        return
    assert new is not None
    old_lines, new_lines = _split(data), _split(new)
    changed = _lines_taken_away(old_lines, new_lines)
    assert set(changed) <= owned_line_numbers(doc), [old_lines[i] for i in changed]
    # Every inserted line sits in the Status Tracking section of the new file.
    new_doc = parse(new, str(path))
    assert new_doc.status is not None and new_doc.status.evidence is not None
    section = range(new_doc.status.span.start, new_doc.status.span.end)
    inserted = set(range(len(new_lines))) - _carried(old_lines, new_lines)
    assert inserted <= set(section), sorted(inserted - set(section))
    assert new_doc.lines[new_doc.status.evidence.start_line] == EVIDENCE_START
    assert new_doc.lines[new_doc.status.evidence.end_line] == EVIDENCE_END
    assert new_doc.task_id == doc.task_id and new_doc.title == doc.title
    assert new_doc.code_blocks == _shifted(doc, new_doc)
    assert data.endswith(b"\n") == new.endswith(b"\n")


def _carried(old: list[bytes], new: list[bytes]) -> set[int]:
    carried = set()
    cursor = 0
    for line in old:
        at = next((i for i in range(cursor, len(new)) if new[i] == line), None)
        if at is not None:
            carried.add(at)
            cursor = at + 1
    return carried


def _shifted(old: TaskDocument, new: TaskDocument) -> tuple:
    """The old document's code blocks as the new one must have them (all sit above the status)."""
    assert old.status is not None
    assert all(block.span.end <= old.status.heading_line for block in old.code_blocks)
    return old.code_blocks


@needs_corpus
@pytest.mark.parametrize("template", sorted(GOLDEN_SOURCES))
def test_applying_the_same_run_twice_equals_once(template: str) -> None:
    source = CORPUS_TASKS / GOLDEN_SOURCES[template]
    once = _render(source.read_bytes(), str(source))
    assert once is not None
    assert _render(once, str(source)) is None


@needs_corpus
@pytest.mark.parametrize("template", sorted(GOLDEN_SOURCES))
def test_a_second_run_adds_exactly_one_change_log_item(template: str) -> None:
    source = CORPUS_TASKS / GOLDEN_SOURCES[template]
    once = _render(source.read_bytes(), str(source))
    assert once is not None
    second = record(
        (result("pass", number=1),), run_id="20261125T080000Z", task_id=parse(once).task_id
    )
    twice = _render(once, str(source), run=second)
    assert twice is not None
    first_doc, second_doc = parse(once), parse(twice)
    assert first_doc.status and first_doc.status.change_log
    assert second_doc.status and second_doc.status.change_log
    before = [item.text for item in first_doc.status.change_log.items]
    after = [item.text for item in second_doc.status.change_log.items]
    assert after[:-1] == before
    assert len(after) == len(before) + 1
    assert "(run 20261125T080000Z)" in after[-1]
    # The evidence block was replaced, not added to.
    assert twice.count(EVIDENCE_START.encode()) == 1
    assert b"20261124T130550Z`" not in twice.split(EVIDENCE_START.encode())[1].split(b"###")[0]
    # A clean run of every check: the task becomes Complete.
    assert second_doc.status.fields
    values = {f.key: f.value for f in second_doc.status.fields}
    assert values["current status"] == "Complete"
    assert values.get("completion", values.get("completion percentage")) == "100%"
