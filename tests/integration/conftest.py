"""Integration fixtures: a session-wide fleet of real sshd hosts, and an SSH pool per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from runner.transports.ssh import SshPool
from tests.fleet import Fleet, require_sshd, start_test_fleet


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Hosts host1…host5 on 127.0.0.2…6; host5 has MaxSessions 2. Stopped by PID at the end."""
    require_sshd()
    started = start_test_fleet()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def pool() -> AsyncIterator[SshPool]:
    """A fresh pool that ignores ~/.ssh/config, closed after the test."""
    ssh_pool = SshPool(config=[])
    try:
        yield ssh_pool
    finally:
        await ssh_pool.close()
