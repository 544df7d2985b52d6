"""Units ``σ*(x; θ)`` of a two-layer network ``ŷ(x) = (1/N) Σ_i σ*(x; θ_i)``, one
object per kind for both sides: the PDE's quadratures call them on arrays, the
SGD engine's compiled loop calls their compiled forward and backward passes.

* :class:`Ridge` ``a σ(⟨w, x⟩ + b)`` with any activation
  (:mod:`fempde.model.activations`); ``θ = (w, a, b)`` holds ``w`` and those of
  ``a`` and ``b`` that are trained (``output="trained"``, ``bias="trained"``),
  the others are constants of the unit (default ``a = 1``, ``b = 0``: the
  networks of Mei–Montanari–Nguyen's Figs. 1, 2 and 4);
* :class:`Bump` ``K^δ(x − w)``, ``θ = w`` in the data's domain
  (Javanmard–Mondelli–Montanari's RBF network);
* :class:`Homogeneous` ``a ReLU(⟨b, x⟩)``, ``θ = (a, b)``: 2-homogeneous
  (Chizat–Bach's teacher–student problem).

The compiled interface (:class:`UnitKernels`): ``forward(x, theta, params,
scratch) -> σ*(x; θ)`` for one unit and one input, keeping in ``scratch`` what
the backward pass needs; ``backward(x, theta, params, scratch, coef, grad)``
adds ``coef · ∇_θ σ*(x; θ)`` to ``grad``. ``x`` ``(d,)``, ``theta`` and ``grad``
``(D,)``, ``scratch`` ``(scratch_size,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..checks import finite_array, integer, number
from ..fem.kernels import BoxWalls, Kernel, check_boundary
from .activations import Activation, as_activation

__all__ = ["TRAINED", "Bump", "Homogeneous", "Ridge", "Unit", "UnitKernels"]

Array = NDArray[np.float64]

TRAINED = "trained"
"""The value of :class:`Ridge`'s ``output`` or ``bias`` that makes it a coordinate of θ."""


class UnitKernels(NamedTuple):
    """A unit's compiled passes and their constant parameters (module docstring)."""

    forward: Callable[..., float]
    backward: Callable[..., None]
    params: Array
    scratch_size: int


@runtime_checkable
class Unit(Protocol):
    """``σ*(x; θ)``: ``input_dim`` = d (the data's dimension), ``dim`` = D (θ's)."""

    @property
    def input_dim(self) -> int: ...

    @property
    def dim(self) -> int: ...

    @property
    def coordinates(self) -> tuple[str, ...]: ...

    def __call__(self, x: ArrayLike, theta: ArrayLike) -> Array: ...

    def gradient(self, x: ArrayLike, theta: ArrayLike) -> Array: ...

    @property
    def kernels(self) -> UnitKernels: ...


def _inputs(unit: Unit, x: ArrayLike, theta: ArrayLike) -> tuple[Array, Array]:
    """``x`` ``(M, d)`` and ``θ`` ``(n, D)`` as float arrays of the unit's dimensions."""
    points = finite_array("x (data points, one per row)", x, (None, unit.input_dim))
    units = finite_array("theta (units, one per row)", theta, (None, unit.dim))
    return points, units


# -- ridge units a σ(⟨w, x⟩ + b) -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ridge:
    """``a σ(⟨w, x⟩ + b)`` on data of dimension ``input_dim``; ``output`` and
    ``bias``: a fixed number, or :data:`TRAINED` (then a coordinate of θ, after w)."""

    activation: Any
    input_dim: int
    output: float | str = 1.0
    bias: float | str = 0.0
    _kernels: UnitKernels | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", as_activation(self.activation))
        integer("input_dim (the dimension d of the data)", self.input_dim)
        for name in ("output", "bias"):
            value = getattr(self, name)
            if value != TRAINED:
                object.__setattr__(self, name, number(f"{name} (a fixed number or 'trained')", value))

    @property
    def sigma(self) -> Activation:
        return self.activation  # type: ignore[no-any-return]

    @property
    def trains_output(self) -> bool:
        return self.output == TRAINED

    @property
    def trains_bias(self) -> bool:
        return self.bias == TRAINED

    @property
    def dim(self) -> int:
        return self.input_dim + int(self.trains_output) + int(self.trains_bias)

    @property
    def coordinates(self) -> tuple[str, ...]:
        names = tuple(f"w{j + 1}" for j in range(self.input_dim))
        return names + (("a",) if self.trains_output else ()) + (("b",) if self.trains_bias else ())

    def split(self, theta: ArrayLike) -> tuple[Array, Array, Array]:
        """``(w (n, d), a (n,), b (n,))`` of units ``θ`` ``(n, D)``, fixed values filled in."""
        units = np.asarray(theta, dtype=np.float64)
        d, n = self.input_dim, units.shape[0]
        w = units[:, :d]
        column = d
        if self.trains_output:
            a, column = units[:, column], column + 1
        else:
            a = np.full(n, float(self.output))  # type: ignore[arg-type]
        b = units[:, column] if self.trains_bias else np.full(n, float(self.bias))  # type: ignore[arg-type]
        return w, a, b

    def preactivation(self, x: ArrayLike, theta: ArrayLike) -> Array:
        """``⟨w_i, x_m⟩ + b_i``, shape ``(M, n)``."""
        points, units = _inputs(self, x, theta)
        w, _, b = self.split(units)
        return np.asarray(points @ w.T + b[None, :])

    def __call__(self, x: ArrayLike, theta: ArrayLike) -> Array:
        """``σ*(x_m; θ_i)``, shape ``(M, n)``."""
        _, units = _inputs(self, x, theta)
        _, a, _ = self.split(units)
        return np.asarray(a[None, :] * self.sigma(self.preactivation(x, theta)))

    def gradient(self, x: ArrayLike, theta: ArrayLike) -> Array:
        """``∇_θ σ*(x_m; θ_i)``, shape ``(M, n, D)``."""
        points, units = _inputs(self, x, theta)
        _, a, _ = self.split(units)
        z = self.preactivation(points, units)
        slope = a[None, :] * self.sigma.derivative(z)
        parts = [slope[:, :, None] * points[:, None, :]]
        if self.trains_output:
            parts.append(self.sigma(z)[:, :, None])
        if self.trains_bias:
            parts.append(slope[:, :, None])
        return np.concatenate(parts, axis=2)

    @property
    def kernels(self) -> UnitKernels:
        if self._kernels is None:
            object.__setattr__(self, "_kernels", _ridge_kernels(self))
        assert self._kernels is not None
        return self._kernels


def _ridge_kernels(unit: Ridge) -> UnitKernels:
    """The compiled passes of ``unit``: one pair per (activation kind, layout, fixed ``a``
    and ``b``), the activation's parameters as ``params``."""
    evaluate, act_params = unit.sigma.compiled
    d, has_a, has_b = unit.input_dim, unit.trains_output, unit.trains_bias
    fixed_a = 0.0 if has_a else float(unit.output)  # type: ignore[arg-type]
    fixed_b = 0.0 if has_b else float(unit.bias)  # type: ignore[arg-type]
    return UnitKernels(*_ridge_passes(evaluate, d, has_a, has_b, fixed_a, fixed_b),
                       np.ascontiguousarray(act_params, dtype=np.float64), 2)


_RIDGE_PASSES: dict[tuple[Any, int, bool, bool, float, float],
                    tuple[Callable[..., float], Callable[..., None]]] = {}


def _ridge_passes(evaluate: Any, d: int, has_a: bool, has_b: bool, fixed_a: float,
                  fixed_b: float) -> tuple[Callable[..., float], Callable[..., None]]:
    """Compiled forward and backward passes for one activation kind and layout, made once
    per process: ``d`` and the fixed ``a``, ``b`` are compile-time constants, and the
    activation gets ``params`` whole (a slice of it, made per unit and sample, would cost
    the generic SGD kernel more than the arithmetic)."""
    key = (evaluate, d, has_a, has_b, fixed_a, fixed_b)
    if key in _RIDGE_PASSES:
        return _RIDGE_PASSES[key]
    col_a = d if has_a else -1
    col_b = d + int(has_a) if has_b else -1

    @numba.njit(inline="always", fastmath=True)
    def forward(x: Array, theta: Array, params: Array, scratch: Array) -> float:  # pragma: no cover - compiled
        z = fixed_b if col_b < 0 else theta[col_b]
        for j in range(d):
            z += theta[j] * x[j]
        s, ds = evaluate(z, params)
        scratch[0], scratch[1] = s, ds
        a = fixed_a if col_a < 0 else theta[col_a]
        return a * s

    @numba.njit(inline="always", fastmath=True)
    def backward(x: Array, theta: Array, params: Array, scratch: Array, coef: float,
                 grad: Array) -> None:  # pragma: no cover - compiled
        a = fixed_a if col_a < 0 else theta[col_a]
        g = coef * a * scratch[1]
        for j in range(d):
            grad[j] += g * x[j]
        if col_a >= 0:
            grad[col_a] += coef * scratch[0]
        if col_b >= 0:
            grad[col_b] += g

    _RIDGE_PASSES[key] = (forward, backward)
    return forward, backward


# -- RBF bumps K^δ(x − w) ------------------------------------------------------------------------------------------

_BUMP_PASSES: dict[tuple[int, int], tuple[Callable[..., float], Callable[..., None]]] = {}


def bump_passes(d: int, power: int) -> tuple[Callable[..., float], Callable[..., None]]:
    """The compiled passes of ``K^δ(x − w) = c (1 − |x − w|²/δ²)_+^p`` in ``d`` dimensions
    (``params = [p, c, 1/δ²]``), made once per ``(d, p)`` and process: the loops over the
    coordinates and the power have compile-time lengths, so they unroll (a loop of
    run-time length here costs the generic SGD kernel several times its arithmetic)."""
    key = (d, power)
    if key in _BUMP_PASSES:
        return _BUMP_PASSES[key]

    @numba.njit(inline="always", fastmath=True)
    def forward(x: Array, theta: Array, params: Array, scratch: Array) -> float:  # pragma: no cover - compiled
        """``K^δ(x − w)``; keeps ``(1 − s)_+^{p−1}`` (0 off the support)."""
        s = 0.0
        for j in range(d):
            s += (x[j] - theta[j]) ** 2
        level = 1.0 - s * params[2]
        level = level if level > 0.0 else 0.0
        base = 1.0 if level > 0.0 else 0.0
        for _ in range(power - 1):
            base *= level
        scratch[0] = base
        return params[1] * base * level

    @numba.njit(inline="always", fastmath=True)
    def backward(x: Array, theta: Array, params: Array, scratch: Array, coef: float,
                 grad: Array) -> None:  # pragma: no cover - compiled
        """``∇_w K^δ(x − w) = 2p c (1 − s)^{p−1} (x − w)/δ²``."""
        g = coef * 2.0 * params[0] * params[1] * params[2] * scratch[0]
        for j in range(d):
            grad[j] += g * (x[j] - theta[j])

    _BUMP_PASSES[key] = (forward, backward)
    return forward, backward


_REFLECTED_PASSES: dict[tuple[int, int], tuple[Callable[..., float], Callable[..., None]]] = {}


def reflected_bump_passes(d: int, power: int) -> tuple[Callable[..., float], Callable[..., None]]:
    """The compiled passes of the reflected bump ``Σ_g K^δ(g x − w)`` in ``d`` dimensions
    (``params = [p, c, 1/δ², δ, lower_1..d, upper_1..d]``): the images of ``x`` are those of
    :func:`fempde.fem.kernels.mirror_images` (``x`` and its mirrors across the walls within δ),
    each a plain bump; ``scratch`` keeps ``(1 − s)_+^{p−1}`` per image (``2^d`` entries)."""
    key = (d, power)
    if key in _REFLECTED_PASSES:
        return _REFLECTED_PASSES[key]
    images = 2**d

    @numba.njit(inline="always", fastmath=True)
    def image(x: Array, params: Array, g: int, out: Array) -> bool:  # pragma: no cover - compiled
        """Image ``g`` (its bits: which walls it is mirrored across) of ``x`` into ``out``; False when
        one of its walls is not within δ of ``x`` (the image is not one of ``x``'s)."""
        delta = params[3]
        for j in range(d):
            out[j] = x[j]
            if (g >> j) & 1:
                lower, upper = params[4 + j], params[4 + d + j]
                if x[j] - lower < delta:
                    out[j] = 2.0 * lower - x[j]
                elif upper - x[j] < delta:
                    out[j] = 2.0 * upper - x[j]
                else:
                    return False
        return True

    @numba.njit(inline="always", fastmath=True)
    def forward(x: Array, theta: Array, params: Array, scratch: Array) -> float:  # pragma: no cover - compiled
        total = 0.0
        point = np.empty(d)
        for g in range(images):
            scratch[g] = 0.0
            if not image(x, params, g, point):
                continue
            s = 0.0
            for j in range(d):
                s += (point[j] - theta[j]) ** 2
            level = 1.0 - s * params[2]
            if level <= 0.0:
                continue
            base = 1.0
            for _ in range(power - 1):
                base *= level
            scratch[g] = base
            total += params[1] * base * level
        return total

    @numba.njit(inline="always", fastmath=True)
    def backward(x: Array, theta: Array, params: Array, scratch: Array, coef: float,
                 grad: Array) -> None:  # pragma: no cover - compiled
        point = np.empty(d)
        for g in range(images):
            if scratch[g] == 0.0:
                continue
            image(x, params, g, point)
            factor = coef * 2.0 * params[0] * params[1] * params[2] * scratch[g]
            for j in range(d):
                grad[j] += factor * (point[j] - theta[j])

    _REFLECTED_PASSES[key] = (forward, backward)
    return forward, backward


@dataclass(frozen=True)
class Bump:
    """``K^δ(x − w)`` (:class:`fempde.Kernel`: ``kernel`` name, ``input_dim`` = the domain's
    dimension, width ``delta``); ``θ = w``. ``boundary="reflected"`` (with ``walls``, the
    box Ω fills: :class:`fempde.fem.kernels.BoxWalls`) completes a bump near a wall by its
    mirror images, ``Σ_g K^δ(g x − w)``, so that it keeps its whole mass in Ω
    (:data:`fempde.fem.kernels.BOUNDARIES`; README, "Walls at finite δ")."""

    kernel: str
    input_dim: int
    delta: float
    boundary: str = "restricted"
    walls: BoxWalls | None = None

    def __post_init__(self) -> None:
        Kernel(self.kernel, self.input_dim, self.delta)  # checks the name, dim and delta
        if check_boundary(self.boundary) == "reflected":
            if not isinstance(self.walls, BoxWalls) or self.walls.dim != self.input_dim:
                raise ValueError("boundary='reflected' needs the walls of the box (walls=BoxWalls.from_mesh(mesh)), "
                                 f"of dimension {self.input_dim}")
            self.walls.check_width(self.delta)
        elif self.walls is not None:
            raise ValueError("walls are the reflected kernel's: give boundary='reflected', or no walls")

    @property
    def bump(self) -> Kernel:
        return Kernel(self.kernel, self.input_dim, self.delta)

    @property
    def dim(self) -> int:
        return self.input_dim

    @property
    def coordinates(self) -> tuple[str, ...]:
        return tuple("xyz"[j] for j in range(self.input_dim))

    def _images(self, points: Array) -> tuple[Array, NDArray[np.int64]]:
        """The sample points and, reflected, their mirror images, with the point each comes from."""
        if self.walls is None:
            return points, np.arange(len(points))
        return self.walls.images(points, self.delta)

    def __call__(self, x: ArrayLike, theta: ArrayLike) -> Array:
        points, units = _inputs(self, x, theta)
        images, source = self._images(points)
        difference = images[:, None, :] - units[None, :, :]  # (M', n, d)
        values = self.bump(difference.reshape(-1, self.dim).T).reshape(len(images), len(units))
        out = np.zeros((len(points), len(units)))
        np.add.at(out, source, values)
        return out

    def gradient(self, x: ArrayLike, theta: ArrayLike) -> Array:
        """``∇_w K^δ(x − w) = −∇K^δ(x − w)`` (summed over the images), shape ``(M, n, D)``."""
        points, units = _inputs(self, x, theta)
        images, source = self._images(points)
        difference = (images[:, None, :] - units[None, :, :]).reshape(-1, self.dim)
        values = -self.bump.gradient(difference.T).T.reshape(len(images), len(units), self.dim)
        out = np.zeros((len(points), len(units), self.dim))
        np.add.at(out, source, values)
        return out

    @property
    def kernels(self) -> UnitKernels:
        kernel = self.bump
        params = np.array([float(kernel.power), kernel.constant, 1.0 / self.delta**2])
        if self.walls is None:
            return UnitKernels(*bump_passes(self.input_dim, kernel.power), params, 1)
        box = np.concatenate([[self.delta], self.walls.lower, self.walls.upper])
        return UnitKernels(*reflected_bump_passes(self.input_dim, kernel.power), np.concatenate([params, box]),
                           2**self.input_dim)


# -- 2-homogeneous units a ReLU(⟨b, x⟩) ----------------------------------------------------------------------------

_HOMOGENEOUS_PASSES: dict[int, tuple[Callable[..., float], Callable[..., None]]] = {}


def homogeneous_passes(d: int) -> tuple[Callable[..., float], Callable[..., None]]:
    """The compiled passes of ``a ReLU(⟨b, x⟩)``, ``θ = (a, b)``, for ``x`` in R^d, made once
    per ``d`` and process (compile-time loop lengths, branch-free: as :func:`bump_passes`)."""
    if d in _HOMOGENEOUS_PASSES:
        return _HOMOGENEOUS_PASSES[d]

    @numba.njit(inline="always", fastmath=True)
    def forward(x: Array, theta: Array, params: Array, scratch: Array) -> float:  # pragma: no cover - compiled
        """``a ReLU(⟨b, x⟩)``; keeps ``ReLU(⟨b, x⟩)``."""
        z = 0.0
        for j in range(d):
            z += theta[j + 1] * x[j]
        z = z if z > 0.0 else 0.0
        scratch[0] = z
        return theta[0] * z

    @numba.njit(inline="always", fastmath=True)
    def backward(x: Array, theta: Array, params: Array, scratch: Array, coef: float,
                 grad: Array) -> None:  # pragma: no cover - compiled
        """``∇_a = ReLU(⟨b, x⟩)``, ``∇_b = a 1{⟨b, x⟩ > 0} x``."""
        z = scratch[0]
        grad[0] += coef * z
        g = coef * theta[0] if z > 0.0 else 0.0
        for j in range(d):
            grad[j + 1] += g * x[j]

    _HOMOGENEOUS_PASSES[d] = (forward, backward)
    return forward, backward


@dataclass(frozen=True)
class Homogeneous:
    """``a ReLU(⟨b, x⟩)``, ``θ = (a, b) ∈ R^{1+d}`` (Chizat–Bach; ``input_dim = 2`` there)."""

    input_dim: int = 2

    def __post_init__(self) -> None:
        integer("input_dim (the dimension d of the data)", self.input_dim)

    @property
    def dim(self) -> int:
        return 1 + self.input_dim

    @property
    def coordinates(self) -> tuple[str, ...]:
        return ("a", *(f"b{j + 1}" for j in range(self.input_dim)))

    def __call__(self, x: ArrayLike, theta: ArrayLike) -> Array:
        points, units = _inputs(self, x, theta)
        return np.asarray(units[None, :, 0] * np.maximum(points @ units[:, 1:].T, 0.0))

    def gradient(self, x: ArrayLike, theta: ArrayLike) -> Array:
        points, units = _inputs(self, x, theta)
        z = points @ units[:, 1:].T
        on = (z > 0.0) * units[None, :, 0]
        return np.concatenate([np.maximum(z, 0.0)[:, :, None], on[:, :, None] * points[:, None, :]], axis=2)

    @property
    def kernels(self) -> UnitKernels:
        return UnitKernels(*homogeneous_passes(self.input_dim), np.zeros(0), 1)
