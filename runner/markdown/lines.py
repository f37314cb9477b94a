"""Byte-exact line handling for task files: decoding, and splitting that can be undone exactly."""

from __future__ import annotations

import re

from runner.errors import InputError

UTF8_BOM = b"\xef\xbb\xbf"
# Only these three are line endings for Markdown; str.splitlines() would also split on U+2028,
# U+0085, \v, \f …, which markdown-it does not, and the line numbers would drift apart.
_LINE_ENDING = re.compile(r"\r\n|\r|\n")
_LINE_ENDING_BYTES = re.compile(rb"\r\n|\r|\n")


def split_lines(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split into (lines without endings, endings); `"".join(l + e …)` gives `text` back.

    A text ending in a line ending has no extra empty last line; a text without a final
    newline has "" as its last ending. The empty text has no lines.
    """
    lines: list[str] = []
    endings: list[str] = []
    position = 0
    for match in _LINE_ENDING.finditer(text):
        lines.append(text[position : match.start()])
        endings.append(match.group())
        position = match.end()
    if position < len(text):
        lines.append(text[position:])
        endings.append("")
    return tuple(lines), tuple(endings)


def decode_task_bytes(data: bytes, path: str) -> tuple[str, bool]:
    """Decode a task file: (text without its UTF-8 BOM, whether it had one).

    Raises InputError for an empty file, a binary file (NUL byte) or text that is not UTF-8.
    """
    has_bom = data.startswith(UTF8_BOM)
    body = data[len(UTF8_BOM) :] if has_bom else data
    if not body:
        raise InputError("empty file", path=path)
    nul = body.find(b"\x00")
    if nul >= 0:
        raise InputError("binary file", path=path, line=_line_of_offset(body, nul))
    try:
        return body.decode("utf-8"), has_bom
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(UTF8_BOM) if has_bom else 0)
        raise InputError(
            f"not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})",
            path=path,
            line=_line_of_offset(body, exc.start),
        ) from exc


def _line_of_offset(data: bytes, offset: int) -> int:
    """1-based line number of a byte offset, counting the same endings split_lines does."""
    head = data[:offset]
    return len(_LINE_ENDING_BYTES.findall(head)) + 1
