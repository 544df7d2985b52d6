"""The engine's compiled steps: the mean increment of one step is −DRIFT s ∇Ψ_λ for
every kind of unit, the specialised kernels give the generic kernel's numbers on
the same draws, and a user's own compiled activation the built-in one's."""

import copy
import math

import numba
import numpy as np
import pytest

import fempde
import meshes
import particles
from fempde.fem.kernels import BoxWalls
from fempde.meanfield import DRIFT
from fempde.model import (
    TRAINED,
    Bump,
    Compiled,
    Gaussian,
    GaussianMixture,
    Homogeneous,
    MeanFieldModel,
    MeshDensity,
    Ridge,
    SphereLaw,
    TeacherData,
    UniformData,
)
from particles.batch import Batch
from particles.domain import ConvexDomain
from particles.kernels import Walls, stepper


@numba.njit
def user_tanh(z):
    return math.tanh(z)


@numba.njit
def user_tanh_slope(z):
    return 1.0 - math.tanh(z) ** 2


def _mixture(d):
    return GaussianMixture([0.4, 0.6], [np.full(d, -0.5), np.full(d, 0.7)], [np.full(d, 0.8), np.full(d, 1.1)],
                           [-1.0, 2.0])


def _ridge(activation="tanh", d=3, **kwargs):
    unit = Ridge(activation, d, output=TRAINED, bias=TRAINED)
    return MeanFieldModel(unit, _mixture(d), Gaussian(np.zeros(unit.dim), 0.7), **kwargs)


def _rbf(**kwargs):
    mesh = meshes.interval(0, 1, 0.01)
    return MeanFieldModel(Bump("triweight", 1, 0.2), UniformData(mesh, lambda x: 6 * x[0] * (1 - x[0])),
                          MeshDensity(mesh), domain=mesh, **kwargs)


def _teacher(**kwargs):
    return MeanFieldModel(Homogeneous(2), TeacherData(fempde.Teacher.default()), SphereLaw(0.5, 0.2), **kwargs)


def _one_steps(model, theta, s, samples, rng, kernel):
    """``samples`` independent single steps from ``theta``, one fresh sample each:
    the increments ``(samples, N, D)`` and the kernel's name."""
    domain = None if model.domain is None else ConvexDomain.from_mesh(model.domain)
    step = stepper(model, Batch(1), Walls(domain), kernel)
    x, y = model.data.sample(samples, rng)
    increments = np.empty((samples, *theta.shape))
    for q in range(samples):
        moved = theta.copy()
        step.advance(moved, x[q].reshape(1, 1, -1), y[q].reshape(1, 1), np.ones(1), 1, np.full(1, s), np.zeros(0), 0,
                     0, model.output_scale(len(theta)))
        increments[q] = moved - theta
    return increments, step.name


CASES = {
    "ridge tanh, a and b trained, ridge λ": (lambda: _ridge(lam=0.3), "ridge",
                                             np.array([[0.4, -0.3, 0.2, 0.8, 0.1], [-0.6, 0.2, 0.1, -1.1, 0.3],
                                                       [0.1, 0.9, -0.3, 0.5, -0.4]])),
    "RBF bumps on an interval": (_rbf, "bump", np.array([[0.3], [0.45], [0.5], [0.62], [0.7]])),
    "2-homogeneous students": (_teacher, "homogeneous",
                               np.array([[0.5, 0.3, -0.2], [-0.4, -0.1, 0.6], [0.7, 0.5, 0.5]])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mean_increment_of_one_step_is_minus_drift_s_grad_psi(rng, case):
    """E[Δθ_i] = −DRIFT s ∇Ψ_λ(θ_i; ρ̂_N), ∇Ψ_λ by the data quadrature (fempde's
    MeanFieldModel.gradient, what the limit solvers use), within 4 standard errors,
    through the specialised kernel and the generic one on the same samples."""
    build, specialised, theta = CASES[case]
    model = build()
    s, samples = 1e-4, 20_000  # s small: no RBF centre reaches a wall
    expected = -DRIFT * s * model.gradient(theta, np.full(len(theta), 1 / len(theta)))
    seed = rng.spawn(1)[0]
    for kernel in (specialised, "generic"):
        increments, name = _one_steps(model, theta, s, samples, copy.deepcopy(seed), kernel)
        assert name == kernel
        error = increments.std(axis=0) / math.sqrt(samples)
        assert np.all(np.abs(increments.mean(axis=0) - expected) <= 4 * error)
        assert np.mean(np.abs(expected) > 4 * error) > 0.5  # the test can tell a wrong sign or factor


SPECIALISED = {
    "ridge, piecewise-linear hinge, noisy, λ": (
        lambda: MeanFieldModel(Ridge("piecewise-linear", 12), fempde.model.gaussian_classes(0.5, 12),
                               Gaussian(np.zeros(12), 0.3), lam=0.05, beta=200.0), 1),
    "ridge, tanh with a and b, noisy": (lambda: _ridge(beta=500.0), 1),
    "homogeneous, SGD, noisy": (lambda: _teacher(beta=1e4), 1),
    "homogeneous, full batch": (_teacher, "full"),
    "batched ridge, 16 samples a step, noisy": (lambda: _ridge(beta=500.0, lam=0.1), 16),
    "batched ridge, full batch": (lambda: _ridge(lam=0.1), ("full", 6)),
    "bump, noisy, reflected": (lambda: _rbf(beta=100.0), 1),
    "bump, the kernel reflected at the walls, noisy": (
        lambda: fempde.model.jmm_rbf(meshes.interval(0, 1, 0.01), lambda x: 6 * x[0] * (1 - x[0]), 0.2, tau=0.01,
                                     boundary="reflected"), 1),
    "bump, the kernel reflected at a square's walls": (
        lambda: fempde.model.jmm_rbf(meshes.rectangle(h=0.1), lambda x: 4 * x[0] * (1 - x[0]), 0.3,
                                     boundary="reflected", schedule=fempde.Constant(0.02)), 1),  # a stable step
}


@pytest.mark.parametrize("case", sorted(SPECIALISED))
def test_specialised_kernels_give_the_generic_kernels_numbers(rng, case):
    """The same seed through the specialised kernel and the generic one: the same
    data blocks and noise keys, so the runs differ by round-off only (300 steps:
    within 1e-10 of the units' scale; measured 1e-16 to 5e-14)."""
    build, batch = SPECIALISED[case]
    model = build()
    theta0 = model.sample_initial(40, rng)
    if model.domain is not None:
        theta0 = np.clip(theta0, 0.05, 0.95)
    seed = rng.spawn(1)[0]
    runs = {kernel: particles.sgd(model, theta0, model.axis(2e-3), [0.2, 0.6], rng=copy.deepcopy(seed), batch=batch,
                                  kernel=kernel, chunk=128) for kernel in ("auto", "generic")}
    assert runs["auto"].kernel != "generic" and runs["generic"].kernel == "generic"
    scale = np.abs(runs["generic"].theta).max()
    np.testing.assert_allclose(runs["auto"].theta, runs["generic"].theta, rtol=0, atol=1e-10 * scale)
    assert not np.allclose(runs["generic"].theta[-1], theta0, atol=1e-3 * scale)  # the units moved


@pytest.mark.parametrize("kernel", ["auto", "generic"])
def test_a_users_compiled_tanh_gives_the_builtin_tanhs_numbers(rng, kernel):
    """Ridge units with trained a and b, noisy, on the same seed: the user's
    numba-compiled tanh and its derivative against the built-in "tanh" (equal to
    1e-14 relative: the same formulas, compiled apart)."""
    builtin = _ridge("tanh", beta=300.0)
    user = _ridge(Compiled(user_tanh, user_tanh_slope, name="my tanh"), beta=300.0)
    theta0 = builtin.sample_initial(30, rng)
    seed = rng.spawn(1)[0]
    a, b = (particles.sgd(m, theta0, m.axis(1e-3), [0.5], rng=copy.deepcopy(seed), kernel=kernel).theta
            for m in (builtin, user))
    np.testing.assert_allclose(b, a, rtol=1e-14, atol=1e-14)


@numba.njit
def _passes(forward, backward, params, scratch_size, x, theta):  # pragma: no cover - compiled
    values, grads = np.empty((len(x), len(theta))), np.zeros((len(x), len(theta), theta.shape[1]))
    scratch = np.empty(max(scratch_size, 1))
    for q in range(len(x)):
        for i in range(len(theta)):
            values[q, i] = forward(x[q], theta[i], params, scratch)
            backward(x[q], theta[i], params, scratch, 1.0, grads[q, i])
    return values, grads


@pytest.mark.parametrize("unit", [
    Ridge("tanh", 3, output=TRAINED, bias=TRAINED), Ridge("piecewise-linear", 2, output=1.5, bias=0.2),
    Ridge("relu", 2, output=TRAINED), Bump("triweight", 2, 0.7), Bump("epanechnikov", 1, 0.5), Homogeneous(2),
    Bump("triweight", 2, 0.4, "reflected", BoxWalls(np.array([-1.0, -1.0]), np.array([1.0, 1.0]))),
], ids=lambda unit: type(unit).__name__ + ("-reflected" if getattr(unit, "walls", None) is not None else ""))
def test_a_units_compiled_passes_are_its_numpy_forms(rng, unit):
    """forward = σ*(x; θ) and backward = ∇_θσ*(x; θ) (the kernels' passes) against the
    unit's numpy __call__ and gradient at random points, to 1e-13."""
    x, theta = rng.standard_normal((7, unit.input_dim)) * 0.6, rng.standard_normal((5, unit.dim)) * 0.6
    forward, backward, params, scratch = unit.kernels
    values, grads = _passes(forward, backward, np.asarray(params, dtype=np.float64), scratch, x, theta)
    np.testing.assert_allclose(values, unit(x, theta), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grads, unit.gradient(x, theta), rtol=1e-13, atol=1e-13)
