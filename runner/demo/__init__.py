"""`taskrun demo`: a sandbox of SSH "hosts" and HTTP stand-ins on loopback, and the demo task."""

from __future__ import annotations

from runner.demo.run import (
    DEMO_TASK,
    DEMO_TASK_ID,
    DemoLayout,
    demo_environment,
    prepare_demo,
    start_sandbox,
)
from runner.demo.sandbox import Sandbox

__all__ = [
    "DEMO_TASK",
    "DEMO_TASK_ID",
    "DemoLayout",
    "Sandbox",
    "demo_environment",
    "prepare_demo",
    "start_sandbox",
]
