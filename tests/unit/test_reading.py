"""What a command means to a reader (runner/bash/reading.py): placeholders, decorative
captions, commands that never end (issue 18 items 7-9)."""

from __future__ import annotations

import pytest

from runner.bash.reading import is_decorative, never_ends, placeholders
from runner.evaluate.command import DEFAULT_FAILURE_MARKERS

FILLED = {"gateway_port"}


def found(command: str) -> list[str]:
    return [p.text for p in placeholders(command, filled=FILLED.__contains__)]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("! journalctl -u <service> --since '15 minutes ago' --no-pager", ["<service>"]),
        ("ssh [host] curl -fsS http://x/health", ["[host]"]),
        ('curl -H "Authorization: Bearer YOUR_API_KEY" http://x', ["YOUR_API_KEY"]),
        ("curl http://127.0.0.1:{{gateway_port}}/health", []),
        ('curl -H "Bearer {{rag_key}}" http://127.0.0.1:{{gateway_port}}/', ["{{rag_key}}"]),
        ('curl "http://<host>:8080/health"', ["<host>"]),
        ("kubectl -n <namespace> logs <pod-name>", ["<namespace>", "<pod-name>"]),
        # not placeholders
        ('[ "$(stat -c %a /etc/x)" = 600 ]', []),
        ("cmd 2>/dev/null >/dev/null < input.txt", []),
        ("curl -s -o /dev/null -w '%{http_code}' http://x", []),
        ("echo ${HOME} $PATH", []),
        ("curl -s http://x | grep -q '<title>Grafana'", []),
        ('curl -s http://x | grep -q "<title>Grafana</title>"', []),
        ('echo "✅ Rollback plan: git checkout <prev-commit>"', []),
        ("ls /dev/sd[ab] ${arr[@]} [[ -d / ]]", []),
        ("cat <<EOF\nline\nEOF", []),
        ('read -r -p "Continue? [y/N] " answer', []),
    ],
)
def test_placeholders(command: str, expected: list[str]) -> None:
    assert found(command) == expected


@pytest.mark.parametrize(
    "command",
    [
        'echo ""',
        "echo",
        'echo "=== Ollama unit ==="',
        'echo "1. Unit file:"',
        "echo '--- Test Execution ---'",
        "printf '%s\\n' '-----'",
        'echo -e "\\n== done =="',
    ],
)
def test_decorative_captions(command: str) -> None:
    assert is_decorative(command, DEFAULT_FAILURE_MARKERS)


@pytest.mark.parametrize(
    "command",
    [
        'echo "Listening sockets: $(ss -ltn | wc -l)"',
        'echo "$GREETING world"',
        "echo `date`",
        'echo "x" > /tmp/file',
        'echo "a" | grep -q a',
        'echo "ok" && false',
        'echo "FAIL: the file is missing"',  # prints a failure marker: it is a (failing) check
        'echo "❌ broken"',
        "ls",
        "if true; then echo a; fi",
    ],
)
def test_not_decorative(command: str) -> None:
    assert not is_decorative(command, DEFAULT_FAILURE_MARKERS)


@pytest.mark.parametrize(
    "command",
    [
        "kubectl -n rag get pods -l app=x -w",
        "kubectl get pods --watch",
        "kubectl -n rag logs deployment/x -f | grep --line-buffered chunk",
        "watch -n 5 'redis-cli llen q'",
        "journalctl -u k3s -f",
        "sudo journalctl -fu k3s",
        "tail -f /var/log/nginx/access.log | grep x",
        "tail -F /var/log/x",
        "docker logs --follow web",
        "while true; do curl -fsS http://x; sleep 2; done",
        "while :; do date; done",
        'read -r -p "Did it work? [y/N] " answer',
        "open https://grafana.example/d/x",
        "xdg-open https://example.invalid",
        "kinit svc@EXAMPLE.ORG",
        "ping 10.0.0.1",
        "top",
        "less /var/log/syslog",
        "sleep infinity",
    ],
)
def test_never_ends(command: str) -> None:
    assert never_ends(command)


@pytest.mark.parametrize(
    "command",
    [
        "kubectl -n rag rollout status deployment/x --timeout=180s",
        "kubectl apply -f deploy.yaml",
        "timeout 10 tail -f /var/log/x | grep -m1 y",
        "sudo timeout -s KILL 5 journalctl -f",
        "journalctl -u k3s -n 50 --no-pager",
        "tail -n 200 /var/log/x",
        "ping -c 3 10.0.0.1",
        "top -bn1",
        "kinit -k -t /etc/krb5.keytab host/x",
        "some-cmd | while read -r line; do echo $line; done",
        "read -r value < /etc/hostname",
        "read -t 5 answer",
        "while true; do test -f /tmp/x && break; sleep 1; done",
        "grep -f patterns.txt file",
    ],
)
def test_ends_on_its_own(command: str) -> None:
    assert never_ends(command) is None
