"""The mouth atlas: real mouths from the reference clip, normalised and labelled.

Each usable frame of the reference (face found, not turned more than :data:`MAX_YAW`, eyes at
least :data:`MIN_IOD_PX` apart) gives one entry: the picture around the mouth turned upright and
scaled to a canonical frame (``scale`` pixels per inter-ocular distance, the nose base at a fixed
place), its landmarks in that crop and in head-frame coordinates, its lip features, whether teeth
show, and the phone visemic aligned on the reference's own audio at that moment (with the phones
before and after: the context Video Rewrite indexes real mouths by). Selection
(:mod:`visemic.dub.select`) picks entries; compositing (:mod:`visemic.dub.composite`) warps them
into the output frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from visemic.dub import geometry
from visemic.errors import VisemicError
from visemic.phonetics import ipa
from visemic.render.portrait import mesh
from visemic.types import Timeline
from visemic.video import features

# The crop, in IOD around the nose base (upright): the lips, the chin and a margin below it.
CROP_X = (-1.0, 1.0)
CROP_Y = (-0.25, 1.5)
SCALE_RANGE = (32.0, 112.0)  # crop pixels per IOD: the reference's own, within this range
MAX_FRAMES = 2500            # longer references are sampled evenly (memory: ~60 kB an entry)
MAX_YAW = 30.0               # degrees; more turned frames are not used as mouths
MIN_IOD_PX = 20.0
MIN_USABLE = 8
MIN_PAUSE = 0.3              # seconds: a gap between phones this long is a pause (rest)
# Seconds of the reference's pauses needed before its pauses say how this person rests; with
# less (a short clip: often only the breath before the first word, lips apart) the rest is
# the person's most closed mouth, as most people rest.
REST_EVIDENCE = 1.0
# A pause mouth is closed under 0.3 of the person's median speaking opening, or under this
# many IOD whatever it is: a person who speaks with little opening (the German anchor's median
# is 0.043) would otherwise need lips under 0.013 apart, and rest open although they close.
CLOSED_GAP = 0.025

# Coarse phone classes by what the lips do (from the articulatory table, phonetics/ipa.py).
CLASSES = ("sil", "bilabial", "labiodental", "rounded", "open", "mid", "close", "other")
SIL = 0


def phone_class(symbol: str) -> int:
    """The :data:`CLASSES` index of an IPA phone."""
    p = ipa.parse(symbol)
    f = p.first
    if p.vowel:
        v = next(part for part in p.parts if part.vowel)
        if v.rounded:
            return CLASSES.index("rounded")
        if v.height >= 0.6:
            return CLASSES.index("open")
        return CLASSES.index("mid" if v.height >= 0.3 else "close")
    if f.place == "bilabial":
        return CLASSES.index("bilabial")
    if f.place == "labiodental":
        return CLASSES.index("labiodental")
    if f.place in ("labial-velar", "postalveolar") or symbol.startswith(("w", "ʃ", "ʒ", "tʃ")):
        return CLASSES.index("rounded")
    return CLASSES.index("other")


def context(timeline: Timeline, times: np.ndarray) -> np.ndarray:
    """[n × 3] phone classes (previous, current, next) at ``times`` (seconds of the timeline's
    audio); "sil" between phones."""
    phones = timeline.phones
    starts = np.array([p.start for p in phones]) if phones else np.zeros(0)
    ends = np.array([p.end for p in phones]) if phones else np.zeros(0)
    cls = np.array([phone_class(p.symbol) for p in phones], np.int32)
    out = np.full((len(times), 3), SIL, np.int32)
    for i, t in enumerate(np.asarray(times, np.float64)):
        k = int(np.searchsorted(starts, t, side="right")) - 1
        if k >= 0 and t < ends[k]:
            out[i] = (cls[k - 1] if k > 0 else SIL, cls[k],
                      cls[k + 1] if k + 1 < len(cls) else SIL)
        else:
            out[i, 0] = cls[k] if k >= 0 else SIL
            out[i, 2] = cls[k + 1] if k + 1 < len(cls) else SIL
    return out


def phone_at(timeline: Timeline, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the phone of ``timeline`` at each of ``times``, −1 between phones; how far
    into it, 0…1)."""
    phones = timeline.phones
    t = np.asarray(times, np.float64)
    if not phones:
        return np.full(len(t), -1, np.int64), np.zeros(len(t))
    starts = np.array([p.start for p in phones])
    ends = np.array([p.end for p in phones])
    k = np.searchsorted(starts, t, side="right") - 1
    inside = (k >= 0) & (t < ends[np.maximum(k, 0)])
    k = np.where(inside, k, -1)
    kk = np.maximum(k, 0)
    u = np.clip((t - starts[kk]) / np.maximum(ends[kk] - starts[kk], 1e-6), 0.0, 1.0)
    return k, np.where(inside, u, 0.0)


def pauses(timeline: Timeline, times: np.ndarray, min_pause: float = MIN_PAUSE,
           lead: float = 0.0, lag: float = 0.0, edge_share: float | None = None,
           edge_after: float = 0.0) -> np.ndarray:
    """[n] True at ``times`` inside a stretch without phones lasting ``min_pause`` or more
    (before the first phone and after the last included), shrunk by ``lag`` after its start and
    ``lead`` before its end (the mouth closes after speech and opens before it); with
    ``edge_share``, each at most that share of how much the stretch's length within ``times``
    exceeds ``edge_after``."""
    edges = [(-np.inf, -np.inf)] + [(p.start, p.end) for p in timeline.phones] + [(np.inf,
                                                                                   np.inf)]
    t = np.asarray(times, np.float64)
    out = np.zeros(len(t), bool)
    if len(t) == 0:
        return out
    first, last = float(t.min()), float(t.max())
    for (_, end), (start, _) in zip(edges[:-1], edges[1:], strict=True):
        if start - end >= min_pause:
            after, before = lag, lead
            if edge_share is not None:
                span = max(0.0, min(start, last) - max(end, first) - edge_after)
                after, before = min(lag, edge_share * span), min(lead, edge_share * span)
            out |= (t >= end + after) & (t < start - before)
    return out


@dataclass
class Atlas:
    """Mouth entries (``n``), all arrays indexed by entry.

    ``crops`` [n × H × W × 3] uint8 RGB in the canonical frame (``scale`` px per IOD);
    ``points`` [n × K × 2] the ``kept`` landmarks in crop pixels; ``local`` [n × K × 3] the same in
    head-frame coordinates (IOD); ``features`` [n × 6] lip features (FEATURES order); ``classes``
    [n × 3] phone context; ``silent`` [n] inside a pause of the reference; ``source`` [n] the
    reference frame index (consecutive entries with consecutive frames play as real motion) and
    ``times`` its time on the reference's clock;
    ``teeth`` [n] share of the mouth opening that is teeth-bright; ``thumbs`` [n × 192] small grey
    mouth pictures (appearance distance); ``yaw`` [n] degrees; ``rest`` the entry shown in
    pauses; ``neutral`` (478×3 head frame, NaN where not kept) the face the entries are moved
    by their difference from, once a dub has matched it to its video (None: not yet).
    """

    scale: float
    kept: np.ndarray
    crops: np.ndarray
    points: np.ndarray
    local: np.ndarray
    features: np.ndarray
    classes: np.ndarray
    silent: np.ndarray
    source: np.ndarray
    teeth: np.ndarray
    thumbs: np.ndarray
    yaw: np.ndarray
    times: np.ndarray
    rest: int
    neutral: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.crops)

    def full_local(self, j: int) -> np.ndarray:
        """Entry ``j``'s head-frame landmarks as 478×3 (NaN where not kept)."""
        out = np.full((mesh.N_REFINED, 3), np.nan)
        out[self.kept] = self.local[j]
        return out


def crop_transform(frame: geometry.HeadFrame, scale: float) -> np.ndarray:
    """2×3 affine: image pixels → canonical crop pixels (upright, ``scale`` px per IOD)."""
    ux = frame.axes[:2, 0]
    c, s = ux / max(np.hypot(*ux), 1e-9)
    k = scale / frame.iod
    ox, oy = frame.origin[:2]
    return np.array([[k * c, k * s, -k * (c * ox + s * oy) - CROP_X[0] * scale],
                     [-k * s, k * c, -k * (-s * ox + c * oy) - CROP_Y[0] * scale]])


def crop_size(scale: float) -> tuple[int, int]:
    return (int(round((CROP_X[1] - CROP_X[0]) * scale)),
            int(round((CROP_Y[1] - CROP_Y[0]) * scale)))


@dataclass
class AtlasBuilder:
    """Collects entries frame by frame (see :class:`Atlas`); :meth:`finish` labels them."""

    kept: np.ndarray
    stride: int = 1
    scale: float | None = None
    _crops: list[np.ndarray] = field(default_factory=list)
    _points: list[np.ndarray] = field(default_factory=list)
    _local: list[np.ndarray] = field(default_factory=list)
    _features: list[np.ndarray] = field(default_factory=list)
    _source: list[int] = field(default_factory=list)
    _times: list[float] = field(default_factory=list)
    _teeth: list[float] = field(default_factory=list)
    _thumbs: list[np.ndarray] = field(default_factory=list)
    _yaw: list[float] = field(default_factory=list)

    def add(self, image: np.ndarray, points: np.ndarray | None, index: int, time: float) -> None:
        """Offer frame ``index`` (RGB, full size) with its landmarks (478×3 pixels or None)."""
        if points is None or index % self.stride:
            return
        frame = geometry.head_frame(points)
        yaw = float(features.pose(points)[0])
        if abs(yaw) > MAX_YAW or frame.iod < MIN_IOD_PX:
            return
        if self.scale is None:
            self.scale = float(np.clip(frame.iod, *SCALE_RANGE))
        a = crop_transform(frame, self.scale)
        crop = cv2.warpAffine(image, a, crop_size(self.scale), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        xy = points[:, :2] @ a[:, :2].T + a[:, 2]
        self._crops.append(crop)
        self._points.append(xy[self.kept].astype(np.float32))
        self._local.append(geometry.to_local(points[self.kept], frame).astype(np.float32))
        self._features.append(features.lip_features(points).astype(np.float32))
        self._source.append(index)
        self._times.append(time)
        self._yaw.append(yaw)
        teeth, thumb = _appearance(crop, xy)
        self._teeth.append(teeth)
        self._thumbs.append(thumb)

    def finish(self, timeline: Timeline, audio_start: float, name: str) -> Atlas:
        """The atlas, phones labelled from ``timeline`` (its time 0 is the reference's
        ``audio_start`` on the video clock). Raises :class:`VisemicError` when too few frames
        show a usable mouth."""
        if len(self._crops) < MIN_USABLE:
            raise VisemicError(
                f"{name}: no usable mouth for dubbing ({len(self._crops)} frames show a frontal "
                f"face at least {MIN_IOD_PX:g} px between the eyes; {MIN_USABLE} are needed)")
        times = np.asarray(self._times) - audio_start
        feats = np.stack(self._features)
        silent = pauses(timeline, times, lead=0.1, lag=0.1)
        atlas = Atlas(scale=float(self.scale or 0), kept=self.kept, crops=np.stack(self._crops),
                      points=np.stack(self._points), local=np.stack(self._local),
                      features=feats, classes=context(timeline, times), silent=silent,
                      source=np.asarray(self._source, np.int64),
                      teeth=np.asarray(self._teeth, np.float32),
                      thumbs=np.stack(self._thumbs), yaw=np.asarray(self._yaw, np.float32),
                      times=np.asarray(self._times), rest=0)
        atlas.rest = choose_rest(atlas)
        return atlas


def closed_gap(atlas: Atlas) -> float:
    """The inner-lip gap (IOD) under which a mouth of ``atlas`` counts as closed."""
    aperture = atlas.features[:, features.FEATURES.index("inner_aperture")]
    speaking = aperture[~atlas.silent] if (~atlas.silent).any() else aperture
    return max(0.3 * float(np.median(speaking)), CLOSED_GAP)


def choose_rest(atlas: Atlas) -> int:
    """The entry shown in pauses: the most typical mouth of the reference's own pauses (or, with
    none or under :data:`REST_EVIDENCE` seconds of them, of its most closed frames), closed
    where the person's rest is closed."""
    f = atlas.features
    aperture = f[:, features.FEATURES.index("inner_aperture")]
    pool = np.flatnonzero(atlas.silent)
    if len(pool) < 3 or len(pool) * _entry_step(atlas.times) < REST_EVIDENCE:
        pool = np.flatnonzero(aperture <= np.quantile(aperture, 0.2))
    # Where the person rests with closed lips in some of their pauses, the rest is closed.
    closed = pool[aperture[pool] < closed_gap(atlas)]
    if len(closed) >= 3:
        pool = closed
    typical = np.median(f[pool], axis=0)
    spread = f.std(axis=0) + 1e-6
    cost = (((f[pool] - typical) / spread) ** 2).sum(axis=1)
    cost += 2.0 * (aperture[pool] > typical[0])  # no more open than the typical rest
    cost += atlas.teeth[pool]
    return int(pool[int(np.argmin(cost))])


def _entry_step(times: np.ndarray) -> float:
    """Seconds of the reference each atlas entry stands for (frames are sampled evenly)."""
    t = np.sort(np.asarray(times, np.float64))
    return float(np.median(np.diff(t))) if len(t) > 1 else 0.0


def _appearance(crop: np.ndarray, xy: np.ndarray) -> tuple[float, np.ndarray]:
    """(share of the mouth opening that is teeth-bright, 16×12 grey thumbnail of the mouth)."""
    inner = np.round(xy[list(mesh.inner_mouth()), :2]).astype(np.int32)
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [inner], 1)
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    inside = mask.astype(bool)
    teeth = 0.0
    if inside.sum() >= 4:
        v = hsv[..., 2][inside].astype(np.float32)
        s = hsv[..., 1][inside].astype(np.float32)
        ref = float(np.median(hsv[..., 2]))
        teeth = float(((v > max(ref, 90.0)) & (s < 90)).mean())
    outer = xy[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER), :2]
    x0, y0 = outer.min(axis=0) - 4
    x1, y1 = outer.max(axis=0) + 4
    h, w = crop.shape[:2]
    x0, y0 = int(max(0, x0)), int(max(0, y0))
    x1, y1 = int(min(w, max(x0 + 2, x1))), int(min(h, max(y0 + 2, y1)))
    grey = cv2.cvtColor(crop[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    thumb = cv2.resize(grey, (16, 12), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return teeth, thumb.ravel()
