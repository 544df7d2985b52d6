"""The mean-field limit of a declared model, by the solver accurate for it, with its error.

:func:`limit` (also :func:`fempde.model.limit`) takes a
:class:`~fempde.model.MeanFieldModel` and output times and returns a
:class:`Limit`: the risk there, the law (densities on a mesh, weighted points,
or the lazy limit's outputs) and the estimated error of the risk curve part by
part (time stepping, space, data quadrature, initial quadrature) with their
total. ``method="auto"`` chooses (:func:`choose_method`): the kernel flow for
the lazy scaling, a declared symmetry's reduction, the porous-medium PDE for
the RBF network, weighted points for a noiseless flow, finite elements on the
θ-domain otherwise. Levels not given are chosen by the estimate, so that a
default call is within its ``accuracy`` (default 1 %) of converged and says
what it chose.

Modules: :mod:`.choose` (the call), :mod:`.result` (what it returns),
:mod:`.refine` (levels chosen by the estimate), :mod:`.mesh` (limits on a mesh),
:mod:`.flows` (point flows), :mod:`.homogeneous` (2-homogeneous units: rays,
``b = 0``, the exact circle field), :mod:`.kernel` (the lazy limit).
"""

from .choose import METHODS, PART_SHARE, choose_method, limit
from .kernel import KernelFlow
from .result import DEFAULT_ACCURACY, PARTS, RISK_FLOOR, ErrorPart, KernelLaw, Limit, MeshLaw, PointLaw, risk_scale

__all__ = [
    "DEFAULT_ACCURACY", "METHODS", "PARTS", "PART_SHARE", "RISK_FLOOR", "ErrorPart", "KernelFlow", "KernelLaw",
    "Limit", "MeshLaw", "PointLaw", "choose_method", "limit", "risk_scale",
]
