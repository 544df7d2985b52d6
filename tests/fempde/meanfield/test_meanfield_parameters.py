"""Bad parameters of what the PDE and the SGD share: schedules, β."""

import math

import pytest

import fempde
from fempde.checks import ParameterError


@pytest.mark.parametrize(("call", "name", "value"), [
    (lambda: fempde.PowerLaw(-1.0, 0.5), "schedule parameter xi0", -1.0),
    (lambda: fempde.Constant(0.0), "schedule parameter xi0", 0.0),
    (lambda: fempde.PowerLaw("1"), "schedule parameter xi0", "1"),
    (lambda: fempde.PowerLaw(1.0, True), "schedule parameter alpha", True),
    (lambda: fempde.PowerLaw(1.0, 0.5, -2.0), "schedule parameter t0", -2.0),
])
def test_bad_schedule_parameters_are_named(call, name, value):
    with pytest.raises(ParameterError) as refused:
        call()
    assert (refused.value.name, refused.value.value) == (name, value)


def test_a_schedule_not_integrable_at_zero_is_refused():
    with pytest.raises(ValueError) as refused:
        fempde.PowerLaw(1.0, 1.5)
    assert "integrable" in str(refused.value)


@pytest.mark.parametrize("beta", [0.0, -1.0, math.nan, True, "1"])
def test_beta_is_checked_before_any_division(beta):
    with pytest.raises(ParameterError) as refused:
        fempde.temperature(beta)
    assert refused.value.name == "beta (the inverse temperature)"


def test_beta_inf_is_no_noise():
    assert fempde.temperature(math.inf) == 0.0 and fempde.temperature(4) == 0.25
