"""`taskrun inventory check`: reachability, authentication, host key and round-trip time."""

from __future__ import annotations

import asyncio

from runner.app.project import Project
from runner.app.requests import InventoryCheckRequest
from runner.console import Console
from runner.errors import EXIT_COULD_NOT_RUN, EXIT_OK
from runner.ops.inventory_check import check_inventory
from runner.project.inventory import load_inventory
from runner.project.settings import effective_inventory

__all__ = ["run"]


def run(request: InventoryCheckRequest, console: Console) -> int:
    project = Project.open(request.project)
    inventory = load_inventory(effective_inventory(project.settings))
    checks = asyncio.run(check_inventory(inventory, accept_new=request.accept_new))
    if request.json:
        console.json(
            {
                "schema": "taskrun.inventory-check/1",
                "hosts": [
                    {
                        "component": c.component,
                        "host": c.target,
                        "status": c.status,
                        "detail": c.detail,
                        "rtt_ms": None if c.rtt_s is None else round(c.rtt_s * 1000, 1),
                        "keyscan": c.keyscan,
                    }
                    for c in checks
                ],
            }
        )
    else:
        rows = [
            (
                c.component,
                c.target,
                c.status,
                "" if c.rtt_s is None else f"{c.rtt_s * 1000:.1f} ms",
                c.detail or "",
            )
            for c in checks
        ]
        console.table(("component", "host", "status", "rtt", "detail"), rows)
        for c in checks:
            if c.keyscan:
                console.text(f"# {c.component}: add its host key after checking it:\n{c.keyscan}\n")
    return EXIT_OK if all(c.status == "ok" for c in checks) else EXIT_COULD_NOT_RUN
