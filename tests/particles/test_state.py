"""An SGD checkpoint is checked before a run continues from it: bounded by the run's N, D
and recording steps before it is inflated, its units finite and inside the model's
θ-domain (now and in every record), its Generator state one the run's Generator takes.

The table resumes :func:`particles.sgd` of :func:`fempde.model.jmm_rbf` from a copy of a finished run's checkpoint,
replaced or edited (:mod:`catalogue`).
"""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from catalogue import Case, cases, check, zip_bomb

import meshes
import particles
from fempde.cli.commands import main
from fempde.fem.kernels import Kernel
from fempde.meanfield.axis import TimeAxis
from fempde.model import jmm_rbf
from particles.domain import ConvexDomain

DOMAIN = ConvexDomain.from_mesh(meshes.interval(h=0.1))
KERNEL = Kernel("triweight", 1, 0.2)
TIMES = [0.0, 0.01, 0.02, 0.03]
N = 20


def target(x):
    return 1.2 * (1 - x[0] ** 2)


def _run(path, rng, **kwargs):
    centers = DOMAIN.sample(N, rng)
    model = jmm_rbf(DOMAIN.mesh, target, KERNEL.delta, tau=0.01, kernel=KERNEL.name)
    return particles.sgd(model, centers, TimeAxis(1e-4), TIMES, rng=rng, checkpoint=path, **kwargs)


@pytest.fixture(scope="module")
def sgd_checkpoint(tmp_path_factory):
    """The checkpoint of a finished noisy RBF run (N = 20 centres on [0, 1], 300 steps, 4 records)."""
    path = tmp_path_factory.mktemp("sgd") / "sgd.npz"
    _run(path, np.random.default_rng(3))
    return path


def _fields(path):
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def _resumed(change, rng=None):
    """A resumed run from a copy of the checkpoint at ``out/sgd.npz``, ``change(path)`` made first."""
    def make(world, original):
        world.out.mkdir()
        path = world.out / "sgd.npz"
        shutil.copy(original, path)
        change(path)
        return lambda: _run(path, rng or np.random.default_rng(3), resume=True)
    return make


def _edit(**changes):
    def change(path):
        fields = _fields(path)
        for name, value in changes.items():
            if value is None:
                fields.pop(name)
            else:
                fields[name] = value(fields[name]) if callable(value) else np.asarray(value)
        np.savez(path, **fields)
    return change


def _at(index, value):
    def change(array):
        array = array.copy()
        array[index] = value
        return array
    return change


def _bomb(field, tail, mib):
    def change(path):
        fields = _fields(path)
        fields.pop(field)
        zip_bomb(path, fields, field, tail, mib=mib)
    return change


def _pickled(path):
    fields = _fields(path)
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in fields.items():
            buffer = io.BytesIO()
            value = np.array([{"a": 1}], dtype=object) if name == "theta" else value
            np.lib.format.write_array(buffer, value, allow_pickle=True)
            archive.writestr(f"{name}.npy", buffer.getvalue())


SGD = "checkpoint {out}/sgd.npz"
STATES = [
    Case("theta-nan", _resumed(_edit(theta=_at((3, 0), np.nan))), ValueError,
         (SGD, "field 'theta' holds 1 non-finite values")),
    Case("theta-inf", _resumed(_edit(theta=_at((0, 0), np.inf))), ValueError, (SGD, "non-finite")),
    Case("theta-a-million-outside", _resumed(_edit(theta=_at((3, 0), 1e6))), ValueError,
         (SGD, "theta: 1 of its 20 units lie outside the model's θ-domain", "unit 3 at [1000000.0]")),
    Case("theta-just-outside", _resumed(_edit(theta=_at((7, 0), -0.01))), ValueError,
         (SGD, "unit 7 at [-0.01]")),
    Case("record-outside", _resumed(_edit(records=_at((1, 2, 0), 2.0))), ValueError,
         (SGD, "records[1]: 1 of its 20 units lie outside", "unit 2 at [2.0]")),
    Case("record-nan", _resumed(_edit(records=_at((2, 0, 0), np.nan))), ValueError,
         (SGD, "field 'records' holds 1 non-finite values")),
    Case("theta-more-units", _resumed(_edit(theta=lambda t: np.vstack([t, t[:2]]))), ValueError,
         (SGD, "field 'theta' has N = 22 along axis 0, the run has 20")),
    Case("theta-two-dimensions", _resumed(_edit(theta=lambda t: np.hstack([t, t]))), ValueError,
         (SGD, "field 'theta' has D = 2 along axis 1, the run has 1")),
    Case("theta-integers", _resumed(_edit(theta=lambda t: t.astype(np.int64))), ValueError,
         (SGD, "field 'theta' has dtype int64, expected float")),
    Case("theta-missing", _resumed(_edit(theta=None)), ValueError, (SGD, "lacks the field 'theta'")),
    Case("records-more-than-marks", _resumed(_edit(records=lambda r: np.concatenate([r, r, r]))), ValueError,
         (SGD, "field 'records' has records = 12 along axis 0, at most 4")),
    Case("bomb-records-3gib", _resumed(_bomb("records", (N, 1), 3072)), ValueError,
         (SGD, "'records.npy' declares 3,221,", "not inflated")),
    Case("bomb-theta-64mib", _resumed(_bomb("theta", (1,), 64)), ValueError,
         (SGD, "field 'theta' declares 67,", "its shape allows")),
    Case("bomb-observed-2gib", _resumed(_bomb("observed", (64,), 2048)), ValueError,
         (SGD, "'observed.npy' declares 2,147,")),
    Case("pickled", _resumed(_pickled), ValueError, (SGD, "field 'theta' holds Python objects")),
    Case("rng-state-not-json", _resumed(_edit(rng_state="{not json")), ValueError,
         (SGD, "damaged Generator state")),
    Case("rng-state-deep", _resumed(_edit(rng_state="[" * 5000 + "]" * 5000)), ValueError,
         (SGD, "damaged Generator state", "more than 64 deep")),
    Case("rng-state-a-list", _resumed(_edit(rng_state="[1, 2]")), ValueError,
         (SGD, "not a numpy bit generator's state")),
    Case("rng-state-other-generator", _resumed(_edit(rng_state=json.dumps(
        np.random.Generator(np.random.MT19937(1)).bit_generator.state, default=lambda a: a.tolist()))), ValueError,
         (SGD, "holds a Generator state this rng cannot take")),
    Case("step-beyond-the-last-record", _resumed(_edit(step=np.int64(10**6))), ValueError,
         (SGD, "is inconsistent (step 1000000")),
    Case("other-record-times", _resumed(_edit(marks=lambda m: m + 1)), ValueError, (SGD, "belongs to another run")),
    Case("other-epsilon", _resumed(_edit(epsilon=np.float64(2e-4))), ValueError, (SGD, "belongs to another run")),
    Case("noiseless-key", _resumed(_edit(noise_key=np.uint64(0))), ValueError,
         (SGD, "written by a noiseless run")),
    Case("other-data-blocks", _resumed(_edit(data_block=np.int64(512))), ValueError, (SGD, "blocks of 512")),
    Case("pde-checkpoint", _resumed(_edit(__kind__="pde-checkpoint")), ValueError,
         (SGD, "holds a 'pde-checkpoint' archive, not a 'sgd-state' one")),
    Case("truncated", _resumed(lambda p: p.write_bytes(p.read_bytes()[:500])), ValueError,
         (SGD, "damaged or truncated")),
    Case("empty", _resumed(lambda p: p.write_bytes(b"")), ValueError, (SGD, "damaged or truncated")),
    Case("a-directory", _resumed(lambda p: (p.unlink(), p.mkdir())), ValueError, (SGD, "is a directory")),
]


@pytest.mark.parametrize("case", cases("checkpoint", STATES))
def test_an_sgd_checkpoint_that_cannot_continue_the_run_is_refused(case, sgd_checkpoint, tmp_path, capsys,
                                                                    monkeypatch):
    check(Case(case.id, lambda world: case.make(world, sgd_checkpoint), case.expect, case.names), tmp_path, main,
          capsys, monkeypatch)


def test_the_untouched_checkpoint_resumes_to_the_same_records(sgd_checkpoint, tmp_path):
    shutil.copy(sgd_checkpoint, tmp_path / "sgd.npz")
    whole = _run(None, np.random.default_rng(3))
    resumed = _run(tmp_path / "sgd.npz", np.random.default_rng(3), resume=True)
    np.testing.assert_array_equal(resumed.theta, whole.theta)
