"""Bad parameters of the problems: refused on construction, naming the parameter and its value."""

import math

import numpy as np
import pytest

import fempde
from fempde.checks import ParameterError


@pytest.mark.parametrize(("kwargs", "name", "value"), [
    ({"tau": -0.1}, "tau (the viscosity)", -0.1),
    ({"tau": math.nan}, "tau (the viscosity)", math.nan),
    ({"tau": True}, "tau (the viscosity)", True),
])
def test_bad_viscosity_is_named(kwargs, name, value):
    with pytest.raises(ParameterError) as refused:
        fempde.PorousMedium(**{"target": 1.0, **kwargs})
    assert refused.value.name == name
    assert refused.value.value == value or (math.isnan(value) and math.isnan(refused.value.value))


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"schedule": 1.0}, ("schedule", "xi(t)")),
    ({"target": "x**2"}, ("target", "callable")),
])
def test_arguments_of_the_wrong_kind_are_type_errors(kwargs, words):
    with pytest.raises(TypeError) as refused:
        fempde.PorousMedium(**{"target": 1.0, **kwargs})
    assert all(word in str(refused.value) for word in words)


@pytest.mark.parametrize(("kwargs", "name", "value"), [
    ({"delta": 0.0}, "delta (the bump width)", 0.0),
    ({"delta": -1.0}, "delta (the bump width)", -1.0),
    ({"kernel": "box"}, "kernel", "box"),
    ({"boundary": "mirrored"}, "boundary (how a bump meets the wall)", "mirrored"),
])
def test_bad_finite_delta_problems(kwargs, name, value):
    with pytest.raises(ParameterError) as refused:
        fempde.FiniteDeltaPorousMedium(lambda x: 1.0 + 0 * x[0], **kwargs)
    assert (refused.value.name, refused.value.value) == (name, value)


def _unit(x, theta):
    return np.tanh(theta @ x.T)


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"beta": 0.0}, ParameterError, "beta (the inverse temperature)"),
    ({"beta": -1.0}, ParameterError, "beta (the inverse temperature)"),
    ({"lam": -0.1}, ParameterError, "lam (the ridge penalty λ)"),
    ({"lam": math.inf}, ParameterError, "lam (the ridge penalty λ)"),
    ({"unit": "relu"}, TypeError, None),
])
def test_bad_dd_problems(kwargs, error, name):
    data = fempde.DataLaw.two_gaussians(delta=0.5, d=2, points=4)
    with pytest.raises(error) as refused:
        fempde.DistributionalDynamics(**{"unit": _unit, "data": data, **kwargs})
    if name is not None:
        assert refused.value.name == name
    else:
        assert "unit" in str(refused.value)


def test_noiseless_dd_takes_beta_inf():
    data = fempde.DataLaw.two_gaussians(delta=0.5, d=2, points=4)
    assert fempde.DistributionalDynamics(_unit, data, beta=math.inf).beta == math.inf
