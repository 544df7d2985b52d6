"""The mean-field problems, each declared by its physics and discretised on a space.

* :mod:`.base` — :class:`EdgeFluxSystem`, the edge-flux gradient flow every
  problem's system is (residual, Jacobian, entropy, fluxes);
* :mod:`.porous_medium` — :class:`PorousMedium`, the δ → 0 viscous
  porous-medium equation of Javanmard–Mondelli–Montanari;
* :mod:`.finite_delta` — :class:`FiniteDeltaPorousMedium`, its finite-δ version;
* :mod:`.distributional` — :class:`DistributionalDynamics` of Mei–Montanari–Nguyen
  on a meshed θ-domain, its data quadrature :class:`DataLaw`, the Gibbs fixed point;
* :mod:`.radial` — the isotropic reduction (:class:`IsotropicGaussians`, :class:`RadialDD`);
* :mod:`.anisotropic` — seed 002's Fig. 3 reduced to (a, b, r1, r2)
  (:class:`AnisotropicGaussians`, :func:`initial_marginals`);
* :mod:`.homogeneous` — Chizat–Bach's 2-homogeneous ReLU unit (:func:`homogeneous_unit`),
  its :class:`Teacher`, the exact circle rule, the smoothed initial sphere (:class:`SphereLaw`);
* :mod:`.neurons` — activations (:class:`Hinges`) and units (:func:`ridge_unit`, :func:`relu_unit`);
* :mod:`.steady` — exact discrete steady states of the porous-medium flow.
"""

from .anisotropic import (
    REDUCED_VARIABLES,
    SERIES_TOLERANCE,
    AnisotropicGaussians,
    InitialLaw,
    direction_moments,
    initial_marginals,
    relu_moments,
)
from .base import EdgeFluxSystem
from .distributional import DataLaw, DistributionalDynamics, DistributionalSystem, gibbs_fixed_point
from .finite_delta import FiniteDeltaPorousMedium, FiniteDeltaSystem
from .homogeneous import (
    CIRCLE_POINTS,
    SphereLaw,
    Teacher,
    circle_rule,
    direction_measure,
    homogeneous_unit,
    relu_kernel,
)
from .neurons import ACTIVATIONS, Hinges, activation, gaussian_nodes, relu_unit, ridge_unit
from .porous_medium import PorousMedium, PorousMediumSystem
from .radial import InteractionFactor, IsotropicGaussians, RadialDD, RadialSystem
from .steady import steady_state

__all__ = [
    "ACTIVATIONS", "CIRCLE_POINTS", "REDUCED_VARIABLES", "SERIES_TOLERANCE", "AnisotropicGaussians", "DataLaw",
    "DistributionalDynamics", "DistributionalSystem", "EdgeFluxSystem", "FiniteDeltaPorousMedium", "FiniteDeltaSystem",
    "Hinges", "InitialLaw", "InteractionFactor", "IsotropicGaussians", "PorousMedium", "PorousMediumSystem", "RadialDD",
    "RadialSystem", "SphereLaw", "Teacher", "activation", "circle_rule", "direction_measure", "direction_moments",
    "gaussian_nodes", "gibbs_fixed_point", "homogeneous_unit", "initial_marginals", "relu_kernel", "relu_moments",
    "relu_unit", "ridge_unit", "steady_state",
]
