"""Playbooks: loading and validation (`file(line): …`), roles, vars, and expansion into checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.models import MustPassItem
from runner.plan.mustpass import (
    NotApplicable,
    Settled,
    component_role,
    component_vars,
    playbook_checks,
    render_template,
    resolve_check,
)
from runner.project.playbooks import (
    DEFAULT_VARS,
    MUST_PASS_SLUGS,
    SAMPLES_FROM_VARS,
    load_playbooks,
    parse_playbook,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGED = REPO / "runner" / "data" / "playbooks" / "must-pass"
PROJECT_COPY = REPO / "playbooks" / "must-pass"
TASK_COMPONENTS = ("api-gateway", "llm-01", "llm-02", "orc")


def parse(text: str, slug: str = "service-health"):
    return parse_playbook(text, path="pb.yaml", slug=slug)


def item(name: str = "Service Health", line: int = 41) -> MustPassItem:
    return MustPassItem(name=name, description="Gateway service remains operational", line=line)


@pytest.fixture(scope="module")
def shipped():
    return load_playbooks(PACKAGED)


# --------------------------------------------------------------------------- shipped playbooks


def test_the_four_shipped_playbooks_load(shipped) -> None:
    assert sorted(shipped) == sorted(MUST_PASS_SLUGS)
    assert all(playbook.description for playbook in shipped.values())


def test_the_project_copy_matches_the_packaged_playbooks() -> None:
    for path in PACKAGED.glob("*.yaml"):
        assert (PROJECT_COPY / path.name).read_bytes() == path.read_bytes(), path.name


def test_performance_never_calls_the_gateway_health_endpoint(shipped) -> None:
    for entry in shipped["performance"].entries:
        assert entry.probe is not None and entry.probe.samples == SAMPLES_FROM_VARS
        assert not re.search(r"/health(?:$|\?)", entry.probe.url)


def test_security_uses_the_key_named_by_gateway_key_env(shipped) -> None:
    headers = [dict(e.probe.headers) for e in shipped["security"].entries if e.probe]
    assert headers[0] == {}
    assert headers[2]["Authorization"] == "Bearer ${{{gateway_key_env}}}"


# --------------------------------------------------------------------------- validation

GOOD = """\
description: d
checks:
  - name: unit
    components: [gateway]
    when: gateway_unit
    run: systemctl is-active --quiet {{gateway_unit}}
  - name: liveness
    components: [gateway, llm-01]
    http:
      url: "http://127.0.0.1:{{gateway_port}}/health/liveliness"
      via: ssh
      headers: {Authorization: "Bearer ${KEY}"}
      expect:
        status: [200, 3xx]
        json:
          - {path: data.0.id, op: exists}
          - {path: n, op: min_length, value: 1}
        body_regex: "ok"
      max_latency_ms: 500
      timeout: 2.5
      retries: 2
"""


def test_a_valid_playbook_parses_into_entries_with_lines() -> None:
    playbook = parse(GOOD)
    unit, liveness = playbook.entries
    assert (unit.name, unit.line, unit.when, unit.components) == (
        "unit",
        3,
        "gateway_unit",
        ("gateway",),
    )
    assert unit.run == "systemctl is-active --quiet {{gateway_unit}}"
    probe = liveness.probe
    assert probe is not None and liveness.line == 7
    assert probe.method == "GET" and probe.via == "ssh"
    assert probe.expect_status == ("200", "3xx")
    assert [(j.path, j.op, j.value) for j in probe.expect_json] == [
        ("data.0.id", "exists", None),
        ("n", "min_length", 1),
    ]
    assert (probe.max_latency_ms, probe.timeout_s, probe.retries) == (500.0, 2.5, 2)
    assert probe.headers == (("Authorization", "Bearer ${KEY}"),)
    assert probe.samples is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("checks:\n  - name: a\n    run: x\nextra: 1\n", 4, "unknown key 'extra'"),
        ("checks:\n  - name: a\n    run: x\n    timeout: 3\n", 4, "unknown key 'timeout'"),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      verb: GET\n",
            5,
            "unknown key 'verb'",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect: {code: 200}\n",
            5,
            "unknown key 'code'",
        ),
        ("checks:\n  - run: x\n", 2, "missing `name`"),
        ("checks:\n  - name: a\n", 2, "exactly one of `run` and `http`"),
        ("checks:\n  - name: a\n    run: x\n    http: {url: 'http://x'}\n", 2, "exactly one"),
        ("checks: []\n", 1, "non-empty list"),
        ("description: x\n", 1, "no `checks:`"),
        ("checks:\n  - name: a\n    run: [x\n", 4, "not valid YAML"),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      expect: {status: 99}\n",
            5,
            "not an HTTP status",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      method: FETCH\n",
            5,
            "expected one of GET",
        ),
        ("checks:\n  - name: a\n    http:\n      url: ftp://x/\n", 4, "http:// or https://"),
        ("checks:\n  - name: a\n    http: {method: GET}\n", 3, "missing `url`"),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      via: ssh2\n",
            5,
            "`runner`, `ssh` or `local`",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      expect: {body_regex: '(unclosed'}\n",
            5,
            "invalid regular expression",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      expect:\n        json:\n          - {path: a, op: equals}\n",
            7,
            "needs a `value`",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      expect:\n        json:\n          - {path: a, op: sorta}\n",
            7,
            "expected one of exists",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      retries: -1\n",
            5,
            "whole number 0-20",
        ),
        ("checks:\n  - name: a\n    run: echo {{ not-a-var }}\n", 3, "not a {{var}} template"),
        ("checks:\n  - name: a\n    components: ['a b']\n    run: x\n", 3, "not a component"),
        ("checks:\n  - name: a\n    when: 'x y'\n    run: x\n", 3, "inventory var name"),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/health\n"
            "      performance: {samples: 5}\n",
            4,
            "must not call /health",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      performance: {samples: 0}\n",
            5,
            "whole number 1-10000",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      timeout: .inf\n",
            5,
            "expected a finite number ≥ 0.001",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      max_latency_ms: .nan\n",
            5,
            "expected a finite number ≥ 0",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n      retries: !!int x\n",
            5,
            "checks[1].http.retries: not a valid !!int value: 'x'",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      json:\n        when: !!timestamp abc\n",
            6,
            "checks[1].http.json: not a valid !!timestamp value: 'abc'",
        ),
        (
            "checks:\n  - name: a\n    http:\n      url: http://x/\n"
            "      json: !!python/object:os.system {}\n",
            5,
            "the tag !!python/object:os.system is not supported",
        ),
        ("checks: &c\n  - *c\n", 2, "alias *c is inside the node it names"),
        ("checks:\n  - name: a\x07\n", 2, "special character #x0007 is not allowed"),
        ("checks: " + "[" * 300 + "]" * 300 + "\n", 1, "nested more than 100 levels"),
    ],
)
def test_bad_playbooks_name_the_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(text)
    assert caught.value.path == "pb.yaml"
    assert caught.value.line == line, caught.value.render()
    assert message in caught.value.message
    assert caught.value.render().startswith(f"pb.yaml({line}): ")


def test_a_json_body_may_reuse_an_anchor() -> None:
    playbook = parse(
        "checks:\n  - name: a\n    http:\n      url: http://x/\n      json: {a: &m [1, 2], b: *m}\n"
    )
    probe = playbook.entries[0].probe
    assert probe is not None
    assert probe.json_body == {"a": [1, 2], "b": [1, 2]}


def test_a_playbook_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "security.yaml").write_bytes(b"checks:\n  - name: caf\xe9\n")
    with pytest.raises(InputError) as caught:
        load_playbooks(tmp_path)
    assert caught.value.line == 2
    assert caught.value.message == "not UTF-8 text (byte 0xe9 at offset 21)"


def test_a_performance_playbook_probe_needs_performance_settings() -> None:
    with pytest.raises(InputError, match="needs `performance:`"):
        parse("checks:\n  - name: a\n    http: {url: 'http://x/'}\n", slug="performance")


def test_performance_settings_are_read() -> None:
    playbook = parse(
        "checks:\n  - name: a\n    http:\n      url: http://x/v\n"
        "      performance: {samples: 7, tolerance: 0.5, tolerance_ms: 3}\n",
        slug="performance",
    )
    probe = playbook.entries[0].probe
    assert probe is not None
    assert (probe.samples, probe.tolerance, probe.tolerance_ms) == (7, 0.5, 3.0)


def test_load_playbooks_reads_a_folder_and_reports_the_bad_file(tmp_path: Path) -> None:
    (tmp_path / "security.yaml").write_text("checks:\n  - name: a\n    run: 'true'\n")
    (tmp_path / "notes.txt").write_text("not a playbook")
    assert list(load_playbooks(tmp_path)) == ["security"]
    (tmp_path / "end-to-end.yaml").write_text("checks:\n  - name: a\n    rn: x\n")
    with pytest.raises(InputError) as caught:
        load_playbooks(tmp_path)
    assert caught.value.render().startswith(f"{tmp_path / 'end-to-end.yaml'}(3): ")
    assert load_playbooks(tmp_path / "missing") == {}


# --------------------------------------------------------------------------- roles and vars


@pytest.mark.parametrize(
    ("component", "role"),
    [
        ("api-gateway", "gateway"),
        ("gateway-2", "gateway"),
        ("llm-01", "ollama"),
        ("llm-02", "ollama"),
        ("ollama-box", "ollama"),
        ("orc", "orchestrator"),
        ("db-01", None),
    ],
)
def test_roles_follow_the_component_name(component: str, role: str | None) -> None:
    assert component_role(component) == role


def test_the_role_var_wins_over_the_name() -> None:
    assert component_role("gpu-7", {"role": "ollama"}) == "ollama"
    assert component_vars("gpu-7", {"role": "ollama"})["role"] == "ollama"


def test_component_vars_merge_inventory_over_defaults() -> None:
    merged = component_vars("api-gateway", {"gateway_port": 4010, "gateway_unit": None})
    assert merged["gateway_port"] == 4010
    assert merged["gateway_unit"] is None
    assert merged["ollama_port"] == DEFAULT_VARS["ollama_port"] == 11434
    assert merged["perf_samples"] == 20
    assert merged["role"] == "gateway" and merged["component"] == "api-gateway"


def test_render_template_fills_vars_and_names_the_missing_one() -> None:
    assert render_template("x{{ a }}y{{b}}", {"a": 1, "b": "z"}) == "x1yz"
    assert render_template("${{{k}}}", {"k": "API_KEY"}) == "${API_KEY}"
    with pytest.raises(KeyError, match="b"):
        render_template("{{a}}{{b}}", {"a": 1, "b": None})


# --------------------------------------------------------------------------- expansion


def test_service_health_expands_by_role(shipped) -> None:
    checks = playbook_checks(item(), shipped["service-health"], TASK_COMPONENTS)
    by_label = {check.label: check for check in checks}
    assert by_label["gateway unit is active"].components == ("api-gateway",)
    assert by_label["ollama version"].components == ("llm-01", "llm-02")
    assert by_label["orchestrator unit is active"].components == ("orc",)
    assert [c.kind for c in checks] == ["command", "http", "command", "http", "http", "command"]
    for number, check in enumerate(checks, start=1):
        assert re.fullmatch(rf"mp-service-health-{number}-[0-9a-f]{{6}}", check.id)
        assert check.source == "must-pass" and check.must_pass == "Service Health"
        assert check.line == 42
    liveness = by_label["gateway liveness"]
    assert liveness.probe is not None and liveness.command.startswith("GET http://127.0.0.1:")
    assert "api-gateway: GET http://127.0.0.1:4000/health/liveliness" in liveness.notes
    assert by_label["gateway unit is active"].when_var == "gateway_unit"
    assert by_label["gateway unit is active"].command == (
        "systemctl is-active --quiet {{gateway_unit}}"
    )


def test_shell_checks_of_one_playbook_and_component_list_share_a_session(shipped) -> None:
    checks = playbook_checks(item(), shipped["service-health"], TASK_COMPONENTS)
    shell = [c for c in checks if c.kind == "command"]
    assert len({c.session for c in shell}) == 3  # three component lists
    http = [c for c in checks if c.kind == "http"]
    assert len({c.session for c in http}) == len(http)
    assert not {c.session for c in shell} & {c.session for c in http}


def test_rendered_urls_use_the_inventory_vars(shipped) -> None:
    checks = playbook_checks(
        item("Performance"),
        shipped["performance"],
        ("api-gateway", "llm-01"),
        inventory_vars={"api-gateway": {"gateway_port": 4010}, "llm-01": {"ollama_port": 11500}},
    )
    notes = [note for check in checks for note in check.notes]
    assert "api-gateway: GET http://127.0.0.1:4010/health/liveliness" in notes
    assert "llm-01: GET http://127.0.0.1:11500/api/version" in notes


def test_ids_are_stable_and_change_with_the_text() -> None:
    first = playbook_checks(item(), parse(GOOD), ("api-gateway",))
    again = playbook_checks(item(), parse(GOOD), ("api-gateway",))
    assert [c.id for c in first] == [c.id for c in again]
    edited = playbook_checks(item(), parse(GOOD.replace("--quiet", "-q")), ("api-gateway",))
    assert edited[0].id != first[0].id
    assert edited[1].id == first[1].id


def test_a_multi_command_run_block_follows_test_commands_rules() -> None:
    text = (
        "checks:\n  - name: disk\n    run: |\n      LIMIT=90\n"
        "      # taskrun: expect-exit=1\n      test $(df --output=pcent / | tail -1 | tr -dc 0-9)"
        " -gt $LIMIT\n      # root is writable\n      test -w /\n"
    )
    checks = playbook_checks(item(), parse(text), ("orc",))
    assert [c.kind for c in checks] == ["setup", "command", "command"]
    assert checks[1].expectation.exit_code == 1
    assert checks[2].label == "root is writable"
    assert checks[1].label == "disk (2)"
    assert len({c.session for c in checks}) == 1


def test_the_guard_marks_state_changing_playbook_commands() -> None:
    text = "checks:\n  - name: restart\n    run: systemctl restart x\n"
    checks = playbook_checks(item(), parse(text), ("orc",), guard=lambda cmd: "restarts a service")
    assert checks[0].guard_reason == "restarts a service"
    assert any("--allow-mutating" in note for note in checks[0].notes)


def test_an_item_no_entry_applies_to_is_manual(shipped) -> None:
    checks = playbook_checks(item("Security"), shipped["security"], ("llm-01",))
    assert len(checks) == 1
    assert checks[0].kind == "not-run" and checks[0].id == "mp-security"
    assert "needs a person's sign-off" in checks[0].notes[0]
    assert playbook_checks(item(), shipped["security"], ())[0].kind == "not-run"


def test_named_components_and_star_apply_too() -> None:
    text = (
        "checks:\n  - name: a\n    components: [orc]\n    run: 'true'\n"
        "  - name: b\n    run: 'true'\n"
    )
    checks = playbook_checks(item(), parse(text), ("api-gateway", "orc"))
    assert [(c.label, c.components) for c in checks] == [
        ("a", ("orc",)),
        ("b", ("api-gateway", "orc")),
    ]


# --------------------------------------------------------------------------- per component


def test_resolve_check_drops_a_null_when_var_and_renders_otherwise(shipped) -> None:
    unit = playbook_checks(item(), shipped["service-health"], ("api-gateway",))[0]
    skipped = resolve_check(
        unit,
        component="api-gateway",
        vars=component_vars("api-gateway", {"gateway_unit": None}),
    )
    assert skipped == NotApplicable("not applicable: gateway_unit is null for api-gateway")
    ready = resolve_check(unit, component="api-gateway", vars=component_vars("api-gateway"))
    assert not isinstance(ready, Settled)
    assert ready.command == "systemctl is-active --quiet hx-litellm-gateway.service"
    assert ready.components == ("api-gateway",)


def test_resolve_check_errors_on_a_missing_template_var() -> None:
    text = "checks:\n  - name: a\n    run: curl -s http://x:{{custom_port}}/\n"
    check = playbook_checks(item(), parse(text), ("orc",))[0]
    settled = resolve_check(check, component="orc", vars=component_vars("orc"))
    assert settled == Settled("error", "inventory var 'custom_port' is not set for orc")


def test_http_writes_are_guarded_like_curl() -> None:
    from runner.bash.guard import mutation_reason

    def guard(command: str) -> str | None:
        return mutation_reason(command, read_only_posts=("/v1/chat/completions",))

    text = (
        "checks:\n  - name: chat\n    http: {method: POST, url: 'http://h/v1/chat/completions'}\n"
        "  - name: mint\n    http: {method: POST, url: 'http://h/key/generate'}\n"
        "  - name: read\n    http: {url: 'http://h/key/generate'}\n"
    )
    chat, mint, read = playbook_checks(item(), parse(text), ("orc",), guard=guard)
    assert chat.guard_reason is None and read.guard_reason is None
    assert mint.guard_reason == "HTTP POST to /key/generate"


# --------------------------------------------------------------------------- applicability


def test_a_null_when_var_leaves_the_component_out_and_says_so(shipped) -> None:
    vars = {"llm-01": {"ollama_unit": None}, "llm-02": {}}
    checks = playbook_checks(
        item(), shipped["service-health"], ("llm-01", "llm-02"), inventory_vars=vars
    )
    unit = next(c for c in checks if c.label == "ollama unit is active")
    assert unit.kind == "command"
    assert unit.components == ("llm-02",)
    assert "not applicable: ollama_unit is null for llm-01" in unit.notes


def test_a_check_applying_nowhere_because_of_when_is_shown_not_run(shipped) -> None:
    checks = playbook_checks(
        item(),
        shipped["service-health"],
        ("llm-01",),
        inventory_vars={"llm-01": {"ollama_unit": None}},
    )
    shown = [c for c in checks if c.kind == "shown"]
    assert [(c.label, c.reason) for c in shown] == [
        ("ollama unit is active", "not applicable: ollama_unit is null for llm-01")
    ]
    assert [c.kind for c in checks if c.kind != "shown"] == ["http", "http"]


def test_an_item_whose_every_check_is_not_applicable_is_manual() -> None:
    text = "checks:\n  - name: unit\n    when: orc_unit\n    run: systemctl is-active x\n"
    checks = playbook_checks(
        item(), parse(text), ("orc",), inventory_vars={"orc": {"orc_unit": None}}
    )
    assert [c.kind for c in checks] == ["not-run", "shown"]
    assert checks[0].reason is not None and "needs a person's sign-off" in checks[0].reason


def test_no_role_of_the_task_is_manual_with_that_reason(shipped) -> None:
    checks = playbook_checks(item(), shipped["service-health"], ("web-1", "web-2"))
    (manual,) = checks
    assert manual.kind == "not-run"
    assert manual.components == ("web-1+web-2",)
    assert manual.reason == (
        "no check of playbook "
        f"{shipped['service-health'].path} applies to the task's components (web-1, web-2); "
        "needs a person's sign-off"
    )


LOOPBACK = "checks:\n  - name: p\n    http:\n      url: 'http://{{where}}:8080/x'\n{via}"


@pytest.mark.parametrize(
    ("where", "via", "remote", "refused"),
    [
        ("127.0.0.1", "", True, True),
        ("localhost", "", True, True),
        ("[::1]", "", True, True),
        ("127.0.0.1", "      via: runner\n", True, True),
        ("127.0.0.1", "      via: ssh\n", True, False),
        ("127.0.0.1", "      via: local\n", True, False),
        ("127.0.0.1", "", False, False),  # the component is this machine
        ("10.1.2.3", "", True, False),  # a real address: the runner reaches it
    ],
)
def test_a_loopback_probe_on_a_remote_component_needs_via(
    where: str, via: str, remote: bool, refused: bool
) -> None:
    playbook = parse(LOOPBACK.replace("{via}", via), slug="end-to-end")
    vars = {"gw": {"where": where}}
    remote_components = ("gw",) if remote else ()

    def plan() -> list:
        return playbook_checks(
            item(), playbook, ("gw",), inventory_vars=vars, remote_components=remote_components
        )

    if not refused:
        assert [c.kind for c in plan()] == ["http"]
        return
    with pytest.raises(InputError) as caught:
        plan()
    assert (caught.value.path, caught.value.line) == ("pb.yaml", 2)
    assert "remote component gw" in caught.value.message
    assert "via: ssh" in caught.value.message and "via: local" in caught.value.message
