"""ARKit curves → VRM 1.0 preset expressions (the tables, and the fit that applies them).

VRM avatars have five mouth expressions named after the Japanese vowels (aa あ, ih い, ou う,
ee え, oh お), blinks, look directions and five emotions. visemic's mouth is richer (ARKit's 20
speech channels), so each frame's mouth is *fitted* by the five vowels rather than switched
between them: each vowel stands for the ARKit pose visemic gives its IPA vowel
(:func:`visemic.motion.poses.pose`, so the table below is only vowel → IPA symbol), and the
weights are the non-negative mix, summing to at most 1, that best reproduces the frame's lip
gap, rounding, spread and lip raise (least squares over :data:`FEATURES`), scaled down where
that mix would part the lips wider than the curves do. The fit is a continuous function of the
curves, and :func:`vowel_track` keeps the weights from moving faster than the mouth, so they
glide as the mouth does; shut lips give zeros, however rounded. Smiles,
frowns and presses are not fitted: they belong to the emotion expressions.

Blinks: ``blink`` is what both eyes share (the smaller of eyeBlinkLeft/Right), ``blinkLeft`` and
``blinkRight`` the rest of each eye, so a model's morphs add up to the ARKit value per eye.
Left/Right are the character's, as in ARKit and VRM 1.0's humanoid.

Emotions come from the run's emotion setting (a mix or a track), through :data:`EMOTIONS`.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

import numpy as np

from visemic.motion import poses
from visemic.motion.emotion import NAMES as EMOTION_NAMES
from visemic.motion.emotion import EmotionTrack

# VRM vowel expression → the IPA vowel whose visemic mouth pose it stands for.
VOWELS: dict[str, str] = {"aa": "ɑ", "ih": "i", "ou": "u", "ee": "e", "oh": "o"}

# The mouth features fitted: name → {ARKit channel: coefficient}. The lip gap is the jaw's
# opening less mouthClose (ARKit's convention: mouthClose shuts the lips against an open jaw).
FEATURES: dict[str, dict[str, float]] = {
    "gap": {"jawOpen": 1.0, "mouthClose": -1.0},
    "funnel": {"mouthFunnel": 1.0},
    "pucker": {"mouthPucker": 1.0},
    "stretch": {"mouthStretchLeft": 0.5, "mouthStretchRight": 0.5},
    "lowerDown": {"mouthLowerDownLeft": 0.5, "mouthLowerDownRight": 0.5},
    "upperUp": {"mouthUpperUpLeft": 0.5, "mouthUpperUpRight": 0.5},
}

BLINKS = ("blink", "blinkLeft", "blinkRight")

# VRM emotion preset → {visemic emotion: share of its intensity}. visemic has no calm emotion,
# so ``relaxed`` stays at 0; disgust and contempt read as anger, fear as surprise and sadness.
EMOTIONS: dict[str, dict[str, float]] = {
    "happy": {"happy": 1.0},
    "angry": {"angry": 1.0, "disgusted": 0.6, "contempt": 0.4},
    "sad": {"sad": 1.0, "afraid": 0.4},
    "relaxed": {},
    "surprised": {"surprised": 1.0, "afraid": 0.6},
}

EXPRESSIONS: tuple[str, ...] = (*VOWELS, *BLINKS, *EMOTIONS)


def feature_matrix(channels: list[str] | tuple[str, ...]) -> np.ndarray:
    """``[len(channels) × len(FEATURES)]``: curves @ this = the frame's features."""
    index = {name: i for i, name in enumerate(channels)}
    m = np.zeros((len(channels), len(FEATURES)), np.float64)
    for j, parts in enumerate(FEATURES.values()):
        for name, coef in parts.items():
            if name in index:
                m[index[name], j] = coef
    return m


def _features(values: dict[str, float]) -> np.ndarray:
    return np.array([sum(c * values.get(n, 0.0) for n, c in parts.items())
                     for parts in FEATURES.values()])


@lru_cache(maxsize=1)
def prototypes() -> np.ndarray:
    """``[len(FEATURES) × len(VOWELS)]``: each vowel expression's features."""
    return np.stack([_features(poses.pose(sym).values) for sym in VOWELS.values()], axis=1)


@lru_cache(maxsize=1)
def _faces() -> tuple[np.ndarray, np.ndarray]:
    """Every face of {w ≥ 0, Σw ≤ 1} as an affine map x → w (A [faces × V × F], b [faces × V])
    giving the least-squares fit restricted to that face."""
    p = prototypes()
    nf, nv = p.shape
    maps, offsets = [np.zeros((nv, nf))], [np.zeros(nv)]
    for k in range(1, nv + 1):
        for subset in itertools.combinations(range(nv), k):
            s = list(subset)
            ps = p[:, s]
            g_inv = np.linalg.inv(ps.T @ ps)
            free = g_inv @ ps.T                      # unconstrained on the face: w = free @ x
            ones = g_inv @ np.ones(k)
            denom = ones.sum()
            for on_simplex in (False, True):
                a, b = np.zeros((nv, nf)), np.zeros(nv)
                if on_simplex:  # Σw = 1: w = free x − g⁻¹1 (1ᵀ free x − 1) / (1ᵀ g⁻¹ 1)
                    a[s] = free - np.outer(ones, free.sum(axis=0)) / denom
                    b[s] = ones / denom
                else:
                    a[s] = free
                maps.append(a)
                offsets.append(b)
    return np.stack(maps), np.stack(offsets)


def vowel_weights(features: np.ndarray) -> np.ndarray:
    """``[n × len(VOWELS)]`` weights ≥ 0 with row sums ≤ 1 whose mix of the vowel prototypes is
    nearest (least squares) to each row of ``features`` ``[n × len(FEATURES)]``.

    Exact: the optimum of this convex problem is the unconstrained fit on one face of the
    feasible set, so every face's fit is tried and the best feasible one kept.
    """
    x = np.asarray(features, np.float64)
    x = np.concatenate([np.clip(x[:, :1], 0.0, None), x[:, 1:]], axis=1)  # a gap is never < 0
    a, b = _faces()
    w = np.einsum("kvf,nf->nkv", a, x) + b                          # [n × faces × V]
    feasible = (w >= -1e-9).all(axis=2) & (w.sum(axis=2) <= 1.0 + 1e-9)
    fitted = np.einsum("nkv,fv->nkf", w, prototypes())
    err = ((fitted - x[:, None, :]) ** 2).sum(axis=2)
    err[~feasible] = np.inf
    best = np.argmin(err, axis=1)
    w = np.clip(w[np.arange(len(x)), best], 0.0, 1.0)
    # A vowel expression opens the lips by its prototype's gap: never open them wider than the
    # curves do (rounded but shut lips, as before /m/ in "room", give no vowel).
    opening = w @ prototypes()[0]
    scale = np.where(opening > x[:, 0], x[:, 0] / np.maximum(opening, 1e-12), 1.0)
    return w * scale[:, None]


# The weights move at most this many times as far as the mouth's features do per frame (plus
# FOLLOW_SLACK): some vowels are nearly a mix of others (ee ≈ aa + ih), so where two mixes fit
# almost equally a tiny change of the mouth could swap one for the other, a visible flick.
FOLLOW_RATE = 4.0
FOLLOW_SLACK = 0.005


def vowel_track(features: np.ndarray, previous: tuple[np.ndarray, np.ndarray] | None = None
                ) -> np.ndarray:
    """:func:`vowel_weights` for consecutive frames, each frame's weights kept within
    FOLLOW_RATE × the features' movement of the frame before. ``previous`` is the (features,
    weights) of the frame before the first, when the frames continue an earlier block."""
    x = np.asarray(features, np.float64)
    fit = vowel_weights(x)
    out = np.empty_like(fit)
    gap = np.clip(x[:, 0], 0.0, None)
    opening = prototypes()[0]
    last_x, last_w = previous if previous is not None else (None, None)
    for i in range(len(x)):
        w = fit[i]
        if last_w is not None:
            room = FOLLOW_RATE * float(np.linalg.norm(x[i] - last_x)) + FOLLOW_SLACK
            w = np.clip(w, last_w - room, last_w + room)
            w = np.clip(w, 0.0, None)
            w = w / max(1.0, float(w.sum()))
            wide = float(w @ opening)
            if wide > gap[i]:  # never part the lips wider than the curves do
                w = w * (gap[i] / wide)
        out[i] = w
        last_x, last_w = x[i], w
    return out


def blinks(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``[n × 3]`` blink, blinkLeft, blinkRight from ARKit's eyeBlinkLeft/Right."""
    left = np.clip(left, 0.0, 1.0)
    right = np.clip(right, 0.0, 1.0)
    both = np.minimum(left, right)
    return np.stack([both, left - both, right - both], axis=1)


def emotion_track(settings: dict[str, Any]) -> EmotionTrack | None:
    """The emotion a run was made with (``Result.settings``), or None when it does not say."""
    emotion = settings.get("expression", {}).get("emotion") if settings else None
    if isinstance(emotion, dict):
        return EmotionTrack.constant(emotion)
    if isinstance(emotion, list) and emotion:
        return EmotionTrack.from_pairs([(k["time"], k["emotion"]) for k in emotion])
    return None


def emotion_matrix() -> np.ndarray:
    """``[len(emotion.NAMES) × len(EMOTIONS)]``: visemic intensities @ this = VRM presets."""
    m = np.zeros((len(EMOTION_NAMES), len(EMOTIONS)), np.float32)
    for j, sources in enumerate(EMOTIONS.values()):
        for name, share in sources.items():
            m[EMOTION_NAMES.index(name), j] = share
    return m


def emotion_weights(track: EmotionTrack | None, times: np.ndarray) -> np.ndarray:
    """``[len(times) × len(EMOTIONS)]`` preset weights in 0…1 (zeros without a track)."""
    if track is None:
        return np.zeros((len(times), len(EMOTIONS)), np.float32)
    return np.clip(track.weights(times) @ emotion_matrix(), 0.0, 1.0)
