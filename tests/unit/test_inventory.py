"""The inventory loader: taskrun's YAML and Ansible's, line-numbered errors, name resolution."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.project.inventory import Inventory, import_ansible, load_inventory

EXAMPLE = """\
defaults: {user: agent0, port: 22, connect_timeout: 10}
components:
  api-gateway: {host: 192.168.10.39, vars: {gateway_port: 4000}, secrets: [LITELLM_KEY]}
  llm-01: {host: 192.168.10.29, port: 2222, user: ops}
  orc: {host: local}        # `local`: run on this machine, no SSH
"""

ANSIBLE = """\
all:
  vars:
    ansible_user: deploy
  hosts:
    bastion:
      ansible_host: 10.0.0.1
  children:
    gpu:
      vars:
        model: llama
      hosts:
        llm-01: {ansible_host: 10.0.0.11, ansible_port: 2201}
        llm-02: {ansible_host: 10.0.0.12, ansible_user: root}
    web:
      hosts:
        web[01:02].example.com:
        llm-01:
    control:
      hosts:
        orc: {ansible_connection: local}
"""


def write(tmp_path: Path, text: str, name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_components_keep_inventory_order_and_merge_defaults(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, EXAMPLE))
    assert list(inventory.components) == ["api-gateway", "llm-01", "orc"]
    gateway = inventory.components["api-gateway"]
    assert (gateway.host, gateway.port, gateway.user) == ("192.168.10.39", 22, "agent0")
    assert gateway.vars == {"gateway_port": 4000}
    assert gateway.secrets == ("LITELLM_KEY",)
    llm = inventory.components["llm-01"]
    assert (llm.port, llm.user, llm.connect_timeout) == (2222, "ops", 10.0)
    assert inventory.components["orc"].is_local


def test_resolve_expands_global_and_reports_unknown_names(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, EXAMPLE))
    targets, unknown = inventory.resolve(["llm-01", "global", "nope", "llm-01"])
    assert [t.component for t in targets] == ["llm-01", "api-gateway", "orc"]
    assert unknown == ["nope"]


def test_resolve_local_without_a_local_component_is_this_machine(tmp_path: Path) -> None:
    targets, unknown = load_inventory(write(tmp_path, EXAMPLE)).resolve(["local"])
    assert unknown == []
    assert [(t.component, t.is_local) for t in targets] == [("local", True)]


def test_paths_expand_home_and_resolve_against_the_inventory_folder(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    text = (
        "defaults: {identity: ~/.ssh/id_fleet}\n"
        "components:\n"
        "  a: {host: h1, known_hosts: keys/known_hosts}\n"
        "  b: {host: h2, known_hosts: /etc/ssh/known}\n"
    )
    inventory = load_inventory(write(folder, text), home=Path("/home/someone"))
    a, b = inventory.components["a"], inventory.components["b"]
    assert a.identity == "/home/someone/.ssh/id_fleet"
    assert a.known_hosts == str(folder / "keys" / "known_hosts")
    assert b.known_hosts == "/etc/ssh/known"


def test_vars_merge_and_env_names_add_up(tmp_path: Path) -> None:
    text = (
        "defaults: {vars: {a: 1, b: 2}, env: [API_KEY]}\n"
        "components:\n"
        "  x: {host: h, vars: {b: 3}, env: [OTHER, API_KEY]}\n"
    )
    target = load_inventory(write(tmp_path, text)).components["x"]
    assert target.vars == {"a": 1, "b": 3}
    assert target.env == ("API_KEY", "OTHER")


def test_jump_naming_a_component_becomes_its_address(tmp_path: Path) -> None:
    text = (
        "components:\n"
        "  bastion: {host: 10.0.0.1, user: jumper, port: 2022}\n"
        "  inner: {host: 10.1.0.5, jump: bastion}\n"
        "  other: {host: 10.1.0.6, jump: 'ops@gw.example:22'}\n"
    )
    components = load_inventory(write(tmp_path, text)).components
    assert components["inner"].jump == "jumper@10.0.0.1:2022"
    assert components["other"].jump == "ops@gw.example:22"


A = "components:\n  a: "  # the start of a one-component inventory


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (A + "{host: h, port: x}\n", "(2): components.a.port: expected an integer"),
        (A + "\n    host: h\n    port: '22'\n", "(4): components.a.port: expected an integer"),
        (A + "{host: h, port: 70000}\n", "(2): components.a.port: expected a port number"),
        (A + "\n    host: h\n    hots: x\n", "(4): components.a.hots: unknown key"),
        ("defaults: {}\ncomponent:\n  a: {}\n", "(2): inventory.component: unknown key"),
        ("defaults: {usr: u}\ncomponents: {}\n", "(1): defaults.usr: unknown key"),
        (A + "{port: 22}\n", "(2): components.a.host: missing"),
        (A + "{host: h, connect_timeout: 0}\n", "(2): components.a.connect_timeout: must be"),
        (A + "{host: h, connect_timeout: x}\n", "(2): components.a.connect_timeout: expected"),
        (A + "{host: h}\n  a: {host: i}\n", "(3): components.a: duplicate key"),
        ("components:\n  global: {host: h}\n", "(2): components.global: `global` is reserved"),
        ("components:\n  'a b': {host: h}\n", "(2): components.a b: a component name is"),
        (A + "{host: h, env: [API-KEY]}\n", "(2): components.a.env: 'API-KEY' is not"),
        (A + "{host: h, vars: [1]}\n", "(2): components.a.vars: expected a mapping"),
        (A + "{host: [h]}\n", "(2): components.a.host: expected a string"),
        (A + "{host: h, identity: ''}\n", "(2): components.a.identity: must not be empty"),
        ("components: [a, b]\n", "(1): components: expected a mapping"),
        ("defaults: {}\n", "(1): missing `components:`"),
        ("- a\n- b\n", "(1): inventory: expected a mapping"),
        ("", ": the inventory is empty"),
        (A + "{host: h\n  b: 1\n", "(3): not valid YAML"),
        (A + "{host: h, port: -1}\n", "(2): components.a.port: expected a port number"),
        (A + "{host: h, port: 0}\n", "(2): components.a.port: expected a port number"),
        (A + "{host: h, port: 65536}\n", "(2): components.a.port: expected a port number"),
        (A + "\n    host: h\n    port: !!int abc\n", "(4): components.a.port: not a valid !!int"),
        (A + "{host: h, connect_timeout: .inf}\n", "(2): components.a.connect_timeout: must be"),
        (A + "{host: h, connect_timeout: .nan}\n", "(2): components.a.connect_timeout: must be"),
        (A + "{host: h, connect_timeout: -2}\n", "(2): components.a.connect_timeout: must be"),
        (A + "{host: h, user: [root]}\n", "(2): components.a.user: expected a string"),
        (
            A + "\n    host: h\n    vars:\n      when: !!timestamp abc\n",
            "(5): components.a.vars.when: not a valid !!timestamp value: 'abc'",
        ),
        (
            A + "{host: h, vars: {k: !!python/object:os.system x}}\n",
            "(2): components.a.vars.k: the tag !!python/object:os.system is not supported",
        ),
        (A + "\n    host: h\n    vars: &v {k: *v}\n", "(4): not valid YAML: alias *v is inside"),
        (A + "{host: h\x07}\n", "(2): not valid YAML: special character #x0007"),
        ("components: " + "[" * 500 + "]" * 500 + "\n", "(1): not valid YAML: nested more than"),
    ],
)
def test_validation_errors_name_the_line(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(f"{path}{where}")


def test_missing_file_is_an_error_only_when_required(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match="inventory file not found"):
        load_inventory(missing)
    assert load_inventory(missing, required=False).components == {}


def test_ansible_hosts_become_components_and_groups_resolve(tmp_path: Path) -> None:
    inventory = import_ansible(write(tmp_path, ANSIBLE, "hosts.yaml"))
    assert list(inventory.components) == [
        "bastion",
        "llm-01",
        "llm-02",
        "web01.example.com",
        "web02.example.com",
        "orc",
    ]
    llm1 = inventory.components["llm-01"]
    assert (llm1.host, llm1.port, llm1.user) == ("10.0.0.11", 2201, "deploy")
    assert llm1.vars == {"model": "llama"}
    assert inventory.components["llm-02"].user == "root"
    assert inventory.components["orc"].is_local
    assert inventory.components["web01.example.com"].host == "web01.example.com"
    targets, unknown = inventory.resolve(["gpu", "web", "nope"])
    assert [t.component for t in targets] == [
        "llm-01",
        "llm-02",
        "web01.example.com",
        "web02.example.com",
    ]
    assert unknown == ["nope"]
    assert [t.component for t in inventory.resolve(["all"])[0]] == list(inventory.components)


def test_load_inventory_recognises_the_ansible_format(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, ANSIBLE, "hosts.yaml"))
    assert "gpu" in inventory.groups
    assert isinstance(inventory, Inventory)


def test_ansible_errors_name_the_line(tmp_path: Path) -> None:
    text = "all:\n  children:\n    gpu:\n      hostz: {}\n"
    with pytest.raises(
        InputError, match=r"hosts\.yaml\(4\): all\.children\.gpu\.hostz: unknown key"
    ):
        import_ansible(write(tmp_path, text, "hosts.yaml"))


def test_bad_utf8_names_the_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_bytes(b"components:\r\n  a: {host: caf\xe9}\r\n")
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(caught.value) == f"{path}(2): not UTF-8 text (byte 0xe9 at offset 28)"


def test_aliases_that_do_not_recurse_are_allowed(tmp_path: Path) -> None:
    text = (
        "defaults: {user: agent0}\n"
        "components:\n"
        "  a: {host: h1, vars: &shared {model: llama, ports: [1, 2]}}\n"
        "  b: {host: h2, vars: *shared}\n"
    )
    inventory = load_inventory(write(tmp_path, text))
    assert inventory.components["b"].vars == {"model": "llama", "ports": [1, 2]}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "all:\n  hosts:\n    h1: {ansible_port: 70000}\n",
            "(3): all.hosts.h1.ansible_port: expected a port number (1-65535)",
        ),
        (
            "all:\n  vars:\n    ansible_ssh_port: -22\n  hosts: {h1: }\n",
            "(3): all.vars.ansible_ssh_port: expected a port number (1-65535)",
        ),
        (
            "all:\n  hosts:\n    h1: {ansible_port: true}\n",
            "(3): all.hosts.h1.ansible_port: expected a port number",
        ),
        (
            "all:\n  hosts:\n    h1:\n      ansible_user: [a, b]\n",
            "(4): all.hosts.h1.ansible_user: expected a single value (text)",
        ),
        (
            "all:\n  hosts:\n    h1: {ansible_host: ''}\n",
            "(3): all.hosts.h1.ansible_host: must not be empty",
        ),
        (
            "all:\n  hosts:\n    h1: {ansible_port: !!int abc}\n",
            "(3): all.hosts.h1.ansible_port: not a valid !!int value: 'abc'",
        ),
        (
            "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n"
            "            a: {}\n",
            "(7): all.children.a.children.b.children.a: group 'a' is its own ancestor",
        ),
        (
            "all:\n  children:\n    a: &a\n      children:\n        b: *a\n",
            "(5): not valid YAML: alias *a is inside the node it names",
        ),
        (
            "all:\n  hosts:\n    web[1:99999999]: {}\n",
            "(3): all.hosts.web[1:99999999]: range [1:99999999] expands past 10,000 hosts",
        ),
        (
            "all:\n  hosts:\n    web[1:200][1:100]: {}\n",
            "(3): all.hosts.web[1:200][1:100]: range [1:100] expands past 10,000 hosts",
        ),
        (
            "all:\n  hosts:\n    web[5:1]: {}\n",
            "(3): all.hosts.web[5:1]: range [5:1] runs backwards",
        ),
        (
            "all:\n  hosts:\n    web[1:1234567890]: {}\n",
            "(3): all.hosts.web[1:1234567890]: range [1:1234567890] expands past",
        ),
    ],
)
def test_ansible_values_are_checked_at_their_line(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text, "hosts.yaml")
    with pytest.raises(InputError) as caught:
        import_ansible(path)
    assert str(caught.value).startswith(f"{path}{where}")


def test_ansible_port_as_text_and_null_vars_fall_back(tmp_path: Path) -> None:
    text = (
        "all:\n  hosts:\n"
        "    h1: {ansible_port: '2222', ansible_user: null, ansible_ssh_user: ops}\n"
        "    h2: {ansible_ssh_port: 2200, ansible_host: ~}\n"
    )
    inventory = import_ansible(write(tmp_path, text, "hosts.yaml"))
    h1, h2 = inventory.components["h1"], inventory.components["h2"]
    assert (h1.host, h1.port, h1.user) == ("h1", 2222, "ops")
    assert (h2.host, h2.port, h2.user) == ("h2", 2200, None)


def test_ansible_ranges_expand_in_order_up_to_the_limit(tmp_path: Path) -> None:
    text = "all:\n  children:\n    web:\n      hosts:\n        web[08:10]-[1:2]:\n"
    inventory = import_ansible(write(tmp_path, text, "hosts.yaml"))
    assert inventory.groups["web"] == (
        "web08-1",
        "web08-2",
        "web09-1",
        "web09-2",
        "web10-1",
        "web10-2",
    )
    many = "all:\n  children:\n    a:\n      hosts:\n        n[1:10000]:\n"
    start = time.monotonic()
    inventory = import_ansible(write(tmp_path, many, "many.yaml"))
    assert len(inventory.components) == 10_000
    assert time.monotonic() - start < 5
    too_many = many + "    b:\n      hosts:\n        m1:\n"
    with pytest.raises(
        InputError, match=r"\(8\): all\.children\.b\.hosts\.m1: more than 10,000 hosts"
    ):
        import_ansible(write(tmp_path, too_many, "too-many.yaml"))


def test_a_group_listed_under_two_parents_gets_both_members_once(tmp_path: Path) -> None:
    text = (
        "all:\n  children:\n    east:\n      children:\n        db: &db\n"
        "          hosts: {db1: , db2: }\n    west:\n      children:\n        db: *db\n"
    )
    inventory = import_ansible(write(tmp_path, text, "hosts.yaml"))
    assert inventory.groups["db"] == ("db1", "db2")
    assert inventory.groups["east"] == inventory.groups["west"] == ("db1", "db2")


# --------------------------------------------------------------------------- connections


def test_connection_chooses_the_transport_and_host_local_means_local(tmp_path: Path) -> None:
    text = """\
components:
  a: {host: 10.0.0.1}
  b: {host: 10.0.0.2, connection: local}
  c: {host: local}
"""
    inventory = load_inventory(write(tmp_path, text))
    assert [t.connection for t in inventory.components.values()] == ["ssh", "local", "local"]


def test_an_unknown_connection_is_an_input_error_naming_the_known_ones(tmp_path: Path) -> None:
    text = "components:\n  a: {host: 10.0.0.1, connection: docker}\n"
    with pytest.raises(InputError) as caught:
        load_inventory(write(tmp_path, text))
    assert str(caught.value) == (
        f"{tmp_path / 'inventory.yaml'}(2): components.a.connection: unknown connection "
        "'docker' (known: ssh, local)"
    )


@pytest.mark.parametrize("plugin", ["winrm", "docker", "community.docker.docker"])
def test_an_ansible_connection_taskrun_cannot_run_is_an_input_error(
    tmp_path: Path, plugin: str
) -> None:
    text = f"all:\n  hosts:\n    win1: {{ansible_host: 10.0.0.5, ansible_connection: {plugin}}}\n"
    with pytest.raises(InputError, match=rf"win1.ansible_connection: '{plugin}' is not supported"):
        load_inventory(write(tmp_path, text))


@pytest.mark.parametrize(
    ("plugin", "expected"), [("ssh", "ssh"), ("smart", "ssh"), ("local", "local")]
)
def test_ansible_connections_taskrun_runs(tmp_path: Path, plugin: str, expected: str) -> None:
    text = f"all:\n  hosts:\n    h1: {{ansible_host: 10.0.0.5, ansible_connection: {plugin}}}\n"
    assert load_inventory(write(tmp_path, text)).components["h1"].connection == expected


def test_component_names_resolve_case_insensitively(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, EXAMPLE))
    targets, unknown = inventory.resolve(["Global", "LLM-01"])
    assert [t.component for t in targets] == ["api-gateway", "llm-01", "orc"]
    assert unknown == []
