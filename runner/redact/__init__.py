"""Redaction: every secret value and credential-shaped string becomes `***` before it is shown
or stored. Pure; one compiled alternation regex, so megabytes of output mask quickly."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "***"
# A shorter secret is not masked: masking "a" or "ab" everywhere would wreck every log.
MIN_SECRET_LENGTH = 4
# A value found only by its variable's name (`*_TOKEN` on a host) is masked from this length,
# and never when it is a flag or a number: masking `1` or `true` would ruin every output.
MIN_NAMED_VALUE_LENGTH = 8
_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no"})
# Environment variables whose values are secret when a command uses them.
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASS", "AUTH")
# With a secret that contains `*`, masking can create a new match; a few passes reach the fixed
# point that keeps `mask` idempotent.
MAX_PASSES = 4

_VARIABLE_USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")

_VALUE = r"[^\s\"',;]+"
_HEADER_GAP = r"[\"']?[ \t]*:[ \t]*[\"']?"


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
            branches.append(rf"{variant}(?<![\w-]{variant})(?i:{rests})=[\"']?(?P<v>[^\s&\"'#;]+)")
    # RAG_WRITE_KEY=v, MASTER_KEY="v", DB_PASSWORD=v (env files, shell assignments)
    branches.append(r"_(?i:key|token|secret|password|passwd|pass)=[\"']?(?P<v>[^\s&\"'#;]+)")
    # scheme://user:pass@host
    branches.append(r"://[^\s:/@]+:(?P<v>[^\s@/]+)(?=@)")
    # curl -u user:pass / --user user:pass
    branches.append(
        r"-(?<=\s-)(?:u|-user|-proxy-user|U)(?:[ \t]+|=)?[\"']?[^\s:\"']+:(?P<v>[^\s\"']+)"
    )
    return branches


def _numbered(branches: list[str]) -> list[str]:
    """Group names must be unique across the alternation: v → v0, v1, …"""
    return [
        re.sub(r"\(\?P<([vw])>", rf"(?P<\g<1>{i}>", branch) for i, branch in enumerate(branches)
    ]


_CREDENTIAL_BRANCHES: tuple[str, ...] = tuple(_numbered(_credential_branches()))


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks secrets in text. `mask` never raises and is idempotent."""

    pattern: re.Pattern[str]
    # Only a secret containing `*` can make masked text match again (`x***` next to `***`);
    # without one, a single pass is already a fixed point.
    repeat: bool = False
    values: tuple[str, ...] = ()  # the literal secrets, longest first

    def with_values(self, values: Iterable[str]) -> Redactor:
        """This redactor, also masking `values` (a host's secrets, learnt during a run)."""
        known = set(self.values)
        extra = [v for v in values if len(v) >= MIN_SECRET_LENGTH and v not in known]
        if not extra:
            return self
        return _compiled(known | set(extra))

    def mask(self, text: str) -> str:
        if not self.repeat:
            return self.pattern.sub(_replacement, text)
        for _ in range(MAX_PASSES):
            masked = self.pattern.sub(_replacement, text)
            if masked == text:
                return masked
            text = masked
        return text

    def __call__(self, text: str) -> str:
        return self.mask(text)


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
            if any(part in name.upper() for part in SECRET_NAME_PARTS):
                names.add(name)
    return names


def build_redactor(
    *,
    secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    commands: Iterable[str] = (),
) -> Redactor:
    """A redactor for the given secret values, the secret-looking environment variables the
    commands use, and the credential patterns (headers, bearer tokens, `sk-` keys, …)."""
    environ = environ or {}
    literals = set(secret_values)
    literals.update(environ[name] for name in secret_variable_names(commands) if name in environ)
    return _compiled(literals)


def is_maskable_value(value: str) -> bool:
    """Whether the value of a secret-named variable is worth masking (see
    `MIN_NAMED_VALUE_LENGTH`)."""
    return (
        len(value) >= MIN_NAMED_VALUE_LENGTH
        and value.strip().casefold() not in _NOT_SECRET_WORDS
        and not value.strip().isdigit()
    )


def _compiled(literals: Iterable[str]) -> Redactor:
    usable = sorted(
        {value for value in literals if len(value) >= MIN_SECRET_LENGTH},
        key=lambda value: (-len(value), value),
    )
    # Literal secrets first: a secret that also looks like a header value is masked whole.
    alternatives = [re.escape(value) for value in usable] + list(_CREDENTIAL_BRANCHES)
    return Redactor(
        re.compile(_by_first_character(alternatives)),
        repeat=any("*" in v for v in usable),
        values=tuple(usable),
    )


def _by_first_character(branches: list[str]) -> str:
    r"""`ab|ac|xy` → `a(?:b|c)|x(?:y)`: each position then tries one group, not every branch.
    Every branch starts with one literal character, possibly escaped (`\-`)."""
    groups: dict[str, list[str]] = {}
    for branch in branches:
        width = 2 if branch.startswith("\\") else 1
        groups.setdefault(branch[:width], []).append(branch[width:])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRET_NAME_PARTS",
    "Redactor",
    "build_redactor",
    "is_maskable_value",
    "secret_variable_names",
]
