"""Frozen dataclasses shared by every stage of the pipeline (parse → plan → execute → evidence).

No I/O here. Line numbers are 0-based indices into `TaskDocument.lines` unless a name says
`lineno` (1-based, as shown to people).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Target:
    """Where a component's checks run (from the inventory, or `local`).

    `connection` names the transport (`runner.transports.TRANSPORTS`): `ssh` unless the
    inventory says otherwise; `host: local` means `connection: local`.
    """

    component: str
    host: str  # "local" means this machine, no SSH
    port: int = 22
    user: str | None = None
    identity: str | None = None
    known_hosts: str | None = None
    connect_timeout: float = 10.0
    jump: str | None = None
    vars: Mapping[str, object] = field(default_factory=dict)
    env: tuple[str, ...] = ()  # names of the runner's variables to export remotely
    secrets: tuple[str, ...] = ()  # like env, values redacted everywhere
    connection: str = "ssh"

    def __post_init__(self) -> None:
        # `host: local` is this machine whatever transport the default named.
        if self.host == "local" and self.connection == "ssh":
            object.__setattr__(self, "connection", "local")

    @property
    def is_local(self) -> bool:
        return self.connection == "local"

    @property
    def display(self) -> str:
        if self.is_local:
            return "local"
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{who}{self.host}{port}"


# --------------------------------------------------------------------------- parsed document

# What a part of the file is for. `test-commands`, `test-steps` and `validation` run; `pre` runs
# only with `validate --pre`; `execution`, `rollback`, `troubleshooting` and `credentials` are
# never run, and win over any validation-looking heading inside them; `criteria` is the
# template's Validation Criteria (Test Case, Must-Pass), `status` its Status Tracking.
SectionKind = Literal[
    "test-commands",
    "test-steps",
    "validation",
    "pre",
    "execution",
    "rollback",
    "troubleshooting",
    "credentials",
    "criteria",
    "status",
    "other",
]
RUN_SECTION_KINDS: frozenset[str] = frozenset({"test-commands", "test-steps", "validation", "pre"})
NEVER_RUN_SECTION_KINDS: frozenset[str] = frozenset(
    {"execution", "rollback", "troubleshooting", "credentials"}
)


@dataclass(frozen=True, slots=True)
class Span:
    """Lines `start` … `end - 1` (0-based, end-exclusive, as markdown-it's `token.map`)."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str  # as written, inline markup kept ("🏗️ Infrastructure Context")
    name: str  # normalised: leading non-word characters stripped, casefolded
    line: int
    section: Span  # the heading line up to the next heading of the same or a higher level


@dataclass(frozen=True, slots=True)
class Section:
    """A heading, or a bold label on a line of its own (`**Validation Commands:**`), and the
    lines it covers: a heading's up to the next heading of the same or a higher level, a bold
    label's up to the next heading or bold label."""

    name: str  # as a person reads it: no `#`, leading emoji, bold markers or trailing colon
    kind: SectionKind  # by its own name (`Verification` inside Rollback is still `validation`)
    line: int
    span: Span
    level: int  # 1-6 for headings; 7 for a bold label


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a code block or an inline command sits, as the reading rules see it."""

    kind: SectionKind  # effective: a never-run section wins over anything inside it
    section: str | None  # the section that decided `kind` (nearest validation/pre one)
    outer_line: int | None = None  # the outermost run section holding it (evidence anchor)
    title: str | None = None  # list item bold title, `Step N:` heading or checklist text
    output_label: str | None = None  # "Expected Output" when an output label sits just above
    expected_prose: str | None = None  # `**Expected:** …` / `(Expected: …)` right after it
    expected_line: int | None = None  # the line of that prose


@dataclass(frozen=True, slots=True)
class Field:
    """A `**Name**: value` field (any of the template's spellings).

    `value_start`/`value_end` are character offsets of the value inside the line text (without
    its line ending, backticks excluded when `backticked`), so write-back can replace exactly
    that span and nothing else.
    """

    name: str  # as written, e.g. "Completion Percentage"
    key: str  # normalised: casefolded, single spaces ("completion percentage")
    value: str  # without backticks
    line: int
    value_start: int
    value_end: int
    backticked: bool
    placeholder: bool  # the value is a template `[…]` placeholder


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """A fenced (or 4-space indented) code block. `body` lines have the container indentation
    removed."""

    info: str  # the fence info string as written ("bash {on=llm-01}")
    lang: str  # first word of info, casefolded ("" when untagged)
    runnable: bool  # bash/sh/shell/console/untagged
    section: SectionKind
    span: Span  # fence lines included
    body_start: int  # line index of the first body line
    body: tuple[str, ...]  # body lines, line endings stripped, container indent removed
    indent: int  # columns of container indentation removed from body lines
    closed: bool  # False when the fence runs to the end of its container/document
    list_item: int | None = None  # index of the enclosing Test Steps list item, if any
    placement: Placement | None = None
    indented: bool = False  # a 4-space indented code block, not a fence


@dataclass(frozen=True, slots=True)
class InlineCommand:
    """An inline code span that is a whole command in a Test Steps list item (template C)."""

    command: str
    line: int
    expected: str | None  # from a following `(Expected: `X`)` holding exactly one code span
    expected_text: str | None  # the whole parenthesised prose, for the plan's notes
    list_span: Span  # the enclosing list: consecutive inline commands of one list share a session
    item: int  # index of the list item within that list
    placement: Placement | None = None
    expected_exit: int | None = None  # `(Expected: `exit 0`)`: an exit-status expectation


@dataclass(frozen=True, slots=True)
class MissingCommand:
    """A step that states an expectation but whose command cannot be found."""

    line: int
    text: str  # the step's text, shortened
    section: str | None


@dataclass(frozen=True, slots=True)
class MustPassItem:
    name: str  # as written: "Service Health"
    description: str
    line: int


@dataclass(frozen=True, slots=True)
class ChangeLogItem:
    line: int
    text: str  # the whole line as written, line ending stripped


@dataclass(frozen=True, slots=True)
class ChangeLog:
    heading_line: int
    items: tuple[ChangeLogItem, ...]
    span: Span  # heading up to the section end


@dataclass(frozen=True, slots=True)
class EvidenceBlock:
    start_line: int  # the `<!-- taskrun:evidence -->` line
    end_line: int  # the `<!-- /taskrun:evidence -->` line
    checksum: str | None  # as recorded on its comment line
    actual_checksum: str  # computed over the body lines now


@dataclass(frozen=True, slots=True)
class StatusSection:
    heading_line: int
    span: Span
    fields: tuple[Field, ...]
    change_log: ChangeLog | None
    evidence: EvidenceBlock | None


@dataclass(frozen=True, slots=True)
class TestCase:
    description: str | None
    expected_result: str | None
    line: int


@dataclass(frozen=True, slots=True)
class TaskDocument:
    path: str
    text: str  # decoded text, BOM removed
    lines: tuple[str, ...]  # lines with their endings stripped
    endings: tuple[str, ...]  # each line's ending as written: "\n", "\r\n", "\r" or "" (last)
    has_bom: bool
    is_task: bool  # when given by path (see `rejection` otherwise)
    task_id: str | None  # the Task ID field, else the H1's, else the file name's; None: placeholder
    task_id_line: int | None
    title: str | None
    title_line: int | None
    components: tuple[str, ...]
    component_line: int | None
    headings: tuple[Heading, ...]
    fields: tuple[Field, ...]  # every field in the document (header, context, status …)
    must_pass: tuple[MustPassItem, ...]
    test_case: TestCase | None
    code_blocks: tuple[CodeBlock, ...]  # every fenced block, in file order
    inline_commands: tuple[InlineCommand, ...]
    status: StatusSection | None
    id_source: Literal["field", "h1", "filename"] | None = None  # only "field": --all, ID lookup
    rejection: str | None = None  # why it is not a task (None when it is)
    sections: tuple[Section, ...] = ()  # headings and bold labels, in file order
    status_field: Field | None = None  # `**Status**:` near the top (files without Status Tracking)
    evidence: EvidenceBlock | None = None  # the evidence block, wherever it is
    missing_commands: tuple[MissingCommand, ...] = ()
    validation_sections: tuple[str, ...] = ()  # the names it was read with (to read it again)

    @property
    def has_id_field(self) -> bool:
        """A Task ID field with a value: only such files are picked by `--all` and ID lookup."""
        return self.id_source == "field"


# --------------------------------------------------------------------------- splitting

DirectiveValue = str | int | float | bool | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Directives:
    """`# taskrun: key=value …` settings; None means "not given" (the default applies)."""

    on: tuple[str, ...] | None = None
    expect_exit: int | None = None
    expect_stdout: str | None = None
    timeout: float | None = None
    retries: int | None = None
    retry_delay: float | None = None
    skip: str | None = None
    mutating_ok: bool | None = None
    name: str | None = None
    pipefail: bool | None = None

    def merged(self, override: Directives) -> Directives:
        """`override`'s given values win over ours (command over block)."""
        values = {
            name: getattr(override, name)
            if getattr(override, name) is not None
            else getattr(self, name)
            for name in self.__slots__
        }
        return Directives(**values)

    def as_dict(self) -> dict[str, DirectiveValue]:
        """Only the given keys, spelled as in task files (`expect-exit`)."""
        out: dict[str, DirectiveValue] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None:
                key = "mutating" if name == "mutating_ok" else name.replace("_", "-")
                out[key] = ("ok" if value else "no") if name == "mutating_ok" else value
        return out


@dataclass(frozen=True, slots=True)
class ShellCommand:
    """One top-level command of a block, as bash would read it."""

    text: str  # source lines joined with "\n", prompts removed, label/directive lines dropped
    first_line: int  # 0-based index into the block body
    last_line: int  # inclusive
    label: str | None  # the comment line directly above, without "# "
    directives: Directives  # directives given directly above this command
    is_setup: bool  # only assigns variables (`X=1`, `export X=1`)
    shown_output: str | None = None  # a transcript's lines after this `$ ` prompt
    expected_prose: str | None = None  # `# Expected: 5` / `# Should show: …` next to it
    expected_line: int | None = None  # 0-based index into the block body of that comment
    valid: bool = True  # bash would read it without a syntax error


@dataclass(frozen=True, slots=True)
class SplitBlock:
    commands: tuple[ShellCommand, ...]
    directives: Directives  # block-level: first-line directive comment or fence info
    transcript: bool = False  # `$ ` prompts: prompt lines are the commands


# --------------------------------------------------------------------------- plan

CheckSource = Literal["test-commands", "test-steps", "validation", "pre", "must-pass", "task-file"]
# "task-file": the one `error` row of a batch task that could not be read or planned.
# `command`, `setup`, `http` run; `pre` runs only with `validate --pre`; `shown` is in the task
# and in the plan but never runs (sample output, not shell, placeholders, a playbook check that
# does not apply to any of the task's components); `not-run` is a Must-Pass item a person signs
# off.
CheckKind = Literal["command", "setup", "http", "not-run", "pre", "shown"]
ShownReason = Literal["output-label", "not-shell", "placeholder", "language"]


@dataclass(frozen=True, slots=True)
class Expectation:
    exit_code: int = 0
    stdout_regex: str | None = None  # re.search over the whole stdout (MULTILINE)
    stdout_line: str | None = None  # some stdout line equals this, both trimmed


@dataclass(frozen=True, slots=True)
class JsonExpectation:
    """`path` is a dotted path into the JSON body (`data.0.id`, `models`); ops compare its value."""

    path: str
    op: Literal["exists", "equals", "nonempty", "matches", "min_length"] = "exists"
    value: object = None


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """An HTTP check from a playbook. Strings may hold `{{var}}` (inventory vars, rendered per
    component at run time) and headers/body `${ENV}` (the runner's environment; redacted)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    json_body: object = None
    body: str | None = None
    expect_status: tuple[str, ...] = ("2xx",)  # "200", "401", "4xx"
    expect_json: tuple[JsonExpectation, ...] = ()
    body_regex: str | None = None
    max_latency_ms: float | None = None
    timeout_s: float = 10.0
    retries: int = 0
    # ssh: through the component's SSH connection; runner (default) / local (meant): from here
    via: Literal["runner", "ssh", "local"] = "runner"
    samples: int | None = None  # performance: N requests, p50/p95 against a baseline
    tolerance: float = 0.25  # performance: allowed p95 growth over the baseline (fraction)
    tolerance_ms: float = 20.0  # …plus this many milliseconds


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    id: str  # stable while section, text and position are unchanged
    label: str
    source: CheckSource
    must_pass: str | None
    components: tuple[str, ...]  # after `on=` and `global` expansion
    kind: CheckKind
    command: str  # the text that runs (secrets not yet masked: mask for display)
    line: int  # 1-based line in the task file
    directives: Directives
    expectation: Expectation
    session: str  # checks with equal `session` run in one bash session per target, in order
    notes: tuple[str, ...] = ()
    guard_reason: str | None = None  # why the safety guard would skip it (None: read-only)
    probe: HttpProbe | None = None  # kind "http"
    when_var: str | None = None  # playbook: skip on a component whose inventory var is null
    expected_prose: str | None = None  # an `(Expected: …)` that is prose, not a checkable value
    reason: str | None = None  # kinds "not-run" and "shown": why it does not run
    expected_prose_line: int | None = None  # 1-based line of that prose
    prose_checked: bool = False  # the prose became `expectation` (an exit status, an HTTP code)
    section: str | None = None  # the task's section it came from ("Verification Commands")
    decorative: bool = False  # a setup step that only prints literal text (`echo "=== …"`)
    shown_reason: ShownReason | None = None  # kind "shown": why it is not run
    shown_output: str | None = None  # a transcript's output after its prompt (shown, unchecked)
    warnings: tuple[str, ...] = ()  # plan warnings by rule name ("never-ends")


@dataclass(frozen=True, slots=True)
class SkippedSection:
    """A part of the file with commands that the plan does not run, and why."""

    line: int  # 1-based
    heading: str
    reason: str  # "<category>: <why>" (execution, rollback, troubleshooting, credentials,
    # nested, not-validation, superseded)


@dataclass(frozen=True, slots=True)
class Plan:
    task_path: str
    task_id: str | None
    title: str | None
    components: tuple[str, ...]
    checks: tuple[PlannedCheck, ...]
    notes: tuple[str, ...] = ()
    skipped_sections: tuple[SkippedSection, ...] = ()


# --------------------------------------------------------------------------- outcomes

Status = Literal["pass", "fail", "error", "skip", "manual"]


@dataclass(frozen=True, slots=True)
class Attempt:
    exit_code: int | None
    started_at: str  # ISO 8601 UTC
    duration_s: float
    status: Status
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str  # "<plan id>@<component>"
    plan_id: str
    label: str
    source: CheckSource
    must_pass: str | None
    component: str
    host: str
    command: str | None  # masked
    status: Status
    exit_code: int | None = None
    started_at: str | None = None
    duration_s: float | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    log_paths: tuple[str, ...] = ()
    reason: str | None = None
    error: str | None = None
    flaky: bool = False
    attempts: tuple[Attempt, ...] = ()
    line: int | None = None  # 1-based line in the task file
    http: dict[str, object] | None = None
    expected: str | None = None  # the expectation the task writes in prose next to the command


@dataclass(frozen=True, slots=True)
class RunSummary:
    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    manual: int = 0

    @classmethod
    def of(cls, results: tuple[CheckResult, ...] | list[CheckResult]) -> RunSummary:
        counts = {"pass": 0, "fail": 0, "error": 0, "skip": 0, "manual": 0}
        for result in results:
            counts[result.status] += 1
        return cls(
            total=len(results),
            passed=counts["pass"],
            failed=counts["fail"],
            errors=counts["error"],
            skipped=counts["skip"],
            manual=counts["manual"],
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "pass": self.passed,
            "fail": self.failed,
            "error": self.errors,
            "skip": self.skipped,
            "manual": self.manual,
        }


# "error": a batch task that could not be read or planned, so it never ran (its record lives
# only in the batch's reports, with one `error` result saying why).
RunState = Literal["running", "interrupted", "complete", "error"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything `run.json` holds."""

    task_id: str | None
    task_path: str  # POSIX, relative to the current directory
    title: str | None
    run_id: str
    state: RunState
    started_at: str
    finished_at: str | None
    results: tuple[CheckResult, ...] = ()
    filtered: bool = False  # --only / --component narrowed the run
    options: dict[str, object] = field(default_factory=dict)

    @property
    def summary(self) -> RunSummary:
        return RunSummary.of(self.results)
