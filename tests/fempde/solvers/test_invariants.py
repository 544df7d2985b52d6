"""Structure the scheme keeps at every step: mass, positivity, free-energy decay."""

import numpy as np
import pytest

import fempde
import meshes

CASES = {
    "interval-tau0": (meshes.interval(-1, 1, h=0.02), 0.0, lambda x: 2.0 * (0.8 - x[0] ** 2)),
    "interval-tau": (meshes.interval(-1, 1, h=0.02), 0.02, lambda x: 2.0 * (0.8 - x[0] ** 2)),
    "disk-tau0": (meshes.disk(h=0.08), 0.0, lambda x: 1.5 * (0.7 - (x[0] - 0.3) ** 2 - x[1] ** 2)),
    "disk-tau": (meshes.disk(h=0.08), 0.01, lambda x: 1.5 * (0.7 - (x[0] - 0.3) ** 2 - x[1] ** 2)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def run(request):
    mesh, tau, target = CASES[request.param]
    problem = fempde.PorousMedium(target=target, tau=tau, schedule=fempde.PowerLaw(1.0, 0.25))
    # start from a bump off to the side, so the flow has to move mass and open a free boundary
    rho0 = lambda x: np.exp(-8 * np.sum((x - np.array([[-0.4]] + [[0.2]] * (x.shape[0] - 1))) ** 2, axis=0))
    space = fempde.Space(mesh)
    values = space.interpolate(rho0)
    return fempde.solve(problem, space, values / space.integrate(values), t_end=3.0), tau


def test_mass_is_conserved_to_round_off_at_every_step(run):
    result, _ = run
    assert np.abs(result.history["mass"] - 1.0).max() <= 1e-12
    assert result.certificates.max_mass_drift <= 1e-12


def test_density_stays_nonnegative(run):
    result, tau = run
    if tau > 0:
        assert result.history["min_rho"][1:].min() > 0
    else:  # zero regions may carry round-off of the linear solve
        assert result.history["min_rho"].min() >= -1e-14


def test_free_energy_never_increases(run):
    result, _ = run
    increase = np.diff(result.history["free_energy"])
    assert increase.max() <= 1e-14
    assert result.certificates.ok
    assert result.certificates.max_energy_increase == pytest.approx(increase.max(), abs=0)


def test_run_reaches_t_end_with_newton_converging(run):
    result, _ = run
    assert result.stop_reason == "t_end"
    assert result.t == 3.0
    assert result.history["newton_iterations"][1:].max() <= 25


def test_rescaled_time_is_exact():
    # ξ = 2 to t = 0.5 in steps of 0.05 equals ξ = 1 to t = 1 in steps of 0.1: same ΔΞ each step
    space = fempde.Space(meshes.disk(h=0.15))
    target = lambda x: 1.0 - x[0] ** 2 - x[1] ** 2
    fast = fempde.solve(fempde.PorousMedium(target, 0.01, fempde.Constant(2.0)), space, "uniform", 0.5,
                        options=fempde.StepOptions(dt0=0.05, dt_max=0.05, rtol=None))
    slow = fempde.solve(fempde.PorousMedium(target, 0.01, fempde.Constant(1.0)), space, "uniform", 1.0,
                        options=fempde.StepOptions(dt0=0.1, dt_max=0.1, rtol=None))
    assert len(fast.history["t"]) == len(slow.history["t"]) == 11
    np.testing.assert_allclose(fast.rho, slow.rho, rtol=0, atol=1e-13)


def test_power_law_integral_matches_quadrature():
    from scipy.integrate import quad

    for schedule in (fempde.PowerLaw(1.5, 0.25), fempde.PowerLaw(0.7, 1.0, t0=0.2), fempde.PowerLaw(2.0, 0.6, 1.0)):
        exact, _ = quad(schedule.xi, 0.3, 2.7)
        assert schedule.integral(0.3, 2.7) == pytest.approx(exact, rel=1e-12)


def test_steps_are_immutable():
    space = fempde.Space(meshes.interval(h=0.1))
    first = next(fempde.steps(fempde.PorousMedium(1.0).discretise(space), np.ones(space.n), 1.0))
    with pytest.raises(ValueError):
        first.rho[0] = 2.0
