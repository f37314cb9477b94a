"""The event loop of one command: run jobs (one per task) at most `limit` at once, sharing one
set of transports (one SSH pool), and turn SIGINT/SIGTERM into a cancellation.

A job is handed the shared transports and the `Interrupt` it should consult after a
cancellation (evidence so far is kept by the job; the task files are left alone).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from runner.transports.base import Shared

__all__ = ["Interrupt", "Job", "run_jobs"]

T = TypeVar("T")


@dataclass(slots=True)
class Interrupt:
    """Set when a signal cancelled the run: which one."""

    signum: int | None = None


Job = Callable[[Shared, Interrupt], Awaitable[T]]


def run_jobs(jobs: Sequence[Job[T]], *, limit: int = 1) -> tuple[list[T | None], int | None]:
    """Run every job; return their results in order (None for a job a signal cut short before
    it returned) and the signal that interrupted the run, if any."""
    interrupt = Interrupt()
    results: list[T | None] = [None] * len(jobs)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def on_signal(signum: int) -> None:
            interrupt.signum = signum
            main_task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        shared = Shared()
        gate = asyncio.Semaphore(max(1, limit))

        async def one(index: int, job: Job[T]) -> None:
            async with gate:
                results[index] = await job(shared, interrupt)

        try:
            await asyncio.gather(*(one(i, job) for i, job in enumerate(jobs)))
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await shared.close()

    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        if interrupt.signum is None:
            interrupt.signum = signal.SIGINT
    return results, interrupt.signum
