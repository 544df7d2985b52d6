"""What the Voronoi-dual transmissibilities cost to set up, against the P1 path.

``fempde.Space(meshes.ball(h))`` finds negative P1 transmissibilities in the
wall layer and takes the Voronoi dual's instead (``meshes.voronoi``): the P1
check runs first either way, then the Delaunay test and the clipped cells. For
each mesh size this prints the nodes, the edges with ``T_ij < 0`` under P1,
the setup of ``Space(mesh, transmissibility="p1", force=True)`` and of
``Space(mesh)`` (best of ``--repeat``, after one warm-up call that loads the
compiled clipping kernel), the Voronoi part alone (``meshes.voronoi_dual``),
the flags that needed clipping, and the edge counts and smallest ``T_ij``
relative to the median of each. ``--mesh box`` does the same on the unit box,
where P1 is admissible and ``transmissibility="voronoi"`` is asked for.

    python benchmarks/voronoi.py [--mesh ball|box] [--h 0.2 0.1 0.07 0.05] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

import fempde
import meshes
from fempde.scenario import script


def best(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = script.parser(__doc__, __file__, "two coarse meshes (h = 0.2, 0.1), one repeat")
    parser.add_argument("--mesh", choices=("ball", "box"), default="ball")
    parser.add_argument("--h", type=float, nargs="+", default=[0.2, 0.1, 0.07, 0.05])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.h, args.repeat = [h for h in args.h if h >= 0.1][:2] or args.h[:1], 1
    with script.report(script.output(args, parser) / f"{args.mesh}.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    make = (lambda h: meshes.ball(h=h)) if args.mesh == "ball" else (lambda h: meshes.box(h=h / 2))
    other = "auto" if args.mesh == "ball" else "voronoi"
    warnings.simplefilter("ignore")  # the forced P1 space warns about its negative T_ij
    fempde.Space(make(0.5), transmissibility="voronoi")  # loads (or compiles, once) the clipping kernel
    print(f"{args.mesh}: setup of Space(mesh, transmissibility='p1', force=True) against "
          f"Space(mesh, transmissibility={other!r}), best of {args.repeat}")
    print(f"{'h':>6} {'nodes':>8} {'P1 T<0':>7} {'P1 s':>7} {'Voronoi s':>10} {'ratio':>6} {'dual s':>7} "
          f"{'edges P1':>9} {'edges V':>9} {'min T/median P1':>16} {'min T/median V':>15}")
    for h in args.h:
        mesh = make(h)
        p1_time, p1 = best(lambda mesh=mesh: fempde.Space(mesh, transmissibility="p1", force=True), args.repeat)
        voronoi_time, voronoi = best(lambda mesh=mesh: fempde.Space(mesh, transmissibility=other), args.repeat)
        dual_time, _ = best(lambda mesh=mesh: meshes.voronoi_dual(mesh), args.repeat)
        assert isinstance(p1, fempde.Space) and isinstance(voronoi, fempde.Space)
        print(f"{h:6.3g} {p1.n:8d} {p1.report.n_bad_edges:7d} {p1_time:7.3f} {voronoi_time:10.3f} "
              f"{voronoi_time / p1_time:6.2f} {dual_time:7.3f} {p1.edges.shape[1]:9d} {voronoi.edges.shape[1]:9d} "
              f"{p1.T.min() / np.median(p1.T):16.3g} {voronoi.T.min() / np.median(voronoi.T):15.3g}", flush=True)


if __name__ == "__main__":
    main()
