"""The cross-check of a model against its mean-field limit: :func:`crosscheck`.

Three phases, each with a progress bar:

1. **SGD** — one task per ``(N, ε, seed)`` on a Dask client (:mod:`.cluster`;
   by default this machine's cores, in-process threads), each the engine's run
   with its population risk at the output times (:mod:`.runs`), checkpointed
   one file per run when a directory is given;
2. **the limit**, solved once (:mod:`.reference`), to the accuracy the gaps
   need: the default accuracy is solved beside the runs (a task on the same
   client, first in line) and kept when it is within the accuracy the spread of
   the SGD risks over seeds asks for (a tenth of it); else the limit is solved
   for that accuracy; then a tighter one (a tenth of the smallest sup risk gap)
   at most :data:`.reference.MAX_RESOLVES` times if the limit's error could
   explain a gap and a finer discretisation can lower it (a fixed mesh cannot);
3. **the comparison**: every gap of every run at every output time
   (:mod:`.gaps`), one task per run, against the limit's error of each
   (:mod:`.errors`).

The limit is shared by every N, ε and seed; a limit passed in is used as it
is. The result is a :class:`~particles.crosscheck.result.CrossCheck`; its
writers are in :mod:`.report`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.checks import integer, number
from fempde.model import Limit, MeanFieldModel
from fempde.model import limit as solve_limit
from fempde.model.limits import choose_method

from .cluster import open_client
from .outputs import output_times
from .reference import Reference, first_accuracy, solve_reference, space_bound, tighter
from .result import CrossCheck, RunGaps
from .runs import Interrupted, RunKey, RunResult, sgd_run

__all__ = ["crosscheck"]

Array = NDArray[np.float64]


def _values(name: str, value: Any, kind: type) -> list[Any]:
    values = list(value) if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) else [value]
    checked: list[Any] = [integer(name, v) if kind is int else number(name, v, positive=True) for v in values]
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"{name} must be a value or a list of distinct values, got {value!r}")
    return sorted(checked)


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        return list(range(integer("seeds (a count)", seeds)))
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a count or a list of distinct seeds >= 0, got {seeds!r}")
    checked = [integer("seeds", s, minimum=0) for s in seeds]
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"seeds must be a count or a list of distinct seeds >= 0, got {seeds!r}")
    return sorted(checked)


def crosscheck(model: MeanFieldModel, n: int | Sequence[int], epsilon: float | Sequence[float], t_end: float, *,
               outputs: int | Sequence[float] = 10, seeds: int | Sequence[int] = 3, batch: int | str = 1,
               limit: Limit | None = None, accuracy: float | None = None, client: Any = None,
               workers: int | None = None,
               progress: bool = True, checkpoints: str | Path | None = None, resume: bool = False,
               checkpoint_every: float = 60.0, chunk: int = 4096, entropy: int = 0, method: str = "auto",
               limit_options: Mapping[str, Any] | None = None) -> CrossCheck:
    """SGD of ``model`` against its mean-field limit (module docstring).

    Parameters
    ----------
    n, epsilon
        Units and step: a value, or lists (a study in N and ε; every pair is run).
    t_end, outputs
        The last output time, and the output times: a count of evenly spaced ones after 0, or
        a list (0 and ``t_end`` are added), rounded to the SGD grid (:mod:`.outputs`).
    seeds
        A count (seeds ``0 … seeds − 1``) or a list of seeds; a run's Generator is spawned from
        ``SeedSequence(entropy)`` by its ``(seed, N, ε)`` (:func:`.runs.run_generator`).
    batch
        Samples per SGD step, or ``"full"`` (:func:`particles.sgd`).
    limit
        A :class:`fempde.model.Limit` of the model at the output times, to compare with as it is.
    accuracy
        The limit's relative accuracy (:func:`fempde.model.limit`); None: set from the gaps.
    client, workers
        A Dask client to run on; without one, a local in-process cluster of ``workers`` threads
        (default: the cores).
    progress
        Progress bars (tqdm) for every phase.
    checkpoints, resume, checkpoint_every
        A directory for one engine checkpoint per run (``sgd_<run>.npz``), written every
        ``checkpoint_every`` seconds and at the end; ``resume=True`` continues each run from its
        file (a finished run is read back) — the numbers of an unbroken cross-check.
    chunk
        SGD steps per compiled call (the same numbers whatever it is; smaller: finer checkpoints).
    method, limit_options
        The limit's method and further keywords of :func:`fempde.model.limit` (``h``, ``r_max``,
        ``data_level``, ``space_error``, ...).
    """
    if not isinstance(model, MeanFieldModel):
        raise TypeError(f"model must be a fempde.model.MeanFieldModel, got {type(model).__name__}")
    ns, epsilons, seed_list = _values("N", n, int), _values("epsilon", epsilon, float), _seeds(seeds)
    times = output_times(t_end, outputs, epsilons)
    if limit is not None and not np.allclose(limit.times, times, rtol=0, atol=1e-12):
        raise ValueError(f"the limit was computed at other times ({limit.times.tolist()}) than the output times "
                         f"{times.tolist()}")
    if method == "auto":
        choose_method(model)  # a limit that cannot be computed is refused before any run starts
    if resume and checkpoints is None:
        raise ValueError("resume=True needs the checkpoints directory")
    folder = None if checkpoints is None else Path(checkpoints)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    keys = [RunKey(size, step, seed) for size in ns for step in epsilons for seed in seed_list]
    settings = {"entropy": integer("entropy", entropy, minimum=0), "batch": batch,
                "checkpoint_every": number("checkpoint_every", checkpoint_every, minimum=0.0),
                "chunk": integer("chunk", chunk)}
    with open_client(client, workers=workers) as dask:
        early = None
        if limit is None and accuracy is None:  # the default limit, solved beside the runs (module docstring)
            early = dask.submit(_beside, solve_limit, model, times, method=method, **dict(limit_options or {}),
                                pure=False, priority=10, key=f"limit-{uuid.uuid4().hex[:12]}")
        futures = {key: dask.submit(sgd_run, model, key, times, **settings, resume=resume,
                                    checkpoint=None if folder is None else folder / f"sgd_{key.name}.npz",
                                    pure=False, key=f"sgd-{key.name}-{uuid.uuid4().hex[:12]}") for key in keys}
        results = _gather(dask, futures, "SGD runs" + ("" if early is None else " (the limit beside them)"),
                          progress)
        if limit is not None:
            return _compare(dask, model, solve_reference(model, limit, ("given",)), futures, results, progress)
        setting = first_accuracy(list(results.values()), model, method) if accuracy is None else \
            (number("accuracy", accuracy, positive=True), None)
        reference = _first(dask, model, times, early, setting, method, limit_options, progress)
        check = _compare(dask, model, reference, futures, results, progress)
        while accuracy is None and (finer := tighter(reference, check, *setting)) is not None:
            setting = finer
            reference = _solve(model, times, setting, method, limit_options, progress, reference.solves)
            check = _compare(dask, model, reference, futures, results, progress)
    return check


def _gather(dask: Any, futures: dict[Any, Any], what: str, progress: bool) -> dict[Any, Any]:
    """The futures' results as they finish, with a progress bar; a worker's Ctrl-C (or ours) stops all."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    out = {}
    names = {future: key for key, future in futures.items()}
    try:
        with tqdm(total=len(futures), desc=what, disable=not progress, leave=False) as bar:
            for future in as_completed(list(futures.values())):
                try:
                    out[names[future]] = future.result()
                except Interrupted:
                    raise KeyboardInterrupt from None
                bar.update()
    except BaseException:
        dask.cancel(list(futures.values()))
        raise
    return out


def _first(dask: Any, model: MeanFieldModel, times: Array, early: Any, setting: tuple[float, float | None],
           method: str, options: Mapping[str, Any] | None, progress: bool) -> Reference:
    """The first limit: the one solved beside the runs at the default accuracy, when it is already
    within the accuracy the runs' spread asks for; else one solved for it."""
    if early is not None:
        solved = _gather(dask, {"limit": early}, "limit (solved beside the runs)", progress)["limit"]
        within = solved.complete and float(np.max(solved.relative_error, initial=0.0)) <= setting[0]
        if within or space_bound(solved):
            why = f"within the {setting[0]:.1e} asked" if within else \
                f"not within the {setting[0]:.1e} asked, but its space part dominates: a tighter solve cannot help"
            return solve_reference(model, solved, (f"{solved.method}: the default accuracy {solved.accuracy:.0e}, "
                                                   f"solved beside the runs, {why}",))
    return _solve(model, times, setting, method, options, progress, ())


def _solve(model: MeanFieldModel, times: Array, setting: tuple[float, float | None], method: str,
           options: Mapping[str, Any] | None, progress: bool, solves: tuple[str, ...]) -> Reference:
    from tqdm import tqdm

    accuracy, rtol = setting
    what = f"accuracy {accuracy:.1e}" + ("" if rtol is None else f", rtol {rtol:.1e}")
    with tqdm(total=1, desc=f"limit ({what})", disable=not progress, leave=False) as bar:
        try:
            solved = _interruptible(solve_limit, model, times, method=method, accuracy=accuracy, rtol=rtol,
                                    **dict(options or {}))
        except TypeError as err:
            # fempde.model.limits' mesh solve passes rtol to fempde.solve as a keyword, which solve refuses
            # (it takes options=StepOptions(...)): until that is fixed there, the mesh limit keeps its default rtol
            if rtol is None or "StepOptions" not in str(err):
                raise
            solved = _interruptible(solve_limit, model, times, method=method, accuracy=accuracy, **dict(options or {}))
            what += " (rtol not passed: the limit's solve refused it; its default was used)"
        bar.update()
    return solve_reference(model, solved, (*solves, f"{solved.method}: {what}"))


def _interruptible(solve: Any, *args: Any, **kwargs: Any) -> Limit:
    """``solve(*args, **kwargs)``; a Ctrl-C that stopped one of the limit's PDE solves (which
    ``fempde.model.limit`` reports as a RuntimeError naming the stop) is a KeyboardInterrupt again."""
    try:
        return solve(*args, **kwargs)  # type: ignore[no-any-return]
    except RuntimeError as err:
        if "(interrupted)" in str(err):
            raise KeyboardInterrupt from err
        raise


def _beside(solve: Any, *args: Any, **kwargs: Any) -> Limit:
    """:func:`_interruptible` as a task: a Ctrl-C there becomes :class:`.runs.Interrupted`, which
    :func:`_gather` turns back into a KeyboardInterrupt here (one escaping a worker's thread
    would leave its future pending for ever)."""
    try:
        return _interruptible(solve, *args, **kwargs)
    except KeyboardInterrupt:
        raise Interrupted("the limit's solve was interrupted") from None


def _compare(dask: Any, model: MeanFieldModel, reference: Reference, futures: dict[RunKey, Any],
             results: dict[RunKey, RunResult], progress: bool) -> CrossCheck:
    comparator = reference.comparator
    measured = _gather(dask, {key: dask.submit(comparator.measure_run, future, pure=False)
                              for key, future in futures.items()}, "comparison", progress)
    runs = []
    for key in sorted(results):
        result, gaps = results[key], measured[key]
        risk_gap = np.abs(result.risk - reference.limit_risk)
        errors = {name: reference.errors.values[name] for name in comparator.names}
        errors["risk"] = errors["risk"] + result.risk_error
        runs.append(RunGaps(key, {"risk": risk_gap, **gaps}, errors, result.risk, result.risk_error))
    first = {}
    for key in sorted(results):
        if (key.n, key.epsilon) not in first:
            first[(key.n, key.epsilon)] = np.array([reference.view.reduce(u) for u in results[key].theta])
    return CrossCheck(model_name=model.name, times=reference.limit.times, limit=reference.limit,
                      quantities=comparator.quantities, runs=tuple(runs), limit_risk=reference.limit_risk,
                      how=reference.errors.how, bias=reference.bias(sorted({k.n for k in results})),
                      noise=reference.noise, variables=reference.view.variables, clouds=first,
                      solves=reference.solves)
