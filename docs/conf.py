"""Sphinx configuration of fempde's documentation (``make docs``: warnings are errors).

The API reference is generated from the docstrings: every module documents what
it defines (``ignore-module-all``), so a class re-exported by a package appears
once, under the module that owns it. What ``import fempde``, ``import particles``
and ``import meshes`` give is listed on its own page (``generated/public.rst``,
written below from the packages' ``__all__``), and a reference to a re-exported
name (``:class:`fempde.PorousMedium```) resolves to the owning module's entry.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

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
autodoc_default_options = {"members": True, "show-inheritance": False, "ignore-module-all": True}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
default_role = "code"  # `x` in a docstring is code, as in the README
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "fempde"

PACKAGES = ("fempde", "particles", "meshes")


def _owner(package: str, name: str) -> str | None:
    """The full name under which ``package.name`` is documented, or None for data."""
    obj = getattr(importlib.import_module(package), name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return None
    module = getattr(obj, "__module__", None)
    if module is None or not module.startswith(PACKAGES):
        return None
    return f"{module}.{obj.__qualname__}"


def write_public_names(target: Path) -> None:
    """Write the table of each package's public names, linked to their owners."""
    lines = [
        "Public names",
        "============",
        "",
        "What each package gives on import; every entry links to the module that defines it.",
        "",
    ]
    for package in PACKAGES:
        module = importlib.import_module(package)
        title = f"``import {package}``"
        lines += [title, "-" * len(title), ""]
        owned, data = [], []
        for name in sorted(module.__all__, key=str.lower):
            owner = _owner(package, name)
            (owned if owner else data).append(owner or name)
        lines += [".. autosummary::", ""] + [f"   ~{owner}" for owner in owned] + [""]
        if data:
            lines += ["Constants: " + ", ".join(f"``{package}.{name}``" for name in data) + ".", ""]
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


write_public_names(Path(__file__).parent / "generated" / "public.rst")


def resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``fempde.Name`` (a re-export) to the entry of the module that defines it."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    package, _, rest = target.partition(".")
    if package not in PACKAGES or not rest:
        return None
    head, _, tail = rest.partition(".")
    try:
        owner = _owner(package, head)
    except (AttributeError, ImportError):
        return None
    if owner is None or owner == f"{package}.{head}":
        return None
    node["reftarget"] = f"{owner}.{tail}" if tail else owner
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], node["reftarget"], node, contnode)


def setup(app: Any) -> None:
    app.connect("missing-reference", resolve_reexport)
