"""The sweep file: its tables and keys, checked on the client before any run.

:func:`load_sweep` reads a sweep file into a :class:`Sweep` (the cross-check,
the settings every run shares, the grid) or raises :class:`SweepError` naming
the key and what it allows. The settings are also turned into the problem
objects here (:func:`rbf_setting`, :func:`dd_model`), so that a bad scenario
or activation fails on the client, not on every worker.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fempde.problems import IsotropicGaussians
from fempde.scenario import Scenario, ScenarioError, integer, number

from ..crosscheck import RBFProblem
from ..scenario import MAX_PARTICLES, MAX_SEEDS, MAX_SGD_STEPS, problem_from_text

__all__ = ["AXES", "DD_DEFAULTS", "EXTRAS", "METRICS", "Sweep", "SweepError", "dd_model", "load_sweep", "rbf_setting",
           "run_name"]

AXES = ("N", "epsilon", "delta")
"""The swept axes, besides the seed."""
METRICS = {
    "rbf": ("risk_gap", "density_gap", "wasserstein_gap"),
    "dd": ("w1_gap", "risk_gap"),
}
"""The gaps each cross-check measures (sup over the output times)."""
EXTRAS = {"rbf": ("final_risk", "pde_risk_error", "pde_error_explains_gap"), "dd": ("final_risk",)}
"""The other columns of ``runs.csv`` per cross-check: the SGD's final risk and, for
the RBF network, the reference PDE's estimated risk error and whether it could
explain the run's gap (the DD reference, by characteristics, carries no estimate)."""
MAX_RUNS = 10_000
"""Runs in one sweep (the product of the grid's lengths)."""
DD_DEFAULTS: dict[str, Any] = {"d": 40, "activation": "piecewise-linear", "t_end": 0.5, "outputs": 4,
                               "init_scale": 0.8, "r_max": 3.0, "quantiles": 4000}


class SweepError(ValueError):
    """A sweep file that cannot run, or runs that failed; the message says which and why."""


@dataclass(frozen=True)
class Sweep:
    """``crosscheck`` (``"rbf"`` or ``"dd"``), the fixed settings ``base`` and the grid."""

    crosscheck: str
    base: dict[str, Any]
    n: tuple[int, ...]
    epsilon: tuple[float, ...]
    delta: tuple[float, ...]
    seeds: tuple[int, ...]
    directory: Path = field(default=Path("out/sweep"))

    @property
    def stamp(self) -> str:
        """A hash of what every run shares (not the grid)."""
        text = json.dumps({"crosscheck": self.crosscheck, "base": self.base}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def runs(self) -> list[dict[str, Any]]:
        """Every ``{"N", "epsilon", "delta", "seed"}`` of the grid."""
        return [{"N": n, "epsilon": e, "delta": d, "seed": s}
                for n, e, d, s in itertools.product(self.n, self.epsilon, self.delta, self.seeds)]


def run_name(params: dict[str, Any]) -> str:
    """The name of one run, ``N…_eps…_delta…_seed…`` (its result file's stem)."""
    return f"N{params['N']}_eps{params['epsilon']:.6g}_delta{params['delta']:.6g}_seed{params['seed']}"


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; errors name the key and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"sweep", "dd", "output"})
    if unknown:
        raise SweepError(f"unknown table [{unknown[0]}] in {path}; tables: [sweep], [dd], [output]")
    table = data.get("sweep")
    if not isinstance(table, dict):
        raise SweepError(f"{path} has no [sweep] table")
    keys = {"crosscheck", "scenario", "N", "epsilon", "delta", "seeds"}
    unknown = sorted(set(table) - keys)
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r} in [sweep]; valid keys: {', '.join(sorted(keys))}")
    kind = table.get("crosscheck")
    if kind not in METRICS:
        raise SweepError(f"[sweep] crosscheck must be \"rbf\" or \"dd\", got {kind!r}")
    n = tuple(_grid(table, "N", int, lambda v: 1 <= v <= MAX_PARTICLES, f"integers in [1, {MAX_PARTICLES:,}]"))
    epsilon = tuple(_grid(table, "epsilon", float, lambda v: 0 < v < math.inf, "finite step sizes > 0"))
    delta = tuple(_grid(table, "delta", float, lambda v: 0 < v < math.inf, "finite numbers > 0"))
    seeds_value = table.get("seeds", 3)
    if isinstance(seeds_value, int) and not isinstance(seeds_value, bool):  # a count
        if not 1 <= seeds_value <= MAX_SEEDS:
            raise SweepError(f"[sweep] seeds (a count) must be an integer in [1, {MAX_SEEDS}], got {seeds_value!r}; "
                             f"or give a list of seeds")
        seeds = tuple(range(seeds_value))
    else:
        seeds = tuple(_grid(table, "seeds", int, lambda v: 0 <= v < 2**63,
                            f"seeds >= 0 (or a count in [1, {MAX_SEEDS}])"))
    runs = len(n) * len(epsilon) * len(delta) * len(seeds)
    if runs > MAX_RUNS:
        raise SweepError(f"[sweep] the grid has {runs:,} runs (N x epsilon x delta x seeds), more than the "
                         f"{MAX_RUNS:,} allowed; sweep fewer values")
    output = data.get("output", {})
    where = output.get("directory", f"out/{path.stem}") if isinstance(output, dict) else None
    if not isinstance(where, str) or not where.strip():
        raise SweepError(f"[output] directory must be a directory name (a string), got {where!r}")
    directory = Path(where)
    if not directory.is_absolute():
        directory = Path(os.path.normpath(path.parent / directory))
    if kind == "rbf":
        if "dd" in data:
            raise SweepError("[dd] belongs to crosscheck = \"dd\" sweeps; remove it or change the crosscheck")
        if "scenario" not in table:
            raise SweepError("[sweep] crosscheck = \"rbf\" needs scenario = \"FILE.toml\", "
                             "a fempde-crosscheck scenario")
        scenario = (path.parent / str(table["scenario"])).resolve()
        if not scenario.is_file():
            raise SweepError(f"[sweep] scenario {scenario} does not exist")
        base: dict[str, Any] = {"scenario": scenario.read_text(), "name": scenario.stem, "base": str(scenario.parent)}
        _, setting = rbf_setting(base["scenario"], base["name"], base["base"])  # a bad scenario fails here
        _check_steps(epsilon, setting.t_end)
    else:
        if "scenario" in table:
            raise SweepError("[sweep] scenario is for crosscheck = \"rbf\"; a dd sweep is set up in [dd]")
        dd = data.get("dd", {})
        unknown = sorted(set(dd) - set(DD_DEFAULTS))
        if unknown:
            raise SweepError(f"unknown key {unknown[0]!r} in [dd]; valid keys: {', '.join(sorted(DD_DEFAULTS))}")
        base = {**DD_DEFAULTS, **dd}
        for key, value in base.items():
            _check_dd_setting(key, value)
        bad = [d for d in delta if not d < 1]
        if bad:
            raise SweepError(f"[sweep] delta is the class separation Δ of a dd sweep and must lie in (0, 1), "
                             f"got {bad[0]}")
        dd_model(base, delta[0])  # builds the activation and checks d
        _check_steps(epsilon, base["t_end"])
    return Sweep(kind, base, n, epsilon, delta, seeds, directory)


DD_SETTINGS: dict[str, dict[str, Any]] = {
    "d": {"minimum": 1, "maximum": 100_000},
    "t_end": {"positive": True},
    "outputs": {"minimum": 1, "maximum": 10_000},
    "init_scale": {"positive": True},
    "r_max": {"positive": True},
    "quantiles": {"minimum": 2, "maximum": 10**6},
}
"""The numeric ``[dd]`` keys and their ranges (integers where the default is one);
``activation`` is a name, checked when the model is built."""


def _check_steps(epsilon: tuple[float, ...], t_end: float) -> None:
    """Every ε of the grid gives between 1 and ``MAX_SGD_STEPS`` SGD steps to ``t_end``."""
    for eps in epsilon:
        if eps > t_end or t_end / eps > MAX_SGD_STEPS:
            raise SweepError(f"[sweep] epsilon = {eps!r} gives t_end / epsilon = {t_end / eps:.3g} SGD steps to "
                             f"t_end = {t_end!r}; it must lie in [1, {MAX_SGD_STEPS:.0e}]")


def _check_dd_setting(key: str, value: Any) -> None:
    if key == "activation":
        if not isinstance(value, str):
            raise SweepError(f"[dd] activation must be the name of an activation, got {value!r}")
        return
    check = integer if isinstance(DD_DEFAULTS[key], int) else number
    try:
        check("dd", key, value, **DD_SETTINGS[key])
    except ScenarioError as err:
        raise SweepError(str(err)) from None


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


def rbf_setting(scenario_text: str, name: str, base: str) -> tuple[RBFProblem, Scenario]:
    """The problem and scenario of an rbf sweep's scenario text (``base``: the
    directory its relative paths resolve against)."""
    try:
        problem, _, scenario = problem_from_text(scenario_text, name, Path(base), f"scenario {name}")
    except ScenarioError as err:
        raise SweepError(str(err)) from None
    return problem, scenario


def dd_model(base: dict[str, Any], delta: float) -> IsotropicGaussians:
    """The isotropic two-Gaussian model of a dd sweep's ``[dd]`` settings at class separation ``delta``."""
    d = base["d"]
    _check_dd_setting("d", d)
    try:
        return IsotropicGaussians(delta, d, sigma=base["activation"])
    except ValueError as err:
        raise SweepError(f"[dd] {err}") from None
