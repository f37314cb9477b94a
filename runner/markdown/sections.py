"""What a heading or bold label means, read as a person reads it: a validation section, a
precondition, the change itself (never run), … and which sections a plan skips, and why.

Pure. The names of validation sections come from the `validation_sections` setting (fnmatch
patterns, compared case-insensitively after emoji, numbering and a trailing colon are
stripped); everything else here is fixed.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left
from collections.abc import Collection, Sequence
from functools import lru_cache

from runner.models import (
    NEVER_RUN_SECTION_KINDS,
    Section,
    SectionKind,
    SkippedSection,
    TaskDocument,
)

__all__ = [
    "DEFAULT_VALIDATION_SECTIONS",
    "OUTPUT_LABELS",
    "display_name",
    "is_lead_in",
    "is_output_label",
    "looks_like_validation",
    "section_key",
    "section_kind",
    "skipped_sections",
    "step_title",
]

# The forms teams write above their checks. `Test Commands` and `Test Steps` (the template's
# own) are always read, whatever the setting says.
DEFAULT_VALIDATION_SECTIONS: tuple[str, ...] = (
    "Validation",
    "Verification",
    "Validation Commands",
    "Verification Commands",
    "Verification Steps",
    "Validation Steps",
    "Post-Deployment Validation",
    "Post-Deployment Verification",
    "Health Check",
    "Health Checks",
    "Smoke Test",
    "Smoke Tests",
    "Step *: Verify*",
    "Step *: Validate*",
)

# Sample output, never run: an untagged block right after one of these (case-insensitive).
OUTPUT_LABELS: frozenset[str] = frozenset(
    {
        "expected output",
        "expected outputs",
        "sample output",
        "sample outputs",
        "example output",
        "example outputs",
        "output",
        "outputs",
        "result",
        "results",
        "expected result",
        "expected results",
    }
)

# Generic lead-ins name no check: `**Action:**`, `**Command:**`, `Run:`.
_LEAD_INS = frozenset(
    {
        "action",
        "actions",
        "command",
        "commands",
        "run",
        "execute",
        "script",
        "code",
        "example",
        "check",
        "checks",
        "test",
        "tests",
        "validation",
        "verification",
        "validation command",
        "validation commands",
        "verification command",
        "verification commands",
        "test command",
        "test commands",
        "steps",
    }
)

_LEADING_NON_WORD = re.compile(r"^\W+")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?|[a-z][.)])\s+", re.IGNORECASE)
_BOLD = re.compile(r"\*\*|__")
_WHITESPACE = re.compile(r"\s+")
_STEP = re.compile(r"^step\s+\d+[a-z]?\s*[:.)\-–—]\s*(?P<title>\S.*)$", re.IGNORECASE)
_STEP_ZERO = re.compile(r"^step\s+0\b", re.IGNORECASE)

_TEMPLATE_NAMES: dict[str, SectionKind] = {
    "test commands": "test-commands",
    "test steps": "test-steps",
    "status tracking": "status",
    "validation criteria": "criteria",
    "validation test": "criteria",
}
_EXECUTION_PREFIXES = ("execution plan", "execution steps", "implementation")
_PRE_PREFIXES = (
    "pre-flight",
    "preflight",
    "pre flight",
    "pre-execution",
    "pre-task",
    "pre-deployment check",
    "pre-change",
    "prerequisite",
    "precondition",
)


def display_name(text: str) -> str:
    """`✅ Execution Plan` → `Execution Plan`; `**Validation Commands:**` → `Validation
    Commands`."""
    name = _BOLD.sub("", text)
    name = _LEADING_NON_WORD.sub("", name).strip()
    return _WHITESPACE.sub(" ", name.rstrip(":").strip())


def section_key(text: str) -> str:
    """The name compared with the rules: display name, numbering dropped, casefolded."""
    return _NUMBERING.sub("", display_name(text)).casefold()


def step_title(text: str) -> str | None:
    """`Step 4: Verify the proxy answers` → `Verify the proxy answers`; None for other names."""
    found = _STEP.match(display_name(text))
    return found.group("title").strip() if found else None


@lru_cache(maxsize=4096)
def section_kind(text: str, validation_sections: tuple[str, ...]) -> SectionKind:
    """What a heading or bold label is for, by its own name."""
    key = section_key(text)
    if key in _TEMPLATE_NAMES:
        return _TEMPLATE_NAMES[key]
    if _STEP_ZERO.match(key) or key.startswith(_EXECUTION_PREFIXES):
        return "execution"  # the template's Step 0 holds the change (FINDINGS §1)
    if key.startswith("rollback"):
        return "rollback"
    if key.startswith("troubleshoot"):
        return "troubleshooting"
    if key.startswith("credential"):
        return "credentials"
    return _checking_kind(key, validation_sections) or "other"


def looks_like_validation(text: str, validation_sections: tuple[str, ...]) -> bool:
    """A name that reads as a check (`Verification`, `Step 0: Verify Preconditions`, `Pre-Flight
    Checks`), whatever the section around it makes of it."""
    key = section_key(text)
    return (
        _TEMPLATE_NAMES.get(key) in ("test-commands", "test-steps")
        or _checking_kind(key, validation_sections) is not None
    )


def _checking_kind(key: str, validation_sections: tuple[str, ...]) -> SectionKind | None:
    if key.startswith(_PRE_PREFIXES):
        return "pre"
    if any(fnmatch.fnmatchcase(key, pattern.casefold()) for pattern in validation_sections):
        return "validation"
    return None


def is_output_label(text: str) -> bool:
    return section_key(text) in OUTPUT_LABELS


_RUN_PREFIX = re.compile(r"^(?:run|execute|use)(?:\s+(?:the|this|these))?(?:\s+following)?\b\s*")


def is_lead_in(text: str) -> bool:
    """`Action`, `Command`, `Run Validation Command`, `Run the following`: no check's name."""
    key = section_key(text)
    return key in _LEAD_INS or _RUN_PREFIX.sub("", key) in _LEAD_INS | {""}


# --------------------------------------------------------------------------- skipped sections


_NEVER_RUN_REASONS = {
    "execution": "execution: the change itself, never run",
    "rollback": "rollback: the undo of the change, never run",
    "troubleshooting": "troubleshooting: run by a person when something fails, never run",
    "credentials": "credentials: credential setup, never run",
}
_NOT_VALIDATION = "not-validation: no validation heading or label, not run"
_SUPERSEDED = "superseded: Test Steps blocks run only where the file has no Test Commands block"


def skipped_sections(doc: TaskDocument, planned_lines: Collection[int]) -> list[SkippedSection]:
    """Each largest heading subtree holding code that is not run (and no planned check), and
    each validation-looking heading inside a never-run section (`planned_lines`: 0-based lines
    of the plan's checks, shown ones included)."""
    headings = [s for s in doc.sections if s.level <= 6]
    children: dict[int | None, list[int]] = {}
    open_chain: list[int] = []
    for index, heading in enumerate(headings):
        while open_chain and headings[open_chain[-1]].level >= heading.level:
            open_chain.pop()
        children.setdefault(open_chain[-1] if open_chain else None, []).append(index)
        open_chain.append(index)
    code_lines = sorted(
        block.body_start
        for block in doc.code_blocks
        if block.runnable and any(line.strip() and not _comment(line) for line in block.body)
    )
    planned = sorted(planned_lines)
    found: list[SkippedSection] = []

    def holds(section: Section, lines: Sequence[int]) -> bool:
        at = bisect_left(lines, section.span.start)
        return at < len(lines) and lines[at] < section.span.end

    names = doc.validation_sections
    stack: list[int | None] = [None]
    while stack:  # depth first, iteratively: a file may nest headings deeply
        parent = stack.pop()
        for index in reversed(children.get(parent, [])):
            section = headings[index]
            if not holds(section, code_lines):
                continue
            is_title = section.level == 1 and section.kind not in NEVER_RUN_SECTION_KINDS
            if holds(section, planned) or is_title:
                stack.append(index)
                continue
            found.append(SkippedSection(section.line + 1, section.name, _reason(section)))
            if section.kind in NEVER_RUN_SECTION_KINDS:
                found.extend(_nested(section, index, headings, children, names))
    for index, section in enumerate(headings):
        # a never-run section without code: its validation-looking headings still say so
        quiet = section.kind in NEVER_RUN_SECTION_KINDS and not holds(section, code_lines)
        if quiet and not _inside(section, headings):
            found.extend(_nested(section, index, headings, children, names))
    return sorted(found, key=lambda s: s.line)


def _nested(
    outer: Section,
    index: int,
    headings: Sequence[Section],
    children: dict[int | None, list[int]],
    names: tuple[str, ...],
) -> list[SkippedSection]:
    part = "the rollback" if outer.kind == "rollback" else "the change"
    found = []
    stack = list(children.get(index, []))
    while stack:
        inner = stack.pop()
        stack.extend(children.get(inner, []))
        if looks_like_validation(headings[inner].name, names):
            found.append(
                SkippedSection(
                    headings[inner].line + 1,
                    headings[inner].name,
                    f"nested: inside {outer.name}, part of {part}, never run",
                )
            )
    return found


def _inside(section: Section, headings: Sequence[Section]) -> bool:
    return any(
        other.kind in NEVER_RUN_SECTION_KINDS and other.span.start < section.line < other.span.end
        for other in headings
    )


def _reason(section: Section) -> str:
    if section.kind in _NEVER_RUN_REASONS:
        return _NEVER_RUN_REASONS[section.kind]
    if section.kind == "test-steps":
        return _SUPERSEDED
    return _NOT_VALIDATION


def _comment(line: str) -> bool:
    return line.strip().startswith("#")
