"""Fuzz the task-file parser: any bytes either parse into a consistent document or give an
InputError naming the file and (where a line applies) the 1-based line."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import InputError
from runner.markdown.document import parse_document
from runner.markdown.evidence_block import EVIDENCE_END, EVIDENCE_START
from runner.models import TaskDocument
from tests.corpus import needs_corpus
from tests.faults.mutations import (
    ALL_TOKENS,
    budget,
    corpus_markdown,
    line_count,
    mutated,
    split_keeping_endings,
)

PATH = "fuzz/task.md"
SEEDS = corpus_markdown()


def parse_or_input_error(data: bytes) -> TaskDocument | None:
    """The property: a document, or an InputError with path and line; nothing else."""
    try:
        doc = parse_document(data, PATH)
    except InputError as exc:
        assert exc.path == PATH
        if exc.message != "empty file":
            assert exc.line is not None, f"no line in {exc}"
            assert 1 <= exc.line <= max(1, line_count(data)), exc
            assert str(exc).startswith(f"{PATH}({exc.line}): ")
        return None
    assert_consistent(doc, data)
    return doc


def assert_consistent(doc: TaskDocument, data: bytes) -> None:
    """Everything the parser reports points at real lines, and the lines give the bytes back."""
    bom = b"\xef\xbb\xbf" if doc.has_bom else b""
    text = "".join(line + end for line, end in zip(doc.lines, doc.endings, strict=True))
    assert bom + text.encode("utf-8") == data
    assert len(doc.lines) == len(split_keeping_endings(data.removeprefix(bom)))
    assert all("\n" not in line and "\r" not in line for line in doc.lines)
    total = len(doc.lines)

    def real(line: int | None) -> None:
        assert line is None or 0 <= line < total, (line, total)

    for heading in doc.headings:
        real(heading.line)
        assert heading.section.start == heading.line <= heading.section.end <= total
    for field in doc.fields:
        real(field.line)
        assert doc.lines[field.line][field.value_start : field.value_end] == field.value
    for block in doc.code_blocks:
        assert 0 <= block.span.start < block.span.end <= total
        fence = 0 if block.indented else 1  # a 4-space indented block has no fence line
        assert block.body_start == block.span.start + fence
        assert len(block.body) <= block.span.end - block.span.start - fence
    for section in doc.sections:
        real(section.line)
        assert section.span.start == section.line < section.span.end <= total
    for item in doc.must_pass:
        real(item.line)
    for command in doc.inline_commands:
        real(command.line)
    for line in (doc.task_id_line, doc.title_line, doc.component_line):
        real(line)
    if doc.has_id_field:
        assert doc.task_id_line is not None and doc.task_id is not None
    assert doc.is_task is (doc.rejection is None)
    if doc.status is not None:
        real(doc.status.heading_line)
        assert doc.status.span.end <= total
        log = doc.status.change_log
        if log is not None:
            for entry in log.items:
                assert doc.lines[entry.line] == entry.text
        block = doc.status.evidence
        if block is not None:
            assert block.start_line < block.end_line < total
            assert doc.lines[block.start_line].strip() == EVIDENCE_START
            assert doc.lines[block.end_line].strip() == EVIDENCE_END


# --------------------------------------------------------------------------- the corpus itself


@needs_corpus
def test_every_corpus_file_parses_consistently() -> None:
    assert len(SEEDS) >= 44
    for name, data in SEEDS:
        assert parse_or_input_error(data) is not None, name


# --------------------------------------------------------------------------- mutated corpus

CORPUS_MUTATIONS = mutated(SEEDS, max_mutations=8)
WINDOWED_MUTATIONS = mutated(SEEDS, max_mutations=5, max_window=40)
RAW_BYTES = st.binary(max_size=400)
SPLICED = st.lists(st.sampled_from(ALL_TOKENS), max_size=30).map(b"".join)


@needs_corpus
@budget(1500)
@given(CORPUS_MUTATIONS)
def test_mutated_corpus_files_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@needs_corpus
@budget(3000)
@given(WINDOWED_MUTATIONS)
def test_mutated_corpus_windows_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@budget(2000)
@given(st.one_of(RAW_BYTES, SPLICED))
def test_arbitrary_bytes_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


@needs_corpus
@pytest.mark.slow
@budget(40_000)
@given(st.one_of(CORPUS_MUTATIONS, WINDOWED_MUTATIONS, RAW_BYTES, SPLICED))
def test_slow_many_mutated_documents_parse_or_give_input_error(data: bytes) -> None:
    parse_or_input_error(data)


# --------------------------------------------------------------------------- targeted inputs


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"# T\n\nok\n\x00\n", 4),
        (b"# T\r\n\r\nok \xff\r\n", 3),
        (b"# T\rok\r\xc3\r", 3),
        (b"\xef\xbb\xbf# T\n\xed\xa0\x80\n", 2),
    ],
)
def test_unreadable_bytes_name_their_line(data: bytes, line: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_document(data, PATH)
    assert caught.value.line == line


def test_u2028_is_not_a_line_break() -> None:
    data = "**Task ID**: `A-1`\u2028x\n## Status Tracking\n".encode()
    doc = parse_or_input_error(data)
    assert doc is not None
    assert len(doc.lines) == 2
    assert doc.status is not None and doc.status.heading_line == 1


def test_pathological_markdown_parses_quickly() -> None:
    """Deep nesting and long runs of delimiters: bounded time, no RecursionError."""
    cases = [
        b"**Task ID**: `X-1`\n" + b"> " * 5000 + b"x\n",
        b"**Task ID**: `X-1`\n" + b"- " * 5000 + b"x\n",
        b"[" * 20000 + b"\n",
        b"`a" * 20000 + b"\n",
        b"**a " * 10000 + b"\n",
        b"## Test Steps\n- `ls -la` " + b"(Expected: " * 3000 + b"\n",
        b"```\n```\n" * 5000,
    ]
    for data in cases:
        started = time.monotonic()
        parse_or_input_error(data)
        assert time.monotonic() - started < 5.0
