"""The imperative shell's planning half: find and read tasks, load the inventory and playbooks,
plan and lint. `runner/running.py` is the other half (execute → evidence → write-back) and
`runner/commands.py` turns both into what each CLI command prints and returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.models import CheckResult, Plan, PlannedCheck, TaskDocument
from runner.plan.build import PlanContext, build_plan
from runner.project.settings import Settings, effective_inventory, playbooks_dir_or_packaged

if TYPE_CHECKING:
    from runner.project.inventory import Inventory
    from runner.redact import Redactor


# --------------------------------------------------------------------------- exit codes

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_COULD_NOT_RUN = 3
EXIT_CHECK_DRIFT = 4
EXIT_WRITE_REFUSED = 5
EXIT_EVIDENCE = 6
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def outcome_exit_code(results: Sequence[CheckResult]) -> int:
    statuses = {r.status for r in results}
    if "fail" in statuses:
        return EXIT_FAILED
    if "error" in statuses:
        return EXIT_COULD_NOT_RUN
    return EXIT_OK


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class PlannedTask:
    path: Path
    doc: TaskDocument
    plan: Plan
    inventory: Inventory | None
    notes: tuple[str, ...] = ()


def load_inventory_if_any(settings: Settings) -> Inventory | None:
    from runner.project.inventory import load_inventory

    path = effective_inventory(settings)
    if settings.inventory is None and not path.is_file():
        return None
    return load_inventory(path)


@dataclass(frozen=True, slots=True)
class Planning:
    """What every task of one command is planned with: read once, not once per task."""

    context: PlanContext
    inventory: Inventory | None
    notes: tuple[str, ...]


def planning(settings: Settings) -> Planning:
    """Load the inventory and the Must-Pass playbooks; set up the guard."""
    from runner.bash.guard import mutation_reason
    from runner.project.playbooks import load_playbooks

    inventory = load_inventory_if_any(settings)
    notes: list[str] = []
    playbooks, packaged = playbooks_dir_or_packaged(settings)
    if packaged:
        notes.append(
            f"no playbooks/ folder in the project: using the packaged playbooks ({playbooks})"
        )
    must_pass_dir = playbooks / "must-pass"
    loaded = load_playbooks(must_pass_dir) if must_pass_dir.is_dir() else {}
    read_only_posts = tuple(settings.read_only_posts)

    def guard(command: str) -> str | None:
        return mutation_reason(command, read_only_posts=read_only_posts)

    context = PlanContext(
        default_component=settings.default_component, guard=guard, playbooks=loaded
    )
    if inventory is None:
        notes.append("no inventory: components are shown as written")
    else:
        context = replace(
            context,
            inventory_components=tuple(inventory.components),
            inventory_groups=dict(inventory.groups),
            inventory_vars={name: t.vars for name, t in inventory.components.items()},
        )
    return Planning(context=context, inventory=inventory, notes=tuple(notes))


def resolve(query: str, settings: Settings, *, cwd: Path) -> Any:
    from runner.project.discovery import resolve_task

    return resolve_task(query, dirs=settings.tasks, cwd=cwd)


def plan_task(query: str, settings: Settings, *, cwd: Path, with_lint: bool = False) -> PlannedTask:
    ref = resolve(query, settings, cwd=cwd)
    return plan_document(ref.path, ref.doc, planning(settings), with_lint=with_lint)


def plan_document(
    path: Path, doc: TaskDocument, setup: Planning, *, with_lint: bool = False
) -> PlannedTask:
    plan = build_plan(doc, setup.context)
    if with_lint:
        plan = _with_lint_notes(plan, lint_findings(doc, plan, setup.inventory))
    return PlannedTask(path=path, doc=doc, plan=plan, inventory=setup.inventory, notes=setup.notes)


def lint_findings(doc: TaskDocument, plan: Plan, inventory: Inventory | None) -> list[Any]:
    from runner.lint.task import lint_task

    provided = (
        None
        if inventory is None
        else {name: (*t.env, *t.secrets) for name, t in inventory.components.items()}
    )
    return lint_task(
        doc,
        plan,
        provided_env=provided,
        inventory_components=None if inventory is None else tuple(inventory.components),
    )


def _with_lint_notes(plan: Plan, findings: Sequence[Any]) -> Plan:
    """Attach each finding to the command check it falls in (the nearest one above it)."""
    starts = sorted(
        (c.line, i) for i, c in enumerate(plan.checks) if c.kind in ("command", "setup", "not-run")
    )
    extra: dict[int, list[str]] = {}
    for finding in findings:
        owner = None
        for line, index in starts:
            if line <= finding.line:
                owner = index
            else:
                break
        if owner is not None:
            extra.setdefault(owner, []).append(
                f"lint {finding.level} {finding.rule}: {finding.message}"
            )
    checks = tuple(
        replace(c, notes=c.notes + tuple(extra.get(i, ()))) for i, c in enumerate(plan.checks)
    )
    return replace(plan, checks=checks)


def filter_plan(plan: Plan, *, only: str | None, components: Sequence[str]) -> Plan:
    """--only TEXT / --component C. Setup steps of a kept check's session stay (its variables)."""
    checks: Sequence[PlannedCheck] = plan.checks
    if only:
        needle = only.casefold()

        def matches(check: PlannedCheck) -> bool:
            return any(
                needle in (text or "").casefold()
                for text in (check.id, check.label, check.command, check.must_pass)
            )

        kept_sessions = {c.session for c in checks if c.kind != "setup" and matches(c)}
        checks = [
            c
            for c in checks
            if (c.kind == "setup" and c.session in kept_sessions)
            or (c.kind != "setup" and matches(c))
        ]
    if components:
        wanted = set(components)
        checks = [
            replace(c, components=tuple(x for x in c.components if x in wanted)) for c in checks
        ]
        checks = [c for c in checks if c.components]
    return replace(plan, checks=tuple(checks))


# --------------------------------------------------------------------------- validate


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    only: str | None = None
    components: tuple[str, ...] = ()
    dry_run: bool = False
    no_write: bool = False
    check: bool = False
    json: bool = False
    junit: Path | None = None
    concurrency: int | None = None
    timeout: float | None = None
    allow_mutating: bool = False
    set_status: bool = False
    update_baseline: bool = False
    baseline: Path | None = None


def build_task_redactor(planned: PlannedTask, environ: Mapping[str, str]) -> Redactor:
    from runner.redact import build_redactor

    secret_values: list[str] = []
    if planned.inventory is not None:
        for target in planned.inventory.components.values():
            secret_values.extend(environ[name] for name in target.secrets if name in environ)
    return build_redactor(
        secret_values=secret_values,
        environ=environ,
        commands=[c.command for c in planned.plan.checks],
    )


def task_relpath(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(path.resolve(), cwd.resolve())).as_posix()


def today_for(settings: Settings, started_at: str) -> str:
    """The run's date in the `timezone` setting (UTC by default), for `Last Updated`."""
    moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    return moment.astimezone(_tz(settings.timezone)).date().isoformat()


def _tz(name: str) -> Any:
    if name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
