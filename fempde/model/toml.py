"""A :class:`~fempde.model.MeanFieldModel` declared in a TOML file, from built-in
names and formulas only — never code.

.. code-block:: toml

    [model]
    unit = "ridge"                 # ridge | bump | homogeneous
    activation = "tanh"            # ridge: a built-in name (fempde.model.ACTIVATION_NAMES),
                                   # or hinge points: activation = [[-1, 0], [1, 1]] (σ through them)
    input_dim = 1                  # ridge, homogeneous: d, the data's dimension
    output = "trained"             # ridge: a number, or "trained" (a coordinate of θ)
    bias = 0.0                     # ridge: a number, or "trained"
    # kernel = "triweight"         # bump: its kernel; delta = 0.1, its width (d: the [mesh]'s dimension);
                                   #   boundary = "restricted" or "reflected" (mirror images at a box's walls)
    lam = 0.0                      # ridge λ
    beta = 50.0                    # inverse temperature, or "inf" (noiseless)
    schedule = { kind = "constant", xi0 = 1.0 }   # or { kind = "power", xi0, alpha, t0 }
    scaling = "mean-field"         # or "lazy"
    symmetry = "radial"            # optional: radial | anisotropic
    name = "tanh-mixture"

    [model.data]
    kind = "gaussian-mixture"      # gaussian-mixture | classes | uniform | teacher
    probabilities = [0.5, 0.5]     # gaussian-mixture: one per component
    means = [[-1.0], [1.0]]        #   one row of d per component
    sds = [[0.6], [0.6]]           #   standard deviations, one row of d per component
    labels = [-1.0, 1.0]           #   y in each component
    label_noise = 0.0              # every kind but teacher: the sd of N(0, ·) added to y
    # classes: delta, d, relevant  (Mei–Montanari–Nguyen's y = ±1, sd 1 ± Δ on the first `relevant`)
    # uniform: target = "6 * x * (1 - x)"  (x uniform on the [mesh], y = target + noise)
    # teacher: Chizat–Bach's five ReLU neurons (no keys)

    [model.initial]
    kind = "gaussian"              # gaussian | density | sphere
    mean = [0.0, 0.0]              # gaussian: a number or one per coordinate of θ
    sd = [1.0, 0.3]                #   (sd 0 fixes a coordinate)
    # density: rho0 = "uniform" or a formula in x, y, z (θ's first coordinates) on the [mesh]
    # sphere: radius, width (a Gaussian shell in R³)

    [mesh]                         # the θ-domain (the particles reflect at its walls; the finite
    domain = "rectangle"           # elements solve there); for bump units also the data's domain

Every table and key is checked and a refusal is a
:class:`fempde.scenario.ScenarioError` naming the section, the key and the
value (and its line, once located in the file's text); formulas go through
the whitelist of :mod:`fempde.scenario.expressions` and must be finite (a
density non-negative) at the mesh's nodes. :func:`model_from_tables` builds
the model from the parsed tables.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

from ..checks import ParameterError
from ..fem.kernels import BOUNDARIES, KERNELS, BoxWalls
from ..meanfield import Schedule
from ..problems.homogeneous import SphereLaw, Teacher
from ..problems.neurons import Hinges
from ..scenario import ScenarioError, formula_on_mesh, mesh_from_table, schedule_from_table
from ..scenario.schema import choice, integer, number, text, unknown_keys
from .activations import ACTIVATION_NAMES
from .data import Data, GaussianMixture, TeacherData, UniformData, gaussian_classes
from .declaration import SCALINGS, SYMMETRIES, MeanFieldModel
from .initial import Gaussian, InitialLaw, MeshDensity
from .units import TRAINED, Bump, Homogeneous, Ridge, Unit

__all__ = ["DATA_KINDS", "INITIAL_KINDS", "MODEL_KEYS", "UNITS", "model_from_tables"]

UNITS = ("ridge", "bump", "homogeneous")
"""The unit kinds of ``[model] unit``."""

MODEL_KEYS = {
    "ridge": {"activation", "input_dim", "output", "bias"},
    "bump": {"kernel", "delta", "boundary"},
    "homogeneous": {"input_dim"},
}
"""Each unit's own keys in ``[model]``, besides :data:`COMMON_KEYS`."""

COMMON_KEYS = {"unit", "lam", "beta", "schedule", "scaling", "symmetry", "name", "data", "initial"}

DATA_KINDS = {
    "gaussian-mixture": {"probabilities", "means", "sds", "labels", "label_noise"},
    "classes": {"delta", "d", "relevant", "label_noise"},
    "uniform": {"target", "label_noise"},
    "teacher": set(),
}
"""``[model.data] kind`` and each kind's keys (besides ``kind``)."""

INITIAL_KINDS = {"gaussian": {"mean", "sd"}, "density": {"rho0"}, "sphere": {"radius", "width"}}
"""``[model.initial] kind`` and each kind's keys (besides ``kind``)."""


def _table(data: dict[str, Any], key: str, section: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ScenarioError(f"[{section}] is missing: the model needs it (see fempde.model.toml)", section=section)
    return dict(value)


def _numbers(section: str, key: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    """A number, a list or a list of lists of finite numbers, of ``shape`` (None: any length)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    bad = array is None or isinstance(value, bool) or array.ndim != len(shape) or not np.all(np.isfinite(array)) \
        or any(s is not None and s != n for s, n in zip(shape, np.shape(array), strict=False)) \
        or _has_bool(value) or _has_text(value)
    if bad:
        what = {0: "a finite number", 1: "a list of finite numbers", 2: "a list of lists of finite numbers"}
        sizes = " x ".join("n" if s is None else str(s) for s in shape)
        raise ScenarioError(f"[{section}] {key} must be {what[len(shape)]}" + (f" ({sizes})" if shape else "")
                            + f", got {value!r}", section=section, key=key, value=value)
    return np.asarray(array)


def _has_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, list) and any(_has_bool(v) for v in value))


def _has_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and any(_has_text(v) for v in value))


def model_from_tables(data: dict[str, Any], *, base: Path = Path(".")) -> MeanFieldModel:
    """The model of a file's tables ``data`` (``[model]``, ``[model.data]``, ``[model.initial]``,
    ``[mesh]``; relative mesh files resolve against ``base``)."""
    table = _table(data, "model", "model")
    unit_kind = choice("model", "unit", table.get("unit"), UNITS)
    unknown_keys("model", table, COMMON_KEYS | MODEL_KEYS[unit_kind])
    mesh = mesh_from_table(data["mesh"], base)[0] if "mesh" in data else None
    unit = _unit(unit_kind, table, mesh)
    data_law = _data(_table(table, "data", "model.data"), unit, mesh)
    initial = _initial(_table(table, "initial", "model.initial"), unit, mesh)
    beta = _beta(table.get("beta", "inf"))
    schedule: Schedule = schedule_from_table(table.get("schedule", {"kind": "constant"}), "model")
    scaling = choice("model", "scaling", table.get("scaling", "mean-field"), SCALINGS)
    symmetry = table.get("symmetry")
    if symmetry is not None:
        symmetry = choice("model", "symmetry", symmetry, SYMMETRIES)
    name = text("model", "name", table.get("name", "model"))
    lam = number("model", "lam", table.get("lam", 0.0), minimum=0.0)
    try:
        return MeanFieldModel(unit, data_law, initial, lam=lam, beta=beta, schedule=schedule,
                              domain=mesh, symmetry=symmetry, scaling=scaling, name=name)
    except ParameterError as err:  # placed at the table or key it names
        section, key = WHERE_IN_TOML.get(err.name, ("model", err.name))
        raise ScenarioError(f"[{section}] {err}", section=section, key=key) from None
    except (ValueError, TypeError) as err:
        raise ScenarioError(f"[model] {err}", section="model") from None


WHERE_IN_TOML = {"data": ("model.data", None), "initial": ("model.initial", None), "domain": ("mesh", None)}
"""The table (and key) of a model file that a parameter refused by :class:`MeanFieldModel` lives in."""


def _beta(value: Any) -> float:
    if value == "inf":
        return math.inf
    if isinstance(value, str):
        raise ScenarioError(f"[model] beta must be a number > 0 or \"inf\" (noiseless), got {value!r}",
                            section="model", key="beta", value=value)
    return number("model", "beta", value, positive=True)


def _unit(kind: str, table: dict[str, Any], mesh: Mesh | None) -> Unit:
    if kind == "bump":
        if mesh is None:
            raise ScenarioError("[model] unit = \"bump\" needs a [mesh]: the domain of the data and of the centres",
                                section="model", key="unit", value=kind)
        kernel = choice("model", "kernel", table.get("kernel", "triweight"), list(KERNELS))
        if "delta" not in table:
            raise ScenarioError("[model] unit = \"bump\" needs delta, the bumps' width", section="model", key="delta")
        delta = number("model", "delta", table["delta"], positive=True)
        boundary = choice("model", "boundary", table.get("boundary", "restricted"), BOUNDARIES)
        try:
            walls = BoxWalls.from_mesh(mesh) if boundary == "reflected" else None
            if walls is not None:
                walls.check_width(delta)
        except ValueError as err:
            raise ScenarioError(f"[model] boundary = 'reflected': {err}", section="model", key="boundary",
                                value=boundary) from None
        return Bump(kernel, int(mesh.p.shape[0]), delta, boundary, walls)
    if "input_dim" not in table and kind == "ridge":
        raise ScenarioError("[model] unit = \"ridge\" needs input_dim, the data's dimension d", section="model",
                            key="input_dim")
    d = integer("model", "input_dim", table.get("input_dim", 2))
    if kind == "homogeneous":
        return Homogeneous(d)
    activation = _activation(table.get("activation"))
    output, bias = (_weight(name, table.get(name, default)) for name, default in (("output", 1.0), ("bias", 0.0)))
    return Ridge(activation, d, output=output, bias=bias)


def _activation(value: Any) -> Any:
    if isinstance(value, str):
        return choice("model", "activation", value, ACTIVATION_NAMES)
    if isinstance(value, list):
        points = _numbers("model", "activation", value, (None, 2))
        try:
            return Hinges.through([(float(t), float(s)) for t, s in points])
        except ValueError as err:
            raise ScenarioError(f"[model] activation: {err}", section="model", key="activation", value=value) from None
    raise ScenarioError(f"[model] activation must be a built-in name ({', '.join(ACTIVATION_NAMES)}) or hinge points "
                        f"[[t, sigma(t)], ...], got {value!r}", section="model", key="activation", value=value)


def _weight(name: str, value: Any) -> float | str:
    if value == TRAINED:
        return TRAINED
    if isinstance(value, str):
        raise ScenarioError(f"[model] {name} must be a number or \"trained\", got {value!r}", section="model",
                            key=name, value=value)
    return number("model", name, value)


def _data(table: dict[str, Any], unit: Unit, mesh: Mesh | None) -> Data:
    section = "model.data"
    kind = choice(section, "kind", table.pop("kind", None), list(DATA_KINDS))
    unknown_keys(section, table, DATA_KINDS[kind])
    noise = number(section, "label_noise", table.get("label_noise", 0.0), minimum=0.0)
    if kind == "teacher":
        return TeacherData(Teacher.default())
    if kind == "uniform":
        if mesh is None or not isinstance(unit, Bump):
            raise ScenarioError("[model.data] kind = \"uniform\" draws x on the [mesh], the bumps' domain: it needs "
                                "unit = \"bump\" and a [mesh]", section=section, key="kind", value=kind)
        if "target" not in table:
            raise ScenarioError("[model.data] kind = \"uniform\" needs target, a formula in x, y, z, r",
                                section=section, key="target")
        return UniformData(mesh, formula_on_mesh(section, "target", table["target"], mesh), noise)
    if kind == "classes":
        for key in ("delta", "d"):
            if key not in table:
                raise ScenarioError(f"[model.data] kind = \"classes\" needs {key}", section=section, key=key)
        delta = number(section, "delta", table["delta"], positive=True)
        d = integer(section, "d", table["d"])
        relevant = integer(section, "relevant", table["relevant"], maximum=d) if "relevant" in table else None
        return _checked(section, lambda: gaussian_classes(delta, d, relevant, label_noise=noise))
    for key in ("probabilities", "means", "sds", "labels"):
        if key not in table:
            raise ScenarioError(f"[model.data] kind = \"gaussian-mixture\" needs {key}", section=section, key=key)
    p = _numbers(section, "probabilities", table["probabilities"], (None,))
    means = _numbers(section, "means", table["means"], (len(p), None))
    sds = _numbers(section, "sds", table["sds"], means.shape)
    labels = _numbers(section, "labels", table["labels"], (len(p),))
    return _checked(section, lambda: GaussianMixture(p, means, sds, labels, noise))


def _checked(section: str, build: Any) -> Any:
    try:
        return build()
    except ValueError as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"[{section}] {err}", section=section) from None


def _initial(table: dict[str, Any], unit: Unit, mesh: Mesh | None) -> InitialLaw:
    section = "model.initial"
    kind = choice(section, "kind", table.pop("kind", None), list(INITIAL_KINDS))
    unknown_keys(section, table, INITIAL_KINDS[kind])
    if kind == "density":
        if mesh is None:
            raise ScenarioError("[model.initial] kind = \"density\" is a density on the [mesh]: add one",
                                section=section, key="kind", value=kind)
        rho0 = table.get("rho0", "uniform")
        density = rho0 if rho0 == "uniform" else formula_on_mesh(section, "rho0", rho0, mesh, density=True)
        return _checked(section, lambda: MeshDensity(mesh, density))
    if kind == "sphere":
        radius = number(section, "radius", table.get("radius", 0.5), positive=True)
        width = number(section, "width", table.get("width", 0.0), minimum=0.0)
        return _checked(section, lambda: SphereLaw(radius, width))
    dim = unit.dim
    mean = _numbers(section, "mean", table.get("mean", 0.0), ()) if np.ndim(table.get("mean", 0.0)) == 0 else \
        _numbers(section, "mean", table["mean"], (dim,))
    sd = _numbers(section, "sd", table.get("sd", 1.0), ()) if np.ndim(table.get("sd", 1.0)) == 0 else \
        _numbers(section, "sd", table["sd"], (dim,))
    if np.any(sd < 0):
        raise ScenarioError(f"[model.initial] sd must be >= 0, got {table.get('sd')!r}", section=section, key="sd",
                            value=table.get("sd"))
    return _checked(section, lambda: Gaussian(np.broadcast_to(mean, (dim,)).copy(), np.broadcast_to(sd, (dim,))
                                               .copy()))


