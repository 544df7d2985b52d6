"""Meshes of compact convex domains for fempde.

Generators (:func:`interval`, :func:`rectangle`, :func:`disk`, :func:`polygon`,
:func:`ball`, :func:`box`) with a target size ``h`` (beyond :data:`MAX_NODES`
nodes only with ``allow_large=True``); :func:`load` and
:func:`save` for any meshio format; :func:`check` for the properties the
scheme relies on (valid, convex, non-negative transmissibilities);
:func:`boundary_nodes` for the nodes on the boundary.
"""

from .checks import MeshError, MeshReport, boundary_nodes, check, p1_element, signed_volumes, transmissibilities
from .generators import MAX_NODES, ball, box, disk, interval, orient, polygon, rectangle
from .io import load, save

__all__ = [
    "MAX_NODES",
    "MeshError",
    "MeshReport",
    "ball",
    "boundary_nodes",
    "box",
    "check",
    "disk",
    "interval",
    "load",
    "orient",
    "p1_element",
    "polygon",
    "rectangle",
    "save",
    "signed_volumes",
    "transmissibilities",
]
