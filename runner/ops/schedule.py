"""`taskrun schedule --print`: systemd service + timer units or a crontab line for nightly runs.

Every command runs under `flock -n` on one lock file, so a run never overlaps another (timer,
cron or a person at a terminal); a run that finds the lock taken exits 1 at once.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from runner.errors import InputError

FLOCK = "/usr/bin/flock"
LOCK_FILE = "/run/lock/taskrun.lock"
BASE_ARGS = ("validate", "--all")
DEFAULT_ARGS = ("--status", "Complete")

CALENDAR_SHORTHANDS = frozenset(
    {
        "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually",
        "quarterly", "semiannually",
    }
)  # fmt: skip
# A systemd calendar expression: weekdays, dates, times, `*`, `,`, `..`, `/`, `~`, a zone.
_CALENDAR = re.compile(r"^[A-Za-z0-9*,./:~+_ -]{1,200}$")
_WEEKDAYS = frozenset(
    {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday",
     "thursday", "friday", "saturday", "sunday"}
)  # fmt: skip
_SYSTEMD_SAFE = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")
_DURATION = re.compile(r"^(infinity|\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d|w)?)$")

CRON_MACROS = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly",
                         "@annually"})  # fmt: skip
_CRON_FIELDS = (  # name, low, high, names
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                      "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SystemdUnits:
    service_name: str
    service: str
    timer_name: str
    timer: str


def _no_control_characters(value: str, what: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InputError(f"{what} must be one line without control characters: {value!r}")


def _absolute(path: str, what: str) -> str:
    _no_control_characters(path, what)
    if not path.startswith("/"):
        raise InputError(f"{what} must be an absolute path (timers and cron have no PATH): {path}")
    return path


def check_on_calendar(value: str) -> str:
    """A systemd `OnCalendar=` value, checked lightly (`systemd-analyze calendar` is the judge)."""
    _no_control_characters(value, "--on-calendar")
    text = value.strip()
    if text.lower() in CALENDAR_SHORTHANDS:
        return text.lower()
    if not _CALENDAR.match(text) or not all(_calendar_token_ok(t) for t in text.split()):
        raise InputError(
            f"--on-calendar {value!r} is not a calendar expression; use daily, hourly, weekly "
            "or one such as 'Mon..Fri *-*-* 03:17:00' (see `systemd-analyze calendar`)"
        )
    return text


def _calendar_token_ok(token: str) -> bool:
    if "/" in token and not any(ch.isdigit() or ch == "*" for ch in token):
        return True  # a time zone such as Europe/Berlin
    words = [w for w in re.split(r"\.\.|,", token) if w]
    if all(w.isalpha() for w in words):
        return all(w.lower() in _WEEKDAYS | CALENDAR_SHORTHANDS or w == "UTC" for w in words)
    return any(ch.isdigit() or ch == "*" for ch in token)


def _check_duration(value: str, what: str) -> str:
    if not _DURATION.match(value.strip()):
        raise InputError(f"{what} {value!r} is not a systemd time span (such as 15min, 2h)")
    return value.strip()


def systemd_quote(arg: str) -> str:
    """One ExecStart word. systemd has its own quoting: C escapes inside double quotes, and
    `%` (specifiers) and `$` (environment expansion) doubled to stay literal."""
    _no_control_characters(arg, "an argument")
    if _SYSTEMD_SAFE.match(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def _command(taskrun_path: str, args: Sequence[str], *, flock: str, lock_file: str) -> list[str]:
    for arg in args:
        _no_control_characters(arg, "an argument")
    return [
        _absolute(flock, "the flock path"),
        "-n",
        _absolute(lock_file, "the lock file"),
        _absolute(taskrun_path, "the taskrun path"),
        *BASE_ARGS,
        *args,
    ]


def render_systemd(
    *,
    taskrun_path: str,
    args: Sequence[str] = DEFAULT_ARGS,
    on_calendar: str = "daily",
    workdir: str,
    user: str | None = None,
    environment_file: str | None = None,
    randomized_delay: str = "15min",
    timeout: str = "2h",
    unit_name: str = "taskrun",
    flock: str = FLOCK,
    lock_file: str = LOCK_FILE,
) -> tuple[str, str]:
    """(service, timer) unit texts; install as `<unit_name>.service` and `<unit_name>.timer`.

    The service runs `taskrun validate --all ARGS…`. `user` adds `User=` (a system unit
    running as that account); without it the units suit `systemctl --user` or run as root.
    `environment_file` (KEY=value lines, mode 0600) supplies the secrets the checks need.
    """
    calendar = check_on_calendar(on_calendar)
    delay = _check_duration(randomized_delay, "the randomized delay")
    limit = _check_duration(timeout, "the timeout")
    if not _UNIT_NAME.match(unit_name):
        raise InputError(f"unit name {unit_name!r} has characters systemd does not allow")
    command = _command(taskrun_path, args, flock=flock, lock_file=lock_file)
    service = [
        "[Unit]",
        "Description=taskrun: re-verify completed tasks and record the evidence",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        # WorkingDirectory= takes the rest of the line as the path: no quotes, only specifiers.
        f"WorkingDirectory={_absolute(workdir, 'the working directory').replace('%', '%%')}",
        f"ExecStart={' '.join(systemd_quote(word) for word in command)}",
        # Type=oneshot has no start timeout by default; a hung run would block every later one.
        f"TimeoutStartSec={limit}",
        "Environment=NO_COLOR=1",
    ]
    if environment_file is not None:
        # Secrets for ${ENV} headers and inventory `env`: a timer has no login environment.
        path = _absolute(environment_file, "the environment file").replace("%", "%%")
        service.append(f"EnvironmentFile=-{path}")
    if user is not None:
        _no_control_characters(user, "the user")
        if not user.strip() or " " in user:
            raise InputError(f"user {user!r} is not an account name")
        service.append(f"User={user}")
    timer = [
        "[Unit]",
        f"Description=Run {unit_name}.service on schedule ({calendar})",
        "",
        "[Timer]",
        f"OnCalendar={calendar}",
        "Persistent=true",
        f"RandomizedDelaySec={delay}",
        f"Unit={unit_name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(service) + "\n", "\n".join(timer) + "\n"


def systemd_units(*, unit_name: str = "taskrun", **options: object) -> SystemdUnits:
    service, timer = render_systemd(unit_name=unit_name, **options)  # type: ignore[arg-type]
    return SystemdUnits(f"{unit_name}.service", service, f"{unit_name}.timer", timer)


def printable_units(units: SystemdUnits, *, folder: str = "/etc/systemd/system") -> str:
    """Both units in one text for `--print systemd`, each under a comment naming its file."""
    return (
        f"# {folder}/{units.service_name}\n{units.service}\n"
        f"# {folder}/{units.timer_name}\n{units.timer}"
    )


def _cron_value(token: str, low: int, high: int, names: Sequence[str]) -> int | None:
    if token.isdigit():
        value = int(token)
        return value if low <= value <= high else None
    lowered = token.lower()
    if lowered in names:
        return names.index(lowered) + (1 if low == 1 else 0)
    return None


def _cron_field_ok(field: str, low: int, high: int, names: Sequence[str]) -> bool:
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and 0 < int(step) <= high):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _cron_value(start, low, high, names)
        if first is None:
            return False
        if dash:
            last = _cron_value(end, low, high, names)
            if last is None or last < first:
                return False
        elif slash:
            return False  # `5/10` is not portable cron; write `5-59/10`
    return True


def check_cron_schedule(schedule: str) -> str:
    """Five cron time fields (or a macro such as `@daily`); ranges, steps, lists and names."""
    _no_control_characters(schedule, "the cron schedule")
    text = " ".join(schedule.split())
    if text.lower() in CRON_MACROS:
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        raise InputError(f"cron schedule {schedule!r} needs five fields (minute hour day month "
                         "weekday)")  # fmt: skip
    for field, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        if not _cron_field_ok(field, low, high, names):
            raise InputError(f"cron schedule {schedule!r}: bad {name} field {field!r}")
    return text


def render_cron(
    *,
    taskrun_path: str,
    args: Sequence[str] = DEFAULT_ARGS,
    schedule: str = "17 3 * * *",
    workdir: str,
    log_file: str | None = None,
    environment_file: str | None = None,
    flock: str = FLOCK,
    lock_file: str = LOCK_FILE,
) -> str:
    """One crontab line: `17 3 * * * cd /dir && /usr/bin/flock -n LOCK /abs/taskrun validate …`.

    `environment_file` is sourced first (`set -a`), as systemd's EnvironmentFile would be.
    """
    when = check_cron_schedule(schedule)
    command = _command(taskrun_path, args, flock=flock, lock_file=lock_file)
    steps = [f"cd {shlex.quote(_absolute(workdir, 'the working directory'))}"]
    if environment_file is not None:
        env = shlex.quote(_absolute(environment_file, "the environment file"))
        steps.append(f"set -a && . {env} && set +a")
    steps.append(shlex.join(command))
    shell = " && ".join(steps)
    if log_file is not None:
        shell += f" >> {shlex.quote(_absolute(log_file, 'the log file'))} 2>&1"
    # cron turns an unescaped `%` into a newline (stdin for the command).
    return f"{when} {shell.replace('%', chr(92) + '%')}\n"


# --------------------------------------------------------------------------- warnings

_TEMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
# Query parameters and webhook paths whose value is a credential: whoever reads the unit file,
# the crontab or `ps` could post as you.
_SECRET_QUERY = re.compile(r"(key|token|secret|pass|auth|sig|signature|code)", re.IGNORECASE)
_WEBHOOK_PATHS = (
    ("hooks.slack.com", "/services/"),
    ("discord.com", "/api/webhooks/"),
    ("discordapp.com", "/api/webhooks/"),
    ("webhook.office.com", "/"),
    ("outlook.office.com", "/webhook"),
)
_TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}")


def schedule_warnings(
    *, taskrun_path: str, workdir: str, args: Sequence[str], temp_dirs: Sequence[str] = ()
) -> list[str]:
    """What would make the printed schedule fail later or leak a secret (printed anyway)."""
    warnings: list[str] = []
    roots = tuple(dict.fromkeys((*_TEMP_ROOTS, *temp_dirs)))
    fixes = (
        ("the taskrun program", taskrun_path, "install taskrun where it stays, e.g. with pipx"),
        ("the working directory", workdir, "run `taskrun schedule` from the project's folder"),
    )
    for what, path, fix in fixes:
        root = _under(path, roots)
        if root is not None:
            warnings.append(
                f"{what} {path} is under {root}, a temporary folder: the schedule breaks when "
                f"it is cleaned ({fix})"
            )
    url = notify_url(args)
    if url is not None:
        why = secret_in_url(url)
        if why is not None:
            warnings.append(
                f"the --notify URL carries a secret ({why}): it would be readable in the unit "
                "file or crontab and in `ps`; put TASKRUN_NOTIFY=<url> into the environment "
                "file (--env-file) and leave --notify out"
            )
    return warnings


def notify_url(args: Sequence[str]) -> str | None:
    """The URL of `--notify URL` / `--notify=URL` among `validate`'s arguments."""
    for index, arg in enumerate(args):
        if arg == "--notify" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--notify="):
            return arg.partition("=")[2]
    return None


def secret_in_url(url: str) -> str | None:
    """Why `url` holds a credential (user info, a key in the query, a webhook token), or None."""
    parts = urlsplit(url)
    if parts.password or (parts.username and "@" in parts.netloc):
        return "user info before the host"
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_QUERY.search(name):
            return f"the query parameter {name!r}"
    host = (parts.hostname or "").lower()
    for webhook_host, path in _WEBHOOK_PATHS:
        if (host == webhook_host or host.endswith("." + webhook_host)) and parts.path.startswith(
            path
        ):
            return "a webhook URL: its path is the credential"
    if any(_TOKEN_LIKE.fullmatch(segment) for segment in parts.path.split("/")):
        return "a token-like path segment"
    return None


def _under(path: str, roots: Sequence[str]) -> str | None:
    normal = path.rstrip("/") + "/"
    for root in roots:
        base = root.rstrip("/") + "/"
        if base != "/" and normal.startswith(base):
            return root
    return None
