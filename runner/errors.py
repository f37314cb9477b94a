"""The exception tree. Exceptions mean taskrun cannot proceed; check outcomes are data.

    TaskrunError                   root; never raised itself
    ├── InputError                 bad input: task file, directive, settings, inventory → exit 2
    │   └── AmbiguousTaskError     a Task ID matches several files (lists the candidates)
    ├── EvidenceError              reports/ cannot take the evidence → exit 6
    ├── WriteBackRefused           the task file changed under us, or a hand edit → exit 5
    └── TransportError             a target cannot run anything (caught in execute → `error`)
        ├── ConnectError           refused, DNS, unreachable, frozen, dropped
        ├── AuthError              the server refused our key
        └── HostKeyError           unknown or changed host key

No asyncssh or httpx exception type leaves `runner/transports/`.
"""

from __future__ import annotations


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


class TransportError(TaskrunError):
    """A target cannot run commands; `execute` turns it into `error` outcomes."""

    exit_code = 3


class ConnectError(TransportError):
    pass


class AuthError(TransportError):
    pass


class HostKeyError(TransportError):
    pass
