"""One run of a sweep, as a worker does it: :func:`run_one`.

A run is one SGD run ``(N, ε, δ, seed)`` measured against its PDE by the sup
over the output times of each gap. The PDE depends on the settings and δ
only, so a worker solves it once and keeps it (an ``lru_cache`` per worker
process) for every N, ε and seed it is sent.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any

import numpy as np

from fempde.meanfield import TimeAxis
from fempde.problems import IsotropicGaussians, RadialDD
from fempde.scenario import Scenario
from fempde.solvers.characteristics import QuantileFlow, quantile_flow, quantiles_of

from ..crosscheck import RBFProblem, Reference, reference
from ..crosscheck import crosscheck as check_rbf
from ..dd import dd_sgd, population_risk
from .schema import SweepError, dd_model, rbf_setting

__all__ = ["run_one"]


_RBF_REFERENCES: dict[tuple[str, str, str, float], tuple[RBFProblem, Scenario, Reference]] = {}
"""A worker solves each PDE once, and keeps the most tightly solved version of it
(a cross-check re-solves a reference whose error is not small against its gaps)."""


def _rbf_reference(scenario_text: str, name: str, base: str, delta: float) -> tuple[RBFProblem, Scenario, Reference]:
    key = (scenario_text, name, base, delta)
    if key not in _RBF_REFERENCES:
        problem, scenario = rbf_setting(scenario_text, name, base)
        problem = dataclasses.replace(problem, delta=delta)
        _RBF_REFERENCES[key] = problem, scenario, reference(problem, scenario.t_end, n_times=len(scenario.times))
    return _RBF_REFERENCES[key]


@functools.lru_cache(maxsize=8)  # a worker solves each PDE once
def _dd_reference(base_json: str, delta: float) -> tuple[IsotropicGaussians, float, QuantileFlow]:
    from scipy.stats import chi

    base = json.loads(base_json)
    model = dd_model(base, delta)
    times = np.linspace(0.0, base["t_end"], int(base["outputs"]) + 1)
    scale = base["init_scale"] / math.sqrt(base["d"])
    r0 = quantiles_of(chi(base["d"], scale=scale).ppf, int(base["quantiles"]))
    return model, scale, quantile_flow(RadialDD(model), r0, times.tolist(), r_max=float(base["r_max"]))


def run_one(crosscheck: str, base: dict[str, Any], params: dict[str, Any]) -> dict[str, float]:
    """One SGD run against its PDE: the sup-in-time gaps (what :func:`run_sweep`
    sends to the workers; call it directly to reproduce one run)."""
    if crosscheck == "rbf":
        problem, scenario, solved = _rbf_reference(base["scenario"], base["name"], base["base"], params["delta"])
        check = check_rbf(problem, params["N"], params["epsilon"], scenario.t_end, n_times=len(scenario.times),
                          seeds=[params["seed"]], solved=solved)
        tightened = check.reference.rtol is not None and solved.rtol is not None and check.reference.rtol < solved.rtol
        if tightened:  # re-solved for this run's gap: later runs start from it
            key = (base["scenario"], base["name"], base["base"], params["delta"])
            _RBF_REFERENCES[key] = problem, scenario, check.reference
        return {"risk_gap": float(check.risk_gap[0]), "density_gap": float(check.density_gap[0]),
                "wasserstein_gap": float(check.wasserstein[0].max()), "final_risk": float(check.sgd_risk[0, -1]),
                "pde_risk_error": float(check.pde_risk_error.max()), "pde_error_explains_gap": not check.pde_accurate}
    if crosscheck == "dd":
        from scipy.stats import wasserstein_distance

        model, scale, flow = _dd_reference(json.dumps(base, sort_keys=True), params["delta"])
        rng = np.random.default_rng(params["seed"])
        w0 = rng.standard_normal((params["N"], base["d"])) * scale
        run = dd_sgd(model, w0, TimeAxis.of(RadialDD(model), params["epsilon"]), flow.times.tolist(), rng=rng)
        radii = np.linalg.norm(run.weights, axis=2)
        # sup over the outputs after t = 0: at t = 0 the gap is the initial sample's alone, the same for every ε
        w1 = [wasserstein_distance(r, x) for r, x in zip(radii[1:], flow.positions[1:], strict=True)]
        risks = np.array([population_risk(model, w) for w in run.weights[1:]])
        return {"w1_gap": float(max(w1)), "risk_gap": float(np.abs(risks - flow.risk[1:]).max()),
                "final_risk": float(risks[-1])}
    raise SweepError(f"unknown crosscheck {crosscheck!r}")
