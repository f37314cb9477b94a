"""Byte-exact line splitting and decoding of task files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import InputError
from runner.markdown.lines import decode_task_bytes, split_lines


@pytest.mark.parametrize(
    ("text", "lines", "endings"),
    [
        ("", (), ()),
        ("a", ("a",), ("",)),
        ("a\n", ("a",), ("\n",)),
        ("a\nb\n", ("a", "b"), ("\n", "\n")),
        ("a\r\nb\r\n", ("a", "b"), ("\r\n", "\r\n")),
        ("a\rb\r", ("a", "b"), ("\r", "\r")),
        ("a\r\nb\nc\rd", ("a", "b", "c", "d"), ("\r\n", "\n", "\r", "")),
        ("\n\n", ("", ""), ("\n", "\n")),
        ("a\n\nb", ("a", "", "b"), ("\n", "\n", "")),
        ("\r\r\n", ("", ""), ("\r", "\r\n")),
        ("x\u2028y\n", ("x\u2028y",), ("\n",)),
        ("v\x0bf\x0cn\x85e\u2029\n", ("v\x0bf\x0cn\x85e\u2029",), ("\n",)),
        ("\ufeffbom\n", ("\ufeffbom",), ("\n",)),
    ],
    ids=[
        "empty",
        "no-final-newline",
        "lf",
        "lf-two",
        "crlf",
        "cr",
        "mixed",
        "blank-lines",
        "blank-middle",
        "cr-then-crlf",
        "u2028-inside",
        "other-unicode-breaks",
        "bom-char-kept",
    ],
)
def test_split_lines_splits_only_on_cr_lf(text: str, lines: tuple, endings: tuple) -> None:
    assert split_lines(text) == (lines, endings)
    assert "".join(line + ending for line, ending in zip(lines, endings, strict=True)) == text


@given(st.text(alphabet=st.sampled_from(["a", " ", "\r", "\n", "\u2028", "é", "✅", "\x85"])))
def test_split_lines_round_trips_any_text(text: str) -> None:
    lines, endings = split_lines(text)
    assert len(lines) == len(endings)
    assert "".join(line + ending for line, ending in zip(lines, endings, strict=True)) == text
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert all(ending in ("\n", "\r\n", "\r") for ending in endings[:-1])
    if text:
        # Only the last line may lack an ending, and an ending never leaves an empty line behind.
        assert endings[-1] != "" or not text.endswith(("\r", "\n"))


def test_decode_plain_utf8() -> None:
    assert decode_task_bytes("# Título ✅\n".encode(), "t.md") == ("# Título ✅\n", False)


def test_decode_strips_and_reports_bom() -> None:
    assert decode_task_bytes(b"\xef\xbb\xbf# T\r\n", "t.md") == ("# T\r\n", True)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"])
def test_decode_rejects_empty_file(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        decode_task_bytes(data, "tasks/t.md")
    assert caught.value.message == "empty file"
    assert str(caught.value) == "tasks/t.md: empty file"


def test_decode_rejects_nul_byte_with_its_line() -> None:
    with pytest.raises(InputError) as caught:
        decode_task_bytes(b"# T\r\nline\nbin\x00ary", "t.md")
    assert caught.value.message == "binary file"
    assert caught.value.line == 3
    assert str(caught.value) == "t.md(3): binary file"


def test_decode_rejects_non_utf8_naming_byte_and_offset() -> None:
    with pytest.raises(InputError) as caught:
        decode_task_bytes(b"# T\ncaf\xe9\n", "t.md")
    assert caught.value.message == "not UTF-8 text (byte 0xe9 at offset 7)"
    assert caught.value.line == 2


def test_decode_offset_counts_the_bom() -> None:
    with pytest.raises(InputError) as caught:
        decode_task_bytes(b"\xef\xbb\xbfab\xff", "t.md")
    assert caught.value.message == "not UTF-8 text (byte 0xff at offset 5)"
    assert caught.value.line == 1
