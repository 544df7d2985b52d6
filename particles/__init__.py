"""The SGD side of fempde: the RBF network of Javanmard–Mondelli–Montanari
trained by (noisy) SGD on a meshed convex domain, its population risk, and the
domain geometry the particles need. It may import :mod:`fempde`, never the
other way round; the shared constants live in :mod:`fempde.meanfield`.
"""

from .domain import ConvexDomain, confine
from .rbf import SGDRun, rbf_sgd
from .risk import PopulationRisk

__all__ = ["ConvexDomain", "PopulationRisk", "SGDRun", "confine", "rbf_sgd"]
