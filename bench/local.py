"""Benchmarks that need no fleet: start-up, corpus parse+plan+lint, and peak RSS on big output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure import Sample, median, run_timed
from peers import BENCH
from tools import task_markdown, taskrun_argv, taskrun_env

CORPUS = Path("/work/shared/corpus")
PLAN_TASK = (
    "hx-infrastructure/api-gateway/x-Tasks/RAG-Document-Upsert-Endpoint-Tasks/"
    "ENG-007-Functional-Smoke-Test.md"
)
BIG_OUTPUT_COMMAND = r"head -c 1048576 /dev/zero | tr '\0' x"
BIG_OUTPUT_CHECKS = 500
TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class LocalResults:
    help_s: float | None
    plan_s: float | None
    corpus: dict[str, Any] | None
    rss_mib: float | None
    rss_wall_s: float | None
    rss_cpu_s: float | None
    problems: tuple[str, ...]


def find_corpus() -> Path:
    """The shared corpus beside the checkout (`../shared/corpus`), else the workplace's copy."""
    beside = BENCH.parent.parent / "shared" / "corpus"
    return beside if beside.is_dir() else CORPUS


def run_local(workdir: Path, *, repeats: int) -> LocalResults:
    problems: list[str] = []
    corpus = workdir / "corpus"
    shutil.copytree(find_corpus(), corpus)  # never touch the shared one
    env = taskrun_env()

    helps = _repeat(taskrun_argv("--help"), workdir, env, repeats, problems)
    plans = _repeat(taskrun_argv("plan", PLAN_TASK), corpus, env, repeats, problems)
    corpus_result = _corpus(corpus, env, problems)
    big = _big_output(workdir / "big", env)
    if not big.ok:
        problems.append(f"peak RSS run: {big.detail}")
    return LocalResults(
        help_s=median([s.wall_s for s in helps if s.ok]),
        plan_s=median([s.wall_s for s in plans if s.ok]),
        corpus=corpus_result,
        rss_mib=big.max_rss_mib if big.ok else None,
        rss_wall_s=big.wall_s if big.ok else None,
        rss_cpu_s=big.cpu_s if big.ok else None,
        problems=tuple(problems),
    )


def _repeat(
    argv: tuple[str, ...], cwd: Path, env: dict[str, str], repeats: int, problems: list[str]
) -> list[Sample]:
    log = cwd / "startup.log"
    run_timed([argv], log=log, timeout_s=TIMEOUT_S, env=env, cwd=cwd)  # warm the .pyc cache
    samples = [
        run_timed([argv], log=log, timeout_s=TIMEOUT_S, env=env, cwd=cwd) for _ in range(repeats)
    ]
    problems.extend(f"{' '.join(argv[2:])}: {s.detail}" for s in samples if not s.ok)
    return samples


def _corpus(corpus: Path, env: dict[str, str], problems: list[str]) -> dict[str, Any] | None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "corpus_bench.py"), str(corpus), "10"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=TIMEOUT_S,
    )
    if result.returncode != 0:
        problems.append(f"corpus parse+plan+lint failed: {result.stderr.strip()[-500:]}")
        return None
    return dict(json.loads(result.stdout))


def _big_output(folder: Path, env: dict[str, str]) -> Sample:
    """500 checks printing 1 MiB each on `local`; the child's peak RSS (wait4's ru_maxrss)."""
    (folder / "tasks").mkdir(parents=True)
    commands = [BIG_OUTPUT_COMMAND] * BIG_OUTPUT_CHECKS
    (folder / "tasks" / "big.md").write_text(task_markdown("BENCH-RSS", "box", commands))
    (folder / "inventory.yaml").write_text("components: {box: {host: local}}\n")
    argv = taskrun_argv(
        "validate",
        "BENCH-RSS",
        "--tasks",
        str(folder / "tasks"),
        "--inventory",
        str(folder / "inventory.yaml"),
        "--reports",
        str(folder / "reports"),
        "--no-write",
    )
    try:
        return run_timed([argv], log=folder / "run.log", timeout_s=TIMEOUT_S, env=env, cwd=folder)
    finally:
        shutil.rmtree(folder / "reports", ignore_errors=True)  # 500 MiB of logs
