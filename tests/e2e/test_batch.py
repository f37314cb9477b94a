"""`taskrun validate --all`: one exit code, one JSON document, one JUnit file; regressions and
recoveries between nightly runs, Prometheus textfile, notifications only on a change."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Project,
    bash_block,
    change_log_items,
    closed_port,
    status_field,
    task_markdown,
)
from tests.fleet import Fleet


class Inbox:
    """A local webhook: records every POST body; answers 200."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                inbox.posts.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Inbox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with Inbox() as started:
        yield started


REMOTE = "\n\n".join(
    [
        bash_block('# host1 answers\necho "on $FLEET_HOST"'),
        bash_block('# host2 answers\necho "on $FLEET_HOST"', info="bash {on=host2}"),
    ]
)


@pytest.fixture
def batch_project(project: Project, e2e_fleet: Fleet) -> Project:
    project.write_inventory(e2e_fleet.inventory_yaml() + "  lo: {host: local}\n")
    project.write_task(
        "remote/B-1.md",
        task_markdown(
            "B-1", component="host1", commands=REMOTE, status="Complete", completion="100%"
        ),
    )
    project.write_task(
        "B-2.md",
        task_markdown(
            "B-2",
            component="lo",
            commands=bash_block("# local truth\ntrue"),
            status="Complete",
            completion="100%",
        ),
    )
    project.write_task(
        "B-3.md",
        task_markdown("B-3", component="lo", commands=bash_block("# not yet\ntrue")),
    )
    return project


def task_bytes(project: Project) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.tasks.rglob("*.md"))}


def test_all_complete_gives_one_code_one_json_one_junit(batch_project: Project) -> None:
    junit = batch_project.root / "junit.xml"
    proc = batch_project.run(
        "validate", "--all", "--status", "Complete", "--json", "--junit", str(junit)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "taskrun.batch/1"
    assert sorted(run["task"]["id"] for run in document["runs"]) == ["B-1", "B-2"]
    assert all(run["schema"] == "taskrun.run/1" for run in document["runs"])
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 2
    assert sum(len(s.findall("testcase")) for s in suites) == 3
    assert batch_project.run_dirs("B-3") == []  # Not Started: not selected


def prometheus_samples(path: Path) -> dict[tuple[str, str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.name == "taskrun_check_status":
                labels = sample.labels
                found[(labels["task"], labels["check"], labels["component"])] = sample.value
    return found


def test_a_nightly_timer_reports_regressions_and_recoveries(
    batch_project: Project, e2e_fleet: Fleet, inbox: Inbox
) -> None:
    prom = batch_project.root / "taskrun.prom"
    args = (
        "validate",
        "--all",
        "--status",
        "Complete",
        "--prometheus",
        str(prom),
        "--notify",
        inbox.url,
    )
    b1 = batch_project.tasks / "remote" / "B-1.md"

    first = batch_project.run(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    samples = prometheus_samples(prom)
    assert {task for task, _, _ in samples} == {"B-1", "B-2"}
    assert {component for _, _, component in samples} == {"host1", "host2", "lo"}
    assert set(samples.values()) == {1.0}  # 1: pass
    posts_after_first = len(inbox.posts)

    # An unchanged outcome: no byte of any task file moves, nobody is notified.
    settled = task_bytes(batch_project)
    second = batch_project.run(*args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert task_bytes(batch_project) == settled
    assert len(inbox.posts) == posts_after_first
    # The unchanged second run was not written: the task file still records the first run,
    # and that record is what the next run is compared with.
    recorded_run = batch_project.run_json("B-1", 0)["run_id"]
    assert batch_project.run_json("B-1", 1)["run_id"] != recorded_run

    # host2 breaks (its port now refuses): a regression, named, recorded, notified.
    healthy = batch_project.inventory.read_text()
    host2 = e2e_fleet.hosts[1]
    broken = healthy.replace(
        f"  host2: {{host: {host2.address}}}",
        f"  host2: {{host: {host2.address}, port: {closed_port()}}}",
    )
    assert broken != healthy
    batch_project.inventory.write_text(broken)
    third = batch_project.run(*args)
    assert third.returncode == 3, third.stdout + third.stderr
    output = third.stdout + third.stderr
    assert f"regressed since {recorded_run}" in output
    assert "host2 answers" in output
    b1_text = b1.read_text()
    regression_item = change_log_items(b1_text)[-1]
    assert "host2 answers" in regression_item and recorded_run in regression_item
    assert status_field(b1_text, "Current Status") == "Complete"  # no --set-status
    assert task_bytes(batch_project)["B-2.md"] == settled["B-2.md"]  # B-2 did not change
    assert len(inbox.posts) == posts_after_first + 1
    assert "host2 answers" in inbox.posts[-1]["text"]
    host2_status = {k: v for k, v in prometheus_samples(prom).items() if k[2] == "host2"}
    assert list(host2_status.values()) == [-1.0]  # -1: could not run

    # host2 is fixed: a recovery, recorded and notified once.
    batch_project.inventory.write_text(healthy)
    fourth = batch_project.run(*args)
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert "recovered" in fourth.stdout + fourth.stderr
    recovery_item = change_log_items(b1.read_text())[-1]
    assert "recovered" in recovery_item and "host2 answers" in recovery_item
    assert len(inbox.posts) == posts_after_first + 2
    assert "recovered" in inbox.posts[-1]["text"]
