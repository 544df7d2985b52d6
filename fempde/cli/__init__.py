"""The command line: ``fempde demo | run | resume | check-mesh`` (:mod:`.commands`).

The scenario files it reads are :mod:`fempde.scenario`'s.
"""

import warnings
from typing import Any

from .commands import demo_scenario, main, run_scenario

__all__ = ["demo_scenario", "main", "run_scenario"]

_MOVED = ("Scenario", "ScenarioError", "load_scenario", "parse_scenario")  # to fempde.scenario


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from .. import scenario

        warnings.warn(f"fempde.cli.{name} moved to fempde.scenario.{name}", DeprecationWarning, stacklevel=2)
        return getattr(scenario, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
