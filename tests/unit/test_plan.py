"""The planner on small synthetic task files, one rule of DESIGN.md §2-§4 at a time."""

from __future__ import annotations

import textwrap

import pytest

from runner.bash.guard import mutation_reason
from runner.errors import InputError
from runner.markdown.document import parse_document
from runner.models import Directives, Expectation, Plan, PlannedCheck
from runner.plan.build import PlanContext, build_plan, expand_components, slugify
from runner.project.playbooks import parse_playbook

INVENTORY = ("api-gateway", "llm-01", "llm-02", "orc")
WITH_INVENTORY = PlanContext(
    inventory_components=INVENTORY,
    inventory_groups={"ollama": ("llm-01", "llm-02")},
)
FENCE = "```"


def task(
    commands: str | None = None,
    *,
    steps: str = "1. Check it",
    component: str | None = "`api-gateway`",
    must_pass: str = "",
    objective: str = "Restart the gateway.",
) -> str:
    """A template-A task file; `commands` is the Markdown under `### Test Commands`."""
    context = "" if component is None else f"- **Component**: {component}\n"
    parts = [
        "# Engineering Task: Synthetic\n",
        "> **Task ID**: `ENG-900`\n",
        "## 🎯 Objective\n",
        f"{objective}\n",
        "## 🏗️ Infrastructure Context\n",
        f"{context}- **Network Changes**: `No`\n",
        "## ✅ Execution Plan\n",
        "1. **Change it**\n\n"
        f"   {FENCE}bash\n   sudo systemctl restart hx-gateway-ml\n   {FENCE}\n",
        "## 🧪 Validation Criteria\n",
        f"### Must-Pass Validations\n\n{must_pass}\n" if must_pass else "",
        f"### Test Steps\n\n{steps}\n",
        f"### Test Commands\n\n{commands}\n" if commands is not None else "",
        "## 📊 Status Tracking\n",
        "- **Current Status**: `Not Started`\n",
    ]
    return "\n".join(parts)


def bash(body: str, info: str = "bash") -> str:
    return f"{FENCE}{info}\n{textwrap.dedent(body).strip(chr(10))}\n{FENCE}"


def plan_of(markdown: str, context: PlanContext | None = None) -> Plan:
    doc = parse_document(markdown.encode(), "tasks/ENG-900.md")
    return build_plan(doc, context or PlanContext())


def line_of(markdown: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `needle`."""
    hits = [n for n, line in enumerate(markdown.split("\n"), start=1) if needle in line]
    return hits[occurrence - 1]


def commands(plan: Plan) -> list[PlannedCheck]:
    return [check for check in plan.checks if check.kind in ("command", "setup")]


def texts(plan: Plan) -> list[str]:
    return [check.command for check in commands(plan)]


# --------------------------------------------------------------------------- where checks come from


def test_test_commands_block_gives_one_check_per_command_with_labels_and_lines() -> None:
    md = task(
        bash(
            """
            # Check the service
            systemctl is-active hx-gateway-ml

            # Check the port
            ss -ltn | grep -q ':4010' && echo ok
            curl -s \\
              http://127.0.0.1:4010/healthz
            """
        )
    )
    plan = plan_of(md)
    assert [(c.line, c.label, c.command, c.source, c.kind) for c in plan.checks] == [
        (
            line_of(md, "systemctl is-active"),
            "Check the service",
            "systemctl is-active hx-gateway-ml",
            "test-commands",
            "command",
        ),
        (
            line_of(md, "ss -ltn"),
            "Check the port",
            "ss -ltn | grep -q ':4010' && echo ok",
            "test-commands",
            "command",
        ),
        (
            line_of(md, "curl -s"),
            "curl -s \\",
            "curl -s \\\n  http://127.0.0.1:4010/healthz",
            "test-commands",
            "command",
        ),
    ]
    assert all(check.expectation == Expectation() for check in plan.checks)
    assert all(check.components == ("api-gateway",) for check in plan.checks)


def test_execution_plan_blocks_are_never_checks() -> None:
    plan = plan_of(task(bash("true")))
    assert texts(plan) == ["true"]
    assert not any("restart" in check.command for check in plan.checks)


def test_test_steps_blocks_run_only_when_there_is_no_test_commands_block() -> None:
    steps = "1.  **Probe**\n    " + bash("echo from-steps").replace("\n", "\n    ")
    only_steps = plan_of(task(steps=steps))
    assert texts(only_steps) == ["echo from-steps"]
    assert commands(only_steps)[0].source == "test-steps"

    both = plan_of(task(bash("echo from-commands"), steps=steps))
    assert texts(both) == ["echo from-commands"]
    assert [check.source for check in both.checks] == ["test-commands"]
    assert any("Test Steps block not run" in note for note in both.notes), both.notes


def test_fences_in_list_items_lose_their_indentation_heredocs_included() -> None:
    body = "cat <<'EOF' | grep -q ready\nready\nEOF\necho after"
    steps = "1.  **Probe**\n    " + bash(body).replace("\n", "\n    ")
    md = task(steps=steps)
    plan = plan_of(md)
    assert texts(plan) == ["cat <<'EOF' | grep -q ready\nready\nEOF", "echo after"]
    assert [check.line for check in plan.checks] == [
        line_of(md, "cat <<"),
        line_of(md, "echo after"),
    ]


def test_inline_commands_are_test_steps_when_there_is_no_fenced_block() -> None:
    steps = (
        "1.  Check the unit: `systemctl is-active hx-gateway-ml` (Expected: `active`).\n"
        "2.  Check the port: `ss -ltn | grep 4010` (Expected: Shows a `LISTEN` line).\n"
        "3.  Look at `/v1/models` in the docs."
    )
    md = task(steps=steps)
    plan = plan_of(md)
    unit, port = plan.checks
    assert (unit.line, unit.command, unit.source) == (
        line_of(md, "Check the unit"),
        "systemctl is-active hx-gateway-ml",
        "test-steps",
    )
    assert unit.expectation == Expectation(stdout_line="active")
    # prose around the code span: shown to people, not checked
    assert port.expectation == Expectation()
    assert any("Shows a `LISTEN` line" in note for note in port.notes), port.notes
    assert unit.session == port.session  # one list: one session


def test_inline_commands_are_not_used_next_to_a_test_commands_block() -> None:
    steps = "1.  Check the unit: `systemctl is-active hx-gateway-ml` (Expected: `active`)."
    plan = plan_of(task(bash("echo ok"), steps=steps))
    assert texts(plan) == ["echo ok"]


def test_mixed_test_steps_run_in_file_order() -> None:
    """Inline commands and fenced blocks in one Test Steps list keep the file's order (DESIGN §2:
    blocks run in file order; only *consecutive* inline commands share a session)."""
    fenced = bash("echo two").replace("\n", "\n    ")
    steps = (
        "1.  Check: `systemctl is-active one`\n"
        f"2.  **Probe**\n    {fenced}\n"
        "3.  Then: `systemctl is-active three`"
    )
    md = task(steps=steps)
    plan = plan_of(md)
    assert [check.command for check in plan.checks] == [
        "systemctl is-active one",
        "echo two",
        "systemctl is-active three",
    ]
    assert [check.line for check in plan.checks] == sorted(check.line for check in plan.checks)
    first, _, third = plan.checks
    assert first.session != third.session  # not consecutive: the fenced block runs between


def test_crlf_and_bom_give_the_same_plan_as_lf() -> None:
    md = task(bash("# Unit\nsystemctl is-active x\ncurl -s \\\n  http://h/"))
    lf = plan_of(md)
    crlf = build_plan(
        parse_document(("\ufeff" + md.replace("\n", "\r\n")).encode(), "tasks/ENG-900.md")
    )
    assert [(c.id, c.line, c.label, c.command) for c in crlf.checks] == [
        (c.id, c.line, c.label, c.command) for c in lf.checks
    ]
    assert not any("\r" in check.command for check in crlf.checks)


# ------------------------------------------------------------------- blocks that are not run


@pytest.mark.parametrize("lang", ["ini", "python", "json"])
def test_a_non_runnable_block_is_shown_with_its_line_and_not_run(lang: str) -> None:
    # issue 14 item 7: everything the plan shows but will not run is kind "shown", with why
    md = task(bash("[Service]\nEnvironment=A=1", info=lang) + "\n\n" + bash("echo ok"))
    plan = plan_of(md)
    assert texts(plan) == ["echo ok"]
    (shown,) = [check for check in plan.checks if check.kind == "shown"]
    assert shown.line == line_of(md, f"{FENCE}{lang}") + 1
    assert shown.shown_reason == "language"
    assert shown.command == "[Service]\nEnvironment=A=1"
    assert any(lang in note and "not run" in note for note in shown.notes), shown.notes


@pytest.mark.parametrize("info", ["sh", "shell", "", "bash {name=x}"])
def test_other_runnable_fences_are_run(info: str) -> None:
    plan = plan_of(task(bash("echo ok", info=info)))
    assert texts(plan) == ["echo ok"]


def test_console_blocks_drop_prompts_and_output_lines() -> None:
    plan = plan_of(task(bash("$ echo one\none\n$ uname -s\nLinux", info="console")))
    assert texts(plan) == ["echo one", "uname -s"]


def test_a_task_with_only_non_runnable_blocks_says_nothing_can_be_verified() -> None:
    plan = plan_of(task(bash("[Service]", info="ini")))
    assert [check.kind for check in plan.checks if check.kind != "not-run"] == ["shown"]
    assert any("no runnable command" in note for note in plan.notes), plan.notes


def test_a_task_with_only_decorative_echoes_says_nothing_can_be_verified() -> None:
    # issue 18 item 7: `echo "=== … ==="` prints a caption; it checks nothing
    plan = plan_of(task(bash('echo "=== Checks ==="\necho ok')))
    assert [(c.kind, c.decorative) for c in plan.checks] == [("setup", True), ("setup", True)]
    assert any("no runnable command" in note for note in plan.notes), plan.notes


def test_a_task_with_commands_has_no_nothing_runnable_note() -> None:
    plan = plan_of(task(bash("test -d /tmp")))
    assert not any("no runnable command" in note for note in plan.notes)


def test_unterminated_fence_in_test_commands_is_an_input_error_at_the_fence() -> None:
    md = task(f"{FENCE}bash\necho ok\n")
    with pytest.raises(InputError) as caught:
        plan_of(md)
    assert caught.value.line == line_of(md, f"{FENCE}bash", occurrence=2)
    assert caught.value.path == "tasks/ENG-900.md"
    assert "unterminated" in caught.value.message


def test_unterminated_fence_in_test_steps_list_item_is_an_input_error_at_the_fence() -> None:
    md = task(steps=f"1.  **Probe**\n    {FENCE}bash\n    echo ok\n\n2.  Next")
    with pytest.raises(InputError) as caught:
        plan_of(md)
    assert caught.value.line == line_of(md, f"    {FENCE}bash")


# --------------------------------------------------------------------------- setup steps


def test_assignment_only_lines_are_setup_steps_not_checks() -> None:
    md = task(
        bash(
            """
            BASE=http://127.0.0.1:4010
            export TOKEN=abc LIMIT=3
            STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")
            [ "$STATUS" -eq 200 ]
            export -p
            """
        )
    )
    plan = plan_of(md)
    assert [(check.command.split()[0], check.kind) for check in plan.checks] == [
        ("BASE=http://127.0.0.1:4010", "setup"),
        ("export", "setup"),
        ("STATUS=$(curl", "command"),  # a command substitution runs a program
        ("[", "command"),
        ("export", "command"),  # `export -p` prints
    ]
    setups = [check for check in plan.checks if check.kind == "setup"]
    assert {check.session for check in plan.checks} == {setups[0].session}


def test_setup_steps_are_not_judged_by_the_guard() -> None:
    plan = plan_of(task(bash("X=1")), PlanContext(guard=mutation_reason))
    assert plan.checks[0].kind == "setup"
    assert plan.checks[0].guard_reason is None


# --------------------------------------------------------------------------- components


def test_component_field_without_inventory_is_shown_as_written() -> None:
    plan = plan_of(task(bash("true"), component="`llm-01, global`"))
    assert plan.components == ("llm-01", "global")
    assert plan.checks[0].components == ("llm-01", "global")


def test_global_expands_to_every_inventory_component_in_inventory_order() -> None:
    plan = plan_of(task(bash("true"), component="`global`"), WITH_INVENTORY)
    assert plan.components == INVENTORY
    assert plan.checks[0].components == INVENTORY


def test_several_components_keep_their_order_without_repeats() -> None:
    plan = plan_of(task(bash("true"), component="`orc, llm-01, orc`"), WITH_INVENTORY)
    assert plan.components == ("orc", "llm-01")


def test_groups_expand_to_their_members() -> None:
    plan = plan_of(task(bash("true"), component="`ollama`"), WITH_INVENTORY)
    assert plan.components == ("llm-01", "llm-02")


def test_expand_components_directly() -> None:
    assert expand_components(["global"], PlanContext()) == ("global",)
    assert expand_components(["orc", "global"], WITH_INVENTORY) == (
        "orc",
        "api-gateway",
        "llm-01",
        "llm-02",
    )


def test_default_component_applies_only_when_the_task_names_none() -> None:
    context = PlanContext(default_component="api-gateway")
    missing = plan_of(task(bash("true"), component=None), context)
    assert missing.components == ("api-gateway",)
    assert missing.checks[0].components == ("api-gateway",)
    assert any("default_component" in note for note in missing.notes), missing.notes

    named = plan_of(task(bash("true"), component="`orc`"), context)
    assert named.components == ("orc",)
    assert not any("default_component" in note for note in named.notes)


def test_no_component_and_no_default_gives_no_components_and_a_note() -> None:
    plan = plan_of(task(bash("true"), component=None))
    assert plan.components == ()
    assert plan.checks[0].components == ()
    assert any("components: []" in note for note in plan.notes), plan.notes


def test_a_placeholder_component_counts_as_none() -> None:
    plan = plan_of(task(bash("true"), component="`[api-gateway | llm-01 | orc | global]`"))
    assert plan.components == ()


def test_unknown_component_is_noted_when_there_is_an_inventory() -> None:
    plan = plan_of(task(bash("true"), component="`llm-03`"), WITH_INVENTORY)
    assert any("llm-03" in note for note in plan.checks[0].notes), plan.checks[0].notes


# --------------------------------------------------------------------------- directives


def test_on_in_the_fence_info_overrides_the_task_components() -> None:
    plan = plan_of(task(bash("nvidia-smi -L", info="bash {on=llm-01,llm-02}")), WITH_INVENTORY)
    assert plan.checks[0].components == ("llm-01", "llm-02")
    assert plan.components == ("api-gateway",)


def test_on_as_the_first_block_line_applies_to_the_whole_block() -> None:
    md = task(bash("# taskrun: on=orc\n\nhostname\nuptime"))
    plan = plan_of(md, WITH_INVENTORY)
    assert texts(plan) == ["hostname", "uptime"]
    assert [check.components for check in plan.checks] == [("orc",), ("orc",)]
    assert plan.checks[0].line == line_of(md, "hostname")


def test_on_above_a_command_overrides_the_block_for_that_command_only() -> None:
    md = task(
        bash(
            """
            # taskrun: on=orc

            hostname
            # taskrun: on=global
            uptime
            # taskrun: on=local
            date
            """
        )
    )
    plan = plan_of(md, WITH_INVENTORY)
    assert [(check.command, check.components) for check in plan.checks] == [
        ("hostname", ("orc",)),
        ("uptime", INVENTORY),
        ("date", ("local",)),
    ]
    assert all(check.label != "taskrun: on=global" for check in plan.checks)
    assert not any(check.notes for check in plan.checks)  # `local` is always known


def test_on_group_expands() -> None:
    plan = plan_of(task(bash("# taskrun: on=ollama\nollama list")), WITH_INVENTORY)
    assert plan.checks[0].components == ("llm-01", "llm-02")


def test_expect_exit_and_expect_stdout_become_the_expectation() -> None:
    md = task(
        bash(
            """
            # taskrun: expect-exit=1

            pgrep -af main.py
            # taskrun: expect-exit=0 expect-stdout='^active$'
            systemctl is-active hx-gateway-ml
            """
        )
    )
    pgrep, active = plan_of(md).checks
    assert pgrep.expectation == Expectation(exit_code=1)
    assert active.expectation == Expectation(exit_code=0, stdout_regex="^active$")
    assert active.directives.expect_exit == 0
    assert active.directives.expect_stdout == "^active$"


def test_name_directive_is_the_label_and_skip_is_noted() -> None:
    md = task(
        bash(
            """
            # Ignored label
            # taskrun: name="Gateway is up" skip="needs the VPN"
            systemctl is-active hx-gateway-ml
            """
        )
    )
    check = plan_of(md).checks[0]
    assert check.label == "Gateway is up"
    assert check.directives == Directives(name="Gateway is up", skip="needs the VPN")
    assert any("needs the VPN" in note for note in check.notes), check.notes


def test_an_unknown_directive_key_is_an_input_error_naming_the_line() -> None:
    md = task(bash("# taskrun: retires=3\ncurl -f http://127.0.0.1:4010/healthz"))
    with pytest.raises(InputError) as caught:
        plan_of(md)
    assert caught.value.line == line_of(md, "retires=3")


def test_a_directive_not_directly_above_a_command_is_an_input_error() -> None:
    md = task(bash("hostname\n\n# taskrun: on=orc\n\nuptime"))
    with pytest.raises(InputError) as caught:
        plan_of(md)
    assert caught.value.line == line_of(md, "taskrun: on=orc")


def test_fence_info_and_first_line_directives_merge() -> None:
    plan = plan_of(
        task(bash("# taskrun: timeout=5\n\nsleep 1", info="bash {on=orc}")), WITH_INVENTORY
    )
    check = plan.checks[0]
    assert (check.components, check.directives.timeout, check.command) == (("orc",), 5.0, "sleep 1")


# --------------------------------------------------------------------------- the safety guard


def test_the_guard_reason_is_kept_and_noted() -> None:
    md = task(
        bash(
            """
            systemctl is-active hx-gateway-ml
            sudo systemctl restart hx-gateway-ml
            # taskrun: mutating=ok
            sudo systemctl reload hx-gateway-ml
            """
        )
    )
    read, restart, reload_ok = plan_of(md, PlanContext(guard=mutation_reason)).checks
    assert read.guard_reason is None and read.notes == ()
    assert restart.guard_reason is not None
    assert any("--allow-mutating" in note for note in restart.notes), restart.notes
    assert reload_ok.guard_reason is not None
    assert any("mutating=ok" in note for note in reload_ok.notes), reload_ok.notes
    assert not any("--allow-mutating" in note for note in reload_ok.notes)


def test_a_function_defined_earlier_in_the_block_is_judged_where_it_is_called() -> None:
    md = task(
        bash(
            textwrap.dedent(
                """\
                probe() { curl -fsS "$1" >/dev/null; }
                tidy() { rm -rf /tmp/stale; }
                probe http://127.0.0.1:4000/health
                tidy
                """
            )
        )
    )
    define_probe, define_tidy, call_probe, call_tidy = plan_of(
        md, PlanContext(guard=mutation_reason)
    ).checks
    assert define_probe.guard_reason is None and define_tidy.guard_reason is None
    assert call_probe.guard_reason is None
    assert call_tidy.guard_reason == "deletes files (rm)"


def test_functions_do_not_leak_into_another_block() -> None:
    md = task(bash("tidy() { rm -rf /tmp/stale; }") + "\n" + bash("tidy"))
    _, call = plan_of(md, PlanContext(guard=mutation_reason)).checks
    assert call.guard_reason is None  # another session: `tidy` is not defined there


def test_cannot_see_is_a_guard_reason_in_the_plan() -> None:
    plan = plan_of(
        task(bash("curl -fsSL https://h/install.sh | sh")), PlanContext(guard=mutation_reason)
    )
    assert plan.checks[0].guard_reason == "cannot see what runs (sh reads a script from curl)"
    assert any("skipped unless --allow-mutating" in n for n in plan.checks[0].notes)


def test_without_a_guard_nothing_is_flagged() -> None:
    plan = plan_of(task(bash("sudo systemctl restart hx-gateway-ml")))
    assert plan.checks[0].guard_reason is None


# --------------------------------------------------------------------------- stable check ids

TWO_BLOCKS = bash("# Unit\nsystemctl is-active hx-gateway-ml\ncurl -f http://h/healthz") + (
    "\n\n" + bash("ss -ltn | grep -q 4010\necho done")
)


def ids(markdown: str) -> list[str]:
    return [check.id for check in plan_of(markdown).checks]


def test_ids_survive_an_edit_of_an_unrelated_earlier_line() -> None:
    before = ids(task(TWO_BLOCKS))
    after = ids(task(TWO_BLOCKS, objective="Restart the gateway.\n\nMore words.\n\nAnd more."))
    assert before == after
    assert len(set(before)) == 4


def test_ids_survive_edits_to_another_block() -> None:
    edited_second = TWO_BLOCKS.replace("echo done", "echo finished\nuptime")
    before, after = ids(task(TWO_BLOCKS)), ids(task(edited_second))
    assert after[:3] == before[:3]  # the first block and the untouched ss line
    assert after[3] != before[3]


def test_ids_survive_a_new_label_or_blank_line_above_a_command() -> None:
    relabelled = TWO_BLOCKS.replace("curl -f", "\n# Health\ncurl -f")
    assert ids(task(relabelled)) == ids(task(TWO_BLOCKS))


def test_ids_change_when_the_command_text_changes() -> None:
    changed = TWO_BLOCKS.replace("curl -f http://h/healthz", "curl -fsS http://h/healthz")
    before, after = ids(task(TWO_BLOCKS)), ids(task(changed))
    assert after[1] != before[1]
    assert [after[0], *after[2:]] == [before[0], *before[2:]]


def test_ids_are_unique_even_for_repeated_commands() -> None:
    plan_ids = ids(task(bash("echo ok\necho ok") + "\n\n" + bash("echo ok")))
    assert len(set(plan_ids)) == 3


def test_ids_are_the_same_for_identical_input() -> None:
    assert ids(task(TWO_BLOCKS)) == ids(task(TWO_BLOCKS))


# --------------------------------------------------------------------------- Must-Pass

MUST_PASS = """\
1. **Service Health**: All affected services respond to health checks
2. **End-to-End**: Complete workflow functions as expected\x20\x20
"""


def test_a_must_pass_item_with_no_playbook_is_one_not_run_check() -> None:
    md = task(bash("true"), must_pass=MUST_PASS, component="`global`")
    plan = plan_of(md, WITH_INVENTORY)
    must_pass = [check for check in plan.checks if check.source == "must-pass"]
    assert [(c.must_pass, c.kind, c.line, c.label, c.command) for c in must_pass] == [
        (
            "Service Health",
            "not-run",
            line_of(md, "**Service Health**"),
            "Service Health: All affected services respond to health checks",
            "",
        ),
        (
            "End-to-End",
            "not-run",
            line_of(md, "**End-to-End**"),
            "End-to-End: Complete workflow functions as expected",
            "",
        ),
    ]
    assert all("sign-off" in " ".join(check.notes) for check in must_pass)
    assert len({check.id for check in must_pass}) == 2


def test_a_must_pass_item_with_a_playbook_runs_the_playbook() -> None:
    playbook = parse_playbook(
        "description: up\nchecks:\n  - name: unit is active\n"
        "    run: systemctl is-active hx-gateway-ml\n",
        path="playbooks/must-pass/service-health.yaml",
        slug="service-health",
    )
    md = task(bash("true"), must_pass=MUST_PASS)
    plan = plan_of(md, PlanContext(playbooks={"service-health": playbook}))
    health = [check for check in plan.checks if check.must_pass == "Service Health"]
    assert [(c.kind, c.command, c.source) for c in health] == [
        ("command", "systemctl is-active hx-gateway-ml", "must-pass")
    ]
    end_to_end = [check for check in plan.checks if check.must_pass == "End-to-End"]
    assert [check.kind for check in end_to_end] == ["not-run"]


def test_slugify_finds_the_playbook_file_name() -> None:
    assert slugify("Service Health") == "service-health"
    assert slugify("End-to-End") == "end-to-end"
    assert slugify(" Security ") == "security"


def test_plan_carries_the_task_identity() -> None:
    plan = plan_of(task(bash("true")))
    assert (plan.task_id, plan.title, plan.task_path) == (
        "ENG-900",
        "Synthetic",
        "tasks/ENG-900.md",
    )
