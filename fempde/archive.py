"""fempde's one checkpoint container: a ``.npz`` archive with a header, written
atomically and read back only after every field has been checked.

Every file fempde or particles write to resume from later goes through here
(the PDE's checkpoint, :mod:`fempde.solvers.resume`; the SGD state of
:func:`particles.sgd`, :mod:`particles.state`), so that one set of rules holds
for all of them:

* the file is written whole or not at all, never through a link
  (:func:`fempde.atomic.atomic_write`);
* it carries a header: ``kind`` (what the archive holds, e.g. ``"sgd-state"``)
  and ``format`` (the version of that layout), so that a file of another kind
  or of another version is refused before any field is read;
* nothing is inflated before it is known to fit: the size each entry declares
  in the zip directory is bounded first (by the field's shape where the run
  knows its lengths, ``sizes`` and ``limits``; by :data:`MAX_ENTRY_BYTES`
  otherwise), then each field's own header (dtype, shape) is checked against
  its :class:`Field` and against the declared size, and only then are its
  bytes read; a 3 MB entry that would inflate to 3 GB is refused unread;
* no field can run code: object arrays (pickles) are refused;
* every field is checked against a :class:`Field` (dtype, shape, finiteness)
  before the caller sees it; shapes may name a dimension (``"N"``) that must be
  the same in every field that names it, and equal to the run's when the
  caller gives it.

A missing file raises ``FileNotFoundError``; a damaged, truncated, oversized
or foreign file, a missing field or one of the wrong dtype, shape or values
raises ``ValueError`` naming the file and what is wrong with it.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_write

__all__ = ["MAX_ENTRY_BYTES", "Field", "read_archive", "write_archive"]

KIND, FORMAT = "__kind__", "__format__"
"""The header's field names (reserved: no field of the payload may use them)."""

DTYPES = {"float": "f", "int": "iu", "str": "U", "bool": "b"}
"""The kinds of field :class:`Field` accepts, and the numpy dtype kinds of each."""

MAX_ENTRY_BYTES = 1 << 30
"""The most bytes an entry may declare uncompressed when the run does not know all its lengths."""

MAX_ENTRIES = 256
"""The most entries an archive may hold (fempde's hold a dozen)."""

_ITEM_BYTES = {"float": 8, "int": 8, "bool": 1, "str": 1 << 20}
"""The largest item of each kind of field (a string field holds one short text: at most 1 MiB)."""

_NPY_HEADER = 1 << 16
"""The most bytes of an entry's ``.npy`` header (format 1.0 headers are below 64 KiB; fempde writes those)."""

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


def read_archive(path: str | Path, kind: str, version: int, spec: Mapping[str, Field], what: str = "archive", *,
                 sizes: Mapping[str, int] | None = None, limits: Mapping[str, int] | None = None,
                 ) -> tuple[dict[str, NDArray[Any]], dict[str, int]]:
    """The fields of ``spec`` from the archive at ``path``, each checked (module
    docstring), and the lengths of the named dimensions. ``sizes``: the lengths
    the run knows (a field of another length is refused); ``limits``: upper
    bounds of others. Fields the archive holds beyond ``spec`` are not read.
    ``what`` names the file in messages ("checkpoint")."""
    path = Path(path)
    where = f"{what} {path}"
    if not path.is_file():
        if path.exists():
            raise ValueError(f"{where} is {'a directory' if path.is_dir() else 'not a regular file'}, not a file "
                             f"fempde wrote")
        raise FileNotFoundError(f"no {what} at {path}")
    dims: dict[str, int] = dict(sizes or {})
    bounds = {**dims, **(limits or {})}
    try:
        with zipfile.ZipFile(path) as archive:
            entries = _entries(where, archive)
            header = {name: _read(where, archive, entries[name], None, dims, bounds)
                      for name in (KIND, FORMAT) if name in entries}
            _check_header(where, header, kind, version)
            out: dict[str, NDArray[Any]] = {}
            for name, field in spec.items():
                if name not in entries:
                    if field.optional:
                        continue
                    raise ValueError(f"{where} lacks the field {name!r}: not a complete {kind} archive; delete "
                                     f"it, or run without resume")
                array = _read(where, archive, entries[name], field, dims, bounds, frozenset(sizes or ()))
                out[name] = _checked(where, name, array, field)
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, NotImplementedError) as err:
        raise ValueError(f"{where} is damaged or truncated, or not an archive ({type(err).__name__}: {err}); "
                         f"delete it, or run without resume") from None
    return out, dims


def _entries(where: str, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The ``.npy`` entries of the zip directory by field name, none of them declaring
    more than :data:`MAX_ENTRY_BYTES` (before anything is inflated)."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ValueError(f"{where} has {len(infos):,} entries, more than the {MAX_ENTRIES} of a fempde archive: not "
                         f"a file fempde wrote; delete it, or run without resume")
    entries = {}
    for info in infos:
        if info.file_size > MAX_ENTRY_BYTES + _NPY_HEADER:
            raise ValueError(f"{where}: entry {info.filename!r} declares {info.file_size:,} bytes uncompressed, more "
                             f"than the {MAX_ENTRY_BYTES:,} an entry may have; not inflated: delete the file, or "
                             f"run without resume")
        if info.filename.endswith(".npy"):
            entries[info.filename[:-4]] = info
    return entries


def _read(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, field: Field | None, dims: dict[str, int],
          bounds: Mapping[str, int], given: frozenset[str] = frozenset()) -> NDArray[Any]:
    """One entry's array, after its declared size (zip directory) and its own header
    (dtype, shape) were checked against ``field`` (None: a header field, a scalar)."""
    name = info.filename[:-4]
    most = _most_bytes(field, bounds)
    if info.file_size > most:
        raise ValueError(f"{where}: field {name!r} declares {info.file_size:,} bytes uncompressed, more than the "
                         f"{most:,} its shape allows; not inflated: delete the file, or run without resume")
    with archive.open(info) as stream:
        try:
            major, _ = np.lib.format.read_magic(stream)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(stream, max_header_size=_NPY_HEADER)  # type: ignore[call-arg]
        except ValueError as err:
            raise ValueError(f"{where}: field {name!r} is not a numpy array ({err}); delete the file, or run without "
                             f"resume") from None
        if dtype.hasobject:
            raise ValueError(f"{where}: field {name!r} holds Python objects (a pickle): refused unread")
        if field is None:
            if shape != ():
                raise ValueError(f"{where}: header field {name!r} has shape {shape}, expected a scalar")
        else:
            _check_shape(where, name, dtype, shape, field, dims, bounds, given)
        count = math.prod(shape)
        if stream.tell() + count * dtype.itemsize != info.file_size:
            raise ValueError(f"{where}: field {name!r} of shape {shape} ({dtype}) should take "
                             f"{stream.tell() + count * dtype.itemsize:,} bytes, its entry declares "
                             f"{info.file_size:,}: damaged; delete it, or run without resume")
        array = np.empty(count, dtype=dtype)
        view, done = array.view(np.uint8), 0
        while done < view.nbytes:  # read in place: no second copy of a large field
            got = stream.read(min(view.nbytes - done, 1 << 24))
            if not got:
                raise EOFError(f"field {name!r} ends after {done} of {view.nbytes} bytes")
            view[done:done + len(got)] = np.frombuffer(got, dtype=np.uint8)
            done += len(got)
    return array.reshape(shape, order="F" if fortran else "C")


def _most_bytes(field: Field | None, bounds: Mapping[str, int]) -> int:
    """The most bytes an entry of ``field`` may declare: its header and the product
    of its lengths where all are known, :data:`MAX_ENTRY_BYTES` where one is free."""
    if field is None:
        return _NPY_HEADER + _ITEM_BYTES["str"]
    lengths = [want if isinstance(want, int) else bounds.get(want) if isinstance(want, str) else None
               for want in field.shape]
    if any(length is None for length in lengths):
        return _NPY_HEADER + MAX_ENTRY_BYTES
    return _NPY_HEADER + _ITEM_BYTES[field.dtype] * math.prod(int(n) for n in lengths if n is not None)


def _check_shape(where: str, name: str, dtype: np.dtype[Any], shape: tuple[int, ...], field: Field,
                 dims: dict[str, int], bounds: Mapping[str, int], given: frozenset[str]) -> None:
    """The dtype and shape of a field's header against ``field`` and the run's lengths, before its data are read."""
    where = f"{where}: field {name!r}"
    if dtype.kind not in DTYPES[field.dtype]:
        raise ValueError(f"{where} has dtype {dtype}, expected {field.dtype}")
    if len(shape) != len(field.shape):
        raise ValueError(f"{where} has {len(shape)} dimensions (shape {shape}), expected {len(field.shape)}")
    for axis, (length, want) in enumerate(zip(shape, field.shape, strict=True)):
        if isinstance(want, int) and length != want:
            raise ValueError(f"{where} has length {length} along axis {axis}, expected {want}")
        if isinstance(want, str):
            if want in dims and dims[want] != length:
                source = "the run has" if want in given else "another field"
                raise ValueError(f"{where} has {want} = {length} along axis {axis}, {source} {dims[want]}")
            if want in bounds and length > bounds[want]:
                raise ValueError(f"{where} has {want} = {length} along axis {axis}, at most {bounds[want]}")
            dims.setdefault(want, length)


def _check_header(where: str, raw: Mapping[str, NDArray[Any]], kind: str, version: int) -> None:
    if KIND not in raw or FORMAT not in raw:
        raise ValueError(f"{where} has no fempde archive header (kind, format): not a file fempde wrote (or one "
                         f"written before the archive format); delete it, or run without resume")
    found_kind, found_format = raw[KIND], raw[FORMAT]
    if found_kind.shape != () or found_kind.dtype.kind != "U" or found_format.shape != () \
            or found_format.dtype.kind not in "iu":
        raise ValueError(f"{where} has a malformed archive header (kind, format); delete it, or run without resume")
    if str(found_kind) != kind:
        raise ValueError(f"{where} holds a {str(found_kind)!r} archive, not a {kind!r} one: give the right file")
    if int(found_format) != version:
        raise ValueError(f"{where} is a {kind} archive of format {int(found_format)}, this fempde reads format "
                         f"{version}: run again without resume")


def _checked(what: str, name: str, value: NDArray[Any], field: Field) -> NDArray[Any]:
    """``value`` (its dtype and shape already checked) if its values are what ``field`` says."""
    if field.finite and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"{what}: field {name!r} holds {int(np.size(value) - np.count_nonzero(np.isfinite(value)))} "
                         f"non-finite values")
    return value
