"""The public surface: ``fempde.__all__`` is what a user calls, and the names it used to hold still import."""

import importlib
import warnings

import pytest

import fempde


def test_every_public_name_imports_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in fempde.__all__:
            assert getattr(fempde, name) is not None


def test_internals_are_not_public():
    internals = {"EdgeFluxSystem", "PorousMediumSystem", "FiniteDeltaSystem", "DistributionalSystem", "RadialSystem",
                 "Checkpoint", "tensor_rule", "quantiles_of", "Certificates", "SpaceError"}
    assert not internals & set(fempde.__all__)
    assert "solve" in fempde.__all__ and "StepOptions" in fempde.__all__ and "Space" in fempde.__all__


@pytest.mark.parametrize("name", sorted(fempde.MOVED))
def test_a_name_that_moved_still_imports_with_a_deprecation_warning(name):
    with pytest.warns(DeprecationWarning, match=fempde.MOVED[name]):
        old = getattr(fempde, name)
    assert old is getattr(importlib.import_module(fempde.MOVED[name]), name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        fempde.NoSuchThing  # noqa: B018


def test_the_old_scenario_modules_still_import_with_a_deprecation_warning():
    import sys

    import fempde.scenario

    for old in ("fempde.cli.scenario", "fempde.cli.expressions"):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match="fempde.scenario"):
            module = importlib.import_module(old)
        assert all(getattr(module, name) is not None for name in module.__all__)
    from fempde.cli.scenario import ScenarioError, load_scenario

    assert ScenarioError is fempde.scenario.ScenarioError and load_scenario is fempde.scenario.load_scenario
    with pytest.warns(DeprecationWarning):
        from fempde.cli import Scenario  # noqa: F401


def test_the_old_stepping_names_still_import():
    from fempde.solvers.stepping import (  # noqa: F401
        DEFAULT_RTOL,
        SCHEMES,
        ConvergenceError,
        GradientFlowSystem,
        Step,
        StepOptions,
        StepperState,
        milne_factor,
        steps,
    )

    assert StepOptions is fempde.StepOptions and Step is fempde.Step


def test_dead_fields_are_gone():
    assert "local_error" not in {f.name for f in __import__("dataclasses").fields(fempde.Step)}
    assert not hasattr(fempde.RunInfo, "start_index") and not hasattr(fempde.RunInfo, "t_start")
