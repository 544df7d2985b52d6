"""Sweeps of a cross-check over N, ε, seeds and a model parameter, run on Dask.

A sweep file names a ``fempde-crosscheck`` file (any model declared in TOML),
the grid of N, ε and seeds, and optionally a key of that file to sweep
(``parameter = "crosscheck.delta"``, ``"model.data.delta"``, …) over
``values``. Each value is one cross-check (:func:`particles.crosscheck`) of
the whole grid on one Dask client (a local cluster by default, or
``scheduler="tcp://host:8786"``); nothing is hard-coded by model. Results are
stored as each value finishes and the SGD runs checkpoint as they go, so a
sweep started again does only what is missing. The report: ``runs.csv``,
``slopes.csv``, ``convergence.png``.

* :mod:`~particles.sweep.schema` — the sweep file: :class:`Sweep`,
  :func:`load_sweep`, :class:`SweepError`;
* :mod:`~particles.sweep.store` — the finished cross-checks on disk: :class:`ResultStore`;
* :mod:`~particles.sweep.client` — the runs on Dask: :func:`run_sweep`;
* :mod:`~particles.sweep.report` — ``runs.csv``, ``slopes.csv``, ``convergence.png``:
  :func:`write_report`, :func:`fit_slope`.
"""

from .client import run_sweep
from .report import fit_slope, write_report
from .schema import Sweep, SweepError, load_sweep
from .store import ResultStore

__all__ = ["ResultStore", "Sweep", "SweepError", "fit_slope", "load_sweep", "run_sweep", "write_report"]
