"""The person's own voice → their lip opening, learned on the reference clip.

The reference clip has this person's voice *and* their tracked lips, so how their opening
follows their sound can be learned there: a ridge regression from the speech around each frame
(log band energies of the audio and the curves' lip drivers, :func:`visemic.dub.shapes.drivers`,
each at :data:`OFFSETS` around the frame, so the person's own lead or lag is learned too) to the
inner-lip gap the reference shows. It is strongly regularised (the penalty chosen by
cross-validation in contiguous blocks of the reference) and blended with the targets of the
shape profile only as far as the cross-validation shows it predicts the held-out lips better
than the profile does, and less on a short reference (see :func:`VoiceModel.fit`). Its
prediction is not widened to the person's spread (as the profile's is): widened, the German
anchor speaking another man's speech followed visemic's jawOpen at r 0.68 instead of 0.73
(the cross-dub's target is 0.7), and in self-reenactment it changed nothing. Measured on
the second half of each shared clip (learned on the first), the opening asked for follows the
real lips at r 0.49 → 0.60 (German anchor), 0.75 → 0.84 (1080×1920), 0.24 → 0.27 (LRS2),
0.71 → 0.77 (700²).

Tried with bench/dub_targets.py and left out. The ridge alone, learned on A, predicting B's
opening over B's speech frames (r per clip: anchor, 3/4 view, swiz3n, LRS2, 1080×1920,
lbbc2a, 700², lwbsza; these inputs 0.64 0.52 0.51 0.51 0.84 −0.54 0.56 0.58, lbbc2a's B
has 14 speech frames): MFCCs with deltas (40 mel bands → 13) in place of the bands,
0.61 0.63 0.47 0.49 0.83 −0.40 0.56 0.38; Whisper tiny.en's encoder states (PCA to 16) beside
them, 0.52 0.58 0.31 0.60 0.74 0.10 0.56 0.62 (mixed, lower on the long clips, and a second
model pass); the mean lips of the 15 nearest reference frames in these inputs (on 20 principal
components), 0.60 0.50 −0.28 0.43 0.76 0.19 0.60 0.23. The plan's
lip landmarks against the real B's (LMD ÷ frozen over the 8 clips, 0.838 with this model):
the model for all six lip features, blended as the opening or stacked by least squares with
the profile (RMS per feature down, LMD 0.878 / 0.872); a least-squares stack for the opening
alone, which shrinks towards the mean where the cross-validation is poor (0.849, r with the
real opening 0.661 → 0.648); all targets shrunk towards the person's mean speech shape by
0.8 / 0.6 (0.839 / 0.866: the amplitude that minimises LMD is not below the full one here,
and r falls); :data:`EVIDENCE` 0 / 20 / 150 (0.838 / 0.834 / 0.840, within the spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from visemic.dub.shapes import ReferenceProfile, drivers
from visemic.result import Result
from visemic.types import Audio

# Seconds around a frame whose sound and curves it is predicted from.
OFFSETS = (-0.12, -0.08, -0.04, 0.0, 0.04, 0.08, 0.12)
BANDS = 12                  # log energy bands, geometric from BAND_RANGE[0] to BAND_RANGE[1] Hz
BAND_RANGE = (100.0, 7000.0)
WINDOW, HOP = 0.032, 0.01   # seconds
PENALTIES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # ridge penalty per row, standardised inputs
FOLDS = 5
MIN_FRAMES = 20             # speech frames of the reference needed to learn anything
# The cross-validated weight is scaled by n / (n + EVIDENCE) for n speech frames: on the
# 1.5 s GRID halves (25–28 frames) five folds of five frames chose weights that did not hold
# on the other half.
EVIDENCE = 50.0


def sound(audio: Audio, times: np.ndarray) -> np.ndarray | None:
    """[frames × (BANDS + 1)·len(OFFSETS)] log band energies and total log energy at ``times +
    offset`` (seconds of ``audio``), relative to the utterance's loud level (the 90th percentile
    of its total), silence floored; None without samples (a file too long to hold)."""
    x = np.asarray(audio.samples, np.float64)
    rate = float(audio.sample_rate)
    win, hop = int(WINDOW * rate), int(HOP * rate)
    if win < 16 or len(x) < win:
        return None
    count = (len(x) - win) // hop + 1
    freq = np.fft.rfftfreq(win, 1.0 / rate)
    edges = np.geomspace(BAND_RANGE[0], min(BAND_RANGE[1], rate / 2 - 1), BANDS + 1)
    # [bins × BANDS + 1]: which bins each band sums, and all of them (the total)
    pick = np.stack([(freq >= lo) & (freq < hi)
                     for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
                    + [np.ones(len(freq), bool)], axis=1).astype(np.float64)
    summed = np.empty((count, BANDS + 1))
    taper = np.hanning(win)
    for a in range(0, count, 2048):  # in blocks: a long clip's spectra at once are gigabytes
        idx = np.arange(win)[None, :] + hop * np.arange(a, min(count, a + 2048))[:, None]
        summed[a:a + len(idx)] = (np.abs(np.fft.rfft(x[idx] * taper, axis=1)) ** 2) @ pick
    energy = summed[:, :BANDS]
    total = np.log(summed[:, BANDS] + 1e-10)
    loud = float(np.quantile(total, 0.9))
    table = np.concatenate([np.log(energy + 1e-10), total[:, None]], axis=1) - loud
    table = np.maximum(table, np.quantile(table, 0.05, axis=0))
    centres = (np.arange(count) * hop + win / 2) / rate
    t = np.asarray(times, np.float64)
    return np.concatenate([np.stack([np.interp(t + o, centres, table[:, k])
                                     for k in range(table.shape[1])], axis=1)
                           for o in OFFSETS], axis=1)


def _sample(result: Result, times: np.ndarray) -> np.ndarray:
    from visemic.dub.pipeline import _sample as sample

    return sample(result, times)


def inputs(speech: Result, times: np.ndarray) -> np.ndarray | None:
    """The model's inputs at ``times`` (seconds of ``speech``): :func:`sound` and the curves'
    lip drivers at each offset; None where the audio's samples are not held."""
    heard = sound(speech.audio, times)
    if heard is None:
        return None
    channels = speech.animation.channels
    t = np.asarray(times, np.float64)
    moved = [drivers(_sample(speech, t + o), channels) for o in OFFSETS]
    return np.concatenate([heard] + moved, axis=1)


@dataclass
class VoiceModel:
    """A learned ridge map inputs → inner-lip gap (IOD), and the ``weight`` 0…1 its prediction
    gets against the shape profile's (see the module doc)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    offset: float
    low: float
    high: float
    weight: float
    penalty: float
    cv_r: float
    cv_r_profile: float

    @classmethod
    def fit(cls, speech: Result, times: np.ndarray, gap: np.ndarray, silent: np.ndarray
            ) -> VoiceModel | None:
        """Learn on the reference: its ``speech`` (visemic's analysis of its own audio), the
        atlas frames' ``times`` (seconds of that audio), their inner-lip ``gap`` and whether
        each is in a pause (``silent``: left out). None with too little speech or no samples."""
        order = np.argsort(times)
        t = np.asarray(times, np.float64)[order]
        y = np.asarray(gap, np.float64)[order]
        keep = ~np.asarray(silent, bool)[order] & np.isfinite(y)
        if keep.sum() < MIN_FRAMES:
            return None
        x = inputs(speech, t)
        if x is None:
            return None
        x, y, t = x[keep], y[keep], t[keep]
        values = _sample(speech, t)
        channels = speech.animation.channels
        folds = np.array_split(np.arange(len(y)), FOLDS)
        # The shape profile's own held-out prediction: what the model must beat.
        profile = np.empty_like(y)
        for f in folds:
            train = np.setdiff1d(np.arange(len(y)), f)
            full = np.zeros((len(train), 6))
            full[:, 0] = y[train]
            fitted = ReferenceProfile.fit(values[train], channels, full)
            profile[f] = fitted(values[f], channels)[:, 0]
        best, best_r, held = PENALTIES[0], -np.inf, np.empty_like(y)
        for penalty in PENALTIES:
            pred = np.empty_like(y)
            for f in folds:
                train = np.setdiff1d(np.arange(len(y)), f)
                pred[f] = _ridge(x[train], y[train], penalty)(x[f])
            score = _r(pred, y)
            if score > best_r:
                best, best_r, held = penalty, score, pred
        weights = np.linspace(0.0, 1.0, 11)
        scores = [_r((1 - w) * profile + w * held, y) for w in weights]
        w = float(weights[int(np.nanargmax(scores))]) if np.isfinite(scores).any() else 0.0
        w *= len(y) / (len(y) + EVIDENCE)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        coef = _solve((x - mean) / scale, y - y.mean(), best)
        low, high = np.quantile(y, (0.02, 0.98))
        return cls(mean=mean, scale=scale, coef=coef, offset=float(y.mean()), low=float(low),
                   high=float(high), weight=w, penalty=best, cv_r=float(best_r),
                   cv_r_profile=float(_r(profile, y)))

    def __call__(self, speech: Result, times: np.ndarray) -> np.ndarray | None:
        """The inner-lip gap predicted at ``times`` (seconds of ``speech``), within the range
        the reference showed; None where the audio's samples are not held."""
        x = inputs(speech, times)
        if x is None:
            return None
        pred = ((x - self.mean) / self.scale) @ self.coef + self.offset
        return np.clip(pred, self.low, self.high)


def blend(targets: np.ndarray, model: VoiceModel | None, speech: Result,
          times: np.ndarray, columns: Sequence[int] = (0,)) -> np.ndarray:
    """``targets`` [frames × 6] with the model's gap blended into ``columns`` by its weight."""
    if model is None or model.weight <= 0:
        return targets
    pred = model(speech, times)
    if pred is None:
        return targets
    out = np.array(targets, np.float64, copy=True)
    for c in columns:
        out[:, c] = (1 - model.weight) * out[:, c] + model.weight * pred
    return out


def _solve(z: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    return np.linalg.solve(z.T @ z + penalty * len(z) * np.eye(z.shape[1]), z.T @ y)


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float):  # noqa: ANN202
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    coef = _solve((x - mean) / scale, y - y.mean(), penalty)
    offset = float(y.mean())
    return lambda new: ((new - mean) / scale) @ coef + offset


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return -np.inf
    return float(np.corrcoef(a, b)[0, 1])
