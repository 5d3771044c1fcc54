"""Silence detection: which 10 ms frames hold speech, so pauses return the face to rest.

A frame is speech when it is well above the recording's noise floor and not far below its speech
level, and louder than an absolute floor (digital silence and hiss never count). A quiet stretch
with steady voicing is speech too: a murmured "uh" or "mm" can sit barely above the floor of a
conversational recording, yet its pitch gives it away. Recognisers happily "hear" phones in
silence; :func:`drop_silent_phones` removes them.
"""

from __future__ import annotations

import numpy as np

from visemic.masks import runs
from visemic.prosody import F0_MAX, F0_MIN, RATE, frame_signal, level_db, pitch, speech_range
from visemic.types import Audio, Phone, Timeline, Word

ABSOLUTE_FLOOR_DB = -60.0
ABOVE_NOISE_DB = 6.0
BELOW_PEAK_DB = 50.0
MIN_PAUSE = 0.3  # seconds; shorter silences (stop closures, hesitations) stay speech
# Steady voicing: periodicity at least VOICED_CLARITY, f0 changing less than STEADY (log) from
# frame to frame, for MIN_VOICED, a little above the floor (a hum *is* the floor).
VOICED_CLARITY = 0.5
STEADY = 0.12
MIN_VOICED = 0.05  # seconds
ABOVE_FLOOR_VOICED_DB = 1.5


def _levels(audio: Audio) -> tuple[np.ndarray, float, float]:
    """(frame level in dB, noise floor, the level above which a frame is speech)."""
    db = level_db(audio.samples, audio.sample_rate, RATE)
    floor, peak = speech_range(db)
    return db, floor, max(ABSOLUTE_FLOOR_DB, floor + ABOVE_NOISE_DB, peak - BELOW_PEAK_DB)


def steady_voicing(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Boolean per 10 ms frame: clearly periodic, with an f0 that glides rather than jumps."""
    f0, clarity = pitch(samples, sample_rate, RATE)
    log_f0 = np.log(np.maximum(f0, 1.0))
    step = np.abs(np.diff(log_f0, prepend=log_f0[:1]))
    # A best lag at the edge of the search range is no pitch peak: low-pass noise correlates
    # most at the shortest lag.
    inside = (f0 > F0_MIN * 1.02) & (f0 < F0_MAX * 0.98)
    return (clarity >= VOICED_CLARITY) & (step < STEADY) & inside


def pauses(audio: Audio, min_pause: float = MIN_PAUSE) -> np.ndarray:
    """Boolean per 10 ms frame: True inside stretches without speech of at least ``min_pause``.

    Short silent stretches are kept as speech: a stop's closure is silent too. Voicing is only
    looked for inside the quiet stretches, so it costs little.
    """
    x, sr = audio.samples, audio.sample_rate
    db, floor, threshold = _levels(audio)
    out = np.zeros(len(db), bool)
    n = int(round(min_pause * RATE))
    m = int(round(MIN_VOICED * RATE))
    hop = sr / RATE
    for a, b in runs(db <= threshold):
        if b - a < n:
            continue
        voiced = steady_voicing(x[int(a * hop):int(b * hop)], sr)[:b - a]
        voiced &= db[a:a + len(voiced)] > max(ABSOLUTE_FLOOR_DB, floor + ABOVE_FLOOR_VOICED_DB)
        quiet = np.ones(b - a, bool)
        for va, vb in runs(voiced):
            if vb - va >= m:
                quiet[va:vb] = False
        for qa, qb in runs(quiet):
            if qb - qa >= n:
                out[a + qa:a + qb] = True
    return out


def drop_silent_phones(timeline: Timeline, audio: Audio) -> Timeline:
    """Remove phones whose midpoint falls inside a pause (recognisers hear phones in noise)."""
    silent = pauses(audio)
    if silent.all():
        return Timeline(timeline.language, words=[], phones=[], source=timeline.source)
    keep = []
    for p in timeline.phones:
        i = min(len(silent) - 1, int((p.start + p.end) / 2 * RATE))
        if not silent[i]:
            keep.append(p)
    return Timeline(timeline.language, words=timeline.words, phones=keep,
                    source=timeline.source)


# Voiced sound the recogniser left between its words (Whisper drops most "uh"s and "um"s, even
# with its disfluent prompt: en_man_3q's "so, um, I thought" came back without the "um", and the
# dub showed a still, closed mouth through 0.2 s of loud voicing with the lips 0.17 eye
# distances apart). Such a stretch gets the recogniser's own hesitation vowel. Only stretches
# between two words, apart from both (a dip in level or voicing between), count: voicing that
# runs on from a word is that word's, placed a little short by the aligner; before the first
# word or after the last it is more often words Whisper left out at a clip's cut edge (face4
# whole: "sign element" before its "it"), whose shapes a hesitation does not know (filled, the
# cross-dub speaking it followed jawOpen at r 0.69 against 0.76, under the 0.7).
HESITATION = "ʌ"  # as :data:`visemic.phonetics.recognize.HESITATION` (a filled pause: "uh")
MIN_HESITATION = 0.1  # seconds of steady voicing
HESITATION_BELOW_PEAK_DB = 20.0  # as loud as speech, not a murmur of the room
# An "um" ends in a hum through the nose with the lips closed (en_man_3q's: 0.004 eye distances
# apart, the spectrum's centroid 300 Hz against the vowel's 650): a tail of NASAL_TAIL or more
# whose centroid (below NASAL_BAND Hz) stays under NASAL_SHARE of the vowel's is an /m/.
NASAL = "m"
NASAL_SHARE = 0.6
NASAL_TAIL = 0.04  # seconds
NASAL_BAND = 4000.0  # Hz


def fill_hesitations(timeline: Timeline, audio: Audio) -> Timeline:
    """``timeline`` with a :data:`HESITATION` phone (outside any word; then :data:`NASAL` where
    it closes into a hum) on each stretch of steady, speech-loud voicing of
    :data:`MIN_HESITATION` or more that lies between two of its phones and touches neither."""
    x, sr = audio.samples, audio.sample_rate
    if len(x) == 0:
        return timeline
    db = level_db(x, sr, RATE)
    _, peak = speech_range(db)
    loud = db > max(ABSOLUTE_FLOOR_DB, peak - HESITATION_BELOW_PEAK_DB)
    phones = sorted(timeline.phones, key=lambda p: p.start)
    edges = [t for p in phones for t in (p.start, p.end)][1:-1]
    hop = sr / RATE
    n = int(round(MIN_HESITATION * RATE))
    added: list[Phone] = []
    for gap_start, gap_end in zip(edges[::2], edges[1::2], strict=True):
        a, b = int(np.ceil(gap_start * RATE)), min(len(db), int(gap_end * RATE))
        if b - a < n + 2:
            continue
        voiced = steady_voicing(x[int(a * hop):int(b * hop)], sr)[:b - a] & loud[a:b]
        for va, vb in runs(voiced):
            # Touching the gap's edge: the neighbour's voicing.
            if vb - va >= n and va > 0 and vb < b - a:
                start, end = (a + va) / RATE, (a + vb) / RATE
                m = _nasal_tail(x, sr, a + va, a + vb)
                if m is None:
                    added.append(Phone(HESITATION, start, end, -1, 0))
                else:
                    added += [Phone(HESITATION, start, m / RATE, -1, 0),
                              Phone(NASAL, m / RATE, end, -1, 0)]
    if not added:
        return timeline
    return Timeline(timeline.language, words=timeline.words,
                    phones=sorted(phones + added, key=lambda p: p.start),
                    source=timeline.source)


def _nasal_tail(x: np.ndarray, sr: int, a: int, b: int) -> int | None:
    """The 10 ms frame in ``[a, b)`` where a filled pause's closing /m/ starts (see
    :data:`NASAL_SHARE`), None where it ends open ("uh")."""
    frames = np.asarray(frame_signal(x, sr, RATE)[a:b], np.float64)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) ** 2
    freq = np.fft.rfftfreq(frames.shape[1], 1.0 / sr)
    band = freq <= NASAL_BAND
    power = spectrum[:, band]
    centroid = (power * freq[band]).sum(axis=1) / np.maximum(power.sum(axis=1), 1e-20)
    vowel = float(np.median(centroid[:max(1, len(centroid) // 2)]))
    low = centroid < NASAL_SHARE * vowel
    k = len(low)
    while k > 0 and low[k - 1]:
        k -= 1
    tail = len(low) - k
    return a + k if tail >= int(round(NASAL_TAIL * RATE)) and k > 0 else None


def trim_to_speech(timeline: Timeline, audio: Audio) -> Timeline:
    """``timeline`` with each phone that spans a whole pause (:func:`pauses`) cut back to the
    side its word is on: the aligner sometimes stretches a word's first phone back over the
    silence before it (en_man_3q: "thought"'s /θ/ over 0.3 s of silence, the lips closed, that
    the dub then showed as speech, not rest), or its last phone on over the silence after it.
    A phone that only runs into a pause stays: the quiet end of a weak /f/ reads as silence by
    level (trimming those too cost a labiodental on bench/accuracy.py)."""
    silent = pauses(audio)
    if not silent.any() or not timeline.phones:
        return timeline
    quiet = [(a / RATE, b / RATE) for a, b in runs(silent)]
    first = {p.word: i for i, p in reversed(list(enumerate(timeline.phones)))}
    phones = []
    for i, p in enumerate(timeline.phones):
        start, end = p.start, p.end
        for a, b in quiet:
            if start < a and b < end:
                if first.get(p.word) == i and p.word >= 0:
                    start = b
                else:
                    end = a
        phones.append(p if (start, end) == (p.start, p.end) else
                      Phone(p.symbol, start, end, p.word, p.stress))
    if phones == timeline.phones:
        return timeline
    words = list(timeline.words)
    for k, w in enumerate(words):
        mine = [p for p in phones if p.word == k]
        if mine:
            words[k] = Word(w.text, min(p.start for p in mine), max(p.end for p in mine))
    return Timeline(timeline.language, words=words, phones=phones, source=timeline.source)
