"""``fempde-crosscheck`` and its files: every shipped file parses (the RBF files written
before the model tables read as the JMM network), bad [crosscheck] tables are named with
their line, and the exit codes: 0, 1 (the limit does not resolve the risk), 2 (bad input),
3 (numerical failure), 130 (interrupted, with the resume command)."""

from pathlib import Path

import numpy as np
import pytest

import fempde
from fempde.model import Bump, UniformData
from fempde.scenario import ScenarioError
from particles.cli import main
from particles.scenario import load_crosscheck, parse_crosscheck

EXAMPLES = Path(__file__).parents[2] / "examples" / "crosscheck"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_files_parse(path):
    check = load_crosscheck(path)
    assert check.t_end > 0 and check.n and check.epsilon and check.seeds
    assert check.model.domain is None or fempde.Space(check.model.domain).report.admissible


def test_an_rbf_file_is_the_jmm_network():
    check = load_crosscheck(EXAMPLES / "interval.toml")
    model = check.model
    assert isinstance(model.unit, Bump) and model.unit.delta == 0.1 and model.unit.kernel == "triweight"
    assert isinstance(model.data, UniformData) and model.is_rbf and np.isinf(model.beta)
    assert (check.n, check.epsilon, check.seeds, check.t_end, check.outputs) == ([200], [2e-6], [0, 1, 2, 3], 0.3, 30)
    disk = load_crosscheck(EXAMPLES / "disk.toml")
    assert disk.model.tau == pytest.approx(0.02) and disk.n == [250, 1000, 4000]


def test_boundary_reaches_the_bumps_and_a_disk_is_refused_with_its_key():
    text = (EXAMPLES / "interval.toml").read_text().replace("h = 0.005", "h = 0.05")
    reflected = text.replace("seeds = 4", 'seeds = 4\nboundary = "reflected"')
    unit = parse_crosscheck(reflected, "check", Path("."), "check.toml").model.unit
    assert unit.boundary == "reflected" and unit.walls is not None
    disk = reflected.replace('domain = "interval"\na = 0.0\nb = 1.0\nh = 0.05', 'domain = "disk"\nh = 0.2')
    with pytest.raises(ScenarioError, match=r"\[crosscheck\] boundary = 'reflected': boundary='reflected' needs Ω "
                                            r"to be an axis-aligned interval, rectangle or box") as caught:
        parse_crosscheck(disk, "check", Path("."), "check.toml")
    assert caught.value.key == "boundary"


def _small(tmp_path, text=None):
    path = tmp_path / "check.toml"
    text = text or (EXAMPLES / "interval.toml").read_text()
    text = text.replace("h = 0.005", "h = 0.05").replace("outputs = 30", "outputs = 2").replace("t_end = 0.3",
                                                                                                  "t_end = 0.01")
    path.write_text(text.replace("seeds = 4", "seeds = 1").replace("epsilon = 2e-6", "epsilon = 1e-4")
                    .replace("N = 200", "N = 50"))
    return path


@pytest.mark.parametrize(("change", "message"), [
    (("N = 200", "N = [20, 20]"), r"\[crosscheck\] N = \[20, 20\]: give one value or a list of distinct values"),
    (("N = 200", "N = 0"), r"\[crosscheck\] N must be an integer >= 1, got 0"),
    (("N = 200", "N = 2.5"), r"\[crosscheck\] N must be an integer >= 1, got 2.5"),
    (("N = 200", "N = 1000000000"), r"\[crosscheck\] N = 1000000000 is more than the 10,000,000 allowed"),
    (("N = 200", "N = 9000000"), r"would record [\d.]+ GiB of units, more than 8 GiB"),
    (("delta = 0.1", 'delta = "abc"'), r"\[crosscheck\] delta must be a number, got 'abc'"),
    (("delta = 0.1", "delta = -0.1"), r"\[crosscheck\] delta must be > 0, got -0.1"),
    (("epsilon = 2e-6", "epsilon = nan"), r"\[crosscheck\] epsilon must be a finite number, got nan"),
    (("epsilon = 2e-6", "epsilon = 1e-12"), r"needs t_end / epsilon = 3e\+11 SGD steps per run, more than 1e\+09"),
    (("epsilon = 2e-6", "epsilon = 1e3"), r"epsilon = 1000.0 is larger than \[run\] t_end = 0.3: SGD would take"),
    (("seeds = 4", "seeds = 0"), r"\[crosscheck\] seeds must be an integer >= 1, got 0"),
    (("seeds = 4", "seeds = 4\nlabel_noise = -1"), r"\[crosscheck\] label_noise must be >= 0.0, got -1"),
    (("seeds = 4", "seeds = 4\nlabel_noise = 1e300"), r"label_noise = 1e\+300 .* is more than the 1e\+06 allowed"),
    (("seeds = 4", "seeds = 4\nkernel = 3"), r"\[crosscheck\] kernel must be a kernel name \(a string\), got 3"),
    (("seeds = 4", "seeds = 4\nn_particles = 3"), r"unknown key 'n_particles' in \[crosscheck\]"),
    (("outputs = 30", "outputs = 30\nrtol = 1e-8"), r"\[run\] rtol: the cross-check chooses the limit's stepping"),
    (("seeds = 4", 'seeds = 4\nboundary = "mirror"'),
     r"\[crosscheck\] boundary must be one of 'restricted', 'reflected', got 'mirror'"),
    (("delta = 0.1", 'delta = 0.6\nboundary = "reflected"'),
     r"boundary = 'reflected': boundary='reflected' needs delta <= half the box's shortest side \(0.5\), got "
     r"delta=0.6"),
])
def test_bad_rbf_tables_are_named_with_their_line(change, message):
    text = (EXAMPLES / "interval.toml").read_text().replace("h = 0.005", "h = 0.05")
    assert change[0] in text
    with pytest.raises(ScenarioError, match=message + r".*\(line \d+ of check.toml\)"):
        parse_crosscheck(text.replace(change[0], change[1]), "check", Path("."), "check.toml")


@pytest.mark.parametrize(("change", "key", "message"), [
    (("t_end = 2.0", "t_end = -2.0"), "t_end", r"t_end must be > 0"),
    (("outputs = 10", "outputs = [0.5, 3.0]"), "outputs", r"outputs must be times in \[0, t_end = 2\]"),
    (("seeds = 3", 'seeds = 3\nbatch = "half"'), "batch", r"batch must be a number of samples or \"full\""),
    (("seeds = 3", 'seeds = 3\nmethod = "magic"'), "method", r"method must be one of"),
    (("seeds = 3", "seeds = 3\naccuracy = 0"), "accuracy", r"accuracy must be > 0, got 0"),
    (("seeds = 3", "seeds = 3\nsteps = 10"), "steps", r"unknown key 'steps' in \[crosscheck\]"),
    (("epsilon = 1e-3", "epsilon = [1e-3, 1e-3]"), "epsilon", r"give one value or a list of distinct values"),
])
def test_bad_study_tables_are_named_with_their_key_and_line(change, key, message):
    text = (EXAMPLES / "tanh_mixture.toml").read_text()
    assert change[0] in text
    changed = text.replace(change[0], change[1])
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_crosscheck(changed, "tanh", EXAMPLES, "tanh.toml")
    err = caught.value
    assert (err.section, err.key, err.source) == ("crosscheck", key, "tanh.toml")
    assert changed.splitlines()[err.line - 1].startswith(key)


def test_the_command_writes_the_report_and_resumes(tmp_path, capsys):
    scenario, out = _small(tmp_path), tmp_path / "out"
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert f"output directory {out} holds no resumable run (no run.json and no checkpoints)" in capsys.readouterr().err
    assert not out.exists()  # a directory made for a refused run is removed again
    assert main([str(scenario), "--out", str(out), "--workers", "2"]) in (0, 1)
    printed = capsys.readouterr().out
    assert "rbf: 1 SGD runs" in printed and "at t = 0 (the initial sample)" in printed
    first = (out / "runs.csv").read_text()
    assert (out / "checkpoints" / "sgd_N50_eps0.0001_seed0.npz").is_file()
    assert main([str(scenario), "--out", str(out), "--resume"]) in (0, 1)  # the finished run is read back
    assert (out / "runs.csv").read_text() == first
    scenario.write_text(scenario.read_text().replace("delta = 0.1", "delta = 0.2"))
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert "another version of the scenario" in capsys.readouterr().err
    checkpoint = out / "checkpoints" / "sgd_N50_eps0.0001_seed0.npz"
    # the output directory is owned as `fempde run` owns it: an earlier run is kept unless --overwrite
    assert main([str(scenario), "--out", str(out)]) == 2
    assert f"output directory {out} holds an earlier run" in capsys.readouterr().err and checkpoint.is_file()
    assert main([str(scenario), "--out", str(out), "--overwrite"]) in (0, 1)
    assert (out / "run.json").is_file() and checkpoint.is_file()
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    assert main([str(scenario), "--out", str(out), "--resume"]) == 2
    assert f"checkpoint {checkpoint} is damaged or truncated" in capsys.readouterr().err


@pytest.mark.parametrize(("out", "message"), [
    ("file", "output directory .*file is a file, not a directory; give a directory"),
    ("file/sub", "output directory .*file/sub cannot be created: Not a directory"),
    ("", "--out must name a directory, got ''"),
])
def test_the_output_directory_is_checked_before_the_run(tmp_path, capsys, out, message):
    import re

    (tmp_path / "file").write_text("")
    target = str(tmp_path / out) if out else out
    assert main([str(_small(tmp_path)), "--out", target]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_numerical_failure_of_the_limit_exits_3(tmp_path, capsys):
    scenario = _small(tmp_path)
    stiff = 'tau = 0.0\nschedule = { kind = "power", xi0 = 1.0, alpha = 0.9 }'  # ξ(0) = ∞: no first step
    scenario.write_text(scenario.read_text().replace("tau = 0.0", stiff))
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 3
    assert "numerical failure: time step fell below dt_min" in capsys.readouterr().err


def test_ctrl_c_during_the_limit_exits_130_with_the_resume_hint(tmp_path, capsys, monkeypatch):
    from fempde.solvers import record

    original, calls = record.RunRecord.add, [0]

    def add(self, step):
        calls[0] += 1
        if calls[0] == 3:  # Ctrl-C at the third step of the limit's solve
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(record.RunRecord, "add", add)
    scenario = _small(tmp_path)
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and f"fempde-crosscheck {scenario} --out {tmp_path / 'out'} --resume" in err
