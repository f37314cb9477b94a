"""Fuzz the YAML loaders (inventory, Ansible inventory, taskrun.yaml, Must-Pass playbooks):
any file either loads or gives an InputError `file(line): …`, never another exception type.

The fuzz uses every YAML token, explicit tags, aliases and bytes that are not text included;
the defects it once found (DEFECT-5 … DEFECT-8) are pinned by the tests at the end.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import InputError
from runner.project.inventory import load_inventory, parse_ansible, parse_inventory
from runner.project.playbooks import parse_playbook
from runner.project.settings import load_settings
from tests.faults.mutations import YAML_TOKENS, budget, mutated

REPO = Path(__file__).resolve().parents[2]
PACKAGED_PLAYBOOKS = REPO / "runner" / "data" / "playbooks" / "must-pass"

FUZZ_TOKENS = YAML_TOKENS

INVENTORY_SEEDS = [
    (
        "design",
        b"defaults: {user: agent0, port: 22, connect_timeout: 10}\n"
        b"components:\n"
        b"  api-gateway: {host: 192.168.10.39, vars: {gateway_port: 4000}}\n"
        b"  llm-01: {host: 192.168.10.29}\n"
        b"  orc: {host: local}        # `local`: run on this machine, no SSH\n",
    ),
    ("repo", (REPO / "playbooks" / "inventory.yaml").read_bytes()),
    (
        "full",
        b"defaults:\n  user: agent0\n  identity: ~/.ssh/id_ed25519\n  known_hosts: kh\n"
        b"  env: [API_KEY]\n  secrets:\n    - MASTER_KEY\n"
        b"components:\n  bastion:\n    host: 10.0.0.1\n    port: 2222\n"
        b"  api-gateway:\n    host: gw.internal\n    jump: bastion\n    connect_timeout: 2.5\n"
        b"    vars:\n      gateway_port: 4000\n      role: gateway\n      list: [1, 2]\n"
        b"  llm-01:\n    host: '::1'\n    user: ollama\n    env: API_TOKEN\n",
    ),
]
ANSIBLE_SEEDS = [
    (
        "ansible",
        b"all:\n  vars:\n    ansible_user: agent0\n  hosts:\n    orc:\n"
        b"      ansible_connection: local\n  children:\n    gateways:\n      hosts:\n"
        b"        gw01:\n          ansible_host: 192.168.10.39\n          ansible_port: 2222\n"
        b"    llms:\n      hosts:\n        llm[01:03]:\n          ansible_host: 10.0.0.5\n"
        b"      vars:\n        ansible_ssh_private_key_file: ~/.ssh/llm\n",
    )
]
SETTINGS_SEEDS = [
    (
        "settings",
        b"tasks: [tasks, more-tasks]\nplaybooks: playbooks\ninventory: playbooks/inventory.yaml\n"
        b"reports: reports\ndefault_component: api-gateway\nconcurrency: 8\ntimeout: 30.5\n"
        b"timezone: Europe/Berlin\nread_only_posts:\n  - /v1/chat/completions\n  - '*/search'\n",
    )
]
PLAYBOOK_SEEDS = [
    (path.name, path.read_bytes()) for path in sorted(PACKAGED_PLAYBOOKS.glob("*.yaml"))
]

# Whole-file problems have no line; every other message must name one.
_NO_LINE_APPLIES = ("empty", "not found", "cannot read")


def assert_clear_input_error(exc: InputError, path: str) -> None:
    assert exc.path == path, exc
    if exc.line is None:
        assert any(words in exc.message for words in _NO_LINE_APPLIES), f"no line: {exc}"
    else:
        assert exc.line >= 1
        assert str(exc).startswith(f"{path}({exc.line}): ")
    assert "Traceback" not in str(exc)


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM raises in the main thread."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def loads_or_input_error(load: Callable[[], object], path: str) -> None:
    try:
        with time_limit(10):
            load()
    except InputError as exc:
        assert_clear_input_error(exc, path)


# --------------------------------------------------------------------------- loaders


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("yaml-fuzz")


def load_inventory_bytes(folder: Path, data: bytes) -> None:
    path = folder / "inventory.yaml"
    path.write_bytes(data)
    loads_or_input_error(lambda: load_inventory(path, home=folder), str(path))


def parse_inventory_text(folder: Path, text: str) -> None:
    loads_or_input_error(
        lambda: parse_inventory(text, path="inv.yaml", base=folder, home=folder), "inv.yaml"
    )


def parse_ansible_text(folder: Path, text: str) -> None:
    loads_or_input_error(
        lambda: parse_ansible(text, path="hosts.yaml", base=folder, home=folder), "hosts.yaml"
    )


def load_settings_bytes(folder: Path, data: bytes) -> None:
    project = folder / "project"
    project.mkdir(exist_ok=True)
    (project / "taskrun.yaml").write_bytes(data)
    try:
        with time_limit(10):
            load_settings(cwd=project, environ={}, flags={})
    except InputError as exc:
        assert_clear_input_error(exc, "taskrun.yaml")


def parse_playbook_text(text: str) -> None:
    loads_or_input_error(
        lambda: parse_playbook(text, path="service-health.yaml", slug="service-health"),
        "service-health.yaml",
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- seeds load


def test_the_seeds_load(folder: Path) -> None:
    for _name, data in INVENTORY_SEEDS:
        parse_inventory(data.decode(), path="inv.yaml", base=folder, home=folder)
    for _name, data in ANSIBLE_SEEDS:
        assert len(parse_ansible(data.decode(), path="h", base=folder, home=folder).components) == 5
    for _name, data in PLAYBOOK_SEEDS:
        parse_playbook(data.decode(), path="p.yaml", slug="p")
    (folder / "project").mkdir(exist_ok=True)
    (folder / "project" / "taskrun.yaml").write_bytes(SETTINGS_SEEDS[0][1])
    assert load_settings(cwd=folder / "project", environ={}, flags={}).concurrency == 8
    assert len(PLAYBOOK_SEEDS) == 4


# --------------------------------------------------------------------------- fuzzing

INVENTORIES = mutated(INVENTORY_SEEDS + ANSIBLE_SEEDS, tokens=FUZZ_TOKENS, max_mutations=5)
ANSIBLE = mutated(ANSIBLE_SEEDS, tokens=FUZZ_TOKENS, max_mutations=5)
SETTINGS = mutated(SETTINGS_SEEDS, tokens=FUZZ_TOKENS, max_mutations=5)
PLAYBOOKS = mutated(PLAYBOOK_SEEDS, tokens=FUZZ_TOKENS, max_mutations=5)
SPLICED = st.lists(st.sampled_from(FUZZ_TOKENS), max_size=25).map(b"".join)


@budget(1000)
@given(st.one_of(INVENTORIES, SPLICED))
def test_inventory_files_load_or_give_a_clear_error(folder: Path, data: bytes) -> None:
    load_inventory_bytes(folder, data)


@budget(700)
@given(st.one_of(INVENTORIES, SPLICED))
def test_inventory_text_parses_or_gives_a_clear_error(folder: Path, data: bytes) -> None:
    parse_inventory_text(folder, _text(data))


@budget(700)
@given(st.one_of(ANSIBLE, SPLICED))
def test_ansible_inventories_parse_or_give_a_clear_error(folder: Path, data: bytes) -> None:
    parse_ansible_text(folder, _text(data))


@budget(700)
@given(st.one_of(SETTINGS, SPLICED))
def test_settings_files_load_or_give_a_clear_error(folder: Path, data: bytes) -> None:
    load_settings_bytes(folder, data)


@budget(700)
@given(st.one_of(PLAYBOOKS, SPLICED))
def test_playbooks_parse_or_give_a_clear_error(data: bytes) -> None:
    parse_playbook_text(_text(data))


@pytest.mark.slow
@budget(10_000)
@given(st.one_of(INVENTORIES, ANSIBLE, SETTINGS, PLAYBOOKS, SPLICED))
def test_slow_many_yaml_files_load_or_give_a_clear_error(folder: Path, data: bytes) -> None:
    load_inventory_bytes(folder, data)
    parse_ansible_text(folder, _text(data))
    load_settings_bytes(folder, data)
    parse_playbook_text(_text(data))


# --------------------------------------------------------------------------- defects found


def _settings_from(folder: Path, data: bytes) -> object:
    project = folder / "project"
    project.mkdir(exist_ok=True)
    (project / "taskrun.yaml").write_bytes(data)
    return load_settings(cwd=project, environ={}, flags={})


# loader → (the path its errors name, a call that raises)
LOADERS: dict[str, tuple[str, Callable[[Path, bytes], object]]] = {
    "inventory": (
        "inv.yaml",
        lambda folder, data: parse_inventory(
            _text(data), path="inv.yaml", base=folder, home=folder
        ),
    ),
    "ansible": (
        "hosts.yaml",
        lambda folder, data: parse_ansible(
            _text(data), path="hosts.yaml", base=folder, home=folder
        ),
    ),
    "settings": ("taskrun.yaml", _settings_from),
    "playbook": (
        "service-health.yaml",
        lambda _folder, data: parse_playbook(
            _text(data), path="service-health.yaml", slug="service-health"
        ),
    ),
}


def refused(folder: Path, loader: str, data: bytes) -> InputError:
    """The InputError the loader gives for `data`; it must name a line."""
    path, load = LOADERS[loader]
    with time_limit(10), pytest.raises(InputError) as caught:
        load(folder, data)
    assert_clear_input_error(caught.value, path)
    assert caught.value.line is not None, caught.value
    assert "\n" not in str(caught.value)
    return caught.value


def line_of(data: bytes, fragment: bytes) -> int:
    return data[: data.index(fragment)].count(b"\n") + 1


BAD_TAGS = {
    "inventory": [
        b"components:\n  a:\n    host: x\n    port: !!int abc\n",
        b"components:\n  a:\n    host: x\n    connect_timeout: !!float abc\n",
        b"components:\n  a:\n    host: x\n    vars: {k: !!timestamp abc}\n",
        b"components:\n  a:\n    host: x\n    vars: {k: !!python/object:os.system x}\n",
    ],
    "ansible": [
        b"all:\n  hosts:\n    h1: {ansible_port: !!int abc}\n",
        b"all:\n  vars: {x: !!python/name:os.system ''}\n  hosts: {h1: }\n",
    ],
    "settings": [b"concurrency: !!int abc\n", b"timeout: !!timestamp abc\n"],
    "playbook": [
        b"checks:\n  - name: x\n    http: {url: 'http://a/', timeout: !!int abc}\n",
        b"checks:\n  - name: x\n    http: {url: 'http://a/', json: {a: !!timestamp abc}}\n",
    ],
}


@pytest.mark.parametrize("loader", sorted(BAD_TAGS))
def test_bad_explicit_tags_give_input_errors(folder: Path, loader: str) -> None:
    for data in BAD_TAGS[loader]:
        assert refused(folder, loader, data).line == line_of(data, b"!!"), data


@pytest.mark.parametrize(
    ("loader", "data"),
    [
        ("inventory", b"components: " + b"[" * 2000 + b"]" * 2000 + b"\n"),
        ("settings", b"tasks: " + b"[" * 2000 + b"]" * 2000 + b"\n"),
        ("playbook", b"checks: " + b"[" * 2000 + b"]" * 2000 + b"\n"),
        ("inventory", b"components:\n  a:\n    host: x\n    vars: &v {k: *v}\n"),
        ("ansible", b"all:\n  children:\n    a: &a\n      children:\n        b: *a\n"),
    ],
    ids=["deep-inventory", "deep-settings", "deep-playbook", "alias-vars", "alias-children"],
)
def test_deep_or_recursive_yaml_gives_input_errors(folder: Path, loader: str, data: bytes) -> None:
    error = refused(folder, loader, data)
    if b"*" in data:
        assert error.line == line_of(data, b"*")
        assert "recursive alias" in error.message
    else:
        assert error.line == 1
        assert "nested more than" in error.message


def test_an_alias_bomb_is_refused(folder: Path) -> None:
    lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [b"a%d: &a%d [%s]" % (n, n, b", ".join([b"*a%d" % (n - 1)] * 10)) for n in range(1, 9)]
    error = refused(folder, "ansible", b"\n".join(lines) + b"\n")
    assert "aliases stand for more than 1,000,000 values" in error.message
    assert error.line == 6  # a5: the alias that crosses the limit


@pytest.mark.parametrize("loader", ["inventory", "settings", "playbook"])
@pytest.mark.parametrize(
    ("data", "line"), [(b"components:\n  a: {host: x\x07}\n", 2), (b"reports: x\x00\n", 1)]
)
def test_control_characters_give_an_error_with_a_line(
    folder: Path, loader: str, data: bytes, line: int
) -> None:
    error = refused(folder, loader, data)
    assert error.line == line
    assert "special character #x00" in error.message


@pytest.mark.parametrize("which", ["inventory", "settings"])
def test_bad_utf8_gives_an_error_with_a_line(folder: Path, which: str) -> None:
    data = b"components:\n  a: {host: x\xff}\n"
    (folder / "project").mkdir(exist_ok=True)
    path = folder / "project" / ("inventory.yaml" if which == "inventory" else "taskrun.yaml")
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        if which == "inventory":
            load_inventory(path, home=folder)
        else:
            load_settings(cwd=path.parent, environ={}, flags={})
    assert caught.value.line == 2, caught.value


def test_a_huge_ansible_host_range_is_refused_quickly(folder: Path) -> None:
    with pytest.raises(InputError), time_limit(5):
        parse_ansible(
            "all:\n  hosts:\n    web[1:99999999]: {}\n", path="h", base=folder, home=folder
        )
