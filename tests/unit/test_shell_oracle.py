"""`split_block` against real bash: every runnable corpus block, and generated blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from runner.bash.split import split_block
from tests.bash_oracle import COMPLETE, BashOracle
from tests.conftest import corpus_markdown_files

RUNNABLE = {"bash", "sh", "shell", "console", ""}


@pytest.fixture(scope="module")
def oracle() -> Iterator[BashOracle]:
    with BashOracle() as bash:
        yield bash


def boundaries(lines: list[str]) -> list[tuple[int, int]]:
    return [(c.first_line, c.last_line) for c in split_block(lines).commands]


# --------------------------------------------------------------------------- the corpus


def fenced_blocks(path: Path) -> list[tuple[int, str, list[str]]]:
    """(1-based line of the first body line, lang, body) of each runnable fenced block."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.split("\n")
    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        lang = (token.info.split() or [""])[0].casefold()
        if lang not in RUNNABLE:
            continue
        start, end = token.map
        fence = lines[start]
        indent = len(fence) - len(fence.lstrip(" "))
        closed = end - start >= 2 and lines[end - 1].lstrip(" ").startswith(fence.lstrip(" ")[:3])
        body = lines[start + 1 : end - 1 if closed else end]
        # CommonMark removes up to the fence's own indentation from each body line
        body = [line[min(indent, len(line) - len(line.lstrip(" "))) :] for line in body]
        found.append((start + 2, lang, body))
    return found


def corpus_blocks() -> list[tuple[str, int, str, list[str]]]:
    return [
        (path.name, lineno, lang, body)
        for path in corpus_markdown_files()
        for lineno, lang, body in fenced_blocks(path)
    ]


def test_the_corpus_has_runnable_blocks(corpus_dir: Path) -> None:
    blocks = corpus_blocks()
    assert len(blocks) >= 40
    assert sum(len(body) for *_, body in blocks) > 300


def test_every_corpus_block_splits_as_bash_does(corpus_dir: Path, oracle: BashOracle) -> None:
    mismatches = []
    for name, lineno, lang, body in corpus_blocks():
        mine = [(c.first_line, c.last_line) for c in split_block(body, lang=lang).commands]
        if mine != oracle.boundaries(body):
            mismatches.append(f"{name}:{lineno}")
    assert mismatches == []


def test_the_unit_test_tables_agree_with_bash(oracle: BashOracle) -> None:
    from tests.unit.test_shell import MALFORMED, SHAPES

    disagreements = [
        name
        for name, (body, expected) in {**SHAPES, **MALFORMED}.items()
        if oracle.boundaries(body) != expected
    ]
    assert disagreements == []


def test_corpus_heredocs_in_list_items_close_once_the_indent_is_removed(corpus_dir: Path) -> None:
    blocks = {
        (name, lineno): body
        for name, lineno, _, body in corpus_blocks()
        if any("<<'ENV'" in line or "<< 'EOF'" in line for line in body)
    }
    assert len(blocks) == 2
    for body in blocks.values():
        heredoc = next(
            c for c in split_block(body).commands if "<<'ENV'" in c.text or "<< 'EOF'" in c.text
        )
        assert heredoc.text.split("\n")[-1] in ("ENV", "EOF")


# --------------------------------------------------------------------------- generated blocks

WORDS = [
    "a",
    "b1",
    "x.txt",
    "-f",
    "--flag=1",
    "a#b",
    "$#",
    "$x",
    "${x}",
    "${x:-d}",
    "${#x}",
    "'s q'",
    '"d q"',
    "\\;",
    "}",
    "{",
    "{}",
    "if",
    "then",
    "fi",
    "done",
    "esac",
    "in",
    "do",
    "a=b",
    "$((1 + 2))",
    "$(echo a)",
    "`echo b`",
    "\"$(echo 'x)')\"",
    "$'a\\'b'",
    "*.md",
    "'#'",
    '"a\'b"',
    "x\\ y",
    "]]",
    "[[",
    "!",
    "time",
    '"${x:-"q"}"',
    "<(echo p)",
    "'a;b'",
    '"a|b"',
    "EOF",
]
NAMES = ["echo", "true", "cat", "grep", "printf", "ls", "cmd", "sudo", "curl"]
REDIRECTS = ["", "", "", " > /dev/null", " 2>&1", " < in.txt", " >> log", " &> out", ' <<< "w"']
COMMENTS = ["# label", "#", "  # indented note", "# --- Test Setup ---", "#!/bin/bash", "## x"]
BODY_TEXT = ["text", "$HOME and $(date)", "it's", 'say "hi"', "EOF ", " EOF", "EOFX", "fi", ""]

Piece = tuple[list[str], bool]  # lines, and whether indenting the lines keeps them valid


@st.composite
def simple(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["", "", "X=1 ", "LC_ALL=C "]))
    args = draw(st.lists(st.sampled_from(WORDS), max_size=3))
    redirect = draw(st.sampled_from(REDIRECTS))
    return prefix + " ".join([draw(st.sampled_from(NAMES)), *args]) + redirect


@st.composite
def assignment(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [
                "X=1",
                'X="a b"',
                "export X=1 Y=2",
                "X=${X:-default}",
                "arr=(a b 'c d')",
                "readonly R=1",
                "S=$(date)",
                "declare -x D=1",
                "X=1; Y=2",
            ]
        )
    )


@st.composite
def one_line(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(simple(), assignment()), min_size=1, max_size=3))
    seps = [draw(st.sampled_from([" | ", " && ", " || ", "; ", " |& "])) for _ in parts[1:]]
    line = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=True))
    line += draw(st.sampled_from(["", "", " &", ";", " # trailing comment", " #c \\"]))
    return line


@st.composite
def continued(draw: st.DrawFn) -> Piece:
    parts = draw(st.lists(simple(), min_size=2, max_size=4))
    lines = []
    for part in parts[:-1]:
        op = draw(st.sampled_from([" &&", " ||", " |", " \\", " && \\", " |&"]))
        lines.append(part + op)
        if not op.endswith("\\"):
            lines.extend(draw(st.sampled_from([[], [], [""], ["# between"]])))
    lines.append(parts[-1])
    indent = draw(st.sampled_from(["", "  ", "\t"]))
    return [lines[0]] + [indent + line for line in lines[1:]], True


@st.composite
def quoted_lines(draw: st.DrawFn) -> Piece:
    return draw(
        st.sampled_from(
            [
                (['echo "first', "second", 'third"'], True),
                (["python -c 'import sys", "for x in range(2):", "    print(x)'"], True),
                (["printf $'a", "b\\'c'"], True),
                (['X="$(echo a', 'b)"'], True),
                (["grep -q 'a", "b' file && echo 'ok", "done'"], True),
                (['echo "a \\"quoted', 'still"'], True),
                (['echo "${x:-multi', 'line}"'], True),
            ]
        )
    )


@st.composite
def comsub_lines(draw: st.DrawFn) -> Piece:
    return draw(
        st.sampled_from(
            [
                (["STATUS=$(curl -s -o /dev/null \\", '  -w "%{http_code}" http://h)'], True),
                (["X=$(echo a |", "  grep a)"], True),
                (['echo "$(', "  ls -1", ')"'], True),
                (["out=$(case $x in a) echo A;; *) echo B;; esac", ")"], True),
                (["echo `echo a", "b`"], True),
                (["diff <(ls a", ") <(ls b)"], True),
                (["arr=(", "  one # comment", "  'two'", ")"], True),
            ]
        )
    )


@st.composite
def heredoc(draw: st.DrawFn) -> Piece:
    delimiter = draw(st.sampled_from(["EOF", "END", "ENV"]))
    style = draw(st.sampled_from(["plain", "single", "double", "dash", "space"]))
    opener = {
        "plain": f"<<{delimiter}",
        "single": f"<<'{delimiter}'",
        "double": f'<<"{delimiter}"',
        "dash": f"<<-{delimiter}",
        "space": f"<< {delimiter}",
    }[style]
    after = draw(st.sampled_from(["", " | grep x", " > /dev/null", " && echo ok", " &&", "; echo"]))
    body = draw(st.lists(st.sampled_from([*BODY_TEXT, "line \\"]), max_size=3))
    if style == "dash":
        body = ["\t" + line for line in body]
    if body and body[-1].endswith("\\"):
        body.append("joined")
    terminator = ("\t" if style == "dash" else "") + delimiter
    lines = [f"cat {opener}{after}", *body, terminator]
    if after == " &&":
        lines.append("echo next")
    return lines, False


@st.composite
def two_heredocs(draw: st.DrawFn) -> Piece:
    first = draw(st.lists(st.sampled_from(BODY_TEXT), max_size=2))
    second = draw(st.lists(st.sampled_from(BODY_TEXT), max_size=2))
    return ["cat <<A - <<'B'", *first, "A", *second, "B"], False


def indent_piece(piece: Piece, prefix: str) -> list[str]:
    lines, indentable = piece
    return [prefix + line if indentable and line else line for line in lines]


@st.composite
def body(draw: st.DrawFn, depth: int) -> Piece:
    pieces = draw(st.lists(command(depth - 1), min_size=1, max_size=3))
    lines: list[str] = []
    for piece in pieces:
        lines.extend(indent_piece(piece, "  "))
        lines.extend(draw(st.sampled_from([[], [], [""], ["  # inner comment"]])))
    return lines, all(indentable for _, indentable in pieces)


@st.composite
def compound(draw: st.DrawFn, depth: int) -> Piece:
    inner, ok = draw(body(depth))
    cond = draw(st.sampled_from(["true", "[ -f x ]", "[[ $x == a && -n $y ]]", "! grep -q a f"]))
    tail = draw(st.sampled_from(["", "", " > /dev/null", " | cat", " && echo after", " &"]))
    kind = draw(
        st.sampled_from(
            [
                "if",
                "if-else",
                "if-then-line",
                "for",
                "for-arith",
                "while",
                "until",
                "case",
                "func",
                "func-keyword",
                "func-nl",
                "group",
                "subshell",
                "cond-lines",
            ]
        )
    )
    if kind == "if":
        lines = [f"if {cond}; then", *inner, "fi" + tail]
    elif kind == "if-else":
        other, ok2 = draw(body(depth))
        ok = ok and ok2
        lines = [f"if {cond}; then", *inner, f"elif {cond}; then", *other, "else", *inner]
        lines.append("fi" + tail)
    elif kind == "if-then-line":
        lines = [f"if {cond}", "then", *inner, "fi" + tail]
    elif kind == "for":
        lines = ["for x in a b 'c d'; do", *inner, "done" + tail]
    elif kind == "for-arith":
        lines = ["for ((i = 0; i < 3; i++)); do", *inner, "done" + tail]
    elif kind == "while":
        lines = ["while read -r line", "do", *inner, "done < input.txt"]
    elif kind == "until":
        lines = [f"until {cond}; do", *inner, "done" + tail]
    elif kind == "case":
        lines = ['case "$x" in', "  a|b) echo ab ;;", "  (c)", *inner, "  ;;", "  *)", *inner]
        lines.append("esac" + tail)
    elif kind == "func":
        lines = ["f() {", *inner, "}" + tail.replace(" &", "")]
    elif kind == "func-keyword":
        lines = ["function g {", *inner, "}"]
    elif kind == "func-nl":
        lines = ["h()", "{", *inner, "}"]
    elif kind == "group":
        lines = ["{", *inner, "}" + tail]
    elif kind == "subshell":
        lines = ["(", *inner, ")" + tail]
    else:
        lines = ["[[ -n $x &&", "   $x == a ]] && echo yes"]
    return lines, ok


TRICKY: list[Piece] = [
    (["[[ -f x", "]] && echo yes"], True),
    (["[[ !", "-f x ]]"], True),
    (["[[ $x =~ ^(a|b)$ ]] &&", "echo match"], True),
    (["case $x in", "a)", "  echo a;;&", "b) echo b ;&", "*) echo c", "esac"], True),
    (["select x in a b; do", "  break", "done"], True),
    (["X=$(cat <<EOF", "in comsub", "EOF", ")"], False),
    (["printf $'it\\'s", "  ok'"], True),
    (["echo `echo \\`date\\``"], True),
    (["for x in a; do # note", "  echo $x", "done"], True),
    (["function k() {", "  echo k", "}"], True),
    (["m () (", "  echo m", ")"], True),
    (["time ls |", "  wc -l"], True),
    (["! grep -q a f &&", "  echo none"], True),
    (['echo "$(echo "$(echo a)")"'], True),
    (["echo $(( (1 + 2) * 3 ))"], True),
    (["echo ${x//\\//-}"], True),
    (["echo a\\\\", "echo b"], True),
    (["echo {a,b} }"], True),
    (["{ echo }; }"], True),
    (["if true; then # c \\", "  echo a", "fi"], True),
    (["echo 'a", "", "# not a comment", "b'"], True),
    (["cat <<EOF | while read -r l; do", "x", "EOF", "  echo $l", "done"], False),
    (["cat <<'EOF' > out; cat <<\\END", "$x", "EOF", "`y`", "END"], False),
    (["echo $'\\n' \\", "  '#'"], True),
    (['echo "a"\\', "b"], True),
    (["arr+=(", "  x", ")", "echo ${arr[@]}"], True),
    (['echo $[1<<2] "$[ (1+2)<<1 ]"'], True),
    (["arr[1<<2]=x y[$((1<<1))]=z"], True),
    (["(( n > 0 )) && [[ b > a ]]"], True),
]


def command(depth: int) -> st.SearchStrategy[Piece]:
    leaves = st.one_of(
        one_line().map(lambda line: ([line], True)),
        continued(),
        quoted_lines(),
        comsub_lines(),
        heredoc(),
        two_heredocs(),
        st.sampled_from(TRICKY),
        st.sampled_from(
            [
                (["if true; then echo a; fi"], True),
                (["for x in 1 2; do echo $x; done"], True),
                (["{ echo a; echo b; } > /dev/null"], True),
                (["(cd /tmp && ls)"], True),
                (["(( x = 1 + 2 ))"], True),
                (["f() { echo f; }"], True),
                (["case a in a) echo a;; esac"], True),
                (["[[ -f x ]] || echo missing"], True),
            ]
        ),
    )
    if depth <= 0:
        return leaves
    return st.one_of(leaves, leaves, compound(depth))


@st.composite
def blocks(draw: st.DrawFn) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        lines.extend(draw(st.lists(st.sampled_from(["", *COMMENTS]), max_size=2)))
        lines.extend(draw(command(2))[0])
    lines.extend(draw(st.sampled_from([[], [""], ["# the end"]])))
    return lines


@st.composite
def truncated_blocks(draw: st.DrawFn) -> list[str]:
    """A block cut short, so that its last command may never be complete."""
    lines = draw(blocks())
    return lines[: draw(st.integers(min_value=1, max_value=len(lines)))]


def check_against_bash(oracle: BashOracle, lines: list[str]) -> None:
    assert boundaries(lines) == oracle.boundaries(lines), "\n".join(lines)


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=st.one_of(blocks(), truncated_blocks()))
def test_generated_blocks_split_as_bash_does(oracle: BashOracle, lines: list[str]) -> None:
    check_against_bash(oracle, lines)


@pytest.mark.slow
@settings(
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=st.one_of(blocks(), truncated_blocks()))
def test_many_more_generated_blocks_split_as_bash_does(
    oracle: BashOracle, lines: list[str]
) -> None:
    check_against_bash(oracle, lines)


def as_console(lines: list[str]) -> list[str]:
    """The block as a terminal transcript: `$ ` and `> ` prompts, output after each command."""
    transcript = []
    for command in split_block(lines).commands:
        source = lines[command.first_line : command.last_line + 1]
        transcript.append("$ " + source[0])
        transcript.extend("> " + line for line in source[1:])
        transcript.append("output line")
    return transcript


@settings(max_examples=300, deadline=None, derandomize=True)
@given(lines=blocks())
def test_console_transcripts_split_like_their_bash_blocks(lines: list[str]) -> None:
    expected = [command.text for command in split_block(lines).commands]
    console = split_block(as_console(lines), lang="console").commands
    assert [command.text for command in console] == expected


# --------------------------------------------------------------------------- is it shell at all?

# Untagged blocks that bash rejects are output or prose (issue 14 item 7): shown, never run.
# The splitter's `valid` must agree with `bash -n` on such text, and on ordinary commands.
VALIDITY_CASES = [
    "INFO  worker ready (model=nomic-embed-text, batch=32)",
    "Listening on 0.0.0.0:8080 (pid 12)",
    "NAME           READY   UP-TO-DATE   AVAILABLE   AGE",
    "embed-worker-6d9f7c6b8-2kq4x   1/1   Running   0   3m",
    "It's running",
    "done",
    "fi",
    "}",
    "then echo x",
    "foo )",
    "echo ok",
    "f() { echo x; }",
    "(cd / && ls)",
    "if (true); then echo a; fi",
    "a=(1 2 3)",
    "echo $(date) <(true)",
    "case x in (a) echo a;; esac",
    "for ((i=0; i<2; i++)); do echo $i; done",
    "[[ ( a == a ) ]]",
    "! (false)",
    '{"status": "ok"}',
    "HTTP/1.1 200 OK",
]


@pytest.mark.parametrize("text", VALIDITY_CASES)
def test_the_splitter_knows_what_bash_rejects(oracle: BashOracle, text: str) -> None:
    commands = split_block([text]).commands
    ours = all(command.valid for command in commands)
    assert ours is (oracle.parse(text) == COMPLETE), text
