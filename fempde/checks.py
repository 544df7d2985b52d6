"""The checks of numeric parameters, written once: every API and every file parser uses them.

Each returns the value converted (``float``, ``int``, a float array) or raises
``ValueError`` naming the parameter, the rule and the value. Booleans are not
numbers, strings are not numbers, and a float parameter is checked with
``isfinite`` before anything else. The scenario parser wraps them to name the
file's section and line (:func:`fempde.cli.scenario.number`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["file_name", "finite_array", "generator", "integer", "number"]


def number(name: str, value: Any, *, positive: bool = False, minimum: float | None = None,
           maximum: float | None = None) -> float:
    """``value`` as a finite float, ``> 0`` if ``positive``, within ``[minimum, maximum]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return float(value)


def integer(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum``); floats, bools and strings refused."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} = {value} is more than the {maximum:,} allowed")
    return int(value)


def finite_array(name: str, value: Any, shape: tuple[int | None, ...] | None = None) -> NDArray[np.float64]:
    """``value`` as a float array, every entry finite, of ``shape`` (``None``: any
    length along that axis) when given; booleans and strings refused."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be an array of numbers, got {array.dtype} values")
    if shape is not None and (array.ndim != len(shape)
                              or any(n is not None and n != m for n, m in zip(shape, array.shape, strict=True))):
        wanted = "(" + ", ".join("any" if n is None else str(n) for n in shape) + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {array.shape}")
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(f"{name} has {bad} non-finite entries (NaN or inf) of {array.size}")
    return array.astype(np.float64)


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
        raise ValueError(f"{name} must be a plain file name (letters, digits, '_', '-', '.'; no '/', no '..', "
                         f"not empty, not starting with '.', at most 200 characters), got {value!r}")
    return value
