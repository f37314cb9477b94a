"""YAML for taskrun's own files (inventory, taskrun.yaml, playbooks): decode, compose to nodes
that keep their lines, and construct plain values safely. Every failure is an InputError
`path(line): …` on one line.

Aliases are allowed (Ansible inventories use them) but bounded, because the loaders walk nodes
as trees: an alias inside the node it names is refused, and so is a document whose aliases
stand for more than `MAX_ALIASED_NODES` values in all (an alias bomb). Nesting deeper than
`MAX_DEPTH` is refused before Python's recursion limit is reached.
"""

from __future__ import annotations

import re

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor

from runner.errors import InputError

__all__ = [
    "MAX_ALIASED_NODES",
    "MAX_DEPTH",
    "compose_yaml",
    "construct_value",
    "decode_yaml",
    "is_null",
    "node_line",
]

MAX_DEPTH = 100
MAX_ALIASED_NODES = 1_000_000
UTF8_BOM = b"\xef\xbb\xbf"
NULL_TAG = "tag:yaml.org,2002:null"
# The line breaks PyYAML counts in its marks; lines computed here must agree with them.
_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def decode_yaml(data: bytes, *, path: str) -> str:
    """UTF-8 text without its BOM; bad UTF-8 names the line and the byte offset."""
    # The BOM is cut here, not by the codec: "utf-8-sig" counts error offsets after it.
    bom = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[bom : bom + exc.start].decode("utf-8")
        offset = bom + exc.start
        raise InputError(
            f"not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})",
            path=path,
            line=_line_at(head, len(head)),
        ) from None


def compose_yaml(text: str, *, path: str) -> yaml.Node | None:
    """The single document of `text` as nodes (None when empty)."""
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, path) from None
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc, path) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {_one_line(str(exc))}", path=path, line=1) from None
    except RecursionError:
        raise InputError("not valid YAML: nested too deeply", path=path, line=1) from None
    finally:
        loader.dispose()


def construct_value(node: yaml.Node, *, path: str, where: str | None = None) -> object:
    """The plain Python value of `node` (safe tags only); a value its tag cannot take, such as
    `!!int abc`, is an InputError at the line of the offending node."""
    try:
        return _SafeValues().construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else node_line(node)
        problem = _one_line(exc.problem or exc.context or "cannot read this value")
        message = f"{where}: {problem}" if where else problem
        raise InputError(message, path=path, line=line) from None


def node_line(node: yaml.Node) -> int:
    """The 1-based line where `node` starts."""
    return node.start_mark.line + 1


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


# --------------------------------------------------------------------------- internals


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses recursive aliases, alias bombs and deep nesting."""

    def __init__(self, text: str):
        super().__init__(text)
        self._open_anchors: set[str] = set()
        self._anchor_sizes: dict[str, int] = {}
        self._composed = 0  # nodes so far, an alias counting as the nodes it stands for
        self._aliased = 0  # the part of that which aliases stand for
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            return self._compose_alias(parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        anchor = event.anchor
        before = self._composed
        self._composed += 1
        if anchor is None:
            node = super().compose_node(parent, index)
        else:
            self._open_anchors.add(anchor)
            node = super().compose_node(parent, index)
            self._open_anchors.discard(anchor)
            self._anchor_sizes[anchor] = self._composed - before
        self._depth -= 1
        return node

    def _compose_alias(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if event.anchor in self._open_anchors:
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} is inside the node it names (a recursive alias)",
                event.start_mark,
            )
        node = super().compose_node(parent, index)
        size = self._anchor_sizes.get(event.anchor, 1)
        self._composed += size
        self._aliased += size
        if self._aliased > MAX_ALIASED_NODES:
            raise ComposerError(
                None,
                None,
                f"aliases stand for more than {MAX_ALIASED_NODES:,} values in all (an alias bomb)",
                event.start_mark,
            )
        return node


class _SafeValues(SafeConstructor):
    """SafeConstructor whose failures are ConstructorErrors at the failing node's mark."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError):
            shown = node.value if isinstance(node, yaml.ScalarNode) else "this value"
            problem = f"not a valid {_short_tag(node.tag)} value: {_shorten(shown)!r}"
            raise ConstructorError(None, None, problem, node.start_mark) from None

    def construct_unsupported(self, node: yaml.Node) -> object:
        problem = f"the tag {_short_tag(node.tag)} is not supported"
        raise ConstructorError(None, None, problem, node.start_mark)


_SafeValues.add_constructor(None, _SafeValues.construct_unsupported)


def _reader_error(exc: yaml.reader.ReaderError, text: str, path: str) -> InputError:
    character = exc.character
    code = ord(character) if isinstance(character, str) else int(character)
    return InputError(
        f"not valid YAML: special character #x{code:04x} is not allowed",
        path=path,
        line=_line_at(text, exc.position),
    )


def _marked_error(exc: yaml.MarkedYAMLError, path: str) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or exc.context or "not valid YAML"
    return InputError(f"not valid YAML: {_one_line(problem)}", path=path, line=line)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


def _line_at(text: str, position: int) -> int:
    return len(_YAML_LINE_BREAK.findall(text, 0, position)) + 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
