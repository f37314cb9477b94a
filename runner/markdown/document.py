"""Parse a task file's bytes into a `TaskDocument`.

markdown-it locates things; text comes from the original lines (0-based indices everywhere).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

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
from runner.models import (
    ChangeLog,
    ChangeLogItem,
    CodeBlock,
    EvidenceBlock,
    Field,
    Heading,
    InlineCommand,
    MustPassItem,
    SectionKind,
    Span,
    StatusSection,
    TaskDocument,
    TestCase,
)

RUNNABLE_LANGS = frozenset({"bash", "sh", "shell", "console", ""})
TEMPLATE_SECTION_NAMES = frozenset({"validation criteria", "validation test", "status tracking"})
EXECUTION_SECTION_NAMES = frozenset({"execution plan", "execution steps", "implementation steps"})
VALIDATION_SECTION_NAMES = frozenset({"validation criteria", "validation test"})

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
_TITLE_PREFIX = re.compile(r"^\W*engineering task\s*:\s*", re.IGNORECASE)
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


def parse_document(data: bytes, path: str) -> TaskDocument:
    """Parse a task file (or any Markdown file) into a `TaskDocument`.

    Raises InputError when the bytes are not UTF-8 text or the evidence markers are broken.
    """
    key = bytes(data)
    doc = _RECENT.get(key)
    if doc is None:
        doc = _parse_bytes(key, path)
        _RECENT[key] = doc
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    else:
        _RECENT.move_to_end(key)
    return doc if doc.path == path else replace(doc, path=path)


# One validate run parses the same bytes up to three times (discovery, the run's snapshot, the
# write-back's re-read under the lock): seconds for a 10 MB file. A document is immutable and a
# function of the bytes alone (the path is only carried along), so the last few are reused.
# Failures are not kept: an InputError always names the path it was asked about.
_RECENT_SIZE = 4
_RECENT: OrderedDict[bytes, TaskDocument] = OrderedDict()


def _parse_bytes(data: bytes, path: str) -> TaskDocument:
    text, has_bom = decode_task_bytes(data, path)
    lines, endings = split_lines(text)
    # markdown-it must count exactly our lines, so every line gets one "\n" (CR and CRLF gone).
    env: dict[str, object] = {}
    tokens = _MARKDOWN.parse("".join(line + "\n" for line in lines), env)
    headings = _headings(tokens, len(lines))
    outline = _Outline(headings)
    must_pass = _must_pass_items(tokens, lines, outline)
    change_log = _change_log(tokens, lines, outline)
    skipped = {item.line for item in must_pass}
    if change_log is not None:
        skipped.update(range(change_log.span.start, change_log.span.end))
    fields = tuple(_fields(tokens, lines, skipped))
    list_items = _test_steps_items(tokens, outline)
    task_id_field = _first_field(fields, "task id")
    component_field = _first_field(fields, "component", "components")
    title, title_line = _title(headings, fields)
    return TaskDocument(
        path=path,
        text=text,
        lines=lines,
        endings=endings,
        has_bom=has_bom,
        is_task=task_id_field is not None
        and any(heading.name in TEMPLATE_SECTION_NAMES for heading in headings),
        task_id=_value_or_none(task_id_field),
        task_id_line=None if task_id_field is None else task_id_field.line,
        title=title,
        title_line=title_line,
        components=_components(component_field),
        component_line=None if component_field is None else component_field.line,
        headings=headings,
        fields=fields,
        must_pass=must_pass,
        test_case=_test_case(fields, outline),
        code_blocks=tuple(_code_blocks(tokens, lines, outline, list_items)),
        inline_commands=tuple(_inline_commands(tokens, list_items, env)),
        status=_status_section(tokens, lines, outline, fields, change_log, path),
    )


# --------------------------------------------------------------------------- headings, sections


def _headings(tokens: Sequence[Token], line_count: int) -> tuple[Heading, ...]:
    found: list[tuple[int, str, int]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            found.append((int(token.tag[1:]), tokens[index + 1].content, token.map[0]))
    headings = []
    for position, (level, text, line) in enumerate(found):
        end = next(
            (later for later_level, _, later in found[position + 1 :] if later_level <= level),
            line_count,
        )
        headings.append(Heading(level, text, heading_name(text), line, Span(line, end)))
    return tuple(headings)


def heading_name(text: str) -> str:
    """`🏗️ Infrastructure Context` → `infrastructure context` (emoji, VS16, spaces dropped)."""
    return _WHITESPACE.sub(" ", _LEADING_NON_WORD.sub("", text)).strip().casefold()


def _section_kind_of(name: str) -> SectionKind | None:
    if name == "test commands":
        return "test-commands"
    if name == "test steps":
        return "test-steps"
    if name in EXECUTION_SECTION_NAMES or name.startswith("step 0"):
        return "execution"
    if name == "status tracking":
        return "status"
    if name in VALIDATION_SECTION_NAMES:
        return "validation"
    return None


class _Outline:
    """Which headings enclose a line, innermost first.

    A line's enclosing headings are the last heading at or above it and that heading's chain of
    parents (each the last earlier heading of a smaller level), found by bisection: a long file
    has thousands of headings and every fence and list asks.
    """

    __slots__ = ("_lines", "_parents", "headings")

    def __init__(self, headings: tuple[Heading, ...]) -> None:
        self.headings = headings
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

    def section_kind(self, line: int) -> SectionKind:
        for heading in self.enclosing(line):
            kind = _section_kind_of(heading.name)
            if kind is not None:
                return kind
        return "other"

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


def _test_steps_items(tokens: Sequence[Token], outline: _Outline) -> list[_ListItem]:
    items: list[_ListItem] = []
    for opened, closed in _lists_in(tokens):
        opening = tokens[opened].map
        assert opening is not None
        if outline.section_kind(opening[0]) != "test-steps":
            continue
        list_span = Span(*opening)
        for index, span in enumerate(_items_of(tokens, opened, closed)):
            items.append(_ListItem(list_span, index, span))
    return items


def _item_at(items: Sequence[_ListItem], line: int) -> _ListItem | None:
    return next((item for item in items if item.span.start <= line < item.span.end), None)


def _must_pass_items(
    tokens: Sequence[Token], lines: Sequence[str], outline: _Outline
) -> tuple[MustPassItem, ...]:
    heading = outline.first(
        "must-pass validations", "must-pass validation", "must pass validations"
    )
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
            heading.name in VALIDATION_SECTION_NAMES or heading.name == "test case"
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
    path: str,
) -> StatusSection | None:
    heading = outline.first("status tracking")
    evidence = _evidence_block(tokens, lines, heading, path)
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
    if status is None or not status.section.start <= start < status.section.end:
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
) -> Iterator[CodeBlock]:
    for token in tokens:
        if token.type != "fence" or token.map is None:
            continue
        span = Span(*token.map)
        opening = lines[span.start]
        column = opening.find(token.markup)
        info = opening[column + len(token.markup) :].strip() if column >= 0 else token.info
        words = info.split("{", 1)[0].split()
        lang = words[0].casefold() if words else ""
        body = _fence_body(token.content)
        section = outline.section_kind(span.start)
        item = _item_at(items, span.start) if section == "test-steps" else None
        yield CodeBlock(
            info=info,
            lang=lang,
            runnable=lang in RUNNABLE_LANGS,
            section=section,
            span=span,
            body_start=span.start + 1,
            body=body,
            indent=_fence_indent(opening[: max(column, 0)]),
            # The body is every line but the opening fence, and the closing one when present.
            closed=span.end - span.start - 1 - len(body) == 1,
            list_item=None if item is None else item.index,
        )


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
    tokens: Sequence[Token], items: Sequence[_ListItem], env: dict[str, object]
) -> Iterator[InlineCommand]:
    fenced = {
        item
        for token in tokens
        if token.type == "fence" and token.map is not None
        for item in items
        if item.span.start <= token.map[0] < item.span.end
    }
    taken: set[_ListItem] = set()
    for paragraph in _paragraph_inlines(tokens):
        assert paragraph.map is not None
        item = _item_at(items, paragraph.map[0])
        if item is None or item in fenced or item in taken:
            continue
        found = _command_in(paragraph, _inline_children(paragraph, env))
        if found is not None:
            command, line, expected, expected_text = found
            taken.add(item)
            yield InlineCommand(command, line, expected, expected_text, item.list_span, item.index)


def _command_in(
    paragraph: Token, children: Sequence[Token]
) -> tuple[str, int, str | None, str | None] | None:
    """The first code span of a paragraph that is a whole command, with its `(Expected: …)`."""
    assert paragraph.map is not None
    line = paragraph.map[0]
    for position, child in enumerate(children):
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        elif (
            child.type == "code_inline"
            and _starts_a_line_or_follows_colon(children[:position])
            and looks_like_command(child.content)
        ):
            expected, expected_text = _expectation_after(children[position + 1 :])
            return child.content.strip(), line, expected, expected_text
    return None


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


def _expectation_after(children: Sequence[Token]) -> tuple[str | None, str | None]:
    """(`X`, prose) for a later `(Expected: `X`)` in the same paragraph; `X` only when the
    parenthesis holds nothing but that one code span."""
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
        return None, None
    close = _matching_parenthesis(text, opening.start())
    label_end = opening.end()
    answer = text[label_end:close].strip()
    spans_before = text[: opening.start()].count(_CODE_MARK)
    expected = None
    if answer == _CODE_MARK:
        expected = spans[spans_before + text[opening.start() : label_end].count(_CODE_MARK)].content
    inside = text[opening.start() + 1 : close].strip()
    return expected, _restore_spans(inside, spans[spans_before:])


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


def _restore_spans(text: str, spans: Sequence[Token]) -> str:
    pieces = text.split(_CODE_MARK)
    out = [pieces[0]]
    for span, piece in zip(spans, pieces[1:], strict=False):
        out.append(f"{span.markup}{span.content}{span.markup}{piece}")
    return "".join(out)
