"""SGD and noisy SGD of the RBF network ``f̂(x) = (1/N) Σ_i K^δ(x − w_i)``
(Javanmard–Mondelli–Montanari 2020), one fresh sample per step:

    w_i ← w_i + 2 s_k (y_k − f̂(x_k)) ∇_w K^δ(x_k − w_i) + sqrt(4 s_k τ) g_i,

centres kept in Ω by reflection (or projection). Its mean increment is
``−2 s_k ∇Ψ^δ(w_i; ρ̂)`` with ``Ψ^δ(w; ρ) = (1/|Ω|) ∫ K^δ(x − w)(K^δ∗ρ − f) dx``, and
the constants (time axis, ``s_k``, the noise) come from :mod:`fempde.meanfield`.

``boundary="reflected"`` replaces ``K^δ(x − w)`` by the reflected kernel
``Σ_g K^δ(g x − w)`` of :mod:`fempde.fem.kernels` (a box only): the sample ``x``
is replaced by its mirror images :func:`~fempde.fem.kernels.mirror_images`
(``x`` alone unless it is within δ of a wall), the prediction is the sum of
the bumps at every image, and every image moves the centres as ``x`` does,
with the same residual — the gradient of the reflected kernel, since it
depends on ``w`` only through ``g x − w``.

A noisy run first draws one key from its ``numpy.random.Generator``, and the
compiled loop computes the Gaussian increments from that key
(:mod:`particles.noise`: normal ``(k dim + j) N + i`` of the stream is the
increment of step ``k``, coordinate ``j``, centre ``i``). Then the data and
label noise come from the Generator in blocks of
:data:`particles.plan.DATA_BLOCK` steps (:class:`particles.plan.BlockDraws`).
The same seed gives the same numbers, whatever the recording times and the
chunks.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.atomic import atomic_write
from fempde.checks import finite_array, generator, integer, number
from fempde.fem.kernels import BoxWalls, Kernel, check_boundary, mirror_images
from fempde.meanfield.axis import DRIFT, TimeAxis, noise_scale

from .domain import ConvexDomain, confine_inplace, first_crossing
from .noise import draw_key, fill_normals
from .plan import DATA_BLOCK, BlockDraws, chunk_plan, record_steps

__all__ = ["SGDRun", "rbf_sgd"]

Array = NDArray[np.float64]
Target = Callable[[Array], ArrayLike]

_BLOCK = 256  # centres per block of the compiled passes: a block's scratch rows stay in L1


@numba.njit(cache=True, fastmath=True, error_model="numpy")  # error_model: no division branches in the loops
def _sgd_chunk(centers: Array, xs: Array, ys: Array, steps: Array, noise_std: Array, key: np.uint64, first: int,
               power: int, constant: float, delta: float, normals: Array, offsets: Array, center: Array,
               inradius: float, reflect: bool, drift: float = DRIFT, lower: Array | None = None,
               upper: Array | None = None) -> None:  # pragma: no cover - compiled
    """The steps of one chunk; ``noise_std`` (one per step, empty: noiseless) scales
    normal ``first + (k dim + j) N + i`` of the stream ``key`` (step ``k``,
    coordinate ``j``, centre ``i``). ``lower``, ``upper``: the box of the reflected
    kernel (None: the kernel restricted to Ω).

    The centres are held transposed, ``(dim, N)``, so that every pass runs along
    the units and vectorises: the distances, the kernel's powers, and for noisy
    runs (where every centre moves) the moves, a block of centres at a time; a
    noisy centre goes through the faces only when its bound on the distance to
    ∂Ω runs out (:func:`_noisy_block`), so most steps test no face."""
    n, dim = centers.shape
    ct = np.ascontiguousarray(centers.T)
    inv_delta2 = 1.0 / (delta * delta)
    images = np.empty((2**dim, dim))  # the sample and its mirror images (boundary="reflected")
    level, weights, span = np.empty(_BLOCK), np.empty((images.shape[0], n)), np.empty(_BLOCK)
    noisy = noise_std.shape[0] > 0
    clearance = np.empty(n if noisy else 0)
    for i in range(clearance.shape[0]):
        clearance[i] = _clearance(ct, i, normals, offsets)
    noise, move = np.empty((dim, _BLOCK)), np.empty((dim, _BLOCK))
    point, rest = np.empty(dim), np.empty(dim)
    for k in range(xs.shape[0]):
        n_images = 1
        if lower is not None and upper is not None:  # (numba drops this branch when they are None)
            n_images = mirror_images(xs[k], lower, upper, delta, images)
        else:
            images[0] = xs[k]
        prediction = 0.0
        for g in range(n_images):
            for lo in range(0, n, _BLOCK):
                prediction += _kernel_block(ct, lo, min(_BLOCK, n - lo), images[g], inv_delta2, power, level,
                                            weights[g])
        prediction *= constant / n
        # ∇_w K^δ(x − w) = 2p c (1 − |x − w|²/δ²)^{p−1} (x − w)/δ²
        scale = drift * steps[k] * (ys[k] - prediction) * 2.0 * power * constant * inv_delta2
        if noisy:
            for lo in range(0, n, _BLOCK):  # a block of centres at a time: its passes stay in L1
                _noisy_block(ct, lo, min(_BLOCK, n - lo), images[:n_images], scale, noise_std[k], weights,
                             clearance, key, first + k * dim * n, noise, move, span, point, rest, normals, offsets,
                             center, inradius, reflect)
        else:
            for i in range(n):
                seen = False
                for d in range(dim):
                    rest[d] = 0.0
                for g in range(n_images):
                    if weights[g, i] != 0.0:  # off the kernel's support: no move
                        seen = True
                        for d in range(dim):
                            rest[d] += scale * weights[g, i] * (images[g, d] - ct[d, i])
                if seen:
                    _move_near_faces(ct, i, point, rest, normals, offsets, center, inradius, reflect)
    centers[:] = ct.T


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _kernel_block(ct: Array, lo: int, m: int, x: Array, inv_delta2: float, power: int, level: Array,
                  weights: Array) -> float:  # pragma: no cover - compiled
    """``weights[lo:lo+m]`` = ``(1 − |x − w_i|²/δ²)_+^(p−1)`` (0 off the support) of
    centres ``lo:lo+m``, and their sum of ``(1 − |x − w_i|²/δ²)_+^p`` (``level``:
    scratch of ``m`` or more)."""
    w, lv = weights[lo:lo + m], level[:m]
    for i in range(m):
        lv[i] = 0.0
    for d in range(ct.shape[0]):
        xd, row = x[d], ct[d, lo:lo + m]
        for i in range(m):
            lv[i] += (xd - row[i]) ** 2
    for i in range(m):
        s = 1.0 - lv[i] * inv_delta2
        inside = s > 0.0
        lv[i] = s if inside else 0.0
        w[i] = 1.0 if inside else 0.0
    for _ in range(power - 1):
        for i in range(m):
            w[i] *= lv[i]
    total = 0.0
    for i in range(m):
        total += w[i] * lv[i]
    return total


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _noisy_block(ct: Array, lo: int, m: int, images: Array, scale: float, std: float, weights: Array,
                 clearance: Array, key: np.uint64, first: int, noise: Array, move: Array, span: Array, point: Array,
                 rest: Array, normals: Array, offsets: Array, center: Array, inradius: float,
                 reflect: bool) -> None:  # pragma: no cover - compiled
    """The noisy moves of centres ``lo:lo+m`` of ``ct`` (``(dim, N)``), whose
    increments are normals ``first + j N + lo + i`` of the stream ``key``; the
    sample's images (``images[g]``, the sample itself first) pull them with
    the weights ``weights[g]``.

    Centre ``i`` carries a lower bound ``clearance[i]`` on its distance to ∂Ω,
    less the length of every move since it was computed: a move no longer than
    that crosses no face, so the test is one comparison; a centre whose bound
    runs out goes through the faces and gets a new bound. (``noise``, ``move``,
    ``span``: scratch.) The slices start at 0, so the loops vectorise without
    index checks."""
    dim, n = ct.shape
    clear, total = clearance[lo:lo + m], span[:m]
    for d in range(dim):
        fill_normals(key, first + d * n + lo, noise[d, :m])
    for i in range(m):
        total[i] = 0.0
    for d in range(dim):
        row, moved, g = ct[d, lo:lo + m], move[d, :m], noise[d, :m]
        for i in range(m):
            moved[i] = std * g[i]
        for image in range(images.shape[0]):
            xd, w = images[image, d], weights[image, lo:lo + m]
            for i in range(m):
                moved[i] += scale * w[i] * (xd - row[i])
        for i in range(m):
            total[i] += moved[i] * moved[i]
    for i in range(m):
        clear[i] -= np.sqrt(total[i]) * (1.0 + 1e-9) + 1e-15  # (the margin covers round-off)
    for d in range(dim):
        row, moved = ct[d, lo:lo + m], move[d, :m]
        for i in range(m):
            row[i] += moved[i] if clear[i] >= 0.0 else 0.0
    for i in range(m):
        if clear[i] < 0.0:  # near a face, or its bound used up: the exact move, a new bound
            for d in range(dim):
                rest[d] = move[d, i]
            _move_near_faces(ct, lo + i, point, rest, normals, offsets, center, inradius, reflect)
            clear[i] = _clearance(ct, lo + i, normals, offsets)


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _clearance(ct: Array, i: int, normals: Array, offsets: Array) -> float:  # pragma: no cover - compiled
    """The distance from centre ``i`` of ``ct`` (``(dim, N)``) to the nearest face
    (unit normals): Ω holds the ball of that radius around it."""
    nearest = np.inf
    for j in range(normals.shape[0]):
        height = offsets[j]
        for d in range(ct.shape[0]):
            height -= normals[j, d] * ct[d, i]
        nearest = min(nearest, height)
    return nearest


@numba.njit(inline="always")  # numba inlines it: a call with nine arrays costs more than the test
def _move_near_faces(ct: Array, i: int, point: Array, rest: Array, normals: Array, offsets: Array, center: Array,
                     inradius: float, reflect: bool) -> None:  # pragma: no cover - compiled
    """Move centre ``i`` of ``ct`` (``(dim, N)``) by ``rest`` (scratch, as is ``point``):
    directly when the move crosses no face (:func:`particles.domain.first_crossing`,
    the test :func:`confine_inplace` makes first), else through :func:`confine_inplace`."""
    dim = ct.shape[0]
    for d in range(dim):
        point[d] = ct[d, i]
    if first_crossing(point, rest, normals, offsets, center, inradius)[0] < 0:
        for d in range(dim):
            ct[d, i] += rest[d]
        return
    confine_inplace(point, rest, normals, offsets, center, inradius, reflect)
    for d in range(dim):
        ct[d, i] = point[d]


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
    centres at ``times`` (rounded to the SGD grid ``t = kε``; 0 allowed).

    ``target`` is ``f(x)`` with ``x`` of shape ``(dim, n)``; labels are
    ``y = f(x) + label_noise · N(0, 1)``. ``reflect``: centres that cross ∂Ω are
    reflected back (False: projected). ``boundary``: the network's bumps are
    ``"restricted"`` to Ω or ``"reflected"`` at its walls (module docstring; an
    axis-aligned box, δ at most half its shortest side), as in
    :class:`fempde.FiniteDeltaPorousMedium`.

    With ``checkpoint`` (an ``.npz`` path), the state at a chunk boundary —
    centres, step ``k``, the Generator's state, the records so far — is written
    atomically every ``checkpoint_every`` seconds, at the end, and when Ctrl-C
    interrupts (the state before the interrupted chunk). ``resume=True``
    continues from that file: the same seed's run, bit for bit.
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
    chunk = integer("chunk (SGD steps per compiled call)", chunk)
    checkpoint_every = number("checkpoint_every (seconds)", checkpoint_every, minimum=0)
    generator("rng", rng)
    walls = None
    if check_boundary(boundary) == "reflected":
        walls = BoxWalls.from_mesh(domain.mesh)
        walls.check_width(kernel.delta)
    marks = record_steps(axis, times)
    recorded: list[Array] = []
    k = 0
    if resume:
        if checkpoint is None:
            raise ValueError("resume=True needs the checkpoint path")
        k, centers, recorded, key = _load(Path(checkpoint), rng, marks, centers.shape, tau)
    else:
        key = draw_key(rng) if tau > 0 else 0  # the stream of the run's Gaussian increments

    def draw(m: int, generator: np.random.Generator) -> tuple[Array, Array]:
        xs = domain.sample(m, generator)
        ys = np.asarray(target(xs.T), dtype=np.float64).reshape(m)
        if not np.all(np.isfinite(ys)):
            bad = xs[~np.isfinite(ys)][0]
            raise ValueError(f"the target f is not finite at x = {bad.tolist()} (a sample of Ω): "
                             "SGD needs a finite f on the whole domain")
        if label_noise > 0:
            ys = ys + label_noise * generator.standard_normal(m)
        return xs, ys

    draws = BlockDraws(draw, rng, start=k)
    saver = _Saver(Path(checkpoint), checkpoint_every, key) if checkpoint is not None else None
    try:
        _advance(kernel, walls, axis, centers, marks, k, recorded, tau, domain, reflect, draws, chunk, key, saver)
    except KeyboardInterrupt:
        if saver is not None:
            saver.write_boundary()
        raise
    if saver is not None:
        saver.write_boundary()
    return SGDRun(axis.time(marks), np.array(recorded), marks)


class _Saver:
    """Keeps the state at the last chunk boundary and writes it when due."""

    def __init__(self, path: Path, every: float, key: int) -> None:
        self.path, self.every, self.key = path, every, key
        self.written_at = time.monotonic()
        self.boundary: dict[str, Any] | None = None
        self.recorded: list[Array] = []
        self.n_recorded = 0

    def at_boundary(self, k: int, centers: Array, recorded: list[Array], marks: NDArray[np.int64],
                    draws: BlockDraws) -> None:
        # the records are immutable copies: keep the list and how many belong to this boundary
        self.boundary = {"k": k, "centers": centers.copy(), "marks": marks,
                         "rng_state": json.dumps(draws.resume_state()), "data_block": DATA_BLOCK,
                         "noise_key": np.uint64(self.key)}
        self.recorded, self.n_recorded = recorded, len(recorded)
        if time.monotonic() - self.written_at >= self.every:
            self.write_boundary()

    def write_boundary(self) -> None:
        if self.boundary is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        boundary = self.boundary
        shape = (self.n_recorded, *boundary["centers"].shape)
        recorded = np.array(self.recorded[: self.n_recorded]).reshape(shape)
        atomic_write(self.path, lambda tmp: np.savez(tmp, recorded=recorded, **boundary))
        self.written_at = time.monotonic()


def _load(path: Path, rng: np.random.Generator, marks: NDArray[np.int64],
          shape: tuple[int, ...], tau: float) -> tuple[int, Array, list[Array], int]:
    if not path.is_file():
        raise FileNotFoundError(f"no SGD checkpoint at {path}")
    try:
        with np.load(path) as archive:
            data = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} is damaged or truncated ({type(err).__name__}: {err}); delete it to "
                         f"start that seed afresh, or run without resume") from None
    missing = sorted({"marks", "centers", "rng_state", "k", "recorded"} - set(data))
    if missing:
        raise ValueError(f"checkpoint {path} lacks {', '.join(missing)}: not an SGD checkpoint of fempde; delete it "
                         f"or run without resume")
    if not np.array_equal(data["marks"], marks) or data["centers"].shape != shape:
        raise ValueError(f"checkpoint {path} belongs to another run (record times or N differ)")
    if "data_block" not in data or int(data["data_block"]) != DATA_BLOCK:
        raise ValueError(f"checkpoint {path} was written by an older fempde, which drew the data per chunk (this "
                         f"one draws them in blocks of {DATA_BLOCK} steps): run again without resume=True")
    if tau > 0 and "noise_key" not in data:
        raise ValueError(f"checkpoint {path} has no noise key, and this run is noisy (tau = {tau}): run again "
                         "without resume=True")
    rng.bit_generator.state = json.loads(str(data["rng_state"]))
    key = int(data["noise_key"]) if tau > 0 else 0
    return int(data["k"]), np.array(data["centers"]), list(np.array(data["recorded"])), key


def _advance(kernel: Kernel, walls: BoxWalls | None, axis: TimeAxis, centers: Array, marks: NDArray[np.int64], k: int,
             recorded: list[Array], tau: float, domain: ConvexDomain, reflect: bool, draws: BlockDraws, chunk: int,
             key: int, saver: _Saver | None) -> None:
    """The chunk loop from step ``k`` (the marks before it are in ``recorded``): take
    a chunk of data, run the compiled steps, record at the marks."""
    box: dict[str, Any] = {} if walls is None else {"lower": walls.lower, "upper": walls.upper}  # restricted: as before
    for start, m, record in chunk_plan(marks[len(recorded):], chunk, start=k):
        if m > 0:
            if saver is not None:
                saver.at_boundary(start, centers, recorded, marks, draws)
            xs, ys = draws.take(start, m)
            steps = axis.step_sizes(start, start + m)
            stds = noise_scale(steps, tau) if tau > 0 else np.empty(0)
            _sgd_chunk(centers, xs, ys, steps, stds, np.uint64(key), start * centers.size, kernel.power,
                       kernel.constant, kernel.delta, domain.normals, domain.offsets, domain.center, domain.inradius,
                       reflect, **box)
            k = start + m
        if record:
            recorded.append(centers.copy())
    if saver is not None:
        saver.at_boundary(k, centers, recorded, marks, draws)
