"""The reduced Fig. 3 model (ReLU units with output weight and offset on anisotropic
Gaussians) and the weighted-point characteristics solver."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fempde.meanfield import DRIFT, GaussianClasses, PowerLaw, TimeAxis
from fempde.problems.anisotropic import (
    REDUCED_VARIABLES,
    SERIES_TOLERANCE,
    AnisotropicGaussians,
    InitialLaw,
    direction_moments,
    initial_marginals,
)
from fempde.problems.neurons import activation
from fempde.solvers.point_flow import point_flow, tensor_rule

THETA = np.array([[1.0, 0.5, 0.8, 0.4], [-0.7, -0.3, 0.3, 0.9], [1.3, 1.0, 0.35, 0.72]])


def _directions(n, size, dim, rng):
    u = rng.standard_normal((n, size, dim))
    return u / np.linalg.norm(u, axis=2, keepdims=True)


def _unit_values(theta, x, u1, u2, s0):
    """``a ReLU(⟨w, x⟩ + b)`` per sample, with ``w = r1 u1 ⊕ r2 u2`` (directions per sample)."""
    a, b, r1, r2 = theta
    z = r1 * np.einsum("nk,nk->n", u1, x[:, :s0]) + r2 * np.einsum("nk,nk->n", u2, x[:, s0:])
    return a * np.maximum(z + b, 0.0)


def test_v_and_u_at_finite_d_match_monte_carlo_within_4_standard_errors(rng):
    d, s0, n = 24, 8, 200_000
    model = AnisotropicGaussians(0.5, d=d, s0=s0, order=16)
    data = GaussianClasses(0.5, d, s0)
    x, y = data.sample(n, rng)
    units = [(_directions(n, 1, s0, rng)[:, 0], _directions(n, 1, d - s0, rng)[:, 0]) for _ in THETA]
    values = [_unit_values(theta, x, u1, u2, s0) for theta, (u1, u2) in zip(THETA, units, strict=True)]
    v = model.v(THETA)
    u = model.u(THETA, THETA)
    for i in range(len(THETA)):
        sample = -y * values[i]
        assert abs(sample.mean() - v[i]) < 4 * sample.std() / math.sqrt(n)
        for j in range(i + 1, len(THETA)):  # distinct units: independent directions
            pair = values[i] * values[j]
            assert abs(pair.mean() - u[i, j]) < 4 * pair.std() / math.sqrt(n)


def test_v_and_u_at_infinite_d_match_monte_carlo_within_4_standard_errors(rng):
    # d = ∞: the cosines vanish; by rotation invariance a pair of units sees four
    # independent coordinates of x, scaled by τ_y along V
    n = 400_000
    model = AnisotropicGaussians(0.25, d=math.inf, s0=math.inf)
    y = rng.choice([-1.0, 1.0], n)
    tau = 1 + 0.25 * y
    g = rng.standard_normal((n, 4))
    for i in range(len(THETA)):
        a, b, r1, r2 = THETA[i]
        first = a * np.maximum(tau * r1 * g[:, 0] + r2 * g[:, 1] + b, 0.0)
        sample = -y * first
        assert abs(sample.mean() - model.v(THETA)[i]) < 4 * sample.std() / math.sqrt(n)
        a2, b2, q1, q2 = THETA[(i + 1) % len(THETA)]
        pair = first * a2 * np.maximum(tau * q1 * g[:, 2] + q2 * g[:, 3] + b2, 0.0)
        assert abs(pair.mean() - model.u(THETA[i:i + 1], THETA[(i + 1) % 3:(i + 1) % 3 + 1])[0, 0]) \
            < 4 * pair.std() / math.sqrt(n)


def test_the_mehler_series_matches_direct_quadrature_at_the_papers_dimensions():
    # measured 2.3e-10 at order 8 (4.5e-9 at 6, 1.3e-7 at 4): the terms fall like s0^(-k/2)
    model = AnisotropicGaussians(0.5, d=320, s0=60)
    assert np.abs(model.u(THETA, THETA) - model.u_quadrature(THETA, THETA)).max() < 2e-9


def test_the_velocity_is_the_gradient_of_psi():
    model = AnisotropicGaussians(0.75, d=40, s0=10, order=12)
    weights = np.array([0.5, 0.3, 0.2])
    grad = model.gradient(THETA, weights)
    h = 1e-6
    for i in range(len(THETA)):
        for c in range(4):
            step = np.zeros_like(THETA)
            step[i, c] = h
            psi = [model.v(THETA + s)[i] + (model.u(THETA + s, THETA) @ weights)[i] for s in (step, -step)]
            assert (psi[0] - psi[1]) / (2 * h) == pytest.approx(grad[i, c], abs=1e-7)


def test_at_infinite_d_the_risk_is_the_two_class_square_error():
    # u has two features, M_y = ∫ a h_0(b, s_y) dρ̄, and R = ½[(1 − M_+)² + (1 + M_−)²]
    model = AnisotropicGaussians(0.5, d=math.inf, s0=math.inf)
    weights = np.array([0.2, 0.5, 0.3])
    phi, _ = model.features(THETA)
    assert phi.shape == (2, 3)
    m_plus, m_minus = math.sqrt(2) * (phi @ weights)
    assert model.risk(THETA, weights) == pytest.approx(0.5 * ((1 - m_plus) ** 2 + (1 + m_minus) ** 2), abs=1e-14)


def test_direction_moments_are_those_of_the_cosine_of_two_uniform_directions(rng):
    c = _directions(200_000, 2, 5, rng)
    cosine = np.einsum("nk,nk->n", c[:, 0], c[:, 1])
    exact = direction_moments(5, 3)
    np.testing.assert_allclose(exact, [1.0, 1 / 5, 3 / 35, 1 / 21], rtol=1e-14)
    for j in (1, 2, 3):
        sample = cosine ** (2 * j)
        assert abs(sample.mean() - exact[j]) < 4 * sample.std() / math.sqrt(len(sample))


def _independent_point_mass_velocity(model, theta):
    """``−DRIFT ∇_θ[V(θ) + u(θ, θ')]|_{θ'=θ}`` by central differences of the direct
    quadrature (no series, no closed-form gradients)."""
    relu = activation("relu")

    def v(p):
        a, b, r1, r2 = p
        spreads = [math.sqrt((1 + sign * model.delta) ** 2 * r1**2 + r2**2) for sign in (1.0, -1.0)]
        return -0.5 * a * float(relu.gaussian_mean(b, spreads[0]) - relu.gaussian_mean(b, spreads[1]))

    out = np.empty(4)
    for c in range(4):
        step = np.zeros(4)
        step[c] = 1e-5
        plus = v(theta + step) + model.u_quadrature([theta + step], [theta], angles=8)[0, 0]
        minus = v(theta - step) + model.u_quadrature([theta - step], [theta], angles=8)[0, 0]
        out[c] = -DRIFT * (plus - minus) / 2e-5
    return out


def test_a_point_mass_follows_the_independent_four_dimensional_ode():
    model = AnisotropicGaussians(0.5, d=40, s0=10, order=12)
    start = np.array([1.0, 1.0, 0.4, 0.7])
    times = [0.0, 0.5, 2.0]
    flow = point_flow(model, start[None, :], np.ones(1), times, PowerLaw())
    clock = [PowerLaw().integral(0.0, t) for t in times]  # Ξ(t) = (4/3) t^(3/4)
    reference = solve_ivp(lambda _, p: _independent_point_mass_velocity(model, p), (0.0, clock[-1]), start,
                          t_eval=clock, method="LSODA", rtol=1e-8, atol=1e-10)
    assert reference.success
    # measured 2e-8: central differences of a quadrature, against closed forms
    np.testing.assert_allclose(flow.points[:, 0, :], reference.y.T, atol=1e-6)
    assert flow.risk[-1] < flow.risk[0]


def test_the_risk_converges_in_the_number_of_points():
    # up to the end of the first plateau (t ≈ 3 at Δ = 0.75) the flow map is smooth and
    # the mapped Gauss–Hermite rule converges spectrally; midpoint quantiles, first order
    model = AnisotropicGaussians(0.75, d=math.inf, s0=math.inf)
    times = [0.0, 1.0, 3.0]

    def risk(m, rule="gauss"):
        points, weights = tensor_rule(initial_marginals(320, 60, nodes=m, rule=rule))
        flow = point_flow(model, points, weights, times, PowerLaw(), rtol=1e-10, atol=1e-12)
        assert np.all(np.diff(flow.risk) < 0)  # noiseless gradient flow: R decreases
        assert flow.weights.sum() == pytest.approx(1.0, abs=1e-14)  # mass exact by construction
        return flow.risk

    reference = risk(16)
    errors = [np.abs(risk(m) - reference).max() for m in (2, 4, 6)]
    assert errors[0] < 1e-4 and errors[1] < 1e-7 and errors[2] < 1e-9  # measured 5.7e-5, 3.3e-9, 2.7e-11
    from particles.slopes import fit_slope

    sizes = np.array([4, 8, 16])
    errors = np.array([np.abs(risk(int(m), "quantiles") - reference).max() for m in sizes])
    slope, _, _ = fit_slope(sizes, errors)
    assert -1.3 < slope < -0.8  # measured -1.1


def test_bad_input_is_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="s0"):
        AnisotropicGaussians(0.5, d=10, s0=0)
    with pytest.raises(ValueError, match="s0"):
        AnisotropicGaussians(0.5, d=10, s0=11)
    with pytest.raises(ValueError, match="s0"):
        AnisotropicGaussians(0.5, d=10, s0=math.inf)
    with pytest.raises(ValueError, match="s0"):
        initial_marginals(10, 12)
    for delta in (0.0, 1.0, -0.2, math.nan, True):
        with pytest.raises(ValueError, match="Delta"):
            AnisotropicGaussians(delta, d=10, s0=2)
    with pytest.raises(ValueError, match="order"):
        AnisotropicGaussians(0.5, d=10, s0=2, order=3)
    with pytest.warns(RuntimeWarning, match="order 32 leaves an estimated"):  # s0 = 2: the cap
        model = AnisotropicGaussians(0.5, d=10, s0=2)
    points, weights = tensor_rule(initial_marginals(10, 2, nodes=2))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        point_flow(model, points, np.array([1.5, -0.5, 0.0, 0.0]), [0.0, 1.0], PowerLaw())
    with pytest.raises(ValueError, match="sum to 1"):
        point_flow(model, points, 2 * weights, [0.0, 1.0], PowerLaw())
    bad = points.copy()
    bad[1, 2] = math.nan
    with pytest.raises(ValueError, match="point 1"):
        point_flow(model, bad, weights, [0.0, 1.0], PowerLaw())
    with pytest.raises(ValueError, match="times"):
        point_flow(model, points, weights, [1.0, 0.5], PowerLaw())
    with pytest.raises(ValueError, match="points must have shape"):
        model.v(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="times must be a sequence of output times .* got 1.0"):
        point_flow(model, points, weights, 1.0, PowerLaw())
    with pytest.raises(ValueError) as refused:
        point_flow(model, points, weights, [0.0, 1.0], PowerLaw(), method="Euler")
    assert (refused.value.name, refused.value.value) == ("method", "Euler")
    with pytest.raises(TypeError, match="schedule must be .* got float 0.5"):
        point_flow(model, points, weights, [0.0, 1.0], 0.5)
    # a TimeAxis stands for its schedule
    by_axis = point_flow(model, points, weights, [0.0, 0.5], TimeAxis(1e-3, PowerLaw()))
    by_schedule = point_flow(model, points, weights, [0.0, 0.5], PowerLaw())
    np.testing.assert_array_equal(by_axis.points, by_schedule.points)


def test_each_point_keeps_its_balance_a2_minus_b2_minus_r2():
    # σ* = a ReLU(⟨w, x⟩ + b) is unchanged by (a, w, b) -> (a/c, c w, c b): along the
    # gradient flow a² − b² − ‖w‖² is conserved unit by unit (measured drift 3e-9 to t = 100)
    points, weights = tensor_rule(initial_marginals(320, 60, nodes=4))
    model = AnisotropicGaussians(0.5, d=math.inf, s0=math.inf)
    flow = point_flow(model, points, weights, [0.0, 10.0, 100.0], PowerLaw())
    balance = flow.points[..., 0] ** 2 - (flow.points[..., 1:] ** 2).sum(axis=-1)
    assert np.abs(balance - balance[0]).max() < 1e-7
    assert flow.risk[-1] < 1e-10  # d = ∞: the network fits y exactly


def test_a_unit_with_w_zero_is_the_constant_a_relu_b():
    # w = 0: σ* = a ReLU(b) for every x, so V = 0 and R = E(y − a ReLU(b))² = 1 + (a ReLU(b))²
    for model in (AnisotropicGaussians(0.5, d=320, s0=60), AnisotropicGaussians(0.5, d=math.inf, s0=math.inf)):
        assert model.risk([[1.0, 1.0, 0.0, 0.0]], [1.0]) == pytest.approx(2.0, abs=1e-12)
        assert model.risk([[2.0, -1.0, 0.0, 0.0]], [1.0]) == pytest.approx(1.0, abs=1e-12)
        grad = model.gradient([[1.0, 1.0, 0.0, 0.0]], [1.0])
        np.testing.assert_allclose(grad, [[1.0, 1.0, 0.0, 0.0]], atol=1e-12)  # ∂_a, ∂_b of (a b)²/2 + ...


def test_the_public_methods_check_points_and_weights():
    model = AnisotropicGaussians(0.5, d=320, s0=60)
    assert REDUCED_VARIABLES == ("a", "b", "r1", "r2")
    with pytest.raises(ValueError, match="sum to 1 .* got 2.0"):
        model.risk(THETA[:2], [1.0, 1.0])
    with pytest.raises(ValueError, match="weights must be >= 0 .* weights\\[0\\] = -0.5"):
        model.gradient(THETA[:2], [-0.5, 1.5])
    with pytest.raises(ValueError, match="weights must hold M = 3 finite numbers, got shape \\(1,\\)"):
        model.gradient(THETA, [1.0])
    with pytest.raises(ValueError, match="points\\[1\\] has the radius r2 = .*-0.5"):
        model.v([[1.0, 1.0, 0.5, 0.5], [1.0, 1.0, 0.5, -0.5]])
    with pytest.raises(ValueError, match="points must have shape \\(any, 4\\), got \\(3, 3\\)"):
        model.v(np.zeros((3, 3)))


def test_a_short_series_for_a_small_subspace_warns_and_the_default_order_grows():
    # the estimate μ_n(k + 2)/((k + 1)(k + 2)) of the first omitted term, n = min(s0, d − s0)
    assert AnisotropicGaussians(0.5, d=320, s0=60).series_order == 8
    assert AnisotropicGaussians(0.5, d=40, s0=10).series_order == 10
    with pytest.warns(RuntimeWarning, match=f"order 8 leaves an estimated 2.2e-05 > {SERIES_TOLERANCE:g}"):
        AnisotropicGaussians(0.5, d=40, s0=10, order=8)
    with pytest.warns(RuntimeWarning, match="order 8 leaves an estimated"):
        AnisotropicGaussians(0.5, d=40, s0=36, order=8)  # d − s0 = 4 is the small one


def test_the_initial_law_samples_the_radii_of_its_marginals(rng):
    law = InitialLaw(kappa=0.8)
    w, a, b = law.sample(20_000, 40, rng)
    np.testing.assert_array_equal(a, 1.0)
    np.testing.assert_array_equal(b, 1.0)
    r1 = np.linalg.norm(w[:, :10], axis=1)
    nodes, weights = law.marginals(40, 10, nodes=12)[2]
    exact = float(nodes @ weights)  # Gauss–Hermite through F^{-1}Φ: E r1 to ~1e-6
    assert abs(r1.mean() - exact) < 4 * r1.std() / math.sqrt(len(r1))
    with pytest.raises(ValueError, match="kappa .* must be > 0, got -1"):
        InitialLaw(kappa=-1)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        law.sample(3, 4, 7)
    with pytest.raises(ValueError, match="nodes .* must be an integer >= 1, got 0"):
        law.marginals(40, 10, nodes=0)
