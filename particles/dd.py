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

from fempde.checks import finite_array, generator, integer
from fempde.meanfield import DRIFT, GaussianClasses, TimeAxis, check_lam_beta, noise_scale, temperature
from fempde.problems import Hinges, IsotropicGaussians, activation

from .noise import draw_key, fill_normals
from .plan import BlockDraws, chunk_plan, record_steps

__all__ = [
    "DDRun", "GaussianClasses", "Member", "Network", "as_network", "dd_ensemble", "dd_sgd", "population_risk",
    "sample_isotropic",
]

Array = NDArray[np.float64]
Knots = tuple[float, ...]


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


# In the kernels, fastmath lets LLVM vectorise the loops over units (deterministic: the same code gives the
# same sums) and error_model="numpy" drops the ZeroDivisionError branches that would stop it.
@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _hinge(z: Array, a: Array, act: Array, g: Array, knots: Knots, jumps: Knots, c0: float,
           c1: float) -> float:  # pragma: no cover - compiled
    """``act = σ(z)``, ``g = a σ'(z)`` and the sum ``Σ a σ(z)``, with
    ``σ(z) = c0 + c1 z + Σ_q jumps_q (z − knots_q)_+`` branch-free. The knots
    come as tuples: their number is part of the type, so the loop over them
    unrolls and the one pass over the units vectorises."""
    prediction = 0.0
    for i in range(z.shape[0]):
        zi = z[i]
        s, slope = c0 + c1 * zi, c1
        for q in range(len(knots)):
            h = zi - knots[q]
            on = 1.0 if h > 0.0 else 0.0
            s += jumps[q] * h * on
            slope += jumps[q] * on
        act[i] = s
        g[i] = a[i] * slope
        prediction += a[i] * s
    return prediction


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _rows8(wt: Array, j: int, g: Array, z: Array, x: Array, x_next: Array, shrink: float, noise: Array,
           std: float) -> None:  # pragma: no cover - compiled
    """Rows ``j:j+8`` of ``Wᵀ``: ``w ← shrink w + x_j g (+ std noise)`` and, in the same
    pass, ``z += Σ_j w x_next_j`` for the next step's input ``x_next``: each weight is loaded and
    stored once a step, ``z`` and ``g`` once per eight rows (written out: LLVM
    vectorises this form along the units, not a loop over the eight rows)."""
    n = wt.shape[1]
    r0, r1, r2, r3, r4, r5, r6, r7 = wt[j], wt[j + 1], wt[j + 2], wt[j + 3], wt[j + 4], wt[j + 5], wt[j + 6], \
        wt[j + 7]
    x0, x1, x2, x3, x4, x5, x6, x7 = x[j], x[j + 1], x[j + 2], x[j + 3], x[j + 4], x[j + 5], x[j + 6], x[j + 7]
    v0, v1, v2, v3, v4, v5, v6, v7 = x_next[j], x_next[j + 1], x_next[j + 2], x_next[j + 3], x_next[j + 4], \
        x_next[j + 5], x_next[j + 6], x_next[j + 7]
    if noise.shape[0] == 0 and shrink == 1.0:  # no ridge: one FMA a weight
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] + x0 * gi, r1[i] + x1 * gi, r2[i] + x2 * gi, r3[i] + x3 * gi
            w4, w5, w6, w7 = r4[i] + x4 * gi, r5[i] + x5 * gi, r6[i] + x6 * gi, r7[i] + x7 * gi
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)
    elif noise.shape[0] == 0:
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] * shrink + x0 * gi, r1[i] * shrink + x1 * gi, r2[i] * shrink + x2 * gi, \
                r3[i] * shrink + x3 * gi
            w4, w5, w6, w7 = r4[i] * shrink + x4 * gi, r5[i] * shrink + x5 * gi, r6[i] * shrink + x6 * gi, \
                r7[i] * shrink + x7 * gi
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)
    else:
        e0, e1, e2, e3, e4, e5, e6, e7 = noise[j], noise[j + 1], noise[j + 2], noise[j + 3], noise[j + 4], \
            noise[j + 5], noise[j + 6], noise[j + 7]
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] * shrink + x0 * gi + std * e0[i], r1[i] * shrink + x1 * gi + std * e1[i], \
                r2[i] * shrink + x2 * gi + std * e2[i], r3[i] * shrink + x3 * gi + std * e3[i]
            w4, w5, w6, w7 = r4[i] * shrink + x4 * gi + std * e4[i], r5[i] * shrink + x5 * gi + std * e5[i], \
                r6[i] * shrink + x6 * gi + std * e6[i], r7[i] * shrink + x7 * gi + std * e7[i]
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _advance(wt: Array, a: Array, b: Array, xs: Array, ys: Array, steps: Array, count: int, ridge: float,
             noise_std: Array, key: np.uint64, first: int, knots: Knots, jumps: Knots, c0: float, c1: float,
             drift: float, fit: bool) -> None:  # pragma: no cover - compiled
    """``count`` steps of one run. ``wt`` is ``Wᵀ`` (``(d, N)``, C order), so the
    pass over the weights runs along contiguous rows of units; one pass a step
    updates the weights of step ``k`` and accumulates the pre-activations of
    step ``k + 1`` at once. With ``noise_std`` (one per step; empty: noiseless)
    the noise of step ``k`` and parameter row ``j`` (``w_j``, then ``a``, ``b``),
    unit ``i``, is normal ``first + (k width + j) N + i`` of the stream ``key``.
    ``xs`` and ``ys``: the inputs and labels of the ``count`` steps."""
    d, n = wt.shape
    width = d + 2 if fit else d
    noisy = noise_std.shape[0] > 0
    z, z_next, act, g = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    noise = np.empty((width if noisy else 0, n))
    no_next = np.zeros(d)  # the "next input" of the last step: its pre-activations are not needed
    if count > 0:
        for i in range(n):
            z[i] = b[i]
        for j in range(d):
            xj = xs[0, j]
            for i in range(n):
                z[i] += wt[j, i] * xj
    for k in range(count):
        x = xs[k]
        prediction = _hinge(z, a, act, g, knots, jumps, c0, c1)
        coef = drift * steps[k] * (ys[k] - prediction / n)
        shrink = 1.0 - drift * ridge * steps[k]
        std = noise_std[k] if noisy else 0.0
        if noisy:
            fill_normals(key, first + k * width * n, noise.reshape(width * n))
        for i in range(n):
            g[i] *= coef
        if fit:
            for i in range(n):
                a[i] = shrink * a[i] + coef * act[i]
                b[i] = shrink * b[i] + g[i]
            if noisy:
                for i in range(n):
                    a[i] += std * noise[d, i]
                    b[i] += std * noise[d + 1, i]
        x_next = xs[k + 1] if k + 1 < count else no_next
        for i in range(n):
            z_next[i] = b[i]
        tiled = d - d % 8
        for j in range(0, tiled, 8):
            _rows8(wt, j, g, z_next, x, x_next, shrink, noise, std)
        for j in range(tiled, d):
            row, xj, vj = wt[j], x[j], x_next[j]
            for i in range(n):
                w = row[i] * shrink + xj * g[i]
                if noisy:
                    w += std * noise[j, i]
                row[i] = w
                z_next[i] += w * vj
        z, z_next = z_next, z


@numba.njit(cache=True, parallel=True)
def _advance_all(wt: Array, a: Array, b: Array, offsets: NDArray[np.int64], xs: Array, ys: Array, steps: Array,
                 counts: NDArray[np.int64], ridge: float, noise_std: Array, keys: NDArray[np.uint64],
                 firsts: NDArray[np.int64], knots: Knots, jumps: Knots, c0: float, c1: float, drift: float,
                 fit: bool) -> None:  # pragma: no cover - compiled
    """Every run of an ensemble, one thread per run: run ``r`` owns units
    ``offsets[r]:offsets[r + 1]`` (copied out and back: contiguous rows for
    :func:`_advance`), takes ``counts[r]`` steps and draws its noise from
    stream ``keys[r]`` from normal ``firsts[r]``."""
    for r in numba.prange(counts.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        if counts[r] > 0:
            w, ar, br = np.ascontiguousarray(wt[:, lo:hi]), a[lo:hi].copy(), b[lo:hi].copy()
            _advance(w, ar, br, xs[r], ys[r], steps[r], counts[r], ridge, noise_std[r], keys[r], firsts[r], knots,
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

    A noisy run first draws one key from ``rng`` (:func:`particles.noise.draw_key`);
    the compiled loop computes its Gaussian increments from that key
    (:mod:`particles.noise`). Then it draws the samples ``(x, y)`` from ``rng``
    in blocks of :data:`particles.plan.DATA_BLOCK` steps
    (:class:`particles.plan.BlockDraws`): the same seed gives the same run
    whatever the recording ``times`` and ``chunk`` (the steps per compiled call)."""
    member = Member(weights0, axis, generator("rng", rng), output0, offset0)
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
    chunk = integer("chunk (SGD steps per compiled call)", chunk)
    for r, member in enumerate(members):
        generator(f"members[{r}].rng", member.rng)
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
    plans = [chunk_plan(k, chunk) for k in marks]
    keys = np.array([draw_key(member.rng) if tau > 0 else 0 for member in members], dtype=np.uint64)
    draws = [BlockDraws(net.data.sample, member.rng) for member in members]  # after the key, as dd_sgd draws
    sigma = net.activation
    knots = tuple(float(t) for t in sigma.knots) or (0.0,)  # a kinkless σ: one knot that jumps by 0
    jumps = tuple(float(t) for t in sigma.jumps) or (0.0,)
    records: list[list[tuple[Array, Array, Array]]] = [[] for _ in members]
    for round_ in range(max(len(p) for p in plans)):
        active = [r for r, p in enumerate(plans) if round_ < len(p)]
        most = max(plans[r][round_].steps for r in active)
        xs, ys = np.zeros((len(members), most, d)), np.zeros((len(members), most))
        steps, stds = np.zeros((len(members), most)), np.zeros((len(members), most if tau > 0 else 0))
        counts, firsts = np.zeros(len(members), dtype=np.int64), np.zeros(len(members), dtype=np.int64)
        for r in active:
            k0, m, _ = plans[r][round_]
            if m > 0:
                xs[r, :m], ys[r, :m] = draws[r].take(k0, m)
            steps[r, :m] = members[r].axis.step_sizes(k0, k0 + m)
            if tau > 0:
                stds[r, :m] = noise_scale(steps[r, :m], tau)
            counts[r], firsts[r] = m, k0 * width * sizes[r]
        if len(members) == 1:  # one run: the serial kernel, no thread pool
            _advance(wt, a, b, xs[0], ys[0], steps[0], counts[0], lam, stds[0], keys[0], firsts[0], knots, jumps,
                     sigma.offset, sigma.slope, DRIFT, net.fit_output)
        else:
            _advance_all(wt, a, b, offsets, xs, ys, steps, counts, lam, stds, keys, firsts, knots, jumps,
                         sigma.offset, sigma.slope, DRIFT, net.fit_output)
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
    w = finite_array("weights0", w)
    a = _per_unit(member.output0, 1.0, len(w), "output0")
    b = _per_unit(member.offset0, 0.0, len(w), "offset0")
    if not net.fit_output and (np.any(a != 1) or np.any(b != 0)):
        raise ValueError("this network fixes a = 1 and b = 0: use Network(..., fit_output=True) to train them")
    return w, a, b


def _per_unit(values: Array | None, default: float, n: int, name: str) -> Array:
    if values is None:
        return np.full(n, default)
    return finite_array(name, values, (n,))


def population_risk(model: Network | IsotropicGaussians, weights: Array, output: Array | None = None,
                    offset: Array | None = None, nodes: int = 32) -> float:
    """``R_N = E y² − (2/N) Σ E[y σ*_i] + (1/N²) Σ_ij U(θ_i, θ_j)`` of units ``a σ(⟨w_i, x⟩ + b_i)``
    (``output``, ``offset``: default 1 and 0), exactly: :func:`fempde.model.risk.population_risk`'s
    method for ridge units on Gaussian classes (``nodes`` is no longer used)."""
    from fempde.model import TRAINED, Ridge, gaussian_classes
    from fempde.model.gaussian_risk import ridge_gaussian_moments

    net = as_network(model)
    w = finite_array("weights", weights, (None, net.data.d))
    n = len(w)
    a, b = _per_unit(output, 1.0, n, "output"), _per_unit(offset, 0.0, n, "offset")
    unit = Ridge(net.activation, net.data.d, output=TRAINED, bias=TRAINED)
    data = gaussian_classes(net.data.delta, net.data.d, net.data.relevant)
    return ridge_gaussian_moments(unit, data, np.column_stack([w, a, b]), np.full(n, 1.0 / n)).risk().value
