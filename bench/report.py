"""Render the results as Markdown (pure: data in, text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from local import BIG_OUTPUT_CHECKS, PLAN_TASK, LocalResults
from measure import Sample, median, ratio

TASKRUN = "taskrun"
FLOOR = "floor (asyncssh)"
ANSIBLE = "Ansible ad-hoc"
TESTINFRA = ("testinfra ssh://", "testinfra paramiko://")


@dataclass(slots=True)
class FleetResult:
    hosts: int
    commands: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    caps: dict[str, int] = field(default_factory=dict)

    def wall(self, tool: str) -> float | None:
        return median([s.wall_s for s in self.samples.get(tool, []) if s.ok])

    def cpu(self, tool: str) -> float | None:
        return median([s.cpu_s for s in self.samples.get(tool, []) if s.ok])

    def failures(self) -> list[str]:
        return [
            f"{tool} at N={self.hosts}: {s.detail}"
            for tool, samples in self.samples.items()
            for s in samples
            if not s.ok
        ]


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    goal: str
    value: str
    met: bool | None  # None: not measured


def render(
    *,
    machine: Mapping[str, str],
    versions: Mapping[str, str],
    fleets: Sequence[FleetResult],
    local: LocalResults | None,
    rounds: int,
    quick: bool,
    command_line: str,
) -> str:
    out = ["# taskrun benchmarks", ""]
    out += [
        f"Produced by `{command_line}` on {machine['date']}"
        + (" (**--quick**: fewer repetitions, noisier)" if quick else "")
        + ". The sshd hosts share the client's cores; numbers are medians of wall-clock time.",
        "",
    ]
    out += _machine_table(machine, versions)
    targets = evaluate_targets(fleets, local)
    out += ["## Targets", "", "| target | goal | measured | |", "|---|---|---|---|"]
    for target in targets:
        verdict = "not measured" if target.met is None else "met" if target.met else "**missed**"
        out.append(f"| {target.name} | {target.goal} | {target.value} | {verdict} |")
    out.append("")
    for fleet in fleets:
        out += _fleet_table(fleet, rounds)
    if local is not None:
        out += _local_table(local)
    problems = [p for fleet in fleets for p in fleet.failures()]
    problems += list(local.problems) if local else []
    if problems:
        out += ["## Failed runs (left out of the medians)", ""]
        out += [f"- {problem}" for problem in problems]
        out.append("")
    return "\n".join(out)


def _machine_table(machine: Mapping[str, str], versions: Mapping[str, str]) -> list[str]:
    rows = [
        ("CPUs (nproc)", machine["cpus"]),
        ("CPU model", machine["cpu_model"]),
        ("memory", machine["memory"]),
        ("kernel", machine["kernel"]),
        ("taskrun commit", machine["commit"]),
        *versions.items(),
    ]
    lines = ["## Machine and versions", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return [*lines, ""]


def _fleet_table(fleet: FleetResult, rounds: int) -> list[str]:
    floor = fleet.wall(FLOOR)
    taskrun = fleet.wall(TASKRUN)
    lines = [
        f"## N = {fleet.hosts} hosts × M = {fleet.commands} commands",
        "",
        "| tool | runs | median wall s | min s | × floor | × taskrun | client CPU s | how |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tool, samples in fleet.samples.items():
        good = [s.wall_s for s in samples if s.ok]
        runs = f"{len(good)}"
        if tool in fleet.caps and fleet.caps[tool] < rounds:
            runs += f" (capped at {fleet.caps[tool]})"
        if len(good) < len(samples):
            runs += f", {len(samples) - len(good)} failed"
        wall = fleet.wall(tool)
        lines.append(
            f"| {tool} | {runs} | {_num(wall)} | {_num(min(good) if good else None)} "
            f"| {_times(ratio(wall, floor))} | {_times(ratio(wall, taskrun))} "
            f"| {_num(fleet.cpu(tool))} | {fleet.notes.get(tool, '')} |"
        )
    return [*lines, ""]


def _local_table(local: LocalResults) -> list[str]:
    corpus = local.corpus or {}
    lines = ["## Start-up, corpus and memory", "", "| measure | value |", "|---|---|"]
    lines.append(f"| `taskrun --help` (median of runs) | {_num(local.help_s)} s |")
    lines.append(f"| `taskrun plan {PLAN_TASK.rsplit('/', 1)[-1]}` | {_num(local.plan_s)} s |")
    if corpus:
        lines += [
            f"| corpus: files / tasks / checks / findings | {corpus['files']} / "
            f"{corpus['tasks']} / {corpus['checks']} / {corpus['findings']} |",
            f"| corpus: imports (parse, plan, lint modules) | {_num(corpus['import_s'])} s |",
            f"| corpus: parse+plan+lint, first pass, ShellCheck included "
            f"| {_num(corpus['first_s'])} s |",
            f"| corpus: parse+plan+lint rules, median | {_num(corpus['median_s'])} s |",
            f"| corpus: parse+plan+lint with ShellCheck, median "
            f"| {_num(corpus.get('shellcheck_median_s'))} s |",
            f"| corpus: lint entry point | {corpus['lint']} |",
        ]
    lines.append(
        f"| peak RSS, {BIG_OUTPUT_CHECKS} local checks × 1 MiB output "
        f"| {_num(local.rss_mib, 1)} MiB (wall {_num(local.rss_wall_s)} s, "
        f"CPU {_num(local.rss_cpu_s)} s) |"
    )
    return [*lines, ""]


# --------------------------------------------------------------------------- targets


def evaluate_targets(fleets: Sequence[FleetResult], local: LocalResults | None) -> list[Target]:
    largest = max(fleets, key=lambda f: f.hosts) if fleets else None
    targets: list[Target] = []
    if largest is not None:
        at = f"N={largest.hosts}"
        taskrun = largest.wall(TASKRUN)
        floor_ratio = ratio(taskrun, largest.wall(FLOOR))
        targets.append(_at_most(f"taskrun vs bare asyncssh, {at}", floor_ratio, 1.3, "×"))
        ansible = ratio(largest.wall(ANSIBLE), taskrun)
        targets.append(_at_least(f"Ansible ad-hoc ÷ taskrun, {at}", ansible, 10.0))
        testinfra = [ratio(largest.wall(name), taskrun) for name in TESTINFRA]
        fastest = min((r for r in testinfra if r is not None), default=None)
        targets.append(_at_least(f"fastest testinfra ÷ taskrun, {at}", fastest, 3.0))
    if local is not None:
        targets.append(_at_most("`taskrun --help`", local.help_s, 0.25, " s"))
        first = local.corpus.get("first_s") if local.corpus else None
        targets.append(_at_most("corpus parse+plan+lint", first, 1.0, " s"))
        targets.append(_at_most("peak RSS, 500 × 1 MiB", local.rss_mib, 200.0, " MiB"))
    return targets


def _at_most(name: str, value: float | None, limit: float, unit: str) -> Target:
    goal = f"≤ {limit:g}{unit}"
    if value is None:
        return Target(name, goal, "—", None)
    return Target(name, goal, f"{_num(value)}{unit}", value <= limit)


def _at_least(name: str, value: float | None, limit: float) -> Target:
    goal = f"≥ {limit:g}×"
    if value is None:
        return Target(name, goal, "—", None)
    return Target(name, goal, f"{_num(value)}×", value >= limit)


def _num(value: float | None, decimals: int | None = None) -> str:
    """Three significant figures (no exponent), or a fixed number of decimals."""
    if value is None:
        return "—"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:.0f}" if value >= 100 else f"{value:#.3g}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{_num(value)}×"
