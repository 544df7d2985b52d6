"""The example scripts run and give what they promise."""

import importlib.util
from pathlib import Path

import numpy as np

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
