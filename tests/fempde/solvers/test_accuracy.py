"""Accuracy is controlled and reported: the time-error controller, its estimate,
the second-order τ = 0 flux on the cross-check's problem, the spatial estimate.

The reference problem is the δ → 0 flow of ``examples/crosscheck/interval.toml``:
Ω = [0, 1], f = 6x(1 − x), ρ0 = 1, τ = 0, outputs every 0.01 to t = 0.3. Its
risk decays from 0.2 to 6·10⁻¹⁰ (the discrete steady state), so a relative
accuracy of the risk curve is a demanding target.
"""

import numpy as np
import pytest

import fempde
import meshes

PROBLEM = fempde.PorousMedium(lambda x: 6 * x[0] * (1 - x[0]), tau=0.0)
TIMES = tuple(np.linspace(0, 0.3, 31)[1:])


@pytest.fixture(scope="module")
def space():
    return fempde.Space(meshes.interval(0, 1, h=0.005))


def risk_at(result, times=TIMES):
    t = result.history["t"]
    return np.array([result.history["risk"][np.flatnonzero(t == s)[0]] for s in times])


@pytest.fixture(scope="module")
def default_and_tight(space):
    default = fempde.solve(PROBLEM, space, "uniform", 0.3, times=TIMES)
    tight = fempde.solve(PROBLEM, space, "uniform", 0.3, times=TIMES,
                         options=fempde.StepOptions(rtol=fempde.DEFAULT_RTOL / 100))
    return default, tight


def test_default_run_risk_is_accurate_to_1e_3_relative(default_and_tight):
    default, tight = default_and_tight
    relative = np.abs(risk_at(default) / risk_at(tight) - 1)
    assert relative.max() <= 1e-3  # measured 9.2e-4, at t = 0.11 where R = 1.6e-8
    assert default.ok


def test_time_error_estimate_tracks_the_actual_error(default_and_tight):
    default, tight = default_and_tight
    t = default.history["t"]
    idx = [np.flatnonzero(t == s)[0] for s in TIMES]
    estimate = default.history["risk_time_error"][idx]
    actual = np.abs(risk_at(default) - risk_at(tight))
    ratio = estimate / actual
    assert np.all((ratio > 0.5) & (ratio < 5))  # measured 0.88 to 0.99
    assert default.risk_time_error == default.history["risk_time_error"].max() >= estimate.max()


def test_controller_error_falls_with_the_tolerance(space):
    reference = risk_at(fempde.solve(PROBLEM, space, "uniform", 0.3, times=TIMES,
                                     options=fempde.StepOptions(rtol=1e-8)))
    errors = [np.abs(risk_at(fempde.solve(PROBLEM, space, "uniform", 0.3, times=TIMES,
                                          options=fempde.StepOptions(rtol=rtol)))
                     / reference - 1).max() for rtol in (1e-4, 1e-5, 1e-6)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] <= 5e-4


def test_steps_land_on_the_output_times_and_respect_the_tolerance(default_and_tight):
    default, _ = default_and_tight
    assert set(TIMES) <= set(default.history["t"].tolist())
    assert default.history["rejected_steps"].sum() < 0.1 * len(default.history["t"])


def test_default_first_step_is_clamped_into_its_bounds():
    # the default dt0 (1e-4 t_end) outside [dt_min, dt_max] is clamped, not an error
    assert fempde.StepOptions(dt_max=2e-5).resolved(0.5) == (2e-5, 2e-5, 5e-13)
    assert fempde.StepOptions(dt_min=1e-3).resolved(0.5)[0] == 1e-3
    with pytest.raises(ValueError, match="need dt_min <= dt0 <= dt_max"):
        fempde.StepOptions(dt0=1e-2, dt_max=1e-3).resolved(0.5)  # given values are not moved
    # the case of the issue: t_end = 0.5 with dt_max = 2e-4 runs
    result = fempde.solve(PROBLEM, meshes.interval(0, 1, 0.05), "uniform", 0.5, options=fempde.StepOptions(dt_max=2e-4))
    assert result.stop_reason == "t_end" and result.history["dt"].max() <= 2e-4 * (1 + 1e-12)


def test_risk_self_converges_at_second_order_in_h():
    """R(0.03) on h = 1/100 ... 1/800 with tight steps: differences shrink by 4."""
    risks = []
    for h in (0.01, 0.005, 0.0025, 0.00125):
        result = fempde.solve(PROBLEM, meshes.interval(0, 1, h), "uniform", 0.03, times=(0.03,),
                              options=fempde.StepOptions(rtol=1e-8))
        risks.append(result.history["risk"][-1])
    differences = np.abs(np.diff(risks))
    rates = np.log2(differences[:-1] / differences[1:])
    assert np.all(rates >= 1.8)  # measured 1.99, 1.99 (the upwind mobility: 1.09, 1.04)


def test_space_error_estimate_brackets_the_refined_solution(tmp_path):
    mesh = meshes.interval(0, 1, 0.02)
    table = fempde.CSVWriter(tmp_path / "history.csv")
    result = fempde.solve(PROBLEM, mesh, "uniform", 0.03, [table], times=(0.01, 0.02, 0.03),
                          estimate_space_error=True)
    estimate = result.space_error
    assert estimate.times.tolist() == [0.01, 0.02, 0.03]
    fine = fempde.solve(PROBLEM, meshes.interval(0, 1, 0.0025), "uniform", 0.03, times=(0.01, 0.02, 0.03))
    actual = np.abs(estimate.risk - risk_at(fine, (0.01, 0.02, 0.03)))
    # second order: 4/3 |R_h − R_{h/2}| is R_h's error (measured 1.02 times it at a τ = 0 front)
    np.testing.assert_allclose(estimate.risk_error, actual, rtol=0.1)
    assert np.all(estimate.rho_l1 > 0) and estimate.nodes_refined == 101 and estimate.kind == "refined"
    assert "in space" in result.describe_accuracy()
    written = np.loadtxt(table.space_error_path, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(written[:, 3], estimate.risk_error)


def test_milne_constants_for_constant_steps():
    from fempde.solvers.milne import milne_factor

    assert milne_factor(0.1, (0.1,), "euler") == pytest.approx(-1 / 3, rel=1e-12)
    assert milne_factor(0.1, (), "euler") == pytest.approx(-1 / 2, rel=1e-12)  # explicit-Euler predictor
    assert milne_factor(0.1, (0.1, 0.1), "bdf2") == pytest.approx(-2 / 11, rel=1e-12)
