"""`schedule --print` warnings: a program or folder under a temporary folder, and a `--notify`
URL that carries a credential (it would sit in a unit file, a crontab and `ps`)."""

from __future__ import annotations

import pytest

from runner.ops.schedule import notify_url, schedule_warnings, secret_in_url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:hunter2@hooks.example.com/x", "user info"),
        ("https://token@hooks.example.com/x", "user info"),
        ("https://hooks.example.com/x?api_key=abc", "'api_key'"),
        ("https://hooks.example.com/x?token=abc&x=1", "'token'"),
        ("https://example.com/hook?sig=abc", "'sig'"),
        ("https://hooks.slack.com/services/T0/B0/abc", "webhook"),
        ("https://discord.com/api/webhooks/1/abc", "webhook"),
        ("https://acme.webhook.office.com/webhookb2/abc", "webhook"),
        ("https://ntfy.example.com/ab12cd34ef56gh78ij90kl12mn", "token-like"),
    ],
)
def test_a_secret_in_a_url_is_found(url: str, why: str) -> None:
    found = secret_in_url(url)
    assert found is not None and why in found


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example.com/hooks/taskrun",
        "http://127.0.0.1:8080/notify?format=json",
        "https://example.com/a-very-long-but-plain-readable-path-name",
        "https://hooks.slack.com.evil.example/services/x",  # not Slack's host: no webhook rule
    ],
)
def test_a_plain_url_is_not_flagged(url: str) -> None:
    assert secret_in_url(url) is None


def test_notify_url_in_either_spelling() -> None:
    assert notify_url(["--status", "Complete", "--notify", "https://x/"]) == "https://x/"
    assert notify_url(["--notify=https://y/"]) == "https://y/"
    assert notify_url(["--status", "Complete"]) is None
    assert notify_url(["--notify"]) is None


def test_warnings_for_temporary_paths_and_secret_urls() -> None:
    warnings = schedule_warnings(
        taskrun_path="/tmp/venv-x/bin/taskrun",
        workdir="/srv/ops",
        args=["--notify", "https://hooks.slack.com/services/T/B/secretsecret"],
        temp_dirs=["/scratch/tmp"],
    )
    assert len(warnings) == 2
    assert "the taskrun program /tmp/venv-x/bin/taskrun is under /tmp" in warnings[0]
    assert "--notify URL carries a secret" in warnings[1]
    assert "secretsecret" not in " ".join(warnings)
    assert schedule_warnings(
        taskrun_path="/opt/taskrun/bin/taskrun",
        workdir="/scratch/tmp/project",
        args=[],
        temp_dirs=["/scratch/tmp/"],
    ) == [
        "the working directory /scratch/tmp/project is under /scratch/tmp/, a temporary "
        "folder: the schedule breaks when it is cleaned (run `taskrun schedule` from the "
        "project's folder)"
    ]
    assert (
        schedule_warnings(
            taskrun_path="/usr/local/bin/taskrun",
            workdir="/tmpdata/project",  # a name that starts like /tmp is not /tmp
            args=["--notify", "https://ci.example.com/hook"],
        )
        == []
    )
