"""espeak-ng through ctypes: grapheme-to-phoneme conversion and speech with exact phone timings.

The library and its data come from the ``espeakng-loader`` wheel; nothing is downloaded.

Both :func:`phonemize` and :func:`synthesize` run espeak-ng's synthesiser and read its own events:
a WORD event names a stretch of the input text, PHONEME events (in IPA) follow with the sample
at which each phoneme starts. Running the synthesiser for G2P as well costs ~0.2 ms per word
(espeak renders ~1000× faster than real time) and gives two things ``espeak_TextToPhonemes``
cannot: which input word each phoneme belongs to, and the same phones that :func:`synthesize`
times.

Phones are split from espeak's IPA by :func:`visemic.phonetics.ipa_split.split_ipa`, whose
conventions (affricates and diphthongs whole, tones dropped, stress on the vowel) apply.

espeak-ng is global C state: every call takes the module lock, and the library is initialised
once, lazily. All use of libespeak-ng in the process must go through this module.

That state includes the wave generator's (pitch flutter position, wave phase), which only loading
the library sets: without a reload, the samples of a text depend on what was synthesised before
it in the process (a few samples longer or shorter, a slightly different waveform). Speech is
made reproducible by unloading and reloading the library before synthesising audio whenever it
has been used since it was loaded (~3 ms).
"""

from __future__ import annotations

import bisect
import ctypes
import os
import re
import threading
import unicodedata
from dataclasses import dataclass

import numpy as np

from visemic.errors import VisemicError
from visemic.phonetics.ipa_split import parse_units, phone_weight, split_ipa
from visemic.types import Audio, Phone, Timeline, Word

SAMPLE_RATE = 22050  # what espeak-ng reports at initialisation; checked there

# ---------------------------------------------------------------------------------------------
# The library


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
                ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x0001, 0x0002, 0x8000
_CHARS_UTF8, _POS_CHARACTER, _RATE = 1, 1, 1
_EV_WORD, _EV_END, _EV_PHONEME = 1, 5, 7
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes phonememode
DEFAULT_RATE = 175  # words per minute, espeak's default
MIN_RATE, MAX_RATE = 80, 450

# Where espeak's own preference is not what visemic users mean: bare "en" is American English
# here (as for the CMU dictionary), not espeak's British default.
_ALIASES = {"en": "gmw/en-US"}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_data_path = ""
_voices: dict[str, str] = {}  # language code → voice identifier
_used = False  # whether the loaded library has synthesised anything (its state is not fresh)
_Events = list[tuple[int, int, int, int, str]]  # type, text position, length, sample, phoneme


class _Sink:
    """What the synth callback collects during one espeak_Synth call."""

    def __init__(self, keep_audio: bool) -> None:
        self.chunks: list[bytes] | None = [] if keep_audio else None
        self.count = 0
        self.events: _Events = []


_sink: _Sink | None = None
# The phonemes whose IPA exceeds 8 bytes (found by scanning espeak's IPA text output), as their
# events deliver them → in full.
_TRUNCATED = {"ˈɐ̃ʊ": "ˈɐ̃ʊ̃", "ˌɐ̃ʊ": "ˌɐ̃ʊ̃"}


@_CALLBACK
def _on_synth(wav, count, events):  # type: ignore[no-untyped-def]
    # Runs inside espeak_Synth on the calling thread, which holds _lock.
    if _sink is None:
        return 1
    if count > 0 and wav:
        _sink.count += count
        if _sink.chunks is not None:
            _sink.chunks.append(ctypes.string_at(wav, count * 2))
    i = 0
    while events[i].type != 0:
        e = events[i]
        name = ""
        if e.type == _EV_PHONEME:
            # id.string holds at most 8 bytes of UTF-8: a longer IPA name arrives cut short.
            raw = bytes(e.id.string)
            name = raw.decode("utf-8", "ignore")
            if len(raw) == 8:
                name = _TRUNCATED.get(name, name)
        _sink.events.append((e.type, e.text_position, e.length, e.sample, name))
        i += 1
    return 0


def _unload() -> None:
    """Terminate and unload libespeak-ng, so that the next :func:`_load` starts it afresh (its
    static C state included). Caller holds ``_lock``."""
    global _lib, _used, _t2p_ready
    if _lib is None:
        return
    import _ctypes

    _lib.espeak_Terminate()
    _ctypes.dlclose(_lib._handle)
    _lib = None
    _used = False
    _t2p_ready = False  # argtypes were set on the unloaded library's functions


def _load() -> ctypes.CDLL:
    """Load and initialise libespeak-ng once. Caller holds ``_lock``."""
    global _lib, _data_path
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise VisemicError("espeak-ng is not available (pip install espeakng-loader)") from exc
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    _data_path = espeakng_loader.get_data_path()
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, _data_path.encode(),
                                 _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
    if rate != SAMPLE_RATE:
        raise VisemicError(f"espeak-ng failed to initialise (data at {_data_path})")
    lib.espeak_SetSynthCallback(_on_synth)
    _voices.update(_list_voices(lib))
    _lib = lib
    return lib


def _list_voices(lib: ctypes.CDLL) -> dict[str, str]:
    """Language code → identifier of the voice espeak prefers for it (lowest priority number)."""
    best: dict[str, tuple[int, str]] = {}
    table = lib.espeak_ListVoices(None)
    i = 0
    while table[i]:
        voice = table[i].contents
        ident = voice.identifier.decode()
        p = voice.languages
        # ``languages`` is a run of (priority byte, NUL-terminated code), ended by a 0 byte.
        while p and (priority := ctypes.c_ubyte.from_address(p).value):
            code = ctypes.string_at(p + 1).decode().lower()
            if code not in best or priority < best[code][0]:
                best[code] = (priority, ident)
            p += 2 + len(code)
        i += 1
    return {code: ident for code, (_, ident) in best.items()}


def _variants() -> list[str]:
    try:
        return sorted(os.listdir(os.path.join(_data_path, "voices", "!v")))
    except OSError:
        return []


def languages() -> list[str]:
    """Language codes espeak-ng can speak, e.g. ``["af", …, "en", "en-gb", "en-us", …]``."""
    with _lock:
        _load()
        return sorted(_voices)


def check_language(language: str) -> None:
    """Raise :class:`VisemicError` ("unknown language …") unless espeak-ng knows ``language``
    (a code, an alias or a voice identifier, as :func:`phonemize` takes it)."""
    with _lock:
        _load()
        _voice_name(language, None)


def voices() -> list[str]:
    """Voice variants usable as ``synthesize(voice=…)``, e.g. ``"f3"``, ``"m2"``, ``"klatt"``."""
    with _lock:
        _load()
        return _variants()


def _voice_name(language: str, voice: str | None) -> str:
    """espeak voice name for a language code (+ variant). Caller holds ``_lock``."""
    code = language.strip().lower().replace("_", "-")
    ident = _ALIASES.get(code) or _voices.get(code)
    if ident is None:
        # Voice identifiers ("gmw/en-US") and their last part ("en-US") are accepted too.
        for ident_ in _voices.values():
            if code in (ident_.lower(), ident_.rsplit("/", 1)[-1].lower()):
                ident = ident_
                break
    if ident is None:
        raise VisemicError(f"unknown language {language!r} (see visemic languages)")
    if voice:
        if voice not in _variants():
            raise VisemicError(f"unknown voice {voice!r} (see visemic voices)")
        ident = f"{ident}+{voice}"
    return ident


def _run(text: str, language: str, voice: str | None = None, rate: int | None = None,
         keep_audio: bool = True) -> tuple[np.ndarray | None, int, _Events]:
    """Synthesise ``text``: int16 samples (None unless ``keep_audio``: G2P of a long text need
    not hold its audio), the number of samples, and espeak's events."""
    global _sink, _used
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise VisemicError(f"speaking rate {rate} is out of range ({MIN_RATE}–{MAX_RATE} wpm)")
    data = text.encode("utf-8")
    with _lock:
        if keep_audio and _used:
            _unload()  # audio from a fresh synthesiser: the same text, the same samples
        lib = _load()
        _used = True
        name = _voice_name(language, voice)
        if lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise VisemicError(f"espeak-ng could not load voice {name!r}")
        lib.espeak_SetParameter(_RATE, rate or DEFAULT_RATE, 0)
        sink = _sink = _Sink(keep_audio)
        try:
            err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                   None, None)
        finally:
            _sink = None
    if err != 0:
        raise VisemicError(f"espeak-ng failed to synthesise the text (error {err})")
    samples = None
    if sink.chunks is not None:
        samples = np.frombuffer(b"".join(sink.chunks), dtype=np.int16)
    return samples, sink.count, sink.events


# ---------------------------------------------------------------------------------------------
# Words


# Punctuation that separates words; the connectors among them (' ’ . , : / -) do not when they
# stand between two letters or digits ("don't", "U.S.A", "5.99", "10:30", "well-known").
_CONNECTORS = frozenset("'’.,:/-‐‑")
# Scripts written without spaces: espeak's WORD events split them into words.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")


def _is_separator(text: str, i: int) -> bool:
    ch = text[i]
    if ch.isspace():
        return True
    cat = unicodedata.category(ch)
    if not cat.startswith("P") or ch in "%&@#*\\§¶†‡‰′″":
        return False  # letters, digits, marks and spoken symbols ($ + = % & @ #) are word stuff
    if ch in _CONNECTORS and 0 < i < len(text) - 1:
        return not (text[i - 1].isalnum() and text[i + 1].isalnum())
    return True


def _tokens(text: str) -> list[tuple[int, int]]:
    """Character spans of the orthographic words of ``text``."""
    spans: list[tuple[int, int]] = []
    start = -1
    for i in range(len(text) + 1):
        sep = i == len(text) or _is_separator(text, i)
        if sep and start >= 0:
            spans.append((start, i))
            start = -1
        elif not sep and start < 0:
            start = i
    return spans


@dataclass(frozen=True)
class G2PWord:
    """One orthographic word and its phones (IPA), one stress value per phone."""

    text: str
    phones: tuple[str, ...]
    stress: tuple[int, ...]


@dataclass
class _TimedPhone:
    symbol: str
    stress: int
    start: int  # samples
    end: int


def _event_phones(samples: np.ndarray | None, total: int, events: _Events,
                  ) -> list[tuple[int, list[_TimedPhone]]]:
    """Phones with sample times, grouped under the text position (0-based) of their WORD event.

    A phone ends where the next phoneme event starts. Empty phoneme names are pauses (and, in
    tone languages, zero-length tones): gaps, except where espeak's audio is not silent there
    (Russian's epenthetic ``@-`` has no IPA name), which the phone before absorbs. Without
    ``samples`` (G2P only) that check is skipped: it moves times, never phones.
    """
    phon = [(min(max(e[3], 0), total), e[4]) for e in events if e[0] == _EV_PHONEME]
    ends = [phon[k + 1][0] for k in range(len(phon) - 1)]
    end_samples = [e[3] for e in events if e[0] == _EV_END]
    ends.append(min(max(end_samples or [total]), total) if phon else total)
    level = 0.0
    if samples is not None and len(samples):
        level = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))

    groups: list[tuple[int, list[_TimedPhone]]] = []
    pending = 0
    last: _TimedPhone | None = None
    k = 0
    for ev in events:
        if ev[0] == _EV_WORD:
            groups.append((ev[1] - 1, []))
            pending = 0
            continue
        if ev[0] != _EV_PHONEME:
            continue
        start, name = phon[k]
        end = max(ends[k], start)
        k += 1
        if not name:
            if samples is not None and last is not None and last.end == start and end > start:
                seg = samples[start:end].astype(np.float64)
                if np.sqrt(np.mean(seg * seg)) > 0.05 * level:
                    last.end = end
            continue
        if not groups:
            groups.append((0, []))
        units, orphan, stray = parse_units(name, single=True)
        if orphan and last is not None:
            last.symbol += orphan
            last.end = max(last.end, end)
        if not units:
            pending = pending or stray
            continue
        weights = [phone_weight(u.symbol) for u in units]
        bounds = np.round(start + (end - start) * np.cumsum([0.0, *weights]) / sum(weights))
        for j, u in enumerate(units):
            stress = u.stress
            if u.vowel and pending and not stress:
                stress, pending = pending, 0
            last = _TimedPhone(u.symbol, stress, int(bounds[j]), int(bounds[j + 1]))
            groups[-1][1].append(last)
        pending = pending or stray
    _widen_instants([p for _, ps in groups for p in ps])
    return groups


def _widen_instants(phones: list[_TimedPhone]) -> None:
    """Give espeak's zero-length phonemes (unreleased final stops in Cantonese, Turkish ``ɫ``)
    a share of an adjacent phone, so that every phone is visible on the timeline."""
    for i, p in enumerate(phones):
        if p.end > p.start:
            continue
        for j in (i - 1, i + 1):
            if not 0 <= j < len(phones):
                continue
            q = phones[j]
            if q.end - q.start < 2 or (q.end != p.start if j < i else q.start != p.end):
                continue
            wq, wp = phone_weight(q.symbol), phone_weight(p.symbol)
            span = q.end - q.start
            cut = max(1, min(span - 1, round(span * wp / (wp + wq))))
            if j < i:
                q.end = p.start = q.end - cut
            else:
                q.start = p.end = q.start + cut
            break


def _spoken_words(text: str, groups: list[tuple[int, list[_TimedPhone]]], language: str,
                  ) -> list[tuple[str, list[_TimedPhone]]]:
    """Attach espeak's phone groups to the orthographic words of ``text``.

    A word espeak folded into the one before ("out of" → one WORD event) gets its share of that
    word's phones, in proportion to the phones each has on its own. Unspaced scripts (Chinese,
    Japanese, Thai) are cut into words at espeak's WORD events.
    """
    spans = _tokens(text)
    if not spans:
        return []

    def span_of(pos: int, spans: list[tuple[int, int]]) -> int:
        """The word holding text position ``pos``. espeak points WORD events at a word's first
        letter; a position between words comes from expanding the word before ("☺" → "smiling
        face", "1,000")."""
        j = bisect.bisect_right(spans, (pos, len(text) + 1)) - 1
        return max(j, 0)

    # Split unspaced spans at the WORD events that fall inside them.
    cuts: dict[int, set[int]] = {}
    for pos, _ in groups:
        j = span_of(pos, spans)
        a, b = spans[j]
        if a < pos < b and _UNSPACED.search(text, a, b):
            cuts.setdefault(j, set()).add(pos)
    words: list[tuple[int, int]] = []
    for j, (a, b) in enumerate(spans):
        edges = [a, *sorted(cuts.get(j, ())), b]
        words.extend((x, y) for x, y in zip(edges, edges[1:], strict=False) if y > x)

    phones: list[list[_TimedPhone]] = [[] for _ in words]
    has_event = [False] * len(words)
    for pos, ps in groups:
        j = span_of(pos, words)
        has_event[j] = True
        phones[j].extend(ps)

    # Share a folded group among the eventless words that follow it.
    j = 0
    while j < len(words):
        run = j + 1
        while run < len(words) and not has_event[run]:
            run += 1
        if run > j + 1 and has_event[j] and len(phones[j]) > 1:
            members = range(j, run)
            counts = [max(1, len(_t2p(text[words[m][0]:words[m][1]], language)))
                      for m in members]
            pool = phones[j]
            n = len(pool)
            cum = np.cumsum([0, *counts]) / sum(counts)
            cut = [int(round(n * c)) for c in cum]
            for q in range(1, len(cut) - 1):  # each word keeps at least one phone, if there are
                cut[q] = min(max(cut[q], cut[q - 1] + 1), n - (len(cut) - 1 - q))
            for q, m in enumerate(members):
                phones[m] = pool[cut[q]:cut[q + 1]]
        j = run
    return [(text[a:b], ps) for (a, b), ps in zip(words, phones, strict=True)]


_t2p_ready = False


def _t2p(word: str, language: str) -> list[tuple[str, int]]:
    """espeak_TextToPhonemes for one word (only to weigh folded words against each other)."""
    global _t2p_ready, _used
    with _lock:
        lib = _load()
        _used = True
        if not _t2p_ready:
            lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                                  ctypes.c_int]
            lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
            _t2p_ready = True
        lib.espeak_SetVoiceByName(_voice_name(language, None).encode())
        buf = ctypes.c_char_p(word.encode("utf-8"))
        out = []
        for _ in range(100):  # one call per clause; a word has at most a few
            if not buf.value:
                break
            res = lib.espeak_TextToPhonemes(ctypes.byref(buf), _CHARS_UTF8, _PHONEMES_IPA)
            out.append((res or b"").decode("utf-8", "ignore"))
    return split_ipa(" ".join(out))


# ---------------------------------------------------------------------------------------------
# Public API


def phonemize(text: str, language: str = "en-us") -> list[G2PWord]:
    """The phones espeak-ng says for each orthographic word of ``text``.

    Words are runs of letters, digits and spoken symbols between spaces and punctuation
    (apostrophes, hyphens and dots inside a word keep it whole: "don't", "well-known", "5.99");
    in Chinese, Japanese and Thai, espeak's own word segmentation. Numbers and symbols are
    expanded ("123" → one word with the phones of "one hundred and twenty-three"). A word espeak
    does not pronounce has no phones. Phones are IPA as described in the module notes.
    """
    if not text.strip():
        return []
    _, total, events = _run(text, language, keep_audio=False)
    words = _spoken_words(text, _event_phones(None, total, events), language)
    return [G2PWord(w, tuple(p.symbol for p in ps), tuple(p.stress for p in ps))
            for w, ps in words]


def synthesize(text: str, language: str = "en-us", voice: str | None = None,
               rate: int | None = None) -> tuple[Audio, Timeline]:
    """Speak ``text`` with espeak-ng: the audio (float32, 22050 Hz) and its exact timeline.

    ``voice`` is an espeak variant (see :func:`voices`), ``rate`` words per minute (80–450,
    default 175). Phone times come from espeak's phoneme events, to the sample; pauses are gaps
    between phones. The phones are those :func:`phonemize` gives for the same text.
    """
    samples, total, events = _run(text, language, voice, rate)
    assert samples is not None
    audio = Audio(samples.astype(np.float32) / 32768.0, SAMPLE_RATE)
    timeline = Timeline(language=language, source="synthesised")
    if not text.strip():
        return audio, timeline
    sr = float(SAMPLE_RATE)
    groups = _event_phones(samples, total, events)
    words = _spoken_words(text, groups, language)
    if not words:  # only punctuation, which espeak may still read out: phones outside words
        timeline.phones = [Phone(p.symbol, p.start / sr, p.end / sr, -1, p.stress)
                           for _, ps in groups for p in ps]
    for w, ps in words:
        if not ps:
            continue
        index = len(timeline.words)
        timeline.words.append(Word(w, ps[0].start / sr, ps[-1].end / sr))
        timeline.phones.extend(Phone(p.symbol, p.start / sr, p.end / sr, index, p.stress)
                               for p in ps)
    return audio, timeline
