"""Choosing a real mouth for every output frame: dynamic programming over the atlas.

As in Video Rewrite (Bregler et al. 1997) and Ezzat et al. (2002): each output frame has a
*target* (the lip shape the profile asks for, and its phone with the phones around it), each
atlas entry a *target cost* against it (shape distance + phone-context mismatch), and each pair
of consecutive choices a *join cost* (zero when the second is the frame that really followed the
first in the reference, so real motion plays through; otherwise a jump penalty plus how
different the two mouths look). The cheapest path (Viterbi over the best :data:`CANDIDATES`
entries per frame) is the choice. In pauses the rest mouth is the only candidate: silence is
rest and does not move.
"""

from __future__ import annotations

import numpy as np

from visemic.dub.atlas import CLASSES, SIL, Atlas
from visemic.video import features

CANDIDATES = 40
# Weights of the lip features in the shape distance (in units of the reference's spread).
FEATURE_WEIGHTS = {"inner_aperture": 1.0, "outer_aperture": 0.5, "mouth_width": 0.6,
                   "protrusion": 0.4, "jaw_drop": 0.3, "corner_height": 0.2}
PHONE_WEIGHT = 0.8      # current phone's class differs
CONTEXT_WEIGHT = 0.25   # previous / next phone's class differs
HOLD_COST = 0.4         # the same mouth two frames running (a frozen mouth in speech)
JUMP_COST = 0.8         # a cut to another moment of the reference
LOOK_WEIGHT = 4.0       # × RMS grey difference of the two mouths (0…1)
TEETH_WEIGHT = 1.0      # × change in the teeth-bright share
# × the teeth-bright share of a mouth shown on a /p b m/ frame: lips that seal show no teeth
# (face4 speaking GRID's "lay blue" was shown a mouth with 0.42 of its opening teeth on the
# /b/, asked 0.15 eye distances open by the coarticulated jaw; 2 picks a closed one there).
# Asking every /p b m/ frame for a closed mouth instead took the cross-dubs' r with jawOpen,
# which stays open there, from 0.73 to 0.68 on the German anchor and 0.86 to 0.81 on 1080×1920.
SEAL_TEETH_WEIGHT = 2.0


def target_costs(atlas: Atlas, shapes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """[frames × entries] target costs."""
    w = np.array([FEATURE_WEIGHTS[f] for f in features.FEATURES])
    spread = atlas.features.std(axis=0) + 1e-6
    a = atlas.features / spread * np.sqrt(w)
    s = np.asarray(shapes, np.float64) / spread * np.sqrt(w)
    cost = ((s ** 2).sum(1)[:, None] + (a ** 2).sum(1)[None, :] - 2 * s @ a.T)
    cost = np.maximum(cost, 0.0)
    ac = atlas.classes
    cost += PHONE_WEIGHT * (classes[:, 1:2] != ac[None, :, 1])
    cost += CONTEXT_WEIGHT * (classes[:, 0:1] != ac[None, :, 0])
    cost += CONTEXT_WEIGHT * (classes[:, 2:3] != ac[None, :, 2])
    cost += SEAL_TEETH_WEIGHT * (classes[:, 1:2] == CLASSES.index("bilabial")) * atlas.teeth
    # A speech frame shown with a mouth from a pause of the reference (or the reverse) reads as
    # the wrong moment.
    cost += 0.5 * ((classes[:, 1:2] == SIL) != atlas.silent[None, :])
    return cost


def choose(atlas: Atlas, shapes: np.ndarray, classes: np.ndarray,
           silent: np.ndarray) -> np.ndarray:
    """[frames] atlas entry per output frame. ``shapes`` [frames × 6] target lip features,
    ``classes`` [frames × 3] phone context, ``silent`` [frames] pause frames (shown at rest)."""
    n = len(shapes)
    if n == 0:
        return np.zeros(0, np.int64)
    k = min(CANDIDATES, atlas.size)
    # Frames are handled in blocks so the cost matrix stays small for long outputs.
    cand = np.empty((n, k), np.int64)
    tcost = np.empty((n, k))
    for a in range(0, n, 2048):
        b = min(n, a + 2048)
        c = target_costs(atlas, shapes[a:b], classes[a:b])
        best = np.argpartition(c, k - 1, axis=1)[:, :k]
        cand[a:b] = best
        tcost[a:b] = np.take_along_axis(c, best, axis=1)
    cand[silent] = atlas.rest
    tcost[silent] = 0.0
    successor = _successors(atlas)
    thumbs = atlas.thumbs
    total = tcost[0].copy()
    back = np.zeros((n, k), np.int32)
    for t in range(1, n):
        prev, cur = cand[t - 1], cand[t]
        nxt = successor[prev]  # the frame that followed each previous choice (−1: none)
        look_from = np.where(nxt >= 0, nxt, prev)
        diff = thumbs[look_from][:, None, :] - thumbs[cur][None, :, :]
        look = np.sqrt((diff ** 2).mean(axis=2))
        join = JUMP_COST + LOOK_WEIGHT * look + TEETH_WEIGHT * np.abs(
            atlas.teeth[look_from][:, None] - atlas.teeth[cur][None, :])
        join = np.where(nxt[:, None] == cur[None, :], 0.0, join)
        join = np.where(prev[:, None] == cur[None, :], HOLD_COST, join)
        if silent[t] and silent[t - 1]:
            join[:] = 0.0
        step = total[:, None] + join
        back[t] = np.argmin(step, axis=0)
        total = step[back[t], np.arange(k)] + tcost[t]
    path = np.empty(n, np.int64)
    i = int(np.argmin(total))
    for t in range(n - 1, -1, -1):
        path[t] = cand[t, i]
        i = back[t, i]
    return path


def _successors(atlas: Atlas) -> np.ndarray:
    """[entries] the entry holding the reference frame right after each entry's (−1: none)."""
    where = {int(s): j for j, s in enumerate(atlas.source)}
    return np.array([where.get(int(s) + 1, -1) for s in atlas.source], np.int64)
