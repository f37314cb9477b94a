"""Redaction: every secret value — with its base64, URL-encoded and JSON-escaped forms — and
every credential-shaped string becomes `***` before it is shown or stored. Pure; one compiled
alternation regex, so megabytes of output mask quickly.

One `Redactor` serves a whole command: `plan`, `validate --dry-run`, run output, reports, the
task file and notifications. It learns values while a run goes on (`add_values`: the values a
host reports for its own secret-named variables), so every holder of `mask` sees them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "***"
# A shorter value is not masked: masking "1" or "abc" everywhere would wreck every output.
MIN_SECRET_LENGTH = 8
# Variables whose values are secret, by name (case-insensitive).
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASS", "AUTH")
# With a secret that contains `*`, masking can create a new match; a few passes reach the fixed
# point that keeps `mask` idempotent.
MAX_PASSES = 4
# `safe_cut` keeps at least this much of a long line for the next piece (a secret split across
# the cut is then whole in the next one); longer literals raise it.
MIN_CARRY = 256

_VARIABLE_USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_NOT_SECRET = re.compile(r"(?i)true|false|yes|no|on|off|[-+]?[0-9]+(?:[.,][0-9]+)*")

# A value after `=` or a header colon: a quoted value runs to its closing quote (spaces and
# all); an unquoted one to the next blank or shell metacharacter. No value takes a backslash:
# masking JSON text (`"X_TOKEN=\"v\""`) must never eat the escape of a quote.
_QUOTED_OR_WORD = (
    r"(?:(?<=')[^'\n]+(?=')"
    r"|(?<=\")(?:[^\"\n$]|\$(?![{A-Za-z_(]))+(?=\")"  # "…$VAR…" is a reference: left alone
    r"|(?<![\"'])[^\s\"'&#;|)\\]+)"
)
_VALUE = r"[^\s\"',;\\]+"
_HEADER_GAP = r"[\"']?[ \t]*:[ \t]*[\"']?"
# Values that are plainly no secret (`ENABLE_AUTH=true`)
_NOT_A_VALUE = r"(?!(?i:true|false|yes|no)\b)"


def is_secret_name(name: str) -> bool:
    """`OPENAI_API_KEY`, `PGPASSWORD`, `auth_header`: a name whose value is secret."""
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


def is_maskable(value: str) -> bool:
    """Long enough, and not a boolean or a number: masking it everywhere keeps output legible."""
    stripped = value.strip()
    return len(stripped) >= MIN_SECRET_LENGTH and not _NOT_SECRET.fullmatch(stripped)


def _cased(word: str, rest: str) -> list[str]:
    """Branches for `word` written in lower, upper and title case, each starting with a literal
    character: `re` then scans quickly for those first characters instead of trying every
    alternative at every position (10 MiB in well under a second)."""
    variants = {word.lower(), word.upper(), word[:1].upper() + word[1:].lower()}
    return [re.escape(variant) + rest for variant in sorted(variants)]


def _credential_branches() -> list[str]:
    """Each branch keeps what precedes its `v` group and masks the group; a `w` group (or a
    branch without a group) is masked whole."""
    branches: list[str] = []
    # Authorization: Bearer x / Authorization: x / "Authorization": "Basic x"
    auth_rest = (
        r"[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?i:bearer|basic|token|digest|bot|apikey)[ \t]+)?"
        rf"(?P<v>{_VALUE})"
    )
    branches += _cased("authorization", auth_rest) + _cased("proxy-authorization", auth_rest)
    # X-HX-Admin-Key: v, X-Auth-Token: v, X-Client-Secret: v; the name before `-` is kept
    branches.append(rf"-(?i:key|token|secret){_HEADER_GAP}(?P<v>{_VALUE})")
    # Api-Key: v, apikey: v, API_KEY: v
    branches += _cased("api", rf"[-_]?(?i:key){_HEADER_GAP}(?P<v>{_VALUE})")
    # Bearer tokens outside a header: long enough and not a plain word
    branches.append(r"Bearer[ \t]+(?=[^\s\"']*[0-9._~+/=-])(?P<v>[A-Za-z0-9._~+/=-]{6,})")
    # sk-… API keys, masked whole
    branches.append(r"s(?<![\w-]s)k-(?P<w>[A-Za-z0-9][A-Za-z0-9_-]{3,})")
    # password=… / token=… in URLs, query strings and key=value text
    words = (
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
    )
    for first in sorted({word[0] for word in words}):
        rests = "|".join(
            re.escape(w[1:]) for w in sorted(words, key=len, reverse=True) if w[0] == first
        )
        for variant in (first, first.upper()):
            branches.append(
                rf"{variant}(?<![\w-]{variant})(?i:{rests})=[\"']?{_NOT_A_VALUE}"
                rf"(?P<v>{_QUOTED_OR_WORD})"
            )
    # RAG_WRITE_KEY=v, MASTER_KEY="v w", DB_PASSWORD='v w' (env files, shell assignments)
    branches.append(
        rf"_(?i:key|token|secret|password|passwd|pass|auth|pwd)[A-Za-z0-9_]*=[\"']?{_NOT_A_VALUE}"
        rf"(?P<v>{_QUOTED_OR_WORD})"
    )
    # PGPASSWORD=v, SSHPASS=v, REDISCLI_AUTH=v, MYSQL_PWD=v: an upper-case name holding a
    # secret word anywhere (inline assignments before a command)
    for part in ("KEY", "TOKEN", "SECRET", "PASS", "AUTH"):
        branches.append(
            rf"{part[0]}(?<![a-z]{part[0]}){part[1:]}[A-Z0-9_]*=[\"']?{_NOT_A_VALUE}"
            rf"(?P<v>{_QUOTED_OR_WORD})"
        )
    # --password=v, --password v, --token v, --api-key v, --auth v (any tool)
    branches.append(
        r"--(?i:password|passwd|pass|token|auth-token|access-token|api-key|apikey|secret|"
        r"client-secret|auth)(?:=|[ \t]+)[\"']?(?P<v>" + _QUOTED_OR_WORD + ")"
    )
    # redis-cli -a v, sshpass -p v, mysql -pv (attached: `-p` alone prompts)
    branches.append(r"redis-cli\b[^\n|;&]*?[ \t]-a[ \t]+[\"']?(?P<v>" + _QUOTED_OR_WORD + ")")
    branches.append(r"sshpass\b[^\n|;&]*?[ \t]-p[ \t]*[\"']?(?P<v>" + _QUOTED_OR_WORD + ")")
    for client in ("mysql", "mariadb"):
        branches.append(
            client
            + r"(?:dump|admin|-dump|-admin)?\b[^\n|;&]*?[ \t]-p[\"']?(?P<v>"
            + _QUOTED_OR_WORD
            + ")"
        )
    # scheme://user:pass@host
    branches.append(r"://[^\s:/@]+:(?P<v>[^\s@/\\]+)(?=@)")
    # curl -u user:pass / --user user:pass
    branches.append(
        r"-(?<=\s-)(?:u|-user|-proxy-user|U)(?:[ \t]+|=)?[\"']?[^\s:\"']+:(?P<v>[^\s\"'\\]+)"
    )
    return branches


def _numbered(branches: list[str]) -> list[str]:
    """Group names must be unique across the alternation: v → v0, v1, …"""
    return [
        re.sub(r"\(\?P<([vw])>", rf"(?P<\g<1>{i}>", branch) for i, branch in enumerate(branches)
    ]


_CREDENTIAL_BRANCHES: tuple[str, ...] = tuple(_numbered(_credential_branches()))


# --------------------------------------------------------------------------- derived forms


def derived_forms(value: str) -> set[str]:
    """The forms a secret takes in output besides itself: base64 (standard and URL-safe, at each
    of the three alignments inside a longer encoded string), URL-encoded, JSON-escaped."""
    forms: set[str] = set()
    data = value.encode("utf-8", "surrogateescape")
    for offset in range(3):
        padded = b"\0" * offset + data
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(padded).decode("ascii")
            # keep the characters whose six bits all come from the secret's bytes
            first = -(-offset * 8 // 6)
            last = (offset + len(data)) * 8 // 6
            fragment = encoded[first:last]
            if len(fragment) >= MIN_SECRET_LENGTH:
                forms.add(fragment)
    for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
        forms.add(encoded)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded))
    for ascii_only in (True, False):
        escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms.add(escaped)
        forms.add(escaped.replace("/", "\\/"))
    forms.discard(value)
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def secret_values_of(environ: Mapping[str, str]) -> set[str]:
    """The maskable values of the secret-named variables of an environment."""
    return {value for name, value in environ.items() if is_secret_name(name) and is_maskable(value)}


# --------------------------------------------------------------------------- the redactor


class Redactor:
    """Masks secrets in text. `mask` never raises and is idempotent.

    Not frozen on purpose: a run learns secrets as it goes (a host reports the values of its own
    secret-named variables), and the console, the captures and the reports all hold this one
    object's `mask`, so `add_values` must reach every one of them.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._literals: tuple[str, ...] = ()
        # Two passes: the known values first (longest first), then the credential patterns. A
        # pattern that starts earlier (`API_KEY=` before a value with `&` in it) must not eat
        # the start of a known value and leave its end in clear.
        self.values_pattern: re.Pattern[str] | None = None
        self.pattern: re.Pattern[str] = _CREDENTIALS
        self.repeat = False
        self.add_values(values)

    @property
    def values(self) -> frozenset[str]:
        """The secret values this redactor masks (derived forms not included)."""
        return self._values

    def add_values(self, values: Iterable[str]) -> None:
        """Mask these values too (those shorter than MIN_SECRET_LENGTH, booleans and numbers
        are ignored: see `is_maskable`)."""
        new = {v for v in values if is_maskable(v)} - self._values
        if not new:
            return
        with self._lock:
            combined = self._values | new
            literals: set[str] = set()
            for value in combined:
                literals.add(value)
                if value.strip() != value:
                    literals.add(value.strip())
                literals |= derived_forms(value)
            ordered = sorted(literals, key=lambda v: (-len(v), v))
            # Longest first: a secret that is a prefix of another is masked whole.
            pattern = re.compile(_by_first_character([re.escape(v) for v in ordered]))
            self._literals = tuple(ordered)
            self.values_pattern = pattern
            self.repeat = any("*" in v for v in ordered)
            self._values = combined

    def with_values(self, values: Iterable[str]) -> Redactor:
        """A new redactor that also masks these values (this one is unchanged)."""
        return Redactor((*self._values, *values))

    def mask(self, text: str) -> str:
        values = self.values_pattern
        if not self.repeat:
            if values is not None:
                text = values.sub(MASK, text)
            return _CREDENTIALS.sub(_replacement, text)
        for _ in range(MAX_PASSES):
            masked = _CREDENTIALS.sub(_replacement, values.sub(MASK, text) if values else text)
            if masked == text:
                return masked
            text = masked
        return text

    def __call__(self, text: str) -> str:
        return self.mask(text)

    def safe_cut(self, text: str) -> int:
        """Where a long line without a newline may be cut so that no secret straddles the cut:
        the rest (at least the longest secret's length) waits for the next piece."""
        carry = max([MIN_CARRY, *(len(v) for v in self._literals[:1])])
        cut = len(text) - carry
        if cut <= 0:
            return 0
        for pattern in (self.values_pattern, _CREDENTIALS):
            if pattern is None:
                continue
            for match in pattern.finditer(text, max(0, cut - 4 * carry)):
                if match.start() < cut < match.end():
                    cut = match.start()
                    break
                if match.start() >= cut:
                    break
        return cut


def _replacement(match: re.Match[str]) -> str:
    group = match.lastgroup
    if group is None or group.startswith("w"):
        return MASK
    value = match.group(group)
    # `$API_KEY`/`${API_KEY}` is a reference, not the secret; the value is masked where it
    # appears expanded (it comes from the environment).
    if value.startswith("$"):
        return match.group(0)
    return match.group(0)[: match.start(group) - match.start()] + MASK


def secret_variable_names(commands: Iterable[str]) -> set[str]:
    """Names of the variables the commands use (`$X`, `${X}`, `${X:-…}`) that look secret."""
    names: set[str] = set()
    for command in commands:
        for name in _VARIABLE_USE.findall(command):
            if is_secret_name(name):
                names.add(name)
    return names


def build_redactor(
    *,
    secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    commands: Iterable[str] = (),
) -> Redactor:
    """A redactor for the given secret values (inventory `secrets`), the values of every
    secret-named variable of `environ`, and the credential patterns (headers, bearer tokens,
    `sk-` keys, inline assignments, password options, …). `commands` is kept for callers that
    name the variables their commands use; every secret-named variable is masked anyway."""
    environ = environ or {}
    literals = set(secret_values) | secret_values_of(environ)
    literals.update(environ[name] for name in secret_variable_names(commands) if name in environ)
    return Redactor(literals)


def literal_credentials(texts: Iterable[str]) -> set[str]:
    """Secret values written literally in commands (`PGPASSWORD=x psql`, `Bearer sk-…`,
    `curl -u user:pass`): the redactor learns them, so the value is masked wherever it shows
    later (a command's output, its base64 form), not only next to its name."""
    found: set[str] = set()
    for text in texts:
        for match in _CREDENTIALS.finditer(text):
            group = match.lastgroup
            value = match.group(0) if group is None or group.startswith("w") else match[group]
            if value and not value.startswith("$"):
                found.add(value)
    return found


def unmaskable_names(names: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """The names whose value is set but too short, a boolean or a number to mask (`plan`
    lists them: their values show in output)."""
    return sorted({name for name in names if environ.get(name) and not is_maskable(environ[name])})


def _by_first_character(branches: list[str]) -> str:
    r"""`ab|ac|xy` → `a(?:b|c)|x(?:y)`: each position then tries one group, not every branch.
    Every branch starts with one literal character, possibly escaped (`\-`)."""
    groups: dict[str, list[str]] = {}
    for branch in branches:
        width = 2 if branch.startswith("\\") else 1
        groups.setdefault(branch[:width], []).append(branch[width:])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


_CREDENTIALS = re.compile(_by_first_character(list(_CREDENTIAL_BRANCHES)))

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "build_redactor",
    "derived_forms",
    "is_maskable",
    "is_secret_name",
    "literal_credentials",
    "secret_values_of",
    "secret_variable_names",
    "unmaskable_names",
]
