"""The project a command works in: its settings, and — read once, on first use — its inventory,
Must-Pass playbooks and guard, plus the clock and environment every stage is given.

Every `runner.app` command module starts from one `Project`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runner.app.requests import ProjectFlags
from runner.bash.guard import mutation_reason
from runner.clock import Clock, clock_from_env, system_clock
from runner.errors import InputError, InputErrors
from runner.lint.rules import Finding
from runner.lint.task import lint_task
from runner.models import Plan, TaskDocument
from runner.plan.build import PlanContext, build_plan
from runner.plan.directive_problems import directive_problems
from runner.project.components import LOCAL, Components
from runner.project.discovery import TaskRef, display_path, resolve_task
from runner.project.inventory import Inventory, load_inventory
from runner.project.playbooks import Playbook, load_playbooks
from runner.project.settings import (
    PACKAGED_PLAYBOOKS,
    Settings,
    effective_inventory,
    load_settings,
    playbooks_dir_or_packaged,
)
from runner.redact import (
    Redactor,
    build_redactor,
    is_secret_name,
    literal_credentials,
    secret_variable_names,
    unmaskable_names,
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
        self._redactor: Redactor | None = None

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
        return resolve_task(
            query,
            dirs=self.settings.tasks,
            cwd=self.cwd,
            validation_sections=self.settings.validation_sections,
        )

    def plan_query(self, query: str, *, with_lint: bool = False) -> PlannedTask:
        ref = self.resolve(query)
        return self.plan(ref.path, ref.doc, with_lint=with_lint)

    def plan(self, path: Path, doc: TaskDocument, *, with_lint: bool = False) -> PlannedTask:
        setup = self._plan_setup()
        plan = _build_or_report_all(doc, setup.context)
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
            failure_markers=self.settings.failure_markers,
        )

    # ------------------------------------------------------------------ secrets
    @property
    def redactor(self) -> Redactor:
        """The one redactor of this command: the inventory's `secrets` and every secret-named
        variable of the runner's environment (plan, dry-run, output, reports, task file,
        notifications). A run adds what hosts report (`Redactor.add_values`)."""
        if self._redactor is None:
            secret_values = [
                self.environ[name] for name in self._secret_names() if self.environ.get(name)
            ]
            self._redactor = build_redactor(secret_values=secret_values, environ=self.environ)
        return self._redactor

    def learn_commands(self, plans: Iterable[Plan]) -> None:
        """Credentials written literally in the planned commands are masked everywhere too."""
        commands = (check.command for plan in plans for check in plan.checks)
        self.redactor.add_values(literal_credentials(commands))

    def _secret_names(self) -> list[str]:
        inventory = self.inventory
        if inventory is None:
            return []
        return [name for target in inventory.components.values() for name in target.secrets]

    def unmaskable_note(self, plan: Plan) -> str | None:
        """Which secrets this task touches have values too short (or a boolean or a number)
        to mask: they would show in output, so `plan` says so."""
        names = set(self._secret_names())
        inventory = self.inventory
        if inventory is not None:
            names |= {n for t in inventory.components.values() for n in t.env if is_secret_name(n)}
        names |= secret_variable_names(c.command for c in plan.checks)
        shown = unmaskable_names(names, self.environ)
        if not shown:
            return None
        return (
            f"not maskable: {', '.join(shown)} (values shorter than 8 characters, booleans and "
            "numbers are not masked; they show in output)"
        )

    def require_known_components(self, path: Path, doc: TaskDocument, plan: Plan) -> None:
        """Before anything runs: a component the inventory does not know is an input error
        (with the closest known name), not one `error` per check after the run."""
        inventory = self.inventory
        resolver = inventory.resolver if inventory is not None else Components.of((), {})
        for check in plan.checks:
            if check.kind not in ("command", "setup", "http", "pre"):
                continue
            for name in check.components:
                # what `validate` can reach: an inventory component, or this machine
                if name == LOCAL or (inventory is not None and name in inventory.components):
                    continue
                from_field = name in doc.components and doc.component_line is not None
                raise InputError(
                    _unknown_component_message(name, resolver, inventory, self.cwd),
                    path=self.relpath(path),
                    line=(doc.component_line or 0) + 1 if from_field else check.line,
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
    loaded, notes = _must_pass_playbooks(settings)
    read_only_posts = tuple(settings.read_only_posts)

    def guard(command: str, *, functions: Mapping[str, str] | None = None) -> str | None:
        return mutation_reason(command, read_only_posts=read_only_posts, functions=functions)

    context = PlanContext(
        default_component=settings.default_component,
        guard=guard,
        playbooks=loaded,
        failure_markers=tuple(settings.failure_markers),
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


def _unknown_component_message(
    name: str, resolver: Components, inventory: Inventory | None, cwd: Path
) -> str:
    if inventory is None:
        return (
            f"component {name!r}: there is no inventory to find it in "
            "(write playbooks/inventory.yaml, or start a project with `taskrun init`)"
        )
    where = display_path(Path(inventory.path or "inventory"), cwd)
    hint = resolver.suggest(name)
    did_you_mean = f"; did you mean {hint}?" if hint else ""
    known = ", ".join(resolver.known())
    return f"component {name!r} is not in {where}{did_you_mean} (known: {known})"


def _build_or_report_all(doc: TaskDocument, context: PlanContext) -> Plan:
    """The plan; when a directive stops it, every bad directive of the file is reported."""
    try:
        return build_plan(doc, context)
    except InputError as first:
        problems = directive_problems(doc)
        if len(problems) > 1 and any(p.line == first.line for p in problems):
            raise InputErrors(problems) from None
        raise


def _must_pass_playbooks(settings: Settings) -> tuple[dict[str, Playbook], list[str]]:
    """The project's Must-Pass playbooks, completed by the packaged ones it lacks: an item
    is `manual` only when no playbook for it exists anywhere. The plan notes which apply."""
    playbooks, packaged = playbooks_dir_or_packaged(settings)
    loaded = load_playbooks(playbooks / "must-pass")
    if packaged:
        note = f"no playbooks/ folder in the project: using the packaged playbooks ({playbooks})"
        return loaded, [note]
    shipped_dir = PACKAGED_PLAYBOOKS / "must-pass"
    shipped = load_playbooks(shipped_dir)
    missing = [slug for slug in shipped if slug not in loaded]
    if not missing:
        return loaded, []
    loaded.update((slug, shipped[slug]) for slug in missing)
    where = display_path(playbooks / "must-pass", settings.cwd or Path.cwd())
    names = ", ".join(f"{slug}.yaml" for slug in missing)
    verb = "ones apply" if len(missing) > 1 else "one applies"
    return loaded, [f"{where}/ has no {names}: the packaged {verb} ({shipped_dir})"]


def _inventory_if_any(settings: Settings) -> Inventory | None:
    path = effective_inventory(settings)
    if settings.inventory is None and not path.is_file():
        return None
    return load_inventory(path)


def _with_lint_notes(plan: Plan, findings: Sequence[Finding]) -> Plan:
    """Attach each finding to the command check it falls in (the nearest one above it)."""
    starts = sorted(
        (c.line, i)
        for i, c in enumerate(plan.checks)
        if c.kind in ("command", "setup", "not-run", "pre", "shown")
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
