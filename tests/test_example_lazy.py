"""examples/lazy_vs_meanfield.py --quick: both regimes, the CSVs and the figure."""

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fempde.scenario import ScenarioError

EXAMPLE = Path(__file__).parents[1] / "examples" / "lazy_vs_meanfield.py"


def _load():
    spec = importlib.util.spec_from_file_location("lazy_vs_meanfield", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
def test_lazy_vs_meanfield_quick_run_gives_the_two_scalings(tmp_path):
    result = _load().main(out=str(tmp_path), quick=True)
    csv_path, slope_path, png = result["paths"]
    assert png.stat().st_size > 50_000
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 3 * 3  # regimes × m ∈ {100, 316, 1000} × 3 seeds
    slopes = result["slopes"]
    # lazy: each unit moves O(1/√m); the max over m units grows like √log m (measured −0.39)
    assert -0.6 < slopes["lazy_displacement"][0] < -0.3
    # the width gap to the kernel iteration: ≈ 1/m, not the 1/√m of the bound (a ↦ −a symmetry
    # makes dH/dt = O(1/m); measured −0.80 on the quick run, −0.9 to −1.0 up to m = 10⁴)
    assert -1.3 < slopes["lazy_width_gap"][0] < -0.6
    # mean-field: displacement of order one, independent of m (measured −0.03)
    assert abs(slopes["mf_displacement"][0]) < 0.15
    lazy = [r for r in rows if r["regime"] == "lazy"]
    mf = [r for r in rows if r["regime"] == "mean-field"]
    # at m = 1000 the mean-field units move 5 times farther than the lazy ones (measured ≈ 0.64 against ≈ 5)
    assert min(float(r["max_displacement"]) for r in mf if int(r["m"]) == 1000) > 5 * max(
        float(r["max_displacement"]) for r in lazy if int(r["m"]) == 1000)
    # mean-field loss curves converge as m grows (measured sup gaps 0.033 -> 0.014 for m = 100 -> 316)
    gaps = {m: np.mean([float(r["sup_gap_mf_reference"]) for r in mf if int(r["m"]) == m]) for m in (100, 316)}
    assert gaps[316] < 0.7 * gaps[100]
    # lazy rates at m = 1000: GD's loss at the kernel flow's rate (measured within 2.3 %), above seed 003's 2λ_min/n
    wide = [r for r in lazy if int(r["m"]) == 1000]
    for r in wide:
        assert abs(float(r["loss_rate"]) / float(r["kernel_loss_rate"]) - 1) < 0.05
        assert float(r["loss_rate"]) > float(r["bound_rate"])
    assert abs(np.mean([float(r["slowest_mode_rate"]) / float(r["lambda_min_over_n"]) for r in wide]) - 1) < 0.1


def test_lazy_vs_meanfield_refuses_an_out_that_is_a_file(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("")
    module = _load()
    assert module.OUT == "out/lazy_vs_meanfield"  # like the other examples' out/<name>
    with pytest.raises(ScenarioError, match=f"output directory {blocker} is a file"):
        module.main(out=str(blocker), quick=True)
    # on the command line: exit status 2 and one line on stderr, before any run
    done = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--out", str(blocker)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"lazy_vs_meanfield.py: error: output directory {blocker} is a file; give a directory (--out DIR)"]
    assert done.stdout == ""


def test_a_two_point_slope_says_why_it_has_no_interval():
    module = _load()
    assert module._interval(math.nan, math.nan) == "(no interval: needs 3 widths)"
    assert module._interval(-1.25, -0.5) == "95% [-1.250, -0.500]"
