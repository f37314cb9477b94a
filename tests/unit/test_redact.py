"""Redaction: secret values, secret-looking environment variables, credential patterns, every
literal credential of the corpus (FINDINGS §8); idempotence and speed."""

# ruff: noqa: E501 (corpus commands are copied verbatim, long lines included)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.redact import (
    MIN_SECRET_LENGTH,
    build_redactor,
    is_maskable_value,
    secret_variable_names,
)

PLAIN = build_redactor()

# (text, masked)
PATTERNS: list[tuple[str, str]] = [
    ('-H "Authorization: Bearer abc.def-123"', '-H "Authorization: Bearer ***"'),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
    ("authorization: opaque-token-value", "authorization: ***"),
    ('"Authorization": "Bearer eyJhbGciOi.x.y"', '"Authorization": "Bearer ***"'),
    ("Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic ***"),
    ("X-HX-Admin-Key: supersecret", "X-HX-Admin-Key: ***"),
    ("x-api-key: abc", "x-api-key: ***"),
    ("Api-Key: abc123", "Api-Key: ***"),
    ("X-Auth-Token: t0k3n", "X-Auth-Token: ***"),
    ("X-Client-Secret: s3cr3t", "X-Client-Secret: ***"),
    ("token is Bearer ab12cd34ef", "token is Bearer ***"),
    ("key sk-hx-dev-1234 used", "key *** used"),
    ("OPENAI_API_KEY was sk-proj-AbC_123-xyz", "OPENAI_API_KEY was ***"),
    ("https://h/x?password=hunter2&x=1", "https://h/x?password=***&x=1"),
    ("https://h/x?token=abc&access_token=def", "https://h/x?token=***&access_token=***"),
    ("https://bob:hunter2@example.com/repo", "https://bob:***@example.com/repo"),
    ("curl -u bob:hunter2 http://h/", "curl -u bob:*** http://h/"),
    ("curl --user=bob:hunter2 http://h/", "curl --user=bob:*** http://h/"),
    ("RAG_WRITE_KEY=abc123", "RAG_WRITE_KEY=***"),
    ('export API_KEY="your-secret-api-key"', 'export API_KEY="***"'),
    ("LITELLM_MASTER_KEY=sk-1234", "LITELLM_MASTER_KEY=***"),
    ("DB_PASSWORD='p4ss'", "DB_PASSWORD='***'"),
]

UNTOUCHED: list[str] = [
    "Content-Type: application/json",
    'AUTH_HEADER="Authorization: Bearer ${API_KEY}"',
    'curl -H "X-Api-Key: $API_KEY" http://h/',
    'grep -q "RAG_WRITE_KEY=" /etc/hx/gateway.env',
    'grep -q "EMBEDDING_DIM=1024" /etc/hx/gateway.env',
    "Make a request with a valid `Authorization` bearer token.",
    "requests without an `Authorization` header",
    """-d '{"filter": {"must": [{"key": "metadata.source"}]}}'""",
    "sudo -u agent0 systemctl is-active x",
    "task-sk-1234 is a ticket id",
    "sk-… keys",
    "Bearer authentication",
    "✅ PASSED (Status: 200)",
]


@pytest.mark.parametrize(("text", "masked"), PATTERNS)
def test_credential_patterns_are_masked(text: str, masked: str) -> None:
    assert PLAIN.mask(text) == masked


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert PLAIN.mask(text) == text


# Every literal credential in the corpus's validation commands (FINDINGS §8), as written.
CORPUS_CREDENTIALS: list[tuple[str, str, str]] = [
    ("ENG-007 L131", '  -H "X-HX-Admin-Key: supersecret" \\', "supersecret"),
    ("ENG-008 L113", '  -H "X-HX-Admin-Key: supersecret" \\', "supersecret"),
    ("ENG-007 L150", '  -H "Authorization: Bearer sk-hx-dev-1234" \\', "sk-hx-dev-1234"),
    (
        "RAG-004.1 L36",
        'AUTH_HEADER="Authorization: Bearer sk-mDyhCELJX..." # Use a valid key',
        "sk-mDyhCELJX",
    ),
    (
        "Refactor 02 L29",
        'curl -s -o /dev/null -w "%{http_code}\\n" -H "Authorization: Bearer '
        'sk-hx-dev-default" http://127.0.0.1:4010/v1/models',
        "sk-hx-dev-default",
    ),
    (
        "Refactor 03 L28",
        'curl -sS -H "Authorization: Bearer sk-hx-dev-default" -H "Content-Type: '
        'application/json" \\',
        "sk-hx-dev-default",
    ),
    (
        "Refactor 04 L28",
        'curl -sS -H "Authorization: Bearer sk-hx-dev-default" '
        "http://127.0.0.1:4010/v1/models | jq",
        "sk-hx-dev-default",
    ),
    (
        "Refactor 07 L28",
        '-H "Authorization: Bearer sk-hx-dev-default" http://127.0.0.1:4010/healthz',
        "sk-hx-dev-default",
    ),
    (
        "Refactor 10 L40",
        '-H "Authorization: Bearer sk-hx-dev-default" http://127.0.0.1:4010/health',
        "sk-hx-dev-default",
    ),
    (
        "ENG-004.5 L58",
        "RAG_WRITE_KEY=supersecret          # rotate in prod secrets store",
        "supersecret",
    ),
]


@pytest.mark.parametrize(
    ("where", "line", "secret"), CORPUS_CREDENTIALS, ids=[w for w, _, _ in CORPUS_CREDENTIALS]
)
def test_corpus_credentials_are_masked(where: str, line: str, secret: str) -> None:
    masked = PLAIN.mask(line)
    assert secret not in masked
    assert "***" in masked


def test_corpus_credential_lines_exist(corpus_dir) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in corpus_dir.rglob("*.md"))
    for _, line, _ in CORPUS_CREDENTIALS:
        fragment = line.strip().rstrip("\\").strip()
        assert fragment in text, fragment


def test_secret_values_are_masked_anywhere() -> None:
    redactor = build_redactor(secret_values=["hunter2-db", "s3cr3t!x"])
    assert redactor.mask("connecting with hunter2-db...") == "connecting with ***..."
    assert redactor.mask("a s3cr3t!x b s3cr3t!x") == "a *** b ***"


def test_short_secret_values_are_ignored() -> None:
    redactor = build_redactor(secret_values=["a", "ab", "abc", "abcd"])
    assert MIN_SECRET_LENGTH == 4
    assert redactor.mask("a ab abc abcd") == "a ab abc ***"


def test_longer_secret_wins_over_its_prefix() -> None:
    redactor = build_redactor(secret_values=["abcd", "abcdefgh"])
    assert redactor.mask("xabcdefghx") == "x***x"


def test_environment_values_of_secret_variables_used_by_commands() -> None:
    environ = {
        "API_KEY": "k-123456",
        "AUTH_TOKEN": "t-abcdef",
        "DB_PASS": "p-999999",
        "MY_SECRET": "s-777777",
        "UNUSED_KEY": "u-555555",
        "BASE_URL": "http://127.0.0.1:4000",
    }
    commands = [
        'curl -H "Authorization: Bearer ${API_KEY}" "$BASE_URL/v1/rag/search"',
        'echo "$AUTH_TOKEN" "${DB_PASS:-none}" $my_secret ${MY_SECRET}',
    ]
    redactor = build_redactor(environ=environ, commands=commands)
    output = "k-123456 t-abcdef p-999999 s-777777 u-555555 http://127.0.0.1:4000"
    assert redactor.mask(output) == "*** *** *** *** u-555555 http://127.0.0.1:4000"


def test_secret_variable_names() -> None:
    names = secret_variable_names(
        ["$API_KEY ${auth_header} ${PASSWORD:-x} $BASE_URL $TOKENS $PATH"]
    )
    assert names == {"API_KEY", "auth_header", "PASSWORD", "TOKENS"}


def test_mask_is_idempotent_on_the_tables() -> None:
    redactor = build_redactor(secret_values=["***x", "x***", "supersecret"])
    for text, _ in PATTERNS:
        once = redactor.mask(text)
        assert redactor.mask(once) == once
    tricky = "x***x ***xx supersecret*** Authorization: Bearer ***"
    once = redactor.mask(tricky)
    assert redactor.mask(once) == once


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab*:= -_kKeyXsS\n\"'$@/")), max_size=60),
    secrets=st.lists(
        st.text(alphabet=st.sampled_from(list("ab*ks-")), min_size=1, max_size=6), max_size=3
    ),
)
def test_mask_is_idempotent_and_never_raises(text: str, secrets: list[str]) -> None:
    redactor = build_redactor(secret_values=secrets)
    once = redactor.mask(text)
    assert redactor.mask(once) == once
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH and "*" not in secret:
            assert secret not in once


def test_ten_mebibytes_are_masked_throughout() -> None:
    redactor = build_redactor(
        secret_values=["supersecret", "hunter2-db"],
        environ={"API_KEY": "k-123456"},
        commands=["echo $API_KEY"],
    )
    lines = [
        "2025-08-21T10:00:00Z INFO request path=/v1/rag/search status=200 duration_ms=12 user=bob\n",
        '{"level": "info", "msg": "upsert ok", "namespace": "docs:test", "count": 3, "id": "a-b-c"}\n',
        'Aug 21 10:00:00 gw uvicorn[123]: 127.0.0.1:5000 - "POST /v1/rag/upsert HTTP/1.1" 200 OK\n',
        "  - {'POST'} /v1/rag/upsert  Authorization: Bearer sk-hx-dev-1234 X-HX-Admin-Key: supersecret\n",
    ]
    chunk = "".join(lines)
    text = chunk * (10 * 1024 * 1024 // len(chunk))
    masked = redactor.mask(text)  # its speed is measured in bench/, not here
    assert "supersecret" not in masked and "sk-hx-dev" not in masked
    assert masked.count("***") >= 2 * (len(text) // len(chunk))


def test_with_values_adds_secrets_learnt_during_a_run() -> None:
    base = build_redactor(secret_values=["inventory-secret-1"])
    extended = base.with_values(["host-only-secret-22", "inventory-secret-1"])
    text = "a inventory-secret-1 b host-only-secret-22 c"
    assert base.mask(text) == "a *** b host-only-secret-22 c"
    assert extended.mask(text) == "a *** b *** c"
    assert extended.with_values(["host-only-secret-22"]) is extended  # nothing new
    assert build_redactor().with_values(["x"]).mask("x y") == "x y"  # too short to mask


@pytest.mark.parametrize(
    ("value", "maskable"),
    [
        ("s3cr3t-value", True),
        ("/tmp/ssh-XXXX/agent.1", True),
        ("short", False),
        ("1234567890", False),
        ("TRUE", False),
        ("yes", False),
        ("12345678a", True),
    ],
)
def test_is_maskable_value(value: str, maskable: bool) -> None:
    assert is_maskable_value(value) is maskable
