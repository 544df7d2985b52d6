"""Files that are either absent, the old version or the new one, never half-written,
and never written through a link.

Every file fempde and particles write whole goes through :func:`atomic_write`:
the content is written under a temporary name beside the target, then renamed
over it (``os.replace`` is atomic on POSIX), so a run killed at any moment — or
a full disk — leaves each file complete. The one file written as it grows, a
run's ``history.csv``, is appended a flushed row at a time through
:func:`open_append` (a killed run leaves whole rows) and rewritten through
:func:`write_csv` on resume. :func:`write_csv` and :func:`csv_cell` are the one
CSV convention: a header row, then rows, floats as ``repr`` (round-trip exact).

No write follows a link. The directory is opened once and every name is
resolved relative to it (``dir_fd``): the temporary file is created exclusively
(``O_CREAT | O_EXCL | O_NOFOLLOW``), so a name planted there beforehand is
never opened; the rename goes from that directory to the same directory; and a
target, temporary name or appended file that is a symbolic link, a file with
other hard links, or not a regular file is refused with :class:`LinkError`
before anything is written. Nothing outside the directory can change. (The
directory named by the caller may itself be a link; only the names inside it
are the run's.) A temporary file left by a killed run is a plain file of the
run's own and is replaced.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["LinkError", "atomic_write", "csv_cell", "make_directory", "open_append", "owned_file", "probe_writable",
           "remove", "temporary_path", "write_csv"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LinkError(OSError):
    """A name a run would write is not a plain file of its own: a symbolic link, a
    file with other hard links (writing it would change them), or not a regular
    file. ``path`` is the name, ``why`` what it is."""

    def __init__(self, path: str | Path, why: str) -> None:
        self.path, self.why = Path(path), why
        super().__init__(errno.ELOOP, f"refusing to write {path}: it is {why}; a run writes only plain files of "
                                      f"its own, never through a link: remove it, or choose another output directory")

    def __str__(self) -> str:
        return str(self.strerror)


def temporary_path(path: Path) -> Path:
    """The temporary name for ``path``: hidden, beside it, same suffix (some
    writers choose the format from the suffix)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


@contextlib.contextmanager
def _opened_directory(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _refuse_foreign(dir_fd: int, name: str, path: Path, *, directory: bool = False) -> os.stat_result | None:
    """The status of ``name`` in the directory ``dir_fd`` (None when absent), or
    :class:`LinkError` if it is a link, or not what the run writes there (a regular
    file with one link; a directory if ``directory``)."""
    try:
        status = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(status.st_mode):
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        raise LinkError(path, f"a symbolic link (to {target})")
    if directory:
        if not stat.S_ISDIR(status.st_mode):
            raise LinkError(path, "not a directory")
        return status
    if stat.S_ISDIR(status.st_mode):
        raise LinkError(path, "a directory, where the run writes a file")
    if not stat.S_ISREG(status.st_mode):
        raise LinkError(path, "not a regular file")
    if status.st_nlink > 1:
        raise LinkError(path, f"a file with {status.st_nlink} hard links (writing it would change the others)")
    return status


def owned_file(path: str | Path) -> bool:
    """Whether ``path`` is a plain file of the run's own (False when absent);
    :class:`LinkError` if it is a link or not a regular file."""
    path = Path(path)
    with _opened_directory(path.parent) as dir_fd:
        return _refuse_foreign(dir_fd, path.name, path) is not None


def _create(dir_fd: int, name: str, path: Path) -> int:
    """A new file ``name`` created exclusively, never through a link; a leftover
    plain file of that name (a killed run's temporary file) is replaced."""
    for attempt in range(2):
        try:
            return os.open(name, _CREATE, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            if attempt:
                raise
            _refuse_foreign(dir_fd, name, path)
            os.unlink(name, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise LinkError(path, "a symbolic link") from None
            raise
    raise AssertionError("unreachable")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` and rename ``tmp`` to ``path``; on any error the
    temporary file is removed and ``path`` is left as it was. ``tmp`` is created
    empty and exclusively first; ``path`` and ``tmp`` must not be links
    (:class:`LinkError`, module docstring)."""
    path = Path(path)
    tmp = temporary_path(path)
    with _opened_directory(path.parent) as dir_fd:
        _refuse_foreign(dir_fd, path.name, path)
        fd = _create(dir_fd, tmp.name, tmp)
        created = os.fstat(fd)
        os.close(fd)
        try:
            write(tmp)
            now = _refuse_foreign(dir_fd, tmp.name, tmp)
            if now is None or (now.st_ino, now.st_dev) != (created.st_ino, created.st_dev):
                raise LinkError(tmp, "no longer the file this run created (replaced while it was written)")
            os.replace(tmp.name, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                status = os.stat(tmp.name, dir_fd=dir_fd, follow_symlinks=False)
                if (status.st_ino, status.st_dev) == (created.st_ino, created.st_dev):
                    os.unlink(tmp.name, dir_fd=dir_fd)
            raise
    return path


def open_append(path: str | Path) -> IO[str]:
    """``path``, an existing plain file of the run's own, opened to append text
    (never through a link: :class:`LinkError`)."""
    path = Path(path)
    with _opened_directory(path.parent) as dir_fd:
        try:
            fd = os.open(path.name, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                _refuse_foreign(dir_fd, path.name, path)
            raise
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
        os.close(fd)
        raise LinkError(path, "not a regular file" if not stat.S_ISREG(status.st_mode)
                        else f"a file with {status.st_nlink} hard links (writing it would change the others)")
    return os.fdopen(fd, "a", newline="")


def probe_writable(directory: str | Path, name: str = ".fempde-write-test") -> None:
    """Create and remove the file ``name`` in ``directory`` (exclusively, never
    through a link): an ``OSError`` says why the directory cannot be written."""
    directory = Path(directory)
    with _opened_directory(directory) as dir_fd:
        os.close(_create(dir_fd, name, directory / name))
        os.unlink(name, dir_fd=dir_fd)


def make_directory(path: str | Path) -> Path:
    """The directory ``path`` inside its parent, created if missing; one that is a
    link, or a file, is refused (:class:`LinkError`)."""
    path = Path(path)
    with _opened_directory(path.parent) as dir_fd:
        try:
            os.mkdir(path.name, 0o777, dir_fd=dir_fd)
        except FileExistsError:
            _refuse_foreign(dir_fd, path.name, path, directory=True)
    return path


def remove(directory: str | Path, names: Iterable[str]) -> list[str]:
    """Remove the files ``names`` from ``directory`` in the order given (a link
    is removed, never followed); the names that were there."""
    removed = []
    with _opened_directory(Path(directory)) as dir_fd:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except IsADirectoryError:  # a state directory (a cross-check's checkpoints/, a sweep's runs/)
                    _remove_directory(dir_fd, name)
                removed.append(name)
    return removed


def _remove_directory(dir_fd: int, name: str) -> None:
    """Remove the directory ``name`` of ``dir_fd`` and everything in it (a sweep's ``runs/``): each
    directory opened without following a link, a link inside removed, never followed."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for entry in os.listdir(fd):
            try:
                os.unlink(entry, dir_fd=fd)
            except IsADirectoryError:
                _remove_directory(fd, entry)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def csv_cell(value: Any) -> str:
    """One CSV field in the convention of :func:`write_csv` (floats by ``repr``, exact)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))  # round-trip exact, and np.float64(0.1) as 0.1
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV file atomically: ``header``, then ``rows`` (floats as ``repr``)."""
    rows = [list(r) for r in rows]
    for k, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"CSV row {k} has {len(row)} fields, the header {len(header)}: {list(header)}")

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as file:
            out = csv.writer(file, lineterminator="\n")
            out.writerow(header)
            out.writerows([csv_cell(v) for v in row] for row in rows)

    return atomic_write(path, write)
