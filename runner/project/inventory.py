"""The inventory: which host each component runs on (taskrun's YAML, or an Ansible YAML inventory).

Errors name the file and the 1-based line of the offending YAML node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from runner.errors import InputError
from runner.models import Target
from runner.project.components import GLOBAL, LOCAL, Components
from runner.project.yamlnodes import compose_yaml, construct_value, decode_yaml, is_null, node_line
from runner.transports import known_connections

__all__ = [
    "GLOBAL",
    "LOCAL",
    "Inventory",
    "import_ansible",
    "load_inventory",
    "parse_ansible",
    "parse_inventory",
]

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
    "connection",
)
DEFAULT_PORT = 22
# Ansible's connection plugins that mean "OpenSSH to the host" to taskrun.
_ANSIBLE_SSH_CONNECTIONS = frozenset({"ssh", "smart", "paramiko", "paramiko_ssh"})
DEFAULT_CONNECT_TIMEOUT = 10.0
# An Ansible inventory expands host ranges (`web[1:20]`); past this it is surely a typo.
MAX_ANSIBLE_HOSTS = 10_000
# Hosts counted once per group they are listed in; bounds the walk when aliases repeat groups.
MAX_ANSIBLE_HOST_ENTRIES = 100_000
_ANSIBLE_PORT_VARS = ("ansible_port", "ansible_ssh_port")
_ANSIBLE_TEXT_VARS = (
    "ansible_host",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_private_key_file",
    "ansible_connection",
)

_COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HOST_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")
_MAX_RANGE_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Inventory:
    path: str | None
    components: dict[str, Target] = field(default_factory=dict)  # inventory order
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group → components

    @property
    def resolver(self) -> Components:
        return Components.of(tuple(self.components), self.groups)

    def resolve(self, names: Sequence[str]) -> tuple[list[Target], list[str]]:
        """Targets for `names` (components, groups, `global`, `local`; case-insensitive), in
        order, deduplicated; names the inventory does not know are returned separately."""
        found, unknown = self.resolver.expand(names)
        targets = [
            self.components[name]
            if name != LOCAL
            else Target(component=LOCAL, host=LOCAL, connection=LOCAL)
            for name in found
        ]
        return targets, list(unknown)


# --------------------------------------------------------------------------- loading


def load_inventory(path: Path, *, required: bool = True, home: Path | None = None) -> Inventory:
    """Read an inventory file; the Ansible format is recognised by its top-level `all:`.

    A missing file is an InputError when `required` (it was asked for explicitly), otherwise
    an empty inventory.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise InputError("inventory file not found", path=str(path)) from None
        return Inventory(path=str(path))
    except OSError as exc:
        raise InputError(f"cannot read inventory: {exc}", path=str(path)) from exc
    text = decode_yaml(data, path=str(path))
    home = home if home is not None else Path.home()
    root = compose_yaml(text, path=str(path))
    if _looks_like_ansible(root):
        return parse_ansible(text, path=str(path), base=path.parent, home=home)
    return parse_inventory(text, path=str(path), base=path.parent, home=home)


def import_ansible(path: Path, *, home: Path | None = None) -> Inventory:
    """Read an Ansible YAML inventory: hosts become components, groups usable names."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read inventory: {exc}", path=str(path)) from exc
    text = decode_yaml(data, path=str(path))
    home = home if home is not None else Path.home()
    return parse_ansible(text, path=str(path), base=path.parent, home=home)


def parse_inventory(text: str, *, path: str, base: Path, home: Path) -> Inventory:
    """taskrun's format: `defaults:` and `components: {name: {host, port, …}}`."""
    reader = _Reader(path=path, base=base, home=home)
    root = compose_yaml(text, path=path)
    if root is None:
        raise InputError("the inventory is empty (expected `components:`)", path=path)
    top = reader.mapping(root, "inventory", allowed=("defaults", "components"))
    defaults = reader.target_fields(top["defaults"][1], "defaults") if "defaults" in top else {}
    if "components" not in top:
        raise InputError("missing `components:`", path=path, line=node_line(root))
    components_node = top["components"][1]
    entries = reader.mapping(components_node, "components")
    components: dict[str, Target] = {}
    for name, (key_node, node) in entries.items():
        where = f"components.{name}"
        _check_component_name(name, where, path, key_node)
        fields = reader.target_fields(node, where) if not is_null(node) else {}
        components[name] = _target(name, defaults, fields, where=where, path=path, node=key_node)
    _resolve_jumps(components, entries, path)
    return Inventory(path=path, components=components)


def parse_ansible(text: str, *, path: str, base: Path, home: Path) -> Inventory:
    """An Ansible YAML inventory: `all: {hosts: {h: {ansible_host …}}, children: {group: …}}`."""
    reader = _Reader(path=path, base=base, home=home)
    root = compose_yaml(text, path=path)
    if root is None:
        raise InputError("the inventory is empty", path=path)
    walk = _AnsibleWalk(reader)
    for group, (key, node) in reader.mapping(root, "inventory").items():
        walk.group(group, key, node, where=group, inherited={}, ancestors=())
    components = {
        name: _ansible_target(name, values, reader) for name, values in walk.hosts.items()
    }
    named_groups = {
        group: tuple(members) for group, members in walk.groups.items() if group not in components
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
        raise InputError(message, path=path, line=node_line(node))
    port = merged.get("port", DEFAULT_PORT)
    timeout = merged.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    connection = merged.get("connection")
    if connection is None:
        connection = LOCAL if host == LOCAL else "ssh"
    elif not isinstance(connection, str) or connection not in known_connections():
        known = ", ".join(known_connections())
        raise InputError(
            f"{where}.connection: unknown connection {connection!r} (known: {known})",
            path=path,
            line=node_line(node),
        )
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
        connection=connection,
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
                line=node_line(entries[name][0]),
            )
        who = f"{bastion.user}@" if bastion.user else ""
        host = f"[{bastion.host}]" if ":" in bastion.host else bastion.host
        components[name] = _replace(target, jump=f"{who}{host}:{bastion.port}")


def _check_component_name(name: str, where: str, path: str, node: yaml.Node) -> None:
    if name.casefold() in (GLOBAL, LOCAL):
        raise InputError(f"{where}: `{name}` is reserved", path=path, line=node_line(node))
    if not _COMPONENT_NAME.match(name):
        raise InputError(
            f"{where}: a component name is letters, digits, `.`, `_` and `-`",
            path=path,
            line=node_line(node),
        )


# --------------------------------------------------------------------------- Ansible format


class _AnsibleWalk:
    """Collects an Ansible inventory's hosts (with group vars applied) and group members."""

    def __init__(self, reader: _Reader):
        self.reader = reader
        self.hosts: dict[str, dict[str, object]] = {}
        self.groups: dict[str, dict[str, None]] = {}  # dict: ordered set of members
        self.entries = 0

    def group(
        self,
        group: str,
        key: yaml.Node,
        node: yaml.Node,
        *,
        where: str,
        inherited: Mapping[str, object],
        ancestors: tuple[str, ...],
    ) -> dict[str, None]:
        """Walk `group` (children included); returns its members."""
        if group in ancestors:
            chain = " → ".join((*ancestors, group))
            raise self.reader.fail(where, f"group {group!r} is its own ancestor ({chain})", key)
        members = self.groups.setdefault(group, {})
        if is_null(node):
            return members
        body = self.reader.mapping(node, where, allowed=("hosts", "children", "vars"))
        group_vars = {**inherited}
        if "vars" in body:
            group_vars.update(self.reader.ansible_vars(body["vars"][1], f"{where}.vars"))
        if "hosts" in body:
            self._hosts(body["hosts"][1], where=where, group_vars=group_vars, members=members)
        if "children" in body:
            children = self.reader.optional_mapping(body["children"][1], f"{where}.children")
            for child, (child_key, child_node) in children.items():
                child_members = self.group(
                    child,
                    child_key,
                    child_node,
                    where=f"{where}.children.{child}",
                    inherited=group_vars,
                    ancestors=(*ancestors, group),
                )
                members.update(dict.fromkeys(child_members))
        return members

    def _hosts(
        self,
        node: yaml.Node,
        *,
        where: str,
        group_vars: Mapping[str, object],
        members: dict[str, None],
    ) -> None:
        hosts = self.reader.optional_mapping(node, f"{where}.hosts")
        for pattern, (key_node, host_node) in hosts.items():
            own = self.reader.ansible_vars(host_node, f"{where}.hosts.{pattern}")
            try:
                names = _expand_host_pattern(pattern, limit=MAX_ANSIBLE_HOSTS)
            except _BadHostRange as exc:
                raise self.reader.fail(f"{where}.hosts.{pattern}", str(exc), key_node) from None
            self.entries += len(names)
            if self.entries > MAX_ANSIBLE_HOST_ENTRIES:
                message = f"more than {MAX_ANSIBLE_HOST_ENTRIES:,} host entries in all groups"
                raise self.reader.fail(f"{where}.hosts", message, key_node)
            for name in names:
                _check_component_name(name, f"{where}.hosts.{name}", self.reader.path, key_node)
                if name not in self.hosts and len(self.hosts) >= MAX_ANSIBLE_HOSTS:
                    message = f"more than {MAX_ANSIBLE_HOSTS:,} hosts"
                    raise self.reader.fail(f"{where}.hosts.{pattern}", message, key_node)
                self.hosts[name] = {**group_vars, **self.hosts.get(name, {}), **own}
                members[name] = None


def _ansible_target(name: str, values: Mapping[str, object], reader: _Reader) -> Target:
    """The host's target; its `ansible_*` vars were checked when read (`_Reader.ansible_vars`)."""
    host = str(values.get("ansible_host") or name)
    connection = _ansible_connection(name, values.get("ansible_connection"), reader)
    if connection == LOCAL:
        host = LOCAL
    port = _first_set(values, "ansible_port", "ansible_ssh_port")
    user = _first_set(values, "ansible_user", "ansible_ssh_user")
    identity = values.get("ansible_ssh_private_key_file")
    plain = {key: value for key, value in values.items() if not key.startswith("ansible_")}
    return Target(
        component=name,
        host=host,
        port=int(port) if isinstance(port, int) else DEFAULT_PORT,
        user=str(user) if user is not None else None,
        identity=reader.local_path(str(identity)) if identity is not None else None,
        vars=plain,
        connection=connection,
    )


def _ansible_connection(name: str, value: object, reader: _Reader) -> str:
    """Ansible's `ansible_connection` as a taskrun transport; anything taskrun cannot run
    (winrm, docker, …) is an input error, never a silent SSH attempt."""
    if value is None:
        return "ssh"
    text = str(value).strip()
    if text in _ANSIBLE_SSH_CONNECTIONS:
        return "ssh"
    if text in known_connections():
        return text
    known = ", ".join(sorted({*known_connections(), *_ANSIBLE_SSH_CONNECTIONS}))
    raise InputError(
        f"{name}.ansible_connection: {text!r} is not supported (known: {known})",
        path=reader.path,
    )


def _first_set(values: Mapping[str, object], *names: str) -> object:
    return next((values[name] for name in names if values.get(name) is not None), None)


class _BadHostRange(ValueError):
    """A host range that runs backwards or expands past the limit."""


def _expand_host_pattern(pattern: str, *, limit: int) -> list[str]:
    """Ansible's numeric ranges: `web[01:03]` → web01, web02, web03; several ranges multiply.

    Raises _BadHostRange past `limit` names. Iterative: each step replaces one `[a:b]` by
    shorter digits, so it ends, and no more than `limit` names are ever pending.
    """
    pending = [pattern]
    names: list[str] = []
    while pending:
        name = pending.pop()
        match = _HOST_RANGE.search(name)
        if match is None:
            names.append(name)
            continue
        start, end = match.group(1), match.group(2)
        if max(len(start), len(end)) > _MAX_RANGE_DIGITS:
            raise _BadHostRange(f"range [{start}:{end}] expands past {limit:,} hosts")
        first, last = int(start), int(end)
        if last < first:
            raise _BadHostRange(f"range [{start}:{end}] runs backwards")
        if len(names) + len(pending) + (last - first + 1) > limit:
            raise _BadHostRange(f"range [{start}:{end}] expands past {limit:,} hosts")
        width = len(start) if start.startswith("0") else 0
        head, tail = name[: match.start()], name[match.end() :]
        # Reversed, so that popping yields the names in ascending order.
        pending.extend(
            f"{head}{str(number).zfill(width)}{tail}" for number in range(last, first - 1, -1)
        )
    return names


def _looks_like_ansible(root: yaml.Node | None) -> bool:
    if not isinstance(root, yaml.MappingNode):
        return False
    keys = {key.value for key, _value in root.value if isinstance(key, yaml.ScalarNode)}
    return "all" in keys and "components" not in keys


# --------------------------------------------------------------------------- YAML nodes


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

    def fail(self, where: str, message: str, node: yaml.Node) -> InputError:
        return InputError(f"{where}: {message}", path=self.path, line=node_line(node))

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
        return {} if is_null(node) else self.mapping(node, where)

    def plain_mapping(self, node: yaml.Node, where: str) -> dict[str, object]:
        """A mapping of names to plain YAML values (vars)."""
        entries = self.mapping(node, where)
        return {
            name: self._value(value, f"{where}.{name}") for name, (_key, value) in entries.items()
        }

    def target_fields(self, node: yaml.Node, where: str) -> dict[str, object]:
        fields: dict[str, object] = {}
        for name, (_key, value) in self.mapping(node, where, allowed=TARGET_KEYS).items():
            fields[name] = _FIELD_READERS[name](self, value, f"{where}.{name}")
        return fields

    def string(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or is_null(node) or node.tag.endswith(":bool"):
            raise self.fail(where, "expected a string", node)
        if not node.value.strip():
            raise self.fail(where, "must not be empty", node)
        return node.value

    def integer(self, node: yaml.Node, where: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.fail(where, "expected an integer", node)
        return int(self._value(node, where))  # type: ignore[call-overload]

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
        value = float(self._value(node, where))  # type: ignore[arg-type]
        if not math.isfinite(value) or value <= 0:
            raise self.fail(where, "must be a finite number more than 0", node)
        return value

    def names(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
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
        if is_null(node):
            return {}
        return self.plain_mapping(node, where)

    def ansible_vars(self, node: yaml.Node, where: str) -> dict[str, object]:
        """Host or group vars; the `ansible_*` ones taskrun uses are checked here, at their line."""
        if is_null(node):
            return {}
        values: dict[str, object] = {}
        for name, (_key, value_node) in self.mapping(node, where).items():
            value = self._value(value_node, f"{where}.{name}")
            values[name] = (
                None if value is None else self._ansible_var(name, value, value_node, where)
            )
        return values

    def _ansible_var(self, name: str, value: object, node: yaml.Node, where: str) -> object:
        if name in _ANSIBLE_PORT_VARS:
            port = value
            if isinstance(value, str) and value.strip().isdigit():
                port = int(value.strip())
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise self.fail(f"{where}.{name}", "expected a port number (1-65535)", node)
            return port
        if name in _ANSIBLE_TEXT_VARS:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(f"{where}.{name}", "expected a single value (text)", node)
            if not str(value).strip():
                raise self.fail(f"{where}.{name}", "must not be empty", node)
        if name == "ansible_connection":
            # Checked here, where its line is known, not only when the target is built.
            text = str(value).strip()
            if text not in _ANSIBLE_SSH_CONNECTIONS and text not in known_connections():
                known = ", ".join(sorted({*known_connections(), *_ANSIBLE_SSH_CONNECTIONS}))
                message = f"{text!r} is not supported (known: {known})"
                raise self.fail(f"{where}.{name}", message, node)
        return value

    def _value(self, node: yaml.Node, where: str) -> object:
        return construct_value(node, path=self.path, where=where)


_FIELD_READERS: dict[str, Callable[[_Reader, yaml.Node, str], object]] = {
    "connection": _Reader.string,
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
