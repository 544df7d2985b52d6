"""The example scripts run and give what they promise."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import fempde

EXAMPLES = Path(__file__).parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_disk_example_reaches_the_exact_steady_state(tmp_path):
    result = _load("disk_porous_medium").main(h=0.1, t_end=200.0, out=str(tmp_path), progress=False)
    assert result.ok and result.stop_reason == "observer"
    assert np.abs(result.rho - fempde.steady_state(result.system.problem, result.space)).max() <= 1e-8
    assert (tmp_path / "rho.pvd").is_file() and (tmp_path / "rho.png").is_file()


def test_jmm_figure_runs_and_sgd_follows_the_finite_delta_pde(tmp_path):
    import csv

    paths = _load("jmm_figure").main(out=str(tmp_path), quick=True)
    assert all(path.stat().st_size > 20_000 for path in paths)
    with open(tmp_path / "jmm_disk.csv") as handle:
        rows = list(csv.DictReader(handle))
    sgd = np.array([float(r["sgd_risk"]) for r in rows])
    pde = np.array([float(r["pde_risk_finite_delta"]) for r in rows])
    assert len(rows) >= 15
    # τ = 0: the PDE risk is twice the free energy, so it never increases
    assert np.all(np.diff(pde) <= 1e-15)
    # N = 100 in the quick run: SGD sits above the PDE by the finite-N variance of f̂,
    # and the two approach as both learn (measured gap 0.029 -> 0.012)
    assert np.all(sgd > pde) and sgd[-1] < sgd[0]
    assert abs(sgd[-1] - pde[-1]) < 0.5 * abs(sgd[0] - pde[0])
    # the PDE's own error is far below these gaps: no row is flagged
    error = np.array([float(r["pde_risk_error"]) for r in rows])
    assert np.all(error < 0.1 * np.abs(sgd - pde)) and {r["pde_error_explains_gap"] for r in rows} == {"False"}
    # the interval, bumps reflected at the walls (the default): the finite-δ risk at the end falls as δ
    # does (measured 1.8e-3, 2.8e-4, 1.1e-4 for δ = 1/5, 1/10, 1/20), the seed's "improves as δ gets smaller"
    with open(tmp_path / "jmm_1d.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["boundary"] for r in rows} == {"reflected"}
    last = max(float(r["t"]) for r in rows)
    final = [float(r["pde_risk_finite_delta"]) for r in sorted(rows, key=lambda r: -float(r["delta"]))
             if float(r["t"]) == last]
    assert len(final) == 3 and final[0] > 3 * final[1] and final[1] > 1.5 * final[2]


@pytest.mark.slow
def test_mmn_figures_quick_run_tracks_the_radial_pde(tmp_path):
    import csv

    paths = _load("mmn_figures").main(out=str(tmp_path), quick=True)
    assert all(path.stat().st_size > 20_000 for path in paths)
    with open(tmp_path / "mmn_fig1.csv") as handle:
        fig1 = list(csv.DictReader(handle))
    # W1 between SGD radii (N = 200) and the PDE's law: sampling size (measured <= 0.015)
    assert all(float(row["w1_sgd_pde"]) < 0.03 for row in fig1)
    assert all(float(row["w1_between_epsilons"]) < 0.01 for row in fig1)  # ε does not move the law
    with open(tmp_path / "mmn_fig4.csv") as handle:
        fig4 = list(csv.DictReader(handle))
    final = {row["kappa"]: row for row in fig4 if float(row["t"]) == 2.0}
    # two limits: κ = 0.1 collapses to w = 0 (risk 1 + σ(0)² = 7.25), κ = 0.4 learns
    assert float(final["0.1"]["pde_risk"]) == pytest.approx(7.25, abs=1e-6)
    assert float(final["0.4"]["pde_risk"]) < 0.05 and float(final["0.4"]["sgd_risk"]) < 0.1
    assert abs(float(final["0.4"]["sgd_mean_r"]) - float(final["0.4"]["pde_mean_r"])) < 0.02


@pytest.mark.slow
def test_dd_disk_example_writes_both_series_and_sgd_follows(tmp_path):
    from fempde.io.vtk import read_pvd

    summary = _load("dd_disk").main(out=str(tmp_path), h=0.25, n=400, t_end=1.0, points=40, progress=False)
    assert summary["result"].ok
    rows = summary["rows"]
    assert rows[-1]["pde_risk"] < 0.3 * rows[0]["pde_risk"]
    # SGD's R_N against its mean-field value E R_N = R(ρ_t) + O(1/N) self-interaction,
    # once the fast initial transient (where ε = 1e-3 lags) is over
    gaps = [abs(r["pde_risk_n"] - r["sgd_risk"]) for r in rows if r["t"] >= 0.5]
    assert max(gaps) < 0.06 and gaps[-1] < 0.05  # measured max 0.023, final 0.018
    assert summary["wall_mass"] < 1e-3  # measured 1.7e-4: the wall is not felt
    fields, clouds = read_pvd(tmp_path / "rho.pvd"), read_pvd(tmp_path / "particles.pvd")
    np.testing.assert_allclose([t for t, _ in clouds], [r["t"] for r in rows])
    assert {t for t, _ in clouds} <= {t for t, _ in fields}
