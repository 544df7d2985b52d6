"""Edge fluxes: the Bernoulli function, the sign property behind energy decay, the Jacobian."""

import numpy as np
import pytest

import fempde
import meshes
from fempde.checks import ParameterError
from fempde.fem.flux import MOBILITIES, bernoulli, bernoulli_derivative, edge_flux


def test_bernoulli_matches_its_definition_in_extended_precision():
    a = np.array([-300.0, -30.0, -1.0, -1e-3, -1e-5, 0.0, 1e-5, 1e-3, 1.0, 30.0, 300.0])
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        exact = [float(Decimal(x) / (Decimal(x).exp() - 1)) if x != 0 else 1.0 for x in a]
    np.testing.assert_allclose(bernoulli(a), exact, rtol=1e-14)


def test_bernoulli_derivative_matches_finite_differences():
    a = np.concatenate([np.linspace(-40, 40, 81), [-2e-3, -5e-4, 5e-4, 2e-3]])
    step = 1e-6
    fd = (bernoulli(a + step) - bernoulli(a - step)) / (2 * step)
    np.testing.assert_allclose(bernoulli_derivative(a), fd, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("tau", [0.0, 1e-3, 0.1, 10.0])
def test_flux_has_the_sign_of_the_chemical_potential_difference(rng, tau):
    rho_i, rho_j = rng.uniform(1e-3, 3, 1000), rng.uniform(1e-3, 3, 1000)
    phi_i, phi_j = rng.normal(size=1000), rng.normal(size=1000)
    flux = edge_flux(rho_i, rho_j, phi_i, phi_j, tau).value
    mu_difference = phi_i - phi_j + tau * (np.log(rho_i) - np.log(rho_j))
    assert np.all(flux * mu_difference >= 0)
    assert np.all(np.sign(flux[np.abs(mu_difference) > 1e-9]) == np.sign(mu_difference[np.abs(mu_difference) > 1e-9]))


def test_scharfetter_gummel_tends_to_upwind_as_tau_vanishes(rng):
    rho_i, rho_j = rng.uniform(0.1, 2, 100), rng.uniform(0.1, 2, 100)
    phi_i, phi_j = rng.normal(size=100), rng.normal(size=100)
    upwind = edge_flux(rho_i, rho_j, phi_i, phi_j, 0.0, "upwind").value
    sg = edge_flux(rho_i, rho_j, phi_i, phi_j, 1e-6).value
    np.testing.assert_allclose(sg, upwind, rtol=0, atol=1e-4)


@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_jacobian_matches_finite_differences(rng, tau):
    space = fempde.Space(meshes.disk(h=0.25))
    problem = fempde.PorousMedium(target=lambda x: 1 - x[0] ** 2 - 0.5 * x[1] ** 2, tau=tau,
                                  schedule=fempde.PowerLaw(1.0, 0.25))
    system = problem.discretise(space)
    rho_old = rng.uniform(0.1, 1.0, space.n)
    rho = rho_old * rng.uniform(0.8, 1.2, space.n)
    _, jacobian = system.linearise(rho, rho_old, 0.3, 0.5)
    step = 1e-7
    columns = []
    for k in range(space.n):
        e = np.zeros(space.n)
        e[k] = step
        plus, _ = system.linearise(rho + e, rho_old, 0.3, 0.5)
        minus, _ = system.linearise(rho - e, rho_old, 0.3, 0.5)
        columns.append((plus - minus) / (2 * step))
    np.testing.assert_allclose(jacobian.toarray(), np.array(columns).T, rtol=0, atol=1e-7)


def test_jacobian_columns_sum_to_the_lumped_masses(rng):
    space = fempde.Space(meshes.disk(h=0.2))
    system = fempde.PorousMedium(target=1.0, tau=0.02).discretise(space)
    rho = rng.uniform(0.1, 1.0, space.n)
    _, jacobian = system.linearise(rho, rho, 0.0, 0.1)
    np.testing.assert_allclose(np.asarray(jacobian.sum(axis=0)).ravel(), space.m, rtol=1e-12, atol=1e-15)


def test_limited_mobility_is_upwind_at_a_front_centred_where_smooth_and_bounded(rng):
    """``M = u g(d/u)``: the upwind value when the downwind node is empty, the mean
    ``(u + d)/2`` up to ``O((u − d)²/u)``, at most ``3u/2``, zero with ``u``."""
    up = rng.uniform(0.1, 2, 500)
    dphi = rng.uniform(0.1, 1, 500)  # i is upwind: φ_i > φ_j
    front = edge_flux(up, np.zeros(500), dphi, 0.0, 0.0).value
    np.testing.assert_allclose(front, up * dphi, rtol=1e-15)  # the downwind node is empty: upwind
    empty = edge_flux(np.zeros(500), up, dphi, 0.0, 0.0).value
    assert np.all(empty == 0)  # an empty node sends nothing: ρ ≥ 0
    for eps in (1e-2, 1e-3):
        down = up * (1 + eps)
        mobility = edge_flux(up, down, dphi, 0.0, 0.0).value / dphi
        np.testing.assert_allclose(mobility, 0.5 * (up + down), rtol=eps**2)
    ratio = np.exp(rng.uniform(-8, 8, 500))
    mobility = edge_flux(up, up * ratio, dphi, 0.0, 0.0).value / dphi
    assert np.all((mobility > 0) & (mobility <= 1.5 * up))


def test_limited_mobility_derivatives_match_finite_differences(rng):
    rho_i, rho_j = rng.uniform(0.05, 2, 400), rng.uniform(0.05, 2, 400)
    phi_i, phi_j = rng.normal(size=400), rng.normal(size=400)
    flux = edge_flux(rho_i, rho_j, phi_i, phi_j, 0.0)
    step = 1e-7
    for name, shift in (("d_rho_i", (step, 0, 0)), ("d_rho_j", (0, step, 0)), ("d_phi", (0, 0, step))):
        a, b, c = shift
        plus = edge_flux(rho_i + a, rho_j + b, phi_i + c, phi_j, 0.0).value
        minus = edge_flux(rho_i - a, rho_j - b, phi_i - c, phi_j, 0.0).value
        np.testing.assert_allclose(getattr(flux, name), (plus - minus) / (2 * step), rtol=1e-6, atol=1e-8)


def test_unknown_flux_is_named():
    with pytest.raises(ParameterError) as refused:
        edge_flux(1.0, 1.0, 0.0, 0.0, 0.0, "central")
    assert (refused.value.name, refused.value.value) == ("flux", "central")
    assert all(repr(name) in str(refused.value) for name in MOBILITIES)


@pytest.mark.parametrize("mesh", [meshes.disk(1.0, h=0.2), meshes.rectangle(h=0.25), meshes.ball(1.0, h=0.4),
                                  meshes.box(h=0.5)], ids=["disk", "rectangle", "ball", "box"])
def test_lumped_masses_are_the_row_sums_of_the_assembled_mass_matrix(mesh):
    from skfem import Basis, BilinearForm

    from fempde.fem.space import lumped_masses

    @BilinearForm
    def mass(u, v, w):
        return u * v

    assembled = np.asarray(mass.assemble(Basis(mesh, meshes.p1_element(mesh))).sum(axis=1)).ravel()
    np.testing.assert_allclose(lumped_masses(mesh), assembled, rtol=2e-15)


@pytest.mark.parametrize(("tau", "flux"), [(0.0, "limited"), (0.0, "upwind"), (0.05, "limited")])
def test_explicit_rate_is_the_implicit_residual_and_its_bound_holds(rng, tau, flux):
    """The compiled right-hand side of the explicit stepper (its own one-``expm1`` flux) is the
    implicit-Euler residual's flux term, ``dρ/dΞ = −R(ρ; ρ_old = ρ, ΔΞ = 1)/m``, to round-off; its
    Gershgorin bound is at least the spectral radius of the Jacobian."""
    from fempde.fem.flux import rate, rate_and_bound

    space = fempde.Space(meshes.disk(h=0.25))
    problem = fempde.PorousMedium(target=lambda x: 1 - x[0] ** 2 - 0.5 * x[1] ** 2, tau=tau)
    system = problem.discretise(space, flux=flux)
    form = system.edge_form
    rho = rng.uniform(0.1, 1.0, space.n)
    rho[:5] = 0.0  # a free boundary's zeros
    residual, jacobian = system.linearise(rho, rho, 0.0, 1.0, rescaled=1.0)
    out, again, rows = np.empty(space.n), np.empty(space.n), np.empty(space.n)
    rate(form.i, form.j, form.weight, form.inverse_mass, form.tau, form.mobility, form.slope, form.offset, rho, out)
    bound = rate_and_bound(form.i, form.j, form.weight, form.inverse_mass, form.tau, form.mobility, form.slope,
                           form.offset, rho, again, rows)
    scale = np.abs(out).max()
    np.testing.assert_allclose(out, -residual / space.m, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(again, out, rtol=0, atol=1e-13 * scale)
    assert abs(space.m @ out) <= 1e-13 * scale * space.volume  # mass: the fluxes are antisymmetric
    # the Jacobian of dρ/dΞ is −M⁻¹(J − M) with J the implicit Euler Jacobian at ΔΞ = 1
    rate_jacobian = -(jacobian.toarray() - np.diag(space.m)) / space.m[:, None]
    assert bound >= np.abs(np.linalg.eigvals(rate_jacobian)).max() * (1 - 1e-12)
