"""Command line: ``fempde demo``, ``fempde run SCENARIO.toml``, ``fempde check-mesh FILE``.

Exit status: 0 when the run's certificates hold, 1 when one fails (mass drift,
negative density, free-energy increase), 2 for bad input, 3 for a numerical
failure (Newton, a singular or overflowing system), 130 when interrupted (the
output written so far stays valid). An error is one line on stderr that names
the file, and for a scenario the section, key and line.

``fempde run`` stamps its output directory with the scenario's path and the
SHA-256 of its text (``run.json``); ``fempde resume`` refuses a scenario file
that changed since, as it would mix two problems in one series.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

import meshes

from ..atomic import atomic_write
from ..checks import ParameterError, number, text
from ..fem.space import Space
from ..io import Checkpointer, CSVWriter, PlotWriter, VTKWriter
from ..scenario import Scenario, ScenarioError, load_scenario, out_option, writable_directory
from ..solvers import ConvergenceError, Observer, ProgressBar, Result, SteadyState, initial_density, solve

__all__ = ["demo_scenario", "main", "run_scenario"]

CHECKPOINT = "checkpoint.npz"
RUN_FILE = "run.json"
_RUN_KEYS = ("scenario", "sha256", "t_end")  # what run.json holds


def demo_scenario() -> Path:
    """Path of the scenario ``fempde demo`` runs (shipped with the package)."""
    return Path(str(resources.files("fempde") / "scenarios" / "demo.toml"))


def run_scenario(scenario: Scenario, *, progress: bool = True, space: Space | None = None,
                 resume: bool = False) -> Result:
    """Solve a scenario and write its ParaView series, CSV history, PNGs and
    checkpoint into ``scenario.directory`` (``space``: the scenario's mesh,
    already prepared; ``resume``: continue from the checkpoint there)."""
    if space is None:
        space = Space(scenario.mesh, force=scenario.force)
    rho0 = _start(space, scenario)
    out = scenario.directory
    observers: list[Observer] = [
        CSVWriter(out / "history.csv"),
        VTKWriter(out, scenario.output_name),
        PlotWriter(out, title=f"{scenario.name}: {space.report.describe()}"),
        Checkpointer(out / CHECKPOINT, every=scenario.checkpoint_every),
    ]
    if scenario.steady_tol > 0:
        observers.append(SteadyState(scenario.steady_tol))
    if progress:
        observers.append(ProgressBar(scenario.name))
    estimate: bool | Mesh = scenario.estimate_space_error and not resume  # needs a whole run
    if estimate and scenario.fine_mesh is not None:
        estimate = scenario.fine_mesh
    return solve(scenario.problem, space, rho0, scenario.t_end, observers, times=scenario.times,
                 resume=out / CHECKPOINT if resume else None, options=scenario.options, flux=scenario.flux,
                 estimate_space_error=estimate)


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


def _run(path: Path, out: str | None, t_end: float | None, quiet: bool, resume: bool = False,
         stamp: str | None = None) -> int:
    scenario = load_scenario(path)
    if stamp is not None and scenario.source_sha256 != stamp:
        raise ScenarioError(
            f"the scenario file {path} changed since the run in {out} was started (SHA-256 {stamp[:12]}..., now "
            f"{scenario.source_sha256[:12]}...): resuming would mix two problems in one series; restore the file, "
            f"or start afresh with `fempde run {path} --out {out}`"
        )
    if out is not None:
        scenario = replace(scenario, directory=out_option(out))
    if t_end is not None:
        try:
            t_end = number("--t-end", t_end, positive=True)
        except ParameterError as err:
            raise ScenarioError(str(err), key="--t-end", value=t_end) from None
        times = tuple(t for t in scenario.times if t < t_end) + (t_end,)
        scenario = replace(scenario, t_end=t_end, times=times)
    try:
        space = Space(scenario.mesh, force=scenario.force)
    except meshes.MeshError as err:
        raise ScenarioError(f"[mesh] {err} (set force = true in [mesh] of {path} to solve anyway)",
                            section="mesh") from None
    print(f"fempde: {scenario.name}: {space.report.describe()}", file=sys.stderr)
    d = writable_directory(scenario.directory)
    # what `fempde resume DIR` needs: the scenario as run, its stamp, and the overrides
    record = {"scenario": str(path.resolve()), "sha256": scenario.source_sha256, "t_end": scenario.t_end}
    atomic_write(d / RUN_FILE, lambda tmp: tmp.write_text(json.dumps(record)))
    if resume and scenario.estimate_space_error:
        print("fempde: the spatial estimate (estimate_space_error) needs a whole run: not made on resume",
              file=sys.stderr)
    try:
        result = run_scenario(scenario, progress=not quiet, space=space, resume=resume)
    except (ValueError, TypeError) as err:
        if isinstance(err, (ScenarioError, np.linalg.LinAlgError)):
            raise
        raise ScenarioError(f"{err} (scenario {path})") from None
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


def _resume(directory: Path, quiet: bool) -> int:
    if not directory.is_dir():
        raise ScenarioError(f"{directory} is not a directory: give the output directory of a `fempde run`")
    record = directory / RUN_FILE
    if not record.is_file() or not (directory / CHECKPOINT).is_file():
        raise ScenarioError(f"{directory} holds no resumable run (no {RUN_FILE} and {CHECKPOINT} from `fempde run`)")
    run = _run_record(record)
    scenario = Path(run["scenario"])
    if not scenario.is_file():
        raise ScenarioError(f"{record}: the run's scenario file {scenario} no longer exists")
    return _run(scenario, str(directory), run["t_end"], quiet, resume=True, stamp=run["sha256"])


def _run_record(path: Path) -> dict[str, Any]:
    """The checked contents of a run's ``run.json``."""
    try:
        run = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ScenarioError(f"{path} cannot be read as JSON ({err}); start the run afresh with `fempde run`") from None
    if not isinstance(run, dict):
        raise ScenarioError(f"{path} must hold a JSON object with keys {', '.join(_RUN_KEYS)}, got {run!r}")
    for key in _RUN_KEYS:
        if key not in run:
            raise ScenarioError(f"{path} has no {key!r} (written by an older fempde, or edited); "
                                "start the run afresh with `fempde run`", key=key)

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
    run = commands.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", help="output directory (default: the scenario's, or out/NAME)")
    run.add_argument("--t-end", type=float, help="override the final time")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    resume = commands.add_parser("resume", help="continue a run from the checkpoint in its output directory")
    resume.add_argument("directory", type=Path)
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    check = commands.add_parser("check-mesh", help="validate a mesh file (any meshio format)")
    check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _run(demo_scenario(), args.out, None, args.quiet)
        if args.command == "run":
            return _run(args.scenario, args.out, args.t_end, args.quiet)
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
