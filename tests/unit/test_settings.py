"""Settings layering (defaults < taskrun.yaml < TASKRUN_* < flags), sources, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.project.settings import (
    DEFAULT_READ_ONLY_POSTS,
    PACKAGED_PLAYBOOKS,
    Settings,
    effective_inventory,
    find_config_file,
    load_settings,
    playbooks_dir_or_packaged,
    settings_table,
)


def load(cwd: Path, environ: dict[str, str] | None = None, **flags: object) -> Settings:
    return load_settings(cwd=cwd, environ=environ or {}, flags=flags)


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "taskrun.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder below an empty parent, so no taskrun.yaml above leaks in."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_defaults_resolve_from_cwd(project: Path) -> None:
    settings = load(project)
    assert settings.tasks == (project / "tasks",)
    assert settings.playbooks == project / "playbooks"
    assert settings.inventory is None
    assert effective_inventory(settings) == project / "playbooks" / "inventory.yaml"
    assert settings.reports == project / "reports"
    assert settings.default_component is None
    assert (settings.concurrency, settings.timeout, settings.timezone) == (32, 60.0, "UTC")
    assert settings.read_only_posts == DEFAULT_READ_ONLY_POSTS
    assert "/v1/chat/completions" in settings.read_only_posts
    assert set(settings.sources.values()) == {"default"}


def test_file_layer_overrides_defaults_with_line_sources(project: Path) -> None:
    config = write_config(
        project,
        "# project settings\n"
        "tasks: [docs/tasks, more]\n"
        "playbooks: pb\n"
        "default_component: api-gateway\n"
        "concurrency: 4\n"
        "timeout: 2.5\n"
        "timezone: Europe/Berlin\n"
        "read_only_posts: [/v1/rerank]\n",
    )
    settings = load(project)
    assert settings.tasks == (project / "docs" / "tasks", project / "more")
    assert settings.playbooks == project / "pb"
    assert effective_inventory(settings) == project / "pb" / "inventory.yaml"
    assert settings.default_component == "api-gateway"
    assert (settings.concurrency, settings.timeout, settings.timezone) == (4, 2.5, "Europe/Berlin")
    assert settings.read_only_posts == ("/v1/rerank",)
    assert settings.sources["tasks"] == f"taskrun.yaml:{config}(2)"
    assert settings.sources["read_only_posts"] == f"taskrun.yaml:{config}(8)"
    assert settings.sources["reports"] == "default"


def test_env_layer_overrides_file(project: Path) -> None:
    write_config(project, "timeout: 5\nconcurrency: 3\nreports: out\n")
    environ = {
        "TASKRUN_TIMEOUT": "7",
        "TASKRUN_TASKS": os.pathsep.join(["a", "/abs/b"]),
        "TASKRUN_INVENTORY": "inv.yaml",
        "TASKRUN_DEFAULT_COMPONENT": "orc",
        "TASKRUN_TIMEZONE": "America/New_York",
        "TASKRUN_NONSENSE": "ignored",
        "TASKRUN_REPORTS": "",  # empty: not given
    }
    settings = load(project, environ)
    assert settings.timeout == 7.0
    assert settings.concurrency == 3
    assert settings.tasks == (project / "a", Path("/abs/b"))
    assert settings.inventory == project / "inv.yaml"
    assert settings.reports == project / "out"
    assert settings.default_component == "orc"
    assert settings.timezone == "America/New_York"
    assert settings.sources["timeout"] == "env TASKRUN_TIMEOUT"
    assert settings.sources["tasks"] == "env TASKRUN_TASKS"
    assert settings.sources["concurrency"].startswith("taskrun.yaml:")
    assert settings.sources["reports"].startswith("taskrun.yaml:")


def test_flags_override_env(project: Path) -> None:
    write_config(project, "timeout: 5\n")
    settings = load(
        project,
        {"TASKRUN_TIMEOUT": "7", "TASKRUN_CONCURRENCY": "9"},
        timeout=1.5,
        tasks=(Path("x"), "y"),
        concurrency=None,  # not given: env stays
        reports=Path("/tmp/r"),
    )
    assert settings.timeout == 1.5
    assert settings.sources["timeout"] == "flag --timeout"
    assert settings.tasks == (project / "x", project / "y")
    assert settings.sources["tasks"] == "flag --tasks"
    assert settings.concurrency == 9
    assert settings.sources["concurrency"] == "env TASKRUN_CONCURRENCY"
    assert settings.reports == Path("/tmp/r")


def test_config_found_from_a_subdirectory_resolves_paths_from_its_folder(project: Path) -> None:
    config = write_config(project, "tasks: work/tasks\ninventory: ../shared/inv.yaml\n")
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config_file(deep) == config
    settings = load(deep)
    assert settings.tasks == (project / "work" / "tasks",)
    assert settings.inventory == project.parent / "shared" / "inv.yaml"
    # values not in the file still resolve from the current directory
    assert settings.reports == deep / "reports"


def test_nearest_config_wins(project: Path) -> None:
    write_config(project, "timeout: 5\n")
    inner = write_config(project / "sub", "timeout: 6\n")
    settings = load(project / "sub")
    assert settings.timeout == 6.0
    assert settings.sources["timeout"] == f"taskrun.yaml:{inner}(1)"


def test_empty_config_and_dash_spelling(project: Path) -> None:
    write_config(project, "# nothing yet\n")
    assert load(project).timeout == 60.0
    write_config(project, "default-component: llm-01\n")
    assert load(project).default_component == "llm-01"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("timeout: 5\ntasks: [a\n", 3, "not valid YAML"),
        ("timeout: 5\n  bad: indent\n", 2, "not valid YAML"),
        ("timeout: 5\ncolour: blue\n", 2, "colour: unknown setting"),
        ("concurrency: many\n", 1, "concurrency: expected a whole number"),
        ("concurrency: 0\n", 1, "concurrency: must be at least 1"),
        ("concurrency: true\n", 1, "concurrency: expected a whole number"),
        ("\n\ntimeout: -1\n", 3, "timeout: must be a positive number"),
        ("timeout:\n  - 1\n", 2, "timeout: expected a number of seconds"),
        ("tasks: {a: 1}\n", 1, "tasks: expected a path or a list of paths"),
        ("timezone: Mars/Olympus\n", 1, "timezone: unknown time zone"),
        ("read_only_posts: [1, 2]\n", 1, "read_only_posts: expected a list of strings"),
        ("timeout: 5\ntimeout: 6\n", 2, "timeout: given twice"),
        ("- timeout\n", 1, "expected a mapping"),
        ("timeout: .inf\n", 1, "timeout: must be a positive number"),
        ("timeout: .nan\n", 1, "timeout: must be a positive number"),
        ("\nconcurrency: !!int abc\n", 2, "concurrency: not a valid !!int value: 'abc'"),
        ("timeout: !!timestamp abc\n", 1, "timeout: not a valid !!timestamp value"),
        ("tasks: !!python/name:os.system ''\n", 1, "the tag !!python/name:os.system is not"),
        ("tasks: &t [a, *t]\n", 1, "alias *t is inside the node it names"),
        ("tasks: " + "[" * 200 + "]" * 200 + "\n", 1, "nested more than 100 levels"),
        ("timeout: 5\nreports: x\x00\n", 2, "special character #x0000 is not allowed"),
    ],
)
def test_bad_config_names_file_and_line(project: Path, text: str, line: int, fragment: str) -> None:
    write_config(project, text)
    with pytest.raises(InputError) as caught:
        load(project)
    error = caught.value
    assert error.path == "taskrun.yaml"
    assert error.line == line
    assert fragment in error.message
    assert str(error).startswith(f"taskrun.yaml({line}): ")


def test_bad_utf8_in_the_config_names_the_line(project: Path) -> None:
    (project / "taskrun.yaml").write_bytes(b"timeout: 5\ntasks: [caf\xe9]\n")
    with pytest.raises(InputError) as caught:
        load(project)
    assert str(caught.value) == "taskrun.yaml(2): not UTF-8 text (byte 0xe9 at offset 22)"


def test_bad_config_above_cwd_is_named_by_absolute_path(project: Path) -> None:
    config = write_config(project, "colour: blue\n")
    (project / "sub").mkdir()
    with pytest.raises(InputError) as caught:
        load(project / "sub")
    assert caught.value.path == config.as_posix()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKRUN_CONCURRENCY", "lots"),
        ("TASKRUN_CONCURRENCY", "-2"),
        ("TASKRUN_TIMEOUT", "soon"),
        ("TASKRUN_TIMEOUT", "nan"),
        ("TASKRUN_TIMEZONE", "Nowhere/Land"),
    ],
)
def test_bad_env_value_names_the_variable(project: Path, variable: str, value: str) -> None:
    with pytest.raises(InputError, match=variable):
        load(project, {variable: value})


def test_bad_flag_value_names_the_flag(project: Path) -> None:
    with pytest.raises(InputError, match="--concurrency"):
        load(project, concurrency=0)


def test_unknown_env_variables_are_ignored(project: Path) -> None:
    settings = load(project, {"TASKRUN_COLOUR": "blue", "TASKRUN_": "x", "TIMEOUT": "1"})
    assert settings.timeout == 60.0


def test_playbooks_folder_or_packaged(project: Path) -> None:
    settings = load(project)
    assert playbooks_dir_or_packaged(settings) == (PACKAGED_PLAYBOOKS, True)
    (project / "playbooks").mkdir()
    assert playbooks_dir_or_packaged(settings) == (project / "playbooks", False)


def test_explicit_missing_playbooks_folder_is_an_error(project: Path) -> None:
    settings = load(project, playbooks="nope")
    with pytest.raises(InputError, match=r"playbooks folder nope does not exist \(set by flag"):
        playbooks_dir_or_packaged(settings)


def test_settings_table_shows_values_and_sources(project: Path) -> None:
    write_config(project, "tasks: t\n")
    rows = {
        key: (value, source)
        for key, value, source in settings_table(load(project, {"TASKRUN_TIMEOUT": "3"}))
    }
    assert rows["tasks"][0] == "t"
    assert rows["tasks"][1].startswith("taskrun.yaml:")
    assert rows["timeout"] == ("3 s", "env TASKRUN_TIMEOUT")
    assert rows["inventory"] == ("playbooks/inventory.yaml (<playbooks>/inventory.yaml)", "default")
    assert rows["playbooks"][0].endswith("(missing: the packaged playbooks apply)")
    assert rows["default_component"] == ("(none)", "default")
    assert set(rows) == {
        "tasks",
        "playbooks",
        "inventory",
        "reports",
        "default_component",
        "concurrency",
        "timeout",
        "timezone",
        "read_only_posts",
        "validation_sections",
        "failure_markers",
    }


def test_validation_sections_and_failure_markers_come_from_taskrun_yaml(project: Path) -> None:
    config = write_config(
        project,
        "validation_sections: [Checks, 'Acceptance *']\nfailure_markers: ['NOT OK', '❌']\n",
    )
    settings = load(project)
    assert settings.validation_sections == ("Checks", "Acceptance *")
    assert settings.failure_markers == ("NOT OK", "❌")
    assert settings.sources["validation_sections"] == f"taskrun.yaml:{config}(1)"
    rows = {key: value for key, value, _ in settings_table(settings)}
    assert rows["failure_markers"] == "NOT OK, ❌"


def test_the_default_reading_rules() -> None:
    defaults = Settings()
    assert "Verification Commands" in defaults.validation_sections
    assert defaults.failure_markers == ("❌", "✗", "FAIL:", "FAILED:", "[FAIL]")


@pytest.mark.parametrize("value", ["[1, 2]", "{a: b}", "''"])
def test_bad_validation_sections_are_an_input_error_with_the_line(
    project: Path, value: str
) -> None:
    write_config(project, f"timeout: 3\nvalidation_sections: {value}\n")
    with pytest.raises(InputError) as caught:
        load(project)
    assert caught.value.line == 2
    assert "validation_sections: expected a list of strings" in caught.value.message
