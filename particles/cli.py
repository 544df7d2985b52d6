"""``fempde-crosscheck FILE.toml`` and ``fempde-sweep SWEEP.toml``: the cross-check of a
model declared in TOML (:mod:`particles.scenario`), and sweeps of it on Dask.

``fempde-crosscheck`` runs :func:`particles.crosscheck` on this machine's cores
(``--workers``) or an existing Dask cluster (``--scheduler``), prints the gaps
with the limit's error beside each, and writes the report
(:mod:`particles.crosscheck.report`) into the output directory. Each SGD run
checkpoints into ``checkpoints/`` there; after a kill or Ctrl-C,
``--resume`` continues every run where it stopped (finished runs are read
back) and gives the numbers of an unbroken run. ``--quick``: the two smallest
N, the largest ε and two seeds — a check that the file runs, in about a minute.

The output directory is owned for the run as ``fempde run`` owns it
(:class:`fempde.io.OutputDirectory`): locked against a second writer, no name
written through a link, an earlier run kept unless ``--overwrite``, and
``run.json`` recording the file (and its SHA-256) that ``--resume`` must find
again; every file is written atomically (:mod:`fempde.atomic`).

Exit status: 0 when the limit resolves the risk gaps, 1 when its error could
explain the smallest sup risk gap (an accuracy failure: every file is still
written), 2 for bad input, 3 for a numerical failure, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import meshes
from fempde.bounded import FileFormatError
from fempde.io import OutputDirectory
from fempde.io.directory import RUN_FILE
from fempde.scenario import ScenarioError, out_option
from fempde.solvers import ConvergenceError

from .crosscheck import ClusterError, CrossCheck, crosscheck, open_client
from .crosscheck import report as crosscheck_report
from .scenario import CrossCheckFile, load_crosscheck
from .sweep import SweepError, load_sweep, run_sweep

__all__ = ["main", "output_directory", "sweep_main"]


REPORT_FILES = ("crosscheck.csv", "runs.csv", "slopes.csv", "risk.png", "gaps.png",
                *(pattern for name in ("particles", "rho", "limit") for pattern in (f"{name}.pvd", f"{name}_*.vtu")))
"""The names a cross-check writes in its output directory (:mod:`particles.crosscheck.report`)."""
SWEEP_FILES = ("runs.csv", "slopes.csv", "convergence.png")
"""The names a sweep's report writes; its stored results and checkpoints live under ``runs/``."""


def output_directory(out: Path, command: str, scenario: Path, files: tuple[str, ...], state: str,
                     resume_command: str | None = None) -> OutputDirectory:
    """The run's output directory, owned for the run (:class:`fempde.io.OutputDirectory`, as
    ``fempde run`` takes it): locked, its names checked not to be links, an earlier run kept
    unless ``--overwrite``; every file is then written through :mod:`fempde.atomic`."""
    return OutputDirectory(out, command=command, scenario=scenario.resolve(), files=files, state=(state,),
                           overwrite_option="--overwrite", resume_command=resume_command)


def _stamp(scenario: Path, quick_run: bool) -> dict[str, Any]:
    """What a resume must find again: the file (path and SHA-256) and whether the run was ``--quick``."""
    return {"scenario": str(scenario.resolve()), "sha256": hashlib.sha256(scenario.read_bytes()).hexdigest(),
            "quick": quick_run}


def quick(check: CrossCheckFile) -> CrossCheckFile:
    """``--quick``: the two smallest N, the largest ε, at most two seeds."""
    return replace(check, n=check.n[:2], epsilon=check.epsilon[-1:], seeds=check.seeds[:2])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fempde-crosscheck",
        description="The SGD of a two-layer network declared in a TOML file ([model], [mesh], [crosscheck], "
                    "[output]) against its mean-field limit: gaps over t > 0 with the limit's error beside "
                    "each, slopes in N and epsilon, the report in the output directory. Exit 0: the limit "
                    "resolves the risk gaps; 1: it does not; 2: bad input; 3: a numerical failure.")
    parser.add_argument("scenario", type=Path,
                        help="the cross-check file (README, 'The cross-check'; examples/crosscheck/*.toml)")
    parser.add_argument("--out", help="output directory (default: the file's [output] directory)")
    parser.add_argument("--workers", type=int, help="threads of the local cluster (default: one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the SGD checkpoints of an interrupted run of this file")
    parser.add_argument("--quick", action="store_true", help="the two smallest N, the largest epsilon, two seeds")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in the output directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    checkpoints: Path | None = None
    hint = f"fempde-crosscheck {args.scenario}{f' --out {args.out}' if args.out else ''} --resume"
    try:
        if args.workers is not None and args.workers < 1:
            raise ScenarioError(f"--workers must be >= 1, got {args.workers}", key="--workers", value=args.workers)
        setting = load_crosscheck(args.scenario)
        if args.quick:
            setting = quick(setting)
        out = setting.directory if args.out is None else out_option(args.out)
        stamp = _stamp(args.scenario, args.quick)
        with output_directory(out, "fempde-crosscheck", args.scenario, REPORT_FILES, "checkpoints", hint) as directory:
            if args.resume:
                _same_run(directory.resuming(), stamp, directory.path)
            else:
                directory.fresh(overwrite=args.overwrite)
            directory.stamp(stamp)
            checkpoints = directory.subdirectory("checkpoints")
            check = _run(setting, args, checkpoints)
            written = crosscheck_report.write(check, directory.path)
        print(check.describe())
        print("wrote " + ", ".join(str(p) for p in written))
        return 0 if check.resolved("risk") is not False else 1
    except (ConvergenceError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        print(f"fempde-crosscheck: numerical failure: {' '.join(str(err).split())}", file=sys.stderr)
        return 3
    except (ScenarioError, ClusterError, meshes.MeshError, ValueError, OSError) as err:
        print(f"fempde-crosscheck: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nfempde-crosscheck: interrupted; the SGD checkpoints are in {checkpoints}. Continue with: {hint}",
              file=sys.stderr)
        return 130


def _run(setting: CrossCheckFile, args: argparse.Namespace, checkpoints: Path) -> CrossCheck:
    """The cross-check of ``setting`` on the client the options ask for; its warnings printed."""
    with warnings.catch_warnings(record=True) as caught, \
            open_client(scheduler=args.scheduler, workers=args.workers) as client:
        warnings.simplefilter("always")
        check = crosscheck(setting.model, setting.n, setting.epsilon, setting.t_end, **setting.keywords(),
                           client=client, checkpoints=checkpoints, resume=args.resume)
    for w in caught:
        print(f"fempde-crosscheck: warning: {w.message}", file=sys.stderr)
    return check


def _same_run(record: dict[str, Any], stamp: dict[str, Any], directory: Path) -> None:
    """Refuse to resume the checkpoints of another file (or of an edited one, or of a --quick run for a full one)."""
    if {key: record.get(key) for key in stamp} != stamp:
        raise ScenarioError(f"the checkpoints in {directory} belong to another version of the scenario (the file "
                            f"changed since, or --quick differs); run without --resume (and with --overwrite) to "
                            f"start afresh")


def sweep_main(argv: list[str] | None = None) -> int:
    """``fempde-sweep SWEEP.toml``: the cross-check of one file over a grid of N, ε, seeds and a model parameter."""
    parser = argparse.ArgumentParser(
        prog="fempde-sweep",
        description="The cross-check of one file over a grid of N, epsilon, seeds and a model parameter, on Dask "
                    "(this machine's cores, or --scheduler); results are stored as they finish, so a sweep run "
                    "again carries on.")
    parser.add_argument("sweep", type=Path, help="the sweep file (README, 'Sweeps on Dask'; examples/sweeps/*.toml)")
    parser.add_argument("--out", help="output directory (default: the sweep file's [output] directory)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    parser.add_argument("--workers", type=int, help="threads of the local cluster (default: one per core)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output directory's earlier run of another sweep file")
    args = parser.parse_args(argv)
    try:
        if args.workers is not None and args.workers < 1:
            raise SweepError(f"--workers must be >= 1, got {args.workers}")
        sweep = load_sweep(args.sweep)
        if args.out is not None:
            sweep = replace(sweep, directory=out_option(args.out))
        with output_directory(sweep.directory, "fempde-sweep", args.sweep, SWEEP_FILES, "runs") as directory:
            record = {"sweep": str(args.sweep.resolve())}
            earlier = directory.read_record() if (directory.path / RUN_FILE).is_file() else None
            if not (isinstance(earlier, dict) and earlier.get("sweep") == record["sweep"]):  # else: go on with it
                directory.fresh(overwrite=args.overwrite)
            directory.stamp(record)
            directory.subdirectory("runs")
            report = run_sweep(sweep, scheduler=args.scheduler, workers=args.workers)
    except (ConvergenceError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        print(f"fempde-sweep: numerical failure: {' '.join(str(err).split())}", file=sys.stderr)
        return 3
    except (SweepError, ScenarioError, ClusterError, meshes.MeshError, FileFormatError, OSError) as err:
        print(f"fempde-sweep: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nfempde-sweep: interrupted; the SGD checkpoints are kept. Run the same command again to go on.",
              file=sys.stderr)
        return 130
    for row in report["slopes"]:
        print(f"slope of {row.quantity} in {row.axis} ({row.where}): {row.slope:.3f}"
              + (f" [{row.low:.3f}, {row.high:.3f}]" if np.isfinite(row.low) else " (no interval: 2 values)")
              + f" from {row.points} runs")
    out = sweep.directory
    print(f"wrote {out / 'runs.csv'}, {out / 'slopes.csv'}, {out / 'convergence.png'}")
    return 0 if report["resolved"] else 1


if __name__ == "__main__":
    sys.exit(main())
