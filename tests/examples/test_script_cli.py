"""Every script in examples/ and benchmarks/ shares one command line
(:mod:`fempde.scenario.script`): ``--help`` answers at once, runs nothing and
writes nothing; each example's ``--quick`` run writes its figures."""

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPTS = sorted(path for folder in ("examples", "benchmarks") for path in (ROOT / folder).glob("*.py")
                 if not path.name.startswith("_") and 'if __name__ == "__main__":' in path.read_text())

QUICK_FIGURES = {
    "disk_porous_medium.py": ["rho.png", "history.png"],
    "dd_disk.py": ["risk.png", "rho.pvd", "particles.pvd"],
    "teacher_student.py": ["risk.png", "gaps.png", "recovery.png", "trajectories.png", "gaps.csv"],
    "jmm_figure.py": ["jmm_1d.png", "jmm_disk.png"],
    "mmn_figures.py": ["mmn_fig1.png", "mmn_fig2.png", "mmn_fig3.png", "mmn_fig4.png"],
    "lazy_vs_meanfield.py": ["lazy_vs_meanfield.png"],
}
"""What each example's ``--quick`` run must write (the examples all have an entry: see the test below)."""

FAST = {"disk_porous_medium.py", "lazy_vs_meanfield.py"}
"""The quick runs under 20 s on two shared cores (measured 11 s and 14 s); the others are ``slow``
(measured teacher_student 21 s, mmn_figures 43 s, jmm_figure 48 s, dd_disk 150 s)."""


def test_every_script_is_listed():
    names = {path.name for path in SCRIPTS}
    assert len(names) >= 20  # 6 examples, 15 benchmarks (timing.py is a module, not a script)
    assert {p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")} == set(QUICK_FIGURES)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_runs_nothing(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    monkeypatch.syspath_prepend(str(path.parent))  # the benchmarks import their neighbours (timing, scaling)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # some set thread counts at import
    start = time.perf_counter()
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(path), run_name="__main__")
    seconds = time.perf_counter() - start
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "--out DIR" in text and f"out/{path.stem}" in text
    assert list(tmp_path.iterdir()) == []  # --help wrote nothing, not even the output directory
    assert seconds < 20.0  # imports only (measured about 1 s each after the first)


def _quick(name: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick", "--out", str(out)], cwd=out.parent,
                          env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("name", [pytest.param(name, marks=() if name in FAST else pytest.mark.slow)
                                  for name in sorted(QUICK_FIGURES)])
def test_quick_run_writes_its_figures(name, tmp_path):
    out = tmp_path / "result"
    done = _quick(name, out)
    assert done.returncode == 0, done.stderr[-3000:]
    for file in QUICK_FIGURES[name]:
        assert (out / file).stat().st_size > 200, file  # a figure is tens of kB; gaps.csv is four rows


def test_a_bad_output_directory_is_refused_before_any_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    done = _quick("disk_porous_medium.py", blocker)
    assert done.returncode == 2 and "is a file" in done.stderr
    assert blocker.read_text() == "in the way"


def test_a_benchmark_table_is_never_written_through_a_link(tmp_path):
    """A link planted at the name of a benchmark's table is refused (exit 2); its target is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "risk.txt").symlink_to(victim)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "risk.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert victim.read_text() == "keep"
