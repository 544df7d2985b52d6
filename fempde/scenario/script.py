"""The command line every example and benchmark script shares.

Each script in ``examples/`` and ``benchmarks/`` takes ``--help`` (which runs
nothing), ``--quick`` (a smaller run, for a smoke test) and ``--out DIR`` (by
default ``out/<script name>`` under the current directory), and reports the
progress of every phase that lasts more than a few seconds. :func:`parser`
builds that parser, :func:`output` checks the directory before any run starts,
:func:`phase` and :func:`progress` print the progress (on stderr, so that a
script's results on stdout stay clean), and :func:`report` keeps a copy of what
a benchmark prints (its table) in the output directory.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO, TypeVar

from ..atomic import LinkError, atomic_write, open_append
from .errors import ScenarioError
from .output import out_option, writable_directory

__all__ = ["default_out", "output", "parser", "phase", "progress", "report"]

T = TypeVar("T")


def default_out(script: str) -> str:
    """``out/<name>`` for the script at ``script`` (its file name without ``.py``)."""
    return str(Path("out") / Path(script).stem)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each option's default."""


def parser(doc: str | None, script: str, quick: str) -> argparse.ArgumentParser:
    """A parser whose description is the script's docstring ``doc``, with ``--quick``
    (``quick`` says what it shrinks) and ``--out`` (default :func:`default_out` of ``script``)."""
    result = argparse.ArgumentParser(prog=Path(script).name, description=doc, formatter_class=_Help)
    result.add_argument("--quick", action="store_true", help=quick.replace("%", "%%"))  # argparse formats help with %
    result.add_argument("--out", default=default_out(script), metavar="DIR",
                        help="output directory, created if missing")
    return result


def output(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """``args.out`` created and proven writable, or one line on stderr, ``<script>: error: ...``,
    and exit status 2 (bad input), before any run."""
    try:
        return writable_directory(out_option(args.out))
    except ScenarioError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Print ``name ...`` when a phase starts and its wall time when it ends."""
    print(f"{name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    print(f"{name}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """``items`` with a progress bar on stderr (tqdm), one step per item."""
    from tqdm import tqdm

    yield from tqdm(items, desc=description, total=total, file=sys.stderr, leave=True, dynamic_ncols=True)


class _Tee:
    """A text stream writing to two: the terminal and the report file."""

    def __init__(self, first: TextIO, second: IO[str]) -> None:
        self.first, self.second = first, second

    def write(self, text: str) -> int:
        self.second.write(text)
        if "\n" in text:  # line by line: an interrupted script keeps the rows it printed
            self.second.flush()
        return self.first.write(text)

    def flush(self) -> None:
        self.first.flush()
        self.second.flush()


@contextmanager
def report(path: Path) -> Iterator[Path]:
    """Everything printed to stdout inside the block also goes to ``path`` (line by line,
    so that an interrupted benchmark keeps the rows it printed)."""
    try:
        atomic_write(path, lambda fresh: fresh.write_text("", encoding="utf-8"))  # never through a link
    except LinkError as err:
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    with open_append(path) as handle:
        terminal = sys.stdout
        sys.stdout = _Tee(terminal, handle)  # type: ignore[assignment]
        try:
            yield path
        finally:
            sys.stdout = terminal
    print(f"wrote {path}", file=sys.stderr)
