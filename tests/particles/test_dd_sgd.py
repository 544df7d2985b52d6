"""SGD of the two-layer network on the isotropic two-Gaussian data (seed 002), through the
engine (:func:`particles.sgd`) of :func:`fempde.model.mmn_isotropic` and of the network's
declaration (:func:`particles.dd.declaration`)."""

import copy
import math

import numpy as np
import pytest

import fempde
import particles
from fempde.model import mmn_isotropic
from particles.dd import GaussianClasses, declaration, population_risk, sample_isotropic


def test_population_risk_is_exact(rng):
    model = fempde.IsotropicGaussians(0.8, 5)
    weights = rng.standard_normal((4, 5))
    x, y = sample_isotropic(model, 2_000_000, rng)
    errors = (y - model.sigma(x @ weights.T).mean(axis=1)) ** 2
    standard_error = errors.std() / math.sqrt(len(errors))
    assert population_risk(model, weights) == pytest.approx(errors.mean(), abs=4 * standard_error)


def test_single_unit_risk_matches_the_radial_formula():
    # N = 1: R = 1 + 2 v(r) + u(r, r) at cosine 1, i.e. E σ(s r G)² averaged over the classes
    model = fempde.IsotropicGaussians(0.5, 10)
    weights = np.zeros((1, 10))
    weights[0, 0] = 1.3
    sigma, r = model.sigma, 1.3
    g = np.linspace(-10, 10, 400_001)  # a fine trapezoid rule: σ² has kinks, Gauss–Hermite converges slowly
    density = np.exp(-0.5 * g**2) / math.sqrt(2 * math.pi)
    second = 0.5 * sum(np.trapezoid(sigma(s * r * g) ** 2 * density, g) for s in model.scales)
    assert population_risk(model, weights) == pytest.approx(1 + 2 * model.v(r) + second, rel=1e-6)


def test_two_layer_sgd_same_seed_same_numbers(rng):
    seed, other = rng.spawn(2)

    def run(generator, beta=math.inf):
        model = mmn_isotropic(0.8, 10, lam=0.01, beta=beta)
        generator = copy.deepcopy(generator)  # the same state each time
        w0 = generator.standard_normal((50, 10)) * 0.25
        return particles.sgd(model, w0, model.axis(1e-3), [0.0, 0.5, 1.0], rng=generator)

    first, again = run(seed, beta=50.0), run(seed, beta=50.0)
    np.testing.assert_array_equal(first.theta, again.theta)
    assert not np.array_equal(first.theta, run(other, beta=50.0).theta)
    np.testing.assert_allclose(first.times, [0.0, 0.5, 1.0])
    model = mmn_isotropic(0.8, 10)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(any, 10\), got \(3, 4\)"):
        particles.sgd(model, np.zeros((3, 4)), model.axis(1e-3), [1.0], rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        particles.sgd(model, np.zeros((3, 10)), model.axis(1e-3), [1.0], rng=5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got RandomState"):
        particles.sgd(model, np.zeros((3, 10)), model.axis(1e-3), [1.0], rng=np.random.RandomState(5))


@pytest.mark.parametrize("beta", [math.inf, 30.0])
def test_same_seed_same_run_whatever_the_record_times_and_chunks(rng, beta):
    """Steps k draw their data from block k // DATA_BLOCK and their noise from the
    step counter: 3000 steps (three data blocks) recorded at [0, 0.75], at
    [0, 0.37, 0.75] or cut into chunks of 100 end at the same weights, bit for bit;
    and the ensemble of two such runs equals them."""
    from particles.dd import GaussianClasses, Network

    model = declaration(Network(GaussianClasses(0.6, 10, relevant=4), "relu", fit_output=True), lam=0.02, beta=beta)
    seed = rng.spawn(1)[0]
    theta0 = np.column_stack([rng.standard_normal((30, 10)) * 0.3, np.ones(30), np.zeros(30)])  # (w, a, b)
    axis = model.axis(2.5e-4)

    def final(times, chunk=2048):
        return particles.sgd(model, theta0, axis, times, rng=copy.deepcopy(seed), chunk=chunk).theta[-1]

    whole = final([0.0, 0.75])
    for other in (final([0.0, 0.37, 0.75]), final([0.75], chunk=100), final([0.1, 0.2, 0.75], chunk=777)):
        np.testing.assert_array_equal(whole, other)
    members = [particles.Member(theta0, axis, copy.deepcopy(seed)),
               particles.Member(theta0, model.axis(5e-4), rng.spawn(1)[0])]
    together = particles.ensemble(model, members, [0.37, 0.75], chunk=300)
    np.testing.assert_array_equal(together[0].theta[-1], whole)


def test_sgd_lowers_the_risk_like_the_radial_pde(rng):
    """Both start at the law of ‖w‖ for w ~ N(0, 0.8²/d I) and both learn; at t = 1
    SGD (N = 400) sits within 0.1 of the radial PDE (h = 0.02; the gap is the mesh's
    first-order error on the narrow radial law plus finite N)."""
    from scipy.stats import chi

    import meshes

    d, delta = 40, 0.8
    model = fempde.IsotropicGaussians(delta, d)
    space = fempde.Space(meshes.interval(0, 3, 0.02))
    scale = 0.8 / math.sqrt(d)
    rho0 = space.interpolate(lambda x: chi.pdf(x[0] / scale, d) / scale)
    pde = fempde.solve(fempde.RadialDD(model), space, rho0 / space.integrate(rho0), 1.0, times=[1.0])
    network = mmn_isotropic(delta, d)
    run = particles.sgd(network, rng.standard_normal((400, d)) * scale, network.axis(1e-4), [0.0, 1.0], rng=rng)
    risks = [population_risk(model, w) for w in run.theta]
    assert risks[1] < 0.7 * risks[0]
    assert abs(risks[1] - pde.system.risk(pde.rho)) < 0.1  # measured 0.007
    assert abs(risks[0] - pde.system.risk(pde.snapshots[0.0])) < 0.05  # measured 0.003 (finite N)


def test_relu_network_on_anisotropic_data_has_the_exact_risk(rng):
    """a·ReLU(⟨w, x⟩ + b) with trained a, b on anisotropic classes (s0 = 3 of d = 6):
    the closed-form risk against 2·10⁶ fresh samples."""
    from particles.dd import GaussianClasses, Network

    net = Network(GaussianClasses(0.6, 6, relevant=3), "relu", fit_output=True)
    w, a, b = rng.standard_normal((5, 6)) * 0.6, rng.standard_normal(5), rng.standard_normal(5)
    x, y = net.data.sample(2_000_000, rng)
    assert np.allclose(x[y > 0, :3].std(axis=0), 1.6, rtol=0.01) and np.allclose(x[:, 3:].std(axis=0), 1, rtol=0.01)
    errors = (y - (a * np.maximum(x @ w.T + b, 0)).mean(axis=1)) ** 2
    standard_error = errors.std() / math.sqrt(len(errors))
    assert population_risk(net, w, a, b) == pytest.approx(errors.mean(), abs=4 * standard_error)


def test_compiled_sgd_is_the_update_of_the_paper(rng):
    """Ten noisy steps with ridge of the ReLU network with trained (a, b), against
    the update written out in numpy from the same draws (agree to 1e-12)."""
    from particles.dd import GaussianClasses, Network
    from particles.noise import draw_key, normals
    from particles.plan import DATA_BLOCK

    net = Network(GaussianClasses(0.5, 4, relevant=2), "relu", fit_output=True)
    lam, beta, eps, n = 0.3, 20.0, 1e-2, 7
    w0, a0, b0 = rng.standard_normal((n, 4)), rng.standard_normal(n), rng.standard_normal(n)
    draws = rng.spawn(1)[0]
    replay = copy.deepcopy(draws)  # the same draws, in the order the engine makes them
    model = declaration(net, lam=lam, beta=beta)
    run = particles.sgd(model, np.column_stack([w0, a0, b0]), model.axis(eps), [10 * eps], rng=draws)
    key = draw_key(replay)  # a noisy run draws its noise key first, then its data a block at a time
    xs, ys = net.data.sample(DATA_BLOCK, replay)
    noise = normals(key, 0, 10 * 6 * n).reshape(10, 6, n).transpose(0, 2, 1)  # normal (k width + j) N + i
    theta = np.column_stack([w0, a0, b0])
    for k in range(10):
        w, a, b = theta[:, :4], theta[:, 4], theta[:, 5]
        z = w @ xs[k] + b
        residual = ys[k] - (a * np.maximum(z, 0)).mean()
        grad = np.column_stack([np.outer(a * (z > 0), xs[k]), np.maximum(z, 0), a * (z > 0)])
        theta = (1 - 2 * lam * eps) * theta + 2 * eps * residual * grad + math.sqrt(4 * eps / beta) * noise[k]
    np.testing.assert_allclose(run.theta[-1], theta, atol=1e-12)


def test_dd_bad_input_is_named(rng):
    from particles.dd import GaussianClasses, Network

    with pytest.raises(ValueError, match=r"unknown activation 'tanh'; known: nonmonotone, piecewise-linear, relu"):
        Network(GaussianClasses(0.5, 4), "tanh")
    with pytest.raises(ValueError, match=r"relevant .* must be an integer in \[1, d = 4\], got 7"):
        GaussianClasses(0.5, 4, relevant=7)
    with pytest.raises(ValueError, match=r"Delta \(the class gap\) must lie in \(0, 1\), got 1.5"):
        GaussianClasses(1.5, 4)
    net = Network(GaussianClasses(0.5, 4))
    with pytest.raises(ValueError, match=r"beta \(the inverse temperature\) must be > 0.*got -1"):
        declaration(net, beta=-1.0)
    with pytest.raises(ValueError) as refused:
        declaration(net, lam=-0.1)
    assert refused.value.name.startswith("lam") and refused.value.value == -0.1


def test_ensemble_members_equal_their_single_runs(rng):
    """Three noisy runs with different N, ε and seeds, advanced together on the
    thread pool: each equals particles.sgd of the same member bit for bit."""
    model = mmn_isotropic(0.8, 6, lam=0.05, beta=40.0)
    members = [particles.Member(rng.standard_normal((n, 6)) * 0.3, model.axis(eps), generator)
               for (n, eps), generator in zip([(30, 1e-3), (7, 5e-3), (50, 2e-3)], rng.spawn(3), strict=True)]

    times = [0.0, 0.1, 0.25]
    together = particles.ensemble(model, copy.deepcopy(members), times, chunk=64)
    for member, run in zip(members, together, strict=True):
        alone = particles.sgd(model, member.theta0, member.axis, times, rng=member.rng, chunk=64)
        np.testing.assert_array_equal(run.theta, alone.theta)
        np.testing.assert_array_equal(run.times, alone.times)
    assert together[0].theta.shape == (3, 30, 6) and together[1].theta.shape == (3, 7, 6)
    with pytest.raises(ValueError, match="at least one member"):
        particles.ensemble(model, [], times)


@pytest.mark.parametrize(("args", "message"), [
    ((0.5, True), r"the dimension d must be an integer >= 1, got True"),
    ((0.5, 20, True), r"relevant \(the dimension s0 of the subspace V\) must be an integer in \[1, d = 20\], got True"),
    ((0.5, 3, 4), r"must be an integer in \[1, d = 3\], got 4"),
])
def test_gaussian_classes_refuse_bools_and_a_subspace_larger_than_d(args, message):
    with pytest.raises(ValueError, match=message):
        GaussianClasses(*args)
