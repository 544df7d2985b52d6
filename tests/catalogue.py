"""The bad-input catalogue: tables of cases, each run and checked the same way.

A case is an input, the outcome expected — the exit status of a command, or
the exception type of a Python call — and what the one-line message must name
(the file, key, line, value). :func:`check` runs it in its own world (a
directory with the case's input files, an output directory ``out/`` and,
outside it, a sentinel file that the case's planted links point to) and
asserts all of:

* the exit status (a command: one ``fempde: error:`` line, no traceback) or
  the exception type;
* every string of ``names`` in the message (``{root}``, ``{out}`` and
  ``{sentinel}`` are the world's paths);
* nothing outside ``out/`` changed (every file and link of the world is hashed
  before and after: the sentinel included); inside ``out/``, nothing that was
  there is lost or changed (the lock file excepted) and nothing new is left,
  unless the case's run is one that goes on and ``writes``.

Tables live in ``tests/`` beside the package they feed (``tests/fempde/cli``,
``tests/fempde/io``, ``tests/particles``, ...), each a list of :class:`Case`
passed through :func:`cases`, which marks every case ``bad_input(kind)``.
Tables of other layouts (the scenario-value and formula tables) carry the same
marker, and for every marked test the suite checks that nothing is written
into the working directory (``tests/conftest.py``). The cross-check and sweep
commands add their tables in this format under ``tests/particles/`` (kinds
``crosscheck``, ``sweep``).

``python tests/catalogue.py`` prints the number of cases per kind (so does
every run of the suite, in its summary).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

KINDS = ("scenario", "formula", "mesh", "checkpoint", "run-state", "output", "api", "bounds", "crosscheck", "sweep")
"""The classes of bad input: scenario files, formulas, meshes, checkpoints, a run's own state read back
(run.json, .pvd, history.csv, locks), output paths and links, the Python API, sizes and nesting."""

SENTINEL = "precious: a file outside the output directory\n"


@dataclass
class World:
    """A case's files: ``root`` (the working directory), ``out`` (the output directory,
    ``root/out``, not created) and ``sentinel``, a file outside ``out`` whose
    contents must never change."""

    root: Path
    out: Path = field(init=False)
    sentinel: Path = field(init=False)
    held: list[Any] = field(init=False, default_factory=list)
    """What the case holds open while it runs (another run's lock): closed after it."""

    def __post_init__(self) -> None:
        self.out = self.root / "out"
        self.sentinel = self.root / "outside" / "sentinel.txt"
        self.sentinel.parent.mkdir(parents=True, exist_ok=True)
        self.sentinel.write_text(SENTINEL)

    def write(self, name: str, text: str | bytes) -> Path:
        """A file ``name`` under ``root`` (parents made)."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def plant(self, name: str, target: Path | None = None, *, hard: bool = False) -> Path:
        """A link ``out/name`` to ``target`` (default: the sentinel): symbolic, or ``hard``."""
        link = self.out / name
        link.parent.mkdir(parents=True, exist_ok=True)
        target = self.sentinel if target is None else target
        if hard:
            os.link(target, link)
        else:
            os.symlink(os.path.relpath(target, link.parent), link)
        return link

    def copy_run(self, run: Path) -> Path:
        """``out`` as a copy of the finished run directory ``run`` (the ``finished_run``
        fixture), its scenario copied to ``root/scenario.toml`` and named by its ``run.json``."""
        shutil.copytree(run, self.out, symlinks=True)
        scenario = self.root / "scenario.toml"
        shutil.copy(run.parent / "scenario.toml", scenario)
        record = json.loads((self.out / "run.json").read_text())
        (self.out / "run.json").write_text(json.dumps({**record, "scenario": str(scenario)}))
        return scenario

    def format(self, text: str) -> str:
        return text.format(root=self.root, out=self.out, sentinel=self.sentinel)


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(world)`` builds it and returns the command line (a list of
    strings, run through ``command``) or a call (run as is); ``expect`` is the exit
    status or the exception type; ``names`` what the message must contain (for a run
    that goes on, exit 0 or 1: its report); ``writes``: the case's run writes into
    ``out/`` (only what lies outside is checked then)."""

    id: str
    make: Callable[[World], Sequence[str] | Callable[[], Any]]
    expect: int | type[BaseException]
    names: tuple[str, ...] = ()
    writes: bool = False


def resumed(change: Callable[[World], Any]) -> Callable[[World, Path], list[Any]]:
    """A command case: ``fempde resume out`` on a copy of the finished run, ``change(world)`` made first."""
    def make(world: World, run: Path) -> list[Any]:
        world.copy_run(run)
        change(world)
        return ["resume", world.out, "--quiet"]
    return make


def cases(kind: str, table: Sequence[Case]) -> list[Any]:
    """``table`` as pytest parameters, each marked ``bad_input(kind)``, with its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; the kinds are {KINDS}")
    ids = [case.id for case in table]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"case ids must be unique in a table, repeated: {duplicated}")
    return [pytest.param(case, id=case.id, marks=pytest.mark.bad_input(kind)) for case in table]


def _snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root``: a file's SHA-256, a link's target, a directory."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = ("dir", "")
            elif not path.is_file():  # a FIFO: reading it would block
                found[key] = ("special", "")
            elif path.stat().st_size > 64 << 20:  # a sparse giant: its size and time stand for it
                status = path.stat()
                found[key] = ("file", f"{status.st_size} bytes, modified {status.st_mtime_ns}")
            else:
                found[key] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def check(case: Case, root: Path, command: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str],
          monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``case`` in a world at ``root`` (module docstring); its message."""
    world = World(root)
    try:
        return _run(case, world, command, capsys, monkeypatch)
    finally:
        for held in world.held:
            held.close()


def _run(case: Case, world: World, command: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> str:
    root = world.root
    made = case.make(world)
    monkeypatch.chdir(root)
    before = _snapshot(root)
    capsys.readouterr()
    if callable(made):
        assert isinstance(case.expect, type), f"a call's case expects an exception type, got {case.expect!r}"
        with pytest.raises(case.expect) as raised:
            made()
        message = str(raised.value)
    else:
        assert isinstance(case.expect, int), f"a command's case expects an exit status, got {case.expect!r}"
        code = command([str(a) for a in made])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        lines = captured.err.strip().splitlines()
        message = lines[-1] if lines else ""
        assert code == case.expect, f"exit {code}, expected {case.expect}: {message}"
        if case.expect == 2:  # one line that says what is wrong
            assert message.startswith(("fempde: error: ", "fempde-crosscheck: ", "fempde-sweep: ")), message
        elif case.expect not in (2, 3):  # a run that went on: what it reported
            message = captured.out + captured.err
    for name in case.names:
        assert world.format(name) in message, f"{world.format(name)!r} not in {message!r}"
    after = _snapshot(root)
    inside = "out" + os.sep
    outside = {k: v for k, v in before.items() if k != "out" and not k.startswith(inside)}
    assert {k: v for k, v in after.items() if k != "out" and not k.startswith(inside)} == outside
    assert world.sentinel.read_text() == SENTINEL
    if not case.writes:
        kept = {k: v for k, v in before.items() if k.startswith(inside) and not k.endswith(".fempde.lock")}
        assert {k: after.get(k) for k in kept} == kept, "a file in the output directory was lost or changed"
        new = sorted(set(after) - set(before) - {"out", f"{inside}.fempde.lock"})
        assert new == [], f"left behind: {new}"
    return message


def _deflated_zeros(size: int, blocks: int, crc: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``blocks`` × ``size`` zero bytes (one block compressed,
    then repeated: a full flush makes each block stand alone), and ``crc`` continued over them."""
    zeros = bytes(size)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    return block * blocks, crc


def zip_bomb(path: Path, fields: dict[str, Any], bomb: str, tail: tuple[int, ...], mib: int = 3072) -> Path:
    """A real zip bomb in fempde's archive layout: ``fields`` stored as ``.npy`` entries,
    and the entry ``bomb.npy``, a float array of shape ``(rows, *tail)`` whose ``mib``
    MiB of zeros deflate to about a thousandth of that (CRC and sizes true: inflating
    it would allocate them)."""
    import numpy as np

    entries = []  # name, stored bytes, CRC-32, size inflated, method (0 stored, 8 deflated)
    for name, value in fields.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
        data = buffer.getvalue()
        entries.append((f"{name}.npy", data, zlib.crc32(data), len(data), 0))
    row = 8 * math.prod(tail)
    rows_per_block = max((64 << 20) // row, 1)
    blocks = max((mib << 20) // (rows_per_block * row), 1)
    header = io.BytesIO()
    shape = (blocks * rows_per_block, *tail)
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    head = header.getvalue()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    prefix = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    body, crc = _deflated_zeros(rows_per_block * row, blocks, zlib.crc32(head))
    entries.append((f"{bomb}.npy", prefix + body + b"\x03\x00", crc, len(head) + blocks * rows_per_block * row, 8))
    local, central = b"", b""
    for name, data, crc, size, method in entries:
        encoded = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, len(local)) + encoded
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(encoded),
                             0) + encoded + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path


def count(paths: Sequence[str] = ("tests",)) -> dict[str, int]:
    """The catalogue's cases per kind, as pytest collects them (a subprocess)."""
    output = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "bad_input",
                             "-p", "no:cacheprovider", *paths], capture_output=True, text=True, check=False,
                            cwd=Path(__file__).parents[1]).stdout
    totals = {}
    for line in output.splitlines():
        if line.startswith("bad-input catalogue:"):
            for part in line.split("(", 1)[1].rstrip(")").split(", "):
                kind, number = part.rsplit(" ", 1)
                totals[kind] = int(number)
    return totals


if __name__ == "__main__":
    totals = count(sys.argv[1:] or ("tests",))
    for kind in KINDS:
        print(f"{kind:12s} {totals.get(kind, 0):5d}")
    print(f"{'total':12s} {sum(totals.values()):5d}")
