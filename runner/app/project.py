"""The project a command works in: its settings, and — read once, on first use — its inventory,
Must-Pass playbooks and guard, plus the clock and environment every stage is given.

Every `runner.app` command module starts from one `Project`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runner.app.requests import ProjectFlags
from runner.bash.guard import mutation_reason
from runner.clock import Clock, clock_from_env, system_clock
from runner.lint.rules import Finding
from runner.lint.task import lint_task
from runner.models import Plan, TaskDocument
from runner.plan.build import PlanContext, build_plan
from runner.project.discovery import TaskRef, resolve_task
from runner.project.inventory import Inventory, load_inventory
from runner.project.playbooks import load_playbooks
from runner.project.settings import (
    Settings,
    effective_inventory,
    load_settings,
    playbooks_dir_or_packaged,
)

__all__ = ["PlannedTask", "Project"]


@dataclass(frozen=True, slots=True)
class PlannedTask:
    path: Path
    doc: TaskDocument
    plan: Plan
    inventory: Inventory | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Planning:
    context: PlanContext
    inventory: Inventory | None
    notes: tuple[str, ...]


class Project:
    """Settings plus what planning needs, loaded once per command (not once per task)."""

    def __init__(
        self,
        settings: Settings,
        *,
        cwd: Path,
        environ: Mapping[str, str],
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.cwd = cwd
        self.environ = environ
        self.clock = clock
        self._planning: _Planning | None = None

    @classmethod
    def open(
        cls,
        flags: ProjectFlags | None = None,
        *,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> Project:
        cwd = cwd if cwd is not None else Path.cwd()
        environ = environ if environ is not None else os.environ
        clock = clock or clock_from_env(environ)
        given = (flags or ProjectFlags()).as_dict()
        settings = load_settings(cwd=cwd, environ=environ, flags=given)
        return cls(settings, cwd=cwd, environ=environ, clock=clock)

    # ------------------------------------------------------------------ planning
    @property
    def inventory(self) -> Inventory | None:
        return self._plan_setup().inventory

    @property
    def notes(self) -> tuple[str, ...]:
        return self._plan_setup().notes

    @property
    def plan_context(self) -> PlanContext:
        return self._plan_setup().context

    def _plan_setup(self) -> _Planning:
        if self._planning is None:
            self._planning = _load_planning(self.settings)
        return self._planning

    def resolve(self, query: str) -> TaskRef:
        return resolve_task(query, dirs=self.settings.tasks, cwd=self.cwd)

    def plan_query(self, query: str, *, with_lint: bool = False) -> PlannedTask:
        ref = self.resolve(query)
        return self.plan(ref.path, ref.doc, with_lint=with_lint)

    def plan(self, path: Path, doc: TaskDocument, *, with_lint: bool = False) -> PlannedTask:
        setup = self._plan_setup()
        plan = build_plan(doc, setup.context)
        if with_lint:
            plan = _with_lint_notes(plan, self.lint_findings(doc, plan))
        return PlannedTask(
            path=path, doc=doc, plan=plan, inventory=setup.inventory, notes=setup.notes
        )

    def lint_findings(self, doc: TaskDocument, plan: Plan) -> list[Finding]:
        inventory = self.inventory
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

    # ------------------------------------------------------------------ paths and dates
    def relpath(self, path: Path) -> str:
        """A task file's path as run.json and reports name it: POSIX, relative to the cwd."""
        try:
            return path.resolve().relative_to(self.cwd.resolve()).as_posix()
        except ValueError:
            return Path(os.path.relpath(path.resolve(), self.cwd.resolve())).as_posix()

    def today(self, started_at: str) -> str:
        """The run's date in the `timezone` setting (UTC by default), for `Last Updated`."""
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        return moment.astimezone(_tz(self.settings.timezone)).date().isoformat()


def _load_planning(settings: Settings) -> _Planning:
    """The inventory, the Must-Pass playbooks and the guard."""
    inventory = _inventory_if_any(settings)
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
            remote_components=tuple(
                name for name, t in inventory.components.items() if not t.is_local
            ),
        )
    return _Planning(context=context, inventory=inventory, notes=tuple(notes))


def _inventory_if_any(settings: Settings) -> Inventory | None:
    path = effective_inventory(settings)
    if settings.inventory is None and not path.is_file():
        return None
    return load_inventory(path)


def _with_lint_notes(plan: Plan, findings: Sequence[Finding]) -> Plan:
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


def _tz(name: str) -> Any:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)
