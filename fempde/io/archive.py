"""fempde's one checkpoint container: a ``.npz`` archive with a header, written
atomically and read back only after every field has been checked.

Every file fempde or particles writes to resume from later goes through here
(the SGD state of :func:`particles.sgd`; the PDE's checkpoint is to follow), so
that one set of rules holds for all of them:

* the file is written whole or not at all (:func:`fempde.atomic.atomic_write`);
* it carries a header: ``kind`` (what the archive holds, e.g. ``"sgd-state"``)
  and ``format`` (the version of that layout), so that a file of another kind
  or of another version is refused before any field is read;
* it is read with ``allow_pickle=False``: no field can run code;
* every field is checked against a :class:`Field` (dtype, shape, finiteness)
  before the caller sees it; shapes may name a dimension (``"N"``) that must be
  the same in every field that names it.

A missing file raises ``FileNotFoundError``; a damaged, truncated or foreign
file, a missing field or one of the wrong dtype, shape or values raises
``ValueError`` naming the file and what is wrong with it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write

__all__ = ["Field", "read_archive", "write_archive"]

KIND, FORMAT = "__kind__", "__format__"
"""The header's field names (reserved: no field of the payload may use them)."""

DTYPES = {"float": "f", "int": "iu", "str": "U", "bool": "b"}
"""The kinds of field :class:`Field` accepts, and the numpy dtype kinds of each."""

Shape = tuple[int | str | None, ...]


@dataclass(frozen=True)
class Field:
    """What one field of an archive must be: ``dtype`` one of :data:`DTYPES`; ``shape``
    a tuple of fixed lengths (int), named dimensions (str, the same length wherever
    the name appears) and free lengths (None); ``finite``: float fields have no NaN
    or inf; ``optional``: the field may be absent."""

    dtype: str
    shape: Shape = ()
    finite: bool = True
    optional: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"a Field's dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


def write_archive(path: str | Path, kind: str, version: int, fields: Mapping[str, Any]) -> Path:
    """Write ``fields`` (name: array-like) to ``path`` atomically, under the header
    ``kind`` and ``version``; the parent directory is created."""
    if not kind or not isinstance(kind, str):
        raise ValueError(f"an archive's kind must be a non-empty string, got {kind!r}")
    reserved = sorted({KIND, FORMAT} & set(fields))
    if reserved:
        raise ValueError(f"the field names {reserved} are the archive's header: rename the fields")
    arrays = {name: np.asarray(value) for name, value in fields.items()}
    for name, array in arrays.items():
        if array.dtype.kind == "O":
            raise ValueError(f"field {name!r} holds Python objects: an archive holds numbers and strings only")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contents = {KIND: np.array(kind), FORMAT: np.array(int(version), dtype=np.int64), **arrays}

    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.savez(file, **contents)  # type: ignore[arg-type]  # numpy's stub reads ** as allow_pickle

    return atomic_write(path, write)


def read_archive(path: str | Path, kind: str, version: int, spec: Mapping[str, Field],
                 what: str = "archive") -> tuple[dict[str, NDArray[Any]], dict[str, int]]:
    """The fields of ``spec`` from the archive at ``path``, each checked (module
    docstring), and the lengths of the named dimensions. Fields the archive holds
    beyond ``spec`` are ignored. ``what`` names the file in messages ("checkpoint")."""
    path = Path(path)
    where = f"{what} {path}"
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            raw = {name: archive[name] for name in names}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{where} is damaged or truncated, or not an archive ({type(err).__name__}: {err}); "
                         f"delete it, or run without resume") from None
    _check_header(where, raw, kind, version)
    dims: dict[str, int] = {}
    out: dict[str, NDArray[Any]] = {}
    for name, field in spec.items():
        if name not in raw:
            if field.optional:
                continue
            raise ValueError(f"{where} lacks the field {name!r}: not a complete {kind} archive; delete it, or run "
                             f"without resume")
        out[name] = _checked(where, name, raw[name], field, dims)
    return out, dims


def _check_header(where: str, raw: Mapping[str, NDArray[Any]], kind: str, version: int) -> None:
    if KIND not in raw or FORMAT not in raw:
        raise ValueError(f"{where} has no fempde archive header (kind, format): not a file fempde wrote (or one "
                         f"written before the archive format); delete it, or run without resume")
    found_kind, found_format = raw[KIND], raw[FORMAT]
    if found_kind.shape != () or found_kind.dtype.kind != "U" or found_format.shape != () \
            or found_format.dtype.kind not in "iu":
        raise ValueError(f"{where} has a malformed archive header; delete it, or run without resume")
    if str(found_kind) != kind:
        raise ValueError(f"{where} holds a {str(found_kind)!r} archive, not a {kind!r} one: give the right file")
    if int(found_format) != version:
        raise ValueError(f"{where} is a {kind} archive of format {int(found_format)}, this fempde reads format "
                         f"{version}: run again without resume")


def _checked(what: str, name: str, value: NDArray[Any], field: Field,
             dims: dict[str, int]) -> NDArray[Any]:
    """``value`` if it is what ``field`` says (named dimensions recorded in ``dims``)."""
    where = f"{what}: field {name!r}"
    if value.dtype.kind not in DTYPES[field.dtype]:
        raise ValueError(f"{where} has dtype {value.dtype}, expected {field.dtype}")
    if value.ndim != len(field.shape):
        raise ValueError(f"{where} has {value.ndim} dimensions (shape {value.shape}), expected {len(field.shape)}")
    for axis, (length, want) in enumerate(zip(value.shape, field.shape, strict=True)):
        if isinstance(want, int) and length != want:
            raise ValueError(f"{where} has length {length} along axis {axis}, expected {want}")
        if isinstance(want, str):
            if dims.setdefault(want, length) != length:
                raise ValueError(f"{where} has {want} = {length} along axis {axis}, another field {dims[want]}")
    if field.finite and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"{where} holds {int(np.size(value) - np.count_nonzero(np.isfinite(value)))} non-finite "
                         f"values")
    return value
