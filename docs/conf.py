"""Sphinx configuration of fempde's documentation (``make docs``: warnings are errors)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "fempde"
author = "the fempde developers"
copyright = "2026, the fempde developers"  # noqa: A001 - Sphinx's name
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
autosummary_generate = True
autosummary_ignore_module_all = True  # a module documents what it defines; packages re-export
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
default_role = "code"  # `x` in a docstring is code, as in the README
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "fempde"
