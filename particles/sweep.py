"""Sweeps over (N, ε, δ, seed) for both cross-checks, run on Dask.

A sweep file (TOML) names the cross-check and the grid::

    [sweep]
    crosscheck = "rbf"          # the porous-medium network; "dd" for the two-layer network
    scenario = "interval.toml"  # rbf: a fempde-crosscheck scenario; its N, epsilon, delta are swept here
    N = [100, 400, 1600]
    epsilon = [1e-5]
    delta = [0.1]               # rbf: the bump width δ; dd: the class separation Δ
    seeds = 4                   # seeds 0..3, or a list

    [dd]                        # dd only (defaults shown)
    d = 40
    activation = "piecewise-linear"
    t_end = 0.5
    outputs = 4
    init_scale = 0.8            # w_i ~ N(0, init_scale² / d I)
    r_max = 3.0                 # the radial domain of the PDE
    quantiles = 4000            # particles of the PDE solved by characteristics

    [output]
    directory = "out/sweep"

One run is one SGD run, ``(N, ε, δ, seed)``, measured against its PDE (the
finite-δ porous-medium PDE, or the radial distributional dynamics solved by
characteristics) by the sup over the output times of each gap (for dd, the
times after 0, where the gap is not the initial sample's alone); a worker
solves each PDE once and keeps it. Each result is
written by the client, as it arrives, to ``runs/<stamp>/<run>.json`` in the
output directory (``<stamp>``: a hash of everything but the grid), so a sweep
interrupted and started again runs only what is missing, and an edited sweep
never mixes with old results. The report: ``runs.csv`` (every run),
``slopes.csv`` (log-log slopes of each gap in each swept axis, the others
fixed, with 95 % confidence intervals over all seeds' points) and
``convergence.png``.

Dask: by default a local cluster of worker processes is started in-process
(``workers``, default one per core); ``scheduler="tcp://host:8786"`` uses an
existing cluster instead (its workers need fempde installed; relative mesh
files in an rbf scenario must exist at the same path there).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Sweep", "SweepError", "fit_slope", "load_sweep", "run_one", "run_sweep"]

AXES = ("N", "epsilon", "delta")
METRICS = {
    "rbf": ("risk_gap", "density_gap", "wasserstein_gap"),
    "dd": ("w1_gap", "risk_gap"),
}
DD_DEFAULTS: dict[str, Any] = {"d": 40, "activation": "piecewise-linear", "t_end": 0.5, "outputs": 4,
                               "init_scale": 0.8, "r_max": 3.0, "quantiles": 4000}


class SweepError(ValueError):
    """A sweep file that cannot run, or runs that failed; the message says which and why."""


@dataclass(frozen=True)
class Sweep:
    """``crosscheck`` (``"rbf"`` or ``"dd"``), the fixed settings ``base`` and the grid."""

    crosscheck: str
    base: dict[str, Any]
    n: tuple[int, ...]
    epsilon: tuple[float, ...]
    delta: tuple[float, ...]
    seeds: tuple[int, ...]
    directory: Path = field(default=Path("out/sweep"))

    @property
    def stamp(self) -> str:
        """A hash of what every run shares (not the grid)."""
        text = json.dumps({"crosscheck": self.crosscheck, "base": self.base}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def runs(self) -> list[dict[str, Any]]:
        return [{"N": n, "epsilon": e, "delta": d, "seed": s}
                for n, e, d, s in itertools.product(self.n, self.epsilon, self.delta, self.seeds)]


def run_name(params: dict[str, Any]) -> str:
    return f"N{params['N']}_eps{params['epsilon']:.6g}_delta{params['delta']:.6g}_seed{params['seed']}"


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; errors name the key and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"sweep", "dd", "output"})
    if unknown:
        raise SweepError(f"unknown table [{unknown[0]}] in {path}; tables: [sweep], [dd], [output]")
    table = data.get("sweep")
    if not isinstance(table, dict):
        raise SweepError(f"{path} has no [sweep] table")
    keys = {"crosscheck", "scenario", "N", "epsilon", "delta", "seeds"}
    unknown = sorted(set(table) - keys)
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r} in [sweep]; valid keys: {', '.join(sorted(keys))}")
    kind = table.get("crosscheck")
    if kind not in METRICS:
        raise SweepError(f"[sweep] crosscheck must be \"rbf\" or \"dd\", got {kind!r}")
    n = tuple(_grid(table, "N", int, lambda v: v >= 1, "integers >= 1"))
    epsilon = tuple(_grid(table, "epsilon", float, lambda v: v > 0, "step sizes > 0"))
    delta = tuple(_grid(table, "delta", float, lambda v: v > 0, "numbers > 0"))
    seeds_value = table.get("seeds", 3)
    if isinstance(seeds_value, int) and not isinstance(seeds_value, bool) and seeds_value >= 1:
        seeds = tuple(range(seeds_value))
    else:
        seeds = tuple(_grid(table, "seeds", int, lambda v: v >= 0, "seeds >= 0 (or a count >= 1)"))
    directory = Path(data.get("output", {}).get("directory", f"out/{path.stem}"))
    if not directory.is_absolute():
        directory = Path(os.path.normpath(path.parent / directory))
    if kind == "rbf":
        if "dd" in data:
            raise SweepError("[dd] belongs to crosscheck = \"dd\" sweeps; remove it or change the crosscheck")
        if "scenario" not in table:
            raise SweepError("[sweep] crosscheck = \"rbf\" needs scenario = \"FILE.toml\", "
                             "a fempde-crosscheck scenario")
        scenario = (path.parent / str(table["scenario"])).resolve()
        if not scenario.is_file():
            raise SweepError(f"[sweep] scenario {scenario} does not exist")
        base: dict[str, Any] = {"scenario": scenario.read_text(), "name": scenario.stem, "base": str(scenario.parent)}
        _rbf_setting(base["scenario"], base["name"], base["base"])  # a bad scenario fails here, not on the workers
    else:
        if "scenario" in table:
            raise SweepError("[sweep] scenario is for crosscheck = \"rbf\"; a dd sweep is set up in [dd]")
        dd = data.get("dd", {})
        unknown = sorted(set(dd) - set(DD_DEFAULTS))
        if unknown:
            raise SweepError(f"unknown key {unknown[0]!r} in [dd]; valid keys: {', '.join(sorted(DD_DEFAULTS))}")
        base = {**DD_DEFAULTS, **dd}
        bad = [d for d in delta if not d < 1]
        if bad:
            raise SweepError(f"[sweep] delta is the class separation Δ of a dd sweep and must lie in (0, 1), "
                             f"got {bad[0]}")
        _dd_model(base, delta[0])  # builds the activation and checks d
    return Sweep(kind, base, n, epsilon, delta, seeds, directory)


def _grid(table: dict[str, Any], key: str, kind: type, ok: Callable[[Any], bool], what: str) -> list[Any]:
    if key not in table:
        raise SweepError(f"[sweep] needs {key} (a list of {what})")
    raw = table[key] if isinstance(table[key], list) else [table[key]]
    values = []
    for value in raw:
        wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong_type or (kind is int and not isinstance(value, int)) or not ok(value):
            raise SweepError(f"[sweep] {key} must be a list of {what}, got {value!r}")
        values.append(kind(value))
    if not values or len(set(values)) != len(values):
        raise SweepError(f"[sweep] {key} must list distinct {what}, got {raw!r}")
    return values


# -- one run (on a worker) -------------------------------------------------------------------------------------


def _rbf_setting(scenario_text: str, name: str, base: str) -> Any:
    from fempde.cli.scenario import ScenarioError

    from .cli import problem_from_text

    try:
        problem, _, scenario = problem_from_text(scenario_text, name, Path(base), f"scenario {name}")
    except ScenarioError as err:
        raise SweepError(str(err)) from None
    return problem, scenario


@functools.lru_cache(maxsize=8)  # a worker solves each PDE once
def _rbf_reference(scenario_text: str, name: str, base: str, delta: float) -> Any:
    import dataclasses

    from .crosscheck import reference

    problem, scenario = _rbf_setting(scenario_text, name, base)
    problem = dataclasses.replace(problem, delta=delta)
    return problem, scenario, reference(problem, scenario.t_end, n_times=len(scenario.times))


def _dd_model(base: dict[str, Any], delta: float) -> Any:
    import fempde

    d = base["d"]
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise SweepError(f"[dd] d must be an integer >= 1, got {d!r}")
    try:
        return fempde.IsotropicGaussians(delta, d, sigma=base["activation"])
    except ValueError as err:
        raise SweepError(f"[dd] {err}") from None


@functools.lru_cache(maxsize=8)  # a worker solves each PDE once
def _dd_reference(base_json: str, delta: float) -> Any:
    from scipy.stats import chi

    import fempde
    from fempde.solvers.characteristics import quantile_flow, quantiles_of

    base = json.loads(base_json)
    model = _dd_model(base, delta)
    times = np.linspace(0.0, base["t_end"], int(base["outputs"]) + 1)
    scale = base["init_scale"] / math.sqrt(base["d"])
    r0 = quantiles_of(chi(base["d"], scale=scale).ppf, int(base["quantiles"]))
    return model, scale, quantile_flow(fempde.RadialDD(model), r0, times.tolist(), r_max=float(base["r_max"]))


def run_one(crosscheck: str, base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """One SGD run against its PDE: the sup-in-time gaps (what :func:`run_sweep`
    sends to the workers; call it directly to reproduce one run)."""
    import fempde

    if crosscheck == "rbf":
        from .crosscheck import crosscheck as check_rbf

        problem, scenario, solved = _rbf_reference(base["scenario"], base["name"], base["base"], params["delta"])
        check = check_rbf(problem, params["N"], params["epsilon"], scenario.t_end, n_times=len(scenario.times),
                          seeds=[params["seed"]], solved=solved)
        return {"risk_gap": float(check.risk_gap[0]), "density_gap": float(check.density_gap[0]),
                "wasserstein_gap": float(check.wasserstein[0].max()), "final_risk": float(check.sgd_risk[0, -1])}
    if crosscheck == "dd":
        from scipy.stats import wasserstein_distance

        from .dd import dd_sgd, population_risk

        model, scale, flow = _dd_reference(json.dumps(base, sort_keys=True), params["delta"])
        rng = np.random.default_rng(params["seed"])
        w0 = rng.standard_normal((params["N"], base["d"])) * scale
        run = dd_sgd(model, w0, fempde.TimeAxis(params["epsilon"]), flow.times, rng=rng)
        radii = np.linalg.norm(run.weights, axis=2)
        # sup over the outputs after t = 0: at t = 0 the gap is the initial sample's alone, the same for every ε
        w1 = [wasserstein_distance(r, x) for r, x in zip(radii[1:], flow.positions[1:], strict=True)]
        risks = np.array([population_risk(model, w) for w in run.weights[1:]])
        return {"w1_gap": float(max(w1)), "risk_gap": float(np.abs(risks - flow.risk[1:]).max()),
                "final_risk": float(risks[-1])}
    raise SweepError(f"unknown crosscheck {crosscheck!r}")


# -- the sweep (on the client) ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None, timeout: float) -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise SweepError(f"could not reach the Dask scheduler at {scheduler}: {err}. Start one with "
                             f"`dask scheduler` (and `dask worker {scheduler}`), or leave out --scheduler "
                             f"to run on a local cluster") from None
        with client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def run_sweep(sweep: Sweep, *, scheduler: str | None = None, workers: int | None = None,
              echo: Callable[[str], None] = print, connect_timeout: float = 20.0) -> dict[str, Any]:
    """Run what is missing of ``sweep`` on Dask, then write the report; returns
    ``{"runs": [...], "slopes": [...]}`` (the rows of ``runs.csv``, ``slopes.csv``).
    ``scheduler``: the address of an existing Dask scheduler (else a local
    cluster of ``workers`` processes is started for the sweep)."""
    results_dir = sweep.directory / "runs" / sweep.stamp
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "sweep.json").write_text(json.dumps({"crosscheck": sweep.crosscheck, "base": sweep.base},
                                                       sort_keys=True, indent=1))
    todo = [p for p in sweep.runs() if not (results_dir / f"{run_name(p)}.json").is_file()]
    total = len(sweep.runs())
    where = scheduler or f"a local cluster of {workers or os.cpu_count() or 1} worker processes"
    echo(f"{sweep.crosscheck} sweep: {total} runs, {total - len(todo)} done before, {len(todo)} to run"
         + (f" on {where}" if todo else ""))
    failures: list[str] = []
    if todo:
        from dask.distributed import as_completed

        with _client(scheduler, workers, connect_timeout) as client:
            futures = {client.submit(run_one, sweep.crosscheck, sweep.base, p, pure=False): p for p in todo}
            for done, future in enumerate(as_completed(futures), 1):
                params = futures[future]
                try:
                    metrics = future.result()
                except Exception as err:  # noqa: BLE001 - reported with its run, the others go on
                    failures.append(f"{run_name(params)}: {type(err).__name__}: {err}")
                    echo(f"[{done}/{len(todo)}] {run_name(params)} FAILED: {err}")
                    continue
                _write_json(results_dir / f"{run_name(params)}.json", {**params, **metrics})
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
                echo(f"[{done}/{len(todo)}] {run_name(params)}: {shown}")
    rows = [json.loads((results_dir / f"{run_name(p)}.json").read_text()) for p in sweep.runs()
            if (results_dir / f"{run_name(p)}.json").is_file()]
    report = write_report(sweep, rows)
    if failures:
        raise SweepError(f"{len(failures)} of {len(todo)} runs failed (the others are saved; run the sweep again "
                         f"to retry them):\n  " + "\n  ".join(failures))
    return report


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, sort_keys=True))
    os.replace(temporary, path)  # atomic: a killed sweep leaves whole files or none


def fit_slope(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope of ``log y`` against ``log x`` and its ``level``
    confidence interval (Student t with ``len(x) − 2`` degrees of freedom;
    ``nan`` bounds with fewer than 3 points)."""
    from scipy.stats import t as student

    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("a slope needs points at 2 or more distinct x")
    slope, intercept = np.polyfit(lx, ly, 1)
    if len(lx) < 3:
        return float(slope), math.nan, math.nan
    residual = ly - (slope * lx + intercept)
    stderr = math.sqrt(residual @ residual / (len(lx) - 2) / np.sum((lx - lx.mean()) ** 2))
    half = float(student.ppf(0.5 + level / 2, len(lx) - 2)) * stderr
    return float(slope), float(slope - half), float(slope + half)


def write_report(sweep: Sweep, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs.csv``, ``slopes.csv`` and ``convergence.png`` in the sweep's directory."""
    out = sweep.directory
    metrics = METRICS[sweep.crosscheck]
    columns = ["N", "epsilon", "delta", "seed", *metrics, "final_risk"]
    with open(out / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in sorted(rows, key=lambda r: tuple(r[c] for c in ("N", "epsilon", "delta", "seed"))):
            writer.writerow([row[c] for c in columns])
    slopes = []
    for axis in AXES:
        others = [a for a in AXES if a != axis]
        for fixed in sorted({tuple(r[a] for a in others) for r in rows}):
            group = [r for r in rows if tuple(r[a] for a in others) == fixed]
            if len({r[axis] for r in group}) < 2:
                continue
            for metric in metrics:
                x, y = np.array([r[axis] for r in group]), np.array([r[metric] for r in group])
                if np.any(y <= 0):
                    continue
                slope, lo, hi = fit_slope(x, y)
                slopes.append({"axis": axis, **dict(zip(others, fixed, strict=True)), "metric": metric,
                               "slope": slope, "ci95_low": lo, "ci95_high": hi, "points": len(group)})
    with open(out / "slopes.csv", "w", newline="") as handle:
        table = csv.DictWriter(handle, ["axis", *AXES, "metric", "slope", "ci95_low", "ci95_high", "points"])
        table.writeheader()
        table.writerows(slopes)
    if rows:
        _plot(sweep, rows, slopes, out / "convergence.png")
    return {"runs": rows, "slopes": slopes}


def _plot(sweep: Sweep, rows: list[dict[str, Any]], slopes: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = METRICS[sweep.crosscheck]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.5), constrained_layout=True,
                             squeeze=False)
    groups = sorted({(r["epsilon"], r["delta"]) for r in rows})
    for ax, metric in zip(axes[0], metrics, strict=True):
        for k, (eps, delta) in enumerate(groups):
            group = [r for r in rows if (r["epsilon"], r["delta"]) == (eps, delta)]
            n = np.array(sorted({r["N"] for r in group}))
            values = [[r[metric] for r in group if r["N"] == v] for v in n]
            mean = np.array([np.mean(v) for v in values])
            ax.scatter([r["N"] for r in group], [r[metric] for r in group], s=10, color=f"C{k}", alpha=0.4)
            fit = [s for s in slopes if s["axis"] == "N" and s["metric"] == metric and s["epsilon"] == eps
                   and s["delta"] == delta]
            label = f"ε={eps:g}, δ={delta:g}"
            if fit:
                label += f": slope {fit[0]['slope']:.2f} [{fit[0]['ci95_low']:.2f}, {fit[0]['ci95_high']:.2f}]"
            ax.loglog(n, mean, "o-", color=f"C{k}", label=label)
        ax.set_xlabel("N")
        ax.set_title(f"{metric} (sup over t; dots: seeds)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
