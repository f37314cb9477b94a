"""Split a fenced shell block into the top-level commands bash would read (the one tokenizer,
`runner.bash.tokenizer`, says where bash has complete input), with the labels and
`# taskrun:` directives (`runner.bash.directives`) that annotate them. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from runner.bash.assignments import only_assigns
from runner.bash.directives import parse_directive_comment, parse_fence_info
from runner.bash.tokenizer import Tokenizer
from runner.errors import InputError
from runner.models import Directives, ShellCommand, SplitBlock

__all__ = ["is_transcript", "split_block"]


# --------------------------------------------------------------------------- splitting


def _is_blank(text: str) -> bool:
    return not text.strip(" \t")


def _is_comment(text: str) -> bool:
    return text.lstrip(" \t").startswith("#")


def _label_text(comment: str) -> str | None:
    stripped = comment.strip(" \t")
    if stripped.startswith("#!"):
        return None  # a shebang is not a label
    label = stripped.lstrip("#").strip()
    return label or None


def _prompt_content(line: str) -> str | None:
    """A console line's command text without its `$ ` prompt; None for output lines."""
    if line.startswith("$ "):
        return line[2:]
    if line.rstrip(" \t") == "$":
        return ""
    return None


def _continuation_content(line: str) -> str:
    if line.startswith("> "):
        return line[2:]
    if line.rstrip(" \t") == ">":
        return ""
    return line


# `# Expected: 5`, `# Should show: active (running)`: what the command should print, in prose.
_EXPECTATION_COMMENT = re.compile(
    r"^#+\s*(?:expected(?:\s+(?:output|result))?|expect|should\s+(?:show|return|print|output|"
    r"be|see|say|contain|display|report|list))\b\s*:?\s*(?P<prose>\S.*?)\s*$",
    re.IGNORECASE,
)
_SHELL_LANGS = frozenset(("bash", "sh", "shell", ""))


def is_transcript(body: Sequence[str], lang: str) -> bool:
    """A `console` block, or a shell block whose commands are written after `$ ` prompts."""
    lang = lang.casefold()
    if lang == "console":
        return True
    return lang in _SHELL_LANGS and any(line.startswith("$ ") for line in body)


def split_block(
    body: Sequence[str],
    *,
    info: str = "",
    lang: str = "bash",
    path: str = "<block>",
    first_lineno: int = 1,
) -> SplitBlock:
    """Split a code block's lines into the top-level commands bash would run one by one.

    A transcript (`console`, or `$ ` prompts in a shell block) runs its prompt lines; the
    lines after a prompt are that command's output, kept as `shown_output`. In a shell
    block's transcript `#` lines stay comments (labels), as in the rest of that block.
    """
    console = lang.casefold() == "console"
    transcript = is_transcript(body, lang)
    lines = list(body)
    contents: list[str | None] = (
        [_transcript_content(line, comments=not console) for line in lines]
        if transcript
        else list(lines)
    )
    block_directives = parse_fence_info(info, path=path, line=max(first_lineno - 1, 1))

    start = 0
    first = contents[0] if contents else None
    if first is not None and (len(contents) == 1 or _is_blank(contents[1] or "")):
        first_line = parse_directive_comment(first, path=path, line=first_lineno)
        if first_line is not None:
            block_directives = block_directives.merged(first_line)
            start = 1

    commands: list[ShellCommand] = []
    comments: list[int] = []  # comment lines directly above the next command
    expected: tuple[str, int] | None = None  # an expectation comment for the next command
    i = start
    n = len(lines)
    while i < n:
        content = contents[i]
        if content is None or _is_blank(content):
            _reject_dangling(comments, contents, path=path, first_lineno=first_lineno)
            comments = []
            i += 1
            continue
        if _is_comment(content):
            prose = _EXPECTATION_COMMENT.match(content.strip(" \t"))
            if prose is not None:
                previous = commands[-1] if commands else None
                right_after = previous is not None and previous.last_line == i - 1
                if previous is not None and right_after and not comments and not expected:
                    commands[-1] = replace(
                        previous,
                        expected_prose=prose.group("prose"),
                        expected_line=i,
                        last_line=previous.last_line,
                    )
                    contents[i] = None  # it said what the command above prints
                else:
                    expected = (prose.group("prose"), i)
                i += 1
                continue
            comments.append(i)
            i += 1
            continue
        scanner = Tokenizer()
        scanner.feed(content)
        text_lines = [content]
        first_index = i
        while not scanner.complete() and i + 1 < n:
            i += 1
            following = lines[i] if not transcript else _continuation_content(lines[i])
            contents[i] = following
            scanner.feed(following)
            text_lines.append(following)
        if not scanner.complete():  # malformed at the end: the rest is one command
            while len(text_lines) > 1 and _is_blank(text_lines[-1]):
                text_lines.pop()
        command = _command(
            text_lines,
            first_index,
            comments,
            contents,
            scanner,
            path=path,
            first_lineno=first_lineno,
        )
        if expected is not None:
            command = replace(command, expected_prose=expected[0], expected_line=expected[1])
            expected = None
        i = first_index + len(text_lines)
        if transcript:
            output, i = _output_after(lines, contents, i)
            command = replace(command, shown_output=output)
        commands.append(command)
        comments = []
    _reject_dangling(comments, contents, path=path, first_lineno=first_lineno)
    return SplitBlock(commands=tuple(commands), directives=block_directives, transcript=transcript)


def _transcript_content(line: str, *, comments: bool) -> str | None:
    if comments and line.lstrip(" \t").startswith("#"):
        return line
    return _prompt_content(line)


def _output_after(
    lines: Sequence[str], contents: list[str | None], start: int
) -> tuple[str | None, int]:
    """A transcript command's output: the lines up to the next prompt or comment."""
    end = start
    while end < len(lines) and contents[end] is None:
        end += 1
    output = [line for line in lines[start:end]]
    while output and not output[-1].strip():
        output.pop()
    while output and not output[0].strip():
        output.pop(0)
    return ("\n".join(output) if output else None), start


def _command(
    text_lines: list[str],
    first_index: int,
    comments: list[int],
    contents: list[str | None],
    scanner: Tokenizer,
    *,
    path: str,
    first_lineno: int,
) -> ShellCommand:
    directives = Directives()
    label: str | None = None
    for index in comments:
        comment = contents[index] or ""
        given = parse_directive_comment(comment, path=path, line=first_lineno + index)
        if given is not None:
            directives = directives.merged(given)
        else:
            label = _label_text(comment) or label
    if directives.name is not None:
        label = directives.name
    # Before `script()`, which finishes the tokenizer's input (complete() is then true).
    valid = scanner.complete() and not scanner.invalid
    return ShellCommand(
        text="\n".join(text_lines),
        first_line=first_index,
        last_line=first_index + len(text_lines) - 1,
        label=label,
        directives=directives,
        is_setup=only_assigns(scanner.script()),
        valid=valid,
    )


def _reject_dangling(
    comments: list[int], contents: list[str | None], *, path: str, first_lineno: int
) -> None:
    """A directive that is not directly above a command would silently do nothing."""
    for index in comments:
        line = first_lineno + index
        if parse_directive_comment(contents[index] or "", path=path, line=line) is not None:
            raise InputError(
                "taskrun directive is not directly above a command (put it on the line "
                "before the command, or first in the block followed by a blank line)",
                path=path,
                line=line,
            )
