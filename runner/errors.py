"""The exception tree. Exceptions mean taskrun cannot proceed; check outcomes are data.

    TaskrunError                   root; never raised itself
    ├── InputError                 bad input: task file, directive, settings, inventory → exit 2
    │   ├── InputErrors            several of them at once (every bad directive of a file)
    │   └── AmbiguousTaskError     a Task ID matches several files (lists the candidates)
    ├── EvidenceError              reports/ cannot take the evidence → exit 6
    ├── WriteBackRefused           the task file changed under us, or a stale run → exit 5
    │   └── HandEditedEvidence     a person edited the evidence block (`--force` replaces it)
    ├── TransportError             a target cannot run anything (caught in execute → `error`)
    │   ├── ConnectError           refused, DNS, unreachable, frozen, dropped
    │   ├── AuthError              the server refused our key
    │   └── HostKeyError           unknown or changed host key
    └── ServiceError               an HTTP service refused, timed out or answered nothing
        └── ServiceRefused         …refused behind an SSH tunnel (both: the probe fails)

No asyncssh or httpx exception type leaves `runner/transports/`.

Exit codes live here too, so one place decides them: `EXIT_*` and `combined_exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

EXIT_OK = 0
EXIT_FAILED = 1  # a check failed
EXIT_USAGE = 2  # usage or input error: nothing run, nothing written
EXIT_COULD_NOT_RUN = 3  # no check failed, but some could not run, or none ran at all
EXIT_CHECK_DRIFT = 4  # --check: the recorded evidence is no longer true
EXIT_WRITE_REFUSED = 5  # the task file changed during the run
EXIT_EVIDENCE = 6  # reports/ cannot take the evidence
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

# DESIGN §8: "the first that applies".
_PRECEDENCE = (
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    EXIT_EVIDENCE,
    EXIT_WRITE_REFUSED,
    EXIT_CHECK_DRIFT,
    EXIT_FAILED,
    EXIT_COULD_NOT_RUN,
)


def combined_exit_code(codes: Iterable[int]) -> int:
    """One exit code for several tasks: the first of DESIGN §8's order that any of them has."""
    present = set(codes)
    return next((code for code in _PRECEDENCE if code in present), EXIT_OK)


class TaskrunError(Exception):
    """Root of every exception taskrun raises on purpose."""

    exit_code = 1


class InputError(TaskrunError):
    """Bad input. Rendered as one line: `path(line): message` (line 1-based, optional)."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}({self.line})"
        return f"{where}: {self.message}"


class InputErrors(InputError):
    """Several problems of one input found at once (every bad directive of a file): one
    `path(line): message` line each, so a person fixes them all in one go."""

    def __init__(self, problems: Sequence[InputError]):
        if not problems:
            raise ValueError("InputErrors needs at least one problem")
        self.problems = tuple(problems)
        first = self.problems[0]
        super().__init__(first.message, path=first.path, line=first.line)

    def render(self) -> str:
        return "\n".join(problem.render() for problem in self.problems)


class AmbiguousTaskError(InputError):
    def __init__(self, query: str, candidates: list[str]):
        self.candidates = candidates
        listing = ", ".join(candidates)
        super().__init__(
            f"task {query!r} matches {len(candidates)} files: {listing} "
            "(name one as FOLDER/ID or by its path)"
        )


class EvidenceError(TaskrunError):
    exit_code = 6


class WriteBackRefused(TaskrunError):
    exit_code = 5


class HandEditedEvidence(WriteBackRefused):
    """The evidence block's checksum does not match: a person edited it."""


class TransportError(TaskrunError):
    """A target cannot run commands; `execute` turns it into `error` outcomes."""

    exit_code = 3


class ConnectError(TransportError):
    pass


class AuthError(TransportError):
    pass


class HostKeyError(TransportError):
    pass


class ServiceError(TaskrunError):
    """The service a probe checks did not answer: refused, timed out, dropped. The probe
    `fail`s (the service is what it checks), unlike a `TransportError`."""

    exit_code = 1


class ServiceRefused(ServiceError):
    """The target's side of an SSH tunnel refused the connection (the service is down)."""
