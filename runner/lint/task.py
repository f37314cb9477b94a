"""Lint a whole task: every planned check through the command rules, plus task-level rules.

Pure apart from ShellCheck, which `lint_shellcheck` runs as a subprocess (optional).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from runner.bash.assignments import variables_set
from runner.evaluate.command import DEFAULT_FAILURE_MARKERS
from runner.lint.rules import Finding, lint_command
from runner.lint.shellcheck import lint_shellcheck
from runner.models import Plan, PlannedCheck, TaskDocument
from runner.project.components import Components

LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


def lint_task(
    doc: TaskDocument,
    plan: Plan,
    *,
    provided_env: Mapping[str, Collection[str]] | None,
    inventory_components: Collection[str] | None,
    shellcheck: bool = True,
    failure_markers: Sequence[str] = DEFAULT_FAILURE_MARKERS,
) -> list[Finding]:
    """`provided_env`: per component, the variable names the inventory exports (None: no
    inventory, so the env rule is not judged)."""
    findings: list[Finding] = []
    assigned: dict[str, set[str] | None] = {}  # per session: names set by earlier commands
    for check in plan.checks:
        if check.kind == "setup":
            # an assignment can still read a variable nobody provides (`H="Bearer ${API_KEY}"`)
            findings.extend(
                f
                for f in lint_command(
                    check.command,
                    file=doc.path,
                    line=check.line,
                    section=check.source,
                    guard_reason=None,
                    available_env=_available(check, assigned, provided_env),
                )
                if f.rule == "env-not-provided"
            )
            _track_block_variables(assigned, check)
            continue
        if check.kind == "shown":
            findings.extend(_shown_findings(doc, check))
            continue
        if check.kind not in ("command", "pre"):
            continue
        findings.extend(_prose_findings(doc, check))
        findings.extend(
            lint_command(
                check.command,
                file=doc.path,
                line=check.line,
                section=check.source,
                guard_reason=None if check.directives.mutating_ok else check.guard_reason,
                available_env=_available(check, assigned, provided_env),
                expects_output=bool(
                    check.expectation.stdout_regex or check.expectation.stdout_line
                ),
                expected_prose=check.expected_prose,
                failure_markers=failure_markers,
            )
        )
        _track_block_variables(assigned, check)
        if inventory_components is not None:
            resolver = Components(tuple(inventory_components))
            for component in check.components:
                if resolver.canonical(component) is None:
                    findings.append(
                        Finding(
                            file=doc.path,
                            line=check.line,
                            rule="unknown-component",
                            level="error",
                            message=f"component {component!r} is not in the inventory",
                            fix="add it to playbooks/inventory.yaml or fix the Component field",
                        )
                    )
    if shellcheck:
        findings.extend(_shellcheck_blocks(doc, plan))
    findings.extend(_task_rules(doc, plan))
    return sorted(_dedupe(findings), key=lambda f: (f.line, LEVEL_ORDER[f.level], f.rule))


def _track_block_variables(assigned: dict[str, set[str] | None], check: PlannedCheck) -> None:
    names = assigned.setdefault(check.session, set())
    if names is None:
        return
    new = variables_set(check.command)
    if new is None:
        assigned[check.session] = None  # a `source` or `eval`: anything may be set now
    else:
        names.update(new)


def _available(
    check: PlannedCheck,
    assigned: dict[str, set[str] | None],
    provided_env: Mapping[str, Collection[str]] | None,
) -> Collection[str] | None:
    if provided_env is None:
        return None
    earlier = assigned.get(check.session, set())
    if earlier is None:
        return None
    names = set(earlier)
    for component in check.components:
        names.update(provided_env.get(component, ()))
    return names


def _shown_findings(doc: TaskDocument, check: PlannedCheck) -> list[Finding]:
    if check.shown_reason != "placeholder":
        return []
    note = next((n for n in check.notes if "fill in" in n), "")
    what = note.split("fill in ", 1)[-1].split(" before", 1)[0] or "a placeholder"
    return [
        Finding(
            file=doc.path,
            line=check.line,
            rule="placeholder",
            level="error",
            message=f"fill in {what} before running: the check is shown, never run",
            fix="write the real value, or an inventory var as `{{name}}` "
            "(`vars:` in playbooks/inventory.yaml)",
        )
    ]


def _prose_findings(doc: TaskDocument, check: PlannedCheck) -> list[Finding]:
    if not check.expected_prose or check.prose_checked:
        return []
    return [
        Finding(
            file=doc.path,
            line=check.expected_prose_line or check.line,
            rule="prose-expectation",
            level="info",
            message=f"expectation in prose, not checked: {check.expected_prose}",
            fix="state it as a check: `| grep -qx …`, `test …`, or "
            "`# taskrun: expect-stdout=REGEX` / `expect-exit=N`",
        )
    ]


def _shellcheck_blocks(doc: TaskDocument, plan: Plan) -> list[Finding]:
    lines_run = {check.line for check in plan.checks if check.kind in ("command", "setup", "pre")}
    findings = []
    for block in doc.code_blocks:
        if not block.runnable or block.lang == "console":
            continue
        body_lines = range(block.body_start + 1, block.body_start + 1 + len(block.body))
        if not any(line in lines_run for line in body_lines):
            continue
        findings.extend(
            lint_shellcheck("\n".join(block.body), file=doc.path, first_line=block.body_start + 1)
        )
    return findings


def _task_rules(doc: TaskDocument, plan: Plan) -> list[Finding]:
    findings = []
    runnable = [c for c in plan.checks if c.kind in ("command", "http")]
    if not runnable:
        findings.append(
            Finding(
                file=doc.path,
                line=(doc.task_id_line or 0) + 1,
                rule="no-runnable-command",
                level="warning",
                message="the task has no runnable validation command: nothing can be verified",
                fix="add a ```bash block under a validation heading (## Validation, "
                "### Test Commands, …)",
            )
        )
    for missing in doc.missing_commands:
        findings.append(
            Finding(
                file=doc.path,
                line=missing.line + 1,
                rule="step-without-command",
                level="warning",
                message=f"the step states an expectation but has no command: {missing.text}",
                fix="write the command as a code span before `(Expected: …)`, "
                "e.g. ``Run `test -f /x` (Expected: `exit 0`)``",
            )
        )
    for check in plan.checks:
        if check.kind == "not-run" and check.must_pass:
            findings.append(
                Finding(
                    file=doc.path,
                    line=check.line,
                    rule="must-pass-manual",
                    level="info",
                    message=(
                        f"Must-Pass item {check.must_pass!r} has no playbook: a person signs it off"
                    ),
                    fix="add playbooks/must-pass/<slug>.yaml to back it with checks",
                )
            )
    return findings


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    seen = set()
    unique = []
    for finding in findings:
        key = (finding.file, finding.line, finding.rule, finding.message)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def notes_by_line(findings: Sequence[Finding]) -> dict[int, list[str]]:
    """For `plan`: `level rule: message` per 1-based line."""
    notes: dict[int, list[str]] = {}
    for finding in findings:
        notes.setdefault(finding.line, []).append(
            f"{finding.level} {finding.rule}: {finding.message}"
        )
    return notes
