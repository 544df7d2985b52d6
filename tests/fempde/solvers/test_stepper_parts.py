"""The stepper's parts, each on its own: landing, control, Milne's estimate, propagation, schemes, Newton.

Every part is tested against numbers it must give exactly (or to round-off);
the stepper built from them is tested in test_accuracy, test_bdf2 and
test_invariants, and against its own parts here.
"""

from types import SimpleNamespace

import numpy as np
import pytest

import fempde
import meshes
from fempde.solvers.control import NewtonGrowth, PIController, bounded
from fempde.solvers.landing import OutputTimes
from fempde.solvers.milne import error_ratio, local_error, milne_factor, predict
from fempde.solvers.newton import Newton, Rejected, Solution, cleared
from fempde.solvers.propagation import propagate
from fempde.solvers.schemes import BDF2, ImplicitEuler, Window, attempt
from fempde.solvers.stepping import Stepper, steps

# -- landing on output times -------------------------------------------------------------------------------------


def test_steps_are_cut_short_at_an_output_time_and_aim_at_the_next():
    marks = OutputTimes([0.3, 0.1], 0.5)
    assert marks.land(0.0, 0.25) == 0.1
    assert not marks.reached(0.05) and marks.reached(0.1) and marks.target == 0.3
    assert marks.land(0.1, 0.05) == 0.1 + 0.05
    assert marks.land(0.1, 0.2 - 1e-11) == 0.3  # no sliver of 1e-11 left before the mark
    assert marks.reached(0.3) and marks.target == 0.5


def test_a_resumed_run_aims_at_the_next_output_time():
    assert OutputTimes([0.1, 0.3], 0.5, t=0.1).target == 0.3
    assert OutputTimes([0.1, 0.3], 0.5, t=0.2).target == 0.3


@pytest.mark.parametrize("times", [[0.0], [-0.1], [0.6]])
def test_output_times_outside_the_run_are_refused(times):
    with pytest.raises(ValueError):
        OutputTimes(times, 0.5)


# -- step-size control -------------------------------------------------------------------------------------------


def test_pi_controller():
    pi = PIController()
    assert pi.next(0.1, 0.1, 1.0, 2, 3, False) == pytest.approx(0.09, rel=1e-15)  # E = E_prev = 1: safety only
    assert pi.previous == 1.0
    assert pi.next(0.1, 0.1, 1e-12, 2, 3, False) == pytest.approx(0.5, rel=1e-15)  # growth capped at 5
    assert pi.previous == 1e-10  # floored
    assert PIController().next(0.1, 0.1, 1e-12, 2, 3, True) == pytest.approx(0.1, rel=1e-15)  # not after a rejection
    # E = 0.5, E_prev = 2, q = 3: 0.9 · 0.5^(−0.7/3) · 2^(0.4/3)
    expected = 0.1 * 0.9 * 0.5 ** (-0.7 / 3) * 2 ** (0.4 / 3)
    assert PIController(previous=2.0).next(0.1, 0.1, 0.5, 3, 3, False) == pytest.approx(expected, rel=1e-15)
    # a step cut short to land on an output time: the controller's shrinking is undone up to the proposal
    assert PIController().next(0.01, 0.1, 1.0, 2, 3, False) == pytest.approx(0.01, rel=1e-15)


def test_pi_controller_rejects_above_the_tolerance_and_shrinks():
    pi = PIController()
    assert pi.rejects(1.01) and not pi.rejects(1.0)
    assert pi.retry(0.1, 4.0, 2) == pytest.approx(0.1 * 0.9 / 2, rel=1e-15)
    assert pi.retry(0.1, 1e6, 2) == pytest.approx(0.02, rel=1e-15)  # at most by 5


def test_without_control_steps_grow_after_easy_newton_solves():
    growth = NewtonGrowth()
    assert not growth.rejects(1e9)
    assert growth.next(0.1, 0.2, 5.0, 2, 4, False) == pytest.approx(0.3, rel=1e-15)  # 1.5 × the proposal
    assert growth.next(0.1, 0.2, 5.0, 2, 5, False) == 0.2


def test_bounds():
    assert bounded(1.0, 0.1, 11, 1e-6, 10.0) == pytest.approx(0.07, rel=1e-15)  # a hard Newton solve
    assert bounded(1.0, 0.1, 10, 1e-6, 0.5) == 0.5
    assert bounded(1e-9, 0.1, 3, 1e-6, 0.5) == 1e-6


# -- Milne's estimate ----------------------------------------------------------------------------------------------


def test_predictors_are_exact_for_polynomials_of_their_order():
    k, k1, k2 = 0.3, 0.2, 0.5
    def linear(t):
        return 1.0 + 2.0 * t

    def quadratic(t):
        return 1.0 + 2.0 * t - 3.0 * t**2

    for f, order in ((linear, 1), (quadratic, 2)):
        now = np.array([f(0.0)])
        earlier = (np.array([f(-k1)]), np.array([f(-k1 - k2)]))
        assert predict(now, earlier, k, (k1, k2), order)[0] == pytest.approx(f(k), rel=1e-14)


def test_milne_estimates_the_local_error_of_implicit_euler():
    """y' = −y from y(0) = 1: the estimate from the linear predictor against what the
    step misses, exact minus computed (the sign the global error is carried with)."""
    k = 1e-3
    past, now = np.exp(k), 1.0  # y at t = −k and 0
    solution = now / (1 + k)
    estimate = milne_factor(k, (k,), "euler") * (solution - predict(np.array([now]), (np.array([past]),), k, (k,),
                                                                     1)[0])
    true = np.exp(-k) - solution
    window = Window(t=0.0, rho=np.array([now]), free_energy=0.0, past=(np.array([past]),), steps=(k,))
    assert local_error(ImplicitEuler(window, k), None, np.array([solution]), k)[0] == estimate
    assert estimate == pytest.approx(true, rel=2e-3)


def _system(n=4, risk=lambda rho: float(rho.sum() ** 2)):
    return SimpleNamespace(space=SimpleNamespace(m=np.full(n, 0.25), volume=1.0, integrate=lambda v: 0.25 * v.sum()),
                           risk=risk, has_source=False)


def test_error_ratio_is_the_larger_of_the_density_and_risk_ratios():
    system = _system(risk=lambda rho: 1.0)  # the risk does not see the error: density ratio only
    rho, error = np.ones(4), np.full(4, 1e-6)
    assert error_ratio(system, rho, 1.0, error, 1e-5, 0.0) == pytest.approx(0.1, rel=1e-12)
    system = _system()  # R = (Σρ)²: R(ρ) − R(ρ − e) = 16 − (4 − 4e-6)² ≈ 3.2e-5
    risk_ratio = (16 - (4 - 4e-6) ** 2) / (1e-5 * 16)
    assert error_ratio(system, rho, 16.0, error, 1e-5, 0.0) == pytest.approx(max(0.1, risk_ratio), rel=1e-9)
    assert error_ratio(system, rho, 16.0, error, None, 0.0) == pytest.approx(1e-5 * max(0.1, risk_ratio), rel=1e-9)


# -- the global error ------------------------------------------------------------------------------------------------


def test_propagation_carries_massless_errors():
    system = _system()
    window = Window(t=0.0, rho=np.ones(4), free_energy=0.0, past=(np.ones(4), np.ones(4)), steps=(0.1, 0.1))
    local = np.array([1.0, 0.0, 0.0, 0.0])
    errors = (np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, 0.0]))
    euler = propagate(system, ImplicitEuler(window, 0.1), errors, local, None, None)
    np.testing.assert_allclose(euler, np.array([1.0, 1.0, 0.0, 0.0]) - 0.5, rtol=0, atol=1e-15)
    bdf2 = propagate(system, BDF2(window, 0.1, 1.0, window.rho), errors, local, None, None)  # ω = 1: (4g₀ − g₁)/3
    np.testing.assert_allclose(bdf2, np.array([1.0, 4 / 3, -1 / 3, 0.0]) - 0.5, rtol=0, atol=1e-15)
    assert propagate(system, ImplicitEuler(window, 0.1), (), local, None, None) @ system.space.m == 0.0


# -- schemes ---------------------------------------------------------------------------------------------------------


def test_bdf2_applies_with_two_past_states_a_moderate_ratio_and_no_source():
    system = _system()
    rho, older = np.array([1.0, 2.0, 3.0, 2.0]), np.array([1.2, 1.8, 2.9, 2.1])
    window = Window(t=0.2, rho=rho, free_energy=0.0, past=(older, older), steps=(0.1, 0.1))
    plan = BDF2.plan(window, 0.1, system)
    assert plan is not None and plan.w == 1.0
    np.testing.assert_allclose(plan.tilde, (4 * rho - older) / 3, rtol=1e-15)
    assert system.space.m @ plan.tilde == pytest.approx(system.space.m @ rho, rel=1e-15)  # ρ̃ has ρ_n's mass
    assert plan.start(system)[1] == pytest.approx(0.1 * 2 / 3, rel=1e-15)
    assert BDF2.plan(window, 0.21, system) is None  # ω > 2
    assert BDF2.plan(Window(0.1, rho, 0.0, (older,), (0.1,)), 0.1, system) is None  # one past state
    assert BDF2.plan(window, 0.1, SimpleNamespace(**{**vars(system), "has_source": True})) is None
    steep = Window(t=0.2, rho=np.array([0.0, 1.0, 1.0, 1.0]), free_energy=0.0, past=(np.ones(4), np.ones(4)),
                   steps=(0.1, 0.1))
    assert BDF2.plan(steep, 0.1, system) is None  # ρ̃ < 0 where ρ_n is empty


class _FakeNewton:
    """Returns its start (or guess) after a fixed number of iterations, noting each call."""

    def __init__(self, system):
        self.system, self.calls = system, []

    def solve(self, rho_old, t_old, t_new, guess=None, rescaled=None):
        self.calls.append(rescaled)
        return Solution((rho_old if guess is None else guess).copy(), 2, None)


def test_a_bdf2_step_that_raises_the_free_energy_is_redone_as_implicit_euler():
    system = _system()
    system.free_energy = lambda rho: float(rho @ rho)
    rho, older = np.array([1.0, 2.0, 3.0, 2.0]), np.array([1.2, 1.8, 2.9, 2.1])
    low = Window(t=0.2, rho=rho, free_energy=0.0, past=(older, older), steps=(0.1, 0.1))  # any F above 0 is a rise
    newton = _FakeNewton(system)
    solved = attempt(newton, low, 0.3, 0.1, "bdf2")
    assert solved.scheme.name == "euler" and solved.iterations == 4 and newton.calls == [pytest.approx(0.2 / 3), None]
    high = Window(t=0.2, rho=rho, free_energy=1e3, past=(older, older), steps=(0.1, 0.1))
    kept = attempt(_FakeNewton(system), high, 0.3, 0.1, "bdf2")
    assert kept.scheme.name == "bdf2" and kept.iterations == 2
    assert attempt(_FakeNewton(system), high, 0.3, 0.1, "euler").scheme.name == "euler"


# -- Newton ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow():
    space = fempde.Space(meshes.interval(-1, 1, h=0.1))
    system = fempde.PorousMedium(lambda x: 1.0 - x[0] ** 2, tau=0.01).discretise(space)
    return space, system


def _newton(system, **kwargs):
    from fempde.solvers.linalg import LinearSolver

    return Newton(system, LinearSolver("direct", dim=1), kwargs.get("tol", 1e-11), kwargs.get("max_iter", 25))


def test_newton_solves_the_implicit_euler_system_with_exact_mass(flow):
    space, system = flow
    rho0 = np.full(space.n, 0.5)
    rho, iterations, jacobian, depth = _newton(system).solve(rho0, 0.0, 0.01)
    residual, _ = system.linearise(rho, rho0, 0.0, 0.01)
    assert depth == 0.0  # τ > 0: nothing to clear
    assert np.abs(residual / space.m).max() <= 1e-10 and 1 <= iterations <= 6 and jacobian is not None
    assert space.integrate(rho) == pytest.approx(1.0, abs=1e-15)


def test_newton_rejects_what_it_cannot_solve(flow):
    space, system = flow
    with pytest.raises(Rejected, match="no convergence in 1"):
        _newton(system, max_iter=1).solve(np.full(space.n, 0.5), 0.0, 10.0)
    broken = SimpleNamespace(space=space, linearise=lambda *args, **kwargs: (np.full(space.n, np.nan), None))
    with pytest.raises(Rejected, match="non-finite"):
        _newton(broken).solve(np.full(space.n, 0.5), 0.0, 0.01)


def test_cleared_keeps_the_mass():
    m = np.array([0.5, 1.0, 0.5])
    out = cleared(np.array([-1e-17, 1.0, 2.0]), m)
    assert out.min() == 0.0 and m @ out == pytest.approx(m @ np.array([-1e-17, 1.0, 2.0]), rel=1e-15)


# -- the stepper from its parts --------------------------------------------------------------------------------------


def test_steps_is_the_stepper_step_by_step(flow):
    space, system = flow
    options = fempde.StepOptions(rtol=1e-5)
    rho0 = np.full(space.n, 0.5)
    stepper = Stepper(system, rho0, 0.05, times=(0.02,), options=options)
    by_hand = [stepper.initial()]
    while not stepper.done:
        by_hand.append(stepper.advance())
    generated = list(steps(system, rho0, 0.05, times=(0.02,), options=options))
    assert [s.t for s in by_hand] == [s.t for s in generated] and 0.02 in [s.t for s in generated]
    assert all(np.array_equal(a.rho, b.rho) for a, b in zip(by_hand, generated, strict=True))
    assert [s.scheme for s in generated[1:4]] == ["euler", "euler", "bdf2"]
    assert all(not s.rho.flags.writeable for s in generated)


def test_a_stepper_started_from_a_step_takes_the_same_steps(flow):
    space, system = flow
    options = fempde.StepOptions(rtol=1e-5)
    whole = list(steps(system, np.full(space.n, 0.5), 0.05, options=options))
    again = list(steps(system, None, 0.05, options=options, start=whole[4].state()))
    assert [s.t for s in again] == [s.t for s in whole[5:]]
    assert all(np.array_equal(a.rho, b.rho) for a, b in zip(again, whole[5:], strict=True))


def test_newton_at_a_front_with_inexact_solves_stays_quick_and_nonnegative():
    """τ = 0 on a disk with AMG (inexact solves): the support leaves the wall and
    empty regions appear. A uniform mass correction used to write negatives on
    every empty node, which crept back a third of the way per iteration (an empty
    upwind node's flux is not differentiable at 0) and accumulated over the steps:
    25 Newton iterations per step, 4745 in all, min ρ −1.7e-13 at t = 2 (measured
    before the fix). Now: at most 3 per step, 775 in all, ρ ≥ 0 at every step."""
    problem = fempde.PorousMedium(lambda x: 1.5 * (1 - 1.5 * ((x[0] + 0.2) ** 2 + x[1] ** 2)), tau=0.0,
                                  schedule=fempde.PowerLaw(xi0=1.0, alpha=0.25))
    options = fempde.StepOptions(linear_solver="amg")
    result = fempde.solve(problem, meshes.disk(h=0.08), "uniform", 2.0, options=options)
    history = result.history
    assert history["newton_iterations"].max() <= 5  # measured 3
    assert history["newton_iterations"].sum() <= 2 * len(history["t"]) + 200  # measured 775 for 373 steps
    assert history["min_rho"].min() == 0.0 and result.ok
    assert history["cleared"].max() <= options.newton_tol * max(1.0, float(result.rho.max()))  # measured 5e-16
    assert history["mass_drift"].max() <= 1e-13


def test_newton_projects_its_iterates_on_nonnegative_densities_with_the_mass_kept(flow):
    """A step whose exact solution is 0 on part of the domain: the solution Newton
    returns is >= 0 with the mass of the start, and within tol of the direct solve."""
    space = fempde.Space(meshes.interval(-1, 1, h=0.05))
    system = fempde.PorousMedium(lambda x: 1.0 - 4 * x[0] ** 2, tau=0.0).discretise(space)
    rho_old = np.where(np.abs(space.x[0]) < 0.4, 1.0, 0.0)
    rho_old /= space.integrate(rho_old)
    rho, iterations, _, depth = _newton(system).solve(rho_old, 0.0, 0.05)
    assert rho.min() >= 0.0 and 0.0 <= depth <= 1e-11
    assert space.integrate(rho) == pytest.approx(1.0, abs=1e-15)
    residual, _ = system.linearise(rho, rho_old, 0.0, 0.05)
    assert np.abs(residual / space.m).max() <= 1e-10
    assert np.all(rho[np.abs(space.x[0]) > 0.6] == 0.0)  # never reached: exactly empty
