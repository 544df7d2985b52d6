"""SGD of the two-layer networks of Mei–Montanari–Nguyen (2018) on their
two-Gaussian data, one fresh sample per step (their Eq. 3, with λ and the noise
of Eq. 11 as the PDE needs it):

    ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i),
    θ_i ← (1 − 2λ s_k) θ_i + 2 s_k (y_k − ŷ(x_k)) ∇_θ[a_i σ(⟨w_i, x_k⟩ + b_i)] + sqrt(4 s_k / β) g_i,

on the time axis of :mod:`fempde.meanfield` (``DRIFT = 2``, noise ``sqrt(4 s_k τ)``
with ``τ = 1/β``). The seed's networks fix ``a_i = 1``, ``b_i = 0`` and train
``θ_i = w_i``; ``Network(fit_output=True)`` trains ``θ_i = (w_i, a_i, b_i)``
(the ReLU network of their Fig. 3). The data: ``y = ±1`` equally likely,
``x | y ~ N(0, Σ_y)`` with ``Σ_± = I + ((1 ± Δ)² − 1) P_V``, ``V`` the first
``relevant`` coordinates (all of them: the isotropic problem, whose mean-field
limit reduces to :class:`fempde.RadialDD`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import DRIFT, GaussianClasses, TimeAxis, check_lam_beta, noise_scale, temperature
from fempde.problems import Hinges, IsotropicGaussians, activation, gaussian_nodes

from .plan import chunk_plan, record_steps

__all__ = [
    "DDRun", "GaussianClasses", "Member", "Network", "as_network", "dd_ensemble", "dd_sgd", "population_risk",
    "sample_isotropic",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Network:
    """Units ``a σ(⟨w, x⟩ + b)`` on ``data``; ``fit_output=False`` fixes ``a = 1``, ``b = 0``."""

    data: GaussianClasses
    sigma: Hinges | str = "piecewise-linear"
    fit_output: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", activation(self.sigma))

    @property
    def activation(self) -> Hinges:
        assert isinstance(self.sigma, Hinges)  # converted in __post_init__
        return self.sigma

    @classmethod
    def isotropic(cls, model: IsotropicGaussians) -> Network:
        """The network whose mean-field limit :class:`fempde.RadialDD` ``(model)`` reduces."""
        if math.isinf(model.d):
            raise ValueError("SGD needs a finite dimension d")
        return cls(GaussianClasses(model.delta, int(model.d)), model.activation)


def as_network(model: Network | IsotropicGaussians) -> Network:
    """``model`` itself, or the network of :meth:`Network.isotropic` for an isotropic model."""
    return model if isinstance(model, Network) else Network.isotropic(model)


def sample_isotropic(model: IsotropicGaussians, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """``n`` samples ``(x, y)`` of the isotropic problem of ``model``."""
    return Network.isotropic(model).data.sample(n, rng)


@numba.njit(cache=True, fastmath=True)  # lets LLVM vectorise the loops over units (deterministic)
def _advance(wt: Array, a: Array, b: Array, xs: Array, ys: Array, steps: Array, count: int, ridge: float,
             noise_std: Array, noise: Array, knots: Array, jumps: Array, c0: float, c1: float, drift: float,
             fit: bool) -> None:  # pragma: no cover - compiled
    """``count`` steps of one run. ``wt`` is ``Wᵀ`` (``(d, N)``, C order), so both
    passes over the weights run along contiguous rows of units."""
    d, n = wt.shape
    nk = knots.shape[0]
    z, act, g = np.empty(n), np.empty(n), np.empty(n)
    noisy = noise.shape[0] > 0
    for k in range(count):
        x = xs[k]
        for i in range(n):
            z[i] = b[i]
        for j in range(d):
            xj = x[j]
            for i in range(n):
                z[i] += wt[j, i] * xj
        prediction = 0.0
        for i in range(n):  # σ(z) = c0 + c1 z + Σ_q jumps_q (z − knots_q)_+, branch-free
            s, slope = c0 + c1 * z[i], c1
            for q in range(nk):
                h = z[i] - knots[q]
                on = 1.0 if h > 0.0 else 0.0
                s += jumps[q] * h * on
                slope += jumps[q] * on
            act[i], g[i] = s, a[i] * slope
            prediction += a[i] * s
        coef = drift * steps[k] * (ys[k] - prediction / n)
        shrink = 1.0 - drift * ridge * steps[k]
        for i in range(n):
            g[i] *= coef
        if fit:
            for i in range(n):
                a[i] = shrink * a[i] + coef * act[i]
                b[i] = shrink * b[i] + g[i]
            if noisy:
                for i in range(n):
                    a[i] += noise_std[k] * noise[k, i, d]
                    b[i] += noise_std[k] * noise[k, i, d + 1]
        if shrink != 1.0:
            for j in range(d):
                for i in range(n):
                    wt[j, i] *= shrink
        for j in range(d):
            xj = x[j]
            for i in range(n):
                wt[j, i] += xj * g[i]
        if noisy:
            std = noise_std[k]
            for j in range(d):
                for i in range(n):
                    wt[j, i] += std * noise[k, i, j]


@numba.njit(cache=True, parallel=True)
def _advance_all(wt: Array, a: Array, b: Array, offsets: NDArray[np.int64], xs: Array, ys: Array, steps: Array,
                 counts: NDArray[np.int64], ridge: float, noise_std: Array, noise: Array, knots: Array,
                 jumps: Array, c0: float, c1: float, drift: float, fit: bool) -> None:  # pragma: no cover - compiled
    """Every run of an ensemble, one thread per run: run ``r`` owns units
    ``offsets[r]:offsets[r + 1]`` (copied out and back: contiguous rows for
    :func:`_advance`) and takes ``counts[r]`` steps."""
    for r in numba.prange(counts.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        if counts[r] > 0:
            w, ar, br = np.ascontiguousarray(wt[:, lo:hi]), a[lo:hi].copy(), b[lo:hi].copy()
            _advance(w, ar, br, xs[r], ys[r], steps[r], counts[r], ridge, noise_std[r], noise[:, lo:hi], knots,
                     jumps, c0, c1, drift, fit)
            wt[:, lo:hi], a[lo:hi], b[lo:hi] = w, ar, br


@dataclass(frozen=True)
class DDRun:
    """Parameters at the recorded times: ``weights`` ``(n_times, N, d)``, ``output``
    and ``offset`` ``(n_times, N)`` (constant 1 and 0 unless the network fits them)."""

    times: Array
    weights: Array
    output: Array
    offset: Array


@dataclass(frozen=True)
class Member:
    """One run of an ensemble: its start ``(N, d)`` (and ``(N,)`` outputs and
    offsets), its time axis (ε and schedule) and its own Generator."""

    weights0: Array
    axis: TimeAxis
    rng: np.random.Generator
    output0: Array | None = None
    offset0: Array | None = None


def dd_sgd(model: Network | IsotropicGaussians, weights0: Array, axis: TimeAxis, times: Sequence[float], *,
           output0: Array | None = None, offset0: Array | None = None, lam: float = 0.0, beta: float = math.inf,
           rng: np.random.Generator, chunk: int = 2048) -> DDRun:
    """Run (noisy) SGD from ``weights0`` (``(N, d)``; ``output0``, ``offset0``:
    ``(N,)``, default 1 and 0) and record at ``times`` (on the grid ``t = kε``).

    Per chunk of steps it draws ``chunk`` samples ``(x, y)`` and then, for noisy
    runs, the ``(chunk, N, width)`` Gaussian increments, from ``rng``."""
    member = Member(weights0, axis, rng, output0, offset0)
    return dd_ensemble(model, [member], times, lam=lam, beta=beta, chunk=chunk)[0]


def dd_ensemble(model: Network | IsotropicGaussians, members: Sequence[Member], times: Sequence[float], *,
                lam: float = 0.0, beta: float = math.inf, chunk: int = 2048) -> list[DDRun]:
    """Independent SGD runs (each its own N, ε and Generator) advanced together in
    one compiled loop, one thread per run (``NUMBA_NUM_THREADS`` threads).

    Run ``r`` draws exactly what :func:`dd_sgd` would draw from ``members[r].rng``,
    so ``dd_ensemble(model, members, times)[r]`` equals ``dd_sgd`` of that member,
    bit for bit."""
    net = as_network(model)
    if len(members) == 0:
        raise ValueError("an ensemble needs at least one member")
    d, width = net.data.d, net.data.d + 2 if net.fit_output else net.data.d
    tau = temperature(beta)
    starts = [_start(net, member) for member in members]
    for member in members:
        check_lam_beta(lam, beta, member.axis.schedule)  # the PDE side's check, same messages
    sizes = [len(w) for w, _, _ in starts]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    wt = np.ascontiguousarray(np.concatenate([w for w, _, _ in starts]).T)
    a = np.concatenate([s[1] for s in starts])
    b = np.concatenate([s[2] for s in starts])
    marks = [record_steps(member.axis, times) for member in members]
    plans = [chunk_plan(k, max(16, min(chunk, 2**20 // (n * width))) if tau > 0 else chunk)
             for k, n in zip(marks, sizes, strict=True)]
    sigma = net.activation
    knots, jumps = np.array(sigma.knots, dtype=float), np.array(sigma.jumps, dtype=float)
    records: list[list[tuple[Array, Array, Array]]] = [[] for _ in members]
    for round_ in range(max(len(p) for p in plans)):
        active = [r for r, p in enumerate(plans) if round_ < len(p)]
        most = max(plans[r][round_].steps for r in active)
        xs, ys = np.zeros((len(members), most, d)), np.zeros((len(members), most))
        steps, stds = np.zeros((len(members), most)), np.zeros((len(members), most))
        noise = np.zeros((most, offsets[-1], width)) if tau > 0 else np.empty((0, 1, 1))
        counts = np.zeros(len(members), dtype=np.int64)
        for r in active:
            k0, m, _ = plans[r][round_]
            rng = members[r].rng
            xs[r, :m], ys[r, :m] = net.data.sample(m, rng)
            steps[r, :m] = members[r].axis.step_sizes(k0, k0 + m)
            stds[r, :m] = noise_scale(steps[r, :m], tau)
            if tau > 0:
                noise[:m, offsets[r]:offsets[r + 1]] = rng.standard_normal((m, sizes[r], width))
            counts[r] = m
        if len(members) == 1:  # one run: the serial kernel, no thread pool
            _advance(wt, a, b, xs[0], ys[0], steps[0], counts[0], lam, stds[0], noise, knots, jumps, sigma.offset,
                     sigma.slope, DRIFT, net.fit_output)
        else:
            _advance_all(wt, a, b, offsets, xs, ys, steps, counts, lam, stds, noise, knots, jumps, sigma.offset,
                         sigma.slope, DRIFT, net.fit_output)
        for r in active:
            if plans[r][round_].record:
                lo, hi = offsets[r], offsets[r + 1]
                records[r].append((wt[:, lo:hi].T.copy(), a[lo:hi].copy(), b[lo:hi].copy()))
    runs = []
    for member, k, record in zip(members, marks, records, strict=True):
        weights, output, offset = (np.array(v) for v in zip(*record, strict=True))
        runs.append(DDRun(member.axis.time(k), weights, output, offset))
    return runs


def _start(net: Network, member: Member) -> tuple[Array, Array, Array]:
    d = net.data.d
    w = np.array(member.weights0, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != d or len(w) < 1:
        raise ValueError(f"weights0 must have shape (N >= 1, d = {d}), got {w.shape}")
    a = _per_unit(member.output0, 1.0, len(w), "output0")
    b = _per_unit(member.offset0, 0.0, len(w), "offset0")
    if not net.fit_output and (np.any(a != 1) or np.any(b != 0)):
        raise ValueError("this network fixes a = 1 and b = 0: use Network(..., fit_output=True) to train them")
    return w, a, b


def _per_unit(values: Array | None, default: float, n: int, name: str) -> Array:
    if values is None:
        return np.full(n, default)
    out = np.array(values, dtype=np.float64)
    if out.shape != (n,) or not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must hold N = {n} finite numbers, got shape {out.shape}")
    return out


def population_risk(model: Network | IsotropicGaussians, weights: Array, output: Array | None = None,
                    offset: Array | None = None, nodes: int = 32) -> float:
    """``R_N = E y² + (2/N) Σ V(θ_i) + (1/N²) Σ_ij U(θ_i, θ_j)``, exactly (no sampling).

    In class ``y`` the pre-activations ``⟨w_i, x⟩ + b_i`` are jointly Gaussian
    with covariance ``W Σ_y Wᵀ``: ``V`` is the closed-form Gaussian mean of σ
    and each ``U`` pair is Gauss–Legendre in the first pre-activation (split at
    σ's kinks) and closed form in the second given the first."""
    net = as_network(model)
    sigma = net.activation
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    a, b = _per_unit(output, 1.0, n, "output"), _per_unit(offset, 0.0, n, "offset")
    linear, pair = 0.0, 0.0
    for y in (-1.0, 1.0):
        scaled = w * net.data.std(y)
        cov = scaled @ scaled.T
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        cosines = np.clip(cov / np.maximum(np.outer(sd, sd), 1e-300), -1.0, 1.0)
        mean_response = sigma.gaussian_mean(b, sd)
        linear += -0.5 * y * float(a @ mean_response)  # V(θ_i) = −E[y a_i σ(z_i)]
        for i in range(n):
            z, wz = gaussian_nodes(sigma, sd[i], nodes, shift=b[i])
            c, s = cosines[i, i:], sd[i:]
            inner = sigma.gaussian_mean(b[i:, None] + (s * c)[:, None] * z[None, :],
                                        (s * np.sqrt(1 - c**2))[:, None])
            values = a[i] * a[i:] * (inner @ (wz * sigma(b[i] + sd[i] * z)))
            pair += 0.5 * (values[0] + 2.0 * values[1:].sum())
    return 1.0 + 2.0 * linear / n + pair / n**2
