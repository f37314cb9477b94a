"""The markers and checksum of the evidence block taskrun owns in a task file."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

EVIDENCE_START = "<!-- taskrun:evidence -->"
EVIDENCE_END = "<!-- /taskrun:evidence -->"
CHECKSUM_PATTERN = re.compile(r"^<!-- taskrun:checksum (sha256:[0-9a-f]{16}) -->$")


def body_checksum(body_lines: Sequence[str]) -> str:
    """Checksum of the block's lines between the markers, the checksum line left out.

    Line endings are not part of it, so a file converted between LF and CRLF by git does not
    look hand-edited.
    """
    kept = [line.rstrip() for line in body_lines if not CHECKSUM_PATTERN.match(line.strip())]
    digest = hashlib.sha256("\n".join(kept).encode("utf-8")).hexdigest()
    return f"sha256:{digest[:16]}"


def checksum_line(checksum: str) -> str:
    return f"<!-- taskrun:checksum {checksum} -->"
