"""Scenario files (TOML): a mesh, a problem, an initial density, run settings.

```toml
[mesh]
domain = "disk"          # interval | rectangle | disk | polygon | ball | box | file
radius = 1.0
h = 0.05

[problem]
target = "0.95 * (1 - x**2 - y**2)"   # a formula in x, y, z, r
tau = 0.01
schedule = { kind = "constant", xi0 = 1.0 }   # or { kind = "power", xi0, alpha, t0 }

[initial]
rho0 = "uniform"         # or a formula; normalize = true rescales it to mass 1

[run]
t_end = 5.0
outputs = 20             # evenly spaced output times
steady_tol = 1e-9        # stop at a steady state (0: never)
scheme = "bdf2"          # the default, second order in time; or "euler" (implicit Euler)
rtol = 1e-4              # local time-error tolerance (the default); smaller is more accurate
flux = "limited"         # the τ = 0 mobility: "limited" (default, second order) or "upwind"
estimate_space_error = false   # true: also solve on the refined mesh and report the spatial error
checkpoint_every = 60.0  # seconds of wall time between checkpoints (0: every step)

[output]
directory = "out/disk"
```
Every key is checked: a misspelt one is an error that lists the valid keys.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

import meshes

from ..fem.flux import MOBILITIES
from ..meanfield.schedule import Constant, PowerLaw, Schedule
from ..problems.porous_medium import PorousMedium
from ..solvers.stepping import SCHEMES, StepOptions
from .expressions import expression

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the key."""


_DOMAINS: dict[str, Callable[..., Mesh]] = {
    "interval": meshes.interval,
    "rectangle": meshes.rectangle,
    "disk": meshes.disk,
    "polygon": meshes.polygon,
    "ball": meshes.ball,
    "box": meshes.box,
}
_SECTIONS = {
    "mesh": {"domain", "force", "file"},  # plus the generator's own parameters
    "problem": {"target", "tau", "schedule"},
    "initial": {"rho0", "normalize"},
    "run": {"t_end", "outputs", "steady_tol", "dt0", "dt_max", "scheme", "linear_solver", "checkpoint_every",
            "rtol", "atol", "flux", "estimate_space_error"},
    "output": {"directory", "name"},
}
_SCHEDULES: dict[str, type] = {"constant": Constant, "power": PowerLaw}


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: everything :func:`fempde.solve` needs."""

    name: str
    mesh: Mesh
    force: bool
    problem: PorousMedium
    rho0: Any
    normalize: bool
    t_end: float
    times: tuple[float, ...]
    steady_tol: float
    checkpoint_every: float
    options: StepOptions
    flux: str
    estimate_space_error: bool
    directory: Path
    output_name: str


def _unknown(section: str, table: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ScenarioError(
            f"unknown key {extra[0]!r} in [{section}]; valid keys: {', '.join(sorted(allowed))}"
        )


def _number(section: str, key: str, value: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ScenarioError(f"[{section}] {key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"[{section}] {key} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"[{section}] {key} must be >= {minimum}, got {value!r}")
    return float(value)


def _mesh(table: dict[str, Any], base: Path) -> tuple[Mesh, bool]:
    table = dict(table)
    domain = table.pop("domain", None)
    force = table.pop("force", False)
    if not isinstance(force, bool):
        raise ScenarioError(f"[mesh] force must be true or false, got {force!r}")
    if domain == "file":
        _unknown("mesh", table, {"file"})
        if "file" not in table:
            raise ScenarioError("[mesh] domain = 'file' needs file = 'path/to/mesh'")
        return meshes.load(base / str(table["file"])), force
    if domain not in _DOMAINS:
        raise ScenarioError(f"[mesh] domain must be one of {', '.join([*_DOMAINS, 'file'])}, got {domain!r}")
    generator = _DOMAINS[domain]
    _unknown("mesh", table, set(inspect.signature(generator).parameters))
    return generator(**table), force


def _schedule(value: Any) -> Schedule:
    if not isinstance(value, dict):
        raise ScenarioError(
            f"[problem] schedule must be a table like {{ kind = 'constant', xi0 = 1.0 }}, got {value!r}"
        )
    table = dict(value)
    kind = table.pop("kind", "constant")
    if kind not in _SCHEDULES:
        raise ScenarioError(f"[problem] schedule kind must be one of {', '.join(_SCHEDULES)}, got {kind!r}")
    cls = _SCHEDULES[kind]
    _unknown("problem.schedule", table, set(inspect.signature(cls).parameters))
    try:
        schedule: Schedule = cls(**{k: _number("problem.schedule", k, v) for k, v in table.items()})
    except ValueError as err:
        raise ScenarioError(f"[problem] schedule: {err}") from None
    return schedule


def parse_scenario(data: dict[str, Any], *, name: str = "scenario", base: Path = Path(".")) -> Scenario:
    """Build a :class:`Scenario` from the TOML tables; relative paths are taken from ``base``."""
    _unknown("top level", data, set(_SECTIONS))
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ScenarioError(f"[{section}] must be a table")
    for required in ("mesh", "problem", "run"):
        if required not in data:
            raise ScenarioError(f"scenario {name} has no [{required}] section")
    mesh, force = _mesh(data["mesh"], base)

    problem_table = data["problem"]
    _unknown("problem", problem_table, _SECTIONS["problem"])
    if "target" not in problem_table:
        raise ScenarioError("[problem] needs target = 'formula in x, y, z, r'")
    try:
        problem = PorousMedium(
            target=expression(problem_table["target"], "target"),
            tau=_number("problem", "tau", problem_table.get("tau", 0.0), minimum=0.0),
            schedule=_schedule(problem_table.get("schedule", {"kind": "constant"})),
        )
    except ValueError as err:
        raise ScenarioError(str(err)) from None

    initial = data.get("initial", {})
    _unknown("initial", initial, _SECTIONS["initial"])
    rho0: Any = initial.get("rho0", "uniform")
    if rho0 != "uniform":
        rho0 = expression(rho0, "rho0")
    normalize = initial.get("normalize", False)
    if not isinstance(normalize, bool):
        raise ScenarioError(f"[initial] normalize must be true or false, got {normalize!r}")

    run = data["run"]
    _unknown("run", run, _SECTIONS["run"])
    if "t_end" not in run:
        raise ScenarioError("[run] needs t_end, the final time")
    t_end = _number("run", "t_end", run["t_end"], positive=True)
    outputs = run.get("outputs", 20)
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise ScenarioError(f"[run] outputs must be a positive integer, got {outputs!r}")
    stepping: dict[str, Any] = {k: _number("run", k, run[k], positive=True) for k in ("dt0", "dt_max", "rtol")
                                if k in run}
    if "atol" in run:
        stepping["atol"] = _number("run", "atol", run["atol"], minimum=0.0)
    for key, choices in (("scheme", SCHEMES), ("linear_solver", ("auto", "direct", "amg"))):
        if key in run:
            if run[key] not in choices:
                raise ScenarioError(f"[run] {key} must be one of {', '.join(map(repr, choices))}, got {run[key]!r}")
            stepping[key] = run[key]
    try:
        options = StepOptions(**stepping)
    except ValueError as err:
        raise ScenarioError(f"[run] {err}") from None
    flux = run.get("flux", MOBILITIES[0])
    if flux not in MOBILITIES:
        raise ScenarioError(f"[run] flux must be one of {', '.join(map(repr, MOBILITIES))}, got {flux!r}")
    estimate = run.get("estimate_space_error", False)
    if not isinstance(estimate, bool):
        raise ScenarioError(f"[run] estimate_space_error must be true or false, got {estimate!r}")

    output = data.get("output", {})
    _unknown("output", output, _SECTIONS["output"])
    return Scenario(
        name=name,
        mesh=mesh,
        force=force,
        problem=problem,
        rho0=rho0,
        normalize=normalize,
        t_end=t_end,
        times=tuple(np.linspace(0.0, t_end, outputs + 1)[1:].tolist()),
        steady_tol=_number("run", "steady_tol", run.get("steady_tol", 0.0), minimum=0.0),
        checkpoint_every=_number("run", "checkpoint_every", run.get("checkpoint_every", 60.0), minimum=0.0),
        options=options,
        flux=flux,
        estimate_space_error=estimate,
        directory=Path(output.get("directory", f"out/{name}")),
        output_name=str(output.get("name", "rho")),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist")
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path} is not valid TOML: {err}") from None
    try:
        return parse_scenario(data, name=path.stem, base=path.parent)
    except ScenarioError as err:
        line = locate(text, str(err))
        raise ScenarioError(f"{err} (line {line} of {path})" if line else f"{err} ({path})") from None


def locate(text: str, message: str) -> int | None:
    """The line of the scenario text that an error message is about: the key it
    names in the section it names, or the section itself for a missing key."""
    import re

    found = (re.search(r"unknown key '([\w-]+)' in \[([\w.]+)\]", message)
             or re.search(r"^\[([\w.]+)\] (?:needs )?([\w-]+)", message))
    if found is None:
        return None
    key, section = (found.group(1), found.group(2)) if message.startswith("unknown") else found.group(2, 1)
    section = section.split(".")[0]  # [problem.schedule] is an inline table of [problem]
    current, header = "", None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped.strip("[] ")
            header = number if current == section else header
        elif current == section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
        elif current == section and key == "schedule" and stripped.startswith("schedule"):
            return number
    return header
