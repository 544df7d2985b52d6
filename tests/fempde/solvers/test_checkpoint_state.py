"""A PDE checkpoint is checked before a run continues from it: bounded before it is
inflated, every field's shape against the run, its numbers finite, its last history
row its state's, and the certificates recomputed from its history, not read from it.

The table runs ``fempde resume`` on a copy of a finished run whose ``checkpoint.npz``
was replaced or edited (:mod:`catalogue`); the API table calls ``fempde.solve``.
"""

import io
import zipfile

import numpy as np
import pytest
from catalogue import Case, cases, check, resumed, zip_bomb

import fempde
from fempde.archive import MAX_ENTRY_BYTES
from fempde.cli.commands import main
from fempde.solvers.record import HISTORY_COLUMNS

CHECKPOINT = "{out}/checkpoint.npz"
MIN_RHO, FREE_ENERGY = HISTORY_COLUMNS.index("min_rho"), HISTORY_COLUMNS.index("free_energy")


def _fields(world):
    with np.load(world.out / "checkpoint.npz") as data:
        return {name: data[name] for name in data.files}




def _edit(**changes):
    """The checkpoint rewritten with its fields changed: a value, or a function of the old one (None: removed)."""
    def change(world):
        fields = _fields(world)
        for name, value in changes.items():
            if value is None:
                fields.pop(name)
            else:
                fields[name] = value(fields[name]) if callable(value) else np.asarray(value)
        np.savez(world.out / "checkpoint.npz", **fields)
    return change


def _crafted(entries):
    """The checkpoint's entries with ``entries`` (name: raw .npy bytes) in place of theirs."""
    def change(world):
        fields = _fields(world)
        with zipfile.ZipFile(world.out / "checkpoint.npz", "w") as archive:
            for name, value in fields.items():
                if name not in entries:
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, value)
                    archive.writestr(f"{name}.npy", buffer.getvalue())
            for name, data in entries.items():
                archive.writestr(f"{name}.npy", data(fields) if callable(data) else data)
    return change


def _npy_header(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _bomb(field, tail, mib):
    def change(world):
        fields = _fields(world)
        fields.pop(field)
        zip_bomb(world.out / "checkpoint.npz", fields, field, tail, mib=mib)
    return change


def _row(row, column, value):
    def change(history):
        history = history.copy()
        history[row, column] = value
        return history
    return change


def _replace_bytes(data):
    def change(world):
        (world.out / "checkpoint.npz").write_bytes(data(world) if callable(data) else data)
    return change


FILES = [
    Case("bomb-history-3gib", resumed(_bomb("history", (len(HISTORY_COLUMNS),), 3072)), 2,
         (CHECKPOINT, "'history.npy' declares 3,221,", f"more than the {MAX_ENTRY_BYTES:,}", "not inflated")),
    Case("bomb-rho-64mib", resumed(_bomb("rho", (), 64)), 2,
         (CHECKPOINT, "field 'rho' declares 67,108,", "its shape allows", "not inflated")),
    Case("bomb-past-64mib", resumed(_bomb("past", (11,), 64)), 2, (CHECKPOINT, "field 'past' declares")),
    Case("header-claims-a-billion-nodes", resumed(_crafted({"rho": _npy_header((10**9,)) + bytes(88)})), 2,
         (CHECKPOINT, "field 'rho' has n = 1000000000 along axis 0, the run has 11")),
    Case("header-claims-more-than-the-entry", resumed(_crafted({"rho": _npy_header((11,)) + bytes(16)})), 2,
         (CHECKPOINT, "field 'rho' of shape (11,)", "should take", "declares")),
    Case("header-not-npy", resumed(_crafted({"rho": b"not an array at all"})), 2,
         (CHECKPOINT, "field 'rho' is not a numpy array")),
    Case("pickled-field", resumed(_crafted({"t": lambda f: _pickled()})), 2,
         (CHECKPOINT, "field 't' holds Python objects (a pickle): refused unread")),
    Case("another-kind", resumed(_edit(__kind__="sgd-state")), 2,
         (CHECKPOINT, "holds a 'sgd-state' archive, not a 'pde-checkpoint' one")),
    Case("no-header", resumed(_edit(__kind__=None, __format__=None)), 2, (CHECKPOINT, "no fempde archive header")),
    Case("header-kind-array", resumed(_edit(__kind__=np.array(["a", "b"]))), 2,
         (CHECKPOINT, "header field '__kind__' has shape (2,)")),
    Case("future-format", resumed(_edit(__format__=np.int64(2))), 2,
         (CHECKPOINT, "format 2, this fempde reads format 1")),
    Case("truncated", resumed(_replace_bytes(lambda w: (w.out / "checkpoint.npz").read_bytes()[:700])), 2,
         (CHECKPOINT, "damaged or truncated")),
    Case("random-bytes", resumed(_replace_bytes(np.random.default_rng(5).bytes(4000))), 2,
         (CHECKPOINT, "damaged or truncated")),
    Case("empty", resumed(_replace_bytes(b"")), 2, (CHECKPOINT, "damaged or truncated")),
    Case("too-many-entries", resumed(_crafted({f"x{k}": b"" for k in range(300)})), 2,
         (CHECKPOINT, "entries, more than the 256")),
    Case("missing-field", resumed(_edit(rho=None)), 2, (CHECKPOINT, "lacks the field 'rho'")),
    Case("rho-nan", resumed(_edit(rho=lambda r: np.where(np.arange(r.size) == 3, np.nan, r))), 2,
         (CHECKPOINT, "field 'rho' holds 1 non-finite values")),
    Case("rho-of-another-mesh", resumed(_edit(rho=np.ones(13))), 2,
         (CHECKPOINT, "field 'rho' has n = 13 along axis 0, the run has 11")),
    Case("rho-integers", resumed(_edit(rho=lambda r: np.ones(r.size, dtype=np.int64))), 2,
         (CHECKPOINT, "field 'rho' has dtype int64, expected float")),
    Case("rho-mass-3", resumed(_edit(rho=lambda r: 3 * r)), 2, (CHECKPOINT, "rho", "differs from the run's mass")),
    Case("rho-negative-node", resumed(_edit(rho=lambda r: r - (np.arange(r.size) == 5) * 2 * r[5]
                                            + (np.arange(r.size) == 6) * 2 * r[5])), 2,
         (CHECKPOINT, "min_rho", "in its last row", "differs from its density's minimum")),
    Case("t-beyond-t-end", resumed(_edit(t=np.float64(5.0))), 2, (CHECKPOINT, "t = 5.0", "beyond the run's t_end")),
    Case("t-nan", resumed(_edit(t=np.float64(np.nan))), 2, (CHECKPOINT, "field 't' holds 1 non-finite values")),
    Case("t-array", resumed(_edit(t=np.zeros(3))), 2, (CHECKPOINT, "field 't' has 1 dimensions")),
    Case("index-contradicts-history", resumed(_edit(index=np.int64(3))), 2,
         (CHECKPOINT, "index = 3", "contradicts its history")),
    Case("dt-next-negative", resumed(_edit(dt_next=np.float64(-1e-3))), 2,
         (CHECKPOINT, "dt_next = -0.001", "not a finite positive step")),
    Case("three-past-states", resumed(_edit(past=lambda p: np.vstack([p, p[:1], p[:1]])[:3],
                                            past_dt=np.array([1e-3, 1e-3, 1e-3]))), 2,
         (CHECKPOINT, "field 'past' has past = 3 along axis 0, at most 2")),
    Case("error-of-another-mesh", resumed(_edit(global_error=np.zeros((1, 13)))), 2,
         (CHECKPOINT, "field 'global_error' has n = 13 along axis 1, the run has 11")),
    Case("history-a-column-short", resumed(_edit(history=lambda h: h[:, :-1])), 2,
         (CHECKPOINT, f"field 'history' has length {len(HISTORY_COLUMNS) - 1} along axis 1, "
                      f"expected {len(HISTORY_COLUMNS)}")),
    Case("history-plus-inf", resumed(_edit(history=_row(2, FREE_ENERGY, np.inf))), 2,
         (CHECKPOINT, "history holds NaN or +inf")),
    Case("history-times-backwards", resumed(_edit(history=_row(2, 0, -1.0))), 2,
         (CHECKPOINT, "its times", "do not increase")),
    Case("history-last-row-min-rho", resumed(_edit(history=_row(-1, MIN_RHO, -5.0))), 2,
         (CHECKPOINT, "min_rho -5.0 in its last row", "differs from its density's minimum")),
    Case("history-last-row-energy", resumed(_edit(history=_row(-1, FREE_ENERGY, -1e9))), 2,
         (CHECKPOINT, "free_energy -1000000000.0 in its last row")),
    Case("failed-unknown", resumed(_edit(failed=np.array(["bogus"]))), 2,
         (CHECKPOINT, "failed certificates ['bogus'] are not among")),
    Case("failed-numbers", resumed(_edit(failed=np.zeros((2, 3)))), 2, (CHECKPOINT, "field 'failed' has dtype")),
    Case("max-energy-increase-nan", resumed(_edit(max_energy_increase=np.float64(np.nan))), 2,
         (CHECKPOINT, "max_energy_increase = nan")),
    Case("error-ratio-negative", resumed(_edit(error_ratio=np.float64(-1.0))), 2,
         (CHECKPOINT, "error_ratio = -1.0 is negative")),
    Case("a-directory", resumed(lambda w: ((w.out / "checkpoint.npz").unlink(), (w.out / "checkpoint.npz").mkdir())),
         2, (CHECKPOINT, "is a directory")),
]

def _both(row, column, value, **more):
    """The checkpoint's history and the CSV history edited alike (the checkpoint's other
    fields as ``more``): a consistent edit, which only the recomputed certificates catch."""
    def change(world):
        _edit(history=_row(row, column, value), **more)(world)
        lines = (world.out / "history.csv").read_text().splitlines(True)
        cells = lines[row + 1].rstrip("\n").split(",")
        cells[column + 1] = repr(float(value))
        lines[row + 1] = ",".join(cells) + "\n"
        (world.out / "history.csv").write_text("".join(lines))
    return change


CERTIFICATES = [  # the run goes on (exit 1): its certificates recomputed from the checkpoint's history
    Case("history-min-rho-minus-5", resumed(_both(3, MIN_RHO, -5.0)), 1, ("min rho -5", "FAILED: negative"),
         writes=True),
    Case("history-energy-increase", resumed(_both(3, FREE_ENERGY, 1e3)), 1,
         ("max free-energy increase 1.00e+03", "FAILED: energy"), writes=True),
    Case("history-mass-drift", resumed(_both(2, HISTORY_COLUMNS.index("mass_drift"), 0.5)), 1,
         ("mass drift 5.00e-01", "FAILED: mass"), writes=True),
    Case("failed-kept", resumed(_edit(failed=np.array(["negative"]))), 1, ("FAILED: negative",), writes=True),
    Case("max-energy-increase-not-trusted", resumed(_both(4, FREE_ENERGY, 1e3,
                                                          max_energy_increase=np.float64(-1e9))), 1,
         ("FAILED: energy",), writes=True),
    Case("checkpoint-history-differs-from-csv", resumed(_edit(history=_row(3, MIN_RHO, -5.0))), 2,
         ("{out}/history.csv", "row of step 3 differs from the checkpoint's history")),
]


def _pickled():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("case", cases("checkpoint", FILES + CERTIFICATES))
def test_a_checkpoint_that_cannot_continue_the_run_is_refused(case, finished_run, tmp_path, capsys, monkeypatch):
    check(Case(case.id, lambda world: case.make(world, finished_run), case.expect, case.names, case.writes),
          tmp_path, main, capsys, monkeypatch)


def test_an_untouched_checkpoint_reads_back_its_state(finished_run):
    checkpoint = fempde.load_checkpoint(finished_run / "checkpoint.npz", 11)
    assert checkpoint.state.t == 0.02 and checkpoint.state.rho.shape == (11,) and checkpoint.failed == ()
    assert checkpoint.history.shape == (checkpoint.state.index + 1, len(HISTORY_COLUMNS))


def test_the_python_api_recomputes_the_certificates_of_an_edited_history(finished_run, tmp_path):
    """Without a CSV to compare with, an edited history still cannot resume to "all
    certificates hold": the record's flags come from the rows, not from the file."""
    with np.load(finished_run / "checkpoint.npz") as data:
        fields = {name: data[name] for name in data.files}
    fields["history"] = fields["history"].copy()
    fields["history"][3, MIN_RHO] = -5.0
    np.savez(tmp_path / "edited.npz", **fields)
    problem = fempde.PorousMedium(target=lambda x: 1 - x[0] ** 2, tau=0.01)
    import meshes

    result = fempde.solve(problem, meshes.interval(h=0.1), "uniform", 0.02, resume=tmp_path / "edited.npz")
    assert result.certificates.failed == ("negative",) and result.certificates.min_rho == -5.0
    assert "all certificates hold" not in result.certificates.describe()
