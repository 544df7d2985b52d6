"""Activations σ of ridge units ``a σ(⟨w, x⟩ + b)``: what the PDE's quadratures
evaluate (numpy) and what the SGD engine's compiled loops call (numba).

Every activation gives, from one object:

* ``σ(z)`` and ``σ'(z)`` on arrays (``__call__``, :meth:`derivative`);
* :attr:`compiled`, a numba function ``(z, params) -> (σ(z), σ'(z))`` and its
  ``params`` (a float array: the hinge knots, nothing for tanh), which the
  engine passes to its loops (one compiled loop per kind of activation, any
  number of activations of that kind);
* :attr:`kinks`, the points where σ is not smooth (quadratures split there);
* :meth:`gaussian_mean`, ``E σ(m + sG)``, ``G ~ N(0, 1)``: a closed form where
  there is one (hinges, erf), else a Gauss–Legendre
  panel rule (:data:`GAUSSIAN_MEAN_RULE`).

Built in: the hinge family :class:`fempde.problems.neurons.Hinges` (the
paper's piecewise-linear σ, the non-monotone σ, ReLU; any σ through points),
and the smooth ``tanh``, ``sigmoid`` and ``erf``. A user's own σ is
:class:`Compiled` ``(sigma, derivative)``: two scalar functions compiled with
``numba.njit``; the derivative is checked against a finite difference of σ on
construction, so a wrong σ' is refused rather than trained with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..problems.neurons import ACTIVATIONS as HINGES
from ..problems.neurons import Hinges, hinge_evaluate, hinge_parameters

__all__ = ["ACTIVATION_NAMES", "GAUSSIAN_MEAN_RULE", "Activation", "Compiled", "Smooth", "as_activation",
           "hinge_evaluate", "hinge_parameters"]

Array = NDArray[np.float64]

GAUSSIAN_MEAN_RULE = (13.0, 0.25, 20)
"""``(reach, width, nodes)`` of the panel rule (:func:`fempde.model.hermite.panel_rule`) for
``E σ(m + sG)`` of a smooth σ without a closed form: Gauss–Legendre of 20 nodes on panels of
width 0.25 over ``|G| <= 13``, geometric in the nodes however steep σ is (the tanh of a
unit of scale ``s = 10`` to ~1e-14; a Gauss–Hermite rule of 80 nodes was off by 1e-2 there)."""


@runtime_checkable
class Activation(Protocol):
    """What every activation gives (module docstring)."""

    @property
    def name(self) -> str: ...

    def __call__(self, z: ArrayLike) -> Array: ...

    def derivative(self, z: ArrayLike) -> Array: ...

    @property
    def compiled(self) -> tuple[Callable[..., tuple[float, float]], Array]: ...

    @property
    def kinks(self) -> tuple[float, ...]: ...

    def gaussian_mean(self, mean: ArrayLike, sd: ArrayLike) -> Array: ...


# -- smooth built-ins ---------------------------------------------------------------------------------------------

@numba.njit(cache=True, inline="always")
def tanh_evaluate(z: float, params: Array) -> tuple[float, float]:  # pragma: no cover - compiled
    t = math.tanh(z)
    return t, 1.0 - t * t


@numba.njit(cache=True, inline="always")
def sigmoid_evaluate(z: float, params: Array) -> tuple[float, float]:  # pragma: no cover - compiled
    s = 0.5 * (1.0 + math.tanh(0.5 * z))  # no overflow of exp for large |z|
    return s, s * (1.0 - s)


@numba.njit(cache=True, inline="always")
def erf_evaluate(z: float, params: Array) -> tuple[float, float]:  # pragma: no cover - compiled
    return math.erf(z), 1.1283791670955126 * math.exp(-z * z)  # 2/√π e^{−z²}


def _tanh(z: Array) -> tuple[Array, Array]:
    t = np.tanh(z)
    return t, 1.0 - t * t


def _sigmoid(z: Array) -> tuple[Array, Array]:
    s = 0.5 * (1.0 + np.tanh(0.5 * z))
    return s, s * (1.0 - s)


def _erf(z: Array) -> tuple[Array, Array]:
    from scipy.special import erf

    return np.asarray(erf(z)), 2.0 / math.sqrt(math.pi) * np.exp(-z * z)


def _erf_mean(mean: Array, sd: Array) -> Array:
    """``E erf(m + sG) = erf(m / √(1 + 2s²))`` (a Gaussian convolution of erf)."""
    from scipy.special import erf

    return np.asarray(erf(mean / np.sqrt(1.0 + 2.0 * sd * sd)))


_SMOOTH: dict[str, tuple[Callable[[Array], tuple[Array, Array]], Callable[..., tuple[float, float]],
                         Callable[[Array, Array], Array] | None]] = {
    "tanh": (_tanh, tanh_evaluate, None),
    "sigmoid": (_sigmoid, sigmoid_evaluate, None),
    "erf": (_erf, erf_evaluate, _erf_mean),
}


def gaussian_mean_rule(function: Callable[[Array], Array], mean: ArrayLike, sd: ArrayLike) -> Array:
    """``E f(m + sG)``, ``G ~ N(0, 1)``, by the panel rule :data:`GAUSSIAN_MEAN_RULE`."""
    from .hermite import panel_rule

    g, w = panel_rule(*GAUSSIAN_MEAN_RULE)
    m, s = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64))
    return np.asarray(function(m[..., None] + s[..., None] * g) @ w)


@dataclass(frozen=True)
class Smooth:
    """A smooth built-in activation by name: ``"tanh"``, ``"sigmoid"`` or ``"erf"``."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in _SMOOTH:
            raise ValueError(f"unknown smooth activation {self.name!r}; known: {', '.join(sorted(_SMOOTH))}")

    def __call__(self, z: ArrayLike) -> Array:
        return _SMOOTH[self.name][0](np.asarray(z, dtype=np.float64))[0]

    def derivative(self, z: ArrayLike) -> Array:
        return _SMOOTH[self.name][0](np.asarray(z, dtype=np.float64))[1]

    @property
    def compiled(self) -> tuple[Callable[..., tuple[float, float]], Array]:
        return _SMOOTH[self.name][1], np.zeros(0)

    @property
    def kinks(self) -> tuple[float, ...]:
        return ()

    def gaussian_mean(self, mean: ArrayLike, sd: ArrayLike) -> Array:
        closed = _SMOOTH[self.name][2]
        if closed is not None:
            m, s = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64))
            return closed(m, s)
        return gaussian_mean_rule(self, mean, sd)


# -- a user's own compiled σ --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _map_pair(evaluate: Any, z: Array, params: Array, values: Array, slopes: Array) -> None:  # pragma: no cover
    for i in range(z.shape[0]):
        values[i], slopes[i] = evaluate(z[i], params)


def _is_compiled(function: object) -> bool:
    from numba.core.registry import CPUDispatcher

    return isinstance(function, CPUDispatcher)


DERIVATIVE_CHECK = 1e-5
"""How far (relative to ``1 + |σ'|``) a user's σ' may be from the central difference of σ
at the check points before :class:`Compiled` refuses it."""


@dataclass(frozen=True)
class Compiled:
    """A user's activation: ``sigma(z)`` and ``derivative(z)``, scalar functions of
    a float compiled with ``numba.njit`` (so that the SGD engine calls them inside
    its compiled loop, at the speed of a built-in). ``kinks``: where σ is not
    smooth (the quadratures split there); ``name`` labels outputs.

    The derivative is checked on construction against a central difference of σ
    at 41 points in ``[−4, 4]`` (away from the kinks)."""

    sigma: Callable[[float], float]
    derivative_function: Callable[[float], float]
    kinks: tuple[float, ...] = ()
    name: str = "user"
    _evaluate: Callable[..., tuple[float, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for label, function in (("sigma", self.sigma), ("derivative", self.derivative_function)):
            if not _is_compiled(function):
                raise TypeError(f"{label} must be a scalar function compiled with numba.njit (decorate it with "
                                f"@numba.njit), got {type(function).__name__}")
        kinks = tuple(float(k) for k in self.kinks)
        if not all(math.isfinite(k) for k in kinks) or list(kinks) != sorted(set(kinks)):
            raise ValueError(f"kinks must be finite and strictly increasing, got {self.kinks!r}")
        object.__setattr__(self, "kinks", kinks)
        sigma, derivative = self.sigma, self.derivative_function

        @numba.njit(inline="always")
        def evaluate(z: float, params: Array) -> tuple[float, float]:  # pragma: no cover - compiled
            return sigma(z), derivative(z)

        object.__setattr__(self, "_evaluate", evaluate)
        self._check_derivative()

    def _check_derivative(self) -> None:
        z = np.linspace(-4.0, 4.0, 41)
        if self.kinks:
            z = z[np.min(np.abs(z[:, None] - np.array(self.kinks)[None, :]), axis=1) > 1e-3]
        step = 1e-6
        values, slopes = self._pair(z)
        difference = (self(z + step) - self(z - step)) / (2 * step)
        if not (np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))):
            raise ValueError(f"the activation {self.name!r} is not finite on [-4, 4]")
        error = np.abs(slopes - difference) / (1.0 + np.abs(slopes))
        worst = int(np.argmax(error))
        if error[worst] > DERIVATIVE_CHECK:
            raise ValueError(f"the derivative of the activation {self.name!r} does not match sigma: at z = "
                             f"{z[worst]:.3g} it gives {slopes[worst]:.6g}, the central difference of sigma "
                             f"{difference[worst]:.6g}; check derivative (or declare the kinks of sigma)")

    def _pair(self, z: ArrayLike) -> tuple[Array, Array]:
        flat = np.ascontiguousarray(np.asarray(z, dtype=np.float64).ravel())
        values, slopes = np.empty_like(flat), np.empty_like(flat)
        _map_pair(self._evaluate, flat, np.zeros(0), values, slopes)
        shape = np.shape(z)
        return values.reshape(shape), slopes.reshape(shape)

    def __call__(self, z: ArrayLike) -> Array:
        return self._pair(z)[0]

    def derivative(self, z: ArrayLike) -> Array:
        return self._pair(z)[1]

    @property
    def compiled(self) -> tuple[Callable[..., tuple[float, float]], Array]:
        return self._evaluate, np.zeros(0)

    def gaussian_mean(self, mean: ArrayLike, sd: ArrayLike) -> Array:
        return gaussian_mean_rule(self, mean, sd)


ACTIVATION_NAMES = (*sorted(HINGES), *sorted(_SMOOTH))
"""The built-in activations by name: the hinges (piecewise-linear, nonmonotone, relu) and the smooth ones."""


def as_activation(sigma: object) -> Activation:
    """An activation by name (:data:`ACTIVATION_NAMES`) or as given (any :class:`Activation`)."""
    if isinstance(sigma, str):
        if sigma in HINGES:
            return HINGES[sigma]  # type: ignore[return-value]
        if sigma in _SMOOTH:
            return Smooth(sigma)
        raise ValueError(f"unknown activation {sigma!r}; built in: {', '.join(ACTIVATION_NAMES)}; or "
                         f"fempde.Hinges.through(points), or fempde.model.Compiled(sigma, derivative) with "
                         f"numba-compiled functions")
    if isinstance(sigma, Hinges | Smooth | Compiled):
        return sigma  # type: ignore[return-value]
    if callable(sigma):
        raise TypeError("a Python function cannot be an activation: the SGD engine calls it in compiled code. "
                        "Compile sigma and its derivative with numba.njit and give "
                        "fempde.model.Compiled(sigma, derivative)")
    raise TypeError(f"an activation is a name ({', '.join(ACTIVATION_NAMES)}) or an Activation, got "
                    f"{type(sigma).__name__}")
