"""Mouth motion measured against real lips: observations, scores, fits and personal profiles.

An :class:`Observation` is one person speaking: their lips over time (the inner-lip aperture
tracked in a video by :mod:`visemic.video`, in inter-ocular distances; or jawOpen − mouthClose
from a Live Link Face capture) and visemic's own analysis of the same speech (phone timeline,
prosody). On it:

- :func:`score`: how well a motion (the generic tables, or a profile) predicts the lips: Pearson
  r between the predicted opening (jawOpen − mouthClose) and the real aperture at lag 0, and the
  lag that maximises r (> 0: the prediction runs late);
- :func:`fit`: the per-class opening targets (and, over a small grid, the timing) that make the
  predicted opening follow the real one, on any set of observations; the benchmark
  (bench/lip_motion.py) uses it leave-one-clip-out for the generic tables;
- :func:`learn`: a personal :class:`~visemic.motion.profile.Profile` from one observation: its
  timing (:func:`personal_timing`) and openings (:func:`fit_personal_openings`, the ridge
  chosen by cross-validation inside the clip), so that it learns only what the clip shows.

The predicted opening is nearly linear in the class targets (a dominance-weighted mean, scaled
by loudness, zeroed through the lip seal), so a fit is a least-squares problem on each class's
response, measured by running the real curve code with one class opened at a time.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from visemic.errors import VisemicError
from visemic.motion import curves, expression, poses
from visemic.motion import profile as profile_mod
from visemic.motion.profile import Profile
from visemic.types import Audio, Prosody, Timeline

FPS = 100.0             # the predicted curves are computed at this rate, then sampled
BASIS_FPS = 50.0        # … and at this rate for the fits (video is 25–30 fps)
MIN_CONFIDENCE = 0.3    # tracked frames below this confidence are not used
MIN_SPEECH = 1.5        # seconds of tracked speech a profile needs at least
MAX_LAG = 0.2           # lags searched by score(), seconds each way
# Aperture (inter-ocular distances) per unit of jawOpen − mouthClose: the median speaker of the
# calibration clips (bench/lip_motion.py prints it). Maps a person's measured opening to ARKit.
APERTURE_PER_UNIT = 0.15
# How strongly a fit keeps each class near its prior (the generic table): in frames' worth of
# squared error; classes with few frames stay generic.
RIDGE = 40.0
# Timing candidates fitted over (seconds).
LEADS = (0.0, 0.02, 0.04, 0.06)
DECAYS_PRE = (0.02, 0.035)
DECAYS_POST = (0.03, 0.045)
LOUDNESSES = (0.35,)
HOLDS = (1.0, 2.5)
# A person's timing: searched over a wide grid on their own clip (people differ: one speaker's
# lips lead the sound by 180 ms, another's linger 100 ms after it), kept at the prior's unless a
# timing predicts the clip's lips better by TIMING_MARGIN in r (on a short clip small gains are
# noise and do not carry over to the rest of their speech).
PERSONAL_LEADS = (0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.18)
PERSONAL_RELEASES = (0.0, 0.03, 0.06)
PERSONAL_PRE = (0.02, 0.04, 0.08)
PERSONAL_POST = (0.03, 0.06, 0.1)
PERSONAL_HOLDS = (poses.CONSONANT_HOLD,)
TIMING_MARGIN = 0.02
# A person's openings are kept near the prior by the ridge (see fit_openings) that predicts best
# the parts of the clip it was not fitted on (CV_BLOCKS contiguous blocks, each held out in
# turn); PERSONAL_RIDGES[0] keeps the prior. With under CV_MIN_SPEECH seconds of speech the
# blocks are too short to tell, and the ridge is at least SHORT_CLIP_RIDGE.
PERSONAL_RIDGES = (1e4, 40.0, 10.0, 3.0, 1.0)
CV_BLOCKS = 4
CV_REPEATS = 4
CV_MIN_SPEECH = 1.5
SHORT_CLIP_RIDGE = 40.0
# A capture's zero is closed lips (ARKit units, no offset to fit): its lips in pauses are
# measured directly, and its rest opening follows them whatever the ridge of the phones. (In a
# video the zero is fitted, and the rest is as uncertain as any class.)
REST_RIDGE = 1.0

Progress = Callable[[float], None]


@dataclass
class Observation:
    """One person speaking: real lips and visemic's analysis of the same speech.

    ``times`` [n] s; ``aperture`` [n] the lips' opening (NaN where unknown); ``width`` and
    ``protrusion`` [n] (NaN where unknown or not measured); ``weight`` [n] 0…1 trust in each
    frame; ``unit``: "iod" (tracked video, inter-ocular distances) or "arkit" (a capture's
    jawOpen − mouthClose)."""

    name: str
    times: np.ndarray
    aperture: np.ndarray
    width: np.ndarray
    protrusion: np.ndarray
    weight: np.ndarray
    timeline: Timeline
    prosody: Prosody
    duration: float
    unit: str = "iod"

    def window(self, start: float, end: float) -> Observation:
        """The part between ``start`` and ``end`` s (phones wholly inside it), times kept.

        A phone cut by either end is left out with its frames (and any frames beyond it): else
        the lips of that phone would stand in a gap that looks like a pause."""
        for p in self.timeline.phones:
            if p.start < start < p.end:
                start = p.end
            if p.start < end < p.end:
                end = p.start
        keep = (self.times >= start) & (self.times < end)
        phones = [p for p in self.timeline.phones if p.start >= start and p.end <= end]
        tl = Timeline(self.timeline.language, words=list(self.timeline.words), phones=phones,
                      source=self.timeline.source)
        return replace(self, times=self.times[keep], aperture=self.aperture[keep],
                       width=self.width[keep], protrusion=self.protrusion[keep],
                       weight=self.weight[keep], timeline=tl)

    @property
    def speech_seconds(self) -> float:
        """Seconds of phones during which the lips were measured."""
        ok = self.usable
        if not ok.any() or len(self.times) < 2:
            return 0.0
        dt = float(np.median(np.diff(self.times)))
        inside = np.zeros(len(self.times), bool)
        for p in self.timeline.phones:
            inside |= (self.times >= p.start) & (self.times < p.end)
        return float((inside & ok).sum() * dt)

    @property
    def usable(self) -> np.ndarray:
        return np.isfinite(self.aperture) & (self.weight >= MIN_CONFIDENCE)


# ----------------------------------------------------------------------------- observing

def observe(video: str | os.PathLike[str], text: str | None = None, language: str = "en",
            method: str = "phones", face: int = 0,
            progress: Progress | None = None) -> Observation:
    """Track the face in ``video`` and analyse its own audio (aligned to ``text`` when given).

    Raises VisemicError when the file has no face, no audio or no speech."""
    from visemic import audio as audio_io
    from visemic import prosody as prosody_mod
    from visemic.phonetics import timeline as timeline_mod
    from visemic.video import track

    tr = track(video, face=face,
               progress=(lambda f: progress(0.7 * f)) if progress else None)
    try:
        audio = audio_io.load(video)
    except VisemicError as e:
        raise VisemicError(f"{video}: no speech to learn from: the video has no usable audio "
                           f"({e})") from None
    tl = timeline_mod.analyse(audio, text=text, language=language, method=method)
    if not tl.phones:
        raise VisemicError(f"{video}: no speech found in its audio")
    if progress:
        progress(0.95)
    weight = tr.confidence.astype(np.float64)
    return Observation(Path(video).name, tr.times, tr.feature("inner_aperture").astype(float),
                       tr.feature("mouth_width").astype(float),
                       tr.feature("protrusion").astype(float), weight, tl,
                       prosody_mod.analyse(audio), audio.duration, "iod")


def observe_livelink(capture: str | os.PathLike[str], audio: str | os.PathLike[str] | Audio,
                     text: str | None = None, language: str = "en",
                     method: str = "phones") -> Observation:
    """A Live Link Face CSV take (``capture``) with its recorded ``audio``: the lips are the
    capture's jawOpen − mouthClose, the phones visemic's analysis of the audio. The take's
    first row is taken to be the audio's start."""
    from visemic import audio as audio_io
    from visemic import prosody as prosody_mod
    from visemic.phonetics import timeline as timeline_mod

    times, rows = _read_livelink(capture)
    sound = audio_io.load(audio)
    tl = timeline_mod.analyse(sound, text=text, language=language, method=method)
    if not tl.phones:
        raise VisemicError(f"{audio}: no speech found in the audio")
    opening = rows["jawOpen"] - rows["mouthClose"]
    width = 0.5 * (rows["mouthStretchLeft"] + rows["mouthStretchRight"])
    rounding = np.maximum(rows["mouthPucker"], rows["mouthFunnel"])
    return Observation(Path(capture).name, times, opening, width, rounding,
                       np.ones(len(times)), tl, prosody_mod.analyse(sound), sound.duration,
                       "arkit")


def _read_livelink(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    need = ("jawOpen", "mouthClose", "mouthStretchLeft", "mouthStretchRight", "mouthPucker",
            "mouthFunnel")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or header[0].strip() != "Timecode":
                raise VisemicError(f"{path}: not a Live Link Face CSV (no Timecode header)")
            # The app capitalises the names (JawOpen); ARKit's are camelCase (jawOpen).
            names = [h.strip().lower() for h in header]
            missing = [n for n in need if n.lower() not in names]
            if missing:
                raise VisemicError(f"{path}: the capture lacks {', '.join(missing)}")
            cols = [names.index(n.lower()) for n in need]
            codes, values = [], []
            for row in reader:
                if not row:
                    continue
                codes.append(_timecode(row[0], path))
                values.append([float(row[c]) for c in cols])
    except FileNotFoundError:
        raise VisemicError(f"{path}: no such file") from None
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise VisemicError(f"{path}: unreadable Live Link Face CSV ({e})") from None
    if len(codes) < 2:
        raise VisemicError(f"{path}: the capture has fewer than two frames")
    # HH:MM:SS:FF.sss: the frame rate is what FF counts to.
    fps = max(ff for _, ff, _ in codes) + 1
    fps = min((24, 25, 30, 48, 50, 60, 120), key=lambda r: abs(r - fps)) if fps > 1 else 60
    t = np.array([s + (ff + sub) / fps for s, ff, sub in codes])
    arr = np.asarray(values, float)
    return t - t[0], {n: arr[:, i] for i, n in enumerate(need)}


def _timecode(text: str, path: str | os.PathLike[str]) -> tuple[int, int, float]:
    try:
        hms, _, frac = text.strip().partition(".")
        h, m, s, ff = (int(x) for x in hms.split(":"))
    except ValueError:
        raise VisemicError(f"{path}: bad timecode {text!r} (expected HH:MM:SS:FF.sss)") from None
    return h * 3600 + m * 60 + s, ff, float(f"0.{frac}") if frac else 0.0


# ------------------------------------------------------------------------------- scoring

def opening(obs: Observation, motion: Profile | None = None, full: bool = True,
            fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """visemic's predicted opening (jawOpen − mouthClose) for ``obs``'s speech: (times, values)
    at :data:`FPS`. ``full``: the whole expression pipeline (what visemic outputs); else the
    speech curves alone (what the fit linearises)."""
    if full:
        anim = expression.animate(obs.timeline, obs.prosody, fps=fps, duration=obs.duration,
                                  profile=motion)
    else:
        anim = curves.animate(obs.timeline, obs.prosody, fps=fps, duration=obs.duration,
                              profile=motion)
    values = anim.channel("jawOpen").astype(float) - anim.channel("mouthClose").astype(float)
    return np.arange(len(values)) / fps, values


def pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Weighted Pearson correlation (NaN when either side is constant)."""
    w = np.ones(len(x)) if w is None else w
    if w.sum() <= 0:
        return math.nan
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    return float(cov / math.sqrt(vx * vy)) if vx > 0 and vy > 0 else math.nan


@dataclass(frozen=True)
class Score:
    r: float          # at lag 0
    lag: float        # seconds; > 0: the prediction runs late
    r_best: float     # at that lag


def score(obs: Observation, motion: Profile | None = None,
          predicted: tuple[np.ndarray, np.ndarray] | None = None) -> Score:
    """How well ``motion`` (default generic) predicts ``obs``'s lips (see the module doc)."""
    t, v = predicted if predicted is not None else opening(obs, motion)
    ok = obs.usable
    real, w, times = obs.aperture[ok], obs.weight[ok], obs.times[ok]
    lags = np.arange(-MAX_LAG, MAX_LAG + 1e-9, 0.01)
    rs = np.array([pearson(np.interp(times + lag, t, v), real, w) for lag in lags])
    r0 = rs[len(lags) // 2]
    if not np.isfinite(rs).any():
        return Score(math.nan, math.nan, math.nan)
    k = int(np.nanargmax(rs))
    return Score(float(r0), float(lags[k]), float(rs[k]))


# ------------------------------------------------------------------------------- fitting

@dataclass
class Basis:
    """Each class's response in one observation's usable frames, for one timing."""

    base: np.ndarray               # [n] the opening with every class at 0
    columns: np.ndarray            # [n × classes] the change per unit of each class's target
    real: np.ndarray               # [n] the real aperture
    weight: np.ndarray             # [n]


def basis(obs: Observation, timing: Profile) -> Basis:
    """The response of the predicted opening to each class's target
    (:func:`visemic.motion.curves.opening_basis`) at ``obs``'s usable frames, with ``timing``'s
    lead, decays, loudness weight and consonant hold."""
    ok = obs.usable
    cols = curves.opening_basis(obs.timeline, obs.prosody, obs.times[ok], obs.duration, timing)
    return Basis(np.zeros(int(ok.sum())), cols, obs.aperture[ok], obs.weight[ok])


def fit_openings(bases: Sequence[Basis], prior: dict[str, float], scale: float | None = None,
                 ridge: float = RIDGE, iterations: int = 8,
                 fixed: dict[str, float] | None = None,
                 offset: bool = True,
                 ridges: dict[str, float] | None = None) -> tuple[dict[str, float], list]:
    """Class targets (and per-observation offset α and scale s) minimising
    Σ w (real − α − s·(base + columns·θ))² + ridge·s̄²·|θ − prior|².

    ``scale`` fixes every s (a person's known aperture per unit); else each observation gets
    its own, and θ is normalised to the prior's mean vowel opening (a correlation does not see
    the scale). ``offset`` False holds every α at 0 (the real opening's zero is the
    prediction's: a capture in ARKit units), so the rest class alone carries the opening in
    pauses. ``fixed`` holds classes at given values; ``ridges`` gives classes their own ridge.
    Returns (targets, [(α, s) per basis])."""
    from scipy.optimize import lsq_linear

    names = list(poses.CLASSES)
    theta0 = np.array([(fixed or {}).get(c, prior[c]) for c in names])
    theta = theta0.copy()
    lo = np.full(len(names), profile_mod.OPENING_RANGE[0])
    hi = np.full(len(names), profile_mod.OPENING_RANGE[1])
    for c, v in (fixed or {}).items():
        k = names.index(c)
        lo[k], hi[k] = v, v + 1e-9
    vowels = np.array([c.startswith("vowel") for c in names])
    params: list[tuple[float, float]] = []
    for _ in range(iterations):
        params = []
        for b in bases:
            p = b.base + b.columns @ theta
            if scale is None:
                a, s = _line(p, b.real, b.weight)
                a = a if offset else 0.0
            else:
                s = scale
                a = float(np.average(b.real - s * p, weights=b.weight)) if offset else 0.0
            params.append((a, max(s, 1e-3)))
        rows, rhs = [], []
        for b, (a, s) in zip(bases, params, strict=True):
            sw = np.sqrt(b.weight)
            rows.append(sw[:, None] * s * b.columns)
            rhs.append(sw * (b.real - a - s * b.base))
        s_mean = float(np.mean([s for _, s in params]))
        lam = np.sqrt([(ridges or {}).get(c, ridge) for c in names]) * s_mean
        rows.append(np.diag(lam))
        rhs.append(lam * theta0)
        # The same least squares on the system's triangular factor (classes × classes rows
        # instead of one per frame): the bounded solver iterates on far less. The ridge makes
        # the factor full rank, so the bounded problem has one solution, which BVLS (an active
        # set, exact) reaches at under half the CPU of the default trust region's iterations
        # (to 1e-9; a dub learns a profile on every run).
        q, r = np.linalg.qr(np.vstack(rows))
        sol = lsq_linear(r, q.T @ np.concatenate(rhs), bounds=(lo, hi), method="bvls")
        theta = sol.x
        if scale is None and theta[vowels].mean() > 0:
            theta = np.clip(theta * theta0[vowels].mean() / theta[vowels].mean(), lo, hi)
    return {c: float(v) for c, v in zip(names, theta, strict=True)}, params


def _line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    vx = np.average((x - mx) ** 2, weights=w)
    s = np.average((x - mx) * (y - my), weights=w) / vx if vx > 0 else 0.0
    return float(my - s * mx), float(s)


def timings(leads: Sequence[float] = LEADS, pres: Sequence[float] = DECAYS_PRE,
            posts: Sequence[float] = DECAYS_POST, louds: Sequence[float] = LOUDNESSES,
            holds: Sequence[float] = HOLDS,
            releases: Sequence[float | None] = (None,)) -> list[Profile]:
    """The grid a fit searches: timing, loudness weight and consonant hold (profiles carrying
    only those). A release of None is the lead (the whole pull shifted)."""
    return [Profile(lead=a, release=a if f is None else f, decay_pre=b, decay_post=c,
                    loudness=d, consonant_hold=e)
            for a in leads for b in pres for c in posts for d in louds for e in holds
            for f in releases]


def _key(p: Profile) -> tuple[float, ...]:
    return (p.lead, p.release, p.decay_pre, p.decay_post, p.loudness, p.consonant_hold)


def fit(observations: Sequence[Observation], prior: Profile | None = None,
        grid: Sequence[Profile] | None = None, scale: float | None = None,
        ridge: float = RIDGE, cache: dict | None = None,
        fixed: dict[str, float] | None = None, offset: bool = True) -> Profile:
    """The motion (class targets and timing) that best predicts ``observations``' lips: for
    each timing of ``grid`` the targets are fitted (:func:`fit_openings`), and the timing with
    the best mean weighted r (of the fitted linear prediction) wins. ``cache`` (a dict kept by
    the caller) reuses the bases across calls; ``fixed`` holds classes at given values (the
    generic rest stays closed); ``offset``: see :func:`fit_openings`."""
    prior = prior or profile_mod.generic()
    grid = list(grid) if grid is not None else timings()
    best: tuple[float, Profile] | None = None
    for timing in grid:
        bases = []
        for obs in observations:
            key = (id(obs), *_key(timing))
            if cache is not None and key in cache:
                b = cache[key]
            else:
                b = basis(obs, timing)
                if cache is not None:
                    cache[key] = b
            bases.append(b)
        table, _ = fit_openings(bases, prior.opening, scale=scale, ridge=ridge, fixed=fixed,
                                offset=offset)
        theta = np.array([table[c] for c in poses.CLASSES])
        r = np.nanmean([pearson(b.base + b.columns @ theta, b.real, b.weight) for b in bases])
        if best is None or r > best[0]:
            best = (r, replace(prior, opening=table, lead=timing.lead, release=timing.release,
                               decay_pre=timing.decay_pre, decay_post=timing.decay_post,
                               loudness=timing.loudness, consonant_hold=timing.consonant_hold))
    assert best is not None
    return best[1]


# ------------------------------------------------------------------------------ profiles

def learn(obs: Observation, min_speech: float = MIN_SPEECH,
          prior: Profile | None = None) -> Profile:
    """One person's profile from an observation of them speaking.

    1. Timing (lead, release, decays): the best of a wide grid (:func:`personal_timing`) with
       the prior's openings, kept at the prior's unless clearly better on the clip.
    2. Rest (closed or parted) and the opening of each class of phone: least squares on the
       person's aperture, kept near ``prior`` (default: the generic tables) by the ridge that
       best predicts held-out parts of the clip (:func:`fit_personal_openings`): classes the clip
       says little about, and whole clips too short to tell, stay near the prior.
    3. The range: the person's aperture per unit of predicted opening, relative to the median
       speaker (:data:`APERTURE_PER_UNIT`; captures are in ARKit units already).
    4. Width and rounding per class from the tracked mouth width and protrusion.

    The pause before the clip's first phone is left out: people often wait to speak with parted
    lips, which says nothing about their rest between and after phrases."""
    prior = prior or profile_mod.generic()
    have = obs.speech_seconds
    if have < min_speech:
        raise VisemicError(f"{obs.name}: too little speech to learn from: {have:.1f} s of speech "
                           f"with the face tracked; a profile needs at least {min_speech:.1f} s "
                           f"(a sentence or two, face visible)")
    unit = APERTURE_PER_UNIT if obs.unit == "iod" else 1.0
    arkit = obs.unit == "arkit"
    fitting = without_lead_in(obs)
    timed = personal_timing(fitting, prior)
    # A capture is in ARKit units, its zero closed lips: its openings (rest included) are fitted
    # as they are, with no scale or offset to trade against them. A tracked video's aperture has
    # its own scale and zero.
    fitted, ridge = fit_personal_openings(fitting, timed, scale=1.0 if arkit else None,
                                          offset=not arkit)
    # The video fit is scale-free (normalised to the prior's vowels); the person's range comes
    # from their own aperture per unit of predicted opening.
    b = basis(fitting, fitted)
    theta = np.array([fitted.opening[c] for c in poses.CLASSES])
    _, s = _line(b.base + b.columns @ theta, b.real, b.weight)
    per_unit = float(s)
    if s > 0 and not arkit:
        k = float(np.clip(s / unit, 0.5, 2.0))
        # No wider than the widest opening allows: clipping it would flatten the contrast
        # between the person's sounds, which is what the fit learnt.
        k = min(k, profile_mod.OPENING_RANGE[1] / max(max(fitted.opening.values()), 1e-6))
        fitted = replace(fitted, opening={c: float(np.clip(v * k, *profile_mod.OPENING_RANGE))
                                          for c, v in fitted.opening.items()})
    ok = obs.usable
    ap = obs.aperture[ok]
    width, rounding = _shape_factors(obs)
    measured = {"unit": "inter-ocular distance" if obs.unit == "iod" else "ARKit",
                "aperture_p5": round(float(np.percentile(ap, 5)), 4),
                "aperture_p95": round(float(np.percentile(ap, 95)), 4),
                "aperture_per_unit": round(per_unit, 4),
                "speech_seconds": round(have, 2)}
    r = score(obs, replace(fitted, width=width, rounding=rounding))
    return replace(fitted, width=width, rounding=rounding, measured=measured,
                   source={"clip": obs.name, "kind": "video" if obs.unit == "iod" else "livelink",
                           "language": obs.timeline.language, "phones": len(obs.timeline.phones),
                           "fit_r": round(r.r, 3), "ridge": ridge})


def personal_timing(obs: Observation, prior: Profile, margin: float = TIMING_MARGIN) -> Profile:
    """``prior`` with the timing (lead, release, decay_pre, decay_post) of the personal grid
    whose linear prediction (``prior``'s openings) follows ``obs``'s lips best, if it beats the
    prior's own timing by ``margin`` in r; else ``prior`` unchanged."""
    def r_of(timing: Profile) -> float:
        b = basis(obs, timing)
        theta = np.array([timing.opening[c] for c in poses.CLASSES])
        return pearson(b.base + b.columns @ theta, b.real, b.weight)

    best_r, best = r_of(prior) + margin, prior
    for lead, release, pre, post, hold in itertools.product(
            PERSONAL_LEADS, PERSONAL_RELEASES, PERSONAL_PRE, PERSONAL_POST, PERSONAL_HOLDS):
        timing = replace(prior, lead=lead, release=release, decay_pre=pre, decay_post=post,
                         consonant_hold=hold)
        r = r_of(timing)
        if r > best_r:
            best_r, best = r, timing
    return best


def fit_personal_openings(obs: Observation, timing: Profile, scale: float | None = None,
                          offset: bool = True) -> tuple[Profile, float]:
    """``timing`` with its openings fitted to ``obs`` (:func:`fit_openings`), the ridge chosen
    among :data:`PERSONAL_RIDGES` by blocked cross-validation: each of :data:`CV_BLOCKS`
    contiguous blocks predicted from a fit on the others; the ridge with the best mean r of
    those predictions wins. Returns (profile, ridge)."""
    b = basis(obs, timing)
    n = len(b.real)
    own = {"rest": REST_RIDGE} if not offset else None
    ridges = [r for r in PERSONAL_RIDGES
              if obs.speech_seconds >= CV_MIN_SPEECH or r >= SHORT_CLIP_RIDGE]
    # Each partition into blocks again with the boundaries moved on (a block may wrap round
    # the clip's end): the choice then rests on more held-out blocks than one cut gives.
    blocks = [block for k in range(CV_REPEATS)
              for block in np.array_split(np.roll(np.arange(n), k * n // (CV_BLOCKS * CV_REPEATS)),
                                          CV_BLOCKS)] if n >= 4 * CV_BLOCKS else []
    best: tuple[float, float] | None = None
    for ridge in ridges if len(ridges) > 1 and blocks else []:
        rs = []
        for test in blocks:
            train = np.setdiff1d(np.arange(n), test)
            part = Basis(b.base[train], b.columns[train], b.real[train], b.weight[train])
            table, _ = fit_openings([part], timing.opening, scale=scale, ridge=ridge,
                                    offset=offset, ridges=own)
            theta = np.array([table[c] for c in poses.CLASSES])
            rs.append(pearson(b.base[test] + b.columns[test] @ theta, b.real[test],
                              b.weight[test]))
        r = float(np.nanmean(rs)) if np.isfinite(rs).any() else -math.inf
        if best is None or r > best[0]:
            best = (r, ridge)
    ridge = best[1] if best is not None else max(ridges)
    table, _ = fit_openings([b], timing.opening, scale=scale, ridge=ridge, offset=offset,
                            ridges=own)
    return replace(timing, opening=table), ridge


def without_lead_in(obs: Observation) -> Observation:
    """``obs`` with the frames before its first phone unused (see :func:`learn`)."""
    first = min(p.start for p in obs.timeline.phones)
    weight = np.where(obs.times < first, 0.0, obs.weight)
    return replace(obs, weight=weight)


def _shape_factors(obs: Observation) -> tuple[dict[str, float], dict[str, float]]:
    """Per class: how much wider / more rounded this person's lips get than their average,
    relative to what the generic poses do, as factors on the generic shapes (1: generic).
    Classes with fewer than 8 measured frames stay generic."""
    ok = obs.usable & np.isfinite(obs.width) & np.isfinite(obs.protrusion)
    if ok.sum() < 20:
        return {}, {}
    kinds = np.array([""] * len(obs.times), object)
    for p in obs.timeline.phones:
        mid = (obs.times >= p.start) & (obs.times < p.end)
        kinds[mid] = profile_mod.generic().pose(p.symbol).kind
    out: list[dict[str, float]] = [{}, {}]
    for k, (values, names) in enumerate(((obs.width, ("mouthStretchLeft", "mouthSmileLeft")),
                                         (obs.protrusion, ("mouthPucker", "mouthFunnel")))):
        v = values[ok]
        spread = float(np.std(v))
        if spread <= 0:
            continue
        z = (values - np.mean(v)) / spread
        generic_amount = {}
        for c in poses.CLASSES:
            sel = ok & (kinds == c)
            if sel.sum() < 8:
                continue
            pose = _class_pose(c)
            generic_amount[c] = (max(pose.values.get(n, 0.0) for n in names), float(z[sel].mean()))
        if len(generic_amount) < 3:
            continue
        g = np.array([a for a, _ in generic_amount.values()])
        # Where the generic pose has a shape, compare the person's contrast with the generic's.
        gz = (g - g.mean()) / (g.std() or 1.0)
        for c, (amount, zc) in generic_amount.items():
            if amount > 0.05:
                gc = gz[list(generic_amount).index(c)]
                factor = 1.0 + 0.5 * (zc - gc) / 2.0
                out[k][c] = float(np.clip(factor, 0.5, 1.8))
    return out[0], out[1]


def _class_pose(kind: str) -> poses.Pose:
    for symbol in _EXAMPLES.get(kind, ()):
        return profile_mod.generic().pose(symbol)
    return poses.REST


# One phone of each class (to read the generic shapes a class has).
_EXAMPLES = {"vowel_close": "i", "vowel_close_round": "u", "vowel_mid": "ə",
             "vowel_mid_round": "o", "vowel_open_mid": "ʌ", "vowel_open_mid_round": "ɔ",
             "vowel_open": "a", "vowel_open_round": "ɒ",
             "bilabial": "p", "labiodental": "f", "dental": "θ", "alveolar": "t",
             "sibilant": "s", "postalveolar": "ʃ", "rhotic": "ɹ", "lateral": "l",
             "labial_glide": "w", "palatal": "j", "velar": "k", "glottal": "h"}
