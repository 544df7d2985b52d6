"""How a generated mesh was made, so that its domain can be meshed again at another size.

Every generator of :mod:`meshes.generators` records on the mesh it returns its
:class:`Recipe`: its name and every argument it was called with (defaults
filled in). :func:`recipe` reads it back, and :meth:`Recipe.finer` meshes the
same domain with the same arguments at ``h / factor``: what fempde's spatial
estimate solves on where refining the mesh itself would not keep the scheme's
properties (an obtuse triangle's red refinement has negative P1
transmissibilities; the ball's refinement is not Delaunay).

A recipe describes the mesh it was made with and no other: it is stored with a
fingerprint of the nodes and cells, and a mesh changed in place since, or a
copy that scikit-fem made of it (``refined()``, ``with_boundaries``), has none.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from skfem import Mesh

__all__ = ["Recipe", "recipe", "recorded"]

_GENERATORS: dict[str, Callable[..., Mesh]] = {}
_ATTRIBUTE = "_meshes_recipe"  # (Recipe, fingerprint) on the skfem mesh

M = TypeVar("M", bound=Mesh)


@dataclass(frozen=True)
class Recipe:
    """A generator's name and the arguments it was called with (every one, defaults filled in)."""

    generator: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def h(self) -> float:
        return float(self.arguments["h"])

    def finer(self, factor: float = 2.0) -> Mesh:
        """The same domain from the same generator with the same arguments at ``h / factor``
        (a :class:`~meshes.MeshError` naming ``h`` where the generator refuses it: too many nodes)."""
        return _GENERATORS[self.generator](**{**self.arguments, "h": self.h / factor})

    def describe(self) -> str:
        """The call that made the mesh, ``meshes.disk(radius=1.0, h=0.03, ...)``."""
        arguments = ", ".join(f"{name}={_plain(value)!r}" for name, value in self.arguments.items())
        return f"meshes.{self.generator}({arguments})"


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _fingerprint(mesh: Mesh) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for array in (np.asarray(mesh.p), np.asarray(mesh.t)):
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def recipe(mesh: Mesh) -> Recipe | None:
    """The recipe ``mesh`` was made by, or ``None`` (not made by a generator of
    :mod:`meshes`, made from another mesh, or changed since it was made)."""
    stored = getattr(mesh, _ATTRIBUTE, None)
    if stored is None:
        return None
    made, fingerprint = stored
    return made if fingerprint == _fingerprint(mesh) else None


def recorded(name: str) -> Callable[[Callable[..., M]], Callable[..., M]]:
    """Decorate the generator ``name``: the meshes it returns carry their :class:`Recipe`."""
    def decorate(generator: Callable[..., M]) -> Callable[..., M]:
        signature = inspect.signature(generator)

        @functools.wraps(generator)
        def generate(*args: Any, **kwargs: Any) -> M:
            mesh = generator(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            setattr(mesh, _ATTRIBUTE, (Recipe(name, dict(bound.arguments)), _fingerprint(mesh)))
            return mesh

        _GENERATORS[name] = generate
        return generate

    return decorate
