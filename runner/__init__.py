"""taskrun: turn an engineering task file into evidence.

The public surface for use as a library is listed in `__all__`; names load on first use so
that `taskrun --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "parse_document": "runner.markdown.document",
    "split_block": "runner.bash.split",
    "build_plan": "runner.plan.build",
    "PlanContext": "runner.plan.build",
    "load_inventory": "runner.project.inventory",
    "load_settings": "runner.project.settings",
    "mutation_reason": "runner.bash.guard",
    "build_redactor": "runner.redact",
    "TaskDocument": "runner.models",
    "Plan": "runner.models",
    "PlannedCheck": "runner.models",
    "CheckResult": "runner.models",
    "RunRecord": "runner.models",
    "TaskrunError": "runner.errors",
    "InputError": "runner.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
