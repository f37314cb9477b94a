"""The evidence store: `reports/<TASK-ID>/<RUN-ID>/` with run.json, junit.xml, summary.md, logs/.

Every write here is atomic (temp file + rename) and every OSError becomes `EvidenceError`
(exit 6), so a full or read-only disk never leaves a torn report nor a traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.errors import EvidenceError
from runner.evidence.atomic import write_atomic
from runner.models import RunRecord
from runner.reporters.json import run_from_dict, run_to_dict
from runner.reporters.junit import render_junit
from runner.reporters.markdown import render_summary

_RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
_MAX_COLLISIONS = 1000


@dataclass(frozen=True, slots=True)
class RunDir:
    run_id: str
    path: Path

    @property
    def logs(self) -> Path:
        return self.path / "logs"


@contextmanager
def _evidence_errors(what: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise EvidenceError(f"cannot save evidence in {what}: {reason}") from exc


_MAX_FOLDER_NAME = 100


def task_folder_name(task_id: str | None, task_path: str) -> str:
    """The folder under `reports/` for a task: its ID as a plain file name, whatever the ID.

    `..`, `.`, `/etc/x`, a leading dot, an empty or over-long ID can never name a folder
    outside `reports/` (nor a hidden one): the unsafe part becomes `_`, and a name that had to
    be cut or was nothing but dots gets a short hash of the ID so two IDs stay apart.
    """
    name = task_id or Path(task_path).stem or "task"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    safe = re.sub(r"^\.", "_", safe)  # no `.`, `..` or hidden folder
    if len(safe) > _MAX_FOLDER_NAME or not safe.strip("._-"):
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        safe = f"{safe[: _MAX_FOLDER_NAME - 9]}-{digest}"
    return safe


def new_run_dir(reports: Path, *, task_id: str | None, task_path: str, now: datetime) -> RunDir:
    base = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    parent = reports / task_folder_name(task_id, task_path)
    with _evidence_errors(parent):
        parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _MAX_COLLISIONS + 1):
            run_id = base if attempt == 1 else f"{base}-{attempt}"
            try:
                (parent / run_id).mkdir()
            except FileExistsError:
                continue
            (parent / run_id / "logs").mkdir()
            return RunDir(run_id=run_id, path=parent / run_id)
    raise EvidenceError(f"cannot save evidence in {parent}: too many runs named {base}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write one evidence file atomically; `EvidenceError` (exit 6) when it cannot be saved."""
    with _evidence_errors(path.parent):
        write_atomic(path, data)


def write_run_json(run_dir: RunDir, record: RunRecord) -> None:
    data = json.dumps(run_to_dict(record), indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(run_dir.path / "run.json", data.encode("utf-8"))


def write_reports(run_dir: RunDir, record: RunRecord) -> None:
    """run.json, junit.xml and summary.md for a finished (or interrupted) run."""
    write_run_json(run_dir, record)
    atomic_write_bytes(run_dir.path / "junit.xml", render_junit([record]))
    atomic_write_bytes(run_dir.path / "summary.md", render_summary(record).encode("utf-8"))


# --------------------------------------------------------------------------- reading back


def load_run(path: Path) -> RunRecord:
    """A kept run, read back from its folder's run.json into a typed record."""
    try:
        data = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"cannot read {path / 'run.json'}: {exc}") from exc
    if not isinstance(data, dict):
        raise EvidenceError(f"cannot read {path / 'run.json'}: not a run document")
    return run_from_dict(data)


def iter_runs(reports: Path, *, task_id: str | None, task_path: str) -> list[tuple[str, Path]]:
    """Runs of this task file (matched by path, not by ID alone), oldest first."""
    parent = reports / task_folder_name(task_id, task_path)
    if not parent.is_dir():
        return []
    runs = []
    for child in sorted(parent.iterdir()):
        if not (_RUN_ID.match(child.name) and (child / "run.json").is_file()):
            continue
        try:
            data = json.loads((child / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("task", {}).get("path") == task_path:
            runs.append((child.name, child))
    runs.sort(key=lambda item: _run_sort_key(item[0]))
    return runs


def _run_sort_key(run_id: str) -> tuple[str, int]:
    base, _, suffix = run_id.partition("-")
    return base, int(suffix or 1)


@dataclass(frozen=True, slots=True)
class PruneResult:
    removed: tuple[Path, ...]  # run folders removed (or, in a dry run, that would be)
    referenced: tuple[Path, ...]  # old runs kept because a task file's evidence refers to them
    symlinks: tuple[Path, ...]  # links left alone: pruning never follows one out of reports/
    folders: tuple[Path, ...]  # task folders removed because pruning emptied them


def prune_runs(
    reports: Path,
    *,
    days: float,
    now: float | None = None,
    keep: Collection[tuple[str, str]] = frozenset(),
    keep_anywhere: Collection[str] = frozenset(),
    dry_run: bool = False,
) -> PruneResult:
    """Remove run folders older than `days` (by their RUN-ID time).

    Never removes a run in `keep` ((task folder name, run id): the runs task files' evidence
    blocks refer to) nor a run id in `keep_anywhere`; never follows a symlink (a linked task
    folder or run is left as it is); removes a task folder it empties. `dry_run`: remove
    nothing, say what would go.
    """
    cutoff = datetime.fromtimestamp(now if now is not None else time.time(), UTC) - timedelta(
        days=days
    )
    removed: list[Path] = []
    referenced: list[Path] = []
    symlinks: list[Path] = []
    folders: list[Path] = []
    if not reports.is_dir():
        return PruneResult((), (), (), ())
    for task_dir in sorted(reports.iterdir()):
        if task_dir.is_symlink():
            symlinks.append(task_dir)
            continue
        if not task_dir.is_dir():
            continue
        emptied = False
        for run in sorted(p for p in task_dir.iterdir() if _RUN_ID.match(p.name)):
            started = datetime.strptime(run.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if started >= cutoff:
                continue
            if run.is_symlink():
                symlinks.append(run)
                continue
            if (task_dir.name, run.name) in keep or run.name in keep_anywhere:
                referenced.append(run)
                continue
            if not dry_run:
                with _evidence_errors(run):
                    shutil.rmtree(run)
            removed.append(run)
            emptied = True
        if emptied and not dry_run and not any(task_dir.iterdir()):
            with _evidence_errors(task_dir):
                task_dir.rmdir()
            folders.append(task_dir)
    return PruneResult(tuple(removed), tuple(referenced), tuple(symlinks), tuple(folders))
