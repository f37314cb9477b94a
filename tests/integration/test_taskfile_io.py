"""The task file on disk: lock, atomic replace, conflict refusal, real concurrent processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import random
import signal
import stat
import time
from pathlib import Path

import pytest

from runner.errors import WriteBackRefused
from runner.evidence.taskfile import lock_path_for, read_snapshot, write_back
from runner.markdown.writeback import render_write_back
from tests.golden.writeback_records import GOLDEN_SOURCES, TODAY, copy_task, parse, record, result

FORK = multiprocessing.get_context("fork")
RUN_IDS = [f"20261124T1305{n:02d}Z" for n in range(10, 16)]


def _task(tmp_path: Path, template: str = "A") -> Path:
    return copy_task(template, tmp_path)


def _run(run_id: str, *, task_id: str = "ENG-002", status: str = "pass"):
    return record((result(status),), run_id=run_id, task_id=task_id)  # type: ignore[arg-type]


def _write(path: Path, run_id: str) -> None:
    """Child process body: snapshot, then write one run."""
    snapshot = read_snapshot(path)
    write_back(path, snapshot, _run(run_id), today=TODAY)


def _leftovers(folder: Path, path: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name != path.name)


def test_write_back_writes_the_render_and_a_repeat_changes_nothing(tmp_path: Path) -> None:
    path = _task(tmp_path)
    original = path.read_bytes()
    snapshot = read_snapshot(path)
    outcome = write_back(path, snapshot, _run(RUN_IDS[0]), today=TODAY)
    assert outcome.changed and outcome.path == path.resolve()
    expected = render_write_back(parse(original, str(path)), _run(RUN_IDS[0]), today=TODAY)
    assert expected is not None and path.read_bytes() == expected.encode()
    inode = path.stat().st_ino
    again = write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY)
    assert not again.changed and path.stat().st_ino == inode
    assert _leftovers(tmp_path, path) == []  # no lock file, no temp file left behind


def test_an_edit_outside_owned_lines_during_the_run_is_refused(tmp_path: Path) -> None:
    path = _task(tmp_path)
    snapshot = read_snapshot(path)
    edited = path.read_bytes().replace(b"python -m pyflakes", b"python3 -m pyflakes")
    assert edited != snapshot.data
    path.write_bytes(edited)
    with pytest.raises(WriteBackRefused, match="edited during the run") as caught:
        write_back(path, snapshot, _run(RUN_IDS[0]), today=TODAY)
    assert caught.value.exit_code == 5
    assert path.read_bytes() == edited


def test_an_edit_of_owned_lines_during_the_run_is_not_a_conflict(tmp_path: Path) -> None:
    path = _task(tmp_path, "C")
    snapshot = read_snapshot(path)
    write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY)  # another run lands
    assert write_back(path, snapshot, _run(RUN_IDS[1]), today=TODAY).changed
    text = path.read_text(encoding="utf-8")
    assert f"(run {RUN_IDS[0]})" in text and f"(run {RUN_IDS[1]})" in text
    assert text.count("<!-- taskrun:evidence -->") == 1


def test_a_hand_edited_evidence_block_on_disk_is_refused(tmp_path: Path) -> None:
    path = _task(tmp_path, "B")
    write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY)
    edited = path.read_bytes().replace(b"| pass |", b"| ok |")
    path.write_bytes(edited)
    with pytest.raises(WriteBackRefused, match="edited by hand"):
        write_back(path, read_snapshot(path), _run(RUN_IDS[1]), today=TODAY)
    assert path.read_bytes() == edited


@pytest.mark.parametrize("template", sorted(GOLDEN_SOURCES))
def test_two_concurrent_processes_both_land(tmp_path: Path, template: str) -> None:
    path = _task(tmp_path, template)
    task_id = parse(path.read_bytes()).task_id
    assert task_id is not None
    barrier = FORK.Barrier(2)

    def body(run_id: str) -> None:
        snapshot = read_snapshot(path)  # both snapshots predate both writes
        barrier.wait(timeout=10)
        write_back(path, snapshot, _run(run_id, task_id=task_id), today=TODAY)

    children = [FORK.Process(target=body, args=(run_id,)) for run_id in RUN_IDS[:2]]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=30)
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
            child.join(timeout=5)
    assert [child.exitcode for child in children] == [0, 0]
    doc = parse(path.read_bytes())
    assert doc.status is not None and doc.status.change_log is not None
    items = [item.text for item in doc.status.change_log.items]
    assert sum(f"(run {RUN_IDS[0]})" in item for item in items) == 1
    assert sum(f"(run {RUN_IDS[1]})" in item for item in items) == 1
    assert doc.status.evidence is not None
    assert doc.status.evidence.checksum == doc.status.evidence.actual_checksum
    assert _leftovers(tmp_path, path) == []


def _known_versions(start: bytes, path: Path) -> list[bytes]:
    versions = [start]
    for run_id in RUN_IDS:
        text = render_write_back(parse(versions[-1], str(path)), _run(run_id), today=TODAY)
        assert text is not None
        versions.append(text.encode("utf-8"))
    return versions


def _write_all(path: Path) -> None:
    for run_id in RUN_IDS:
        _write(path, run_id)


def test_a_writer_killed_at_random_moments_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = _task(tmp_path)
    start = path.read_bytes()
    known = _known_versions(start, path)
    chance = random.Random(20261124)
    seen: set[int] = set()
    for _ in range(30):
        path.write_bytes(start)
        child = FORK.Process(target=_write_all, args=(path,))
        child.start()
        time.sleep(chance.uniform(0.0, 0.12))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(timeout=10)
        data = path.read_bytes()
        assert data in known, "the file is neither the old nor a complete new version"
        seen.add(known.index(data))
    assert len(seen) >= 2  # the kills landed at different moments
    # Whatever a killed writer left (lock file, temp file) does not block the next write.
    path.write_bytes(start)
    assert write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY).changed
    assert path.read_bytes() == known[1]
    assert _leftovers(tmp_path, path) == []


def _hold_lock_forever(lock: Path) -> None:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    time.sleep(60)


def test_a_lock_held_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    path = _task(tmp_path)
    lock = lock_path_for(path.resolve())
    holder = FORK.Process(target=_hold_lock_forever, args=(lock,))
    holder.start()
    deadline = time.monotonic() + 10
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
    holder.join(timeout=10)
    assert lock.exists()  # stale file left behind by the killed holder
    began = time.monotonic()
    assert write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY).changed
    assert time.monotonic() - began < 5
    assert not lock.exists()


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = _task(real_dir)
    link = tmp_path / "task.md"
    link.symlink_to(Path("real") / target.name)
    outcome = write_back(link, read_snapshot(link), _run(RUN_IDS[0]), today=TODAY)
    assert outcome.changed and outcome.path == target.resolve()
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / target.name)
    assert f"(run {RUN_IDS[0]})".encode() in target.read_bytes()


def test_the_file_mode_is_kept(tmp_path: Path) -> None:
    path = _task(tmp_path)
    path.chmod(0o640)
    assert write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY).changed
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_crlf_and_bom_survive_the_disk_round_trip(tmp_path: Path) -> None:
    path = _task(tmp_path, "C")
    original = b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(original)
    assert write_back(path, read_snapshot(path), _run(RUN_IDS[0]), today=TODAY).changed
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert not data.endswith(b"\n")
