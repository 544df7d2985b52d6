"""Node masses: the lumped ones, Gregory's wall correction on tensor grids, and which a space takes."""

import numpy as np
import pytest

import fempde
import meshes
from fempde.fem.masses import corrected_masses, lumped_masses


@pytest.mark.parametrize(
    "generator",
    [lambda h: meshes.interval(0.0, 2.0, h=h), lambda h: meshes.rectangle(0.0, 1.0, -1.0, 0.5, h=h),
     lambda h: meshes.box(h=h)],
    ids=["interval", "rectangle", "box"],
)
def test_corrected_masses_are_third_order_where_the_lumped_are_second(generator):
    """The quadrature error of a smooth function (a product of exponentials) falls 8-fold per halving
    of h with Gregory's wall correction, 4-fold with the trapezoid's (lumped) masses."""
    errors: dict[str, list[float]] = {"lumped": [], "corrected": []}
    for h in (0.25, 0.125):
        mesh = generator(h)
        space = fempde.Space(mesh)
        assert space.masses == "corrected" and np.all(space.m > 0)
        x = space.x
        lo, hi = x.min(axis=1), x.max(axis=1)
        g = np.exp(np.sum(x, axis=0))
        exact = np.prod(np.exp(hi) - np.exp(lo))
        lumped = lumped_masses(mesh)
        assert space.volume == pytest.approx(lumped.sum(), rel=1e-13)
        errors["lumped"].append(abs(lumped @ g - exact))
        errors["corrected"].append(abs(space.integrate(g) - exact))
    assert errors["lumped"][0] / errors["lumped"][1] == pytest.approx(4.0, rel=0.1)
    assert errors["corrected"][0] / errors["corrected"][1] > 7.0
    assert errors["corrected"][1] < 0.1 * errors["lumped"][1]


def test_masses_are_chosen_where_they_apply():
    disk = meshes.disk(h=0.2)
    assert fempde.Space(disk).masses == "lumped"
    with pytest.raises(ValueError, match="uniform tensor grid"):
        fempde.Space(disk, masses="corrected")
    assert corrected_masses(disk, lumped_masses(disk)) is None
    square = meshes.rectangle(h=0.1)
    assert fempde.Space(square, masses="lumped").masses == "lumped"
    np.testing.assert_array_equal(fempde.Space(square, masses="lumped").m, lumped_masses(square))
    with pytest.raises(fempde.checks.ParameterError):
        fempde.Space(square, masses="exact")


def test_a_second_space_on_the_same_mesh_shares_its_prepared_arrays():
    mesh = meshes.rectangle(h=0.1)
    first, again = fempde.Space(mesh), fempde.Space(meshes.rectangle(h=0.1))
    assert again.m is first.m and again.T is first.T
    assert not first.m.flags.writeable
    assert fempde.Space(mesh, masses="lumped").m is not first.m


def test_corrected_masses_halve_the_steady_state_error():
    """The peers' steady state (benchmarks/peers.py), against the exact one by Wright's ω: its L1
    error is the mass quadrature's, so the corrected masses cut it (measured 1.47e-3 -> 8.9e-5 at
    n = 16, 3.7e-4 -> 1.1e-5 at n = 32)."""
    from scipy.optimize import brentq
    from scipy.special import wrightomega

    tau = 0.05
    problem = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.5) ** 2 - (x[1] - 0.5) ** 2), tau,
                                  fempde.Constant(0.5))
    fine = fempde.Space(meshes.rectangle(h=1 / 256))  # corrected: its quadrature error ~1e-8

    def exact(x, c):
        return tau * np.real(wrightomega((problem.target(x) + c) / tau - np.log(tau)))

    c = brentq(lambda c: fine.integrate(exact(fine.x, c)) - 1.0, -2.0, 2.0, xtol=1e-14)
    for n in (16, 32):
        errors = {}
        for masses in ("lumped", "corrected"):
            space = fempde.Space(meshes.rectangle(h=1 / n), masses=masses)
            result = fempde.solve(problem, space, "uniform", 100.0, [fempde.SteadyState(1e-8)],
                                  options=fempde.StepOptions(rtol=None, dt0=5.0, dt_max=5.0, scheme="euler"))
            errors[masses] = space.integrate(np.abs(result.rho - exact(space.x, c)))
        assert errors["corrected"] < 0.5 * errors["lumped"], errors
