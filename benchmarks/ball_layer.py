"""Is the layer next to the sphere what makes the ball's AMG iterations grow?

``meshes.ball`` is a BCC lattice (no obtuse dihedral angles) inside and a
Delaunay layer against the sphere, where some edges have negative
transmissibilities and some tetrahedra are slivers. For each mesh size this
prints, on the P1 stiffness matrix plus a lumped mass (``A = ½ K + M / 0.05``,
the shape of fempde's Jacobians; the box for comparison):

* the layer: the edges with ``T_ij < 0`` and the largest ``|T_ij|`` among them
  against the median ``|T_ij|``, the worst tetrahedron's quality (volume against
  a regular one of the same longest edge: 1 regular, 0 flat), the tetrahedra
  below quality 0.02, and the largest ``|T_ij|`` of all against the median;
* fempde's solver (plain aggregation, K-cycle in FGMRES, rtol 1e-6) on ``A`` and
  on ``A`` with the negative transmissibilities dropped (``K_ij > 0`` set to 0,
  the diagonal adjusted so that the rows still sum to zero): if the layer's
  negative transmissibilities slowed the solver, dropping them would help;
* the convergence factor of the cycle alone as a stationary iteration (energy
  norm, after 12 cycles from a random start), and the share of the slowest
  error's energy on the nodes within 5 % of the wall against their share of the nodes.

    python benchmarks/ball_layer.py [--mesh ball|box] [--h 0.0796 0.0398 0.0254]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
import skfem
from amg import compiled as iterations  # FGMRES to rtol 1e-6 with a given hierarchy: its iteration count
from scaling import space_for  # the meshes of scaling.py
from skfem.helpers import dot, grad

import meshes
from fempde.scenario import script
from fempde.solvers.linalg import LinearSolver


@skfem.BilinearForm
def stiffness(u: skfem.DiscreteField, v: skfem.DiscreteField, _: skfem.DiscreteField) -> skfem.DiscreteField:
    return dot(grad(u), grad(v))


def quality(points: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Volume over the volume of a regular tetrahedron with the same longest edge."""
    volume = np.abs(meshes.signed_volumes(points, tets))
    longest = np.max([np.linalg.norm(points[:, tets[a]] - points[:, tets[b]], axis=0)
                      for a, b in ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))], axis=0)
    return volume / (longest**3 * np.sqrt(2) / 12)


def main() -> None:
    parser = script.parser(__doc__, __file__, "the coarsest mesh only (h = 0.0796)")
    parser.add_argument("--mesh", choices=["ball", "box"], default="ball")
    parser.add_argument("--h", type=float, nargs="+", default=[0.0796, 0.0398, 0.0254])
    args = parser.parse_args()
    if args.quick:
        args.h = args.h[:1]
    with script.report(script.output(args, parser) / f"{args.mesh}.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    build = LinearSolver("amg", dim=3)._hierarchy  # fempde's 3-D hierarchy
    print(f"{args.mesh}: {'nodes':>8} {'T<0 edges':>10} {'T<0 max':>8} {'worst q':>8} {'q<0.02':>7} {'max|T|':>10} "
          f"{'its':>4} {'its, T<0 dropped':>16} {'factor':>7} {'wall energy':>11} {'wall nodes':>10}")
    for h in args.h:
        mesh = space_for(args.mesh, h).mesh
        basis = skfem.Basis(mesh, skfem.ElementTetP1())
        k = stiffness.assemble(basis).tocsr()
        lumped = sp.diags(np.asarray(skfem.BilinearForm(lambda u, v, _: u * v).assemble(basis).sum(axis=1)).ravel())
        upper = sp.triu(k, 1).tocoo()
        median = np.median(np.abs(upper.data))
        negative = upper.data > 1e-14 * median  # K_ij > 0: T_ij < 0
        dropped = sp.coo_matrix((upper.data[negative], (upper.row[negative], upper.col[negative])), shape=k.shape)
        dropped = (dropped + dropped.T).tocsr()
        clipped = k - dropped + sp.diags(np.asarray(dropped.sum(axis=1)).ravel())
        a, a_clipped = ((0.5 * m + lumped / 0.05).tocsr() for m in (k, clipped))
        q = quality(mesh.p, mesh.t)
        rhs = np.random.default_rng(0).standard_normal(a.shape[0])
        hierarchy = build(a)
        error = np.random.default_rng(1).standard_normal(a.shape[0])
        factor = 0.0
        for _ in range(12):
            new = error - hierarchy.cycle(a @ error)
            factor = np.sqrt(new @ (a @ new) / (error @ (a @ error)))
            error = new / np.sqrt(new @ (a @ new))
        energy = error**2 * a.diagonal()
        distance = 1 - (np.linalg.norm(mesh.p, axis=0) if args.mesh == "ball" else np.abs(mesh.p).max(axis=0))
        wall = distance < 0.05
        counts = iterations(a, rhs, hierarchy), iterations(a_clipped, rhs, build(a_clipped))
        print(f"{'':{len(args.mesh) + 2}}{a.shape[0]:>8d} {int(negative.sum()):>10d} "
              f"{upper.data[negative].max(initial=0.0) / median:>8.1f} {q.min():>8.1e} "
              f"{int((q < 0.02).sum()):>7d} {np.abs(upper.data).max() / median:>10.1f} {counts[0]:>4d} "
              f"{counts[1]:>16d} {factor:>7.3f} {energy[wall].sum() / energy.sum():>11.2f} "
              f"{wall.mean():>10.2f}", flush=True)


if __name__ == "__main__":
    main()
