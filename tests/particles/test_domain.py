"""The domain as particles see it: uniform samples, reflection and projection."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull

import meshes
from particles import ConvexDomain, confine


def _random_polygon(rng):
    points = rng.normal(size=(12, 2)) * rng.uniform(0.5, 3.0, size=2)
    return points[ConvexHull(points).vertices]


@pytest.mark.parametrize("reflect", [True, False])
def test_confined_moves_end_inside_random_convex_polygons(rng, reflect):
    for _ in range(10):
        domain = ConvexDomain.from_mesh(meshes.polygon(_random_polygon(rng), h=0.5))
        size = np.ptp(domain.mesh.p, axis=1).max()
        starts = domain.sample(500, rng)
        moves = rng.normal(size=starts.shape) * 5 * size  # steps larger than the domain
        ends = np.array([confine(s, m, domain.normals, domain.offsets, domain.center, domain.inradius, reflect)
                         for s, m in zip(starts, moves, strict=True)])
        assert np.all(domain.contains(ends, tol=1e-9))


def test_reflection_is_the_mirror_image_in_a_box():
    domain = ConvexDomain.from_mesh(meshes.rectangle(0, 1, 0, 2, h=0.5))
    end = confine(np.array([0.5, 0.5]), np.array([0.8, -1.7]), domain.normals, domain.offsets,
                  domain.center, domain.inradius, True)
    np.testing.assert_allclose(end, [0.7, 1.2], atol=1e-14)  # x: 1.3 → 0.7, y: −1.2 → 1.2
    projected = confine(np.array([0.5, 0.5]), np.array([1.0, 0.0]), domain.normals, domain.offsets,
                        domain.center, domain.inradius, False)
    np.testing.assert_allclose(projected, [1.0, 0.5], atol=1e-14)


@pytest.mark.parametrize("mesh", [meshes.interval(-1, 2, h=0.1), meshes.disk(h=0.1),
                                  meshes.polygon([[0, 0], [3, 0], [0, 1]], h=0.1), meshes.box(h=0.25)],
                         ids=["interval", "disk", "triangle", "box"])
def test_samples_are_uniform(rng, mesh):
    domain = ConvexDomain.from_mesh(mesh)
    n = 40_000
    x = domain.sample(n, rng)
    assert np.all(domain.contains(x))
    # the sample mean against the centroid, within 5 standard errors per coordinate
    volumes = domain.volumes
    centroids = np.asarray(mesh.p)[:, np.asarray(mesh.t)].mean(axis=1)
    centroid = centroids @ volumes / volumes.sum()
    se = x.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(x.mean(axis=0) - centroid) < 5 * se)


def test_faces_merge_coplanar_facets():
    assert ConvexDomain.from_mesh(meshes.rectangle(h=0.1)).normals.shape == (4, 2)
    assert ConvexDomain.from_mesh(meshes.box(h=0.2)).normals.shape == (6, 3)
    disk = ConvexDomain.from_mesh(meshes.disk(h=0.1))
    assert disk.inradius == pytest.approx(1.0, abs=5e-3)
