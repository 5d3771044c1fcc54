"""Target lip shapes: visemic's curves turned into *this person's* lip features.

A shape profile is any callable ``profile(values, channels) -> [frames × 6]`` giving the lip
features of :data:`visemic.video.features.FEATURES` (inter-ocular distances) that the person
would show for each row of ARKit curves. Dubbing asks the atlas for mouths with these shapes.

The default, :class:`ReferenceProfile`, is learned from the reference clip itself: for each
feature a fixed mix of curves (its *driver*, e.g. ``jawOpen − mouthClose`` for the lip opening)
is mapped through the quantiles of the driver on the reference's speech onto the quantiles of
the feature measured on the reference's real lips. The mapping is monotone, so the person's
whole range is used (a regression towards the mean, in a throwaway prototype, turned open vowels
into pursed lips). A personal profile (issue 17) can be passed instead: any object with the same
call signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from visemic.video import features

# Per feature, the curves whose weighted sum drives it.
DRIVERS: dict[str, dict[str, float]] = {
    "inner_aperture": {"jawOpen": 1.0, "mouthClose": -1.0, "mouthLowerDownLeft": 0.25,
                       "mouthLowerDownRight": 0.25, "mouthUpperUpLeft": 0.15,
                       "mouthUpperUpRight": 0.15, "mouthPressLeft": -0.2,
                       "mouthPressRight": -0.2},
    "outer_aperture": {"jawOpen": 1.0, "mouthClose": -0.6, "mouthFunnel": 0.3,
                       "mouthRollLower": -0.3, "mouthRollUpper": -0.3},
    "mouth_width": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5, "mouthStretchLeft": 0.5,
                    "mouthStretchRight": 0.5, "mouthPucker": -1.0, "mouthFunnel": -0.7},
    "protrusion": {"mouthPucker": 1.0, "mouthFunnel": 0.8, "mouthShrugUpper": 0.2},
    "jaw_drop": {"jawOpen": 1.0},
    "corner_height": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5, "mouthFrownLeft": -0.5,
                      "mouthFrownRight": -0.5},
}
QUANTILES = np.linspace(0.02, 0.98, 25)


class ShapeProfile(Protocol):
    def __call__(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray: ...


def drivers(values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """[frames × 6] driver values (the :data:`DRIVERS` mixes) of curve rows."""
    v = np.atleast_2d(np.asarray(values, np.float64))
    index = {c: i for i, c in enumerate(channels)}
    out = np.zeros((len(v), len(features.FEATURES)))
    for k, name in enumerate(features.FEATURES):
        for channel, w in DRIVERS[name].items():
            if channel in index:
                out[:, k] += w * v[:, index[channel]]
    return out


@dataclass
class ReferenceProfile:
    """Quantile mapping driver → feature, per feature, fitted on one clip (see module doc)."""

    driver_q: np.ndarray   # [6 × Q], increasing
    feature_q: np.ndarray  # [6 × Q], increasing

    @classmethod
    def fit(cls, values: np.ndarray, channels: Sequence[str], measured: np.ndarray,
            speech: np.ndarray | None = None) -> ReferenceProfile:
        """Fit on curve rows ``values`` and the features ``measured`` on the same frames
        (NaN rows ignored), over the ``speech`` frames when there are enough of them."""
        d = drivers(values, channels)
        m = np.asarray(measured, np.float64)
        ok = np.isfinite(m).all(axis=1)
        if speech is not None and (ok & speech).sum() >= 10:
            ok &= speech
        d, m = d[ok], m[ok]
        dq = np.quantile(d, QUANTILES, axis=0).T
        fq = np.quantile(m, QUANTILES, axis=0).T
        # A driver that rarely moves (pucker is 0 on most frames) has tied quantiles: a tie maps
        # to the middle of the feature's quantiles it spans, and the knots are made increasing.
        for k in range(len(dq)):
            _, first, counts = np.unique(np.round(dq[k], 9), return_index=True,
                                         return_counts=True)
            for a, c in zip(first, counts, strict=True):
                fq[k, a:a + c] = fq[k, a:a + c].mean()
        dq = np.maximum.accumulate(dq + np.arange(len(QUANTILES)) * 1e-9, axis=1)
        return cls(driver_q=dq, feature_q=fq)

    def __call__(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
        d = drivers(values, channels)
        return np.stack([np.interp(d[:, k], self.driver_q[k], self.feature_q[k])
                         for k in range(d.shape[1])], axis=1)
