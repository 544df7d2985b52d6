"""The RBF network ``f̂(x) = (1/N) Σ_i K^δ(x − w_i)`` (Javanmard–Mondelli–Montanari
2020) on a convex domain: the SGD engine's specialised kernel for it, and
:func:`rbf_sgd`, its interface from before the engine, now a thin wrapper over
:func:`particles.sgd` of :func:`fempde.model.jmm_rbf`. One fresh sample a step:

    w_i ← w_i + 2 s_k (y_k − f̂(x_k)) ∇_w K^δ(x_k − w_i) + sqrt(4 s_k τ) g_i,

centres kept in Ω by reflection (or projection). Its mean increment is
``−2 s_k ∇Ψ^δ(w_i; ρ̂)`` with ``Ψ^δ(w; ρ) = (1/|Ω|) ∫ K^δ(x − w)(K^δ∗ρ − f) dx``, and
the constants (time axis, ``s_k``, the noise) come from :mod:`fempde.meanfield`.

``boundary="reflected"`` replaces ``K^δ(x − w)`` by the reflected kernel
``Σ_g K^δ(g x − w)`` of :mod:`fempde.fem.kernels` (a box only), so that a bump
on the wall keeps its whole mass in Ω (README, "Walls at finite δ").

The kernel (:func:`_sgd_chunk`) moves only the centres under the kernel's
support at the sample, and for noisy runs keeps a bound on each centre's
distance to the walls so that most moves test no face. It draws what every
kernel of the engine draws: normal ``first + (k dim + j) N + i`` of the run's
stream is the increment of step ``k``, coordinate ``j``, centre ``i``
(:mod:`particles.kernels`), so it gives the generic kernel's numbers to round-off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.checks import finite_array, generator, number
from fempde.fem.kernels import Kernel
from fempde.meanfield.axis import TimeAxis
from fempde.model import jmm_rbf

from .domain import ConvexDomain
from .engine import sgd
from .kernels.bump import _sgd_chunk  # noqa: F401 - its old home: tests and users may reach it here

__all__ = ["SGDRun", "rbf_sgd"]

Array = NDArray[np.float64]
Target = Callable[[Array], ArrayLike]

@dataclass(frozen=True)
class SGDRun:
    """Centres at the recorded times: ``centers`` has shape ``(n_times, N, dim)``."""

    times: Array
    centers: Array
    steps: NDArray[np.int64]


def rbf_sgd(
    domain: ConvexDomain,
    target: Target,
    kernel: Kernel,
    centers0: Array,
    axis: TimeAxis,
    times: Sequence[float],
    *,
    tau: float = 0.0,
    label_noise: float = 0.0,
    reflect: bool = True,
    boundary: str = "restricted",
    rng: np.random.Generator,
    chunk: int = 4096,
    checkpoint: str | Path | None = None,
    checkpoint_every: float = 60.0,
    resume: bool = False,
) -> SGDRun:
    """Run (noisy) SGD from ``centers0`` (shape ``(N, dim)``) and record the
    centres at ``times`` (rounded to the SGD grid ``t = kε``; 0 allowed): the
    engine's run (:func:`particles.sgd`) of :func:`fempde.model.jmm_rbf` on
    ``domain``'s mesh, kept for the callers of this interface.

    ``target`` is ``f(x)`` with ``x`` of shape ``(dim, n)``; labels are
    ``y = f(x) + label_noise · N(0, 1)``. ``boundary``: the bumps ``"restricted"`` to Ω
    or ``"reflected"`` at its walls (a box only: :data:`fempde.fem.kernels.BOUNDARIES`).
    ``checkpoint``, ``checkpoint_every``,
    ``resume``: as for :func:`particles.sgd` (fempde's one checkpoint format).
    """
    centers = np.array(centers0, dtype=np.float64, order="C")
    if centers.ndim != 2 or centers.shape[1] != domain.dim or centers.shape[0] < 1:
        raise ValueError(f"centers0 must have shape (N >= 1, {domain.dim}), got {centers.shape}")
    centers = finite_array("centers0", centers)
    if not np.all(domain.contains(centers)):
        raise ValueError("every initial centre must lie in the domain")
    if kernel.dim != domain.dim:
        raise ValueError(f"kernel is {kernel.dim}-D but the domain is {domain.dim}-D")
    tau, label_noise = number("tau", tau, minimum=0), number("label_noise", label_noise, minimum=0)
    generator("rng", rng)
    if not isinstance(axis, TimeAxis):
        raise TypeError(f"axis must be a fempde TimeAxis, got {type(axis).__name__}")
    model = jmm_rbf(domain.mesh, target, kernel.delta, tau=tau, kernel=kernel.name, schedule=axis.schedule,
                    label_noise=label_noise, boundary=boundary)
    run = sgd(model, centers, axis, times, rng=rng, reflect=reflect, chunk=chunk, checkpoint=checkpoint,
              checkpoint_every=checkpoint_every, resume=resume)
    assert run.theta is not None
    return SGDRun(run.times, run.theta, run.steps)
