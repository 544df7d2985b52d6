"""fempde.model.limit: the solver it picks, the numbers it gives, and its error estimates,
each against an independent number."""

import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

import fempde
import meshes
from fempde.meanfield import DRIFT
from fempde.model import (
    TRAINED,
    FiniteData,
    Gaussian,
    GaussianMixture,
    MeanFieldModel,
    Ridge,
    chizat_bach,
    gaussian_classes,
    jmm_rbf,
    lazy_network,
    limit,
    mmn_anisotropic,
    mmn_isotropic,
)
from fempde.model.limits import choose_method
from fempde.model.limits.flows import point_trial, quantile_trial, reduced_trial
from fempde.model.limits.homogeneous import CircleField, rays
from fempde.model.limits.mesh import mesh_trial
from fempde.model.limits.refine import Knob, Trial, converge
from fempde.problems.homogeneous import Teacher

TWO_CLASSES = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[0.7], [1.2]], [-1.0, 1.0])


def _tanh_model(mean=(0.2, 0.0), sd=(1.0, 0.5)):
    """``a tanh(w x)`` on two 1-D Gaussian classes: a smooth noiseless flow in D = 2."""
    return MeanFieldModel(Ridge("tanh", 1, output=TRAINED), TWO_CLASSES, Gaussian(list(mean), list(sd)))


def _class_expectation(f):
    """``E f(x, y)`` over :data:`TWO_CLASSES` by adaptive quadrature (independent of every rule)."""
    total = 0.0
    for (p, mean, sd, label) in TWO_CLASSES.components:
        density = lambda x, m=float(mean[0]), s=float(sd[0]): math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(
            2 * math.pi))
        total += p * quad(lambda x, y=label, g=density: f(x, y) * g(x), -12, 12, limit=200, epsabs=1e-13)[0]
    return total


# -- auto ----------------------------------------------------------------------------------------------------------

def test_auto_picks_the_solver_of_each_paper_network_and_says_why():
    x = np.eye(3)
    cases = {
        "kernel": lazy_network(FiniteData(x, np.ones(3))),
        "radial": mmn_isotropic(0.5, 10),
        "reduced": mmn_anisotropic(0.25, 40, 10),
        "porous-medium": jmm_rbf(meshes.interval(0, 1, 0.1), lambda p: 1 + 0 * p[0], 0.2),
        "points": chizat_bach(),
        "fem": MeanFieldModel(Ridge("tanh", 1, output=TRAINED), TWO_CLASSES, Gaussian([0, 0], [1, 1]), beta=10.0,
                              domain=meshes.rectangle(-3, 3, -3, 3, h=1.0)),
    }
    for method, model in cases.items():
        chosen, why = choose_method(model)
        assert chosen == method
        assert len(why) > 30
    noisy_radial = choose_method(mmn_isotropic(0.5, 10, beta=50.0))[1]
    assert "finite elements" in noisy_radial and "quantiles" in choose_method(mmn_isotropic(0.5, 10))[1]


def test_bad_requests_are_refused_with_the_reason():
    noisy = MeanFieldModel(Ridge("tanh", 1, output=TRAINED), TWO_CLASSES, Gaussian([0, 0], [1, 1]), beta=10.0)
    with pytest.raises(ValueError, match="declare the θ-domain"):
        limit(noisy, [0.0, 1.0])
    with pytest.raises(ValueError, match="needs the θ-domain"):
        limit(_tanh_model(), [0.0, 1.0], method="fem")
    with pytest.raises(ValueError, match="D = 4 > 3"):
        limit(mmn_anisotropic(0.25, 2, 1), [0.0, 1.0], method="fem")
    with pytest.raises(ValueError, match="kernel flow"):
        limit(lazy_network(FiniteData(np.eye(3), np.ones(3))), [0.0, 1.0], method="points")
    with pytest.raises(ValueError, match="noiseless flow"):
        limit(noisy, [0.0, 1.0], method="points")
    with pytest.raises(ValueError, match="symmetry='radial'"):
        limit(_tanh_model(), [0.0, 1.0], method="radial")
    with pytest.raises(ValueError, match="method must be"):
        limit(_tanh_model(), [0.0, 1.0], method="spectral")
    with pytest.raises(ValueError, match="increasing"):
        limit(_tanh_model(), [1.0, 0.5])
    with pytest.raises(TypeError, match="MeanFieldModel"):
        limit("model", [0.0, 1.0])


# -- the points ------------------------------------------------------------------------------------------------------

def test_a_point_mass_follows_an_independent_ode():
    """One unit ``(w, a)``: ``dθ/dt = DRIFT E[(y − a tanh(wx)) ∇θ(a tanh(wx))]`` by adaptive quadrature."""
    model = _tanh_model(mean=(0.4, 0.3), sd=(0.0, 0.0))
    times = [0.0, 0.5, 1.5]
    result = limit(model, times, data_level=64, estimate=False)
    assert result.method == "points" and result.law.points.shape == (3, 1, 2)

    def velocity(_, theta):
        w, a = theta
        residual = lambda x, y: y - a * math.tanh(w * x)
        dw = _class_expectation(lambda x, y: residual(x, y) * a * (1 - math.tanh(w * x) ** 2) * x)
        da = _class_expectation(lambda x, y: residual(x, y) * math.tanh(w * x))
        return [DRIFT * dw, DRIFT * da]

    ode = solve_ivp(velocity, (0, 1.5), [0.4, 0.3], t_eval=times, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.law.points[:, 0, :], ode.y.T, atol=1e-6)
    risk = [_class_expectation(lambda x, y, w=w, a=a: (y - a * math.tanh(w * x)) ** 2) for w, a in ode.y.T]
    np.testing.assert_allclose(result.risk, risk, atol=1e-6)


def test_frozen_coordinates_stay_where_they_start():
    model = MeanFieldModel(Ridge("tanh", 1, output=TRAINED), TWO_CLASSES, Gaussian([0.2, 0.5], [1.0, 0.3]),
                           trained=(True, False))
    result = limit(model, [0.0, 1.0], data_level=16, initial_level=4, estimate=False)
    np.testing.assert_array_equal(result.law.points[1][:, 1], result.law.points[0][:, 1])
    assert np.max(np.abs(result.law.points[1][:, 0] - result.law.points[0][:, 0])) > 1e-2


def test_data_quadrature_estimate_against_the_true_error():
    """The change to the refined rule (32 → 64 nodes) against the error measured with 256 nodes."""
    model, times = _tanh_model(), np.array([0.0, 0.5, 1.0, 2.0])
    levels = {"initial": 6, "rtol": 1e-10}
    truth = point_trial(model, times, {**levels, "data": 256}).risk
    result = limit(model, times, data_level=24, initial_level=6, rtol=1e-10, max_refinements=0)
    estimate = result.part("data quadrature").risk
    error = np.abs(result.risk - truth)
    assert 0.5 < np.max(estimate) / np.max(error) < 2.0  # measured 1.07
    assert np.max(error) > 1e-4  # a real error, not round-off


def test_initial_quadrature_estimate_against_the_true_error():
    model, times = _tanh_model(), np.array([0.0, 0.5, 1.0, 2.0])
    truth = point_trial(model, times, {"data": 16, "initial": 16, "rtol": 1e-9}).risk
    result = limit(model, times, data_level=16, initial_level=4, rtol=1e-9, max_refinements=0)
    estimate = np.max(result.part("initial quadrature").risk)
    error = np.max(np.abs(result.risk - truth))
    assert 0.5 < estimate / error < 2.0  # measured 1.24
    assert error > 1e-3


def test_refinement_stops_where_the_parts_together_are_within_their_share():
    """A synthetic limit whose two parts err by ``c / level²``: the largest is refined until
    together their changes are within ``share · accuracy``, and the choices say so."""
    times = np.array([0.0, 1.0])

    def run(levels):
        risk = 1.0 + 0.5 / levels["a"] ** 2 + 0.02 / levels["b"] ** 2 + 0 * times
        return Trial(levels, risk, None)

    knobs = [Knob("initial quadrature", "a", lambda n: 2 * n, str), Knob("data quadrature", "b", lambda n: 2 * n, str)]
    base, estimates = converge(run, {"a": 2, "b": 2}, knobs, accuracy=1e-2, share=0.8)
    # the change from n to 2n is (3/4) c / n²: a = 2, 4, 8 leave 0.094, 0.023, 0.0059 (+ b's 0.0038 > 0.008);
    # a = 16 leaves 0.0015 + 0.0038 < 0.008
    assert base.levels == {"a": 16, "b": 2}
    assert np.max(estimates["initial quadrature"].risk) == pytest.approx(0.75 * 0.5 / 16**2, rel=1e-12)
    assert "refined from 2 at" in estimates["initial quadrature"].choice
    assert ", within 8.0e-03" in estimates["data quadrature"].choice


# -- Chizat–Bach: rays and the exact circle field -----------------------------------------------------------------

def test_circle_field_against_the_closed_form_kernel():
    """∇Ψ of weighted units by the circle integrals against finite differences of the
    arc-cosine closed forms ``V(θ) + Σ_j w_j U(θ, θ_j)``; the risk exactly."""
    teacher, rng = Teacher.default(), np.random.default_rng(4)
    theta, weights = rng.standard_normal((6, 3)), rng.dirichlet(np.ones(6))
    field = CircleField(teacher.output, teacher.directions)
    grad = field.gradient(theta, weights)
    step = 1e-6
    for i in range(6):
        for c in range(3):
            shift = np.zeros(3)
            shift[c] = step
            psi = [float(teacher.V((theta[i] + s * shift)[None])[0] + teacher.U((theta[i] + s * shift)[None], theta)[0]
                         @ weights) for s in (1, -1)]
            assert grad[i, c] == pytest.approx((psi[0] - psi[1]) / (2 * step), abs=1e-7)
    risk = teacher.second_moment() + 2 * weights @ teacher.V(theta) + weights @ teacher.U(theta, theta) @ weights
    assert field.risk(theta, weights) == pytest.approx(risk, abs=1e-14)


def test_rays_merge_points_of_one_direction_and_keep_the_output():
    """Points ``c θ`` on one ray: one start at the root mean square radius, the same ``∫σ* dρ``."""
    direction = np.array([0.6, 0.0, 0.8])
    points = np.vstack([c * direction for c in (0.5, 1.0, 2.0)] + [[0.0, 1.0, 0.0]])
    weights = np.array([0.2, 0.3, 0.1, 0.4])
    starts, masses, ray, scale = rays(points, weights)
    assert len(masses) == 2 and masses.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(starts[ray] * scale[:, None], points, atol=1e-12)
    x = np.random.default_rng(0).standard_normal((50, 2))
    output = lambda p, w: (p[:, 0] * np.maximum(x @ p[:, 1:].T, 0)) @ w
    np.testing.assert_allclose(output(starts, masses), output(points, weights), atol=1e-13)


def test_teacher_point_mass_flow_against_the_closed_form_ode():
    """One unit learning the teacher: the flow of the exact field against ``solve_ivp`` of
    finite differences of the closed forms."""
    teacher = Teacher.default()
    start = np.array([0.4, 0.3, 0.2])
    model = chizat_bach(start=fempde.SphereLaw(float(np.linalg.norm(start))))
    field = CircleField(teacher.output, teacher.directions)
    times = [0.0, 0.5, 1.0]

    def velocity(_, theta):
        grad = np.zeros(3)
        for c in range(3):
            shift = np.zeros(3)
            shift[c] = 1e-6
            moved = [(theta + s * shift)[None] for s in (1, -1)]
            psi = [float(teacher.V(p)[0] + teacher.U(p, theta[None])[0, 0]) for p in moved]
            grad[c] = (psi[0] - psi[1]) / 2e-6
        return -DRIFT * grad

    ode = solve_ivp(velocity, (0, 1.0), start, t_eval=times, rtol=1e-10, atol=1e-12)
    flow = fempde.point_flow(field, start[None], np.ones(1), times, model.schedule, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flow.points[:, 0, :], ode.y.T, atol=1e-6)


@pytest.mark.slow
def test_teacher_flow_does_not_depend_on_the_size_of_the_b0_cone():
    """Units reaching b = 0 leave by steepest descent: cones of 1e-5 and 1e-7 give one curve."""
    model, times = chizat_bach(), np.array([0.0, 3.0, 9.0])
    risks = [point_trial(model, times, {"data": None, "initial": 4, "rtol": 1e-8, "dead_zone": zone}).risk
             for zone in (1e-5, 1e-7)]
    np.testing.assert_allclose(risks[0], risks[1], rtol=1e-5)


# -- the mesh ----------------------------------------------------------------------------------------------------------

def test_fem_path_gives_what_solve_gives():
    mesh = meshes.disk(2.5, h=0.7)
    model = MeanFieldModel(Ridge("piecewise-linear", 2), gaussian_classes(0.5, 2), Gaussian([0.0, 0.0], 0.4),
                           lam=0.2, beta=30.0, domain=mesh)
    times = [0.0, 0.2, 0.4]
    result = limit(model, times, data_level=8, estimate=False)
    space = fempde.Space(mesh)
    rho0 = fempde.initial_density(space, model.initial_density(), normalize=True)
    direct = fempde.solve(model.problem(8), space, rho0, 0.4, times=times[1:])
    t = direct.history["t"]
    expected = [direct.history["risk"][np.flatnonzero(t == s)[0]] for s in times]
    np.testing.assert_array_equal(result.risk, expected)
    np.testing.assert_array_equal(result.law.rho[-1], direct.snapshots[0.4])
    assert result.method == "fem" and not result.part("space").estimated
    assert result.part("time").risk[-1] == direct.history["risk_time_error"][-1]


@pytest.mark.parametrize("h, times, reference", [
    (1.0, [0.0, 0.25, 0.5], 64),  # measured 6.4e-2 against 5.0e-2; 64² is 1.6e-3 from 128²
    pytest.param(0.6, [0.0, 0.5, 1.0], 128, marks=pytest.mark.slow),  # 5.8e-2 against 6.1e-2; 128² is 3e-3 off
])
def test_fem_data_quadrature_estimate_against_the_true_error(h, times, reference):
    """On a coarse disk: the 32² rule's estimate (a third of the change from 16²) against its
    error measured with a much finer rule."""
    mesh = meshes.disk(3.0, h=h)
    model = MeanFieldModel(Ridge("piecewise-linear", 2), gaussian_classes(0.5, 2), Gaussian([0.0, 0.0], 0.4),
                           lam=0.2, beta=30.0, domain=mesh)
    times = np.array(times)
    truth = mesh_trial(model, mesh, times, {"data": reference, "rtol": None}).risk
    result = limit(model, times, data_level=32, space_error=False)
    error = np.max(np.abs(result.risk - truth))
    assert 0.5 < np.max(result.part("data quadrature").risk) / error < 2.0
    assert "half the nodes" in result.part("data quadrature").how


# -- the lazy limit ----------------------------------------------------------------------------------------------------

def test_lazy_kernel_flow_against_its_closed_form_on_one_training_point():
    """n = 1: ``R(t) = e^{−2hΞ} (y² + k)`` with ``h = E[a² tanh'(wx)² x² + tanh(wx)²]``,
    ``k = E[a² tanh(wx)²]``, ``w ~ N(0, s²)``, ``a ~ N(0, 1)``: one-dimensional integrals."""
    x, y, s = 0.8, 0.6, 1.5
    model = lazy_network(FiniteData([[x]], [y]), w_scale=s)
    gauss = lambda f: quad(lambda w: f(w) * math.exp(-0.5 * (w / s) ** 2) / (s * math.sqrt(2 * math.pi)), -15 * s,
                           15 * s, epsabs=1e-14)[0]
    h = gauss(lambda w: (1 - math.tanh(w * x) ** 2) ** 2 * x * x + math.tanh(w * x) ** 2)
    k = gauss(lambda w: math.tanh(w * x) ** 2)
    times = np.array([0.0, 0.5, 2.0])
    result = limit(model, times, initial_level=32)
    assert result.method == "kernel"
    exact = np.exp(-2 * h * times) * (y * y + k)
    error = np.max(np.abs(result.risk - exact))
    assert error < 2e-4 * exact[0]  # Gauss–Hermite in w converges slowly for tanh: 9e-5 at 32 nodes
    assert 0.5 < np.max(result.part("initial quadrature").risk) / error < 2.0  # the estimate, 32 → 64 nodes
    np.testing.assert_allclose(result.law.output_mean[:, 0], y - np.exp(-h * times) * y, atol=1e-4)
    assert result.accurate


# -- defaults within 1 % -------------------------------------------------------------------------------------------

def test_radial_default_is_within_one_percent_of_converged():
    """Noiseless, the narrow law (Δ = 0.8, d = 40): the default quantile flow against 16× the
    quantiles and 8× the table (which agree with 8× and 4× to 1e-5)."""
    model, times = mmn_isotropic(0.8, 40), np.linspace(0.0, 4.0, 9)
    result = limit(model, times)
    reference = quantile_trial(model, times, {"initial": 4096, "table": 1601, "rtol": 1e-10, "r_max": 8.0})
    error = np.max(np.abs(result.risk - reference.risk) / reference.risk)
    assert result.accurate and error < 1e-2
    assert np.max(result.relative_error) > 0.3 * error  # the estimate is not blind to it


@pytest.mark.slow
def test_fig3_default_means_within_one_percent_small():
    """Fig. 3's reduced flow at d = 40, s0 = 10 to t = 30: the default rule's risk and means
    against 128 quantiles per radius."""
    model = mmn_anisotropic(0.25, 40, 10)
    times = np.concatenate([[0.0], np.geomspace(0.05, 30.0, 8)])
    result = limit(model, times)
    reference = reduced_trial(model, times, {"initial": 128, "rtol": 1e-9})
    assert np.max(np.abs(result.risk - reference.risk) / reference.risk) < 1e-2
    scale = np.maximum(np.abs(reference.law.means()), 0.1 * reference.law.root_mean_squares())
    assert np.max(np.abs(result.law.means() - reference.law.means()) / scale) < 1e-2


@pytest.mark.slow
def test_teacher_student_limit_within_1e3_of_a_finer_rule():
    """Chizat–Bach to t = 9 at accuracy 1e-3: the sphere rule it chooses (32: 2048 rays, estimated
    against 64) within 1e-3 relative of an independent level-48 curve at every output time (to
    t = 30: 2.5e-4 against level 64, benchmarks/limits.py teacher)."""
    model, times = chizat_bach(), np.linspace(0.0, 9.0, 7)
    result = limit(model, times, accuracy=1e-3)
    assert result.levels["initial"] == 32 and result.accurate
    reference = point_trial(model, times, {"data": None, "initial": 48, "rtol": 1e-8})
    assert np.max(np.abs(result.risk - reference.risk) / reference.risk) < 1e-3


def test_an_initial_law_the_domain_cuts_off_is_refused_not_rescaled():
    """A start mostly outside the θ-domain would be rescaled to mass 1 on what is left: a different
    start from the SGD's. It is refused with the mass the domain keeps."""
    from fempde.model import Gaussian, GaussianMixture, MeanFieldModel, Ridge, limit

    data = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[0.5], [0.5]], [-1.0, 1.0])
    far = MeanFieldModel(Ridge("tanh", 1, output="trained"), data, Gaussian([3.0, 0.0], [0.5, 0.5]), lam=0.05,
                         beta=50.0, domain=meshes.rectangle(-3, 3, -3, 3, h=0.5))
    with pytest.raises(ValueError, match=r"initial law has mass 0\.4\d+ on the θ-domain.s mesh, not 1 .*cuts off 0\.5"):
        limit(far, [0.0, 0.1])
