"""Formulas from scenario files, such as ``"1.5 * (1 - x**2 - y**2)"``, as
vectorised functions of the node coordinates ``x`` (shape ``(dim, n)``).

Only arithmetic, the coordinate names ``x, y, z, r`` and the numpy functions
listed in :data:`NAMES` are allowed; anything else is refused before evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NAMES", "ExpressionError", "expression"]


class ExpressionError(ValueError):
    """A formula that cannot be evaluated."""


NAMES: dict[str, Any] = {
    "pi": np.pi, "e": np.e, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "arctan": np.arctan, "abs": np.abs,
    "maximum": np.maximum, "minimum": np.minimum, "where": np.where,
}
COORDINATES = ("x", "y", "z", "r")


def expression(text: str, what: str = "expression") -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """Compile ``text`` into ``f(x)``; raises :class:`ExpressionError` naming the problem."""
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise ExpressionError(f"{what} must be a formula in x, y, z, r or a number, got {text!r}")
    source = str(text)
    try:
        code = compile(source, f"<{what}>", "eval")
    except SyntaxError as err:
        raise ExpressionError(f"{what} {source!r} is not a valid formula: {err.msg}") from None
    unknown = sorted(set(code.co_names) - set(NAMES) - set(COORDINATES))
    if unknown:
        raise ExpressionError(
            f"{what} {source!r} uses unknown name(s) {unknown}; allowed: "
            f"{', '.join(COORDINATES)} and {', '.join(sorted(NAMES))}"
        )

    def evaluate(x: NDArray[np.float64]) -> NDArray[np.float64]:
        dim = x.shape[0]
        scope = dict(NAMES)
        for k, name in enumerate(("x", "y", "z")):
            scope[name] = x[k] if k < dim else np.zeros(x.shape[1])
        scope["r"] = np.linalg.norm(x, axis=0)
        with np.errstate(all="ignore"):  # NaN and inf are reported by the caller
            value = eval(code, {"__builtins__": {}}, scope)  # noqa: S307 - names checked above
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (x.shape[1],))

    return evaluate
