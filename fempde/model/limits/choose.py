"""One call for the mean-field limit of a model: :func:`limit`.

It picks the solver that is accurate for the model (:func:`choose_method`),
chooses the discretisation by its estimated error (:func:`.refine.converge`)
and returns the risk, the law and the error part by part (:class:`.Limit`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

from ...checks import integer, number
from ..data import PRODUCT_RULE_MAX_DIM, FiniteData, GaussianMixture
from ..declaration import MeanFieldModel
from .flows import (
    POINTS_RTOL,
    exact_data,
    output_times,
    point_trial,
    quantile_trial,
    radial_start,
    reduced_trial,
    series_change,
)
from .kernel import kernel_trial
from .mesh import delta_to_zero, mesh_trial, radial_mesh_trial, risk_at
from .refine import Estimate, Knob, Trial, converge
from .result import DEFAULT_ACCURACY, PARTS, ErrorPart, Limit

__all__ = ["METHODS", "PART_SHARE", "REDUCED_NODES", "choose_method", "limit"]

Array = NDArray[np.float64]

METHODS = ("fem", "porous-medium", "points", "radial", "reduced", "kernel")
"""The limit solvers :func:`limit` can use (``method="auto"`` picks one, :func:`choose_method`)."""

PART_SHARE = 0.8
"""The share of the accuracy the refined parts take together; the rest is left to the time
stepping (whose default tolerances put it orders of magnitude lower) and the space of a given mesh."""

FIRST_ORDER = 2.0
"""The midpoint quantile rules are first order: the error of n quantiles is about twice the
change to 2n (the estimate reported for them)."""

SECOND_ORDER = 4.0 / 3.0
"""The noisy radial mesh is second order (Scharfetter–Gummel fluxes, a smooth positive density):
the error of h is about 4/3 of the change to h/2 (measured: 1.05e-2 against a change of 7.9e-3)."""

REDUCED_NODES = 32
"""Quantiles per radius Fig. 3's reduced flow starts from (:data:`.flows.REDUCED_RULE`)."""

QUANTILES = 256
"""Quantiles the radial flow starts from; its table of ``v`` and ``u_d`` starts at :data:`TABLE`."""

TABLE = 201

RADIAL_CELLS = 200
"""Cells of the noisy radial mesh to start from (``h = r_max / RADIAL_CELLS``)."""


def choose_method(model: MeanFieldModel) -> tuple[str, str]:
    """The method ``"auto"`` picks for ``model`` and why, in one sentence."""
    if model.scaling == "lazy":
        return "kernel", ("the lazy scaling (ŷ = (1/√N) Σ σ*): the units stay at their start and the outputs "
                          "follow the kernel flow of the tangent kernel there, solved exactly")
    if model.symmetry == "radial":
        how = "by its quantiles, transported exactly" if math.isinf(model.beta) else \
            "by finite elements on an interval of r (noise keeps it smooth)"
        return "radial", f"the model declares the radial symmetry: the law of r = ‖w‖, {how}"
    if model.symmetry == "anisotropic":
        return "reduced", ("the model declares Fig. 3's symmetry: the law of (a, b, ‖P_V w‖, ‖P_V⊥ w‖), "
                           "weighted points carried by the exact velocity")
    if model.is_rbf:
        return "porous-medium", ("RBF bumps on uniform data over their own domain: the finite-δ porous-medium "
                                 "PDE on that mesh, with the δ → 0 flow beside it")
    if math.isinf(model.beta):
        return "points", ("noiseless (β = ∞): the flow transports the initial law and can concentrate on points or "
                          "rays that no fixed mesh resolves; weighted points carried by the exact velocity need none")
    if model.domain is None:
        raise ValueError(f"with noise (β = {model.beta:g}) the limit is a PDE on a θ-mesh: declare the θ-domain "
                         "(MeanFieldModel(domain=meshes.disk(...)), D <= 3), or a symmetry that reduces it")
    return "fem", (f"noisy (β = {model.beta:g}): the density stays smooth; finite elements on the "
                   f"{model.dim}-D θ-domain")


def _check_method(model: MeanFieldModel, method: str, mesh: Mesh | None) -> None:
    """Refuse a method the model cannot have, naming why."""
    if method not in METHODS:
        raise ValueError(f"method must be 'auto' or one of {', '.join(METHODS)}, got {method!r}")
    if model.scaling == "lazy" and method != "kernel":
        raise ValueError(f"a lazy model's limit is the kernel flow (method='kernel'), not {method!r}: "
                         "its units do not move, so there is no PDE for their law")
    if method == "kernel" and model.scaling != "lazy":
        raise ValueError("method='kernel' is the lazy scaling's limit; this model is mean-field (scaling='mean-field')")
    if method == "fem":
        if model.dim > 3:
            raise ValueError(f"method='fem' meshes θ, which has D = {model.dim} > 3 coordinates "
                             f"({', '.join(model.unit.coordinates)}): use method='points' (β = ∞) or a symmetry")
        if model.domain is None and mesh is None:
            raise ValueError("method='fem' needs the θ-domain: declare MeanFieldModel(domain=meshes...) or pass "
                             "mesh=")
    if method == "porous-medium" and not model.is_rbf:
        raise ValueError("method='porous-medium' is the RBF network's limit (Bump units on UniformData)")
    if method in ("points", "reduced") and not math.isinf(model.beta):
        raise ValueError(f"method={method!r} carries points by a noiseless flow; with noise (β = {model.beta:g}) "
                         "use method='fem' (or 'radial')")
    if method == "radial" and model.symmetry != "radial":
        raise ValueError("method='radial' needs a model declaring symmetry='radial' (fempde.model.mmn_isotropic)")
    if method == "reduced" and model.symmetry != "anisotropic":
        raise ValueError("method='reduced' needs a model declaring symmetry='anisotropic' "
                         "(fempde.model.mmn_anisotropic)")


def limit(model: MeanFieldModel, times: Sequence[float] | Array, *, method: str = "auto",
          accuracy: float = DEFAULT_ACCURACY, estimate: bool = True, data_level: int | None = None,
          initial_level: int | None = None, rtol: float | None = None, mesh: Mesh | None = None,
          h: float | None = None, r_max: float | None = None, space_error: bool = True,
          max_refinements: int = 4) -> Limit:
    """The mean-field limit of ``model`` at the output ``times`` (increasing, ``>= 0``).

    Parameters
    ----------
    method
        ``"auto"`` (:func:`choose_method`) or one of :data:`METHODS`.
    accuracy
        The relative accuracy of the risk curve to reach (relative to
        :func:`~fempde.model.limits.result.risk_scale`): the refinable parts are refined,
        the largest first, until together they are within :data:`PART_SHARE` of it (for point
        laws, the means of the coordinates too).
    estimate
        Estimate every part by a second computation (refined levels, a looser ODE
        tolerance, the refined mesh). False: one computation at the starting levels,
        only the parts that come free are estimated.
    data_level, initial_level
        The data rule's and the initial rule's level (:meth:`Data.quadrature`,
        :meth:`InitialLaw.quadrature`; nodes per radius for ``"reduced"``, quantiles for
        ``"radial"``); None: chosen by the estimate, from the law's default. A level given
        is kept and its error estimated.
    rtol
        The time tolerance: :func:`fempde.solve`'s ``rtol`` on a mesh, the ODE's for points.
    mesh
        The θ-mesh of ``"fem"`` (default: the model's domain).
    h, r_max
        The radial mesh size (None: chosen by the estimate) and the radial domain
        ``[0, r_max]`` (None: eight times the start's 1 − 10⁻⁹ quantile, at least 8).
    space_error
        ``"fem"`` and ``"porous-medium"``: also solve on the refined mesh (``2^D`` times the cells).
    max_refinements
        The most times one part is refined.
    """
    if not isinstance(model, MeanFieldModel):
        raise TypeError(f"model must be a fempde.model.MeanFieldModel, got {type(model).__name__}")
    t = output_times(times)
    accuracy = number("accuracy", accuracy, positive=True)
    max_refinements = integer("max_refinements", max_refinements, minimum=0)
    if method == "auto":
        method, why = choose_method(model)
    else:
        _check_method(model, method, mesh)
        try:
            why = f"asked for (auto would pick {choose_method(model)[0]!r})"
        except ValueError:
            why = "asked for"
    _check_method(model, method, mesh)
    options = _Options(accuracy, estimate, data_level, initial_level, rtol, max_refinements)
    if method in ("fem", "porous-medium"):
        return _on_mesh(model, t, method, why, options, mesh if mesh is not None else model.domain, space_error)
    if method == "kernel":
        return _kernel(model, t, why, options)
    if method == "radial" and not math.isinf(model.beta):
        return _radial_mesh(model, t, why, options, h, r_max)
    return _flow(model, t, method, why, options, r_max)


class _Options:
    def __init__(self, accuracy: float, estimate: bool, data_level: int | None, initial_level: int | None,
                 rtol: float | None, max_refinements: int) -> None:
        self.accuracy, self.estimate, self.rtol, self.max_refinements = accuracy, bool(estimate), rtol, max_refinements
        self.data_level = None if data_level is None else integer("data_level", data_level)
        self.initial_level = None if initial_level is None else integer("initial_level", initial_level)
        if rtol is not None:
            number("rtol", rtol, positive=True)


def _converge(run: Any, levels: dict[str, Any], knobs: list[Knob], options: _Options) -> tuple[Trial, dict]:
    if not options.estimate:
        return run(levels), {}
    return converge(run, levels, knobs, accuracy=options.accuracy, share=PART_SHARE,
                    max_refinements=options.max_refinements)


def _part(name: str, estimates: dict[str, Estimate], how: str, shape: int) -> ErrorPart:
    if name in estimates:
        estimate = estimates[name]
        return ErrorPart(name, estimate.risk, how, estimate.law)
    return ErrorPart(name, np.full(shape, np.nan), "estimate=False")


def _exact(name: str, how: str, shape: int) -> ErrorPart:
    return ErrorPart(name, np.zeros(shape), how)


def _say(unit: str) -> Any:
    return lambda level: f"{level:g} {unit}" if isinstance(level, float) else f"{level} {unit}"


def _time_part(run: Any, base: Trial, key: str, options: _Options, shape: int) -> ErrorPart:
    """The change of the risk when the ODE tolerance is loosened tenfold (an upper estimate)."""
    if not options.estimate:
        return ErrorPart("time", np.full(shape, np.nan), "estimate=False")
    looser = run({**base.levels, key: 10 * base.levels[key]})
    risk, law = base.change(looser)
    return ErrorPart("time", risk, f"ODE tolerance {base.levels[key]:.0e}: the change at 10× it (an upper "
                                   "estimate)", law)


def _flow(model: MeanFieldModel, t: Array, method: str, why: str, options: _Options, r_max: float | None) -> Limit:
    shape = len(t)
    rtol = options.rtol if options.rtol is not None else POINTS_RTOL
    knobs: list[Knob] = []
    choices: list[str] = []
    if method == "points":
        run = lambda levels: point_trial(model, t, levels)  # noqa: E731
        initial = options.initial_level or model.initial.default_level
        data = None if exact_data(model) else options.data_level or model.data.default_level
        levels: dict[str, Any] = {"data": data, "initial": initial, "rtol": rtol}
        knobs.append(Knob("initial quadrature", "initial", model.initial.refined, _say("(initial rule level)"),
                          options.initial_level is not None))
        if not exact_data(model):
            knobs.append(Knob("data quadrature", "data", model.data.refined, _say("(data rule level)"),
                              options.data_level is not None))
    elif method == "reduced":
        run = lambda levels: reduced_trial(model, t, levels)  # noqa: E731
        levels = {"initial": options.initial_level or REDUCED_NODES, "rtol": rtol}
        knobs.append(Knob("initial quadrature", "initial", lambda n: 2 * n, _say("quantiles per radius"),
                          options.initial_level is not None, factor=FIRST_ORDER))
    else:  # radial, noiseless: the quantile flow
        run = lambda levels: quantile_trial(model, t, levels)  # noqa: E731
        levels = {"initial": options.initial_level or QUANTILES, "table": TABLE, "rtol": rtol,
                  "r_max": _r_max(model, r_max)}
        knobs.append(Knob("initial quadrature", "initial", lambda n: 2 * n, _say("quantiles"),
                          options.initial_level is not None, factor=FIRST_ORDER))
        knobs.append(Knob("space", "table", lambda n: 2 * n - 1, _say("table nodes on [0, r_max]")))
    base, estimates = _converge(run, levels, knobs, options)
    choices += [e.choice for e in estimates.values()]
    if method == "radial":
        _check_wall(base, float(levels["r_max"]))
    errors = [_time_part(run, base, "rtol", options, shape)]
    if method == "radial":
        errors.append(_part("space", estimates, "the table of v and u_d: the change on the table of 2n − 1 nodes",
                            shape))
        errors.append(_series_bound(model, base, shape))
    else:
        errors.append(_exact("space", "none: points need no mesh", shape))
        if method == "reduced":
            errors.append(ErrorPart("data quadrature", series_change(model, base.law),
                                    "closed forms; the kernel's series: the next two orders at the laws"))
        elif exact_data(model):
            exact = "a training set, summed exactly" if isinstance(model.data, FiniteData) else \
                "exact: the circle integrals of the 2-homogeneous units in closed form"
            errors.append(_exact("data quadrature", exact, shape))
        else:
            errors.append(_part("data quadrature", estimates, "the change on the refined data rule", shape))
    how = "twice the change to twice the quantiles (a first-order rule)" if method != "points" else \
        "the change from the refined initial rule"
    errors.append(_part("initial quadrature", estimates, how, shape))
    return _limit(method, why, t, base, errors, options, choices)


def _r_max(model: MeanFieldModel, r_max: float | None) -> float:
    if r_max is not None:
        return number("r_max", r_max, positive=True)
    return max(8.0, 8.0 * float(radial_start(model).isf(1e-9)))


def _check_wall(base: Trial, r_max: float) -> None:
    law = base.law.points if hasattr(base.law, "points") else None
    if law is not None and float(np.max(law)) >= 0.999 * r_max:
        raise RuntimeError(f"the radial law reached the wall r_max = {r_max:g}: give a larger r_max")


def _series_bound(model: MeanFieldModel, base: Trial, shape: int) -> ErrorPart:
    grid = base.solution.grid if hasattr(base.solution, "grid") else base.law.space.x[0]
    error = model.reduced().factor(grid).error
    return ErrorPart("data quadrature", np.full(shape, error),
                     "closed forms; u_d's Hermite series: the bound of its dropped terms")


def _on_mesh(model: MeanFieldModel, t: Array, method: str, why: str, options: _Options, domain: Mesh,
             space_error: bool) -> Limit:
    shape = len(t)
    run = lambda levels: mesh_trial(model, domain, t, levels)  # noqa: E731
    levels: dict[str, Any] = {"data": options.data_level or model.data.default_level, "rtol": options.rtol}
    say = _say("(degree of the rule over Ω)") if model.is_rbf else _say("(data rule level)")
    knobs = [] if isinstance(model.data, FiniteData) else [
        Knob("data quadrature", "data", model.data.refined, say, options.data_level is not None,
             **_coarser(model, levels["data"]))]
    base, estimates = _converge(run, levels, knobs, options)
    if space_error and options.estimate:  # the refined-mesh estimate at the chosen levels
        base = mesh_trial(model, domain, t, base.levels, space_error=True)
    result = base.solution
    errors = [ErrorPart("time", risk_at(result, t, "risk_time_error"), "the run's own estimate (global, propagated)")]
    if result.space_error is not None:
        spatial = result.space_error
        risk = np.zeros(shape)
        law = np.zeros(shape)
        index = {float(s): k for k, s in enumerate(spatial.times)}
        for k, time in enumerate(t):
            if float(time) in index:
                risk[k] = spatial.risk_error[index[float(time)]]
                law[k] = spatial.rho_l1[index[float(time)]]
        errors.append(ErrorPart("space", risk, f"the same run on the refined mesh ({spatial.nodes_refined} nodes)",
                                law))
    else:
        errors.append(ErrorPart("space", np.full(shape, np.nan), "space_error=False"))
    if isinstance(model.data, FiniteData):
        errors.append(_exact("data quadrature", "a training set, summed exactly", shape))
    else:
        coarse = bool(_coarser(model, int(base.levels["data"])))
        how = ("from the rule of half the nodes: the change over 2^d − 1 (the error if it falls like 1/M, "
               "as a kinked activation's does; an upper estimate for a smooth one, which converges faster)") \
            if coarse else "the change on the refined data rule"
        errors.append(_part("data quadrature", estimates, how, shape))
    errors.append(_exact("initial quadrature", "none: the start is interpolated on the mesh (a space error)", shape))
    beside = {"risk_delta_to_0": delta_to_zero(model, domain, t, options.rtol)} if method == "porous-medium" else {}
    choices = [e.choice for e in estimates.values()]
    return _limit(method, why, t, base, errors, options, choices, beside)


def _coarser(model: MeanFieldModel, level: int) -> dict[str, Any]:
    """A product Gauss–Hermite data rule on a mesh is estimated from the rule of half the nodes
    (a quarter of the cost of the refined one in 2-D): with a kinked activation its error
    falls like ``1/M`` (measured on the disk problem of ``examples/dd_disk.py``: 2.1e-2, 4.9e-3
    at 48², 96² against 192²), so the finer rule's error is ``1/(2^d − 1)`` of the change."""
    data = model.data
    if not (isinstance(data, GaussianMixture) and data.input_dim <= PRODUCT_RULE_MAX_DIM and level % 2 == 0
            and level >= 8):
        return {}
    return {"coarsened": lambda n: n // 2, "factor": 1.0 / (2**data.input_dim - 1)}


def _radial_mesh(model: MeanFieldModel, t: Array, why: str, options: _Options, h: float | None,
                 r_max: float | None) -> Limit:
    shape = len(t)
    top = _r_max(model, r_max)
    run = lambda levels: radial_mesh_trial(model, t, levels)  # noqa: E731
    levels = {"h": number("h", h, positive=True) if h is not None else top / RADIAL_CELLS, "r_max": top,
              "rtol": options.rtol}
    knobs = [Knob("space", "h", lambda size: size / 2, _say("(mesh size h)"), h is not None, factor=SECOND_ORDER)]
    base, estimates = _converge(run, levels, knobs, options)
    result = base.solution
    errors = [ErrorPart("time", risk_at(result, t, "risk_time_error"), "the run's own estimate (global, propagated)"),
              _part("space", estimates, "4/3 of the change on the mesh of h/2 (second order)", shape),
              _series_bound(model, base, shape),
              _exact("initial quadrature", "none: the start is interpolated on the mesh (a space error)", shape)]
    return _limit("radial", why, t, base, errors, options, [e.choice for e in estimates.values()])


def _kernel(model: MeanFieldModel, t: Array, why: str, options: _Options) -> Limit:
    shape = len(t)
    run = lambda levels: kernel_trial(model, t, levels)  # noqa: E731
    levels = {"initial": options.initial_level or model.initial.default_level}
    knobs = [Knob("initial quadrature", "initial", model.initial.refined, _say("(initial rule level)"),
                  options.initial_level is not None)]
    base, estimates = _converge(run, levels, knobs, options)
    errors = [_exact("time", "none: the linear flow is solved exactly (eigendecomposition)", shape),
              _exact("space", "none: no mesh", shape),
              _exact("data quadrature", "a training set, summed exactly", shape),
              _part("initial quadrature", estimates, "H and K on the refined initial rule", shape)]
    return _limit("kernel", why, t, base, errors, options, [e.choice for e in estimates.values()])


def _limit(method: str, why: str, t: Array, base: Trial, errors: list[ErrorPart], options: _Options,
           choices: list[str], beside: dict[str, Array] | None = None) -> Limit:
    order = {name: k for k, name in enumerate(PARTS)}
    errors.sort(key=lambda part: order[part.name])
    return Limit(method=method, why=why, times=t, risk=base.risk, law=base.law, errors=tuple(errors),
                 accuracy=options.accuracy, levels=dict(base.levels), choices=tuple(choices), beside=beside or {},
                 solution=base.solution)
