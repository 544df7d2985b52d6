"""The finite-element layer: the P1 space and what lives on its edges.

* :mod:`.space` — :class:`Space`: nodes, lumped masses, edges with their
  stiffness transmissibilities, quadrature;
* :mod:`.transfer` — a P1 function read at the points of another mesh;
* :mod:`.flux` — the two-point edge fluxes (upwind / limited mobility at
  τ = 0, Scharfetter–Gummel at τ > 0) and the compiled residual-and-Jacobian pass;
* :mod:`.kernels` — the bumps ``K^δ`` of the RBF network, and their mirror
  images at the walls of a box (the reflected kernel);
* :mod:`.convolution` — ``K^δ∗`` as a sparse matrix, restricted or reflected;
* :mod:`.jacobian` — a Jacobian with a dense non-local part, kept matrix-free.
"""

from .convolution import kernel_matrix
from .flux import (
    DEFAULT_FLUX,
    MOBILITIES,
    EdgeFlux,
    assemble,
    bernoulli,
    bernoulli_derivative,
    edge_flux,
    mobility_code,
)
from .jacobian import MatrixFreeJacobian
from .kernels import BOUNDARIES, KERNELS, BoxWalls, Kernel, kernel
from .space import NodalFunction, Space, quadrature
from .transfer import p1_at

__all__ = [
    "BOUNDARIES", "DEFAULT_FLUX", "KERNELS", "MOBILITIES", "BoxWalls", "EdgeFlux", "Kernel", "MatrixFreeJacobian",
    "NodalFunction", "Space", "assemble", "bernoulli", "bernoulli_derivative", "edge_flux", "kernel", "kernel_matrix",
    "mobility_code", "p1_at", "quadrature",
]
