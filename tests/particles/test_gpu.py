"""The optional PyTorch path (run here on whatever device torch picks; skipped
where PyTorch is not installed, as in CI)."""

import copy

import numpy as np
import pytest

import fempde

torch = pytest.importorskip("torch")


def test_torch_ensemble_is_the_compiled_ensemble(rng):
    import particles
    from fempde.model import mmn_isotropic
    from particles.gpu import dd_ensemble_torch

    model = fempde.IsotropicGaussians(0.8, 6)
    w0 = rng.standard_normal((3, 20, 6)) * 0.3
    generators = rng.spawn(3)
    axis, times = fempde.TimeAxis(1e-3), [0.0, 0.1, 0.3]
    on_torch = dd_ensemble_torch(model, w0, axis, times, copy.deepcopy(generators), lam=0.05, chunk=64)
    compiled = particles.ensemble(mmn_isotropic(0.8, 6, lam=0.05),
                                  [particles.Member(w, axis, g) for w, g in zip(w0, generators, strict=True)], times,
                                  chunk=64)
    for a, b in zip(on_torch, compiled, strict=True):
        np.testing.assert_allclose(a.weights, b.theta, rtol=0, atol=1e-11)
        np.testing.assert_array_equal(a.times, b.times)


def test_torch_noise_same_seed_same_numbers_and_the_law_of_the_cpu_runs(rng):
    import particles
    from fempde.model import mmn_isotropic
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
    cpu = particles.ensemble(mmn_isotropic(0.8, 4, beta=20.0),
                             [particles.Member(w, axis, g) for w, g in zip(w0, cpu_seeds, strict=True)], [0.05])
    spread_torch = np.var([r.weights[-1] for r in first])
    spread_cpu = np.var([r.theta[-1] for r in cpu])
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


def test_engine_ensemble_on_the_device_is_the_compiled_one_noisy_too(rng):
    """particles.ensemble(device="cpu"): ridge units a tanh(⟨w, x⟩ + b) with a and b
    trained, ridge λ and noise: each run equals its compiled run to round-off (1e-11),
    the noise being the engine's counter-based normals computed on the device."""
    import particles
    from fempde.model import TRAINED, Gaussian, MeanFieldModel, Ridge, gaussian_classes

    unit = Ridge("tanh", 4, output=TRAINED, bias=TRAINED)
    model = MeanFieldModel(unit, gaussian_classes(0.6, 4), Gaussian(np.zeros(6), 0.5), lam=0.02, beta=300.0)
    members = [particles.Member(model.sample_initial(15, g), model.axis(1e-3), g) for g in rng.spawn(3)]
    times = [0.0, 0.2, 0.5]
    on_device = particles.ensemble(model, copy.deepcopy(members), times, device="cpu", chunk=100)
    compiled = particles.ensemble(model, members, times, chunk=100)
    for a, b in zip(on_device, compiled, strict=True):
        np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-11)
    assert np.abs(compiled[0].theta[-1] - compiled[0].theta[0]).max() > 0.01


def test_device_ensembles_refuse_what_they_do_not_run(rng):
    import numba

    import particles
    from fempde.model import Compiled, Gaussian, MeanFieldModel, Ridge, gaussian_classes

    sigma = Compiled(numba.njit(lambda z: z), numba.njit(lambda z: 1.0))
    model = MeanFieldModel(Ridge(sigma, 2), gaussian_classes(0.5, 2), Gaussian(np.zeros(2), 0.5))
    member = particles.Member(np.zeros((4, 2)), model.axis(1e-3), rng)
    with pytest.raises(ValueError, match="is compiled for the CPU .*run this one with device=None"):
        particles.ensemble(model, [member], [0.1], device="cpu")
    model = MeanFieldModel(Ridge("relu", 2), gaussian_classes(0.5, 2), Gaussian(np.zeros(2), 0.5))
    other = particles.Member(np.zeros((5, 2)), model.axis(1e-3), rng)
    with pytest.raises(ValueError, match=r"members\[1\] has another N or time axis than members\[0\]"):
        particles.ensemble(model, [member, other], [0.1], device="cpu")
