"""StreamCapture on real command output: bytes that are not UTF-8 stay bytes in the log file,
and nothing it hands out (tail, head, failure line) carries a surrogate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runner.execute.capture import StreamCapture

# ❌ opens a line (a failure marker) and bytes that are not UTF-8 surround it.
SCRIPT = r"printf 'ok\n\xff\xfe \xe2\x9d\x8c x\n\xe2\x9d\x8c bad \xff\xc3 end\n'"


def captured(script: str, path: Path, **options: int) -> StreamCapture:
    """Run `script` in bash and feed its stdout through a StreamCapture in small pieces."""
    capture = StreamCapture(path, **options)  # type: ignore[arg-type]
    with subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        for _ in range(10_000):  # bounded: the output is a few hundred bytes
            chunk = process.stdout.read(7)
            if not chunk:
                break
            capture.write(chunk)
        assert process.wait(timeout=10) == 0
    capture.close()
    return capture


def assert_writable(text: str | None) -> None:
    assert text is not None
    text.encode("utf-8")  # raises on a lone surrogate
    json.dumps({"tail": text}, ensure_ascii=False).encode("utf-8")  # what run.json does


def test_invalid_utf8_output_gives_text_without_surrogates(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    capture = captured(SCRIPT, log)
    for text in (capture.tail, capture.head, capture.failure_line):
        assert_writable(text)
    assert capture.failure_line == "❌ bad \ufffd\ufffd end"
    assert capture.tail.startswith("ok\n\ufffd\ufffd ❌ x\n")
    expected = subprocess.run(["bash", "-c", SCRIPT], capture_output=True, check=True).stdout
    assert log.read_bytes() == expected  # the log keeps the bytes as they came


@pytest.mark.parametrize("head_bytes", [0, 4])
def test_a_failure_line_past_the_head_has_no_surrogates(tmp_path: Path, head_bytes: int) -> None:
    capture = captured(SCRIPT, tmp_path / "out.log", head_bytes=head_bytes, tail_bytes=8)
    assert capture.failure_line == "❌ bad \ufffd\ufffd end"
    assert not capture.head_complete
    for text in (capture.tail, capture.head, capture.failure_line):
        assert_writable(text)


# --------------------------------------------------------------------------- issue 17 item 4


@pytest.mark.parametrize("offset", [-40, -17, -3, 0, 5, 200, 4000])
@pytest.mark.parametrize("chunk", [4096, 65536, 100_000])
def test_a_secret_across_the_long_line_boundary_is_masked(
    tmp_path: Path, offset: int, chunk: int
) -> None:
    from runner.execute.capture import MAX_PENDING_LINE
    from runner.redact import build_redactor

    secret = "boundary-secret-0123456789"
    redactor = build_redactor(secret_values=[secret])
    data = (b"x" * (MAX_PENDING_LINE + offset) + secret.encode() + b"y" * 70_000) * 2 + b"\n"
    capture = StreamCapture(tmp_path / "out.log", redact=redactor)
    for start in range(0, len(data), chunk):
        capture.write(data[start : start + chunk])
    capture.close()
    written = (tmp_path / "out.log").read_bytes()
    assert secret.encode() not in written
    assert written.count(b"***") == 2
    assert len(written) == len(data) - 2 * (len(secret) - 3)


def test_a_configured_marker_past_the_head_is_found_while_streaming(tmp_path: Path) -> None:
    script = "head -c 3000000 /dev/zero | tr '\\0' 'a' | fold -w 100; printf '\\n[FAIL] late\\n'"
    capture = StreamCapture(tmp_path / "out.log", failure_markers=("[FAIL]",))
    with subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        for _ in range(100_000):  # bounded: about 3 MB in 64 KiB reads
            chunk = process.stdout.read(65536)
            if not chunk:
                break
            capture.write(chunk)
        assert process.wait(timeout=30) == 0
    capture.close()
    assert not capture.head_complete
    assert capture.failure_line == "[FAIL] late"
