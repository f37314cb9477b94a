"""The evidence block's table: one row per check, each naming the run it comes from.

A filtered run (`--only`, `--component`) replaces the rows of the checks it ran and keeps the
others, so the table is the task's record check by check, and the Run column says how old each
row is. Rows are read back for `--check`, for the regression reference and for `report
--prune`. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from runner.markdown.evidence_block import CHECKSUM_PATTERN
from runner.models import TaskDocument

__all__ = [
    "COLUMNS",
    "EvidenceRow",
    "header_line",
    "merge_rows",
    "recorded_rows",
    "recorded_run_id",
    "recorded_run_ids",
]

COLUMNS = ("Check", "ID", "Where", "Result", "Run", "Duration", "Reason")
_HEADER_RUN = re.compile(r"^\*\*taskrun\*\* run `([^`]+)`")
_ROW = re.compile(r"^\|(.*)\|\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One table row. The cells are kept as written (escaped for the table), so a row taken
    over from an earlier run is written back exactly as it was."""

    check: str
    id_cell: str  # "`tc1.1-abc123@lo`"
    where: str
    result: str  # "pass", "pass (flaky)"
    run_id: str
    duration: str
    reason: str

    @property
    def id(self) -> str:
        return self.id_cell.strip("`").replace("\\|", "|")

    @property
    def status(self) -> str:
        return self.result.split(" ")[0]

    @property
    def component(self) -> str:
        return self.id.rpartition("@")[2]

    def line(self) -> str:
        cells = (self.check, self.id_cell, self.where, self.result, self.run_id)
        return "| " + " | ".join((*cells, self.duration, self.reason)) + " |"


def header_line() -> list[str]:
    return [
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]


def _body(doc: TaskDocument) -> Sequence[str] | None:
    block = doc.evidence  # in Status Tracking, or where a `**Status**:` file keeps it
    if block is None:
        return None
    return doc.lines[block.start_line + 1 : block.end_line]


def recorded_run_id(doc: TaskDocument) -> str | None:
    """The run the evidence block was last written from (its first line names it)."""
    for line in _body(doc) or ():
        stripped = line.strip()
        if not stripped or CHECKSUM_PATTERN.match(stripped):
            continue
        match = _HEADER_RUN.match(stripped)
        return match.group(1) if match else None
    return None


def _cells(line: str) -> list[str] | None:
    match = _ROW.match(line.strip())
    if match is None:
        return None
    return [cell.strip() for cell in _CELL_SPLIT.split(match.group(1))]


def recorded_rows(doc: TaskDocument) -> tuple[EvidenceRow, ...] | None:
    """The table's rows (None: no evidence block). A table written before the Run column
    existed gives every row the block's run."""
    body = _body(doc)
    if body is None:
        return None
    block_run = recorded_run_id(doc) or ""
    columns: dict[str, int] | None = None
    rows: list[EvidenceRow] = []
    for line in body:
        cells = _cells(line)
        if cells is None:
            continue
        if columns is None:
            if "ID" in cells and "Result" in cells:
                columns = {name: at for at, name in enumerate(cells)}
            continue
        if all(_SEPARATOR_CELL.match(cell) for cell in cells):
            continue
        row = _row(cells, columns, block_run)
        if row is not None:
            rows.append(row)
    return tuple(rows)


def _row(cells: Sequence[str], columns: dict[str, int], block_run: str) -> EvidenceRow | None:
    def cell(name: str, default: str = "") -> str:
        at = columns.get(name)
        return cells[at] if at is not None and at < len(cells) else default

    id_cell = cell("ID")
    if not (len(id_cell) >= 2 and id_cell.startswith("`") and id_cell.endswith("`")):
        return None
    return EvidenceRow(
        check=cell("Check"),
        id_cell=id_cell,
        where=cell("Where"),
        result=cell("Result"),
        run_id=cell("Run", block_run) or block_run,
        duration=cell("Duration"),
        reason=cell("Reason"),
    )


def recorded_run_ids(doc: TaskDocument) -> tuple[str, ...]:
    """Every run the evidence block refers to: the block's own and each row's."""
    found = [recorded_run_id(doc) or "", *(row.run_id for row in recorded_rows(doc) or ())]
    return tuple(dict.fromkeys(run for run in found if run))


def merge_rows(
    previous: Iterable[EvidenceRow],
    current: Sequence[EvidenceRow],
    *,
    keep: Callable[[str], bool] = lambda check_id: True,
) -> tuple[list[EvidenceRow], int]:
    """(rows, how many were kept from earlier runs): `current` replaces the rows of the checks
    it has, in their place; the other earlier rows stay where `keep(check id)` says they still
    belong to the task; checks new to the table go last."""
    fresh = {row.id: row for row in current}
    merged: list[EvidenceRow] = []
    placed: set[str] = set()
    kept = 0
    for row in previous:
        if row.id in fresh:
            if row.id not in placed:
                merged.append(fresh[row.id])
                placed.add(row.id)
        elif keep(row.id) and row.id not in placed:
            merged.append(row)
            placed.add(row.id)
            kept += 1
    merged += [row for row in current if row.id not in placed]
    return merged, kept
