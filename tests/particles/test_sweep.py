"""Sweeps of a cross-check on Dask: a model parameter and the grid swept on a local cluster,
the same numbers as the cross-check done alone, restarts that skip finished values, the
slope fit, and bad sweep files."""

import csv
import math
import textwrap

import numpy as np
import pytest
from scipy.stats import linregress
from scipy.stats import t as student

import particles
from particles.crosscheck import ClusterError
from particles.scenario import load_crosscheck
from particles.sweep import SweepError, fit_slope, load_sweep, run_sweep

SCENARIO = """
[mesh]
domain = "interval"
a = 0.0
b = 1.0
h = 0.05

[problem]
target = "6 * x * (1 - x)"
tau = 0.05

[run]
t_end = 0.01
outputs = 2

[crosscheck]
N = 10
delta = 0.2
epsilon = 1e-4
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def rbf_sweep(tmp_path, values="[0.2, 0.3]"):
    write(tmp_path, "interval.toml", SCENARIO)
    return write(tmp_path, "sweep.toml", f"""
        [sweep]
        scenario = "interval.toml"
        N = [20, 40, 80]
        epsilon = [1e-4]
        seeds = 2
        parameter = "crosscheck.delta"
        values = {values}
        [output]
        directory = "out"
        """)


def test_a_sweep_over_a_model_parameter_on_a_local_cluster(tmp_path):
    sweep = load_sweep(rbf_sweep(tmp_path))
    lines: list[str] = []
    first = run_sweep(sweep, workers=2, echo=lines.append, progress=False)
    assert lines[0] == "sweep of interval: 2 cross-checks of 6 runs, 0 done before, 2 to run"
    assert len(first["rows"]) == 12 and {r["crosscheck.delta"] for r in first["rows"]} == {0.2, 0.3}
    # every value is the cross-check of the file at that value, to the last bit
    setting = sweep.crosscheck(0.3)
    assert setting.model.unit.delta == 0.3
    alone = particles.crosscheck(setting.model, setting.n, setting.epsilon, setting.t_end, **setting.keywords(),
                                 workers=1, progress=False)
    rows = [r for r in first["rows"] if r["crosscheck.delta"] == 0.3]
    assert [r["risk_sup"] for r in rows] == alone.sup("risk").tolist()
    # the CSV files hold the report's numbers (floats written by repr)
    written = read_csv(tmp_path / "out" / "runs.csv")
    assert list(written[0])[:4] == ["crosscheck.delta", "N", "epsilon", "seed"]
    assert [float(r["w1_sup"]) for r in written] == [r["w1_sup"] for r in first["rows"]]
    slopes = read_csv(tmp_path / "out" / "slopes.csv")
    in_n = [s for s in slopes if s["axis"] == "N"]
    in_delta = [s for s in slopes if s["axis"] == "crosscheck.delta"]
    assert len(in_n) == 2 * 4 and len(in_delta) == 3 * 4  # every quantity: at each delta; at each N
    assert all(float(s["ci95_low"]) < float(s["slope"]) < float(s["ci95_high"]) for s in in_n)
    # two values of delta, two seeds at each: 4 runs, an interval with 2 degrees of freedom
    assert all(s["points"] == "4" and float(s["ci95_low"]) < float(s["slope"]) < float(s["ci95_high"])
               for s in in_delta)
    assert (tmp_path / "out" / "convergence.png").stat().st_size > 10_000
    # started again: nothing to run
    lines.clear()
    again = run_sweep(sweep, workers=2, echo=lines.append, progress=False)
    assert lines == ["sweep of interval: 2 cross-checks of 6 runs, 2 done before, 0 to run"]
    assert again["rows"] == first["rows"]


def test_the_shipped_sweep_files_load():
    for name in ("interval_rbf", "dd_isotropic"):
        sweep = load_sweep(f"examples/sweeps/{name}.toml")
        assert sweep.parameter and sweep.values
        assert sweep.crosscheck(sweep.values[0]).model is not None
    dd = load_sweep("examples/sweeps/dd_isotropic.toml").crosscheck(0.8)
    assert dd.model.symmetry == "radial" and dd.n == [100, 400, 1600]


def test_unreachable_scheduler_is_named(tmp_path):
    sweep = load_sweep(rbf_sweep(tmp_path))
    with pytest.raises(ClusterError, match=r"the scheduler address .garbage. is not tcp://HOST:PORT"):
        run_sweep(sweep, scheduler="garbage", echo=lambda line: None)


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
    assert all(math.isfinite(v) for v in fit_slope([1, 1, 2], [1, 2, 3]))
    slope, lo, hi = fit_slope([1, 2], [1, 3])
    assert slope == pytest.approx(math.log(3) / math.log(2), rel=1e-12) and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError, match="2 or more distinct x"):
        fit_slope([5, 5], [1, 2])
    with pytest.raises(ValueError, match=r"finite y > 0, got y = \[1.0, 0.0\]"):
        fit_slope([1, 2], [1, 0])


@pytest.mark.parametrize(("sweep", "message"), [
    ('crosscheck = "rbf"\nscenario = "interval.toml"\nN = [10]\nepsilon = [1e-3]',
     r"sweeps no longer name the model; give scenario"),
    ('scenario = "interval.toml"\nN = [0, 10]\nepsilon = [1e-3]', r"N must be a list of integers in \[1, 10,000,000\]"),
    ('scenario = "interval.toml"\nN = [10, 10]\nepsilon = [1e-4]', r"N must list distinct"),
    ('scenario = "interval.toml"\nN = [10]', r"\[sweep\] needs epsilon"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nsteps = 3', r"unknown key 'steps' in \[sweep\]"),
    ('N = [10]\nepsilon = [1e-4]', r"needs scenario"),
    ('scenario = "nowhere.toml"\nN = [10]\nepsilon = [1e-4]', r"does not exist"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nparameter = "delta"\nvalues = [0.1]',
     r"parameter must be a dotted key"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nparameter = "crosscheck.delta"',
     r"needs values = \[...\]"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nparameter = "crosscheck.width"\nvalues = [0.1]',
     r"the swept key 'crosscheck.width' is not in the file"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nparameter = "crosscheck.delta"\nvalues = [-0.1]',
     r"crosscheck.delta = -0.1: \[crosscheck\] delta must be > 0, got -0.1 \(line 18 of scenario interval\)"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e3]', r"epsilon = 1000.0 gives t_end / epsilon = 1e-05"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\nseeds = 1000000000',
     r"seeds \(a count\) must be an integer in \[1, 1000\]"),
    ('scenario = "interval.toml"\nN = [10]\nepsilon = [1e-4]\n[output]\ndirectory = 3',
     r"\[output\] directory must be a directory name \(a string\), got 3"),
])
def test_bad_sweep_files_are_named(tmp_path, sweep, message):
    write(tmp_path, "interval.toml", SCENARIO)
    with pytest.raises(SweepError, match=message):
        load_sweep(write(tmp_path, "bad.toml", "[sweep]\n" + sweep + "\n"))


def test_the_old_dd_table_is_refused_with_the_way_out(tmp_path):
    with pytest.raises(SweepError, match=r"unknown table \[dd\].*examples/crosscheck/mmn_isotropic.toml"):
        load_sweep(write(tmp_path, "dd.toml", '[sweep]\nN = [10]\nepsilon = [1e-3]\n[dd]\nd = 3\n'))


def test_the_dd_sweep_of_the_radial_network_on_a_local_cluster(tmp_path):
    """Mei–Montanari–Nguyen's network at d = 8 against its radial limit: W1 of the radii over t > 0."""
    text = open("examples/crosscheck/mmn_isotropic.toml").read().replace("input_dim = 40", "input_dim = 8")
    text = text.replace("d = 40", "d = 8").replace("0.12649110640673517", "0.28284271247461906")
    write(tmp_path, "mmn.toml", text.replace("t_end = 0.5", "t_end = 0.1"))
    sweep = load_sweep(write(tmp_path, "dd.toml", """
        [sweep]
        scenario = "mmn.toml"
        N = [20, 60, 180]
        epsilon = [1e-4]
        seeds = 3
        [output]
        directory = "dd"
        """))
    report = run_sweep(sweep, workers=2, echo=lambda line: None, progress=False)
    assert len(report["rows"]) == 9 and all(0 < r["w1_sup"] < 0.2 for r in report["rows"])
    risk = [s for s in report["slopes"] if s.quantity == "risk" and s.axis == "N"][0]
    assert risk.slope < -0.3 and risk.low < risk.slope < risk.high
    assert load_crosscheck(tmp_path / "mmn.toml").model.unit.input_dim == 8


def test_the_command_owns_its_output_directory(tmp_path, capsys):
    """fempde-sweep takes its directory as `fempde run` does: run again, it goes on with its results;
    another sweep file is refused there unless --overwrite."""
    from particles.cli import sweep_main

    path = rbf_sweep(tmp_path, values="[0.2]")
    assert sweep_main([str(path), "--workers", "2"]) in (0, 1)
    first = (tmp_path / "out" / "runs.csv").read_text()
    assert (tmp_path / "out" / "run.json").is_file() and len(read_csv(tmp_path / "out" / "runs.csv")) == 6
    capsys.readouterr()
    assert sweep_main([str(path), "--workers", "2"]) in (0, 1)  # nothing to run: the stored results
    assert (tmp_path / "out" / "runs.csv").read_text() == first
    other = write(tmp_path, "other.toml", path.read_text().replace("seeds = 2", "seeds = 1"))
    assert sweep_main([str(other)]) == 2
    assert f"output directory {tmp_path / 'out'} holds an earlier run" in capsys.readouterr().err
    assert sweep_main([str(other), "--workers", "2", "--overwrite"]) in (0, 1)
    assert len(read_csv(tmp_path / "out" / "runs.csv")) == 3
