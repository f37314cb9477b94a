"""The redaction self-test (issue 17 item 6): canaries of every kind are planted, a task runs over
SSH against a real sshd with every output taskrun has — JSON on stdout, JUnit, Prometheus,
Markdown, the GitHub step summary and annotations, `--notify` to a local receiver, write-back
into the task file — and every byte written or printed is searched: no canary, in no form.

The canaries: an inventory secret; a runner variable named like a secret (`X_TOKEN`, exported
through the inventory's `env`, not `secrets`); a value only the host has; a Bearer token and an
inline assignment written in the commands; encoded forms (base64 at every alignment,
URL-encoded, JSON-escaped); a secret that is a prefix of another; a secret across the 64 KiB
boundary of a long line.
"""

# ruff: noqa: E501 (the task's commands are one line each, as a person writes them)

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

import pytest

from tests.e2e.conftest import Project, bash_block, task_markdown
from tests.fleet import Fleet, require_sshd, start_fleet

INVENTORY_SECRET = "canary-inv-7Qx2Wm"
NESTED_LONGER = INVENTORY_SECRET + "/tail+K9&z=1"  # the inventory secret is its prefix
X_TOKEN = "canary-x-token-4Fd8Rt"
HOST_ONLY = "canary-host-only-Z3m1Vb"
BEARER = "sk-canary-bearer-9Lk2Pq"
INLINE = "canary-inline-pw-Ab3Yu"

RUNNER_CANARIES = {
    "inventory secret": INVENTORY_SECRET,
    "nested longer secret": NESTED_LONGER,
    "X_TOKEN (named like a secret)": X_TOKEN,
    "Bearer literal": BEARER,
    "inline assignment": INLINE,
}

COMMANDS = bash_block(
    f"""
    # prints secrets by name
    printenv DB_PASSWORD API_KEY X_TOKEN; env | grep -E '^(DB_PASSWORD|API_KEY|X_TOKEN)='; declare -p DB_PASSWORD X_TOKEN; false

    # a literal bearer token
    echo "Authorization: Bearer {BEARER}"; echo "token was {BEARER}"; false

    # an inline assignment
    PGPASSWORD={INLINE} bash -c 'echo "pw=$PGPASSWORD"'; false

    # encoded forms
    for v in "$DB_PASSWORD" "$API_KEY" "$X_TOKEN"; do printf %s "$v" | base64; printf 'u:%s' "$v" | base64 -w0; echo; printf 'ab%s' "$v" | base64 -w0; echo; python3 -c 'import sys, urllib.parse, json; v = sys.argv[1]; print(urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v), json.dumps(v))' "$v"; done; false

    # a secret across the 64 KiB boundary
    python3 -c 'import os; print("x" * (65536 - 7) + os.environ["DB_PASSWORD"] + "y" * 100)'; false

    # terminal escapes and workflow commands in output
    printf '::error::forged\\n\\033[31m%s\\033[0m\\n' "$X_TOKEN"; false

    # a value only the host has
    printenv HOST_ONLY_API_TOKEN; false
    """
)


def forms(value: str) -> set[str]:
    """What a leak of `value` could look like in bytes taskrun writes."""
    found = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    data = value.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + data).decode()
            fragment = encoded[-(-offset * 8 // 6) : (offset + len(data)) * 8 // 6]
            found.add(fragment)
    return {form for form in found if len(form) >= 8}


@dataclass
class Received:
    bodies: list[bytes] = field(default_factory=list)


@dataclass
class SelfTestRun:
    returncode: int
    outputs: dict[str, bytes]  # where → bytes (stdout, stderr, every file written)
    notifications: list[bytes]


@pytest.fixture(scope="module")
def canary_fleet() -> Iterator[Fleet]:
    """One sshd host whose sessions carry a secret-named variable the runner never had."""
    require_sshd()
    fleet = start_fleet(1, set_env={"HOST_ONLY_API_TOKEN": HOST_ONLY})
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.bodies.append(self.rfile.read(length))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def selftest(
    tmp_path_factory: pytest.TempPathFactory,
    canary_fleet: Fleet,
    receiver: tuple[str, Received],
) -> SelfTestRun:
    root = tmp_path_factory.mktemp("selftest") / "project"
    (root / "tasks").mkdir(parents=True)
    project = Project(root)
    host = canary_fleet.hosts[0]
    project.write_inventory(
        canary_fleet.inventory_yaml().replace(
            f"  {host.name}: {{host: {host.address}}}",
            f"  {host.name}: {{host: {host.address}, env: [X_TOKEN], "
            "secrets: [DB_PASSWORD, API_KEY]}",
        )
    )
    task = project.write_task(
        "SEC-1.md", task_markdown("SEC-1", component=host.name, commands=COMMANDS)
    )
    written_by_a_person = task.read_text().splitlines()
    out = root / "out"
    out.mkdir()
    summary = out / "step-summary.md"
    url, received = receiver
    proc = project.run(
        "validate",
        "SEC-1",
        "--json",
        "--junit",
        str(out / "junit.xml"),
        "--prometheus",
        str(out / "taskrun.prom"),
        "--report",
        f"markdown={out / 'report.md'}",
        "--report",
        f"github={out / 'github.md'}",
        "--notify",
        url,
        env={
            "DB_PASSWORD": INVENTORY_SECRET,
            "API_KEY": NESTED_LONGER,
            "X_TOKEN": X_TOKEN,
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(root),
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        timeout=120,
    )
    outputs = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        outputs[str(path.relative_to(root))] = path.read_bytes()
    # The task file's own lines hold the commands as the person wrote them (a literal Bearer
    # token included) and are never rewritten: what taskrun wrote is every other line.
    added = [line for line in task.read_text().splitlines() if line not in written_by_a_person]
    outputs["tasks/SEC-1.md (lines taskrun wrote)"] = "\n".join(added).encode()
    del outputs["tasks/SEC-1.md"]
    return SelfTestRun(proc.returncode, outputs, list(received.bodies))


def _hits(run: SelfTestRun, canaries: dict[str, str]) -> list[str]:
    places = {**run.outputs, **{f"notification {i}": b for i, b in enumerate(run.notifications)}}
    hits = []
    for kind, value in canaries.items():
        for form in forms(value):
            for where, data in places.items():
                if form.encode() in data:
                    hits.append(f"{kind} as {form!r} in {where}")
    return hits


def test_the_run_really_happened_with_every_output(selftest: SelfTestRun) -> None:
    assert selftest.returncode == 1, selftest.outputs["stderr"].decode()[-3000:]
    stdout = selftest.outputs["stdout"].decode()
    run, _ = json.JSONDecoder().raw_decode(stdout, stdout.index("\n{") + 1)
    statuses = [check["status"] for check in run["checks"]]
    assert statuses == ["fail"] * 7, run["checks"]
    for expected in (
        "out/junit.xml",
        "out/taskrun.prom",
        "out/report.md",
        "out/github.md",
        "out/step-summary.md",
    ):
        assert expected in selftest.outputs, sorted(selftest.outputs)
    assert any(name.endswith(".stdout") for name in selftest.outputs)  # the full logs
    assert b"::error file=tasks/SEC-1.md" in selftest.outputs["stdout"]  # annotations
    written = selftest.outputs["tasks/SEC-1.md (lines taskrun wrote)"]
    assert b"<!-- taskrun:evidence -->" in written  # write-back
    assert selftest.notifications  # a first run with failures notifies
    # the canaries did reach the host and come back as output (masked): the test can fail
    assert b"***" in selftest.outputs["stdout"]
    assert sum(data.count(b"***") for data in selftest.outputs.values()) > 50


def test_no_runner_side_canary_in_any_byte_written_or_printed(selftest: SelfTestRun) -> None:
    assert _hits(selftest, RUNNER_CANARIES) == []


def test_output_cannot_issue_workflow_commands(selftest: SelfTestRun) -> None:
    for where in ("stdout", "stderr"):
        lines = selftest.outputs[where].decode().splitlines()
        commands = [line for line in lines if line.lstrip().startswith("::")]
        ours = [line for line in commands if line.startswith("::error file=tasks/SEC-1.md,")]
        assert commands == ours, where  # only taskrun's own annotations
        assert len(ours) == (7 if where == "stdout" else 0)
        assert "\x1b" not in selftest.outputs[where].decode()


def test_no_host_only_canary_in_any_byte_written_or_printed(selftest: SelfTestRun) -> None:
    assert _hits(selftest, {"host-only value": HOST_ONLY}) == []


def test_the_host_only_canary_really_reached_the_output(selftest: SelfTestRun) -> None:
    """Guards the test above: the host printed its own value (masked or not), so that test
    searches for something that was really there; the runner never had it."""
    assert os.environ.get("HOST_ONLY_API_TOKEN") is None
    stdout = selftest.outputs["stdout"].decode()
    run, _ = json.JSONDecoder().raw_decode(stdout, stdout.index("\n{") + 1)
    host_only = run["checks"][-1]
    assert host_only["label"] == "a value only the host has"
    assert host_only["stdout_tail"].strip() in (HOST_ONLY, "***")
