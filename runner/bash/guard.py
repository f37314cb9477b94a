"""The safety guard: does a shell command change state? Pure; a bash-like word splitter plus one
table of rules, looking through sudo, env, `&&` chains, subshells, `$( )`, `bash -c` and ssh."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

DEFAULT_READ_ONLY_POSTS: tuple[str, ...] = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "*/search",
)

# Nesting bound for `bash -c 'ssh h "sudo sh -c …"'` and friends: the guard must always end.
MAX_DEPTH = 8
# Past the bound the guard cannot see what runs, so it errs on the side of skipping.
TOO_DEEP = "nests shells or wrappers too deeply to check"

# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class VarRef:
    """`$X`, `${X}`, `${X:-…}` outside single quotes; `op` is what follows the name (`:-…`)."""

    name: str
    pos: int
    op: str


@dataclass(frozen=True, slots=True)
class Word:
    value: str  # quotes removed; substitutions kept as written (`$(date)`)
    pos: int  # offset of the word's first character in the text
    quoted: bool  # some part of the word was quoted or escaped
    subs: tuple[str, ...]  # scripts of `$( )`, backticks, `<( )`, `>( )` inside the word
    refs: tuple[VarRef, ...]
    raw: str  # the word as written


@dataclass(frozen=True, slots=True)
class Operator:
    op: str  # && || | |& ; ;; & ( ) or "\n"
    pos: int


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str  # > >> >| < << <<- <<< <> >& <& &> &>>
    fd: str  # "" or the digits written before the operator
    target: Word | None
    pos: int


Token = Word | Operator | Redirect

_OPERATORS = ("&&", "||", ";;", "|&", "|", "&", ";", "(", ")")
_REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", ">>", ">&", "<&", ">|", "<>", ">", "<")
_METACHARS = frozenset(" \t\n|&;()<>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL_PARAM = frozenset("?#@*!$-0123456789")


class _Lexer:
    """Bash word splitting, enough for classification: quotes, escapes, substitutions,
    comments, heredoc bodies. Never raises: unbalanced input runs to the end of the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.heredocs: list[tuple[str, bool]] = []  # (delimiter, strip tabs)

    def tokens(self, *, nested: bool = False) -> list[Token]:
        out: list[Token] = []
        depth = 0
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t":
                self.pos += 1
            elif text.startswith("\\\n", self.pos):
                self.pos += 2
            elif char == "\n":
                out.append(Operator("\n", self.pos))
                self.pos += 1
                self._skip_heredoc_bodies()
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif char in "<>" and text.startswith("(", self.pos + 1):
                out.append(self._word())
            elif char in "<>" or text.startswith("&>", self.pos):
                out.append(self._redirect(""))
            elif char in "|&;()":
                op = next(o for o in _OPERATORS if text.startswith(o, self.pos))
                if op == "(":
                    depth += 1
                elif op == ")":
                    if nested and depth == 0:
                        return out
                    depth -= 1
                out.append(Operator(op, self.pos))
                self.pos += len(op)
            else:
                word = self._word()
                if word.raw.isdigit() and self.pos < len(text) and text[self.pos] in "<>":
                    out.append(self._redirect(word.raw))
                else:
                    out.append(word)
        return out

    def _redirect(self, fd: str) -> Redirect:
        start = self.pos
        op = next(o for o in _REDIRECTS if self.text.startswith(o, self.pos))
        self.pos += len(op)
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        target = None
        if self.pos < len(self.text) and self.text[self.pos] not in _METACHARS:
            target = self._word()
        if op in ("<<", "<<-") and target is not None:
            self.heredocs.append((target.value, op == "<<-"))
        return Redirect(op, fd, target, start)

    def _skip_heredoc_bodies(self) -> None:
        # Indented terminators are accepted too: task files indent fences inside list items.
        for delimiter, _strip_tabs in self.heredocs:
            while self.pos < len(self.text):
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                line = self.text[self.pos : end]
                self.pos = min(end + 1, len(self.text))
                if line.strip() == delimiter:
                    break
        self.heredocs.clear()

    def _word(self) -> Word:
        text = self.text
        start = self.pos
        value: list[str] = []
        subs: list[str] = []
        refs: list[VarRef] = []
        quoted = False
        while self.pos < len(text):
            char = text[self.pos]
            if char in _METACHARS and not (char in "<>" and text.startswith("(", self.pos + 1)):
                break
            if char == "\\":
                if text.startswith("\\\n", self.pos):
                    self.pos += 2
                    continue
                value.append(text[self.pos + 1 : self.pos + 2])
                quoted = True
                self.pos += 2
            elif char == "'":
                end = text.find("'", self.pos + 1)
                end = len(text) if end < 0 else end
                value.append(text[self.pos + 1 : end])
                quoted = True
                self.pos = end + 1
            elif char == '"':
                quoted = True
                self.pos += 1
                self._double_quoted(value, subs, refs)
            elif char == "$" or char == "`" or char in "<>":
                value.append(self._expansion(subs, refs))
            else:
                value.append(char)
                self.pos += 1
        return Word("".join(value), start, quoted, tuple(subs), tuple(refs), text[start : self.pos])

    def _double_quoted(self, value: list[str], subs: list[str], refs: list[VarRef]) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\" and self.pos + 1 < len(text):
                following = text[self.pos + 1]
                if following == "\n":
                    self.pos += 2
                    continue
                value.append(following if following in '$`"\\' else "\\" + following)
                self.pos += 2
            elif char in "$`":
                value.append(self._expansion(subs, refs))
            else:
                value.append(char)
                self.pos += 1

    def _expansion(self, subs: list[str], refs: list[VarRef]) -> str:
        """Consume one `$…`, backtick or `<( )` expansion; return its source text."""
        text = self.text
        start = self.pos
        if text.startswith("$((", start):
            self.pos = _matching_close(text, start + 3, "((", "))")
        elif text.startswith("$(", start) or (text[start] in "<>" and text[start + 1 :][:1] == "("):
            inner = _Lexer(text)
            inner.pos = start + 2
            inner.tokens(nested=True)
            subs.append(text[start + 2 : inner.pos])
            self.pos = min(inner.pos + 1, len(text))
        elif text[start] == "`":
            end = text.find("`", start + 1)
            end = len(text) if end < 0 else end
            subs.append(text[start + 1 : end])
            self.pos = end + 1
        elif text.startswith("${", start):
            self.pos = _matching_close(text, start + 2, "{", "}")
            body = text[start + 2 : self.pos - 1]
            name = _NAME.match(body.lstrip("!#"))
            if name:
                refs.append(VarRef(name.group(), start, body.lstrip("!#")[name.end() :]))
        elif text.startswith("$'", start):
            end = start + 2
            while end < len(text) and text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            self.pos = min(end + 1, len(text))
        else:
            name = _NAME.match(text, start + 1)
            if name:
                refs.append(VarRef(name.group(), start, ""))
                self.pos = name.end()
            elif text[start + 1 : start + 2] in _SPECIAL_PARAM and start + 1 < len(text):
                self.pos = start + 2
            else:
                self.pos = start + 1
        return text[start : self.pos]


def _matching_close(text: str, pos: int, opener: str, closer: str) -> int:
    """Index just after the `closer` that balances an already-consumed `opener`."""
    depth = 1
    while pos < len(text):
        if text.startswith(closer, pos):
            depth -= 1
            pos += len(closer)
            if depth == 0:
                return pos
        elif text.startswith(opener, pos):
            depth += 1
            pos += len(opener)
        elif text[pos] in "'\"":
            end = text.find(text[pos], pos + 1)
            pos = len(text) if end < 0 else end + 1
        else:
            pos += 1
    return len(text)


def tokenize(text: str) -> list[Token]:
    """Split shell text into words, operators and redirections, as bash reads them."""
    return _Lexer(text).tokens()


# --------------------------------------------------------------------------- simple commands


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """Words and redirections between two operators; `op_before`/`op_after` are "" at the ends."""

    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]
    op_before: str
    op_after: str

    @property
    def argv(self) -> tuple[str, ...]:
        """The words after reserved words and leading assignments."""
        return tuple(w.value for w in self.words[_argv_start(self.words) :])

    @property
    def leading_reserved(self) -> tuple[str, ...]:
        return tuple(w.value for w in self.words[: _reserved_count(self.words)])


RESERVED = frozenset(
    [
        "if",
        "then",
        "elif",
        "else",
        "fi",
        "do",
        "done",
        "while",
        "until",
        "!",
        "{",
        "}",
        "[[",
        "]]",
        "case",
        "esac",
        "for",
        "select",
        "function",
        "time",
    ]
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


def _reserved_count(words: Sequence[Word]) -> int:
    count = 0
    for word in words:
        if word.quoted or word.value not in RESERVED or word.value in ("[[", "time"):
            break
        count += 1
    return count


def _argv_start(words: Sequence[Word]) -> int:
    index = _reserved_count(words)
    while index < len(words) and not words[index].quoted and _ASSIGNMENT.match(words[index].raw):
        index += 1
    return index


def simple_commands(tokens: Sequence[Token]) -> list[SimpleCommand]:
    """Group tokens into simple commands (empty groups between two operators are dropped)."""
    out: list[SimpleCommand] = []
    words: list[Word] = []
    redirects: list[Redirect] = []
    before = ""
    for token in tokens:
        if isinstance(token, Operator):
            if words or redirects:
                out.append(SimpleCommand(tuple(words), tuple(redirects), before, token.op))
            words, redirects = [], []
            before = token.op
        elif isinstance(token, Redirect):
            redirects.append(token)
        else:
            words.append(token)
    if words or redirects:
        out.append(SimpleCommand(tuple(words), tuple(redirects), before, ""))
    return out


def assigned_names(command: SimpleCommand) -> set[str]:
    """Variables a simple command sets: `X=…`, `export/local/declare/readonly X=…`, `read X`,
    `for X in`, `mapfile X`."""
    names: set[str] = set()
    words = command.words
    start = _reserved_count(words)
    for word in words[start:]:
        match = _ASSIGNMENT.match(word.raw)
        if word.quoted and not match:
            break
        if not match:
            break
        names.add(word.value.split("=", 1)[0].split("[", 1)[0].rstrip("+"))
    argv = command.argv
    leading = command.leading_reserved
    if leading[-1:] in (("for",), ("select",)) and words[start:]:
        names.add(words[start].value)
    if argv and argv[0] in (
        "export",
        "local",
        "declare",
        "typeset",
        "readonly",
        "read",
        "mapfile",
        "readarray",
        "getopts",
    ):
        for arg in argv[1:]:
            name = arg.split("=", 1)[0]
            if _NAME.fullmatch(name):
                names.add(name)
    return names


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class Rule:
    """One family of state-changing programs; `check(program, args)` gives the reason or None."""

    programs: tuple[str, ...]
    check: Callable[[str, tuple[str, ...]], str | None]


def _always(reason: str) -> Callable[[str, tuple[str, ...]], str | None]:
    return lambda program, args: reason.format(program=program)


def _unless_only(
    reason: str, harmless: frozenset[str]
) -> Callable[[str, tuple[str, ...]], str | None]:
    """Mutating unless every argument is one of the harmless (listing/query) options."""
    return lambda program, args: (
        None if all(a in harmless for a in args) else reason.format(program=program)
    )


def _unless_any(
    reason: str, harmless: frozenset[str]
) -> Callable[[str, tuple[str, ...]], str | None]:
    """Mutating unless some argument is a harmless (status/query) option."""
    return lambda program, args: (
        None if any(a in harmless for a in args) else reason.format(program=program)
    )


def _any_flag(flags: Mapping[str, str]) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag in flags:
                return f"{flags[flag]} ({program} {flag})"
        return None

    return check


def _verb(
    verbs: Mapping[str, str], *, options_with_value: frozenset[str] = frozenset()
) -> Callable[[str, tuple[str, ...]], str | None]:
    """The first positional argument (after options) names the action."""

    def check(program: str, args: tuple[str, ...]) -> str | None:
        positional = _positionals(args, options_with_value)
        if positional and positional[0] in verbs:
            return f"{verbs[positional[0]]} ({program} {positional[0]})"
        return None

    return check


def _positionals(args: Sequence[str], options_with_value: frozenset[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            out.extend(args[index + 1 :])
            break
        elif arg.startswith("-") and arg != "-":
            skip = arg in options_with_value
        else:
            out.append(arg)
    return out


_SYSTEMCTL_VERBS = {
    "start": "starts a service",
    "stop": "stops a service",
    "restart": "restarts a service",
    "reload": "reloads a service",
    "try-restart": "restarts a service",
    "reload-or-restart": "restarts a service",
    "try-reload-or-restart": "restarts a service",
    "condrestart": "restarts a service",
    "enable": "enables a service",
    "disable": "disables a service",
    "reenable": "enables a service",
    "daemon-reload": "reloads systemd units",
    "daemon-reexec": "re-executes systemd",
    "edit": "edits a unit file",
    "mask": "masks a service",
    "unmask": "unmasks a service",
    "kill": "signals a service's processes",
    "isolate": "switches the system target",
    "set-property": "changes a unit's properties",
    "reset-failed": "resets a unit's failed state",
    "revert": "reverts unit files",
    "preset": "resets a unit's enablement",
    "link": "links a unit file",
    "set-default": "changes the default target",
    "reboot": "reboots the machine",
    "poweroff": "powers the machine off",
    "halt": "halts the machine",
    "suspend": "suspends the machine",
}
_SYSTEMCTL_OPTIONS = frozenset(
    [
        "-t",
        "--type",
        "-p",
        "--property",
        "-H",
        "--host",
        "-M",
        "--machine",
        "-n",
        "--lines",
        "-o",
        "--output",
        "-s",
        "--signal",
        "--state",
        "--root",
        "--kill-whom",
    ]
)


def _service(program: str, args: tuple[str, ...]) -> str | None:
    verbs = {
        "start": "starts",
        "stop": "stops",
        "restart": "restarts",
        "reload": "reloads",
        "force-reload": "reloads",
        "try-restart": "restarts",
        "condrestart": "restarts",
    }
    if len(args) >= 2 and args[1] in verbs:
        return f"{verbs[args[1]]} a service ({program} {args[1]})"
    return None


_INSTALL = "installs packages"
_REMOVE = "removes packages"
_UPGRADE = "upgrades packages"
_APT_VERBS = {
    "install": _INSTALL,
    "reinstall": _INSTALL,
    "remove": _REMOVE,
    "purge": _REMOVE,
    "autoremove": _REMOVE,
    "upgrade": _UPGRADE,
    "dist-upgrade": _UPGRADE,
    "full-upgrade": _UPGRADE,
    "update": "refreshes package lists",
    "build-dep": _INSTALL,
}
_DNF_VERBS = {
    "install": _INSTALL,
    "reinstall": _INSTALL,
    "localinstall": _INSTALL,
    "remove": _REMOVE,
    "erase": _REMOVE,
    "autoremove": _REMOVE,
    "upgrade": _UPGRADE,
    "update": _UPGRADE,
    "downgrade": _UPGRADE,
    "distro-sync": _UPGRADE,
}
_APK_VERBS = {"add": _INSTALL, "del": _REMOVE, "upgrade": _UPGRADE, "fix": _UPGRADE}
_PIP_VERBS = {"install": _INSTALL, "uninstall": _REMOVE, "download": "downloads packages"}
_NPM_VERBS = {
    "install": _INSTALL,
    "i": _INSTALL,
    "ci": _INSTALL,
    "add": _INSTALL,
    "uninstall": _REMOVE,
    "remove": _REMOVE,
    "rm": _REMOVE,
    "un": _REMOVE,
    "update": _UPGRADE,
    "upgrade": _UPGRADE,
    "link": "links packages",
}
_PIP_OPTIONS = frozenset(["--python", "--proxy", "--cache-dir", "--log", "--timeout"])
_APT_OPTIONS = frozenset(["-o", "--option", "-c", "--config-file", "-t", "--target-release"])


def _uv(program: str, args: tuple[str, ...]) -> str | None:
    if args[:1] == ("pip",):
        return _verb(_PIP_VERBS)(f"{program} pip", args[1:])
    return _verb({"add": _INSTALL, "remove": _REMOVE, "sync": _INSTALL, "tool": _INSTALL})(
        program, args
    )


_DOCKER_VERBS = {
    "rm": "removes containers",
    "rmi": "removes images",
    "stop": "stops containers",
    "kill": "kills containers",
    "run": "starts a container",
    "restart": "restarts containers",
    "start": "starts containers",
    "create": "creates a container",
    "pause": "pauses containers",
    "unpause": "resumes containers",
    "rename": "renames a container",
    "update": "changes containers",
    "pull": "downloads images",
    "push": "uploads images",
    "build": "builds an image",
    "tag": "tags an image",
    "load": "loads images",
    "import": "imports an image",
    "commit": "creates an image",
    "cp": "copies files",
    "prune": "deletes unused objects",
}
_DOCKER_OBJECT_VERBS = frozenset(
    [
        "rm",
        "rmi",
        "stop",
        "kill",
        "run",
        "restart",
        "start",
        "create",
        "prune",
        "pull",
        "push",
        "build",
        "tag",
        "load",
        "import",
        "remove",
        "update",
        "pause",
        "unpause",
        "rename",
        "cp",
        "commit",
    ]
)
_COMPOSE_VERBS = frozenset(
    [
        "up",
        "down",
        "restart",
        "stop",
        "start",
        "rm",
        "kill",
        "pull",
        "push",
        "build",
        "create",
        "run",
        "pause",
        "unpause",
    ]
)
_DOCKER_OPTIONS = frozenset(["-H", "--host", "--context", "-c", "--config", "-l", "--log-level"])


def _docker(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _DOCKER_OPTIONS)
    if not positional:
        return None
    verb = positional[0]
    if verb == "compose" or program.endswith("-compose"):
        rest = args[args.index("compose") + 1 :] if verb == "compose" else args
        rest = tuple(
            _positionals(
                rest,
                frozenset(
                    [
                        "-f",
                        "--file",
                        "-p",
                        "--project-name",
                        "--profile",
                        "--env-file",
                        "--project-directory",
                    ]
                ),
            )
        )
        if rest and rest[0] in _COMPOSE_VERBS:
            name = f"{program} compose" if verb == "compose" else program
            return f"changes services ({name} {rest[0]})"
        return None
    if verb in ("container", "image", "volume", "network", "system", "builder", "plugin"):
        if len(positional) > 1 and positional[1] in _DOCKER_OBJECT_VERBS:
            return f"changes docker {verb}s ({program} {verb} {positional[1]})"
        return None
    if verb in _DOCKER_VERBS:
        return f"{_DOCKER_VERBS[verb]} ({program} {verb})"
    return None


_GIT_OPTIONS = frozenset(["-C", "-c", "--git-dir", "--work-tree", "--namespace"])
_GIT_ALWAYS = {
    "push": "pushes commits",
    "commit": "creates a commit",
    "checkout": "changes the working tree",
    "switch": "changes the working tree",
    "restore": "changes the working tree",
    "pull": "changes the working tree",
    "merge": "merges commits",
    "rebase": "rewrites commits",
    "cherry-pick": "applies commits",
    "revert": "creates a commit",
    "am": "applies patches",
    "rm": "deletes files",
    "mv": "moves files",
    "add": "changes the index",
    "init": "creates a repository",
    "clone": "creates a repository",
    "gc": "repacks the repository",
    "prune": "prunes objects",
}


def _git(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _GIT_OPTIONS)
    if not positional:
        return None
    verb, rest = positional[0], args[args.index(positional[0]) + 1 :]
    if verb in _GIT_ALWAYS:
        return f"{_GIT_ALWAYS[verb]} (git {verb})"
    if verb == "reset":
        return (
            "discards local changes (git reset --hard)"
            if "--hard" in rest
            else "moves HEAD (git reset)"
        )
    if verb == "clean" and not any(a in ("-n", "--dry-run") for a in rest):
        return "deletes untracked files (git clean)"
    if verb == "stash" and (not rest or rest[0] not in ("list", "show")):
        return "stashes changes (git stash)"
    listing = {
        "-l",
        "--list",
        "-a",
        "--all",
        "-r",
        "--remotes",
        "-v",
        "-vv",
        "--show-current",
        "--contains",
        "--merged",
        "--no-merged",
        "-n",
    }
    if verb in ("tag", "branch") and rest and not any(a.split("=")[0] in listing for a in rest):
        return f"changes refs (git {verb})"
    if verb == "apply" and not any(a in ("--check", "--stat", "--numstat") for a in rest):
        return "applies patches (git apply)"
    if verb == "config" and (
        len(_positionals(rest, frozenset(["--file", "-f"]))) >= 2
        or any(
            a in ("--unset", "--unset-all", "--add", "--replace-all", "-e", "--edit") for a in rest
        )
    ):
        return "changes git configuration (git config)"
    return None


_OLLAMA_VERBS = {
    "pull": "downloads a model",
    "rm": "removes a model",
    "push": "uploads a model",
    "cp": "copies a model",
    "create": "creates a model",
    "stop": "unloads a model",
}
_IPTABLES_FLAGS = {
    f: "changes firewall rules"
    for f in (
        "-A",
        "--append",
        "-D",
        "--delete",
        "-I",
        "--insert",
        "-R",
        "--replace",
        "-F",
        "--flush",
        "-N",
        "--new-chain",
        "-X",
        "--delete-chain",
        "-P",
        "--policy",
        "-Z",
        "--zero",
        "-E",
        "--rename-chain",
    )
}


def _last_positional(args: tuple[str, ...], options_with_value: frozenset[str]) -> str | None:
    for index, arg in enumerate(args):
        if arg in ("-t", "--target-directory") and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--target-directory="):
            return arg.split("=", 1)[1]
    positional = _positionals(args, options_with_value)
    return positional[-1] if len(positional) >= 2 else None


def _copies(verb: str) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        target = _last_positional(args, frozenset(["-S", "--suffix", "-e"]))
        if target is None:
            return None
        return f"{verb} {target} ({program})"

    return check


_HARMLESS_PATHS = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty")


def _is_harmless_path(path: str) -> bool:
    return path in _HARMLESS_PATHS or path.startswith("/dev/fd/") or path == "-"


def _tee(program: str, args: tuple[str, ...]) -> str | None:
    files = [
        a
        for a in _positionals(args, frozenset())
        if not _is_harmless_path(a) and not a.startswith((">(", "<("))
    ]
    if not files:
        return None
    appends = any(a in ("-a", "--append") for a in args)
    return f"appends to {files[0]} (tee -a)" if appends else f"writes to {files[0]} (tee)"


def _dd(program: str, args: tuple[str, ...]) -> str | None:
    for arg in args:
        if arg.startswith("of=") and not _is_harmless_path(arg[3:]):
            return f"writes {arg[3:]} (dd of=)"
    return None


def _in_place(arg_letters: str, takes_value: str) -> Callable[[str, tuple[str, ...]], str | None]:
    """`sed -i`, `sed -Ei.bak`, `perl -pi -e`: an `i` in a short-option cluster, before any
    letter that takes a value."""

    def check(program: str, args: tuple[str, ...]) -> str | None:
        for arg in args:
            if arg == "--" or not arg.startswith("-"):
                continue
            if arg.startswith("--in-place"):
                return f"edits files in place ({program} -i)"
            if arg.startswith("--"):
                continue
            for letter in arg[1:]:
                if letter == "i":
                    return f"edits files in place ({program} -i)"
                if letter in takes_value or letter not in arg_letters:
                    break
        return None

    return check


def _crontab(program: str, args: tuple[str, ...]) -> str | None:
    if "-e" in args:
        return "edits the crontab (crontab -e)"
    if "-r" in args:
        return "removes the crontab (crontab -r)"
    if _positionals(args, frozenset(["-u"])):
        return "installs a crontab (crontab FILE)"
    return None


def _kill(program: str, args: tuple[str, ...]) -> str | None:
    if not args or any(a in ("-0", "-l", "-L", "--list", "-s0") for a in args):
        return None
    return f"sends a signal to processes ({program})"


def _ip(program: str, args: tuple[str, ...]) -> str | None:
    verbs = {"add", "del", "delete", "set", "flush", "change", "replace", "append"}
    changed = next((a for a in args if a in verbs), None)
    return f"changes network settings ({program} … {changed})" if changed else None


def _sysctl(program: str, args: tuple[str, ...]) -> str | None:
    if any(a in ("-w", "--write", "-p", "--load", "--system") or "=" in a for a in args):
        return "changes kernel settings (sysctl)"
    return None


def _set_verb(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, frozenset())
    if positional and positional[0].startswith("set"):
        return f"changes system settings ({program} {positional[0]})"
    return None


def _firewall_verb(verbs: frozenset[str]) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        positional = _positionals(args, frozenset())
        if positional and positional[0] in verbs:
            return f"changes firewall rules ({program} {positional[0]})"
        return None

    return check


def _journalctl(program: str, args: tuple[str, ...]) -> str | None:
    for arg in args:
        if arg.startswith(("--vacuum", "--rotate", "--flush", "--relinquish-var")):
            return f"changes the journal (journalctl {arg.split('=')[0]})"
    return None


def _find(program: str, args: tuple[str, ...]) -> str | None:
    if "-delete" in args:
        return "deletes files (find -delete)"
    return None


RULES: tuple[Rule, ...] = (
    Rule(("systemctl",), _verb(_SYSTEMCTL_VERBS, options_with_value=_SYSTEMCTL_OPTIONS)),
    Rule(("service",), _service),
    Rule(("rm",), _always("deletes files ({program})")),
    Rule(("rmdir",), _always("deletes directories ({program})")),
    Rule(("unlink",), _always("deletes files ({program})")),
    Rule(("shred",), _always("destroys files ({program})")),
    Rule(("mv",), _always("moves files ({program})")),
    Rule(("truncate",), _always("truncates files ({program})")),
    Rule(("mkdir",), _always("creates directories ({program})")),
    Rule(("touch",), _always("creates or touches files ({program})")),
    Rule(("install",), _always("installs files ({program})")),
    Rule(("cp",), _copies("copies onto")),
    Rule(("ln",), _copies("creates a link at")),
    Rule(("scp", "rsync"), _copies("copies onto")),
    Rule(("tee",), _tee),
    Rule(("dd",), _dd),
    Rule(("sed",), _in_place("nrEsuz", "efl")),
    Rule(("perl",), _in_place("pnalw", "eEMmIxCdD0l")),
    Rule(
        ("chmod", "chown", "chgrp", "chattr", "setfacl"),
        _always("changes file permissions ({program})"),
    ),
    Rule(("kill",), _kill),
    Rule(
        ("pkill", "killall", "skill"),
        _unless_only("kills processes ({program})", frozenset(["-l", "--list"])),
    ),
    Rule(("reboot",), _always("reboots the machine ({program})")),
    Rule(("shutdown",), _always("shuts the machine down ({program})")),
    Rule(("poweroff", "halt"), _always("powers the machine off ({program})")),
    Rule(("apt", "apt-get", "aptitude"), _verb(_APT_VERBS, options_with_value=_APT_OPTIONS)),
    Rule(("dnf", "yum", "microdnf", "zypper"), _verb(_DNF_VERBS)),
    Rule(("apk",), _verb(_APK_VERBS)),
    Rule(("pip", "pip3", "pipx"), _verb(_PIP_VERBS, options_with_value=_PIP_OPTIONS)),
    Rule(("uv",), _uv),
    Rule(("npm", "pnpm", "yarn"), _verb(_NPM_VERBS)),
    Rule(("gem",), _verb({"install": _INSTALL, "uninstall": _REMOVE, "update": _UPGRADE})),
    Rule(("snap",), _verb({"install": _INSTALL, "remove": _REMOVE, "refresh": _UPGRADE})),
    Rule(
        ("dpkg",),
        _any_flag(
            {
                "-i": _INSTALL,
                "--install": _INSTALL,
                "-r": _REMOVE,
                "--remove": _REMOVE,
                "-P": _REMOVE,
                "--purge": _REMOVE,
            }
        ),
    ),
    Rule(
        ("rpm",),
        _any_flag(
            {
                "-i": _INSTALL,
                "--install": _INSTALL,
                "-U": _UPGRADE,
                "--upgrade": _UPGRADE,
                "-e": _REMOVE,
                "--erase": _REMOVE,
            }
        ),
    ),
    Rule(("docker", "podman", "docker-compose", "podman-compose", "nerdctl"), _docker),
    Rule(("git",), _git),
    Rule(("ollama",), _verb(_OLLAMA_VERBS)),
    Rule(("crontab",), _crontab),
    Rule(
        (
            "useradd",
            "userdel",
            "usermod",
            "groupadd",
            "groupdel",
            "groupmod",
            "chpasswd",
            "adduser",
            "deluser",
        ),
        _always("changes user accounts ({program})"),
    ),
    Rule(("passwd",), _unless_any("changes a password ({program})", frozenset(["-S", "--status"]))),
    Rule(("iptables", "ip6tables"), _any_flag(_IPTABLES_FLAGS)),
    Rule(("iptables-restore", "ip6tables-restore"), _always("changes firewall rules ({program})")),
    Rule(
        ("ufw",),
        _firewall_verb(
            frozenset(
                [
                    "allow",
                    "deny",
                    "reject",
                    "limit",
                    "delete",
                    "insert",
                    "enable",
                    "disable",
                    "reset",
                    "reload",
                    "default",
                    "route",
                ]
            )
        ),
    ),
    Rule(
        ("nft",),
        _firewall_verb(
            frozenset(
                [
                    "add",
                    "delete",
                    "flush",
                    "insert",
                    "replace",
                    "create",
                    "destroy",
                    "rename",
                    "reset",
                ]
            )
        ),
    ),
    Rule(
        ("mount",),
        _unless_only(
            "mounts a filesystem ({program})", frozenset(["-l", "--list", "--show-labels"])
        ),
    ),
    Rule(("umount",), _always("unmounts a filesystem ({program})")),
    Rule(("ip",), _ip),
    Rule(("sysctl",), _sysctl),
    Rule(("hostnamectl", "timedatectl", "localectl"), _set_verb),
    Rule(("journalctl",), _journalctl),
    Rule(("find",), _find),
)
_RULES_BY_PROGRAM: dict[str, Rule] = {p: rule for rule in RULES for p in rule.programs}


# --------------------------------------------------------------------------- HTTP writes

_CURL_DATA = frozenset(
    [
        "-d",
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-ascii",
        "--data-urlencode",
        "--json",
        "-F",
        "--form",
        "--form-string",
    ]
)
# Options that take a value: their next word is never the URL.
_CURL_VALUE_OPTIONS = _CURL_DATA | frozenset(
    [
        "-T",
        "--upload-file",
        "-X",
        "--request",
        "-H",
        "--header",
        "-o",
        "--output",
        "-u",
        "--user",
        "-w",
        "--write-out",
        "-A",
        "--user-agent",
        "-b",
        "--cookie",
        "-c",
        "--cookie-jar",
        "-e",
        "--referer",
        "-E",
        "--cert",
        "-K",
        "--config",
        "-m",
        "--max-time",
        "-r",
        "--range",
        "-x",
        "--proxy",
        "-y",
        "-Y",
        "-z",
        "-C",
        "-D",
        "--dump-header",
        "-P",
        "-Q",
        "-t",
        "-U",
        "--url",
        "--connect-timeout",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--cacert",
        "--capath",
        "--key",
        "--resolve",
        "--unix-socket",
        "--max-filesize",
        "--limit-rate",
        "--interface",
        "--oauth2-bearer",
        "--netrc-file",
        "--noproxy",
        "--proxy-user",
        "--variable",
        "--expand-data",
        "--expand-url",
        "--aws-sigv4",
    ]
)
_CURL_SHORT_WITH_VALUE = "dFTXHouwAbceEKmrxyYzCDPQtU"
_READ_METHODS = frozenset(["GET", "HEAD", "OPTIONS", "TRACE"])


@dataclass(frozen=True, slots=True)
class _CurlRequest:
    method: str
    urls: tuple[str, ...]
    output_file: str | None


def _curl_options(args: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs of a curl command line; positional arguments come as ("", url)."""
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value
            elif name in _CURL_VALUE_OPTIONS and index < len(args):
                yield name, args[index]
                index += 1
            else:
                yield name, None
        elif arg.startswith("-") and len(arg) > 1:
            for offset, letter in enumerate(arg[1:], start=1):
                if letter in _CURL_SHORT_WITH_VALUE:
                    value = arg[offset + 1 :]
                    if not value and index < len(args):
                        value = args[index]
                        index += 1
                    yield "-" + letter, value
                    break
                yield "-" + letter, None
        else:
            yield "", arg


def curl_request(args: Sequence[str]) -> _CurlRequest:
    explicit: str | None = None
    data = upload = get = head = False
    urls: list[str] = []
    output: str | None = None
    for option, value in _curl_options(args):
        if option in ("-X", "--request") and value:
            explicit = value.upper()
        elif option in _CURL_DATA:
            data = True
        elif option in ("-T", "--upload-file"):
            upload = True
        elif option in ("-G", "--get"):
            get = True
        elif option in ("-I", "--head"):
            head = True
        elif option in ("", "--url") and value:
            urls.append(value)
        elif option in ("-o", "--output") and value and not _is_harmless_path(value):
            output = value
        elif option in ("-O", "--remote-name", "--remote-name-all"):
            output = "the URL's file name"
    implied = "PUT" if upload else "GET" if get else "POST" if data else "HEAD" if head else "GET"
    return _CurlRequest(explicit or implied, tuple(urls), output)


def url_path(url: str) -> str:
    """The path of a URL as written in a command: `http://h:1/p?q` → `/p`; `$BASE/p` → `/p`."""
    rest = re.sub(r"^[A-Za-z][\w+.-]*://[^/?#]*", "", url, count=1)
    if rest == url:
        rest = re.sub(r"^(\$\{[^}]*\}|\$[A-Za-z_]\w*)", "", url, count=1)
    if rest == url and not url.startswith("/"):
        slash = url.find("/")
        rest = "" if slash < 0 else url[slash:]
    path = re.split(r"[?#]", rest, maxsplit=1)[0]
    return path.rstrip("/") or "/"


def is_read_only_post(path: str, read_only_posts: Sequence[str]) -> bool:
    """Entries are exact paths or glob patterns (`*/search`)."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in read_only_posts)


def _curl(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    request = curl_request(args)
    if request.method not in _READ_METHODS:
        for url in request.urls or ("",):
            path = url_path(url)
            if request.method != "POST" or not is_read_only_post(path, read_only_posts):
                return f"HTTP {request.method} to {path}"
    if request.output_file:
        return f"writes to {request.output_file} (curl -o)"
    return None


def _wget(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    method = "GET"
    urls: list[str] = []
    output: str | None = None
    spider = False
    values = {
        "-O",
        "--output-document",
        "--method",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
        "--header",
        "-o",
        "--output-file",
        "-P",
        "--user",
        "--password",
        "-U",
        "--user-agent",
        "-T",
        "--timeout",
        "-t",
        "--tries",
    }
    pairs = _wget_options(args, values)
    for option, value in pairs:
        if option in ("--post-data", "--post-file"):
            method = "POST"
        elif option == "--method" and value:
            method = value.upper()
        elif option in ("-O", "--output-document"):
            output = value
        elif option == "--spider":
            spider = True
        elif option == "":
            urls.append(value or "")
    if method not in _READ_METHODS:
        for url in urls or [""]:
            path = url_path(url)
            if method != "POST" or not is_read_only_post(path, read_only_posts):
                return f"HTTP {method} to {path}"
    if not spider and (output is None or not _is_harmless_path(output)):
        return f"downloads to {output or 'a file'} (wget)"
    return None


def _wget_options(args: Sequence[str], values: set[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if eq:
            out.append((name, value))
        elif arg.startswith("-") and not arg.startswith("--") and "O" in arg:
            rest = arg[arg.index("O") + 1 :]
            if not rest and index < len(args):
                rest = args[index]
                index += 1
            out.append(("-O", rest))
        elif arg.startswith("-") and len(arg) > 1:
            attached = None
            if name in values and index < len(args):
                attached = args[index]
                index += 1
            out.append((name, attached))
        else:
            out.append(("", arg))
    return out


_HTTP_WRITE_METHODS = frozenset(["POST", "PUT", "PATCH", "DELETE"])


def _httpie(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    positional = [a for a in args if not a.startswith("-")]
    if len(positional) >= 2 and positional[0].upper() in _HTTP_WRITE_METHODS:
        method, path = positional[0].upper(), url_path(positional[1])
        if method != "POST" or not is_read_only_post(path, read_only_posts):
            return f"HTTP {method} to {path}"
    return None


_HTTP_CLIENTS: dict[str, Callable[[tuple[str, ...], Sequence[str]], str | None]] = {
    "curl": _curl,
    "wget": _wget,
    "http": _httpie,
    "https": _httpie,
    "xh": _httpie,
}

# --------------------------------------------------------------------------- wrappers


def _skip_options(args: Sequence[str], with_value: frozenset[str], *, stop_at: str = "") -> int:
    """Index of the first argument that is not an option (nor an option's value)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return index + 1
        if not arg.startswith("-") or arg == "-" or (stop_at and arg == stop_at):
            return index
        index += 2 if arg in with_value else 1
    return index


_SUDO_VALUES = frozenset(
    [
        "-u",
        "--user",
        "-g",
        "--group",
        "-C",
        "--close-from",
        "-D",
        "--chdir",
        "-h",
        "--host",
        "-p",
        "--prompt",
        "-r",
        "--role",
        "-t",
        "--type",
        "-U",
        "--other-user",
        "-T",
        "--command-timeout",
        "-R",
        "--chroot",
    ]
)
_XARGS_VALUES = frozenset(
    [
        "-I",
        "-n",
        "-P",
        "-L",
        "-d",
        "-a",
        "-E",
        "-s",
        "--max-args",
        "--max-procs",
        "--delimiter",
        "--arg-file",
        "--max-lines",
        "--replace",
    ]
)
_SSH_VALUES = frozenset(
    [
        "-b",
        "-c",
        "-D",
        "-E",
        "-e",
        "-F",
        "-I",
        "-i",
        "-J",
        "-L",
        "-l",
        "-m",
        "-O",
        "-o",
        "-p",
        "-Q",
        "-R",
        "-S",
        "-W",
        "-w",
        "-B",
    ]
)
_SHELLS = frozenset(["bash", "sh", "dash", "zsh", "ksh", "ash"])


def _unwrap(argv: Sequence[str]) -> tuple[str, ...] | str | None:
    """Look through one wrapper. Returns the wrapped argv, a script to analyse (str), or None
    when `argv[0]` wraps nothing."""
    program = _program(argv[0])
    args = list(argv[1:])
    if program in ("sudo", "doas"):
        return tuple(args[_skip_options(args, _SUDO_VALUES) :])
    if program in ("nohup", "exec", "builtin", "setsid", "unbuffer", "time"):
        return tuple(args[_skip_options(args, frozenset(["-a"])) :])
    if program == "command":
        return (
            None
            if any(a in ("-v", "-V") for a in args)
            else tuple(args[_skip_options(args, frozenset()) :])
        )
    if program == "env":
        index = _skip_options(
            args, frozenset(["-u", "--unset", "-C", "--chdir", "-S", "--split-string"])
        )
        while index < len(args) and _ASSIGNMENT.match(args[index]):
            index += 1
        return tuple(args[index:])
    if program in ("nice", "ionice", "stdbuf", "chrt", "taskset", "flock"):
        index = _skip_options(
            args, frozenset(["-n", "--adjustment", "-c", "--class", "-t", "-i", "-o", "-e", "-p"])
        )
        if program in ("chrt", "taskset", "flock") and index < len(args):
            index += 1
        return tuple(args[index:])
    if program == "timeout":
        index = _skip_options(args, frozenset(["-s", "--signal", "-k", "--kill-after"]))
        return tuple(args[index + 1 :])
    if program == "xargs":
        return tuple(args[_skip_options(args, _XARGS_VALUES) :])
    if program in _SHELLS:
        return _shell_script(args)
    if program in ("ssh", "su", "runuser"):
        return _remote_script(program, args)
    if re.fullmatch(r"python[0-9.]*", program) and args[:2] == ["-m", "pip"]:
        return ("pip", *args[2:])
    if program == "find":
        return _find_exec(args)
    return None


def _shell_script(args: list[str]) -> str | None:
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-o", "+o", "-O", "+O"):
            index += 2
            continue
        if arg.startswith("-") and "c" in arg[1:] and not arg.startswith("--"):
            return args[index + 1] if index + 1 < len(args) else ""
        if not arg.startswith(("-", "+")):
            return None
        index += 1
    return None


def _remote_script(program: str, args: list[str]) -> str | None:
    if program in ("su", "runuser"):
        for index, arg in enumerate(args):
            if arg in ("-c", "--command") and index + 1 < len(args):
                return args[index + 1]
        return None
    index = _skip_options(args, _SSH_VALUES)
    remote = args[index + 1 :]
    return " ".join(remote) if remote else None


def _find_exec(args: list[str]) -> tuple[str, ...] | None:
    for index, arg in enumerate(args):
        if arg in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(index + 1, len(args)) if args[j] in (";", "+")), len(args))
            return tuple(args[index + 1 : end])
    return None


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- the guard


def mutation_reason(
    command: str, *, read_only_posts: Sequence[str] = DEFAULT_READ_ONLY_POSTS
) -> str | None:
    """A short plain reason why `command` changes state, or None when it only reads."""
    return _script_reason(command, read_only_posts, 0)


def _script_reason(script: str, read_only_posts: Sequence[str], depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return TOO_DEEP
    for command in simple_commands(tokenize(script)):
        reason = _command_reason(command, read_only_posts, depth)
        if reason:
            return reason
    return None


def _command_reason(
    command: SimpleCommand, read_only_posts: Sequence[str], depth: int
) -> str | None:
    for word in command.words:
        for sub in word.subs:
            reason = _script_reason(sub, read_only_posts, depth + 1)
            if reason:
                return reason
    reason = _redirect_reason(command.redirects)
    if reason:
        return reason
    if command.leading_reserved[-1:] in (("for",), ("case",), ("select",), ("function",)):
        return None
    return _argv_reason(command.argv, read_only_posts, depth)


def _redirect_reason(redirects: Sequence[Redirect]) -> str | None:
    for redirect in redirects:
        if redirect.op not in (">", ">>", ">|", "&>", "&>>", ">&") or redirect.target is None:
            continue
        target = redirect.target.value
        if redirect.op == ">&" and (target.isdigit() or target == "-"):
            continue
        if _is_harmless_path(target) and target != "-":
            continue
        return (
            f"appends to {target} (>>)" if redirect.op.endswith(">>") else f"writes to {target} (>)"
        )
    return None


def _argv_reason(argv: Sequence[str], read_only_posts: Sequence[str], depth: int) -> str | None:
    for _ in range(MAX_DEPTH):
        if not argv:
            return None
        program = _program(argv[0])
        args = tuple(argv[1:])
        client = _HTTP_CLIENTS.get(program)
        if client:
            return client(args, read_only_posts)
        rule = _RULES_BY_PROGRAM.get(program)
        if rule:
            reason = rule.check(program, args)
            if reason or program != "find":
                return reason
        unwrapped = _unwrap(argv)
        if unwrapped is None:
            return None
        if isinstance(unwrapped, str):
            return _script_reason(unwrapped, read_only_posts, depth + 1)
        argv = unwrapped
    return TOO_DEEP


__all__ = [
    "DEFAULT_READ_ONLY_POSTS",
    "RULES",
    "Operator",
    "Redirect",
    "Rule",
    "SimpleCommand",
    "VarRef",
    "Word",
    "assigned_names",
    "curl_request",
    "is_read_only_post",
    "mutation_reason",
    "simple_commands",
    "tokenize",
    "url_path",
]
