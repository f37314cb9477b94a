"""typer commands: flags → one request → one `runner.app` call → exit code. No logic here."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from runner import __version__
from runner.app.requests import (
    ConfigRequest,
    DemoRequest,
    InitRequest,
    InventoryCheckRequest,
    LintRequest,
    NewRequest,
    PlanRequest,
    ProjectFlags,
    ReportRequest,
    ScheduleRequest,
    ValidateRequest,
)
from runner.errors import TaskrunError

app = typer.Typer(
    name="taskrun",
    help="Turn an engineering task file into evidence: run its checks, keep the reports, "
    "write the result back into the task.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
inventory_app = typer.Typer(help="Inspect the inventory of components.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")

TasksOpt = Annotated[
    list[Path] | None,
    typer.Option("--tasks", help="Folder of task files (repeatable; default tasks/)."),
]
PlaybooksOpt = Annotated[
    Path | None, typer.Option("--playbooks", help="Playbooks folder (default playbooks/).")
]
InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", help="Inventory file (default <playbooks>/inventory.yaml)."),
]
ReportsOpt = Annotated[
    Path | None, typer.Option("--reports", help="Reports folder (default reports/).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"taskrun {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """taskrun: validate engineering task files and keep the evidence."""


def _call(command: str, request: Any) -> None:
    """Run one app command; domain errors become one line on stderr and their exit code.

    The command's module is imported here, on use: the one lazy import, so `--help` and `plan`
    load neither asyncssh nor httpx.
    """
    from runner.console import Console

    console = Console()
    try:
        module = importlib.import_module(f"runner.app.{command}")
        code = module.run(request, console)
    except TaskrunError as exc:
        console.error(str(exc))
        code = exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        code = 130
    raise typer.Exit(code)


def _project(
    tasks: list[Path] | None = None,
    playbooks: Path | None = None,
    inventory: Path | None = None,
    reports: Path | None = None,
) -> ProjectFlags:
    return ProjectFlags(
        tasks=tuple(tasks or ()), playbooks=playbooks, inventory=inventory, reports=reports
    )


def _completion(function: str, incomplete: str, **given: Any) -> list[str]:
    """Values for <Tab> from `runner.app.complete` (loaded on use, like a command)."""
    module = importlib.import_module("runner.app.complete")
    values: list[str] = getattr(module, function)(incomplete, **given)
    return values


def _complete_task(ctx: typer.Context, incomplete: str) -> list[str]:
    return _completion("task_ids", incomplete, tasks=tuple(ctx.params.get("tasks") or ()))


def _complete_component(ctx: typer.Context, incomplete: str) -> list[str]:
    return _completion(
        "component_names",
        incomplete,
        playbooks=ctx.params.get("playbooks"),
        inventory=ctx.params.get("inventory"),
    )


def _complete_status(ctx: typer.Context, incomplete: str) -> list[str]:
    return _completion("statuses", incomplete, tasks=tuple(ctx.params.get("tasks") or ()))


def _reports(
    given: list[str] | None, *, junit: Path | None, prometheus: Path | None
) -> tuple[tuple[str, Path], ...]:
    """`--report NAME=PATH` (repeatable), with `--junit`/`--prometheus` as aliases."""
    chosen: list[tuple[str, Path]] = []
    for item in given or ():
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"expected NAME=PATH, got {item!r}", param_hint="--report")
        chosen.append((name.strip(), Path(path)))
    if junit is not None:
        chosen.append(("junit", junit))
    if prometheus is not None:
        chosen.append(("prometheus", prometheus))
    return tuple(chosen)


@app.command()
def plan(
    task: Annotated[
        str,
        typer.Argument(
            help="Task ID (ENG-001), FOLDER/ID, or a path.", autocompletion=_complete_task
        ),
    ],
    json_out: JsonOpt = False,
    tasks: TasksOpt = None,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
    reports: ReportsOpt = None,
) -> None:
    """Show what would run, where, and why. Runs and writes nothing."""

    _call(
        "plan",
        PlanRequest(
            task=task,
            json=json_out,
            project=_project(tasks, playbooks, inventory, reports),
        ),
    )


@app.command()
def validate(
    task: Annotated[
        list[str] | None,
        typer.Argument(help="Task IDs, FOLDER/IDs or paths.", autocompletion=_complete_task),
    ] = None,
    all_tasks: Annotated[
        bool, typer.Option("--all", help="Every task under the task dirs.")
    ] = False,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="With --all: tasks in this status.", autocompletion=_complete_status
        ),
    ] = None,
    component: Annotated[
        list[str] | None,
        typer.Option(
            "--component",
            help="Only checks on this component.",
            autocompletion=_complete_component,
        ),
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Only checks whose id/label/command has TEXT.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; run nothing.")] = False,
    no_write: Annotated[
        bool, typer.Option("--no-write", help="Keep the evidence; leave the task file alone.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 4 when the outcome differs from the recorded one."),
    ] = False,
    json_out: JsonOpt = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML here.")
    ] = None,
    report: Annotated[
        list[str] | None,
        typer.Option(
            "--report",
            metavar="NAME=PATH",
            help="Write a report: json, junit, markdown, prometheus or github (repeatable).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, help="Targets at once (default 32).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.001, help="Seconds per command (default 60).")
    ] = None,
    allow_mutating: Annotated[
        bool, typer.Option("--allow-mutating", help="Run state-changing commands too.")
    ] = False,
    set_status: Annotated[
        bool, typer.Option("--set-status", help="Let a run move a task out of Complete.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="With --all: Last Updated on or after."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="Tasks at once (hosts always run concurrently).")
    ] = 1,
    prometheus: Annotated[
        Path | None,
        typer.Option("--prometheus", help="Write a node_exporter textfile here (atomically)."),
    ] = None,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="URL",
            envvar="TASKRUN_NOTIFY",
            help="POST a JSON summary here when an outcome changes.",
        ),
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Record new performance baselines.")
    ] = False,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Compare performance with this baseline file."),
    ] = None,
    pre: Annotated[
        bool,
        typer.Option(
            "--pre", help="Run the pre-flight checks only (never written into the task file)."
        ),
    ] = False,
    tasks: TasksOpt = None,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
    reports: ReportsOpt = None,
) -> None:
    """Run a task's checks, keep the evidence and write the result back."""

    _call(
        "validate",
        ValidateRequest(
            tasks=tuple(task or ()),
            all_tasks=all_tasks,
            statuses=tuple(status or ()),
            since=since,
            only=only,
            components=tuple(component or ()),
            dry_run=dry_run,
            no_write=no_write,
            check=check,
            json=json_out,
            reports=_reports(report, junit=junit, prometheus=prometheus),
            concurrency=concurrency,
            timeout=timeout,
            allow_mutating=allow_mutating,
            set_status=set_status,
            update_baseline=update_baseline,
            baseline=baseline,
            jobs=jobs,
            notify=notify,
            pre=pre,
            project=_project(tasks, playbooks, inventory, reports),
        ),
    )


@app.command()
def lint(
    task: Annotated[
        list[str] | None,
        typer.Argument(help="Task IDs, FOLDER/IDs or paths.", autocompletion=_complete_task),
    ] = None,
    all_tasks: Annotated[
        bool, typer.Option("--all", help="Every task under the task dirs.")
    ] = False,
    json_out: JsonOpt = False,
    tasks: TasksOpt = None,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
) -> None:
    """Find checks that cannot fail, mean the opposite, or change state."""

    _call(
        "lint",
        LintRequest(
            tasks=tuple(task or ()),
            all_tasks=all_tasks,
            json=json_out,
            project=_project(tasks, playbooks, inventory),
        ),
    )


@app.command()
def report(
    task: Annotated[
        str | None,
        typer.Argument(help="Task ID, FOLDER/ID or path.", autocompletion=_complete_task),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="A RUN-ID (default: the latest).")
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="One line per run.")] = False,
    json_out: JsonOpt = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write this run's evidence into the task file.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --apply: apply an older or outdated run, or over a hand-edited evidence "
            "block (the Change Log says so).",
        ),
    ] = False,
    prune: Annotated[
        float | None, typer.Option("--prune", metavar="DAYS", help="Remove runs older than DAYS.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --prune: list what would go; remove nothing.")
    ] = False,
    tasks: TasksOpt = None,
    reports: ReportsOpt = None,
) -> None:
    """Show the evidence of a run, apply it, or prune old runs."""

    _call(
        "report",
        ReportRequest(
            task=task,
            run_id=run,
            history=history,
            json=json_out,
            apply=apply,
            force=force,
            prune_days=prune,
            dry_run=dry_run,
            project=_project(tasks, reports=reports),
        ),
    )


@app.command()
def config(
    tasks: TasksOpt = None,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
    reports: ReportsOpt = None,
) -> None:
    """Show the effective settings and where each came from."""

    _call("config", ConfigRequest(project=_project(tasks, playbooks, inventory, reports)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def schedule(
    ctx: typer.Context,
    print_: Annotated[
        str,
        typer.Option(
            "--print",
            metavar="systemd|systemd-service|systemd-timer|cron",
            help="What to print.",
        ),
    ] = "systemd",
    on_calendar: Annotated[
        str, typer.Option("--on-calendar", help="systemd OnCalendar= (default daily).")
    ] = "daily",
    cron: Annotated[
        str, typer.Option("--cron", help="cron schedule 'MIN HOUR DOM MON DOW'.")
    ] = "17 3 * * *",
    user: Annotated[str | None, typer.Option("--user", help="systemd User=.")] = None,
    env_file: Annotated[
        str | None, typer.Option("--env-file", help="Environment file with the secrets.")
    ] = None,
    log_file: Annotated[
        str | None, typer.Option("--log-file", help="cron: append output here.")
    ] = None,
) -> None:
    """Print a systemd service + timer (or a crontab line) running `validate --all` nightly.

    Arguments after `--` are passed to `taskrun validate --all` (default: --status Complete).
    """

    _call(
        "schedule",
        ScheduleRequest(
            what=print_,
            args=tuple(ctx.args),
            on_calendar=on_calendar,
            cron=cron,
            user=user,
            env_file=env_file,
            log_file=log_file,
        ),
    )


@app.command()
def demo(
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Keep the sandbox project (task, reports) in this folder."),
    ] = None,
) -> None:
    """Run the whole job in a sandbox on this machine: SSH hosts, a gateway, Ollama stand-ins."""

    _call("demo", DemoRequest(keep=keep))


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="The project folder (default: this one; made if missing).")
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that are already there.")
    ] = False,
) -> None:
    """Start a project: taskrun.yaml, playbooks/ (inventory, Must-Pass playbooks), tasks/."""

    _call("init", InitRequest(directory=directory, force=force))


@app.command()
def new(
    title: Annotated[str, typer.Option("--title", help="The task's title.")],
    component: Annotated[
        list[str],
        typer.Option(
            "--component",
            help="Where the task runs: an inventory component or global (repeatable).",
            autocompletion=_complete_component,
        ),
    ],
    task_id: Annotated[
        str | None, typer.Option("--id", help="Task ID (default: the next free ENG-NNN).")
    ] = None,
    tasks: TasksOpt = None,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
) -> None:
    """Write a new task from the team's template into the tasks folder."""

    _call(
        "new",
        NewRequest(
            title=title,
            components=tuple(component),
            task_id=task_id,
            project=_project(tasks, playbooks, inventory),
        ),
    )


@inventory_app.command("check")
def inventory_check(
    accept_new: Annotated[
        bool, typer.Option("--accept-new", help="Record first-seen host keys in known_hosts.")
    ] = False,
    json_out: JsonOpt = False,
    playbooks: PlaybooksOpt = None,
    inventory: InventoryOpt = None,
) -> None:
    """Reachability, authentication, host key and round-trip time of every component."""

    _call(
        "inventory",
        InventoryCheckRequest(
            accept_new=accept_new,
            json=json_out,
            project=_project(playbooks=playbooks, inventory=inventory),
        ),
    )


def main() -> None:
    app(prog_name="taskrun")


if __name__ == "__main__":  # pragma: no cover
    main()
