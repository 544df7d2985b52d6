"""``examples/mmn_figures.py fig3 --quick``: SGD follows the reduced four-variable PDE."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "mmn_figures.py"


@pytest.mark.slow
def test_fig3_quick_run_tracks_the_reduced_pde_and_writes_both_clouds(tmp_path):
    from fempde.io.vtk import read_pvd

    spec = importlib.util.spec_from_file_location("mmn_figures", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [path] = module.main(["fig3"], out=str(tmp_path), quick=True)
    assert path.stat().st_size > 20_000
    with open(tmp_path / "mmn_fig3.csv") as handle:
        rows = list(csv.DictReader(handle))
    for delta in ("0.25", "0.5", "0.75"):
        mine = [r for r in rows if r["delta"] == delta]
        gap = np.array([float(r["gap_d40"]) for r in mine])
        # d = 40, N = 200, ε = 1e-3: SGD against the d = 40 PDE, measured sup 0.055-0.059 with the
        # block-drawn data stream of particles.plan (0.029-0.033 with the earlier stream; one seed)
        assert np.abs(gap).max() < 0.08
        pde = np.array([float(r["pde_risk_d40"]) for r in mine])
        assert np.all(np.diff(pde) <= 1e-12)  # noiseless gradient flow
        np.testing.assert_allclose([float(r["pde_mean_a"]) for r in mine][0], 1.0, atol=1e-14)
        sgd = read_pvd(tmp_path / f"mmn_fig3_sgd_{delta}.pvd")
        law = read_pvd(tmp_path / f"mmn_fig3_pde_d40_{delta}.pvd")  # the finite-d law SGD is compared with
        np.testing.assert_allclose([t for t, _ in sgd], [float(r["t"]) for r in mine])
        assert [t for t, _ in sgd] == [t for t, _ in law]
    final = {r["delta"]: r for r in rows if float(r["t"]) == 30.0}
    # at d = inf the Δ = 0.5, 0.75 flows fit y (R -> 0); at d = 40 they stop near 0.2 and 0.12
    assert float(final["0.75"]["pde_risk_d_inf"]) < 1e-5 and float(final["0.5"]["pde_risk_d_inf"]) < 2e-3
    assert 0.1 < float(final["0.75"]["sgd_risk"]) < 0.16
