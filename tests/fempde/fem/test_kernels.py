"""The bumps K^δ: unit mass in every dimension, exact gradients, their mirror
images at the walls of a box, and the constants shared by the PDE and the SGD."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

import fempde.meanfield.axis as meanfield
import meshes
from fempde.checks import ParameterError
from fempde.fem.convolution import kernel_matrix
from fempde.fem.kernels import KERNELS, BoxWalls, Kernel, check_boundary


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_kernels_integrate_to_one(name, dim):
    kernel = Kernel(name, dim, delta=0.3)
    sphere = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)  # |S^{d-1}|

    def radial(r):
        x = np.zeros((dim, 1))
        x[0] = r
        return kernel(x)[0] * r ** (dim - 1)

    mass, _ = quad(radial, 0, 0.3, epsabs=1e-14, epsrel=1e-13)
    assert sphere * mass == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_kernel_gradient_matches_finite_differences(rng, name, dim):
    kernel = Kernel(name, dim, delta=0.5)
    x = rng.uniform(-0.4, 0.4, size=(dim, 200)) / np.sqrt(dim)
    step = 1e-6
    fd = np.array([(kernel(x + step * e[:, None]) - kernel(x - step * e[:, None])) / (2 * step) for e in np.eye(dim)])
    np.testing.assert_allclose(kernel.gradient(x), fd, rtol=1e-6, atol=1e-6 * kernel.constant)
    outside = np.full((dim, 1), 0.6)
    assert kernel(outside)[0] == 0 and np.all(kernel.gradient(outside) == 0)


@pytest.mark.parametrize(("kwargs", "name", "value"), [
    ({"name": "gauss", "dim": 1, "delta": 0.1}, "kernel", "gauss"),
    ({"name": "triweight", "dim": 4, "delta": 0.1}, "kernel dimension", 4),
    ({"name": "triweight", "dim": 1.0, "delta": 0.1}, "kernel dimension", 1.0),
    ({"name": "triweight", "dim": 1, "delta": 0.0}, "delta (the bump width)", 0.0),
])
def test_bad_kernels(kwargs, name, value):
    with pytest.raises(ParameterError) as refused:
        Kernel(**kwargs)
    assert (refused.value.name, refused.value.value) == (name, value)


def test_sgd_steps_integrate_the_schedule():
    import fempde

    axis = meanfield.TimeAxis(1e-3, fempde.PowerLaw(1.0, 0.25))
    steps = axis.step_sizes(0, 2000)
    # the steps add up to Ξ(t) exactly: SGD's clock is the PDE's rescaled time
    assert steps.sum() == pytest.approx(4 / 3 * 2.0**0.75, rel=1e-13)
    # and away from t = 0 they are ε ξ(kε) to first order
    assert steps[1000] == pytest.approx(1e-3 * 1.0005 ** (-0.25), rel=1e-6)
    assert np.all(meanfield.TimeAxis(0.01).step_sizes(5, 9) == 0.01)
    # the noise that gives the PDE's diffusion τΔ with the factor 2ξ: variance 4 s τ
    assert meanfield.noise_scale(0.01, 0.5) == pytest.approx(math.sqrt(0.02))
    with pytest.raises(ValueError, match=r"epsilon \(the SGD time step\) must be > 0, got 0.0"):
        meanfield.TimeAxis(0.0)


def _mass_over_interval(kernel, walls, w):
    """``∫_0^1 K_refl(x, w) dx`` by Gauss–Legendre between the breakpoints of the
    piecewise polynomial (the supports' ends of the bump and its mirrors, the walls):
    exact to round-off."""
    delta = kernel.delta
    cuts = np.unique(np.clip([0.0, 1.0, w - delta, w + delta, -w + delta, 2 - w - delta, delta, 1 - delta], 0, 1))
    nodes, weights = np.polynomial.legendre.leggauss(8)  # degree 15 >= the triweight's 6
    x = np.concatenate([(b - a) / 2 * nodes + (a + b) / 2 for a, b in zip(cuts[:-1], cuts[1:], strict=True)])
    wx = np.concatenate([(b - a) / 2 * weights for a, b in zip(cuts[:-1], cuts[1:], strict=True)])
    return float(wx @ kernel_matrix(kernel, x[:, None], np.array([[w]]), walls).toarray()[:, 0])


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_reflected_kernel_keeps_the_whole_bump_in_the_interval(name):
    kernel = Kernel(name, 1, 0.2)
    walls = BoxWalls.from_mesh(meshes.interval(0, 1, 0.1))
    for w in [0.0, 1e-9, 0.05, 0.1, 0.2, 0.2 + 1e-9, 0.5, 0.83, 1 - 1e-12, 1.0]:
        assert _mass_over_interval(kernel, walls, w) == pytest.approx(1.0, abs=1e-13), w
    # restricted, a bump on the wall keeps half its mass: what holds units there at τ = 0
    assert _mass_over_interval(kernel, None, 0.0) == pytest.approx(0.5, abs=1e-13)


def test_reflected_kernel_keeps_the_whole_bump_in_the_square():
    """∫_Ω K_refl(x, w) dx = 1 for w at a corner (four images), on an edge, inside;
    x-lines by Gauss–Legendre split where the circles start and end, y exact between
    the circles' chords (the bump is a polynomial in y there)."""
    kernel = Kernel("triweight", 2, 0.3)
    walls = BoxWalls.from_mesh(meshes.rectangle(0, 1, 0, 2, h=0.5))
    nodes, weights = np.polynomial.legendre.leggauss(40)
    line, line_weights = np.polynomial.legendre.leggauss(4)  # degree 7 >= 6
    for w in [(0.0, 0.0), (0.1, 1.95), (1.0, 0.2), (0.5, 0.0), (0.25, 1.0), (0.5, 1.0)]:
        w = np.array(w)
        # the circles that may meet Ω: w and its mirrors across every face and pair of faces
        images = [np.array([a, b]) for a in (w[0], -w[0], 2 - w[0]) for b in (w[1], -w[1], 4 - w[1])]
        x_cuts = np.unique(np.clip([0, 1] + [c[0] + s * 0.3 for c in images for s in (-1, 1)], 0, 1))
        total = 0.0
        for a, b in zip(x_cuts[:-1], x_cuts[1:], strict=True):
            for xq, wq in zip((b - a) / 2 * nodes + (a + b) / 2, (b - a) / 2 * weights, strict=True):
                chords = [c[1] + s * np.sqrt(max(0.09 - (xq - c[0]) ** 2, 0)) for c in images for s in (-1, 1)]
                y_cuts = np.unique(np.clip([0, 2, *chords], 0, 2))
                pieces = list(zip(y_cuts[:-1], y_cuts[1:], strict=True))
                y = np.concatenate([(d - c) / 2 * line + (c + d) / 2 for c, d in pieces])
                wy = np.concatenate([(d - c) / 2 * line_weights for c, d in pieces])
                points = np.column_stack([np.full_like(y, xq), y])
                total += wq * float(wy @ kernel_matrix(kernel, points, w[None, :], walls).toarray()[:, 0])
        assert total == pytest.approx(1.0, abs=1e-9), w


def test_mirror_images_of_a_corner():
    walls = BoxWalls(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    images, source = walls.images(np.array([[0.05, 1.95, 1.5], [0.5, 1.0, 1.5], [0.05, 0.05, 2.95]]), 0.1)
    np.testing.assert_array_equal(source, [0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2])
    np.testing.assert_allclose(images[:4], [[0.05, 1.95, 1.5], [-0.05, 1.95, 1.5], [0.05, 2.05, 1.5],
                                            [-0.05, 2.05, 1.5]], atol=1e-15)
    corner = images[5:]  # within δ of three faces: the point and its 7 mirrors
    np.testing.assert_allclose(np.sort(np.abs(corner - [0, 0, 3]).sum(axis=1)), np.full(8, 0.15), atol=1e-15)
    assert len(np.unique(np.round(corner, 12), axis=0)) == 8


@pytest.mark.parametrize(("mesh", "delta", "name", "value", "words"), [
    (meshes.disk(h=0.3), 0.1, "boundary (how a bump meets the wall)", "reflected", "fills 7"),
    (meshes.polygon([[0, 0], [1, 0], [0, 1]], h=0.3), 0.1, "boundary (how a bump meets the wall)", "reflected",
     "fills 50.0000% of its bounding box"),
    (meshes.polygon([[1, 0], [2, 1], [1, 2], [0, 1]], h=0.3), 0.1, "boundary (how a bump meets the wall)",
     "reflected", "axis-aligned"),
    (meshes.rectangle(0, 1, 0, 0.3, h=0.1), 0.2, "delta (the bump width)", 0.2, "half the box's shortest side (0.15)"),
])
def test_reflected_kernel_refuses_what_it_cannot_do(mesh, delta, name, value, words):
    with pytest.raises(ParameterError) as refused:
        BoxWalls.from_mesh(mesh).images(np.zeros((1, 2)), delta)
    assert (refused.value.name, refused.value.value) == (name, value) and words in str(refused.value)


def test_bad_boundary_names():
    with pytest.raises(ParameterError) as refused:
        check_boundary("mirror")
    assert (refused.value.name, refused.value.value) == ("boundary (how a bump meets the wall)", "mirror")
