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

Exit status: 0 when the limit resolves the risk gaps, 1 when its error could
explain the smallest sup risk gap (an accuracy failure: every file is still
written), 2 for bad input, 3 for a numerical failure, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

import meshes
from fempde.atomic import atomic_write
from fempde.scenario import ScenarioError, out_option, writable_directory
from fempde.solvers import ConvergenceError

from .crosscheck import ClusterError, crosscheck, open_client
from .crosscheck import report as crosscheck_report
from .scenario import CrossCheckFile, load_crosscheck
from .sweep import SweepError, load_sweep, run_sweep

__all__ = ["main", "output_directory", "sweep_main"]


def output_directory(out: Path) -> Path:
    """The run's output directory, proven writable before any work.

    The one place where the output directory is opened: when
    :class:`fempde.io.directory.OutputDirectory` (an owned, locked directory whose writes
    never follow links) is available, it takes over here; the writers write through
    :mod:`fempde.atomic` either way."""
    return writable_directory(out)


def quick(check: CrossCheckFile) -> CrossCheckFile:
    """``--quick``: the two smallest N, the largest ε, at most two seeds."""
    return replace(check, n=check.n[:2], epsilon=check.epsilon[-1:], seeds=check.seeds[:2])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fempde-crosscheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path, help="the cross-check file (see particles/scenario.py or README)")
    parser.add_argument("--out", help="output directory (default: the file's [output] directory)")
    parser.add_argument("--workers", type=int, help="threads of the local cluster (default: one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the SGD checkpoints of an interrupted run of this file")
    parser.add_argument("--quick", action="store_true", help="the two smallest N, the largest epsilon, two seeds")
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
        out = output_directory(setting.directory if args.out is None else out_option(args.out))
        checkpoints = _checkpoints(out / "checkpoints", args.scenario, args.resume, args.quick)
        with warnings.catch_warnings(record=True) as caught, \
                open_client(scheduler=args.scheduler, workers=args.workers) as client:
            warnings.simplefilter("always")
            check = crosscheck(setting.model, setting.n, setting.epsilon, setting.t_end, **setting.keywords(),
                               client=client, checkpoints=checkpoints, resume=args.resume)
        for w in caught:
            print(f"fempde-crosscheck: warning: {w.message}", file=sys.stderr)
        written = crosscheck_report.write(check, out)
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


def _checkpoints(directory: Path, scenario: Path, resume: bool, quick_run: bool) -> Path:
    """The checkpoint directory, stamped with the file it belongs to: a resume refuses checkpoints
    of another file (or of an edited one, or of a --quick run for a full one)."""
    stamp = {"scenario": str(scenario.resolve()), "sha256": hashlib.sha256(scenario.read_bytes()).hexdigest(),
             "quick": quick_run}
    record = directory / "scenario.json"
    if resume:
        if not record.is_file():
            raise ScenarioError(f"nothing to resume: {directory} holds no checkpoints; run without --resume")
        if json.loads(record.read_text()) != stamp:
            raise ScenarioError(f"the checkpoints in {directory} belong to another version of the scenario (the file "
                                f"changed since, or --quick differs); run without --resume to start afresh")
        return directory
    if directory.is_dir():
        for old in directory.glob("sgd_*.npz"):
            old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(record, lambda tmp: tmp.write_text(json.dumps(stamp)))
    return directory


def sweep_main(argv: list[str] | None = None) -> int:
    """``fempde-sweep SWEEP.toml``: the cross-check of one file over a grid of N, ε, seeds and a model parameter."""
    parser = argparse.ArgumentParser(prog="fempde-sweep", description=sweep_main.__doc__)
    parser.add_argument("sweep", type=Path, help="the sweep file (see particles/sweep/schema.py or README)")
    parser.add_argument("--out", help="output directory (default: the sweep file's [output] directory)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    parser.add_argument("--workers", type=int, help="threads of the local cluster (default: one per core)")
    args = parser.parse_args(argv)
    try:
        if args.workers is not None and args.workers < 1:
            raise SweepError(f"--workers must be >= 1, got {args.workers}")
        sweep = load_sweep(args.sweep)
        if args.out is not None:
            sweep = replace(sweep, directory=output_directory(out_option(args.out)))
        report = run_sweep(sweep, scheduler=args.scheduler, workers=args.workers)
    except (ConvergenceError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        print(f"fempde-sweep: numerical failure: {' '.join(str(err).split())}", file=sys.stderr)
        return 3
    except (SweepError, ScenarioError, ClusterError, meshes.MeshError, OSError) as err:
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
