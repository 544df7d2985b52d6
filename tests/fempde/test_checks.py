"""The shared parameter checks: what they accept, what they refuse and how they say it."""

import math

import numpy as np
import pytest

from fempde.checks import finite_array, integer, number


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (True, {}, "x must be a number, got True"),
    ("1", {}, "x must be a number, got '1'"),
    (None, {}, "x must be a number, got None"),
    (math.nan, {}, "x must be a finite number, got nan"),
    (-math.inf, {}, "x must be a finite number, got -inf"),
    (0.0, {"positive": True}, r"x must be > 0, got 0.0"),
    (-1, {"minimum": 0.0}, r"x must be >= 0.0, got -1"),
    (2.5, {"maximum": 2.0}, r"x must be <= 2.0, got 2.5"),
])
def test_number_refuses(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        number("x", value, **kwargs)


def test_number_accepts_ints_and_numpy_scalars():
    assert number("x", 3) == 3.0 and isinstance(number("x", np.float32(0.5)), float)
    assert number("x", np.int64(2), positive=True) == 2.0


@pytest.mark.parametrize(("value", "message"), [
    (0, "m must be an integer >= 1, got 0"),
    (2.0, "m must be an integer >= 1, got 2.0"),
    (True, "m must be an integer >= 1, got True"),
    ("3", "m must be an integer >= 1, got '3'"),
    (10**9, "m = 1000000000 is more than the 1,000 allowed"),
])
def test_integer_refuses(value, message):
    with pytest.raises(ValueError, match=message):
        integer("m", value, maximum=1000)


def test_integer_accepts_numpy_integers():
    assert integer("m", np.int32(7)) == 7 and type(integer("m", np.int32(7))) is int


@pytest.mark.parametrize(("value", "shape", "message"), [
    ([[1.0, np.nan], [np.inf, 0.0]], None, r"w has 2 non-finite entries \(NaN or inf\) of 4"),
    ([True, False], None, "w must be an array of numbers, got bool values"),
    (["a"], None, "w must be an array of numbers, got <U1 values"),
    (np.zeros((3, 2)), (None, 3), r"w must have shape \(any, 3\), got \(3, 2\)"),
    (np.zeros(3), (None, 3), r"w must have shape \(any, 3\), got \(3,\)"),
])
def test_finite_array_refuses(value, shape, message):
    with pytest.raises(ValueError, match=message):
        finite_array("w", value, shape)


def test_finite_array_converts_to_float():
    out = finite_array("w", [[1, 2, 3]], (None, 3))
    assert out.dtype == np.float64 and out.shape == (1, 3)
