"""Distributional dynamics on a meshed parameter domain: structure, the matrix-free
Jacobian, and convergence to the Gibbs fixed point ρ* ∝ exp(−βΨ_λ(θ; ρ*))."""

import math

import numpy as np
import pytest

import fempde
import meshes
from fempde.problems.distributional import DataLaw, DistributionalDynamics, gibbs_fixed_point


def gaussian_data(teacher=lambda x: np.tanh(2 * x), points=40):
    """x ~ N(0, 1) by Gauss–Hermite quadrature, y = teacher(x)."""
    x, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    return DataLaw(x[:, None], w, teacher(x), float(w @ teacher(x) ** 2))


def tanh_unit(x, theta):  # σ*(x; θ) = tanh(θ x), θ scalar
    return np.tanh(x[:, :1] * theta[:, 0][None, :])


def scaled_tanh_unit(x, theta):  # σ*(x; θ) = a tanh(b x), θ = (a, b)
    return theta[:, 0][None, :] * np.tanh(x[:, :1] * theta[:, 1][None, :])


CASES = {
    "1d": (lambda: meshes.interval(-4, 4, 0.05), tanh_unit),
    "2d": (lambda: meshes.rectangle(-3, 3, -3, 3, h=0.15), scaled_tanh_unit),
}


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
@pytest.mark.parametrize("case", sorted(CASES))
def test_noisy_dd_converges_to_the_gibbs_fixed_point(case):
    mesh, unit = CASES[case]
    space = fempde.Space(mesh())
    problem = DistributionalDynamics(unit, gaussian_data(), lam=0.05, beta=20.0)
    result = fempde.solve(problem, space, "uniform", 400.0, [fempde.SteadyState(1e-12)],
                          options=fempde.StepOptions(dt_max=50.0))
    assert result.ok
    assert np.diff(result.history["free_energy"]).max() <= 1e-13
    assert np.abs(result.history["mass"] - 1).max() <= 1e-12
    gibbs = gibbs_fixed_point(problem.discretise(space))
    assert np.abs(result.rho - gibbs).max() <= 1e-8 * gibbs.max()  # measured 6e-9 (1-D), 2e-12 (2-D)
    assert result.history["risk"][-1] < 0.1 * result.history["risk"][0]


def test_matrix_free_jacobian_matches_finite_differences(rng):
    space = fempde.Space(meshes.rectangle(-2, 2, -2, 2, h=0.5))
    system = DistributionalDynamics(scaled_tanh_unit, gaussian_data(points=12), lam=0.1, beta=5.0).discretise(space)
    rho_old = rng.uniform(0.02, 0.1, space.n)
    rho = rho_old * rng.uniform(0.9, 1.1, space.n)
    _, jacobian = system.linearise(rho, rho_old, 0.0, 0.3)
    step = 1e-7
    for k in rng.choice(space.n, 8, replace=False):
        e = np.zeros(space.n)
        e[k] = 1.0
        fd = (system.linearise(rho + step * e, rho_old, 0.0, 0.3)[0]
              - system.linearise(rho - step * e, rho_old, 0.0, 0.3)[0]) / (2 * step)
        np.testing.assert_allclose(jacobian @ e, fd, rtol=0, atol=1e-7)


def test_risk_is_the_mean_squared_error_of_the_network():
    data = gaussian_data()
    space = fempde.Space(meshes.interval(-4, 4, 0.5))
    system = DistributionalDynamics(tanh_unit, data).discretise(space)
    rho = np.exp(-space.x[0] ** 2)
    rho /= space.integrate(rho)
    y_hat = tanh_unit(data.points, space.x.T) @ (space.m * rho)
    assert system.risk(rho) == pytest.approx(data.weights @ (data.y_mean - y_hat) ** 2, rel=1e-12)





def test_noiseless_dd_has_no_gibbs_fixed_point():
    system = DistributionalDynamics(tanh_unit, gaussian_data(), beta=math.inf).discretise(
        fempde.Space(meshes.interval(-1, 1, 0.5)))
    with pytest.raises(ValueError, match="needs finite beta"):
        gibbs_fixed_point(system)


def test_ornstein_uhlenbeck_variance():
    """V = U = 0 (labels and units that do not interact with these θ), λ > 0: the
    steady state is the Gaussian of variance 1/(βλ) (the PDE side of the noise
    convention). The wall layer carries next to no mass on a domain of ±8 sd."""
    data = DataLaw(np.zeros((1, 1)), np.ones(1), np.zeros(1), 0.0)
    lam, beta = 0.5, 8.0  # variance 0.25
    problem = DistributionalDynamics(lambda x, theta: np.zeros((1, len(theta))), data, lam=lam, beta=beta)
    result = fempde.solve(problem, meshes.interval(-4, 4, 0.01), "uniform", 50.0, [fempde.SteadyState(1e-12)],
                          options=fempde.StepOptions(dt_max=5.0))
    space, rho = result.space, result.rho
    variance = space.m @ (space.x[0] ** 2 * rho)
    assert variance == pytest.approx(1 / (beta * lam), rel=1e-4)  # O(h²) of the lumped quadrature
    assert result.history["wall_mass"][-1] < 1e-12
    assert result.history["wall_mass"][0] == pytest.approx(space.wall_mass(np.full(space.n, 1 / 8)))
