"""What each command was asked: one frozen request per command, built by the CLI from its flags
(or by a test, or a library caller) and handed to `runner.app.<command>.run`. Light on purpose:
the CLI imports this module for every command, `--help` included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProjectFlags:
    """The command-line flags that choose the project's folders (each None: not given)."""

    tasks: tuple[Path, ...] = ()
    playbooks: Path | None = None
    inventory: Path | None = None
    reports: Path | None = None

    def as_dict(self) -> dict[str, object]:
        given: dict[str, object] = {}
        if self.tasks:
            given["tasks"] = tuple(self.tasks)
        for name in ("playbooks", "inventory", "reports"):
            value = getattr(self, name)
            if value is not None:
                given[name] = value
        return given


@dataclass(frozen=True, slots=True)
class PlanRequest:
    task: str
    json: bool = False
    project: ProjectFlags = ProjectFlags()


@dataclass(frozen=True, slots=True)
class ValidateRequest:
    """Everything `taskrun validate` was asked, as the CLI parsed it."""

    tasks: tuple[str, ...] = ()
    all_tasks: bool = False
    statuses: tuple[str, ...] = ()
    since: str | None = None
    only: str | None = None
    components: tuple[str, ...] = ()
    dry_run: bool = False
    no_write: bool = False
    check: bool = False
    json: bool = False
    reports: tuple[tuple[str, Path], ...] = ()  # (reporter name, path), `--report NAME=PATH`
    concurrency: int | None = None
    timeout: float | None = None
    allow_mutating: bool = False
    set_status: bool = False
    update_baseline: bool = False
    baseline: Path | None = None
    jobs: int = 1
    notify: str | None = None
    pre: bool = False  # run the pre-flight checks (kind "pre") instead of the validation
    project: ProjectFlags = ProjectFlags()

    @property
    def filtered(self) -> bool:
        return bool(self.only or self.components)


@dataclass(frozen=True, slots=True)
class LintRequest:
    tasks: tuple[str, ...] = ()
    all_tasks: bool = False
    json: bool = False
    project: ProjectFlags = ProjectFlags()


@dataclass(frozen=True, slots=True)
class ReportRequest:
    task: str | None = None
    run_id: str | None = None
    history: bool = False
    json: bool = False
    apply: bool = False
    force: bool = False  # --apply a stale run, or over a hand-edited evidence block
    prune_days: float | None = None
    dry_run: bool = False  # --prune: say what would go, remove nothing
    project: ProjectFlags = ProjectFlags()


@dataclass(frozen=True, slots=True)
class ConfigRequest:
    project: ProjectFlags = ProjectFlags()


@dataclass(frozen=True, slots=True)
class InventoryCheckRequest:
    accept_new: bool = False
    json: bool = False
    project: ProjectFlags = ProjectFlags()


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    what: str = "systemd"
    args: tuple[str, ...] = ()
    on_calendar: str = "daily"
    cron: str = "17 3 * * *"
    user: str | None = None
    env_file: str | None = None
    log_file: str | None = None


@dataclass(frozen=True, slots=True)
class DemoRequest:
    keep: Path | None = None


@dataclass(frozen=True, slots=True)
class InitRequest:
    directory: Path = Path(".")
    force: bool = False


@dataclass(frozen=True, slots=True)
class NewRequest:
    title: str = ""
    components: tuple[str, ...] = ()
    task_id: str | None = None
    project: ProjectFlags = ProjectFlags()
