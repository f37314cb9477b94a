"""`split_block` against real bash over every runnable block of the team's own fixtures (the
twin of the corpus part of test_shell_oracle.py, which needs ../shared/corpus)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runner.bash.split import split_block
from tests.bash_oracle import BashOracle
from tests.generations import generation_markdown_files, relative
from tests.unit.test_shell_oracle import fenced_blocks


@pytest.fixture(scope="module")
def oracle() -> Iterator[BashOracle]:
    with BashOracle() as bash:
        yield bash


def fixture_blocks() -> list[tuple[str, int, str, list[str]]]:
    return [
        (relative(path), lineno, lang, body)
        for path in generation_markdown_files()
        for lineno, lang, body in fenced_blocks(path)
    ]


def test_the_fixtures_have_34_runnable_blocks() -> None:
    # 13 in A tasks, 1 in the template, 1 each in the README and the load-test notes, 16 in B
    # tasks and 1 in B's overview, 1 in C (read by hand; `ini`, `markdown`, `text` excluded)
    blocks = fixture_blocks()
    assert len(blocks) == 34
    assert sum(len(body) for *_, body in blocks) > 150


def test_every_fixture_block_splits_as_bash_does(oracle: BashOracle) -> None:
    mismatches = []
    for name, lineno, lang, body in fixture_blocks():
        mine = [(c.first_line, c.last_line) for c in split_block(body, lang=lang).commands]
        if mine != oracle.boundaries(body):
            mismatches.append(f"{name}:{lineno}")
    assert mismatches == []


def test_heredocs_in_list_items_close_once_the_indent_is_removed() -> None:
    blocks = {
        (name, lineno): body
        for name, lineno, _, body in fixture_blocks()
        if any("<<'ENV'" in line or "<< 'EOF'" in line for line in body)
    }
    assert sorted(blocks) == [
        ("Gateway-Rollout-Tasks/ENG-002.5-Configure-Gateway-Environment.md", 48),
        ("Gateway-Rollout-Tasks/ENG-005-Gateway-Smoke-Test.md", 47),
    ]
    for body in blocks.values():
        heredoc = next(
            c for c in split_block(body).commands if "<<'ENV'" in c.text or "<< 'EOF'" in c.text
        )
        assert heredoc.text.split("\n")[-1] in ("ENV", "EOF")
