"""Scenario files (TOML): a mesh, a problem, an initial density, run settings.

```toml
[mesh]
domain = "disk"          # interval | rectangle | disk | polygon | ball | box | file
radius = 1.0
h = 0.05                 # meshes of more than meshes.MAX_NODES nodes also need allow_large = true

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
rtol = 3e-6              # local time-error tolerance (the default); smaller is more accurate
flux = "limited"         # the τ = 0 mobility: "limited" (default, second order) or "upwind"
estimate_space_error = false   # true: also solve on the refined mesh and report the spatial error
checkpoint_every = 60.0  # seconds of wall time between checkpoints (0: every step)

[output]
directory = "out/disk"
```
Every key is checked: a misspelt one is an error that lists the valid keys,
and every value's type (``true`` and ``"1"`` are not numbers, numbers must be
finite, names must be strings among the listed ones). Formulas are checked by
:mod:`.expressions` and evaluated at the mesh nodes on load, so a formula that
is not finite somewhere (or a negative ``rho0``) is reported with its key.
Runs that would not fit are refused before they start: more than
:data:`MAX_OUTPUTS` output times, or more than :data:`MAX_STEPS` steps of
``dt_max``. Errors from :func:`load_scenario` end with the line of the key.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

import meshes

from .. import checks
from ..fem.flux import DEFAULT_FLUX, MOBILITIES
from ..meanfield.schedule import Constant, PowerLaw, Schedule
from ..problems.porous_medium import PorousMedium
from ..solvers.linalg import LINEAR_SOLVERS
from ..solvers.stepping import SCHEMES, StepOptions
from .expressions import ExpressionError, Formula, expression

__all__ = ["MAX_OUTPUTS", "MAX_STEPS", "Scenario", "ScenarioError", "integer", "load_scenario", "located", "number",
           "out_option", "parse_scenario", "writable_directory"]

MAX_OUTPUTS = 100_000  # output times of one run (each writes a .vtu frame)
MAX_STEPS = 10_000_000  # t_end / dt_max: the fewest steps a run can take


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the key (and, once
    :func:`located`, the line and the file: ``where`` is then set)."""

    where: str | None = None


_DOMAINS: dict[str, Callable[..., Mesh]] = {
    "interval": meshes.interval,
    "rectangle": meshes.rectangle,
    "disk": meshes.disk,
    "polygon": meshes.polygon,
    "ball": meshes.ball,
    "box": meshes.box,
}
_SECTIONS = {
    "mesh": {"domain", "force", "file"},  # plus the generator's own parameters (numbers, coordinates, allow_large)
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
    source_sha256: str = ""  # of the scenario file's text (:func:`load_scenario`); "" when parsed from a table


def _unknown(section: str, table: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ScenarioError(
            f"unknown key {extra[0]!r} in [{section}]; valid keys: {', '.join(sorted(allowed))}"
        )


def number(section: str, key: str, value: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    """``value`` of ``[section] key`` by :func:`fempde.checks.number`, as a :class:`ScenarioError`."""
    try:
        return checks.number(f"[{section}] {key}", value, positive=positive, minimum=minimum)
    except ValueError as err:
        raise ScenarioError(str(err)) from None


def integer(section: str, key: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` of ``[section] key`` by :func:`fempde.checks.integer`, as a :class:`ScenarioError`."""
    try:
        return checks.integer(f"[{section}] {key}", value, minimum=minimum, maximum=maximum)
    except ValueError as err:
        raise ScenarioError(str(err)) from None


def _flag(section: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"[{section}] {key} must be true or false, got {value!r}")
    return value


def _choice(section: str, key: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ScenarioError(f"[{section}] {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _text(section: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"[{section}] {key} must be a non-empty string, got {value!r}")
    return value


def _coordinates(key: str, value: Any) -> list[Any]:
    """A list of numbers, or of lists of numbers (``vertices``), as TOML gives them."""
    def ok(item: Any) -> bool:
        if isinstance(item, list):
            return bool(item) and all(ok(v) for v in item)
        return not isinstance(item, bool) and isinstance(item, (int, float)) and bool(np.isfinite(item))

    if not isinstance(value, list) or not ok(value):
        raise ScenarioError(f"[mesh] {key} must be a list of finite numbers (or of [x, y] pairs), got {value!r}")
    return value


def _mesh(table: dict[str, Any], base: Path) -> tuple[Mesh, bool]:
    table = dict(table)
    domain = table.pop("domain", None)
    force = _flag("mesh", "force", table.pop("force", False))
    if domain == "file":
        _unknown("mesh", table, {"file"})
        if "file" not in table:
            raise ScenarioError("[mesh] domain = 'file' needs file = 'path/to/mesh'")
        try:
            return meshes.load(base / _text("mesh", "file", table["file"])), force
        except meshes.MeshError as err:
            raise ScenarioError(f"[mesh] file = {table['file']!r}: {err}") from None
    choices = [*_DOMAINS, "file"]
    generator = _DOMAINS[_choice("mesh", "domain", domain, choices)]
    _unknown("mesh", table, set(inspect.signature(generator).parameters))
    arguments: dict[str, Any] = {}
    for key, value in table.items():
        if key == "allow_large":
            arguments[key] = _flag("mesh", key, value)
        elif isinstance(value, list):
            arguments[key] = _coordinates(key, value)
        else:
            arguments[key] = number("mesh", key, value)
    try:
        return generator(**arguments), force
    except meshes.MeshError as err:
        raise ScenarioError(f"[mesh] {err}") from None


def _formula(section: str, key: str, value: Any, mesh: Mesh, *, density: bool = False) -> Formula:
    """The formula ``value``, checked and evaluated at the mesh nodes: finite there,
    and (a ``density``) not negative."""
    what = f"[{section}] {key}"
    try:
        formula = expression(value, what)
    except ExpressionError as err:
        raise ScenarioError(str(err)) from None
    x = np.asarray(mesh.p, dtype=np.float64)
    values = formula(x)
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ScenarioError(f"{what} = {formula.source!r} is not finite at {int(bad.sum())} of {values.size} nodes, "
                            f"first at x = {x[:, k].tolist()} (value {values[k]})")
    if density and values.min() < 0:
        k = int(np.argmin(values))
        raise ScenarioError(f"{what} = {formula.source!r} is negative at {int((values < 0).sum())} of {values.size} "
                            f"nodes (min {values[k]:.3g} at x = {x[:, k].tolist()}); a density must be >= 0")
    return formula


def _schedule(value: Any) -> Schedule:
    if not isinstance(value, dict):
        raise ScenarioError(
            f"[problem] schedule must be a table like {{ kind = 'constant', xi0 = 1.0 }}, got {value!r}"
        )
    table = dict(value)
    kind = table.pop("kind", "constant")
    if not isinstance(kind, str) or kind not in _SCHEDULES:
        raise ScenarioError(f"[problem] schedule kind must be one of {', '.join(_SCHEDULES)}, got {kind!r}")
    cls = _SCHEDULES[kind]
    _unknown("problem.schedule", table, set(inspect.signature(cls).parameters))
    try:
        schedule: Schedule = cls(**{k: number("problem.schedule", k, v) for k, v in table.items()})
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
    target = _formula("problem", "target", problem_table["target"], mesh)
    tau = number("problem", "tau", problem_table.get("tau", 0.0), minimum=0.0)
    schedule = _schedule(problem_table.get("schedule", {"kind": "constant"}))
    try:
        problem = PorousMedium(target=target, tau=tau, schedule=schedule)
    except ValueError as err:
        raise ScenarioError(f"[problem] {err}") from None

    initial = data.get("initial", {})
    _unknown("initial", initial, _SECTIONS["initial"])
    rho0: Any = initial.get("rho0", "uniform")
    if rho0 != "uniform":
        rho0 = _formula("initial", "rho0", rho0, mesh, density=True)
    normalize = _flag("initial", "normalize", initial.get("normalize", False))

    run = data["run"]
    _unknown("run", run, _SECTIONS["run"])
    if "t_end" not in run:
        raise ScenarioError("[run] needs t_end, the final time")
    t_end = number("run", "t_end", run["t_end"], positive=True)
    outputs = integer("run", "outputs", run.get("outputs", 20))
    if outputs > MAX_OUTPUTS:
        raise ScenarioError(f"[run] outputs = {outputs} would write {outputs} frames; at most {MAX_OUTPUTS:,}")
    stepping: dict[str, Any] = {k: number("run", k, run[k], positive=True) for k in ("dt0", "dt_max", "rtol")
                                if k in run}
    if "dt_max" in stepping and t_end / stepping["dt_max"] > MAX_STEPS:
        raise ScenarioError(f"[run] dt_max = {stepping['dt_max']!r} needs at least {t_end / stepping['dt_max']:.3g} "
                            f"steps to reach t_end = {t_end!r}, more than {MAX_STEPS:,}; raise dt_max or lower t_end")
    if "atol" in run:
        stepping["atol"] = number("run", "atol", run["atol"], minimum=0.0)
    for key, choices in (("scheme", SCHEMES), ("linear_solver", LINEAR_SOLVERS)):
        if key in run:
            stepping[key] = _choice("run", key, run[key], tuple(choices))
    try:
        options = StepOptions(**stepping)
    except ValueError as err:
        raise ScenarioError(f"[run] {err}") from None
    flux = _choice("run", "flux", run.get("flux", DEFAULT_FLUX), tuple(MOBILITIES))
    estimate = _flag("run", "estimate_space_error", run.get("estimate_space_error", False))

    output = data.get("output", {})
    _unknown("output", output, _SECTIONS["output"])
    directory = _text("output", "directory", output.get("directory", f"out/{name}"))
    return Scenario(
        name=name,
        mesh=mesh,
        force=force,
        problem=problem,
        rho0=rho0,
        normalize=normalize,
        t_end=t_end,
        times=tuple(np.linspace(0.0, t_end, outputs + 1)[1:].tolist()),
        steady_tol=number("run", "steady_tol", run.get("steady_tol", 0.0), minimum=0.0),
        checkpoint_every=number("run", "checkpoint_every", run.get("checkpoint_every", 60.0), minimum=0.0),
        options=options,
        flux=flux,
        estimate_space_error=estimate,
        directory=Path(directory),
        output_name=output_name("[output] name", output.get("name", "rho")),
    )


def output_name(what: str, value: Any) -> str:
    """``value`` by :func:`fempde.checks.file_name`, as a :class:`ScenarioError`."""
    try:
        return checks.file_name(what, value)
    except ValueError as err:
        raise ScenarioError(str(err)) from None


def out_option(out: str) -> Path:
    """The directory of an ``--out`` option; an empty one is refused (it would mean the current directory)."""
    if not out.strip():
        raise ScenarioError(f"--out must name a directory, got {out!r}")
    return Path(out)


def writable_directory(directory: Path) -> Path:
    """``directory``, created if missing, after a probe file was written there;
    else :class:`ScenarioError` saying why (a file in the way, no permission)."""
    if directory.exists() and not directory.is_dir():
        raise ScenarioError(f"output directory {directory} is a file; give a directory (--out DIR)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".fempde-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ScenarioError(f"output directory {directory} is not writable: {err.strerror or err}") from None
    return directory


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    if path.is_dir():
        raise ScenarioError(f"scenario file {path} is a directory, not a TOML file")
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist")
    try:
        source = path.read_bytes()
        text = source.decode("utf-8")
    except OSError as err:
        raise ScenarioError(f"scenario file {path} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file {path} is not a UTF-8 text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path} is not valid TOML: {err}") from None
    try:
        scenario = parse_scenario(data, name=path.stem, base=path.parent)
    except ScenarioError as err:
        raise located(err, text, str(path)) from None
    return replace(scenario, source_sha256=hashlib.sha256(source).hexdigest())


def located(err: ScenarioError, text: str, where: str) -> ScenarioError:
    """``err`` with the line of ``text`` it is about and the file's name ``where``
    appended (``err`` itself if it already names its file)."""
    if err.where is not None:
        return err
    line = locate(text, str(err))
    out = ScenarioError(f"{err} (line {line} of {where})" if line else f"{err} ({where})")
    out.where = where
    return out


def locate(text: str, message: str) -> int | None:
    """The line of the scenario text that an error message is about: the key it
    names in the section it names, or the section itself for a missing key."""
    found = (re.search(r"unknown key '([\w-]+)' in \[([\w.]+)\]", message)
             or re.search(r"^\[([\w.]+)\] (?:needs )?([\w-]+)", message))
    if found is None:
        return None
    key, section = (found.group(1), found.group(2)) if message.startswith("unknown") else found.group(2, 1)
    section, _, inline = section.partition(".")  # [problem.schedule] is the inline table schedule of [problem]
    key = inline or key
    current, header = "", None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.split("#")[0].strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped.strip("[] ")
            header = number if current == section else header
        elif current == section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return header
