"""Cross-check files: a model declared in TOML and its ``[crosscheck]`` table.

A file declares the model by :mod:`fempde.model.toml` (``[model]``,
``[model.data]``, ``[model.initial]``, ``[mesh]``) and the study::

    [crosscheck]
    N = [250, 1000, 4000]   # units: one, or a list (a study in N)
    epsilon = 1e-3          # SGD step: one, or a list (a study in ε)
    seeds = 3               # a count, or a list of seeds
    t_end = 2.0
    outputs = 10            # evenly spaced output times after 0, or a list of times
    batch = 1               # samples per step, or "full"
    accuracy = 1e-3         # the limit's relative accuracy (default: set from the gaps)
    method = "auto"         # the limit's method (fempde.model.limits.METHODS)
    entropy = 0             # the SeedSequence every run's Generator is spawned from
    checkpoint_every = 60   # seconds between SGD checkpoints (0: every chunk)

    [output]
    directory = "out/my-check"

The RBF files of Javanmard–Mondelli–Montanari's network written before the
model tables (``[mesh]``, ``[problem]`` with ``target``, ``tau`` and
``schedule``, ``[initial]``, ``[run]`` with ``t_end`` and ``outputs``, and
``[crosscheck]`` with ``delta``, ``kernel``, ``boundary`` (``"restricted"``, or
``"reflected"``: the bumps' mirror images at the walls of a box) and ``label_noise``
beside the study's keys) are read as :func:`fempde.model.jmm_rbf`. Both ``fempde-crosscheck``
and ``fempde-sweep`` read files here; errors are
:class:`fempde.scenario.ScenarioError` with the section, key and line.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fempde.fem.kernels import BOUNDARIES, BoxWalls
from fempde.model import MeanFieldModel, jmm_rbf
from fempde.model.limits import METHODS, choose_method
from fempde.model.toml import model_from_tables
from fempde.scenario import ScenarioError, integer, located, number, parse_scenario
from fempde.scenario.schema import choice, text, unknown_keys

__all__ = ["CROSSCHECK_KEYS", "LEGACY_KEYS", "MAX_LABEL_NOISE", "MAX_PARTICLES", "MAX_RECORD_BYTES", "MAX_SEEDS",
           "MAX_SGD_STEPS", "CrossCheckFile", "load_crosscheck", "parse_crosscheck", "with_value"]

CROSSCHECK_KEYS = frozenset({"N", "epsilon", "seeds", "t_end", "outputs", "batch", "accuracy", "method", "entropy",
                             "checkpoint_every"})
"""The keys of ``[crosscheck]`` in a file with a ``[model]``."""
LEGACY_KEYS = frozenset({"N", "delta", "kernel", "boundary", "epsilon", "seeds", "label_noise", "checkpoint_every"})
"""The keys of ``[crosscheck]`` in an RBF file without ``[model]`` (its t_end and outputs are in ``[run]``)."""
MAX_PARTICLES = 10**7  # units of one SGD run
MAX_SGD_STEPS = 10**9  # t_end / epsilon: at ~10^5 steps/s, hours per run
MAX_RECORD_BYTES = 8 * 2**30  # the units recorded at the output times, all runs of one N
MAX_SEEDS = 1000
MAX_LABEL_NOISE = 1e6  # the label noise's standard deviation: its square must stay far from overflow


@dataclass(frozen=True)
class CrossCheckFile:
    """A cross-check file read: the model and the study's settings (the keywords of
    :func:`particles.crosscheck`), where to write, and the file's SHA-256."""

    name: str
    model: MeanFieldModel
    n: list[int]
    epsilon: list[float]
    seeds: list[int]
    t_end: float
    outputs: int | list[float]
    batch: int | str = 1
    accuracy: float | None = None
    method: str = "auto"
    entropy: int = 0
    checkpoint_every: float = 60.0
    directory: Path = Path("out/crosscheck")
    sha256: str = ""
    limit_options: dict[str, Any] = field(default_factory=dict)

    def keywords(self) -> dict[str, Any]:
        """The keywords of :func:`particles.crosscheck` (besides the model, N, ε and t_end)."""
        return {"outputs": self.outputs, "seeds": self.seeds, "batch": self.batch, "accuracy": self.accuracy,
                "method": self.method, "entropy": self.entropy, "checkpoint_every": self.checkpoint_every,
                "limit_options": self.limit_options}


def load_crosscheck(path: str | Path) -> CrossCheckFile:
    """Read and check a cross-check file; errors carry its section, key and line."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist")
    try:
        content = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"scenario file {path} cannot be read as UTF-8 text: {err}") from None
    return parse_crosscheck(content, path.stem, path.parent, str(path))


def parse_crosscheck(content: str, name: str, base: Path, where: str, *,
                     change: tuple[str, Any] | None = None) -> CrossCheckFile:
    """The cross-check of the TOML ``content`` (relative paths resolve against ``base``;
    ``where`` names the source in errors); ``change``: a dotted key and the value to give it
    (:func:`with_value`, a sweep's parameter)."""
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{where} is not valid TOML: {err}") from None
    try:
        if change is not None:
            data = with_value(data, *change)
        parsed = _generic(data, name, base) if "model" in data else _legacy(data, name, base)
    except ScenarioError as err:
        raise located(err, content, where) from None
    check_size(parsed, "model" not in data, content, where)
    return parsed.__class__(**{**parsed.__dict__, "sha256": hashlib.sha256(content.encode()).hexdigest()})


def with_value(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of the parsed tables ``data`` with the dotted ``key`` (``"model.data.delta"``,
    ``"crosscheck.delta"``) set to ``value``: a sweep's model parameter. The key must be in the file."""
    import copy

    out = copy.deepcopy(data)
    *tables, last = key.split(".")
    node: Any = out
    for part in tables:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ScenarioError(f"the swept key {key!r} is not in the file: [{'.'.join(tables)}] is missing")
    if last not in node:
        raise ScenarioError(f"the swept key {key!r} is not in the file: give it a value there first")
    node[last] = value
    return out


def _study(table: dict[str, Any], section: str = "crosscheck") -> dict[str, Any]:
    """N, epsilon, seeds of ``[crosscheck]``."""
    for key in ("N", "epsilon"):
        if key not in table:
            raise ScenarioError(f"[{section}] needs {key}", section=section, key=key)
    ns = _list(section, "N", table["N"], lambda k, v: integer(section, k, v, maximum=MAX_PARTICLES))
    epsilons = _list(section, "epsilon", table["epsilon"], lambda k, v: number(section, k, v, positive=True))
    raw = table.get("seeds", 3)
    if isinstance(raw, list):
        seeds = _list(section, "seeds", raw, lambda k, v: integer(section, k, v, minimum=0, maximum=2**63 - 1))
    else:
        seeds = list(range(integer(section, "seeds", raw, maximum=MAX_SEEDS)))
    return {"n": ns, "epsilon": epsilons, "seeds": seeds,
            "entropy": integer(section, "entropy", table.get("entropy", 0), minimum=0, maximum=2**63 - 1),
            "checkpoint_every": number(section, "checkpoint_every", table.get("checkpoint_every", 60.0),
                                       minimum=0.0)}


def _list(section: str, key: str, raw: Any, check: Any) -> list[Any]:
    values = [check(key, v) for v in raw] if isinstance(raw, list) else [check(key, raw)]
    if not values or len(set(values)) != len(values):
        raise ScenarioError(f"[{section}] {key} = {raw!r}: give one value or a list of distinct values",
                            section=section, key=key, value=raw)
    return sorted(values)


def _generic(data: dict[str, Any], name: str, base: Path) -> CrossCheckFile:
    unknown_keys("top level", data, {"model", "mesh", "crosscheck", "output"})
    model = model_from_tables(data, base=base)
    table = data.get("crosscheck")
    if not isinstance(table, dict):
        raise ScenarioError(f"the file has no [crosscheck] table (keys: {', '.join(sorted(CROSSCHECK_KEYS))})",
                            key="crosscheck")
    unknown_keys("crosscheck", table, CROSSCHECK_KEYS)
    if "t_end" not in table:
        raise ScenarioError("[crosscheck] needs t_end, the last output time", section="crosscheck", key="t_end")
    settings = _study(table)
    settings["t_end"] = number("crosscheck", "t_end", table["t_end"], positive=True)
    settings["outputs"] = _outputs(table.get("outputs", 10), settings["t_end"])
    settings["batch"] = _batch(table.get("batch", 1))
    if "accuracy" in table:
        settings["accuracy"] = number("crosscheck", "accuracy", table["accuracy"], positive=True)
    settings["method"] = choice("crosscheck", "method", table.get("method", "auto"), ["auto", *METHODS])
    if settings["method"] == "auto":
        try:
            choose_method(model)  # a limit that cannot be computed is bad input, found before any run
        except ValueError as err:
            raise ScenarioError(f"{err}: add a [mesh] table (the θ-domain)", section="mesh") from None
    return CrossCheckFile(name=name, model=model, directory=_directory(data, name), **settings)


def _outputs(value: Any, t_end: float) -> int | list[float]:
    if isinstance(value, list):
        times = [number("crosscheck", "outputs", v, minimum=0.0) for v in value]
        if not times or any(t > t_end for t in times):
            raise ScenarioError(f"[crosscheck] outputs must be times in [0, t_end = {t_end:g}], got {value!r}",
                                section="crosscheck", key="outputs", value=value)
        return sorted(set(times))
    return integer("crosscheck", "outputs", value, maximum=100_000)


def _batch(value: Any) -> int | str:
    if value == "full":
        return "full"
    if isinstance(value, str):
        raise ScenarioError(f"[crosscheck] batch must be a number of samples or \"full\", got {value!r}",
                            section="crosscheck", key="batch", value=value)
    return integer("crosscheck", "batch", value)


def _directory(data: dict[str, Any], name: str) -> Path:
    output = data.get("output", {})
    if not isinstance(output, dict):
        raise ScenarioError("[output] must be a table", key="output", value=output)
    unknown_keys("output", output, {"directory"})
    return Path(text("output", "directory", output.get("directory", f"out/{name}")))


LEGACY_RUN_KEYS = frozenset({"t_end", "outputs"})
"""The ``[run]`` keys an RBF file may keep: the cross-check chooses the limit's stepping itself."""


def _legacy(data: dict[str, Any], name: str, base: Path) -> CrossCheckFile:
    table = data.pop("crosscheck", None)
    if not isinstance(table, dict):
        raise ScenarioError(f"the file has no [model] and no [crosscheck] table: declare the model in [model] "
                            f"(see fempde.model.toml) and the study in [crosscheck] "
                            f"(keys: {', '.join(sorted(CROSSCHECK_KEYS))})", key="crosscheck")
    unknown_keys("crosscheck", table, LEGACY_KEYS)
    for key in ("delta", "N", "epsilon"):
        if key not in table:
            raise ScenarioError(f"[crosscheck] needs {key}", section="crosscheck", key=key)
    extra = sorted(set(data.get("run", {})) - LEGACY_RUN_KEYS) if isinstance(data.get("run"), dict) else []
    scenario = parse_scenario(data, name=name, base=base)
    if extra:
        raise ScenarioError(f"[run] {extra[0]}: the cross-check chooses the limit's stepping from its gaps; keep "
                            f"only t_end and outputs in [run]", section="run", key=extra[0])
    settings = _study(table)
    kernel = table.get("kernel", "triweight")
    if not isinstance(kernel, str):
        raise ScenarioError(f"[crosscheck] kernel must be a kernel name (a string), got {kernel!r}",
                            section="crosscheck", key="kernel", value=kernel)
    noise = number("crosscheck", "label_noise", table.get("label_noise", 0.0), minimum=0.0)
    if noise > MAX_LABEL_NOISE:
        raise ScenarioError(f"[crosscheck] label_noise = {noise!r} (the standard deviation of the label noise) is more "
                            f"than the {MAX_LABEL_NOISE:g} allowed", section="crosscheck", key="label_noise",
                            value=noise)
    delta = number("crosscheck", "delta", table["delta"], positive=True)
    boundary = choice("crosscheck", "boundary", table.get("boundary", "restricted"), BOUNDARIES)
    if boundary == "reflected":  # refused on load with its key, not by the model's walls later
        try:
            BoxWalls.from_mesh(scenario.mesh).check_width(delta)
        except ValueError as err:
            raise ScenarioError(f"[crosscheck] boundary = 'reflected': {err}", section="crosscheck", key="boundary",
                                value="reflected") from None
    try:
        model = jmm_rbf(scenario.mesh, scenario.problem.target, delta, tau=scenario.problem.tau, kernel=kernel,
                        rho0=scenario.rho0, schedule=scenario.problem.schedule, label_noise=noise,
                        boundary=boundary)
    except ValueError as err:
        raise ScenarioError(f"[crosscheck] {err}", section="crosscheck") from None
    return CrossCheckFile(name=name, model=model, t_end=scenario.t_end, outputs=len(scenario.times),
                          directory=scenario.directory, **settings)


def check_size(check: CrossCheckFile, legacy: bool, content: str, where: str) -> None:
    """Refuse a study too large to run: more SGD steps than :data:`MAX_SGD_STEPS` per run, or
    more recorded units than :data:`MAX_RECORD_BYTES`; ε larger than ``t_end``."""
    section = "crosscheck"
    try:
        for epsilon in check.epsilon:
            steps = check.t_end / epsilon
            if steps < 1:
                raise ScenarioError(f"[crosscheck] epsilon = {epsilon!r} is larger than "
                                    f"{'[run]' if legacy else '[crosscheck]'} t_end = {check.t_end!r}: SGD would take "
                                    "no step; lower epsilon", section=section, key="epsilon", value=epsilon)
            if steps > MAX_SGD_STEPS:
                raise ScenarioError(f"[crosscheck] epsilon = {epsilon!r} needs t_end / epsilon = {steps:.3g} SGD steps "
                                    f"per run, more than {MAX_SGD_STEPS:.0e}; raise epsilon or lower t_end",
                                    section=section, key="epsilon", value=epsilon)
        outputs = check.outputs if isinstance(check.outputs, int) else len(check.outputs)
        record = max(check.n) * check.model.dim * 8 * (outputs + 1) * len(check.seeds) * len(check.epsilon)
        if record > MAX_RECORD_BYTES:
            raise ScenarioError(f"[crosscheck] N = {max(check.n):,} with {len(check.seeds)} seeds and {outputs} "
                                f"outputs "
                                f"would record {record / 2**30:.1f} GiB of units, more than "
                                f"{MAX_RECORD_BYTES / 2**30:.0f} GiB; lower N, seeds or the outputs",
                                section=section, key="N", value=check.n)
    except ScenarioError as err:
        raise located(err, content, where) from None
