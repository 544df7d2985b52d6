"""The two-layer network's ensembles on a device (PyTorch), through the engine:
:func:`dd_ensemble_torch` is :func:`particles.ensemble` with ``device`` of
:func:`particles.dd.declaration`, kept for the callers of this interface
(:mod:`particles.kernels.tensors` holds the tensor step). PyTorch is not a
dependency: install it to use this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import TimeAxis
from fempde.problems import IsotropicGaussians

from . import engine
from .dd import DDRun, Network, _dd_run, as_network, declaration
from .kernels.tensors import torch_device

__all__ = ["dd_ensemble_torch", "torch_device"]

Array = NDArray[np.float64]


def dd_ensemble_torch(model: Network | IsotropicGaussians, weights0: Array, axis: TimeAxis, times: Sequence[float],
                      rngs: Sequence[np.random.Generator], *, lam: float = 0.0, beta: float = math.inf,
                      chunk: int = 2048, device: str | None = None, dtype: str = "float64") -> list[DDRun]:
    """SGD of ``R`` runs from ``weights0`` (``(R, N, d)``) on one time axis, each
    with its own Generator (``rngs``, length R), recorded at ``times``; returns
    one :class:`DDRun` per run, each the compiled run of its Generator up to
    round-off. Networks with fixed ``a = 1``, ``b = 0`` only; float64 only."""
    net = as_network(model)
    if net.fit_output:
        raise ValueError("the GPU path trains w only (fit_output=False); use particles.ensemble of "
                         "particles.dd.declaration for (w, a, b)")
    w0 = np.asarray(weights0, dtype=np.float64)
    d = net.data.d
    if w0.ndim != 3 or w0.shape[2] != d or w0.shape[0] < 1 or w0.shape[1] < 1:
        raise ValueError(f"weights0 must have shape (R >= 1 runs, N >= 1, d = {d}), got {w0.shape}")
    if len(rngs) != len(w0):
        raise ValueError(f"need one Generator per run: {len(w0)} runs, {len(rngs)} Generators")
    if dtype != "float64":
        raise ValueError(f"the engine runs in float64 (its runs agree with the compiled ones to round-off), got "
                         f"dtype {dtype!r}")
    members = [engine.Member(w, axis, rng) for w, rng in zip(w0, rngs, strict=True)]
    where = str(torch_device(device))
    runs = engine.ensemble(declaration(net, lam=lam, beta=beta, schedule=axis.schedule), members, times,
                           chunk=chunk, device=where)
    return [_dd_run(net, run) for run in runs]
