"""The viscous porous-medium flow on the unit disk, from Python.

An RBF network's centres start uniform and move towards a concave target
``f``; with ``tau > 0`` they settle on ``ρ + τ|Ω| log ρ = f + c``. Writes a
ParaView series, a CSV history and PNGs into ``out/disk_porous_medium`` and checks
the result against the exact steady state (Javanmard–Mondelli–Montanari 2020's
δ → 0 limit, solved directly: there is no network to train here).

    python examples/disk_porous_medium.py [--quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

import fempde
import meshes
from fempde.scenario import script


def main(h: float = 0.04, t_end: float = 10.0, out: str = "out/disk_porous_medium",
         progress: bool = True) -> fempde.Result:
    mesh = meshes.disk(radius=1.0, h=h)
    problem = fempde.PorousMedium(
        target=lambda x: 1.2 * (1 - 0.8 * ((x[0] - 0.3) ** 2 + (x[1] - 0.1) ** 2)),
        tau=0.01,
        schedule=fempde.PowerLaw(xi0=1.0, alpha=0.25),
    )
    observers: list[fempde.Observer] = [
        fempde.VTKWriter(out),
        fempde.CSVWriter(f"{out}/history.csv"),
        fempde.PlotWriter(out, title="porous-medium flow on the disk"),
        fempde.SteadyState(tol=1e-10),
    ]
    if progress:
        observers.append(fempde.ProgressBar("disk"))
    result = fempde.solve(problem, mesh, "uniform", t_end, observers, times=np.linspace(0, t_end, 41)[1:])
    exact = fempde.steady_state(problem, result.space)
    print(result.certificates.describe())
    print(f"stopped at t = {result.t:.4g} ({result.stop_reason}); "
          f"max |rho - steady state| = {np.abs(result.rho - exact).max():.2e}")
    return result


if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, "a coarse disk (h = 0.1), t = 1 (seconds)")
    args = parser.parse_args()
    out = str(script.output(args, parser))
    if args.quick:
        main(h=0.1, t_end=1.0, out=out)
    else:
        main(out=out)
