"""Transports: how a bash session, and an HTTP probe's tunnel, reach a target.

A target's transport is chosen by its inventory `connection:` (`ssh` by default, `local` for
this machine) from `TRANSPORTS`. Adding a transport is one module here that defines
`create(target, shared) -> Transport`, one line in `TRANSPORTS`, and one line in the session
contract suite (`tests/contract/conftest.py`).

The registry names modules, not classes, so that `taskrun plan` (which only needs the names)
never loads a network library.
"""

from __future__ import annotations

import importlib

from runner.errors import InputError
from runner.models import Target
from runner.transports.base import Shared, Transport

TRANSPORTS: dict[str, str] = {
    "ssh": "runner.transports.ssh",
    "local": "runner.transports.local",
}


def known_connections() -> tuple[str, ...]:
    return tuple(TRANSPORTS)


def transport_for(target: Target, shared: Shared) -> Transport:
    """A new transport for `target`; pools and tunnels it needs live in `shared`."""
    module_name = TRANSPORTS.get(target.connection)
    if module_name is None:
        known = ", ".join(TRANSPORTS)
        raise InputError(
            f"component {target.component}: unknown connection {target.connection!r} "
            f"(known: {known})"
        )
    # The registry's one deliberate lazy import: see the module docstring.
    module = importlib.import_module(module_name)
    transport: Transport = module.create(target, shared)
    return transport
