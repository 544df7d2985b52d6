"""Sweeps on Dask: a real LocalCluster of two worker processes on loopback,
the same numbers as the runs done in-process, restarts that skip finished runs,
the slope fit, and bad sweep files."""

import csv
import json
import math
import textwrap

import numpy as np
import pytest
from scipy.stats import linregress
from scipy.stats import t as student

from particles.sweep import SweepError, fit_slope, load_sweep, run_one, run_sweep

SCENARIO = """
[mesh]
domain = "interval"
a = 0.0
b = 1.0
h = 0.02

[problem]
target = "6 * x * (1 - x)"

[run]
t_end = 0.02
outputs = 4

[crosscheck]
N = 10
delta = 0.2
epsilon = 1e-4
"""


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def rbf_sweep(tmp_path):
    write(tmp_path, "interval.toml", SCENARIO)
    return write(tmp_path, "sweep.toml", """
        [sweep]
        crosscheck = "rbf"
        scenario = "interval.toml"
        N = [20, 80]
        epsilon = [1e-4]
        delta = [0.2]
        seeds = 2
        [output]
        directory = "out"
        """)


@pytest.mark.slow  # 8-20 s: runs in CI (make test-slow), kept out of the default suite's budget
def test_rbf_sweep_on_two_workers_skips_finished_runs(tmp_path, scheduler):
    sweep = load_sweep(rbf_sweep(tmp_path))
    lines: list[str] = []
    first = run_sweep(sweep, scheduler=scheduler, echo=lines.append)
    assert lines[0] == f"rbf sweep: 4 runs, 0 done before, 4 to run on {scheduler}"
    assert len(first["runs"]) == 4 and (tmp_path / "out" / "runs.csv").is_file()
    # every run is the cross-check of its (N, epsilon, delta, seed), done here in-process to the last bit
    for row in first["runs"]:
        alone = run_one("rbf", sweep.base, {k: row[k] for k in ("N", "epsilon", "delta", "seed")})
        assert {k: row[k] for k in alone} == alone
    assert [s["axis"] for s in first["slopes"]] == ["N"] * 3
    # the CSV files hold the report's numbers to the last bit (floats written by repr)
    runs_csv, slopes_csv = (read_csv(tmp_path / "out" / name) for name in ("runs.csv", "slopes.csv"))
    assert len(runs_csv) == 4
    for written, row in zip(runs_csv, first["runs"], strict=True):
        parsed = {k: v == "True" if k == "pde_error_explains_gap" else float(v) for k, v in written.items()}
        assert parsed == {k: row[k] for k in written}
    assert len(slopes_csv) == 3
    for written, fit in zip(slopes_csv, first["slopes"], strict=True):
        assert written["N"] == "" and written["note"] == "" and written["points"] == "4"
        assert [float(written[k]) for k in ("slope", "ci95_low", "ci95_high")] == \
            [fit[k] for k in ("slope", "ci95_low", "ci95_high")]
        assert fit["ci95_low"] < fit["slope"] < fit["ci95_high"]
    # an interrupted sweep: one result missing; started again, only that run goes to the cluster
    results = tmp_path / "out" / "runs" / sweep.stamp
    (results / "N80_eps0.0001_delta0.2_seed1.json").unlink()
    lines.clear()
    again = run_sweep(sweep, scheduler=scheduler, echo=lines.append)
    assert lines[0].startswith("rbf sweep: 4 runs, 3 done before, 1 to run")
    assert len(lines) == 2 and lines[1].startswith("[1/1] N80_eps0.0001_delta0.2_seed1:")
    assert again["runs"] == first["runs"]
    lines.clear()
    run_sweep(sweep, scheduler="tcp://127.0.0.1:9", echo=lines.append)  # nothing to run: no cluster needed
    assert lines == ["rbf sweep: 4 runs, 4 done before, 0 to run"]


@pytest.mark.slow
def test_dd_sweep_on_two_workers(tmp_path, scheduler):
    path = write(tmp_path, "dd.toml", """
        [sweep]
        crosscheck = "dd"
        N = [20, 60]
        epsilon = [1e-4]
        delta = [0.8]
        seeds = [5]
        [dd]
        d = 8
        t_end = 0.1
        outputs = 2
        quantiles = 300
        """)
    sweep = load_sweep(path)
    report = run_sweep(sweep, scheduler=scheduler, echo=lambda line: None)
    assert sweep.directory == tmp_path / "out" / "dd"
    for row in report["runs"]:
        alone = run_one("dd", sweep.base, {k: row[k] for k in ("N", "epsilon", "delta", "seed")})
        assert {k: row[k] for k in alone} == alone
        assert 0 < row["w1_gap"] < 0.2
    # one seed at two N: slopes without confidence intervals, and a note that says why
    assert len(report["slopes"]) == 2
    for fit in report["slopes"]:
        assert fit["points"] == 2 and math.isnan(fit["ci95_low"]) and math.isnan(fit["ci95_high"])
        assert fit["note"] == "no confidence interval: it needs 3 points"
    assert [r["ci95_low"] for r in read_csv(sweep.directory / "slopes.csv")] == ["nan", "nan"]
    saved = json.loads((sweep.directory / "runs" / sweep.stamp / "N20_eps0.0001_delta0.8_seed5.json").read_text())
    assert saved["N"] == 20 and saved["seed"] == 5


def test_unreachable_scheduler_is_named(tmp_path):
    sweep = load_sweep(rbf_sweep(tmp_path))
    with pytest.raises(SweepError, match=r"could not reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_sweep(sweep, scheduler="tcp://127.0.0.1:9", echo=lambda line: None, connect_timeout=2)


def test_fit_slope_and_its_confidence_interval(rng):
    n = np.array([100, 100, 400, 400, 1600, 1600])
    slope, lo, hi = fit_slope(n, 3 * n**-0.5)
    assert slope == pytest.approx(-0.5, abs=1e-12) and hi - lo == pytest.approx(0, abs=1e-9)
    y = 3 * n**-0.5 * np.exp(rng.normal(0, 0.2, len(n)))
    # the textbook interval: slope ± t_{0.975, n-2} sqrt(Σ r² / (n - 2) / Σ (log x - mean)²)
    lx, ly = np.log(n), np.log(y)
    b, a = np.polyfit(lx, ly, 1)
    residual = ly - (a + b * lx)
    stderr = math.sqrt(residual @ residual / (len(n) - 2) / np.sum((lx - lx.mean()) ** 2))
    half = student.ppf(0.975, len(n) - 2) * stderr
    assert fit_slope(n, y) == pytest.approx((b, b - half, b + half), rel=1e-10)
    fit = linregress(lx, ly)
    assert fit_slope(n, y, level=0.9)[2] == pytest.approx(fit.slope + student.ppf(0.95, 4) * fit.stderr, rel=1e-10)
    # three points at two distinct x: a slope and an interval (one degree of freedom)
    assert all(math.isfinite(v) for v in fit_slope([1, 1, 2], [1, 2, 3]))
    # two points: a slope, but no interval
    slope, lo, hi = fit_slope([1, 2], [1, 3])
    assert slope == pytest.approx(math.log(3) / math.log(2), rel=1e-12) and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError, match="2 or more distinct x"):
        fit_slope([5, 5], [1, 2])
    with pytest.raises(ValueError, match="2 or more distinct x"):
        fit_slope([5], [1])
    with pytest.raises(ValueError, match=r"finite y > 0, got y = \[1.0, 0.0\]"):
        fit_slope([1, 2], [1, 0])
    with pytest.raises(ValueError, match="one length"):
        fit_slope([1, 2, 3], [1, 2])


@pytest.mark.parametrize(("sweep", "message"), [
    ('crosscheck = "sde"\nN = [1]\nepsilon = [1e-3]\ndelta = [0.1]', r'crosscheck must be "rbf" or "dd", got \'sde\''),
    ('crosscheck = "dd"\nN = [0, 10]\nepsilon = [1e-3]\ndelta = [0.5]',
     r"N must be a list of integers in \[1, 10,000,000\], got 0"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [1.5]', r"class separation .* \(0, 1\), got 1.5"),
    ('crosscheck = "dd"\nN = [10, 10]\nepsilon = [1e-3]\ndelta = [0.5]', r"N must list distinct"),
    ('crosscheck = "dd"\nN = [10]\ndelta = [0.5]', r"\[sweep\] needs epsilon"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]\nsteps = 3', r"unknown key 'steps' in \[sweep\]"),
    ('crosscheck = "rbf"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]', r"needs scenario"),
    ('crosscheck = "rbf"\nscenario = "nowhere.toml"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]', r"does not exist"),
])
def test_bad_sweep_files_are_named(tmp_path, sweep, message):
    with pytest.raises(SweepError, match=message):
        load_sweep(write(tmp_path, "bad.toml", "[sweep]\n" + sweep + "\n"))


def test_bad_dd_table_is_named(tmp_path):
    head = '[sweep]\ncrosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]\n'
    with pytest.raises(SweepError, match=r"unknown key 'dim' in \[dd\]; valid keys: activation, d,"):
        load_sweep(write(tmp_path, "a.toml", head + "[dd]\ndim = 3\n"))
    with pytest.raises(SweepError, match=r"\[dd\] unknown activation 'tanh'"):
        load_sweep(write(tmp_path, "b.toml", head + '[dd]\nactivation = "tanh"\n'))
    with pytest.raises(SweepError, match=r"\[dd\] d must be an integer >= 1, got 0"):
        load_sweep(write(tmp_path, "c.toml", head + "[dd]\nd = 0\n"))


@pytest.mark.parametrize(("setting", "message"), [
    ("quantiles = 0", r"\[dd\] quantiles must be an integer >= 2, got 0"),
    ("quantiles = 2.5", r"\[dd\] quantiles must be an integer >= 2, got 2.5"),
    ("quantiles = 10000000", r"\[dd\] quantiles = 10000000 is more than the 1,000,000 allowed"),
    ("t_end = -1", r"\[dd\] t_end must be > 0, got -1"),
    ("t_end = inf", r"\[dd\] t_end must be a finite number, got inf"),
    ('t_end = "1"', r"\[dd\] t_end must be a number, got '1'"),
    ("outputs = true", r"\[dd\] outputs must be an integer >= 1, got True"),
    ("init_scale = 0", r"\[dd\] init_scale must be > 0, got 0"),
    ("r_max = nan", r"\[dd\] r_max must be a finite number, got nan"),
    ("activation = 3", r"\[dd\] activation must be the name of an activation, got 3"),
])
def test_dd_settings_are_checked_when_the_file_is_loaded(tmp_path, setting, message):
    head = '[sweep]\ncrosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]\n'
    with pytest.raises(SweepError, match=message):
        load_sweep(write(tmp_path, "bad.toml", head + "[dd]\n" + setting + "\n"))


@pytest.mark.parametrize(("sweep", "message"), [
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]\nseeds = 1000000000',
     r"seeds \(a count\) must be an integer in \[1, 1000\], got 1000000000"),
    ('crosscheck = "dd"\nN = [10, 100000000]\nepsilon = [1e-3]\ndelta = [0.5]',
     r"N must be a list of integers in \[1, 10,000,000\], got 100000000"),
    ('crosscheck = "dd"\nN = ' + str(list(range(1, 5001))) + '\nepsilon = [1e-3]\ndelta = [0.5]',
     r"the grid has 15,000 runs .* more than the 10,000 allowed"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [inf]\ndelta = [0.5]', r"epsilon must be a list of finite step sizes"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e-300]\ndelta = [0.5]', r"epsilon = 1e-300 gives t_end / epsilon"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e3]\ndelta = [0.5]', r"epsilon = 1000.0 gives t_end / epsilon = 0.0005"),
    ('crosscheck = "dd"\nN = [10]\nepsilon = [1e-3]\ndelta = [0.5]\n[output]\ndirectory = 3',
     r"\[output\] directory must be a directory name \(a string\), got 3"),
])
def test_sweep_sizes_are_refused_on_the_client(tmp_path, sweep, message):
    with pytest.raises(SweepError, match=message):
        load_sweep(write(tmp_path, "big.toml", "[sweep]\n" + sweep + "\n"))


def test_malformed_scheduler_address_is_named(tmp_path):
    sweep = load_sweep(rbf_sweep(tmp_path))
    with pytest.raises(SweepError, match=r"could not reach the Dask scheduler at garbage: missing port number"):
        run_sweep(sweep, scheduler="garbage", echo=lambda line: None, connect_timeout=2)
