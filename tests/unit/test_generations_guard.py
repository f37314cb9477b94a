"""The safety guard and the redactor on the team's own fixtures: every validation command's
verdict, and every literal credential masked (the twin of the corpus checks in test_guard.py
and test_redact.py that read ../shared/corpus)."""

# ruff: noqa: E501 (lines are written out as they stand in the fixtures)

from __future__ import annotations

import pytest

from runner.bash.guard import mutation_reason
from runner.redact import build_redactor
from tests.generations import GEN_TASKS, A, B, C, generation_markdown_files
from tests.unit.test_generations_plan import TASKS

ENG_005 = f"{A}/ENG-005-Gateway-Smoke-Test.md"

# Every validation command of the fixtures that changes state, with the guard's reason.
MUTATING: dict[tuple[str, int], str] = {
    (ENG_005, 91): "HTTP POST to /key/generate",  # meant to be refused, writes if auth is broken
    (ENG_005, 97): "HTTP POST to /key/generate",
    (ENG_005, 122): "HTTP POST to /key/delete",
    (f"{B}/02-keep-models-loaded.md", 44): "reloads systemd units (systemctl daemon-reload)",
    (f"{C}/06_Share_Scheduler_Config.md", 24): "restarts a service (systemctl restart)",
}

VALIDATION_COMMANDS = [
    (task.path, want.line, want.command) for task in TASKS for want in task.checks
]


@pytest.mark.parametrize(
    ("path", "line", "command"),
    VALIDATION_COMMANDS,
    ids=[f"{p.rsplit('/', 1)[-1][:24]}:{n}" for p, n, _ in VALIDATION_COMMANDS],
)
def test_each_validation_command_gets_the_verdict_read_by_hand(
    path: str, line: int, command: str
) -> None:
    assert mutation_reason(command) == MUTATING.get((path, line))


def test_the_read_only_posts_are_among_the_commands() -> None:
    """POSTs to chat completions, embeddings, `…/search` and `/api/generate` only read."""
    posts = [
        command
        for _, _, command in VALIDATION_COMMANDS
        if "-X POST" in command or "--request POST" in command or " -d " in command
    ]
    read_only = [command for command in posts if mutation_reason(command) is None]
    for endpoint in ("/v1/chat/completions", "/v1/embeddings", "/search", "/api/generate"):
        assert any(endpoint in command for command in read_only), endpoint
    assert len(posts) - len(read_only) == 3  # the three /key/ writes


def test_the_mutating_commands_are_really_in_the_files() -> None:
    commands = {(path, line): command for path, line, command in VALIDATION_COMMANDS}
    assert set(MUTATING) <= set(commands)
    for (path, line), _ in MUTATING.items():
        lines = (GEN_TASKS / path).read_text(encoding="utf-8-sig").splitlines()
        for offset, text in enumerate(commands[(path, line)].split("\n")):
            assert text.strip() in lines[line - 1 + offset], (path, line + offset)


# --------------------------------------------------------------------------- credentials

PLAIN = build_redactor()

# Every literal credential in the fixtures, on its line as written.
CREDENTIALS: list[tuple[str, str, str]] = [
    (
        "ENG-002.5 L55",
        "LITELLM_MASTER_KEY=sk-gw-master-0000     # rotate before go-live",
        "sk-gw-master-0000",
    ),
    ("ENG-005 L99", '  -H "Authorization: Bearer sk-gw-master-0000" \\', "sk-gw-master-0000"),
    ("ENG-005 L105", '  -H "Authorization: Bearer sk-gw-test-5678" \\', "sk-gw-test-5678"),
    (
        "MOD-004.1 L36",
        'AUTH_HEADER="Authorization: Bearer sk-9fQ2ZbXw..." # paste a real key here',
        "sk-9fQ2ZbXw",
    ),
    (
        "ORC 02 L27",
        '`curl -s -o /dev/null -w "%{http_code}\\n" -H "Authorization: Bearer sk-orc-dev-local" http://127.0.0.1:8088/v1/jobs`',
        "sk-orc-dev-local",
    ),
    (
        "ORC 03 L26",
        'curl -sS -H "Authorization: Bearer sk-orc-dev-local" -H "Content-Type: application/json" \\',
        "sk-orc-dev-local",
    ),
    (
        "ORC 10 L40",
        '-H "Authorization: Bearer sk-orc-dev-local" http://127.0.0.1:8088/health',
        "sk-orc-dev-local",
    ),
]


@pytest.mark.parametrize(
    ("where", "line", "secret"), CREDENTIALS, ids=[w for w, _, _ in CREDENTIALS]
)
def test_fixture_credentials_are_masked(where: str, line: str, secret: str) -> None:
    masked = PLAIN.mask(line)
    assert secret not in masked
    assert "***" in masked


def test_fixture_credential_lines_exist() -> None:
    text = "\n".join(p.read_text(encoding="utf-8-sig") for p in generation_markdown_files())
    for _, line, _ in CREDENTIALS:
        fragment = line.strip().rstrip("\\").strip()
        assert fragment in text, fragment
