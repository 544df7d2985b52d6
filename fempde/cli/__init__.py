"""The command line and its data: ``fempde demo | run | resume | check-mesh``.

* :mod:`.commands` — the commands (:func:`main`) and :func:`run_scenario`;
* :mod:`.scenario` — the TOML scenario schema (:func:`load_scenario`);
* :mod:`.expressions` — formulas from files, parsed into a whitelisted tree.
"""

from .commands import demo_scenario, main, run_scenario
from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioError", "demo_scenario", "load_scenario", "main", "parse_scenario", "run_scenario"]
