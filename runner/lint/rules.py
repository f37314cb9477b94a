"""Lint rules for validation commands: checks that cannot fail, inverted verdicts, state changes,
missing environment. Pure (ShellCheck on whole blocks is `runner.lint.shellcheck`)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from runner.bash.assignments import assigned_names, variables_set
from runner.bash.reading import never_ends
from runner.bash.rules import CANNOT_SEE
from runner.bash.tokenizer import SimpleCommand, Word, parse_script, simple_commands
from runner.evaluate.command import DEFAULT_FAILURE_MARKERS

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int  # 1-based line in the task file
    rule: str
    level: Level
    message: str
    fix: str


# --------------------------------------------------------------------------- structure

_SEPARATORS = frozenset(["&&", "||", ";", "\n", "&", ""])
_BRANCH_WORDS = frozenset(["then", "else", "elif", "do"])
_ECHOES = frozenset(["echo", "printf", "true", ":"])
_SHELL_BUILTIN_VARS = frozenset(
    [
        "HOME",
        "PATH",
        "PWD",
        "OLDPWD",
        "USER",
        "LOGNAME",
        "UID",
        "EUID",
        "PPID",
        "HOSTNAME",
        "HOSTTYPE",
        "SHELL",
        "IFS",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TERM",
        "TMPDIR",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "PIPESTATUS",
        "BASH",
        "BASH_VERSION",
        "BASHPID",
        "BASH_SOURCE",
        "FUNCNAME",
        "OSTYPE",
        "MACHTYPE",
        "SHLVL",
        "REPLY",
        "OPTARG",
        "OPTIND",
        "COLUMNS",
        "LINES",
        "EDITOR",
        "SUDO_USER",
        "HISTFILE",
        "DISPLAY",
        "XDG_RUNTIME_DIR",
    ]
)


@dataclass(frozen=True, slots=True)
class _Pipeline:
    """Simple commands joined by `|`, and the operator that ends the pipeline."""

    stages: tuple[SimpleCommand, ...]
    op_after: str
    negated: bool

    @property
    def first_pos(self) -> int:
        words = self.stages[0].words
        return words[0].pos if words else 0


def _pipelines(commands: Sequence[SimpleCommand]) -> list[_Pipeline]:
    out: list[_Pipeline] = []
    stages: list[SimpleCommand] = []
    for command in commands:
        stages.append(command)
        if command.op_after not in ("|", "|&"):
            negated = stages[0].leading_reserved[-1:] == ("!",)
            out.append(_Pipeline(tuple(stages), command.op_after, negated))
            stages = []
    if stages:
        out.append(_Pipeline(tuple(stages), "", False))
    return out


def _program(argv: Sequence[str]) -> str:
    """The program a simple command runs, looking through sudo/env/timeout-style wrappers."""
    index = 0
    while index < len(argv):
        name = argv[index].rsplit("/", 1)[-1]
        if name in ("sudo", "doas", "nohup", "env", "time", "command", "exec", "nice"):
            index += 1
            while index < len(argv) and (argv[index].startswith("-") or "=" in argv[index]):
                index += 2 if argv[index] in ("-u", "-g", "-n") else 1
            continue
        if name == "timeout":
            index += 2
            continue
        return name
    return ""


def _args_after_program(argv: Sequence[str]) -> tuple[str, ...]:
    program = _program(argv)
    for index, arg in enumerate(argv):
        if arg.rsplit("/", 1)[-1] == program:
            return tuple(argv[index + 1 :])
    return ()


def _line_of(text: str, pos: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, max(pos, 0))


# --------------------------------------------------------------------------- rules


def _echo_text(command: SimpleCommand) -> str:
    args = [a for a in _args_after_program(command.argv) if not re.fullmatch(r"-[neE]+", a)]
    return " ".join(args).strip()


def _is_echo_only(pipeline: _Pipeline) -> bool:
    return all(_program(stage.argv) in _ECHOES or _is_exit_zero(stage) for stage in pipeline.stages)


def _is_exit_zero(command: SimpleCommand) -> bool:
    argv = command.argv
    return bool(argv) and argv[0] in ("exit", "return") and (len(argv) == 1 or argv[1] == "0")


def _fails_explicitly(command: SimpleCommand) -> bool:
    argv = command.argv
    if not argv:
        return False
    if argv[0] in ("exit", "return"):
        return len(argv) > 1 and argv[1] != "0"
    return argv[0] == "false"


def _masking_echo(pipeline: _Pipeline) -> str | None:
    """The text of the echo in an echo-only pipeline (for the ❌-marker distinction)."""
    for stage in pipeline.stages:
        if _program(stage.argv) in ("echo", "printf"):
            return _echo_text(stage)
    return ""


def _masked_failure(
    text: str,
    pipelines: list[_Pipeline],
    file: str,
    line: int,
    markers: Sequence[str] = DEFAULT_FAILURE_MARKERS,
) -> list[Finding]:
    if not pipelines or _is_compound(pipelines):
        return _masked_if(text, pipelines, file, line, markers)
    last = pipelines[-1]
    if len(pipelines) < 2 or not _is_echo_only(last):
        return []
    before = pipelines[-2]
    if before.op_after == "||":
        return [
            _masked_finding(
                _masking_echo(last) or "",
                file,
                _line_of(text, last.first_pos, line),
                "`|| " + _short(last) + "`",
                markers,
            )
        ]
    if before.op_after in (";", "\n") and not any(_is_echo_only(p) for p in pipelines[:-1]):
        return [
            Finding(
                file,
                _line_of(text, last.first_pos, line),
                "masked-failure",
                "error",
                f"the command ends with `{_short(last)}` after `;`, so its exit status is "
                "the echo's and the check cannot fail",
                "join with `&&` instead of `;`, or drop the trailing echo",
            )
        ]
    return []


def _masked_finding(
    echoed: str, file: str, line: int, what: str, markers: Sequence[str]
) -> Finding:
    marker = next((m for m in markers if echoed.lstrip("'\"").startswith(m)), None)
    if marker is not None:
        return Finding(
            file,
            line,
            "masked-failure",
            "warning",
            f"{what} turns a failure into exit 0; it is caught only by the {marker} marker",
            'end the failure branch with `exit 1` (e.g. `|| { echo "❌ …"; exit 1; }`)',
        )
    return Finding(
        file,
        line,
        "masked-failure",
        "error",
        f"{what} turns every failure into exit 0: the check cannot fail",
        "drop the `|| echo …`, or end it with `exit 1`",
    )


def _short(pipeline: _Pipeline) -> str:
    words = [w.raw for stage in pipeline.stages for w in stage.words]
    text = " ".join(words)
    return text if len(text) <= 40 else text[:37] + "…"


def _is_compound(pipelines: list[_Pipeline]) -> bool:
    return any(stage.leading_reserved[:1] == ("if",) for p in pipelines for stage in p.stages)


def _masked_if(
    text: str, pipelines: list[_Pipeline], file: str, line: int, markers: Sequence[str]
) -> list[Finding]:
    """`if …; then echo ✅; else echo ❌; fi` with no branch that exits non-zero."""
    commands = [stage for p in pipelines for stage in p.stages]
    if not commands or commands[0].leading_reserved[:1] != ("if",):
        return []
    branches: list[list[SimpleCommand]] = []
    has_else = False
    for command in commands:
        reserved = command.leading_reserved
        if any(word in _BRANCH_WORDS for word in reserved):
            has_else = has_else or "else" in reserved
            branches.append([])
        if branches and command.argv and reserved[-1:] not in (("if",), ("elif",)):
            branches[-1].append(command)
    if not branches or any(_fails_explicitly(c) for branch in branches for c in branch):
        return []
    if not all(branch and _program(branch[-1].argv) in _ECHOES for branch in branches):
        return []
    else_echo = _echo_text(branches[-1][-1]) if has_else else ""
    # A branch that prints a failure marker makes the check fail at run time, wherever it is
    # (`if grep -q '^pool ' f; then echo "FAILED: …"; fi`).
    marked = [
        text
        for branch in branches
        if (text := _echo_text(branch[-1])).lstrip("'\"").startswith(tuple(markers))
    ]
    what = "`if … else echo … fi`" if has_else else "`if … then echo … fi` without else"
    return [_masked_finding(marked[0] if marked else else_echo, file, line, what, markers)]


_ERROR_WORDS = re.compile(
    r"(?i)(errors?|err|fail(s|ed|ures?)?|fatal|exceptions?|traceback|critical|crit|panic|emerg)"
)


def _grep_pattern(args: Sequence[str]) -> tuple[str | None, bool]:
    """(pattern, inverted by -v) of a grep command line."""
    inverted = False
    pattern: str | None = None
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-e", "--regexp") and index + 1 < len(args):
            pattern = args[index + 1]
            index += 2
            continue
        if arg.startswith("--regexp="):
            pattern = arg.split("=", 1)[1]
        elif arg.startswith("-") and not arg.startswith("--"):
            inverted = inverted or "v" in arg[1:]
        elif arg == "--invert-match":
            inverted = True
        elif not arg.startswith("-") and pattern is None:
            pattern = arg
        index += 1
    return pattern, inverted


def _is_error_pattern(pattern: str) -> bool:
    """Every alternative of the pattern is an error word (`error`, `ERROR|FAIL`, `(fatal)`)."""
    cleaned = re.sub(r"\\b|\\<|\\>|[\^$()]|\.\*", "", pattern)
    alternatives = [a.strip() for a in re.split(r"\\?\|", cleaned)]
    return bool(alternatives) and all(a and _ERROR_WORDS.fullmatch(a) for a in alternatives)


def _inverted_grep(text: str, pipelines: list[_Pipeline], file: str, line: int) -> list[Finding]:
    findings: list[Finding] = []
    for index, pipeline in enumerate(pipelines):
        last = pipeline.stages[-1]
        if _program(last.argv) not in ("grep", "egrep", "zgrep", "rg") or pipeline.negated:
            continue
        is_verdict = index == len(pipelines) - 1 or pipeline.op_after in ("&&", "||")
        pattern, inverted = _grep_pattern(_args_after_program(last.argv))
        if is_verdict and pattern and not inverted and _is_error_pattern(pattern):
            findings.append(
                Finding(
                    file,
                    _line_of(text, last.words[0].pos, line),
                    "inverted-grep",
                    "error",
                    f"`grep {pattern}` passes only when errors are present (exit 0 = a match)",
                    f"negate it: `! … | grep -qi {pattern}`",
                )
            )
    return findings


_MATCHERS = frozenset(["grep", "egrep", "fgrep", "zgrep", "rg", "pgrep", "pidof"])
# "(Expected: No results)" and friends: the check means "nothing matches"
_EXPECTS_NOTHING = re.compile(
    r"\bno\s+(results?|output|match(es)?|process(es)?|lines?)\b|\bnothing\b|\bempty\b",
    re.IGNORECASE,
)


def _expects_no_match(
    text: str, pipelines: list[_Pipeline], file: str, line: int, expected_prose: str | None
) -> list[Finding]:
    """A matcher whose prose expectation is "no results" passes exactly when it should fail."""
    if not expected_prose or not _EXPECTS_NOTHING.search(expected_prose) or not pipelines:
        return []
    pipeline = pipelines[-1]
    last = pipeline.stages[-1]
    program = _program(last.argv)
    if program not in _MATCHERS or pipeline.negated:
        return []
    if (
        program != "pgrep"
        and program != "pidof"
        and _grep_pattern(_args_after_program(last.argv))[1]
    ):
        return []
    shown = " ".join(last.argv)
    return [
        Finding(
            file,
            _line_of(text, last.words[0].pos, line),
            "inverted-grep",
            "error",
            f"`{shown}` exits 0 when something matches, but the expectation is "
            f"{expected_prose.strip()!r}: the check passes exactly when it should fail",
            f"negate it: `! {shown}`",
        )
    ]


_FORMATTERS = frozenset(["jq", "head", "tail", "cat", "tee", "less", "sort", "column", "yq"])
_FAIL_OPTIONS = ("--fail", "--fail-with-body")


def _curl_fails_on_http_errors(args: Sequence[str]) -> bool:
    for arg in args:
        if arg in _FAIL_OPTIONS:
            return True
        if arg.startswith("-") and not arg.startswith("--"):
            for letter in arg[1:]:
                if letter == "f":
                    return True
                if letter in "dFTXHouwAbceEKmrxyYzCDPQtU":
                    break
    return False


def _writes_status_code(args: Sequence[str]) -> bool:
    return any("http_code" in a or "response_code" in a for a in args)


def _curl_no_fail(
    text: str, pipelines: list[_Pipeline], file: str, line: int, expects_output: bool
) -> list[Finding]:
    findings: list[Finding] = []
    for pipeline in pipelines:
        for position, stage in enumerate(pipeline.stages):
            if _program(stage.argv) != "curl":
                continue
            args = _args_after_program(stage.argv)
            if _curl_fails_on_http_errors(args):
                continue
            after = pipeline.stages[position + 1 :]
            status_compared = _writes_status_code(args) and (bool(after) or expects_output)
            content_checked = expects_output or any(
                _program(s.argv) not in _FORMATTERS or _jq_asserts(s) for s in after
            )
            if status_compared or content_checked:
                continue
            shown = (
                "prints the status code but nothing compares it; "
                if _writes_status_code(args)
                else ""
            )
            findings.append(
                Finding(
                    file,
                    _line_of(text, stage.words[0].pos, line),
                    "curl-no-fail",
                    "warning",
                    f"curl without --fail exits 0 on HTTP 4xx/5xx: {shown}the check passes "
                    "whatever the server answers",
                    "add `-f` (`curl -fsS …`), or compare the code: "
                    "`-w '%{http_code}' -o /dev/null | grep -qx 200`",
                )
            )
    return findings


def _jq_asserts(command: SimpleCommand) -> bool:
    for arg in _args_after_program(command.argv):
        if arg == "--exit-status" or (
            arg.startswith("-") and not arg.startswith("--") and "e" in arg
        ):
            return True
    return False


def _jq_no_e(
    text: str, pipelines: list[_Pipeline], file: str, line: int, expects_output: bool
) -> list[Finding]:
    if expects_output:
        return []
    findings: list[Finding] = []
    for pipeline in pipelines:
        last = pipeline.stages[-1]
        if len(pipeline.stages) > 1 and _program(last.argv) == "jq" and not _jq_asserts(last):
            findings.append(
                Finding(
                    file,
                    _line_of(text, last.words[0].pos, line),
                    "jq-no-e",
                    "warning",
                    "`jq` at the end of the pipeline exits 0 even when the field is null or "
                    "missing: the check cannot fail on content",
                    "use `jq -e '…'` so that null or false fails the check",
                )
            )
    return findings


_OUTPUT_ONLY = frozenset(
    [
        "ls",
        "cat",
        "tail",
        "head",
        "echo",
        "printf",
        "date",
        "uptime",
        "df",
        "free",
        "ps",
        "env",
        "printenv",
        "pwd",
        "whoami",
        "hostname",
        "id",
        "uname",
        "du",
        "tree",
        "wc",
        "sort",
        "uniq",
        "stat",
        "file",
        "which",
        "type",
        "lsblk",
    ]
)
_OUTPUT_ONLY_SUBCOMMANDS = {
    "git": frozenset(["log", "show", "status", "branch", "remote", "tag", "describe"]),
    "docker": frozenset(["ps", "images", "logs", "inspect", "version", "info"]),
    "ollama": frozenset(["list", "ps", "show"]),
    "journalctl": None,  # any journalctl that is not piped into a check
    "systemctl": frozenset(["list-units", "list-unit-files", "list-timers", "cat", "show"]),
}
# `systemctl status` is deliberately NOT output-only: it exits 3 when the unit is not active
# and 4 when it does not exist, so its exit code is a real (if verbose) liveness check.


def _is_output_only_stage(command: SimpleCommand) -> bool:
    argv = command.argv
    program = _program(argv)
    if program in _OUTPUT_ONLY:
        return True
    if program in _OUTPUT_ONLY_SUBCOMMANDS:
        subcommands = _OUTPUT_ONLY_SUBCOMMANDS[program]
        if subcommands is None:
            return True
        args = [a for a in _args_after_program(argv) if not a.startswith("-")]
        if program == "git":
            args = _git_verb(_args_after_program(argv))
        return bool(args) and args[0] in subcommands
    return False


def _git_verb(args: Sequence[str]) -> list[str]:
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in ("-C", "-c") else 1
    return list(args[index:])


def _output_only(
    text: str, pipelines: list[_Pipeline], file: str, line: int, expects_output: bool
) -> list[Finding]:
    if expects_output or not pipelines or _is_compound(pipelines):
        return []
    stages = [stage for p in pipelines for stage in p.stages]
    if not all(stage.argv and _is_output_only_stage(stage) for stage in stages):
        return []
    program = _program(stages[0].argv)
    return [
        Finding(
            file,
            line,
            "output-only",
            "warning",
            f"`{program}` only prints: the check passes whatever the output says "
            "(it fails only when the command itself cannot run)",
            "assert on the output (`| grep -q …`, `test …`) or add "
            "`# taskrun: expect-stdout=REGEX`",
        )
    ]


def _used_variables(words: Sequence[Word]) -> list[tuple[str, int, str]]:
    return [(ref.name, ref.pos, ref.op) for word in words for ref in word.refs]


def _env_not_provided(
    text: str,
    commands: Sequence[SimpleCommand],
    file: str,
    line: int,
    available_env: Collection[str] | None,
) -> list[Finding]:
    if available_env is None or _sources_a_file(commands):
        return []
    assigned: set[str] = set()
    for command in commands:
        assigned |= assigned_names(command)
    findings: list[Finding] = []
    reported: set[str] = set()
    for name, pos, op in _used_variables([w for c in commands for w in c.words]) + _redirect_refs(
        commands
    ):
        if (
            name in available_env
            or name in assigned
            or name in reported
            or name in _SHELL_BUILTIN_VARS
            or op.startswith((":-", "-", ":=", "=", ":+", "+"))
        ):
            continue
        reported.add(name)
        findings.append(
            Finding(
                file,
                _line_of(text, pos, line),
                "env-not-provided",
                "warning",
                f"uses ${name}, which is neither set earlier in the block nor provided by "
                "the inventory (`env`/`secrets`)",
                f"add {name} to the component's `env` or `secrets` in inventory.yaml, set it "
                f"earlier in the block, or give a default: ${{{name}:-…}}",
            )
        )
    findings.extend(
        _env_in_substitutions(text, commands, file, line, available_env, assigned | reported)
    )
    return findings


def _redirect_refs(commands: Sequence[SimpleCommand]) -> list[tuple[str, int, str]]:
    return [
        (r.name, r.pos, r.op)
        for c in commands
        for d in c.redirects
        if d.target
        for r in d.target.refs
    ]


def _env_in_substitutions(
    text: str,
    commands: Sequence[SimpleCommand],
    file: str,
    line: int,
    available_env: Collection[str],
    known: set[str],
) -> list[Finding]:
    findings: list[Finding] = []
    for command in commands:
        for word in command.words:
            for sub in word.subs:
                offset = text.find(sub, word.pos)
                for finding in _env_not_provided(
                    sub,
                    simple_commands(parse_script(sub).tokens),
                    file,
                    _line_of(text, offset, line),
                    [*available_env, *known],
                ):
                    known.add(finding.message.split("$", 1)[1].split(",", 1)[0])
                    findings.append(finding)
    return findings


def _sources_a_file(commands: Sequence[SimpleCommand]) -> bool:
    return any(c.argv and c.argv[0] in ("source", ".", "eval") for c in commands)


# Variables a command leaves set for later commands of its block (None: it sources or evals):
# the one answer, from `runner.bash.assignments`.
assigned_variables = variables_set


# --------------------------------------------------------------------------- entry points


def lint_command(
    command: str,
    *,
    file: str,
    line: int,
    section: str,
    guard_reason: str | None,
    available_env: Collection[str] | None,
    expects_output: bool = False,
    expected_prose: str | None = None,
    failure_markers: Sequence[str] = DEFAULT_FAILURE_MARKERS,
) -> list[Finding]:
    """Findings for one validation command starting at 1-based `line` of `file`.

    `expects_output`: the check has an output expectation (`expect-stdout`, `(Expected: …)`),
    which asserts what the command prints; output-only, jq and curl-code rules then stay quiet.
    `section` is where the command sits ("test-commands", "test-steps"); mutating commands are
    errors in both.
    """
    commands = simple_commands(parse_script(command).tokens)
    if not commands:
        return []
    pipelines = _pipelines(commands)
    findings: list[Finding] = []
    if guard_reason:
        what = (
            "the guard cannot see what this validation command runs"
            if guard_reason.startswith(CANNOT_SEE)
            else "validation command changes state"
        )
        findings.append(
            Finding(
                file,
                line,
                "mutating-validation",
                "error",
                f"{what}: {guard_reason}",
                "move it to the Execution Plan, or mark it `# taskrun: mutating=ok` "
                "if the change is intended",
            )
        )
    findings += _masked_failure(command, pipelines, file, line, failure_markers)
    findings += _inverted_grep(command, pipelines, file, line)
    findings += _expects_no_match(command, pipelines, file, line, expected_prose)
    findings += _curl_no_fail(command, pipelines, file, line, expects_output)
    findings += _jq_no_e(command, pipelines, file, line, expects_output)
    findings += _output_only(command, pipelines, file, line, expects_output)
    findings += _env_not_provided(command, commands, file, line, available_env)
    findings += _never_ends(command, file, line)
    return findings


def _never_ends(command: str, file: str, line: int) -> list[Finding]:
    why = never_ends(command)
    if why is None:
        return []
    return [
        Finding(
            file,
            line,
            "never-ends",
            "error",
            f"the check never ends on its own: {why} (taskrun would stop it at the timeout "
            "and report an error)",
            "add `timeout 10` in front, or a count (`-n 50`, `-c 3`, `--timeout=60s`); a "
            "prompt for a person belongs in the Must-Pass sign-off, not in a check",
        )
    ]


__all__ = [
    "Finding",
    "assigned_variables",
    "lint_command",
]
