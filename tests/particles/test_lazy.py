"""Lazy against mean-field GD (particles.lazy): the tangent Gram matrix, the exact
kernel flow, the gradients and time scalings of GD, the rates, and bad input."""

import math

import numpy as np
import pytest

from fempde.meanfield import DRIFT, PowerLaw, TimeAxis
from particles.lazy import (
    KernelFlow,
    TrainingSet,
    TwoLayer,
    drift,
    gradient_descent,
    learning_rate,
    loss,
    loss_rate,
    output_scale,
)
from particles.slopes import fit_slope


@pytest.fixture
def data(rng):
    return TrainingSet.sphere(50, 5, rng)


def _output(net, x, a, w):
    return TwoLayer(a, w, net.alpha, net.activation).output(x)


@pytest.mark.parametrize("regime", ["lazy", "mean-field"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_tangent_gram_matches_finite_differences_of_the_output(rng, regime, activation):
    x = TrainingSet.sphere(6, 5, rng).x
    net = TwoLayer.initial(regime, 7, 5, rng, activation=activation)
    h = 1e-5
    columns = []
    for i in range(net.m):
        for j in range(1 + net.w.shape[1]):  # θ_i = (a_i, w_i)
            da, dw = np.zeros(net.m), np.zeros_like(net.w)
            if j == 0:
                da[i] = h
            else:
                dw[i, j - 1] = h
            plus, minus = _output(net, x, net.a + da, net.w + dw), _output(net, x, net.a - da, net.w - dw)
            columns.append((plus - minus) / (2 * h))
    jac = np.array(columns).T  # (n, m(1+d))
    gram = net.tangent_gram(x)
    # J Jᵀ = (α²/m) H; central differences: O(h²) truncation + O(1e-16/h) round-off (measured 2e-11)
    relative = np.abs(jac @ jac.T * net.m / net.alpha**2 - gram).max() / np.abs(gram).max()
    assert relative < 1e-9


def test_kernel_flow_matches_a_direct_ode_integration(rng, data):
    from scipy.integrate import solve_ivp

    net = TwoLayer.initial("lazy", 200, 5, rng)
    h, r0 = net.tangent_gram(data.x), net.output(data.x) - data.y
    schedule = PowerLaw(xi0=1.0, alpha=0.5, t0=1.0)  # ξ = (t + 1)^{-1/2}: the exact solution uses Ξ(t) = ∫ξ
    axis = TimeAxis(0.5, schedule)
    steps = np.array([0, 3, 40, 400])
    for kappa in (1.0, DRIFT):
        flow = KernelFlow(h, r0, kappa)
        exact = flow.residual(axis, steps)
        ode = solve_ivp(lambda t, r, kappa=kappa: -kappa * schedule.xi(t) * (h @ r) / data.n, (0.0, 200.0), r0,
                        t_eval=axis.time(steps), rtol=1e-11, atol=1e-13, method="DOP853")
        assert ode.success
        assert np.abs(ode.y - exact).max() < 1e-8 * np.abs(r0).max()
    # the kernel iteration, step by step
    flow = KernelFlow(h, r0)
    sizes = axis.step_sizes(0, 40)
    r = r0.copy()
    for s in sizes:
        r = r - s * (h @ r) / data.n
    assert np.abs(flow.residual(axis, np.array([40]), discrete=True)[:, 0] - r).max() < 1e-12


def test_step_gap_between_kernel_iteration_and_flow_is_first_order(rng, data):
    net = TwoLayer.initial("lazy", 300, 5, rng)
    flow = KernelFlow(net.tangent_gram(data.x), net.output(data.x) - data.y)
    eps = np.array([0.8, 0.4, 0.2, 0.1])
    gaps = []
    for e in eps:
        axis = TimeAxis(float(e))
        steps = np.arange(axis.steps_until(400.0) + 1)
        gaps.append(np.abs(loss(flow.residual(axis, steps)) - loss(flow.residual(axis, steps, discrete=True))).max())
    slope, low, high = fit_slope(eps, gaps)
    assert 0.95 < slope < 1.05  # Euler: O(ε)


@pytest.mark.parametrize("regime", ["lazy", "mean-field"])
def test_gd_step_is_the_gradient_with_the_stated_learning_rate(rng, data, regime):
    m = 64
    net = TwoLayer.initial(regime, m, 5, rng)
    axis = TimeAxis(0.3)
    run = gradient_descent(net, data, regime, axis, 0.3, records=1)
    da, dw = run.net.a - net.a, run.net.w - net.w
    # mean-field: one step is the particle step θ_i ← θ_i − DRIFT s ∇Ψ(θ_i; ρ̂) of fempde's DD,
    # ∇_a Ψ = (1/n) Σ_j r_j σ(⟨w_i, x_j⟩), ∇_w Ψ = (1/n) Σ_j r_j a_i σ'(⟨w_i, x_j⟩) x_j (lazy: times α/m · η/κ)
    z = data.x @ net.w.T
    s, ds = np.tanh(z), 1 - np.tanh(z) ** 2
    r = run.residual0
    factor = drift(regime) * 0.3 * (output_scale(regime, m) * learning_rate(regime, m) / m / drift(regime))
    assert np.abs(da + factor * (s.T @ r) / data.n).max() < 1e-12
    assert np.abs(dw + factor * ((ds * r[:, None]).T @ data.x) * net.a[:, None] / data.n).max() < 1e-12
    # and it is −s η ∇L: the loss's derivative along the step is −|Δθ|²/(s η) (central differences)
    def loss_at(h):
        return float(loss(_output(net, data.x, net.a + h * da, net.w + h * dw) - data.y))

    derivative = (loss_at(1e-4) - loss_at(-1e-4)) / 2e-4
    expected = -(np.sum(da**2) + np.sum(dw**2)) / (0.3 * learning_rate(regime, m))
    assert derivative == pytest.approx(expected, rel=1e-6)
    assert learning_rate("lazy", m) == 1.0 and learning_rate("mean-field", m) == DRIFT * m


def test_lazy_gd_follows_the_kernel_iteration_and_its_rate(data):
    m, axis, t_end = 1000, TimeAxis(1.0), 1500.0
    run = gradient_descent(TwoLayer.initial("lazy", m, 5, np.random.default_rng(3)), data, "lazy", axis, t_end)
    flow = run.kernel()
    steps = np.arange(run.loss.size)
    iteration = loss(flow.residual(axis, steps, discrete=True))
    # the width gap (measured 1.6e-4 relative to L(0) = 0.83 at m = 1000)
    assert np.abs(run.loss - iteration).max() < 1e-3 * run.loss[0]
    # the loss decays at the kernel flow's rate on [T/2, T] (measured 1.4 %), faster than seed 003's bound 2λ_min/n
    rate = loss_rate(run.times, run.loss, t_end / 2, t_end)
    kernel_rate = loss_rate(run.times, loss(flow.residual(axis, steps)), t_end / 2, t_end)
    assert rate == pytest.approx(kernel_rate, rel=0.03)
    assert rate > flow.bound_rate()
    assert np.all(run.loss <= run.loss[0] * np.exp(-flow.bound_rate() * run.times) * 1.01)


@pytest.mark.slow
def test_slowest_kernel_mode_decays_at_lambda_min(data):
    # m = 3162, T = 3000: the projection of u − y on v_min decays at λ_min/n (measured 0.994, 0.991)
    axis = TimeAxis(1.0)
    for seed in (0, 1):
        net = TwoLayer.initial("lazy", 3162, 5, np.random.default_rng([3162, seed]))
        run = gradient_descent(net, data, "lazy", axis, 3000.0)
        flow = run.kernel()
        assert run.slowest_mode_rate(1500.0, 3000.0) == pytest.approx(flow.lambda_min / data.n, rel=0.05)


@pytest.mark.slow
def test_lazy_flow_gap_at_a_small_step_is_the_width_gap(data):
    # ε = 0.02: the step gap (∝ ε, measured 5.0e-5) is below the width gap of m = 100 (7.1e-4),
    # so GD is as close to the flow itself as to the kernel iteration
    axis = TimeAxis(0.02)
    run = gradient_descent(TwoLayer.initial("lazy", 100, 5, np.random.default_rng(5)), data, "lazy", axis, 200.0)
    flow = run.kernel()
    steps = np.arange(run.loss.size)
    to_flow = np.abs(run.loss - loss(flow.residual(axis, steps))).max()
    to_iteration = np.abs(run.loss - loss(flow.residual(axis, steps, discrete=True))).max()
    step_gap = np.abs(loss(flow.residual(axis, steps)) - loss(flow.residual(axis, steps, discrete=True))).max()
    assert step_gap < 0.3 * to_iteration
    assert abs(to_flow - to_iteration) <= step_gap


def test_bad_input_is_refused(rng, data):
    with pytest.raises(ValueError, match=r"m \(the number of units\) must be an integer >= 1, got 0"):
        TwoLayer.initial("lazy", 0, 5, rng)
    with pytest.raises(ValueError, match=r"m \(the number of units\) must be an integer >= 1, got True"):
        output_scale("lazy", True)
    with pytest.raises(ValueError, match=r"n \(the number of training points\) must be an integer >= 1, got 0"):
        TrainingSet.sphere(0, 5, rng)
    with pytest.raises(ValueError, match=r"d \(the input dimension\) must be an integer >= 2, got 1"):
        TrainingSet.sphere(5, 1, rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        TrainingSet.sphere(5, 3, 7)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got RandomState"):
        TwoLayer.initial("lazy", 3, 5, np.random.RandomState(0))
    with pytest.raises(ValueError, match="regime must be one of .*, got 'ntk'"):
        learning_rate("ntk", 10)
    with pytest.raises(ValueError, match=r"alpha \(the output scale\) must be > 0, got 0.0"):
        TwoLayer(np.ones(3), np.ones((3, 5)), 0.0)
    with pytest.raises(ValueError, match=r"alpha \(the output scale\) must be a finite number, got inf"):
        TwoLayer(np.ones(3), np.ones((3, 5)), math.inf)
    with pytest.raises(ValueError, match=r"alpha \(the output scale\) must be a number, got True"):
        TwoLayer(np.ones(3), np.ones((3, 5)), True)
    with pytest.raises(ValueError, match=r"w \(the input weights\) must have shape \(3, any\), got \(2, 5\)"):
        TwoLayer(np.ones(3), np.ones((2, 5)), 1.0)
    with pytest.raises(ValueError, match=r"a \(the output weights\) has 1 non-finite entries"):
        TwoLayer(np.array([1.0, math.nan]), np.ones((2, 5)), 1.0)
    with pytest.raises(ValueError, match=r"w_scale \(the standard deviation of w\) must be a finite number, got nan"):
        TwoLayer.initial("lazy", 3, 5, rng, w_scale=math.nan)
    with pytest.raises(ValueError, match=r"y \(the labels\) must have shape \(4\), got \(5,\)"):
        TrainingSet(np.ones((4, 3)), np.ones(5))
    with pytest.raises(ValueError, match=r"x \(the training inputs\) has 1 non-finite entries \(NaN or inf\) of 2"):
        TrainingSet(np.array([[0.0, math.nan]]), np.ones(1))
    net = TwoLayer.initial("lazy", 10, 4, rng)
    with pytest.raises(ValueError, match="data x has dimension d = 5, the network's w has d = 4"):
        gradient_descent(net, data, "lazy", TimeAxis(1.0), 10.0)
    with pytest.raises(ValueError, match="d = 4"):
        net.tangent_gram(data.x)
    net = TwoLayer.initial("lazy", 10, 5, rng)
    with pytest.raises(ValueError, match="mean-field scale"):
        gradient_descent(net, data, "mean-field", TimeAxis(1.0), 10.0)
    with pytest.raises(ValueError, match="t_end must be > 0, got -1.0"):
        gradient_descent(net, data, "lazy", TimeAxis(1.0), -1.0)
    with pytest.raises(ValueError, match="t_end = 0.1 is less than one step"):
        gradient_descent(net, data, "lazy", TimeAxis(1.0), 0.1)
    with pytest.raises(ValueError, match="records must be an integer >= 1, got 2.0"):
        gradient_descent(net, data, "lazy", TimeAxis(1.0), 10.0, records=2.0)
    with pytest.raises(ValueError, match=r"the window \[10.0, 20.0\] holds 0 times"):
        loss_rate(np.arange(5.0), np.ones(5), 10.0, 20.0)
    with pytest.raises(ValueError, match="t1 must be a finite number, got nan"):
        loss_rate(np.arange(5.0), np.ones(5), 0.0, math.nan)


def test_kernel_flow_refuses_what_is_not_a_gram_matrix_and_bad_steps():
    with pytest.raises(ValueError, match=r"gram .* must be symmetric, got max \|H − Hᵀ\| = 2"):
        KernelFlow(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2))
    with pytest.raises(ValueError, match="gram .* must be positive semi-definite, got the eigenvalue -1"):
        KernelFlow(-np.eye(2), np.ones(2))
    with pytest.raises(ValueError, match=r"gram .* must be square \(n, n\) with n >= 1, got \(0, 0\)"):
        KernelFlow(np.zeros((0, 0)), np.ones(0))
    with pytest.raises(ValueError, match=r"residual0 .* must have shape \(2\), got \(3,\)"):
        KernelFlow(np.eye(2), np.ones(3))
    with pytest.raises(ValueError, match=r"kappa \(the drift\) must be > 0, got -1.0"):
        KernelFlow(np.eye(2), np.ones(2), -1.0)
    # a singular Gram matrix (rank 1) passes: its eigenvalue 0 may come out as −1e-17
    v = np.array([1.0, 2.0, 3.0]) / math.sqrt(14.0)
    assert KernelFlow(np.outer(v, v), np.ones(3)).lambda_min == pytest.approx(0.0, abs=1e-15)
    flow = KernelFlow(np.eye(2), np.ones(2))
    with pytest.raises(ValueError, match=r"steps must be integers k >= 0 .*, got \[-1"):
        flow.residual(TimeAxis(1.0), np.array([-1]))
    with pytest.raises(ValueError, match=r"steps must be integers k >= 0 .*, got \[0.5\]"):
        flow.residual(TimeAxis(1.0), np.array([0.5]))
    # exact: H = I, n = 2, ξ = 1: u − y = exp(−t/2) (u(0) − y); integer-valued floats are steps too
    assert flow.residual(TimeAxis(1.0), np.array([0.0, 2.0]))[0] == pytest.approx([1.0, math.exp(-1.0)], rel=1e-14)


def test_a_diverging_run_stops_and_says_lower_epsilon(data):
    # ε = 500 ≫ the stability limit 2n/λ_max: the loss grew to 4e40 before the check existed
    net = TwoLayer.initial("lazy", 100, 5, np.random.default_rng(0))
    with pytest.raises(FloatingPointError, match=r"GD diverged: .* lower epsilon \(now 500\)"):
        gradient_descent(net, data, "lazy", TimeAxis(500.0), 5000.0)
