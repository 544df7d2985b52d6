"""One declaration of a mean-field model, for the PDE side and the particle side.

:class:`MeanFieldModel` holds everything both sides must agree on: the unit
(:class:`Ridge` ``a σ(⟨w, x⟩ + b)`` with any activation, :class:`Bump` ``K^δ(x − w)``,
:class:`Homogeneous` ``a ReLU(⟨b, x⟩)``), which coordinates train, the data law
(:class:`GaussianMixture`, :func:`gaussian_classes`, :class:`UniformData`,
:class:`TeacherData`, :class:`FiniteData`: a sampler for SGD and a quadrature for
the PDE), λ, β, ξ(t), the initial law (:class:`Gaussian`, :class:`Product`,
:class:`MeshDensity`, :class:`fempde.SphereLaw`), the θ-domain, the declared
symmetry and the scaling. Activations: the hinges, ``"tanh"``, ``"sigmoid"``,
``"erf"`` by name, or a user's own :class:`Compiled` σ, σ'. The papers' networks
are instances (:mod:`.papers`). :func:`population_risk` gives the risk of N
units of a model, exact or with a stated error (:mod:`.risk`), and
:func:`expected_risk` its mean over N units drawn from a weighted law.
"""

from .activations import ACTIVATION_NAMES, Activation, Compiled, Smooth, as_activation
from .data import Data, FiniteData, GaussianMixture, TeacherData, UniformData, gaussian_classes
from .declaration import SCALINGS, SYMMETRIES, MeanFieldModel
from .initial import Gaussian, InitialLaw, MeshDensity, Product, SphereLaw
from .limits import Limit, limit
from .moments import RiskValue
from .papers import chizat_bach, jmm_rbf, lazy_network, mmn_anisotropic, mmn_isotropic
from .risk import expected_risk, population_risk
from .sampling import MeshSampler
from .units import TRAINED, Bump, Homogeneous, Ridge, Unit, UnitKernels

__all__ = [
    "ACTIVATION_NAMES", "SCALINGS", "SYMMETRIES", "TRAINED", "Activation", "Bump", "Compiled", "Data", "FiniteData",
    "Gaussian", "GaussianMixture", "Homogeneous", "InitialLaw", "Limit", "MeanFieldModel", "MeshDensity", "MeshSampler",
    "Product", "Ridge", "RiskValue", "Smooth", "SphereLaw", "TeacherData", "UniformData", "Unit", "UnitKernels",
    "as_activation", "chizat_bach", "expected_risk", "gaussian_classes", "jmm_rbf", "lazy_network", "limit",
    "mmn_anisotropic", "mmn_isotropic", "population_risk",
]
