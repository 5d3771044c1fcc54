"""Lip-sync scoring against time-aligned phones, exactly as DESIGN.md §4 describes.

Ground-truth phones (IPA) are mapped to decisive classes; the engine's Rhubarb shape at each
phone's midpoint is a hit when it is in the class's expected set; silences (gaps ≥ 0.30 s) score
the share of 10 ms frames showing X or A. Also: the best lag between the ground truth's "mouth
open" indicator and the engine's open shapes, phone-boundary errors after matching phones, and
the curve checks of DESIGN.md §3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from visemic.phonetics import ipa
from visemic.types import Animation, Cue, Phone

CLASSES = ("BILABIAL", "LABIODENTAL", "ROUNDED", "OPEN", "SILENCE")
EXPECTED = {"BILABIAL": {"A"}, "LABIODENTAL": {"G"}, "ROUNDED": {"E", "F"},
            "OPEN": {"C", "D"}, "SILENCE": {"X", "A"}}
OPEN_SHAPES = {"C", "D", "E", "F"}
SILENCE_GAP = 0.30
STEP = 0.01


def decisive_class(symbol: str) -> str | None:
    """The decisive class of an IPA phone, or None where the mouth shape is not unambiguous.

    Diphthongs take their first element (the glide happens late in the vowel).
    """
    ph = ipa.parse(symbol)
    f = ph.first
    if not f.vowel:
        if f.place == "bilabial" and f.manner in ("stop", "nasal"):
            return "BILABIAL"
        if f.place == "labiodental" and f.manner == "fricative":
            return "LABIODENTAL"
        if f.place in ("labial-velar", "labial-palatal") and f.manner == "approximant":
            return "ROUNDED"
        return None
    if f.rounded:
        return "ROUNDED"
    if f.height >= 0.66 and not (0.3 < f.backness < 0.7 and f.height < 0.75):
        return "OPEN"  # open and open-mid vowels, but not central ɜ
    return None


def shape_at(cues: Sequence[Cue], t: float) -> str:
    """The cue value showing at time ``t`` (X outside the track)."""
    lo, hi = 0, len(cues)
    while lo < hi:
        mid = (lo + hi) // 2
        if cues[mid].end <= t:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(cues) and cues[lo].start <= t < cues[lo].end:
        return cues[lo].value
    return "X"


def silences(phones: Sequence[Phone], duration: float) -> list[tuple[float, float]]:
    """Gaps of at least 0.30 s between ground-truth phones, including leading and trailing."""
    out, prev = [], 0.0
    for p in sorted(phones, key=lambda p: p.start):
        if p.start - prev >= SILENCE_GAP:
            out.append((prev, p.start))
        prev = max(prev, p.end)
    if duration - prev >= SILENCE_GAP:
        out.append((prev, duration))
    return out


@dataclass
class Tally:
    """Hits and totals per class, summed over items."""

    hits: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0.0))
    total: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0.0))

    def add(self, other: Tally) -> None:
        for c in CLASSES:
            self.hits[c] += other.hits[c]
            self.total[c] += other.total[c]

    def rate(self, cls: str) -> float | None:
        return self.hits[cls] / self.total[cls] if self.total[cls] else None

    def macro(self) -> float:
        rates = [r for c in CLASSES if (r := self.rate(c)) is not None]
        return float(np.mean(rates)) if rates else float("nan")


def score_shapes(truth: Sequence[Phone], cues: Sequence[Cue], duration: float) -> Tally:
    tally = Tally()
    for p in truth:
        cls = decisive_class(p.symbol)
        if cls is None:
            continue
        tally.total[cls] += 1
        tally.hits[cls] += shape_at(cues, (p.start + p.end) / 2) in EXPECTED[cls]
    for a, b in silences(truth, duration):
        for t in np.arange(a + STEP / 2, b, STEP):
            tally.total["SILENCE"] += 1
            tally.hits["SILENCE"] += shape_at(cues, float(t)) in EXPECTED["SILENCE"]
    return tally


def open_indicators(truth: Sequence[Phone], cues: Sequence[Cue],
                    duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Truth's "mouth open" indicator (OPEN or ROUNDED phone active) and the engine's (an open
    shape C D E F showing), on 10 ms frames."""
    n = int(np.ceil(duration / STEP))
    t = (np.arange(n) + 0.5) * STEP
    gt = np.zeros(n)
    for p in truth:
        if decisive_class(p.symbol) in ("OPEN", "ROUNDED"):
            gt[(t >= p.start) & (t < p.end)] = 1.0
    eng = np.array([shape_at(cues, float(x)) in OPEN_SHAPES for x in t], float)
    return gt, eng


def best_lag(truth: Sequence[Phone], cues: Sequence[Cue], duration: float,
             search: float = 0.2) -> float:
    """Lag (s) maximising the correlation of truth's open indicator with the engine's open shapes;
    positive when the engine is late."""
    return pooled_lag([open_indicators(truth, cues, duration)], search)


def pooled_lag(indicators: Sequence[tuple[np.ndarray, np.ndarray]],
               search: float = 0.2) -> float:
    """:func:`best_lag` over several items at once (their indicators joined with rest between
    them), which a short item's syllable rhythm cannot fool as it can the lag of that item."""
    k = int(round(search / STEP))
    pad = np.zeros(k)
    gt = np.concatenate([x for g, _ in indicators for x in (g, pad)])
    eng = np.concatenate([x for _, e in indicators for x in (e, pad)])
    n = len(gt)
    best, best_r = 0.0, -np.inf
    for lag in range(-k, k + 1):
        a = gt[max(0, -lag): n - max(0, lag)]
        b = eng[max(0, lag): n - max(0, -lag)]
        if a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best_r:
            best, best_r = lag * STEP, r
    return best


def _similar(a: str, b: str) -> float:
    if a == b:
        return 0.0
    fa, fb = ipa.parse(a).first, ipa.parse(b).first
    if fa.vowel and fb.vowel:
        return 0.4
    if fa.vowel != fb.vowel:
        return 1.0
    return 0.3 if fa.place == fb.place or fa.manner == fb.manner else 0.7


def match_phones(truth: Sequence[Phone], pred: Sequence[Phone]) -> list[tuple[int, int]]:
    """Pairs (truth index, prediction index) from an edit-distance alignment of the two phone
    sequences (substitution cost by articulatory similarity, time overlap as a tie-break)."""
    n, m = len(truth), len(pred)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    back = np.zeros((n + 1, m + 1), np.int8)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            tp, pp = truth[i - 1], pred[j - 1]
            far = 0.5 if abs((tp.start + tp.end) - (pp.start + pp.end)) / 2 > 0.3 else 0.0
            options = (cost[i - 1, j - 1] + _similar(tp.symbol, pp.symbol) + far,
                       cost[i - 1, j] + 1.0, cost[i, j - 1] + 1.0)
            back[i, j] = int(np.argmin(options))
            cost[i, j] = options[back[i, j]]
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if back[i, j] == 0:
            if _similar(truth[i - 1].symbol, pred[j - 1].symbol) < 1.0:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif back[i, j] == 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def boundary_errors(truth: Sequence[Phone], pred: Sequence[Phone]) -> np.ndarray:
    """Absolute errors (s) of matched phones' start and end boundaries."""
    errs = []
    for i, j in match_phones(truth, pred):
        errs.append(abs(truth[i].start - pred[j].start))
        errs.append(abs(truth[i].end - pred[j].end))
    return np.array(errs)


@dataclass
class CurveChecks:
    """Counts for DESIGN.md §3's decisive curve checks (hits, totals) and the largest jump."""

    sealed: list[int] = field(default_factory=lambda: [0, 0])
    open: list[int] = field(default_factory=lambda: [0, 0])
    rounded: list[int] = field(default_factory=lambda: [0, 0])
    silent: list[int] = field(default_factory=lambda: [0, 0])
    max_jump: float = 0.0

    def add(self, other: CurveChecks) -> None:
        for name in ("sealed", "open", "rounded", "silent"):
            mine, theirs = getattr(self, name), getattr(other, name)
            mine[0] += theirs[0]
            mine[1] += theirs[1]
        self.max_jump = max(self.max_jump, other.max_jump)

    @staticmethod
    def rate(pair: list[int]) -> float | None:
        return pair[0] / pair[1] if pair[1] else None


def check_curves(truth: Sequence[Phone], anim: Animation, duration: float) -> CurveChecks:
    out = CurveChecks()
    jaw, close = anim.channel("jawOpen"), anim.channel("mouthClose")
    gap = jaw - close
    rnd = np.maximum(anim.channel("mouthPucker"), anim.channel("mouthFunnel"))

    def at(arr: np.ndarray, t: float) -> float:
        return float(arr[min(len(arr) - 1, max(0, int(round(t * anim.fps))))])

    for p in truth:
        cls = decisive_class(p.symbol)
        mid = (p.start + p.end) / 2
        if cls == "BILABIAL":
            out.sealed[1] += 1
            out.sealed[0] += at(gap, mid) <= 0.05
        elif cls == "OPEN":
            out.open[1] += 1
            out.open[0] += at(gap, mid) >= 0.20
        elif cls == "ROUNDED" and ipa.parse(p.symbol).first.vowel:
            out.rounded[1] += 1
            out.rounded[0] += at(rnd, mid) >= 0.25
    for a, b in silences(truth, duration):
        i0, i1 = int(np.ceil(a * anim.fps)), int(np.floor(b * anim.fps))
        seg = gap[i0:i1 + 1]
        out.silent[1] += len(seg)
        out.silent[0] += int(np.sum(seg <= 0.08))
    if anim.frames > 1:
        out.max_jump = float(np.max(np.abs(np.diff(anim.values[:, :52], axis=0))))
    return out
