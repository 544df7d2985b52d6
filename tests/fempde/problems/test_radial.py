"""The isotropic two-Gaussian problem: closed forms against Monte Carlo, and the
rotation-reduced DD (Mei–Montanari–Nguyen 2018, Eq. 13)."""

import math

import numpy as np
import pytest

import fempde
import meshes
from fempde.problems.distributional import gibbs_fixed_point
from fempde.problems.radial import IsotropicGaussians, RadialDD

SIGMA = fempde.activation("piecewise-linear")  # t1 = 0.5, t2 = 1.5, s1 = -2.5, s2 = 7.5


def test_q_limits_are_exact():
    assert SIGMA.Q(0.0) == -2.5
    assert SIGMA.Q(1e12) == pytest.approx((-2.5 + 7.5) / 2, abs=1e-10)
    assert SIGMA.limits() == (-2.5, 7.5)


@pytest.mark.parametrize("s", [0.3, 1.0, 2.0, 10.0])
def test_q_against_monte_carlo(rng, s):
    samples = SIGMA(s * rng.standard_normal(1_000_000))
    assert SIGMA.Q(s) == pytest.approx(samples.mean(), abs=4 * samples.std() / 1000)


@pytest.mark.parametrize("d", [5, 40])
def test_interaction_against_monte_carlo_over_random_directions(rng, d):
    delta, r1, r2, n = 0.8, 0.7, 1.6, 300_000
    model = IsotropicGaussians(delta, d)
    w1 = rng.standard_normal((n, d))
    w2 = rng.standard_normal((n, d))
    w1 /= np.linalg.norm(w1, axis=1, keepdims=True)
    w2 /= np.linalg.norm(w2, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], n)
    x = rng.standard_normal((n, d)) * (1 + delta * y)[:, None]
    products = SIGMA(r1 * np.sum(w1 * x, axis=1)) * SIGMA(r2 * np.sum(w2 * x, axis=1))
    assert model.u(r1, r2)[0, 0] == pytest.approx(products.mean(), abs=4 * products.std() / math.sqrt(n))
    g = IsotropicGaussians(delta, d, tol=1e-8).factor(np.array([r1, r2])).columns  # the Hermite series
    assert g[0] @ g[1] == pytest.approx(products.mean(), abs=4 * products.std() / math.sqrt(n))
    # and V against Monte Carlo with the same samples
    labels = -y * SIGMA(r1 * np.sum(w1 * x, axis=1))
    assert model.v(r1) == pytest.approx(labels.mean(), abs=4 * labels.std() / math.sqrt(n))


def test_factor_at_d_2_against_monte_carlo(rng):
    """At d = 2 the cosine's law piles up at ±1, where the quadrature's inner law kinks:
    u(0.05, 2.19) by quadrature (48 cosines) is −0.889 against −0.869 ± 0.007 by Monte Carlo
    here; the series (bound 1e-4 relative) gives −0.870, asserted within 4 standard errors."""
    delta, r1, r2, n = 0.5, 0.05, 2.19, 2_000_000
    g = IsotropicGaussians(delta, 2, tol=1e-4).factor(np.array([r1, r2])).columns
    angles = rng.uniform(0, 2 * np.pi, (2, n))
    y = rng.choice([-1.0, 1.0], n)
    x = rng.standard_normal((2, n)) * (1 + delta * y)
    projections = [np.cos(a) * x[0] + np.sin(a) * x[1] for a in angles]
    products = SIGMA(r1 * projections[0]) * SIGMA(r2 * projections[1])
    assert g[0] @ g[1] == pytest.approx(products.mean(), abs=4 * products.std() / math.sqrt(n))


def test_infinite_dimension_limit():
    r = np.array([0.4, 1.0, 2.5])
    limit = IsotropicGaussians(0.5, math.inf).u(r, r)
    closed = 0.5 * sum(np.outer(SIGMA.Q(s * r), SIGMA.Q(s * r)) for s in (1.5, 0.5))
    np.testing.assert_allclose(limit, closed, rtol=1e-10)
    # u_d − u_∞ = O(1/d)
    gaps = [np.abs(IsotropicGaussians(0.5, d).u(r, r) - limit).max() for d in (40, 320)]
    assert gaps[1] < gaps[0] / 4


@pytest.mark.parametrize("d", [math.inf, 40])
def test_factor_equals_the_quadrature_table(d):
    """G Gᵀ against u_d by quadrature (48 cosines, 48 nodes a piece: 1e-14 from its
    limit at d = 40) within the factor's tol = 1e-10 of max u (measured 4e-12, 3e-12)."""
    r = np.linspace(0.0, 4.0, 30)
    model = IsotropicGaussians(0.8, d, angles=48, nodes=48)
    factor = model.factor(r)
    table = model.u(r, r)
    assert factor.columns.shape[1] == (2 if math.isinf(d) else 26)  # rank 2 at d = ∞: u = ½ Σ_y Q Qᵀ
    assert factor.error <= 1e-10 * table.max()
    assert np.abs(factor.columns @ factor.columns.T - table).max() <= 1e-10 * table.max()


@pytest.mark.parametrize(("d", "tol"), [(10, 1e-4), (10, 1e-7), (40, 1e-6), (5, 1e-3)])
def test_factor_error_bound_holds(d, tol):
    """A short series against a longer one (tol 1e-4 of it): the difference stays within the
    stated bound (measured 4-10x below it), which is within tol of max u."""
    r = np.linspace(0.0, 4.0, 25)
    short = IsotropicGaussians(0.8, d, tol=tol).factor(r)
    full = IsotropicGaussians(0.8, d, tol=1e-4 * tol, max_order=4000).factor(r)
    gap = np.abs(short.columns @ short.columns.T - full.columns @ full.columns.T).max()
    assert gap <= short.error + full.error
    assert short.error <= tol * np.max(np.sum(full.columns**2, axis=1))
    assert short.columns.shape[1] < full.columns.shape[1]


def test_radial_system_applies_the_factor():
    """Potential, risk and the non-local Jacobian product against the dense table
    (48 cosines, 48 nodes) at 41 nodes: relative 1e-10 (the factor's tol)."""
    space = fempde.Space(meshes.interval(0.0, 4.0, 0.1))
    model = IsotropicGaussians(0.8, 40, angles=48, nodes=48)
    system = RadialDD(model).discretise(space)
    table, r = model.u(space.x[0], space.x[0]), space.x[0]
    rho = _start(space)
    scale = table.max()
    np.testing.assert_allclose(system.potential(rho), model.v(r) + table @ (space.m * rho), rtol=0,
                               atol=1e-10 * scale)
    mass = space.m * rho
    assert system.risk(rho) == pytest.approx(1 + 2 * model.v(r) @ mass + mass @ table @ mass, abs=1e-10 * scale)
    coupling = np.linspace(0.5, 2.0, space.incidence.shape[0])
    v = np.cos(3 * r)
    dense = space.incidence.T @ (coupling * (space.incidence @ (table @ (space.m * v))))
    np.testing.assert_allclose(system.nonlocal_jacobian(coupling) @ v, dense, rtol=0,
                               atol=1e-10 * np.abs(dense).max())


def test_a_factor_longer_than_the_mesh_is_compressed_to_rank_n():
    """d = 10 at tol 1e-10 needs order 234 (rank 236) on 11 nodes: the system keeps G Gᵀ at rank 11."""
    space = fempde.Space(meshes.interval(0.05, 4.0, 0.395))
    system = RadialDD(IsotropicGaussians(0.8, 10), beta=30.0).discretise(space)
    full = IsotropicGaussians(0.8, 10).factor(space.x[0]).columns
    assert system.series_order == 234 and system.factor_error <= 1e-10 * np.abs(full @ full.T).max()
    assert full.shape[1] > space.n and system.factor.shape == (space.n, space.n)
    np.testing.assert_allclose(system.factor @ system.factor.T, full @ full.T, rtol=0,
                               atol=1e-13 * np.abs(full @ full.T).max())


def test_factor_refuses_bad_settings_and_warns_when_capped():
    with pytest.raises(ValueError, match=r"tol \(the factor's relative error bound\) must be > 0, got 0"):
        IsotropicGaussians(0.8, 40, tol=0)
    with pytest.raises(ValueError, match=r"tol .* must be a number, got True"):
        IsotropicGaussians(0.8, 40, tol=True)
    with pytest.raises(ValueError, match=r"tol .* must be a finite number, got nan"):
        IsotropicGaussians(0.8, 40, tol=math.nan)
    with pytest.raises(ValueError, match=r"max_order .* must be an integer >= 0, got -2"):
        IsotropicGaussians(0.8, 40, max_order=-2)
    with pytest.raises(ValueError, match=r"max_order .* must be an integer >= 0, got 4.0"):
        IsotropicGaussians(0.8, 40, max_order=4.0)
    with pytest.raises(ValueError, match=r"d \(the dimension; math.inf allowed\) must be a number, got True"):
        IsotropicGaussians(0.8, True)
    with pytest.raises(ValueError, match=r"d \(the dimension; math.inf allowed\) must be >= 2, got 1"):
        IsotropicGaussians(0.8, 1)
    with pytest.raises(ValueError, match="radii r must be a 1-D array of finite numbers >= 0"):
        IsotropicGaussians(0.8, 40).factor(np.array([-0.1, 1.0]))
    with pytest.warns(RuntimeWarning, match="reached max_order = 10 with a relative error bound"):
        capped = IsotropicGaussians(0.8, 5, max_order=10).factor(np.linspace(0, 4, 9))
    assert capped.order == 10 and capped.columns.shape == (9, 12)


def _start(space):
    """w ~ N(0, 0.8²/d I_d) has ‖w‖ ≈ 0.8: a narrow bump there."""
    values = space.interpolate(lambda x: np.exp(-0.5 * ((x[0] - 0.8) / 0.09) ** 2))
    return values / space.integrate(values)


def test_noiseless_radial_dd_decreases_the_risk():
    space = fempde.Space(meshes.interval(0, 4, 0.05))
    problem = RadialDD(IsotropicGaussians(0.8, 40))
    result = fempde.solve(problem, space, _start(space), 10.0)
    assert result.ok  # λ = 0, β = ∞: the free energy is R/2, so R never increases
    assert np.diff(result.history["risk"]).max() <= 1e-13
    assert result.history["risk"][-1] < 0.2 * result.history["risk"][0]


def test_noisy_radial_dd_reaches_its_gibbs_fixed_point():
    space = fempde.Space(meshes.interval(0.05, 4, 0.05))
    problem = RadialDD(IsotropicGaussians(0.8, 10), lam=0.05, beta=30.0)
    result = fempde.solve(problem, space, _start(space), 2000.0, [fempde.SteadyState(1e-12)],
                          options=fempde.StepOptions(dt_max=100.0))
    assert result.ok
    gibbs = gibbs_fixed_point(problem.discretise(space))
    assert np.abs(result.rho - gibbs).max() <= 1e-8 * gibbs.max()


def test_noisy_radial_needs_a_positive_inner_radius():
    with pytest.raises(ValueError, match="must start at r_min > 0"):
        RadialDD(IsotropicGaussians(0.8, 10), beta=10.0).discretise(fempde.Space(meshes.interval(0, 2, 0.5)))


@pytest.mark.slow
def test_general_and_radial_solvers_agree_on_a_rotation_invariant_problem():
    """D = d = 2, Δ = 0.5, noiseless: DD on a meshed disk of w (data by an 80² Gauss–Hermite
    rule per class: the kinked σ needs that many, 30² gives 9 % errors in U) against the
    radial PDE for ‖w‖. Risks agree within 2 % (measured ≤ 1.1 %)."""
    from fempde.problems.distributional import DataLaw, DistributionalDynamics

    delta = 0.5
    model = IsotropicGaussians(delta, 2, angles=48, tol=1e-4)  # d = 2: u_d's Hermite series converges like k^-1.5
    data = DataLaw.two_gaussians(delta, 2, points=80)

    def start(r):
        return np.exp(-0.5 * ((r - 0.8) / 0.25) ** 2)

    times = [0.5, 1.0, 2.0]
    disk = fempde.Space(meshes.disk(3.0, h=0.1))
    radius = np.linalg.norm(disk.x, axis=0)
    rho = np.where(radius > 0, start(radius) / np.maximum(radius, 1e-300), 0.0)  # ρ(w) = ρ̄(r) / (2πr)
    general = fempde.solve(DistributionalDynamics(fempde.ridge_unit(SIGMA), data), disk,
                           rho / disk.integrate(rho), 2.0, times=times)
    line = fempde.Space(meshes.interval(0, 3.0, 0.02))
    radial_rho = line.interpolate(lambda x: start(x[0]))
    radial = fempde.solve(RadialDD(model), line, radial_rho / line.integrate(radial_rho), 2.0, times=times)
    for t in [0.0, *times]:
        a, b = general.system.risk(general.snapshots[t]), radial.system.risk(radial.snapshots[t])
        assert a == pytest.approx(b, rel=0.02)


@pytest.mark.parametrize("name", ["nonmonotone", "relu"])
def test_gaussian_mean_of_every_activation_against_monte_carlo(rng, name):
    sigma = fempde.activation(name)
    for mean, sd in [(0.0, 1.0), (0.4, 0.3), (-1.0, 2.0), (0.7, 0.0)]:
        samples = sigma(mean + sd * rng.standard_normal(1_000_000))
        assert sigma.gaussian_mean(mean, sd) == pytest.approx(samples.mean(), abs=4 * samples.std() / 1000 + 1e-14)


def test_activations_go_through_their_points():
    nonmonotone = fempde.activation("nonmonotone")  # seed 002, Fig. 4
    np.testing.assert_allclose(nonmonotone(np.array([-3.0, 0.0, 0.5, 1.0, 1.5, 9.0])),
                               [-2.5, -2.5, -4.0, 1.75, 7.5, 7.5], atol=1e-14)
    assert nonmonotone.Q(0.0) == -2.5 and nonmonotone.limits() == (-2.5, 7.5)
    with pytest.raises(ValueError, match="unbounded"):
        fempde.activation("relu").limits()
    with pytest.raises(ValueError, match="knots must be strictly increasing"):
        fempde.Hinges((1.0, 0.0), (1.0, -1.0))
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        IsotropicGaussians(0.5, 10, sigma="sigmoid")
