"""``fempde-crosscheck SCENARIO.toml``: SGD of the RBF network next to the PDEs.

The scenario is a fempde scenario (mesh, problem, initial density, run) with
a ``[crosscheck]`` table (N, δ, kernel, ε, seeds, label noise, checkpoint
interval; see :mod:`particles.scenario`, which reads it).

Writes ``crosscheck.csv``, ``risk.png``, ``rho.pvd`` and ``particles.pvd`` (and
``convergence.csv``/``convergence.png`` for a list of N) into the output
directory. Each seed's SGD checkpoints into ``checkpoints/`` there; after a
kill or Ctrl-C, ``fempde-crosscheck SCENARIO.toml --resume`` continues every
seed where it stopped (finished seeds are not run again) and gives the numbers
of an unbroken run, bit for bit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import meshes
from fempde.atomic import atomic_write, write_csv
from fempde.io.plots import save_figure
from fempde.scenario import Scenario, ScenarioError, out_option, writable_directory
from fempde.solvers import ConvergenceError

from .crosscheck import RBFProblem, convergence_in_n, crosscheck, unresolved
from .scenario import problem_from_text
from .sweep import SweepError, load_sweep, run_sweep

__all__ = ["convergence_figure", "main", "problem_from_text", "sweep_main"]


def _problem(path: Path) -> tuple[RBFProblem, dict[str, Any], Scenario]:
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist")
    return problem_from_text(path.read_text(), path.stem, path.parent, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fempde-crosscheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--out", help="output directory (default: the scenario's)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the SGD checkpoints of an interrupted run of this scenario")
    args = parser.parse_args(argv)
    checkpoints: Path | None = None
    resume_hint = f"fempde-crosscheck {args.scenario}{f' --out {args.out}' if args.out else ''} --resume"
    try:
        problem, table, scenario = _problem(args.scenario)
        out = writable_directory(scenario.directory if args.out is None else out_option(args.out))
        checkpoints = _checkpoints(out / "checkpoints", args.scenario, args.resume)
        seeds = range(table["seeds"])
        n = table["N"]
        saving = {"checkpoints": checkpoints, "checkpoint_every": table["checkpoint_every"], "resume": args.resume}
        if isinstance(n, list):
            study = convergence_in_n(problem, n, table["epsilon"], scenario.t_end, seeds=seeds, **saving)
            _write_study(study, out)
            accuracy = "resolved" if study["pde_accurate"] else (
                "NOT resolved: lower rtol" if study["pde_time_dominated"] else "NOT resolved by the mesh: refine it")
            print(f"risk gap slope {study['risk_slope']:.3f}, deposit L1 gap slope {study['density_slope']:.3f}, "
                  f"output L2 gap slope {study['output_slope']:.3f} (theory: -0.5); PDE risk error "
                  f"<= {study['pde_risk_error']:.1e} against a smallest gap {np.min(study['risk_gap']):.1e} "
                  f"({accuracy}); wrote {out / 'convergence.csv'}, {out / 'convergence.png'}")
            return 0
        check = crosscheck(problem, n, table["epsilon"], scenario.t_end,
                           n_times=len(scenario.times), seeds=seeds, **saving)
        check.write(out)
        print(check.describe())
        print(f"wrote {out / 'crosscheck.csv'}, {out / 'risk.png'}, {out / 'rho.pvd'}, {out / 'particles.pvd'}")
        return 0
    except (ConvergenceError, ArithmeticError, np.linalg.LinAlgError) as err:
        print(f"fempde-crosscheck: numerical failure: {' '.join(str(err).split())}", file=sys.stderr)
        return 3
    except (ScenarioError, meshes.MeshError, ValueError, OSError) as err:
        print(f"fempde-crosscheck: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nfempde-crosscheck: interrupted; the SGD checkpoints are in {checkpoints}. "
              f"Continue with: {resume_hint}", file=sys.stderr)
        return 130


def _checkpoints(directory: Path, scenario: Path, resume: bool) -> Path:
    """The checkpoint directory, stamped with the scenario it belongs to: a
    resume refuses checkpoints of another scenario file (or of an edited one)."""
    stamp = {"scenario": str(scenario.resolve()), "sha256": hashlib.sha256(scenario.read_bytes()).hexdigest()}
    record = directory / "scenario.json"
    if resume:
        if not record.is_file():
            raise ScenarioError(f"nothing to resume: {directory} holds no checkpoints; run without --resume")
        if json.loads(record.read_text()) != stamp:
            raise ScenarioError(f"the checkpoints in {directory} belong to another version of the scenario "
                                f"(the file changed since); run without --resume to start afresh")
        return directory
    if directory.is_dir():
        for old in directory.glob("sgd_*.npz"):
            old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(record, lambda tmp: tmp.write_text(json.dumps(stamp)))
    return directory


def _write_study(study: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "convergence.csv", ["N", "sup_risk_gap", "sup_l1_gap", "sup_output_l2_gap", "pde_risk_error",
                                        "pde_error_explains_gap"],
              [(int(n), float(risk), float(l1), float(output), study["pde_risk_error"],
                bool(unresolved(study["pde_risk_error"], float(risk))))
               for n, risk, l1, output in zip(study["n"], study["risk_gap"], study["density_gap"],
                                              study["output_gap"], strict=True)])
    save_figure(convergence_figure(study), out / "convergence.png")


def convergence_figure(study: dict[str, Any]) -> Any:
    """The gaps against N on log axes, each N labelled as the integer it is (no minor labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    fig, ax = plt.subplots(figsize=(6.5, 4.8), constrained_layout=True)
    n = study["n"]
    ax.loglog(n, study["risk_gap"], "o-", label=f"sup_t |R_N − R^δ| (slope {study['risk_slope']:.2f})")
    ax.loglog(n, study["density_gap"], "s-", label=f"sup_t L1 gap (slope {study['density_slope']:.2f})")
    ax.loglog(n, study["output_gap"], "^-", label=f"sup_t L2 output gap (slope {study['output_slope']:.2f})")
    ax.axhline(study["pde_risk_error"], color="grey", ls="--", label="PDE risk error (estimate)")
    ax.loglog(n, study["density_gap"][0] * (n / n[0]) ** -0.5, "k:", label="N^(-1/2)")
    ax.set_xlabel("N (units)")
    ax.set_ylabel("gap, sup over t")
    ax.xaxis.set_major_locator(FixedLocator([float(v) for v in n]))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{int(v)}" for v in n]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_title(f"SGD against the finite-δ PDE: the gaps in N ({len(n)} widths)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def sweep_main(argv: list[str] | None = None) -> int:
    """``fempde-sweep SWEEP.toml``: the cross-checks over a grid of (N, ε, δ, seed) on Dask."""
    parser = argparse.ArgumentParser(prog="fempde-sweep", description=sweep_main.__doc__)
    parser.add_argument("sweep", type=Path, help="the sweep file (see particles/sweep/schema.py or README)")
    parser.add_argument("--out", help="output directory (default: the sweep file's [output] directory)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    parser.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    args = parser.parse_args(argv)
    try:
        if args.workers is not None and args.workers < 1:
            raise SweepError(f"--workers must be >= 1, got {args.workers}")
        sweep = load_sweep(args.sweep)
        if args.out is not None:
            sweep = replace(sweep, directory=writable_directory(out_option(args.out)))
        report = run_sweep(sweep, scheduler=args.scheduler, workers=args.workers)
    except (SweepError, ScenarioError, meshes.MeshError, OSError) as err:
        print(f"fempde-sweep: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nfempde-sweep: interrupted; finished runs are saved. Run the same command again to run the rest.",
              file=sys.stderr)
        return 130
    for row in report["slopes"]:
        fixed = ", ".join(f"{k}={row[k]:g}" for k in ("N", "epsilon", "delta") if k != row["axis"])
        interval = "" if row["note"] else f" [{row['ci95_low']:.3f}, {row['ci95_high']:.3f}]"
        print(f"slope of {row['metric']} in {row['axis']} ({fixed}): {row['slope']:.3f}{interval} "
              f"from {row['points']} runs" + (f" ({row['note']})" if row["note"] else ""))
    out = sweep.directory
    print(f"wrote {out / 'runs.csv'}, {out / 'slopes.csv'}, {out / 'convergence.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
