"""SGD of the two-layer network on the isotropic two-Gaussian data (seed 002)."""

import math

import numpy as np
import pytest

import fempde
from particles.dd import dd_sgd, population_risk, sample_isotropic


def test_population_risk_is_exact(rng):
    model = fempde.IsotropicGaussians(0.8, 5)
    weights = rng.standard_normal((4, 5))
    x, y = sample_isotropic(model, 2_000_000, rng)
    errors = (y - model.sigma(x @ weights.T).mean(axis=1)) ** 2
    standard_error = errors.std() / math.sqrt(len(errors))
    assert population_risk(model, weights) == pytest.approx(errors.mean(), abs=4 * standard_error)


def test_single_unit_risk_matches_the_radial_formula():
    # N = 1: R = 1 + 2 v(r) + u(r, r) at cosine 1, i.e. E σ(s r G)² averaged over the classes
    model = fempde.IsotropicGaussians(0.5, 10)
    weights = np.zeros((1, 10))
    weights[0, 0] = 1.3
    sigma, r = model.sigma, 1.3
    g = np.linspace(-10, 10, 400_001)  # a fine trapezoid rule: σ² has kinks, Gauss–Hermite converges slowly
    density = np.exp(-0.5 * g**2) / math.sqrt(2 * math.pi)
    second = 0.5 * sum(np.trapezoid(sigma(s * r * g) ** 2 * density, g) for s in model.scales)
    assert population_risk(model, weights) == pytest.approx(1 + 2 * model.v(r) + second, rel=1e-6)


def test_dd_sgd_same_seed_same_numbers():
    model = fempde.IsotropicGaussians(0.8, 10)

    def run(seed, beta=math.inf):
        rng = np.random.default_rng(seed)
        w0 = rng.standard_normal((50, 10)) * 0.25
        return dd_sgd(model, w0, fempde.TimeAxis(1e-3), [0.0, 0.5, 1.0], lam=0.01, beta=beta, rng=rng)

    first, again = run(3, beta=50.0), run(3, beta=50.0)
    np.testing.assert_array_equal(first.weights, again.weights)
    assert not np.array_equal(first.weights, run(4, beta=50.0).weights)
    np.testing.assert_allclose(first.times, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"weights0 must have shape \(N >= 1, d = 10\)"):
        dd_sgd(model, np.zeros((3, 4)), fempde.TimeAxis(1e-3), [1.0], rng=np.random.default_rng(0))


def test_sgd_lowers_the_risk_like_the_radial_pde():
    """Both start at the law of ‖w‖ for w ~ N(0, 0.8²/d I) and both learn; at t = 1
    SGD (N = 400) sits within 0.1 of the radial PDE (h = 0.02; the gap is the mesh's
    first-order error on the narrow radial law plus finite N)."""
    from scipy.stats import chi

    import meshes

    d, delta = 40, 0.8
    model = fempde.IsotropicGaussians(delta, d)
    space = fempde.Space(meshes.interval(0, 3, 0.02))
    scale = 0.8 / math.sqrt(d)
    rho0 = space.interpolate(lambda x: chi.pdf(x[0] / scale, d) / scale)
    pde = fempde.solve(fempde.RadialDD(model), space, rho0 / space.integrate(rho0), 1.0, times=[1.0])
    rng = np.random.default_rng(0)
    run = dd_sgd(model, rng.standard_normal((400, d)) * scale, fempde.TimeAxis(1e-4), [0.0, 1.0], rng=rng)
    risks = [population_risk(model, w) for w in run.weights]
    assert risks[1] < 0.7 * risks[0]
    assert abs(risks[1] - pde.system.risk(pde.rho)) < 0.1  # measured 0.07
    assert abs(risks[0] - pde.system.risk(pde.snapshots[0.0])) < 0.05  # measured 0.02 (finite N)
