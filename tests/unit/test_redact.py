"""Redaction: secret values, secret-looking environment variables, credential patterns, every
literal credential of the corpus (FINDINGS §8); idempotence and speed."""

# ruff: noqa: E501 (corpus commands are copied verbatim, long lines included)

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.redact import (
    MIN_SECRET_LENGTH,
    build_redactor,
    is_maskable,
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
    # issue 17: values shorter than 8 characters, booleans and numbers are not masked
    redactor = build_redactor(
        secret_values=["a", "abcd", "abcdefg", "abcdefgh", "true", "12345678"]
    )
    assert MIN_SECRET_LENGTH == 8
    assert (
        redactor.mask("a abcd abcdefg abcdefgh true 12345678") == "a abcd abcdefg *** true 12345678"
    )


def test_longer_secret_wins_over_its_prefix() -> None:
    redactor = build_redactor(secret_values=["abcd", "abcdefgh"])
    assert redactor.mask("xabcdefghx") == "x***x"


def test_environment_values_of_secret_variables_used_by_commands() -> None:
    environ = {
        "API_KEY": "k-123456",
        "AUTH_TOKEN": "t-abcdef",
        "DB_PASS": "p-999999",
        "MY_SECRET": "s-777777",
        "UNUSED_KEY": "u-555555",  # masked too (issue 17)
        "BASE_URL": "http://127.0.0.1:4000",
    }
    commands = [
        'curl -H "Authorization: Bearer ${API_KEY}" "$BASE_URL/v1/rag/search"',
        'echo "$AUTH_TOKEN" "${DB_PASS:-none}" $my_secret ${MY_SECRET}',
    ]
    redactor = build_redactor(environ=environ, commands=commands)
    output = "k-123456 t-abcdef p-999999 s-777777 u-555555 http://127.0.0.1:4000"
    # issue 17: every secret-named variable is masked, used by a command or not
    assert redactor.mask(output) == "*** *** *** *** *** http://127.0.0.1:4000"


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


def test_host_values_learnt_during_a_run_are_masked_from_then_on() -> None:
    base = build_redactor(secret_values=["inventory-secret-1"])
    extended = base.with_values(["host-only-secret-22", "inventory-secret-1"])
    text = "a inventory-secret-1 b host-only-secret-22 c"
    assert base.mask(text) == "a *** b host-only-secret-22 c"
    assert extended.mask(text) == "a *** b *** c"
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
def test_is_maskable(value: str, maskable: bool) -> None:
    assert is_maskable(value) is maskable


# --------------------------------------------------------------------------- issue 17

# Item 3: literal secrets in commands (what `plan`, `--dry-run`, run.json and the task file show)
LITERALS: list[tuple[str, str]] = [
    ("DB_PASSWORD='correct horse battery staple'", "DB_PASSWORD='***'"),
    ('export API_TOKEN="a b c d" && run', 'export API_TOKEN="***" && run'),
    ("PGPASSWORD=x psql -h db -c 'select 1'", "PGPASSWORD=*** psql -h db -c 'select 1'"),
    ("REDISCLI_AUTH=s3cret redis-cli ping", "REDISCLI_AUTH=*** redis-cli ping"),
    ("SSHPASS=hunter2 sshpass -e ssh h", "SSHPASS=*** sshpass -e ssh h"),
    ("MYSQL_PWD=pw mysql -e 'show tables'", "MYSQL_PWD=*** mysql -e 'show tables'"),
    ("redis-cli -h r -a s3cret ping", "redis-cli -h r -a *** ping"),
    ("redis-cli -a 's3 cret' ping", "redis-cli -a '***' ping"),
    ("sshpass -p hunter2 ssh host", "sshpass -p *** ssh host"),
    ("mysql -u root -phunter2 db", "mysql -u root -p*** db"),
    ("mysqldump -uroot -p'pa ss' db", "mysqldump -uroot -p'***' db"),
    ("tool --password=hunter2 --x", "tool --password=*** --x"),
    ("tool --password hunter2", "tool --password ***"),
    ("vault login --token s.abc", "vault login --token ***"),
    ("cli --api-key=k123 run", "cli --api-key=*** run"),
    (
        'curl -H "Authorization: Bearer sk-abc123" http://h/',
        'curl -H "Authorization: Bearer ***" http://h/',
    ),
    ("curl -u admin:pass http://h/", "curl -u admin:*** http://h/"),
]
LITERALS_UNTOUCHED: list[str] = [
    "ENABLE_AUTH=true ./run",
    'AUTH_HEADER="Authorization: Bearer ${API_KEY}"',
    'X_TOKEN="$TOKEN_FROM_VAULT"',
    "monkey=banana",
    "mysql -u root -p db",
    "redis-cli -h r ping",
    "ls -a /tmp",
    "sort --key=2",
]


@pytest.mark.parametrize(("text", "masked"), LITERALS)
def test_literal_secrets_in_commands_are_masked(text: str, masked: str) -> None:
    assert PLAIN.mask(text) == masked


@pytest.mark.parametrize("text", LITERALS_UNTOUCHED)
def test_look_alikes_stay(text: str) -> None:
    assert PLAIN.mask(text) == text


# Item 4: derived forms, nested prefixes
SECRET = "s3cr3t-V@lue/with+chars&more"


def test_base64_forms_at_every_alignment_are_masked() -> None:
    import base64

    redactor = build_redactor(secret_values=[SECRET])
    for prefix in ("", "u", "us", "user:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode((prefix + SECRET).encode()).decode()
            masked = redactor.mask(f"Basic {encoded} done")
            left = masked.split()[1].split("***")
            assert len(left) == 2, masked
            # at most the prefix's characters and one partial group on each side remain
            assert len(left[0]) <= len(prefix) * 4 // 3 + 2 and len(left[1]) <= 4, masked


def test_url_and_json_forms_are_masked() -> None:
    import json
    from urllib.parse import quote, quote_plus

    redactor = build_redactor(secret_values=[SECRET, 'say "hi" \\ there/now'])
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe=""))
    for form in (quote(SECRET, safe=""), quote_plus(SECRET), lower):
        assert redactor.mask(f"?p={form}&x=1") == "?p=***&x=1"
    escaped = json.dumps('say "hi" \\ there/now')
    assert redactor.mask(f'{{"v": {escaped}}}') == '{"v": "***"}'
    assert redactor.mask(escaped.replace("/", "\\/")) == '"***"'


def test_nested_prefixes_are_masked_longest_first_across_tasks() -> None:
    redactor = build_redactor(secret_values=["prefix-12345678"])
    redactor.add_values(["prefix-12345678-and-more"])
    assert redactor.mask("a prefix-12345678-and-more b prefix-12345678 c") == "a *** b *** c"


def test_host_values_are_added_to_the_one_redactor() -> None:
    redactor = build_redactor()
    mask = redactor.mask  # held by the console, the captures, the reports
    assert mask("host-only-value-42") == "host-only-value-42"
    redactor.add_values(["host-only-value-42", "1", "true"])
    assert mask("host-only-value-42") == "***"
    copy = redactor.with_values(["another-secret-9"])
    assert copy.mask("another-secret-9") == "***" and redactor.mask("another-secret-9") != "***"


def test_every_secret_named_variable_of_the_environment_is_masked() -> None:
    environ = {
        "X_TOKEN": "x-token-value-1",
        "SHORT_KEY": "abc",
        "FLAG_AUTH": "true",
        "HOME": "/home/u1",
    }
    redactor = build_redactor(environ=environ)
    assert redactor.mask("x-token-value-1 abc true /home/u1") == "*** abc true /home/u1"


def test_safe_cut_never_splits_a_secret() -> None:
    redactor = build_redactor(secret_values=["a-secret-value-xyz"])
    text = "x" * 70_000 + "a-secret-value-xyz" + "y" * 100
    cut = redactor.safe_cut(text)
    assert 0 < cut <= len(text) - 256
    assert "a-secret-value-xyz" in text[cut:] or "a-secret-value-xyz" in text[:cut]
    for at in range(len(text) - 400, len(text) - 100):
        piece = text[:at]
        cut = redactor.safe_cut(piece)
        assert (
            redactor.mask(piece[:cut]).count("a-secret") == 0 or "a-secret-value-xyz" in piece[:cut]
        )


def test_credentials_written_in_commands_are_learned() -> None:
    from runner.redact import literal_credentials

    commands = [
        "PGPASSWORD=inline-pw-12345 psql -c 'select 1'",
        'curl -H "Authorization: Bearer sk-live-abcdef123" -u bob:hunter2-db http://h/',
        'curl -H "Authorization: Bearer $TOKEN" http://h/',
    ]
    learned = literal_credentials(commands)
    assert {"inline-pw-12345", "sk-live-abcdef123", "hunter2-db"} <= learned
    assert not any(value.startswith("$") for value in learned)
    redactor = build_redactor()
    redactor.add_values(learned)
    assert (
        redactor.mask("pw=inline-pw-12345 c2stbGl2ZS1hYmNkZWYxMjM=") == "pw=*** ***M="
    )  # a last partial base64 character stays


def test_masking_json_text_keeps_it_json() -> None:
    import json

    document = {
        "command": 'export DB_PASSWORD="p4ss w0rd" X_TOKEN=abc\\ def; curl -u bob:pw http://h/',
        "stdout_tail": 'declare -x API_KEY="k-1234567"\ntoken=abc\\"x Authorization: Bearer q\\\\z',
    }
    text = json.dumps(document, indent=2)
    masked = PLAIN.mask(text)
    assert masked != text
    assert json.loads(masked)["command"].startswith("export DB_PASSWORD=")
