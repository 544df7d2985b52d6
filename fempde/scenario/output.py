"""Where a scenario's run writes: the ``--out`` option and a directory proven writable.

Used by the ``fempde-crosscheck`` command and the examples, so that a bad
output directory is refused, as a :class:`~fempde.scenario.errors.ScenarioError`,
before any run starts. A run that owns its directory for its duration (lock,
link checks, earlier runs kept) takes it as a :class:`fempde.io.OutputDirectory`,
as the ``fempde`` commands do.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import LinkError, probe_writable
from .errors import ScenarioError

__all__ = ["out_option", "writable_directory"]


def out_option(out: str) -> Path:
    """The directory of an ``--out`` option; an empty one is refused (it would mean the current directory)."""
    if not out.strip():
        raise ScenarioError(f"--out must name a directory, got {out!r}", key="--out", value=out)
    return Path(out)


def writable_directory(directory: Path) -> Path:
    """``directory``, created if missing, after a probe file was created there
    (exclusively, never through a link: :func:`fempde.atomic.probe_writable`);
    else :class:`ScenarioError` saying why (a file in the way, no permission, a link)."""
    if directory.exists() and not directory.is_dir():
        raise ScenarioError(f"output directory {directory} is a file; give a directory (--out DIR)",
                            value=str(directory))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe_writable(directory)
    except LinkError as err:
        raise ScenarioError(str(err), value=str(directory)) from None
    except OSError as err:
        raise ScenarioError(f"output directory {directory} is not writable: {err.strerror or err}",
                            value=str(directory)) from None
    return directory
