"""Performance baselines: p50/p95 per component and probe, recorded under `reports/baselines/`
or read from a committed `--baseline FILE` (the rule that judges a measurement is
`runner.evaluate.performance`).

Layout: `<root>/<component>/<probe-slug>.json`, one `taskrun.baseline/1` document each. A fixed
file (`--baseline FILE`, for CI) is one `taskrun.baselines/1` document holding many, keyed
`<component>/<probe-slug>`; it is read-only unless `update` is set, which is how it is made.
A baseline changes only with `update=True` (`--update-baseline`): no silent ratchet.
"""

from __future__ import annotations

import json
from pathlib import Path

from runner.errors import EvidenceError, InputError
from runner.evaluate.performance import Baseline, probe_slug
from runner.evidence.atomic import write_atomic

__all__ = ["BASELINES_SCHEMA", "BASELINE_SCHEMA", "BaselineStore"]

BASELINE_SCHEMA = "taskrun.baseline/1"
BASELINES_SCHEMA = "taskrun.baselines/1"


# --------------------------------------------------------------------------- the store


class BaselineStore:
    """Reads and (only when allowed) writes baselines. Errors are InputError / EvidenceError."""

    def __init__(self, root: Path, *, fixed_file: Path | None = None, update: bool = False):
        self.root = root
        self.fixed_file = fixed_file
        self.update = update
        self._fixed: dict[str, Baseline] | None = None

    def path_for(self, component: str, probe: str) -> Path:
        return self.root / probe_slug(component) / f"{probe_slug(probe)}.json"

    def describe(self, component: str, probe: str) -> str:
        """Where the baseline for (component, probe) lives, for reasons shown to people."""
        if self.fixed_file is not None:
            return f"{self.fixed_file} [{_key(component, probe)}]"
        return str(self.path_for(component, probe))

    def get(self, component: str, probe: str) -> Baseline | None:
        if self.fixed_file is not None:
            return self._fixed_baselines().get(_key(component, probe))
        path = self.path_for(component, probe)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"cannot read baseline: {exc.strerror}", path=str(path)) from exc
        return _baseline_from(_load_json(text, path), path, BASELINE_SCHEMA)

    def may_record(self, component: str, probe: str) -> bool:
        """A first baseline is recorded in reports/; anything else needs `update`."""
        if self.update:
            return True
        return self.fixed_file is None and self.get(component, probe) is None

    def record(self, component: str, probe: str, baseline: Baseline) -> Path:
        """Write the baseline (atomically); returns the file written."""
        if self.fixed_file is not None:
            if not self.update:
                raise EvidenceError(f"{self.fixed_file} is read-only without --update-baseline")
            fixed = dict(self._fixed_baselines())
            fixed[_key(component, probe)] = baseline
            document: dict[str, object] = {
                "schema": BASELINES_SCHEMA,
                "baselines": {key: fixed[key].as_dict() for key in sorted(fixed)},
            }
            _write_json(self.fixed_file, document)
            self._fixed = fixed
            return self.fixed_file
        path = self.path_for(component, probe)
        entry: dict[str, object] = {
            "schema": BASELINE_SCHEMA,
            "component": component,
            "probe": probe,
            **baseline.as_dict(),
        }
        _write_json(path, entry)
        return path

    def _fixed_baselines(self) -> dict[str, Baseline]:
        if self._fixed is not None:
            return self._fixed
        assert self.fixed_file is not None
        path = self.fixed_file
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if not self.update:
                raise InputError("baseline file not found", path=str(path)) from None
            self._fixed = {}
            return self._fixed
        except OSError as exc:
            raise InputError(f"cannot read baseline file: {exc.strerror}", path=str(path)) from exc
        document = _load_json(text, path)
        if document.get("schema") != BASELINES_SCHEMA:
            raise InputError(f"not a {BASELINES_SCHEMA} document", path=str(path))
        entries = document.get("baselines")
        if not isinstance(entries, dict):
            raise InputError("`baselines` must be an object", path=str(path))
        self._fixed = {
            str(key): _baseline_from(value, path, None) for key, value in entries.items()
        }
        return self._fixed


def _key(component: str, probe: str) -> str:
    return f"{probe_slug(component)}/{probe_slug(probe)}"


def _load_json(text: str, path: Path) -> dict[str, object]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    if not isinstance(document, dict):
        raise InputError("expected a JSON object", path=str(path))
    return document


def _baseline_from(value: object, path: Path, schema: str | None) -> Baseline:
    if not isinstance(value, dict):
        raise InputError("a baseline must be an object", path=str(path))
    if schema is not None and value.get("schema") != schema:
        raise InputError(f"not a {schema} document", path=str(path))
    try:
        p50 = float(value["p50_ms"])
        p95 = float(value["p95_ms"])
        samples = int(value.get("samples", 0))
        recorded_at = str(value.get("recorded_at", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"baseline needs numeric p50_ms and p95_ms ({exc})", path=str(path)
        ) from exc
    return Baseline(p50_ms=p50, p95_ms=p95, samples=samples, recorded_at=recorded_at)


def _write_json(path: Path, document: dict[str, object]) -> None:
    """Write atomically: a reader never sees half a baseline."""
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise EvidenceError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc
