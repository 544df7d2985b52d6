"""Sweeps over (N, ε, δ, seed) for both cross-checks, run on Dask.

A sweep file (TOML) names the cross-check and the grid::

    [sweep]
    crosscheck = "rbf"          # the porous-medium network; "dd" for the two-layer network
    scenario = "interval.toml"  # rbf: a fempde-crosscheck scenario; its N, epsilon, delta are swept here
    N = [100, 400, 1600]
    epsilon = [1e-5]
    delta = [0.1]               # rbf: the bump width δ; dd: the class separation Δ
    seeds = 4                   # seeds 0..3, or a list

    [dd]                        # dd only (defaults shown)
    d = 40
    activation = "piecewise-linear"
    t_end = 0.5
    outputs = 4
    init_scale = 0.8            # w_i ~ N(0, init_scale² / d I)
    r_max = 3.0                 # the radial domain of the PDE
    quantiles = 4000            # particles of the PDE solved by characteristics

    [output]
    directory = "out/sweep"

One run is one SGD run, ``(N, ε, δ, seed)``, measured against its PDE (the
finite-δ porous-medium PDE, or the radial distributional dynamics solved by
characteristics) by the sup over the output times of each gap (for dd, the
times after 0, where the gap is not the initial sample's alone); a worker
solves each PDE once and keeps it. Each result is written by the client, as
it arrives, to ``runs/<stamp>/<run>.json`` in the output directory
(``<stamp>``: a hash of everything but the grid), so a sweep interrupted and
started again runs only what is missing, and an edited sweep never mixes with
old results. The report: ``runs.csv`` (every run), ``slopes.csv`` (log-log
slopes of each gap in each swept axis, the others fixed, with 95 % confidence
intervals over all seeds' points; ``nan`` bounds and a note where two points
give a slope but no interval) and ``convergence.png``.

Dask: by default a local cluster of worker processes is started in-process
(``workers``, default one per core); ``scheduler="tcp://host:8786"`` uses an
existing cluster instead (its workers need fempde installed; relative mesh
files in an rbf scenario must exist at the same path there).

The modules, one concept each:

* :mod:`~particles.sweep.schema` — the sweep file: :class:`Sweep`,
  :func:`load_sweep`, :class:`SweepError`;
* :mod:`~particles.sweep.tasks` — one run on a worker: :func:`run_one`;
* :mod:`~particles.sweep.store` — the finished runs on disk: :class:`ResultStore`;
* :mod:`~particles.sweep.client` — the Dask client that runs what is missing:
  :func:`run_sweep`;
* :mod:`~particles.sweep.report` — ``runs.csv``, ``slopes.csv``,
  ``convergence.png``: :func:`write_report`, :func:`fit_slope`.
"""

from .client import run_sweep
from .report import fit_slope, write_report
from .schema import Sweep, SweepError, load_sweep
from .store import ResultStore
from .tasks import run_one

__all__ = ["ResultStore", "Sweep", "SweepError", "fit_slope", "load_sweep", "run_one", "run_sweep", "write_report"]
