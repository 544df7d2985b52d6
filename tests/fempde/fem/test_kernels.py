"""The bumps K^δ: unit mass in every dimension, exact gradients, and the
constants shared by the PDE and the SGD."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

import fempde.meanfield.axis as meanfield
from fempde.checks import ParameterError
from fempde.fem.kernels import KERNELS, Kernel


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_kernels_integrate_to_one(name, dim):
    kernel = Kernel(name, dim, delta=0.3)
    sphere = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)  # |S^{d-1}|

    def radial(r):
        x = np.zeros((dim, 1))
        x[0] = r
        return kernel(x)[0] * r ** (dim - 1)

    mass, _ = quad(radial, 0, 0.3, epsabs=1e-14, epsrel=1e-13)
    assert sphere * mass == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_kernel_gradient_matches_finite_differences(rng, name, dim):
    kernel = Kernel(name, dim, delta=0.5)
    x = rng.uniform(-0.4, 0.4, size=(dim, 200)) / np.sqrt(dim)
    step = 1e-6
    fd = np.array([(kernel(x + step * e[:, None]) - kernel(x - step * e[:, None])) / (2 * step) for e in np.eye(dim)])
    np.testing.assert_allclose(kernel.gradient(x), fd, rtol=1e-6, atol=1e-6 * kernel.constant)
    outside = np.full((dim, 1), 0.6)
    assert kernel(outside)[0] == 0 and np.all(kernel.gradient(outside) == 0)


@pytest.mark.parametrize(("kwargs", "name", "value"), [
    ({"name": "gauss", "dim": 1, "delta": 0.1}, "kernel", "gauss"),
    ({"name": "triweight", "dim": 4, "delta": 0.1}, "kernel dimension", 4),
    ({"name": "triweight", "dim": 1.0, "delta": 0.1}, "kernel dimension", 1.0),
    ({"name": "triweight", "dim": 1, "delta": 0.0}, "delta (the bump width)", 0.0),
])
def test_bad_kernels(kwargs, name, value):
    with pytest.raises(ParameterError) as refused:
        Kernel(**kwargs)
    assert (refused.value.name, refused.value.value) == (name, value)


def test_sgd_steps_integrate_the_schedule():
    import fempde

    axis = meanfield.TimeAxis(1e-3, fempde.PowerLaw(1.0, 0.25))
    steps = axis.step_sizes(0, 2000)
    # the steps add up to Ξ(t) exactly: SGD's clock is the PDE's rescaled time
    assert steps.sum() == pytest.approx(4 / 3 * 2.0**0.75, rel=1e-13)
    # and away from t = 0 they are ε ξ(kε) to first order
    assert steps[1000] == pytest.approx(1e-3 * 1.0005 ** (-0.25), rel=1e-6)
    assert np.all(meanfield.TimeAxis(0.01).step_sizes(5, 9) == 0.01)
    # the noise that gives the PDE's diffusion τΔ with the factor 2ξ: variance 4 s τ
    assert meanfield.noise_scale(0.01, 0.5) == pytest.approx(math.sqrt(0.02))
    with pytest.raises(ValueError, match=r"epsilon \(the SGD time step\) must be > 0, got 0.0"):
        meanfield.TimeAxis(0.0)
