"""Scenario files: the TOML schema, its parser, and the formulas in it — a library for every command.

* :mod:`.schema` — the tables and keys (:func:`load_scenario`,
  :func:`parse_scenario` into a :class:`Scenario`), each value checked by
  :mod:`fempde.checks`;
* :mod:`.errors` — :class:`ScenarioError`, which carries the section, key,
  value and line it is about;
* :mod:`.expressions` — formulas from files, parsed into a whitelisted tree;
* :mod:`.output` — the output directory of a run, checked before it starts;
* :mod:`.script` — the command line every example and benchmark script shares
  (``--help``, ``--quick``, ``--out``, progress).

The ``fempde`` command (:mod:`fempde.cli`), the cross-check and its sweeps
(:mod:`particles`) and the examples read scenarios through this package.
"""

from .errors import ScenarioError, located
from .expressions import ExpressionError, Formula, expression
from .output import out_option, writable_directory
from .schema import (
    MAX_OUTPUTS,
    MAX_STEPS,
    Scenario,
    formula_on_mesh,
    integer,
    load_scenario,
    mesh_from_table,
    number,
    parse_scenario,
    schedule_from_table,
)

__all__ = [
    "MAX_OUTPUTS", "MAX_STEPS", "ExpressionError", "Formula", "Scenario", "ScenarioError", "expression",
    "formula_on_mesh", "integer", "load_scenario", "located", "mesh_from_table", "number", "out_option",
    "parse_scenario", "schedule_from_table", "writable_directory",
]
