"""Ask real bash where the top-level commands of a shell block begin and end.

One long-lived bash process answers "is this chunk complete input?" by parsing it under
`set -n` in a forked subshell, so nothing in the chunk ever runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

# Reads `<byte count>\n<chunk>` requests and answers 0 (complete), 1 (bash needs more input:
# its error or warning is about the end of the input) or 2 (a syntax error on the way).
# `set -n` stops execution inside the `$( )` subshell only. An unterminated heredoc is only a
# warning for bash, hence the look at stderr.
_SERVER = r"""
while IFS= read -r size; do
  IFS= read -r -N "$size" chunk
  out=$( { eval "set -n
$chunk
"; } 2>&1 )
  status=$?
  if [[ $status -eq 0 && -z $out ]]; then echo 0
  elif [[ $out == *"unexpected end of file"* || $out == *"unexpected EOF"* ||
          $out == *"delimited by end-of-file"* || $out == *"token \`EOF'"* ]]; then echo 1
  else echo 2
  fi
done
"""

COMPLETE, NEEDS_MORE, SYNTAX_ERROR = 0, 1, 2


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip(" \t")
    return not stripped or stripped.startswith("#")


def _ends_with_backslash(line: str) -> bool:
    return line.endswith("\\")


class BashOracle:
    """A bash process that groups lines into top-level commands. Use as a context manager."""

    def __init__(self) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        self._process = subprocess.Popen(
            ["bash", "--norc", "--noprofile", "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
        )
        self.queries = 0

    def __enter__(self) -> BashOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        process = self._process
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()  # this process only, by its handle
                process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def parse(self, text: str) -> int:
        """COMPLETE, NEEDS_MORE or SYNTAX_ERROR for `text` as a whole script."""
        data = text.encode("utf-8", "surrogateescape")
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(b"%d\n" % len(data) + data)
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError("the bash oracle process exited")
        self.queries += 1
        return int(answer)

    def is_complete(self, lines: Sequence[str]) -> bool:
        """True when bash would stop reading after `lines`: it has a whole command, or a
        syntax error that an interactive bash would report right there (pasted input)."""
        chunk = "\n".join(lines)
        status = self.parse(chunk)
        if status == NEEDS_MORE:
            return False
        if status == COMPLETE and _ends_with_backslash(lines[-1]):
            # A live `\` continuation joins the next line: `;` then still parses (`a \` + `;`
            # is `a ;`), while `;` alone on a new line is a syntax error.
            return self.parse(chunk + "\n;") != COMPLETE
        return True

    def boundaries(self, lines: Sequence[str]) -> list[tuple[int, int]]:
        """(first_line, last_line) of each top-level command, 0-based and inclusive.

        Blank and comment-only lines between commands are skipped. Input that never becomes
        complete (an unterminated quote, heredoc or `if`) makes the rest of the block one
        command, trailing blank lines left out.
        """
        result: list[tuple[int, int]] = []
        i, n = 0, len(lines)
        while i < n:
            if _is_blank_or_comment(lines[i]):
                i += 1
                continue
            start = i
            end = None
            for j in range(start, n):
                if self.is_complete(lines[start : j + 1]):
                    end = j
                    break
            if end is None:
                end = n - 1
                while end > start and not lines[end].strip(" \t"):
                    end -= 1
                result.append((start, end))
                break
            result.append((start, end))
            i = end + 1
        return result
