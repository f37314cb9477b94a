"""Table-driven tests of `runner.bash.split`: splitting, labels, setup, console, directives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.bash.directives import parse_directive_comment, parse_fence_info
from runner.bash.split import split_block
from runner.errors import InputError
from runner.models import Directives


def spans(body: list[str], **options: object) -> list[tuple[int, int]]:
    return [(c.first_line, c.last_line) for c in split_block(body, **options).commands]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- shapes

SHAPES = {
    "one per line": (["echo a", "echo b"], [(0, 0), (1, 1)]),
    "a; b on one line is one command": (["echo a; echo b", "ls"], [(0, 0), (1, 1)]),
    "backslash continuation": (
        ["curl -s \\", "  -o /dev/null \\", "  http://h", "ls"],
        [(0, 2), (3, 3)],
    ),
    "trailing &&": (["test -f x &&", "  echo yes", "ls"], [(0, 1), (2, 2)]),
    "trailing ||": (["test -f x ||", "echo no"], [(0, 1)]),
    "trailing pipe": (["ls |", "  grep a |&", "  wc -l"], [(0, 2)]),
    "blank and comment after &&": (["a &&", "", "# why", "b", "c"], [(0, 3), (4, 4)]),
    "single quotes over lines": (["python -c 'import x", "print(1)'", "ls"], [(0, 1), (2, 2)]),
    "double quotes over lines": (['python -c "', "for r in x:", '    print(r)"'], [(0, 2)]),
    "ansi-c quotes over lines": (["printf $'a\\'", "b'", "ls"], [(0, 1), (2, 2)]),
    "escaped quote does not open": (["echo \\'", "ls"], [(0, 0), (1, 1)]),
    "command substitution over lines": (
        ["S=$(curl -s \\", "  -w '%{http_code}' \\", "  http://h)", "echo $S"],
        [(0, 2), (3, 3)],
    ),
    "paren inside quotes in $( )": (['X=$(echo ")"', ")"], [(0, 1)]),
    "backticks over lines": (["X=`echo a", "b`", "ls"], [(0, 1), (2, 2)]),
    "subshell": (["(", "  cd /tmp && ls", ")", "ls"], [(0, 2), (3, 3)]),
    "group": (["{", "  echo a", "} > /dev/null", "ls"], [(0, 2), (3, 3)]),
    "one-line group": (["{ echo a; echo b; }", "ls"], [(0, 0), (1, 1)]),
    "brace as an argument": (["echo { }", "ls"], [(0, 0), (1, 1)]),
    "heredoc": (["cat <<EOF", "a", "EOF", "ls"], [(0, 2), (3, 3)]),
    "heredoc with space": (["cat << EOF", "fi", "EOF", "ls"], [(0, 2), (3, 3)]),
    "heredoc dash strips tabs": (["cat <<-EOF", "\ta", "\tEOF", "ls"], [(0, 2), (3, 3)]),
    "heredoc dash does not strip spaces": (["cat <<-EOF", "  EOF", "EOF", "ls"], [(0, 2), (3, 3)]),
    "quoted heredoc": (["cat <<'EOF'", "$(not run", "EOF", "ls"], [(0, 2), (3, 3)]),
    "double-quoted heredoc": (['cat <<"EOF"', "a", "EOF"], [(0, 2)]),
    "backslash heredoc": (["cat <<\\EOF", "a \\", "EOF", "ls"], [(0, 2), (3, 3)]),
    "unquoted heredoc joins \\ lines": (
        ["cat <<EOF", "a \\", "EOF", "EOF", "ls"],
        [(0, 3), (4, 4)],
    ),
    "terminator must match exactly": (["cat <<EOF", "EOF ", " EOF", "EOFX", "EOF"], [(0, 4)]),
    "two heredocs on one line": (
        ["cat <<A; cat <<'B'", "1", "A", "2", "B", "ls"],
        [(0, 4), (5, 5)],
    ),
    "heredoc then &&": (["cat <<EOF &&", "x", "EOF", "echo done", "ls"], [(0, 3), (4, 4)]),
    "heredoc after a multi-line string": (['cat <<EOF; echo "a', 'b"', "body", "EOF"], [(0, 3)]),
    "here-string is not a heredoc": (['cat <<< "EOF"', "ls"], [(0, 0), (1, 1)]),
    "if": (["if true; then", "  echo a", "else", "  echo b", "fi", "ls"], [(0, 4), (5, 5)]),
    "if with then on its own line": (["if [ -f x ]", "then", "  echo a", "fi"], [(0, 3)]),
    "nested if": (["if a; then", "  if b; then c; fi", "fi", "ls"], [(0, 2), (3, 3)]),
    "for": (["for x in a b; do", "  echo $x", "done", "ls"], [(0, 2), (3, 3)]),
    "for with do on its own line": (["for x in a b", "do", "  echo $x", "done"], [(0, 3)]),
    "arithmetic for": (["for ((i=0; i<3; i++)); do", "  echo $i", "done"], [(0, 2)]),
    "while with redirection": (
        ["while read -r l; do", "  echo $l", "done < f", "ls"],
        [(0, 2), (3, 3)],
    ),
    "until": (["until false; do", "  break", "done"], [(0, 2)]),
    "case": (
        ["case $x in", "  a|b) echo ab ;;", "  (c)", "    echo c", "    ;;", "esac", "ls"],
        [(0, 5), (6, 6)],
    ),
    "case inside $( )": (["X=$(case a in a) echo A;; esac", ")", "ls"], [(0, 1), (2, 2)]),
    "function": (["f() {", "  echo f", "}", "f"], [(0, 2), (3, 3)]),
    "function keyword": (["function g {", "  echo g", "}", "g"], [(0, 2), (3, 3)]),
    "function body on the next line": (["h()", "{", "  echo h", "}", "h"], [(0, 3), (4, 4)]),
    "conditional closed on the next line": (["[[ -f x", "]] && echo yes", "ls"], [(0, 1), (2, 2)]),
    "conditional negation over lines": (["[[ !", "-f x ]]"], [(0, 1)]),
    "conditional over lines": (
        ["[[ -n $x &&", "   $x == a ]] && echo yes", "ls"],
        [(0, 1), (2, 2)],
    ),
    "array over lines": (["arr=(", "  one # note", "  two", ")", "ls"], [(0, 3), (4, 4)]),
    "arithmetic command": (["(( x = (1 + 2) * 3 ))", "ls"], [(0, 0), (1, 1)]),
    "comment hides a quote": (["echo a # it's", "ls"], [(0, 0), (1, 1)]),
    "comment hides a backslash": (["echo a # \\", "ls"], [(0, 0), (1, 1)]),
    "# inside a word is not a comment": (["echo a#'b", "c'", "ls"], [(0, 1), (2, 2)]),
    "$# is not a comment": (["echo $# '", "'", "ls"], [(0, 1), (2, 2)]),
    "keywords only in command position": (
        ["echo if then for", "echo done", "ls"],
        [(0, 0), (1, 1), (2, 2)],
    ),
    "closer inside quotes": (["if true; then", "  echo 'fi'", "fi"], [(0, 2)]),
    "process substitution": (["diff <(ls a", ") <(ls b)", "ls"], [(0, 1), (2, 2)]),
    "parameter expansion with quotes": (['echo "${x:-"}"}"', "ls"], [(0, 0), (1, 1)]),
    "background job": (["sleep 1 &", "wait"], [(0, 0), (1, 1)]),
    # issue 17: `<<` inside arithmetic and subscripts is a shift, not a heredoc
    "$[ ] arithmetic with a shift": (["echo $[1<<2]", "ls", "pwd"], [(0, 0), (1, 1), (2, 2)]),
    "subscript with a shift": (["arr[1<<2]=x", "ls", "pwd"], [(0, 0), (1, 1), (2, 2)]),
    "subscript after an assignment": (["A=1 b[1<<1]=2", "ls"], [(0, 0), (1, 1)]),
    "subscript in a compound assignment": (["x=([1<<2]=a)", "ls"], [(0, 0), (1, 1)]),
    "(( )) comparison": (["(( n > 0 ))", "ls"], [(0, 0), (1, 1)]),
    "[[ ]] string comparison": (["[[ b > a ]]", "ls"], [(0, 0), (1, 1)]),
    "$' inside double quotes is plain": (['echo "$\'"', "ls"], [(0, 0), (1, 1)]),
}


@pytest.mark.parametrize(("body", "expected"), SHAPES.values(), ids=SHAPES.keys())
def test_shapes_split_into_top_level_commands(
    body: list[str], expected: list[tuple[int, int]]
) -> None:
    assert spans(body) == expected


MALFORMED = {
    "unterminated double quote": (["ls", 'echo "abc', "def", ""], [(0, 0), (1, 2)]),
    "unterminated heredoc": (["cat <<EOF", "a", "", ""], [(0, 1)]),
    "unterminated if": (["if true; then", "  echo", "", "ls"], [(0, 3)]),
    "dangling &&": (["ls &&"], [(0, 0)]),
    "stray fi is its own command": (["fi", "ls"], [(0, 0), (1, 1)]),
    "syntax error in a redirection": (["git checkout <prev-commit>", "ls"], [(0, 0), (1, 1)]),
    "newline inside a [[ ]] term": (["[[ a", "== a ]]", "ls"], [(0, 0), (1, 1), (2, 2)]),
    "newline after a [[ ]] unary operator": (["[[ -f", "x ]]"], [(0, 0), (1, 1)]),
}


@pytest.mark.parametrize(("body", "expected"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_blocks_never_raise(body: list[str], expected: list[tuple[int, int]]) -> None:
    assert spans(body) == expected


def test_text_is_the_source_lines_exactly() -> None:
    body = ["  # label", 'python -c "', "for r in x:", "    print(r)  ", '"  ', "", "ls"]
    first, second = split_block(body).commands
    assert first.text == 'python -c "\nfor r in x:\n    print(r)  \n"  '
    assert (first.first_line, first.last_line) == (1, 4)
    assert second.text == "ls"


def test_comment_lines_inside_a_command_stay_in_its_text() -> None:
    body = ["if true; then", "  # inner", "", "  echo a", "fi"]
    (command,) = split_block(body).commands
    assert command.text == "\n".join(body)


def test_an_empty_block_has_no_commands() -> None:
    assert split_block([]).commands == ()
    assert split_block(["", "# only a comment", "   "]).commands == ()


# --------------------------------------------------------------------------- labels

LABELS = {
    "comment directly above": (["# Verify file", "test -s f"], "Verify file"),
    "nearest of several": (["# first", "# second", "ls"], "second"),
    "decorative kept as written": (["# --- Test Setup ---", "X=1"], "--- Test Setup ---"),
    "indented comment": (["    #   spaced out  ", "ls"], "spaced out"),
    "double hash": (["## Heading-like", "ls"], "Heading-like"),
    "blank line between: no label": (["# far", "", "ls"], None),
    "no comment": (["ls"], None),
    "empty comment is skipped": (["# real", "#", "ls"], "real"),
    "shebang is not a label": (["#!/bin/bash", "ls"], None),
}


@pytest.mark.parametrize(("body", "label"), LABELS.values(), ids=LABELS.keys())
def test_labels(body: list[str], label: str | None) -> None:
    (command,) = split_block(body).commands
    assert command.label == label


def test_each_command_gets_its_own_label() -> None:
    body = ["# one", "echo 1", "", "# two", "echo 2", "echo 3"]
    assert [c.label for c in split_block(body).commands] == ["one", "two", None]


# --------------------------------------------------------------------------- setup steps

SETUP = {
    "X=1": True,
    'X="a b"': True,
    "export X=1 Y=2": True,
    "X=${X:-default}": True,
    'BASE_URL="${BASE_URL:-http://127.0.0.1:4000}"': True,
    "readonly R=1": True,
    "declare -x D=1": True,
    "export PATH": True,
    "X=$((1 + 2))": True,
    "arr=(a b 'c d')": True,
    "X=1; Y=2": True,
    "X=1 # why": True,
    "X='multi\nline'": True,
    "STATUS=$(curl -s http://h)": False,
    "X=`date`": False,
    'X="$(date)"': False,
    "X=${Y:-$(date)}": False,
    "X=1 cmd": False,
    "echo X=1": False,
    "X=1 > file": False,
    "X=1 | cat": False,
    "X=1 &": False,
    "declare -p X": False,
    "export": False,
    "(X=1)": False,
    "cd /tmp": False,
    "set -a": False,
    "if true; then X=1; fi": False,
    "arr[1<<2]=x": True,
    "X=1 export Y=2": False,
    "f() { X=1; }": False,
}


@pytest.mark.parametrize(("text", "is_setup"), SETUP.items(), ids=SETUP.keys())
def test_setup_detection(text: str, is_setup: bool) -> None:
    (command,) = split_block(text.split("\n")).commands
    assert command.is_setup is is_setup


# --------------------------------------------------------------------------- console


def test_console_blocks_keep_prompt_lines_and_drop_output() -> None:
    body = [
        "$ echo hello",
        "hello",
        "$ curl -s \\",
        ">   http://h",
        '{"ok": true}',
        "$",
        "$ cat <<EOF",
        "> a",
        "> EOF",
        "a",
        "output with $ sign",
    ]
    commands = split_block(body, lang="console").commands
    assert [c.text for c in commands] == [
        "echo hello",
        "curl -s \\\n  http://h",
        "cat <<EOF\na\nEOF",
    ]
    assert [(c.first_line, c.last_line) for c in commands] == [(0, 0), (2, 3), (6, 8)]


def test_console_continuation_lines_may_lack_a_prompt() -> None:
    body = ["$ if true; then", "  echo a", "fi", "a"]
    (command,) = split_block(body, lang="console").commands
    assert command.text == "if true; then\n  echo a\nfi"


def test_console_comment_prompt_is_a_label() -> None:
    body = ["$ # check it", "$ ls"]
    (command,) = split_block(body, lang="console").commands
    assert command.label == "check it"


def test_a_dollar_prompt_makes_a_bash_block_a_transcript() -> None:
    # issue 14 item 7: `$ ` prompts in a bash block run the prompt lines, as in `console`
    block = split_block(["$ ls"], lang="bash")
    assert block.transcript
    assert [c.text for c in block.commands] == ["ls"]


def test_a_bash_transcript_keeps_comments_as_labels_and_output_as_shown_output() -> None:
    body = [
        "# Rollout finished",
        "$ kubectl rollout status deploy/x --timeout=60s",
        'deployment "x" successfully rolled out',
        "",
        "# Three pods",
        "$ kubectl get pods --no-headers | grep -c Running",
        "3",
    ]
    first, second = split_block(body, lang="bash").commands
    assert (first.label, first.text) == ("Rollout finished", body[1][2:])
    assert first.shown_output == 'deployment "x" successfully rolled out'
    assert (second.label, second.shown_output, second.first_line) == ("Three pods", "3", 5)


def test_a_dollar_inside_a_bash_line_is_not_a_prompt() -> None:
    block = split_block(["echo $ HOME", "ls"], lang="bash")
    assert not block.transcript
    assert [c.text for c in block.commands] == ["echo $ HOME", "ls"]


@pytest.mark.parametrize(
    ("body", "owner", "prose"),
    [
        (["ollama list | wc -l", "# Expected: 5"], 0, "5"),
        (["systemctl status x", "# Should show: active (running)"], 0, "active (running)"),
        (["a", "# Expected: 5", "b"], 0, "5"),
        (["a", "", "# Expected: 200", "curl -s x"], 1, "200"),
    ],
)
def test_expectation_comments_belong_to_their_command_and_are_no_label(
    body: list[str], owner: int, prose: str
) -> None:
    commands = split_block(body, lang="bash").commands
    assert commands[owner].expected_prose == prose
    assert all(c.label is None for c in commands)
    assert [c.expected_prose for i, c in enumerate(commands) if i != owner] == [None] * (
        len(commands) - 1
    )


# --------------------------------------------------------------------------- directives

GOOD_DIRECTIVES = {
    "on one": ("on=llm-01", Directives(on=("llm-01",))),
    "on several": ("on=llm-01,llm-02", Directives(on=("llm-01", "llm-02"))),
    "on local": ("on=local", Directives(on=("local",))),
    "expect-exit": ("expect-exit=3", Directives(expect_exit=3)),
    "expect-exit 255": ("expect-exit=255", Directives(expect_exit=255)),
    "expect-stdout quoted": (
        "expect-stdout='^ok [0-9]+$'",
        Directives(expect_stdout="^ok [0-9]+$"),
    ),
    "timeout": ("timeout=2.5", Directives(timeout=2.5)),
    "retries": ("retries=0", Directives(retries=0)),
    "retry-delay": ("retry-delay=0", Directives(retry_delay=0.0)),
    "skip": ('skip="needs a GPU"', Directives(skip="needs a GPU")),
    "mutating": ("mutating=ok", Directives(mutating_ok=True)),
    "name": ("name=health", Directives(name="health")),
    "pipefail off": ("pipefail=off", Directives(pipefail=False)),
    "pipefail on": ("pipefail=on", Directives(pipefail=True)),
    "several keys": ("on=orc timeout=5 retries=2", Directives(on=("orc",), timeout=5.0, retries=2)),
    "nothing": ("", Directives()),
}


@pytest.mark.parametrize(("text", "expected"), GOOD_DIRECTIVES.values(), ids=GOOD_DIRECTIVES.keys())
def test_directive_values(text: str, expected: Directives) -> None:
    assert parse_directive_comment(f"# taskrun: {text}", path="t.md", line=3) == expected


BAD_DIRECTIVES = {
    "unknown key": ("timout=5", "unknown directive key 'timout'"),
    "missing =": ("timeout", "'timeout' is not key=value"),
    "unbalanced quotes": ("skip='oops", "unbalanced quotes"),
    "expect-exit not a number": ("expect-exit=x", "'expect-exit'"),
    "expect-exit too big": ("expect-exit=256", "0-255"),
    "expect-exit negative": ("expect-exit=-1", "0-255"),
    "bad regex": ("expect-stdout='('", "regular expression"),
    "timeout zero": ("timeout=0", "> 0"),
    "timeout negative": ("timeout=-1", "> 0"),
    "timeout not finite": ("timeout=inf", "> 0"),
    "retries negative": ("retries=-1", "'retries'"),
    "retries fraction": ("retries=1.5", "'retries'"),
    "retry-delay negative": ("retry-delay=-0.5", ">= 0"),
    "mutating other": ("mutating=yes", "only value is 'ok'"),
    "pipefail other": ("pipefail=no", "'on' or 'off'"),
    "empty on": ("on=", "COMPONENT"),
    "empty component": ("on=a,,b", "COMPONENT"),
    "empty skip": ("skip=", "non-empty"),
    "twice": ("timeout=1 timeout=2", "given twice"),
}


@pytest.mark.parametrize(("text", "message"), BAD_DIRECTIVES.values(), ids=BAD_DIRECTIVES.keys())
def test_bad_directives_are_input_errors_with_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_directive_comment(f"# taskrun: {text}", path="t.md", line=7)
    assert message in caught.value.message
    assert (caught.value.path, caught.value.line) == ("t.md", 7)
    assert "\n" not in str(caught.value)


def test_unknown_key_message_lists_known_keys_and_suggests() -> None:
    with pytest.raises(InputError) as caught:
        parse_directive_comment("# taskrun: timout=5", path="t.md", line=1)
    message = caught.value.message
    assert "known: on, expect-exit, expect-stdout, timeout" in message
    assert "did you mean 'timeout'" in message


@pytest.mark.parametrize(
    "text", ["# a comment", "echo taskrun: x=1", "# taskrunner: x", "", "#taskrun x=1"]
)
def test_other_lines_are_not_directives(text: str) -> None:
    assert parse_directive_comment(text, path="t.md", line=1) is None


def test_directive_spellings() -> None:
    assert parse_directive_comment("#taskrun: timeout=1", path="t", line=1) == Directives(
        timeout=1.0
    )
    assert parse_directive_comment("  # TaskRun:  retries=1", path="t", line=1) == Directives(
        retries=1
    )


def test_directive_above_a_command_applies_to_it() -> None:
    body = ["echo a", "# Check health", "# taskrun: expect-exit=1 timeout=3", "curl h", "ls"]
    split = split_block(body, path="t.md", first_lineno=10)
    assert split.directives == Directives()
    plain, curl, ls = split.commands
    assert curl.directives == Directives(expect_exit=1, timeout=3.0)
    assert curl.label == "Check health"
    assert curl.text == "curl h"
    assert plain.directives == ls.directives == Directives()


def test_directive_name_overrides_the_label() -> None:
    body = ["# Check", "# taskrun: name=health", "curl h"]
    (command,) = split_block(body).commands
    assert command.label == "health"
    assert command.directives.name == "health"


def test_first_line_directive_followed_by_blank_applies_to_the_block() -> None:
    body = ["# taskrun: on=llm-01 timeout=5", "", "# first", "ls"]
    split = split_block(body)
    assert split.directives == Directives(on=("llm-01",), timeout=5.0)
    (command,) = split.commands
    assert command.directives == Directives()
    assert command.label == "first"


def test_first_line_directive_directly_above_a_command_is_the_commands() -> None:
    split = split_block(["# taskrun: retries=2", "ls"])
    assert split.directives == Directives()
    assert split.commands[0].directives == Directives(retries=2)


def test_fence_info_directives_merge_with_the_first_line_which_wins() -> None:
    body = ["# taskrun: timeout=9", "", "ls"]
    split = split_block(body, info="bash {on=llm-01 timeout=5}")
    assert split.directives == Directives(on=("llm-01",), timeout=9.0)


def test_a_directive_not_above_a_command_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        split_block(["ls", "# taskrun: timeout=5", "", "ls"], path="t.md", first_lineno=20)
    assert caught.value.line == 21
    assert "not directly above a command" in caught.value.message


def test_a_bad_directive_in_a_block_names_its_file_line() -> None:
    with pytest.raises(InputError) as caught:
        split_block(["ls", "# taskrun: timout=5", "ls"], path="t.md", first_lineno=40)
    assert str(caught.value).startswith("t.md(41): unknown directive key 'timout'")


def test_directive_like_comments_inside_a_command_are_its_text() -> None:
    body = ["if true; then", "  # taskrun: anything goes here", "  ls", "fi"]
    (command,) = split_block(body).commands
    assert "taskrun" in command.text


FENCE_INFO = {
    "no attributes": ("bash", Directives()),
    "empty": ("", Directives()),
    "runme name": ("bash { name=check }", Directives(name="check")),
    "ours": ("bash {on=llm-01,orc timeout=5}", Directives(on=("llm-01", "orc"), timeout=5.0)),
    "runme keys ignored": ("sh {name=x interactive=false background=true}", Directives(name="x")),
    "quoted value": ('bash {skip="not on CI"}', Directives(skip="not on CI")),
    "json form": ('bash {"name": "check", "excludeFromRunAll": true}', Directives(name="check")),
}


@pytest.mark.parametrize(("info", "expected"), FENCE_INFO.values(), ids=FENCE_INFO.keys())
def test_fence_info(info: str, expected: Directives) -> None:
    assert parse_fence_info(info, path="t.md", line=5) == expected


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("bash {timout=5}", "unknown directive key 'timout'"),
        ("bash {on=x", "without a closing"),
        ("bash {timeout}", "not key=value"),
        ('bash {"name": }', "not valid JSON"),
        ("bash {expect-exit=300}", "0-255"),
    ],
)
def test_bad_fence_info_is_an_input_error(info: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_fence_info(info, path="t.md", line=5)
    assert message in caught.value.message
    assert caught.value.line == 5


def test_fence_info_errors_point_at_the_fence_line() -> None:
    with pytest.raises(InputError) as caught:
        split_block(["ls"], info="bash {timout=1}", path="t.md", first_lineno=12)
    assert caught.value.line == 11


# --------------------------------------------------------------------------- any input

SHELLISH = st.text(alphabet=" \t#\\'\"`$(){}[];&|<>=-!*EOFfiacsedonthw\u00e9\u274c", max_size=30)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(body=st.lists(SHELLISH, max_size=8), console=st.booleans())
def test_any_block_splits_into_ordered_source_slices(body: list[str], console: bool) -> None:
    try:
        split = split_block(body, lang="console" if console else "bash")
    except InputError as exc:  # only a `# taskrun:` comment can be bad input
        assert "taskrun" in "".join(body).casefold(), exc
        return
    previous_end = -1
    for command in split.commands:
        assert previous_end < command.first_line <= command.last_line < len(body)
        previous_end = command.last_line
        if not console:
            assert command.text == "\n".join(body[command.first_line : command.last_line + 1])
