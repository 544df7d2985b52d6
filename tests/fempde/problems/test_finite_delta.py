"""The finite-δ porous-medium flow: exact Jacobian, structure, and the δ → 0 limit,
with the bumps restricted to Ω or reflected at its walls."""

import numpy as np
import pytest
from exact import fitted_rate

import fempde
import meshes


def target(x):
    return 6 * x[0] * (1 - x[0])


@pytest.mark.parametrize("boundary", ["restricted", "reflected"])
@pytest.mark.parametrize("tau", [0.0, 0.05])
@pytest.mark.parametrize("kernel", sorted(fempde.KERNELS))
def test_jacobian_matches_finite_differences(rng, tau, kernel, boundary):
    space = fempde.Space(meshes.interval(0, 1, 0.02))
    system = fempde.FiniteDeltaPorousMedium(target, tau=tau, kernel=kernel, delta=0.15,
                                            boundary=boundary).discretise(space)
    rho_old = rng.uniform(0.5, 1.5, space.n)
    rho = rho_old * rng.uniform(0.9, 1.1, space.n)
    _, jacobian = system.linearise(rho, rho_old, 0.0, 0.1)
    step, columns = 1e-7, []
    for k in range(space.n):
        e = np.zeros(space.n)
        e[k] = step
        columns.append((system.linearise(rho + e, rho_old, 0.0, 0.1)[0]
                        - system.linearise(rho - e, rho_old, 0.0, 0.1)[0]) / (2 * step))
    np.testing.assert_allclose(jacobian.toarray(), np.array(columns).T, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("mesh", "boundary"), [(meshes.disk(h=0.15), "restricted"),
                                              (meshes.rectangle(-1, 1, -1, 1, h=0.15), "reflected")])
def test_potential_is_the_gradient_of_the_risk(rng, mesh, boundary):
    # φ = (∂ ½R^δ_h / ∂ρ_i) / m_i: check by finite differences of the discrete risk
    space = fempde.Space(mesh)
    system = fempde.FiniteDeltaPorousMedium(lambda x: 1 - x[0] ** 2 - x[1] ** 2, delta=0.4,
                                            boundary=boundary).discretise(space)
    rho = rng.uniform(0.1, 1.0, space.n)
    step = 1e-6
    for k in rng.choice(space.n, 10, replace=False):
        e = np.zeros(space.n)
        e[k] = step
        derivative = (system.risk(rho + e) - system.risk(rho - e)) / (4 * step * space.m[k])
        assert system.potential(rho)[k] == pytest.approx(derivative, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("mesh", "boundary"), [
    (meshes.interval(0, 1, 0.01), "restricted"), (meshes.disk(h=0.1), "restricted"),
    (meshes.interval(0, 1, 0.01), "reflected"), (meshes.rectangle(-0.5, 0.5, -0.5, 0.5, h=0.1), "reflected"),
], ids=["1d", "2d", "1d-reflected", "2d-reflected"])
@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_structure_is_kept(mesh, boundary, tau):
    problem = fempde.FiniteDeltaPorousMedium(lambda x: 1.5 - np.sum(x**2, axis=0), tau=tau, delta=0.2,
                                             boundary=boundary)
    result = fempde.solve(problem, mesh, "uniform", 2.0)
    assert result.ok
    assert np.abs(result.history["mass"] - 1).max() <= 1e-12
    assert np.diff(result.history["free_energy"]).max() <= 1e-14
    assert result.history["min_rho"].min() >= (1e-300 if tau > 0 else -1e-14)


def test_tends_to_the_local_flow_as_delta_vanishes():
    """max over t ∈ {0.25, 0.5, 1} of ||ρ^δ − ρ^0||_L1 decays like δ (measured rate 1.01; the
    boundary layer of width δ, where the restricted convolution loses mass, dominates)."""
    space = fempde.Space(meshes.interval(0, 1, 0.0025))
    times = [0.25, 0.5, 1.0]
    local = fempde.solve(fempde.PorousMedium(target, tau=0.05), space, "uniform", 1.0, times=times)
    deltas, gaps = [0.2, 0.1, 0.05, 0.025], []
    for delta in deltas:
        result = fempde.solve(fempde.FiniteDeltaPorousMedium(target, tau=0.05, delta=delta), space, "uniform",
                              1.0, times=times)
        gaps.append(max(space.m @ np.abs(result.snapshots[t] - local.snapshots[t]) for t in times))
    assert np.all(np.diff(gaps) < 0)
    assert fitted_rate(deltas, gaps) >= 0.9


def _wall_mass(space, rho, width):
    """The mass of the nodes within ``width`` of the walls of [0, 1] (the scheme's point masses ``m_i ρ_i``)."""
    near = np.minimum(space.x[0], 1 - space.x[0]) <= width
    return float(space.m[near] @ rho[near])


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
def test_reflected_walls_restore_the_delta_to_zero_limit():
    """τ = 0, f = 6x(1 − x), ρ0 = 1, h = 0.01, t ∈ {0.25, 0.5, 1}. Restricted at δ = 0.05,
    the flow holds mass on the wall (measured 0.065 on the wall nodes) and the risk stays
    far from the δ → 0 risk (sup gap 1.7e-2). Reflected, no mass stays there (6.5e-5 within
    δ/4), and as δ halves from 0.1 the sup over t of W1(ρ^δ, ρ^0) falls with rate 1.8 and
    that of |R^δ(ρ^δ) − R(ρ^0)| with rate 3.3 (the slow test below: 1.74 and 3.40 at h = 0.0025,
    δ down to 0.025, t up to 3)."""
    from scipy.stats import wasserstein_distance

    space = fempde.Space(meshes.interval(0, 1, 0.01))
    times = [0.25, 0.5, 1.0]
    local = fempde.solve(fempde.PorousMedium(target), space, "uniform", 1.0, times=times)

    def gaps(delta, boundary):
        result = fempde.solve(fempde.FiniteDeltaPorousMedium(target, delta=delta, boundary=boundary), space,
                              "uniform", 1.0, times=times)
        assert result.ok
        w1 = max(wasserstein_distance(space.x[0], space.x[0], space.m * result.snapshots[t],
                                      space.m * local.snapshots[t]) for t in times)
        risk = max(abs(result.system.risk(result.snapshots[t]) - local.system.risk(local.snapshots[t]))
                   for t in times)
        return w1, risk, _wall_mass(space, result.rho, delta / 4)

    restricted = gaps(0.05, "restricted")
    assert restricted[2] >= 0.05 and restricted[1] >= 1e-2
    coarse, fine = gaps(0.1, "reflected"), gaps(0.05, "reflected")
    assert fine[2] <= 1e-4
    assert np.log2(coarse[0] / fine[0]) >= 1.5
    assert np.log2(coarse[1] / fine[1]) >= 2.5


@pytest.mark.slow  # about a minute: the δ → 0 study of benchmarks/walls.py at h = 0.0025
@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_reflected_rates_in_delta(tau):
    """h = 0.0025 (δ/h ≥ 10), δ ∈ {0.1, 0.05, 0.025}, t ∈ {0.3, 1, 3}: with the reflected kernel
    the sup over t of W1(ρ^δ, ρ^0) falls with rate 1.74 at τ = 0 and 2.03 at τ = 0.05 (restricted
    0.49, 0.66), of ‖ρ^δ − ρ^0‖_L1 at τ = 0.05 with rate 2.21 (restricted 0.95), of |R^δ − R| at
    τ = 0 with rate 3.40 (restricted 0.14)."""
    from scipy.stats import wasserstein_distance

    space = fempde.Space(meshes.interval(0, 1, 0.0025))
    times = [0.3, 1.0, 3.0]
    local = fempde.solve(fempde.PorousMedium(target, tau=tau), space, "uniform", 3.0, times=times)
    deltas, w1, l1, risk = [0.1, 0.05, 0.025], [], [], []
    for delta in deltas:
        result = fempde.solve(fempde.FiniteDeltaPorousMedium(target, tau=tau, delta=delta, boundary="reflected"),
                              space, "uniform", 3.0, times=times)
        rho, rho0 = [result.snapshots[t] for t in times], [local.snapshots[t] for t in times]
        w1.append(max(wasserstein_distance(space.x[0], space.x[0], space.m * a, space.m * b)
                      for a, b in zip(rho, rho0, strict=True)))
        l1.append(max(space.m @ np.abs(a - b) for a, b in zip(rho, rho0, strict=True)))
        risk.append(max(abs(result.system.risk(a) - local.system.risk(b)) for a, b in zip(rho, rho0, strict=True)))
    assert fitted_rate(deltas, w1) >= 1.5
    if tau > 0:
        assert fitted_rate(deltas, l1) >= 1.8
    else:
        assert fitted_rate(deltas, risk) >= 2.7


def test_reflected_kernel_needs_a_box():
    from fempde.checks import ParameterError

    problem = fempde.FiniteDeltaPorousMedium(lambda x: 1 + 0 * x[0], delta=0.2, boundary="reflected")
    with pytest.raises(ParameterError) as refused:
        problem.discretise(fempde.Space(meshes.disk(h=0.2)))
    assert refused.value.value == "reflected" and "axis-aligned interval, rectangle or box" in str(refused.value)
    with pytest.raises(ParameterError) as refused:
        fempde.FiniteDeltaPorousMedium(target, delta=0.3, boundary="reflected").discretise(
            fempde.Space(meshes.interval(0, 0.5, 0.05)))
    assert (refused.value.name, refused.value.value) == ("delta (the bump width)", 0.3)


def test_delta_wider_than_the_domain():
    with pytest.raises(ValueError, match="delta=2.0 is wider than the domain"):
        fempde.FiniteDeltaPorousMedium(target, delta=2.0).discretise(fempde.Space(meshes.interval(0, 1, 0.1)))
