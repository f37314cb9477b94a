"""Profile taskrun (and the floor) on a fleet with pyinstrument: where does the time go?

`python bench/profile.py [--hosts 50]` installs pyinstrument into bench/.venv-peers if needed,
starts the fleet, and writes bench/work/profile-taskrun-N.txt and profile-floor-N.txt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from peers import VENV, ensure_peers  # noqa: E402
from tools import prepare_tools  # noqa: E402

from tests.fleet import start_fleet  # noqa: E402

PYINSTRUMENT = "pyinstrument==5.1.3"
TIMEOUT_S = 600


def venv_site_packages() -> Path:
    found = sorted((VENV / "lib").glob("python3*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages under {VENV}")
    return found[0]


def ensure_pyinstrument(python: Path) -> None:
    probe = subprocess.run([str(python), "-c", "import pyinstrument"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PYINSTRUMENT],
            check=True,
            timeout=TIMEOUT_S,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    args = parser.parse_args()
    out = BENCH / "work"
    out.mkdir(exist_ok=True)
    peers = ensure_peers(log=out / "pip.log")
    ensure_pyinstrument(peers.python)
    workdir = Path(tempfile.mkdtemp(prefix="trp-"))
    fleet = start_fleet(args.hosts)
    try:
        taskrun, floor = prepare_tools(
            fleet, workdir, peers=None, sequential_cap=None, xdist_workers=0
        )[:2]
        for tool, name in ((taskrun, "taskrun"), (floor, "floor")):
            env = dict(tool.env or os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [env.get("PYTHONPATH"), str(venv_site_packages())])
            )
            argv = list(tool.commands[0])
            subprocess.run(argv, env=env, cwd=tool.cwd, capture_output=True, timeout=TIMEOUT_S)
            target = ["-m", "runner", *argv[3:]] if name == "taskrun" else argv[1:]
            report = out / f"profile-{name}-{args.hosts}.txt"
            subprocess.run(
                [sys.executable, "-m", "pyinstrument", "-o", str(report), *target],
                env=env,
                cwd=tool.cwd,
                capture_output=True,
                timeout=TIMEOUT_S,
                check=True,
            )
            if tool.cleanup:
                tool.cleanup()
            print(report)
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
