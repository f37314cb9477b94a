"""The safety guard: does a shell command change state? Pure.

It reads a command with the one tokenizer (`runner.bash.tokenizer`) and looks through whatever
runs other commands — sudo and the other wrappers, `&&` chains, subshells, `$( )`, `bash -c`,
scripts fed to a shell on stdin (heredocs, here-strings, pipes), ssh, functions, `eval` — down
to the programs, judged by the table in `runner.bash.rules`. Where it cannot see what will run
(`curl … | sh`, `eval "$x"`, `$cmd`, `systemctl "$action"`), that is the reason: the guard
prevents accidents and fails closed; it is not a sandbox.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from runner.bash.assignments import assigned_names
from runner.bash.rules import (
    CANNOT_SEE,
    DEFAULT_READ_ONLY_POSTS,
    HTTP_CLIENTS,
    INIT_SCRIPT,
    RULES,
    RULES_BY_PROGRAM,
    Rule,
    cannot_see,
    curl_request,
    init_script,
    is_dynamic,
    is_harmless_path,
    is_read_only_post,
    redis_command_reason,
    shown,
    sql_argument,
    sql_reason,
    url_path,
)
from runner.bash.tokenizer import (
    Operator,
    Redirect,
    SimpleCommand,
    Token,
    VarRef,
    Word,
    parse_script,
    simple_commands,
    tokenize,
)

__all__ = [
    "CANNOT_SEE",
    "DEFAULT_READ_ONLY_POSTS",
    "MAX_DEPTH",
    "RULES",
    "TOO_DEEP",
    "Arg",
    "Operator",
    "Redirect",
    "Rule",
    "SessionGuard",
    "SimpleCommand",
    "Token",
    "VarRef",
    "Word",
    "assigned_names",
    "curl_request",
    "function_definitions",
    "is_read_only_post",
    "mutation_reason",
    "simple_commands",
    "tokenize",
    "url_path",
]

# Nesting bound for `bash -c 'ssh h "sudo sh -c …"'` and friends: the guard must always end.
MAX_DEPTH = 8
# Past the bound the guard cannot see what runs, so it errs on the side of skipping.
TOO_DEEP = "nests shells or wrappers too deeply to check"

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_SHELLS = frozenset(["bash", "sh", "dash", "zsh", "ksh", "ash", "mksh", "busybox-sh"])
_SQL_CLIENTS = frozenset(["psql", "mysql", "mariadb", "sqlite3"])


class Arg(str):
    """A word's value that remembers how bash gets it: `dynamic` when some part is only known
    at run time (`$x`, `$(…)`); `name_dynamic` when, as a command, its program name is."""

    dynamic: bool
    name_dynamic: bool
    raw: str

    def __new__(cls, value: str, *, raw: str, dynamic: bool, name_dynamic: bool) -> Arg:
        arg = super().__new__(cls, value)
        arg.raw = raw
        arg.dynamic = dynamic
        arg.name_dynamic = name_dynamic
        return arg


def _arg(word: Word) -> Arg:
    # `$VENV/bin/pip` runs pip; `$cmd`, `${PY:-python3}` and `$(which x)` could run anything
    tail = word.value[word.literal_from :]
    return Arg(
        word.value,
        raw=word.raw,
        dynamic=word.expanded,
        name_dynamic=word.expanded and "/" not in tail,
    )


@dataclass(frozen=True, slots=True)
class _Stdin:
    """What a command reads on stdin: a script the guard can read (`text`), or not (None)."""

    text: str | None
    source: str  # where it comes from, for the reason ("curl", "a heredoc")


@dataclass(frozen=True, slots=True)
class _Nested:
    """A script some program runs (`bash -c …`, ssh's remote command, a heredoc fed to sh)."""

    script: str
    stdin: _Stdin | None


@dataclass(frozen=True, slots=True)
class _Context:
    read_only_posts: tuple[str, ...]
    functions: Mapping[str, str]  # name → body, as the shell knows them here
    calling: frozenset[str] = frozenset()  # functions being judged (recursion ends there)


# --------------------------------------------------------------------------- entry points


def mutation_reason(
    command: str,
    *,
    read_only_posts: Sequence[str] = DEFAULT_READ_ONLY_POSTS,
    functions: Mapping[str, str] | None = None,
) -> str | None:
    """A short plain reason why `command` changes state — or why the guard cannot see what it
    runs (`CANNOT_SEE`) — or None when it only reads. `functions`: the functions earlier
    commands of the same session defined (`function_definitions`)."""
    context = _Context(tuple(read_only_posts), dict(functions or {}))
    return _script_reason(command, context, 0, None)


def function_definitions(command: str) -> dict[str, str]:
    """The functions a command defines (name → body), for the later commands of its block."""
    return {f.name: f.body for f in parse_script(command).functions if f.name}


class SessionGuard:
    """Judges the commands of one bash session in order, as they run: a function an earlier
    command defined is judged by its body where a later command calls it. `guard` is
    `mutation_reason` with the project's settings (or a stand-in taking one argument)."""

    def __init__(self, guard: Callable[..., str | None] | None) -> None:
        self._guard = guard
        self._functions: dict[str, str] = {}

    def __call__(self, command: str, *, is_setup: bool = False) -> str | None:
        reason = None
        if self._guard is not None and not is_setup:
            known = dict(self._functions)
            reason = self._guard(command, functions=known) if known else self._guard(command)
        if "(" in command or "function" in command:
            self._functions.update(function_definitions(command))
        return reason


# --------------------------------------------------------------------------- scripts


def _script_reason(script: str, context: _Context, depth: int, stdin: _Stdin | None) -> str | None:
    if depth > MAX_DEPTH:
        return TOO_DEEP
    parsed = parse_script(script)
    if parsed.functions:
        defined = {f.name: f.body for f in parsed.functions if f.name}
        context = replace(context, functions={**context.functions, **defined})
    previous: SimpleCommand | None = None
    for command in simple_commands(parsed.tokens):
        source = _stdin_of(command, previous, stdin)
        reason = _command_reason(command, context, depth, source)
        if reason:
            return reason
        previous = command
    for token in parsed.tokens:
        if isinstance(token, Redirect) and token.body is not None and not token.terminated:
            # A terminator bash would not accept (indented, trailing blanks) ended the heredoc
            # for the writer: the lines after it are judged too, to err on the safe side.
            rest = _after_loose_terminator(token)
            reason = _script_reason(rest, context, depth, stdin) if rest else None
            if reason:
                return reason
    return None


def _after_loose_terminator(redirect: Redirect) -> str | None:
    if redirect.body is None or redirect.target is None:
        return None
    lines = redirect.body.value.split("\n")
    for index, line in enumerate(lines):
        if line.strip() == redirect.target.value:
            return "\n".join(lines[index + 1 :])
    return None


def _stdin_of(
    command: SimpleCommand, previous: SimpleCommand | None, inherited: _Stdin | None
) -> _Stdin | None:
    """What the command reads on stdin: its own input redirection, else the pipe it sits in,
    else its enclosing script's stdin (None: closed, as in a taskrun session)."""
    for redirect in reversed(command.redirects):
        if redirect.fd not in ("", "0"):
            continue
        if redirect.op in ("<<", "<<-"):
            return _Stdin(redirect.body.value if redirect.body else "", "a heredoc")
        if redirect.op == "<<<":
            return _Stdin(redirect.target.value if redirect.target else "", "a here-string")
        if redirect.op in ("<", "<>", "<&"):
            target = redirect.target.raw if redirect.target else "a file"
            return _Stdin(None, target)
    if command.op_before in ("|", "|&"):
        if previous is not None and previous.op_after in ("|", "|&"):
            return _pipe_source(previous)
        return _Stdin(None, "a compound command")
    return inherited


def _pipe_source(stage: SimpleCommand) -> _Stdin:
    """The text a pipeline stage writes, where it is literal (`echo '…'`, `printf '…'`,
    `cat <<EOF`); otherwise unknown."""
    argv = [_arg(w) for w in stage.argv_words]
    if not argv:
        return _Stdin(None, "a compound command")
    program = _program(argv[0])
    args = argv[1:]
    if program == "echo":
        options = ""
        while args and re.fullmatch(r"-[neE]+", args[0]):
            options += args[0][1:]
            args = args[1:]
        text = " ".join(args)
        return _Stdin(_decode_escapes(text) if "e" in options else text, "echo")
    if program == "printf" and args and args[0] != "-v":
        return _Stdin(_printf(args), "printf")
    if program == "cat" and all(a.startswith("-") and a != "-" for a in args):
        own = _stdin_of(stage, None, None)
        if own is not None and own.text is not None:
            return own
        return _Stdin(None, "cat")
    return _Stdin(None, shown(argv[0]) if argv[0].name_dynamic else program)


def _decode_escapes(text: str) -> str:
    return re.sub(r"\\([ntr\\])", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], "\\"), text)


def _printf(args: Sequence[str]) -> str:
    """The output of `printf FORMAT ARGS…`, near enough to judge it as a script."""
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        return ""
    form, values = _decode_escapes(args[0]), list(args[1:])
    out: list[str] = []
    for _ in range(len(values) + 1):
        out.append(
            re.sub(r"%[-+ #0-9.]*[sbdiqcuxXfgeE]", lambda _m: values.pop(0) if values else "", form)
        )
        if not values:
            break
    return "".join(out).replace("%%", "%")


# --------------------------------------------------------------------------- one command


def _command_reason(
    command: SimpleCommand, context: _Context, depth: int, stdin: _Stdin | None
) -> str | None:
    for word in command.words:
        for sub in word.subs:
            reason = _script_reason(sub, context, depth + 1, None)
            if reason:
                return reason
    for redirect in command.redirects:
        for part in (redirect.target, redirect.body):
            for sub in part.subs if part is not None else ():
                reason = _script_reason(sub, context, depth + 1, None)
                if reason:
                    return reason
    reason = _redirect_reason(command.redirects)
    if reason:
        return reason
    if command.leading_reserved[-1:] in (("for",), ("case",), ("select",), ("function",)):
        return None
    argv = tuple(_arg(w) for w in command.argv_words)
    return _argv_reason(argv, context, depth, stdin)


def _redirect_reason(redirects: Sequence[Redirect]) -> str | None:
    for redirect in redirects:
        if redirect.op not in (">", ">>", ">|", "&>", "&>>", ">&") or redirect.target is None:
            continue
        target = redirect.target.value
        if redirect.op == ">&" and (target.isdigit() or target == "-"):
            continue
        if is_harmless_path(target) and target != "-":
            continue
        return (
            f"appends to {target} (>>)" if redirect.op.endswith(">>") else f"writes to {target} (>)"
        )
    return None


def _argv_reason(
    argv: Sequence[str], context: _Context, depth: int, stdin: _Stdin | None
) -> str | None:
    for _ in range(MAX_DEPTH):
        if not argv:
            return None
        first = argv[0]
        if getattr(first, "name_dynamic", False):
            return cannot_see(f"the command is {shown(first)}")
        program = _program(first)
        args = tuple(argv[1:])
        if "/" not in first and program in context.functions:
            if program in context.calling:
                return None  # a recursive call: its body is being judged already
            calling = replace(context, calling=context.calling | {program})
            return _script_reason(context.functions[program], calling, depth + 1, stdin)
        if program == "eval":
            return _eval_reason(args, context, depth, stdin)
        if program in ("source", "."):
            if args and args[0].startswith(("<(", ">(")) and is_dynamic(args[0]):
                return cannot_see(f"{program} {shown(args[0])}")
            return None  # a file the guard does not read
        client = HTTP_CLIENTS.get(program)
        if client:
            return client(args, context.read_only_posts)
        if program in _SQL_CLIENTS and sql_argument(program, args) is None:
            reason = _stdin_sql(program, stdin)
            if reason:
                return reason
        if program in ("redis-cli", "valkey-cli") and stdin is not None and stdin.text:
            for line in stdin.text.splitlines():
                words = shlex.split(line, comments=False) if line.strip() else []
                reason = redis_command_reason(program, words) if words else None
                if reason:
                    return reason
        if "/" in first and INIT_SCRIPT.search(first):
            return init_script(first, args)
        rule = RULES_BY_PROGRAM.get(program)
        if rule:
            reason = rule.check(program, args)
            if reason or program != "find":
                return reason
        unwrapped = _unwrap(program, args, stdin)
        if unwrapped is None:
            return None
        if isinstance(unwrapped, str):
            return unwrapped
        if isinstance(unwrapped, _Nested):
            return _script_reason(unwrapped.script, context, depth + 1, unwrapped.stdin)
        argv = unwrapped
    return TOO_DEEP


def _eval_reason(
    args: Sequence[str], context: _Context, depth: int, stdin: _Stdin | None
) -> str | None:
    """`eval 'literal'` is judged as its text; an expansion in it could run anything."""
    if not args:
        return None
    if any(is_dynamic(a) for a in args):
        return cannot_see("eval " + " ".join(shown(a) for a in args))
    return _script_reason(" ".join(args), context, depth + 1, stdin)


def _stdin_sql(program: str, stdin: _Stdin | None) -> str | None:
    if stdin is None:
        return None
    if stdin.text is None:
        return cannot_see(f"{program} reads SQL from {stdin.source}")
    return sql_reason(program, stdin.text)


# --------------------------------------------------------------------------- wrappers


def _options(
    args: Sequence[str], values: str = "", long_values: frozenset[str] = frozenset()
) -> tuple[dict[str, str | None], int]:
    """GNU-style options before the first operand: clusters (`-iu root`), attached values
    (`-n10`, `--user=x`), `--`. Returns (options seen, index of the first operand)."""
    seen: dict[str, str | None] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return seen, index + 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            index += 1
            if eq:
                seen[name] = value
            elif name in long_values and index < len(args):
                seen[name] = args[index]
                index += 1
            else:
                seen[name] = None
            continue
        if not arg.startswith("-") or arg == "-":
            return seen, index
        index += 1
        for offset, letter in enumerate(arg[1:], start=1):
            if letter in values:
                value = arg[offset + 1 :]
                if not value and index < len(args):
                    value = args[index]
                    index += 1
                seen["-" + letter] = value
                break
            seen["-" + letter] = None
    return seen, index


_SUDO_LONG = frozenset(
    [
        "--user",
        "--group",
        "--close-from",
        "--chdir",
        "--host",
        "--prompt",
        "--role",
        "--type",
        "--other-user",
        "--command-timeout",
        "--chroot",
    ]
)
_XARGS_VALUES = "IinPLdaEs"
_XARGS_LONG = frozenset(["--max-args", "--max-procs", "--delimiter", "--arg-file", "--max-lines"])
_SSH_VALUES = "bcDEeFIiJLlmOopQRSWwB"


def _unwrap(
    program: str, args: tuple[str, ...], stdin: _Stdin | None
) -> tuple[str, ...] | _Nested | str | None:
    """Look through one program that runs another. Returns the wrapped argv, a script to judge
    (`_Nested`), a reason (str), or None when the program runs nothing else."""
    if program == "sudo":
        seen, index = _options(args, "ugChpRrTtUD", _SUDO_LONG)
        rest = args[index:]
        if rest:
            return rest
        shell = any(k in seen for k in ("-s", "-i", "--shell", "--login"))
        return _from_stdin("sudo " + ("-i" if "-i" in seen else "-s"), stdin) if shell else None
    if program == "doas":
        seen, index = _options(args, "uC")
        rest = args[index:]
        return rest if rest else _from_stdin("doas -s", stdin) if "-s" in seen else None
    if program in ("nohup", "builtin", "unbuffer"):
        return args[_options(args, "p")[1] :]
    if program == "exec":
        return args[_options(args, "a")[1] :]
    if program == "setsid":
        return args[_options(args)[1] :]
    if program == "time":
        return args[_options(args, "fo", frozenset(["--format", "--output"]))[1] :]
    if program == "command":
        seen, index = _options(args)
        return None if "-v" in seen or "-V" in seen else args[index:]
    if program == "env":
        return _env(args, stdin)
    if program == "nice":
        return args[_options(args, "n", frozenset(["--adjustment"]))[1] :]
    if program == "ionice":
        seen, index = _options(args, "cnpPu", frozenset(["--class", "--classdata", "--pid"]))
        return None if {"-p", "-P", "-u", "--pid", "--pgid", "--uid"} & set(seen) else args[index:]
    if program == "stdbuf":
        return args[_options(args, "ioe", frozenset(["--input", "--output", "--error"]))[1] :]
    if program == "chrt":
        seen, index = _options(args, "TPD")
        if {"-p", "--pid", "-m", "--max"} & set(seen):
            return None
        return args[index + 1 :]  # the priority, then the command
    if program == "taskset":
        seen, index = _options(args)
        if {"-p", "--pid"} & set(seen):
            return None
        return args[index + 1 :]  # the mask (or `-c` list), then the command
    if program == "flock":
        return _flock(args, stdin)
    if program == "timeout":
        index = _options(args, "sk", frozenset(["--signal", "--kill-after"]))[1]
        return args[index + 1 :]
    if program == "watch":
        rest = args[_options(args, "nq", frozenset(["--interval", "--equexit"]))[1] :]
        return _Nested(" ".join(rest), None) if rest else None
    if program == "xargs":
        return args[_options(args, _XARGS_VALUES, _XARGS_LONG)[1] :]
    if program in _SHELLS:
        return _shell(program, args, stdin)
    if program == "ssh":
        return _ssh(args, stdin)
    if program in ("su", "runuser"):
        return _su(program, args, stdin)
    if program == "chroot":
        rest = args[_options(args)[1] :]
        return rest[1:] if len(rest) > 1 else _from_stdin("chroot", stdin) if rest else None
    if re.fullmatch(r"python[0-9.]*", program) and args[:2] == ("-m", "pip"):
        return ("pip", *args[2:])
    if program == "find":
        return _find_exec(args)
    return None


def _from_stdin(program: str, stdin: _Stdin | None) -> _Nested | str | None:
    """A shell that reads its script on stdin: judge the script, if the guard can read it."""
    if stdin is None:
        return None  # stdin is closed: nothing to read
    if stdin.text is None:
        return cannot_see(f"{program} reads a script from {stdin.source}")
    return _Nested(stdin.text, None)


def _shell(program: str, args: tuple[str, ...], stdin: _Stdin | None) -> _Nested | str | None:
    index = 0
    reads_stdin = False
    while index < len(args):
        arg = args[index]
        if arg in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            index += 2
            continue
        if arg == "--":
            index += 1
            break
        if arg.startswith("--"):
            index += 1
            continue
        if arg.startswith(("-", "+")) and len(arg) > 1:
            if arg[0] == "-" and "c" in arg[1:]:
                return _Nested(args[index + 1] if index + 1 < len(args) else "", stdin)
            reads_stdin = reads_stdin or (arg[0] == "-" and "s" in arg[1:])
            index += 1
            continue
        break
    operands = args[index:]
    if operands and not reads_stdin and operands[0] not in ("-", "/dev/stdin"):
        script = operands[0]
        if script.startswith(("<(", ">(")) and is_dynamic(script):
            return cannot_see(f"{program} runs a script from {shown(script)}")
        return None  # a script file: the guard does not read files
    return _from_stdin(program, stdin)


def _ssh(args: tuple[str, ...], stdin: _Stdin | None) -> _Nested | str | None:
    seen, index = _options(args, _SSH_VALUES)
    if "-N" in seen or index >= len(args):
        return None
    if "-n" in seen:
        stdin = None  # `ssh -n`: stdin is /dev/null
    remote = args[index + 1 :]
    if remote:
        return _Nested(" ".join(remote), stdin)
    return _from_stdin("ssh", stdin)


def _su(
    program: str, args: tuple[str, ...], stdin: _Stdin | None
) -> tuple[str, ...] | _Nested | str | None:
    seen, index = _options(args, "cgGsuw", frozenset(["--command", "--group", "--shell", "--user"]))
    command = seen.get("-c") or seen.get("--command")
    for position, arg in enumerate(args):  # `su - app -c 'cmd'`: options may follow the user
        if command is None and arg in ("-c", "--command") and position + 1 < len(args):
            command = args[position + 1]
        elif command is None and arg.startswith("--command="):
            command = arg.split("=", 1)[1]
    if command is not None:
        return _Nested(command, stdin)
    user = seen.get("-u") or seen.get("--user")
    rest = args[index:]
    if program == "runuser" and user is not None:
        return rest if rest else None
    if rest and rest[0] == "-":
        rest = rest[1:]
    # `su [-] [user]` without -c starts a shell that reads stdin
    return _from_stdin(program, stdin) if len(rest) <= 1 else None


def _env(args: tuple[str, ...], stdin: _Stdin | None) -> tuple[str, ...] | _Nested | None:
    seen, index = _options(args, "uCS", frozenset(["--unset", "--chdir", "--split-string"]))
    while index < len(args) and _ASSIGNMENT.match(args[index]):
        index += 1
    split = seen.get("-S") or seen.get("--split-string")
    if split is not None:
        # `env -S 'cmd args'`: the string is split into the command line
        return _Nested(" ".join([split, *(shlex.quote(a) for a in args[index:])]), stdin)
    return args[index:]


def _flock(args: tuple[str, ...], stdin: _Stdin | None) -> tuple[str, ...] | _Nested | None:
    seen, index = _options(
        args, "wEc", frozenset(["--wait", "--timeout", "--conflict-exit-code", "--command"])
    )
    rest = args[index:]
    if not rest:
        return None
    if rest[0].isdigit():
        return None  # `flock 9`: locks an open file descriptor, runs nothing
    after = rest[1:]
    command = seen.get("-c") or seen.get("--command")
    if command is None and after[:1] in (("-c",), ("--command",)) and len(after) > 1:
        command = after[1]
    if command is not None:
        return _Nested(command, stdin)
    return after


def _find_exec(args: Sequence[str]) -> tuple[str, ...] | None:
    for index, arg in enumerate(args):
        if arg in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(index + 1, len(args)) if args[j] in (";", "+")), len(args))
            return tuple(args[index + 1 : end])
    return None


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]
