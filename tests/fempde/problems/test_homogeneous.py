"""The 2-homogeneous ReLU unit and its teacher (Chizat–Bach): closed forms against
Monte Carlo, the circle rule's order, the smoothed initial sphere, the PDE's structure."""

import math

import numpy as np
import pytest

import fempde
import meshes
from fempde.problems.homogeneous import SphereLaw, Teacher, circle_rule, homogeneous_unit, relu_kernel
from particles.slopes import fit_slope


@pytest.fixture(scope="module")
def teacher():
    return Teacher.default()


def test_v_and_u_closed_forms_agree_with_monte_carlo(teacher, rng):
    theta = rng.standard_normal((4, 3))
    x, y = teacher.sample(400_000, rng)  # x ~ N(0, I_2), y = h*(x)
    phi = homogeneous_unit()(x, theta)
    n = len(x)
    v_samples = -y[:, None] * phi
    v_mc, v_se = v_samples.mean(axis=0), v_samples.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(teacher.V(theta) - v_mc) <= 4 * v_se)
    exact_u = teacher.U(theta, theta)
    for i in range(4):
        for j in range(i, 4):
            sample = phi[:, i] * phi[:, j]
            assert abs(exact_u[i, j] - sample.mean()) <= 4 * sample.std() / math.sqrt(n), (i, j)
    second = y**2
    assert abs(teacher.second_moment() - second.mean()) <= 4 * second.std() / math.sqrt(n)


def test_relu_kernel_special_angles():
    b = np.array([[2.0, 0.0]])
    # aligned: E ReLU(z)² = |b|²/2; orthogonal: |b||b'|/(2π); opposite: 0
    assert relu_kernel(b, b)[0, 0] == pytest.approx(2.0, rel=1e-14)
    assert relu_kernel(b, [[0.0, 3.0]])[0, 0] == pytest.approx(6.0 / (2 * math.pi), rel=1e-14)
    assert abs(relu_kernel(b, [[-1.0, 0.0]])[0, 0]) <= 1e-15
    assert relu_kernel(b, [[0.0, 0.0]])[0, 0] == 0.0


def test_circle_rule_is_second_order_for_the_kinked_unit(teacher, rng):
    theta = rng.standard_normal((60, 3))
    exact = teacher.U(theta, theta)
    scale = np.sqrt(np.outer(np.diag(exact), np.diag(exact)))
    sizes, errors = [32, 64, 128, 256], []
    for m in sizes:
        law = teacher.data_law(m)
        phi = homogeneous_unit()(law.points, theta)
        errors.append(float((np.abs((phi * law.weights[:, None]).T @ phi - exact) / scale).max()))
        assert abs(law.weights.sum() - 1) <= 1e-14
    slope, low, high = fit_slope(sizes, errors)
    assert -2.3 <= slope <= -1.7, (slope, errors)  # trapezoid rule, jumps in the derivative
    assert errors[-1] <= 1.5e-4  # measured 6e-5 (60 random units)


def test_teacher_as_student_has_zero_risk_and_the_discrete_risk_is_a_square(teacher):
    star = teacher.as_student()
    assert teacher.risk(star) <= 1e-14
    # homogeneous projection |a| b of the balanced units: m0 a*_j b*_j
    np.testing.assert_allclose(np.abs(star[:, :1]) * star[:, 1:], teacher.m0 * teacher.output[:, None]
                               * teacher.directions, rtol=1e-13)
    law = teacher.data_law(256)
    residual = law.y_mean - homogeneous_unit()(law.points, star).mean(axis=1)
    assert law.weights @ residual**2 <= 1e-28
    assert abs(law.y_second - teacher.second_moment()) <= 1e-5 * teacher.second_moment()  # measured 6e-6


def test_student_risk_closed_form_matches_the_quadrature(teacher, rng):
    theta = 0.8 * rng.standard_normal((50, 3))
    law = teacher.data_law(512)
    h = homogeneous_unit()(law.points, theta).mean(axis=1)
    assert teacher.risk(theta) == pytest.approx(law.weights @ (law.y_mean - h) ** 2, rel=1e-4)


def test_sphere_law_density_and_samples(rng):
    law = SphereLaw(0.3, 0.1)
    r = np.linspace(0.0, 1.5, 30001)
    radial = 4 * math.pi * r**2 * law.density(np.vstack([r, 0 * r, 0 * r]))
    assert np.trapezoid(radial, r) == pytest.approx(1.0, abs=1e-9)
    samples = law.sample(200_000, rng)
    radii = np.linalg.norm(samples, axis=1)
    exact_mean = np.trapezoid(r * radial, r)
    assert abs(radii.mean() - exact_mean) <= 4 * radii.std() / math.sqrt(len(radii))
    directions = samples / radii[:, None]
    assert np.all(np.abs(directions.mean(axis=0)) <= 4 / math.sqrt(3 * len(radii)))  # uniform on S²: sd 1/√3
    sphere = SphereLaw(0.25).sample(100, rng)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 0.25, rtol=1e-14)


def test_the_pde_of_the_unit_dissipates_and_its_potential_is_v(teacher):
    law = SphereLaw(0.6, 0.25)
    space = fempde.Space(meshes.box((-1.0, -1.0, -1.5), (1.5, 1.5, 1.5), h=0.5))
    problem = fempde.DistributionalDynamics(homogeneous_unit(), teacher.data_law(128))
    system = problem.discretise(space)
    np.testing.assert_allclose(system.V, teacher.V(space.x.T), atol=2e-3 * np.abs(system.V).max())
    rho0 = law.density(space.x)
    result = fempde.solve(problem, space, rho0 / space.integrate(rho0), 2.0, times=[1.0, 2.0])
    assert result.ok
    risk = result.history["risk"]
    assert np.all(np.diff(risk) <= 1e-12)  # τ = 0: risk = 2F never increases
    assert risk[-1] < 0.3 * risk[0]  # measured 0.058 / 0.267
    assert abs(space.integrate(result.rho) - 1) <= 1e-12


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Teacher(np.zeros(0), np.zeros((0, 2))), "zero neurons"),
    (lambda: Teacher(np.ones(2), np.ones((2, 3))), r"directions .* must have shape \(any, 2\), got \(2, 3\)"),
    (lambda: Teacher(np.ones(2), np.ones((3, 2))), "2 output weights but 3 directions"),
    (lambda: Teacher(np.array([1.0, np.nan]), np.ones((2, 2))), r"output .* has 1 non-finite entries"),
    (lambda: Teacher(np.ones(1), np.zeros((1, 2))), r"direction b\*_j is zero"),
    (lambda: Teacher(np.array([True]), np.ones((1, 2))), r"output .* must be an array of numbers, got bool"),
    (lambda: Teacher.default()(np.ones((4, 3))), r"x must have shape \(any, 2\), got \(4, 3\)"),
    (lambda: Teacher.default().V(np.ones((4, 2))), r"theta must have shape \(any, 3\), got \(4, 2\)"),
    (lambda: Teacher.default().risk(np.array([[1.0, np.inf, 0.0]])), "theta has 1 non-finite entries"),
    (lambda: Teacher.default().risk(np.zeros((0, 3))), "m >= 1"),
    (lambda: Teacher.default().sample(-1, np.random.default_rng(0)), "n must be an integer >= 1, got -1"),
    (lambda: SphereLaw(0.0), r"radius \(of the initial sphere\) must be > 0, got 0.0"),
    (lambda: SphereLaw(math.nan), r"radius \(of the initial sphere\) must be a finite number, got nan"),
    (lambda: SphereLaw(True), r"radius \(of the initial sphere\) must be a number, got True"),
    (lambda: SphereLaw(0.2, -1.0), r"width \(of the smoothed sphere\) must be >= 0.0, got -1.0"),
    (lambda: SphereLaw(0.2).density(np.zeros((3, 1))), "width > 0"),
    (lambda: SphereLaw(0.2, 0.1).density(np.zeros((2, 5))), r"x .* must have shape \(3, any\), got \(2, 5\)"),
    (lambda: SphereLaw(0.2, 0.1).density(np.zeros((5, 3))), r"x .* must have shape \(3, any\), got \(5, 3\)"),
    (lambda: SphereLaw(0.2).sample(0, np.random.default_rng(0)),
     r"m \(the number of units\) must be an integer >= 1, got 0"),
    (lambda: circle_rule(2), "points must be an integer >= 4, got 2"),
    (lambda: circle_rule(True), "points must be an integer >= 4, got True"),
    (lambda: homogeneous_unit()(np.ones((4, 3)), np.ones((2, 3))), "data"),
])
def test_bad_input_is_refused_with_the_parameter_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("rng", [0, np.random.RandomState(0)])
def test_a_generator_that_is_not_one_is_refused(rng):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        Teacher.default().sample(3, rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        SphereLaw(0.2, 0.1).sample(3, rng)
