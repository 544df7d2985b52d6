"""The step-size estimate: exact for a linear network, the warning on the issue's
triangle (SGD rises while the PDE falls) and none on a stable run, and it never
draws from the run's Generator."""

import copy
import warnings

import numpy as np
import pytest

import fempde
import meshes
import particles
from fempde.meanfield import DRIFT
from fempde.model import Gaussian, GaussianMixture, MeanFieldModel, Ridge, jmm_rbf
from fempde.problems.neurons import Hinges
from particles.batch import Batch
from particles.stability import StepSizeWarning, check_step_size, step_limit


def _linear(lam=0.0):
    """Units ⟨w, x⟩ (σ(z) = z, a = 1, b = 0) on a two-component mixture in d = 2."""
    data = GaussianMixture([0.3, 0.7], [[1.0, -0.5], [-0.4, 0.8]], [[0.6, 1.2], [0.9, 0.5]], [1.0, -1.0])
    return MeanFieldModel(Ridge(Hinges((), (), 0.0, 1.0), 2), data, Gaussian(np.zeros(2), 0.5), lam=lam)


def test_linear_network_limits_are_the_classical_ones(rng):
    """σ(z) = z: K(x, x') = κ ⟨x, x'⟩ whatever θ. Full batch on a Gauss–Hermite rule of
    8 nodes (exact for quadratics): λ = κ λ_max(E x xᵀ) to round-off, and gradient
    descent (the mean unit w̄ is least squares' GD, w̄ ← w̄ + κ s E[x (y − ⟨w̄, x⟩)])
    converges at 0.95 of 2/λ and diverges at 1.05, warned; one sample a step: K̄ = κ E|x|²
    within 4 standard errors of the estimate's 256 fixed draws."""
    model = _linear()
    theta = model.sample_initial(5, rng)
    rule = model.quadrature(8)
    second = (rule.points * rule.weights[:, None]).T @ rule.points
    best = np.linalg.solve(second, rule.points.T @ (rule.weights * rule.y_mean))
    full = step_limit(model, theta, Batch(None, 8))
    assert full.kernel == pytest.approx(DRIFT * np.linalg.eigvalsh(second)[-1], rel=1e-12)
    for factor, converges in ((0.95, True), (1.05, False)):
        axis = model.axis(factor * full.limit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = particles.sgd(model, theta, axis, [axis.time(400)], rng=rng, batch=("full", 8))
        assert (np.abs(run.theta[-1].mean(axis=0) - best).max() < 1e-6) == converges
        assert [w.category for w in caught] == ([] if converges else [StepSizeWarning])
    one = step_limit(model, theta, Batch(1))
    x, _ = model.data.sample(200_000, np.random.default_rng(3))
    squares = DRIFT * np.sum(x * x, axis=1)
    assert one.kernel == pytest.approx(squares.mean(), abs=4 * squares.std() / np.sqrt(256))
    assert one.limit == pytest.approx(2 / one.kernel) and full.ridge == np.inf


def test_the_issues_triangle_warns_and_a_stable_step_does_not(rng):
    """RBF bumps (triweight, δ = 0.15) on a triangle of one's own, N = 400: at
    ε = 1e-4 the engine warns before the run, and the SGD risk rises (measured
    0.86 → 1.73 by t = 0.05) while the PDE's falls (0.63 → 0.17); at ε = 1e-5 no
    warning, and SGD falls with the PDE (measured 0.22 against 0.17)."""
    mesh = meshes.polygon([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], h=0.1)
    target = lambda x: 6 * x[0] * (1 - x[0])
    model = jmm_rbf(mesh, target, 0.15)
    pde = fempde.solve(model.problem(), fempde.Space(mesh), model.initial_density(), 0.05, times=[0.05])
    pde_risk = [pde.system.risk(pde.snapshots[t]) for t in (0.0, 0.05)]
    assert pde_risk[1] < 0.5 * pde_risk[0]
    risk = particles.PopulationRisk(mesh, target, fempde.Kernel("triweight", 2, 0.15))
    theta0 = model.sample_initial(400, rng)
    seed = rng.spawn(1)[0]
    with pytest.warns(StepSizeWarning, match=r"the first step s_0 = 0.0001 .* is past the stability limit .* "
                                             r"lower epsilon below 5\.0\de-05"):
        unstable = particles.sgd(model, theta0, model.axis(1e-4), [0.0, 0.05], rng=copy.deepcopy(seed))
    assert risk(unstable.theta[1]) > 1.5 * risk(unstable.theta[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", StepSizeWarning)
        stable = particles.sgd(model, theta0, model.axis(1e-5), [0.0, 0.05], rng=copy.deepcopy(seed))
    assert risk(stable.theta[1]) < 0.35 * risk(stable.theta[0])
    assert abs(risk(stable.theta[1]) - pde_risk[1]) < 0.1


def test_the_estimate_draws_nothing_from_the_run_and_the_ridge_warns(rng):
    model = _linear(lam=2.0)
    theta = model.sample_initial(5, rng)
    before = copy.deepcopy(rng.bit_generator.state)
    with pytest.warns(StepSizeWarning, match=r"DRIFT λ s_0 = 1.2 >= 1 \(lam = 2, s_0 = 0.3\).*below 0.25"):
        check_step_size(model, theta, model.axis(0.3), Batch(1))
    assert rng.bit_generator.state == before
    with warnings.catch_warnings():
        warnings.simplefilter("error", StepSizeWarning)
        check_step_size(model, theta, model.axis(1e-3), Batch(1))


def test_an_ensemble_warns_once_naming_its_unstable_members(rng):
    model = _linear()
    axis = model.axis(1.0)  # past the limit for any start (K̄ = κ E|x|² ≈ 4)
    members = [particles.Member(model.sample_initial(3, g), axis if r != 1 else model.axis(1e-3), g)
               for r, g in enumerate(rng.spawn(3))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        particles.ensemble(model, members, [2.0])
    assert len(caught) == 1 and issubclass(caught[0].category, StepSizeWarning)
    assert str(caught[0].message).startswith("members [0, 2] of 3: the first step s_0 = 1 ")
