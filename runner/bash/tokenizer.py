"""The one bash tokenizer. It reads shell text as bash's parser does — quotes, `$( )`, `${ }`,
arithmetic, `[[ ]]`, `(( ))`, compound commands, functions, heredocs with their bodies — and
serves every reader of shell text: the splitter (where bash has a complete command), the guard
and lint (words, operators, redirections, function bodies). Pure; never raises.

Fed line by line (`Tokenizer.feed`), it says when the input is complete; `Tokenizer.script()`
gives the tokens of the commands that run at this level. The insides of `$( )`, backticks and
function bodies are not tokens here: they come as source text (`Word.subs`, `FunctionDef.body`)
for the reader to tokenize in turn, as bash runs them later, elsewhere.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "FunctionDef",
    "Operator",
    "Redirect",
    "Script",
    "SimpleCommand",
    "Token",
    "Tokenizer",
    "VarRef",
    "Word",
    "parse_script",
    "simple_commands",
    "tokenize",
]

# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class VarRef:
    """`$X`, `${X}`, `${X:-…}` outside single quotes; `op` is what follows the name (`:-…`)."""

    name: str
    pos: int
    op: str


@dataclass(frozen=True, slots=True)
class Word:
    value: str  # quotes removed; expansions kept as written (`$(date)`, `$HOME`)
    pos: int  # offset of the word's first character in the text
    quoted: bool  # some part of the word was quoted or escaped
    subs: tuple[str, ...]  # scripts of `$( )`, backticks, `<( )`, `>( )` inside the word
    refs: tuple[VarRef, ...]
    raw: str  # the word as written
    literal_from: int = 0  # index in `value` after the last expansion; 0: none

    @property
    def expanded(self) -> bool:
        """Some part of the word is only known when bash expands it (`$x`, `$(…)`)."""
        return self.literal_from > 0


@dataclass(frozen=True, slots=True)
class Operator:
    op: str  # && || | |& ; ;; ;& ;;& & ( ) or "\n"
    pos: int


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str  # > >> >| < << <<- <<< <> >& <& &> &>>
    fd: str  # "" or the digits written before the operator
    target: Word | None
    pos: int
    body: Word | None = None  # a heredoc's body; `body.quoted`: the delimiter was quoted
    terminated: bool = True  # False: the heredoc ran to the end of the text


@dataclass(frozen=True, slots=True)
class FunctionDef:
    name: str
    body: str  # the compound command, as written: `{ rm x; }`
    pos: int


Token = Word | Operator | Redirect


@dataclass(frozen=True, slots=True)
class Script:
    """What the tokenizer read: the tokens of the commands at this level and the functions
    defined there; `complete` is bash's view (nothing left open)."""

    tokens: tuple[Token, ...]
    functions: tuple[FunctionDef, ...]
    complete: bool
    runs_commands: bool  # `$( )`, backticks or process substitution somewhere
    compound: bool  # a compound command, subshell or function at the top level
    broken: bool  # a syntax error ended the command early


# --------------------------------------------------------------------------- frames

# Code frames read words and operators; the others are quoted or nested text.
_TOP, _PAREN, _COMSUB, _GROUP, _IF, _LOOP, _CASE, _FHEAD, _ARRAY, _COND = range(10)
_SQUOTE, _DQUOTE, _ANSI, _PARAM, _ARITH, _BACKTICK, _BRACKET, _SUBSCRIPT, _HBODY = range(10, 19)
_CODE_KINDS = frozenset(range(10))

_OPERATOR = re.compile(
    r";;&|;;|;&|;|&&|&>>|&>|&|\|\||\|&|\||<<<|<<-|<<|<&|<>|<\(|<|>>|>&|>\||>\(|>|\(|\)"
)
_REDIRECTS = frozenset(("&>>", "&>", "<<<", "<<-", "<<", "<&", "<>", "<", ">>", ">&", ">|", ">"))
_PLAIN_RUN = re.compile(r"[^ \t\n'\"\\$`;&|()<>]+")
_DQUOTE_SPECIAL = re.compile(r'["\\$`]')
_HBODY_SPECIAL = re.compile(r"[\\$`]")
_PARAM_SPECIAL = re.compile(r"[}\\'\"$`]")
_ARITH_SPECIAL = re.compile(r'[()"$`]')
_BRACKET_SPECIAL = re.compile(r"[\[\]\"'$`\\]")
_BACKTICK_SPECIAL = re.compile(r"[\\`]")
_ANSI_SPECIAL = re.compile(r"[\\']")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL_PARAM = frozenset("?#@*!$-0123456789")
_COMPOUND_KEYWORDS = frozenset(
    ("if", "while", "until", "for", "select", "case", "{", "[[", "function")
)
_KEYWORDS = _COMPOUND_KEYWORDS | frozenset(
    ("then", "elif", "else", "fi", "do", "done", "esac", "}", "!", "time")
)
_CLOSES = {"fi": _IF, "done": _LOOP, "esac": _CASE, "}": _GROUP}


@dataclass(frozen=True, slots=True)
class _Span:
    """A bracketed expansion inside a word (`$( )`, `${ }`, `$(( ))`, `$[ ]`, backticks)."""

    end: int
    kind: str  # "comsub", "procsub", "backtick", "param", "arith"
    closed: bool
    subs: tuple[str, ...] = ()  # substitutions inside a `${ }` or arithmetic span


class _Frame:
    """One open construct. Mutable on purpose: the tokenizer updates it character by character."""

    __slots__ = (
        "assign_ok",
        "cmd_pos",
        "collector",
        "depth",
        "emit",
        "expect",
        "fname",
        "frecord",
        "fstart",
        "inner_subs",
        "is_span",
        "kind",
        "need_more",
        "nested",
        "owner",
        "record_to",
        "redirect",
        "spans",
        "start",
        "state",
        "subs_to",
        "word_plain",
        "word_start",
        "word_started",
        "words",
    )

    def __init__(self, kind: int, owner: _Frame | None, state: str | None = None):
        self.kind = kind
        self.owner = owner  # the code frame whose word quoted text belongs to
        self.state = state
        self.start = 0  # where the construct begins in the text
        self.cmd_pos = True  # the next word may be a reserved word
        self.assign_ok = True  # the next word may be an assignment (`arr[1<<2]=x`)
        self.need_more = False  # after `&&`, `||`, `|`: the command continues
        self.word_started = False
        self.word_plain = True  # no quoting or expansion: a reserved word candidate
        self.word_start = 0
        self.words = 0  # words of the current simple command
        self.depth = 0
        self.expect: str | None = None  # "heredoc", "heredoc-" or "redirect": the next word
        self.redirect: tuple[str, str, int] | None = None  # (op, fd, pos) awaiting its word
        self.emit = False  # its words and operators are tokens of the script
        self.nested = False  # inside an expansion of a word: not a span of its own
        self.is_span = False
        self.collector: _Frame | None = None  # the frame whose word this text belongs to
        self.record_to: _Frame | None = None  # where this frame's span is recorded
        self.spans: dict[int, _Span] = {}
        self.fname: str | None = None  # a function body: the function's name
        self.fstart = 0
        self.frecord = False
        # `${x:-$(cmd)}`, `$(( $(cmd) ))`: a `$( )` inside such a span still runs; it is
        # kept with the span (`inner_subs`) so readers see it.
        self.subs_to: _Frame | None = None
        self.inner_subs: list[str] = []


@dataclass(slots=True)
class _Heredoc:
    delimiter: str
    strip_tabs: bool
    quoted: bool
    token: int | None  # index of its Redirect in the tokens, when it is one
    lines: list[str] = field(default_factory=list)
    pos: int = -1


class Tokenizer:
    """Reads one top-level command line by line; says when bash has complete input and gives
    its tokens. Everything the splitter, the guard and lint know about shell text comes from
    here."""

    def __init__(self) -> None:
        top = _Frame(_TOP, None)
        top.owner = top
        top.collector = top
        top.emit = True
        self.stack: list[_Frame] = [top]
        self.heredocs: list[_Heredoc] = []
        self.in_heredoc = False
        self.heredoc_partial: str | None = None  # an unquoted body line ending in `\`
        self.continued = False
        self.tokens: list[Token] = []
        self.functions: list[FunctionDef] = []
        self.runs_commands = False
        self.compound = False
        self.broken = False
        # bash would report a syntax error (`word (`, a stray `)` or `fi`); only noted, so that
        # splitting stays what it was: an untagged block with one is not shell (shown).
        self.invalid = False
        self._lines: list[str] = []
        self._starts: list[int] = []
        self._base = 0  # offset of the current line in the whole text
        self._length = 0
        self._finished = False

    # ------------------------------------------------------------------ public

    def feed(self, line: str) -> None:
        self._lines.append(line + "\n")
        self._starts.append(self._length)
        self._base = self._length
        self._length += len(line) + 1
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

    def script(self) -> Script:
        """The tokens so far; whatever is still open is closed at the end of the text."""
        complete = self.complete()
        self._finish()
        return Script(
            tokens=tuple(self.tokens),
            functions=tuple(self.functions),
            complete=complete,
            runs_commands=self.runs_commands,
            compound=self.compound,
            broken=self.broken,
        )

    # ------------------------------------------------------------------ text

    def _text(self, start: int, end: int) -> str:
        if start >= self._base:
            line = self._lines[-1]
            return line[start - self._base : end - self._base]
        first = bisect.bisect_right(self._starts, start) - 1
        joined = "".join(self._lines[first:])
        offset = self._starts[first]
        return joined[start - offset : end - offset]

    # ------------------------------------------------------------------ heredoc bodies

    def _heredoc_line(self, line: str) -> None:
        heredoc = self.heredocs[0]
        if heredoc.pos < 0:
            heredoc.pos = self._base
        if self.heredoc_partial is not None:
            line = self.heredoc_partial + line
            self.heredoc_partial = None
            heredoc.lines.pop()
        candidate = line.lstrip("\t") if heredoc.strip_tabs else line
        if candidate == heredoc.delimiter:
            self._close_heredoc(terminated=True)
            return
        heredoc.lines.append(candidate)
        if not heredoc.quoted and _ends_with_escape(line):
            # bash joins `\`-continued lines of an unquoted body before looking for the end
            self.heredoc_partial = line[:-1]

    def _close_heredoc(self, *, terminated: bool) -> None:
        heredoc = self.heredocs.pop(0)
        self.in_heredoc = bool(self.heredocs)
        if heredoc.token is None:
            return
        text = "".join(line + "\n" for line in heredoc.lines)
        pos = heredoc.pos if heredoc.pos >= 0 else self._length
        body = _body_word(text, pos, quoted=heredoc.quoted)
        redirect = self.tokens[heredoc.token]
        assert isinstance(redirect, Redirect)
        self.tokens[heredoc.token] = replace(redirect, body=body, terminated=terminated)

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
                    return
                self._pop(end + 1)
                i = end + 1
            elif kind == _DQUOTE:
                i = self._quoted(s, i, frame, _DQUOTE_SPECIAL, '"')
            elif kind == _PARAM:
                i = self._quoted(s, i, frame, _PARAM_SPECIAL, "}")
            elif kind == _ANSI:
                i = self._quoted(s, i, frame, _ANSI_SPECIAL, "'")
            elif kind == _BACKTICK:
                i = self._quoted(s, i, frame, _BACKTICK_SPECIAL, "`")
            elif kind == _HBODY:
                i = self._quoted(s, i, frame, _HBODY_SPECIAL, None)
            elif kind in (_BRACKET, _SUBSCRIPT):
                i = self._bracket(s, i, frame)
            else:
                i = self._arith(s, i, frame)

    def _quoted(
        self, s: str, i: int, frame: _Frame, special: re.Pattern[str], close: str | None
    ) -> int:
        match = special.search(s, i)
        if match is None:
            return len(s)
        j = match.start()
        c = s[j]
        if c == close:
            self._pop(self._base + j + 1)
            return j + 1
        if c == "\\":
            return j + 2
        if c == "$":
            return self._dollar(s, j, frame)
        if c == "`":
            self.runs_commands = True
        self._push(_SQUOTE if c == "'" else _DQUOTE if c == '"' else _BACKTICK, frame, j)
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
            end = j + 2 if s.startswith(")", j + 1) else j + 1
            self._pop(self._base + end)
            if frame.state in ("command", "for"):
                self._arith_word(frame, self._base + end)
            if frame.state == "command":
                self._closed_compound(frame, self._base + end)
                self._after_compound()
            return end
        if c == '"':
            self._push(_DQUOTE, frame, j)
            return j + 1
        if c == "`":
            self.runs_commands = True
            self._push(_BACKTICK, frame, j)
            return j + 1
        return self._dollar(s, j, frame)

    def _bracket(self, s: str, i: int, frame: _Frame) -> int:
        """`$[ … ]` arithmetic and `arr[ … ]` subscripts: matched brackets, quotes inside."""
        match = _BRACKET_SPECIAL.search(s, i)
        if match is None:
            return len(s)
        j = match.start()
        c = s[j]
        if c == "[":
            frame.depth += 1
            return j + 1
        if c == "]":
            if frame.depth:
                frame.depth -= 1
                return j + 1
            self._pop(self._base + j + 1)
            return j + 1
        if c == "\\":
            return j + 2
        if c == "$":
            return self._dollar(s, j, frame)
        if c == "`":
            self.runs_commands = True
        self._push(_SQUOTE if c == "'" else _DQUOTE if c == '"' else _BACKTICK, frame, j)
        return j + 1

    def _dollar(self, s: str, i: int, parent: _Frame) -> int:
        """`s[i]` is `$`: open whatever it starts."""
        nxt = s[i + 1 : i + 2]
        owner = parent.owner
        if owner is not None:
            owner.word_plain = False
            self._start_word(owner, self._base + i)
        if nxt == "(":
            if s.startswith("(", i + 2):
                self._push(_ARITH, parent, i, state="expansion")
                return i + 3
            self.runs_commands = True
            self._push_code(_COMSUB, parent, i)
            return i + 2
        if nxt == "{":
            self._push(_PARAM, parent, i)
            return i + 2
        if nxt == "[":
            self._push(_BRACKET, parent, i)
            return i + 2
        if parent.kind in (_DQUOTE, _HBODY):
            return i + 1  # `$'` and `$"` are plain text inside double quotes
        if nxt == "'":
            self._push(_ANSI, parent, i)
            return i + 2
        if nxt == '"':
            self._push(_DQUOTE, parent, i)
            return i + 2
        return i + 1

    # ------------------------------------------------------------------ frames

    def _push(self, kind: int, parent: _Frame, i: int, state: str | None = None) -> _Frame:
        frame = _Frame(kind, parent.owner, state)
        frame.start = self._base + i
        frame.nested = parent.nested or parent.is_span
        frame.collector = parent.collector
        frame.is_span = not frame.nested and (
            kind in (_PARAM, _BACKTICK, _BRACKET) or (kind == _ARITH and state == "expansion")
        )
        frame.record_to = parent.collector if frame.is_span else None
        frame.subs_to = _subs_to(parent)
        self.stack.append(frame)
        return frame

    def _push_code(
        self, kind: int, parent: _Frame, i: int, state: str | None = None, emit: bool = True
    ) -> _Frame:
        frame = _Frame(kind, None, state)
        frame.owner = frame
        frame.start = self._base + i
        frame.nested = parent.nested or parent.is_span
        frame.collector = frame
        if kind == _COMSUB:
            frame.is_span = not frame.nested
            frame.record_to = parent.collector if frame.is_span else None
            frame.subs_to = _subs_to(parent)
            frame.state = state
            emit = False
        frame.emit = emit and parent.emit
        self.stack.append(frame)
        return frame

    def _push_compound(self, kind: int, i: int, state: str | None = None) -> _Frame:
        parent = self.stack[-1]
        fname = None
        record = False
        if parent.kind == _FHEAD:  # the function's body replaces its header
            fname, record = parent.fname, parent.frecord
            self.stack.pop()
            parent = self.stack[-1]
        parent.need_more = False
        if parent.kind == _TOP:
            self.compound = True
        frame = self._push_code(kind, parent, i, state)
        if fname is not None:
            frame.fname = fname
            frame.fstart = self._base + i
            frame.frecord = record
            frame.emit = False  # a body runs when the function is called, not here
        return frame

    def _pop(self, end: int) -> _Frame:
        """Close the innermost frame at `end`; a span of a word is recorded with it."""
        frame = self.stack.pop()
        self._record_span(frame, end, closed=True)
        return frame

    def _record_span(self, frame: _Frame, end: int, *, closed: bool) -> None:
        kind = frame.kind
        if not frame.is_span or frame.record_to is None:
            if kind in (_COMSUB, _BACKTICK) and frame.subs_to is not None:
                source = self._text(frame.start, end)
                frame.subs_to.inner_subs.append(_sub_text(source, kind, closed=closed))
            return
        name = (
            "param"
            if kind == _PARAM
            else "backtick"
            if kind == _BACKTICK
            else "arith"
            if kind in (_ARITH, _BRACKET)
            else "procsub"
            if frame.state == "procsub"
            else "comsub"
        )
        span = _Span(end, name, closed, tuple(frame.inner_subs))
        frame.record_to.spans[frame.start] = span

    def _after_compound(self) -> None:
        parent = self.stack[-1]
        parent.cmd_pos = False
        parent.assign_ok = False
        parent.need_more = False
        parent.words += 1

    def _closed_compound(self, frame: _Frame, end: int) -> None:
        """A compound command ended at `end`: a function body is recorded."""
        if frame.fname is not None and frame.frecord:
            body = self._text(frame.fstart, end)
            self.functions.append(FunctionDef(frame.fname, body, frame.fstart))

    def _syntax_error(self) -> None:
        """Bash drops the input read so far, as a terminal does with pasted lines."""
        top = _Frame(_TOP, None)
        top.owner = top
        top.collector = top
        top.emit = True
        self.stack = [top]
        self.heredocs = []
        self.broken = True
        self.invalid = True

    def _pop_compound(self, end: int) -> None:
        frame = self.stack.pop()
        self._closed_compound(frame, end)
        self._after_compound()

    def _dangling_redirect(self, frame: _Frame) -> None:
        """A redirection with no word after it (bash reports a syntax error)."""
        if frame.redirect is not None:
            op, fd, pos = frame.redirect
            self._emit(frame, Redirect(op, fd, None, pos))
            frame.redirect = None

    def _emit(self, frame: _Frame, token: Token) -> None:
        if frame.emit:
            self.tokens.append(token)

    # ------------------------------------------------------------------ code

    def _start_word(self, frame: _Frame, pos: int) -> None:
        if not frame.word_started:
            frame.word_started = True
            frame.word_start = pos

    def _code(self, s: str, i: int, frame: _Frame) -> int:
        c = s[i]
        if c == " " or c == "\t":
            self._end_word(frame, self._base + i)
            return i + 1
        if c == "\n":
            self._end_word(frame, self._base + i)
            self._newline(self.stack[-1], i)  # the word may have closed the frame (`fi`)
            return i + 1
        if c == "#" and not frame.word_started:
            return s.index("\n", i)  # a comment runs to the end of the line
        if c == "\\":
            if s[i + 1] == "\n":
                self.continued = True
                return i + 2
            self._start_word(frame, self._base + i)
            frame.word_plain = False
            return i + 2
        if c == "'" or c == '"' or c == "`":
            self._start_word(frame, self._base + i)
            frame.word_plain = False
            if c == "`":
                self.runs_commands = True
            self._push(_SQUOTE if c == "'" else _DQUOTE if c == '"' else _BACKTICK, frame, i)
            return i + 1
        if c == "$":
            return self._dollar(s, i, frame)
        match = _OPERATOR.match(s, i)
        if match is not None:
            return self._operator(s, match.group(), i, match.end(), frame)
        plain = _PLAIN_RUN.match(s, i)
        assert plain is not None
        run = plain.group()
        bracket = run.find("[")
        if bracket >= 0 and self._subscript_starts(frame, self._base + i, self._base + i + bracket):
            self._start_word(frame, self._base + i)
            self._push(_SUBSCRIPT, frame, i + bracket)
            return i + bracket + 1
        self._start_word(frame, self._base + i)
        return plain.end()

    def _subscript_starts(self, frame: _Frame, run_start: int, at: int) -> bool:
        """`arr[1<<2]=x`: bash reads a subscript as one piece where an assignment may come,
        after a name (or first inside `arr=( … )`)."""
        start = frame.word_start if frame.word_started else run_start
        before = self._text(start, at) if start < at else ""
        if frame.kind == _ARRAY:
            return not before
        if not frame.assign_ok or frame.kind in (_COND, _CASE) or frame.expect is not None:
            return False
        return bool(before) and _NAME.fullmatch(before) is not None

    def _operator(self, s: str, op: str, i: int, end: int, frame: _Frame) -> int:
        pos = self._base + i
        if op == "(" and frame.kind not in (_COND, _ARRAY, _CASE) and frame.word_started:
            word = self._text(frame.word_start, pos)
            if word.endswith("=") and _ASSIGNMENT.match(word):
                frame.word_plain = False
                array = self._push_code(_ARRAY, frame, i, emit=False)
                array.collector = frame.collector  # the elements are part of the word
                return end
        fd = ""
        if op in _REDIRECTS and frame.word_started and frame.kind not in (_COND, _ARRAY):
            written = self._text(frame.word_start, pos)
            if written.isdigit():
                fd = written
        self._end_word(frame, pos, fd=bool(fd))
        frame = self.stack[-1]  # the word may have closed the frame (`fi;`, `]]&&`)
        kind = frame.kind
        if op not in ("<(", ">("):
            self._dangling_redirect(frame)
        if op in ("<(", ">("):
            self.runs_commands = True
            self._start_word(frame, pos)
            frame.word_plain = False
            self._push_code(_COMSUB, frame, i, state="procsub")
            return end
        if kind == _COND:
            self._emit(frame, Word(op, pos, False, (), (), op))
            frame.state = _cond_state_after_operator(frame.state, op)
            return end
        if kind == _ARRAY:
            if op == ")":
                self.stack.pop()
            return end
        if kind == _CASE and frame.state != "body":
            if op == ")":
                self._emit(frame, Operator(")", pos))
                frame.state = "body"
                frame.cmd_pos = True
                frame.assign_ok = True
                frame.words = 0
            elif op in ("|", "("):
                frame.state = "pattern"
            return end
        if op in (";;", ";&", ";;&") and kind == _CASE:
            self._emit(frame, Operator(op, pos))
            frame.state = "pattern-start"
            return end
        if op in (";", ";;", ";&", ";;&", "&"):
            self._emit(frame, Operator(op, pos))
            frame.cmd_pos = True
            frame.assign_ok = True
            frame.need_more = False
            frame.words = 0
            frame.expect = None
            if kind == _LOOP:
                frame.state = None
            return end
        if op in ("&&", "||", "|", "|&"):
            self._emit(frame, Operator(op, pos))
            frame.cmd_pos = True
            frame.assign_ok = True
            frame.need_more = True
            frame.words = 0
            return end
        if op == "(":
            return self._open_paren(s, i, end, frame)
        if op == ")":
            self._close_paren(pos)
            return end
        frame.expect = "heredoc" if op == "<<" else "heredoc-" if op == "<<-" else "redirect"
        frame.redirect = (op, fd, pos - len(fd))
        return end

    def _open_paren(self, s: str, i: int, end: int, frame: _Frame) -> int:
        rest = s[end:].lstrip(" \t")
        if frame.kind == _FHEAD and rest.startswith(")"):
            frame.state = "body"
            return s.index(")", end) + 1
        if s.startswith("(", end) and (
            frame.cmd_pos or (frame.kind == _LOOP and frame.state == "for")
        ):
            state = "for" if frame.kind == _LOOP else "command"
            if state == "command":
                arith = self._push_compound(_ARITH, i, state=state)
            else:
                arith = self._push(_ARITH, frame, i, state=state)
                arith.emit = frame.emit
            arith.owner = None
            arith.collector = arith
            arith.is_span = False
            return end + 1
        if frame.words == 1 and not frame.cmd_pos and rest.startswith(")"):
            # `name ()`: a function definition; its body follows
            name = None
            if frame.emit and self.tokens and isinstance(self.tokens[-1], Word):
                name = self.tokens.pop()
            frame.words = 0
            frame.cmd_pos = True
            frame.assign_ok = True
            if frame.kind == _TOP:
                self.compound = True
            head = self._push_code(_FHEAD, frame, i, state="body", emit=False)
            head.fname = name.value if isinstance(name, Word) else ""
            head.frecord = frame.emit
            return s.index(")", end) + 1
        if not frame.cmd_pos:
            self.invalid = True  # `word (`: "syntax error near unexpected token `('"
        paren = self._push_compound(_PAREN, i)
        self._emit(paren, Operator("(", self._base + i))
        return end

    def _close_paren(self, pos: int) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            frame = self.stack[depth]
            if frame.kind in (_PAREN, _COMSUB):
                for inner in self.stack[depth + 1 :]:
                    self._record_span(inner, pos, closed=False)
                del self.stack[depth:]
                self._record_span(frame, pos + 1, closed=True)
                if frame.kind == _PAREN:
                    self._emit(frame, Operator(")", pos))
                    self._closed_compound(frame, pos + 1)
                    self._after_compound()
                return
        self.invalid = True  # a `)` that closes nothing

    def _arith_word(self, frame: _Frame, end: int) -> None:
        """`(( … ))` and `for (( … ))` are one word: arithmetic, not redirections."""
        if not frame.emit:
            return
        raw = self._text(frame.start, end)
        word = _evaluate(raw, frame.start, frame.spans, mode="arith")
        self.tokens.append(word)

    def _end_word(self, frame: _Frame, end: int, *, fd: bool = False) -> None:
        if not frame.word_started:
            return
        raw = self._text(frame.word_start, end)
        plain = frame.word_plain
        word = raw.replace("\\\n", "") if plain and "\\\n" in raw else raw
        start = frame.word_start
        frame.word_started = False
        frame.word_plain = True
        kind = frame.kind
        token: Word | None = None
        if frame.emit and frame.collector is frame:
            token = _evaluate(raw, start, frame.spans)
        if frame.collector is frame:
            frame.spans = {}
        if frame.expect is not None:
            if frame.expect != "redirect":
                quoted = any(c in word for c in "'\"\\")
                index = None
                if frame.emit and frame.redirect is not None:
                    index = len(self.tokens)
                self.heredocs.append(
                    _Heredoc(_unquote(word), frame.expect == "heredoc-", quoted, index)
                )
            if frame.redirect is not None:
                op, fd_text, at = frame.redirect
                self._emit(frame, Redirect(op, fd_text, token, at))
                frame.redirect = None
            frame.expect = None
            return
        if kind == _COND:
            if token is not None:
                self.tokens.append(token)
            if plain and word == "]]":
                self._pop_compound(end)
            else:
                frame.state = _cond_state_after_word(frame.state, word)
            return
        if kind == _ARRAY:
            return
        if kind == _CASE and frame.state != "body":
            if token is not None and frame.state in ("subject", "in"):
                self.tokens.append(token)
            if frame.state == "pattern-start" and plain and word == "esac" and token:
                self.tokens.append(token)
            self._case_word(frame, word, plain, end)
            return
        if kind == _FHEAD and frame.state == "name":
            frame.fname = word
            frame.state = "body"
            return
        if kind == _LOOP and frame.state == "for":
            if token is not None:
                self.tokens.append(token)
            return
        if frame.cmd_pos and plain and word in _KEYWORDS:
            if token is not None and word != "function":
                self.tokens.append(token)
            self._keyword(frame, word, start, end)
            return
        if token is not None and not fd:
            self.tokens.append(token)
        frame.assign_ok = frame.assign_ok and not fd and _ASSIGNMENT.match(raw) is not None
        frame.cmd_pos = False
        frame.need_more = False
        frame.words += 1

    def _case_word(self, frame: _Frame, word: str, plain: bool, end: int) -> None:
        if frame.state == "subject":
            frame.state = "in"
        elif frame.state == "in":
            if word == "in":
                frame.state = "pattern-start"
        elif frame.state == "pattern-start" and plain and word == "esac":
            self._pop_compound(end)
        else:
            frame.state = "pattern"

    def _keyword(self, frame: _Frame, word: str, start: int, end: int) -> None:
        kind = frame.kind
        if word in ("then", "else", "elif", "do"):
            if kind != (_LOOP if word == "do" else _IF):
                self.invalid = True
            frame.need_more = False
            frame.assign_ok = True
        elif _CLOSES.get(word) == kind:
            self._pop_compound(end)
        elif word == "if":
            self._push_compound(_IF, start - self._base)
        elif word in ("while", "until"):
            self._push_compound(_LOOP, start - self._base)
        elif word in ("for", "select"):
            loop = self._push_compound(_LOOP, start - self._base, state="for")
            loop.cmd_pos = False
            loop.assign_ok = False
        elif word == "case":
            case = self._push_compound(_CASE, start - self._base, state="subject")
            case.cmd_pos = False
            case.assign_ok = False
        elif word == "{":
            self._push_compound(_GROUP, start - self._base)
        elif word == "[[":
            cond = self._push_compound(_COND, start - self._base, state="term")
            cond.assign_ok = False
        elif word == "function":
            head = self._push_compound(_FHEAD, start - self._base, state="name")
            head.frecord = frame.emit
            head.emit = False  # the header is no command; the body runs when called
        elif word in ("!", "time"):
            pass
        else:  # a closing word that closes nothing: bash reports a syntax error when it runs
            self.invalid = True
            frame.cmd_pos = False
            frame.assign_ok = False
            frame.need_more = False
            frame.words += 1

    def _newline(self, frame: _Frame, i: int) -> None:
        kind = frame.kind
        self._dangling_redirect(frame)
        if kind in (_TOP, _PAREN, _GROUP, _IF, _LOOP) or (kind == _CASE and frame.state == "body"):
            self._emit(frame, Operator("\n", self._base + i))
        if kind == _COND and frame.state not in ("term", "done"):
            self._syntax_error()  # a newline inside a [[ ]] term: bash reports an error
        elif kind == _LOOP and frame.state == "for":
            frame.state = None
            frame.cmd_pos = True
            frame.assign_ok = True
        elif kind not in (_COND, _ARRAY, _FHEAD) and not (kind == _CASE and frame.state != "body"):
            frame.cmd_pos = True
            frame.assign_ok = True
            frame.words = 0
        if self.heredocs:
            self.in_heredoc = True

    # ------------------------------------------------------------------ the end

    def _finish(self) -> None:
        """Close what is still open at the end of the text (a reader of broken input still
        sees every word, `$( )` and heredoc body written so far)."""
        if self._finished:
            return
        self._finished = True
        end = self._length
        if self.heredoc_partial is not None:
            self.heredoc_partial = None
        while self.heredocs:
            self._close_heredoc(terminated=False)
        while len(self.stack) > 1:
            frame = self.stack[-1]
            if frame.kind in _CODE_KINDS:
                self._end_word(frame, end)
                if self.stack[-1] is not frame:
                    continue
            self.stack.pop()
            self._record_span(frame, end, closed=False)
            if frame.kind == _ARITH and frame.state in ("command", "for"):
                self._arith_word(frame, end)
            elif frame.kind in _CODE_KINDS and frame.kind not in (_COMSUB, _ARRAY, _FHEAD):
                self._closed_compound(frame, end)
        top = self.stack[0]
        self._end_word(top, end)
        self._dangling_redirect(top)


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


# --------------------------------------------------------------------------- word values


def _body_word(text: str, pos: int, *, quoted: bool) -> Word:
    """A heredoc body: as written when the delimiter was quoted; otherwise bash expands it,
    so its `$( )` and backticks run (they are the body's `subs`)."""
    if quoted or not any(c in text for c in "$`"):
        return Word(text, pos, quoted, (), (), text)
    reader = Tokenizer()
    top = reader.stack[0]
    top.emit = False
    body = _Frame(_HBODY, top)
    body.collector = top
    reader.stack.append(body)
    for line in text.split("\n")[:-1]:
        reader._lines.append(line + "\n")
        reader._starts.append(reader._length)
        reader._base = reader._length
        reader._length += len(line) + 1
        reader._scan(line + "\n")
    reader._finished = True
    for frame in reader.stack[2:]:
        reader._record_span(frame, reader._length, closed=False)
    spans = {start + pos: replace(span, end=span.end + pos) for start, span in top.spans.items()}
    evaluated = _evaluate(text, pos, spans, mode="heredoc")
    return Word(text, pos, False, evaluated.subs, (), text, evaluated.literal_from)


_ANSI_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ANSI_NUMBER = re.compile(r"x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}")


def _ansi(raw: str, i: int) -> tuple[str, int]:
    """Decode `$'…'` starting at `raw[i]` (just after `$'`); (text, index after the quote)."""
    out: list[str] = []
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "'":
            return "".join(out), i + 1
        if c == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            if nxt in _ANSI_ESCAPES:
                out.append(_ANSI_ESCAPES[nxt])
                i += 2
                continue
            number = _ANSI_NUMBER.match(raw, i + 1)
            if number:
                digits = number.group()
                base, digits = (8, digits) if digits[0] in "01234567" else (16, digits[1:])
                try:
                    out.append(chr(int(digits, base)))
                except (ValueError, OverflowError):
                    out.append(number.group())
                i = number.end()
                continue
            out.append(c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out), n


_SPECIAL_IN_WORD = re.compile(r"[\\'\"$`]")


def _evaluate(raw: str, start: int, spans: dict[int, _Span], *, mode: str = "word") -> Word:
    """A word's value, quoting, substitutions and variable references, from its source text
    and the spans of its bracketed expansions (found by the tokenizer).

    `mode`: "word" (shell quoting applies), "heredoc" (an unquoted heredoc body: only `\\`
    before `$`, backtick, `\\` and newline is special) or "arith" (`(( … ))` as written)."""
    if not spans and not _SPECIAL_IN_WORD.search(raw):
        return Word(raw, start, False, (), (), raw)  # most words: nothing to remove or expand
    value: list[str] = []
    size = 0  # len("".join(value))
    literal_from = 0
    subs: list[str] = []
    refs: list[VarRef] = []
    quoted = False
    dq = False
    i, n = 0, len(raw)
    while i < n:
        span = spans.get(start + i) if spans else None
        if span is not None:
            length = max(span.end - start - i, 1)
            source = raw[i : i + length]
            if span.kind in ("comsub", "procsub", "backtick"):
                kind = _BACKTICK if span.kind == "backtick" else _COMSUB
                subs.append(_sub_text(source, kind, closed=span.closed))
            elif span.kind == "param" and mode == "word":
                body = (source[2:-1] if span.closed else source[2:]).lstrip("!#")
                name = _NAME.match(body)
                if name:
                    refs.append(VarRef(name.group(), start + i, body[name.end() :]))
            subs.extend(span.subs)
            value.append(source)
            size += len(source)
            literal_from = size
            i += length
            continue
        c = raw[i]
        nxt = raw[i + 1 : i + 2]
        if mode != "word":
            if mode == "heredoc" and c == "\\" and nxt in ("$", "`", "\\", "\n"):
                text = "" if nxt == "\n" else nxt
                i += 2
            elif mode == "heredoc" and c == "$":
                text, i, expansion = _plain_dollar(raw, i)
                if expansion:
                    value.append(text)
                    size += len(text)
                    literal_from = size
                    continue
            else:
                text = c
                i += 1
            value.append(text)
            size += len(text)
            continue
        text = ""
        if dq and c == '"':
            dq = False
            i += 1
        elif dq and c == "\\" and nxt in ("$", "`", '"', "\\", "\n"):
            text = "" if nxt == "\n" else nxt
            i += 2
        elif c == "$" and (dq or nxt not in ("'", '"')):
            text, i, expansion = _plain_dollar(raw, i)
            if expansion:
                name = _NAME.match(raw, i - len(text) + 1)
                if name and name.end() == i:
                    refs.append(VarRef(name.group(), start + i - len(text), ""))
                value.append(text)
                size += len(text)
                literal_from = size
                continue
        elif dq:
            text = c
            i += 1
        elif c == "'":
            end = raw.find("'", i + 1)
            end = n if end < 0 else end
            text = raw[i + 1 : end]
            quoted = True
            i = end + 1
        elif c == '"':
            dq = True
            quoted = True
            i += 1
        elif c == "\\":
            text = "" if nxt == "\n" else nxt
            quoted = quoted or nxt != "\n"
            i += 2
        elif c == "$" and nxt == "'":
            text, i = _ansi(raw, i + 2)
            quoted = True
        elif c == "$":  # `$"…"`: a translated string, read as double quotes
            dq = True
            quoted = True
            i += 2
        else:
            text = c
            i += 1
        if text:
            value.append(text)
            size += len(text)
    return Word("".join(value), start, quoted, tuple(subs), tuple(refs), raw, literal_from)


def _plain_dollar(raw: str, i: int) -> tuple[str, int, bool]:
    """`$NAME`, `$1`, `$?` at `raw[i]` (the bracketed forms are spans): (text, index after it,
    whether it expands)."""
    name = _NAME.match(raw, i + 1)
    if name:
        return raw[i : name.end()], name.end(), True
    if raw[i + 1 : i + 2] and raw[i + 1] in _SPECIAL_PARAM:
        return raw[i : i + 2], i + 2, True
    return "$", i + 1, False


def _sub_text(source: str, kind: int, *, closed: bool) -> str:
    """The script of `$( … )`, `<( … )` or a backtick substitution, from its source text."""
    if kind == _BACKTICK:
        inner = source[1:-1] if closed and len(source) > 1 else source[1:]
        return re.sub(r"\\([`\\$])", r"\1", inner)
    return source[2:-1] if closed and len(source) > 2 else source[2:]


def _subs_to(parent: _Frame) -> _Frame | None:
    """The `${ }` or arithmetic span that a substitution opened inside `parent` belongs to."""
    if parent.is_span and parent.kind in (_PARAM, _ARITH, _BRACKET):
        return parent
    if parent.kind in (_COMSUB, _BACKTICK):
        return None
    return parent.subs_to


# --------------------------------------------------------------------------- entry points


@functools.lru_cache(maxsize=4096)
def parse_script(text: str) -> Script:
    """Tokenize shell text as bash reads it (lines split on `\\n` only). Cached: the guard,
    lint and the assignment check read the same commands, and a `Script` never changes."""
    reader = Tokenizer()
    for line in text.split("\n"):
        reader.feed(line)
    script = reader.script()
    tokens = script.tokens
    if tokens and isinstance(tokens[-1], Operator) and tokens[-1].pos >= len(text):
        # the tokenizer ends every line; the text's own last line may have no newline
        script = replace(script, tokens=tokens[:-1])
    return script


def tokenize(text: str) -> list[Token]:
    """Split shell text into words, operators and redirections, as bash reads them."""
    return list(parse_script(text).tokens)


# --------------------------------------------------------------------------- simple commands

RESERVED = frozenset(
    (
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
    )
)


def _reserved_count(words: Sequence[Word]) -> int:
    count = 0
    for word in words:
        if word.quoted or word.value not in RESERVED or word.value in ("[[", "time"):
            break
        count += 1
    return count


def _argv_start(words: Sequence[Word]) -> int:
    """Where the command's name is: after reserved words and assignments (`X="a b" cmd`; a
    quoted name such as `"X"=1` is a command)."""
    index = _reserved_count(words)
    while index < len(words) and _ASSIGNMENT.match(words[index].raw):
        index += 1
    return index


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
    def argv_words(self) -> tuple[Word, ...]:
        return self.words[_argv_start(self.words) :]

    @property
    def leading_reserved(self) -> tuple[str, ...]:
        return tuple(w.value for w in self.words[: _reserved_count(self.words)])

    @property
    def leading_words(self) -> tuple[Word, ...]:
        """The reserved words and assignments before the command's name."""
        return self.words[: _argv_start(self.words)]


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
