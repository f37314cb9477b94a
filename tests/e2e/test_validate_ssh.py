"""`taskrun validate` over SSH against real sshd hosts (`Component: global`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Project, bash_block, closed_port, task_markdown
from tests.fleet import Fleet

WHERE_AM_I = bash_block(
    """
    # says where it ran
    echo "on $FLEET_HOST"

    # has a shell
    test -n "$BASH_VERSION"
    """
)


@pytest.fixture
def ssh_project(project: Project, e2e_fleet: Fleet) -> Project:
    project.write_inventory(e2e_fleet.inventory_yaml())
    project.write_task("S-1.md", task_markdown("S-1", component="global", commands=WHERE_AM_I))
    return project


def checks_by_component(project: Project, task_id: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for check in project.run_json(task_id)["checks"]:
        grouped.setdefault(check["component"], []).append(check)
    return grouped


def test_each_host_runs_its_own_checks(ssh_project: Project, e2e_fleet: Fleet) -> None:
    proc = ssh_project.run("validate", "S-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grouped = checks_by_component(ssh_project, "S-1")
    assert sorted(grouped) == [h.name for h in e2e_fleet.hosts]
    for host in e2e_fleet.hosts:
        says, shell = grouped[host.name]
        assert says["stdout_tail"] == f"on {host.name}\n"  # FLEET_HOST: where it really ran
        assert host.address in says["host"]
        assert (says["status"], shell["status"]) == ("pass", "pass")


def test_a_refused_host_errors_alone_and_exits_3(ssh_project: Project, e2e_fleet: Fleet) -> None:
    port = closed_port()
    ssh_project.write_inventory(
        e2e_fleet.inventory_yaml() + f"  dead: {{host: 127.0.0.1, port: {port}}}\n"
    )
    proc = ssh_project.run("validate", "S-1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    grouped = checks_by_component(ssh_project, "S-1")
    assert [c["status"] for c in grouped["dead"]] == ["error", "error"]
    assert all("refused" in c["error"] for c in grouped["dead"])
    for host in e2e_fleet.hosts:
        assert [c["status"] for c in grouped[host.name]] == ["pass", "pass"]


def test_a_changed_host_key_is_an_error_naming_known_hosts(
    ssh_project: Project, e2e_fleet: Fleet, tmp_path: Path
) -> None:
    victim = e2e_fleet.hosts[1]
    impostor_key = Path(f"{e2e_fleet.wrong_key}.pub").read_text().split()[:2]
    lying = tmp_path / "lying_known_hosts"
    lying.write_text(f"[{victim.address}]:{victim.port} {' '.join(impostor_key)}\n")
    inventory = e2e_fleet.inventory_yaml().replace(
        f"  {victim.name}: {{host: {victim.address}}}",
        f"  {victim.name}: {{host: {victim.address}, known_hosts: {lying}}}",
    )
    assert inventory != e2e_fleet.inventory_yaml()
    ssh_project.write_inventory(inventory)
    proc = ssh_project.run("validate", "S-1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    grouped = checks_by_component(ssh_project, "S-1")
    for check in grouped[victim.name]:
        assert check["status"] == "error"
        assert "known_hosts" in check["error"], check["error"]
        assert check["stdout_tail"] == ""  # nothing ran there
    others = [h.name for h in e2e_fleet.hosts if h is not victim]
    assert all(c["status"] == "pass" for name in others for c in grouped[name])


REMOTE_SLEEP = ("sleep", "31.4159")  # an odd duration: no other process runs exactly this


def test_ctrl_c_stops_the_remote_commands(ssh_project: Project, e2e_fleet: Fleet) -> None:
    """The fleet's sshd hosts are on this machine, so the remote `sleep` is visible here."""
    import os
    import signal

    from tests.e2e.conftest import finish, kill_pids, pids_with_argv, wait_until

    sleep = " ".join(REMOTE_SLEEP)
    ssh_project.write_task(
        "S-2.md",
        task_markdown("S-2", component="global", commands=bash_block(f"# slow\n{sleep}")),
    )
    process = ssh_project.spawn("validate", "S-2")
    hosts = len(e2e_fleet.hosts)
    try:
        started = wait_until(lambda: len(pids_with_argv(REMOTE_SLEEP)) >= hosts, timeout=20)
        assert started, "the remote sleeps did not start"
        os.kill(process.pid, signal.SIGINT)
        returncode, out, err = finish(process, timeout=20)
        gone = wait_until(lambda: not pids_with_argv(REMOTE_SLEEP), timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        leftovers = pids_with_argv(REMOTE_SLEEP)
        kill_pids(leftovers)
    assert returncode == 130, out + err
    assert gone and leftovers == [], "a remote sleep survived Ctrl-C"
    assert ssh_project.run_json("S-2")["state"] == "interrupted"
