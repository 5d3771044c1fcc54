"""Pauses a dub leaves as they are.

In a pause of the new speech the dub shows the person's rest. Where the video's own mouth
already rests there, its lips and the opening between them within :data:`NEAR` of where the
rest would be placed, for a stretch of :data:`MIN_RUN` or more, pasting it changes nothing a
viewer wants changed and costs what any paste costs (a mouth from another moment, resampled,
relit): those frames are left as the video has them, the edit fading out and back in over
:data:`FADE` at the stretch's ends. The mouth still rests and stays still there (within
:data:`NEAR` of one rest throughout, and as closed as that rest); everywhere else, and
wherever the video's mouth is parted, open or moving in the new speech's pause, the rest is
pasted as before.

Measured with bench/dub_quality.py (self-reenactment: B's pauses are its own; LMD ÷ frozen
before → after, and over the frames still edited): GRID lbbc2a, 21 of 37 frames left,
0.808 → 0.603 (0.737); LRS2, 5 of 141, 0.756 → 0.740 (0.747); the three-quarter view, 4 of 65,
0.620 → 0.607 (0.610); no frame left on the other five. Without the opening in the distance
the German anchor's pauses were left too, his lips parted 0.04 eye distances wider than the
closed rest the dub shows but within 0.02 on their mean: his LMD ratio 0.799 → 0.774, but the
opening no longer followed the one asked at r ≥ 0.85 (0.84) and the rest shown was not closed.
"""

from __future__ import annotations

import numpy as np

from visemic.masks import runs

MIN_RUN = 0.3   # seconds: shorter stretches are edited (a flicker between edited and not)
FADE = 0.08     # seconds the edit takes to fade out (and back in) at a stretch's ends
# Eye distances between the video's lips and the rest placed there, on the lip landmarks'
# mean and on the opening between the lips: about 2 pixels on a face 100 pixels between the eyes.
NEAR = 0.02


def edit_weights(silent: np.ndarray, distance: np.ndarray, step: float) -> np.ndarray:
    """[n] how much of each output frame's edit is applied (1: all, 0: the frame as it is).

    ``silent`` [n] the new speech's pause frames; ``distance`` [n] how far (eye distances) the
    video's lips shown at each frame are from where the edit would put them
    (:func:`visemic.dub.playback.rest_distances`; NaN where unknown: edited); ``step`` seconds
    per output frame."""
    keep = np.asarray(silent, bool) & (np.nan_to_num(distance, nan=np.inf) < NEAR)
    weights = np.ones(len(keep))
    if step <= 0:
        return weights
    fade = max(1, int(round(FADE / step)))
    for a, b in runs(keep):
        if (b - a) * step < MIN_RUN - 1e-6:
            continue
        run = np.arange(b - a, dtype=np.float64)
        # Ramps towards the stretch's middle from its ends, none at the clip's own ends
        # (nothing edited there to fade from).
        into = (run + 1) / (fade + 1) if a > 0 else np.ones(b - a)
        out_of = (run[::-1] + 1) / (fade + 1) if b < len(keep) else np.ones(b - a)
        weights[a:b] = 1.0 - np.minimum(1.0, np.minimum(into, out_of))
    return weights
