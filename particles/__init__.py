"""The SGD side of fempde: the RBF network of Javanmard–Mondelli–Montanari
trained by (noisy) SGD on a meshed convex domain, its population risk, and the
domain geometry the particles need. It may import :mod:`fempde`, never the
other way round; the shared constants live in :mod:`fempde.meanfield`.
"""

from .crosscheck import PDE_ERROR_FRACTION, CrossCheck, RBFProblem, Reference, convergence_in_n, crosscheck, reference
from .dd import DDRun, GaussianClasses, Member, Network, dd_ensemble, dd_sgd, population_risk, sample_isotropic
from .domain import ConvexDomain, confine, sample_density
from .measures import deposit, l1_gap, wasserstein
from .rbf import SGDRun, rbf_sgd
from .risk import PopulationRisk

__all__ = [
    "PDE_ERROR_FRACTION",
    "ConvexDomain",
    "CrossCheck",
    "DDRun",
    "GaussianClasses",
    "Member",
    "Network",
    "PopulationRisk",
    "RBFProblem",
    "Reference",
    "SGDRun",
    "confine",
    "convergence_in_n",
    "crosscheck",
    "dd_ensemble",
    "dd_sgd",
    "deposit",
    "l1_gap",
    "population_risk",
    "rbf_sgd",
    "reference",
    "sample_density",
    "sample_isotropic",
    "wasserstein",
]
