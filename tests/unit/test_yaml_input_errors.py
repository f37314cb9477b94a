"""YAML input test_fuzz_yaml.py found crashing instead of giving an InputError at its line: a
value whose explicit tag cannot take it (`!!bool maybe` is a KeyError inside PyYAML), and bad
UTF-8 after a BOM."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.errors import InputError
from runner.project.inventory import load_inventory
from runner.project.yamlnodes import construct_value, decode_yaml


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("!!bool maybe", "!!bool value: 'maybe'"),
        ("{x: !!bool gw01}", "!!bool value: 'gw01'"),
        ("{!!bool gw01: 1}", "!!bool value: 'gw01'"),
        ("!!float x", "!!float value: 'x'"),
    ],
)
def test_a_value_its_tag_cannot_take_is_an_input_error(text: str, shown: str) -> None:
    with pytest.raises(InputError, match="not a valid ") as caught:
        construct_value(yaml.compose(text), path="v.yaml")
    assert shown in str(caught.value)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "components:\n  a: {host: h, vars: {x: !!bool gw01}}\n",
            "(2): components.a.vars.x: not a valid !!bool value: 'gw01'",
        ),
        (
            "all:\n  hosts:\n    h1:\n      ansible_host: 10.0.0.5\n      x: !!bool maybe\n",
            "(5): all.hosts.h1.x: not a valid !!bool value: 'maybe'",
        ),
    ],
)
def test_inventories_with_such_a_value_are_refused_at_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_inventory(path, home=tmp_path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("data", "offset", "line"),
    [
        (b"\xef\xbb\xbf: \xff", 5, 1),
        (b"\xef\xbb\xbfa: 1\nb: \xc3", 11, 2),
        (b"a: 1\nb: \xff\n", 8, 2),
    ],
)
def test_bad_utf8_names_its_byte_and_line_with_or_without_a_bom(
    data: bytes, offset: int, line: int
) -> None:
    with pytest.raises(InputError) as caught:
        decode_yaml(data, path="inventory.yaml")
    assert f"at offset {offset})" in str(caught.value)
    assert f"byte 0x{data[offset]:02x}" in str(caught.value)
    assert caught.value.line == line
