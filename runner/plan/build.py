"""Plan: a parsed task + settings → the ordered checks that would run, where, and why.

Pure: no I/O. `taskrun plan` and `validate --dry-run` stop here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runner.bash.guard import SessionGuard
from runner.bash.reading import is_decorative, never_ends, placeholders
from runner.bash.split import split_block
from runner.errors import InputError
from runner.evaluate.command import DEFAULT_FAILURE_MARKERS
from runner.markdown.document import exit_status_expectation
from runner.markdown.sections import skipped_sections
from runner.models import (
    RUN_SECTION_KINDS,
    CheckKind,
    CheckSource,
    CodeBlock,
    Directives,
    Expectation,
    InlineCommand,
    Placement,
    Plan,
    PlannedCheck,
    ShownReason,
    TaskDocument,
)
from runner.plan.mustpass import component_vars, playbook_checks
from runner.project.components import Components

# `mutation_reason` with the project's settings; called with `functions=` (the functions an
# earlier command of the session defined) when there are some.
GuardFn = Callable[..., "str | None"]

_SOURCE_PREFIX: dict[CheckSource, str] = {
    "test-commands": "tc",
    "test-steps": "ts",
    "validation": "va",
    "pre": "pf",
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
    failure_markers: tuple[str, ...] = DEFAULT_FAILURE_MARKERS  # a caption never starts so

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

    blocks = _blocks_to_plan(doc, notes)
    has_commands = any(b.section == "test-commands" and b.runnable for b in doc.code_blocks)
    # Blocks and runs of inline commands, in file order: each is one session.
    units: list[tuple[int, CodeBlock | list[InlineCommand]]] = [
        (block.span.start, block) for block in blocks
    ]
    inlines = [
        inline
        for inline in doc.inline_commands
        if not (has_commands and _kind_of(inline.placement) == "test-steps")
    ]
    block_starts = [block.span.start for block in blocks]
    units += [(run[0].line, run) for run in _inline_runs(inlines, block_starts)]
    units.sort(key=lambda unit: unit[0])
    drafts: list[_Draft] = []
    for group, (_, unit) in enumerate(units):
        if isinstance(unit, CodeBlock):
            drafts.extend(_block_checks(doc, unit, group, components, context))
        else:
            drafts.extend(_inline_checks(doc, unit, group, components, context))
    checks.extend(_labelled(drafts))
    checks.extend(_must_pass_checks(doc, components, context))

    for missing in doc.missing_commands:
        notes.append(
            f"line {missing.line + 1}: a step states an expectation but its command cannot be "
            f"found, so it is not checked: {missing.text}"
        )
    if not any(check.kind in ("command", "http") for check in checks):
        notes.append("no runnable command: nothing here can be verified automatically")
    planned = {check.line - 1 for check in checks if check.source != "must-pass"}
    return Plan(
        task_path=doc.path,
        task_id=doc.task_id,
        title=doc.title,
        components=components,
        checks=tuple(checks),
        notes=tuple(notes),
        skipped_sections=tuple(skipped_sections(doc, planned)),
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


def _kind_of(placement: Placement | None) -> str:
    return "other" if placement is None else placement.kind


def _blocks_to_plan(doc: TaskDocument, notes: list[str]) -> list[CodeBlock]:
    """The blocks of the sections that run (Test Commands, validation, pre-flight); Test Steps
    blocks only where the file has no Test Commands block."""
    for block in doc.code_blocks:
        if not block.closed:
            where = (
                "in a validation section (it would swallow the rest of the file as commands)"
                if block.section in RUN_SECTION_KINDS
                else "(it swallows the rest of the file, validation sections included)"
            )
            raise InputError(
                f"unterminated code fence {where}", path=doc.path, line=block.span.start + 1
            )
    has_commands = any(b.section == "test-commands" and b.runnable for b in doc.code_blocks)
    chosen: list[CodeBlock] = []
    for block in doc.code_blocks:
        if block.section not in RUN_SECTION_KINDS:
            continue
        if block.section == "test-steps" and has_commands:
            if block.runnable:
                notes.append(
                    f"line {block.span.start + 1}: Test Steps block not run "
                    "(the file has a Test Commands block)"
                )
            continue
        if not any(line.strip() for line in block.body):
            continue
        chosen.append(block)
    return chosen


@dataclass(frozen=True, slots=True)
class _Draft:
    """A planned check before its label is final: a title over several checks also names
    each by its own comment."""

    check: PlannedCheck
    title: str | None
    own_label: str | None


def _labelled(drafts: Sequence[_Draft]) -> list[PlannedCheck]:
    """The label a person reads: a list item's bold title, a `Step N:` heading or a checklist
    item's text; with several checks under one title, `title: comment` where a check has its
    own comment; else the comment; else the command's first line."""
    per_title: dict[str, int] = {}
    for draft in drafts:
        if draft.title and draft.check.kind in ("command", "pre"):
            per_title[draft.title] = per_title.get(draft.title, 0) + 1
    out = []
    for draft in drafts:
        check = draft.check
        if check.directives.name:
            label = check.directives.name
        elif draft.title and draft.own_label and per_title.get(draft.title, 0) > 1:
            label = f"{draft.title}: {draft.own_label}"
        else:
            label = draft.title or draft.own_label or _first_line(check.command)
        out.append(replace(check, label=label))
    return out


def _source_of(kind: str) -> CheckSource:
    if kind == "test-commands":
        return "test-commands"
    if kind == "test-steps":
        return "test-steps"
    return "pre" if kind == "pre" else "validation"


def _block_checks(
    doc: TaskDocument,
    block: CodeBlock,
    block_index: int,
    components: tuple[str, ...],
    context: PlanContext,
) -> list[_Draft]:
    placement = block.placement or Placement(block.section, None)
    source = _source_of(block.section)
    fence_line = block.span.start + 1
    session = f"block{block_index + 1}-line{fence_line}"
    whole = _ShownBlock(doc, block, source, block_index, session, components, placement)
    if not block.runnable:
        return [whole.draft("language", f"{block.lang} block")]
    if not block.lang and placement.output_label:
        return [whole.draft("output-label", placement.output_label)]
    split = split_block(
        block.body,
        info=block.info,
        lang=block.lang or ("bash" if block.indented else ""),
        path=doc.path,
        first_lineno=block.body_start + 1,
    )
    if not block.lang and not split.transcript and not all(c.valid for c in split.commands):
        return [whole.draft("not-shell", None)]
    block_directives = split.directives
    session_guard = SessionGuard(context.guard)
    last = max(
        (i for i, c in enumerate(split.commands) if not c.is_setup),
        default=len(split.commands) - 1,
    )
    drafts = []
    for position, command in enumerate(split.commands):
        directives = block_directives.merged(command.directives)
        prose, prose_line = command.expected_prose, command.expected_line
        if prose_line is not None:
            prose_line += block.body_start
        if prose is None and position == last and placement.expected_prose:
            prose, prose_line = placement.expected_prose, placement.expected_line
        check = _command_check(
            doc,
            command_text=command.text,
            source=source,
            section_kind=block.section,
            line=block.body_start + command.first_line + 1,
            position=position,
            session=session,
            group=block_index,
            directives=directives,
            is_setup=command.is_setup,
            expected_line=None,
            components=components,
            context=context,
            expected_prose=prose,
            expected_prose_line=None if prose_line is None else prose_line + 1,
            section=placement.section,
            shown_output=command.shown_output,
            session_guard=session_guard,
        )
        drafts.append(_Draft(check, placement.title, command.label))
    return drafts


@dataclass(frozen=True, slots=True)
class _ShownBlock:
    """A whole block the plan shows but never runs."""

    doc: TaskDocument
    block: CodeBlock
    source: CheckSource
    group: int
    session: str
    components: tuple[str, ...]
    placement: Placement

    def draft(self, reason: ShownReason, label: str | None) -> _Draft:
        body = list(self.block.body)
        first = next(i for i, line in enumerate(body) if line.strip())
        while body and not body[-1].strip():
            body.pop()
        text = "\n".join(body[first:])
        why = {
            "language": f"a {self.block.lang} block is not shell",
            "output-label": f"sample output (under {label!r})",
            "not-shell": "not shell: bash would reject it (an untagged block of output or text)",
        }[reason]
        check = PlannedCheck(
            id=_check_id(self.source, self.group, 0, text),
            label=label or _first_line(text),
            source=self.source,
            must_pass=None,
            components=self.components,
            kind="shown",
            command=text,
            line=self.block.body_start + first + 1,
            directives=Directives(),
            expectation=Expectation(),
            session=self.session,
            notes=(f"shown, not run: {why}",),
            section=self.placement.section,
            shown_reason=reason,
        )
        return _Draft(check, None, label)


def _inline_runs(
    inlines: Sequence[InlineCommand], block_starts: Sequence[int]
) -> list[list[InlineCommand]]:
    """Consecutive inline commands of one list share a session; a block between them, or
    another list, starts a new one."""
    runs: list[list[InlineCommand]] = []
    for inline in inlines:
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
) -> list[_Draft]:
    drafts = []
    session = f"list-line{inlines[0].line + 1}"
    session_guard = SessionGuard(context.guard)
    for position, inline in enumerate(inlines):
        placement = inline.placement or Placement("test-steps", None)
        command = split_block([inline.command], path=doc.path, first_lineno=inline.line + 1)
        is_setup = len(command.commands) == 1 and command.commands[0].is_setup
        checked = inline.expected is not None or inline.expected_exit is not None
        check = _command_check(
            doc,
            command_text=inline.command,
            source=_source_of(placement.kind),
            section_kind=placement.kind,
            line=inline.line + 1,
            position=position,
            session=session,
            group=group,
            directives=Directives(
                expect_exit=inline.expected_exit if inline.expected_exit is not None else None
            ),
            is_setup=is_setup,
            expected_line=inline.expected,
            components=components,
            context=context,
            expected_prose=inline.expected_text,
            expected_prose_line=inline.line + 1 if inline.expected_text else None,
            prose_checked=checked,
            section=placement.section,
            session_guard=session_guard,
        )
        drafts.append(_Draft(check, placement.title, None))
    return drafts


def _command_check(
    doc: TaskDocument,
    *,
    command_text: str,
    source: CheckSource,
    section_kind: str,
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
    expected_prose_line: int | None = None,
    prose_checked: bool = False,
    section: str | None = None,
    shown_output: str | None = None,
    session_guard: SessionGuard | None = None,
) -> PlannedCheck:
    targets = components
    if directives.on is not None:
        targets = expand_components(directives.on, context)
    check_id = _check_id(source, group, position, command_text)
    found = placeholders(command_text, filled=_filled_by(targets, context))
    if found:
        shown = ", ".join(dict.fromkeys(p.text for p in found))
        return PlannedCheck(
            id=check_id,
            label="",
            source=source,
            must_pass=None,
            components=targets,
            kind="shown",
            command=command_text,
            line=line,
            directives=directives,
            expectation=Expectation(),
            session=session,
            notes=(f"shown, not run: fill in {shown} before running (a placeholder)",),
            section=section,
            shown_reason="placeholder",
            expected_prose=expected_prose,
            expected_prose_line=expected_prose_line,
        )
    decorative = not is_setup and is_decorative(command_text, context.failure_markers)
    notes: list[str] = []
    warnings: tuple[str, ...] = ()
    expectation = Expectation(
        exit_code=directives.expect_exit if directives.expect_exit is not None else 0,
        stdout_regex=directives.expect_stdout,
        stdout_line=expected_line,
    )
    if expected_prose and not prose_checked:
        derived = _expectation_from_prose(command_text, expected_prose, directives)
        if derived is not None:
            expectation, prose_checked = derived, True
    if expected_prose:
        if prose_checked:
            notes.append(f"expected (from the task): {expected_prose}")
        else:
            notes.append(f"expected (prose, not checked): {expected_prose}")
    if shown_output:
        notes.append(f"output shown in the task (not checked): {_first_line(shown_output)}")
    # The session guard reads every command of the block, setup steps included (a function
    # defined there is judged by its body when called).
    judge = session_guard if session_guard is not None else SessionGuard(context.guard)
    verdict = judge(command_text, is_setup=is_setup)
    guard_reason = None if decorative else verdict
    if guard_reason:
        if directives.mutating_ok:
            notes.append(f"state-changing ({guard_reason}); allowed by mutating=ok")
        else:
            notes.append(f"guard: skipped unless --allow-mutating ({guard_reason})")
    if directives.skip:
        notes.append(f"skip: {directives.skip}")
    endless = None if is_setup or decorative else never_ends(command_text)
    if endless:
        warnings = ("never-ends",)
        notes.append(f"warning: never ends on its own ({endless}); add `timeout 10` or a count")
    unknown = _unknown_components(targets, context)
    if unknown:
        notes.append(f"unknown component(s) {', '.join(unknown)}: not in the inventory")
    if decorative:
        notes.append("decorative: prints a caption, runs in the session, not a check")
    kind: CheckKind = "setup" if is_setup or decorative else "command"
    if kind == "command" and section_kind == "pre":
        kind = "pre"
        notes.append("pre-flight check: runs only with `validate --pre`, not counted here")
    return PlannedCheck(
        id=check_id,
        label="",
        source=source,
        must_pass=None,
        components=targets,
        kind=kind,
        command=command_text,
        line=line,
        directives=directives,
        expectation=expectation,
        session=session,
        notes=tuple(notes),
        guard_reason=guard_reason,
        expected_prose=expected_prose,
        expected_prose_line=expected_prose_line,
        prose_checked=prose_checked,
        section=section,
        decorative=decorative,
        shown_output=shown_output,
        warnings=warnings,
    )


_HTTP_CODE_WRITTEN = re.compile(r"%\{(?:http_code|response_code)\}")
_CODE_SPAN = re.compile(r"`([^`]*)`")
_STATUS_PROSE = re.compile(
    r"^(?:returns?|http|status(?:\s+code)?)?\s*:?\s*(?P<code>[1-5]\d\d)$", re.IGNORECASE
)


def _expectation_from_prose(command: str, prose: str, directives: Directives) -> Expectation | None:
    """The prose as a checked expectation where it cannot be misread: an exit status
    (`exit code 0`), or the one status code a curl prints with `-w '%{http_code}'`."""
    if directives.expect_exit is not None or directives.expect_stdout is not None:
        return None
    if _HTTP_CODE_WRITTEN.search(command):
        spans = _CODE_SPAN.findall(prose)
        if len(spans) == 1 and re.fullmatch(r"[1-5]\d\d", spans[0].strip()):
            return Expectation(stdout_line=spans[0].strip())
        plain = _STATUS_PROSE.match(" ".join(prose.split()))
        if not spans and plain is not None:
            return Expectation(stdout_line=plain.group("code"))
    exit_status = exit_status_expectation(prose)
    if exit_status is not None:
        return Expectation(exit_code=exit_status)
    return None


def _filled_by(targets: Sequence[str], context: PlanContext) -> Callable[[str], bool]:
    """Whether an inventory var fills `{{name}}` on every target (so it is no placeholder)."""
    inventory = context.inventory_vars

    def filled(name: str) -> bool:
        if inventory is None or not targets:
            return False
        return all(
            component_vars(target, inventory.get(target)).get(name) is not None
            for target in targets
        )

    return filled


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
