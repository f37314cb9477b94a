"""Streaming output sinks: a capped, redacted log file per stream, plus the small tail and head
that results and expectations need, so a check's full output is never held in memory."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from runner.evaluate.command import strip_terminal_escapes

MIB = 1024 * 1024
LOG_CAP_BYTES = 10 * MIB
TAIL_BYTES = 4096
# expect-stdout / stdout-line expectations see at most this much of the start of stdout.
HEAD_BYTES = 1 * MIB
# A line longer than this is redacted and written in pieces (a secret split exactly at such
# a boundary could escape redaction; real secrets sit on ordinary lines).
MAX_PENDING_LINE = 64 * 1024

_FAILURE_LINE = re.compile(r"^[ \t\f\v]*❌.*$", re.MULTILINE)
# What surrogateescape decoding leaves for bytes that are not UTF-8; never handed out.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SUDO_PASSWORD = re.compile(r"^sudo: (a password is required|a terminal is required)", re.M)

Redactor = Callable[[str], str]


def identity(text: str) -> str:
    return text


class Sink(Protocol):
    """Where one stream's bytes go while a command runs."""

    def write(self, data: bytes) -> None: ...


class StreamCapture:
    """Receives one stream of one command: redacts it line by line, writes it to a capped log
    file (when given one), and keeps a tail, a head and the first failure-marker line."""

    def __init__(
        self,
        path: Path | None,
        *,
        redact: Redactor = identity,
        cap: int = LOG_CAP_BYTES,
        tail_bytes: int = TAIL_BYTES,
        head_bytes: int = HEAD_BYTES,
        unbuffered: bool = False,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self._on_error = on_error
        self.redact = redact  # replaceable: a session may learn more secrets
        self._cap = cap
        self._tail_bytes = tail_bytes
        self._head_bytes = head_bytes
        # Unbuffered: several captures may append to one file (the session log), each write
        # being whole lines. The file is created on the first byte, so silence leaves none.
        self._unbuffered = unbuffered
        self._file: BinaryIO | None = None
        self._pending = bytearray()
        self._tail = bytearray()
        self._head = bytearray()
        self.written = 0
        self.dropped = 0
        self.total = 0
        self.failure_line: str | None = None
        self.sudo_password = False
        # A log that cannot be written (disk full, folder gone) never stops the command's
        # capture: the tail and head stay in memory and the caller reports the evidence loss.
        self.write_error: str | None = None
        self._closed = False
        self._last_written = b""

    # ------------------------------------------------------------------ input
    def write(self, data: bytes) -> None:
        if not data or self._closed:
            return
        self._pending += data
        cut = self._pending.rfind(b"\n") + 1
        if cut == 0 and len(self._pending) < MAX_PENDING_LINE:
            return
        if cut == 0:
            cut = len(self._pending)
        complete = bytes(self._pending[:cut])
        del self._pending[:cut]
        self._emit(complete)

    def flush(self) -> None:
        """Push out a last line without a newline (end of the command)."""
        if self._pending:
            complete = bytes(self._pending)
            self._pending.clear()
            self._emit(complete)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._file is not None:
            try:
                if self.dropped:
                    newline = "" if self._last_written == b"\n" else "\n"
                    note = (
                        f"{newline}[taskrun: output capped at {self._cap // MIB} MiB; "
                        f"{self.dropped} bytes dropped]\n"
                    )
                    self._file.write(note.encode())
                self._file.close()
            except OSError as exc:
                self._failed(exc)
            self._file = None

    # ------------------------------------------------------------------ output
    @property
    def tail(self) -> str:
        return _decode_from_char_boundary(bytes(self._tail))

    @property
    def head(self) -> str:
        return bytes(self._head).decode("utf-8", errors="replace")

    @property
    def head_complete(self) -> bool:
        """True when `head` holds the whole stream (nothing past HEAD_BYTES)."""
        return self.total <= self._head_bytes

    # ------------------------------------------------------------------ internals
    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="surrogateescape")
        masked = self.redact(text)
        data = masked.encode("utf-8", errors="surrogateescape")
        self.total += len(data)
        self._write_capped(data)  # the log keeps the bytes as the command wrote them
        # Markers, expectations and tails see the text a terminal would show: a coloured
        # `\e[31m❌ down\e[0m` is a failure marker like any other.
        if "\x1b" in masked:
            masked = strip_terminal_escapes(masked)
            data = masked.encode("utf-8", errors="surrogateescape")
        self._scan(masked)
        self._keep_head(data)
        self._keep_tail(data)

    def _scan(self, text: str) -> None:
        if self.failure_line is None and "❌" in text:
            found = _FAILURE_LINE.search(text)
            if found:
                self.failure_line = _without_surrogates(found.group(0).strip())
        if not self.sudo_password and "sudo: a " in text and _SUDO_PASSWORD.search(text):
            self.sudo_password = True

    def _keep_head(self, data: bytes) -> None:
        room = self._head_bytes - len(self._head)
        if room > 0:
            self._head += data[:room]

    def _keep_tail(self, data: bytes) -> None:
        self._tail += data[-self._tail_bytes :]
        excess = len(self._tail) - self._tail_bytes
        if excess > 0:
            del self._tail[:excess]

    @property
    def has_file(self) -> bool:
        """True when a log file was written (some output arrived)."""
        return self.path is not None and self.total > 0

    def _ensure_open(self) -> BinaryIO | None:
        if self._file is None and self.path is not None and not self._closed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab", buffering=0 if self._unbuffered else -1)
        return self._file

    def _write_capped(self, data: bytes) -> None:
        if self.path is None or not data or self.write_error is not None:
            return
        room = self._cap - self.written
        if room > 0:
            part = data[:room]
            try:
                log = self._ensure_open()
                if log is not None:
                    log.write(part)
                    self._last_written = part[-1:]
            except OSError as exc:
                self._failed(exc)
                return
            self.written += len(part)
        self.dropped += max(0, len(data) - max(room, 0))

    def _failed(self, exc: OSError) -> None:
        self.write_error = f"cannot write {self.path}: {exc.strerror or exc}"
        if self._on_error is not None:
            self._on_error(self.write_error)
        if self._file is not None:
            with contextlib.suppress(OSError):  # the error that matters is already recorded
                self._file.close()
            self._file = None


def _decode_from_char_boundary(data: bytes) -> str:
    """Decode a tail that may start inside a UTF-8 sequence without a leading U+FFFD."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] < 0xC0:
        start += 1
    return data[start:].decode("utf-8", errors="replace")


def _without_surrogates(text: str) -> str:
    """Text safe to encode as UTF-8 (run.json, the task file): escaped bytes become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)
