"""The one bash tokenizer: the tokens the guard and lint read (splitting is checked against real
bash in test_shell.py and test_shell_oracle.py)."""

from __future__ import annotations

import pytest

from runner.bash.assignments import only_assigns, variables_set
from runner.bash.tokenizer import (
    Operator,
    Redirect,
    Tokenizer,
    Word,
    parse_script,
    simple_commands,
    tokenize,
)


def words(text: str) -> list[str]:
    return [t.value for t in tokenize(text) if isinstance(t, Word)]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("echo 'a b' \"c $d\" e\\ f", ["echo", "a b", "c $d", "e f"]),
        ("echo $'a\\tb' $\"x\"", ["echo", "a\tb", "x"]),
        ('echo "$\'"', ["echo", "$'"]),
        ("X=$(date) cmd", ["X=$(date)", "cmd"]),
        ("(( n > 0 ))", ["(( n > 0 ))"]),
        ("[[ b > a && -n $x ]]", ["[[", "b", ">", "a", "&&", "-n", "$x", "]]"]),
        ("echo $[1<<2]", ["echo", "$[1<<2]"]),
        ("arr[1<<2]=x", ["arr[1<<2]=x"]),
        ("arr=(a 'b c' $(d))", ["arr=(a b c $(d))"]),
        ("case $x in a|b) ls;; esac", ["case", "$x", "in", "ls", "esac"]),
    ],
)
def test_word_values(text: str, values: list[str]) -> None:
    assert words(text) == values


def test_substitutions_and_references() -> None:
    (word,) = [t for t in tokenize('"$(rm x)${Y:-d}`ls`"') if isinstance(t, Word)]
    assert word.subs == ("rm x", "ls")
    assert [(r.name, r.op) for r in word.refs] == [("Y", ":-d")]
    assert word.expanded
    (nested,) = [
        t for t in tokenize("echo ${x:-$(rm y)} $(( $(id -u) + 1 ))") if isinstance(t, Word)
    ][1:2]
    assert nested.subs == ("rm y",)


def test_the_program_name_is_literal_after_an_expanded_folder() -> None:
    (venv, dynamic) = [
        simple_commands(tokenize(t))[0].argv_words[0] for t in ("$V/bin/pip", "$cmd")
    ]
    assert venv.value[venv.literal_from :] == "/bin/pip"
    assert dynamic.value[dynamic.literal_from :] == ""


def test_redirections_with_file_descriptors_and_heredoc_bodies() -> None:
    tokens = tokenize("cmd 2>&1 >out <<'EOF' | wc\nbody $(x)\nEOF\nls")
    redirects = [t for t in tokens if isinstance(t, Redirect)]
    assert [(r.op, r.fd, r.target.value if r.target else None) for r in redirects] == [
        (">&", "2", "1"),
        (">", "", "out"),
        ("<<", "", "EOF"),
    ]
    body = redirects[2].body
    assert body is not None and body.value == "body $(x)\n" and body.quoted and body.subs == ()
    unquoted = [t for t in tokenize("cat <<EOF\n$(rm x) `ls`\nEOF") if isinstance(t, Redirect)]
    assert unquoted[0].body is not None and unquoted[0].body.subs == ("rm x", "ls")
    assert [t.op for t in tokens if isinstance(t, Operator)] == ["|", "\n"]


def test_an_unterminated_heredoc_keeps_its_body() -> None:
    (redirect,) = [t for t in tokenize("bash <<EOF\nrm x") if isinstance(t, Redirect)]
    assert redirect.body is not None and redirect.body.value == "rm x\n"
    assert not redirect.terminated


def test_function_bodies_are_kept_apart() -> None:
    script = parse_script("f() { rm x; }\nfunction g { ls; }\nh () ( pwd )\nf")
    assert [(f.name, f.body) for f in script.functions] == [
        ("f", "{ rm x; }"),
        ("g", "{ ls; }"),
        ("h", "( pwd )"),
    ]
    assert words(script_text := "f() { rm x; }; f") == ["f"], script_text


def test_broken_input_never_raises_and_keeps_what_was_read() -> None:
    for text in ["echo 'open", 'x="$(rm', "cat <<EOF", "((", ")", "`", "${", "\\", "fi", "$["]:
        tokenize(text)
    (word,) = [t for t in tokenize('echo "$(rm x') if isinstance(t, Word)][1:]
    assert word.subs == ("rm x\n",)


def test_line_by_line_completeness() -> None:
    reader = Tokenizer()
    reader.feed("if true; then")
    assert not reader.complete()
    reader.feed("  echo $[1<<2]")
    reader.feed("fi")
    assert reader.complete()


@pytest.mark.parametrize(
    ("text", "setup"),
    [("X=1", True), ("export A=1 B", True), ("arr[1<<2]=x", True), ("X=$(date)", False)],
)
def test_only_assigns(text: str, setup: bool) -> None:
    assert only_assigns(parse_script(text)) is setup


def test_variables_set() -> None:
    assert variables_set("A=1; read -r B; for C in 1; do :; done") == {"A", "B", "C"}
    assert variables_set("source env.sh") is None
