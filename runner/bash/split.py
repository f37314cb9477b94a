"""Split a fenced shell block into the top-level commands bash would read (the one tokenizer,
`runner.bash.tokenizer`, says where bash has complete input), with the labels and
`# taskrun:` directives (`runner.bash.directives`) that annotate them. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.bash.assignments import only_assigns
from runner.bash.directives import parse_directive_comment, parse_fence_info
from runner.bash.tokenizer import Tokenizer
from runner.errors import InputError
from runner.models import Directives, ShellCommand, SplitBlock

__all__ = ["split_block"]


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


def split_block(
    body: Sequence[str],
    *,
    info: str = "",
    lang: str = "bash",
    path: str = "<block>",
    first_lineno: int = 1,
) -> SplitBlock:
    """Split a code block's lines into the top-level commands bash would run one by one."""
    console = lang.casefold() == "console"
    lines = list(body)
    contents: list[str | None] = (
        [_prompt_content(line) for line in lines] if console else list(lines)
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
            comments.append(i)
            i += 1
            continue
        scanner = Tokenizer()
        scanner.feed(content)
        text_lines = [content]
        first_index = i
        while not scanner.complete() and i + 1 < n:
            i += 1
            following = lines[i] if not console else _continuation_content(lines[i])
            contents[i] = following
            scanner.feed(following)
            text_lines.append(following)
        if not scanner.complete():  # malformed at the end: the rest is one command
            while len(text_lines) > 1 and _is_blank(text_lines[-1]):
                text_lines.pop()
        commands.append(
            _command(
                text_lines,
                first_index,
                comments,
                contents,
                scanner,
                path=path,
                first_lineno=first_lineno,
            )
        )
        comments = []
        i = first_index + len(text_lines)
    _reject_dangling(comments, contents, path=path, first_lineno=first_lineno)
    return SplitBlock(commands=tuple(commands), directives=block_directives)


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
    return ShellCommand(
        text="\n".join(text_lines),
        first_line=first_index,
        last_line=first_index + len(text_lines) - 1,
        label=label,
        directives=directives,
        is_setup=only_assigns(scanner.script()),
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
