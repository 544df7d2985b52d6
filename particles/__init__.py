"""The SGD side of fempde.

* :func:`sgd` and :func:`ensemble` (:mod:`.engine`): one SGD engine for every
  :class:`fempde.model.MeanFieldModel` — compiled kernels (:mod:`.kernels`),
  batches (:mod:`.batch`), exact resume (:mod:`.state`), the step-size
  estimate (:mod:`.stability`, :class:`StepSizeWarning`);
* what the networks of the papers (declared in :mod:`fempde.model.papers`) need
  beside the engine: the two-layer networks of Mei–Montanari–Nguyen (:mod:`.dd`,
  their reduced variables :mod:`.reduced`, ensembles on a device :mod:`.gpu`),
  the recovery of Chizat–Bach's teacher (:mod:`.teacher`), lazy against
  mean-field training (:mod:`.lazy`);
* their population risks and the domain geometry the particles need;
* :func:`crosscheck` (:mod:`.crosscheck`): any declared model's SGD against its
  mean-field limit, in parallel on Dask, with its writers and the sweeps on it.

It may import :mod:`fempde`, never the other way round; the shared constants
live in :mod:`fempde.meanfield`.
"""

from .crosscheck import PDE_ERROR_FRACTION, CrossCheck, crosscheck
from .dd import DDRun, GaussianClasses, Network, population_risk, sample_isotropic
from .domain import ConvexDomain, confine, sample_density
from .engine import Member, Run, ensemble, sgd
from .lazy import GDRun, KernelFlow, TrainingSet, TwoLayer, gradient_descent, learning_rate, output_scale
from .measures import cloud_distance, deposit, l1_gap, transport, wasserstein
from .noise import draw_key, normals
from .reduced import ReducedSGD, marginal_w1, reduced_variables
from .risk import PopulationRisk
from .stability import StepSizeWarning
from .teacher import RECOVERY_THRESHOLD, Recovery, circle_w1, recovery_fraction, recovery_mass, recovery_w1

__all__ = [
    "PDE_ERROR_FRACTION",
    "RECOVERY_THRESHOLD",
    "ConvexDomain",
    "CrossCheck",
    "DDRun",
    "GDRun",
    "GaussianClasses",
    "KernelFlow",
    "Member",
    "Network",
    "PopulationRisk",
    "Recovery",
    "ReducedSGD",
    "Run",
    "StepSizeWarning",
    "TrainingSet",
    "TwoLayer",
    "circle_w1",
    "cloud_distance",
    "confine",
    "crosscheck",
    "deposit",
    "draw_key",
    "ensemble",
    "gradient_descent",
    "l1_gap",
    "learning_rate",
    "marginal_w1",
    "normals",
    "output_scale",
    "population_risk",
    "recovery_fraction",
    "recovery_mass",
    "recovery_w1",
    "reduced_variables",
    "sample_density",
    "sample_isotropic",
    "sgd",
    "transport",
    "wasserstein",
]
