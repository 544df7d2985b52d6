"""Long runs survive: checkpoints, resume, Ctrl-C and SIGKILL."""

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import meshio
import numpy as np
import pytest

import fempde
import meshes
from fempde.cli.commands import main, run_scenario
from fempde.io.vtk import read_pvd
from fempde.scenario import load_scenario

PROBLEM = fempde.PorousMedium(lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2), tau=0.01)
TIMES = np.linspace(0, 2, 11)[1:].tolist()


class StopAt(fempde.Observer):
    """Ctrl-C at a given step."""

    def __init__(self, index):
        self.index = index

    def observe(self, step):
        if step.index == self.index:
            raise KeyboardInterrupt


@pytest.mark.parametrize("tau", [0.0, 0.01])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, tau):
    space = fempde.Space(meshes.disk(h=0.1))
    problem = replace(PROBLEM, tau=tau)
    full = fempde.solve(problem, space, "uniform", 2.0, times=TIMES)
    observers = [fempde.VTKWriter(tmp_path), fempde.CSVWriter(tmp_path / "h.csv"),
                 fempde.Checkpointer(tmp_path / "ck.npz", every=1e9)]  # written only when the run ends
    first = fempde.solve(problem, space, "uniform", 2.0, [*observers, StopAt(17)], times=TIMES)
    assert first.stop_reason == "interrupted"
    assert fempde.load_checkpoint(tmp_path / "ck.npz").state.index == 17
    observers = [fempde.VTKWriter(tmp_path), fempde.CSVWriter(tmp_path / "h.csv"),
                 fempde.Checkpointer(tmp_path / "ck.npz")]
    resumed = fempde.solve(problem, space, "uniform", 2.0, observers, times=TIMES, resume=tmp_path / "ck.npz")
    assert np.abs(resumed.rho - full.rho).max() <= 1e-12
    for key in ("t", "free_energy", "newton_iterations"):
        np.testing.assert_allclose(resumed.history[key], full.history[key], rtol=0, atol=1e-12)
    assert resumed.certificates.ok
    assert [t for t, _ in read_pvd(tmp_path / "rho.pvd")] == pytest.approx([0.0, *TIMES])
    with open(tmp_path / "h.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == list(range(len(full.history["t"])))


def test_unreadable_checkpoint_is_reported(tmp_path):
    (tmp_path / "ck.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="checkpoint .*ck.npz is damaged or truncated"):
        fempde.solve(PROBLEM, meshes.disk(h=0.3), "uniform", 1.0, resume=tmp_path / "ck.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        fempde.solve(PROBLEM, meshes.disk(h=0.3), "uniform", 1.0, resume=tmp_path / "none.npz")


SCENARIO = """
[mesh]
domain = "disk"
h = 0.04
[problem]
target = "1.2 * (1 - x**2 - y**2)"
tau = 0.01
[run]
t_end = 3.0
outputs = 30
dt_max = 0.01
checkpoint_every = 0.0
"""


KILL_AFTER_STEP = 5


def wait_for_step(process, checkpoint, step, timeout=300.0):
    """Poll ``checkpoint`` until it holds step ``step`` or later (the child first
    compiles, for minutes on a cold numba cache); fail if the child ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the run ended (exit {process.returncode}) before step {step} was written")
        if checkpoint.is_file() and fempde.load_checkpoint(checkpoint).state.index >= step:
            return
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"no checkpoint of step {step} after {timeout} s")


@pytest.mark.slow  # 8-20 s: runs in CI (make test-slow), kept out of the default suite's budget
def test_sigkill_leaves_valid_output_and_the_run_resumes(tmp_path):
    scenario = tmp_path / "disk.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "fempde", "run", str(scenario), "--out", str(out), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_step(process, out / "checkpoint.npz", KILL_AFTER_STEP)  # checkpoint_every = 0: one per step
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    # what the killed run left is readable: every frame the .pvd names exists and parses
    frames = read_pvd(out / "rho.pvd")
    assert frames and all(meshio.read(path).point_data["rho"].size > 0 for _, path in frames)
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(r["t"]) >= 0 for r in rows[:-1])
    killed = fempde.load_checkpoint(out / "checkpoint.npz").state
    assert killed.index >= KILL_AFTER_STEP and 0 < killed.t < 3.0  # killed mid-run, after the step it waited for

    assert main(["resume", str(out), "--quiet"]) == 0
    reference = run_scenario(replace(load_scenario(scenario), directory=tmp_path / "whole"), progress=False)
    last = read_pvd(out / "rho.pvd")[-1]
    assert last[0] == 3.0
    assert np.abs(meshio.read(last[1]).point_data["rho"] - reference.rho).max() <= 1e-12
    assert [t for t, _ in read_pvd(out / "rho.pvd")] == [t for t, _ in read_pvd(tmp_path / "whole" / "rho.pvd")]
    with open(out / "history.csv") as handle:
        resumed_rows = list(csv.DictReader(handle))
    assert len(resumed_rows) == len(reference.history["t"])
    assert [int(r["step"]) for r in resumed_rows] == list(range(len(resumed_rows)))


def test_ctrl_c_message_says_how_to_resume(tmp_path, capsys, monkeypatch):
    scenario = tmp_path / "disk.toml"
    scenario.write_text(SCENARIO.replace("h = 0.04", "h = 0.2"))
    original = fempde.cli.commands.run_scenario

    def interrupted(scenario, **kwargs):
        result = original(replace(scenario, t_end=0.05, times=(0.05,)), **kwargs)
        return replace(result, stop_reason="interrupted")

    monkeypatch.setattr(fempde.cli.commands, "run_scenario", interrupted)
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--quiet"]) == 130
    assert f"Continue with: fempde resume {tmp_path / 'o'}" in capsys.readouterr().out


def test_resume_without_a_run_is_an_error(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 2
    assert "holds no resumable run" in capsys.readouterr().err
