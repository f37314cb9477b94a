"""The floor: bare asyncssh, one connection per host, the commands in order, all hosts at once.

Run as its own process (like every tool measured) so interpreter start-up counts for it too:
`python bench/floor.py HOSTS.json`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import asyncssh


async def run_host(host: dict[str, Any], commands: list[str]) -> list[int | None]:
    """Exit statuses of `commands` run one after another over one connection."""
    async with asyncssh.connect(
        host["address"],
        port=host["port"],
        username=host["user"],
        client_keys=[host["identity"]],
        known_hosts=host["known_hosts"],
        agent_path=None,
        connect_timeout=10,
    ) as connection:
        statuses: list[int | None] = []
        for command in commands:
            result = await connection.run(command, check=False)
            statuses.append(result.exit_status)
        return statuses


async def run_fleet(spec: dict[str, Any]) -> int:
    results = await asyncio.gather(
        *(run_host(host, spec["commands"]) for host in spec["hosts"]), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException) or any(s != 0 for s in r)]
    for failure in failures:
        print(f"floor: {failure!r}", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    return asyncio.run(run_fleet(spec))


if __name__ == "__main__":
    sys.exit(main())
