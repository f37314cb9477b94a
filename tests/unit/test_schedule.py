from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.ops.schedule import (
    check_cron_schedule,
    check_on_calendar,
    printable_units,
    render_cron,
    render_systemd,
    systemd_quote,
    systemd_units,
)

TASKRUN = "/opt/taskrun/bin/taskrun"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


def _units(**options: object) -> tuple[configparser.ConfigParser, configparser.ConfigParser]:
    service, timer = render_systemd(
        **{"taskrun_path": TASKRUN, "workdir": "/srv/ops", **options}  # type: ignore[arg-type]
    )
    return _ini(service), _ini(timer)


def test_units_have_the_keys_systemd_needs() -> None:
    service, timer = _units(args=["--status", "Complete"], user="agent0")
    assert service["Service"]["Type"] == "oneshot"
    exec_start = service["Service"]["ExecStart"]
    assert exec_start == (
        f"/usr/bin/flock -n /run/lock/taskrun.lock {TASKRUN} validate --all --status Complete"
    )
    assert all(word.startswith("/") for word in exec_start.split()[:4:3])
    assert service["Service"]["WorkingDirectory"] == "/srv/ops"
    assert service["Service"]["User"] == "agent0"
    assert service["Service"]["TimeoutStartSec"] == "2h"
    assert timer["Timer"]["OnCalendar"] == "daily"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"] == "15min"
    assert timer["Timer"]["Unit"] == "taskrun.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_no_user_and_an_environment_file() -> None:
    service, _ = _units(environment_file="/etc/taskrun/env")
    assert "User" not in service["Service"]
    assert service["Service"]["EnvironmentFile"] == "-/etc/taskrun/env"


def test_execstart_quotes_arguments_the_systemd_way() -> None:
    service, _ = _units(args=["--only", 'Gateway 50% up "now" $HOME'], workdir="/srv/my ops")
    exec_start = service["Service"]["ExecStart"]
    assert exec_start.endswith('--only "Gateway 50%% up \\"now\\" $$HOME"')
    assert service["Service"]["WorkingDirectory"] == "/srv/my ops"
    assert systemd_quote("plain-word_1.2") == "plain-word_1.2"
    assert systemd_quote(";") == '";"'
    assert systemd_quote("a\\b") == '"a\\\\b"'


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"taskrun_path": "taskrun"}, "absolute path"),
        ({"workdir": "relative/dir"}, "absolute path"),
        ({"on_calendar": "daily\nExecStartPre=/bin/rm -rf /"}, "one line"),
        ({"args": ["--only", "x\ny"]}, "one line"),
        ({"on_calendar": "dayly"}, "not a calendar expression"),
        ({"on_calendar": ""}, "not a calendar expression"),
        ({"randomized_delay": "soon"}, "time span"),
        ({"user": "two words"}, "account name"),
        ({"unit_name": "task run"}, "unit name"),
    ],
)
def test_bad_systemd_options_are_input_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _units(**options)


GOOD_CALENDARS = ["daily", "Hourly", "weekly", "Mon..Fri *-*-* 03:17:00", "Sat,Sun 04:00",
                  "*-*-* 02:30", "daily Europe/Berlin", "*:0/15", "Mon 03:00 UTC"]  # fmt: skip
BAD_CALENDARS = ["dayly", "every night", "03:00;rm", "Mon..Fry 03:00"]


@pytest.mark.parametrize("value", GOOD_CALENDARS)
def test_calendar_expressions_accepted(value: str) -> None:
    assert check_on_calendar(value)


@pytest.mark.parametrize("value", BAD_CALENDARS)
def test_calendar_typos_rejected(value: str) -> None:
    with pytest.raises(InputError):
        check_on_calendar(value)


@needs_systemd_analyze
def test_systemd_agrees_with_the_calendar_check() -> None:
    for value in GOOD_CALENDARS:
        done = subprocess.run(
            [SYSTEMD_ANALYZE, "calendar", check_on_calendar(value)],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (value, done.stderr)
    for value in BAD_CALENDARS:
        done = subprocess.run(
            [SYSTEMD_ANALYZE, "calendar", value],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        assert done.returncode != 0, value


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    units = systemd_units(
        taskrun_path=TASKRUN,
        args=["--status", "Complete", "--only", 'odd "50%" $X'],
        workdir=str(tmp_path),
        on_calendar="Mon..Fri *-*-* 03:17:00",
        environment_file="/etc/taskrun/env",
    )
    (tmp_path / units.service_name).write_text(units.service)
    (tmp_path / units.timer_name).write_text(units.timer)
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", units.service_name, units.timer_name],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    # systemd skips a bad line with a message (such as "Unbalanced quoting, ignoring").
    complaints = re.findall(r"(?im)^.*(?:ignoring|bad|error|unknown).*$", done.stderr)
    assert complaints == [], done.stderr
    assert done.returncode == 0, done.stderr


def test_printable_units_name_their_files() -> None:
    units = systemd_units(taskrun_path=TASKRUN, workdir="/srv/ops", unit_name="nightly-verify")
    text = printable_units(units)
    assert text.startswith("# /etc/systemd/system/nightly-verify.service\n[Unit]\n")
    assert "\n# /etc/systemd/system/nightly-verify.timer\n[Unit]\n" in text
    assert "Unit=nightly-verify.service" in text


# --------------------------------------------------------------------------- cron

_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _cron_field_valid(field: str, low: int, high: int) -> bool:
    """An independent oracle: numbers only (no names), `*`, ranges, steps and lists."""
    for part in field.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not m:
            return False
        if m.group(4) is not None and int(m.group(4)) == 0:
            return False
        if m.group(2) is not None:
            start = int(m.group(2))
            end = int(m.group(3)) if m.group(3) is not None else start
            if not (low <= start <= end <= high):
                return False
            if m.group(4) is not None and m.group(3) is None:
                return False
    return True


def _cron_line_valid(line: str) -> tuple[list[str], str]:
    assert line.endswith("\n") and line.count("\n") == 1
    fields = line.split(None, 5)
    assert len(fields) == 6, line
    for field, (low, high) in zip(fields[:5], _CRON_RANGES, strict=True):
        assert _cron_field_valid(field, low, high), field
    return fields[:5], fields[5].rstrip("\n")


def test_default_cron_line_has_five_valid_fields_and_a_lock() -> None:
    line = render_cron(taskrun_path=TASKRUN, workdir="/srv/ops")
    fields, command = _cron_line_valid(line)
    assert fields == ["17", "3", "*", "*", "*"]
    assert command == (
        f"cd /srv/ops && /usr/bin/flock -n /run/lock/taskrun.lock {TASKRUN} "
        "validate --all --status Complete"
    )


def test_cron_arguments_with_spaces_and_percent_survive_the_shell() -> None:
    line = render_cron(
        taskrun_path=TASKRUN,
        args=["--status", "Complete", "--only", "Gateway 50% up; rm -rf /"],
        schedule="*/15 1-5 * * 1,3,5",
        workdir="/srv/my ops",
        log_file="/var/log/taskrun.log",
        environment_file="/etc/taskrun/env",
    )
    fields, command = _cron_line_valid(line)
    assert fields == ["*/15", "1-5", "*", "*", "1,3,5"]
    assert "%" not in command.replace("\\%", "")  # cron would cut the line at a bare %
    as_cron_runs_it = command.replace("\\%", "%")
    steps = as_cron_runs_it.split(" && ")
    assert shlex.split(steps[0]) == ["cd", "/srv/my ops"]
    assert steps[1] == ["set -a", ". /etc/taskrun/env", "set +a"][0]
    words = shlex.split(as_cron_runs_it.split(" && ")[-1])
    assert words == [
        "/usr/bin/flock", "-n", "/run/lock/taskrun.lock", TASKRUN, "validate", "--all",
        "--status", "Complete", "--only", "Gateway 50% up; rm -rf /",
        ">>", "/var/log/taskrun.log", "2>&1",
    ]  # fmt: skip


def test_cron_line_runs_in_a_real_shell(tmp_path: Path) -> None:
    """Replace taskrun by a script that prints its arguments; the shell must hand them over."""
    fake = tmp_path / "fake-taskrun"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\npwd\n')
    fake.chmod(0o755)
    out = tmp_path / "out.log"
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    line = render_cron(
        taskrun_path=str(fake),
        args=["--only", "it's 50% $HOME"],
        workdir=str(workdir),
        log_file=str(out),
        lock_file=str(tmp_path / "lock"),
        flock=shutil.which("flock") or "/usr/bin/flock",
    )
    command = line.split(None, 5)[5].rstrip("\n").replace("\\%", "%")
    subprocess.run(["/bin/sh", "-c", command], timeout=20, check=True)
    assert out.read_text().splitlines() == [
        "[validate]", "[--all]", "[--only]", "[it's 50% $HOME]", str(workdir),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "schedule",
    ["17 3 * * *", "0 */2 * * *", "5,35 0-23/2 1-15 1-12 0-7", "@daily", "0 3 * jan mon"],
)
def test_cron_schedules_accepted(schedule: str) -> None:
    assert check_cron_schedule(schedule)


@pytest.mark.parametrize(
    "schedule",
    ["17 3 * *", "60 3 * * *", "0 24 * * *", "0 3 0 * *", "0 3 * 13 *", "0 3 * * 8",
     "*/0 * * * *", "5-1 * * * *", "0 3 * * * *", "0 3 * * *\n* * * * *", "@sometimes",
     "5/10 * * * *"],
)  # fmt: skip
def test_cron_schedules_rejected(schedule: str) -> None:
    with pytest.raises(InputError):
        check_cron_schedule(schedule)


def test_cron_needs_absolute_paths() -> None:
    with pytest.raises(InputError, match="absolute"):
        render_cron(taskrun_path="taskrun", workdir="/srv")
    with pytest.raises(InputError, match="absolute"):
        render_cron(taskrun_path=TASKRUN, workdir="/srv", log_file="taskrun.log")
