"""The guard's table: which programs change state, and how each is read (a verb, a flag, a
target, an HTTP method, an SQL statement). One `Rule` per family; `runner.bash.guard` looks
through wrappers and shells to the program, then asks here. Pure."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

DEFAULT_READ_ONLY_POSTS: tuple[str, ...] = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "*/search",
)
# The skip reason where the guard cannot tell what will run (fail closed).
CANNOT_SEE = "cannot see what runs"


def _words(text: str) -> list[str]:
    return text.split()


def is_dynamic(arg: str) -> bool:
    """True when bash only knows the argument at run time (`$x`, `$(…)`): see `guard.Arg`."""
    return bool(getattr(arg, "dynamic", False))


def cannot_see(what: str) -> str:
    return f"{CANNOT_SEE} ({what})"


def shown(arg: str) -> str:
    """An argument as written (`"$action"`), for a reason."""
    return str(getattr(arg, "raw", arg))


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class Rule:
    """One family of state-changing programs; `check(program, args)` gives the reason or None."""

    programs: tuple[str, ...]
    check: Callable[[str, tuple[str, ...]], str | None]


def _always(reason: str) -> Callable[[str, tuple[str, ...]], str | None]:
    return lambda program, args: reason.format(program=program)


def _unless_only(
    reason: str, harmless: frozenset[str]
) -> Callable[[str, tuple[str, ...]], str | None]:
    """Mutating unless every argument is one of the harmless (listing/query) options."""
    return lambda program, args: (
        None if all(a in harmless for a in args) else reason.format(program=program)
    )


def _unless_any(
    reason: str, harmless: frozenset[str]
) -> Callable[[str, tuple[str, ...]], str | None]:
    """Mutating unless some argument is a harmless (status/query) option."""
    return lambda program, args: (
        None if any(a in harmless for a in args) else reason.format(program=program)
    )


def _any_flag(flags: Mapping[str, str]) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag in flags:
                return f"{flags[flag]} ({program} {flag})"
        return None

    return check


def _verb(
    verbs: Mapping[str, str], *, options_with_value: frozenset[str] = frozenset()
) -> Callable[[str, tuple[str, ...]], str | None]:
    """The first positional argument (after options) names the action."""

    def check(program: str, args: tuple[str, ...]) -> str | None:
        positional = _positionals(args, options_with_value)
        if positional and is_dynamic(positional[0]):
            return cannot_see(f"{program} {shown(positional[0])}")
        if positional and positional[0] in verbs:
            return f"{verbs[positional[0]]} ({program} {positional[0]})"
        return None

    return check


def _positionals(args: Sequence[str], options_with_value: frozenset[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            out.extend(args[index + 1 :])
            break
        elif arg.startswith("-") and arg != "-":
            skip = arg in options_with_value
        else:
            out.append(arg)
    return out


_SYSTEMCTL_VERBS = {
    "start": "starts a service",
    "stop": "stops a service",
    "restart": "restarts a service",
    "reload": "reloads a service",
    "try-restart": "restarts a service",
    "reload-or-restart": "restarts a service",
    "try-reload-or-restart": "restarts a service",
    "condrestart": "restarts a service",
    "enable": "enables a service",
    "disable": "disables a service",
    "reenable": "enables a service",
    "daemon-reload": "reloads systemd units",
    "daemon-reexec": "re-executes systemd",
    "edit": "edits a unit file",
    "mask": "masks a service",
    "unmask": "unmasks a service",
    "kill": "signals a service's processes",
    "isolate": "switches the system target",
    "set-property": "changes a unit's properties",
    "reset-failed": "resets a unit's failed state",
    "revert": "reverts unit files",
    "preset": "resets a unit's enablement",
    "link": "links a unit file",
    "set-default": "changes the default target",
    "reboot": "reboots the machine",
    "poweroff": "powers the machine off",
    "halt": "halts the machine",
    "suspend": "suspends the machine",
}
_SYSTEMCTL_OPTIONS = frozenset(
    [
        "-t",
        "--type",
        "-p",
        "--property",
        "-H",
        "--host",
        "-M",
        "--machine",
        "-n",
        "--lines",
        "-o",
        "--output",
        "-s",
        "--signal",
        "--state",
        "--root",
        "--kill-whom",
    ]
)


def _service(program: str, args: tuple[str, ...]) -> str | None:
    verbs = {
        "start": "starts",
        "stop": "stops",
        "restart": "restarts",
        "reload": "reloads",
        "force-reload": "reloads",
        "try-restart": "restarts",
        "condrestart": "restarts",
    }
    if len(args) >= 2 and args[1] in verbs:
        return f"{verbs[args[1]]} a service ({program} {args[1]})"
    if len(args) >= 2 and is_dynamic(args[1]):
        return cannot_see(f"{program} {shown(args[0])} {shown(args[1])}")
    return None


def _init_script(program: str, args: tuple[str, ...]) -> str | None:
    """`/etc/init.d/nginx restart`: the script's first argument is the action."""
    return _service(program, (program, *args))


_INSTALL = "installs packages"
_REMOVE = "removes packages"
_UPGRADE = "upgrades packages"
_APT_VERBS = {
    "install": _INSTALL,
    "reinstall": _INSTALL,
    "remove": _REMOVE,
    "purge": _REMOVE,
    "autoremove": _REMOVE,
    "upgrade": _UPGRADE,
    "dist-upgrade": _UPGRADE,
    "full-upgrade": _UPGRADE,
    "update": "refreshes package lists",
    "build-dep": _INSTALL,
}
_DNF_VERBS = {
    "install": _INSTALL,
    "reinstall": _INSTALL,
    "localinstall": _INSTALL,
    "remove": _REMOVE,
    "erase": _REMOVE,
    "autoremove": _REMOVE,
    "upgrade": _UPGRADE,
    "update": _UPGRADE,
    "downgrade": _UPGRADE,
    "distro-sync": _UPGRADE,
}
_APK_VERBS = {"add": _INSTALL, "del": _REMOVE, "upgrade": _UPGRADE, "fix": _UPGRADE}
_PIP_VERBS = {"install": _INSTALL, "uninstall": _REMOVE, "download": "downloads packages"}
_NPM_VERBS = {
    "install": _INSTALL,
    "i": _INSTALL,
    "ci": _INSTALL,
    "add": _INSTALL,
    "uninstall": _REMOVE,
    "remove": _REMOVE,
    "rm": _REMOVE,
    "un": _REMOVE,
    "update": _UPGRADE,
    "upgrade": _UPGRADE,
    "link": "links packages",
}
_PIP_OPTIONS = frozenset(["--python", "--proxy", "--cache-dir", "--log", "--timeout"])
_APT_OPTIONS = frozenset(["-o", "--option", "-c", "--config-file", "-t", "--target-release"])


def _uv(program: str, args: tuple[str, ...]) -> str | None:
    if args[:1] == ("pip",):
        return _verb(_PIP_VERBS)(f"{program} pip", args[1:])
    return _verb({"add": _INSTALL, "remove": _REMOVE, "sync": _INSTALL, "tool": _INSTALL})(
        program, args
    )


_DOCKER_VERBS = {
    "rm": "removes containers",
    "rmi": "removes images",
    "stop": "stops containers",
    "kill": "kills containers",
    "run": "starts a container",
    "restart": "restarts containers",
    "start": "starts containers",
    "create": "creates a container",
    "pause": "pauses containers",
    "unpause": "resumes containers",
    "rename": "renames a container",
    "update": "changes containers",
    "pull": "downloads images",
    "push": "uploads images",
    "build": "builds an image",
    "tag": "tags an image",
    "load": "loads images",
    "import": "imports an image",
    "commit": "creates an image",
    "cp": "copies files",
    "prune": "deletes unused objects",
    "exec": "runs a command in a container",
}
_DOCKER_OBJECT_VERBS = frozenset(
    [
        "rm",
        "rmi",
        "stop",
        "kill",
        "run",
        "restart",
        "start",
        "create",
        "prune",
        "pull",
        "push",
        "build",
        "tag",
        "load",
        "import",
        "remove",
        "update",
        "pause",
        "unpause",
        "rename",
        "cp",
        "commit",
    ]
)
_COMPOSE_VERBS = frozenset(
    [
        "up",
        "down",
        "restart",
        "stop",
        "start",
        "rm",
        "kill",
        "pull",
        "push",
        "build",
        "create",
        "run",
        "pause",
        "unpause",
        "exec",
        "cp",
        "scale",
        "rename",
    ]
)
_DOCKER_OPTIONS = frozenset(
    [
        "-H",
        "--host",
        "--context",
        "-c",
        "--config",
        "-l",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
    ]
)


def _docker(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _DOCKER_OPTIONS)
    if not positional:
        return None
    verb = positional[0]
    if is_dynamic(verb):
        return cannot_see(f"{program} {shown(verb)}")
    if verb == "compose" or program.endswith("-compose"):
        rest = args[args.index("compose") + 1 :] if verb == "compose" else args
        rest = tuple(
            _positionals(
                rest,
                frozenset(
                    [
                        "-f",
                        "--file",
                        "-p",
                        "--project-name",
                        "--profile",
                        "--env-file",
                        "--project-directory",
                    ]
                ),
            )
        )
        name = f"{program} compose" if verb == "compose" else program
        if rest and is_dynamic(rest[0]):
            return cannot_see(f"{name} {shown(rest[0])}")
        if rest and rest[0] in _COMPOSE_VERBS:
            return f"changes services ({name} {rest[0]})"
        return None
    if verb in ("container", "image", "volume", "network", "system", "builder", "plugin"):
        if len(positional) > 1 and positional[1] in _DOCKER_OBJECT_VERBS:
            return f"changes docker {verb}s ({program} {verb} {positional[1]})"
        return None
    if verb in _DOCKER_VERBS:
        return f"{_DOCKER_VERBS[verb]} ({program} {verb})"
    return None


_GIT_OPTIONS = frozenset(["-C", "-c", "--git-dir", "--work-tree", "--namespace"])
_GIT_ALWAYS = {
    "push": "pushes commits",
    "commit": "creates a commit",
    "checkout": "changes the working tree",
    "switch": "changes the working tree",
    "restore": "changes the working tree",
    "pull": "changes the working tree",
    "merge": "merges commits",
    "rebase": "rewrites commits",
    "cherry-pick": "applies commits",
    "revert": "creates a commit",
    "am": "applies patches",
    "rm": "deletes files",
    "mv": "moves files",
    "add": "changes the index",
    "init": "creates a repository",
    "clone": "creates a repository",
    "gc": "repacks the repository",
    "prune": "prunes objects",
}


def _git(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _GIT_OPTIONS)
    if not positional:
        return None
    if is_dynamic(positional[0]):
        return cannot_see(f"git {shown(positional[0])}")
    verb, rest = positional[0], args[args.index(positional[0]) + 1 :]
    if verb in _GIT_ALWAYS:
        return f"{_GIT_ALWAYS[verb]} (git {verb})"
    if verb == "reset":
        return (
            "discards local changes (git reset --hard)"
            if "--hard" in rest
            else "moves HEAD (git reset)"
        )
    if verb == "clean" and not any(a in ("-n", "--dry-run") for a in rest):
        return "deletes untracked files (git clean)"
    if verb == "stash" and (not rest or rest[0] not in ("list", "show")):
        return "stashes changes (git stash)"
    listing = {
        "-l",
        "--list",
        "-a",
        "--all",
        "-r",
        "--remotes",
        "-v",
        "-vv",
        "--show-current",
        "--contains",
        "--merged",
        "--no-merged",
        "-n",
    }
    if verb in ("tag", "branch") and rest and not any(a.split("=")[0] in listing for a in rest):
        return f"changes refs (git {verb})"
    if verb == "apply" and not any(a in ("--check", "--stat", "--numstat") for a in rest):
        return "applies patches (git apply)"
    if verb == "config" and (
        len(_positionals(rest, frozenset(["--file", "-f"]))) >= 2
        or any(
            a in ("--unset", "--unset-all", "--add", "--replace-all", "-e", "--edit") for a in rest
        )
    ):
        return "changes git configuration (git config)"
    return None


_OLLAMA_VERBS = {
    "pull": "downloads a model",
    "rm": "removes a model",
    "push": "uploads a model",
    "cp": "copies a model",
    "create": "creates a model",
    "stop": "unloads a model",
}
_IPTABLES_FLAGS = {
    f: "changes firewall rules"
    for f in (
        "-A",
        "--append",
        "-D",
        "--delete",
        "-I",
        "--insert",
        "-R",
        "--replace",
        "-F",
        "--flush",
        "-N",
        "--new-chain",
        "-X",
        "--delete-chain",
        "-P",
        "--policy",
        "-Z",
        "--zero",
        "-E",
        "--rename-chain",
    )
}


def _last_positional(args: tuple[str, ...], options_with_value: frozenset[str]) -> str | None:
    for index, arg in enumerate(args):
        if arg in ("-t", "--target-directory") and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--target-directory="):
            return arg.split("=", 1)[1]
    positional = _positionals(args, options_with_value)
    return positional[-1] if len(positional) >= 2 else None


def _copies(verb: str) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        target = _last_positional(args, frozenset(["-S", "--suffix", "-e"]))
        if target is None:
            return None
        return f"{verb} {target} ({program})"

    return check


_HARMLESS_PATHS = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty")
# `echo > /dev/tcp/host/port` is bash's reachability probe: a connection, not a file.
_HARMLESS_PREFIXES = ("/dev/fd/", "/dev/tcp/", "/dev/udp/")


def is_harmless_path(path: str) -> bool:
    return path in _HARMLESS_PATHS or path.startswith(_HARMLESS_PREFIXES) or path == "-"


def _tee(program: str, args: tuple[str, ...]) -> str | None:
    files = [
        a
        for a in _positionals(args, frozenset())
        if not is_harmless_path(a) and not a.startswith((">(", "<("))
    ]
    if not files:
        return None
    appends = any(a in ("-a", "--append") for a in args)
    return f"appends to {files[0]} (tee -a)" if appends else f"writes to {files[0]} (tee)"


def _dd(program: str, args: tuple[str, ...]) -> str | None:
    for arg in args:
        if arg.startswith("of=") and not is_harmless_path(arg[3:]):
            return f"writes {arg[3:]} (dd of=)"
    return None


def _in_place(arg_letters: str, takes_value: str) -> Callable[[str, tuple[str, ...]], str | None]:
    """`sed -i`, `sed -Ei.bak`, `perl -pi -e`: an `i` in a short-option cluster, before any
    letter that takes a value."""

    def check(program: str, args: tuple[str, ...]) -> str | None:
        for arg in args:
            if arg == "--" or not arg.startswith("-"):
                continue
            if arg.startswith("--in-place"):
                return f"edits files in place ({program} -i)"
            if arg.startswith("--"):
                continue
            for letter in arg[1:]:
                if letter == "i":
                    return f"edits files in place ({program} -i)"
                if letter in takes_value or letter not in arg_letters:
                    break
        return None

    return check


def _crontab(program: str, args: tuple[str, ...]) -> str | None:
    if "-e" in args:
        return "edits the crontab (crontab -e)"
    if "-r" in args:
        return "removes the crontab (crontab -r)"
    if _positionals(args, frozenset(["-u"])):
        return "installs a crontab (crontab FILE)"
    return None


def _kill(program: str, args: tuple[str, ...]) -> str | None:
    if not args or any(a in ("-0", "-l", "-L", "--list", "-s0") for a in args):
        return None
    return f"sends a signal to processes ({program})"


def _ip(program: str, args: tuple[str, ...]) -> str | None:
    verbs = {"add", "del", "delete", "set", "flush", "change", "replace", "append"}
    changed = next((a for a in args if a in verbs), None)
    return f"changes network settings ({program} … {changed})" if changed else None


def _sysctl(program: str, args: tuple[str, ...]) -> str | None:
    if any(a in ("-w", "--write", "-p", "--load", "--system") or "=" in a for a in args):
        return "changes kernel settings (sysctl)"
    return None


def _set_verb(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, frozenset())
    if positional and is_dynamic(positional[0]):
        return cannot_see(f"{program} {shown(positional[0])}")
    if positional and positional[0].startswith("set"):
        return f"changes system settings ({program} {positional[0]})"
    return None


def _firewall_verb(verbs: frozenset[str]) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(program: str, args: tuple[str, ...]) -> str | None:
        positional = _positionals(args, frozenset())
        if positional and positional[0] in verbs:
            return f"changes firewall rules ({program} {positional[0]})"
        return None

    return check


def _journalctl(program: str, args: tuple[str, ...]) -> str | None:
    for arg in args:
        if arg.startswith(("--vacuum", "--rotate", "--flush", "--relinquish-var")):
            return f"changes the journal (journalctl {arg.split('=')[0]})"
    return None


def _find(program: str, args: tuple[str, ...]) -> str | None:
    if "-delete" in args:
        return "deletes files (find -delete)"
    return None


# --------------------------------------------------------------------------- ops tools

_KUBECTL_OPTIONS = frozenset(
    [
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--cluster",
        "--user",
        "-s",
        "--server",
        "--token",
        "--as",
        "--as-group",
        "--request-timeout",
        "-v",
        "--v",
        "--cache-dir",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--tls-server-name",
        "-l",
        "--selector",
        "-f",
        "--filename",
        "-o",
        "--output",
        "-c",
        "--container",
    ]
)
_KUBECTL_VERBS = {
    "apply": "applies manifests",
    "create": "creates resources",
    "delete": "deletes resources",
    "patch": "patches resources",
    "edit": "edits resources",
    "replace": "replaces resources",
    "scale": "scales workloads",
    "autoscale": "changes autoscaling",
    "drain": "drains a node",
    "cordon": "cordons a node",
    "uncordon": "uncordons a node",
    "taint": "taints a node",
    "label": "labels resources",
    "annotate": "annotates resources",
    "set": "changes resources",
    "expose": "creates a service",
    "run": "starts a pod",
    "cp": "copies files into a pod",
    "exec": "runs a command in a pod",
    "debug": "starts a debug container",
}
_KUBECTL_ROLLOUT = {
    "restart": "restarts a rollout",
    "undo": "rolls back a rollout",
    "pause": "pauses a rollout",
    "resume": "resumes a rollout",
}
_KUBECTL_CONFIG = frozenset(
    [
        "use-context",
        "use",
        "set-context",
        "set-cluster",
        "set-credentials",
        "set",
        "unset",
        "delete-context",
        "delete-cluster",
        "delete-user",
        "rename-context",
    ]
)


def _kubectl(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _KUBECTL_OPTIONS)
    if not positional:
        return None
    verb = positional[0]
    if is_dynamic(verb):
        return cannot_see(f"{program} {shown(verb)}")
    sub = positional[1] if len(positional) > 1 else ""
    if verb == "rollout" and is_dynamic(sub):
        return cannot_see(f"{program} rollout {shown(sub)}")
    if verb == "rollout" and sub in _KUBECTL_ROLLOUT:
        return f"{_KUBECTL_ROLLOUT[sub]} ({program} rollout {sub})"
    if verb == "config" and sub in _KUBECTL_CONFIG:
        return f"changes the kubeconfig ({program} config {sub})"
    if verb == "certificate" and sub in ("approve", "deny"):
        return f"decides a certificate request ({program} certificate {sub})"
    if verb in _KUBECTL_VERBS:
        return f"{_KUBECTL_VERBS[verb]} ({program} {verb})"
    return None


_HELM_OPTIONS = frozenset(
    [
        "-n",
        "--namespace",
        "--kube-context",
        "--kubeconfig",
        "--kube-apiserver",
        "--kube-as-user",
        "--kube-token",
        "--registry-config",
        "--repository-cache",
        "--repository-config",
        "--burst-limit",
        "--qps",
    ]
)
_HELM_VERBS = {
    "install": "installs a release",
    "upgrade": "upgrades a release",
    "uninstall": "removes a release",
    "delete": "removes a release",
    "del": "removes a release",
    "un": "removes a release",
    "rollback": "rolls back a release",
    "push": "uploads a chart",
}


def _helm(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, _HELM_OPTIONS)
    if not positional:
        return None
    verb = positional[0]
    if is_dynamic(verb):
        return cannot_see(f"{program} {shown(verb)}")
    sub = positional[1] if len(positional) > 1 else ""
    if verb in ("repo", "plugin") and sub in ("add", "remove", "rm", "update", "up", "install"):
        return f"changes helm's {verb}s ({program} {verb} {sub})"
    if verb in _HELM_VERBS:
        return f"{_HELM_VERBS[verb]} ({program} {verb})"
    return None


def _nginx(program: str, args: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(args):
        if arg == "-s":
            signal = args[index + 1] if index + 1 < len(args) else ""
            if is_dynamic(signal):
                return cannot_see(f"{program} -s {shown(signal)}")
            return f"signals the server ({program} -s {signal})" if signal else None
        if arg.startswith("-s") and len(arg) > 2:
            return f"signals the server ({program} -s {arg[2:]})"
    if any(a in ("-t", "-T", "-v", "-V", "-h", "-?", "-q") or a.startswith("-t") for a in args):
        return None
    return f"starts the server ({program})"


_PROCESS_MANAGER_VERBS = {
    "supervisorctl": (
        frozenset(["-c", "--configuration", "-s", "--serverurl", "-u", "--username", "-p", "-r"]),
        {
            "start": "starts programs",
            "stop": "stops programs",
            "restart": "restarts programs",
            "reload": "restarts supervisord",
            "update": "applies configuration changes",
            "add": "starts programs",
            "remove": "removes programs",
            "shutdown": "stops supervisord",
            "signal": "signals programs",
            "clear": "clears logs",
        },
    ),
    "pm2": (
        frozenset(["--name", "-n", "-i", "--instances", "--env"]),
        {
            "start": "starts processes",
            "stop": "stops processes",
            "restart": "restarts processes",
            "reload": "reloads processes",
            "delete": "removes processes",
            "del": "removes processes",
            "kill": "stops the pm2 daemon",
            "scale": "scales processes",
            "flush": "clears logs",
            "reset": "resets counters",
            "save": "saves the process list",
            "startup": "installs a boot script",
            "unstartup": "removes the boot script",
            "update": "restarts the pm2 daemon",
            "install": "installs a module",
            "uninstall": "removes a module",
        },
    ),
    "netplan": (
        frozenset(["--root-dir"]),
        {
            "apply": "applies network configuration",
            "try": "applies network configuration",
            "generate": "writes network configuration",
            "set": "changes network configuration",
        },
    ),
}


def _process_manager(program: str, args: tuple[str, ...]) -> str | None:
    options, verbs = _PROCESS_MANAGER_VERBS[program]
    return _verb(verbs, options_with_value=options)(program, args)


_REDIS_OPTIONS = frozenset(
    [
        "-h",
        "-p",
        "-s",
        "-a",
        "--user",
        "--pass",
        "-u",
        "-r",
        "-i",
        "-n",
        "-d",
        "-D",
        "--cacert",
        "--cacertdir",
        "--cert",
        "--key",
        "--tls-ciphers",
        "--tls-ciphersuites",
        "--sni",
        "--pattern",
        "--count",
        "--quoted-pattern",
        "--memkeys-samples",
        "--rdb",
        "--functions-rdb",
        "--pipe-timeout",
        "--replica",
        "--cluster",
    ]
)
_REDIS_DELETES = frozenset(["FLUSHALL", "FLUSHDB", "DEL", "UNLINK", "GETDEL", "SWAPDB"])
_REDIS_WRITES = frozenset(
    _words(
        """
        SET SETEX PSETEX SETNX GETSET GETEX MSET MSETNX APPEND INCR INCRBY INCRBYFLOAT
        DECR DECRBY SETRANGE SETBIT BITOP BITFIELD COPY RENAME RENAMENX MOVE MIGRATE
        RESTORE EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST HSET HMSET HSETNX HDEL HINCRBY
        HINCRBYFLOAT LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LSET LREM LTRIM LINSERT LMOVE
        RPOPLPUSH BLPOP BRPOP BLMOVE BRPOPLPUSH LMPOP BLMPOP SADD SREM SPOP SMOVE
        SINTERSTORE SUNIONSTORE SDIFFSTORE ZADD ZREM ZINCRBY ZPOPMIN ZPOPMAX BZPOPMIN
        BZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZUNIONSTORE ZINTERSTORE
        ZDIFFSTORE ZRANGESTORE ZMPOP BZMPOP XADD XDEL XTRIM XGROUP XACK XCLAIM XAUTOCLAIM
        XSETID XREADGROUP PFADD PFMERGE GEOADD PUBLISH SPUBLISH SHUTDOWN SAVE BGSAVE
        BGREWRITEAOF SLAVEOF REPLICAOF FAILOVER DEBUG EVAL EVALSHA EVAL_RO FCALL
        """
    )
)
_REDIS_SUBCOMMAND_WRITES = {
    "CONFIG": frozenset(["SET", "REWRITE", "RESETSTAT"]),
    "CLIENT": frozenset(["KILL", "PAUSE", "NO-EVICT", "SETNAME"]),
    "SCRIPT": frozenset(["FLUSH", "LOAD", "KILL"]),
    "FUNCTION": frozenset(["LOAD", "DELETE", "FLUSH", "RESTORE", "KILL"]),
    "ACL": frozenset(["SETUSER", "DELUSER", "SAVE", "LOAD"]),
    "MODULE": frozenset(["LOAD", "LOADEX", "UNLOAD"]),
    "SLOWLOG": frozenset(["RESET"]),
    "LATENCY": frozenset(["RESET"]),
    "MEMORY": frozenset(["PURGE"]),
    "CLUSTER": frozenset(
        ["ADDSLOTS", "DELSLOTS", "FAILOVER", "FORGET", "MEET", "RESET", "SETSLOT", "REPLICATE"]
    ),
}


def _redis_cli(program: str, args: tuple[str, ...]) -> str | None:
    if "--eval" in args:
        return cannot_see(f"{program} --eval runs a Lua script")
    positional = _positionals(args, _REDIS_OPTIONS)
    if not positional:
        return None
    return redis_command_reason(program, positional)


def redis_command_reason(program: str, words: Sequence[str]) -> str | None:
    command = words[0]
    if is_dynamic(command):
        return cannot_see(f"{program} {shown(command)}")
    name = command.upper()
    sub = words[1].upper() if len(words) > 1 else ""
    if name in _REDIS_DELETES:
        return f"deletes redis keys ({program} {name})"
    if name in _REDIS_WRITES:
        return f"writes redis data ({program} {name})"
    if sub in _REDIS_SUBCOMMAND_WRITES.get(name, ()):
        return f"changes the redis server ({program} {name} {sub})"
    return None


# SQL statements that change a database (their first keyword).
_SQL_WRITES = frozenset(
    _words(
        """
        INSERT UPDATE DELETE MERGE UPSERT REPLACE CREATE ALTER DROP TRUNCATE RENAME GRANT
        REVOKE COMMENT VACUUM REINDEX CLUSTER COPY LOAD IMPORT REFRESH CALL DO SECURITY
        INSTALL UNINSTALL FLUSH KILL OPTIMIZE REPAIR SHUTDOWN PURGE HANDLER
        """
    )
)
_SQL_MODIFYING = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_SQL_NOISE = re.compile(
    r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$([A-Za-z_]*)\$.*?\$\1\$",
    re.DOTALL,
)


def sql_reason(program: str, sql: str) -> str | None:
    """Why SQL text changes the database, or None for reads (`SELECT`, `SHOW`, `\\dt`)."""
    text = _SQL_NOISE.sub(" ", sql)
    for line in text.splitlines():
        meta = line.strip()
        if meta.startswith(("\\copy", "\\i ", "\\ir ", "\\include", "\\o ", "\\w ")):
            return f"changes the database or files ({program} {meta.split()[0]})"
    for statement in text.split(";"):
        words = statement.split()
        while words and words[0].upper() in ("EXPLAIN", "ANALYZE", "ANALYSE", "VERBOSE", "BEGIN"):
            words = words[1:]
        if not words:
            continue
        first = words[0].upper().lstrip("(")
        if first.startswith(("$", "`")) and is_dynamic(sql):
            return cannot_see(f"{program} runs the SQL in {words[0]}")
        if first == "WITH":
            found = _SQL_MODIFYING.search(" ".join(words))
            if found:
                return f"changes the database ({program}: {found.group(1).upper()})"
            continue
        replication = ("SLAVE", "REPLICA", "MASTER", "REPLICATION")
        if (
            first in ("START", "STOP", "CHANGE", "RESET")
            and words[1:2]
            and (words[1].upper() in replication)
        ):
            return f"changes replication ({program}: {first} {words[1].upper()})"
        if first in _SQL_WRITES:
            return f"changes the database ({program}: {first})"
    return None


_PSQL_VALUES = "cdfFhLopPRTUv"


def sql_argument(program: str, args: Sequence[str]) -> str | None:
    """The SQL given on the command line: `psql -c SQL`, `mysql -e SQL`, `sqlite3 db SQL`;
    None when the client reads it from stdin or a file."""
    if program == "sqlite3":
        positional = [a for a in args if not a.startswith("-")]
        return " ".join(positional[1:]) if len(positional) > 1 else None
    flag = "c" if program == "psql" else "e"
    long = "--command" if program == "psql" else "--execute"
    values = _PSQL_VALUES if program == "psql" else "uhPDSe"
    found: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith(long + "="):
            found.append(arg.split("=", 1)[1])
        elif arg == long and index < len(args):
            found.append(args[index])
            index += 1
        elif arg.startswith("-") and not arg.startswith("--"):
            for offset, letter in enumerate(arg[1:], start=1):
                if letter == "p" and program != "psql":
                    break  # mysql -pSECRET: the rest is a password
                if letter in values or letter == flag:
                    value = arg[offset + 1 :]
                    if not value and index < len(args):
                        value = args[index]
                        index += 1
                    if letter == flag:
                        found.append(value)
                    break
    if not found:
        return None
    if any(is_dynamic(a) for a in found):
        return next(a for a in found if is_dynamic(a))
    return ";".join(found)


def _sql_client(program: str, args: tuple[str, ...]) -> str | None:
    sql = sql_argument(program, args)
    return None if sql is None else sql_reason(program, sql)


def _tar(program: str, args: tuple[str, ...]) -> str | None:
    modes: set[str] = set()
    archive: str | None = None
    to_stdout = False
    index = 0
    bundled = bool(args) and re.fullmatch(r"[A-Za-z]+", args[0]) and set(args[0]) & set("xctruA")
    while index < len(args):
        arg = args[index]
        index += 1
        letters = ""
        if index == 1 and bundled:
            letters = arg
        elif arg.startswith("--"):
            name, _, value = arg.partition("=")
            long_modes = {
                "--extract": "x",
                "--get": "x",
                "--create": "c",
                "--append": "r",
                "--update": "u",
                "--catenate": "A",
                "--concatenate": "A",
                "--delete": "D",
            }
            if name in long_modes:
                modes.add(long_modes[name])
            elif name == "--file":
                archive = value or (args[index] if index < len(args) else None)
                index += 0 if value else 1
            elif name == "--to-stdout":
                to_stdout = True
            continue
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
        for offset, letter in enumerate(letters):
            if letter in "xctruAd":
                modes.add(letter)
            elif letter == "O":
                to_stdout = True
            elif letter == "f":
                rest = letters[offset + 1 :] if not (index == 1 and bundled) else ""
                archive = rest or (args[index] if index < len(args) else None)
                if not rest:
                    index += 1
                break
            elif letter in "CTXbHgKLNV" and not (index == 1 and bundled):
                index += 0 if letters[offset + 1 :] else 1
                break
    if "x" in modes and not to_stdout:
        return f"extracts files ({program} -x)"
    if modes & {"r", "u", "A", "D"}:
        return f"changes an archive ({program} -{sorted(modes & set('ruAD'))[0]})"
    if "c" in modes and archive is not None and not is_harmless_path(archive):
        return f"writes {archive} ({program} -c)"
    return None


def _date(program: str, args: tuple[str, ...]) -> str | None:
    """`date -s …`, `date --set=…`, or a bare `MMDDhhmm[[CC]YY][.ss]` operand set the clock."""
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--set" or arg.startswith("--set="):
            return f"sets the clock ({program} --set)"
        if arg in ("--date", "--file", "--reference"):
            index += 1
        elif arg.startswith("-") and not arg.startswith("--"):
            for offset, letter in enumerate(arg[1:], start=1):
                if letter == "s":
                    return f"sets the clock ({program} -s)"
                if letter in "dfr":
                    index += 0 if arg[offset + 1 :] else 1  # its value
                    break
    positional = [a for a in args if not a.startswith(("-", "+"))]
    clock = re.compile(r"\d{8}(\d{2}){0,2}(\.\d{2})?")
    if positional and not any(a.startswith("-") for a in args) and clock.fullmatch(positional[0]):
        return f"sets the clock ({program} {positional[0]})"
    return None


def _hwclock(program: str, args: tuple[str, ...]) -> str | None:
    for arg in args:
        if arg in ("--set", "-w", "--systohc", "-s", "--hctosys", "--adjust", "--systz"):
            return f"sets the clock ({program} {arg})"
    return None


def _sysbench(program: str, args: tuple[str, ...]) -> str | None:
    positional = _positionals(args, frozenset())
    if "prepare" in positional:
        return f"creates test data ({program} prepare)"
    if "cleanup" in positional:
        return f"removes test data ({program} cleanup)"
    return None


RULES: tuple[Rule, ...] = (
    Rule(("systemctl",), _verb(_SYSTEMCTL_VERBS, options_with_value=_SYSTEMCTL_OPTIONS)),
    Rule(("service",), _service),
    Rule(("rm",), _always("deletes files ({program})")),
    Rule(("rmdir",), _always("deletes directories ({program})")),
    Rule(("unlink",), _always("deletes files ({program})")),
    Rule(("shred",), _always("destroys files ({program})")),
    Rule(("mv",), _always("moves files ({program})")),
    Rule(("truncate",), _always("truncates files ({program})")),
    Rule(("mkdir",), _always("creates directories ({program})")),
    Rule(("touch",), _always("creates or touches files ({program})")),
    Rule(("install",), _always("installs files ({program})")),
    Rule(("cp",), _copies("copies onto")),
    Rule(("ln",), _copies("creates a link at")),
    Rule(("scp", "rsync"), _copies("copies onto")),
    Rule(("tee",), _tee),
    Rule(("dd",), _dd),
    Rule(("sed",), _in_place("nrEsuz", "efl")),
    Rule(("perl",), _in_place("pnalw", "eEMmIxCdD0l")),
    Rule(
        ("chmod", "chown", "chgrp", "chattr", "setfacl"),
        _always("changes file permissions ({program})"),
    ),
    Rule(("kill",), _kill),
    Rule(
        ("pkill", "killall", "skill"),
        _unless_only("kills processes ({program})", frozenset(["-l", "--list"])),
    ),
    Rule(("reboot",), _always("reboots the machine ({program})")),
    Rule(("shutdown",), _always("shuts the machine down ({program})")),
    Rule(("poweroff", "halt"), _always("powers the machine off ({program})")),
    Rule(("apt", "apt-get", "aptitude"), _verb(_APT_VERBS, options_with_value=_APT_OPTIONS)),
    Rule(("dnf", "yum", "microdnf", "zypper"), _verb(_DNF_VERBS)),
    Rule(("apk",), _verb(_APK_VERBS)),
    Rule(("pip", "pip3", "pipx"), _verb(_PIP_VERBS, options_with_value=_PIP_OPTIONS)),
    Rule(("uv",), _uv),
    Rule(("npm", "pnpm", "yarn"), _verb(_NPM_VERBS)),
    Rule(("gem",), _verb({"install": _INSTALL, "uninstall": _REMOVE, "update": _UPGRADE})),
    Rule(("snap",), _verb({"install": _INSTALL, "remove": _REMOVE, "refresh": _UPGRADE})),
    Rule(
        ("dpkg",),
        _any_flag(
            {
                "-i": _INSTALL,
                "--install": _INSTALL,
                "-r": _REMOVE,
                "--remove": _REMOVE,
                "-P": _REMOVE,
                "--purge": _REMOVE,
            }
        ),
    ),
    Rule(
        ("rpm",),
        _any_flag(
            {
                "-i": _INSTALL,
                "--install": _INSTALL,
                "-U": _UPGRADE,
                "--upgrade": _UPGRADE,
                "-e": _REMOVE,
                "--erase": _REMOVE,
            }
        ),
    ),
    Rule(("docker", "podman", "docker-compose", "podman-compose", "nerdctl"), _docker),
    Rule(("git",), _git),
    Rule(("ollama",), _verb(_OLLAMA_VERBS)),
    Rule(("crontab",), _crontab),
    Rule(
        (
            "useradd",
            "userdel",
            "usermod",
            "groupadd",
            "groupdel",
            "groupmod",
            "chpasswd",
            "adduser",
            "deluser",
        ),
        _always("changes user accounts ({program})"),
    ),
    Rule(("passwd",), _unless_any("changes a password ({program})", frozenset(["-S", "--status"]))),
    Rule(("iptables", "ip6tables"), _any_flag(_IPTABLES_FLAGS)),
    Rule(("iptables-restore", "ip6tables-restore"), _always("changes firewall rules ({program})")),
    Rule(
        ("ufw",),
        _firewall_verb(
            frozenset(
                [
                    "allow",
                    "deny",
                    "reject",
                    "limit",
                    "delete",
                    "insert",
                    "enable",
                    "disable",
                    "reset",
                    "reload",
                    "default",
                    "route",
                ]
            )
        ),
    ),
    Rule(
        ("nft",),
        _firewall_verb(
            frozenset(
                [
                    "add",
                    "delete",
                    "flush",
                    "insert",
                    "replace",
                    "create",
                    "destroy",
                    "rename",
                    "reset",
                ]
            )
        ),
    ),
    Rule(
        ("mount",),
        _unless_only(
            "mounts a filesystem ({program})", frozenset(["-l", "--list", "--show-labels"])
        ),
    ),
    Rule(("umount",), _always("unmounts a filesystem ({program})")),
    Rule(("ip",), _ip),
    Rule(("sysctl",), _sysctl),
    Rule(("hostnamectl", "timedatectl", "localectl"), _set_verb),
    Rule(("journalctl",), _journalctl),
    Rule(("find",), _find),
    Rule(("rc-service", "invoke-rc.d"), _service),
    Rule(("kubectl", "oc"), _kubectl),
    Rule(("helm",), _helm),
    Rule(("nginx", "openresty"), _nginx),
    Rule(("supervisorctl", "pm2", "netplan"), _process_manager),
    Rule(("redis-cli", "valkey-cli"), _redis_cli),
    Rule(("psql", "mysql", "mariadb", "sqlite3"), _sql_client),
    Rule(("tar", "bsdtar"), _tar),
    Rule(("date",), _date),
    Rule(("hwclock",), _hwclock),
    Rule(("sysbench",), _sysbench),
)
# `/etc/init.d/nginx restart`, `/etc/rc.d/init.d/x stop`: SysV init scripts by path.
INIT_SCRIPT = re.compile(r"(^|/)(rc\.d/)?init\.d/[^/]+$")
init_script = _init_script
RULES_BY_PROGRAM: dict[str, Rule] = {p: rule for rule in RULES for p in rule.programs}


# --------------------------------------------------------------------------- HTTP writes

_CURL_DATA = frozenset(
    [
        "-d",
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-ascii",
        "--data-urlencode",
        "--json",
        "-F",
        "--form",
        "--form-string",
    ]
)
# Options that take a value: their next word is never the URL.
_CURL_VALUE_OPTIONS = _CURL_DATA | frozenset(
    [
        "-T",
        "--upload-file",
        "-X",
        "--request",
        "-H",
        "--header",
        "-o",
        "--output",
        "-u",
        "--user",
        "-w",
        "--write-out",
        "-A",
        "--user-agent",
        "-b",
        "--cookie",
        "-c",
        "--cookie-jar",
        "-e",
        "--referer",
        "-E",
        "--cert",
        "-K",
        "--config",
        "-m",
        "--max-time",
        "-r",
        "--range",
        "-x",
        "--proxy",
        "-y",
        "-Y",
        "-z",
        "-C",
        "-D",
        "--dump-header",
        "-P",
        "-Q",
        "-t",
        "-U",
        "--url",
        "--connect-timeout",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--cacert",
        "--capath",
        "--key",
        "--resolve",
        "--unix-socket",
        "--max-filesize",
        "--limit-rate",
        "--interface",
        "--oauth2-bearer",
        "--netrc-file",
        "--noproxy",
        "--proxy-user",
        "--variable",
        "--expand-data",
        "--expand-url",
        "--aws-sigv4",
    ]
)
_CURL_SHORT_WITH_VALUE = "dFTXHouwAbceEKmrxyYzCDPQtU"
_READ_METHODS = frozenset(["GET", "HEAD", "OPTIONS", "TRACE"])


@dataclass(frozen=True, slots=True)
class _CurlRequest:
    method: str
    urls: tuple[str, ...]
    output_file: str | None


def _curl_options(args: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs of a curl command line; positional arguments come as ("", url)."""
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value
            elif name in _CURL_VALUE_OPTIONS and index < len(args):
                yield name, args[index]
                index += 1
            else:
                yield name, None
        elif arg.startswith("-") and len(arg) > 1:
            for offset, letter in enumerate(arg[1:], start=1):
                if letter in _CURL_SHORT_WITH_VALUE:
                    value = arg[offset + 1 :]
                    if not value and index < len(args):
                        value = args[index]
                        index += 1
                    yield "-" + letter, value
                    break
                yield "-" + letter, None
        else:
            yield "", arg


def curl_request(args: Sequence[str]) -> _CurlRequest:
    explicit: str | None = None
    data = upload = get = head = False
    urls: list[str] = []
    output: str | None = None
    for option, value in _curl_options(args):
        if option in ("-X", "--request") and value:
            explicit = value.upper()
        elif option in _CURL_DATA:
            data = True
        elif option in ("-T", "--upload-file"):
            upload = True
        elif option in ("-G", "--get"):
            get = True
        elif option in ("-I", "--head"):
            head = True
        elif option in ("", "--url") and value:
            urls.append(value)
        elif option in ("-o", "--output") and value and not is_harmless_path(value):
            output = value
        elif option in ("-O", "--remote-name", "--remote-name-all"):
            output = "the URL's file name"
    implied = "PUT" if upload else "GET" if get else "POST" if data else "HEAD" if head else "GET"
    return _CurlRequest(explicit or implied, tuple(urls), output)


def url_path(url: str) -> str:
    """The path of a URL as written in a command: `http://h:1/p?q` → `/p`; `$BASE/p` → `/p`."""
    rest = re.sub(r"^[A-Za-z][\w+.-]*://[^/?#]*", "", url, count=1)
    if rest == url:
        rest = re.sub(r"^(\$\{[^}]*\}|\$[A-Za-z_]\w*)", "", url, count=1)
    if rest == url and not url.startswith("/"):
        slash = url.find("/")
        rest = "" if slash < 0 else url[slash:]
    path = re.split(r"[?#]", rest, maxsplit=1)[0]
    return path.rstrip("/") or "/"


def is_read_only_post(path: str, read_only_posts: Sequence[str]) -> bool:
    """Entries are exact paths or glob patterns (`*/search`)."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in read_only_posts)


def _curl(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    request = curl_request(args)
    if request.method not in _READ_METHODS:
        for url in request.urls or ("",):
            path = url_path(url)
            if request.method != "POST" or not is_read_only_post(path, read_only_posts):
                return f"HTTP {request.method} to {path}"
    if request.output_file:
        return f"writes to {request.output_file} (curl -o)"
    return None


def _wget(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    method = "GET"
    urls: list[str] = []
    output: str | None = None
    spider = False
    values = {
        "-O",
        "--output-document",
        "--method",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
        "--header",
        "-o",
        "--output-file",
        "-P",
        "--user",
        "--password",
        "-U",
        "--user-agent",
        "-T",
        "--timeout",
        "-t",
        "--tries",
    }
    pairs = _wget_options(args, values)
    for option, value in pairs:
        if option in ("--post-data", "--post-file"):
            method = "POST"
        elif option == "--method" and value:
            method = value.upper()
        elif option in ("-O", "--output-document"):
            output = value
        elif option == "--spider":
            spider = True
        elif option == "":
            urls.append(value or "")
    if method not in _READ_METHODS:
        for url in urls or [""]:
            path = url_path(url)
            if method != "POST" or not is_read_only_post(path, read_only_posts):
                return f"HTTP {method} to {path}"
    if not spider and (output is None or not is_harmless_path(output)):
        return f"downloads to {output or 'a file'} (wget)"
    return None


def _wget_options(args: Sequence[str], values: set[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if eq:
            out.append((name, value))
        elif arg.startswith("-") and not arg.startswith("--") and "O" in arg:
            rest = arg[arg.index("O") + 1 :]
            if not rest and index < len(args):
                rest = args[index]
                index += 1
            out.append(("-O", rest))
        elif arg.startswith("-") and len(arg) > 1:
            attached = None
            if name in values and index < len(args):
                attached = args[index]
                index += 1
            out.append((name, attached))
        else:
            out.append(("", arg))
    return out


_HTTP_WRITE_METHODS = frozenset(["POST", "PUT", "PATCH", "DELETE"])


def _httpie(args: tuple[str, ...], read_only_posts: Sequence[str]) -> str | None:
    positional = [a for a in args if not a.startswith("-")]
    if len(positional) >= 2 and positional[0].upper() in _HTTP_WRITE_METHODS:
        method, path = positional[0].upper(), url_path(positional[1])
        if method != "POST" or not is_read_only_post(path, read_only_posts):
            return f"HTTP {method} to {path}"
    return None


HTTP_CLIENTS: dict[str, Callable[[tuple[str, ...], Sequence[str]], str | None]] = {
    "curl": _curl,
    "wget": _wget,
    "http": _httpie,
    "https": _httpie,
    "xh": _httpie,
}
