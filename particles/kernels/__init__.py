"""The compiled SGD steps behind :func:`particles.sgd`, and which one a model gets.

Every kernel takes the same step (:mod:`.generic`, module docstring), draws the
same noise (normal ``first + (k D + j) N + i`` of the run's stream for step
``k``, coordinate ``j``, unit ``i``) and reads the same batches, so that they
differ by round-off only (tested on the same seeds):

* :mod:`.generic` — any unit, through its compiled forward and backward passes;
  any batch, frozen coordinates, reflection or projection at the walls of a
  θ-domain;
* :mod:`.ridge` — ridge units ``a σ(⟨w, x⟩ + b)`` on one sample a step, every
  coordinate trained, no θ-domain: the fused pass over the weights, any
  activation (the hinges unrolled, others through their compiled σ, σ');
* :mod:`.batched` — ridge units on a batch (``B > 1`` or the data quadrature),
  every coordinate trained, no θ-domain: the step as matrix products (BLAS)
  and σ in numpy's vectorised functions;
* :mod:`.homogeneous` — 2-homogeneous units ``a ReLU(⟨b, x⟩)`` on any batch
  (the teacher's students, SGD and full-batch gradient descent), every
  coordinate trained, no θ-domain: the units as columns, every pass vectorised;
* :mod:`particles.kernels.bump` — RBF bumps on one sample a step in a convex domain,
  every coordinate trained, λ = 0, mean-field scaling: only the centres under
  the support move, the noisy ones reflected through a clearance bound.

:func:`stepper` picks the specialised kernel where it applies (``kernel="auto"``),
or the one asked for; ``benchmarks/engine.py`` measures what each one gains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import DRIFT
from fempde.model import Bump, Homogeneous, MeanFieldModel, Ridge
from fempde.problems.neurons import Hinges

from ..batch import Batch
from ..domain import ConvexDomain
from . import batched, bump, generic, homogeneous, ridge

__all__ = ["KERNELS", "Stepper", "Walls", "stepper"]

Array = NDArray[np.float64]

KERNELS = ("auto", "generic", "ridge", "batched", "homogeneous", "bump")
"""The values of :func:`particles.sgd`'s ``kernel``: the fastest that applies, or one by name."""


@dataclass(frozen=True)
class Walls:
    """The θ-domain as the kernels see it (``domain`` None: θ ranges over R^D)."""

    domain: ConvexDomain | None
    reflect: bool = True

    @property
    def mode(self) -> int:
        if self.domain is None:
            return generic.FREE
        return generic.REFLECT if self.reflect else generic.PROJECT

    def arrays(self, dim: int) -> tuple[Array, Array, Array, float]:
        """Normals, offsets, centre and inradius (empty without a domain)."""
        if self.domain is None:
            return np.zeros((0, dim)), np.zeros(0), np.zeros(dim), 0.0
        d = self.domain
        return d.normals, d.offsets, d.center, d.inradius


class Stepper(Protocol):
    """A compiled kernel bound to a model (module docstring)."""

    name: str

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        """``len(steps)`` steps of one run, ``theta`` ``(N, D)`` in place."""


@dataclass
class _Common:
    """What every kernel reads from the model: κ, DRIFT λ, the trained mask, the walls."""

    model: MeanFieldModel
    walls: Walls
    kappa: float = field(init=False)
    shrink_rate: float = field(init=False)
    mask: NDArray[np.bool_] = field(init=False)
    faces: tuple[Array, Array, Array, float] = field(init=False)

    def __post_init__(self) -> None:
        self.kappa = self.model.gain()
        self.shrink_rate = DRIFT * self.model.lam
        self.mask = np.ascontiguousarray(self.model.mask)
        self.faces = self.walls.arrays(self.model.dim)


class GenericStepper(_Common):
    """:mod:`.generic`: the unit's compiled passes."""

    name = "generic"

    def __post_init__(self) -> None:
        super().__post_init__()
        forward, backward, params, scratch = self.model.unit.kernels
        self.unit = forward, backward, np.ascontiguousarray(params, dtype=np.float64), int(scratch)

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        forward, backward, params, scratch = self.unit
        normals, offsets, center, inradius = self.faces
        generic.advance(forward, backward, params, scratch, theta, xs, ys, weights, stride, len(steps), steps, stds,
                        np.uint64(key), first, alpha, self.kappa, self.shrink_rate, self.mask, self.walls.mode, normals,
                        offsets, center, inradius)


class RidgeStepper(_Common):
    """:mod:`.ridge`: the fused pass over the weights of ridge units."""

    name = "ridge"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.activation = self._activation()

    def _activation(self) -> tuple[Any, Array, bool, tuple[float, ...], tuple[float, ...], float, float]:
        unit = self.model.unit
        assert isinstance(unit, Ridge)
        sigma = unit.sigma
        evaluate, params = sigma.compiled
        params = np.ascontiguousarray(params, dtype=np.float64)
        if isinstance(sigma, Hinges):  # unrolled knots; a kinkless σ gets one knot that jumps by 0
            knots = tuple(float(t) for t in sigma.knots) or (0.0,)
            jumps = tuple(float(t) for t in sigma.jumps) or (0.0,)
            return evaluate, params, True, knots, jumps, float(sigma.offset), float(sigma.slope)
        return evaluate, params, False, (0.0,), (0.0,), 0.0, 0.0

    def _split(self, theta: Array) -> tuple[Array, Array, Array, bool, bool]:
        unit = self.model.unit
        assert isinstance(unit, Ridge)
        w, a, b = unit.split(theta)
        return np.ascontiguousarray(w.T), a.copy(), b.copy(), unit.trains_output, unit.trains_bias

    @staticmethod
    def _join(theta: Array, wt: Array, a: Array, b: Array, fit_a: bool, fit_b: bool) -> None:
        d = wt.shape[0]
        theta[:, :d] = wt.T
        if fit_a:
            theta[:, d] = a
        if fit_b:
            theta[:, d + int(fit_a)] = b

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        wt, a, b, fit_a, fit_b = self._split(theta)
        evaluate, params, hinge, knots, jumps, c0, c1 = self.activation
        ridge.advance(evaluate, params, hinge, knots, jumps, c0, c1, wt, a, b, fit_a, fit_b,
                      np.ascontiguousarray(xs[:, 0, :]), np.ascontiguousarray(ys[:, 0]), steps, len(steps),
                      self.shrink_rate, stds, np.uint64(key), first, alpha, self.kappa)
        self._join(theta, wt, a, b, fit_a, fit_b)


class BatchedStepper(_Common):
    """:mod:`.batched`: ridge units on a batch, in matrix products."""

    name = "batched"

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        batched.advance(self.model, theta, xs, ys, weights, stride, steps, stds, key, first, alpha, self.kappa,
                        self.shrink_rate)


class HomogeneousStepper(_Common):
    """:mod:`.homogeneous`: the units as columns ``a`` ``(N,)``, ``b`` ``(d, N)``."""

    name = "homogeneous"

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        a, b = theta[:, 0].copy(), np.ascontiguousarray(theta[:, 1:].T)
        homogeneous.advance(a, b, xs, ys, weights, stride, len(steps), steps, stds, np.uint64(key), first, alpha,
                            self.kappa, self.shrink_rate)
        theta[:, 0], theta[:, 1:] = a, b.T


class BumpStepper(_Common):
    """:func:`particles.kernels.bump._sgd_chunk`: the RBF network's kernel (looked up
    at each call, so that a test may replace it in its module)."""

    name = "bump"

    def _bump(self) -> tuple[int, float, float]:  # the kernel's power p, constant c and width δ
        unit = self.model.unit
        assert isinstance(unit, Bump)
        kernel = unit.bump
        return kernel.power, kernel.constant, kernel.delta

    def advance(self, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array, stds: Array,
                key: int, first: int, alpha: float) -> None:
        domain = self.walls.domain
        assert domain is not None
        power, constant, delta = self._bump()
        unit = self.model.unit
        assert isinstance(unit, Bump)
        box: dict[str, Any] = {} if unit.walls is None else {"lower": unit.walls.lower, "upper": unit.walls.upper}
        bump._sgd_chunk(theta, np.ascontiguousarray(xs[:, 0, :]), np.ascontiguousarray(ys[:, 0]), steps, stds,
                        np.uint64(key), first, power, constant, delta, domain.normals, domain.offsets, domain.center,
                        domain.inradius, self.walls.reflect, **box)  # reflected bumps: the box of their images


def _why_not(name: str, model: MeanFieldModel, batch: Batch, walls: Walls) -> str | None:
    """Why the specialised kernel ``name`` does not apply to this run (None: it does)."""
    everything = bool(np.all(model.mask))
    if name == "ridge":
        reasons = [(isinstance(model.unit, Ridge), "the unit is not a Ridge"),
                   (batch.size == 1, "it takes one sample a step only"),
                   (walls.domain is None, "it has no θ-domain"), (everything, "it trains every coordinate")]
    elif name == "batched":
        reasons = [(isinstance(model.unit, Ridge), "the unit is not a Ridge"),
                   (batch.size != 1, "it takes batches (B > 1 or 'full') only"),
                   (walls.domain is None, "it has no θ-domain"), (everything, "it trains every coordinate")]
    elif name == "homogeneous":
        reasons = [(isinstance(model.unit, Homogeneous), "the unit is not a Homogeneous"),
                   (walls.domain is None, "it has no θ-domain"), (everything, "it trains every coordinate")]
    elif name == "bump":
        reasons = [(isinstance(model.unit, Bump), "the unit is not a Bump"),
                   (batch.size == 1, "it takes one sample a step only"),
                   (walls.domain is not None, "it needs the θ-domain"), (everything, "it trains every coordinate"),
                   (model.lam == 0, "it has no ridge term (lam = 0)"),
                   (model.scaling == "mean-field", "it has the mean-field scaling only")]
    else:
        return None
    failed = [why for holds, why in reasons if not holds]
    return "; ".join(failed) if failed else None


def stepper(model: MeanFieldModel, batch: Batch, walls: Walls, kernel: str = "auto") -> Stepper:
    """The kernel for ``model`` on ``batch`` within ``walls``: ``kernel`` one of :data:`KERNELS`."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "auto":
        specialised = ("bump", "ridge", "batched", "homogeneous")
        kernel = next((name for name in specialised if _why_not(name, model, batch, walls) is None), "generic")
    why = _why_not(kernel, model, batch, walls)
    if why is not None:
        raise ValueError(f"the {kernel} kernel does not apply to this run ({why}): use kernel='auto' or 'generic'")
    kinds: dict[str, type[_Common]] = {"generic": GenericStepper, "ridge": RidgeStepper, "batched": BatchedStepper,
                                       "homogeneous": HomogeneousStepper, "bump": BumpStepper}
    return kinds[kernel](model, walls)  # type: ignore[return-value]
