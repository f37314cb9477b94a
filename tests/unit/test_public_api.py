from __future__ import annotations

import subprocess
import sys

import pytest

import runner


@pytest.mark.parametrize("name", runner.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(runner, name) is not None


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        runner.nope  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    heavy = ("runner.plan.build", "asyncssh", "httpx", "rich")
    code = f"import sys, runner; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
