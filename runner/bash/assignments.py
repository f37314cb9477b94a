"""What a command assigns: the one answer to "does this line only set variables?" (a setup step
in the plan) and to "which variables does it leave set?" (lint's env-not-provided). Pure; reads
the tokens of `runner.bash.tokenizer`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.bash.tokenizer import (
    Operator,
    Redirect,
    Script,
    SimpleCommand,
    Word,
    parse_script,
    simple_commands,
)

__all__ = [
    "Assignment",
    "assigned_names",
    "assignment",
    "only_assigns",
    "variables_set",
]

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DECLARATION_BUILTINS = frozenset(("export", "readonly", "declare", "typeset", "local"))
# Builtins that set the variables they name (and do other things too).
_READERS = frozenset(("read", "mapfile", "readarray", "getopts"))
_LIST_OPERATORS = frozenset((";", "&&", "||", "\n"))
_SOURCES = frozenset(("source", ".", "eval"))


@dataclass(frozen=True, slots=True)
class Assignment:
    names: frozenset[str]  # variables the simple command sets
    only: bool  # it does nothing else (`X=1`, `export X=1 Y`)


def assignment(command: SimpleCommand) -> Assignment:
    """The variables one simple command sets, and whether that is all it does."""
    words = command.words
    reserved = len(command.leading_reserved)
    names: set[str] = set()
    index = reserved
    while index < len(words) and _is_assignment(words[index]):
        names.add(_assigned_name(words[index].raw))
        index += 1
    rest = words[index:]
    if command.leading_reserved[-1:] in (("for",), ("select",)) and words[reserved:]:
        return Assignment(frozenset({words[reserved].value}), False)
    if not rest:
        return Assignment(frozenset(names), bool(names) and not reserved)
    program = rest[0].value
    args = rest[1:]
    if program in DECLARATION_BUILTINS and not rest[0].quoted:
        declared = [w for w in args if not w.value.startswith(("-", "+"))]
        options = "".join(w.value[1:] for w in args if w.value.startswith(("-", "+")))
        for word in declared:
            name = word.value.split("=", 1)[0]
            if _NAME.fullmatch(name):
                names.add(name)
        only = (
            bool(declared)
            and index == reserved
            and not reserved
            and not any(flag in options for flag in "fFp")  # these print instead of assigning
            and all(_ASSIGNMENT.match(w.raw) or _NAME.fullmatch(w.raw) for w in declared)
        )
        return Assignment(frozenset(names), only)
    if program in _READERS:
        for word in args:
            name = word.value.split("=", 1)[0]
            if _NAME.fullmatch(name):
                names.add(name)
    return Assignment(frozenset(names), False)


def assigned_names(command: SimpleCommand) -> set[str]:
    """Variables a simple command sets: `X=…`, `export/local/declare/readonly X=…`, `read X`,
    `for X in`, `mapfile X`."""
    return set(assignment(command).names)


def only_assigns(script: Script) -> bool:
    """True when a whole top-level command only sets variables (`X=1`, `export X=1 Y=2`): a
    setup step. Substitutions, pipes, redirections, compound commands and syntax errors make
    it a command."""
    if script.runs_commands or script.compound or script.broken or not script.complete:
        return False
    if any(isinstance(t, Redirect) for t in script.tokens):
        return False
    if any(isinstance(t, Operator) and t.op not in _LIST_OPERATORS for t in script.tokens):
        return False  # a pipe or a background job
    commands = simple_commands(script.tokens)
    return bool(commands) and all(assignment(c).only for c in commands)


def variables_set(text: str) -> frozenset[str] | None:
    """Variables a command leaves set for later commands of its block, or None when it sources
    a file or evals (anything may be set)."""
    commands = simple_commands(parse_script(text).tokens)
    if any(c.argv and c.argv[0] in _SOURCES for c in commands):
        return None
    names: set[str] = set()
    for command in commands:
        names |= assignment(command).names
    return frozenset(names)


def _is_assignment(word: Word) -> bool:
    # `X="a b"` assigns (its value is quoted); `"X"=1` is a command's name
    return _ASSIGNMENT.match(word.raw) is not None


def _assigned_name(raw: str) -> str:
    return raw.split("=", 1)[0].split("[", 1)[0].rstrip("+")
