"""A run's output directory, owned for as long as the run lasts: :class:`OutputDirectory`.

Every command that writes a run's files into a directory takes it through this
class, which promises:

* **one writer.** :meth:`OutputDirectory.open` takes an exclusive lock on the
  file :data:`LOCK` in the directory (``flock``: the kernel releases it when the
  process ends, however it ends, so a killed run leaves no stale lock) and
  writes there who holds it: pid, host, start time, command and scenario. A
  second writer is refused with :class:`DirectoryBusy`, which carries that
  identity (:class:`Holder`).
* **nothing written through a link.** Before the run writes anything, every
  name it will write (``files``: plain names or ``fnmatch`` patterns, their
  temporary names, ``run.json``, the lock, the writability probe) that is a
  symbolic link, a file with other hard links or a directory is refused
  (:class:`~fempde.atomic.LinkError`); each write refuses them again
  (:mod:`fempde.atomic`). A subdirectory is made by :meth:`subdirectory`,
  which refuses one that is a link.
* **nothing lost.** :meth:`fresh` refuses a directory that holds an earlier
  run's files (:class:`EarlierRun`) unless ``overwrite``; even then they are
  removed only when the new run's input has been accepted, by :meth:`stamp`,
  its checkpoint first, so that a run refused for bad input — or killed before
  it stamped the directory — leaves the earlier run resumable.
* **a record written once the input is accepted.** :meth:`stamp` writes
  :data:`RUN_FILE` (what a resume needs) atomically; :meth:`resuming` reads it
  back bounded in size and depth (:func:`fempde.bounded.load_json`), as a JSON
  object.

A run whose input is refused before it stamped a directory it created leaves
no directory behind.

Use, for every command that writes a run (the ``fempde`` commands do)::

    with OutputDirectory(out, command="fempde-crosscheck", scenario=path,
                         files=("crosscheck.csv", "risk.png", "rho.pvd", "rho_*.vtu"),
                         state=("checkpoints",)) as directory:
        directory.fresh(overwrite=args.overwrite)        # or: record = directory.resuming()
        checkpoints = directory.subdirectory("checkpoints")
        ...check the input; then, before the first write:
        directory.stamp({"scenario": str(path), "sha256": ...})
        ...write through fempde.atomic (atomic_write, write_csv, save_figure, PVDSeries)

A sweep's store does the same with its own ``files`` (``runs/`` as a
subdirectory, the report's CSVs and PNG). Errors are ``OSError``\\ s (exit 2 in
the commands) that name the directory and what is in the way.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ..atomic import LinkError, atomic_write, make_directory, owned_file, probe_writable, remove, temporary_path
from ..bounded import FileFormatError, load_json
from ..checks import file_name
from ..solvers.observers import Observer, RunInfo

__all__ = ["LOCK", "RUN_FILE", "DirectoryBusy", "DirectoryError", "EarlierRun", "Holder", "OutputDirectory",
           "RunStamp"]

LOCK = ".fempde.lock"
"""The lock file of an output directory; it holds the identity of the run holding it."""

RUN_FILE = "run.json"
"""A run's record in its directory: what ``fempde resume`` needs."""

PROBE = ".fempde-write-test"
"""The file created and removed to prove a directory writable."""

MAX_RUN_FILE_BYTES = 64 << 10
MAX_LOCK_BYTES = 4 << 10


class DirectoryError(OSError):
    """An output directory that cannot be used as asked; ``path`` is the directory."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = Path(path)
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Holder:
    """Who holds a directory's lock: process, host, start time (UTC, ISO 8601), command and scenario."""

    pid: int
    host: str
    started: str
    command: str
    scenario: str

    def describe(self) -> str:
        return (f"pid {self.pid} on host {self.host}, started {self.started}, running {self.command} "
                f"{self.scenario}").rstrip()

    @classmethod
    def read(cls, text: bytes) -> Holder | None:
        """The holder a lock file names (None if it cannot be read: then only its lock is known)."""
        with contextlib.suppress(ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
            data = json.loads(text.decode("utf-8")) if len(text) <= MAX_LOCK_BYTES else None
            if isinstance(data, dict):
                return cls(pid=int(data["pid"]), host=str(data["host"]), started=str(data["started"]),
                           command=str(data["command"]), scenario=str(data["scenario"]))
        return None


class DirectoryBusy(DirectoryError):
    """The directory is locked by another run, ``holder`` (None when its identity is unreadable)."""

    def __init__(self, path: str | Path, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder is not None else "its identity is unreadable"
        super().__init__(path, f"output directory {path} is in use by another run ({who}); wait for it to end, or "
                               f"write elsewhere")


class EarlierRun(DirectoryError):
    """The directory holds ``files`` of an earlier run, which a fresh run would replace."""

    def __init__(self, path: str | Path, files: tuple[str, ...], message: str) -> None:
        self.files = files
        super().__init__(path, message)


class OutputDirectory:
    """The output directory ``path`` of one run (module docstring): ``command`` and
    ``scenario`` name the run in its lock; ``files`` are the names (``fnmatch``
    patterns) the run writes there, ``state`` those that make it resumable (removed
    first on overwrite). ``create``: make the directory if missing (a resume does not).
    ``overwrite_option`` and ``resume_command`` word the refusal of an earlier run."""

    def __init__(self, path: str | Path, *, command: str, scenario: str | Path = "", files: Iterable[str] = (),
                 state: Iterable[str] = (), create: bool = True, overwrite_option: str = "overwrite=True",
                 resume_command: str | None = None) -> None:
        self.path = Path(path)
        self.holder = Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             command, str(scenario))
        self.state = tuple(state)
        self.files = (*self.state, *files)
        self.create = create
        self.overwrite_option, self.resume_command = overwrite_option, resume_command
        self._lock: int | None = None
        self._created = self._stamped = self._replace = False

    # -- taking and releasing the directory ------------------------------------------------------------------------

    def open(self) -> OutputDirectory:
        """Take the directory: created if missing (``create``), proven writable, locked,
        and every name the run writes checked not to be a link."""
        if self._lock is not None:
            raise RuntimeError(f"{self.path} is already open")
        self._make()
        try:
            probe_writable(self.path, PROBE)
        except LinkError:
            raise
        except OSError as err:
            raise DirectoryError(self.path, f"output directory {self.path} is not writable: "
                                            f"{err.strerror or err}") from None
        self._take_lock()
        try:
            self._refuse_links()
        except BaseException:
            self.close()
            raise
        return self

    def _make(self) -> None:
        if self.path.is_dir():
            return
        if self.path.exists() or self.path.is_symlink():
            raise DirectoryError(self.path, f"output directory {self.path} is a file, not a directory; give a "
                                            f"directory")
        if not self.create:
            raise DirectoryError(self.path, f"output directory {self.path} does not exist")
        try:
            self.path.mkdir(parents=True)
        except OSError as err:
            raise DirectoryError(self.path, f"output directory {self.path} cannot be created: "
                                            f"{err.strerror or err}") from None
        self._created = True

    def _take_lock(self) -> None:
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except OSError:
            owned_file(lock)  # a link: LinkError names it
            raise
        status = os.fstat(fd)
        if status.st_nlink > 1 or not os.path.samestat(status, os.stat(lock, follow_symlinks=False)):
            os.close(fd)
            owned_file(lock)
            raise LinkError(lock, "a file with other hard links")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, MAX_LOCK_BYTES + 1, 0)
            os.close(fd)
            raise DirectoryBusy(self.path, Holder.read(text)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        self._lock = fd

    def _refuse_links(self) -> None:
        """Refuse every name the run writes that is a link, a hard-linked file or a directory."""
        patterns = (*self.files, RUN_FILE, LOCK, PROBE)
        patterns += tuple(temporary_path(Path(p)).name for p in patterns)
        with os.scandir(self.path) as entries:
            for entry in entries:
                if any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
                    if entry.name in self.state and entry.is_dir(follow_symlinks=False):
                        continue  # a state directory (a cross-check's checkpoints/), itself checked by subdirectory()
                    owned_file(self.path / entry.name)

    def expect(self, files: Iterable[str]) -> None:
        """Add ``files`` (names, ``fnmatch`` patterns) to what the run writes, and refuse
        those that are links (for a run that learns its names after taking the directory)."""
        self._require_open()
        self.files = (*self.files, *(f for f in files if f not in self.files))
        self._refuse_links()

    def close(self) -> None:
        """Release the lock; a directory this run created and never stamped is removed again."""
        if self._lock is None:
            return
        fd, self._lock = self._lock, None
        if self._created and not self._stamped:
            with contextlib.suppress(OSError):
                os.unlink(self.path / LOCK)
                self.path.rmdir()
        os.close(fd)  # releases the flock

    def __enter__(self) -> OutputDirectory:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- what the directory holds ------------------------------------------------------------------------------

    def earlier_run(self) -> tuple[str, ...]:
        """The names of an earlier run's files in the directory (sorted)."""
        patterns = (*self.files, RUN_FILE)
        return tuple(sorted(name for name in os.listdir(self.path)
                            if any(fnmatch.fnmatchcase(name, p) for p in patterns)))

    def fresh(self, overwrite: bool = False) -> None:
        """Refuse an earlier run's files (:class:`EarlierRun`) unless ``overwrite``;
        with it, they are removed by :meth:`stamp`, not now."""
        self._require_open()
        found = self.earlier_run()
        if found and not overwrite:
            resumable = all(name in found for name in (RUN_FILE, *self.state))
            what = self._describe_earlier() if RUN_FILE in found else "files of a run"
            hint = f"continue it with `{self.resume_command}`, " if resumable and self.resume_command else ""
            shown = ", ".join(found[:6]) + (f" and {len(found) - 6} more" if len(found) > 6 else "")
            raise EarlierRun(self.path, found,
                             f"output directory {self.path} holds an earlier run ({what}: {shown}); a new run does "
                             f"not replace it: {hint}give {self.overwrite_option} to replace it, or write elsewhere")
        self._replace = bool(found)

    def _describe_earlier(self) -> str:
        try:
            record = self.read_record()
        except (FileFormatError, OSError):
            return "its run.json is unreadable"
        return f"the run of {record.get('scenario', '?')}" if isinstance(record, dict) else "a run"

    def resuming(self) -> dict[str, Any]:
        """The record of the resumable run in the directory (:data:`RUN_FILE`, a JSON
        object); :class:`DirectoryError` if it holds none."""
        self._require_open()
        missing = [name for name in (RUN_FILE, *self.state) if not (self.path / name).exists()]
        if missing:
            raise DirectoryError(self.path, f"output directory {self.path} holds no resumable run (no "
                                            f"{' and no '.join(missing)}); start one with a fresh run")
        record = self.read_record()
        if not isinstance(record, dict):
            raise FileFormatError(self.path / RUN_FILE, "run record", f"must hold a JSON object, got "
                                                                      f"{type(record).__name__}")
        return record

    def read_record(self) -> Any:
        """:data:`RUN_FILE`, parsed (bounded; never through a link)."""
        return load_json(self.path / RUN_FILE, "run record", MAX_RUN_FILE_BYTES)

    # -- writing ---------------------------------------------------------------------------------------------------

    def stamp(self, record: Mapping[str, Any]) -> Path:
        """Write :data:`RUN_FILE` (``record``, with the holder) once the run's input is
        accepted; an earlier run being replaced is removed first, its state first."""
        self._require_open()
        if self._replace:
            earlier = self.earlier_run()
            state = [name for name in earlier if any(fnmatch.fnmatchcase(name, p) for p in self.state)]
            rest = [name for name in earlier if name not in state and name != RUN_FILE]
            remove(self.path, [*state, RUN_FILE, *rest])
            self._replace = False
        text = json.dumps({**record, "started": self.holder.started, "host": self.holder.host})
        path = atomic_write(self.path / RUN_FILE, lambda tmp: tmp.write_text(text))
        self._stamped = True
        return path

    def file(self, name: str) -> Path:
        """The path of the plain file name ``name`` in the directory."""
        return self.path / file_name("name (of a file in the output directory)", name)

    def subdirectory(self, name: str) -> Path:
        """The subdirectory ``name``, created if missing; one that is a link is refused."""
        self._require_open()
        return make_directory(self.file(name))

    def _require_open(self) -> None:
        if self._lock is None:
            raise RuntimeError(f"output directory {self.path} is not open: use it as `with OutputDirectory(...)`")


class RunStamp(Observer):
    """Stamps ``directory`` with ``record`` when a run starts, i.e. once :func:`fempde.solve`
    has accepted its input (the mesh, ρ0, a resumed run's checkpoint). It comes first
    among the observers, so that the writers start after it."""

    def __init__(self, directory: OutputDirectory, record: Mapping[str, Any]) -> None:
        self.directory, self.record = directory, dict(record)

    def start(self, info: RunInfo) -> None:
        self.directory.stamp(self.record)
