"""`inventory check` against real sshd hosts: ok, unreachable, unknown/changed key, auth failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runner.models import Target
from runner.ops.inventory_check import check_inventory
from runner.project.inventory import Inventory, load_inventory
from tests.fleet import Fleet


def mixed_inventory(fleet: Fleet, tmp_path: Path) -> tuple[Inventory, Path, Path]:
    """host1 fine; nothing on .99; host2 unknown; host3 with a wrong key; host4 changed; local."""
    partial = tmp_path / "partial_known_hosts"  # every host but host2
    partial.write_text("".join(h.known_hosts_line() for h in fleet.hosts if h.name != "host2"))
    changed = tmp_path / "changed_known_hosts"  # host4 listed with host1's key
    host1_key = fleet.hosts[0].known_hosts_line().split(" ", 1)[1]
    changed.write_text(f"[{fleet.hosts[3].address}]:{fleet.port} {host1_key}")
    components = {
        "good": fleet.target(0, component="good"),
        "dead": fleet.target(0, component="dead", host="127.0.0.99"),
        "fresh": fleet.target(1, component="fresh", known_hosts=str(partial)),
        "badkey": fleet.target(2, component="badkey", identity=str(fleet.wrong_key)),
        "moved": fleet.target(3, component="moved", known_hosts=str(changed)),
        "orc": Target(component="orc", host="local"),
    }
    return Inventory(path=None, components=components), partial, changed


async def test_reports_each_host_state(fleet: Fleet, tmp_path: Path) -> None:
    inventory, partial, _changed = mixed_inventory(fleet, tmp_path)
    checks = await check_inventory(inventory, accept_new=False, config=[])
    by_name = {check.component: check for check in checks}
    assert [c.component for c in checks] == list(inventory.components)
    assert {name: c.status for name, c in by_name.items()} == {
        "good": "ok",
        "dead": "unreachable",
        "fresh": "unknown-key",
        "badkey": "auth-failed",
        "moved": "changed-key",
        "orc": "ok",
    }
    assert by_name["good"].host_key == "verified" and by_name["good"].rtt_s is not None
    assert "connection refused" in by_name["dead"].detail
    assert by_name["fresh"].keyscan == f"ssh-keyscan -p {fleet.port} 127.0.0.3 >> {partial}"
    assert "permission denied" in by_name["badkey"].detail
    assert "ssh-keygen -R" in by_name["moved"].detail
    assert by_name["orc"].host_key == "local"
    assert "127.0.0.3" not in partial.read_text()  # nothing recorded without --accept-new


async def test_accept_new_records_unknown_keys_but_never_changed_ones(
    fleet: Fleet, tmp_path: Path
) -> None:
    inventory, partial, changed = mixed_inventory(fleet, tmp_path)
    changed_before = changed.read_text()
    checks = {c.component: c for c in await check_inventory(inventory, accept_new=True, config=[])}
    assert (checks["fresh"].status, checks["fresh"].host_key) == ("ok", "accepted")
    assert f"[127.0.0.3]:{fleet.port} ssh-ed25519 " in partial.read_text()
    assert checks["moved"].status == "changed-key"
    assert changed.read_text() == changed_before
    again = {c.component: c for c in await check_inventory(inventory, accept_new=False, config=[])}
    assert (again["fresh"].status, again["fresh"].host_key) == ("ok", "verified")


async def test_the_printed_keyscan_line_fixes_an_unknown_host(fleet: Fleet, tmp_path: Path) -> None:
    known_hosts = tmp_path / "ssh" / "known_hosts"
    known_hosts.parent.mkdir()
    inventory = Inventory(
        path=None, components={"h": fleet.target(4, component="h", known_hosts=str(known_hosts))}
    )
    (check,) = await check_inventory(inventory, accept_new=False, config=[])
    assert check.status == "unknown-key" and check.keyscan
    subprocess.run(["bash", "-c", check.keyscan], check=True, capture_output=True, timeout=20)
    (check,) = await check_inventory(inventory, accept_new=False, config=[])
    assert check.status == "ok"


async def test_checks_a_loaded_inventory_file(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(fleet.inventory_yaml())
    checks = await check_inventory(load_inventory(path), accept_new=False, config=[])
    assert [c.status for c in checks] == ["ok"] * len(fleet.hosts)
