"""The JSON Schemas editors use for playbooks and the inventory (runner/data/playbooks/schema/):
every packaged file validates, the `$schema=` lines resolve, the schema and the loader agree
on bad files, and the schema's keys are the loader's key tuples — so neither can drift.

A key someone adds to the loader (or the schema) without the other fails here by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.errors import InputError
from runner.project import inventory as inventory_loader
from runner.project import playbooks as playbook_loader
from runner.project.inventory import load_inventory
from runner.project.playbooks import parse_playbook
from runner.transports import known_connections

REPO = Path(__file__).resolve().parents[2]
PACKAGED = REPO / "runner" / "data" / "playbooks"
SCHEMAS = PACKAGED / "schema"
PLAYBOOKS = sorted((PACKAGED / "must-pass").glob("*.yaml"))
EXAMPLE_INVENTORY = PACKAGED / "inventory.example.yaml"


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def playbook_schema() -> dict[str, Any]:
    return _schema("playbook.schema.json")


@pytest.fixture(scope="module")
def inventory_schema() -> dict[str, Any]:
    return _schema("inventory.schema.json")


def _errors(schema: dict[str, Any], text: str) -> list[str]:
    """What a JSON Schema validator (as editors run one) finds; the drift tests below need
    only the JSON, so they run even where jsonschema is missing."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (pip install -e '.[test]')")
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


def _keys(schema: dict[str, Any], definition: str | None = None) -> set[str]:
    node = schema if definition is None else schema["definitions"][definition]
    return set(node["properties"])


# --------------------------------------------------------------------------- packaged files


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_every_packaged_playbook_validates(path: Path, playbook_schema: dict[str, Any]) -> None:
    assert _errors(playbook_schema, path.read_text(encoding="utf-8")) == []


def test_the_example_inventory_validates_and_loads(inventory_schema: dict[str, Any]) -> None:
    assert _errors(inventory_schema, EXAMPLE_INVENTORY.read_text(encoding="utf-8")) == []
    loaded = load_inventory(EXAMPLE_INVENTORY)
    assert list(loaded.components) == ["api-gateway", "llm-01", "llm-02", "orc"]


def test_the_repository_inventory_validates(inventory_schema: dict[str, Any]) -> None:
    assert _errors(inventory_schema, (REPO / "playbooks" / "inventory.yaml").read_text()) == []


@pytest.mark.parametrize("path", [*PLAYBOOKS, EXAMPLE_INVENTORY], ids=lambda p: p.name)
def test_the_schema_line_comes_first_and_resolves(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    target = (path.parent / first[len(prefix) :]).resolve()
    assert target.parent == SCHEMAS.resolve() and target.is_file(), target


def test_the_repository_copy_of_the_schemas_matches() -> None:
    for path in SCHEMAS.glob("*.json"):
        assert (REPO / "playbooks" / "schema" / path.name).read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- no drift


def test_playbook_schema_keys_are_the_loaders(playbook_schema: dict[str, Any]) -> None:
    loader = playbook_loader
    assert _keys(playbook_schema) == set(loader._PLAYBOOK_KEYS)
    assert _keys(playbook_schema, "check") == set(loader._ENTRY_KEYS)
    assert _keys(playbook_schema, "http") == set(loader._HTTP_KEYS)
    assert _keys(playbook_schema, "expect") == set(loader._EXPECT_KEYS)
    assert _keys(playbook_schema, "json_expectation") == set(loader._JSON_EXPECT_KEYS)
    assert _keys(playbook_schema, "performance") == set(loader._PERFORMANCE_KEYS)
    definitions = playbook_schema["definitions"]
    assert definitions["json_expectation"]["properties"]["op"]["enum"] == list(loader._JSON_OPS)
    methods = definitions["http"]["properties"]["method"]["enum"]
    assert {m.upper() for m in methods} == set(loader._METHODS)
    assert set(definitions["http"]["properties"]["via"]["enum"]) == {"runner", "ssh"}


def test_inventory_schema_keys_are_the_loaders(inventory_schema: dict[str, Any]) -> None:
    assert _keys(inventory_schema, "target") == set(inventory_loader.TARGET_KEYS)
    assert _keys(inventory_schema) == {"defaults", "components"}
    connection = inventory_schema["definitions"]["target"]["properties"]["connection"]
    assert set(connection["enum"]) == set(known_connections())


# --------------------------------------------------------------------------- both refuse


@pytest.mark.parametrize(
    "text",
    [
        "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect:\n"
        "        json: [{path: a, op: eq, value: 1}]\n",  # `equals`, not `eq`
        "checks:\n  - name: a\n    role: gateway\n    run: x\n",  # `components:`, not `role:`
        "checks:\n  - name: a\n    run: x\n    http: {url: 'http://x/'}\n",
        "checks:\n  - name: a\n    http: {url: 'http://x/', via: tunnel}\n",
        "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect: {status: 99}\n",
        "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect:\n"
        "        json: [{path: a, op: exists, value: 1}]\n",
        "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect:\n"
        "        json: [{path: a, op: equals}]\n",
        "checks:\n  - name: a\n    http: {url: 'http://x/', json: {}, body: b}\n",
        "checks:\n  - name: a\n    http: {url: 'http://x/', retries: 21}\n",
        "checks: []\n",
    ],
)
def test_a_bad_playbook_is_refused_by_schema_and_loader(
    text: str, playbook_schema: dict[str, Any]
) -> None:
    assert _errors(playbook_schema, text), "the schema accepted it"
    with pytest.raises(InputError):
        parse_playbook(text, path="pb.yaml", slug="service-health")


@pytest.mark.parametrize(
    "text",
    [
        "components:\n  gw: {host: h, role: gateway}\n",  # role is a var
        "components:\n  gw: {host: h, port: 70000}\n",
        "components:\n  Global: {host: h}\n",
        "components:\n  gw: {host: h, connection: winrm}\n",
        "components:\n  gw: {host: h, env: ['not a name']}\n",
        "defaults: {user: u}\n",
    ],
)
def test_a_bad_inventory_is_refused_by_schema_and_loader(
    text: str, inventory_schema: dict[str, Any], tmp_path: Path
) -> None:
    assert _errors(inventory_schema, text), "the schema accepted it"
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError):
        load_inventory(path)
