"""The checks of parameters, written once: every API and every file parser uses them.

Each returns the value converted (``float``, ``int``, a float array, ...) or
raises :class:`ParameterError` (a ``ValueError``) naming the parameter, the
rule and the value, and carrying the name and the value as fields, so that a
caller can say where the value came from (the scenario parser adds the file's
section, key and line: :mod:`fempde.scenario`) and a test can ask which
parameter was refused without reading the message. Booleans are not numbers,
strings are not numbers, and a float parameter is checked with ``isfinite``
before anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ParameterError", "choice", "file_name", "finite_array", "flag", "generator", "integer", "number", "text",
    "weighted_points",
]


class ParameterError(ValueError):
    """A parameter refused by a check: ``name`` says which, ``value`` what it was."""

    def __init__(self, message: str, name: str, value: Any) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


def number(name: str, value: Any, *, positive: bool = False, minimum: float | None = None,
           maximum: float | None = None, below: float | None = None, infinite: bool = False) -> float:
    """``value`` as a float, ``> 0`` if ``positive``, within ``[minimum, maximum]``,
    ``< below``; finite unless ``infinite`` accepts ``+inf`` (β = ∞: no noise)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ParameterError(f"{name} must be a number, got {value!r}", name, value)
    if not (math.isfinite(value) or (infinite and value == math.inf)):
        raise ParameterError(f"{name} must be a finite number, got {value!r}", name, value)
    if positive and value <= 0:
        raise ParameterError(f"{name} must be > 0, got {value!r}", name, value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value!r}", name, value)
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum}, got {value!r}", name, value)
    if below is not None and value >= below:
        raise ParameterError(f"{name} must be < {below}, got {value!r}", name, value)
    return float(value)


def integer(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum``); floats, bools and strings refused."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}", name, value)
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} = {value} is more than the {maximum:,} allowed", name, value)
    return int(value)


def choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices`` (read from the constant that lists them)."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}", name, value)
    return value


def flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0, 1 or ``"yes"``)."""
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be true or false, got {value!r}", name, value)
    return bool(value)


def text(name: str, value: Any) -> str:
    """``value`` if it is a string with something in it."""
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{name} must be a non-empty string, got {value!r}", name, value)
    return value


def finite_array(name: str, value: Any, shape: tuple[int | None, ...] | None = None) -> NDArray[np.float64]:
    """``value`` as a float array, every entry finite, of ``shape`` (``None``: any
    length along that axis) when given; booleans and strings refused."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ParameterError(f"{name} must be an array of numbers, got {array.dtype} values", name, value)
    if shape is not None and (array.ndim != len(shape)
                              or any(n is not None and n != m for n, m in zip(shape, array.shape, strict=True))):
        wanted = "(" + ", ".join("any" if n is None else str(n) for n in shape) + ")"
        raise ParameterError(f"{name} must have shape {wanted}, got {array.shape}", name, value)
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ParameterError(f"{name} has {bad} non-finite entries (NaN or inf) of {array.size}", name, value)
    return array.astype(np.float64)


def weighted_points(points: Any, weights: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validated copies of a law of weighted points: ``points`` finite ``(M, D)``,
    ``weights`` ``(M,)`` finite, ``>= 0`` and of total mass 1 (to 1e-12)."""
    x = np.array(points, dtype=np.float64)
    w = np.array(weights, dtype=np.float64)
    if x.ndim != 2 or len(x) < 1:
        raise ParameterError(f"points must have shape (M >= 1, D), got {x.shape}", "points", points)
    if not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise ParameterError(f"points must be finite; point {bad} is {x[bad].tolist()}", "points", points)
    if w.ndim == 0:
        raise ParameterError(f"weights must hold M = {len(x)} finite numbers, got the scalar {float(w)!r}",
                             "weights", weights)
    if w.shape != (len(x),) or not np.all(np.isfinite(w)):
        raise ParameterError(f"weights must hold M = {len(x)} finite numbers, got shape {w.shape}", "weights", weights)
    if np.any(w < 0):
        bad = int(np.argmin(w))
        raise ParameterError(f"weights must be >= 0 (a law), got weights[{bad}] = {float(w[bad])!r}",
                             "weights", weights)
    if abs(w.sum() - 1.0) > 1e-12:
        raise ParameterError(f"weights must sum to 1 (a probability law), got {float(w.sum())!r}: divide by their sum",
                             "weights", weights)
    return x, w


def generator(name: str, rng: object) -> np.random.Generator:
    """``rng`` if it is a ``numpy.random.Generator`` (every random draw goes through
    one), else a TypeError naming ``name``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}: "
                        "make one with numpy.random.default_rng(seed)")
    return rng


def file_name(name: str, value: Any) -> str:
    """``value`` if it is a plain file name: letters, digits, ``_ - .``, not
    starting with a dot, no ``..`` (so that no output lands outside its directory)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}", value) or ".." in value:
        raise ParameterError(f"{name} must be a plain file name (letters, digits, '_', '-', '.'; no '/', no '..', "
                             f"not empty, not starting with '.', at most 200 characters), got {value!r}", name, value)
    return value
