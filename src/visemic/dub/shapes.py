"""Target lip shapes: visemic's curves turned into *this person's* lip features.

A shape profile is any callable ``profile(values, channels) -> [frames × 6]`` giving the lip
features of :data:`visemic.video.features.FEATURES` (inter-ocular distances) that the person
would show for each row of ARKit curves. Dubbing asks the atlas for mouths with these shapes.

The default, :class:`ReferenceProfile`, is learned from the reference clip itself: for each
feature a fixed mix of curves (its *driver*, e.g. ``jawOpen − mouthClose`` for the lip opening)
is mapped onto the feature measured on the reference's real lips by the straight line that gives
the driver, over the reference's speech, the feature's mean and spread, held within the
feature's range (:data:`SPAN`). The person's whole range is used (a regression towards the mean,
in a throwaway prototype, turned open vowels into pursed lips), and the line keeps the driver's
correlation with the lips: matching every quantile instead (as before) bent it into the
feature's own distribution, which for a speaker whose lips are either shut or wide open (GRID)
is a step, and a dip of the driver that did not reach the step stayed wide open (r with the real
lips 0.96 → 0.84 on lbbc2a, 0.73 → 0.65 on swiz3n). A personal profile (issue 17) can be passed
instead: any object with the same call signature.

:func:`widened` gives the opening asked for over the speech back the spread that the blends
made after the profile (the reference's lips for the same phone in context, the voice model)
took from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
# The share of the feature's values (low, high) the mapping stays between.
SPAN = (0.02, 0.98)


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
    """Monotone piecewise-linear mapping driver → feature, per feature, fitted on one clip (see
    module doc): knots ``driver_q`` → ``feature_q``, held beyond the end knots."""

    driver_q: np.ndarray   # [6 × Q], increasing
    feature_q: np.ndarray  # [6 × Q], non-decreasing

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
        dq = np.zeros((d.shape[1], 2))
        fq = np.zeros((d.shape[1], 2))
        for k in range(d.shape[1]):
            lo, hi = np.quantile(m[:, k], SPAN)
            mean_d, mean_f = float(d[:, k].mean()), float(m[:, k].mean())
            sd_d, sd_f = float(d[:, k].std()), float(m[:, k].std())
            if sd_d < 1e-9 or sd_f < 1e-9:  # a driver that never moves says nothing
                dq[k], fq[k] = (mean_d, mean_d + 1.0), (mean_f, mean_f)
                continue
            # The line through (mean driver, mean feature) with slope sd_f / sd_d, held at the
            # feature's SPAN beyond its ends (np.interp holds the end knots).
            slope = sd_f / sd_d
            dq[k] = (mean_d + (lo - mean_f) / slope, mean_d + (hi - mean_f) / slope)
            fq[k] = (lo, hi)
            if dq[k, 1] <= dq[k, 0]:
                dq[k, 1] = dq[k, 0] + 1e-9
        return cls(driver_q=dq, feature_q=fq)

    def __call__(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
        d = drivers(values, channels)
        return np.stack([np.interp(d[:, k], self.driver_q[k], self.feature_q[k])
                         for k in range(d.shape[1])], axis=1)


# The opening asked for over the speech is widened (about its mean) to at least this share of
# the spread the reference's own lips showed while speaking, by at most SPREAD_GAIN.
SPREAD_SHARE = 0.6
SPREAD_GAIN = 3.0


def widened(asked: np.ndarray, speaking: np.ndarray, reference: np.ndarray,
            reference_speaking: np.ndarray) -> np.ndarray:
    """``asked`` [frames] (one feature's targets) with its ``speaking`` frames widened about
    their mean to :data:`SPREAD_SHARE` of the spread of ``reference`` [entries] (the feature on
    the reference's frames) over its ``reference_speaking`` ones, by at most
    :data:`SPREAD_GAIN` and never beyond the reference's range (its 2–98 %); never narrowed.

    Why: each blend that makes the targets (the phones-in-context shapes, the voice model) is
    an average of imperfectly correlated predictions, and an average is narrower than either:
    on the GRID halves the opening asked for spread 0.02–0.04 eye distances against 0.03–0.11
    in the real lips, so open vowels came out half open and the speech hardly differed from
    the pauses. Measured with bench/dub_quality.py (self-reenactment, dub / frozen LMD and r
    with the real lips, before → after): swiz3n 0.060 / 0.071 → 0.055 / 0.071, r 0.74 → 0.81;
    lbbc2a 0.021 → 0.020 / 0.024; lwbsza 0.029 → 0.028 / 0.049; the other clips' openings
    already spread that far (unchanged); cross-dubs unchanged (the anchor 0.74). With
    bench/dub_targets.py (the planned lip landmarks): LMD ÷ frozen over the 8 clips
    0.838 → 0.830, r 0.661 → 0.671. A share of 0.8 gained more there (0.821, r 0.675; lbbc2a
    0.021 → 0.019 and r 0.79 in the real dub) but widened the German anchor's cross-dub too
    (gain 1.26), and the mouths chosen for it followed visemic's jawOpen less: r 0.74 → 0.68,
    under the 0.7 target."""
    out = np.array(asked, np.float64, copy=True)
    speaking = np.asarray(speaking, bool)
    ref = np.asarray(reference, np.float64)
    pool = ref[np.asarray(reference_speaking, bool)]
    if speaking.sum() < 3 or len(pool) < 3:
        return out
    lo, hi = np.quantile(ref, SPAN)
    now = out[speaking]
    mean, sd = float(now.mean()), float(now.std())
    gain = min(SPREAD_GAIN, SPREAD_SHARE * float(pool.std()) / max(sd, 1e-9))
    low, high = np.quantile(now, SPAN)
    if high > mean:
        gain = min(gain, (hi - mean) / (high - mean))
    if low < mean:
        gain = min(gain, (mean - lo) / (mean - low))
    if gain <= 1.0:
        return out
    out[speaking] = np.clip(mean + gain * (now - mean), lo, hi)
    return out


# Phones-in-context targets (Video Rewrite): how much an atlas frame counts by how well its
# phone's neighbours match, and how far apart the two moments are inside their phones.
CONTEXT_MATCH = (1.0, 3.0, 9.0)   # neither, one, both neighbours the same phone
POSITION_SPREAD = 0.3             # in phone lengths
CLASS_SHARE = 0.1                 # an atlas frame of another phone of the same class counts so
CONTEXT_FULL = 6.0                # summed weight at which the context's own shape is trusted


def context_targets(out_phones: Sequence[str], out_index: np.ndarray, out_pos: np.ndarray,
                    ref_phones: Sequence[str], ref_index: np.ndarray, ref_pos: np.ndarray,
                    measured: np.ndarray,
                    classes: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """The lip features the person showed in the reference for each output frame's phone in
    its context: (targets [frames × F], trust [frames] 0…1; 0 between phones or with no
    such phone in the reference).

    ``out_phones``/``ref_phones`` the timelines' phone symbols; ``*_index`` the phone at each
    frame (−1: none) and ``*_pos`` how far into it (0…1); ``measured`` [entries × F] the
    reference frames' lip features; ``classes`` a phone's coarse class."""
    n = len(out_index)
    feats = np.asarray(measured, np.float64)
    out = np.zeros((n, feats.shape[1]))
    trust = np.zeros(n)
    sym = np.array(list(ref_phones) + [""], object)
    prev_sym = np.array([""] + list(ref_phones), object)
    next_sym = np.array(list(ref_phones[1:]) + ["", ""], object)
    ref_i = np.where(ref_index >= 0, ref_index, len(ref_phones))
    ref_sym, ref_prev, ref_next = sym[ref_i], prev_sym[ref_i], next_sym[ref_i]
    ref_prev = np.where(ref_index >= 0, ref_prev, "#")
    ref_cls = np.array([classes(x) if x else -1 for x in ref_sym])
    for i in range(n):
        k = int(out_index[i])
        if k < 0:
            continue
        me = out_phones[k]
        before = out_phones[k - 1] if k > 0 else ""
        after = out_phones[k + 1] if k + 1 < len(out_phones) else ""
        same = ref_sym == me
        kin = ref_cls == classes(me)
        w = np.where(same, 1.0, np.where(kin, CLASS_SHARE, 0.0))
        if not w.any():
            continue
        w = w * np.where(same, np.array(CONTEXT_MATCH)[(ref_prev == before).astype(int)
                                                       + (ref_next == after).astype(int)], 1.0)
        w = w * np.exp(-((ref_pos - out_pos[i]) / POSITION_SPREAD) ** 2)
        total = float(w.sum())
        if total <= 1e-9:
            continue
        out[i] = w @ feats / total
        # trusted by the frames of the very phone only (other phones of its class fill in)
        trust[i] = min(1.0, float(w[same].sum()) / CONTEXT_FULL)
    return out, trust


# Features asked for as the person's own lips couple them with the opening, not through their
# drivers. corner_height is measured from the middle of the inner lips (features._lips), which
# drops by half the opening, so most of its movement in speech is the opening's: on the
# reference's speech frames it follows the inner-lip gap at r −0.16…0.87, while its driver
# (smile − frown) followed the real lips at r −0.06…0.53. See :func:`coupled` for the figures.
COUPLED = ("corner_height",)
# Coupled only where the opening explains the feature on the person's own speech: the anchor's
# corner follows its gap at r 0.40, and asked from that weak line its dub's opening followed the
# opening asked at r 0.82 (0.88 from the driver); the clips that gained follow at r 0.59–0.87.
COUPLED_MIN_R = 0.5


def coupled(targets: np.ndarray, reference: np.ndarray, reference_speaking: np.ndarray,
            names: Sequence[str] = COUPLED) -> np.ndarray:
    """``targets`` [frames × 6] with the features ``names`` replaced by the straight line
    (least squares over the ``reference_speaking`` entries of ``reference`` [entries × 6], the
    reference's lip features) of each against the inner-lip gap, read at the gap asked for,
    held within the feature's range (its :data:`SPAN`); a feature that follows the gap there
    at r below :data:`COUPLED_MIN_R` stays as asked.

    Why: a target should be a shape the person makes. The corner height asked from its driver
    disagreed with the opening asked (an open vowel asked with the corners of a closed mouth),
    and the atlas's choice, which weighs all six features, went to mouths that match neither.
    Measured with bench/dub_targets.py (planned lip landmarks, LMD ÷ frozen, per clip: anchor,
    3/4 view, swiz3n, LRS2, 1080×1920, lbbc2a, 700², lwbsza): 0.864 0.945 0.684 0.723 0.747
    0.765 0.723 0.453 (mean 0.738) → 0.858 0.946 0.609 0.724 0.707 0.765 0.714 0.452 (0.722).
    With bench/dub_quality.py (rendered, re-tracked; before → after): LMD ÷ frozen 0.901 →
    0.896, 0.897 → 0.888, 0.635 → 0.629, 1080×1920 0.662 → 0.631, lbbc2a 0.832 (same), 700²
    0.820 → 0.798, lwbsza 0.428 → 0.425; mouth SSIM the same or higher (swiz3n 0.829 →
    0.838); r with the real B −0.01…−0.04 on the anchor, 3/4 view, swiz3n and lwbsza (0.814 →
    0.772 on its 37 frames), +0.003 on 700²; cross-dub r with jawOpen 0.719 → 0.749 on the
    anchor (the lowest), 0.72–0.95 → 0.75–0.92 on all 8, pauses as still.
    Tried and left out (planned LMD ÷ frozen, mean over the 8 clips, against 0.722): the outer
    aperture coupled too (0.716, but the anchor 0.863 and lwbsza 0.466), the protrusion
    (0.733; its driver, rounding, follows the real protrusion at r −0.86…0.80 because Face
    Mesh's protrusion rises with the opening, r 0.26–0.75 on six clips, not with rounding,
    but LMD is measured in the picture's plane), the jaw (0.728), the mouth width (0.740),
    the corner keeping the phones-in-context share (0.722); all five fitted on the gap and
    their drivers together, without this (0.736 against 0.738)."""
    out = np.array(targets, np.float64, copy=True)
    ref = np.asarray(reference, np.float64)
    pool = ref[np.asarray(reference_speaking, bool)]
    pool = pool[np.isfinite(pool).all(axis=1)]
    ap = features.FEATURES.index("inner_aperture")
    gap = pool[:, ap]
    if len(pool) < 3 or gap.std() < 1e-9:
        return out
    for name in names:
        k = features.FEATURES.index(name)
        if not pool[:, k].std() > 1e-9 or np.corrcoef(gap, pool[:, k])[0, 1] < COUPLED_MIN_R:
            continue
        slope, offset = np.polyfit(gap, pool[:, k], 1)
        lo, hi = np.quantile(pool[:, k], SPAN)
        out[:, k] = np.clip(offset + slope * out[:, ap], lo, hi)
    return out
