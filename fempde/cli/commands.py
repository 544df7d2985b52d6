"""Command line: ``fempde demo``, ``fempde run SCENARIO.toml``, ``fempde check-mesh FILE``.

Exit status: 0 when the run's certificates hold, 1 when one fails (mass drift,
negative density, free-energy increase), 2 for bad input, 3 when Newton fails,
130 when interrupted (the output written so far stays valid).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path

import meshes

from ..fem.space import Space
from ..io import Checkpointer, CSVWriter, PlotWriter, VTKWriter
from ..solvers import ConvergenceError, Observer, ProgressBar, Result, SteadyState, initial_density, solve
from .scenario import Scenario, ScenarioError, load_scenario

__all__ = ["demo_scenario", "main", "run_scenario"]

CHECKPOINT = "checkpoint.npz"
RUN_FILE = "run.json"


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
    rho0 = initial_density(space, scenario.rho0, normalize=scenario.normalize)
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
    return solve(scenario.problem, space, rho0, scenario.t_end, observers, times=scenario.times,
                 resume=out / CHECKPOINT if resume else None, options=scenario.options, flux=scenario.flux,
                 estimate_space_error=scenario.estimate_space_error and not resume)


def _run(path: Path, out: str | None, t_end: float | None, quiet: bool, resume: bool = False) -> int:
    scenario = load_scenario(path)
    if out is not None:
        scenario = replace(scenario, directory=Path(out))
    if t_end is not None:
        if not t_end > 0:
            raise ScenarioError(f"--t-end must be positive, got {t_end}")
        times = tuple(t for t in scenario.times if t < t_end) + (t_end,)
        scenario = replace(scenario, t_end=t_end, times=times)
    space = Space(scenario.mesh, force=scenario.force)
    print(f"fempde: {scenario.name}: {space.report.describe()}", file=sys.stderr)
    d = scenario.directory
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".fempde-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ScenarioError(f"output directory {d} is not writable: {err.strerror or err}") from None
    # what `fempde resume DIR` needs: the scenario as run, and the overrides
    (d / RUN_FILE).write_text(json.dumps({"scenario": str(path.resolve()), "t_end": scenario.t_end}))
    result = run_scenario(scenario, progress=not quiet, space=space, resume=resume)
    print(f"stopped at t = {result.t:.6g} ({result.stop_reason}) after {len(result.history['t']) - 1} steps, "
          f"{int(result.history['newton_iterations'].sum())} Newton iterations")
    print(f"certificates: {result.certificates.describe()}")
    print(f"accuracy: {result.describe_accuracy()}")
    print(f"wrote {d / (scenario.output_name + '.pvd')} ({len(scenario.times) + 1} frames at most), "
          f"{d / 'history.csv'}, {d / 'rho.png'}, {d / 'history.png'}")
    if result.stop_reason == "interrupted":
        print(f"interrupted at t = {result.t:.6g}; the output so far is valid. Continue with: fempde resume {d}")
        return 130
    return 0 if result.ok else 1


def _resume(directory: Path, quiet: bool) -> int:
    record = directory / RUN_FILE
    if not record.is_file() or not (directory / CHECKPOINT).is_file():
        raise ScenarioError(f"{directory} holds no resumable run (no {RUN_FILE} and {CHECKPOINT} from `fempde run`)")
    run = json.loads(record.read_text())
    return _run(Path(run["scenario"]), str(directory), float(run["t_end"]), quiet, resume=True)


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
    except (ScenarioError, meshes.MeshError, ValueError, TypeError) as err:
        print(f"fempde: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, OSError) as err:
        print(f"fempde: error: {err}", file=sys.stderr)
        return 2
    except ConvergenceError as err:
        print(f"fempde: Newton failed: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
