"""The guard and the redactor through the real CLI (issue 17): "cannot see what runs" is a skip
that `mutating=ok` overrides; a function defined in one check and called in a later one is
judged by its body; `--dry-run` masks what `plan` masks."""

from __future__ import annotations

from tests.e2e.conftest import Project, bash_block, task_markdown


def test_cannot_see_what_runs_is_skipped_unless_mutating_ok(project: Project) -> None:
    (project.root / "check.sh").write_text("echo ran-the-script\n")
    commands = bash_block(
        """
        cat check.sh | sh

        # taskrun: mutating=ok
        cat check.sh | sh
        """
    )
    project.write_task("T-2.md", task_markdown("T-2", component="lo", commands=commands))
    proc = project.run("validate", "T-2", "--no-write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    skipped, ran = project.run_json("T-2")["checks"]
    assert skipped["status"] == "skip"
    assert skipped["reason"] == (
        "cannot see what runs (sh reads a script from cat) (use --allow-mutating or mutating=ok)"
    )
    assert ran["status"] == "pass" and ran["stdout_tail"] == "ran-the-script\n"
    lint = project.run("lint", "T-2")
    assert "the guard cannot see what this validation command runs" in lint.stdout


def test_a_function_from_an_earlier_check_is_judged_where_it_is_called(project: Project) -> None:
    marker = project.root / "keep-me"
    marker.write_text("x")
    commands = bash_block(
        f"""
        tidy() {{ rm -f {marker}; }}

        tidy
        """
    )
    project.write_task("T-3.md", task_markdown("T-3", component="lo", commands=commands))
    proc = project.run("validate", "T-3", "--no-write")
    define, call = project.run_json("T-3")["checks"]
    assert define["status"] == "pass"
    assert call["status"] == "skip" and "deletes files (rm)" in call["reason"], proc.stdout
    assert marker.exists()


def test_dry_run_masks_literal_credentials_like_plan(project: Project) -> None:
    commands = bash_block(
        """
        curl -fsS -H "Authorization: Bearer sk-live-abcdef123456" http://127.0.0.1:9/x
        curl -fsS -u admin:hunter2-pass http://127.0.0.1:9/y
        PGPASSWORD='correct horse battery staple' psql -h db -c 'select 1'
        """
    )
    project.write_task("T-4.md", task_markdown("T-4", component="lo", commands=commands))
    for args in (("validate", "T-4", "--dry-run"), ("plan", "T-4"), ("plan", "T-4", "--json")):
        proc = project.run(*args)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout + proc.stderr
        for secret in ("sk-live-abcdef123456", "hunter2-pass", "horse battery"):
            assert secret not in out, (args, out)
        assert "***" in out


def test_plan_lists_secret_names_whose_values_cannot_be_masked(project: Project) -> None:
    project.write_inventory(
        "components:\n  lo: {host: local, secrets: [SHORT_TOKEN, GOOD_TOKEN]}\n"
    )
    commands = bash_block('test -n "$SHORT_TOKEN" && test -n "$GOOD_TOKEN"')
    project.write_task("T-5.md", task_markdown("T-5", component="lo", commands=commands))
    proc = project.run(
        "plan", "T-5", env={"SHORT_TOKEN": "abc", "GOOD_TOKEN": "long-enough-value-1"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "not maskable: SHORT_TOKEN" in proc.stdout
    assert "GOOD_TOKEN (" not in proc.stdout and "GOOD_TOKEN," not in proc.stdout
