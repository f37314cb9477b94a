"""What a command means to a person reading the task, beyond what bash does with it: a
placeholder to fill in before running, a decorative line that only prints literal text, a
command that never ends or waits for a person. Pure; shared by the planner and lint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.bash.guard import SimpleCommand, simple_commands, tokenize

__all__ = [
    "Placeholder",
    "is_decorative",
    "never_ends",
    "placeholders",
]

_WRAPPERS = frozenset(("sudo", "doas", "nohup", "env", "time", "command", "exec", "nice", "stdbuf"))
_ECHOES = frozenset(("echo", "printf"))


def _program_and_args(argv: Sequence[str]) -> tuple[str, tuple[str, ...], bool]:
    """(program, its args, runs under `timeout`), looking through sudo/env-style wrappers."""
    index = 0
    bounded = False
    while index < len(argv):
        name = argv[index].rsplit("/", 1)[-1]
        if name in _WRAPPERS:
            index += 1
            while index < len(argv) and (argv[index].startswith("-") or "=" in argv[index]):
                index += 2 if argv[index] in ("-u", "-g", "-n", "-o", "-e") else 1
            continue
        if name == "timeout":
            bounded = True
            index += 1
            while index < len(argv) and argv[index].startswith("-"):
                index += 2 if argv[index] in ("-s", "-k", "--signal", "--kill-after") else 1
            index += 1  # the duration
            continue
        return name, tuple(argv[index + 1 :]), bounded
    return "", (), bounded


def _commands(command: str) -> list[SimpleCommand]:
    try:
        return simple_commands(tokenize(command))
    except (ValueError, IndexError):  # the guard's lexer on text that is not shell
        return []


# --------------------------------------------------------------------------- decorative lines


def is_decorative(command: str, failure_markers: Sequence[str] = ()) -> bool:
    """`echo ""`, `echo "=== Section ==="`, `echo "1. Unit file:"`: one echo of literal text,
    no variable, no substitution, no redirection. It prints a caption, it checks nothing."""
    commands = _commands(command)
    if len(commands) != 1 or "\n" in command.strip():
        return False
    only = commands[0]
    if only.redirects or only.op_after not in ("", ";") or only.leading_reserved:
        return False
    argv = only.argv
    if not argv or argv[0] not in _ECHOES or len(argv) != len(only.words):
        return False
    if any(word.refs or word.subs or "$" in word.raw or "`" in word.raw for word in only.words):
        return False
    text = " ".join(a for a in argv[1:] if not re.fullmatch(r"-[neE]+", a)).strip()
    return not any(text.startswith(marker) for marker in failure_markers)


# --------------------------------------------------------------------------- placeholders


@dataclass(frozen=True, slots=True)
class Placeholder:
    text: str  # as written: `<service>`, `[host]`, `{{rag_key}}`, `YOUR_API_KEY`
    offset: int  # in the command text


_ANGLE = re.compile(r"(?<![<\w$])<(?P<name>[A-Za-z][A-Za-z0-9_-]*(?:[ _-][A-Za-z0-9_-]+)*)>(?!>)")
_BRACKET_WORD = re.compile(r"^\[[A-Za-z][A-Za-z0-9_-]+(?: [A-Za-z0-9_-]+)*\]$")
_TEMPLATE = re.compile(r"\{\{\s*(?P<name>[A-Za-z_]\w*)\s*\}\}")
_YOUR = re.compile(r"\bYOUR_[A-Z0-9_]+\b")


def placeholders(command: str, *, filled: Callable[[str], bool]) -> list[Placeholder]:
    """The values a person must fill in before the command can run: `<word>`, a `[word]`
    argument, `{{var}}` that `filled(var)` says no inventory var fills, `YOUR_…`.

    Not placeholders: `[ … ]` tests, redirections (`2>/dev/null`), `%{http_code}`, `${VAR}`,
    text in single quotes (a grep pattern such as `'<title>'`), an echo's own text.
    """
    commands = _commands(command)
    quiet = _echo_spans(command, commands) + _single_quoted(command)

    def outside(offset: int) -> bool:
        return not any(start <= offset < end for start, end in quiet)

    found: list[Placeholder] = []
    for match in _ANGLE.finditer(command):
        closing = f"</{match.group('name')}>"
        if outside(match.start()) and closing not in command:
            found.append(Placeholder(match.group(), match.start()))
    for simple in commands:
        for word in simple.words:
            if not word.quoted and _BRACKET_WORD.match(word.raw) and outside(word.pos):
                found.append(Placeholder(word.raw, word.pos))
    for match in _TEMPLATE.finditer(command):
        if not filled(match.group("name")) and outside(match.start()):
            found.append(Placeholder(match.group(), match.start()))
    for match in _YOUR.finditer(command):
        if outside(match.start()):
            found.append(Placeholder(match.group(), match.start()))
    return sorted(found, key=lambda p: p.offset)


def _echo_spans(command: str, commands: Sequence[SimpleCommand]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for simple in commands:
        argv = simple.argv
        if argv and argv[0] in _ECHOES:
            for word in simple.words[1:]:
                spans.append((word.pos, word.pos + len(word.raw)))
    return spans


def _single_quoted(command: str) -> list[tuple[int, int]]:
    """Offsets of single-quoted text (outside double quotes)."""
    spans: list[tuple[int, int]] = []
    index, double = 0, False
    while index < len(command):
        char = command[index]
        if char == "\\" and not double:
            index += 2
            continue
        if char == '"':
            double = not double
        elif char == "'" and not double:
            end = command.find("'", index + 1)
            end = len(command) if end < 0 else end
            spans.append((index, end + 1))
            index = end
        index += 1
    return spans


# --------------------------------------------------------------------------- never ending


def never_ends(command: str) -> str | None:
    """Why the command never ends on its own or waits for a person; None when it ends.

    A stage under `timeout N` ends; so do counted forms (`ping -c 3`, `top -bn1`).
    """
    commands = _commands(command)
    loop = _endless_loop(command, commands)
    if loop:
        return loop
    for simple in commands:
        reason = _stage_never_ends(simple)
        if reason:
            return reason
    return None


def _endless_loop(command: str, commands: Sequence[SimpleCommand]) -> str | None:
    for simple in commands:
        reserved = simple.leading_reserved
        if reserved[-1:] in (("while",), ("until",)) and simple.argv:
            forever = simple.argv[0] in ("true", ":") if reserved[-1] == "while" else None
            if reserved[-1] == "until":
                forever = simple.argv[0] == "false"
            if forever and not re.search(r"\b(?:break|exit|return)\b", command):
                return f"`{reserved[-1]} {simple.argv[0]}` loops until interrupted"
    return None


def _short_flags(args: Sequence[str]) -> set[str]:
    letters: set[str] = set()
    for arg in args:
        cluster = re.match(r"-([A-Za-z]+)", arg)  # `-fn`, `-bn1`, `-n50`: the letters
        if cluster is not None:
            letters.update(cluster.group(1))
    return letters


def _stage_never_ends(simple: SimpleCommand) -> str | None:
    program, args, bounded = _program_and_args(simple.argv)
    if not program or bounded:
        return None
    flags = _short_flags(args)
    long = set(args)
    follow = "--follow" in long or any(a.startswith("--follow=") for a in args)
    if program == "watch":
        return "`watch` repeats until interrupted"
    if program in ("tail", "journalctl") and (follow or flags & {"f", "F"}):
        return f"`{program} -f` follows the log until interrupted"
    if program in ("kubectl", "oc"):
        if "--watch" in long or "--watch-only" in long or "w" in flags:
            return f"`{program} … -w` watches until interrupted"
        if ("logs" in args or "attach" in args) and (follow or "f" in flags):
            return f"`{program} logs -f` follows the log until interrupted"
        if "port-forward" in args:
            return f"`{program} port-forward` runs until interrupted"
    if program in ("docker", "podman") and "logs" in args and (follow or "f" in flags):
        return f"`{program} logs -f` follows the log until interrupted"
    if program in ("docker", "podman") and "events" in args and "--until" not in long:
        return f"`{program} events` streams until interrupted"
    if program == "read" and _reads_a_person(simple, args):
        return "`read` waits for a person to type an answer"
    if program in ("open", "xdg-open", "sensible-browser"):
        return f"`{program}` opens a browser for a person"
    if program == "kinit" and not flags & {"k", "t"} and "--keytab" not in long:
        return "`kinit` asks a person for a password"
    if program in ("ping", "ping6") and not flags & {"c", "w"}:
        return f"`{program}` without `-c` pings until interrupted"
    if program == "tcpdump" and "c" not in flags:
        return "`tcpdump` without `-c` captures until interrupted"
    if program == "top" and "b" not in flags and "n" not in flags:
        return "`top` is interactive"
    if program in ("htop", "less", "more", "vi", "vim", "nano", "man"):
        return f"`{program}` is interactive"
    if program == "sleep" and args[:1] == ("infinity",):
        return "`sleep infinity` never ends"
    return None


def _reads_a_person(simple: SimpleCommand, args: Sequence[str]) -> bool:
    """`read` from the terminal: not from a pipe, a redirect or a loop's condition."""
    if simple.op_before in ("|", "|&") or "while" in simple.leading_reserved:
        return False
    if any(redirect.op.startswith("<") for redirect in simple.redirects):
        return False
    return not _short_flags(args) & {"t", "u"}
