"""The two-Gaussian data of Mei–Montanari–Nguyen (2018), one object for every side.

``y = ±1`` equally likely and ``x | y ~ N(0, Σ_y)`` with standard deviation
``1 + yΔ`` along the first ``relevant`` (= s0) coordinates and 1 elsewhere.
The PDE integrates against it (:meth:`fempde.DataLaw.two_gaussians`), the radial
reduction assumes its isotropic case (:class:`fempde.IsotropicGaussians`), and
the SGD samples it (:mod:`particles.dd`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..checks import integer

__all__ = ["GaussianClasses", "check_class_gap", "class_spreads"]

Array = NDArray[np.float64]


def check_class_gap(delta: float) -> float:
    """The class gap Δ must lie in (0, 1) (a class with ``1 − Δ <= 0`` has no spread)."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"Delta (the class gap) must lie in (0, 1), got {delta!r}")
    return float(delta)


def class_spreads(delta: float) -> tuple[float, float]:
    """The standard deviations ``(1 + Δ, 1 − Δ)`` of ``x`` along the relevant subspace
    in class ``y = +1`` and ``y = −1`` (Δ checked)."""
    delta = check_class_gap(delta)
    return 1.0 + delta, 1.0 - delta


@dataclass(frozen=True)
class GaussianClasses:
    """``y = ±1`` equally likely, ``x | y ~ N(0, Σ_y)``: standard deviation
    ``1 + yΔ`` along the first ``relevant`` coordinates (default: all), 1 elsewhere."""

    delta: float
    d: int
    relevant: int | None = None

    def __post_init__(self) -> None:
        check_class_gap(self.delta)
        integer("the dimension d", self.d)
        relevant = self.relevant
        if relevant is not None and (isinstance(relevant, bool) or not (isinstance(relevant, int)
                                                                         and 1 <= relevant <= self.d)):
            raise ValueError(f"relevant (the dimension s0 of the subspace V) must be an integer in [1, d = {self.d}], "
                             f"got {self.relevant!r}")

    @property
    def s0(self) -> int:
        return self.d if self.relevant is None else self.relevant

    def std(self, y: float) -> Array:
        """The per-coordinate standard deviation of ``x`` in class ``y``."""
        if y not in (1, -1):
            raise ValueError(f"y (the class) must be +1 or -1, got {y!r}")
        plus, minus = class_spreads(self.delta)
        out = np.ones(self.d)
        out[: self.s0] = plus if y > 0 else minus
        return out

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        """``n`` draws of ``(x, y)``: ``x`` of shape ``(n, d)``, ``y`` of shape ``(n,)``."""
        y = rng.choice(np.array([-1.0, 1.0]), size=n)
        x = rng.standard_normal((n, self.d))
        plus, minus = class_spreads(self.delta)
        x[:, : self.s0] *= np.where(y > 0, plus, minus)[:, None]
        return x, y
