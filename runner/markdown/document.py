"""Parse a task file's bytes into a `TaskDocument`.

markdown-it locates things; text comes from the original lines (0-based indices everywhere).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Literal

from markdown_it import MarkdownIt, rules_core
from markdown_it.token import Token

from runner.errors import InputError
from runner.markdown.evidence_block import (
    CHECKSUM_PATTERN,
    EVIDENCE_END,
    EVIDENCE_START,
    body_checksum,
)
from runner.markdown.lines import decode_task_bytes, split_lines
from runner.markdown.sections import (
    DEFAULT_VALIDATION_SECTIONS,
    display_name,
    is_lead_in,
    is_output_label,
    looks_like_validation,
    section_kind,
    step_title,
)
from runner.models import (
    NEVER_RUN_SECTION_KINDS,
    RUN_SECTION_KINDS,
    ChangeLog,
    ChangeLogItem,
    CodeBlock,
    EvidenceBlock,
    Field,
    Heading,
    InlineCommand,
    MissingCommand,
    MustPassItem,
    Placement,
    Section,
    SectionKind,
    Span,
    StatusSection,
    TaskDocument,
    TestCase,
)

RUNNABLE_LANGS = frozenset({"bash", "sh", "shell", "console", ""})
# The sections that, with a Task ID field, make a file a task of the template family.
TASK_SECTION_KINDS = frozenset({"criteria", "status", "test-commands", "test-steps"})
MUST_PASS_NAMES = ("must-pass validations", "must-pass validation", "must pass validations")
# A bold label on a line of its own: `**Validation Commands:**`, `**Pass Criteria**:`.
_BOLD_LABEL = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:\*\*|__)(?P<name>[^*_\s](?:[^*]*[^*\s])?)(?:\*\*|__)[ \t]*:?[ \t]*$"
)
_LIST_MARKER = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_CHECKBOX = re.compile(r"^\[[ xX]\][ \t]+")
_ITEM_TITLE = re.compile(r"^(?:\*\*|__)(?P<title>[^*_](?:[^*]*?[^*])?)(?:\*\*|__)")
# `**Expected:** Returns `200``, `Expected: …`, `(Expected: …)` right after a code block.
_EXPECTED_PARAGRAPH = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:"
    r"(?:\*\*|__)expected(?:\s+result)?(?::(?:\*\*|__)|(?:\*\*|__)\s*:)"
    r"|expected(?:\s+result)?\s*:"
    r"|\(\s*expected\s*:?"
    r")\s*(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_H1_ID = re.compile(
    r"^\W*(?P<id>[Tt]ask\s+\d+(?:\.\d+)*|[A-Z][A-Z0-9]*-\d+(?:\.\d+)*)\s*(?:[:\-–—]|$)"
)
_FILE_ID = re.compile(r"^(?P<id>[A-Za-z][A-Za-z0-9]*-\d+(?:\.\d+)*)(?=$|[-_ .])")
_STATUS_FIELD_KEYS = ("status", "current status")
_STATUS_FIELD_LINES = 20  # "near the top": before the first `##` heading or in these lines

# Block structure only: inline parsing is ~80% of markdown-it's time and only the Test Steps
# paragraphs need it (inline commands), so those are parsed on demand by `_inline_children`.
_MARKDOWN = MarkdownIt("commonmark").disable("inline")
_INLINE_MARKDOWN = MarkdownIt("commonmark")

# `**Name**: value` or `**Name:** value`, after any blockquote markers, indentation and one list
# marker (a field may be the first line of a list item).
_FIELD = re.compile(
    r"^(?P<prefix>[ \t]*(?:>[ \t]*)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?)"
    r"\*\*(?P<name>[^*\s](?:[^*]*[^*\s:])?)(?:\*\*[ \t]*:|:\*\*)"
    r"(?P<rest>.*)$"
)
# `Engineering Task:`, `Task:`, `Task 002:`, `CHG-2291:` before the title in an H1.
_TITLE_PREFIX = re.compile(
    r"^\W*(?:(?i:engineering task|task(?:\s+\d+(?:\.\d+)*)?)|[A-Z][A-Z0-9]*-\d+(?:\.\d+)*)"
    r"\s*:\s*"
)
_LEADING_NON_WORD = re.compile(r"^\W+")
_WHITESPACE = re.compile(r"\s+")
_BACKTICK_RUN = re.compile(r"`+")
_COMPONENT_SEPARATORS = re.compile(r"[,|\s]+")
# The first word of an inline span that reads as a program: lowercase name (`ss`, `pytest`,
# `python3.11`, `apt-get`), a relative or `$VAR/…` executable path.
_PROGRAM_WORD = re.compile(r"^(?:[a-z_][a-z0-9_+-]*(?:\.[0-9]+)*|\.{1,2}/\S+|\$\{?\w+\}?/\S+)$")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=\S*$")
_EXPECTED_OPENING = re.compile(r"\(\s*expect(?:ed|s)?\b\s*:?\s*", re.IGNORECASE)
_CODE_MARK = "\ue000"  # stands in for a code span while scanning prose for parentheses


def parse_document(
    data: bytes, path: str, *, validation_sections: Sequence[str] | None = None
) -> TaskDocument:
    """Parse a task file (or any Markdown file) into a `TaskDocument`.

    `validation_sections`: the names of validation sections (the `validation_sections`
    setting; the defaults when None). Raises InputError when the bytes are not UTF-8 text or
    the evidence markers are broken.
    """
    names = (
        DEFAULT_VALIDATION_SECTIONS if validation_sections is None else tuple(validation_sections)
    )
    key = (bytes(data), names)
    doc = _RECENT.get(key)
    if doc is None:
        doc = _parse_bytes(key[0], path, names)
        _RECENT[key] = doc
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    else:
        _RECENT.move_to_end(key)
    return doc if doc.path == path else replace(doc, path=path)


# One validate run parses the same bytes up to three times (discovery, the run's snapshot, the
# write-back's re-read under the lock): seconds for a 10 MB file. A document is immutable and a
# function of the bytes and the reading rules alone (the path is only carried along), so the
# last few are reused. Failures are not kept: an InputError always names the path it was
# asked about.
_RECENT_SIZE = 4
_RECENT: OrderedDict[tuple[bytes, tuple[str, ...]], TaskDocument] = OrderedDict()


def _parse_bytes(data: bytes, path: str, names: tuple[str, ...]) -> TaskDocument:
    text, has_bom = decode_task_bytes(data, path)
    lines, endings = split_lines(text)
    # markdown-it must count exactly our lines, so every line gets one "\n" (CR and CRLF gone).
    env: dict[str, object] = {}
    tokens = _MARKDOWN.parse("".join(line + "\n" for line in lines), env)
    headings = _headings(tokens, len(lines))
    sections = _sections(tokens, lines, headings, names)
    outline = _Outline(headings, sections)
    must_pass = _must_pass_items(tokens, lines, outline)
    change_log = _change_log(tokens, lines, outline)
    skipped = {item.line for item in must_pass}
    if change_log is not None:
        skipped.update(range(change_log.span.start, change_log.span.end))
    fields = tuple(_fields(tokens, lines, skipped))
    items = _AllItems(tokens, lines)
    list_items = _run_section_items(tokens, outline)
    task_id_field = _first_field(fields, "task id")
    component_field = _first_field(fields, "component", "components")
    title, title_line = _title(headings, fields)
    has_must_pass = outline.first(*MUST_PASS_NAMES) is not None
    rejection = _rejection(outline, task_id_field is not None, has_must_pass, names)
    task_id, id_source = _task_id(task_id_field, headings, path, is_task=rejection is None)
    evidence = _evidence_block(tokens, lines, outline.first("status tracking"), path)
    status = _status_section(tokens, lines, outline, fields, change_log, evidence)
    inline_commands, missing = _inline_commands(tokens, lines, list_items, items, outline, env)
    return TaskDocument(
        path=path,
        text=text,
        lines=lines,
        endings=endings,
        has_bom=has_bom,
        is_task=rejection is None,
        task_id=task_id,
        task_id_line=None if task_id_field is None else task_id_field.line,
        title=title,
        title_line=title_line,
        components=_components(component_field),
        component_line=None if component_field is None else component_field.line,
        headings=headings,
        fields=fields,
        must_pass=must_pass,
        test_case=_test_case(fields, outline),
        code_blocks=tuple(_code_blocks(tokens, lines, outline, list_items, items)),
        inline_commands=inline_commands,
        status=status,
        id_source=id_source,
        rejection=rejection,
        sections=sections,
        status_field=None if status is not None else _status_field(fields, headings),
        evidence=evidence,
        missing_commands=missing,
        validation_sections=names,
    )


# --------------------------------------------------------------------------- identity


def _task_id(
    field: Field | None, headings: Sequence[Heading], path: str, *, is_task: bool
) -> tuple[str | None, Literal["field", "h1", "filename"] | None]:
    """The Task ID field; else, for a task, the `Task 002` / `CHG-2291` that starts the H1;
    else the ID-looking start of the file name (`T-039-rotate….md` → `T-039`), else its name.

    A `[…]` placeholder field is no ID at all (the template): it has no fallback either.
    """
    if field is not None:
        value = _value_or_none(field)
        return (value, "field") if value is not None else (None, None)
    if not is_task:
        return None, None
    h1 = next((heading for heading in headings if heading.level == 1), None)
    if h1 is not None:
        found = _H1_ID.match(h1.text)
        if found is not None:
            return _WHITESPACE.sub(" ", found.group("id")), "h1"
    stem = PurePath(path).stem
    if not stem:
        return None, None
    found = _FILE_ID.match(stem)
    return (found.group("id") if found else stem), "filename"


def _rejection(
    outline: _Outline, has_id_field: bool, has_must_pass: bool, names: tuple[str, ...]
) -> str | None:
    """None when the file is a task (given by path), else the condition that failed."""
    sections = outline.sections
    kinds = {section.kind for section in sections if not outline.never_run_around(section)}
    if kinds & {"test-commands", "test-steps", "validation"}:
        return None
    if has_id_field and (kinds & TASK_SECTION_KINDS or has_must_pass):
        return None
    nested = [
        (section, outline.never_run_around(section))
        for section in sections
        if looks_like_validation(section.name, names)
        and outline.never_run_around(section) is not None
    ]
    if nested:
        where = " and ".join(
            f'"{section.name}" is inside {outer.name}' for section, outer in nested if outer
        )
        return f"no validation section outside never-run sections: {where}"
    if has_id_field:
        return (
            "no validation section: no Test Commands, Test Steps, Must-Pass or Validation "
            "Criteria / Status Tracking section, and no heading or bold label matches "
            "validation_sections"
        )
    return "no validation section: no heading or bold label matches validation_sections"


def _status_field(fields: Sequence[Field], headings: Sequence[Heading]) -> Field | None:
    """`**Status**: Not Started` near the top of a file without a Status Tracking section."""
    first_h2 = next((h.line for h in headings if h.level >= 2), None)
    limit = first_h2 if first_h2 is not None else _STATUS_FIELD_LINES
    for field in fields:
        if field.key in _STATUS_FIELD_KEYS and not field.placeholder:
            return field if field.line < max(limit, _STATUS_FIELD_LINES) else None
    return None


# --------------------------------------------------------------------------- headings, sections


def _headings(tokens: Sequence[Token], line_count: int) -> tuple[Heading, ...]:
    found: list[tuple[int, str, int]] = []
    for index, token in enumerate(tokens):
        # Only top-level headings divide the document: a `# …` inside a list item or a quote
        # is part of that item (a Change Log entry's note must not end Status Tracking).
        if token.type == "heading_open" and token.map is not None and token.level == 0:
            found.append((int(token.tag[1:]), tokens[index + 1].content, token.map[0]))
    # A heading's section ends at the next heading of the same or a higher level: one pass
    # backwards with the open levels' next starts.
    ends = [line_count] * len(found)
    next_at_or_above = [line_count] * 8  # by level: where the next such heading starts
    for position in range(len(found) - 1, -1, -1):
        level, _, line = found[position]
        ends[position] = next_at_or_above[level]
        for upper in range(level, 8):
            next_at_or_above[upper] = line
    return tuple(
        Heading(level, text, heading_name(text), line, Span(line, end))
        for (level, text, line), end in zip(found, ends, strict=True)
    )


def heading_name(text: str) -> str:
    """`🏗️ Infrastructure Context` → `infrastructure context` (emoji, VS16, spaces dropped)."""
    return _WHITESPACE.sub(" ", _LEADING_NON_WORD.sub("", text)).strip().casefold()


def _sections(
    tokens: Sequence[Token],
    lines: Sequence[str],
    headings: Sequence[Heading],
    names: tuple[str, ...],
) -> tuple[Section, ...]:
    """Headings, and bold labels on a line of their own outside lists, in file order."""
    labels: list[int] = []
    depth = 0
    for index, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif (
            token.type == "paragraph_open"
            and depth == 0
            and token.map is not None
            and _BOLD_LABEL.match(lines[token.map[0]])
            and tokens[index + 1].type == "inline"
        ):
            labels.append(token.map[0])
    # The document's title (a first heading of level 1) names the whole file, not a part of
    # it: "# Post-Deployment Validation" must not make every neutral section under it run.
    title = headings[0].line if headings and headings[0].level == 1 else None
    found = [
        Section(
            display_name(h.text),
            "other" if h.line == title else section_kind(h.text, names),
            h.line,
            h.section,
            h.level,
        )
        for h in headings
    ]
    starts = sorted({h.line for h in headings} | set(labels))
    for line in labels:
        text = lines[line].strip().lstrip(">").strip()
        at = bisect_right(starts, line)
        end = starts[at] if at < len(starts) else len(lines)
        kind = section_kind(text, names)
        found.append(Section(display_name(text), kind, line, Span(line, end), 7))
    return tuple(sorted(found, key=lambda section: section.line))


class _Outline:
    """Which headings and bold labels enclose a line, innermost first.

    A line's enclosing headings are the last heading at or above it and that heading's chain of
    parents (each the last earlier heading of a smaller level), found by bisection: a long file
    has thousands of headings and every fence and list asks. A bold label's section is inside
    the innermost heading by construction (it ends at the next heading).
    """

    __slots__ = (
        "_by_line",
        "_label_lines",
        "_labels",
        "_lines",
        "_parents",
        "headings",
        "sections",
    )

    def __init__(self, headings: tuple[Heading, ...], sections: tuple[Section, ...] = ()) -> None:
        self.headings = headings
        self.sections = sections
        self._by_line = {section.line: section for section in sections if section.level <= 6}
        self._labels = [section for section in sections if section.level == 7]
        self._label_lines = [section.line for section in self._labels]
        self._lines = [heading.line for heading in headings]
        self._parents: list[int | None] = []
        open_chain: list[int] = []
        for index, heading in enumerate(headings):
            while open_chain and headings[open_chain[-1]].level >= heading.level:
                open_chain.pop()
            self._parents.append(open_chain[-1] if open_chain else None)
            open_chain.append(index)

    def enclosing(self, line: int) -> list[Heading]:
        found: list[Heading] = []
        index: int | None = bisect_right(self._lines, line) - 1
        while index is not None and index >= 0:
            heading = self.headings[index]
            if heading.line <= line < heading.section.end:
                found.append(heading)
            index = self._parents[index]
        return found

    def chain(self, line: int) -> list[Section]:
        """The sections holding `line`, innermost first (a bold label's before its heading)."""
        found = [self._by_line[heading.line] for heading in self.enclosing(line)]
        at = bisect_right(self._label_lines, line) - 1
        if at >= 0:
            label = self._labels[at]
            if label.span.start <= line < label.span.end:
                found.insert(0, label)
        return found

    def placement(self, line: int) -> Placement:
        chain = self.chain(line)
        for section in reversed(chain):  # outermost first: a never-run section wins
            if section.kind in NEVER_RUN_SECTION_KINDS:
                return Placement(section.kind, section.name)
        run = [section for section in chain if section.kind in RUN_SECTION_KINDS]
        if run:
            outer = [s for s in run if s.kind != "pre"]
            return Placement(run[0].kind, run[0].name, outer_line=outer[-1].line if outer else None)
        for section in chain:
            if section.kind != "other":
                return Placement(section.kind, section.name)
        return Placement("other", None)

    def section_kind(self, line: int) -> SectionKind:
        return self.placement(line).kind

    def never_run_around(self, section: Section) -> Section | None:
        """The outermost never-run section holding `section` (not itself), if any."""
        outer = [
            other
            for other in self.chain(section.line)
            if other is not section and other.kind in NEVER_RUN_SECTION_KINDS
        ]
        return outer[-1] if outer else None

    def step_title(self, line: int) -> str | None:
        """The text of the innermost heading holding `line` when it is `Step N: …`."""
        headings = self.enclosing(line)
        return step_title(headings[0].text) if headings else None

    def first(self, *names: str, within: Span | None = None) -> Heading | None:
        for heading in self.headings:
            if heading.name in names and (
                within is None or within.start <= heading.line < within.end
            ):
                return heading
        return None


# --------------------------------------------------------------------------- fields


def _paragraph_inlines(tokens: Sequence[Token]) -> Iterator[Token]:
    for index, token in enumerate(tokens):
        if (
            token.type == "inline"
            and token.map is not None
            and index > 0
            and tokens[index - 1].type == "paragraph_open"
        ):
            yield token


def _fields(tokens: Sequence[Token], lines: Sequence[str], skipped: set[int]) -> Iterator[Field]:
    for inline in _paragraph_inlines(tokens):
        assert inline.map is not None
        for line in range(*inline.map):
            if line not in skipped:
                field = field_on_line(lines[line], line)
                if field is not None:
                    yield field


def field_on_line(text: str, line: int) -> Field | None:
    """The `**Name**: value` field written on this line, if it is one."""
    match = _FIELD.match(text)
    if match is None:
        return None
    name = match.group("name")
    rest_start = match.start("rest")
    value_text = match.group("rest").strip()
    start = rest_start + (len(match.group("rest")) - len(match.group("rest").lstrip()))
    end = start + len(value_text)
    inner = _single_code_span(value_text)
    backticked = inner is not None
    if inner is not None:
        inner_start, inner_end = inner
        start, end = start + inner_start, start + inner_end
    value = text[start:end]
    return Field(
        name=name,
        key=_WHITESPACE.sub(" ", name).strip().casefold(),
        value=value,
        line=line,
        value_start=start,
        value_end=end,
        backticked=backticked,
        placeholder=len(value) >= 2 and value.startswith("[") and value.endswith("]"),
    )


def _single_code_span(value: str) -> tuple[int, int] | None:
    """Offsets of the stripped content when `value` is exactly one code span (`` `x` ``)."""
    runs = list(_BACKTICK_RUN.finditer(value))
    if len(runs) < 2 or runs[0].start() != 0 or runs[-1].end() != len(value):
        return None
    width = len(runs[0].group())
    if len(runs[-1].group()) != width or any(len(run.group()) == width for run in runs[1:-1]):
        return None
    start, end = width, len(value) - width
    while start < end and value[start] == " ":
        start += 1
    while end > start and value[end - 1] == " ":
        end -= 1
    return start, end


def _first_field(fields: Sequence[Field], *keys: str) -> Field | None:
    return next((field for field in fields if field.key in keys), None)


def _value_or_none(field: Field | None) -> str | None:
    if field is None or field.placeholder or not field.value:
        return None
    return field.value


def _components(field: Field | None) -> tuple[str, ...]:
    value = _value_or_none(field)
    if value is None:
        return ()
    parts = (part.strip("`") for part in _COMPONENT_SEPARATORS.split(value))
    return tuple(part for part in parts if part)


def _title(headings: Sequence[Heading], fields: Sequence[Field]) -> tuple[str | None, int | None]:
    h1 = next((heading for heading in headings if heading.level == 1), None)
    if h1 is not None:
        prefix = _TITLE_PREFIX.match(h1.text)
        if prefix is not None:
            title = h1.text[prefix.end() :].strip()
            placeholder = title.startswith("[") and title.endswith("]")
            return (None, None) if placeholder or not title else (title, h1.line)
    field = _first_field(fields, "task title")
    if _value_or_none(field) is not None:
        assert field is not None
        return field.value, field.line
    if h1 is not None and not h1.name.startswith("engineering task template"):
        return h1.text, h1.line
    return None, None


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True, slots=True)
class _ListItem:
    """A top-level list item of a Test Steps section."""

    list_span: Span
    index: int
    span: Span


def _lists_in(tokens: Sequence[Token], span: Span | None = None) -> Iterator[tuple[int, int]]:
    """(open index, close index) of each outermost list (starting inside `span`, if given)."""
    depth = 0
    opened = 0
    for index, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            if depth == 0:
                opened = index
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
            if depth == 0:
                opening = tokens[opened].map
                if opening is not None and (span is None or span.start <= opening[0] < span.end):
                    yield opened, index


def _items_of(tokens: Sequence[Token], opened: int, closed: int) -> list[Span]:
    level = tokens[opened].level + 1
    return [
        Span(*token.map)
        for token in tokens[opened:closed]
        if token.type == "list_item_open" and token.level == level and token.map is not None
    ]


def _run_section_items(tokens: Sequence[Token], outline: _Outline) -> list[_ListItem]:
    """Top-level items of the lists in sections that run (Test Steps, validation, pre)."""
    items: list[_ListItem] = []
    for opened, closed in _lists_in(tokens):
        opening = tokens[opened].map
        assert opening is not None
        if outline.section_kind(opening[0]) not in RUN_SECTION_KINDS:
            continue
        list_span = Span(*opening)
        for index, span in enumerate(_items_of(tokens, opened, closed)):
            items.append(_ListItem(list_span, index, span))
    return items


class _AllItems:
    """Every list item of the file (any depth), to name what a person reads as a step's title:
    its bold title (`1. **Check the replica**`), or a checklist item's text (`- [ ] …`).

    Items nest, so the items holding a line are the last item starting at or before it and
    that item's chain of parents, found by bisection (a long file has thousands of items)."""

    __slots__ = ("_lines", "_parents", "_spans", "_starts")

    def __init__(self, tokens: Sequence[Token], lines: Sequence[str]) -> None:
        self._lines = lines
        self._spans = sorted(
            (Span(*token.map) for token in tokens if token.type == "list_item_open" and token.map),
            key=lambda span: (span.start, -span.end),
        )
        self._starts = [span.start for span in self._spans]
        self._parents: list[int | None] = []
        open_items: list[int] = []
        for index, span in enumerate(self._spans):
            while open_items and not span.start < self._spans[open_items[-1]].end:
                open_items.pop()
            self._parents.append(open_items[-1] if open_items else None)
            open_items.append(index)

    def holding(self, line: int) -> list[Span]:
        """The items holding `line`, innermost first."""
        found: list[Span] = []
        index: int | None = bisect_right(self._starts, line) - 1
        while index is not None and index >= 0:
            span = self._spans[index]
            if span.start <= line < span.end:
                found.append(span)
            index = self._parents[index]
        return found

    def text(self, span: Span) -> tuple[str, bool]:
        """(the item's first line without marker and checkbox, is a checklist item)."""
        text = _LIST_MARKER.sub("", self._lines[span.start], count=1)
        checklist = _CHECKBOX.match(text) is not None
        return _CHECKBOX.sub("", text, count=1).strip(), checklist

    def title(self, line: int, outline: _Outline) -> str | None:
        """The label a person reads for the command at `line`: an item's bold title, else a
        `Step N:` heading, else a checklist item's text (up to the command span, if inline).
        Generic lead-ins (`**Action:**`) are no title."""
        holding = self.holding(line)
        for span in holding:
            text, _ = self.text(span)
            bold = _ITEM_TITLE.match(text)
            if bold is not None:
                title = display_name(bold.group("title"))
                if title and not is_lead_in(title):
                    return title
        step = outline.step_title(line)
        if step:
            return step
        for span in holding:
            text, checklist = self.text(span)
            if not checklist:
                continue
            text = text.split("`", 1)[0]  # an inline command's text stops at its span
            title = text.strip().rstrip(":").strip()
            if title and not is_lead_in(title):
                return title
        return None


def _item_at(items: Sequence[_ListItem], line: int) -> _ListItem | None:
    """The item holding `line`; `items` are top-level items in file order (they never
    overlap), so a bisection finds it."""
    at = bisect_right(items, line, key=lambda item: item.span.start) - 1
    if at >= 0 and items[at].span.start <= line < items[at].span.end:
        return items[at]
    return None


def _must_pass_items(
    tokens: Sequence[Token], lines: Sequence[str], outline: _Outline
) -> tuple[MustPassItem, ...]:
    heading = outline.first(*MUST_PASS_NAMES)
    if heading is None:
        return ()
    found: list[MustPassItem] = []
    for opened, closed in _lists_in(tokens, heading.section):
        for item in _items_of(tokens, opened, closed):
            match = _FIELD.match(lines[item.start])
            if match is not None:
                description = match.group("rest").strip()
                found.append(MustPassItem(match.group("name"), description, item.start))
        break  # only the first list of the section
    return tuple(found)


def _change_log(
    tokens: Sequence[Token], lines: Sequence[str], outline: _Outline
) -> ChangeLog | None:
    status = outline.first("status tracking")
    if status is None:
        return None
    heading = outline.first("change log", within=status.section)
    if heading is None:
        return None
    span = Span(heading.line, min(heading.section.end, status.section.end))
    items: tuple[ChangeLogItem, ...] = ()
    for opened, closed in _lists_in(tokens, span):
        items = tuple(
            ChangeLogItem(item.start, lines[item.start])
            for item in _items_of(tokens, opened, closed)
        )
        break  # only the first list of the section
    return ChangeLog(heading.line, items, span)


# --------------------------------------------------------------------------- sections of a task


def _test_case(fields: Sequence[Field], outline: _Outline) -> TestCase | None:
    def in_validation(field: Field) -> bool:
        return any(
            heading.name in ("validation criteria", "validation test", "test case")
            for heading in outline.enclosing(field.line)
        )

    candidates = [field for field in fields if in_validation(field)]
    description = _first_field(candidates, "description", "test description")
    expected = _first_field(candidates, "expected result", "expected results")
    present = [field for field in (description, expected) if field is not None]
    if not present:
        return None
    return TestCase(
        description=_value_or_none(description),
        expected_result=_value_or_none(expected),
        line=min(field.line for field in present),
    )


def _status_section(
    tokens: Sequence[Token],
    lines: Sequence[str],
    outline: _Outline,
    fields: Sequence[Field],
    change_log: ChangeLog | None,
    evidence: EvidenceBlock | None,
) -> StatusSection | None:
    heading = outline.first("status tracking")
    if heading is None:
        return None
    span = heading.section
    own = change_log.span if change_log is not None else Span(0, 0)
    status_fields = tuple(
        field
        for field in fields
        if span.start <= field.line < span.end and not own.start <= field.line < own.end
    )
    return StatusSection(heading.line, span, status_fields, change_log, evidence)


def _evidence_block(
    tokens: Sequence[Token], lines: Sequence[str], status: Heading | None, path: str
) -> EvidenceBlock | None:
    starts: list[int] = []
    ends: list[int] = []
    for token in tokens:
        if token.type == "html_block" and token.map is not None:
            for line in range(*token.map):
                marker = lines[line].strip()
                if marker == EVIDENCE_START:
                    starts.append(line)
                elif marker == EVIDENCE_END:
                    ends.append(line)
    if not starts and not ends:
        return None
    first = min(starts + ends)
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise InputError(
            f"the evidence markers {EVIDENCE_START} … {EVIDENCE_END} must appear once each, "
            "in that order",
            path=path,
            line=first + 1,
        )
    start, end = starts[0], ends[0]
    # A file with a Status Tracking section keeps its evidence there; one without keeps it at
    # the end of the validation section it ran (the `**Status**:` field write-back).
    if status is not None and not status.section.start <= start < status.section.end:
        raise InputError(
            "the evidence block must sit inside the Status Tracking section",
            path=path,
            line=start + 1,
        )
    body = lines[start + 1 : end]
    matches = (CHECKSUM_PATTERN.match(line.strip()) for line in body)
    recorded = next((match.group(1) for match in matches if match), None)
    return EvidenceBlock(start, end, recorded, body_checksum(body))


# --------------------------------------------------------------------------- code


def _code_blocks(
    tokens: Sequence[Token],
    lines: Sequence[str],
    outline: _Outline,
    items: Sequence[_ListItem],
    all_items: _AllItems,
) -> Iterator[CodeBlock]:
    for index, token in enumerate(tokens):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        span = Span(*token.map)
        if token.type == "fence":
            opening = lines[span.start]
            column = opening.find(token.markup)
            info = opening[column + len(token.markup) :].strip() if column >= 0 else token.info
            words = info.split("{", 1)[0].split()
            lang = words[0].casefold() if words else ""
            body = _fence_body(token.content)
            indent = _fence_indent(opening[: max(column, 0)])
            body_start = span.start + 1
            # The body is every line but the opening fence, and the closing one when present.
            closed = span.end - span.start - 1 - len(body) == 1
        else:
            info, lang, body_start, closed = "", "", span.start, True
            body = _fence_body(token.content)
            indent = _fence_indent(lines[span.start][: _indent_width(lines[span.start])])
        placement = outline.placement(span.start)
        if placement.kind in RUN_SECTION_KINDS:
            placement = _with_surroundings(
                placement, tokens, index, lines, outline, all_items, body_start
            )
        section = placement.kind
        item = _item_at(items, span.start) if section == "test-steps" else None
        yield CodeBlock(
            info=info,
            lang=lang,
            runnable=lang in RUNNABLE_LANGS,
            section=section,
            span=span,
            body_start=body_start,
            body=body,
            indent=indent,
            closed=closed,
            list_item=None if item is None else item.index,
            placement=placement,
            indented=token.type == "code_block",
        )


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _with_surroundings(
    placement: Placement,
    tokens: Sequence[Token],
    index: int,
    lines: Sequence[str],
    outline: _Outline,
    all_items: _AllItems,
    body_start: int,
) -> Placement:
    """A block's title, the output label just above it and the expectation just after it."""
    level = tokens[index].level
    output_label = None
    before = _previous_block(tokens, index, level)
    if before is not None and is_output_label(before):
        output_label = display_name(before)
    expected, expected_line = _expected_after(tokens, index, level, lines)
    return replace(
        placement,
        title=all_items.title(body_start, outline),
        output_label=output_label,
        expected_prose=expected,
        expected_line=expected_line,
    )


def _previous_block(tokens: Sequence[Token], index: int, level: int) -> str | None:
    """The text of the paragraph or heading right before the block at `index`, same level."""
    if index < 2:
        return None
    closing = tokens[index - 1]
    if closing.level != level or closing.type not in ("paragraph_close", "heading_close"):
        return None
    inline = tokens[index - 2]
    return inline.content if inline.type == "inline" else None


def _expected_after(
    tokens: Sequence[Token], index: int, level: int, lines: Sequence[str]
) -> tuple[str | None, int | None]:
    """`**Expected:** …` / `Expected: …` / `(Expected: …)` in the paragraph right after."""
    if index + 2 >= len(tokens):
        return None, None
    opening = tokens[index + 1]
    if opening.type != "paragraph_open" or opening.level != level or opening.map is None:
        return None, None
    found = _EXPECTED_PARAGRAPH.match(lines[opening.map[0]])
    if found is None:
        return None, None
    rest = [found.group("rest")] + [
        line.strip() for line in lines[opening.map[0] + 1 : opening.map[1]]
    ]
    text = " ".join(part for part in rest if part).strip()
    if lines[opening.map[0]].lstrip(" \t>").startswith("("):
        text = text.rstrip(".").rstrip()
        text = text[:-1].rstrip() if text.endswith(")") else text
    return (text or None), opening.map[0]


def _fence_body(content: str) -> tuple[str, ...]:
    """markdown-it's body (container indent and `> ` already removed), one entry per line."""
    if not content:
        return ()
    return tuple(content.removesuffix("\n").split("\n"))


def _fence_indent(prefix: str) -> int:
    """Columns before the fence marker, not counting blockquote markers (`> `)."""
    marker = prefix.rfind(">")
    if marker >= 0:
        prefix = prefix[marker + 1 :]
        prefix = prefix[1:] if prefix.startswith(" ") else prefix
    return len(prefix.expandtabs(4))


# --------------------------------------------------------------------------- inline commands


def _inline_children(token: Token, env: dict[str, object]) -> list[Token]:
    """The inline tokens of a paragraph, as a full markdown-it parse gives them."""
    if not token.children:
        state = rules_core.StateCore("", _INLINE_MARKDOWN, env)
        state.tokens = [token]
        rules_core.inline(state)
        rules_core.text_join(state)
    return token.children or []


def _inline_commands(
    tokens: Sequence[Token],
    lines: Sequence[str],
    items: Sequence[_ListItem],
    all_items: _AllItems,
    outline: _Outline,
    env: dict[str, object],
) -> tuple[tuple[InlineCommand, ...], tuple[MissingCommand, ...]]:
    """Commands written as one code span in a list item of a section that runs, and the
    steps that state an expectation but whose command cannot be found."""
    fenced = {
        item
        for token in tokens
        if token.type in ("fence", "code_block") and token.map is not None
        if (item := _item_at(items, token.map[0])) is not None
    }
    taken: set[_ListItem] = set()
    commands: list[InlineCommand] = []
    missing: dict[_ListItem, MissingCommand] = {}
    for paragraph in _paragraph_inlines(tokens):
        assert paragraph.map is not None
        item = _item_at(items, paragraph.map[0])
        if item is None or item in fenced or item in taken:
            continue
        found = _command_in(paragraph, _inline_children(paragraph, env))
        if found is None:
            continue
        placement = outline.placement(paragraph.map[0])
        if isinstance(found, int):
            text = " ".join(lines[found].split())
            shown = text if len(text) <= 80 else text[:79] + "…"
            missing.setdefault(item, MissingCommand(found, shown, placement.section))
            continue
        taken.add(item)
        command, line, expected, expected_text, expected_exit = found
        placement = replace(placement, title=all_items.title(line, outline))
        commands.append(
            InlineCommand(
                command,
                line,
                expected,
                expected_text,
                item.list_span,
                item.index,
                placement=placement,
                expected_exit=expected_exit,
            )
        )
    return tuple(commands), tuple(m for item, m in missing.items() if item not in taken)


_Found = tuple[str, int, str | None, str | None, int | None]


def _command_in(paragraph: Token, children: Sequence[Token]) -> _Found | int | None:
    """The command of a step: the code span before its `(Expected: …)`, wherever it sits in
    the paragraph, else the first span that is a whole command at a line start or after a
    colon. Returns (command, line, expected stdout line, expectation prose, expected exit
    status), or the paragraph's line when it states an expectation but holds no command."""
    assert paragraph.map is not None
    line = paragraph.map[0]
    spans: list[tuple[Token, int, int]] = []  # (span, line, position among children)
    text_parts: list[str] = []
    for position, child in enumerate(children):
        if child.type in ("softbreak", "hardbreak"):
            line += 1
            text_parts.append(" ")
        elif child.type == "code_inline":
            spans.append((child, line, position))
            text_parts.append(_CODE_MARK)
        else:
            text_parts.append(child.content.replace(_CODE_MARK, ""))
    text = "".join(text_parts)
    opening = _EXPECTED_OPENING.search(text)
    if opening is not None:
        before = text[: opening.start()].count(_CODE_MARK)
        if before == 0 or not _plausible_command(spans[before - 1][0].content):
            return paragraph.map[0]
        span, span_line, position = spans[before - 1]
        expected, prose, exit_status = _expectation_after(children[position + 1 :])
        return span.content.strip(), span_line, expected, prose, exit_status
    for span, span_line, position in spans:
        if _starts_a_line_or_follows_colon(children[:position]) and looks_like_command(
            span.content
        ):
            return span.content.strip(), span_line, None, None, None
    return None


# Status words are answers, not programs: `Service is `active` (Expected: …)`.
_NOT_PROGRAMS = frozenset(
    {"active", "inactive", "enabled", "disabled", "running", "true", "false", "yes", "no"}
    | {"ok", "none", "null", "failed", "healthy", "up", "down", "on", "off"}
)


def _plausible_command(span: str) -> bool:
    """A whole command, or one program-like word (`hostname`, `./check.sh`)."""
    words = span.split()
    if len(words) == 1:
        word = words[0]
        return _PROGRAM_WORD.match(word) is not None and word.casefold() not in _NOT_PROGRAMS
    return looks_like_command(span)


def _starts_a_line_or_follows_colon(before: Sequence[Token]) -> bool:
    """Commands are written `Step: `cmd`` or on a line of their own; prose mentions are not."""
    for token in reversed(before):
        if token.type in ("softbreak", "hardbreak"):
            return True
        if token.type != "text":
            return False
        if token.content.strip():
            return token.content.rstrip().endswith(":")
    return True


def looks_like_command(span: str) -> bool:
    """A whole command: at least two words, the first (after `NAME=value` ones) program-like.

    Single identifiers (`ExecStart`), file names (`main.py`), paths and endpoints (`/v1/models`)
    and capitalised words are not commands.
    """
    words = span.split()
    program = next((word for word in words if not _ENV_ASSIGNMENT.match(word)), None)
    return len(words) >= 2 and program is not None and _PROGRAM_WORD.match(program) is not None


def _expectation_after(
    children: Sequence[Token],
) -> tuple[str | None, str | None, int | None]:
    """(`X`, prose, exit status) for a later `(Expected: …)` in the same paragraph: `X` when the
    parenthesis holds nothing but one code span (a stdout line, DESIGN §2), the exit status
    when it says `exit 0`, `exit status 0`, `exit code 0` or `returns 0`."""
    prose: list[str] = []
    spans: list[Token] = []
    for child in children:
        if child.type == "code_inline":
            prose.append(_CODE_MARK)
            spans.append(child)
        elif child.type in ("softbreak", "hardbreak"):
            prose.append(" ")
        else:
            prose.append(child.content.replace(_CODE_MARK, ""))
    text = "".join(prose)
    opening = _EXPECTED_OPENING.search(text)
    if opening is None:
        return None, None, None
    close = _matching_parenthesis(text, opening.start())
    label_end = opening.end()
    answer = text[label_end:close].strip()
    spans_before = text[: opening.start()].count(_CODE_MARK)
    first = spans_before + text[opening.start() : label_end].count(_CODE_MARK)
    prose_text = _restore_spans(answer, spans[first:])
    plain = _restore_spans(answer, spans[first:], markup=False)
    exit_status = exit_status_expectation(plain)
    if exit_status is not None:
        return None, prose_text, exit_status
    if answer == _CODE_MARK:
        return spans[first].content, prose_text, None
    return None, prose_text, None


_EXIT_PHRASE = re.compile(
    r"^(?:exits?(?:\s+with)?(?:\s+(?:status|code))?|exit\s+(?:status|code)|returns?"
    r"(?:\s+exit\s+(?:status|code))?)\s*:?\s*(?P<code>\d{1,3})\.?$",
    re.IGNORECASE,
)


def exit_status_expectation(text: str) -> int | None:
    """`exit 0`, `exit status 0`, `exit code 0`, `returns 0` (code spans unwrapped) → 0."""
    found = _EXIT_PHRASE.match(" ".join(text.replace("`", " ").split()))
    if found is None:
        return None
    code = int(found.group("code"))
    return code if code <= 255 else None


def _matching_parenthesis(text: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _restore_spans(text: str, spans: Sequence[Token], *, markup: bool = True) -> str:
    pieces = text.split(_CODE_MARK)
    out = [pieces[0]]
    for span, piece in zip(spans, pieces[1:], strict=False):
        tick = span.markup if markup else ""
        out.append(f"{tick}{span.content}{tick}{piece}")
    return "".join(out)
