"""The optional PyTorch path (run here on whatever device torch picks; skipped
where PyTorch is not installed, as in CI)."""

import copy

import numpy as np
import pytest

import fempde

torch = pytest.importorskip("torch")


def test_torch_ensemble_is_the_compiled_ensemble(rng):
    from particles.dd import Member, dd_ensemble
    from particles.gpu import dd_ensemble_torch

    model = fempde.IsotropicGaussians(0.8, 6)
    w0 = rng.standard_normal((3, 20, 6)) * 0.3
    generators = rng.spawn(3)
    axis, times = fempde.TimeAxis(1e-3), [0.0, 0.1, 0.3]
    on_torch = dd_ensemble_torch(model, w0, axis, times, copy.deepcopy(generators), lam=0.05, chunk=64)
    compiled = dd_ensemble(model, [Member(w, axis, g) for w, g in zip(w0, generators, strict=True)], times,
                           lam=0.05, chunk=64)
    for a, b in zip(on_torch, compiled, strict=True):
        np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-11)
        np.testing.assert_array_equal(a.times, b.times)


def test_torch_noise_same_seed_same_numbers_and_the_law_of_the_cpu_runs(rng):
    from particles.dd import Member, dd_ensemble
    from particles.gpu import dd_ensemble_torch

    model = fempde.IsotropicGaussians(0.8, 4)
    runs, axis = 200, fempde.TimeAxis(1e-3)
    w0 = np.zeros((runs, 5, 4))
    seeds, other_seeds, cpu_seeds = (rng.spawn(runs) for _ in range(3))

    def run(generators):
        return dd_ensemble_torch(model, w0, axis, [0.05], copy.deepcopy(generators), beta=20.0)

    first, again, other = run(seeds), run(seeds), run(other_seeds)
    np.testing.assert_array_equal(first[0].weights, again[0].weights)
    assert not np.array_equal(first[0].weights, other[0].weights)
    # the same law as the compiled runs: the spread of w after 50 noisy steps (4000 numbers each)
    cpu = dd_ensemble(model, [Member(w, axis, g) for w, g in zip(w0, cpu_seeds, strict=True)], [0.05], beta=20.0)
    spread_torch = np.var([r.weights[-1] for r in first])
    spread_cpu = np.var([r.weights[-1] for r in cpu])
    assert spread_torch == pytest.approx(spread_cpu, rel=0.1)


def test_torch_bad_input_is_named(rng):
    from particles.dd import GaussianClasses, Network
    from particles.gpu import dd_ensemble_torch

    model = fempde.IsotropicGaussians(0.8, 4)
    rngs = [rng]
    with pytest.raises(ValueError, match=r"weights0 must have shape \(R >= 1 runs, N >= 1, d = 4\)"):
        dd_ensemble_torch(model, np.zeros((5, 4)), fempde.TimeAxis(1e-3), [0.1], rngs)
    with pytest.raises(ValueError, match="one Generator per run: 2 runs, 1 Generators"):
        dd_ensemble_torch(model, np.zeros((2, 5, 4)), fempde.TimeAxis(1e-3), [0.1], rngs)
    with pytest.raises(ValueError, match="trains w only"):
        dd_ensemble_torch(Network(GaussianClasses(0.5, 4), "relu", fit_output=True), np.zeros((1, 5, 4)),
                          fempde.TimeAxis(1e-3), [0.1], rngs)
