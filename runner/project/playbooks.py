"""Must-Pass playbooks: load and validate `playbooks/must-pass/<slug>.yaml` (the schema below).
`runner.plan.mustpass` expands a task's Must-Pass item into planned checks for its components.

Pure apart from `load_playbooks`, which reads the folder.

Playbook format (every key optional unless marked; unknown keys are input errors)::

    description: All affected services respond to health checks
    checks:
      - name: gateway unit is active        # required: the check's label
        components: [gateway]               # component names, roles, or "*" (default "*")
        when: gateway_unit                  # skip on a component whose var is null
        run: systemctl is-active --quiet {{gateway_unit}}   # a shell block (Test Commands rules)
      - name: gateway liveness
        components: [gateway]
        http:                               # exactly one of `run` and `http`
          method: GET                       # default GET
          url: "http://127.0.0.1:{{gateway_port}}/health/liveliness"   # required
          via: ssh                          # runner (default) | ssh | local (see below)
          headers: {Authorization: "Bearer ${{{gateway_key_env}}}"}
          json: {…}  |  body: "text"        # request body (not both)
          expect:
            status: [200]                   # 200, "4xx", or a list; default "2xx"
            json: [{path: data.0.id, op: exists}]   # ops: exists equals nonempty matches min_length
            body_regex: "alive"
          max_latency_ms: 2000
          timeout: 10                       # seconds per request
          retries: 1
          performance: {samples: 20, tolerance: 0.25, tolerance_ms: 20}

Templates: `{{var}}` is an inventory var of the component (see `DEFAULT_VARS`), rendered per
component at run time; `${NAME}` in headers and body is the runner's environment variable NAME
(redacted). `${{{gateway_key_env}}}` first renders the var, then reads the variable it names.

`via`: `ssh` sends the request through the component's SSH connection (a service bound to the
host's loopback); `runner` (the default) sends it from the machine taskrun runs on. A loopback
URL without `via: ssh` on a remote component would reach the runner's own loopback: that is an
input error at plan time, unless `via: local` says that is what is meant.

Roles: a playbook check names components by role so it applies to `llm-01` and `llm-02` alike.
A component's role is its inventory var `role`; without one, its name decides: a name
starting with `api-gateway`, `gateway` or `litellm` → `gateway`; `llm` or `ollama` → `ollama`;
`orc` → `orchestrator`; anything else has no role (only `*` or its own name select it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from runner.errors import InputError
from runner.models import (
    HttpProbe,
    JsonExpectation,
)
from runner.project.yamlnodes import compose_yaml, construct_value, decode_yaml, is_null, node_line

__all__ = [
    "ANY_COMPONENT",
    "DEFAULT_VARS",
    "MUST_PASS_SLUGS",
    "SAMPLES_FROM_VARS",
    "Playbook",
    "PlaybookEntry",
    "load_playbooks",
    "parse_playbook",
]

MUST_PASS_SLUGS = ("service-health", "end-to-end", "performance", "security")

# Inventory vars the shipped playbooks use, with their defaults. `e2e_model: None` means "the
# first model the gateway lists" (discovered at run time by the probe runner).
DEFAULT_VARS: Mapping[str, object] = {
    "gateway_port": 4000,
    "gateway_unit": "hx-litellm-gateway.service",
    "gateway_key_env": "LITELLM_MASTER_KEY",
    "e2e_model": None,
    "ollama_port": 11434,
    "ollama_unit": "ollama.service",
    "orc_unit": "hx-orchestrator.service",
    "perf_samples": 20,
}
# `HttpProbe.samples == 0`: a performance probe whose sample count is the `perf_samples` var.
SAMPLES_FROM_VARS = 0
ANY_COMPONENT = "*"

_TEMPLATE_LIKE = re.compile(r"\{\{(?!\{)(.*?)\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_COMPONENT = re.compile(r"(?:\*|[A-Za-z0-9][A-Za-z0-9._-]*)\Z")
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)\Z")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_JSON_OPS = ("exists", "equals", "nonempty", "matches", "min_length")

_ENTRY_KEYS = ("name", "components", "when", "run", "http")
_PLAYBOOK_KEYS = ("description", "checks")
_HTTP_KEYS = (
    "method",
    "url",
    "via",
    "headers",
    "json",
    "body",
    "expect",
    "max_latency_ms",
    "timeout",
    "retries",
    "performance",
)
_EXPECT_KEYS = ("status", "json", "body_regex")
_JSON_EXPECT_KEYS = ("path", "op", "value")
_PERFORMANCE_KEYS = ("samples", "tolerance", "tolerance_ms")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class PlaybookEntry:
    """One check of a playbook: a shell block (`run`) or an HTTP probe."""

    index: int  # 0-based position in the playbook
    name: str
    components: tuple[str, ...]  # component names, roles or "*"
    when: str | None
    run: str | None
    probe: HttpProbe | None
    line: int  # 1-based line in the playbook file


@dataclass(frozen=True, slots=True)
class Playbook:
    slug: str  # "service-health"
    path: str
    description: str
    entries: tuple[PlaybookEntry, ...]


# --------------------------------------------------------------------------- loading


def load_playbooks(folder: Path) -> dict[str, Playbook]:
    """Every `*.yaml`/`*.yml` playbook in `folder` (a `must-pass/` folder), by slug.

    A missing folder gives no playbooks; a bad file is an InputError naming file and line.
    """
    if not folder.is_dir():
        return {}
    playbooks: dict[str, Playbook] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read playbook: {exc}", path=str(path)) from exc
        text = decode_yaml(data, path=str(path))
        if path.stem in playbooks:
            raise InputError(
                f"two playbooks for {path.stem!r} ({playbooks[path.stem].path} and this one)",
                path=str(path),
            )
        playbooks[path.stem] = parse_playbook(text, path=str(path), slug=path.stem)
    return playbooks


def parse_playbook(text: str, *, path: str, slug: str) -> Playbook:
    """A playbook from its YAML text; errors are `path(line): what is wrong`."""
    root = compose_yaml(text, path=path)
    reader = _Reader(path)
    if root is None:
        raise InputError("empty playbook: expected `checks:`", path=path, line=1)
    top = reader.mapping(root, "playbook", _PLAYBOOK_KEYS)
    description = reader.string(top["description"], "description") if "description" in top else ""
    if "checks" not in top:
        raise InputError("playbook has no `checks:` list", path=path, line=node_line(root))
    checks_node = top["checks"]
    if not isinstance(checks_node, yaml.SequenceNode) or not checks_node.value:
        raise InputError(
            "checks: expected a non-empty list of checks", path=path, line=node_line(checks_node)
        )
    entries = tuple(
        _entry(reader, node, index, slug) for index, node in enumerate(checks_node.value)
    )
    return Playbook(slug=slug, path=path, description=description, entries=entries)


def _entry(reader: _Reader, node: yaml.Node, index: int, slug: str) -> PlaybookEntry:
    where = f"checks[{index + 1}]"
    values = reader.mapping(node, where, _ENTRY_KEYS)
    if "name" not in values:
        raise reader.error(f"{where}: missing `name`", node)
    name = reader.string(values["name"], f"{where}.name")
    components: tuple[str, ...] = (ANY_COMPONENT,)
    if "components" in values:
        components = reader.string_list(values["components"], f"{where}.components")
        for component_node, component in zip(
            _items(values["components"]), components, strict=False
        ):
            if not _COMPONENT.match(component):
                raise reader.error(
                    f"{where}.components: {component!r} is not a component name, role or *",
                    component_node,
                )
    when = None
    if "when" in values:
        when = reader.string(values["when"], f"{where}.when")
        if not _NAME.match(when):
            raise reader.error(f"{where}.when: expected an inventory var name", values["when"])
    has_run, has_http = "run" in values, "http" in values
    if has_run == has_http:
        raise reader.error(f"{where}: give exactly one of `run` and `http`", node)
    run = None
    probe = None
    if has_run:
        run = reader.string(values["run"], f"{where}.run")
        if not run.strip():
            raise reader.error(f"{where}.run: empty command", values["run"])
        reader.check_templates(run, values["run"], f"{where}.run")
    else:
        probe = _probe(reader, values["http"], f"{where}.http", slug)
    return PlaybookEntry(
        index=index,
        name=name,
        components=components,
        when=when,
        run=run,
        probe=probe,
        line=node_line(node),
    )


def _probe(reader: _Reader, node: yaml.Node, where: str, slug: str) -> HttpProbe:
    values = reader.mapping(node, where, _HTTP_KEYS)
    if "url" not in values:
        raise reader.error(f"{where}: missing `url`", node)
    url = reader.string(values["url"], f"{where}.url")
    reader.check_templates(url, values["url"], f"{where}.url")
    if not re.match(r"(?:https?://|\{\{)", url):
        raise reader.error(f"{where}.url: expected an http:// or https:// URL", values["url"])
    method = "GET"
    if "method" in values:
        method = reader.string(values["method"], f"{where}.method").upper()
        if method not in _METHODS:
            raise reader.error(
                f"{where}.method: expected one of {', '.join(_METHODS)}", values["method"]
            )
    via: Literal["runner", "ssh", "local"] = "runner"
    if "via" in values:
        given = reader.string(values["via"], f"{where}.via")
        if given not in ("runner", "ssh", "local"):
            raise reader.error(f"{where}.via: expected `runner`, `ssh` or `local`", values["via"])
        via = "ssh" if given == "ssh" else "local" if given == "local" else "runner"
    headers: tuple[tuple[str, str], ...] = ()
    if "headers" in values:
        header_map = reader.mapping(values["headers"], f"{where}.headers", None)
        pairs = []
        for key, value_node in header_map.items():
            value = reader.scalar_text(value_node, f"{where}.headers.{key}")
            reader.check_templates(value, value_node, f"{where}.headers.{key}")
            pairs.append((key, value))
        headers = tuple(pairs)
    if "json" in values and "body" in values:
        raise reader.error(f"{where}: give `json` or `body`, not both", node)
    json_body = reader.plain(values["json"], f"{where}.json") if "json" in values else None
    body = reader.string(values["body"], f"{where}.body") if "body" in values else None
    expect_status: tuple[str, ...] = ("2xx",)
    expect_json: tuple[JsonExpectation, ...] = ()
    body_regex = None
    if "expect" in values:
        expect_status, expect_json, body_regex = _expect(reader, values["expect"], where)
    max_latency = (
        reader.number(values["max_latency_ms"], f"{where}.max_latency_ms", low=0.0)
        if "max_latency_ms" in values
        else None
    )
    timeout = (
        reader.number(values["timeout"], f"{where}.timeout", low=0.001)
        if "timeout" in values
        else 10.0
    )
    retries = (
        reader.integer(values["retries"], f"{where}.retries", low=0, high=20)
        if "retries" in values
        else 0
    )
    samples: int | None = None
    tolerance, tolerance_ms = 0.25, 20.0
    if "performance" in values:
        samples, tolerance, tolerance_ms = _performance(reader, values["performance"], where)
        if _url_path(url) == "/health":
            raise reader.error(
                f"{where}.url: performance probes must not call /health (it calls every "
                "model); use a cheap endpoint such as /health/liveliness",
                values["url"],
            )
    elif slug == "performance":
        raise reader.error(
            f"{where}: a probe in the performance playbook needs `performance:` "
            "(samples and tolerance)",
            node,
        )
    return HttpProbe(
        method=method,
        url=url,
        headers=headers,
        json_body=json_body,
        body=body,
        expect_status=expect_status,
        expect_json=expect_json,
        body_regex=body_regex,
        max_latency_ms=max_latency,
        timeout_s=timeout,
        retries=retries,
        via=via,
        samples=samples,
        tolerance=tolerance,
        tolerance_ms=tolerance_ms,
    )


def _expect(
    reader: _Reader, node: yaml.Node, where: str
) -> tuple[tuple[str, ...], tuple[JsonExpectation, ...], str | None]:
    values = reader.mapping(node, f"{where}.expect", _EXPECT_KEYS)
    status: tuple[str, ...] = ("2xx",)
    if "status" in values:
        status_node = values["status"]
        items = _items(status_node) if isinstance(status_node, yaml.SequenceNode) else [status_node]
        if not items:
            raise reader.error(f"{where}.expect.status: empty list", status_node)
        found = []
        for item in items:
            text = reader.scalar_text(item, f"{where}.expect.status").lower()
            if not _STATUS.match(text):
                raise reader.error(
                    f"{where}.expect.status: {text!r} is not an HTTP status (200) or class (4xx)",
                    item,
                )
            found.append(text)
        status = tuple(found)
    expectations: list[JsonExpectation] = []
    if "json" in values:
        json_node = values["json"]
        if not isinstance(json_node, yaml.SequenceNode):
            raise reader.error(
                f"{where}.expect.json: expected a list of {{path, op, value}}", json_node
            )
        for item in json_node.value:
            expectations.append(_json_expectation(reader, item, f"{where}.expect.json"))
    body_regex = None
    if "body_regex" in values:
        body_regex = reader.string(values["body_regex"], f"{where}.expect.body_regex")
        reader.regex(body_regex, values["body_regex"], f"{where}.expect.body_regex")
    return status, tuple(expectations), body_regex


def _json_expectation(reader: _Reader, node: yaml.Node, where: str) -> JsonExpectation:
    values = reader.mapping(node, where, _JSON_EXPECT_KEYS)
    if "path" not in values:
        raise reader.error(f"{where}: missing `path`", node)
    path = reader.scalar_text(values["path"], f"{where}.path")
    if not path or any(not part for part in path.split(".")):
        raise reader.error(f"{where}.path: expected a dotted path like data.0.id", values["path"])
    op = "exists"
    if "op" in values:
        op = reader.string(values["op"], f"{where}.op")
        if op not in _JSON_OPS:
            raise reader.error(f"{where}.op: expected one of {', '.join(_JSON_OPS)}", values["op"])
    value: object = None
    needs_value = op in ("equals", "matches", "min_length")
    if needs_value and "value" not in values:
        raise reader.error(f"{where}: op {op} needs a `value`", node)
    if not needs_value and "value" in values:
        raise reader.error(f"{where}: op {op} takes no `value`", values["value"])
    if op == "equals":
        value = reader.plain(values["value"], f"{where}.value")
    elif op == "matches":
        value = reader.string(values["value"], f"{where}.value")
        reader.regex(str(value), values["value"], f"{where}.value")
    elif op == "min_length":
        value = reader.integer(values["value"], f"{where}.value", low=0, high=None)
    return JsonExpectation(path=path, op=op, value=value)  # type: ignore[arg-type]


def _performance(reader: _Reader, node: yaml.Node, where: str) -> tuple[int, float, float]:
    values = reader.mapping(node, f"{where}.performance", _PERFORMANCE_KEYS)
    samples = SAMPLES_FROM_VARS
    if "samples" in values:
        samples = reader.integer(values["samples"], f"{where}.performance.samples", 1, 10000)
    tolerance = (
        reader.number(values["tolerance"], f"{where}.performance.tolerance", low=0.0)
        if "tolerance" in values
        else 0.25
    )
    tolerance_ms = (
        reader.number(values["tolerance_ms"], f"{where}.performance.tolerance_ms", low=0.0)
        if "tolerance_ms" in values
        else 20.0
    )
    return samples, tolerance, tolerance_ms


# --------------------------------------------------------------------------- YAML reading


class _Reader:
    """Typed access to YAML nodes, with `path(line): …` errors from the node marks."""

    def __init__(self, path: str):
        self.path = path

    def error(self, message: str, node: yaml.Node) -> InputError:
        return InputError(message, path=self.path, line=node_line(node))

    def mapping(
        self, node: yaml.Node, where: str, allowed: Sequence[str] | None
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{where}: expected a mapping", node)
        values: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar_text(key_node, f"{where} key")
            if allowed is not None and key not in allowed:
                raise self.error(
                    f"{where}: unknown key {key!r} (known: {', '.join(allowed)})", key_node
                )
            if key in values:
                raise self.error(f"{where}: duplicate key {key!r}", key_node)
            values[key] = value_node
        return values

    def scalar_text(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or is_null(node):
            raise self.error(f"{where}: expected a value", node)
        return str(node.value)

    def string(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or is_null(node):
            raise self.error(f"{where}: expected text", node)
        return str(node.value)

    def string_list(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            return (str(node.value),)
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.error(f"{where}: expected a non-empty list", node)
        return tuple(self.scalar_text(item, where) for item in node.value)

    def plain(self, node: yaml.Node, where: str) -> object:
        return construct_value(node, path=self.path, where=where)

    def number(self, node: yaml.Node, where: str, *, low: float) -> float:
        value = self.plain(node, where)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < low
        ):
            raise self.error(f"{where}: expected a finite number ≥ {low:g}", node)
        return float(value)

    def integer(self, node: yaml.Node, where: str, low: int, high: int | None) -> int:
        value = self.plain(node, where)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            upper = f"-{high}" if high is not None else " or more"
            raise self.error(f"{where}: expected a whole number {low}{upper}", node)
        return value

    def regex(self, pattern: str, node: yaml.Node, where: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.error(f"{where}: invalid regular expression: {exc}", node) from exc

    def check_templates(self, text: str, node: yaml.Node, where: str) -> None:
        for match in _TEMPLATE_LIKE.finditer(text):
            if not _NAME.match(match.group(1).strip()):
                raise self.error(f"{where}: {match.group(0)!r} is not a {{{{var}}}} template", node)


def _items(node: yaml.Node) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]


def _url_path(url: str) -> str:
    match = re.match(r"[a-z]+://[^/?#]*([^?#]*)", url)
    path = match.group(1) if match else ""
    return path.rstrip("/") or "/"
