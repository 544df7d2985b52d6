"""Deprecated: the scenario schema moved to :mod:`fempde.scenario`; import it from there.

This module re-exports its names for one release.
"""

import warnings

from ..scenario.errors import ScenarioError, located
from ..scenario.output import out_option, writable_directory
from ..scenario.schema import MAX_OUTPUTS, MAX_STEPS, Scenario, integer, load_scenario, number, parse_scenario

__all__ = ["MAX_OUTPUTS", "MAX_STEPS", "Scenario", "ScenarioError", "integer", "load_scenario", "located", "number",
           "out_option", "parse_scenario", "writable_directory"]

warnings.warn("fempde.scenario moved to fempde.scenario; import it from there", DeprecationWarning, stacklevel=2)
