"""Must-Pass placements: a task's Must-Pass item + its playbook → planned checks (shell blocks
and HTTP probes) per component, by role; and, per component at run time, the check as it runs
there (`when:` applied, `{{var}}` rendered). Pure.

Roles: a playbook check names components by role so it applies to `llm-01` and `llm-02` alike.
A component's role is its inventory var `role`; without one, its name decides: a name
starting with `api-gateway`, `gateway` or `litellm` → `gateway`; `llm` or `ollama` → `ollama`;
`orc` → `orchestrator`; anything else has no role (only `*` or its own name select it).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

from runner.bash.split import split_block
from runner.errors import InputError
from runner.models import (
    Directives,
    Expectation,
    HttpProbe,
    MustPassItem,
    PlannedCheck,
    Status,
)
from runner.project.playbooks import ANY_COMPONENT, DEFAULT_VARS, Playbook, PlaybookEntry

__all__ = [
    "NotApplicable",
    "Settled",
    "component_role",
    "component_vars",
    "entry_applies",
    "missing_var_message",
    "playbook_checks",
    "render_template",
    "resolve_check",
    "template_vars",
]

_ROLE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("api-gateway", "gateway"),
    ("gateway", "gateway"),
    ("litellm", "gateway"),
    ("llm", "ollama"),
    ("ollama", "ollama"),
    ("orc", "orchestrator"),
)
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Settled:
    """A check that does not run on a component: its outcome is known beforehand."""

    status: Status  # "skip" or "error"
    reason: str


@dataclass(frozen=True, slots=True)
class NotApplicable:
    """A check whose `when:` var is null on a component: it does not exist there (no result;
    the plan shows it with this reason)."""

    reason: str


# --------------------------------------------------------------------------- vars and roles


def component_role(component: str, vars: Mapping[str, object] | None = None) -> str | None:
    """The inventory var `role`, else the role the component's name implies (see module doc)."""
    given = (vars or {}).get("role")
    if isinstance(given, str) and given:
        return given
    name = component.casefold()
    for prefix, role in _ROLE_PREFIXES:
        if name.startswith(prefix):
            return role
    return None


def component_vars(
    component: str, inventory_vars: Mapping[str, object] | None = None
) -> dict[str, object]:
    """`DEFAULT_VARS`, then the component's inventory vars over them, plus `component`/`role`."""
    merged: dict[str, object] = dict(DEFAULT_VARS)
    merged.update(inventory_vars or {})
    merged.setdefault("component", component)
    role = component_role(component, inventory_vars)
    if role is not None:
        merged.setdefault("role", role)
    return merged


def entry_applies(
    entry: PlaybookEntry, component: str, vars: Mapping[str, object] | None = None
) -> bool:
    if ANY_COMPONENT in entry.components or component in entry.components:
        return True
    role = component_role(component, vars)
    return role is not None and role in entry.components


def template_vars(text: str) -> list[str]:
    """The `{{var}}` names `text` uses, in order, without repeats."""
    return list(dict.fromkeys(_TEMPLATE.findall(text)))


def render_template(text: str, vars: Mapping[str, object]) -> str:
    """`{{var}}` → its value. A var that is missing or null raises KeyError naming it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if vars.get(name) is None:
            raise KeyError(name)
        found = vars[name]
        if isinstance(found, bool):
            return "true" if found else "false"
        if isinstance(found, float) and found.is_integer():
            return str(int(found))
        return str(found)

    return _TEMPLATE.sub(value, text)


def missing_var_message(name: str, component: str, vars: Mapping[str, object]) -> str:
    state = "is null" if name in vars else "is not set"
    return f"inventory var {name!r} {state} for {component}"


def resolve_check(
    check: PlannedCheck, *, component: str, vars: Mapping[str, object]
) -> PlannedCheck | Settled | NotApplicable:
    """The check as it runs on `component`: `when` applied, shell `{{var}}` rendered.

    `vars` are the component's (see `component_vars`). A null `when` var makes the check not
    applicable there; a template var that is missing or null is an `error` naming it. HTTP
    probes are rendered by the probe runner, which also discovers `e2e_model` when it is null.
    """
    if not applies_when(check.when_var, vars):
        return NotApplicable(not_applicable_reason(check.when_var, [component]))
    if check.kind != "command" and check.kind != "setup":
        return check
    try:
        command = render_template(check.command, vars)
    except KeyError as exc:
        return Settled("error", missing_var_message(str(exc.args[0]), component, vars))
    return replace(check, command=command, components=(component,))


def applies_when(when_var: str | None, vars: Mapping[str, object]) -> bool:
    """False when the entry's `when:` var is null for the component (`gateway_unit: null`)."""
    return when_var is None or vars.get(when_var, "") is not None


def not_applicable_reason(when_var: str | None, components: Collection[str]) -> str:
    return f"not applicable: {when_var} is null for {', '.join(components)}"


# --------------------------------------------------------------------------- planning


def playbook_checks(
    item: MustPassItem,
    playbook: Playbook,
    components: tuple[str, ...],
    *,
    inventory_vars: Mapping[str, Mapping[str, object]] | None = None,
    guard: Callable[[str], str | None] | None = None,
    remote_components: Collection[str] = (),
) -> list[PlannedCheck]:
    """The checks that back one Must-Pass item on the task's `components`.

    Each playbook entry becomes checks on the components it applies to (by name, role or `*`);
    a shell entry gives one check per top-level command (Test Commands rules and directives).
    `inventory_vars` (component → vars) decides roles and `when:`, and lets the plan show
    rendered URLs. An entry whose `when:` var is null on every component it would apply to is
    one `shown` check (not applicable). When no entry applies, the item is one `not-run` check
    (manual) saying so, like an item without a playbook.

    `remote_components`: those reached over SSH. A probe of a loopback URL on one of them
    without `via: ssh` (or `via: local`, meant) is an `InputError`: it would reach the runner.
    """
    inventory_vars = inventory_vars or {}
    line = item.line + 1
    checks: list[PlannedCheck] = []
    number = 0
    for entry in playbook.entries:
        matched = tuple(c for c in components if entry_applies(entry, c, inventory_vars.get(c)))
        if not matched:
            continue
        where = f"{playbook.path}({entry.line})"
        targets = tuple(
            c for c in matched if applies_when(entry.when, component_vars(c, inventory_vars.get(c)))
        )
        skipped = [c for c in matched if c not in targets]
        if not targets:
            checks.append(_not_applicable(item, playbook, entry, skipped, line))
            continue
        if entry.probe is not None:
            _check_via(entry.probe, targets, remote_components, inventory_vars, playbook, entry)
        applicability = [not_applicable_reason(entry.when, skipped)] if skipped else []
        shell_session = f"mp-{playbook.slug}-{_digest(','.join(targets))}"
        if entry.probe is not None:
            number += 1
            probe_notes = [f"playbook {where}", *applicability]
            guard_reason = _probe_guard(entry.probe, guard)
            if guard_reason:
                probe_notes.append(f"guard: skipped unless --allow-mutating ({guard_reason})")
            checks.append(
                PlannedCheck(
                    id=_check_id(playbook.slug, number, entry.index, 0, entry.probe.url),
                    label=entry.name,
                    source="must-pass",
                    must_pass=item.name,
                    components=targets,
                    kind="http",
                    command=_probe_text(entry.probe),
                    line=line,
                    directives=Directives(retries=entry.probe.retries or None),
                    expectation=Expectation(),
                    session=f"mp-{playbook.slug}-http{number}",
                    notes=(*probe_notes, *_rendered_notes(entry.probe, targets, inventory_vars)),
                    guard_reason=guard_reason,
                    probe=entry.probe,
                    when_var=entry.when,
                )
            )
            continue
        assert entry.run is not None
        split = split_block(entry.run.split("\n"), path=playbook.path, first_lineno=entry.line)
        commands = split.commands
        for position, command in enumerate(commands):
            directives = split.directives.merged(command.directives)
            if not command.is_setup:
                number += 1
            label = directives.name or command.label or entry.name
            if len([c for c in commands if not c.is_setup]) > 1 and label == entry.name:
                label = f"{entry.name} ({position + 1})"
            notes = [f"playbook {where}", *applicability]
            guard_reason = None if command.is_setup or guard is None else guard(command.text)
            if guard_reason:
                if directives.mutating_ok:
                    notes.append(f"state-changing ({guard_reason}); allowed by mutating=ok")
                else:
                    notes.append(f"guard: skipped unless --allow-mutating ({guard_reason})")
            if directives.skip:
                notes.append(f"skip: {directives.skip}")
            checks.append(
                PlannedCheck(
                    id=_check_id(playbook.slug, number, entry.index, position, command.text),
                    label=label,
                    source="must-pass",
                    must_pass=item.name,
                    components=targets,
                    kind="setup" if command.is_setup else "command",
                    command=command.text,
                    line=line,
                    directives=directives,
                    expectation=Expectation(
                        exit_code=directives.expect_exit
                        if directives.expect_exit is not None
                        else 0,
                        stdout_regex=directives.expect_stdout,
                    ),
                    session=shell_session,
                    notes=tuple(notes),
                    guard_reason=guard_reason,
                    when_var=entry.when,
                )
            )
    if not any(check.kind in ("command", "http") for check in checks):
        shown = ", ".join(components) if components else "none"
        reason = (
            f"no check of playbook {playbook.path} applies to the task's components "
            f"({shown}); needs a person's sign-off"
        )
        manual = PlannedCheck(
            id=f"mp-{playbook.slug}",
            label=f"{item.name}: {item.description}".strip().rstrip(":"),
            source="must-pass",
            must_pass=item.name,
            # a sign-off is one decision for the task, not one per host
            components=("+".join(components) or "task",),
            kind="not-run",
            command="",
            line=line,
            directives=Directives(),
            expectation=Expectation(),
            session=f"must-pass-{playbook.slug}",
            notes=(reason,),
            reason=reason,
        )
        return [manual, *(check for check in checks if check.kind == "shown")]
    return checks


def _not_applicable(
    item: MustPassItem,
    playbook: Playbook,
    entry: PlaybookEntry,
    components: tuple[str, ...] | list[str],
    line: int,
) -> PlannedCheck:
    """A playbook entry that applies to none of the task's components because of `when:`:
    shown in the plan, absent from the run."""
    reason = not_applicable_reason(entry.when, components)
    return PlannedCheck(
        id=_check_id(playbook.slug, 0, entry.index, 0, f"n/a {entry.name}"),
        label=entry.name,
        source="must-pass",
        must_pass=item.name,
        components=tuple(components),
        kind="shown",
        command=_probe_text(entry.probe) if entry.probe is not None else entry.run or "",
        line=line,
        directives=Directives(),
        expectation=Expectation(),
        session=f"mp-{playbook.slug}-shown",
        notes=(f"playbook {playbook.path}({entry.line})", reason),
        reason=reason,
        probe=entry.probe,
        when_var=entry.when,
    )


def _check_via(
    probe: HttpProbe,
    targets: tuple[str, ...],
    remote_components: Collection[str],
    inventory_vars: Mapping[str, Mapping[str, object]],
    playbook: Playbook,
    entry: PlaybookEntry,
) -> None:
    """A loopback URL sent from the runner on behalf of a remote component reaches the runner
    itself: a false green (or red) waiting to happen, unless `via: local` says it is meant."""
    if probe.via != "runner":
        return
    for component in targets:
        if component not in remote_components:
            continue
        try:
            url = render_template(
                probe.url, component_vars(component, inventory_vars.get(component))
            )
        except KeyError:
            continue  # reported at run time, naming the var
        host = _url_host(url)
        if host is not None and _is_loopback(host):
            raise InputError(
                f"probe {entry.name!r} on remote component {component} would request {host} "
                "from the machine taskrun runs on, not from the component: add `via: ssh` "
                "(through its SSH connection), or `via: local` if that is what you mean",
                path=playbook.path,
                line=entry.line,
            )


def _url_host(url: str) -> str | None:
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)", url)
    if match is None:
        return None
    return match.group(1).strip("[]").lower()


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _probe_guard(probe: HttpProbe, guard: Callable[[str], str | None] | None) -> str | None:
    """HTTP writes are guarded like `curl` in Test Commands (read-only POSTs allowed)."""
    if guard is None or probe.method in ("GET", "HEAD", "OPTIONS"):
        return None
    return guard(f'curl -X {probe.method} "{probe.url}"')


def _probe_text(probe: HttpProbe) -> str:
    via = {"ssh": " via ssh", "local": " via local"}.get(probe.via, "")
    return f"{probe.method} {probe.url}{via}"


def _rendered_notes(
    probe: HttpProbe,
    targets: tuple[str, ...],
    inventory_vars: Mapping[str, Mapping[str, object]],
) -> list[str]:
    """`api-gateway: GET http://127.0.0.1:4000/…` per component (headers are never shown)."""
    notes = []
    for component in targets:
        vars = component_vars(component, inventory_vars.get(component))
        try:
            url = render_template(probe.url, vars)
        except KeyError as exc:
            notes.append(f"{component}: {missing_var_message(str(exc.args[0]), component, vars)}")
            continue
        notes.append(f"{component}: {probe.method} {url}")
    if probe.samples is not None:
        notes.append("performance: p50/p95 against the recorded baseline")
    return notes


def _check_id(slug: str, number: int, entry: int, position: int, text: str) -> str:
    """`mp-<slug>-<n>-<hash6>`: stable while the playbook entry and its text are unchanged."""
    digest = _digest(f"{entry}\0{position}\0{text}")
    return f"mp-{slug}-{number}-{digest}"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]
