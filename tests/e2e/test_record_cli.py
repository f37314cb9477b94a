"""The record in the task file cannot be rolled back, overwritten or silently bypassed: the
regression reference is the evidence block (item 4), stale runs are not applied without
`--force` (item 5), a person's edit of an owned line during a run is kept (item 6), notes
after a status value survive (item 7), and a hand-edited block says what to do (item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Project,
    bash_block,
    change_log_items,
    evidence_rows,
    finish,
    kill_pids,
    pids_with_argv,
    status_field,
    task_markdown,
    wait_until,
)
from tests.e2e.test_batch import Inbox


def flag_task(project: Project, flag: Path, task_id: str = "K-1", **fields: str) -> Path:
    commands = bash_block(f"# the flag is up\ntest -e {flag}")
    return project.write_task(
        f"{task_id}.md", task_markdown(task_id, component="lo", commands=commands, **fields)
    )


# --------------------------------------------------------------------------- item 4


@pytest.mark.parametrize("unwritten", ["--check", "--no-write"])
def test_a_regression_first_seen_by_an_unwritten_run_is_still_written_and_notified(
    project: Project, unwritten: str
) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag, status="Complete", completion="100%")
    assert project.run("validate", "K-1").returncode == 0
    recorded = project.run_json("K-1")["run_id"]
    written = path.read_bytes()

    flag.unlink()
    seen = project.run("validate", "K-1", unwritten)
    assert seen.returncode == (4 if unwritten == "--check" else 1), seen.stdout + seen.stderr
    assert path.read_bytes() == written  # not written: the reference did not move

    with Inbox() as inbox:
        nightly = project.run("validate", "--all", "--status", "Complete", "--notify", inbox.url)
    assert nightly.returncode == 1, nightly.stdout + nightly.stderr
    assert f"regressed since {recorded}" in nightly.stderr
    item = change_log_items(path.read_text())[-1]
    assert f"regressed since {recorded}" in item and "the flag is up" in item
    assert [post["taskrun"]["previous_run_id"] for post in inbox.posts] == [recorded]
    assert "the flag is up" in inbox.posts[0]["text"]

    # The next unchanged night compares with the run just written: no write, no message.
    settled = path.read_bytes()
    with Inbox() as inbox:
        again = project.run("validate", "--all", "--status", "Complete", "--notify", inbox.url)
    assert again.returncode == 1
    assert path.read_bytes() == settled and inbox.posts == []


# --------------------------------------------------------------------------- item 5


def test_an_older_run_is_not_applied_over_a_newer_record(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    assert project.run("validate", "K-1", "--no-write").returncode == 0  # passing, kept aside
    old_pass = project.run_json("K-1")["run_id"]
    flag.unlink()
    assert project.run("validate", "K-1").returncode == 1
    new_fail = project.run_json("K-1")["run_id"]
    recorded = path.read_bytes()

    refused = project.run("report", "K-1", "--run", old_pass, "--apply")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert f"run {old_pass} is older than run {new_fail}" in refused.stderr
    assert "--force" in refused.stderr and refused.stderr.count("\n") == 1
    assert path.read_bytes() == recorded
    assert status_field(path.read_text(), "Current Status") == "Testing"

    forced = project.run("report", "K-1", "--run", old_pass, "--apply", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    text = path.read_text()
    item = change_log_items(text)[-1]
    assert item.endswith(f"(run {old_pass})")
    assert f"applied with --force although run {old_pass} is older than run {new_fail}" in item
    assert {row["Run"] for row in evidence_rows(text)} == {old_pass}


def test_a_run_of_an_earlier_version_of_the_file_is_not_applied(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    assert project.run("validate", "K-1", "--no-write").returncode == 0
    kept = project.run_json("K-1")["run_id"]
    # A check is added after the run: the kept run never ran it.
    grown = path.read_text().replace(
        "test -e " + str(flag) + "\n```",
        "test -e " + str(flag) + "\n```\n\n" + bash_block("# the disk is mounted\ntest -d /"),
    )
    assert grown != path.read_text()
    path.write_text(grown)

    refused = project.run("report", "K-1", "--apply")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert f"run {kept} was made from an earlier version of the task file" in refused.stderr
    assert "1 check(s) of the file never ran in it: the disk is mounted on lo" in refused.stderr
    assert path.read_text() == grown
    assert status_field(grown, "Current Status") == "Not Started"

    forced = project.run("report", "K-1", "--apply", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    item = change_log_items(path.read_text())[-1]
    assert "applied with --force although" in item and "never ran in it" in item

    # A fresh run of the file as it is now applies without a word.
    assert project.run("validate", "K-1", "--no-write").returncode == 0
    fresh = project.run("report", "K-1", "--apply")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "--force" not in change_log_items(path.read_text())[-1]


# --------------------------------------------------------------------------- item 6


SLEEP_ARGV = ("sleep", "2.0131")


def test_a_person_editing_the_status_line_during_a_run_is_not_overwritten(
    project: Project,
) -> None:
    commands = bash_block(f"# takes a while\n{' '.join(SLEEP_ARGV)}")
    path = project.write_task("K-6.md", task_markdown("K-6", component="lo", commands=commands))
    original = path.read_text()
    blocked = original.replace(
        "- **Current Status**: `Not Started`", "- **Current Status**: `Blocked` (DO NOT CLOSE)"
    )
    assert blocked != original
    process = project.spawn("validate", "K-6")
    try:
        assert wait_until(lambda: bool(pids_with_argv(SLEEP_ARGV)), timeout=15), "not started"
        path.write_text(blocked)
        code, out, err = finish(process, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        kill_pids(pids_with_argv(SLEEP_ARGV))
    assert code == 5, out + err
    assert "Current Status line changed" in err and "DO NOT CLOSE" in err
    assert path.read_text() == blocked  # the person's line, and nothing of ours
    assert project.run_json("K-6")["state"] == "complete"  # the evidence is kept


# --------------------------------------------------------------------------- item 7


def test_notes_after_status_values_are_kept(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    noted = (
        path.read_text()
        .replace("`Not Started`", "`In Progress` (blocked on CAB-123)")
        .replace("- **Completion**: `0%`", "- **Completion**: 60% — waiting on vendor patch")
    )
    path.write_text(noted)
    # The value without its note is what --status selects on.
    proc = project.run("validate", "--all", "--status", "in progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = path.read_text()
    assert "- **Current Status**: `Complete` (blocked on CAB-123)\n" in text
    assert "- **Completion**: 100% — waiting on vendor patch\n" in text


# --------------------------------------------------------------------------- item 9


def test_a_hand_edited_evidence_block_says_what_to_do(project: Project) -> None:
    flag = project.root / "flag"
    flag.touch()
    path = flag_task(project, flag)
    assert project.run("validate", "K-1").returncode == 0
    edited = path.read_text().replace("| pass |", "| pass (checked by Ann) |")
    assert edited != path.read_text()
    path.write_text(edited)

    check = project.run("validate", "K-1", "--check")
    assert check.returncode == 4, check.stdout + check.stderr
    assert "evidence block edited by hand" in check.stderr
    assert "outcome differs" not in check.stderr

    refused = project.run("validate", "K-1")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    run_id = project.run_json("K-1")["run_id"]
    advice = f"taskrun report tasks/K-1.md --run {run_id} --apply --force"
    assert advice in refused.stderr
    assert path.read_text() == edited

    # The advice without --force fails the same way, and says so; with it, the block goes.
    again = project.run("report", "K-1", "--run", run_id, "--apply")
    assert again.returncode == 5 and "--force" in again.stderr
    forced = project.run("report", "tasks/K-1.md", "--run", run_id, "--apply", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    text = path.read_text()
    assert "checked by Ann" not in text
    item = change_log_items(text)[-1]
    assert "replaced a hand-edited evidence block (--force)" in item and run_id in item
    assert project.run("validate", "K-1", "--check").returncode == 0
