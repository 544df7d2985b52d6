"""An optional GPU path for the two-layer network's SGD: an ensemble of runs
with the same N advanced together as batched tensor operations in PyTorch —
on a CUDA device where there is one, else on the CPU. Nothing else in fempde
needs it, and PyTorch is not a dependency: install it to use this module.

Per step, for all R runs at once: ``z = W x + b`` (a batched matrix-vector
product), the hinge sum and its slope, the prediction, and the rank-one update
``W ← (1 − 2λs) W + 2s (y − ŷ) (a σ'(z)) xᵀ`` (plus the noise). The data
``(x, y)`` are drawn from each run's own :class:`numpy.random.Generator` in
blocks of :data:`particles.plan.DATA_BLOCK` steps, exactly as
:func:`particles.dd_ensemble` draws them (:class:`particles.plan.BlockDraws`), so a noiseless
ensemble agrees with it to round-off (the sums run in another order); for a
noisy one the noise is drawn on the device from a generator seeded by one
integer from the first run's Generator (same seeds, same numbers on the same
device).

It pays for large ensembles or large N: each step is a handful of kernel
launches whatever R is (``benchmarks/sgd.py --gpu`` measures it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import DRIFT, TimeAxis, check_lam_beta, noise_scale, temperature
from fempde.problems import IsotropicGaussians

from .dd import DDRun, Network, as_network
from .plan import BlockDraws, chunk_plan, record_steps

__all__ = ["dd_ensemble_torch", "torch_device"]

Array = NDArray[np.float64]


def torch_device(prefer: str | None = None) -> Any:
    """The device to run on: ``prefer`` if given, else CUDA where available, else the CPU.
    Raises ImportError with the install command when PyTorch is missing."""
    try:
        import torch
    except ImportError:
        raise ImportError("the GPU path needs PyTorch: pip install torch (see https://pytorch.org for CUDA builds)")\
            from None
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def dd_ensemble_torch(model: Network | IsotropicGaussians, weights0: Array, axis: TimeAxis, times: Sequence[float],
                      rngs: Sequence[np.random.Generator], *, lam: float = 0.0, beta: float = math.inf,
                      chunk: int = 2048, device: str | None = None, dtype: str = "float64") -> list[DDRun]:
    """SGD of ``R`` runs from ``weights0`` (``(R, N, d)``) on one time axis, each
    with its own Generator (``rngs``, length R), recorded at ``times``; returns
    one :class:`DDRun` per run. Networks with fixed ``a = 1``, ``b = 0`` only."""
    import torch

    net = as_network(model)
    if net.fit_output:
        raise ValueError("the GPU path trains w only (fit_output=False); use particles.dd_ensemble for (w, a, b)")
    w0 = np.asarray(weights0, dtype=np.float64)
    d = net.data.d
    if w0.ndim != 3 or w0.shape[2] != d or w0.shape[0] < 1 or w0.shape[1] < 1:
        raise ValueError(f"weights0 must have shape (R >= 1 runs, N >= 1, d = {d}), got {w0.shape}")
    if len(rngs) != len(w0):
        raise ValueError(f"need one Generator per run: {len(w0)} runs, {len(rngs)} Generators")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    check_lam_beta(lam, beta, axis.schedule)
    tau = temperature(beta)
    where = torch_device(device)
    kind = getattr(torch, dtype)
    runs, n = w0.shape[:2]
    w = torch.tensor(w0, dtype=kind, device=where)
    sigma = net.activation
    knots = torch.tensor(np.array(sigma.knots, dtype=float), dtype=kind, device=where)
    jumps = torch.tensor(np.array(sigma.jumps, dtype=float), dtype=kind, device=where)
    noise_source = torch.Generator(device=where)
    if tau > 0:  # one integer from the first run's Generator seeds the device's (noiseless runs draw nothing)
        noise_source.manual_seed(int(rngs[0].integers(2**63 - 1)))
    records: list[NDArray[np.float64]] = []
    marks = record_steps(axis, times)
    draws = [BlockDraws(net.data.sample, rng) for rng in rngs]  # the data: after the noise seed, in blocks
    for k0, m, record in chunk_plan(marks, chunk):
        if m > 0:
            samples = [block.take(k0, m) for block in draws]
            xs = torch.tensor(np.stack([x for x, _ in samples], axis=1), dtype=kind, device=where)  # (m, R, d)
            ys = torch.tensor(np.stack([y for _, y in samples], axis=1), dtype=kind, device=where)  # (m, R)
            steps = axis.step_sizes(k0, k0 + m)
            stds = noise_scale(steps, tau)
            for k in range(m):
                x = xs[k]
                z = torch.bmm(w, x.unsqueeze(2)).squeeze(2)  # (R, N)
                above = z.unsqueeze(2) - knots  # (R, N, K)
                on = (above > 0).to(kind)
                act = sigma.offset + sigma.slope * z + (jumps * above * on).sum(dim=2)
                slope = sigma.slope + (jumps * on).sum(dim=2)
                coef = DRIFT * float(steps[k]) * (ys[k] - act.mean(dim=1))  # (R,)
                if lam > 0:
                    w.mul_(1.0 - DRIFT * lam * float(steps[k]))
                w.add_((coef.unsqueeze(1) * slope).unsqueeze(2) * x.unsqueeze(1))
                if tau > 0:
                    w.add_(torch.randn(w.shape, generator=noise_source, dtype=kind, device=where), alpha=float(stds[k]))
        if record:
            records.append(w.to("cpu", torch.float64).numpy().copy())
    stacked = np.stack(records, axis=1)  # (R, n_times, N, d)
    ones, zeros = np.ones((len(marks), n)), np.zeros((len(marks), n))
    return [DDRun(axis.time(marks), stacked[r], ones, zeros) for r in range(runs)]
