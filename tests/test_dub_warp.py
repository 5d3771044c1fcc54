"""The dub's piecewise-affine warp: a pixel on the edge between a large triangle and a sliver
takes the large one's map (a sliver's map, extrapolated beyond it, reads far away)."""

from __future__ import annotations

import numpy as np

from visemic.dub.composite import warp


def test_an_edge_pixel_is_the_larger_triangles():
    image = np.full((60, 160, 3), 100, np.uint8)
    image[:, 100:] = 255  # far away: bright
    # Two triangles sharing the edge (10, 10)–(30, 10): a large one below it and a sliver
    # just above it, listed last. The large one maps onto itself; the sliver onto the bright
    # part (its own pixels may be bright; the shared edge must not be).
    dst = np.array([[10, 10], [30, 10], [20, 40], [20, 9.6]], np.float64)
    src = dst.copy()
    src[3] = [120, 9.6]
    src_sliver = np.array([[110, 10], [130, 10], [120, 9.6]])
    src = np.vstack([src[:3], src_sliver])
    dst = np.vstack([dst[:3], dst[[0, 1, 3]]])
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    out, covered = warp(image, src, dst, triangles, (60, 60))
    edge = out[10, 12:29]
    assert covered[10, 12:29].all()
    assert (edge == 100).all(), edge[:, 0]
