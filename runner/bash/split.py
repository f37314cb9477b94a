"""Split a fenced shell block into the top-level commands bash would read, with the labels and
`# taskrun:` directives (`runner.bash.directives`) that annotate them. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from runner.bash.directives import parse_directive_comment, parse_fence_info
from runner.errors import InputError
from runner.models import Directives, ShellCommand, SplitBlock

__all__ = ["is_transcript", "split_block"]


# --------------------------------------------------------------------------- the scanner

# Frame kinds. Code frames read words and operators; the others are quoted or nested text.
_TOP, _PAREN, _COMSUB, _GROUP, _IF, _LOOP, _CASE, _FHEAD, _ARRAY, _COND = range(10)
_SQUOTE, _DQUOTE, _ANSI, _PARAM, _ARITH, _BACKTICK = range(10, 16)
_CODE_KINDS = frozenset(range(10))

_OPERATOR = re.compile(
    r";;&|;;|;&|;|&&|&>>|&>|&|\|\||\|&|\||<<<|<<-|<<|<&|<>|<\(|<|>>|>&|>\||>\(|>|\(|\)"
)
_PLAIN_RUN = re.compile(r"[^ \t\n'\"\\$`;&|()<>]+")
_DQUOTE_SPECIAL = re.compile(r'["\\$`]')
_PARAM_SPECIAL = re.compile(r"[}\\'\"$`]")
_ARITH_SPECIAL = re.compile(r'[()"$`]')
_BACKTICK_SPECIAL = re.compile(r"[\\`]")
_ANSI_SPECIAL = re.compile(r"[\\']")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPOUND_KEYWORDS = frozenset(
    ("if", "while", "until", "for", "select", "case", "{", "[[", "function")
)
_KEYWORDS = _COMPOUND_KEYWORDS | frozenset(
    ("then", "elif", "else", "fi", "do", "done", "esac", "}", "!", "time")
)
_CLOSES = {"fi": _IF, "done": _LOOP, "esac": _CASE, "}": _GROUP}
_DECLARATION_BUILTINS = frozenset(("export", "readonly", "declare", "typeset", "local"))
_LIST_OPERATORS = frozenset((";", "&&", "||", "\n"))


class _Frame:
    """One open construct. Mutable on purpose: the scanner updates it character by character."""

    __slots__ = (
        "cmd_pos",
        "depth",
        "expect",
        "kind",
        "need_more",
        "owner",
        "state",
        "word",
        "word_plain",
        "word_started",
        "words",
    )

    def __init__(self, kind: int, owner: _Frame | None, state: str | None = None):
        self.kind = kind
        self.owner = owner  # the code frame whose word quoted text belongs to
        self.state = state
        self.cmd_pos = True  # the next word may be a reserved word
        self.need_more = False  # after `&&`, `||`, `|`: the command continues
        self.word: list[str] = []
        self.word_started = False
        self.word_plain = True  # no quoting or expansion: a reserved word candidate
        self.words = 0  # words of the current simple command
        self.depth = 0
        self.expect: str | None = None  # "heredoc", "heredoc-" or "redirect": the next word


class _Scanner:
    """Reads one top-level command line by line and says when bash has complete input."""

    def __init__(self) -> None:
        top = _Frame(_TOP, None)
        top.owner = top
        self.stack: list[_Frame] = [top]
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, quoted)
        self.in_heredoc = False
        self.heredoc_partial: str | None = None  # an unquoted body line ending in `\`
        self.continued = False
        self.tokens: list[tuple[str, str]] = []  # top-level ("word" | "op", text)
        self.runs_commands = False  # `$( )`, backticks or process substitution seen
        self.compound = False  # a compound command, subshell or function at top level
        self.broken = False  # a syntax error ended the command early
        # bash would report a syntax error (`word (`, a stray `)` or `fi`); only noted, so that
        # splitting stays what it was: an untagged block with one is not shell (shown).
        self.invalid = False

    # ------------------------------------------------------------------ public

    def feed(self, line: str) -> None:
        if self.in_heredoc:
            self._heredoc_line(line)
            return
        self.continued = False
        self._scan(line + "\n")

    def complete(self) -> bool:
        return (
            len(self.stack) == 1
            and not self.in_heredoc
            and not self.heredocs
            and not self.continued
            and not self.stack[0].need_more
        )

    def only_assigns(self) -> bool:
        """True when the command only sets variables (`X=1`, `export X=1 Y=2`)."""
        if self.runs_commands or self.compound or self.broken or not self.complete():
            return False
        assigned = False
        simple: list[str] = []
        for kind, text in [*self.tokens, ("op", "\n")]:
            if kind == "word":
                simple.append(text)
                continue
            if text not in _LIST_OPERATORS:
                return False  # a pipe, background job or redirection
            if simple:
                if not _assigns_only(simple):
                    return False
                assigned = True
            simple = []
        return assigned

    # ------------------------------------------------------------------ heredoc bodies

    def _heredoc_line(self, line: str) -> None:
        delimiter, strip_tabs, quoted = self.heredocs[0]
        if self.heredoc_partial is not None:
            line = self.heredoc_partial + line
            self.heredoc_partial = None
        candidate = line.lstrip("\t") if strip_tabs else line
        if candidate == delimiter:
            self.heredocs.pop(0)
            self.in_heredoc = bool(self.heredocs)
            return
        if not quoted and _ends_with_escape(line):
            # bash joins `\`-continued lines of an unquoted body before looking for the end
            self.heredoc_partial = line[:-1]

    # ------------------------------------------------------------------ characters

    def _scan(self, s: str) -> None:
        i, n = 0, len(s)
        while i < n:
            frame = self.stack[-1]
            kind = frame.kind
            if kind in _CODE_KINDS:
                i = self._code(s, i, frame)
            elif kind == _SQUOTE:
                end = s.find("'", i)
                if end < 0:
                    self._add_text(frame, s[i:])
                    return
                self._add_text(frame, s[i : end + 1])
                self.stack.pop()
                i = end + 1
            elif kind == _DQUOTE:
                i = self._quoted(s, i, frame, _DQUOTE_SPECIAL, '"')
            elif kind == _PARAM:
                i = self._quoted(s, i, frame, _PARAM_SPECIAL, "}")
            elif kind == _ANSI:
                i = self._quoted(s, i, frame, _ANSI_SPECIAL, "'")
            elif kind == _BACKTICK:
                i = self._quoted(s, i, frame, _BACKTICK_SPECIAL, "`")
            else:
                i = self._arith(s, i, frame)

    def _add_text(self, frame: _Frame, text: str) -> None:
        owner = frame.owner
        if owner is not None:
            owner.word.append(text)
            owner.word_started = True

    def _quoted(self, s: str, i: int, frame: _Frame, special: re.Pattern[str], close: str) -> int:
        match = special.search(s, i)
        if match is None:
            self._add_text(frame, s[i:])
            return len(s)
        j = match.start()
        c = s[j]
        self._add_text(frame, s[i:j])
        if c == close:
            self._add_text(frame, c)
            self.stack.pop()
            return j + 1
        if c == "\\":
            self._add_text(frame, s[j : j + 2])
            return j + 2
        if c == "$":
            return self._dollar(s, j, frame.owner)
        self._add_text(frame, c)
        if c == "`":
            self.runs_commands = True
        self._push(_SQUOTE if c == "'" else _DQUOTE if c == '"' else _BACKTICK, frame.owner)
        return j + 1

    def _arith(self, s: str, i: int, frame: _Frame) -> int:
        match = _ARITH_SPECIAL.search(s, i)
        if match is None:
            return len(s)
        j = match.start()
        c = s[j]
        if c == "(":
            frame.depth += 1
            return j + 1
        if c == ")":
            if frame.depth:
                frame.depth -= 1
                return j + 1
            self.stack.pop()
            if frame.state == "command":
                self._after_compound()
            return j + 2 if s.startswith(")", j + 1) else j + 1
        if c == '"':
            self._push(_DQUOTE, frame.owner)
            return j + 1
        if c == "`":
            self.runs_commands = True
            self._push(_BACKTICK, frame.owner)
            return j + 1
        return self._dollar(s, j, frame.owner)

    def _dollar(self, s: str, i: int, owner: _Frame | None) -> int:
        """`s[i]` is `$`: open whatever it starts."""
        nxt = s[i + 1 : i + 2]
        if owner is not None:
            owner.word_plain = False
            owner.word_started = True
            owner.word.append("$")
        if nxt == "(":
            if s.startswith("(", i + 2):
                self._push(_ARITH, owner, state="expansion")
                return i + 3
            self.runs_commands = True
            self._push_code(_COMSUB)
            return i + 2
        if nxt == "{":
            self._push(_PARAM, owner)
            return i + 2
        if nxt == "'":
            self._push(_ANSI, owner)
            return i + 2
        if nxt == '"':
            self._push(_DQUOTE, owner)
            return i + 2
        return i + 1

    def _push(self, kind: int, owner: _Frame | None, state: str | None = None) -> _Frame:
        frame = _Frame(kind, owner, state)
        self.stack.append(frame)
        return frame

    def _push_code(self, kind: int, state: str | None = None) -> _Frame:
        frame = _Frame(kind, None, state)
        frame.owner = frame
        self.stack.append(frame)
        return frame

    def _push_compound(self, kind: int, state: str | None = None) -> _Frame:
        parent = self.stack[-1]
        if parent.kind == _FHEAD:  # the function's body replaces its header
            self.stack.pop()
            parent = self.stack[-1]
        parent.need_more = False
        if parent.kind == _TOP:
            self.compound = True
        return self._push_code(kind, state)

    def _after_compound(self) -> None:
        parent = self.stack[-1]
        parent.cmd_pos = False
        parent.need_more = False
        parent.words += 1

    def _syntax_error(self) -> None:
        """Bash drops the input read so far, as a terminal does with pasted lines."""
        top = _Frame(_TOP, None)
        top.owner = top
        self.stack = [top]
        self.heredocs = []
        self.broken = True
        self.invalid = True

    def _pop_compound(self) -> None:
        self.stack.pop()
        self._after_compound()

    # ------------------------------------------------------------------ code

    def _code(self, s: str, i: int, frame: _Frame) -> int:
        c = s[i]
        if c == " " or c == "\t":
            self._end_word(frame)
            return i + 1
        if c == "\n":
            self._end_word(frame)
            self._newline(self.stack[-1])  # the word may have closed the frame (`fi`)
            return i + 1
        if c == "#" and not frame.word_started:
            return s.index("\n", i)  # a comment runs to the end of the line
        if c == "\\":
            if s[i + 1] == "\n":
                self.continued = True
                return i + 2
            frame.word.append(s[i : i + 2])
            frame.word_started = True
            frame.word_plain = False
            return i + 2
        if c == "'" or c == '"' or c == "`":
            frame.word.append(c)
            frame.word_started = True
            frame.word_plain = False
            if c == "`":
                self.runs_commands = True
            self._push(_SQUOTE if c == "'" else _DQUOTE if c == '"' else _BACKTICK, frame)
            return i + 1
        if c == "$":
            return self._dollar(s, i, frame)
        match = _OPERATOR.match(s, i)
        if match is not None:
            return self._operator(s, match.group(), match.end(), frame)
        plain = _PLAIN_RUN.match(s, i)
        assert plain is not None
        frame.word.append(plain.group())
        frame.word_started = True
        return plain.end()

    def _operator(self, s: str, op: str, end: int, frame: _Frame) -> int:
        if op == "(" and frame.kind not in (_COND, _ARRAY, _CASE) and frame.word_started:
            word = "".join(frame.word)
            if word.endswith("=") and _ASSIGNMENT.match(word):
                frame.word_plain = False
                self._push_code(_ARRAY)
                return end
        self._end_word(frame)
        frame = self.stack[-1]  # the word may have closed the frame (`fi;`, `]]&&`)
        kind = frame.kind
        if kind == _TOP:
            self.tokens.append(("op", op))
        if op in ("<(", ">("):
            self.runs_commands = True
            frame.word_started = True
            frame.word_plain = False
            self._push_code(_COMSUB)
            return end
        if kind == _COND:
            frame.state = _cond_state_after_operator(frame.state, op)
            return end
        if kind == _ARRAY:
            if op == ")":
                self.stack.pop()
            return end
        if kind == _CASE and frame.state != "body":
            if op == ")":
                frame.state = "body"
                frame.cmd_pos = True
                frame.words = 0
            elif op in ("|", "("):
                frame.state = "pattern"
            return end
        if op in (";;", ";&", ";;&") and kind == _CASE:
            frame.state = "pattern-start"
            return end
        if op in (";", ";;", ";&", ";;&", "&"):
            frame.cmd_pos = True
            frame.need_more = False
            frame.words = 0
            frame.expect = None
            if kind == _LOOP:
                frame.state = None
            return end
        if op in ("&&", "||", "|", "|&"):
            frame.cmd_pos = True
            frame.need_more = True
            frame.words = 0
            return end
        if op == "(":
            return self._open_paren(s, end, frame)
        if op == ")":
            self._close_paren()
            return end
        frame.expect = "heredoc" if op == "<<" else "heredoc-" if op == "<<-" else "redirect"
        return end

    def _open_paren(self, s: str, end: int, frame: _Frame) -> int:
        rest = s[end:].lstrip(" \t")
        if frame.kind == _FHEAD and rest.startswith(")"):
            frame.state = "body"
            return s.index(")", end) + 1
        if s.startswith("(", end) and (
            frame.cmd_pos or (frame.kind == _LOOP and frame.state == "for")
        ):
            state = "for" if frame.kind == _LOOP else "command"
            if state == "command":
                self._push_compound(_ARITH, state=state)
            else:
                self._push(_ARITH, frame, state=state)
            self.stack[-1].owner = None
            return end + 1
        if frame.words == 1 and not frame.cmd_pos and rest.startswith(")"):
            # `name ()`: a function definition; its body follows
            frame.words = 0
            frame.cmd_pos = True
            if frame.kind == _TOP:
                self.compound = True
            self._push_code(_FHEAD, state="body")
            return s.index(")", end) + 1
        if not frame.cmd_pos:
            self.invalid = True  # `word (`: "syntax error near unexpected token `('"
        self._push_compound(_PAREN)
        return end

    def _close_paren(self) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            kind = self.stack[depth].kind
            if kind in (_PAREN, _COMSUB):
                del self.stack[depth:]
                if kind == _PAREN:
                    self._after_compound()
                return
        self.invalid = True  # a `)` that closes nothing

    def _end_word(self, frame: _Frame) -> None:
        if not frame.word_started:
            return
        word = "".join(frame.word)
        plain = frame.word_plain
        frame.word = []
        frame.word_started = False
        frame.word_plain = True
        kind = frame.kind
        if kind == _TOP:
            self.tokens.append(("word", word))
        if frame.expect is not None:
            if frame.expect != "redirect":
                quoted = any(c in word for c in "'\"\\")
                self.heredocs.append((_unquote(word), frame.expect == "heredoc-", quoted))
            frame.expect = None
            return
        if kind == _COND:
            if plain and word == "]]":
                self._pop_compound()
            else:
                frame.state = _cond_state_after_word(frame.state, word)
            return
        if kind == _ARRAY:
            return
        if kind == _CASE and frame.state != "body":
            self._case_word(frame, word, plain)
            return
        if kind == _FHEAD and frame.state == "name":
            frame.state = "body"
            return
        if kind == _LOOP and frame.state == "for":
            return
        if frame.cmd_pos and plain and word in _KEYWORDS:
            self._keyword(frame, word)
            return
        frame.cmd_pos = False
        frame.need_more = False
        frame.words += 1

    def _case_word(self, frame: _Frame, word: str, plain: bool) -> None:
        if frame.state == "subject":
            frame.state = "in"
        elif frame.state == "in":
            if word == "in":
                frame.state = "pattern-start"
        elif frame.state == "pattern-start" and plain and word == "esac":
            self._pop_compound()
        else:
            frame.state = "pattern"

    def _keyword(self, frame: _Frame, word: str) -> None:
        kind = frame.kind
        if word in ("then", "else", "elif", "do"):
            if kind != (_LOOP if word == "do" else _IF):
                self.invalid = True
            frame.need_more = False
        elif _CLOSES.get(word) == kind:
            self._pop_compound()
        elif word == "if":
            self._push_compound(_IF)
        elif word in ("while", "until"):
            self._push_compound(_LOOP)
        elif word in ("for", "select"):
            self._push_compound(_LOOP, state="for").cmd_pos = False
        elif word == "case":
            self._push_compound(_CASE, state="subject").cmd_pos = False
        elif word == "{":
            self._push_compound(_GROUP)
        elif word == "[[":
            self._push_compound(_COND, state="term")
        elif word == "function":
            self._push_compound(_FHEAD, state="name")
        elif word in ("!", "time"):
            pass
        else:  # a closing word that closes nothing: bash reports a syntax error when it runs
            self.invalid = True
            frame.cmd_pos = False
            frame.need_more = False
            frame.words += 1

    def _newline(self, frame: _Frame) -> None:
        kind = frame.kind
        if kind == _TOP:
            self.tokens.append(("op", "\n"))
        if kind == _COND and frame.state not in ("term", "done"):
            self._syntax_error()  # a newline inside a [[ ]] term: bash reports an error
        elif kind == _LOOP and frame.state == "for":
            frame.state = None
            frame.cmd_pos = True
        elif kind not in (_COND, _ARRAY, _FHEAD) and not (kind == _CASE and frame.state != "body"):
            frame.cmd_pos = True
            frame.words = 0
        if self.heredocs:
            self.in_heredoc = True


# `[[ … ]]` terms, as bash's parser reads them: a newline may come where a term starts
# ("term") or after a whole term ("done"), nowhere else.
_UNARY_TESTS = frozenset("-" + c for c in "abcdefghknoprstuvwxzGLNORS")
_BINARY_TESTS = frozenset(
    ("==", "=", "!=", "=~", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef")
)


def _cond_state_after_word(state: str | None, word: str) -> str:
    if state == "term":
        if word == "!":
            return "term"
        return "operand" if word in _UNARY_TESTS else "left"
    if state == "left" and word in _BINARY_TESTS:
        return "right"
    return "done"


def _cond_state_after_operator(state: str | None, op: str) -> str:
    if op in ("&&", "||", "("):
        return "term"
    if op in ("<", ">") and state == "left":
        return "right"
    return "done"


def _ends_with_escape(line: str) -> bool:
    """True when the line ends in an odd number of backslashes (an escaped newline)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _unquote(word: str) -> str:
    """A heredoc delimiter after quote removal (`'EOF'`, `"EOF"`, `\\EOF` → `EOF`)."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        c = word[i]
        if c == "\\" and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif c == "'":
            end = word.find("'", i + 1)
            end = n if end < 0 else end
            out.append(word[i + 1 : end])
            i = end + 1
        elif c == '"':
            i += 1
            while i < n and word[i] != '"':
                if word[i] == "\\" and i + 1 < n and word[i + 1] in '"\\$`':
                    i += 1
                out.append(word[i])
                i += 1
            i += 1
        elif c == "$" and word.startswith(("$'", '$"'), i):
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _assigns_only(words: Sequence[str]) -> bool:
    """`X=1 Y=2` or `export X=1 Y` (a declaration builtin with harmless options)."""
    if words[0] in _DECLARATION_BUILTINS:
        names = [word for word in words[1:] if not word.startswith(("-", "+"))]
        options = "".join(word[1:] for word in words[1:] if word.startswith(("-", "+")))
        if not names or any(flag in options for flag in "fFp"):
            return False  # these print instead of assigning
        return all(_ASSIGNMENT.match(word) or _NAME.match(word) for word in names)
    return all(_ASSIGNMENT.match(word) for word in words)


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
        scanner = _Scanner()
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
    scanner: _Scanner,
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
        is_setup=scanner.only_assigns(),
        valid=scanner.complete() and not scanner.invalid,
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
