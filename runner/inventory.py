"""The inventory: which host each component runs on (taskrun's YAML, or an Ansible YAML inventory).

Errors name the file and the 1-based line of the offending YAML node.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from runner.errors import InputError
from runner.transports.base import Target

__all__ = [
    "GLOBAL",
    "LOCAL",
    "Inventory",
    "import_ansible",
    "load_inventory",
    "parse_ansible",
    "parse_inventory",
]

GLOBAL = "global"  # every component, in inventory order
LOCAL = "local"  # this machine, no SSH
TARGET_KEYS = (
    "host",
    "port",
    "user",
    "identity",
    "known_hosts",
    "connect_timeout",
    "jump",
    "vars",
    "env",
    "secrets",
)
DEFAULT_PORT = 22
DEFAULT_CONNECT_TIMEOUT = 10.0

_COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HOST_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")


@dataclass(frozen=True, slots=True)
class Inventory:
    path: str | None
    components: dict[str, Target] = field(default_factory=dict)  # inventory order
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group → components

    def resolve(self, names: Sequence[str]) -> tuple[list[Target], list[str]]:
        """Targets for `names` (components, groups, `global`, `local`), in order, deduplicated;
        names the inventory does not know are returned separately."""
        targets: dict[str, Target] = {}
        unknown: list[str] = []
        for name in names:
            members = self._expand(name)
            if members is None:
                if name not in unknown:
                    unknown.append(name)
                continue
            for target in members:
                targets.setdefault(target.component, target)
        return list(targets.values()), unknown

    def _expand(self, name: str) -> list[Target] | None:
        if name in self.components:
            return [self.components[name]]
        if name.casefold() == GLOBAL:
            return list(self.components.values())
        if name in self.groups:
            return [self.components[member] for member in self.groups[name]]
        if name.casefold() == LOCAL:
            return [Target(component=LOCAL, host=LOCAL)]
        return None


# --------------------------------------------------------------------------- loading


def load_inventory(path: Path, *, required: bool = True, home: Path | None = None) -> Inventory:
    """Read an inventory file; the Ansible format is recognised by its top-level `all:`.

    A missing file is an InputError when `required` (it was asked for explicitly), otherwise
    an empty inventory.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        if required:
            raise InputError("inventory file not found", path=str(path)) from None
        return Inventory(path=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read inventory: {exc}", path=str(path)) from exc
    home = home if home is not None else Path.home()
    root = _compose(text, str(path))
    if _looks_like_ansible(root):
        return parse_ansible(text, path=str(path), base=path.parent, home=home)
    return parse_inventory(text, path=str(path), base=path.parent, home=home)


def import_ansible(path: Path, *, home: Path | None = None) -> Inventory:
    """Read an Ansible YAML inventory: hosts become components, groups usable names."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read inventory: {exc}", path=str(path)) from exc
    home = home if home is not None else Path.home()
    return parse_ansible(text, path=str(path), base=path.parent, home=home)


def parse_inventory(text: str, *, path: str, base: Path, home: Path) -> Inventory:
    """taskrun's format: `defaults:` and `components: {name: {host, port, …}}`."""
    reader = _Reader(path=path, base=base, home=home)
    root = _compose(text, path)
    if root is None:
        raise InputError("the inventory is empty (expected `components:`)", path=path)
    top = reader.mapping(root, "inventory", allowed=("defaults", "components"))
    defaults = reader.target_fields(top["defaults"][1], "defaults") if "defaults" in top else {}
    if "components" not in top:
        raise InputError("missing `components:`", path=path, line=_line(root))
    components_node = top["components"][1]
    entries = reader.mapping(components_node, "components")
    components: dict[str, Target] = {}
    for name, (key_node, node) in entries.items():
        where = f"components.{name}"
        _check_component_name(name, where, path, key_node)
        fields = reader.target_fields(node, where) if not _is_null(node) else {}
        components[name] = _target(name, defaults, fields, where=where, path=path, node=key_node)
    _resolve_jumps(components, entries, path)
    return Inventory(path=path, components=components)


def parse_ansible(text: str, *, path: str, base: Path, home: Path) -> Inventory:
    """An Ansible YAML inventory: `all: {hosts: {h: {ansible_host …}}, children: {group: …}}`."""
    reader = _Reader(path=path, base=base, home=home)
    root = _compose(text, path)
    if root is None:
        raise InputError("the inventory is empty", path=path)
    hosts: dict[str, dict[str, object]] = {}
    groups: dict[str, list[str]] = {}
    for group, (_key, node) in reader.mapping(root, "inventory").items():
        _walk_ansible_group(
            reader, group, node, where=group, inherited={}, hosts=hosts, groups=groups
        )
    components = {name: _ansible_target(name, values, reader) for name, values in hosts.items()}
    named_groups = {
        group: tuple(members) for group, members in groups.items() if group not in components
    }
    return Inventory(path=path, components=components, groups=named_groups)


# --------------------------------------------------------------------------- taskrun format


def _target(
    name: str,
    defaults: Mapping[str, object],
    fields: Mapping[str, object],
    *,
    where: str,
    path: str,
    node: yaml.Node,
) -> Target:
    """Component fields over defaults; `vars` merge key by key, `env`/`secrets` add up."""
    merged: dict[str, object] = {**defaults, **fields}
    host = merged.get("host")
    if not isinstance(host, str):
        message = f"{where}.host: missing (set it here or in defaults)"
        raise InputError(message, path=path, line=_line(node))
    port = merged.get("port", DEFAULT_PORT)
    timeout = merged.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    return Target(
        component=name,
        host=host,
        port=port if isinstance(port, int) else DEFAULT_PORT,
        user=_optional_str(merged.get("user")),
        identity=_optional_str(merged.get("identity")),
        known_hosts=_optional_str(merged.get("known_hosts")),
        connect_timeout=float(timeout) if isinstance(timeout, int | float) else 10.0,
        jump=_optional_str(merged.get("jump")),
        vars={**_as_dict(defaults.get("vars")), **_as_dict(fields.get("vars"))},
        env=_joined(defaults.get("env"), fields.get("env")),
        secrets=_joined(defaults.get("secrets"), fields.get("secrets")),
    )


def _resolve_jumps(
    components: dict[str, Target], entries: Mapping[str, tuple[yaml.Node, yaml.Node]], path: str
) -> None:
    """A `jump:` naming another component becomes that component's `user@host:port`."""
    for name, target in list(components.items()):
        bastion = components.get(target.jump or "")
        if bastion is None:
            continue
        if bastion.is_local or bastion.jump:
            raise InputError(
                f"components.{name}.jump: {target.jump} must be a direct SSH host",
                path=path,
                line=_line(entries[name][0]),
            )
        who = f"{bastion.user}@" if bastion.user else ""
        host = f"[{bastion.host}]" if ":" in bastion.host else bastion.host
        components[name] = _replace(target, jump=f"{who}{host}:{bastion.port}")


def _check_component_name(name: str, where: str, path: str, node: yaml.Node) -> None:
    if name.casefold() in (GLOBAL, LOCAL):
        raise InputError(f"{where}: `{name}` is reserved", path=path, line=_line(node))
    if not _COMPONENT_NAME.match(name):
        raise InputError(
            f"{where}: a component name is letters, digits, `.`, `_` and `-`",
            path=path,
            line=_line(node),
        )


# --------------------------------------------------------------------------- Ansible format


def _walk_ansible_group(
    reader: _Reader,
    group: str,
    node: yaml.Node,
    *,
    where: str,
    inherited: Mapping[str, object],
    hosts: dict[str, dict[str, object]],
    groups: dict[str, list[str]],
) -> list[str]:
    """Collect the hosts of `group` (children included) with group vars applied; returns them."""
    members = groups.setdefault(group, [])
    if _is_null(node):
        return members
    body = reader.mapping(node, where, allowed=("hosts", "children", "vars"))
    group_vars = {**inherited}
    if "vars" in body:
        group_vars.update(reader.plain_mapping(body["vars"][1], f"{where}.vars"))
    if "hosts" in body:
        host_nodes = body["hosts"][1]
        for pattern, (key_node, host_node) in reader.optional_mapping(
            host_nodes, f"{where}.hosts"
        ).items():
            own = reader.variables(host_node, f"{where}.hosts.{pattern}")
            for name in _expand_host_pattern(pattern):
                _check_component_name(name, f"{where}.hosts.{name}", reader.path, key_node)
                hosts[name] = {**group_vars, **hosts.get(name, {}), **own}
                if name not in members:
                    members.append(name)
    if "children" in body:
        children_node = body["children"][1]
        children = reader.optional_mapping(children_node, f"{where}.children")
        for child, (_key, child_node) in children.items():
            for name in _walk_ansible_group(
                reader,
                child,
                child_node,
                where=f"{where}.children.{child}",
                inherited=group_vars,
                hosts=hosts,
                groups=groups,
            ):
                if name not in members:
                    members.append(name)
    return members


def _ansible_target(name: str, values: Mapping[str, object], reader: _Reader) -> Target:
    host = str(values.get("ansible_host", name))
    if values.get("ansible_connection") == "local":
        host = LOCAL
    port = values.get("ansible_port", values.get("ansible_ssh_port", DEFAULT_PORT))
    user = values.get("ansible_user", values.get("ansible_ssh_user"))
    identity = values.get("ansible_ssh_private_key_file")
    where = f"{name}.ansible_port"
    try:
        port_number = int(port)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected an integer", path=reader.path) from None
    plain = {key: value for key, value in values.items() if not key.startswith("ansible_")}
    return Target(
        component=name,
        host=host,
        port=port_number,
        user=str(user) if user is not None else None,
        identity=reader.local_path(str(identity)) if identity is not None else None,
        vars=plain,
    )


def _expand_host_pattern(pattern: str) -> list[str]:
    """Ansible's numeric ranges: `web[01:03]` → web01, web02, web03 (first range only nested)."""
    match = _HOST_RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end = match.group(1), match.group(2)
    width = len(start) if start.startswith("0") else 0
    head, tail = pattern[: match.start()], pattern[match.end() :]
    names: list[str] = []
    for number in range(int(start), int(end) + 1):
        names.extend(_expand_host_pattern(f"{head}{str(number).zfill(width)}{tail}"))
    return names


def _looks_like_ansible(root: yaml.Node | None) -> bool:
    if not isinstance(root, yaml.MappingNode):
        return False
    keys = {key.value for key, _value in root.value if isinstance(key, yaml.ScalarNode)}
    return "all" in keys and "components" not in keys


# --------------------------------------------------------------------------- YAML nodes


def _compose(text: str, path: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {exc.problem or exc}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=path) from None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _as_dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, Mapping) else {}


def _joined(*lists: object) -> tuple[str, ...]:
    names = [name for names in lists if isinstance(names, tuple) for name in names]
    return tuple(dict.fromkeys(names))


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _replace(target: Target, **changes: object) -> Target:
    return replace(target, **changes)  # type: ignore[arg-type]


class _Reader:
    """Typed reads of YAML nodes; every error carries the node's line."""

    def __init__(self, *, path: str, base: Path, home: Path):
        self.path = path
        self.base = base
        self.home = home
        self._constructor = yaml.SafeLoader("")

    def fail(self, where: str, message: str, node: yaml.Node) -> InputError:
        return InputError(f"{where}: {message}", path=self.path, line=_line(node))

    def mapping(
        self, node: yaml.Node, where: str, *, allowed: Sequence[str] | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(where, "expected a mapping", node)
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                raise self.fail(where, "keys must be names", key)
            name = key.value
            if name in entries:
                raise self.fail(f"{where}.{name}", "duplicate key", key)
            if allowed is not None and name not in allowed:
                expected = ", ".join(allowed)
                raise self.fail(
                    f"{where}.{name}", f"unknown key (expected one of: {expected})", key
                )
            entries[name] = (key, value)
        return entries

    def optional_mapping(
        self, node: yaml.Node, where: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        return {} if _is_null(node) else self.mapping(node, where)

    def plain_mapping(self, node: yaml.Node, where: str) -> dict[str, object]:
        """A mapping of names to plain YAML values (vars)."""
        entries = self.mapping(node, where)
        return {name: self._value(value) for name, (_key, value) in entries.items()}

    def target_fields(self, node: yaml.Node, where: str) -> dict[str, object]:
        fields: dict[str, object] = {}
        for name, (_key, value) in self.mapping(node, where, allowed=TARGET_KEYS).items():
            fields[name] = _FIELD_READERS[name](self, value, f"{where}.{name}")
        return fields

    def string(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or _is_null(node) or node.tag.endswith(":bool"):
            raise self.fail(where, "expected a string", node)
        if not node.value.strip():
            raise self.fail(where, "must not be empty", node)
        return node.value

    def integer(self, node: yaml.Node, where: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.fail(where, "expected an integer", node)
        return int(self._value(node))  # type: ignore[call-overload]

    def port(self, node: yaml.Node, where: str) -> int:
        number = self.integer(node, where)
        if not 1 <= number <= 65535:
            raise self.fail(where, "expected a port number (1-65535)", node)
        return number

    def seconds(self, node: yaml.Node, where: str) -> float:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            raise self.fail(where, "expected a number of seconds", node)
        value = float(self._value(node))  # type: ignore[arg-type]
        if not value > 0:
            raise self.fail(where, "must be more than 0", node)
        return value

    def names(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode) and not _is_null(node):
            items: list[yaml.Node] = [node]
        elif isinstance(node, yaml.SequenceNode):
            items = list(node.value)
        else:
            raise self.fail(where, "expected a list of environment variable names", node)
        names: list[str] = []
        for item in items:
            name = self.string(item, where)
            if not _ENV_NAME.match(name):
                raise self.fail(where, f"{name!r} is not an environment variable name", item)
            names.append(name)
        return tuple(dict.fromkeys(names))

    def file_path(self, node: yaml.Node, where: str) -> str:
        return self.local_path(self.string(node, where))

    def local_path(self, raw: str) -> str:
        """`~` is the home folder; a relative path is relative to the inventory's folder."""
        path = self.home / raw[2:] if raw == "~" or raw.startswith("~/") else Path(raw)
        if not path.is_absolute():
            path = self.base / path
        return str(path)

    def variables(self, node: yaml.Node, where: str) -> dict[str, object]:
        if _is_null(node):
            return {}
        return self.plain_mapping(node, where)

    def _value(self, node: yaml.Node) -> object:
        return self._constructor.construct_object(node, deep=True)


_FIELD_READERS: dict[str, Callable[[_Reader, yaml.Node, str], object]] = {
    "host": _Reader.string,
    "port": _Reader.port,
    "user": _Reader.string,
    "identity": _Reader.file_path,
    "known_hosts": _Reader.file_path,
    "connect_timeout": _Reader.seconds,
    "jump": _Reader.string,
    "vars": _Reader.variables,
    "env": _Reader.names,
    "secrets": _Reader.names,
}
