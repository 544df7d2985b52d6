"""SGD against the PDE it converges to: the gap shrinks with N, and noisy SGD
has the PDE's stationary law (which pins the noise convention)."""

import importlib
from pathlib import Path

import numpy as np
import pytest

import fempde
import meshes
import particles
from fempde.io.vtk import read_pvd
from fempde.scenario import ScenarioError
from particles.crosscheck import RBFProblem, convergence_in_n, crosscheck
from particles.kernels import bump as bump_kernel


def target(x):
    return 6 * x[0] * (1 - x[0])


@pytest.mark.slow
def test_gap_shrinks_with_n():
    # h = 0.0025: at h = 0.01 and 0.005 the PDE's spatial error (1.7e-4, 2.7e-5) is more than a tenth
    # of the smallest N = 1600 gap (2.3e-4)
    problem = RBFProblem(meshes.interval(0, 1, 0.0025), target, delta=0.1)
    study = convergence_in_n(problem, [400, 1600], 1e-5, 0.2, seeds=(0, 1, 2, 3), n_times=8)
    assert study["pde_accurate"] and study["pde_risk_error"] < 0.1 * study["risk_gap"].min()
    # measured: risk gap 0.0325 -> 0.0138 (x2.36), L1 density gap 0.353 -> 0.177 (x1.99) at h = 0.01
    assert study["risk_gap"][0] / study["risk_gap"][1] >= 1.5
    assert study["density_gap"][0] / study["density_gap"][1] >= 1.5
    assert study["density_slope"] < -0.35


def test_noisy_sgd_has_the_stationary_law_of_the_pde(rng):
    """Histogram of the centres over t ∈ [1.5, 3] against the finite-δ PDE's
    steady state, mass per bin, L1 over 20 bins. The law with τ/2 (the noise
    sqrt(2 s τ) printed in some papers) is clearly farther away."""
    mesh = meshes.interval(0, 1, 0.005)
    space, domain = fempde.Space(mesh), particles.ConvexDomain.from_mesh(mesh)
    tau, delta = 0.2, 0.1

    def steady(viscosity):
        problem = fempde.FiniteDeltaPorousMedium(target, tau=viscosity, delta=delta)
        return fempde.solve(problem, space, "uniform", 200.0, [fempde.SteadyState(1e-10)],
                            options=fempde.StepOptions(dt_max=10.0)).rho

    kernel = fempde.Kernel("triweight", 1, delta)
    times = np.linspace(1.5, 3.0, 41)
    run = particles.rbf_sgd(domain, target, kernel, domain.sample(1000, rng), fempde.TimeAxis(2e-5), times,
                            tau=tau, rng=rng)
    edges = np.linspace(0, 1, 21)
    histogram = np.histogram(run.centers.ravel(), bins=edges)[0] / run.centers.size

    def bin_mass(rho):  # exact integrals of the P1 density over each bin
        fine = np.linspace(0, 1, 20_001)
        values = np.interp(fine, mesh.p[0], rho)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (values[1:] + values[:-1]) * np.diff(fine))])
        return np.diff(np.interp(edges, fine, cdf))

    right = np.abs(histogram - bin_mass(steady(tau))).sum()
    wrong = np.abs(histogram - bin_mass(steady(tau / 2))).sum()
    assert right <= 0.025  # measured 0.0159
    assert wrong >= 0.03  # measured 0.0372


@pytest.mark.slow  # 8-20 s: runs in CI (make test-slow), kept out of the default suite's budget
def test_crosscheck_writes_curves_and_particle_clouds(tmp_path):
    problem = RBFProblem(meshes.disk(h=0.15), lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2), delta=0.4, tau=0.01)
    check = crosscheck(problem, 100, 1e-3, 0.2, n_times=4, seeds=(0, 1))
    assert check.sgd_risk.shape == (2, 5) and check.l1.shape == (2, 5)
    # both sides start from the same law: the risks agree at t = 0 up to the finite-N bias
    assert check.sgd_risk[:, 0].mean() == pytest.approx(check.pde_risk[0], rel=0.3)
    assert np.all(check.wasserstein >= 0) and np.all(check.l1 <= 2)
    check.write(tmp_path)
    clouds, fields = read_pvd(tmp_path / "particles.pvd"), read_pvd(tmp_path / "rho.pvd")
    assert [t for t, _ in clouds] == [t for t, _ in fields] == pytest.approx(check.times.tolist())
    import meshio

    last = meshio.read(clouds[-1][1])
    assert last.cells[0].type == "vertex" and len(last.points) == 100
    np.testing.assert_array_equal(last.points[:, :2], check.centers[-1])
    import csv

    with open(tmp_path / "crosscheck.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # one per output time
    assert [r["pde_error_explains_gap"] == "True" for r in rows[1:]] == check.pde_error_explains[1:].tolist()
    np.testing.assert_allclose([float(r["pde_risk_error"]) for r in rows], check.pde_risk_error, rtol=1e-15)
    assert (tmp_path / "risk.png").stat().st_size > 10_000


@pytest.mark.slow  # 8-20 s: runs in CI (make test-slow), kept out of the default suite's budget
def test_crosscheck_reports_the_pde_error_and_tightens_a_loose_reference():
    """A reference solved with rtol = 0.3 has a risk error of 3e-3, a quarter of the
    smallest gap (measured 0.011); the cross-check re-solves it more tightly until
    the error is below a tenth of it."""
    from particles.crosscheck import PDE_ERROR_FRACTION, reference

    problem = RBFProblem(meshes.interval(0, 1, 0.005), target, delta=0.1)
    loose = reference(problem, 0.1, n_times=5, rtol=0.3)
    check = crosscheck(problem, 4000, 1e-4, 0.1, n_times=5, seeds=(0, 1), solved=loose)
    assert check.reference.rtol < loose.rtol
    assert check.pde_risk_error.max() < loose.risk_error.max()
    assert check.pde_accurate and check.pde_risk_error.max() <= PDE_ERROR_FRACTION * check.risk_gap.min()
    assert check.pde_risk_error[0] == 0 and np.all(check.pde_risk_error[1:] > 0)
    # the network output's gap: between 0 and the two outputs' L2 norms added, and below the deposit's L1
    assert check.output_l2.shape == (2, 6) and np.all(check.output_l2 >= 0)
    assert np.all(check.output_l1[:, 1:] < check.l1[:, 1:])
    assert "PDE risk error" in check.describe()


def test_deposit_is_conservative_and_exact_at_nodes(rng):
    space = fempde.Space(meshes.disk(h=0.2))
    points = particles.ConvexDomain.from_mesh(space.mesh).sample(500, rng)
    assert space.integrate(particles.deposit(space, points)) == pytest.approx(1.0, abs=1e-14)
    at_node = particles.deposit(space, space.x[:, [7]].T)
    assert at_node[7] * space.m[7] == pytest.approx(1.0, abs=1e-12)


def test_initial_centres_follow_rho0(rng):
    mesh = meshes.interval(0, 1, 0.01)
    domain = particles.ConvexDomain.from_mesh(mesh)
    values = 2 * mesh.p[0]  # ρ0(x) = 2x: mean 2/3
    points = particles.sample_density(domain, values, 50_000, rng)
    assert points.mean() == pytest.approx(2 / 3, abs=5 * points.std() / np.sqrt(50_000))
    with pytest.raises(ValueError, match="finite, >= 0"):
        particles.sample_density(domain, -values, 10, rng)


def test_crosscheck_command(tmp_path, capsys):
    from particles.cli import main

    scenario = tmp_path / "check.toml"
    scenario.write_text(
        '[mesh]\ndomain = "interval"\nh = 0.02\n[problem]\ntarget = "6 * x * (1 - x)"\n'
        "[run]\nt_end = 0.05\noutputs = 5\n[crosscheck]\nN = [50, 200]\ndelta = 0.2\nepsilon = 1e-4\nseeds = 2\n"
    )
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "deposit L1 gap slope" in printed and "PDE risk error <=" in printed
    rows = (tmp_path / "out" / "convergence.csv").read_text().splitlines()
    assert rows[0] == "N,sup_risk_gap,sup_l1_gap,sup_output_l2_gap,pde_risk_error,pde_error_explains_gap"
    assert len(rows) == 3
    scenario.write_text(scenario.read_text().replace("seeds = 2", "seeds = 2\nn_particles = 3"))
    assert main([str(scenario)]) == 2
    assert "unknown key 'n_particles' in [crosscheck]" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "examples" / "crosscheck").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_crosscheck_examples_parse(path):
    from particles.cli import _problem

    problem, table, scenario = _problem(path)
    assert problem.delta == table["delta"] and scenario.t_end > 0
    assert fempde.Space(problem.mesh).report.admissible


def test_crosscheck_scenario_normalizes_rho0(tmp_path):
    from particles.cli import _problem

    scenario = tmp_path / "check.toml"
    scenario.write_text(
        '[mesh]\ndomain = "interval"\nh = 0.05\n[problem]\ntarget = "1"\n[initial]\nrho0 = "3 * x"\n'
        "normalize = true\n[run]\nt_end = 0.1\n[crosscheck]\nN = 10\ndelta = 0.2\nepsilon = 1e-3\n"
    )
    problem, _, _ = _problem(scenario)
    space = fempde.Space(problem.mesh)
    assert space.integrate(problem.rho0) == pytest.approx(1.0, abs=1e-14)


def test_crosscheck_scenario_boundary(tmp_path):
    """``boundary`` reaches both sides; a disk is refused on load, with the key named."""
    from particles.cli import _problem

    scenario = tmp_path / "check.toml"
    text = ('[mesh]\ndomain = "interval"\nh = 0.05\n[problem]\ntarget = "1"\n[run]\nt_end = 0.1\n'
            '[crosscheck]\nN = 10\ndelta = 0.2\nepsilon = 1e-3\nboundary = "reflected"\n')
    scenario.write_text(text)
    problem, _, _ = _problem(scenario)
    assert problem.boundary == "reflected" and problem.pde().boundary == "reflected"
    assert problem.population_risk(1).walls is not None
    scenario.write_text(text.replace('domain = "interval"\nh = 0.05', 'domain = "disk"\nh = 0.2'))
    with pytest.raises(ScenarioError, match=r"\[crosscheck\] boundary = 'reflected': boundary='reflected' needs Ω "
                                            r"to be an axis-aligned interval, rectangle or box"):
        _problem(scenario)


def test_crosscheck_needs_at_least_one_particle():
    problem = RBFProblem(meshes.interval(0, 1, 0.1), target, delta=0.2)
    with pytest.raises(ValueError, match="the number of particles N must be >= 1, got 0"):
        crosscheck(problem, 0, 1e-3, 0.1)


def test_interrupted_crosscheck_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Ctrl-C during the second seed: the first seed's finished checkpoint is
    reused (not run again), the second continues, and every number equals an
    unbroken run's."""
    module = importlib.import_module("particles.crosscheck")
    problem = RBFProblem(meshes.interval(0, 1, 0.02), target, delta=0.1, tau=0.05)
    args = (problem, 50, 1e-4, 0.05)
    whole = crosscheck(*args, n_times=4, seeds=(0, 1))
    original, calls = module.rbf_sgd, []

    def interrupted(*a, **k):
        calls.append(k["resume"])
        if len(calls) == 2:  # Ctrl-C after the second seed's first chunks
            monkeypatch.setattr(bump_kernel, "_sgd_chunk", _interrupt_after(bump_kernel._sgd_chunk, 2))
        return original(*a, **k)

    monkeypatch.setattr(module, "rbf_sgd", interrupted)
    with pytest.raises(KeyboardInterrupt):
        crosscheck(*args, n_times=4, seeds=(0, 1), checkpoints=tmp_path, checkpoint_every=0.0)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["sgd_N50_seed0.npz", "sgd_N50_seed1.npz"]
    counted = _interrupt_after(bump_kernel._sgd_chunk, 10**9)
    monkeypatch.setattr(bump_kernel, "_sgd_chunk", counted)
    resumed = crosscheck(*args, n_times=4, seeds=(0, 1), checkpoints=tmp_path, resume=True)
    assert counted.count[0] == 2  # seed 0 finished before; seed 1 had 2 of its 4 chunks left
    np.testing.assert_array_equal(resumed.sgd_risk, whole.sgd_risk)
    np.testing.assert_array_equal(resumed.l1, whole.l1)
    np.testing.assert_array_equal(resumed.centers, whole.centers)


def _interrupt_after(chunk, n):
    count = [0]

    def wrapped(*args):
        count[0] += 1
        if count[0] > n:
            raise KeyboardInterrupt
        return chunk(*args)

    wrapped.count = count
    return wrapped


def test_crosscheck_cli_refuses_to_resume_another_scenario(tmp_path, capsys):
    from particles.cli import main

    scenario = tmp_path / "check.toml"
    text = Path("examples/crosscheck/interval.toml").read_text().replace("h = 0.005", "h = 0.05")
    text = text.replace("outputs = 30", "outputs = 2").replace("t_end = 0.3", "t_end = 0.01")
    scenario.write_text(text.replace("seeds = 4", "seeds = 1").replace("epsilon = 2e-6", "epsilon = 1e-4"))
    out = tmp_path / "out"
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main([str(scenario), "--out", str(out)]) == 0
    assert (out / "checkpoints" / "sgd_N200_seed0.npz").is_file()
    assert main([str(scenario), "--out", str(out), "--resume"]) == 0  # the finished seed is reused
    scenario.write_text(scenario.read_text().replace("delta = 0.1", "delta = 0.2"))
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert "another version of the scenario" in capsys.readouterr().err


def _small_scenario(tmp_path):
    scenario = tmp_path / "check.toml"
    text = Path("examples/crosscheck/interval.toml").read_text().replace("h = 0.005", "h = 0.05")
    text = text.replace("outputs = 30", "outputs = 2").replace("t_end = 0.3", "t_end = 0.01")
    scenario.write_text(text.replace("seeds = 4", "seeds = 1").replace("epsilon = 2e-6", "epsilon = 1e-4"))
    return scenario


def test_ctrl_c_during_the_pde_phase_exits_130_with_the_resume_hint(tmp_path, capsys, monkeypatch):
    from fempde.solvers import record
    from particles.cli import main

    original, calls = record.RunRecord.add, [0]

    def add(self, step):
        calls[0] += 1
        if calls[0] == 3:  # Ctrl-C at the third step of the reference solve
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(record.RunRecord, "add", add)
    scenario = _small_scenario(tmp_path)
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and f"fempde-crosscheck {scenario} --out {tmp_path / 'out'} --resume" in err


@pytest.mark.parametrize(("out", "message"), [
    ("file", "output directory .*file is a file; give a directory"),
    ("file/sub", "output directory .*file/sub is not writable"),
    ("", "--out must name a directory, got ''"),
])
def test_crosscheck_output_directory_is_checked_before_the_run(tmp_path, capsys, out, message):
    import re

    from particles.cli import main

    (tmp_path / "file").write_text("")
    target = str(tmp_path / out) if out else out
    assert main([str(_small_scenario(tmp_path)), "--out", target]) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(("change", "message"), [
    (("N = 200", "N = [20]"), r"\[crosscheck\] N = \[20\]: a convergence study in N needs at least two distinct N"),
    (("N = 200", "N = [20, 20]"), r"at least two distinct N"),
    (("N = 200", "N = 0"), r"\[crosscheck\] N must be an integer >= 1, got 0"),
    (("N = 200", "N = 2.5"), r"\[crosscheck\] N must be an integer >= 1, got 2.5"),
    (("N = 200", "N = 1000000000"), r"\[crosscheck\] N = 1000000000 is more than the 10,000,000 allowed"),
    (("N = 200", "N = 9000000"), r"would record [\d.]+ GiB of centres, more than 8 GiB"),
    (("delta = 0.1", 'delta = "abc"'), r"\[crosscheck\] delta must be a number, got 'abc'"),
    (("delta = 0.1", "delta = true"), r"\[crosscheck\] delta must be a number, got True"),
    (("delta = 0.1", "delta = -0.1"), r"\[crosscheck\] delta must be > 0, got -0.1"),
    (("epsilon = 2e-6", "epsilon = nan"), r"\[crosscheck\] epsilon must be a finite number, got nan"),
    (("epsilon = 2e-6", "epsilon = 1e-12"), r"needs t_end / epsilon = 3e\+11 SGD steps per seed, more than 1e\+09"),
    (("seeds = 4", "seeds = 0"), r"\[crosscheck\] seeds must be an integer >= 1, got 0"),
    (("seeds = 4", "seeds = true"), r"\[crosscheck\] seeds must be an integer >= 1, got True"),
    (("seeds = 4", "seeds = 4\nlabel_noise = nan"), r"\[crosscheck\] label_noise must be a finite number, got nan"),
    (("seeds = 4", "seeds = 4\nlabel_noise = -1"), r"\[crosscheck\] label_noise must be >= 0.0, got -1"),
    (("seeds = 4", "seeds = 4\ncheckpoint_every = -inf"), r"checkpoint_every must be a finite number, got -inf"),
    (("seeds = 4", "seeds = 4\nkernel = 3"), r"\[crosscheck\] kernel must be a kernel name \(a string\), got 3"),
    (("seeds = 4", "seeds = 4\nlabel_noise = 1e300"), r"label_noise = 1e\+300 .* is more than the 1e\+06 allowed"),
    (("epsilon = 2e-6", "epsilon = 1e3"), r"epsilon = 1000.0 is larger than \[run\] t_end = 0.3: SGD would take"),
    (("seeds = 4", 'seeds = 4\nboundary = "mirror"'),
     r"\[crosscheck\] boundary must be one of 'restricted', 'reflected', got 'mirror'"),
    (("delta = 0.1", 'delta = 0.6\nboundary = "reflected"'),
     r"boundary = 'reflected': boundary='reflected' needs delta <= half the box's shortest side \(0.5\), got "
     r"delta=0.6"),
])
def test_bad_crosscheck_tables_are_named_with_their_line(change, message):
    from particles.scenario import problem_from_text

    text = Path("examples/crosscheck/interval.toml").read_text().replace("h = 0.005", "h = 0.05")
    assert change[0] in text
    with pytest.raises(ScenarioError, match=message + r".*\(line \d+ of check.toml\)"):
        problem_from_text(text.replace(change[0], change[1]), "check", Path("."), "check.toml")


def test_a_truncated_sgd_checkpoint_is_refused_on_resume(tmp_path, capsys):
    from particles.cli import main

    scenario, out = _small_scenario(tmp_path), tmp_path / "out"
    assert main([str(scenario), "--out", str(out)]) == 0
    checkpoint = out / "checkpoints" / "sgd_N200_seed0.npz"
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert f"checkpoint {checkpoint} is damaged or truncated" in capsys.readouterr().err


def test_a_numerical_failure_of_the_reference_exits_3(tmp_path, capsys):
    from particles.cli import main

    scenario = _small_scenario(tmp_path)
    stiff = 'tau = 0.0\nschedule = { kind = "power", xi0 = 1.0, alpha = 0.9 }'  # ξ(0) = ∞: no first step
    scenario.write_text(scenario.read_text().replace("tau = 0.0", stiff))
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 3
    assert "numerical failure: time step fell below dt_min" in capsys.readouterr().err
