"""Scenario files (TOML): a mesh, a problem, an initial density, run settings.

.. code-block:: toml

    [mesh]
    domain = "disk"          # interval | rectangle | disk | polygon | ball | box | file
    radius = 1.0
    h = 0.05                 # meshes of more than meshes.MAX_NODES nodes also need allow_large = true
    # domain = "file" reads file = "mesh.msh"; fine_file = "fine.msh" (the same domain at about h/2)
    # is the second mesh of estimate_space_error, which a generated mesh makes itself

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
    estimate_space_error = false   # true: also solve on a mesh twice as fine and report the spatial error
    checkpoint_every = 60.0  # seconds of wall time between checkpoints (0: every step)

    [output]
    directory = "out/disk"

Every key is checked: a misspelt one is an error that lists the valid keys,
and every value's type (``true`` and ``"1"`` are not numbers, numbers must be
finite, names must be strings among the listed ones), by :mod:`fempde.checks`;
every list of choices is read from its constant (:data:`~fempde.solvers.schemes.SCHEMES`,
:data:`~fempde.solvers.linalg.LINEAR_SOLVERS`, :data:`~fempde.fem.flux.MOBILITIES`).
Formulas are checked by :mod:`fempde.scenario.expressions` and evaluated at the mesh nodes on
load, so a formula that is not finite somewhere (or a negative ``rho0``) is
reported with its key. Runs that would not fit are refused before they start:
more than :data:`MAX_OUTPUTS` output times, or more than :data:`MAX_STEPS` steps
of ``dt_max``. Every refusal is a :class:`~fempde.scenario.errors.ScenarioError`
that carries its section, key and value; errors from :func:`load_scenario` also
carry the line and the file.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from skfem import Mesh

import meshes

from .. import checks
from ..bounded import FileFormatError, load_toml
from ..fem.flux import DEFAULT_FLUX, MOBILITIES
from ..meanfield.schedule import Constant, PowerLaw, Schedule
from ..problems.porous_medium import PorousMedium
from ..solvers.linalg import LINEAR_SOLVERS
from ..solvers.options import StepOptions
from ..solvers.schemes import SCHEMES
from .errors import ScenarioError
from .expressions import ExpressionError, Formula, expression

__all__ = ["MAX_OUTPUTS", "MAX_STEPS", "Scenario", "choice", "flag", "formula_on_mesh", "integer", "load_scenario",
           "mesh_from_table", "number", "parse_scenario", "schedule_from_table", "text", "unknown_keys"]

MAX_OUTPUTS = 100_000  # output times of one run (each writes a .vtu frame)
MAX_STEPS = 10_000_000  # t_end / dt_max: the fewest steps a run can take


_DOMAINS: dict[str, Callable[..., Mesh]] = {
    "interval": meshes.interval,
    "rectangle": meshes.rectangle,
    "disk": meshes.disk,
    "polygon": meshes.polygon,
    "ball": meshes.ball,
    "box": meshes.box,
}
_SECTIONS = {
    "mesh": {"domain", "force", "file", "fine_file"},  # and a generator's parameters (numbers, lists, allow_large)
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
    fine_mesh: Mesh | None = None  # [mesh] fine_file: the second mesh of the spatial estimate, for a loaded mesh


# -- one key's value, by fempde.checks, refused as a ScenarioError naming its section and key ---------------------


def _checked(check: Callable[..., Any], section: str, key: str, value: Any, **rules: Any) -> Any:
    try:
        return check(f"[{section}] {key}", value, **rules)
    except checks.ParameterError as err:
        raise ScenarioError(str(err), section=section, key=key, value=value) from None


def number(section: str, key: str, value: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    """``value`` of ``[section] key`` by :func:`fempde.checks.number`."""
    return float(_checked(checks.number, section, key, value, positive=positive, minimum=minimum))


def integer(section: str, key: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` of ``[section] key`` by :func:`fempde.checks.integer`."""
    return int(_checked(checks.integer, section, key, value, minimum=minimum, maximum=maximum))


def flag(section: str, key: str, value: Any) -> bool:
    """``value`` of ``[section] key`` by :func:`fempde.checks.flag`."""
    return bool(_checked(checks.flag, section, key, value))


def choice(section: str, key: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` of ``[section] key`` by :func:`fempde.checks.choice`."""
    return str(_checked(checks.choice, section, key, value, choices=choices))


def text(section: str, key: str, value: Any) -> str:
    """``value`` of ``[section] key`` by :func:`fempde.checks.text`."""
    return str(_checked(checks.text, section, key, value))


def unknown_keys(section: str, table: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse the first key of ``table`` not in ``allowed``, listing the valid ones."""
    extra = sorted(set(table) - allowed)
    if extra:
        raise ScenarioError(f"unknown key {extra[0]!r} in [{section}]; valid keys: {', '.join(sorted(allowed))}",
                            section=None if section == "top level" else section, key=extra[0])


def _coordinates(key: str, value: Any, like: Any) -> list[Any]:
    """A list of numbers, or of lists of numbers (``vertices``), as TOML gives them;
    as many numbers as the generator's default ``like`` has, when it has one."""
    def ok(item: Any) -> bool:
        if isinstance(item, list):
            return bool(item) and all(ok(v) for v in item)
        return not isinstance(item, bool) and isinstance(item, (int, float)) and bool(np.isfinite(item))

    if not isinstance(value, list) or not ok(value):
        raise ScenarioError(f"[mesh] {key} must be a list of finite numbers (or of [x, y] pairs), got {value!r}",
                            section="mesh", key=key, value=value)
    if isinstance(like, tuple) and (len(value) != len(like) or any(isinstance(v, list) for v in value)):
        raise ScenarioError(f"[mesh] {key} must be {len(like)} numbers, got {value!r}", section="mesh", key=key,
                            value=value)
    return value


# -- the tables ------------------------------------------------------------------------------------------------


def mesh_from_table(table: dict[str, Any], base: Path) -> tuple[Mesh, bool, Mesh | None]:
    """The mesh of a ``[mesh]`` table (a generator and its parameters, or a file relative to
    ``base``), its ``force`` flag, and the second mesh of the spatial estimate (``fine_file``) if given."""
    table = dict(table)
    domain = table.pop("domain", None)
    force = flag("mesh", "force", table.pop("force", False))
    if domain == "file":
        unknown_keys("mesh", table, {"file", "fine_file"})
        if "file" not in table:
            raise ScenarioError("[mesh] domain = 'file' needs file = 'path/to/mesh'", section="mesh", key="domain")
        fine = _loaded(base, "fine_file", table["fine_file"]) if "fine_file" in table else None
        return _loaded(base, "file", table["file"]), force, fine
    if "fine_file" in table:
        raise ScenarioError("[mesh] fine_file is the second mesh of a loaded mesh (domain = 'file'); a generated "
                            "mesh makes its own at h/2: remove fine_file", section="mesh", key="fine_file",
                            value=table["fine_file"])
    return _generated(domain, table), force, None


def _loaded(base: Path, key: str, value: Any) -> Mesh:
    try:
        return meshes.load(base / text("mesh", key, value))
    except meshes.MeshError as err:
        raise ScenarioError(f"[mesh] {key} = {value!r}: {err}", section="mesh", key=key, value=value) from None


def _generated(domain: Any, table: dict[str, Any]) -> Mesh:
    generator = _DOMAINS[choice("mesh", "domain", domain, [*_DOMAINS, "file"])]
    parameters = inspect.signature(generator).parameters
    unknown_keys("mesh", table, set(parameters))
    arguments: dict[str, Any] = {}
    for key, value in table.items():
        if key == "allow_large":
            arguments[key] = flag("mesh", key, value)
        elif isinstance(value, list):
            arguments[key] = _coordinates(key, value, parameters[key].default)
        else:  # a size checked here, so that its key and line are named
            arguments[key] = number("mesh", key, value, positive=key in ("h", "radius"))
    try:
        return generator(**arguments)
    except meshes.MeshError as err:  # the generator names the parameter it refused: that key's line
        named = err.parameter if err.parameter in table else None
        raise ScenarioError(f"[mesh] {err}", section="mesh", key=named,
                            value=table[named] if named is not None else None) from None


def formula_on_mesh(section: str, key: str, value: Any, mesh: Mesh, *, density: bool = False) -> Formula:
    """The formula ``value``, checked and evaluated at the mesh nodes: finite there,
    and (a ``density``) not negative."""
    what = f"[{section}] {key}"
    try:
        formula = expression(value, what)
    except ExpressionError as err:
        raise ScenarioError(str(err), section=section, key=key, value=value) from None
    x = np.asarray(mesh.p, dtype=np.float64)
    values = formula(x)
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ScenarioError(f"{what} = {formula.source!r} is not finite at {int(bad.sum())} of {values.size} nodes, "
                            f"first at x = {x[:, k].tolist()} (value {values[k]})", section=section, key=key,
                            value=value)
    if density and values.min() < 0:
        k = int(np.argmin(values))
        raise ScenarioError(f"{what} = {formula.source!r} is negative at {int((values < 0).sum())} of {values.size} "
                            f"nodes (min {values[k]:.3g} at x = {x[:, k].tolist()}); a density must be >= 0",
                            section=section, key=key, value=value)
    return formula


def schedule_from_table(value: Any, section: str = "problem") -> Schedule:
    """The schedule ξ(t) of the inline table ``schedule = { kind = …, … }`` of ``[section]``."""
    if not isinstance(value, dict):
        raise ScenarioError(f"[{section}] schedule must be a table like {{ kind = 'constant', xi0 = 1.0 }}, "
                            f"got {value!r}", section=section, key="schedule", value=value)
    table = dict(value)
    inline = f"{section}.schedule"
    kind = choice(inline, "kind", table.pop("kind", "constant"), list(_SCHEDULES))
    cls = _SCHEDULES[kind]
    unknown_keys(inline, table, set(inspect.signature(cls).parameters))
    try:
        schedule: Schedule = cls(**{k: number(inline, k, v) for k, v in table.items()})
    except ValueError as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"[{section}] schedule: {err}", section=section, key="schedule", value=value) from None
    return schedule


def _problem(table: dict[str, Any], mesh: Mesh) -> PorousMedium:
    unknown_keys("problem", table, _SECTIONS["problem"])
    if "target" not in table:
        raise ScenarioError("[problem] needs target = 'formula in x, y, z, r'", section="problem", key="target")
    target = formula_on_mesh("problem", "target", table["target"], mesh)
    tau = number("problem", "tau", table.get("tau", 0.0), minimum=0.0)
    schedule = schedule_from_table(table.get("schedule", {"kind": "constant"}))
    try:
        return PorousMedium(target=target, tau=tau, schedule=schedule)
    except ValueError as err:
        raise ScenarioError(f"[problem] {err}", section="problem") from None


def _options(run: dict[str, Any], t_end: float) -> StepOptions:
    stepping: dict[str, Any] = {k: number("run", k, run[k], positive=True) for k in ("dt0", "dt_max", "rtol")
                                if k in run}
    if "dt_max" in stepping and t_end / stepping["dt_max"] > MAX_STEPS:
        raise ScenarioError(f"[run] dt_max = {stepping['dt_max']!r} needs at least {t_end / stepping['dt_max']:.3g} "
                            f"steps to reach t_end = {t_end!r}, more than {MAX_STEPS:,}; raise dt_max or lower t_end",
                            section="run", key="dt_max", value=run["dt_max"])
    if "atol" in run:
        stepping["atol"] = number("run", "atol", run["atol"], minimum=0.0)
    for key, choices in (("scheme", SCHEMES), ("linear_solver", LINEAR_SOLVERS)):
        if key in run:
            stepping[key] = choice("run", key, run[key], choices)
    try:
        options = StepOptions(**stepping)
        options.resolved(t_end)  # the steps it gives for this t_end: ordered, and not too small
    except checks.ParameterError as err:
        raise ScenarioError(f"[run] {err}", section="run", key=err.name, value=err.value) from None
    except ValueError as err:
        raise ScenarioError(f"[run] {err}", section="run") from None
    return options


def _flux(run: dict[str, Any], problem: PorousMedium) -> str:
    """The τ = 0 mobility; another than the default is refused with τ > 0, where it has no effect."""
    flux = choice("run", "flux", run.get("flux", DEFAULT_FLUX), MOBILITIES)
    if flux != DEFAULT_FLUX and problem.tau > 0:
        raise ScenarioError(f"[run] flux = {flux!r} chooses the mobility of tau = 0, but [problem] tau = "
                            f"{problem.tau!r} > 0 uses the Scharfetter–Gummel flux; remove flux", section="run",
                            key="flux", value=flux)
    return flux


def parse_scenario(data: dict[str, Any], *, name: str = "scenario", base: Path = Path(".")) -> Scenario:
    """Build a :class:`Scenario` from the TOML tables; relative paths are taken from ``base``."""
    unknown_keys("top level", data, set(_SECTIONS))
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ScenarioError(f"[{section}] must be a table", key=section, value=table)
    for required in ("mesh", "problem", "run"):
        if required not in data:
            raise ScenarioError(f"scenario {name} has no [{required}] section", key=required)
    mesh, force, fine_mesh = mesh_from_table(data["mesh"], base)
    problem = _problem(data["problem"], mesh)

    initial = data.get("initial", {})
    unknown_keys("initial", initial, _SECTIONS["initial"])
    rho0: Any = initial.get("rho0", "uniform")
    if rho0 != "uniform":
        rho0 = formula_on_mesh("initial", "rho0", rho0, mesh, density=True)
    normalize = flag("initial", "normalize", initial.get("normalize", False))

    run = data["run"]
    unknown_keys("run", run, _SECTIONS["run"])
    if "t_end" not in run:
        raise ScenarioError("[run] needs t_end, the final time", section="run", key="t_end")
    t_end = number("run", "t_end", run["t_end"], positive=True)
    outputs = integer("run", "outputs", run.get("outputs", 20))
    if outputs > MAX_OUTPUTS:
        raise ScenarioError(f"[run] outputs = {outputs} would write {outputs} frames; at most {MAX_OUTPUTS:,}",
                            section="run", key="outputs", value=outputs)
    options = _options(run, t_end)
    flux = _flux(run, problem)
    estimate = flag("run", "estimate_space_error", run.get("estimate_space_error", False))

    output = data.get("output", {})
    unknown_keys("output", output, _SECTIONS["output"])
    directory = text("output", "directory", output.get("directory", f"out/{name}"))
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
        output_name=str(_checked(checks.file_name, "output", "name", output.get("name", "rho"))),
        fine_mesh=fine_mesh,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file: bounded in size and nesting before it is parsed
    (:func:`fempde.bounded.load_toml`; a UTF-8 byte-order mark is allowed)."""
    path = Path(path)
    try:
        file = load_toml(path, "scenario file")
    except FileFormatError as err:
        if err.line is None:
            raise ScenarioError(str(err)) from None
        raise ScenarioError(f"the scenario file {err.problem}", line=err.line, source=str(path)) from None
    try:
        scenario = parse_scenario(file.data, name=path.stem, base=path.parent)
    except ScenarioError as err:
        raise err.located(file.text, str(path)) from None
    return replace(scenario, source_sha256=hashlib.sha256(file.raw).hexdigest())
