"""Command output that would talk to a terminal or to CI, made inert: raw control characters
(terminal escapes, carriage returns that overwrite a line, bidi overrides) become visible
symbols, and a GitHub workflow command (`::set-output …`, `::error::…`, `##[group]`) in a
command's output no longer starts a line the runner obeys. Pure.

taskrun's own annotations are built from neutralised parts, so they alone reach CI as
commands.
"""

from __future__ import annotations

import re

__all__ = ["neutralise"]

# C0 controls but tab, newline and carriage return (below); DEL; C1 controls; Unicode bidi
# overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
# `\r\n` is a line end (kept); a lone `\r` returns the cursor and hides what came before.
_LONE_CR = re.compile("\r(?!\n)")
# The runner trims leading blanks, then looks for `::`; the legacy form `##[` anywhere.
_WORKFLOW_COMMAND = re.compile(r"^([ \t]*):(?=:)", re.MULTILINE)
_LEGACY_COMMAND = re.compile(r"#(?=#\[)")
_ZERO_WIDTH_SPACE = "\u200b"


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␛, ␇, ␍ … (Unicode control pictures)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def neutralise(text: str) -> str:
    """`text` safe to print to a terminal or a CI log and to write into CI reports."""
    if not text:
        return text
    text = _LONE_CR.sub("\u240d", text)
    text = _CONTROL.sub(_visible, text)
    if "::" in text:
        text = _WORKFLOW_COMMAND.sub(lambda m: m.group(1) + ":" + _ZERO_WIDTH_SPACE, text)
    if "##[" in text:
        text = _LEGACY_COMMAND.sub("#" + _ZERO_WIDTH_SPACE, text)
    return text
