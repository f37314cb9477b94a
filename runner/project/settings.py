"""Effective settings: defaults < taskrun.yaml < TASKRUN_* environment < command-line flags.

Each value remembers where it came from, for `taskrun config`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from runner.bash.rules import DEFAULT_READ_ONLY_POSTS
from runner.errors import InputError
from runner.evaluate.command import DEFAULT_FAILURE_MARKERS
from runner.markdown.sections import DEFAULT_VALIDATION_SECTIONS
from runner.project.trust import read_trusted
from runner.project.yamlnodes import compose_yaml, construct_value, decode_yaml, node_line

CONFIG_FILE = "taskrun.yaml"


PACKAGED_PLAYBOOKS = Path(__file__).resolve().parent.parent / "data" / "playbooks"


@dataclass(frozen=True, slots=True)
class Settings:
    """Paths are absolute after `load_settings`; the defaults here are relative to the cwd."""

    tasks: tuple[Path, ...] = (Path("tasks"),)
    playbooks: Path = Path("playbooks")
    inventory: Path | None = None  # None: `<playbooks>/inventory.yaml`
    reports: Path = Path("reports")
    default_component: str | None = None
    concurrency: int = 32
    timeout: float = 60.0
    timezone: str = "UTC"
    read_only_posts: tuple[str, ...] = DEFAULT_READ_ONLY_POSTS
    # Headings and bold labels whose commands are validation checks (fnmatch patterns,
    # case-insensitive); `Test Commands` and `Test Steps` are always read.
    validation_sections: tuple[str, ...] = DEFAULT_VALIDATION_SECTIONS
    # A line of output starting with one of these fails the check.
    failure_markers: tuple[str, ...] = DEFAULT_FAILURE_MARKERS
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    cwd: Path | None = field(default=None, compare=False)  # for showing paths relative to it
    config_file: Path | None = field(default=None, compare=False)  # the taskrun.yaml in effect


SETTING_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(Settings) if f.name not in ("sources", "cwd", "config_file")
)

ENV_VARIABLES: dict[str, str] = {
    "TASKRUN_TASKS": "tasks",
    "TASKRUN_PLAYBOOKS": "playbooks",
    "TASKRUN_INVENTORY": "inventory",
    "TASKRUN_REPORTS": "reports",
    "TASKRUN_DEFAULT_COMPONENT": "default_component",
    "TASKRUN_CONCURRENCY": "concurrency",
    "TASKRUN_TIMEOUT": "timeout",
    "TASKRUN_TIMEZONE": "timezone",
}


class _Invalid(ValueError):
    """A value of the wrong type or range; the caller adds where it came from."""


# --------------------------------------------------------------------------- value checks


def _as_path(value: object, base: Path) -> Path:
    if isinstance(value, Path):
        raw = str(value)
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
    else:
        raise _Invalid(f"expected a path, got {_shown(value)}")
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # `~name` for a user this machine does not have
        raise _Invalid(f"expected a path, got {_shown(value)} (no such user's home)") from None
    return Path(os.path.normpath(base / path))


def _as_paths(value: object, base: Path) -> tuple[Path, ...]:
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not items:
        raise _Invalid(f"expected a path or a list of paths, got {_shown(value)}")
    return tuple(_as_path(item, base) for item in items)


def _as_positive_int(value: object) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _Invalid(f"expected a whole number, got {_shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected a whole number, got {_shown(value)}")
    if value < 1:
        raise _Invalid(f"must be at least 1, got {value}")
    return value


def _as_positive_seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _Invalid(f"expected a number of seconds, got {_shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number of seconds, got {_shown(value)}")
    if not math.isfinite(value) or value <= 0:
        raise _Invalid(f"must be a positive number of seconds, got {value}")
    return float(value)


def _as_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected a name, got {_shown(value)}")
    return value.strip()


def _as_timezone(value: object) -> str:
    name = _as_name(value)
    if name.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return name


def _as_strings(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in items
    ):
        raise _Invalid(f"expected a list of strings, got {_shown(value)}")
    return tuple(item.strip() for item in items)


def _shown(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"


def _converter(name: str, base: Path) -> Callable[[object], object]:
    converters: dict[str, Callable[[object], object]] = {
        "tasks": lambda v: _as_paths(v, base),
        "playbooks": lambda v: _as_path(v, base),
        "inventory": lambda v: _as_path(v, base),
        "reports": lambda v: _as_path(v, base),
        "default_component": _as_name,
        "concurrency": _as_positive_int,
        "timeout": _as_positive_seconds,
        "timezone": _as_timezone,
        "read_only_posts": _as_strings,
        "validation_sections": _as_strings,
        "failure_markers": _as_strings,
    }
    return converters[name]


# --------------------------------------------------------------------------- layers


def find_config_file(cwd: Path) -> Path | None:
    """The nearest `taskrun.yaml` from `cwd` up to `/`."""
    start = Path(os.path.abspath(cwd))
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _file_layer(path: Path, cwd: Path) -> dict[str, tuple[object, str]]:
    shown = _display(path, Path(os.path.abspath(cwd)))
    try:
        data = read_trusted(path, what="settings file", shown=shown)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=shown) from None
    root = compose_yaml(decode_yaml(data, path=shown), path=shown)
    layer: dict[str, tuple[object, str]] = {}
    if root is None:
        return layer
    if not isinstance(root, yaml.MappingNode):
        raise InputError("expected a mapping of setting: value", path=shown, line=node_line(root))
    for key_node, value_node in root.value:
        key_line = node_line(key_node)
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        name = key.replace("-", "_") if isinstance(key, str) else None
        if name not in SETTING_NAMES:
            known = ", ".join(SETTING_NAMES)
            raise InputError(f"{key}: unknown setting (known: {known})", path=shown, line=key_line)
        if name in layer:
            raise InputError(f"{key}: given twice", path=shown, line=key_line)
        value = construct_value(value_node, path=shown, where=key)
        try:
            converted = _converter(name, path.parent)(value)
        except _Invalid as exc:
            raise InputError(f"{key}: {exc}", path=shown, line=node_line(value_node)) from None
        layer[name] = (converted, f"{CONFIG_FILE}:{path}({key_line})")
    return layer


def _env_layer(environ: Mapping[str, str], cwd: Path) -> dict[str, tuple[object, str]]:
    layer: dict[str, tuple[object, str]] = {}
    for variable, name in ENV_VARIABLES.items():
        raw = environ.get(variable)
        if raw is None or not raw.strip():
            continue
        value: object = [p for p in raw.split(os.pathsep) if p.strip()] if name == "tasks" else raw
        try:
            layer[name] = (_converter(name, cwd)(value), f"env {variable}")
        except _Invalid as exc:
            raise InputError(f"environment variable {variable}: {exc}") from None
    return layer


def _flag_layer(flags: Mapping[str, object], cwd: Path) -> dict[str, tuple[object, str]]:
    layer: dict[str, tuple[object, str]] = {}
    for name, value in flags.items():
        if name not in SETTING_NAMES:
            raise TypeError(f"load_settings: unknown flag key {name!r}")
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        try:
            layer[name] = (_converter(name, cwd)(value), f"flag {flag}")
        except _Invalid as exc:
            raise InputError(f"{flag}: {exc}") from None
    return layer


def load_settings(
    *, cwd: Path, environ: Mapping[str, str], flags: Mapping[str, object]
) -> Settings:
    """Layer the sources (later wins); paths come out absolute."""
    cwd = Path(os.path.abspath(cwd))
    defaults = Settings()
    values: dict[str, Any] = {
        "tasks": tuple(cwd / p for p in defaults.tasks),
        "playbooks": cwd / defaults.playbooks,
        "reports": cwd / defaults.reports,
    }
    sources = dict.fromkeys(SETTING_NAMES, "default")
    config = find_config_file(cwd)
    layers = [
        _file_layer(config, cwd) if config is not None else {},
        _env_layer(environ, cwd),
        _flag_layer(flags, cwd),
    ]
    for layer in layers:
        for name, (value, source) in layer.items():
            values[name] = value
            sources[name] = source
    return replace(defaults, **values, sources=sources, cwd=cwd, config_file=config)


def settings_file_note(settings: Settings) -> str | None:
    """`plan` and `validate` say which taskrun.yaml is in effect: one found in a parent folder
    changes the inventory, the guard's read-only POSTs and more without a word otherwise."""
    if settings.config_file is None:
        return None
    cwd = settings.cwd or Path.cwd()
    try:
        shown = os.path.relpath(settings.config_file, cwd)
    except ValueError:
        shown = settings.config_file.as_posix()
    return f"settings: {Path(shown).as_posix()}"


# --------------------------------------------------------------------------- derived values


def effective_inventory(settings: Settings) -> Path:
    return (
        settings.inventory
        if settings.inventory is not None
        else (settings.playbooks / "inventory.yaml")
    )


def playbooks_dir_or_packaged(settings: Settings) -> tuple[Path, bool]:
    """The project's playbooks folder, else the packaged one (True: packaged).

    A playbooks folder the user named explicitly must exist: silently using the packaged
    playbooks instead would hide a typo.
    """
    folder = settings.playbooks
    if folder.is_dir():
        return folder, False
    source = settings.sources.get("playbooks", "default")
    if source != "default":
        shown = _display(folder, settings.cwd) if settings.cwd else folder.as_posix()
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"playbooks folder {shown} {what} (set by {source})")
    return PACKAGED_PLAYBOOKS, True


def settings_table(settings: Settings) -> list[tuple[str, str, str]]:
    """(setting, value, source) rows for `taskrun config`."""
    cwd = settings.cwd

    def path_text(path: Path) -> str:
        return _display(path, cwd) if cwd is not None else path.as_posix()

    def source(name: str) -> str:
        return settings.sources.get(name, "default")

    inventory = path_text(effective_inventory(settings))
    if settings.inventory is None:
        inventory += " (<playbooks>/inventory.yaml)"
    playbooks_source = source("playbooks")
    playbooks = path_text(settings.playbooks)
    if playbooks_source == "default" and not settings.playbooks.is_dir():
        playbooks += " (missing: the packaged playbooks apply)"
    return [
        ("tasks", ", ".join(path_text(p) for p in settings.tasks), source("tasks")),
        ("playbooks", playbooks, playbooks_source),
        ("inventory", inventory, source("inventory")),
        ("reports", path_text(settings.reports), source("reports")),
        ("default_component", settings.default_component or "(none)", source("default_component")),
        ("concurrency", str(settings.concurrency), source("concurrency")),
        ("timeout", f"{settings.timeout:g} s", source("timeout")),
        ("timezone", settings.timezone, source("timezone")),
        ("read_only_posts", ", ".join(settings.read_only_posts), source("read_only_posts")),
        (
            "validation_sections",
            ", ".join(settings.validation_sections),
            source("validation_sections"),
        ),
        ("failure_markers", ", ".join(settings.failure_markers), source("failure_markers")),
    ]
