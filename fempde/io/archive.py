"""Deprecated: the checkpoint container moved to :mod:`fempde.archive`; import it from there.

It moved below the solvers, whose PDE checkpoint (:mod:`fempde.solvers.resume`)
is written in it. This module re-exports its names for one release.
"""

import warnings

from ..archive import FORMAT, KIND, MAX_ENTRY_BYTES, Field, read_archive, write_archive

__all__ = ["FORMAT", "KIND", "MAX_ENTRY_BYTES", "Field", "read_archive", "write_archive"]

warnings.warn("fempde.io.archive moved to fempde.archive; import it from there", DeprecationWarning, stacklevel=2)
