"""Meshes of compact convex domains for fempde.

Generators (:func:`interval`, :func:`rectangle`, :func:`disk`, :func:`polygon`,
:func:`ball`, :func:`box`) with a target size ``h`` (beyond :data:`MAX_NODES`
nodes only with ``allow_large=True``); :func:`load` and
:func:`save` for any meshio format; :func:`check` for the properties the
scheme relies on (valid, convex, non-negative transmissibilities: the P1
stiffness's, or on a Delaunay mesh where those are not, the Voronoi dual's,
:func:`voronoi_dual`);
:func:`boundary_nodes` for the nodes on the boundary. A generated mesh carries
its :func:`recipe` (the generator and its arguments), which meshes the same
domain again at another size (:meth:`Recipe.finer`).
"""

from .checks import (
    TRANSMISSIBILITIES,
    MeshError,
    MeshReport,
    boundary_nodes,
    check,
    p1_element,
    signed_volumes,
    transmissibilities,
)
from .generators import MAX_NODES, ball, box, disk, interval, orient, polygon, rectangle
from .io import load, save
from .recipes import Recipe, recipe
from .voronoi import check_delaunay, voronoi_dual

__all__ = [
    "MAX_NODES",
    "TRANSMISSIBILITIES",
    "MeshError",
    "MeshReport",
    "Recipe",
    "ball",
    "boundary_nodes",
    "box",
    "check",
    "check_delaunay",
    "disk",
    "interval",
    "load",
    "orient",
    "p1_element",
    "polygon",
    "recipe",
    "rectangle",
    "save",
    "signed_volumes",
    "transmissibilities",
    "voronoi_dual",
]
