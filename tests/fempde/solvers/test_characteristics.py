"""The noiseless radial DD by characteristics (quantiles), against the finite
elements of RadialDD and against SGD of the network (seed 002's Fig. 1 setting)."""

import math

import numpy as np
import pytest
from scipy.stats import chi, wasserstein_distance

import fempde
import meshes
import particles
from fempde.model import mmn_isotropic
from fempde.solvers.characteristics import quantile_flow, quantiles_of

D, DELTA = 40, 0.8
SCALE = 0.8 / math.sqrt(D)  # w ~ N(0, 0.8²/d I): r = ‖w‖ ~ SCALE · chi_d


@pytest.fixture(scope="module")
def problem():
    return fempde.RadialDD(fempde.IsotropicGaussians(DELTA, D))


@pytest.fixture(scope="module")
def flow(problem):
    times = [0.0, 0.125, 0.25, 0.5]
    return quantile_flow(problem, quantiles_of(chi(D, scale=SCALE).ppf, 4000), times, r_max=3.0, table=151)


def test_risk_never_increases(flow):
    assert np.all(np.diff(flow.risk) < 0)  # noiseless DD is a gradient flow of R/2
    assert flow.risk[-1] < 0.7 * flow.risk[0]


def test_finite_elements_converge_to_the_characteristics(problem, flow):
    """W1 between the P1 density of RadialDD (dt = 1e-3) and the quantiles at
    t = 0.5 falls with h: measured 0.074 (h = 0.05), 0.045 (0.025), 0.027 (0.0125)."""

    def w1(h):
        space = fempde.Space(meshes.interval(0, 3, h))
        rho0 = space.interpolate(lambda x: chi.pdf(x[0] / SCALE, D) / SCALE)
        rho = fempde.solve(problem, space, rho0 / space.integrate(rho0), 0.5, times=[0.5],
                           options=fempde.StepOptions(dt0=1e-3, dt_max=1e-3)).rho
        fine = np.linspace(0, 3, 30_001)
        density = np.interp(fine, space.x[0], rho)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(fine))])
        empirical = np.searchsorted(np.sort(flow.positions[-1]), fine, side="right") / flow.positions.shape[1]
        return np.trapezoid(np.abs(cdf - empirical), fine)

    coarse, fine = w1(0.05), w1(0.025)
    assert coarse / fine >= 1.4
    assert fine <= 0.06


def test_sgd_approaches_the_pde_as_n_grows(problem, flow):
    """W1(law of ‖w_i‖, ρ̄_t) averaged over t ∈ {0.125, 0.25, 0.5} and 3 seeds, at
    ε = 5e-6: small enough that the step-size bias (W1 about 0.04 at ε = 2e-4,
    0.009 at 5e-5: SGD needs ε d ≪ 1) stays below the N-gap."""
    network = mmn_isotropic(DELTA, D)  # the network of problem's IsotropicGaussians(DELTA, D)
    gaps = []
    for n in (100, 400, 1600):
        per_seed = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            run = particles.sgd(network, rng.standard_normal((n, D)) * SCALE, network.axis(5e-6), flow.times, rng=rng)
            radii = np.linalg.norm(run.theta, axis=2)
            pairs = zip(radii[1:], flow.positions[1:], strict=True)
            per_seed.append(np.mean([wasserstein_distance(r, x) for r, x in pairs]))
        gaps.append(np.mean(per_seed))
    # measured 0.0069, 0.0029, 0.0017: x4.1 for x16 in N, the N^(-1/2) of sampling
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[0] / gaps[2] >= 3.0
    assert gaps[2] <= 0.003


def test_quantile_flow_refuses_noise_and_bad_radii(problem):
    with pytest.raises(ValueError, match="noiseless"):
        quantile_flow(fempde.RadialDD(problem.model, beta=10.0), np.linspace(0.1, 1, 10), [0.1], r_max=2.0)
    with pytest.raises(ValueError, match=r"r0 must hold at least 2 finite radii in \[0, r_max = 2.0\]"):
        quantile_flow(problem, np.array([0.5, 2.5]), [0.1], r_max=2.0)
