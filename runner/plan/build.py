"""Plan: a parsed task + settings → the ordered checks that would run, where, and why.

Pure: no I/O. `taskrun plan` and `validate --dry-run` stop here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runner.bash.split import split_block
from runner.errors import InputError
from runner.models import (
    CheckSource,
    CodeBlock,
    Directives,
    Expectation,
    InlineCommand,
    Plan,
    PlannedCheck,
    TaskDocument,
)
from runner.plan.mustpass import playbook_checks
from runner.project.components import Components

GuardFn = Callable[[str], "str | None"]

_SOURCE_PREFIX: dict[CheckSource, str] = {
    "test-commands": "tc",
    "test-steps": "ts",
    "must-pass": "mp",
}
_LABEL_WIDTH = 60


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What the planner needs besides the document."""

    inventory_components: tuple[str, ...] | None = None  # None: no inventory
    inventory_groups: dict[str, tuple[str, ...]] | None = None
    default_component: str | None = None
    guard: GuardFn | None = None
    playbooks: Mapping[str, Any] | None = None  # slug → runner.project.playbooks.Playbook
    inventory_vars: Mapping[str, Mapping[str, object]] | None = None  # component → vars
    remote_components: tuple[str, ...] = ()  # reached over SSH (playbook probes check `via`)

    @property
    def components(self) -> Components:
        """The one component resolver, over this inventory."""
        return Components(self.inventory_components, self.inventory_groups or {})


def slugify(name: str) -> str:
    """`Service Health` → `service-health` (the playbook file name)."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")


def build_plan(doc: TaskDocument, context: PlanContext = PlanContext()) -> Plan:
    notes: list[str] = []
    components = _task_components(doc, context, notes)
    checks: list[PlannedCheck] = []

    runnable_in = _blocks_to_run(doc, notes)
    # Blocks and runs of inline commands, in file order: each is one session.
    units: list[tuple[int, tuple[CodeBlock, CheckSource] | list[InlineCommand]]] = [
        (block.span.start, (block, source)) for block, source in runnable_in
    ]
    if not any(b.section == "test-commands" and b.runnable for b in doc.code_blocks):
        block_starts = [block.span.start for block, _ in runnable_in]
        units += [(run[0].line, run) for run in _inline_runs(doc, block_starts)]
    units.sort(key=lambda unit: unit[0])
    for group, (_, unit) in enumerate(units):
        if isinstance(unit, tuple):
            block, source = unit
            checks.extend(_block_checks(doc, block, source, group, components, context))
        else:
            checks.extend(_inline_checks(doc, unit, group, components, context))
    checks.extend(_must_pass_checks(doc, components, context))

    if not any(check.kind in ("command", "http") for check in checks):
        notes.append("no runnable command: nothing here can be verified automatically")
    return Plan(
        task_path=doc.path,
        task_id=doc.task_id,
        title=doc.title,
        components=components,
        checks=tuple(checks),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- components


def _task_components(doc: TaskDocument, context: PlanContext, notes: list[str]) -> tuple[str, ...]:
    written = doc.components
    if not written:
        if context.default_component:
            notes.append(
                f"no Component field: using default_component {context.default_component!r}"
            )
            written = (context.default_component,)
        else:
            notes.append(
                "components: [] (the task names no Component and no default_component is set)"
            )
            return ()
    return expand_components(written, context)


def expand_components(names: Sequence[str], context: PlanContext) -> tuple[str, ...]:
    """`global` → every inventory component; groups → their members; order kept, no repeats;
    names compared case-insensitively (`runner.project.components`). A name the inventory
    does not know stays as written: execute and lint say so."""
    resolver = context.components
    expanded: list[str] = []
    for name in names:
        found, unknown = resolver.expand([name])
        expanded.extend(found or unknown)
    return tuple(dict.fromkeys(expanded))


# --------------------------------------------------------------------------- blocks


def _blocks_to_run(doc: TaskDocument, notes: list[str]) -> list[tuple[CodeBlock, CheckSource]]:
    """Test Commands blocks; Test Steps blocks only where the file has no Test Commands block."""
    for block in doc.code_blocks:
        if not block.closed and block.section not in ("test-commands", "test-steps"):
            raise InputError(
                "unterminated code fence (it swallows the rest of the file, validation "
                "sections included)",
                path=doc.path,
                line=block.span.start + 1,
            )
    in_commands = [b for b in doc.code_blocks if b.section == "test-commands"]
    in_steps = [b for b in doc.code_blocks if b.section == "test-steps"]
    chosen: list[tuple[CodeBlock, CheckSource]] = []
    has_commands = any(b.runnable for b in in_commands)
    for block in in_commands + ([] if has_commands else in_steps):
        source: CheckSource = "test-commands" if block.section == "test-commands" else "test-steps"
        fence_line = block.span.start + 1
        if not block.closed:
            raise InputError(
                "unterminated code fence in a validation section "
                "(it would swallow the rest of the file as commands)",
                path=doc.path,
                line=fence_line,
            )
        if not block.runnable:
            notes.append(f"line {fence_line}: {block.lang or 'untagged'} block: shown, not run")
            continue
        chosen.append((block, source))
    if has_commands:
        for block in in_steps:
            if block.runnable:
                notes.append(
                    f"line {block.span.start + 1}: Test Steps block not run "
                    "(the file has a Test Commands block)"
                )
    return chosen


def _block_checks(
    doc: TaskDocument,
    block: CodeBlock,
    source: CheckSource,
    block_index: int,
    components: tuple[str, ...],
    context: PlanContext,
) -> list[PlannedCheck]:
    fence_line = block.span.start + 1
    split = split_block(
        block.body,
        info=block.info,
        lang=block.lang,
        path=doc.path,
        first_lineno=block.body_start + 1,
    )
    block_directives = split.directives
    session = f"block{block_index + 1}-line{fence_line}"
    checks = []
    for position, command in enumerate(split.commands):
        directives = block_directives.merged(command.directives)
        checks.append(
            _command_check(
                doc,
                command_text=command.text,
                label=directives.name or command.label,
                source=source,
                line=block.body_start + command.first_line + 1,
                position=position,
                session=session,
                group=block_index,
                directives=directives,
                is_setup=command.is_setup,
                expected_line=None,
                components=components,
                context=context,
            )
        )
    return checks


def _inline_runs(doc: TaskDocument, block_starts: Sequence[int]) -> list[list[InlineCommand]]:
    """Consecutive inline commands of one list share a session; a block between them, or
    another list, starts a new one."""
    runs: list[list[InlineCommand]] = []
    for inline in doc.inline_commands:
        previous = runs[-1][-1] if runs else None
        if (
            previous is not None
            and previous.list_span == inline.list_span
            and not any(previous.line < start < inline.line for start in block_starts)
        ):
            runs[-1].append(inline)
        else:
            runs.append([inline])
    return runs


def _inline_checks(
    doc: TaskDocument,
    inlines: Sequence[InlineCommand],
    group: int,
    components: tuple[str, ...],
    context: PlanContext,
) -> list[PlannedCheck]:
    checks = []
    session = f"list-line{inlines[0].line + 1}"
    for position, inline in enumerate(inlines):
        command = split_block([inline.command], path=doc.path, first_lineno=inline.line + 1)
        is_setup = len(command.commands) == 1 and command.commands[0].is_setup
        checks.append(
            _command_check(
                doc,
                command_text=inline.command,
                label=None,
                source="test-steps",
                line=inline.line + 1,
                position=position,
                session=session,
                group=group,
                directives=Directives(),
                is_setup=is_setup,
                expected_line=inline.expected,
                components=components,
                context=context,
                expected_prose=inline.expected_text if inline.expected is None else None,
            )
        )
    return checks


def _command_check(
    doc: TaskDocument,
    *,
    command_text: str,
    label: str | None,
    source: CheckSource,
    line: int,
    position: int,
    session: str,
    group: int,
    directives: Directives,
    is_setup: bool,
    expected_line: str | None,
    components: tuple[str, ...],
    context: PlanContext,
    expected_prose: str | None = None,
) -> PlannedCheck:
    notes = [f"expected (prose, not checked): {expected_prose}"] if expected_prose else []
    targets = components
    if directives.on is not None:
        targets = expand_components(directives.on, context)
    guard_reason = None if is_setup or context.guard is None else context.guard(command_text)
    if guard_reason:
        if directives.mutating_ok:
            notes.append(f"state-changing ({guard_reason}); allowed by mutating=ok")
        else:
            notes.append(f"guard: skipped unless --allow-mutating ({guard_reason})")
    if directives.skip:
        notes.append(f"skip: {directives.skip}")
    unknown = _unknown_components(targets, context)
    if unknown:
        notes.append(f"unknown component(s) {', '.join(unknown)}: not in the inventory")
    expectation = Expectation(
        exit_code=directives.expect_exit if directives.expect_exit is not None else 0,
        stdout_regex=directives.expect_stdout,
        stdout_line=expected_line,
    )
    return PlannedCheck(
        id=_check_id(source, group, position, command_text),
        label=label or _first_line(command_text),
        source=source,
        must_pass=None,
        components=targets,
        kind="setup" if is_setup else "command",
        command=command_text,
        line=line,
        directives=directives,
        expectation=expectation,
        session=session,
        notes=tuple(notes),
        guard_reason=guard_reason,
        expected_prose=expected_prose,
    )


def _must_pass_checks(
    doc: TaskDocument, components: tuple[str, ...], context: PlanContext
) -> list[PlannedCheck]:
    checks: list[PlannedCheck] = []
    for item in doc.must_pass:
        slug = slugify(item.name)
        playbook = (context.playbooks or {}).get(slug)
        if playbook is not None:
            checks.extend(
                playbook_checks(
                    item,
                    playbook,
                    components,
                    inventory_vars=context.inventory_vars,
                    guard=context.guard,
                    remote_components=context.remote_components,
                )
            )
            continue
        checks.append(
            PlannedCheck(
                id=f"mp-{slug}",
                label=f"{item.name}: {item.description}".strip().rstrip(":"),
                source="must-pass",
                must_pass=item.name,
                # a sign-off is one decision for the task, not one per host
                components=("+".join(components) or "task",),
                kind="not-run",
                command="",
                line=item.line + 1,
                directives=Directives(),
                expectation=Expectation(),
                session=f"must-pass-{slug}",
                notes=(f"Must-Pass item: no playbook ({slug}.yaml); needs a person's sign-off",),
                reason="needs a person's sign-off",
            )
        )
    return checks


def _unknown_components(names: Sequence[str], context: PlanContext) -> list[str]:
    if context.inventory_components is None:
        return []
    known = set(context.inventory_components) | {"local"}
    return [name for name in names if name not in known]


def _check_id(source: CheckSource, group: int, position: int, text: str) -> str:
    """Stable while the check's section, text and position are unchanged.

    `group` is the block's (or inline list's) ordinal, not its line, so an edit elsewhere in
    the file does not rename every check.
    """
    digest = hashlib.sha1(f"{group}\0{position}\0{text}".encode()).hexdigest()[:6]
    return f"{_SOURCE_PREFIX[source]}{group + 1}.{position + 1}-{digest}"


def _first_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _LABEL_WIDTH else first[: _LABEL_WIDTH - 1] + "…"


def with_notes(check: PlannedCheck, extra: Sequence[str]) -> PlannedCheck:
    return replace(check, notes=check.notes + tuple(extra))


__all__ = [
    "PlanContext",
    "build_plan",
    "expand_components",
    "slugify",
    "with_notes",
]
