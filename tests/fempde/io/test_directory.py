"""A run owns its output directory: locked, never written through a link, an earlier run never lost.

The bad-input tables here run the ``fempde`` commands and the Python API in a
world of their own (:mod:`catalogue`): each asserts the exit status or the
exception, the names in the message, and that nothing outside the output
directory — the sentinel the planted links point to included — changed.
"""

import json
import os
import socket
from pathlib import Path

import pytest
from catalogue import Case, cases, check, resumed

import fempde
import meshes
from fempde.atomic import LinkError, atomic_write, make_directory, open_append, probe_writable, write_csv
from fempde.cli.commands import main
from fempde.io import DirectoryBusy, EarlierRun, OutputDirectory
from fempde.io.directory import LOCK, RUN_FILE, Holder
from fempde.scenario import ScenarioError, writable_directory

SCENARIO = '[mesh]\ndomain = "interval"\nh = 0.1\n[problem]\ntarget = "1 - x**2"\ntau = 0.01\n[run]\nt_end = 0.02\n'
PROBLEM = fempde.PorousMedium(target=lambda x: 1.0 - x[0] ** 2, tau=0.01)


def _run(*extra):
    """A fresh ``fempde run`` into ``out`` (the world's scenario written first)."""
    def make(world):
        path = world.write("s.toml", SCENARIO)
        return ["run", path, "--out", world.out, "--quiet", *extra]
    return make


def _planted(name, how, then=None):
    """``then`` (a fresh run) after a link at ``out/name``: symbolic to the sentinel, dangling, or hard."""
    then = then or _run()

    def make(world):
        world.out.mkdir(exist_ok=True)
        if how == "dangling":
            world.plant(name, world.root / "outside" / "nothing")
        else:
            world.plant(name, hard=how == "hard")
        return then(world)
    return make


WRITTEN = ["history.csv", "history_space_error.csv", "rho.pvd", "rho_00000.vtu", "rho_00003.vtu", "checkpoint.npz",
           "rho.png", "history.png", RUN_FILE, LOCK, ".fempde-write-test"]
TEMPORARY = [".history.tmp.csv", ".rho.tmp.pvd", ".rho_00000.tmp.vtu", ".checkpoint.tmp.npz", ".rho.tmp.png",
             ".history.tmp.png", ".run.tmp.json"]
WHY = {"symbolic": "a symbolic link", "dangling": "a symbolic link", "hard": "hard links"}

LINKS = [Case(f"{how}-{name}", _planted(name, how), 2, (f"{{out}}/{name}", WHY[how]))
         for name in WRITTEN + TEMPORARY for how in ("symbolic", "dangling", "hard")]


@pytest.mark.parametrize("case", cases("output", LINKS))
def test_a_link_at_any_name_a_run_writes_is_refused(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)




def _relink(name):
    """``out/name`` moved outside (beside the sentinel) and replaced by a link to it."""
    def change(world):
        moved = world.root / "outside" / name
        os.replace(world.out / name, moved)
        world.plant(name, moved)
    return change


RESUMED_LINKS = [Case(f"resume-{name}", resumed(_relink(name)), 2, (f"{{out}}/{name}", "symbolic link"))
                 for name in ("history.csv", "rho.pvd", "rho_00002.vtu", "checkpoint.npz", "rho.png", RUN_FILE, LOCK)]
RESUMED_LINKS += [Case(f"resume-planted-{name}", resumed(lambda w, n=name: w.plant(n)), 2,
                       (f"{{out}}/{name}", "symbolic link"))
                  for name in (".checkpoint.tmp.npz", ".rho.tmp.pvd", "rho_00009.vtu", ".history.tmp.csv")]


@pytest.mark.parametrize("case", cases("output", RESUMED_LINKS))
def test_a_resumed_run_refuses_links_too(case, finished_run, tmp_path, capsys, monkeypatch):
    check(Case(case.id, lambda world: case.make(world, finished_run), case.expect, case.names), tmp_path, main,
          capsys, monkeypatch)


# -- the Python API: every writer refuses a link at its names ------------------------------------------------------


def _solve(observers, t_end=0.01):
    return lambda: fempde.solve(PROBLEM, meshes.interval(h=0.25), "uniform", t_end, observers, times=[t_end])


def _api(name, call, expect=LinkError):
    """A case whose ``call(world)`` is made after a link at ``out/name`` to the sentinel
    (an ``OutputError`` is a refusal during the run: what it wrote before stays)."""
    def make(world):
        world.out.mkdir(exist_ok=True)
        world.plant(name)
        return call(world)
    return Case(f"api-{name}-{expect.__name__}", make, expect, (f"{{out}}/{name}", "symbolic link"),
                writes=expect is fempde.OutputError)


API_LINKS = [
    _api("h.csv", lambda w: _solve([fempde.CSVWriter(w.out / "h.csv")])),
    _api(".h.tmp.csv", lambda w: _solve([fempde.CSVWriter(w.out / "h.csv")])),
    _api("rho.pvd", lambda w: _solve([fempde.VTKWriter(w.out)])),
    _api("rho_00001.vtu", lambda w: _solve([fempde.VTKWriter(w.out)]), fempde.OutputError),
    _api("ck.npz", lambda w: _solve([fempde.Checkpointer(w.out / "ck.npz", every=0)])),
    _api(".ck.tmp.npz", lambda w: _solve([fempde.Checkpointer(w.out / "ck.npz", every=0)]), fempde.OutputError),
    _api("history.png", lambda w: _solve([fempde.PlotWriter(w.out)])),
    _api(".history.tmp.png", lambda w: _solve([fempde.PlotWriter(w.out)]), fempde.OutputError),
    _api("t.csv", lambda w: lambda: write_csv(w.out / "t.csv", ["a"], [[1]])),
    _api(".t.tmp.txt", lambda w: lambda: atomic_write(w.out / "t.txt", lambda tmp: tmp.write_text("x"))),
    _api("a.txt", lambda w: lambda: open_append(w.out / "a.txt")),
    _api(".fempde-write-test", lambda w: lambda: probe_writable(w.out)),
    _api("checkpoints", lambda w: lambda: make_directory(w.out / "checkpoints")),
    _api(".fempde-write-test", lambda w: lambda: writable_directory(w.out), ScenarioError),
    _api("sgd.npz", lambda w: lambda: fempde.archive.write_archive(w.out / "sgd.npz", "sgd-state", 1, {"x": 1.0})),
]


def _subdirectory_link(world):
    """A cross-check's ``checkpoints/`` as a link to a directory outside: refused, nothing there deleted."""
    world.out.mkdir()
    world.plant("checkpoints", world.sentinel.parent)

    def call():
        with OutputDirectory(world.out, command="fempde-crosscheck", state=("checkpoints",)) as directory:
            directory.subdirectory("checkpoints")
    return call


API_LINKS += [
    Case("api-checkpoints-directory-link", _subdirectory_link, LinkError, ("{out}/checkpoints", "symbolic link")),
    Case("api-open-with-link-at-files", lambda w: (w.out.mkdir(), w.plant("sgd_N10_seed0.npz"),
                                                   lambda: OutputDirectory(w.out, command="x",
                                                                           files=("sgd_*.npz",)).open())[-1],
         LinkError, ("{out}/sgd_N10_seed0.npz",)),
]


@pytest.mark.parametrize("case", cases("output", API_LINKS))
def test_the_writers_refuse_links_from_python(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)


# -- the directory as a whole: a file, missing, busy, an earlier run ----------------------------------------------


def _holding(scenario="/elsewhere/other.toml", garbage=False):
    """The world's ``out`` locked by another holder for the length of the case."""
    def hold(world):
        world.out.mkdir(exist_ok=True)
        held = OutputDirectory(world.out, command="fempde run", scenario=scenario).open()
        world.held.append(held)
        if garbage:
            (world.out / LOCK).write_bytes(b"\x00not json" * 100)
    return hold


def _then(first, then):
    def make(world):
        first(world)
        return then(world)
    return make


def _with_run(run_changes=None):
    def make(world, run):
        world.copy_run(run)
        if run_changes:
            run_changes(world)
    return make


BUSY = [
    Case("busy-run", _then(_holding(), _run()), 2,
         ("in use by another run", f"pid {os.getpid()}", f"host {socket.gethostname()}", "/elsewhere/other.toml",
          "started 20")),
    Case("busy-run-overwrite", _then(_holding(), _run("--overwrite")), 2, ("in use by another run", "other.toml")),
    Case("busy-demo", _then(_holding(), lambda w: ["demo", "--out", w.out, "--quiet"]), 2, ("{out}", "in use")),
    Case("busy-resume", _then(_holding(), lambda w: ["resume", w.out, "--quiet"]), 2, ("{out}", "in use")),
    Case("busy-unreadable-identity", _then(_holding(garbage=True), _run()), 2,
         ("in use by another run", "its identity is unreadable")),
]

PATHS = [
    Case("out-is-a-file", lambda w: _run()(w) if w.write("out", "a file") else None, 2, ("{out}", "is a file")),
    Case("out-under-a-file", lambda w: (w.write("blocker", "x"), _run()(w)[:3] + [w.root / "blocker" / "o",
                                                                                   "--quiet"])[-1], 2,
         ("{root}/blocker/o",)),
    Case("out-empty", lambda w: _run()(w)[:3] + ["", "--quiet"], 2, ("--out", "''")),
    Case("out-blank", lambda w: _run()(w)[:3] + ["  ", "--quiet"], 2, ("--out", "'  '")),
    Case("resume-missing", lambda w: ["resume", w.root / "nowhere"], 2, ("{root}/nowhere", "does not exist")),
    Case("resume-a-file", lambda w: ["resume", w.write("f.txt", "x")], 2, ("{root}/f.txt", "is a file")),
    Case("resume-empty", lambda w: (w.out.mkdir(), ["resume", w.out])[-1], 2,
         ("{out}", "holds no resumable run", "run.json")),
    Case("resume-no-checkpoint", lambda w: (w.out.mkdir(), w.write("out/run.json", "{}"), ["resume", w.out])[-1], 2,
         ("{out}", "holds no resumable run", "checkpoint.npz")),
    Case("fresh-over-files-of-a-run", lambda w: (w.write("out/checkpoint.npz", b"x"), _run()(w))[-1], 2,
         ("{out}", "holds an earlier run", "checkpoint.npz", "--overwrite")),
    Case("fresh-over-a-history", lambda w: (w.write("out/history.csv", "t\n"), _run()(w))[-1], 2,
         ("{out}", "earlier run", "history.csv")),
    Case("fresh-over-frames-of-another-name",
         lambda w: (w.write("out/rho_00007.vtu", "x"), _run()(w))[-1], 2, ("{out}", "rho_00007.vtu")),
]


@pytest.mark.parametrize("case", cases("output", BUSY + PATHS))
def test_an_output_directory_that_cannot_be_taken(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)


EARLIER = [
    Case("fresh-over-a-finished-run", lambda w, run: (w.copy_run(run), _run()(w))[-1], 2,
         ("{out}", "holds an earlier run", "the run of {root}/scenario.toml", "fempde resume {out}", "--overwrite")),
    Case("demo-over-a-finished-run", lambda w, run: (w.copy_run(run), ["demo", "--out", w.out, "--quiet"])[-1], 2,
         ("{out}", "holds an earlier run", "--overwrite")),
    Case("overwrite-with-a-refused-rho0", lambda w, run: (w.copy_run(run), _run_text(
        w, SCENARIO + "[initial]\nrho0 = '2'\n", "--overwrite"))[-1], 2, ("rho0", "mass 2", "{root}/s.toml")),
    Case("overwrite-with-a-refused-key", lambda w, run: (w.copy_run(run), _run_text(
        w, SCENARIO.replace("tau", "taux"), "--overwrite"))[-1], 2, ("unknown key 'taux'", "line 6")),
    Case("overwrite-with-a-refused-mesh", lambda w, run: (w.copy_run(run), _run_text(
        w, SCENARIO.replace("h = 0.1", "h = -1"), "--overwrite"))[-1], 2, ("[mesh] h", "line 3")),
    Case("overwrite-with-t-end-underflow", lambda w, run: (w.copy_run(run), _run_text(
        w, SCENARIO.replace("0.02", "1e-300"), "--overwrite"))[-1], 2, ("[run]", "1e-300", "line 8")),
    Case("overwrite-busy", lambda w, run: (w.copy_run(run), _holding()(w), _run("--overwrite")(w))[-1], 2,
         ("in use",)),
]


def _run_text(world, text, *extra):
    path = world.write("s.toml", text)
    return ["run", path, "--out", world.out, "--quiet", *extra]


@pytest.mark.parametrize("case", cases("run-state", EARLIER))
def test_an_earlier_run_is_never_lost_to_a_refused_one(case, finished_run, tmp_path, capsys, monkeypatch):
    check(Case(case.id, lambda world: case.make(world, finished_run), case.expect, case.names), tmp_path, main,
          capsys, monkeypatch)


# -- what a run promises, outside the tables -----------------------------------------------------------------------


def test_overwrite_replaces_the_earlier_run_once_the_input_is_accepted(finished_run, tmp_path):
    from catalogue import World

    world = World(tmp_path)
    world.copy_run(finished_run)
    (world.out / "rho_00099.vtu").write_text("a frame of the earlier run")
    path = world.write("s.toml", SCENARIO.replace("0.02", "0.01"))
    assert main(["run", str(path), "--out", str(world.out), "--quiet", "--overwrite"]) == 0
    record = json.loads((world.out / RUN_FILE).read_text())
    assert record["scenario"] == str(path) and record["t_end"] == 0.01 and record["host"] == socket.gethostname()
    assert not (world.out / "rho_00099.vtu").exists()  # the earlier run's files went; the new run's are there
    assert fempde.load_checkpoint(world.out / "checkpoint.npz").state.t == 0.01


def test_a_run_killed_right_after_its_stamp_never_resumes_the_earlier_checkpoint(finished_run, tmp_path,
                                                                                  monkeypatch, capsys):
    """The earlier run's checkpoint is removed before the new run.json is written: a kill
    between the stamp and the new run's first checkpoint leaves a directory that is not
    resumable, never one that resumes the earlier run under the new scenario's name."""
    from catalogue import World

    world = World(tmp_path)
    world.copy_run(finished_run)
    path = world.write("s.toml", SCENARIO.replace("0.02", "0.01"))

    def killed(self, info):
        raise SystemExit(137)  # stands for SIGKILL: nothing after the stamp runs

    monkeypatch.setattr(fempde.CSVWriter, "start", killed)
    with pytest.raises(SystemExit):
        main(["run", str(path), "--out", str(world.out), "--quiet", "--overwrite"])
    monkeypatch.undo()
    assert json.loads((world.out / RUN_FILE).read_text())["scenario"] == str(path)
    assert sorted(p.name for p in world.out.iterdir()) == [LOCK, RUN_FILE]
    capsys.readouterr()
    assert main(["resume", str(world.out), "--quiet"]) == 2
    assert "holds no resumable run (no checkpoint.npz)" in capsys.readouterr().err


def test_the_lock_is_released_when_the_run_ends_and_a_refused_new_directory_is_removed(tmp_path):
    directory = OutputDirectory(tmp_path / "a" / "b", command="test")
    with directory:
        assert (tmp_path / "a" / "b" / LOCK).is_file()
        with pytest.raises(DirectoryBusy) as busy:
            OutputDirectory(tmp_path / "a" / "b", command="other").open()
        assert busy.value.holder == directory.holder
    assert not (tmp_path / "a" / "b").exists()  # created, never stamped: removed again
    with OutputDirectory(tmp_path / "c", command="test") as again:
        again.stamp({"scenario": "s"})
    with OutputDirectory(tmp_path / "c", command="test") as taken:  # the lock is free once the holder closed
        with pytest.raises(EarlierRun) as earlier:
            taken.fresh()
        assert earlier.value.files == (RUN_FILE,)
        assert taken.resuming()["scenario"] == "s"


def test_a_second_process_is_refused_with_the_holder_named(tmp_path):
    """A real second process: the lock is the kernel's, across processes."""
    import subprocess
    import sys

    with OutputDirectory(tmp_path, command="fempde run", scenario="/x/held.toml"):
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from fempde.io import OutputDirectory, DirectoryBusy\n"
             "try:\n    OutputDirectory(sys.argv[1], command='c').open()\nexcept DirectoryBusy as e:\n"
             "    print(e.holder.pid, e.holder.scenario); sys.exit(2)\n", str(tmp_path)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(Path(fempde.__file__).parents[1])})
    assert child.returncode == 2 and child.stdout.split() == [str(os.getpid()), "/x/held.toml"]


def test_holder_identity_read_back():
    holder = Holder(12, "h", "2026-01-01T00:00:00Z", "fempde run", "s.toml")
    assert Holder.read(json.dumps(holder.__dict__).encode()) == holder
    assert Holder.read(b"[" * 200_000) is None and Holder.read(b"\xff") is None and Holder.read(b'{"pid": 1}') is None


def test_overwrite_removes_a_state_tree_without_following_its_links(tmp_path):
    """A sweep's ``runs/`` holds directories: an overwrite removes them all, and a link inside is
    removed, never followed (the directory it points to keeps its file)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    out = tmp_path / "out"
    (out / "runs" / "abc" / "checkpoints").mkdir(parents=True)
    (out / "runs" / "abc" / "checkpoints" / "sgd.npz").write_bytes(b"x")
    (out / "runs" / "abc" / "link").symlink_to(outside)
    (out / "run.json").write_text("{}")
    with OutputDirectory(out, command="fempde-sweep", files=("runs.csv",), state=("runs",)) as directory:
        directory.fresh(overwrite=True)
        directory.stamp({"sweep": "s.toml"})
    assert not (out / "runs").exists() and (outside / "keep.txt").read_text() == "kept"
