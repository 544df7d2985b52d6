"""Ensembles as batched tensors in PyTorch: :func:`particles.ensemble` with ``device``
(``"cuda"``, or ``"cpu"`` for PyTorch's CPU build). PyTorch is optional: nothing
else in fempde imports it, and this module imports it only when called.

The runs of an ensemble (same N, same time axis, each its own start and
Generator) are advanced together, ``R`` runs as one tensor ``(R, N, D)``, a
handful of kernel launches a step whatever ``R`` is; it pays for large
ensembles or large N on a GPU. Ridge units ``a σ(⟨w, x⟩ + b)`` on one sample a
step, every coordinate trained, no θ-domain; the hinge activations and
``tanh``, ``sigmoid``, ``erf``. Per step, for all runs at once:

    z = W x + b,   ŷ = (α/N) Σ a σ(z),   c = κ s (y − ŷ)/α,
    θ ← (1 − DRIFT λ s) θ + c (a σ'(z) x, σ(z), a σ'(z)) + σ_k g.

The data come from each run's Generator in the engine's blocks
(:class:`particles.batch.SampleFeed`), and the noise is the engine's: normal
``first + (k D + j) N + i`` of each run's stream (:mod:`particles.noise`),
SplitMix64 and Box–Muller computed on the device in 64-bit integers
(:func:`counter_normals`). So a run here is the compiled run of the same
member up to round-off (the sums run in another order; sine and cosine are the
device's), noisy or not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fempde.meanfield import DRIFT
from fempde.model import Ridge, Smooth
from fempde.problems.neurons import Hinges

from ..plan import Chunk

if TYPE_CHECKING:
    from ..course import Course, Setup

__all__ = ["counter_normals", "run_on_device", "torch_device"]


def _signed(value: int) -> int:
    """A 64-bit pattern as the signed integer with the same bits (tensors hold int64)."""
    return value - (1 << 64) if value >= 1 << 63 else value


_GAMMA, _MIX1, _MIX2 = (_signed(v) for v in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shift(z: Any, s: int) -> Any:
    """Logical right shift of 64-bit patterns held as signed integers."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def _mix(z: Any) -> Any:
    z = (z ^ _shift(z, 30)) * _MIX1
    z = (z ^ _shift(z, 27)) * _MIX2
    return z ^ _shift(z, 31)


def counter_normals(keys: Any, index: Any, as_float: Callable[[Any], Any], xp: Any) -> Any:
    """Normal number ``index`` of the stream ``keys`` (broadcast together; 64-bit
    signed integer arrays of ``xp``, numpy or torch, whose integer products wrap):
    :mod:`particles.noise`'s SplitMix64 and Box–Muller with ``xp``'s logarithm,
    sine and cosine. ``as_float`` converts integers below 2⁵³ to float64 exactly."""
    pair = index >> 1
    counter = pair + pair
    b1 = _mix(keys + (counter + 1) * _GAMMA)
    b2 = _mix(keys + (counter + 2) * _GAMMA)
    radius = xp.sqrt(-2.0 * xp.log(as_float(_shift(b1, 11) + 1) * 2.0**-53))
    angle = (2.0 * math.pi * 2.0**-53) * as_float(_shift(b2, 11))
    odd = (index & 1) == 1
    return radius * xp.where(odd, xp.sin(angle), xp.cos(angle))


def torch_device(prefer: str | None = None) -> Any:
    """The device to run on: ``prefer`` if given, else CUDA where available, else the CPU.
    Raises ImportError with the install command when PyTorch is missing."""
    try:
        import torch
    except ImportError:
        raise ImportError("ensembles on a device need PyTorch: pip install torch (see https://pytorch.org for "
                          "CUDA builds)") from None
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _activation(unit: Ridge, torch: Any) -> Callable[[Any], tuple[Any, Any]]:
    """``z ↦ (σ(z), σ'(z))`` on tensors, as the compiled kernels compute them."""
    sigma = unit.sigma
    if isinstance(sigma, Hinges):
        knots, jumps = sigma.knots, sigma.jumps

        def hinges(z: Any) -> tuple[Any, Any]:
            value, slope = sigma.offset + sigma.slope * z, torch.full_like(z, sigma.slope)
            for knot, jump in zip(knots, jumps, strict=True):
                above = z - knot
                on = (above > 0).to(z.dtype)
                value = value + jump * above * on
                slope = slope + jump * on
            return value, slope

        return hinges
    if isinstance(sigma, Smooth):
        def smooth(z: Any) -> tuple[Any, Any]:
            if sigma.name == "tanh":
                t = torch.tanh(z)
                return t, 1.0 - t * t
            if sigma.name == "sigmoid":
                s = 0.5 * (1.0 + torch.tanh(0.5 * z))
                return s, s * (1.0 - s)
            return torch.erf(z), (2.0 / math.sqrt(math.pi)) * torch.exp(-z * z)

        return smooth
    raise ValueError(f"the activation {sigma.name!r} is compiled for the CPU (numba): ensembles on a device take the "
                     f"hinges, tanh, sigmoid and erf; run this one with device=None")


def _check(setup: Setup, courses: list[Course]) -> None:
    model, batch = setup.model, setup.batch
    if not isinstance(model.unit, Ridge) or batch.size != 1 or setup.walls.domain is not None \
            or not np.all(model.mask):
        raise ValueError("ensembles on a device take ridge units on one sample a step, every coordinate trained, "
                         "no θ-domain: run this model with device=None")
    first = courses[0]
    for r, course in enumerate(courses):
        if course.theta.shape != first.theta.shape or course.axis != first.axis \
                or not np.array_equal(course.marks, first.marks):
            raise ValueError(f"members[{r}] has another N or time axis than members[0]: an ensemble on a device "
                             f"advances runs of one N on one axis together (device=None takes any)")


class _OnDevice:
    """The runs of an ensemble as one tensor ``(R, N, D)`` on a device, and their step."""

    def __init__(self, setup: Setup, courses: list[Course], device: str) -> None:
        where = torch_device(device)
        import torch

        _check(setup, courses)
        self.torch, self.where, self.kind = torch, where, torch.float64
        unit = setup.model.unit
        assert isinstance(unit, Ridge)
        self.unit, self.sigma = unit, _activation(unit, torch)
        self.courses = courses
        n, dim = courses[0].theta.shape
        self.theta = torch.tensor(np.stack([c.theta for c in courses]), dtype=self.kind, device=where)
        keys = np.array([c.key for c in courses], dtype=np.uint64).astype(np.int64)  # the same 64 bits, signed
        self.keys = torch.tensor(keys, dtype=torch.int64, device=where)[:, None, None]
        self.numbering = torch.arange(dim * n, dtype=torch.int64, device=where).reshape(dim, n).T.unsqueeze(0)
        self.alpha, self.kappa = courses[0].alpha, setup.model.gain()
        self.shrink_rate = DRIFT * setup.model.lam

    def _tensor(self, values: Any) -> Any:
        return self.torch.tensor(values, dtype=self.kind, device=self.where)

    def step(self, x: Any, y: Any, step: float, std: float, first: int) -> None:
        """One step of every run: inputs ``x`` ``(R, d)``, labels ``y`` ``(R,)``, the noise
        of normals ``first + j N + i`` of each run's stream (module docstring)."""
        torch, unit, theta = self.torch, self.unit, self.theta
        d, fit_a, fit_b = unit.input_dim, unit.trains_output, unit.trains_bias
        a = theta[:, :, d] if fit_a else float(unit.output)  # type: ignore[arg-type]
        b = theta[:, :, d + int(fit_a)] if fit_b else float(unit.bias)  # type: ignore[arg-type]
        z = torch.bmm(theta[:, :, :d], x.unsqueeze(2)).squeeze(2) + b  # (R, N)
        value, slope = self.sigma(z)
        coef = self.kappa * step * (y - self.alpha * (a * value).mean(dim=1)) / self.alpha  # (R,)
        g = coef.unsqueeze(1) * a * slope  # (R, N)
        move = [g.unsqueeze(2) * x.unsqueeze(1)]
        if fit_a:
            move.append((coef.unsqueeze(1) * value).unsqueeze(2))
        if fit_b:
            move.append(g.unsqueeze(2))
        theta = (1.0 - self.shrink_rate * step) * theta + torch.cat(move, dim=2)
        if std > 0:
            noise = counter_normals(self.keys, first + self.numbering, lambda v: v.to(self.kind), torch)
            theta = theta + std * noise
        self.theta = theta

    def chunk(self, c: Chunk) -> None:
        """Chunk ``c`` of every run (they share their plan), then the finite check."""
        inputs = [course.inputs(c) for course in self.courses]
        xs = self._tensor(np.stack([x[:, 0, :] for x, *_ in inputs], axis=1))  # (steps, R, d)
        ys = self._tensor(np.stack([y[:, 0] for _, y, *_ in inputs], axis=1))  # (steps, R)
        steps, stds, first = inputs[0][2], inputs[0][3], inputs[0][4]
        n, dim = self.courses[0].theta.shape
        for k in range(c.steps):
            self.step(xs[k], ys[k], float(steps[k]), float(stds[k]) if stds.size else 0.0, first + k * dim * n)
        finite = bool(self.torch.isfinite(self.theta).all())
        if not finite:
            self.fetch()
        for course in self.courses:
            course.finished(c)  # raises FloatingPointError for a run that is not finite

    def fetch(self) -> None:
        """Copy the units back into the runs."""
        host = self.theta.to("cpu").numpy()
        for r, course in enumerate(self.courses):
            course.theta[:] = host[r]


def run_on_device(setup: Setup, courses: list[Course], device: str) -> None:
    """Advance ``courses`` (the engine's runs, module docstring) on ``device`` and record them."""
    runs = _OnDevice(setup, courses, device)
    for c in courses[0].plan:
        if c.steps > 0:
            runs.chunk(c)
        if c.record:
            runs.fetch()
            for course in courses:
                course.record()
    runs.fetch()
