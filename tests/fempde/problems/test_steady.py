"""Discrete steady states are reproduced at the nodes to round-off (DESIGN.md §1a).

τ = 0: ρ = (f − c)_+;  τ > 0: ρ + τ|Ω| log ρ = f + c (Wright omega). The run is
compared with :func:`fempde.steady_state`, and that with the defining relation.
"""

import warnings

import numpy as np
import pytest

import fempde
import meshes

DOMAINS = {
    "interval": (lambda: meshes.interval(-1, 1, h=0.02), lambda x: 1.5 * (1 - x[0] ** 2)),
    "disk": (lambda: meshes.disk(h=0.08), lambda x: 1.2 * (1 - (x[0] - 0.2) ** 2 - x[1] ** 2)),
}


def _converge(problem, space):
    steady = fempde.SteadyState(1e-13)
    result = fempde.solve(problem, space, "uniform", 1e4, [steady], options=fempde.StepOptions(dt_max=1e3))
    assert result.stop_reason == "observer" and steady.reached_at is not None
    assert result.certificates.ok
    return result


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_free_boundary_steady_state(domain):
    mesh, target = DOMAINS[domain]
    space = fempde.Space(mesh())
    problem = fempde.PorousMedium(target=target, tau=0.0)
    result = _converge(problem, space)
    exact = fempde.steady_state(problem, space)
    assert np.abs(result.rho - exact).max() <= 1e-10
    # the exact relation: ρ = (f − c)_+ with one c on the support, and part of Ω empty
    support = exact > 0
    f = space.interpolate(target)
    c = f[support] - exact[support]
    assert np.ptp(c) <= 1e-13
    assert np.all(f[~support] <= c[0] + 1e-13) and 0 < support.sum() < space.n
    assert space.integrate(exact) == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
@pytest.mark.parametrize("tau", [0.01, 0.2])
def test_viscous_steady_state(domain, tau):
    mesh, target = DOMAINS[domain]
    space = fempde.Space(mesh())
    problem = fempde.PorousMedium(target=target, tau=tau)
    result = _converge(problem, space)
    exact = fempde.steady_state(problem, space)
    assert np.abs(result.rho - exact).max() <= 1e-10
    f = space.interpolate(target)
    c = exact + tau * space.volume * np.log(exact) - f
    assert np.ptp(c) <= 1e-12


def _ball_space():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ball has boundary edges with T < 0 (see meshes.ball)
        return fempde.Space(meshes.ball(h=0.25), force=True)


def test_ball_viscous_steady_state():
    space = _ball_space()
    problem = fempde.PorousMedium(target=lambda x: 1.0 - np.sum(x**2, axis=0), tau=0.05)
    result = _converge(problem, space)
    assert np.abs(result.rho - fempde.steady_state(problem, space)).max() <= 1e-10


def test_ball_positive_steady_state_without_viscosity():
    # With T_ij < 0 on some wall edges, a free boundary can go negative (the solver
    # rejects that); a target whose steady state is positive everywhere is reached exactly.
    space = _ball_space()
    problem = fempde.PorousMedium(target=lambda x: 0.3 * (1.0 - np.sum(x**2, axis=0)), tau=0.0)
    result = _converge(problem, space)
    exact = fempde.steady_state(problem, space)
    assert exact.min() > 0.1
    assert np.abs(result.rho - exact).max() <= 1e-10
