"""The sweep file: its tables and keys, checked on the client before any run.

::

    [sweep]
    scenario = "../crosscheck/interval.toml"  # a fempde-crosscheck file; its N, epsilon, seeds are replaced
    N = [100, 400, 1600]
    epsilon = [1e-5]
    seeds = 4                                 # seeds 0..3, or a list
    parameter = "crosscheck.delta"            # optional: a key of the file, swept over `values`
    values = [0.1, 0.2]                       #   (e.g. "model.delta", "model.data.delta")

    [output]
    directory = "out/sweep"

:func:`load_sweep` reads it into a :class:`Sweep` and builds every parameter
value's model once, so that a bad file or value fails here with its key (and,
for the cross-check file, its line), not on the workers.
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fempde.scenario import ScenarioError

from ..scenario import MAX_PARTICLES, MAX_SEEDS, MAX_SGD_STEPS, CrossCheckFile, parse_crosscheck

__all__ = ["MAX_RUNS", "SWEEP_KEYS", "Sweep", "SweepError", "load_sweep"]

SWEEP_KEYS = frozenset({"scenario", "N", "epsilon", "seeds", "parameter", "values"})
"""The keys of ``[sweep]``."""
MAX_RUNS = 10_000
"""Runs in one sweep (the product of the grid's lengths)."""


class SweepError(ValueError):
    """A sweep file that cannot run, or runs that failed; the message says which and why."""


@dataclass(frozen=True)
class Sweep:
    """A sweep: the cross-check file's text (``scenario``, ``name``, ``base``: where its relative
    paths resolve), the grid, the swept ``parameter`` and its ``values`` (empty: none)."""

    scenario: str
    name: str
    base: Path
    n: tuple[int, ...]
    epsilon: tuple[float, ...]
    seeds: tuple[int, ...]
    parameter: str | None = None
    values: tuple[Any, ...] = ()
    directory: Path = field(default=Path("out/sweep"))

    @property
    def stamp(self) -> str:
        """A hash of what every run shares: the file's text and the swept key."""
        text = f"{self.scenario}\n{self.parameter}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def points(self) -> tuple[Any, ...]:
        """The parameter's values, or ``(None,)`` when no parameter is swept."""
        return self.values if self.parameter else (None,)

    def crosscheck(self, value: Any = None) -> CrossCheckFile:
        """The cross-check file with the parameter at ``value`` (or as written), the sweep's grid in it."""
        change = None if self.parameter is None else (self.parameter, value)
        try:
            check = parse_crosscheck(self.scenario, self.name, self.base, f"scenario {self.name}", change=change)
        except ScenarioError as err:
            raise SweepError(f"{self.parameter} = {value!r}: {err}" if change else str(err)) from None
        return check.__class__(**{**check.__dict__, "n": list(self.n), "epsilon": list(self.epsilon),
                                  "seeds": list(self.seeds)})


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; errors name the key and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"sweep", "output"})
    if unknown:
        raise SweepError(f"unknown table [{unknown[0]}]; a sweep file has [sweep] and [output]"
                         + (" (the old [dd] table: declare the model in a cross-check file, see "
                            "examples/crosscheck/mmn_isotropic.toml)" if unknown[0] == "dd" else ""))
    table = data.get("sweep")
    if not isinstance(table, dict):
        raise SweepError(f"{path} has no [sweep] table (keys: {', '.join(sorted(SWEEP_KEYS))})")
    if "crosscheck" in table:
        raise SweepError("[sweep] crosscheck: sweeps no longer name the model; give scenario = \"FILE.toml\", a "
                         "fempde-crosscheck file that declares it (and parameter = \"crosscheck.delta\" to sweep δ)")
    extra = sorted(set(table) - SWEEP_KEYS)
    if extra:
        raise SweepError(f"unknown key {extra[0]!r} in [sweep]; valid keys: {', '.join(sorted(SWEEP_KEYS))}")
    if "scenario" not in table or not isinstance(table["scenario"], str):
        raise SweepError("[sweep] needs scenario = \"FILE.toml\", a fempde-crosscheck file")
    scenario = (path.parent / table["scenario"]).resolve()
    if not scenario.is_file():
        raise SweepError(f"[sweep] scenario {scenario} does not exist")
    n = tuple(_grid(table, "N", int, lambda v: 1 <= v <= MAX_PARTICLES, f"integers in [1, {MAX_PARTICLES:,}]"))
    epsilon = tuple(_grid(table, "epsilon", float, lambda v: 0 < v < math.inf, "finite step sizes > 0"))
    seeds = _seeds(table.get("seeds", 3))
    parameter, values = _parameter(table)
    runs = len(n) * len(epsilon) * len(seeds) * max(len(values), 1)
    if runs > MAX_RUNS:
        raise SweepError(f"[sweep] the grid has {runs:,} runs (N x epsilon x seeds x values), more than the "
                         f"{MAX_RUNS:,} allowed; sweep fewer values")
    sweep = Sweep(scenario.read_text(), scenario.stem, scenario.parent, n, epsilon, seeds, parameter, values,
                  _directory(data, path))
    for value in sweep.points:  # every value's model is built here: a bad one fails before any run
        t_end = sweep.crosscheck(value).t_end
        for eps in epsilon:
            if eps > t_end or t_end / eps > MAX_SGD_STEPS:
                raise SweepError(f"[sweep] epsilon = {eps!r} gives t_end / epsilon = {t_end / eps:.3g} SGD steps to "
                                 f"t_end = {t_end!r}; it must lie in [1, {MAX_SGD_STEPS:.0e}]")
    return sweep


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):  # a count
        if not 1 <= value <= MAX_SEEDS:
            raise SweepError(f"[sweep] seeds (a count) must be an integer in [1, {MAX_SEEDS}], got {value!r}; or give "
                             "a list of seeds")
        return tuple(range(value))
    return tuple(_grid({"seeds": value}, "seeds", int, lambda v: 0 <= v < 2**63,
                       f"seeds >= 0 (or a count in [1, {MAX_SEEDS}])"))


def _parameter(table: dict[str, Any]) -> tuple[str | None, tuple[Any, ...]]:
    if "parameter" not in table:
        if "values" in table:
            raise SweepError("[sweep] values needs parameter = \"KEY\", the key of the file they are values of")
        return None, ()
    key = table["parameter"]
    if not isinstance(key, str) or not all(part.isidentifier() for part in key.split(".")) or "." not in key:
        raise SweepError(f"[sweep] parameter must be a dotted key of the cross-check file such as "
                         f"\"crosscheck.delta\" or \"model.data.delta\", got {key!r}")
    raw = table.get("values")
    if not isinstance(raw, list) or not raw:
        raise SweepError(f"[sweep] parameter = {key!r} needs values = [...], the values to sweep")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in raw) or len(set(raw)) != len(raw):
        raise SweepError(f"[sweep] values must be distinct numbers, got {raw!r}")
    return key, tuple(raw)


def _directory(data: dict[str, Any], path: Path) -> Path:
    output = data.get("output", {})
    where = output.get("directory", f"out/{path.stem}") if isinstance(output, dict) else None
    if not isinstance(where, str) or not where.strip():
        raise SweepError(f"[output] directory must be a directory name (a string), got {where!r}")
    directory = Path(where)
    return directory if directory.is_absolute() else Path(os.path.normpath(path.parent / directory))


def _grid(table: dict[str, Any], key: str, kind: type, ok: Callable[[Any], bool], what: str) -> list[Any]:
    if key not in table:
        raise SweepError(f"[sweep] needs {key} (a list of {what})")
    raw = table[key] if isinstance(table[key], list) else [table[key]]
    values = []
    for value in raw:
        wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong_type or (kind is int and not isinstance(value, int)) or not ok(value):
            raise SweepError(f"[sweep] {key} must be a list of {what}, got {value!r}")
        values.append(kind(value))
    if not values or len(set(values)) != len(values):
        raise SweepError(f"[sweep] {key} must list distinct {what}, got {raw!r}")
    return values
