"""Cross-check scenarios: a fempde scenario (mesh, problem, initial density,
run) with a ``[crosscheck]`` table, read into an :class:`RBFProblem`.

Both ``fempde-crosscheck`` (:mod:`particles.cli`) and the rbf sweeps
(:mod:`particles.sweep`) read scenarios; the parser lives here, below both,
so that neither imports the other. The table::

    [crosscheck]
    N = 200              # particles (a list runs the convergence study in N)
    delta = 0.1          # bump width
    kernel = "triweight"
    epsilon = 1e-5       # SGD time step: t = k epsilon
    seeds = 3
    label_noise = 0.0
    checkpoint_every = 60  # seconds between SGD checkpoints (0: every chunk)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import fempde
from fempde.cli.scenario import Scenario, ScenarioError, parse_scenario

from .crosscheck import RBFProblem

__all__ = ["CROSSCHECK_KEYS", "problem_from_text"]

CROSSCHECK_KEYS = frozenset({"N", "delta", "kernel", "epsilon", "seeds", "label_noise", "checkpoint_every"})


def problem_from_text(text: str, name: str, base: Path, where: str) -> tuple[RBFProblem, dict[str, Any], Scenario]:
    """The problem, the ``[crosscheck]`` table and the scenario of a crosscheck
    scenario's TOML ``text`` (relative paths resolve against ``base``; ``where``
    names the source in errors)."""
    keys = ", ".join(sorted(CROSSCHECK_KEYS))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{where} is not valid TOML: {err}") from None
    table = data.pop("crosscheck", None)
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} has no [crosscheck] table (keys: {keys})")
    extra = sorted(set(table) - CROSSCHECK_KEYS)
    if extra:
        raise ScenarioError(f"unknown key {extra[0]!r} in [crosscheck]; valid keys: {keys}")
    for key in ("N", "delta", "epsilon"):
        if key not in table:
            raise ScenarioError(f"[crosscheck] needs {key}")
    scenario = parse_scenario(data, name=name, base=base)
    target = scenario.problem.target
    assert callable(target)  # scenario formulas compile to callables
    rho0 = scenario.rho0
    if scenario.normalize:  # to mass 1 on the nodes, as fempde's scenarios do
        rho0 = fempde.initial_density(fempde.Space(scenario.mesh), rho0, normalize=True)
    problem = RBFProblem(scenario.mesh, target, float(table["delta"]), scenario.problem.tau,
                         str(table.get("kernel", "triweight")), scenario.problem.schedule,
                         float(table.get("label_noise", 0.0)), rho0, scenario.options, scenario.flux)
    return problem, table, scenario
