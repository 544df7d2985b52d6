"""The explicit stepper (RKC2) and ``scheme="auto"``: its stability polynomial, exact mass and
ρ ≥ 0 on every accepted step, second order against a tight implicit solve, and the choice by
estimated cost (RKC2 where it is cheaper, the implicit scheme where the flow is stiff)."""

import numpy as np
import pytest
from exact import fitted_rate

import fempde
import meshes
from fempde.solvers.cost import SchemeChoice
from fempde.solvers.rkc import MAX_STAGES, coefficients, stability_limit, stages_for

# the benchmark problem of benchmarks/peers.py: ∂_t ρ = ∇·(ρ∇(ρ − f)) + τΔρ on the unit square
PROBLEM = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.5) ** 2 - (x[1] - 0.5) ** 2), tau=0.05,
                              schedule=fempde.Constant(0.5))


@pytest.fixture(scope="module")
def space():
    return fempde.Space(meshes.rectangle(h=1 / 16))


def amplification(s: int, z: np.ndarray) -> np.ndarray:
    """RKC2's stability polynomial ``R(z)``: one step of the stage recurrence on ``y' = λy``, ``z = kλ``."""
    c = coefficients(s)
    older, old = np.ones_like(z), 1 + c.mu_tilde[1] * z
    for j in range(2, s + 1):
        older, old = old, ((1 - c.mu[j] - c.nu[j]) + c.mu[j] * old + c.nu[j] * older + c.mu_tilde[j] * z * old
                           + c.gamma_tilde[j] * z)
    return old


@pytest.mark.parametrize("s", [2, 3, 5, 10, 40, MAX_STAGES])
def test_stability_polynomial_is_second_order_and_stable_where_the_stages_are_chosen(s):
    small = np.array([-1e-3, 1e-3])
    assert np.abs(amplification(s, small) - (1 + small + small**2 / 2)).max() <= 1e-8  # O(z³) agreement
    # the largest kλ whose chosen stage count is s, with the margin of SAFETY, is inside [-β(s), 0]
    bound = 1.0
    k = stability_limit(bound, s)
    assert stages_for(k, bound) <= s
    z = -np.linspace(0.0, k * 1.1, 20001)  # SAFETY = 1.1: the bound may grow that much within the step
    assert np.abs(amplification(s, z)).max() <= 1.0 + 1e-12


def fixed(space, scheme, dt, **kwargs):
    return fempde.solve(PROBLEM, space, "uniform", 0.1,
                        options=fempde.StepOptions(dt0=dt, dt_max=dt, rtol=None, scheme=scheme), **kwargs)


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
def test_rkc_is_second_order_against_a_tight_implicit_solve(space):
    """L1 errors at t = 0.1 against BDF2 at rtol 1e-8 on the same mesh, with a target whose
    normal derivative vanishes on the walls (the peers' target drives a wall layer thinner than
    h at small t, whose stiff modes RKC2 damps only slowly: there fixed steps reach the
    asymptotic range below Δt = 2.5e-3). Fitted order 1.98 (step ratios 4.2, 3.3, 5.0)."""
    problem = fempde.PorousMedium(lambda x: 1 + 0.5 * np.cos(np.pi * x[0]) * np.cos(np.pi * x[1]), tau=0.05,
                                  schedule=fempde.Constant(0.5))
    reference = fempde.solve(problem, space, "uniform", 0.1,
                             options=fempde.StepOptions(rtol=1e-8, dt0=1e-6, scheme="bdf2")).rho  # 8e-8 from rtol 1e-10
    steps = [2e-2, 1e-2, 5e-3, 2.5e-3]
    runs = [fempde.solve(problem, space, "uniform", 0.1,
                         options=fempde.StepOptions(dt0=dt, dt_max=dt, rtol=None, scheme="rkc")) for dt in steps]
    assert all(r.schemes == {"rkc": 5 * 2**k} for k, r in enumerate(runs))
    errors = np.array([space.integrate(np.abs(r.rho - reference)) for r in runs])
    assert 1.8 <= fitted_rate(steps, errors) <= 2.3
    assert np.all(errors[:-1] / errors[1:] > 3.0)


def test_rkc_keeps_mass_exact_and_the_density_nonnegative(space):
    result = fixed(space, "rkc", 5e-3)
    assert result.history["mass_drift"].max() <= 1e-14
    assert result.history["min_rho"].min() > 0
    assert np.diff(result.history["free_energy"]).max() < 0
    assert result.ok
    assert result.schemes == {"rkc": 20}
    assert result.stages >= 2 * 20  # at least two stages a step


def test_rkc_at_a_free_boundary_keeps_every_accepted_step_nonnegative():
    """τ = 0 from a bump: a free boundary, where the Chebyshev stages may undershoot; every
    accepted step is nonnegative and keeps the mass (an undershooting step is redone by
    implicit Euler, and the record says how many)."""
    space = fempde.Space(meshes.interval(-1, 1, h=0.02))
    problem = fempde.PorousMedium(lambda x: 2.0 * (0.8 - x[0] ** 2), tau=0.0, schedule=fempde.Constant(1.0))
    values = space.interpolate(lambda x: np.exp(-8 * (x[0] + 0.4) ** 2) * (np.abs(x[0] + 0.4) < 0.5))
    result = fempde.solve(problem, space, values / space.integrate(values), 1.0,
                          options=fempde.StepOptions(rtol=1e-3, scheme="rkc"))
    assert result.history["min_rho"].min() >= 0.0
    assert result.certificates.max_mass_drift <= 1e-13
    assert np.diff(result.history["free_energy"]).max() <= 1e-12
    assert result.schemes.get("rkc", 0) > 0.9 * sum(result.schemes.values())


def test_auto_takes_rkc_where_cheaper_and_bdf2_where_stiff(space):
    """To t = 0.1 at rtol 1e-2 the accuracy-limited steps are a few explicit limits long: every
    step explicit, no Newton iteration. To the steady state the steps grow to Δt = 5, hundreds
    of thousands of explicit limits: implicit, once the estimated cost says so."""
    transient = fempde.solve(PROBLEM, space, "uniform", 0.1, options=fempde.StepOptions(rtol=1e-2, scheme="auto"))
    assert transient.schemes == {"rkc": len(transient.history["t"]) - 1}
    assert transient.history["newton_iterations"].sum() == 0
    bdf2 = fempde.solve(PROBLEM, space, "uniform", 0.1, options=fempde.StepOptions(rtol=1e-2, scheme="bdf2"))
    assert space.integrate(np.abs(transient.rho - bdf2.rho)) < 3e-4  # their time errors at rtol 1e-2: 1.1e-4
    steady = fempde.solve(PROBLEM, space, "uniform", 100.0, [fempde.SteadyState(1e-8)],
                          options=fempde.StepOptions(rtol=None, dt0=1e-3, dt_max=5.0, scheme="auto"))
    assert steady.stop_reason == "observer" and steady.t < 100.0  # the steady state reached
    assert steady.schemes.get("bdf2", 0) + steady.schemes.get("euler", 0) >= 2  # measured 18 RKC2 steps, then 3
    steps = list(fempde.steps(steady.system, np.ones(space.n), 100.0,
                              options=fempde.StepOptions(rtol=None, dt0=1e-3, dt_max=5.0, scheme="auto")))
    assert steps[1].scheme == "rkc"  # the first, small steps explicit
    long = [s for s in steps if s.dt >= 1.0]
    assert len(long) > 10 and all(s.scheme in ("bdf2", "euler") for s in long)  # the long ones implicit


def test_cost_model_prefers_explicit_for_few_stages_and_implicit_for_many():
    choice = SchemeChoice(n=10_000, solver="direct")
    assert choice.explicit(k=1e-4, bound=1e3)  # kλ = 0.1: two stages
    assert not choice.explicit(k=1.0, bound=1e6)  # kλ = 1e6: over a thousand stages
    assert choice.explicit_cost(1.0, 1e9) == float("inf")  # beyond MAX_STAGES: never
    # the break-even grows with the mesh: an implicit step's cost is ~14 stages a node, an explicit one's
    # ~(s + 1): the break-even is s ≈ 68 at n = 289, s ≈ 41 at n = 16641
    small, large = SchemeChoice(289, "direct"), SchemeChoice(16641, "direct")
    assert small.implicit_cost() / 289 > large.implicit_cost() / 16641


def test_rkc_is_refused_where_it_does_not_apply_and_auto_falls_back():
    space = fempde.Space(meshes.interval(0, 1, 0.05))
    problem = fempde.FiniteDeltaPorousMedium(lambda x: 1 + 0.5 * np.cos(np.pi * x[0]), tau=0.05, delta=0.3)
    with pytest.raises(ValueError, match="scheme='rkc'"):
        fempde.solve(problem, space, "uniform", 0.05, options=fempde.StepOptions(scheme="rkc"))
    auto = fempde.solve(problem, space, "uniform", 0.05, options=fempde.StepOptions(scheme="auto"))
    assert "rkc" not in auto.schemes and auto.ok


def test_rkc_run_resumes_exactly(tmp_path, space):
    full = fixed(space, "rkc", 5e-3)

    class StopAt(fempde.Observer):
        def observe(self, step):
            if step.index == 7:
                raise KeyboardInterrupt

    first = fixed(space, "rkc", 5e-3, observers=[fempde.Checkpointer(tmp_path / "ck.npz", every=1e9), StopAt()])
    assert first.stop_reason == "interrupted"
    resumed = fixed(space, "rkc", 5e-3, resume=tmp_path / "ck.npz")
    assert np.abs(resumed.rho - full.rho).max() <= 1e-13


def test_auto_run_resumes_exactly(tmp_path, space):
    """Interrupted after its first implicit steps, resumed: the same choices and the same density
    as the uninterrupted run (the choice depends on the step and the state only)."""
    options = fempde.StepOptions(rtol=None, dt0=1e-3, dt_max=5.0, scheme="auto")

    def run(**kwargs):
        return fempde.solve(PROBLEM, space, "uniform", 30.0, options=options, **kwargs)

    full = run()
    assert set(full.schemes) >= {"rkc", "bdf2"}
    stop = full.schemes["rkc"] + 3  # the explicit steps come first (the steps grow)

    class StopAt(fempde.Observer):
        def observe(self, step):
            if step.index == stop:
                raise KeyboardInterrupt

    first = run(observers=[fempde.Checkpointer(tmp_path / "ck.npz", every=1e9), StopAt()])
    assert first.stop_reason == "interrupted" and first.schemes["rkc"] < stop
    resumed = run(resume=tmp_path / "ck.npz")
    together = {k: first.schemes.get(k, 0) + resumed.schemes.get(k, 0) for k in full.schemes}
    assert together == full.schemes
    assert np.abs(resumed.rho - full.rho).max() <= 1e-13
