"""What a step of the engine sees of the data: ``B`` fresh samples, or the data quadrature.

* ``batch = B`` (an integer, 1 for SGD): ``B`` fresh samples ``(x, y)`` a step
  from the model's data law (``model.data.sample``), each of weight ``1/B``,
  drawn from the run's Generator in fixed blocks of steps
  (:class:`particles.plan.BlockDraws`), so that step ``k``'s batch depends on the
  seed and on ``k`` only;
* ``batch = "full"`` or ``("full", level)``: every step the same points, the
  data quadrature of ``level`` (:meth:`fempde.model.MeanFieldModel.quadrature`,
  default its own level) with its weights and ``E[y | x]`` at the points:
  full-batch gradient descent on the rule the limit is computed with. It draws
  nothing from the Generator.

A feed hands the kernels ``xs`` ``(K, B, d)``, ``ys`` ``(K, B)``, the weights
``(B,)`` and the ``stride`` between the rows of consecutive steps (1, or 0 for
the quadrature: row 0 every step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.checks import integer
from fempde.model import MeanFieldModel

from .plan import BlockDraws

__all__ = ["FULL", "Batch", "Feed", "RuleFeed", "SampleFeed"]

Array = NDArray[np.float64]

FULL = "full"
"""``batch = "full"``: full-batch gradient descent on the data quadrature."""


@dataclass(frozen=True)
class Batch:
    """``size`` fresh samples a step, or (``size`` None) the quadrature of ``level``."""

    size: int | None = 1
    level: int | None = None

    @classmethod
    def of(cls, batch: object) -> Batch:
        """``batch`` as given to :func:`particles.sgd`: ``B >= 1``, ``"full"`` or ``("full", level)``."""
        if isinstance(batch, Batch):
            return batch
        if batch == FULL:
            return cls(None)
        if isinstance(batch, tuple) and len(batch) == 2 and batch[0] == FULL:
            return cls(None, integer("the quadrature level of batch=('full', level)", batch[1]))
        if isinstance(batch, str | tuple):
            raise ValueError(f"batch must be a number of samples >= 1, 'full' or ('full', level), got {batch!r}")
        return cls(integer("batch (samples per step; 'full' for the data quadrature)", batch))

    @property
    def full(self) -> bool:
        return self.size is None

    def describe(self) -> str:
        if self.full:
            return "the data quadrature" + ("" if self.level is None else f" of level {self.level}")
        return "one sample" if self.size == 1 else f"{self.size} samples"

    def feed(self, model: MeanFieldModel, rng: np.random.Generator, start: int = 0) -> Feed:
        """The feed of ``model``'s data for a run from step ``start`` drawing from ``rng``."""
        if self.full:
            return RuleFeed(model, self.level)
        assert self.size is not None
        return SampleFeed(model, self.size, rng, start)


class SampleFeed:
    """``size`` fresh samples a step from ``model.data.sample``, in blocks of steps."""

    stride = 1

    def __init__(self, model: MeanFieldModel, size: int, rng: np.random.Generator, start: int = 0) -> None:
        if not callable(getattr(model.data, "sample", None)):
            raise ValueError(f"the data law of {model.name!r} ({type(model.data).__name__}) has no sampler: "
                             "give batch='full' (its quadrature) or a data law with sample(n, rng)")
        self.data, self.size, self.d = model.data, size, model.data.input_dim
        self.weights = np.full(size, 1.0 / size)
        self.draws = BlockDraws(self._draw, rng, start)

    def _draw(self, steps: int, rng: np.random.Generator) -> tuple[Array, Array]:
        count = steps * self.size
        x, y = self.data.sample(count, rng)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != (count, self.d) or y.shape != (count,):
            raise ValueError(f"the data law's sample({count}, rng) gave x of shape {x.shape} and y of shape "
                             f"{y.shape}, expected ({count}, {self.d}) and ({count},)")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("the data law's sample gave non-finite x or y: SGD needs finite data")
        return x.reshape(steps, self.size, self.d), y.reshape(steps, self.size)

    def take(self, start: int, steps: int) -> tuple[Array, Array]:
        """``xs`` ``(steps, B, d)`` and ``ys`` ``(steps, B)`` of steps ``start ... start + steps − 1``."""
        xs, ys = self.draws.take(start, steps)
        return np.ascontiguousarray(xs), np.ascontiguousarray(ys)

    def resume_state(self) -> Mapping[str, Any]:
        return self.draws.resume_state()


class RuleFeed:
    """The data quadrature of ``level``, the same every step (``stride = 0``)."""

    stride = 0

    def __init__(self, model: MeanFieldModel, level: int | None) -> None:
        rule = model.quadrature(level)
        self.xs = np.ascontiguousarray(rule.points[None, :, :], dtype=np.float64)
        self.ys = np.ascontiguousarray(rule.y_mean[None, :], dtype=np.float64)
        self.weights = np.ascontiguousarray(rule.weights, dtype=np.float64)
        self.rng_state: Mapping[str, Any] | None = None

    def take(self, start: int, steps: int) -> tuple[Array, Array]:
        return self.xs, self.ys

    def resume_state(self) -> Mapping[str, Any] | None:
        return None


Feed = SampleFeed | RuleFeed
