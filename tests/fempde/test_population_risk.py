"""Population risks of N units (fempde.model.risk): every method against an
independent number — the old exact risk, closed forms, fine quadratures, Monte
Carlo — and the stated errors against the differences they state."""

import math

import numba
import numpy as np
import pytest
from scipy.special import roots_legendre

import fempde
import meshes
from fempde.model import (
    TRAINED,
    Compiled,
    FiniteData,
    Gaussian,
    GaussianMixture,
    Homogeneous,
    MeanFieldModel,
    Ridge,
    TeacherData,
    UniformData,
    gaussian_classes,
)
from fempde.model import gaussian_risk as ridge_module
from fempde.model.hermite import hinge_coefficients
from fempde.model.hinge_pairs import hinge_pair_moments
from fempde.model.risk import expected_risk, population_risk
from fempde.problems.homogeneous import Teacher, relu_kernel
from fempde.problems.neurons import ACTIVATIONS


def ridge_model(activation, data, *, output=1.0, bias=0.0, scaling="mean-field"):
    unit = Ridge(activation, data.input_dim, output=output, bias=bias)
    return MeanFieldModel(unit, data, Gaussian(np.zeros(unit.dim), 1.0), scaling=scaling)


def mixture(d, *, label_noise=0.0):
    """Three components with means, unequal spreads and labels (not the symmetric classes)."""
    rng = np.random.default_rng(5)
    return GaussianMixture([0.2, 0.5, 0.3], rng.normal(0, 0.6, (3, d)), rng.uniform(0.5, 1.5, (3, d)),
                           [-1.0, 0.5, 2.0], label_noise)


def fine_quadrature_risk(model, theta):
    """``E(y − ŷ)²`` by a product of Gauss–Legendre rules on panels of 0.5 over ``[−8.5, 8.5]`` (10 nodes
    each) in each component (d = 2): spectral for a smooth σ, however steep (Gauss–Hermite is not)."""
    edges = np.linspace(-8.5, 8.5, 35)
    x, w = roots_legendre(10)
    g = (edges[:-1, None] + 0.25 * (x + 1)).ravel()
    wg = np.tile(0.25 * w, 34) * np.exp(-0.5 * g**2) / math.sqrt(2 * math.pi)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    weights = np.outer(wg, wg).ravel()
    total = model.data.label_noise**2
    for p, mean, sd, label in model.data.components:
        y_hat = model.unit(mean + grid * sd, theta).mean(axis=1)
        total += p * (weights @ (label - y_hat) ** 2)
    return total


def monte_carlo(model, theta, n, rng):
    x, y = model.data.sample(n, rng)
    errors = (y - model.unit(x, theta).mean(axis=1)) ** 2
    return errors.mean(), errors.std() / math.sqrt(n)


# -- hinges: exact --------------------------------------------------------------------------------------------

@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
@pytest.mark.parametrize("relevant", [None, 4])
def test_the_papers_sigma_matches_the_old_exact_risk(rng, relevant):
    from particles.dd import Network
    from particles.dd import population_risk as old

    d, n = 12, 40
    model = MeanFieldModel(Ridge("piecewise-linear", d), gaussian_classes(0.6, d, relevant), Gaussian(np.zeros(d), 1))
    w = rng.standard_normal((n, d)) * 2.0 / math.sqrt(d)
    new = population_risk(model, w)
    assert new.bounded and new.error <= 1e-12
    assert new.value == pytest.approx(old(Network(model.data.classes), w), rel=1e-10)
    # the ReLU network of Fig. 3, a and b trained
    fitted = MeanFieldModel(Ridge("relu", d, output=TRAINED, bias=TRAINED), gaussian_classes(0.6, d, relevant),
                            Gaussian(np.zeros(d + 2), 1))
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    expected = old(Network(fitted.data.classes, "relu", fit_output=True), w, a, b)
    assert population_risk(fitted, np.column_stack([w, a, b])).value == pytest.approx(expected, rel=1e-10)


def test_the_stated_bound_covers_a_truncated_series(rng, monkeypatch):
    """Series stopped at a remainder bound of 1e-6 (not 1e-15): the value moves, by no more than the
    error it then states."""
    from fempde.model import hermite

    model = ridge_model("piecewise-linear", mixture(6), bias=TRAINED)
    theta = np.column_stack([rng.normal(0, 0.8, (30, 6)), rng.normal(0, 0.3, 30)])
    exact = population_risk(model, theta)
    monkeypatch.setattr(hermite, "ETA", 1e-6)
    truncated = population_risk(model, theta)
    assert 1e-12 < abs(truncated.value - exact.value) <= truncated.error
    assert truncated.bounded and exact.error <= 1e-12


def test_the_window_formula_is_mehlers_series_and_the_square_at_alignment():
    """Near-aligned pairs: the window formula against Mehler's series of 4096 terms (where that
    converges) to 1e-13, and at c = 1 against E σ(z)² in closed form."""
    xs = np.linspace(-3, 3, 61)
    for sigma in (ACTIVATIONS["piecewise-linear"], ACTIVATIONS["nonmonotone"],
                  fempde.Hinges.through(list(zip(xs, np.tanh(xs) + 0.1 * xs**2, strict=True)))):
        knots, jumps = np.array(sigma.knots), np.array(sigma.jumps)
        m, s = np.array([0.3, -0.2, 0.1]), np.array([1.1, 0.8, 2.0])
        table = hinge_coefficients(knots, jumps, sigma.offset, sigma.slope, m, s, 4096)
        pairs = np.array([[0, 1], [0, 2], [1, 2], [2, 2]])
        for c in (0.5, 0.9, 0.99, -0.95):
            window = hinge_pair_moments(knots, jumps, sigma.offset, sigma.slope, m, s, pairs, np.full(4, c))
            series = [np.sum(c ** np.arange(4096) * table.alpha[i] * table.alpha[j]) for i, j in pairs]
            assert window == pytest.approx(series, rel=1e-13, abs=1e-13)
        aligned = hinge_pair_moments(knots, jumps, sigma.offset, sigma.slope, m, s, pairs, np.ones(4))
        assert aligned[3] == pytest.approx(table.norm2[2], rel=1e-14)


def test_aligned_units_in_one_dimension_are_exact(rng):
    """d = 1: every pair is aligned (c = ±1). Against E(y − ŷ)² by Gauss–Legendre on the pieces
    between all the kinks of ŷ (exact to round-off for a piecewise-linear ŷ)."""
    model = ridge_model("nonmonotone", gaussian_classes(0.4, 1), output=TRAINED, bias=TRAINED)
    theta = np.column_stack([rng.normal(0, 1.5, 9), rng.normal(0, 1, 9), rng.normal(0, 0.5, 9)])
    w, a, b = theta[:, 0], theta[:, 1], theta[:, 2]
    x, weights = roots_legendre(20)
    exact = 0.0
    for y, sd in ((-1.0, 0.6), (1.0, 1.4)):
        kinks = ((np.array(ACTIVATIONS["nonmonotone"].knots)[None, :] - b[:, None]) / w[:, None]).ravel()
        cuts = np.unique(np.clip(np.concatenate([kinks, [-12 * sd, 12 * sd]]), -12 * sd, 12 * sd))
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            points = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
            y_hat = (a * model.unit.sigma(np.outer(points, w) + b)).mean(axis=1)
            density = np.exp(-0.5 * (points / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
            exact += 0.5 * 0.5 * (hi - lo) * weights @ ((y - y_hat) ** 2 * density)
    risk = population_risk(model, theta)
    assert risk.value == pytest.approx(exact, rel=1e-12) and risk.error <= 1e-12


def test_the_near_aligned_formula_and_the_series_agree_in_a_risk(rng, monkeypatch):
    """d = 2, units within a few degrees of each other: the risk with most pairs off the series
    (a series of at most 16 terms) equals the default one to 1e-12."""
    model = ridge_model("piecewise-linear", mixture(2), bias=TRAINED)
    angles = rng.uniform(0.3, 0.4, 12)
    theta = np.column_stack([1.5 * np.cos(angles), 1.5 * np.sin(angles), rng.normal(0, 0.3, 12)])
    default = population_risk(model, theta).value
    monkeypatch.setitem(ridge_module.MOST_TERMS, "hinge", 16)
    assert population_risk(model, theta).value == pytest.approx(default, rel=1e-12)


@pytest.mark.parametrize("activation", ["nonmonotone", "tanh"])
def test_one_dimension_is_the_general_method_on_a_plane(rng, activation):
    """d = 1 takes one integral of (Σ g_i σ_i)²; the same units on a plane (a second, unused coordinate)
    take Mehler's series and the near-aligned formulas: one number, to 1e-13."""
    line = GaussianMixture([0.3, 0.7], [[0.5], [-0.2]], [[0.7], [1.3]], [1.0, -0.5], 0.1)
    plane = GaussianMixture([0.3, 0.7], [[0.5, 0.0], [-0.2, 0.0]], [[0.7, 1.0], [1.3, 1.0]], [1.0, -0.5], 0.1)
    theta = np.column_stack([rng.normal(0, 1.5, 30), rng.normal(0, 1, 30), rng.normal(0, 0.5, 30)])
    theta[3, 0] = 0.0  # a constant unit
    on_line = population_risk(ridge_model(activation, line, output=TRAINED, bias=TRAINED), theta)
    on_plane = population_risk(ridge_model(activation, plane, output=TRAINED, bias=TRAINED),
                               np.insert(theta, 1, 0.0, axis=1))
    assert on_line.value == pytest.approx(on_plane.value, rel=1e-13)
    assert on_line.error <= 1e-12 and on_line.method.startswith("Gaussian input on a line")


# -- other activations: a stated error --------------------------------------------------------------------------

@numba.njit
def softplus(z):
    return math.log1p(math.exp(-abs(z))) + max(z, 0.0)


@numba.njit
def softplus_slope(z):
    return 0.5 * (1.0 + math.tanh(0.5 * z))


SMOOTH = ["tanh", "sigmoid", "erf", Compiled(softplus, softplus_slope, name="softplus")]


def smooth_case(activation, rng):
    """d = 2, a 3-component mixture with label noise, a and b trained; unit 1 aligned with unit 0
    (c = −1) and unit 2 nearly so (c ≈ 0.99995): those pairs take the tensor rule."""
    model = ridge_model(activation, mixture(2, label_noise=0.3), output=TRAINED, bias=TRAINED)
    theta = np.column_stack([rng.normal(0, 0.8, (8, 2)), rng.normal(0, 1, 8), rng.normal(0, 0.5, 8)])
    theta[1, :2] = -0.7 * theta[0, :2]
    theta[2, :2] = theta[0, :2] @ [[math.cos(0.01), -math.sin(0.01)], [math.sin(0.01), math.cos(0.01)]]
    return model, theta


@pytest.mark.parametrize("activation", [pytest.param(a, marks=pytest.mark.slow) if a == "sigmoid" else a
                                        for a in SMOOTH])
def test_smooth_activations_against_a_fine_rule(rng, activation):
    """Within the stated error (below 1e-11) of a fine product rule (:func:`fine_quadrature_risk`)."""
    model, theta = smooth_case(activation, rng)
    risk = population_risk(model, theta)
    assert not risk.bounded and risk.noise == pytest.approx(0.09)
    assert risk.error <= 1e-11
    assert abs(risk.value - fine_quadrature_risk(model, theta)) <= risk.error + 1e-13


@pytest.mark.slow
@pytest.mark.parametrize("activation", SMOOTH)
def test_smooth_activations_against_monte_carlo(rng, activation):
    """Within 4 standard errors of the mean of 2·10⁶ fresh squared errors."""
    model, theta = smooth_case(activation, rng)
    sampled, standard_error = monte_carlo(model, theta, 2_000_000, rng)
    assert population_risk(model, theta).value == pytest.approx(sampled, abs=4 * standard_error)


def test_erf_units_have_the_arcsine_closed_form(rng):
    """Zero means: E[erf(z_i) erf(z_j)] = (2/π) arcsin(2Σ_ij / √((1 + 2Σ_ii)(1 + 2Σ_jj))) and E erf(z) = 0."""
    d, n = 30, 25
    model = ridge_model("erf", gaussian_classes(0.5, d))
    w = rng.standard_normal((n, d)) * 1.5 / math.sqrt(d)
    quadratic = 0.0
    for y in (-1.0, 1.0):
        cov = (w * model.data.classes.std(y)) @ (w * model.data.classes.std(y)).T
        scale = np.sqrt(1 + 2 * np.diag(cov))
        quadratic += 0.5 * np.sum(2 / math.pi * np.arcsin(2 * cov / np.outer(scale, scale))) / n**2
    risk = population_risk(model, w)
    assert risk.value == pytest.approx(1.0 + quadratic, rel=1e-13)
    assert abs(risk.value - 1.0 - quadratic) <= risk.error


def test_a_users_compiled_sigma_gives_the_builtins_numbers(rng):
    @numba.njit
    def my_tanh(z):
        return math.tanh(z)

    @numba.njit
    def my_slope(z):
        return 1.0 - math.tanh(z) ** 2

    data = gaussian_classes(0.5, 6)
    theta = rng.standard_normal((15, 6)) * 0.8
    own = population_risk(ridge_model(Compiled(my_tanh, my_slope), data), theta)
    builtin = population_risk(ridge_model("tanh", data), theta)
    assert own.value == pytest.approx(builtin.value, rel=1e-14)


# -- the other methods ----------------------------------------------------------------------------------------

def test_teacher_students_have_the_closed_form(rng):
    teacher = Teacher.default()
    model = MeanFieldModel(Homogeneous(2), TeacherData(teacher), fempde.SphereLaw(0.5, 0.2))
    theta = rng.normal(0, 0.7, (50, 3))
    risk = population_risk(model, theta)
    assert risk.bounded and risk.error <= 1e-13
    assert risk.value == pytest.approx(teacher.risk(theta), rel=1e-13)
    assert population_risk(model, teacher.as_student()).value == pytest.approx(0.0, abs=1e-15)


def test_homogeneous_units_on_a_mixture_are_the_arc_cosine_kernel(rng):
    """Zero-mean classes: a ReLU(⟨b, x⟩) has U(θ, θ') = a a' k(Σ^½ b, Σ^½ b'), E[y σ*] by the same kernel
    against the class sign: exact."""
    data = gaussian_classes(0.5, 2)
    model = MeanFieldModel(Homogeneous(2), data, Gaussian(np.zeros(3), 1.0))
    theta = rng.normal(0, 1, (20, 3))
    a, b = theta[:, 0], theta[:, 1:]
    expected = 1.0
    for y in (-1.0, 1.0):
        scaled = b * data.classes.std(y)
        half = np.linalg.norm(scaled, axis=1) / math.sqrt(2 * math.pi)  # E ReLU(⟨b, x⟩)
        expected += 0.5 * (-2 * y * (a @ half) / 20 + a @ relu_kernel(scaled, scaled) @ a / 400)
    assert population_risk(model, theta).value == pytest.approx(expected, rel=1e-13)


def test_rbf_risk_is_the_mesh_quadrature_with_an_estimate(rng):
    """The RBF network's risk is the old PopulationRisk plus the label noise, and within its stated
    estimate of the same rule on the mesh refined twice."""
    from particles.risk import PopulationRisk

    mesh = meshes.disk(h=0.15)
    target = lambda x: 1 - x[0] ** 2 - x[1] ** 2  # noqa: E731
    model = fempde.model.jmm_rbf(mesh, target, 0.3, label_noise=0.2)
    centers = model.sample_initial(40, rng)
    risk = population_risk(model, centers)
    old = PopulationRisk(mesh, target, fempde.Kernel("triweight", 2, 0.3))(centers)
    assert risk.excess == pytest.approx(old, rel=1e-12) and risk.noise == pytest.approx(0.04)
    fine = UniformData(mesh.refined(2), target, 0.2).quadrature(6)
    y_hat = model.unit(fine.points, centers).mean(axis=1)
    reference = fine.y_second - 2 * fine.weights @ (fine.y_mean * y_hat) + fine.weights @ y_hat**2
    assert 0 < abs(risk.value - reference) <= risk.error <= 1e-5


def test_a_training_set_is_integrated_exactly(rng):
    x, y = rng.normal(0, 1, (30, 3)), rng.normal(0, 1, 30)
    theta = rng.normal(0, 1, (7, 4))
    for scaling, alpha in (("mean-field", 1.0), ("lazy", math.sqrt(7))):
        model = ridge_model("tanh", FiniteData(x, y), output=TRAINED, scaling=scaling)
        y_hat = alpha * (theta[:, 3] * np.tanh(x @ theta[:, :3].T)).mean(axis=1)
        risk = population_risk(model, theta)
        assert risk.value == pytest.approx(np.mean((y - y_hat) ** 2), rel=1e-13)
        assert risk.bounded and risk.error <= 1e-13


class GaussianUnit:
    """A user's own unit ``exp(−|x − w|²/2)``, ``θ = w``: no method of its own, so the data quadrature."""

    input_dim, dim, coordinates, kernels = 2, 2, ("w1", "w2"), None

    def __call__(self, x, theta):
        return np.exp(-0.5 * ((np.asarray(x)[:, None, :] - np.asarray(theta)[None, :, :]) ** 2).sum(axis=2))

    def gradient(self, x, theta):
        return (np.asarray(x)[:, None, :] - np.asarray(theta)[None, :, :]) * self(x, theta)[:, :, None]


def test_the_data_quadrature_states_an_honest_error(rng):
    """A user's Gaussian unit on a 2-D mixture: against its closed form (Gaussian integrals), within
    the stated estimate; and a ridge unit's quadrature against its exact value within 3 estimates."""
    data = mixture(2)
    model = MeanFieldModel(GaussianUnit(), data, Gaussian(np.zeros(2), 1.0))
    w = rng.normal(0, 0.7, (10, 2))
    exact = float(np.asarray(data.probabilities) @ np.asarray(data.labels) ** 2)
    for p, mean, sd, label in data.components:
        s2 = sd**2
        v = np.prod(np.exp(-((mean - w) ** 2) / (2 * (1 + s2))) / np.sqrt(1 + s2), axis=1)
        centre = 0.5 * (w[:, None, :] + w[None, :, :])
        gap = ((w[:, None, :] - w[None, :, :]) ** 2).sum(axis=2) / 4
        u = np.exp(-gap) * np.prod(np.exp(-((mean - centre) ** 2) / (1 + 2 * s2)) / np.sqrt(1 + 2 * s2), axis=2)
        exact += p * (-2 * label * v.mean() + u.mean())
    risk = population_risk(model, w)
    assert not risk.bounded and risk.error <= 1e-8
    assert abs(risk.value - exact) <= risk.error

    from fempde.model.risk import quadrature_moments

    ridge = ridge_model("relu", data, bias=TRAINED)
    theta = rng.normal(0, 1, (10, 3))
    estimate = quadrature_moments(ridge.unit, data, theta, np.full(10, 0.1)).risk()
    assert abs(estimate.value - population_risk(ridge, theta).value) <= 3 * estimate.error


# -- expected risk ------------------------------------------------------------------------------------------------

def test_expected_risk_of_one_unit_is_the_mean_of_the_single_unit_risks(rng):
    model = ridge_model("piecewise-linear", gaussian_classes(0.5, 5))
    points, weights = rng.normal(0, 0.6, (6, 5)), rng.dirichlet(np.ones(6))
    singles = [population_risk(model, p[None, :]).value for p in points]
    assert expected_risk(model, points, weights, 1).value == pytest.approx(weights @ singles, rel=1e-12)


def test_expected_risk_against_sampled_networks(rng):
    """n = 4 teacher students drawn i.i.d. from weighted points: the mean of 20 000 exact risks
    within 4 standard errors, and R(ρ) plus the self-interaction bias to round-off."""
    teacher = Teacher.default()
    model = MeanFieldModel(Homogeneous(2), TeacherData(teacher), fempde.SphereLaw(0.5, 0.2))
    points, weights = rng.normal(0, 0.8, (9, 3)), rng.dirichlet(np.ones(9))
    draws = rng.choice(9, size=(20_000, 4), p=weights)
    u, v = teacher.U(points, points), teacher.V(points)  # R_4 of each draw from the teacher's own V and U
    risks = teacher.second_moment() + v[draws].mean(axis=1) * 2 + u[draws[:, :, None], draws[:, None, :]].mean((1, 2))
    assert teacher.risk(points[draws[0]]) == pytest.approx(risks[0], rel=1e-13)
    expected = expected_risk(model, points, weights, 4)
    assert expected.value == pytest.approx(risks.mean(), abs=4 * risks.std() / math.sqrt(len(risks)))
    # R(ρ) and the bias (1/n)(∫U(θ, θ)ρ − ∬Uρρ)
    limit = teacher.second_moment() + 2 * weights @ v + weights @ u @ weights
    assert expected.value == pytest.approx(limit + (weights @ np.diag(u) - weights @ u @ weights) / 4, rel=1e-13)


@pytest.mark.slow
def test_expected_risk_of_hinge_units_against_sampled_networks(rng):
    """The Gaussian method: n = 3 units of the paper's σ drawn from weighted points, the mean of 3000
    exact risks within 4 standard errors."""
    model = ridge_model("piecewise-linear", gaussian_classes(0.5, 5))
    points, weights = rng.normal(0, 0.7, (7, 5)), rng.dirichlet(np.ones(7))
    risks = np.array([population_risk(model, points[k]).value for k in rng.choice(7, size=(3000, 3), p=weights)])
    assert expected_risk(model, points, weights, 3).value == pytest.approx(
        risks.mean(), abs=4 * risks.std() / math.sqrt(len(risks)))


# -- bad input ------------------------------------------------------------------------------------------------------

def test_bad_input_says_what_is_wrong(rng):
    model = ridge_model("tanh", gaussian_classes(0.5, 3))
    with pytest.raises(ValueError, match=r"theta must have shape \(any, 3\)"):
        population_risk(model, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="N >= 1 units"):
        population_risk(model, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        population_risk(model, np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="MeanFieldModel"):
        population_risk("model", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sum to 1"):
        expected_risk(model, np.zeros((2, 3)), [0.5, 0.6], 3)
    with pytest.raises(ValueError, match="n .* must be an integer >= 1"):
        expected_risk(model, np.zeros((2, 3)), [0.5, 0.5], 0)
    student = MeanFieldModel(Ridge("tanh", 2), TeacherData(Teacher.default()), Gaussian(np.zeros(2), 1.0))
    with pytest.raises(ValueError, match="TeacherData integrates 2-homogeneous units only"):
        population_risk(student, np.ones((2, 2)))
    uniform = MeanFieldModel(Ridge("tanh", 2), UniformData(meshes.disk(h=0.3), lambda x: x[0]),
                             Gaussian(np.zeros(2), 1.0))
    with pytest.raises(ValueError, match="level .* must be an integer"):
        population_risk(uniform, np.ones((2, 2)), level=2.5)
