"""SGD of the RBF network: its mean increment, reproducibility, its population risk."""

import copy

import numpy as np
import pytest
from scipy.integrate import quad

import fempde
import meshes
import particles
from fempde.checks import ParameterError
from fempde.fem.kernels import Kernel
from fempde.meanfield.axis import TimeAxis, noise_scale
from particles.kernels import bump as bump_kernel
from particles.kernels.bump import _sgd_chunk


def target(x):
    return 6 * x[0] * (1 - x[0])


def _rbf(domain, f, kernel, centers0, axis, times, *, tau=0.0, label_noise=0.0, boundary="restricted", rng,
         **settings):
    """The engine's run of :func:`fempde.model.jmm_rbf` on ``domain``'s mesh with ``kernel``."""
    model = fempde.model.jmm_rbf(domain.mesh, f, kernel.delta, tau=tau, kernel=kernel.name, schedule=axis.schedule,
                                 label_noise=label_noise, boundary=boundary)
    return particles.sgd(model, centers0, axis, times, rng=rng, **settings)


@pytest.fixture(scope="module")
def interval():
    return particles.ConvexDomain.from_mesh(meshes.interval(0, 1, 0.01))


def test_mean_increment_is_minus_two_s_grad_psi(rng, interval):
    """E[Δw_i] = −2 s ∇Ψ^δ(w_i; ρ̂), Ψ^δ(w) = (1/|Ω|) ∫ K^δ(x − w)(f̂ − f) dx, at a frozen configuration."""
    kernel = Kernel("triweight", 1, 0.2)
    centers = np.array([[0.3], [0.45], [0.5], [0.62], [0.7]])
    s = 1e-5  # small enough that no centre meets a wall

    def f_hat(x):
        return np.mean([kernel(np.array([[x - c]]))[0] for c in centers[:, 0]])

    def psi(w):
        return quad(lambda x: kernel(np.array([[x - w]]))[0] * (f_hat(x) - target(np.array([[x]]))[0]),
                    max(0.0, w - 0.2), min(1.0, w + 0.2), epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    h = 1e-5
    expected = np.array([-2 * s * (psi(w + h) - psi(w - h)) / (2 * h) for w in centers[:, 0]])

    samples = 40_000
    xs = interval.sample(samples, rng)
    ys = target(xs.T)
    increments = np.empty((samples, len(centers)))
    noiseless = np.empty(0)
    for k in range(samples):
        moved = centers.copy()
        _sgd_chunk(moved, xs[k:k + 1], ys[k:k + 1], np.array([s]), noiseless, np.uint64(0), 0, kernel.power,
                   kernel.constant, kernel.delta, interval.normals, interval.offsets, interval.center,
                   interval.inradius, True)
        increments[k] = moved[:, 0] - centers[:, 0]
    mean = increments.mean(axis=0)
    standard_error = increments.std(axis=0) / np.sqrt(samples)
    assert np.all(np.abs(mean - expected) <= 4 * standard_error)
    assert np.all(np.abs(expected) > 4 * standard_error)  # the test can tell a wrong sign


def test_same_seed_same_numbers(rng, interval):
    kernel = Kernel("epanechnikov", 1, 0.1)
    seed, other_seed = rng.spawn(2)

    def run(generator):
        generator = copy.deepcopy(generator)  # the same state each time
        centers0 = interval.sample(50, generator)
        return _rbf(interval, target, kernel, centers0, TimeAxis(1e-3), [0.5, 1.0], tau=0.01,
                                 label_noise=0.1, rng=generator)

    first, again, other = run(seed), run(seed), run(other_seed)
    np.testing.assert_array_equal(first.theta, again.theta)
    assert not np.array_equal(first.theta, other.theta)
    np.testing.assert_array_equal(first.steps, [500, 1000])
    np.testing.assert_allclose(first.times, [0.5, 1.0])


def test_noise_only_moves_have_the_pde_variance(rng):
    """With a kernel too narrow to see any data, SGD is the reflected random walk
    with variance 4 s τ per step (the diffusion 2ξτΔ of the PDE)."""
    domain = particles.ConvexDomain.from_mesh(meshes.interval(-100, 100, 10.0))
    kernel = Kernel("triweight", 1, 1e-9)
    centers0 = np.zeros((20_000, 1))
    tau, axis = 0.3, TimeAxis(1e-2)
    run = _rbf(domain, lambda x: 0 * x[0], kernel, centers0, axis, [1.0], tau=tau, rng=rng)
    variance = run.theta[-1, :, 0].var()
    expected = 100 * noise_scale(1e-2, tau) ** 2  # 100 steps
    assert variance == pytest.approx(expected, rel=4 * np.sqrt(2 / 20_000))
    assert expected == pytest.approx(4 * tau * 1.0)  # 4 ξ τ t


@pytest.mark.slow  # 8-20 s: runs in CI (make test-slow), kept out of the default suite's budget
def test_population_risk_against_direct_quadrature():
    mesh = meshes.disk(h=0.05)
    kernel = Kernel("triweight", 2, 0.3)
    centers = np.array([[0.1, 0.2], [-0.3, 0.0], [0.0, -0.5]])
    risk = particles.PopulationRisk(mesh, lambda x: 1 - x[0] ** 2 - x[1] ** 2, kernel)
    # polar quadrature on the true disk, minus the sliver the inscribed polygon misses (O(h²))
    from scipy.integrate import dblquad

    def integrand(r, phi):
        x = np.array([[r * np.cos(phi)], [r * np.sin(phi)]])
        fhat = np.mean([kernel(x - c[:, None])[0] for c in centers])
        return (1 - r**2 - fhat) ** 2 * r

    exact = dblquad(integrand, 0, 2 * np.pi, 0, 1, epsabs=1e-10)[0] / np.pi
    assert risk(centers) == pytest.approx(exact, rel=5e-3)


def test_bad_sgd_input(rng, interval):
    kernel = Kernel("triweight", 1, 0.1)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(any, 1\), got \(3, 2\)"):
        _rbf(interval, target, kernel, np.zeros((3, 2)), TimeAxis(1e-3), [1.0], rng=rng)
    with pytest.raises(ValueError, match="theta0: 1 of its 1 units lie outside the model's θ-domain"):
        _rbf(interval, target, kernel, np.array([[1.5]]), TimeAxis(1e-3), [1.0], rng=rng)
    with pytest.raises(ValueError, match="tau must be >= 0, got -1"):
        _rbf(interval, target, kernel, np.array([[0.5]]), TimeAxis(1e-3), [1.0], tau=-1, rng=rng)
    with pytest.raises(ValueError, match="theta0 has 1 non-finite entries"):
        _rbf(interval, target, kernel, np.array([[np.nan]]), TimeAxis(1e-3), [1.0], rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got RandomState"):
        _rbf(interval, target, kernel, np.array([[0.5]]), TimeAxis(1e-3), [1.0],
                          rng=np.random.RandomState(0))


def test_interrupted_sgd_resumes_bit_for_bit(rng, tmp_path, interval, monkeypatch):

    kernel = Kernel("triweight", 1, 0.1)
    times = [0.0, 0.05, 0.1, 0.2]
    seed = rng.spawn(1)[0]

    def run(**kwargs):
        generator = copy.deepcopy(seed)  # every run starts from the same state
        centers0 = interval.sample(100, generator)
        return _rbf(interval, target, kernel, centers0, TimeAxis(1e-4), times, tau=0.01,
                                 rng=generator, chunk=300, **kwargs)

    whole = run()
    compiled, calls = bump_kernel._sgd_chunk, [0]

    def interrupt_on_the_fifth_chunk(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:
            args[0][:] += 1e-3  # a chunk cut short leaves the centres half-updated ...
            raise KeyboardInterrupt
        return compiled(*args, **kwargs)

    monkeypatch.setattr(bump_kernel, "_sgd_chunk", interrupt_on_the_fifth_chunk)
    path = tmp_path / "sgd.npz"
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint=path, checkpoint_every=1e9)  # ... the checkpoint holds the state before that chunk
    monkeypatch.setattr(bump_kernel, "_sgd_chunk", compiled)
    assert int(np.load(path)["step"]) == 1000  # chunks [0,300) [300,500) [500,800) [800,1000): they stop at marks
    resumed = run(checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    np.testing.assert_array_equal(resumed.steps, whole.steps)
    with pytest.raises(ValueError, match=r"field .theta. has N = 100 along axis 0, the run has 7"):
        _rbf(interval, target, kernel, interval.sample(7, rng), TimeAxis(1e-4), times, rng=rng,
                          checkpoint=path, resume=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": float("nan")}, "tau must be a finite number, got nan"),
        ({"label_noise": float("nan")}, "label_noise must be a finite number, got nan"),
        ({"tau": True}, "tau must be a number, got True"),
        ({"chunk": 0}, r"chunk \(SGD steps per compiled call\) must be an integer >= 1, got 0"),
        ({"chunk": 2.0}, r"chunk \(SGD steps per compiled call\) must be an integer >= 1, got 2.0"),
        ({"checkpoint_every": -1.0}, r"checkpoint_every \(seconds\) must be >= 0, got -1.0"),
    ],
)
def test_bad_sgd_settings_are_named(rng, interval, kwargs, message):
    kernel = fempde.Kernel("triweight", 1, 0.2)
    with pytest.raises(ValueError, match=message):
        _rbf(interval, target, kernel, interval.sample(5, rng), fempde.TimeAxis(1e-3), [0.01],
                          rng=rng, **kwargs)


def test_target_not_finite_on_part_of_the_domain_is_refused(rng, interval):
    kernel = fempde.Kernel("triweight", 1, 0.2)
    with pytest.raises(ValueError, match="the target f is not finite at x = "):
        _rbf(interval, lambda x: np.where(x[0] > 0.5, np.nan, 1.0), kernel, interval.sample(5, rng),
                          fempde.TimeAxis(1e-3), [0.05], rng=rng)


def test_noisy_moves_near_the_faces_are_the_exact_reflections(rng):
    """Pure noise (a kernel that sees no data) in the unit square, centres near
    its faces: the compiled loop, which skips the face test while a centre's
    clearance lasts, equals confine_inplace applied to every move (to 1e-14),
    with the increments normal (k dim + j) N + i of the stream."""
    from particles.domain import confine_inplace
    from particles.noise import normals

    domain = particles.ConvexDomain.from_mesh(meshes.rectangle(h=0.5))
    n, steps, std = 300, 40, 0.05
    centers0 = np.clip(rng.random((n, 2)) * 0.2 + rng.integers(0, 2, (n, 2)) * 0.8, 0.01, 0.99)
    kernel = Kernel("triweight", 2, 1e-9)
    moved = centers0.copy()
    _sgd_chunk(moved, domain.sample(steps, rng), np.zeros(steps), np.ones(steps), np.full(steps, std), np.uint64(99),
               0, kernel.power, kernel.constant, kernel.delta, domain.normals, domain.offsets, domain.center,
               domain.inradius, True)
    noise = normals(99, 0, steps * 2 * n).reshape(steps, 2, n)
    expected = centers0.copy()
    for k in range(steps):
        for i in range(n):
            confine_inplace(expected[i], std * noise[k, :, i], domain.normals, domain.offsets, domain.center,
                            domain.inradius, True)
    free = centers0 + std * noise.sum(axis=0).T
    assert np.mean(np.any(np.abs(expected - free) > 1e-9, axis=1)) > 0.3  # many centres met a face
    np.testing.assert_allclose(moved, expected, rtol=0, atol=1e-14)
    assert np.all(domain.contains(moved))


def test_same_seed_same_run_whatever_the_record_times_and_chunks(rng, interval):
    """Data, label noise and Gaussian increments depend on the step, not on the
    chunks: 2500 steps (three data blocks) recorded at [0.5, 2.5] or [0.37, 1.1,
    2.5], or cut into chunks of 100, end at the same centres, bit for bit."""
    kernel = Kernel("triweight", 1, 0.15)
    centers0 = interval.sample(40, rng)
    seed = rng.spawn(1)[0]
    for tau in (0.0, 0.005):
        runs = [_rbf(interval, target, kernel, centers0, TimeAxis(1e-3), times, tau=tau,
                                  label_noise=0.1, rng=copy.deepcopy(seed), chunk=chunk).theta[-1]
                for times, chunk in (([0.5, 2.5], 4096), ([0.37, 1.1, 2.5], 4096), ([2.5], 100))]
        np.testing.assert_array_equal(runs[0], runs[1])
        np.testing.assert_array_equal(runs[0], runs[2])


def test_checkpoint_keys_and_data_blocks(rng, tmp_path, interval, monkeypatch):
    """A noiseless run stopped at step 1500 (inside the second data block) resumes
    bit for bit from its checkpoint (fempde's archive, :mod:`particles.state`); a
    noisy run refuses it (no noise key), and a checkpoint of other data blocks or
    of the old format is refused by name."""

    kernel = Kernel("triweight", 1, 0.1)
    seed, path = rng.spawn(1)[0], tmp_path / "sgd.npz"
    centers0 = interval.sample(20, rng)

    def run(**kwargs):
        return _rbf(interval, target, kernel, centers0, TimeAxis(1e-3), [1.5, 2.0], label_noise=0.1,
                                 rng=copy.deepcopy(seed), chunk=700, checkpoint=path, checkpoint_every=0.0, **kwargs)

    whole = run()
    compiled, calls = bump_kernel._sgd_chunk, [0]

    def stop_on_the_fourth_chunk(*args, **kwargs):  # chunks [0,700) [700,1400) [1400,1500) [1500,2000)
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        return compiled(*args, **kwargs)

    monkeypatch.setattr(bump_kernel, "_sgd_chunk", stop_on_the_fourth_chunk)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(bump_kernel, "_sgd_chunk", compiled)
    data = dict(np.load(path))
    assert int(data["step"]) == 1500 and str(data["__kind__"]) == "sgd-state"
    np.testing.assert_array_equal(run(resume=True).theta, whole.theta)
    np.savez(path, **data)
    with pytest.raises(ValueError, match=r"was written by a noiseless run \(no noise key\), and this run is noisy"):
        run(resume=True, tau=0.01)
    np.savez(path, **{**data, "data_block": np.int64(512)})
    with pytest.raises(ValueError, match=r"drew its data in blocks of 512 steps, this fempde in blocks of 1024"):
        run(resume=True)
    old = {name: value for name, value in data.items() if not name.startswith("__")}
    np.savez(path, **old)
    with pytest.raises(ValueError, match=r"has no fempde archive header"):
        run(resume=True)


def test_noise_does_not_depend_on_the_chunks(rng, interval):
    """The increments are indexed by step, coordinate and centre, not by chunk: a
    pure-noise run cut into chunks of 7 steps equals the uncut run bit for bit."""
    kernel = Kernel("triweight", 1, 1e-9)
    centers0 = interval.sample(40, rng)
    seed = rng.spawn(1)[0]
    runs = [_rbf(interval, target, kernel, centers0, TimeAxis(1e-3), [0.05, 0.1], tau=0.01,
                              rng=copy.deepcopy(seed), chunk=chunk) for chunk in (7, 4096)]
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)


def _reflected_on_the_unit_interval(kernel, x, w):
    """``K^δ(x − w) + K^δ(x + w) + K^δ(x − (2 − w))``: the reflected kernel on [0, 1] for
    δ <= 1/2, written out here independently of :func:`fempde.fem.kernels.mirror_images`
    (summed over the centres ``w`` when it is an array)."""
    w = np.atleast_1d(w)
    return float(kernel(np.atleast_2d(np.concatenate([x - w, x + w, x - (2 - w)]))).sum())


@pytest.mark.parametrize("dim", [1, 2])
def test_reflected_kernel_gradient_matches_finite_differences(rng, dim):
    """One noiseless compiled step of one centre with the residual y − f̂(x) = 1 and
    step s moves it by 2s ∇_w K_refl(x, w): against central differences of the PDE
    side's reflected kernel (kernel_matrix with the walls), near walls and corners."""
    from fempde.fem.convolution import kernel_matrix
    from fempde.fem.kernels import BoxWalls

    mesh = meshes.interval(0, 1, 0.1) if dim == 1 else meshes.rectangle(0, 1, 0, 1, h=0.25)
    domain, walls, kernel = particles.ConvexDomain.from_mesh(mesh), BoxWalls.from_mesh(mesh), Kernel("triweight",
                                                                                                   dim, 0.3)

    def k_refl(x, w):
        return kernel_matrix(kernel, x[None, :], w[None, :], walls).toarray()[0, 0]

    s, step, checked = 1e-9, 1e-6, 0
    for _ in range(60):
        x = rng.uniform(0, 1, dim) ** 3  # most samples near the walls at 0 (or the corner)
        w = np.clip(x + rng.uniform(-0.3, 0.3, dim), 0.01, 0.99)
        value = k_refl(x, w)
        moved = w[None, :].copy()
        _sgd_chunk(moved, x[None, :], np.array([value + 1.0]), np.array([s]), np.empty(0), np.uint64(0), 0,
                   kernel.power, kernel.constant, kernel.delta, domain.normals, domain.offsets, domain.center,
                   domain.inradius, True, lower=walls.lower, upper=walls.upper)
        fd = np.array([(k_refl(x, w + step * e) - k_refl(x, w - step * e)) / (2 * step) for e in np.eye(dim)])
        np.testing.assert_allclose((moved[0] - w) / (2 * s), fd, rtol=1e-5, atol=1e-5 * kernel.constant)
        checked += bool(value > kernel(np.atleast_2d(x - w).T)[0] + 1e-3)  # an image mattered
    assert checked >= 10


def test_mean_increment_is_minus_two_s_grad_psi_with_the_reflected_kernel(rng, interval):
    """E[Δw_i] = −2 s ∇Ψ^δ(w_i; ρ̂) with the reflected kernel, centres next to and on the
    walls; a centre on the wall does not move (its two images pull it equally: ∂_n Ψ^δ = 0),
    to round-off."""
    from fempde.fem.kernels import BoxWalls

    walls = BoxWalls.from_mesh(interval.mesh)
    kernel = Kernel("triweight", 1, 0.2)
    centers = np.array([[0.0], [0.03], [0.12], [0.45], [0.9], [0.97]])
    s = 1e-6  # small enough that no centre crosses a wall in one step

    def f_hat(x):
        return _reflected_on_the_unit_interval(kernel, x, centers[:, 0]) / len(centers)

    def psi(w):
        return quad(lambda x: _reflected_on_the_unit_interval(kernel, x, w) * (f_hat(x) - target(np.array([[x]]))[0]),
                    0.0, 1.0, points=[0.2, 0.8, w], epsabs=1e-13, epsrel=1e-12, limit=400)[0]

    h = 1e-5
    expected = np.array([-2 * s * (psi(w + h) - psi(w - h)) / (2 * h) for w in centers[1:, 0]])

    samples = 40_000
    xs = interval.sample(samples, rng)
    ys = target(xs.T)
    increments = np.empty((samples, len(centers)))
    for k in range(samples):
        moved = centers.copy()
        _sgd_chunk(moved, xs[k:k + 1], ys[k:k + 1], np.array([s]), np.empty(0), np.uint64(0), 0, kernel.power,
                   kernel.constant, kernel.delta, interval.normals, interval.offsets, interval.center,
                   interval.inradius, True, lower=walls.lower, upper=walls.upper)
        increments[k] = moved[:, 0] - centers[:, 0]
    assert np.abs(increments[:, 0]).max() <= 1e-12 * np.abs(increments[:, 1]).max()  # round-off (measured 1e-16)
    mean = increments[:, 1:].mean(axis=0)
    standard_error = increments[:, 1:].std(axis=0) / np.sqrt(samples)
    assert np.all(np.abs(mean - expected) <= 4 * standard_error)
    assert np.all(np.abs(expected) > 4 * standard_error)  # the test can tell a wrong sign


def test_population_risk_with_the_reflected_kernel(rng):
    """``R_N`` with boundary="reflected" against adaptive quadrature of the
    written-out reflected kernel, and restricted against the restricted one (1e-8: the
    rule of degree 6 on each cell of h = 0.01 meets an integrand of degree 12)."""
    kernel = Kernel("triweight", 1, 0.15)
    centers = np.array([[0.0], [0.05], [0.4], [0.93], [1.0]])
    mesh = meshes.interval(0, 1, 0.01)

    def exact(reflected):
        def integrand(x):
            bumps = (_reflected_on_the_unit_interval(kernel, x, centers[:, 0]) if reflected
                     else float(kernel(np.atleast_2d(x - centers[:, 0])).sum()))
            return (6 * x * (1 - x) - bumps / len(centers)) ** 2

        return quad(integrand, 0, 1, points=[0.15, 0.85], epsabs=1e-13, limit=400)[0]

    for boundary in ("restricted", "reflected"):
        risk = particles.PopulationRisk(mesh, target, kernel, boundary=boundary)
        assert risk(centers) == pytest.approx(exact(boundary == "reflected"), rel=1e-8)
    assert exact(True) != pytest.approx(exact(False), rel=1e-2)  # the two treatments differ here


def test_reflected_sgd_refuses_a_domain_that_is_not_a_box(rng):
    disk = particles.ConvexDomain.from_mesh(meshes.disk(h=0.3))
    kernel = Kernel("triweight", 2, 0.2)
    for boundary, words in (("reflected", "axis-aligned interval, rectangle or box"), ("Neumann", "must be one of")):
        with pytest.raises(ParameterError) as refused:
            _rbf(disk, lambda x: 1 + 0 * x[0], kernel, disk.sample(5, rng), TimeAxis(1e-3), [0.01],
                              boundary=boundary, rng=rng)
        assert refused.value.value == boundary and words in str(refused.value)
