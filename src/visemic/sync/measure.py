"""Audio/video sync measurement: where the lips move against where the speech says they must.

From the audio, visemic's own analysis gives the expected lip opening (``jawOpen −
mouthClose``, the lips' gap, at 100 frames a second). From the picture, the tracker
(:mod:`visemic.video.tracker`) gives the inner-lip aperture in every frame. Both are band-passed
(the slow part, a centred average over ±:data:`BAND` seconds, is removed: rest pose and
expression drift carry no timing), and two things are correlated over lags of ±500 ms: the
opening itself and its rate of change (the lips' motion, which marks openings and closures
sharply), and, at half weight, the jaw's drop against the same expected opening (the jaw moves
with the syllables even where the lips stay parted). The correlation curves are averaged.

This is done in windows of :data:`WINDOW` seconds (every :data:`HOP` seconds). Each window's
peak is refined below the lag step with a parabola through the peak and its neighbours. The
windows' curves, averaged, point at the answer; the offset is the confidence-weighted median of
the peaks of the windows that agree with it (within :data:`INLIER_MS`), and the drift is the
weighted slope of those peaks over time.

**Sign:** ``offset_ms > 0`` means the picture is late (the lips move after the sound);
delaying the audio by ``offset_ms`` fixes it. If the lips at time t show the sound heard at
t − L, L is the raw lag; ``offset_ms`` is L less :data:`BASE_LAG_MS`, the constant lag
measured between visemic's curves and real, well-synced lips (see its comment).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visemic.errors import VisemicError
from visemic.types import Audio
from visemic.video import decode
from visemic.video.tracker import FaceTrack

MAX_LAG = 0.5        # s: lags searched either way
LAG_STEP = 0.01      # s: the lag grid (the peak is refined below it)
CURVE_FPS = 100.0    # expected-opening frames per second
BAND = 0.25          # s: half-width of the moving average removed from both signals
# The jaw's weight beside the lip aperture and the lip motion (1 each): on the development clips
# it made the true peak stand out more from its neighbours a syllable away (the confidence of
# GRID lbbc2a rose from 0.61 to 0.93) and moved no offset by more than 4 ms.
JAW_WEIGHT = 0.5
WINDOW = 4.0         # s
HOP = 1.0            # s
MIN_VIDEO = 2.0      # s: a shorter video cannot be measured
MIN_SPEECH = 1.0     # s of speech (inside phones) needed for a measurement
MIN_WINDOW_SPEECH = 0.8  # s of speech (with a face) for a window to count

# A constant lag between visemic's curves and the lips it is matched with. Measured as the raw
# lag on the three GRID clips in ../shared/samples/video (studio recordings with known-good
# sync), with this module's settings and no transcript: −8.9, −27.4 and −2.6 ms
# (bench/sync_check.py prints them), median −9 ms. Subtracting it makes a well-synced video read
# 0. visemic's own avatar and portrait renders, whose lips follow the curves exactly, show about
# the same raw lag (−6 to −11 ms on two sentences), so most of it lies in the measurement (phone
# timing, frame sampling), not in real lips leading the sound. It is small next to a video frame
# (40 ms) and to what people notice (ITU-R BT.1359: 45 ms audio early, 125 ms late).
BASE_LAG_MS = -9.0

# Between two peaks of about the same height (speech is rhythmic: syllables come every 200 to
# 300 ms), the smaller offset is the likelier one: a peak at ±MAX_LAG must be higher by this
# much correlation to win.
PREFER_SMALL = 0.1
# Windows whose peak lies within INLIER_MS of the combined curve's peak agree with it.
INLIER_MS = 100.0
# Confidence (0…1) = strength × agreement × coverage: strength grows with the combined curve's
# correlation at its peak from STRENGTH[0] (none) to STRENGTH[1] (full); agreement with the
# share of window weight that agrees, from AGREEMENT[0] to AGREEMENT[1]; coverage with the share
# of speech time with a tracked face, from COVERAGE[0] to COVERAGE[1].
STRENGTH = (0.2, 0.45)
AGREEMENT = (0.3, 0.8)
# A second peak (a syllable away) nearly as high as the first halves the confidence: the margin
# between them counts from DISTINCT[0] (half) to DISTINCT[1] (full).
DISTINCT = (0.0, 0.15)
COVERAGE = (0.3, 0.8)
WEAK = 0.3            # a combined correlation below this gets a warning
NO_ANSWER = 0.3      # below this no offset is given (null): it would be a made-up number


@dataclass
class Segment:
    """One window's measurement: ``start``/``end`` in seconds, ``offset_ms``, ``confidence``."""

    start: float
    end: float
    offset_ms: float
    confidence: float

    def to_json(self) -> dict[str, float]:
        return {"start": round(self.start, 3), "end": round(self.end, 3),
                "offset_ms": round(self.offset_ms, 1), "confidence": round(self.confidence, 3)}


@dataclass
class SyncReport:
    """The result of :func:`sync_check`.

    ``offset_ms`` (None when the evidence is too weak to give one) > 0 means the picture is
    late: delay the audio by ``offset_ms`` to fix it. ``confidence`` 0…1; ``frames_used`` the
    video frames that took part (a face tracked during speech); ``segments`` the windows;
    ``drift_ms_per_min`` the change of the offset over time (None when the clip is too short to
    tell); ``warnings`` plain sentences on what lowers the confidence. ``lags_ms`` and
    ``correlation`` are the combined correlation curve (for plots); ``video``/``audio`` the
    inputs' paths; ``speech_seconds`` the speech found; ``face_coverage`` the share of it with a
    face.
    """

    offset_ms: float | None
    confidence: float
    frames_used: int
    segments: list[Segment]
    drift_ms_per_min: float | None
    warnings: list[str] = field(default_factory=list)
    lags_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    correlation: np.ndarray = field(default_factory=lambda: np.zeros(0))
    video: str = ""
    audio: str = ""
    speech_seconds: float = 0.0
    face_coverage: float = 0.0
    raw_lag_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``--json``: the fields of the module docstring, plus
        ``warnings``."""
        return {
            "offset_ms": None if self.offset_ms is None else round(self.offset_ms, 1),
            "confidence": round(self.confidence, 3),
            "frames_used": self.frames_used,
            "segments": [s.to_json() for s in self.segments],
            "drift_ms_per_min": (None if self.drift_ms_per_min is None
                                 else round(self.drift_ms_per_min, 1)),
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """One line a person reads, e.g. "picture 80 ms late (confidence 0.90) — audio should
        be delayed by 80 ms"."""
        conf = f"confidence {self.confidence:.2f}"
        if self.offset_ms is None:
            return f"offset unknown ({conf}): too little evidence to measure"
        ms = round(self.offset_ms)
        if ms == 0:
            return f"in sync ({conf}) — picture and sound line up"
        if ms > 0:
            return f"picture {ms} ms late ({conf}) — audio should be delayed by {ms} ms"
        return (f"picture {-ms} ms early ({conf}) — audio should be advanced by {-ms} ms "
                f"(or the picture delayed)")


def sync_check(video: str | os.PathLike[str], audio: str | os.PathLike[str] | Audio | None = None,
               *, text: str | None = None, language: str = "en", face: int = 0,
               progress: Callable[[float], None] | None = None) -> SyncReport:
    """Measure the audio/video offset of a talking-face ``video`` (see the module docstring).

    ``audio``: the speech to check against (a file or an :class:`Audio`; its time 0 is the
    video's first frame); default the video's own audio track. ``text``: its transcript, if
    known (aligned instead of recognised: a little more precise). ``face``: which face speaks
    (0 the largest). ``progress`` is called with 0…1.

    Raises :class:`VisemicError`: ``no face found in VIDEO``; no audio in the video and none
    given; less than 2 s of speech.
    """
    from visemic import api
    from visemic.video import tracker

    info = decode.probe(video)
    sound: str | os.PathLike[str] | Audio
    if audio is None:
        if not info.has_audio:
            raise VisemicError(f"{video}: has no audio track; give the speech with --audio FILE")
        # The path, not the samples: visemic analyses long files a segment at a time.
        sound, audio_start, audio_name = video, info.audio_start or 0.0, str(video)
    else:
        sound, audio_start = audio, info.video_start
        audio_name = "(array)" if isinstance(audio, Audio) else str(audio)

    def part(lo: float, hi: float) -> Callable[[float], None] | None:
        return None if progress is None else (lambda f: progress(lo + (hi - lo) * f))

    result = api.animate(sound, text=text, language=language, fps=CURVE_FPS, still=True,
                         progress=part(0.0, 0.3))
    speech = _speech_mask(result, audio_start)
    track = tracker.track(video, face=face, progress=part(0.3, 0.95))
    report = measure(track, result.animation.channel("jawOpen")
                     - result.animation.channel("mouthClose"), audio_start, speech,
                     name=str(video))
    report.video, report.audio = str(video), audio_name
    if progress:
        progress(1.0)
    return report


def measure(track: FaceTrack, gap: np.ndarray, audio_start: float,
            speech: Callable[[np.ndarray], np.ndarray], name: str = "the video") -> SyncReport:
    """Measure from a face track and the expected lip gap (at :data:`CURVE_FPS`, starting at
    ``audio_start`` on the video's clock). ``speech(times)`` says which times are speech."""
    te = audio_start + np.arange(len(gap)) / CURVE_FPS
    e = np.asarray(gap, np.float64)
    tv = track.times
    weight = np.where(track.found, track.confidence, 0.0).astype(np.float64)
    lips = track.feature("inner_aperture").astype(np.float64)
    is_speech = speech(tv)
    frame_dt = float(np.median(np.diff(tv))) if len(tv) > 1 else 1.0 / 25
    speech_s = float(is_speech.sum() * frame_dt)
    video_s = float(tv[-1] - tv[0]) + frame_dt
    if video_s < MIN_VIDEO:
        raise VisemicError(f"{name}: the video lasts only {video_s:.1f} s; at least "
                           f"{MIN_VIDEO:.0f} s with speech is needed to measure the sync")
    if speech_s < MIN_SPEECH:
        raise VisemicError(f"{name}: only {speech_s:.1f} s of speech found in the audio; at "
                           f"least {MIN_SPEECH:.0f} s of speech is needed to measure the sync")
    coverage = float((is_speech & track.found).sum() / max(1, is_speech.sum()))
    warnings: list[str] = []

    # Band-passed signals: the lips at the video frames, the expectation on its own fine grid.
    lips_bp = _highpass(lips, tv, BAND)
    jaw_bp = _highpass(track.feature("jaw_drop").astype(np.float64), tv, BAND)
    e_bp = _highpass(e, te, BAND)
    lips_d = np.gradient(np.nan_to_num(lips_bp), tv) if len(tv) > 1 else lips_bp * 0
    e_d = np.gradient(e_bp, te)
    lags = np.arange(-MAX_LAG, MAX_LAG + LAG_STEP / 2, LAG_STEP)

    segments: list[Segment] = []
    curves: list[np.ndarray] = []
    peaks: list[float] = []
    strengths: list[float] = []
    duration = float(tv[-1] - tv[0]) + frame_dt
    starts = [float(tv[0])]
    if duration > WINDOW:
        n = int(math.floor((duration - WINDOW) / HOP + 1e-9)) + 1
        starts = [float(tv[0]) + k * HOP for k in range(n)]
        if starts[-1] + WINDOW < tv[-1] + frame_dt - HOP / 2:  # the tail gets its own window
            starts.append(float(tv[-1]) + frame_dt - WINDOW)
    used = np.zeros(len(tv), bool)
    for s0 in starts:
        inside = (tv >= s0) & (tv < s0 + WINDOW)
        w = weight * inside
        talking = inside & is_speech & track.found
        if talking.sum() * frame_dt < MIN_WINDOW_SPEECH:
            continue
        # Frames around speech carry closures and openings; long silences carry only noise.
        w = w * _near(is_speech, tv, 0.3)
        if (w > 0).sum() < 8:
            continue
        c1 = _lagged_correlation(tv, lips_bp, w, te, e_bp, lags)
        c2 = _lagged_correlation(tv, lips_d, w, te, e_d, lags)
        c3 = _lagged_correlation(tv, jaw_bp, w, te, e_bp, lags)
        curve = (c1 + c2 + JAW_WEIGHT * c3) / (2.0 + JAW_WEIGHT)
        k = _best(lags, curve)
        peak = _parabolic(lags, curve, k)
        r = float(curve[k])
        edge = k in (0, len(lags) - 1)
        strength = _ramp(r, *STRENGTH) * (0.3 if edge else 1.0) \
            * float(w[inside].sum() / max(1, inside.sum()))
        used |= talking
        curves.append(curve)
        peaks.append(peak)
        strengths.append(max(strength, 1e-3))
        segments.append(Segment(float(tv[inside][0]), float(tv[inside][-1] + frame_dt),
                                peak * 1000 - BASE_LAG_MS, strength))
    if coverage < COVERAGE[1]:
        warnings.append(f"a face was tracked during only {coverage:.0%} of the speech "
                        "(turned away, hidden, out of the picture, or someone else speaking)")
    if not segments:
        if coverage < 0.05:
            raise VisemicError(f"no face found in {name} while anyone speaks")
        warnings.append("no part of the video has both enough speech and a tracked face: "
                        "no offset can be given")
        return SyncReport(None, 0.0, 0, [], None, warnings, lags * 1000,
                          np.zeros_like(lags), speech_seconds=speech_s,
                          face_coverage=coverage)

    wts = np.asarray(strengths)
    peaks_ms = np.asarray(peaks) * 1000
    curve = np.average(np.stack(curves), axis=0, weights=wts)
    # The windows' combined curve points at the answer; the windows that agree with it (a
    # stray peak in one window, a cough or a turned head, is left out) give it by their median.
    k = _best(lags, curve)
    anchor = _parabolic(lags, curve, k) * 1000
    inlier = np.abs(peaks_ms - anchor) <= INLIER_MS
    if not inlier.any():
        inlier[:] = True
    raw = _weighted_median(peaks_ms[inlier], wts[inlier])
    offset = raw - BASE_LAG_MS
    agree = float(wts[inlier].sum() / wts.sum())
    peak_r = float(curve[k])
    rival = _rival(lags, curve, k)
    distinct = 0.5 + 0.5 * _ramp(peak_r - rival, *DISTINCT)
    conf = (_ramp(peak_r, *STRENGTH) * distinct * _ramp(agree, *AGREEMENT)
            * _ramp(coverage, *COVERAGE))
    drift = _drift([s for s, ok in zip(segments, inlier, strict=True) if ok], wts[inlier])

    if peak_r < WEAK:
        warnings.append(f"the lips follow the speech weakly (correlation {peak_r:.2f}): a small "
                        "or turned face, a voice-over, or a second speaker off-screen")
    if peak_r - rival < DISTINCT[1] / 2:
        warnings.append(f"a second offset fits almost as well (correlation {rival:.2f} against "
                        f"{peak_r:.2f}): speech is rhythmic, and this clip is short or flat")
    if agree < 0.75:
        warnings.append(f"only {agree:.0%} of the video's windows agree on the offset")
    sizes = track.confidence[track.found]
    if len(sizes) and float(np.median(sizes)) < 0.5:
        warnings.append("the face is small or turned: lip tracking is unreliable")
    if conf < NO_ANSWER:
        warnings.append("confidence too low to give an offset")
    return SyncReport(offset_ms=offset if conf >= NO_ANSWER else None,
                      confidence=float(conf), frames_used=int(used.sum()), segments=segments,
                      drift_ms_per_min=drift, warnings=warnings, lags_ms=lags * 1000 - BASE_LAG_MS,
                      correlation=curve, speech_seconds=speech_s, face_coverage=coverage,
                      raw_lag_ms=raw)


# ------------------------------------------------------------------------------ internals


def _speech_mask(result: Any, audio_start: float) -> Callable[[np.ndarray], np.ndarray]:
    """A function telling which video times fall inside a recognised phone (speech)."""
    spans = np.array([(p.start, p.end) for p in result.timeline.phones], np.float64)
    spans = spans.reshape(-1, 2) + audio_start

    def speech(times: np.ndarray) -> np.ndarray:
        out = np.zeros(len(times), bool)
        if len(spans):
            i = np.searchsorted(spans[:, 0], times, side="right") - 1
            ok = i >= 0
            out[ok] = times[ok] < spans[i[ok], 1]
        return out

    return speech


def _near(mask: np.ndarray, times: np.ndarray, margin: float) -> np.ndarray:
    """``mask`` widened by ``margin`` seconds either way (as 0/1 floats)."""
    if not mask.any():
        return np.zeros(len(times))
    t = times[mask]
    i = np.clip(np.searchsorted(t, times), 1, len(t) - 1) if len(t) > 1 else np.zeros(
        len(times), int)
    d = np.abs(times - t[i])
    if len(t) > 1:
        d = np.minimum(d, np.abs(times - t[i - 1]))
    return (d <= margin).astype(np.float64)


def _highpass(x: np.ndarray, t: np.ndarray, half: float) -> np.ndarray:
    """``x`` less its centred moving average over ±``half`` seconds (NaN-aware)."""
    if len(t) < 2:
        return x - np.nanmean(x)
    dt = float(np.median(np.diff(t)))
    k = max(1, int(round(half / dt)))
    ok = np.isfinite(x)
    v = np.where(ok, x, 0.0)
    kernel = np.ones(2 * k + 1)
    mean = np.convolve(v, kernel, "same") / np.maximum(np.convolve(ok * 1.0, kernel, "same"),
                                                       1e-9)
    return np.where(ok, x - mean, np.nan)


def _lagged_correlation(tv: np.ndarray, x: np.ndarray, w: np.ndarray, te: np.ndarray,
                        e: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlation of x(t) with e(t − lag), for every lag."""
    ok = (w > 0) & np.isfinite(x)
    t, xs, ws = tv[ok], x[ok], w[ok]
    ws = ws / ws.sum()
    xc = xs - np.sum(ws * xs)
    sx = math.sqrt(float(np.sum(ws * xc * xc))) or 1e-12
    ev = np.interp(t[None, :] - lags[:, None], te, e, left=0.0, right=0.0)
    ec = ev - (ev * ws).sum(axis=1, keepdims=True)
    se = np.sqrt((ws * ec * ec).sum(axis=1))
    return (ec * (ws * xc)).sum(axis=1) / np.maximum(se * sx, 1e-12)


def _best(lags: np.ndarray, curve: np.ndarray) -> int:
    """The index of the curve's peak: chosen with a mild preference for small lags (a tie
    between two peaks a syllable apart goes to the smaller offset), then moved to the nearest
    true local maximum of the curve itself, so that the preference adds no bias."""
    k = int(np.argmax(curve - PREFER_SMALL * (lags / MAX_LAG) ** 2))
    while 0 < k < len(curve) - 1:
        step = 1 if curve[k + 1] > curve[k] else -1 if curve[k - 1] > curve[k] else 0
        if step == 0:
            break
        k += step
    return k


def _rival(lags: np.ndarray, curve: np.ndarray, k: int) -> float:
    """The highest other local maximum of the curve, more than 100 ms from the peak at k."""
    far = np.abs(lags - lags[k]) > 0.1
    inner = np.zeros(len(curve), bool)
    inner[1:-1] = (curve[1:-1] >= curve[:-2]) & (curve[1:-1] >= curve[2:])
    inner[[0, -1]] = True  # a curve still rising at the end of the range counts as a peak there
    candidates = curve[far & inner]
    return float(candidates.max()) if len(candidates) else -1.0


def _parabolic(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """The peak's position refined by the parabola through y[k−1], y[k], y[k+1]."""
    if k <= 0 or k >= len(y) - 1:
        return float(x[k])
    a, b, c = y[k - 1], y[k], y[k + 1]
    den = a - 2 * b + c
    shift = 0.0 if den >= 0 else 0.5 * (a - c) / den
    return float(x[k] + np.clip(shift, -0.5, 0.5) * (x[1] - x[0]))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    half = cum[-1] / 2
    i = int(np.searchsorted(cum, half))
    if i < len(v) - 1 and math.isclose(cum[i], half):
        return float((v[i] + v[i + 1]) / 2)
    return float(v[min(i, len(v) - 1)])


def _drift(segments: list[Segment], weights: np.ndarray) -> float | None:
    """Weighted slope of the windows' offsets over time, in ms per minute (None when the
    windows span less than 10 s)."""
    centres = np.array([(s.start + s.end) / 2 for s in segments])
    if len(segments) < 3 or np.ptp(centres) < 10.0:
        return None
    offsets = np.array([s.offset_ms for s in segments])
    w = weights / weights.sum()
    tc = centres - np.sum(w * centres)
    oc = offsets - np.sum(w * offsets)
    return float(np.sum(w * tc * oc) / max(np.sum(w * tc * tc), 1e-9) * 60.0)


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))
