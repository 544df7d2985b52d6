"""particles.sgd and particles.ensemble: the same seed gives the same numbers,
an ensemble member is its single run, a resumed run the unbroken one, frozen
coordinates stay, reflection keeps the units inside, lazy GD starts on its
kernel flow, and bad input is named."""

import copy
import math

import numpy as np
import pytest

import fempde
import meshes
import particles
from fempde.model import (
    TRAINED,
    FiniteData,
    Gaussian,
    GaussianMixture,
    MeanFieldModel,
    Ridge,
    gaussian_classes,
    lazy_network,
)
from particles import Member, ensemble, sgd
from particles.domain import ConvexDomain


def _mixture(d):
    return GaussianMixture([0.4, 0.6], [np.full(d, -0.5), np.full(d, 0.7)], [np.full(d, 0.8), np.full(d, 1.1)],
                           [-1.0, 2.0])


def _ridge(**kwargs):
    unit = Ridge("tanh", 3, output=TRAINED, bias=TRAINED)
    return MeanFieldModel(unit, _mixture(3), Gaussian(np.zeros(unit.dim), 0.7), **kwargs)


def _on_a_disk(**kwargs):
    """θ = (w, a) ∈ a meshed disk of radius 1.2: ridge units a tanh(w x) on 1-D data."""
    unit = Ridge("tanh", 1, output=TRAINED)
    return MeanFieldModel(unit, _mixture(1), Gaussian(np.zeros(2), 0.4), domain=meshes.disk(1.2, h=0.3), **kwargs)


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
def test_same_seed_same_numbers_whatever_the_chunks_and_times(rng):
    """Noisy SGD with ridge through the generic kernel (a θ-domain) and the fused
    ridge kernel: the same seed gives the same run bit for bit whatever the
    recording times and chunks (2500 steps: three data blocks); another seed another."""
    for model in (_on_a_disk(beta=200.0, lam=0.1), _ridge(beta=200.0, lam=0.1)):
        theta0 = np.clip(model.sample_initial(25, rng), -0.6, 0.6)
        seed, other = rng.spawn(2)
        axis = model.axis(1e-3)

        def final(times, chunk=4096, generator=seed, model=model, theta0=theta0, axis=axis):
            return sgd(model, theta0, axis, times, rng=copy.deepcopy(generator), chunk=chunk).theta[-1]

        whole = final([0.5, 2.5])
        np.testing.assert_array_equal(final([0.37, 1.1, 2.5]), whole)
        np.testing.assert_array_equal(final([2.5], chunk=100), whole)
        assert not np.array_equal(final([2.5], generator=other), whole)


def test_ensemble_members_equal_their_single_runs(rng):
    """Three members with different N, ε and seeds, noisy, one thread per run: each
    equals sgd of the same member bit for bit (the generic kernel on a θ-domain and
    the fused ridge kernel)."""
    times = [0.0, 0.1, 0.25]
    for model in (_on_a_disk(beta=100.0), _ridge(beta=100.0, lam=0.05)):
        members = [Member(np.clip(model.sample_initial(n, generator), -0.6, 0.6), model.axis(eps), generator)
                   for (n, eps), generator in zip([(30, 1e-3), (7, 5e-3), (50, 2e-3)], rng.spawn(3), strict=True)]
        together = ensemble(model, copy.deepcopy(members), times, chunk=64)
        for member, run in zip(members, together, strict=True):
            alone = sgd(model, member.theta0, member.axis, times, rng=member.rng, chunk=64)
            np.testing.assert_array_equal(run.theta, alone.theta)
            np.testing.assert_array_equal(run.times, alone.times)
        assert together[1].theta.shape == (3, 7, model.dim) and together[0].kernel == together[1].kernel


def test_resumed_run_is_the_unbroken_run(rng, tmp_path, monkeypatch):
    """A noisy run on a θ-domain with an observer, interrupted by Ctrl-C in its third
    chunk: resumed from its checkpoint it gives the unbroken run's units and
    observations bit for bit; a checkpoint of another run is refused."""
    import particles.kernels as kernels

    model = _on_a_disk(beta=100.0)
    theta0 = np.clip(model.sample_initial(20, rng), -0.6, 0.6)
    seed, path = rng.spawn(1)[0], tmp_path / "run.npz"
    times = [0.0, 0.3, 0.5, 1.5]

    def run(**kwargs):
        return sgd(model, theta0, model.axis(1e-3), times, rng=copy.deepcopy(seed), chunk=400,
                   observe=lambda theta: theta.mean(axis=0), **kwargs)

    whole = run()
    advance, calls = kernels.GenericStepper.advance, [0]

    def interrupted(self, *args):
        calls[0] += 1
        if calls[0] == 3:  # chunks [0,300) [300,500) [500,900) [900,1300) [1300,1500)
            args[0][:] += 1.0  # a chunk cut short leaves the units half-moved ...
            raise KeyboardInterrupt
        return advance(self, *args)

    monkeypatch.setattr(kernels.GenericStepper, "advance", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint=path, checkpoint_every=1e9)  # ... the checkpoint holds the state before that chunk
    monkeypatch.undo()
    assert int(np.load(path)["step"]) == 500
    resumed = run(checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    np.testing.assert_array_equal(resumed.observed, whole.observed)
    again = run(checkpoint=path, resume=True)  # a finished checkpoint: nothing left to run
    np.testing.assert_array_equal(again.theta, whole.theta)
    with pytest.raises(ValueError, match=r"field .theta. has N = 20 along axis 0, the run has 7"):
        sgd(model, theta0[:7], model.axis(1e-3), times, rng=rng, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint path"):
        sgd(model, theta0, model.axis(1e-3), times, rng=rng, resume=True)


def test_frozen_coordinates_never_move(rng):
    """trained = (w1, w2 trained; w3, a, b frozen), noisy, with ridge λ: the frozen
    columns keep their initial values bit for bit at every record."""
    model = _ridge(beta=50.0, lam=0.2, trained=(True, True, False, False, True))
    theta0 = model.sample_initial(30, rng)
    run = sgd(model, theta0, model.axis(1e-2), [0.0, 0.5, 1.0], rng=rng)
    assert run.kernel == "generic"
    for theta in run.theta:
        np.testing.assert_array_equal(theta[:, 2:4], theta0[:, 2:4])
    assert np.abs(run.theta[-1][:, [0, 1, 4]] - theta0[:, [0, 1, 4]]).min() > 0  # every trained one moved


@pytest.mark.parametrize("reflect", [True, False])
def test_reflection_and_projection_keep_every_unit_inside(rng, reflect):
    """Strong noise on a disk of radius 1.2 (each step ~0.3, every unit meets the
    wall): every unit stays inside at every record, and they fill the disk."""
    model = _on_a_disk(beta=0.02)
    domain = ConvexDomain.from_mesh(model.domain)
    run = sgd(model, np.zeros((200, 2)), model.axis(1e-3), np.linspace(0.05, 1.0, 20), rng=rng, reflect=reflect)
    assert np.all([domain.contains(theta, tol=1e-12) for theta in run.theta])
    radius = np.linalg.norm(run.theta[-1], axis=1)
    assert radius.max() > 1.0  # the walls were met (the polygon's inradius is 1.2 cos(π/n))


def test_lazy_gradient_descent_starts_on_the_kernel_flow(rng):
    """Lazy scaling (α = √N, κ = 1), full batch on 20 points: the first GD step moves
    the outputs by −s (1/n) H (u − y), H the tangent Gram matrix at the start
    (particles.KernelFlow's iteration), up to O(1/√N): relative gap 0.0053 at
    N = 1000 and 0.0017 at N = 10000 (measured), slope about −1/2."""
    data = particles.TrainingSet.sphere(20, 3, rng)
    model = lazy_network(FiniteData(data.x, data.y))
    gaps = []
    for n in (1000, 10_000):
        theta0 = model.sample_initial(n, rng)
        axis = model.axis(1.0)
        run = sgd(model, theta0, axis, [0.0, 1.0], rng=rng, batch="full")
        net = [particles.TwoLayer(theta[:, -1], theta[:, :-1], math.sqrt(n)) for theta in run.theta]
        u0, u1 = (m.output(data.x) for m in net)
        flow = particles.KernelFlow(net[0].tangent_gram(data.x), u0 - data.y)
        predicted = flow.residual(axis, np.array([1]), discrete=True)[:, 0] + data.y
        gaps.append(np.abs(u1 - predicted).max() / np.abs(u1 - u0).max())
    assert gaps[1] < 0.01 and gaps[0] / gaps[1] > 2.0


def test_a_diverging_run_names_t_and_epsilon(rng):
    unit = Ridge("relu", 3, output=TRAINED, bias=TRAINED)
    model = MeanFieldModel(unit, _mixture(3), Gaussian(np.zeros(unit.dim), 0.7))
    with pytest.warns(particles.StepSizeWarning), \
            pytest.raises(FloatingPointError, match=r"SGD diverged: θ is not finite at t = 5000 with epsilon = 50 "
                                                    r"\(N = 10; finite at t = 0\); lower epsilon \(now 50\)"):
        sgd(model, 30 * model.sample_initial(10, rng), model.axis(50.0), [5000.0], rng=rng)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda m, r: sgd(m, np.zeros((3, 4)), m.axis(1e-3), [1.0], rng=r), ValueError,
     r"theta0 must have shape \(any, 5\), got \(3, 4\)"),
    (lambda m, r: sgd(m, np.zeros((0, 5)), m.axis(1e-3), [1.0], rng=r), ValueError, "theta0 must hold N >= 1 units"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, batch=0), ValueError,
     r"batch \(samples per step; 'full' for the data quadrature\) must be an integer >= 1, got 0"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, batch="all"), ValueError,
     r"batch must be a number of samples >= 1, 'full' or \('full', level\), got 'all'"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), fempde.TimeAxis(1e-3, fempde.PowerLaw()), [1.0], rng=r), ValueError,
     r"axis has the schedule .* the model Constant.*: build the axis with model.axis\(epsilon\)"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), 1e-3, [1.0], rng=r), TypeError, "axis must be a fempde TimeAxis"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=5), TypeError,
     "rng must be a numpy.random.Generator, got int"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, kernel="fast"), ValueError,
     "kernel must be one of auto, generic"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, kernel="bump"), ValueError,
     r"the bump kernel does not apply to this run \(the unit is not a Bump; it needs the θ-domain\)"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, observe=3), TypeError,
     "observe must be a function of theta"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r, keep_theta=False), ValueError,
     "keep_theta=False keeps nothing without observe"),
    (lambda m, r: sgd(m, np.zeros((3, 5)), m.axis(1e-3), [-1.0], rng=r), ValueError,
     "record times must be one or more finite times >= 0"),
    (lambda m, r: sgd("model", np.zeros((3, 5)), m.axis(1e-3), [1.0], rng=r), TypeError,
     "model must be a fempde.model.MeanFieldModel, got str"),
    (lambda m, r: ensemble(m, [], [1.0]), ValueError, "an ensemble needs at least one member"),
    (lambda m, r: ensemble(m, [(np.zeros((3, 5)), m.axis(1e-3), r)], [1.0]), TypeError,
     r"members\[0\] must be a particles.Member\(theta0, axis, rng\), got tuple"),
])
def test_bad_input_is_named(rng, call, error, message):
    with pytest.raises(error, match=message):
        call(_ridge(), rng)


def test_a_start_outside_the_domain_and_a_data_law_without_a_sampler_are_refused(rng):
    model = _on_a_disk()
    with pytest.raises(ValueError, match=r"theta0: 1 of its 2 units lie outside the model's θ-domain \(unit 1 at"):
        sgd(model, np.array([[0.0, 0.0], [2.0, 0.0]]), model.axis(1e-3), [1.0], rng=rng)

    class Quadrature:  # a data law known by its quadrature only
        input_dim, default_level = 3, 1

        def refined(self, level):
            return level

        def quadrature(self, level=None):
            return _mixture(3).quadrature(4)

        sample = None

    unit = Ridge("tanh", 3, output=TRAINED, bias=TRAINED)
    sample_free = MeanFieldModel(unit, _ridge().data, Gaussian(np.zeros(5), 0.7))
    object.__setattr__(sample_free, "data", Quadrature())
    with pytest.raises(ValueError, match=r"has no sampler: give batch='full' \(its quadrature\)"):
        sgd(sample_free, np.zeros((3, 5)), sample_free.axis(1e-3), [1.0], rng=rng)
    theta0 = np.full((3, 5), 0.3)
    run = sgd(sample_free, theta0, sample_free.axis(1e-2), [0.1], rng=rng, batch="full")
    assert run.theta.shape == (1, 3, 5) and np.abs(run.theta[-1] - theta0).min() > 0


def test_mmn_network_on_the_engine_is_the_network_declaration(rng):
    """fempde.model.mmn_isotropic and the two-layer network's own declaration
    (particles.dd.declaration of the isotropic problem) on the same seed: the same numbers."""
    from particles.dd import Network, declaration

    model = fempde.model.mmn_isotropic(0.8, 10, lam=0.01, beta=50.0)
    w0 = model.sample_initial(40, rng)
    seed = rng.spawn(1)[0]
    run = sgd(model, w0, model.axis(1e-3), [0.5], rng=copy.deepcopy(seed))
    network = declaration(Network.isotropic(fempde.IsotropicGaussians(0.8, 10)), lam=0.01, beta=50.0)
    other = sgd(network, w0, network.axis(1e-3), [0.5], rng=copy.deepcopy(seed))
    np.testing.assert_array_equal(run.theta[-1], other.theta[-1])
    assert gaussian_classes(0.8, 10).classes == fempde.meanfield.GaussianClasses(0.8, 10)
