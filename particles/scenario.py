"""Cross-check scenarios: a fempde scenario (mesh, problem, initial density,
run) with a ``[crosscheck]`` table, read into an :class:`RBFProblem`.

Both ``fempde-crosscheck`` (:mod:`particles.cli`) and the rbf sweeps
(:mod:`particles.sweep`) read scenarios; the parser lives here, below both,
so that neither imports the other. The table::

    [crosscheck]
    N = 200              # particles (a list runs the convergence study in N)
    delta = 0.1          # bump width
    kernel = "triweight"
    boundary = "restricted"  # or "reflected": the bumps' mirror images at the walls (a box only)
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
from fempde.fem.kernels import BOUNDARIES, BoxWalls
from fempde.scenario import Scenario, ScenarioError, integer, located, number, parse_scenario
from fempde.scenario.schema import choice

from .crosscheck import RBFProblem

__all__ = ["CROSSCHECK_KEYS", "MAX_LABEL_NOISE", "MAX_PARTICLES", "MAX_RECORD_BYTES", "MAX_SEEDS", "MAX_SGD_STEPS",
           "problem_from_text"]

CROSSCHECK_KEYS = frozenset({"N", "delta", "kernel", "boundary", "epsilon", "seeds", "label_noise",
                             "checkpoint_every"})
MAX_PARTICLES = 10**7  # centres of one SGD run
MAX_SGD_STEPS = 10**9  # t_end / epsilon: at ~10^5 steps/s, hours per seed
MAX_RECORD_BYTES = 8 * 2**30  # the centres recorded at the output times, all seeds of one N
MAX_SEEDS = 1000
MAX_LABEL_NOISE = 1e6  # the label noise's standard deviation: its square must stay far from overflow


def problem_from_text(text: str, name: str, base: Path, where: str) -> tuple[RBFProblem, dict[str, Any], Scenario]:
    """The problem, the ``[crosscheck]`` table and the scenario of a crosscheck
    scenario's TOML ``text`` (relative paths resolve against ``base``; ``where``
    names the source in errors)."""
    try:
        return _from_text(text, name, base, where)
    except ScenarioError as err:
        raise located(err, text, where) from None


def _from_text(text: str, name: str, base: Path, where: str) -> tuple[RBFProblem, dict[str, Any], Scenario]:
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
        raise ScenarioError(f"unknown key {extra[0]!r} in [crosscheck]; valid keys: {keys}", section="crosscheck",
                            key=extra[0])
    for key in ("N", "delta", "epsilon"):
        if key not in table:
            raise ScenarioError(f"[crosscheck] needs {key}", section="crosscheck", key=key)
    scenario = parse_scenario(data, name=name, base=base)
    target = scenario.problem.target
    assert callable(target)  # scenario formulas compile to callables
    rho0 = scenario.rho0
    if scenario.normalize:  # to mass 1 on the nodes, as fempde's scenarios do
        rho0 = fempde.initial_density(fempde.Space(scenario.mesh), rho0, normalize=True)
    table = _settings(table, scenario)
    if table["boundary"] == "reflected":  # refused on load, not after the first solve
        try:
            BoxWalls.from_mesh(scenario.mesh).check_width(table["delta"])
        except ValueError as err:
            raise ScenarioError(f"[crosscheck] boundary = 'reflected': {err}", section="crosscheck", key="boundary",
                                value="reflected") from None
    problem = RBFProblem(mesh=scenario.mesh, target=target, delta=table["delta"], tau=scenario.problem.tau,
                         kernel=table["kernel"], boundary=table["boundary"], schedule=scenario.problem.schedule,
                         label_noise=table["label_noise"], rho0=rho0, options=scenario.options, flux=scenario.flux)
    return problem, table, scenario


def _settings(table: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """The ``[crosscheck]`` table checked (types, ranges, the size of the runs) and its defaults filled in."""
    section = "crosscheck"
    raw = table["N"]
    if isinstance(raw, list):
        ns = [integer(section, "N", v, maximum=MAX_PARTICLES) for v in raw]
        if len(set(ns)) < 2:
            raise ScenarioError(f"[crosscheck] N = {raw!r}: a convergence study in N needs at least two distinct N "
                                f"(three for a confidence interval); give one integer for a single cross-check",
                                section=section, key="N", value=raw)
    else:
        ns = [integer(section, "N", raw, maximum=MAX_PARTICLES)]
    kernel = table.get("kernel", "triweight")
    if not isinstance(kernel, str):
        raise ScenarioError(f"[crosscheck] kernel must be a kernel name (a string), got {kernel!r}", section=section,
                            key="kernel", value=kernel)
    boundary = choice(section, "boundary", table.get("boundary", "restricted"), BOUNDARIES)
    out: dict[str, Any] = {
        "N": ns if isinstance(raw, list) else ns[0],
        "delta": number(section, "delta", table["delta"], positive=True),
        "epsilon": number(section, "epsilon", table["epsilon"], positive=True),
        "seeds": integer(section, "seeds", table.get("seeds", 3), maximum=MAX_SEEDS),
        "kernel": kernel,
        "boundary": boundary,
        "label_noise": number(section, "label_noise", table.get("label_noise", 0.0), minimum=0.0),
        "checkpoint_every": number(section, "checkpoint_every", table.get("checkpoint_every", 60.0), minimum=0.0),
    }
    steps = scenario.t_end / out["epsilon"]
    if steps < 1:
        raise ScenarioError(f"[crosscheck] epsilon = {out['epsilon']!r} is larger than [run] t_end = "
                            f"{scenario.t_end!r}: SGD would take no step; lower epsilon", section=section,
                            key="epsilon", value=out["epsilon"])
    if steps > MAX_SGD_STEPS:
        raise ScenarioError(f"[crosscheck] epsilon = {out['epsilon']!r} needs t_end / epsilon = {steps:.3g} SGD steps "
                            f"per seed, more than {MAX_SGD_STEPS:.0e}; raise epsilon or lower t_end",
                            section=section, key="epsilon", value=out["epsilon"])
    if out["label_noise"] > MAX_LABEL_NOISE:
        raise ScenarioError(f"[crosscheck] label_noise = {out['label_noise']!r} (the standard deviation of the label "
                            f"noise) is more than the {MAX_LABEL_NOISE:g} allowed", section=section,
                            key="label_noise", value=out["label_noise"])
    dim = scenario.mesh.p.shape[0]
    record = max(ns) * dim * 8 * (len(scenario.times) + 1) * out["seeds"]
    if record > MAX_RECORD_BYTES:
        raise ScenarioError(f"[crosscheck] N = {max(ns):,} with {out['seeds']} seeds and {len(scenario.times)} outputs "
                            f"would record {record / 2**30:.1f} GiB of centres, more than "
                            f"{MAX_RECORD_BYTES / 2**30:.0f} GiB; lower N, seeds or [run] outputs",
                            section=section, key="N", value=raw)
    return out
