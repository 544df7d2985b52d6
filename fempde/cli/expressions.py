"""Deprecated: formulas moved to :mod:`fempde.scenario.expressions`; import them from there.

This module re-exports its names for one release.
"""

import warnings

from ..scenario.expressions import (
    CONSTANTS,
    COORDINATES,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    ExpressionError,
    Formula,
    expression,
)

__all__ = ["CONSTANTS", "COORDINATES", "FUNCTIONS", "MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "ExpressionError",
           "Formula", "expression"]

warnings.warn("fempde.scenario.expressions moved to fempde.scenario.expressions; import it from there",
              DeprecationWarning, stacklevel=2)
