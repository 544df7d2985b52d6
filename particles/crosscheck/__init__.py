"""One cross-check for every model: SGD of a declared network against its mean-field limit.

:func:`crosscheck` (``particles.crosscheck(model, n, epsilon, t_end, ...)``)
trains the units of any :class:`fempde.model.MeanFieldModel` by the one SGD
engine, for every ``(N, ε, seed)`` of a study, in parallel on Dask; solves the
model's limit once (:func:`fempde.model.limit`), to the accuracy the gaps need;
and measures, at every output time, the gap of each run in every quantity —
the population risk, the Wasserstein distance of the units to the limit's law
(in a declared symmetry's reduced variables), the density on the mesh where
the limit has one, the network's output where the data have a low-dimensional
rule — beside the limit's own error of each. It returns a :class:`CrossCheck`:
sup over ``t > 0`` of every gap per run, the ``t = 0`` gap (the initial
sample) apart, slopes against N and ε with 95 % intervals, and a flag wherever
the limit's error could explain a gap.

Modules, one concept each: :mod:`.study` (the computation), :mod:`.runs` (one
SGD run), :mod:`.outputs` (the shared output times), :mod:`.reference` (the
limit to the needed accuracy), :mod:`.law` (the limit's law in its variables),
:mod:`.gaps` (the quantities), :mod:`.errors` (the limit's error of each),
:mod:`.result` (:class:`CrossCheck`, flags, slopes), :mod:`.summary` (its
words), :mod:`.report` (the files: CSV, PNG, ParaView), :mod:`.cluster` (the
Dask client).
"""

from .cluster import ClusterError, local_cluster, open_client
from .gaps import Quantity
from .report import write
from .result import PDE_ERROR_FRACTION, CrossCheck, Flag, RunGaps, Slope, unresolved
from .runs import RunKey, RunResult, run_generator, sgd_run
from .study import crosscheck

__all__ = [
    "PDE_ERROR_FRACTION", "ClusterError", "CrossCheck", "Flag", "Quantity", "RunGaps", "RunKey", "RunResult", "Slope",
    "crosscheck", "local_cluster", "open_client", "run_generator", "sgd_run", "unresolved", "write",
]
