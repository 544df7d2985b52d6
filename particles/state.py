"""The state of a single SGD run at a chunk boundary: what a checkpoint holds, and
how a run is resumed from it exactly.

A run at step ``k`` is determined by its units θ, ``k``, the state its
Generator must have to draw what the unbroken run draws from step ``k`` on
(:meth:`particles.plan.BlockDraws.resume_state`: the data come in fixed blocks
of steps), its noise key (:mod:`particles.noise`) and the records made so far.
:class:`Saver` keeps that state at every chunk boundary and writes it, in
fempde's one checkpoint container (:mod:`fempde.archive`, kind
:data:`KIND`), every ``every`` seconds, at the end of the run and on Ctrl-C;
:func:`load_state` reads it back, refusing a file of another run (other
recording steps, ε, number or dimension of units, batch or data blocks).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.archive import Field, read_archive, write_archive
from fempde.bounded import FileFormatError, check_nesting

from .plan import DATA_BLOCK

__all__ = ["KIND", "VERSION", "Saver", "State", "load_state", "save_state"]

Array = NDArray[np.float64]

KIND, VERSION = "sgd-state", 1
"""The archive kind of an SGD checkpoint and the version of its layout."""

_SPEC = {
    "step": Field("int"),
    "theta": Field("float", ("N", "D")),
    "rng_state": Field("str"),
    "noise_key": Field("int"),
    "marks": Field("int", ("marks",)),
    "records": Field("float", ("records", "N", "D")),
    "observed": Field("float", ("observations", None), finite=False),
    "observed_shape": Field("int", ("ndim",)),
    "epsilon": Field("float"),
    "batch": Field("str"),
    "data_block": Field("int"),
}


@dataclass(frozen=True)
class State:
    """A run at step ``step``: units ``theta`` ``(N, D)``, the Generator's state (a
    dict), the noise key, the recording steps ``marks`` and the records made so far:
    ``records``, one ``(N, D)`` array per record (none where θ is not kept), and
    ``observed``, one array per record (None without an observer). The arrays are
    not copied: the caller hands over ones it no longer changes."""

    step: int
    theta: Array
    rng_state: Mapping[str, Any]
    noise_key: int
    marks: NDArray[np.int64]
    records: list[Array]
    observed: list[Array] | None


@dataclass(frozen=True)
class RunIdentity:
    """What a checkpoint must share with the run that resumes from it."""

    marks: NDArray[np.int64]
    epsilon: float
    batch: str
    units: tuple[int, int]


def save_state(path: str | Path, state: State, identity: RunIdentity) -> Path:
    """Write ``state`` to ``path`` (atomically, :mod:`fempde.archive`)."""
    n, dim = state.theta.shape
    records = np.array(state.records, dtype=np.float64).reshape(len(state.records), n, dim)
    if state.observed is None:
        observed, shape = np.zeros((0, 0)), np.array([-1], dtype=np.int64)
    else:
        first = np.shape(state.observed[0]) if state.observed else ()
        observed = (np.array(state.observed, dtype=np.float64).reshape(len(state.observed), -1) if state.observed
                    else np.zeros((0, 0)))
        shape = np.array(first, dtype=np.int64)
    return write_archive(path, KIND, VERSION, {
        "step": np.int64(state.step), "theta": state.theta, "rng_state": json.dumps(dict(state.rng_state)),
        "noise_key": np.uint64(state.noise_key), "marks": state.marks, "records": records,
        "observed": observed, "observed_shape": shape,
        "epsilon": np.float64(identity.epsilon), "batch": identity.batch, "data_block": np.int64(DATA_BLOCK),
    })


def load_state(path: str | Path, identity: RunIdentity, noisy: bool) -> State:
    """The state saved at ``path`` by a run of ``identity`` (else a ValueError naming
    the difference). The run's N, D and recording steps bound every field before it
    is read (:func:`fempde.archive.read_archive`); that the units lie in the model's
    θ-domain is the engine's to check."""
    n, dim = identity.units
    count = len(identity.marks)
    fields, dims = read_archive(path, KIND, VERSION, _SPEC, what="checkpoint", sizes={"N": n, "D": dim},
                                limits={"marks": count, "records": count, "observations": count, "ndim": 32})
    where = f"checkpoint {path}"
    if int(fields["data_block"]) != DATA_BLOCK:
        raise ValueError(f"{where} drew its data in blocks of {int(fields['data_block'])} steps, this fempde in "
                         f"blocks of {DATA_BLOCK}: run again without resume=True")
    if (not np.array_equal(fields["marks"], identity.marks) or (dims["N"], dims["D"]) != identity.units
            or float(fields["epsilon"]) != identity.epsilon or str(fields["batch"]) != identity.batch):
        raise ValueError(f"{where} belongs to another run (record times, N, D, epsilon or batch differ): give the "
                         f"checkpoint of this run, or run without resume=True")
    step, records = int(fields["step"]), fields["records"]
    marks = identity.marks
    if not 0 <= step <= int(marks[-1]) or len(records) > len(marks) or np.any(marks[:len(records)] > step):
        raise ValueError(f"{where} is inconsistent (step {step}, {len(records)} records of {len(marks)}): delete it")
    key = int(fields["noise_key"])
    if noisy and key == 0:
        raise ValueError(f"{where} was written by a noiseless run (no noise key), and this run is noisy: run again "
                         f"without resume=True")
    try:
        text = str(fields["rng_state"])
        check_nesting(text, path, "checkpoint", "json")
        rng_state = json.loads(text)
    except (json.JSONDecodeError, FileFormatError) as err:
        raise ValueError(f"{where} has a damaged Generator state ({err}): delete it") from None
    if not isinstance(rng_state, dict) or not isinstance(rng_state.get("bit_generator"), str):
        raise ValueError(f"{where} has a damaged Generator state (not a numpy bit generator's state): delete it")
    shape = tuple(int(v) for v in fields["observed_shape"])
    try:
        observed = None if shape == (-1,) else [np.array(row).reshape(shape) for row in fields["observed"]]
    except ValueError:
        raise ValueError(f"{where}: its observations ({fields['observed'].shape[1]} values each) do not have the "
                         f"shape {shape} it gives them: delete it") from None
    return State(step, np.array(fields["theta"]), rng_state, key, marks, [np.array(r) for r in records], observed)


class Saver:
    """Keeps the state at the last chunk boundary and writes it when due (module docstring)."""

    def __init__(self, path: str | Path, every: float, identity: RunIdentity) -> None:
        self.path, self.every, self.identity = Path(path), every, identity
        self.written_at = time.monotonic()
        self.state: State | None = None

    def at_boundary(self, state: State) -> None:
        """Keep ``state`` (its arrays are the caller's copies) and write it if ``every`` seconds have passed."""
        self.state = state
        if time.monotonic() - self.written_at >= self.every:
            self.write()

    def write(self) -> None:
        """Write the last boundary's state now (nothing before the first boundary)."""
        if self.state is None:
            return
        save_state(self.path, self.state, self.identity)
        self.written_at = time.monotonic()
