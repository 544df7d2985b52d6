"""Command line: ``fempde demo``, ``fempde run SCENARIO.toml``, ``fempde resume DIR``, ``fempde check-mesh FILE``.

Exit status: 0 when the run's certificates hold, 1 when one fails (mass drift,
negative density, free-energy increase), 2 for bad input (the scenario, the
mesh, the output directory, a file read back), 3 for a numerical failure
(Newton, a singular or overflowing system), 130 when interrupted (the output
written so far stays valid). An error is one line on stderr that names the
file, and for a scenario the section, key and line.

A run owns its output directory (:class:`fempde.io.OutputDirectory`): it locks
it, refuses a name it writes that is a link, and does not replace an earlier
run there without ``--overwrite``. Once its input is accepted it stamps the
directory with the scenario's path and the SHA-256 of its text (``run.json``);
``fempde resume`` refuses a scenario file that changed since, as it would mix
two problems in one series, and checks every file it reads back.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

import meshes

from ..checks import ParameterError, number, text
from ..fem.space import Space
from ..io import Checkpointer, CSVWriter, OutputDirectory, PlotWriter, RunStamp, VTKWriter
from ..io.directory import RUN_FILE
from ..io.vtk import read_pvd
from ..scenario import Scenario, ScenarioError, load_scenario, out_option
from ..solvers import ConvergenceError, Observer, ProgressBar, Result, SteadyState, initial_density, solve

__all__ = ["demo_scenario", "main", "run_scenario"]

CHECKPOINT = "checkpoint.npz"
_RUN_KEYS = ("scenario", "sha256", "t_end")  # what run.json holds


def demo_scenario() -> Path:
    """Path of the scenario ``fempde demo`` runs (shipped with the package)."""
    return Path(str(resources.files("fempde") / "scenarios" / "demo.toml"))


def _writers(scenario: Scenario, title: str = "") -> list[Observer]:
    """The observers that write a scenario's files into its directory."""
    out = scenario.directory
    return [CSVWriter(out / "history.csv"), VTKWriter(out, scenario.output_name), PlotWriter(out, title=title),
            Checkpointer(out / CHECKPOINT, every=scenario.checkpoint_every)]


def output_directory(scenario: Scenario, *, command: str = "run_scenario", source: str = "",
                     resume: bool = False) -> OutputDirectory:
    """The scenario's directory as its run owns it (not yet open): the names its
    writers write, the checkpoint as what makes it resumable."""
    files = [name for writer in _writers(scenario) for name in getattr(writer, "files", ())]
    return OutputDirectory(scenario.directory, command=command, scenario=source or scenario.name, files=files,
                           state=(CHECKPOINT,), create=not resume, overwrite_option="--overwrite",
                           resume_command=f"fempde resume {scenario.directory}")


def run_scenario(scenario: Scenario, *, progress: bool = True, space: Space | None = None,
                 resume: bool = False, directory: OutputDirectory | None = None,
                 record: dict[str, Any] | None = None) -> Result:
    """Solve a scenario and write its ParaView series, CSV history, PNGs and
    checkpoint into ``scenario.directory`` (``space``: the scenario's mesh,
    already prepared; ``resume``: continue from the checkpoint there).

    The run owns the directory: ``directory``, already open, or else taken here
    (locked; an earlier run there is refused). ``record``: what the directory is
    stamped with (``run.json``) once :func:`fempde.solve` has accepted the input."""
    if directory is None:
        with output_directory(scenario, resume=resume) as taken:
            if not resume:
                taken.fresh()
            return run_scenario(scenario, progress=progress, space=space, resume=resume, directory=taken,
                                record=record)
    if space is None:
        space = Space(scenario.mesh, force=scenario.force)
    rho0 = _start(space, scenario)
    writers = _writers(scenario, title=f"{scenario.name}: {space.report.describe()}")
    directory.expect(name for writer in writers for name in getattr(writer, "files", ()))
    observers: list[Observer] = [RunStamp(directory, record)] if record is not None else []
    observers += writers
    if scenario.steady_tol > 0:
        observers.append(SteadyState(scenario.steady_tol))
    if progress:
        observers.append(ProgressBar(scenario.name))
    estimate: bool | Mesh = scenario.estimate_space_error and not resume  # needs a whole run
    if estimate and scenario.fine_mesh is not None:
        estimate = scenario.fine_mesh
    return solve(scenario.problem, space, rho0, scenario.t_end, observers, times=scenario.times,
                 resume=scenario.directory / CHECKPOINT if resume else None, options=scenario.options,
                 flux=scenario.flux, estimate_space_error=estimate)


def _start(space: Space, scenario: Scenario) -> Any:
    """ρ0 as :func:`solve` takes it: ``"uniform"``, or the scenario's formula scaled to mass 1
    on ``space`` (checked by :func:`initial_density`), so that a second mesh of the spatial
    estimate evaluates the formula rather than interpolating this mesh's values."""
    if isinstance(scenario.rho0, str):
        return scenario.rho0
    rho0 = scenario.rho0
    mass = space.integrate(space.interpolate(rho0, "rho0"))
    initial_density(space, rho0, normalize=scenario.normalize)  # a negative or empty ρ0 refused here, by name
    return lambda x: rho0(x) / mass


def _prepared(path: Path, out: str | None, t_end: float | None, stamp: str | None = None,
              t_end_name: str = "--t-end") -> tuple[Scenario, Space]:
    """The scenario at ``path`` with the command line's overrides (``t_end``, named
    ``t_end_name`` in messages), and its space: all the input checked before any
    output directory is touched."""
    scenario = load_scenario(path)
    if stamp is not None and scenario.source_sha256 != stamp:
        raise ScenarioError(
            f"the scenario file {path} changed since the run in {out} was started (SHA-256 {stamp[:12]}..., now "
            f"{scenario.source_sha256[:12]}...): resuming would mix two problems in one series; restore the file, "
            f"or start afresh with `fempde run {path} --out {out} --overwrite`"
        )
    if out is not None:
        scenario = replace(scenario, directory=out_option(out))
    if t_end is not None:
        try:
            t_end = number(t_end_name, t_end, positive=True)
        except ParameterError as err:
            raise ScenarioError(str(err), key=t_end_name, value=t_end) from None
        try:
            scenario.options.resolved(t_end)
        except ParameterError as err:
            raise ScenarioError(f"{t_end_name} = {t_end!r}: {err}", key=t_end_name, value=t_end) from None
        times = tuple(t for t in scenario.times if t < t_end) + (t_end,)
        scenario = replace(scenario, t_end=t_end, times=times)
    try:
        space = Space(scenario.mesh, force=scenario.force)
    except meshes.MeshError as err:
        raise ScenarioError(f"[mesh] {err} (set force = true in [mesh] of {path} to solve anyway)",
                            section="mesh") from None
    print(f"fempde: {scenario.name}: {space.report.describe()}", file=sys.stderr)
    return scenario, space


def _run(path: Path, out: str | None, t_end: float | None, quiet: bool, overwrite: bool = False,
         command: str = "fempde run") -> int:
    scenario, space = _prepared(path, out, t_end)
    with output_directory(scenario, command=command, source=str(path.resolve())) as directory:
        directory.fresh(overwrite)
        # what `fempde resume DIR` needs: the scenario as run, its stamp, and the overrides
        record = {"scenario": str(path.resolve()), "sha256": scenario.source_sha256, "t_end": scenario.t_end}
        return _solved(scenario, space, directory, path, quiet, record=record)


def _resume(path: Path, quiet: bool) -> int:
    holder = OutputDirectory(path, command="fempde resume", state=(CHECKPOINT,), create=False)
    with holder as directory:
        run = _run_record(directory)
        scenario_path = Path(run["scenario"])
        if not scenario_path.is_file():
            raise ScenarioError(f"{path / RUN_FILE}: the run's scenario file {scenario_path} no longer exists")
        scenario, space = _prepared(scenario_path, str(path), run["t_end"], stamp=run["sha256"],
                                    t_end_name=f"{path / RUN_FILE}: t_end")
        series = scenario.directory / f"{scenario.output_name}.pvd"
        missing = [p.name for p in (scenario.directory / "history.csv", series) if not p.is_file()]
        if missing:
            raise ScenarioError(f"{path} lacks the {' and '.join(missing)} of the run to resume (its files up to "
                                f"the checkpoint would be lost); restore them, or start afresh with --overwrite")
        read_pvd(series)  # the run's state, all of it checked before any of it is written again
        if scenario.estimate_space_error:
            print("fempde: the spatial estimate (estimate_space_error) needs a whole run: not made on resume",
                  file=sys.stderr)
        return _solved(scenario, space, directory, scenario_path, quiet, resume=True)


def _solved(scenario: Scenario, space: Space, directory: OutputDirectory, path: Path, quiet: bool, *,
            resume: bool = False, record: dict[str, Any] | None = None) -> int:
    """Run ``scenario`` in ``directory`` and report; the exit status."""
    try:
        result = run_scenario(scenario, progress=not quiet, space=space, resume=resume, directory=directory,
                              record=record)
    except (ValueError, TypeError) as err:
        if isinstance(err, (ScenarioError, np.linalg.LinAlgError)):
            raise
        raise ScenarioError(f"{err} (scenario {path})") from None
    d = scenario.directory
    print(f"stopped at t = {result.t:.6g} ({result.stop_reason}) after {len(result.history['t']) - 1} steps, "
          f"{int(result.history['newton_iterations'].sum())} Newton iterations")
    print(f"certificates: {result.certificates.describe()}")
    print(f"accuracy: {result.describe_accuracy()}")
    print(f"wrote {d / (scenario.output_name + '.pvd')} ({len(scenario.times) + 1} frames at most), "
          f"{d / 'history.csv'}, {d / 'rho.png'}, {d / 'history.png'}"
          + (f", {d / 'history_space_error.csv'}" if result.space_error is not None else ""))
    if result.stop_reason == "interrupted":
        print(f"interrupted at t = {result.t:.6g}; the output so far is valid. Continue with: fempde resume {d}")
        return 130
    return 0 if result.ok else 1


def _run_record(directory: OutputDirectory) -> dict[str, Any]:
    """The checked contents of a run's ``run.json`` (read bounded, as a JSON object)."""
    path = directory.path / RUN_FILE
    run = directory.resuming()
    for key in _RUN_KEYS:
        if key not in run:
            raise ScenarioError(f"{path} has no {key!r} (written by an older fempde, or edited); "
                                "start the run afresh with `fempde run ... --overwrite`", key=key)

    def checked(key: str, check: Any, **rules: Any) -> Any:
        try:
            return check(f"{path}: {key}", run[key], **rules)
        except ParameterError as err:
            raise ScenarioError(str(err), key=key, value=run[key]) from None

    return {"scenario": checked("scenario", text), "sha256": checked("sha256", text),
            "t_end": checked("t_end", number, positive=True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fempde", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="porous-medium flow on a disk, written to out/demo")
    demo.add_argument("--out", default="out/demo", help="output directory (default out/demo)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier run in the output directory")
    run = commands.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", help="output directory (default: the scenario's, or out/NAME)")
    run.add_argument("--t-end", type=float, help="override the final time")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--overwrite", action="store_true", help="replace an earlier run in the output directory")
    resume = commands.add_parser("resume", help="continue a run from the checkpoint in its output directory")
    resume.add_argument("directory", type=Path)
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    check = commands.add_parser("check-mesh", help="validate a mesh file (any meshio format)")
    check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _run(demo_scenario(), args.out, None, args.quiet, args.overwrite, command="fempde demo")
        if args.command == "run":
            return _run(args.scenario, args.out, args.t_end, args.quiet, args.overwrite)
        if args.command == "resume":
            return _resume(args.directory, args.quiet)
        report = meshes.check(meshes.load(args.file))
        print(report.describe())
        return 0 if report.admissible else 1
    except (ConvergenceError, ArithmeticError, np.linalg.LinAlgError) as err:
        print(f"fempde: numerical failure: {_one_line(err)}", file=sys.stderr)
        return 3
    except MemoryError:
        print("fempde: error: out of memory; use a coarser mesh (a larger h)", file=sys.stderr)
        return 2
    except (ScenarioError, meshes.MeshError, ValueError, TypeError, OSError) as err:
        print(f"fempde: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # after the run ended: its files were finished first
        print("\nfempde: interrupted; the files written are complete", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).splitlines()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
