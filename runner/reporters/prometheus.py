"""node_exporter textfile metrics (`--prometheus PATH`): one gauge per check plus run totals.

`taskrun_check_status` follows the blackbox exporter's `probe_success` habit, so the usual
alert works (`taskrun_check_status < 1`): 1 pass, 0 fail, -1 error (could not run). Checks
that were skipped or need a person (`skip`, `manual`) measured nothing and have no series;
`taskrun_run_checks{status=…}` counts them. Task IDs are not unique, so every series also
carries the task file's `path`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from runner.models import RunRecord

STATUS_VALUE = {"pass": 1, "fail": 0, "error": -1}
RUN_STATUSES = ("pass", "fail", "error", "skip", "manual")

_FAMILIES = (
    (
        "taskrun_check_status",
        "Outcome of a task check in its latest run: 1 pass, 0 fail, -1 error (could not run).",
    ),
    ("taskrun_check_duration_seconds", "Duration of a task check in its latest run."),
    ("taskrun_last_run_timestamp_seconds", "When the task's latest run finished (Unix time)."),
    ("taskrun_run_checks", "Checks of the task's latest run by status."),
)

Labels = tuple[tuple[str, str], ...]


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _sample(name: str, labels: Labels, value: float) -> str:
    rendered = ",".join(f'{key}="{escape_label_value(val)}"' for key, val in labels)
    return f"{name}{{{rendered}}} {_format_value(value)}"


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _task_labels(record: RunRecord) -> Labels:
    return (("task", record.task_id or record.task_path), ("path", record.task_path))


def _latest_per_task(records: Sequence[RunRecord]) -> list[RunRecord]:
    # One task file run twice in a batch would give duplicate series, which node_exporter
    # rejects for the whole file; the later record wins.
    latest: dict[str, RunRecord] = {}
    for record in records:
        latest.pop(record.task_path, None)
        latest[record.task_path] = record
    return list(latest.values())


def _samples(records: Sequence[RunRecord], now: float) -> dict[str, list[tuple[Labels, float]]]:
    samples: dict[str, list[tuple[Labels, float]]] = {name: [] for name, _ in _FAMILIES}
    for record in _latest_per_task(records):
        task = _task_labels(record)
        seen: set[Labels] = set()
        for result in record.results:
            labels = (*task, ("check", result.id), ("component", result.component))
            if labels in seen:
                continue
            seen.add(labels)
            if result.status in STATUS_VALUE:
                samples["taskrun_check_status"].append((labels, STATUS_VALUE[result.status]))
            if result.duration_s is not None:
                samples["taskrun_check_duration_seconds"].append((labels, float(result.duration_s)))
        finished = _epoch(record.finished_at) or _epoch(record.started_at) or now
        samples["taskrun_last_run_timestamp_seconds"].append((task, finished))
        counts = record.summary.as_dict()
        for status in RUN_STATUSES:
            samples["taskrun_run_checks"].append(((*task, ("status", status)), counts[status]))
    return samples


def render_textfile(records: Sequence[RunRecord], *, now: float) -> str:
    """The textfile for these runs; `now` stands in for a run without a parseable time."""
    samples = _samples(records, now)
    lines: list[str] = []
    for name, help_text in _FAMILIES:
        lines += [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} gauge"]
        lines += [_sample(name, labels, value) for labels, value in samples[name]]
    return "\n".join(lines) + "\n"


def metric_names() -> Iterable[str]:
    return (name for name, _ in _FAMILIES)


def render(records: Sequence[RunRecord], *, now: datetime) -> bytes:
    """The reporter (`REPORTERS["prometheus"]`): the textfile as bytes."""
    return render_textfile(records, now=now.timestamp()).encode("utf-8")
