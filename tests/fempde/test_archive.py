"""fempde's checkpoint container: round trip, and every kind of bad file refused by name."""

import numpy as np
import pytest

from fempde.archive import Field, read_archive, write_archive

SPEC = {
    "theta": Field("float", ("N", "D")),
    "records": Field("float", (None, "N", "D")),
    "step": Field("int"),
    "label": Field("str"),
    "extra": Field("float", (3,), optional=True),
}


def _fields(rng):
    return {"theta": rng.standard_normal((5, 2)), "records": rng.standard_normal((3, 5, 2)), "step": np.int64(7),
            "label": "run"}


def test_round_trip_is_exact_and_names_the_dimensions(rng, tmp_path):
    fields = _fields(rng)
    path = write_archive(tmp_path / "sub" / "a.npz", "test-state", 2, fields)
    read, dims = read_archive(path, "test-state", 2, SPEC)
    assert dims == {"N": 5, "D": 2}
    for name in ("theta", "records"):
        np.testing.assert_array_equal(read[name], fields[name])  # bit for bit
    assert int(read["step"]) == 7 and str(read["label"]) == "run" and "extra" not in read
    assert not list(path.parent.glob(".*"))  # no temporary file left


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.pop("step"), r"lacks the field 'step': not a complete test-state archive"),
    (lambda f: f.update(step=np.float64(7.0)), r"field 'step' has dtype float64, expected int"),
    (lambda f: f.update(theta=np.zeros((5, 2, 1))),
     r"field 'theta' has 3 dimensions \(shape \(5, 2, 1\)\), expected 2"),
    (lambda f: f.update(records=np.zeros((3, 4, 2))), r"field 'records' has N = 4 along axis 1, another field 5"),
    (lambda f: f.update(theta=np.full((5, 2), np.nan)), r"field 'theta' holds 10 non-finite values"),
    (lambda f: f.update(extra=np.zeros(4)), r"field 'extra' has length 4 along axis 0, expected 3"),
])
def test_a_field_of_the_wrong_kind_is_refused_by_name(rng, tmp_path, change, message):
    fields = _fields(rng)
    change(fields)
    path = write_archive(tmp_path / "a.npz", "test-state", 2, fields)
    with pytest.raises(ValueError, match=message) as error:
        read_archive(path, "test-state", 2, SPEC)
    assert str(path) in str(error.value)


def test_foreign_damaged_and_missing_files_are_refused(rng, tmp_path):
    path = write_archive(tmp_path / "a.npz", "test-state", 2, _fields(rng))
    with pytest.raises(ValueError, match=r"holds a 'test-state' archive, not a 'other' one"):
        read_archive(path, "other", 2, SPEC)
    with pytest.raises(ValueError, match=r"is a test-state archive of format 2, this fempde reads format 3"):
        read_archive(path, "test-state", 3, SPEC)
    plain = tmp_path / "plain.npz"
    np.savez(plain, **_fields(rng))
    with pytest.raises(ValueError, match="has no fempde archive header"):
        read_archive(plain, "test-state", 2, SPEC)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="checkpoint .*truncated.npz is damaged or truncated"):
        read_archive(truncated, "test-state", 2, SPEC, what="checkpoint")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __kind__=np.array("test-state"), __format__=np.int64(2),
             **{**_fields(rng), "step": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"field 'step' holds Python objects \(a pickle\): refused unread"):
        read_archive(pickled, "test-state", 2, SPEC)
    with pytest.raises(FileNotFoundError, match="no archive at"):
        read_archive(tmp_path / "none.npz", "test-state", 2, SPEC)
    with pytest.raises(ValueError, match="are the archive's header"):
        write_archive(tmp_path / "b.npz", "test-state", 2, {"__kind__": 1})
    with pytest.raises(ValueError, match="holds Python objects"):
        write_archive(tmp_path / "b.npz", "test-state", 2, {"x": np.array([None])})
