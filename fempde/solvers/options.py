"""How the stepper steps: :class:`StepOptions`, validated once on construction.

The options are one value handed to :func:`fempde.solve` (``options=``) and to
:func:`fempde.steps`; every field is checked by :mod:`fempde.checks`, and the
choices of ``scheme`` and ``linear_solver`` are read from :data:`SCHEMES` and
:data:`~fempde.solvers.linalg.LINEAR_SOLVERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import ParameterError, choice, integer, number
from .linalg import LINEAR_SOLVERS
from .schemes import SCHEMES

__all__ = ["DEFAULT_RTOL", "MIN_STEP", "StepOptions"]

DEFAULT_RTOL = 3e-6
"""The default local (per-step) error tolerance, relative: chosen so that a default
run's risk curve is within 1e-3 relative of the same run at a 100× tighter
tolerance (tests/fempde/solvers/test_accuracy.py; the measurement is in
``benchmarks/results/work_precision.txt``)."""

MIN_STEP = 1e-90
"""The smallest step a run may take: the error estimate works with cubes of the
steps, which underflow double precision below about 1e-103 (a run to
``t_end = 1e-300`` would divide by zero there)."""


@dataclass(frozen=True)
class StepOptions:
    """How :func:`~fempde.solvers.stepping.steps` steps (validated on construction).

    Parameters
    ----------
    rtol, atol
        Local (per-step) error tolerances, relative and absolute
        (:mod:`fempde.solvers.milne`; ``atol`` applies to the density per unit
        volume and to the risk). The global error follows from the local ones as
        the flow carries them; ``Result.risk_time_error`` reports its estimate.
        ``rtol=None`` switches the control off: steps then grow by 1.5 after easy
        Newton solves up to ``dt_max`` (with ``dt0 = dt_max``: fixed steps), and
        the error is still estimated and reported.
    dt0, dt_max, dt_min
        First, largest and smallest step (defaults ``1e-4 t_end`` clamped to
        ``[dt_min, dt_max]``, ``t_end/10`` and ``1e-12 t_end``).
    newton_tol, max_newton
        Newton stops when its update, or the residual per lumped mass, is below
        ``newton_tol · max(1, max ρ)``; a step that needs more than
        ``max_newton`` iterations is rejected.
    linear_solver
        One of :data:`~fempde.solvers.linalg.LINEAR_SOLVERS`.
    scheme
        One of :data:`~fempde.solvers.schemes.SCHEMES` (the first, ``"bdf2"``,
        is the default and second order; ``"euler"`` is implicit Euler).
    """

    rtol: float | None = DEFAULT_RTOL
    atol: float = 1e-12
    dt0: float | None = None
    dt_max: float | None = None
    dt_min: float | None = None
    newton_tol: float = 1e-11
    max_newton: int = 25
    linear_solver: str = LINEAR_SOLVERS[0]
    scheme: str = SCHEMES[0]

    def __post_init__(self) -> None:
        if self.rtol is not None:
            number("rtol", self.rtol, positive=True, below=1)  # a relative error
        number("atol", self.atol, minimum=0.0)
        for name in ("dt0", "dt_max", "dt_min"):
            if getattr(self, name) is not None:
                number(name, getattr(self, name), positive=True)
        number("newton_tol", self.newton_tol, positive=True)
        integer("max_newton", self.max_newton)
        choice("scheme", self.scheme, SCHEMES)
        choice("linear_solver", self.linear_solver, LINEAR_SOLVERS)

    def resolved(self, t_end: float) -> tuple[float, float, float]:
        """``(dt0, dt_max, dt_min)`` for a run to ``t_end``: defaults filled in, the
        default ``dt0`` clamped into ``[dt_min, dt_max]``; given values must be ordered."""
        dt_max = self.dt_max if self.dt_max is not None else t_end / 10
        dt_min = self.dt_min if self.dt_min is not None else min(max(1e-12 * t_end, MIN_STEP), dt_max)
        dt0 = self.dt0 if self.dt0 is not None else min(max(1e-4 * t_end, dt_min), dt_max)
        if min(dt_min, dt0) < MIN_STEP:
            given = [name for name in ("dt_min", "dt0") if (getattr(self, name) or MIN_STEP) < MIN_STEP]
            name = given[0] if given else "t_end"
            raise ParameterError(f"steps below {MIN_STEP:g} underflow the error estimate in double precision (t_end = "
                                 f"{t_end!r}: dt0 = {dt0:.3g}, dt_min = {dt_min:.3g}); rescale time so that t_end >= "
                                 f"{MIN_STEP * 1e4:g}", name, getattr(self, name) if given else t_end)
        if not (dt_min <= dt0 <= dt_max):
            name = next((n for n in ("dt0", "dt_max", "dt_min") if getattr(self, n) is not None), "t_end")
            raise ParameterError(f"need dt_min <= dt0 <= dt_max, got {dt_min:.3g}, {dt0:.3g}, {dt_max:.3g} (for "
                                 f"t_end = {t_end!r})", name, getattr(self, name) if name != "t_end" else t_end)
        return float(dt0), float(dt_max), float(dt_min)
