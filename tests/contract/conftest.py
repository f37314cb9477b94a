"""The `session_transport` fixture: every transport runs the same session contract.

To add a transport, write a fixture returning a zero-argument factory of `Transport`s and add
its name to `TRANSPORT_FACTORIES` (e.g. `"ssh": "ssh_transport_factory"`). A factory fixture
may `pytest.skip(...)` when what it needs (sshd) is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from runner.models import Target
from runner.transports.base import Transport
from runner.transports.local import LocalTransport
from runner.transports.ssh import SshTransport
from tests.fleet import Fleet, start_test_fleet
from tests.integration.conftest import require_sshd

TransportFactory = Callable[[], Transport]

# param id → name of the fixture that returns a TransportFactory
TRANSPORT_FACTORIES: dict[str, str] = {
    "local": "local_transport_factory",
    "ssh": "ssh_transport_factory",
}


@pytest.fixture
def local_transport_factory() -> TransportFactory:
    return lambda: LocalTransport(Target(component="orc", host="local"))


@pytest.fixture(scope="session")
def contract_fleet() -> Iterator[Fleet]:
    """Real sshd hosts on 127.0.0.2…; the sessions run as the fleet's login user."""
    require_sshd()
    fleet = start_test_fleet()
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def ssh_transport_factory(contract_fleet: Fleet) -> TransportFactory:
    # Each transport owns its pool (closed by transport.close()); ~/.ssh/config is ignored.
    return lambda: SshTransport.standalone(contract_fleet.target(0), config=[])


@pytest.fixture(params=list(TRANSPORT_FACTORIES))
async def session_transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    factory: TransportFactory = request.getfixturevalue(TRANSPORT_FACTORIES[request.param])
    transport = factory()
    try:
        yield transport
    finally:
        await transport.close()
