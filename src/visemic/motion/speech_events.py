"""Where the speech is, and where it is emphatic: phrases, accents, word emphasis, questions.

The events that expression (eyes, head, brows, speaking style) reacts to, read from the timeline
and prosody. Pitch is compared in semitones against the speaker's own median, loudness against
the utterance's level, so the events do not depend on voice or recording level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visemic.phonetics import ipa
from visemic.phonetics import text as text_mod
from visemic.types import Prosody, Timeline

PHRASE_PAUSE = 0.2     # a pause at least this long ends a phrase (s)


@dataclass(frozen=True)
class Accent:
    """A syllable nucleus: its vowel's onset and end (s), its word index, its prominence 0…1
    (lexical stress, loudness and pitch peak together) and its pitch prominence alone 0…1 (how
    far its f0 peak rises above the speaker's median, 1 at 5 semitones)."""

    start: float
    end: float
    word: int
    strength: float
    pitch: float


def phrases(timeline: Timeline, min_pause: float = PHRASE_PAUSE) -> list[tuple[float, float]]:
    """Stretches of speech (start, end) separated by pauses of at least ``min_pause``."""
    out: list[list[float]] = []
    for p in sorted(timeline.phones, key=lambda p: p.start):
        if out and p.start - out[-1][1] < min_pause:
            out[-1][1] = max(out[-1][1], p.end)
        else:
            out.append([p.start, p.end])
    return [(a, b) for a, b in out]


def speaking(timeline: Timeline, times: np.ndarray, min_pause: float = 0.3,
             ramp: float = 0.15) -> np.ndarray:
    """1 while speaking (pauses shorter than ``min_pause`` count as speech), 0 in longer
    pauses, with linear ramps of ``ramp`` seconds into each pause."""
    w = np.zeros(len(times), np.float32)
    for a, b in phrases(timeline, min_pause):
        w = np.maximum(w, np.clip(np.minimum(times - (a - ramp), (b + ramp) - times) / ramp,
                                  0.0, 1.0))
    return w


def semitones(prosody: Prosody) -> np.ndarray:
    """f0 in semitones relative to the speaker's median voiced f0 (NaN where unvoiced)."""
    f0 = prosody.f0.astype(np.float64)
    voiced = f0 > 0
    out = np.full(len(f0), np.nan)
    if voiced.sum() >= 5:
        ref = float(np.median(f0[voiced]))
        out[voiced] = 12.0 * np.log2(f0[voiced] / ref)
    return out


def _span(prosody: Prosody, a: float, b: float) -> slice:
    i0 = max(0, int(a * prosody.rate))
    return slice(i0, max(i0 + 1, int(np.ceil(b * prosody.rate))))


def accents(timeline: Timeline, prosody: Prosody) -> list[Accent]:
    """Every vowel with its prominence. Lexically stressed vowels start from 0.4; loudness above
    the phrase's mean and a pitch peak above the speaker's median add the rest."""
    st = semitones(prosody)
    loud = prosody.loudness.astype(np.float64)
    level = float(np.percentile(loud[loud > 0.2], 50)) if np.any(loud > 0.2) else 0.5
    out: list[Accent] = []
    stressed_any = any(p.stress for p in timeline.phones)
    for p in timeline.phones:
        if not ipa.parse(p.symbol).first.vowel:
            continue
        s = _span(prosody, p.start, p.end)
        peak_loud = float(np.max(loud[s])) if len(loud[s]) else 0.0
        pitch = st[s]
        peak_st = float(np.nanmax(pitch)) if np.any(np.isfinite(pitch)) else 0.0
        base = (0.4 if p.stress == 1 else 0.15 if p.stress == 2 else 0.0) if stressed_any \
            else 0.25
        high = float(np.clip((peak_st - 1.0) / 4.0, 0.0, 1.0))
        strength = base + 0.35 * np.clip((peak_loud - level) / 0.25 + 0.5, 0.0, 1.0) + 0.35 * high
        out.append(Accent(p.start, p.end, p.word, float(min(1.0, strength)), high))
    return out


def word_emphasis(timeline: Timeline, accent_list: list[Accent]) -> np.ndarray:
    """Per word 0…1: how much more prominent its strongest syllable is than the typical word's."""
    best = np.zeros(len(timeline.words))
    for a in accent_list:
        if 0 <= a.word < len(best):
            best[a.word] = max(best[a.word], a.strength)
    if not len(best):
        return best
    typical = float(np.median(best))
    return np.clip((best - typical) / max(1e-6, 1.0 - typical), 0.0, 1.0)


def question_ends(timeline: Timeline, prosody: Prosody, text: str | None = None) -> list[float]:
    """End times of phrases that sound or read like questions: the transcript's sentence ends
    with "?", or the pitch rises by ≥ 3 semitones over the phrase's last half second."""
    ends: set[float] = set()
    spans = phrases(timeline)
    st = semitones(prosody)
    for a, b in spans:
        seg = st[_span(prosody, max(a, b - 0.5), b)]
        good = np.isfinite(seg)
        if good.sum() >= 8:
            head, tail = seg[good][: good.sum() // 3], seg[good][-(good.sum() // 3):]
            if float(np.median(tail) - np.median(head)) >= 3.0:
                ends.add(b)
    if text and timeline.words:
        for end in _question_word_ends(timeline, text):
            # The phrase holding the question's last word ends the question.
            for a, b in spans:
                if a - 1e-6 <= end <= b + 1e-6:
                    ends.add(b)
    return sorted(ends)


def _question_word_ends(timeline: Timeline, text: str) -> list[float]:
    """End times of the last word of each "?" sentence, matching transcript words by count."""
    out: list[float] = []
    count = 0
    sentence = ""
    for ch in text + "\n":
        sentence += ch
        if ch in ".!?\n":
            n = len(text_mod.normalize(sentence, timeline.language))
            count += n
            if ch == "?" and n and count - 1 < len(timeline.words):
                out.append(timeline.words[count - 1].end)
            sentence = ""
    return out
