"""`taskrun demo` end to end, as a newcomer runs it: a subprocess, then nothing left behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from runner.markdown.document import parse_document
from tests.conftest import REPO


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _processes_under(folder: Path) -> list[int]:
    """PIDs whose working directory is inside `folder` (the sandbox hosts' shells)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.startswith(str(folder)):
            found.append(int(entry.name))
    return found


def test_demo_exits_0_writes_evidence_and_leaves_nothing_running(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "demo", "--keep", str(keep)],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "The demo worked" in proc.stdout
    assert "Deliberately failing" in proc.stdout  # the failure is shown with its evidence
    assert "Traceback" not in proc.stderr

    task = keep / "tasks" / "ENG-042-demo.md"
    doc = parse_document(task.read_bytes(), str(task))
    assert doc.status is not None and doc.status.evidence is not None
    evidence = doc.status.evidence
    assert evidence.checksum == evidence.actual_checksum
    block = "\n".join(doc.lines[evidence.start_line : evidence.end_line + 1])
    assert "| fail |" in block and "Deliberately failing" in block
    assert "| skip |" in block and "| manual |" in block
    status = {f.key: f.value for f in doc.status.fields}
    assert status["current status"] == "Testing"  # one failure: not Complete

    run_dirs = list((keep / "reports" / "ENG-042").iterdir())
    assert len(run_dirs) == 1
    assert {"run.json", "junit.xml", "summary.md"} <= {p.name for p in run_dirs[0].iterdir()}

    inventory = yaml.safe_load((keep / "playbooks" / "inventory.yaml").read_text())
    ports = {c["port"] for c in inventory["components"].values()}
    for component in inventory["components"].values():
        for name, value in (component.get("vars") or {}).items():
            if name.endswith("_port"):
                ports.add(int(value))
    assert len(ports) >= 6  # four SSH hosts, the gateway and the Ollama stand-ins
    assert all(_refused(port) for port in ports), ports
    assert _processes_under(keep) == []


def test_demo_never_prints_the_master_key(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "demo", "--keep", str(keep)],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = [p for p in keep.rglob("*") if p.is_file() and "sandbox" not in p.parts]
    assert any(p.name == "run.json" for p in written)
    text = proc.stdout + proc.stderr
    text += "".join(p.read_text(errors="replace") for p in written if p.stat().st_size < 2_000_000)
    # the sandbox's master key (sk-demo-<32 hex>) was sent by the Security checks; never shown
    assert re.search(r"sk-demo-[0-9a-f]{32}", text) is None
