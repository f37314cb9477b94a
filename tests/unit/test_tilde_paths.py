"""`~name` for a user the machine does not have: Path.expanduser() raises RuntimeError, which
came out as a traceback. Found by test_fuzz_yaml.py (`playbooks: ~playbooks`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InputError
from runner.project.discovery import resolve_task
from runner.project.settings import load_settings

NO_SUCH_USER = "~no-such-user-taskrun"


def test_a_settings_path_for_an_unknown_user_is_an_input_error_at_its_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "taskrun.yaml").write_text(f"tasks: tasks\nplaybooks: {NO_SUCH_USER}\n")
    with pytest.raises(InputError) as caught:
        load_settings(cwd=tmp_path, environ={}, flags={})
    assert caught.value.line == 2
    assert NO_SUCH_USER in str(caught.value)


def test_a_task_path_for_an_unknown_user_is_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        resolve_task(f"{NO_SUCH_USER}/ENG-001.md", dirs=[tmp_path], cwd=tmp_path)
