"""The traps a newcomer met in the first hour (issue 19), each through the real CLI: output
printed once, shell completion, `COLUMNS`, directives, unknown components, `demo --keep`,
the demo's closing sentence and re-run, and `schedule --print` warnings."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.conftest import Project, bash_block, cli_env, task_markdown

DEMO_TIMEOUT_S = 120.0


def _task(project: Project, task_id: str, commands: str, component: str = "lo") -> Path:
    return project.write_task(
        f"{task_id}.md", task_markdown(task_id, component=component, commands=commands)
    )


# --------------------------------------------------------------------------- item 6: output


def test_piped_validate_prints_each_result_once(project: Project) -> None:
    _task(project, "OUT-1", bash_block("# first check\ntrue\n\n# second check\nfalse"))
    proc = project.run("validate", "OUT-1", "--no-write")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("first check") == 1 and proc.stdout.count("second check") == 1
    assert "first check" not in proc.stderr and "second check" not in proc.stderr
    assert proc.stderr == ""  # no progress line per check; the run was far below 10 s


def _run_on_a_terminal(project: Project, *args: str) -> tuple[int, str]:
    """The CLI with stdout and stderr on a pseudo-terminal; everything it wrote, as text."""
    controller, terminal = pty.openpty()
    env = cli_env({"TERM": "xterm", "COLUMNS": "120"})
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the CLI is done
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        os.close(controller)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_on_a_terminal_the_live_view_then_the_table_once(project: Project) -> None:
    _task(project, "OUT-2", bash_block("# slow check\nsleep 1\n\n# quick check\ntrue"))
    code, output = _run_on_a_terminal(project, "validate", "OUT-2", "--no-write")
    assert code == 0, output
    assert "running 1" in output  # the live view showed a running check …
    live_at = output.index("running 1")
    table_at = output.index("slow check")
    assert live_at < table_at  # … before the table
    assert output.count("slow check") == 1 and output.count("quick check") == 1


# --------------------------------------------------------------------------- item 7


def _complete(project: Project, words: str, extra: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for `words` (the last word being completed)."""
    parts = words.split(" ")
    env = {"_TASKRUN_COMPLETE": "complete_bash", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(len(parts) - 1)
    proc = project.run(*(), env={**env, **(extra or {})})
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_completion_offers_task_ids_components_and_statuses(project: Project) -> None:
    project.write_inventory(
        "components:\n  api-gateway: {host: local}\n  llm-01: {host: local}\n"
        "  llm-02: {host: local}\n"
    )
    _task(project, "ENG-001", bash_block("true"), component="llm-01")
    _task(project, "ENG-002", bash_block("true"), component="llm-01")
    project.write_task("other/OPS-9.md", task_markdown("OPS-9", component="lo", commands=""))

    assert _complete(project, "taskrun plan ") == ["ENG-001", "ENG-002", "OPS-9"]
    assert _complete(project, "taskrun validate ENG-00") == ["ENG-001", "ENG-002"]
    assert _complete(project, "taskrun report O") == ["OPS-9"]
    assert _complete(project, "taskrun plan --tasks tasks/other ") == ["OPS-9"]
    assert _complete(project, "taskrun validate --component llm") == ["llm-01", "llm-02"]
    assert _complete(project, "taskrun new --component ") == [
        "api-gateway",
        "llm-01",
        "llm-02",
        "global",
    ]
    statuses = _complete(project, "taskrun validate --all --status ")
    assert statuses[:5] == ["Not Started", "In Progress", "Blocked", "Testing", "Complete"]
    assert _complete(project, "taskrun validate --all --status Te") == ["Testing"]


def test_completion_in_a_folder_that_is_no_project_offers_nothing(tmp_path: Path) -> None:
    broken = Project(tmp_path)
    (tmp_path / "taskrun.yaml").write_text("tasks: [\n")  # a settings file that does not parse
    assert _complete(broken, "taskrun plan ") == []
    assert _complete(broken, "taskrun validate --component ") == []


def test_piped_plan_honours_columns(project: Project) -> None:
    long_command = "echo " + " ".join(f"word{n}" for n in range(40))
    _task(
        project, "WIDE-1", bash_block(f"# a label that is rather long, on purpose\n{long_command}")
    )

    def widest(columns: str | None) -> int:
        env = {"COLUMNS": columns} if columns else {}
        proc = project.run("plan", "WIDE-1", env=env)
        assert proc.returncode == 0, proc.stderr
        table = [line for line in proc.stdout.splitlines() if line[:1] in "┏┃┡│└"]
        return max(len(line) for line in table)

    assert widest("80") <= 80
    assert widest("150") <= 150
    assert 150 < widest(None) <= 200


# --------------------------------------------------------------------------- item 8: directives


def test_a_bare_skip_directive_skips_the_command(project: Project) -> None:
    _task(project, "SK-1", bash_block("# taskrun: skip\nfalse\n\n# runs\ntrue"))
    proc = project.run("validate", "SK-1", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    statuses = [(c["status"], c["reason"]) for c in project.run_json("SK-1")["checks"]]
    assert statuses == [("skip", "skipped by directive"), ("pass", None)]


def test_every_bad_directive_is_reported_with_its_line(project: Project) -> None:
    path = _task(
        project,
        "BAD-1",
        bash_block(
            "# taskrun: timeout=fast\ntrue\n\n# taskrun: expct-exit=1\ntrue\n\n"
            "# taskrun: retries=2\ntrue\n\n# taskrun: name\ntrue"
        ),
    )
    before = path.read_bytes()
    lines = path.read_text().splitlines()
    bad = [n for n, line in enumerate(lines, start=1) if "taskrun:" in line and "=2" not in line]
    assert len(bad) == 3

    proc = project.run("validate", "BAD-1")
    assert proc.returncode == 2
    errors = proc.stderr.splitlines()
    assert [re.search(r"BAD-1\.md\((\d+)\)", e).group(1) for e in errors] == [  # type: ignore[union-attr]
        str(n) for n in bad
    ]
    assert all(e.startswith("taskrun: error: tasks/BAD-1.md(") for e in errors)
    assert "did you mean 'expect-exit'" in proc.stderr
    assert path.read_bytes() == before and not project.run_dirs("BAD-1")

    lint = project.run("lint", "BAD-1", "--json")
    assert lint.returncode == 1
    found = [f["line"] for f in json.loads(lint.stdout)["findings"] if f["rule"] == "bad-input"]
    assert found == bad


def test_an_unknown_component_is_an_input_error_with_a_suggestion(project: Project) -> None:
    project.write_inventory("components:\n  api-gateway: {host: local}\n  lo: {host: local}\n")
    path = _task(project, "UC-1", bash_block("true"), component="api-gatway")
    before = path.read_bytes()
    proc = project.run("validate", "UC-1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    component_line = next(
        n for n, line in enumerate(before.decode().splitlines(), 1) if "**Component**" in line
    )
    assert f"tasks/UC-1.md({component_line}): component 'api-gatway'" in proc.stderr
    assert "did you mean api-gateway?" in proc.stderr
    assert path.read_bytes() == before and not project.run_dirs("UC-1")

    batch = project.run("validate", "--all", "--no-write")  # one typo never stops a batch
    assert batch.returncode == 3, batch.stdout + batch.stderr
    assert "component api-gatway is not in the inventory" in batch.stdout
    assert path.read_bytes() == before

    on = _task(project, "UC-2", bash_block("true", info="bash {on=lo,ghots}"))
    proc = project.run("validate", "UC-2")
    assert proc.returncode == 2 and "'ghots'" in proc.stderr
    assert not project.run_dirs("UC-2") and on.is_file()


def test_without_an_inventory_a_named_component_is_an_input_error(tmp_path: Path) -> None:
    project = Project(tmp_path)
    _task(project, "NI-1", bash_block("true"), component="api-gateway")
    proc = project.run("validate", "NI-1")
    assert proc.returncode == 2
    assert "no inventory" in proc.stderr and "taskrun init" in proc.stderr


# --------------------------------------------------------------------------- item 8: schedule


def test_schedule_print_warns_about_temporary_paths_and_secret_urls(project: Project) -> None:
    hook = "https://hooks.slack.com/services/T0001/B0001/" + "x1" * 12
    proc = project.run("schedule", "--print", "cron", "--", "--notify", hook)
    assert proc.returncode == 0, proc.stderr
    assert "validate --all --notify" in proc.stdout  # printed anyway: a warning, not a refusal
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert any("working directory" in w and "temporary" in w for w in warnings), warnings
    assert any("--notify URL carries a secret" in w and "TASKRUN_NOTIFY" in w for w in warnings)
    assert hook not in proc.stderr  # the warning does not repeat the secret

    plain = project.run(
        "schedule", "--print", "systemd", "--", "--notify", "https://ci.example.com/hooks/taskrun"
    )
    assert plain.returncode == 0
    assert "--notify" not in plain.stderr


# --------------------------------------------------------------------------- items 5, 8: demo


def test_demo_keep_into_a_folder_that_is_not_empty_is_refused(project: Project) -> None:
    before = {p: p.read_bytes() for p in project.files_under(project.root)}
    proc = project.run("demo", "--keep", ".")
    assert proc.returncode == 2
    assert "not empty" in proc.stderr and "playbooks/" in proc.stderr and "tasks/" in proc.stderr
    assert {p: p.read_bytes() for p in project.files_under(project.root)} == before

    a_file = project.root / "note.txt"
    a_file.write_text("mine")
    assert project.run("demo", "--keep", "note.txt").returncode == 2
    assert a_file.read_text() == "mine"


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", "demo", *args],
        cwd=cwd,
        env={**cli_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def test_a_kept_demo_runs_again_against_a_baseline_from_a_quiet_machine(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    first = _demo(tmp_path, "--keep", str(keep))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run_dir = next((keep / "reports" / "ENG-042").iterdir())
    assert f"Evidence: run.json, junit.xml, summary.md and logs/ in {run_dir}" in first.stdout

    # What an idle machine records; a busy one then measures many times that.
    baselines = sorted((keep / "reports" / "baselines").rglob("*.json"))
    assert baselines
    for path in baselines:
        data = json.loads(path.read_text())
        data.update(p50_ms=0.2, p95_ms=0.3)
        path.write_text(json.dumps(data))

    again = _demo(tmp_path, "--keep", str(keep))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    latest = max((keep / "reports" / "ENG-042").iterdir())
    checks = json.loads((latest / "run.json").read_text())["checks"]
    performance = [c for c in checks if c["must_pass"] == "Performance"]
    assert len(performance) == 3
    for check in performance:
        assert check["status"] == "pass", check
        assert "baseline p95 0.3 ms" in check["reason"] and "+1000 ms" in check["reason"]


def test_the_demo_names_where_its_evidence_was(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    match = re.search(r"logs/ were in (/\S+/reports/ENG-042/\S+), removed", proc.stdout)
    assert match, proc.stdout[-500:]
    assert not Path(match.group(1)).exists()
    assert "taskrun demo --keep DIR" in proc.stdout
