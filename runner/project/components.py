"""The one component resolver: which components a name means — an inventory component, a
group, `global` (every component, in inventory order) or `local` (this machine) — with names
compared case-insensitively (`Global`, `API-Gateway`) and returned as the inventory spells them.

Used by the planner (Component fields, `on=`), the inventory, lint and the `--component`
filter, so a name means the same everywhere. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["GLOBAL", "LOCAL", "Components"]

GLOBAL = "global"  # every component, in inventory order
LOCAL = "local"  # this machine, no SSH


@dataclass(frozen=True, slots=True)
class Components:
    """`names`: the inventory's components in order (None: there is no inventory, and names
    are taken as written); `groups`: group → member components."""

    names: tuple[str, ...] | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def canonical(self, name: str) -> str | None:
        """The spelling the inventory uses for `name` (a component, group, `global` or
        `local`), or None when it knows no such name."""
        wanted = name.casefold()
        if wanted in (GLOBAL, LOCAL):
            return wanted
        for known in (*(self.names or ()), *self.groups):
            if known.casefold() == wanted:
                return known
        return None if self.names is not None else name

    def expand(self, names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(components, unknown names): groups and `global` expanded, order kept, no repeats.
        Without an inventory, names stay as written (`global` lower-cased)."""
        expanded: list[str] = []
        unknown: list[str] = []
        for name in names:
            found = self.canonical(name)
            if found is None:
                if name not in unknown:
                    unknown.append(name)
            elif found == GLOBAL and self.names is not None:
                expanded.extend(self.names)
            elif found in self.groups:
                expanded.extend(self.groups[found])
            else:
                expanded.append(found)
        return tuple(dict.fromkeys(expanded)), tuple(unknown)

    def known(self) -> tuple[str, ...]:
        """Every name the inventory answers to, for messages."""
        return (*(self.names or ()), *self.groups, GLOBAL, LOCAL)

    def suggest(self, name: str) -> str | None:
        """The closest known name ("did you mean api-gateway?"), if one is close."""
        folded = {known.casefold(): known for known in self.known()}
        close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
        return folded[close[0]] if close else None

    @classmethod
    def of(cls, names: Sequence[str], groups: Mapping[str, Sequence[str]]) -> Components:
        return cls(tuple(names), {group: tuple(members) for group, members in groups.items()})
