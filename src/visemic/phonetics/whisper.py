"""Speech → words with Whisper (faster-whisper, CTranslate2, int8 on the CPU).

Only Whisper's *words* are used: their times are about 0.12 s off, so the words are then
force-aligned by visemic's own aligner, as a transcript would be
(:mod:`visemic.phonetics.timeline`).
The models come from PyPI packages (:mod:`visemic.phonetics.asr_models`) and load from their
local folders, so nothing is fetched from the network.

Cost: Whisper's encoder always sees 30 s windows (shorter audio is padded). Detecting the language
and transcribing share the first window's encoding, so a short clip is encoded once.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visemic import audio as audio_io
from visemic.errors import VisemicError
from visemic.phonetics import asr_models
from visemic.types import Audio

log = logging.getLogger(__name__)

# Before CTranslate2 (and its OpenMP runtime) loads: idle threads sleep instead of spinning, so a
# finished decode does not keep burning a core; the Hugging Face hub is never asked anything;
# Intel MKL (CTranslate2's kernels) hands freed buffers back instead of caching them (issue 22:
# -7 MB after an encode). CTranslate2 without MKL (CT2_USE_MKL=0) would hold 26–33 MB less, but
# base decodes other words then (its encoder's output is the same bit for bit; the decoder's
# is not): recognition stays as it was.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")
# faster-whisper imports PyAV, never used here: loaded only if something else decodes with it
# (audio_io.ffmpeg_deferred).
with audio_io.ffmpeg_deferred():
    import faster_whisper  # noqa: F401

ENGLISH_MODEL = "tiny.en"
MULTILINGUAL_MODEL = "base"
# Decoding: greedy, at temperature 0 only, so a clip always gives the same text (Whisper's
# fallback to sampling at higher temperatures made batch and Ray runs differ, and measured no
# better here; nor did a beam of 5). Previous text is not fed back: that is how Whisper's
# repetition loops spread. Text that compresses well is *not* taken as a loop: speech that
# repeats itself does too (a sentence said six times measured 4.5, over Whisper's 2.4).
BEAM_SIZE = 1
TEMPERATURES = (0.0,)
# A window Whisper judges silent (likely no speech and a low log-probability) is skipped by
# faster-whisper itself; very improbable text is dropped too: that is what Whisper "hears" in
# music and noise.
NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
VERY_LOW_LOGPROB = -1.5
# Whisper leaves out "um" and "uh" unless its prompt has them; the mouth does not (an "um" closes
# the lips), and neither do careful transcripts. A disfluent prompt keeps them: on the English
# development set the macro score rose from 0.881 to 0.910 (0.929 with the transcripts). Mandarin
# comes in traditional characters unless the prompt is in simplified ones (as transcripts are).
PROMPTS = {"en": "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking.",
           "zh": "以下是普通话的句子。"}
# ...which Whisper then spells long; the dictionary spells them short.
FILLERS = ((re.compile(r"\b([Uu])mm+\b"), r"\1m"), (re.compile(r"\b([Uu])hh+\b"), r"\1h"))
# Whisper's loops on tones and noise ("beep beep beep …", "1.5kg 1.5kg …"): a phrase of up to
# LOOP_WORDS words said LOOP_TIMES times in a row or more.
LOOP_WORDS = 4
LOOP_TIMES = 5
# Whisper's features are computed this many frames (10 ms each) at a time (log_mel); a last
# block shorter than MIN_BLOCK joins the one before.
FEATURE_BLOCK = 1000
MIN_BLOCK = 64
# glibc's mallopt settings (_heap): while Whisper runs, and afterwards (what glibc's own
# adjustment reaches once a block of 32 MB or more was freed, so later stages run as before).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
BOUNDED = (1 << 20, 4 << 20)   # (mmap threshold, trim threshold), bytes
LOOSE = (32 << 20, 64 << 20)
# Whisper's language codes that espeak-ng (the aligner's pronunciations) names otherwise, and
# the reverse for codes given with --language.
TO_ESPEAK = {"nn": "nb"}
FROM_ESPEAK = {"cmn": "zh", "nb": "no", "hbs": "sr"}


_threads: int | None = None
_keep = False
# Within held(): the model stays loaded between calls (this context's, not other threads').
_held: contextvars.ContextVar[bool] = contextvars.ContextVar("visemic_whisper_held",
                                                             default=False)
_lock = threading.Lock()
_loaded: dict[tuple[str, int], Any] = {}
_resolved: dict[str, tuple[asr_models.ResolvedModel, str, tuple[Path, Path] | None]] = {}


def threads() -> int:
    """CTranslate2 threads: ``$VISEMIC_THREADS``, else what :func:`set_threads` said (batch
    workers and server jobs: 1, as many run side by side), else up to 4 of the machine's cores
    (one file at a time)."""
    env = os.environ.get("VISEMIC_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return _threads or max(1, min(4, os.cpu_count() or 1))


def set_threads(n: int | None) -> None:
    """Use ``n`` CTranslate2 threads for models loaded from now on (None: the default)."""
    global _threads
    _threads = n


@dataclass
class Recognition:
    """What Whisper heard in a stretch of audio."""

    text: str
    language: str  # Whisper's code
    probability: float  # of the language (1.0 when it was given)
    model: str
    packages: tuple[str, ...] = ()
    dropped: list[str] = field(default_factory=list)  # windows judged not to be speech
    # (start, end, text) of the stretches Whisper heard, by its own (rough) timestamps.
    segments: list[tuple[float, float, str]] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        return {"recognizer": "whisper", "model": self.model, "packages": list(self.packages),
                "detected_language": self.language,
                "language_probability": round(self.probability, 3), "text": self.text}


def whisper_language(code: str) -> str | None:
    """Whisper's code for an espeak-ng language code (en-us → en, cmn → zh), or None."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    base = code.lower().split("-")[0]
    base = FROM_ESPEAK.get(base, base)
    return base if base in _LANGUAGE_CODES else None


def espeak_language(code: str) -> str | None:
    """The espeak-ng code to align a language Whisper detected, or None if it has none."""
    from visemic.phonetics import espeak

    code = TO_ESPEAK.get(code, code)
    return code if code in espeak.languages() else None


def model_for(language: str | None, asr_model: str | None) -> str:
    """The model to use: the one asked for, else tiny.en for English, else base."""
    if asr_model is not None:
        return asr_model
    if language is not None and whisper_language(language) == "en":
        return ENGLISH_MODEL
    return MULTILINGUAL_MODEL


def keep_loaded(keep: bool) -> None:
    """Keep the last model loaded between calls (faster for many short files, 0.2–0.5 s a
    load) instead of freeing it once its words are out (the default: the aligner and the later
    stages then run without the model's ~90–150 MB beside them)."""
    global _keep
    _keep = keep


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Within the block the model stays loaded between calls (a long file's segments, all
    recognised one after another: loaded once, not once a segment); freed at the end unless
    :func:`keep_loaded` said otherwise."""
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)
        if not _keep and not _held.get():
            release()


def release() -> None:
    """Free the loaded model (a caller still using it keeps it alive until it is done), and hand
    the freed memory back to the system."""
    from visemic.phonetics.longform import release_freed_memory

    with _lock:
        _loaded.clear()
    release_freed_memory()


def load(name: str) -> tuple[Any, asr_models.ResolvedModel]:
    """The loaded model ``name`` (kept until :func:`release`) and what it is."""
    n_threads = threads()
    with _lock:
        known = _resolved.get(name)
        if known is None:  # its files are checked once per process
            resolved = asr_models.resolve(name)
            # Loaded from a copy with int8 weights: CTranslate2 quantises float16 weights at
            # load through a float32 copy of each (base, in a bare process: a peak of 326 MB,
            # 217 MB from the int8 copy).
            int8 = asr_models.int8_folder(resolved)
            known = _resolved[name] = (resolved, str(int8), asr_models.halves(int8))
        resolved, folder, halves = known
        key = (folder, n_threads)
        model = _loaded.get(key)
        if model is None:
            from visemic.phonetics.longform import release_freed_memory

            # What the stages before freed (a long file's previous segment) goes back first:
            # the model and the encoder's attention come on top.
            release_freed_memory()

            # One model at a time: a long file without a language is detected with the
            # multilingual model, then (English) transcribed with tiny.en; holding both took
            # 10 minutes of speech from 412 to 563 MB. A caller still using the old one keeps it
            # alive until it is done.
            _loaded.clear()

            try:
                model = _whisper_model(folder, halves, n_threads)
            except (RuntimeError, ValueError, OSError) as e:
                raise VisemicError(f"--asr-model {name}: cannot load it as a CTranslate2 Whisper "
                                   f"model ({_one_line(e)})") from None
            _loaded[key] = model
            # Loading leaves freed buffers (float16 biases converted, the vocabulary's JSON)
            # in the heap; the encoder's ~100 MB of attention comes next.
            release_freed_memory()
    return model, resolved


def _whisper_model(folder: str, halves: tuple[Path, Path] | None, n_threads: int) -> Any:
    """faster-whisper's model of ``folder``; with ``halves`` (:func:`asr_models.halves`), one
    that holds only the half in use (:class:`Halves`), or the whole one if they don't load."""
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    def whole(path: str) -> Any:
        from visemic.phonetics.whisper_tokens import LeanTokenizer

        model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=n_threads,
                             num_workers=1, local_files_only=True)
        # Token ids → text from each token's bytes, not the tokenizers library's tables
        # (15 MB less beside the model; the same text); what recognition encodes (the
        # suppressed symbols, the prompts) is encoded now, with the library's.
        lean = LeanTokenizer(model.hf_tokenizer, Path(path) / "tokenizer.json")
        _ = Tokenizer(lean, model.model.is_multilingual, task="transcribe",
                      language="en").non_speech_tokens
        for prompt in PROMPTS.values():
            lean.encode(" " + prompt.strip(), add_special_tokens=False)
        lean.done()
        model.hf_tokenizer = lean
        return model

    if halves is not None:
        try:
            model = whole(str(halves[0]))
            model.model = Halves(model.model, halves, n_threads)
            return model
        except (RuntimeError, ValueError, OSError) as e:
            log.warning("the halves of %s do not load (%s); loading it whole", folder,
                        _one_line(e))
    return whole(folder)


class Halves:
    """A CTranslate2 Whisper model with only the half in use loaded: the encoder's weights
    while it encodes, the decoder's while it decodes, from the two files
    :func:`asr_models.halves` writes (a load each time the other half is needed, two per 30 s
    window: 0.05–0.15 s). The encoder's attention over its window, the peak of an analysis
    without a transcript (6 or 8 heads × 1500² floats), then comes on top of the encoder's
    weights alone, not the whole model's (base: 22 of 75 MB; tiny.en: 9 of 39 MB); the outputs
    are the whole model's, bit for bit. Stands in for faster-whisper's ``model.model``."""

    def __init__(self, encoder: Any, folders: tuple[Path, Path], n_threads: int) -> None:
        self._folders = {"encoder": str(folders[0]), "decoder": str(folders[1])}
        self._threads = n_threads
        self._half, self._model = "encoder", encoder
        self._lock = threading.Lock()
        for attribute in ("is_multilingual", "n_mels", "num_languages", "device",
                          "device_index", "compute_type"):
            setattr(self, attribute, getattr(encoder, attribute))

    def _use(self, half: str) -> Any:
        """The loaded half ``half`` (a caller still using the other keeps it until done)."""
        with self._lock:
            if self._half != half:
                import ctranslate2

                from visemic.phonetics.longform import release_freed_memory

                self._model = None
                release_freed_memory()
                self._model = ctranslate2.models.Whisper(
                    self._folders[half], device="cpu", compute_type="int8",
                    intra_threads=self._threads, inter_threads=1)
                self._half = half
            return self._model

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("encoder").encode(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("decoder").generate(*args, **kwargs)

    def detect_language(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("decoder").detect_language(*args, **kwargs)

    def align(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("decoder").align(*args, **kwargs)


def _heap(bounded: bool) -> None:
    """``bounded``: make glibc hand back freed blocks of 1 MB or more at once and trim the
    heap's free top above 4 MB (BOUNDED); else the LOOSE settings. By default glibc raises both
    after each large block is freed (the encoder's 50 MB of attention raises them to 32 and
    64 MB), so the decoder's and the next window's buffers then piled up in the heap: 60 s of
    speech peaked 19 MB higher, and kept 40 MB more afterwards. Setting them turns glibc's own
    adjustment off for good, so the later stages get LOOSE: what it would have reached (blocks
    under 32 MB reused, as numpy's frame buffers want)."""
    mmap, trim = BOUNDED if bounded else LOOSE
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, mmap)
        libc.mallopt(M_TRIM_THRESHOLD, trim)
    except (OSError, AttributeError):  # not glibc
        pass


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200]


def recognise(audio: Audio, language: str | None = None,
              asr_model: str | None = None) -> Recognition:
    """Whisper's text for ``audio`` (16 kHz). ``language`` (an espeak-ng code) is used when
    given; else it is detected from the first 30 s. Raises VisemicError for a bad model and for a
    language the model cannot transcribe."""
    name = model_for(language, asr_model)
    wlang = None
    if language is not None:
        wlang = whisper_language(language)
        if wlang is None:
            raise VisemicError(f"Whisper does not know the language {language!r}")
    _heap(bounded=True)
    model = None
    try:
        model, resolved = load(name)
        if wlang is not None and wlang != "en" and not model.model.is_multilingual:
            raise VisemicError(f"the Whisper model {name} is English only, not for "
                               f"{language!r}")
        samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
        return _transcribe(model, samples, wlang, resolved)
    finally:
        del model
        if not _keep and not _held.get():
            release()
        _heap(bounded=False)


def _transcribe(model: Any, samples: np.ndarray, language: str | None,
                resolved: asr_models.ResolvedModel) -> Recognition:
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

    from visemic.phonetics.longform import release_freed_memory

    fe = model.feature_extractor
    features = log_mel(fe, samples)
    release_freed_memory()  # the spectrum's blocks: the encoder's attention comes next
    # The first window exactly as generate_segments would cut it, encoded once for both the
    # language detection and the first decoding step.
    first = pad_or_trim(features[:, :min(fe.nb_max_frames, features.shape[-1] - 1)])
    encoded = model.encode(first)
    del first
    probability = 1.0
    if language is None:
        if model.model.is_multilingual:
            token, probability = model.model.detect_language(encoded)[0][0]
            language = token[2:-2]
        else:
            language = "en"
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                          language=language)
    options = TranscriptionOptions(
        beam_size=BEAM_SIZE, best_of=1, patience=1.0, length_penalty=1.0,
        repetition_penalty=1.0, no_repeat_ngram_size=0, log_prob_threshold=LOW_LOGPROB,
        no_speech_threshold=NO_SPEECH, compression_ratio_threshold=None,
        condition_on_previous_text=False, prompt_reset_on_temperature=0.5,
        temperatures=list(TEMPERATURES), initial_prompt=PROMPTS.get(language), prefix=None,
        suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        without_timestamps=False, max_initial_timestamp=1.0, word_timestamps=False,
        prepend_punctuations="\"'“¿([{-", append_punctuations="\"'.。,，!！?？:：”)]}、",
        multilingual=False, max_new_tokens=None, clip_timestamps="0",
        hallucination_silence_threshold=None, hotwords=None)
    # Judged a window at a time (a loop comes split into many short segments).
    windows: dict[int, list[Any]] = {}
    segments = model.generate_segments(features, tokenizer, options, False, encoded)
    del encoded  # the first window's, held by the generator only until the second is encoded
    for seg in segments:
        if seg.text.strip():
            windows.setdefault(seg.seek, []).append(seg)
    kept: list[str] = []
    dropped: list[str] = []
    stretches: list[tuple[float, float, str]] = []
    for segs in windows.values():
        text = _join([seg.text.strip() for seg in segs], language)
        doubtful = min(seg.avg_logprob for seg in segs) < VERY_LOW_LOGPROB or loops(text)
        (dropped if doubtful else kept).append(text)
        if not doubtful:
            stretches += [(seg.start, seg.end, _join([seg.text.strip()], language))
                          for seg in segs]
    return Recognition(text=_join(kept, language), language=language,
                       probability=float(probability), model=resolved.name,
                       packages=resolved.packages, dropped=dropped, segments=stretches)


def log_mel(fe: Any, samples: np.ndarray) -> np.ndarray:
    """faster-whisper's log-Mel features of ``samples`` (``fe(samples)``, bit for bit), computed
    ``FEATURE_BLOCK`` frames at a time: done whole, its float64 spectrum and temporaries took
    ~9 kB a frame (180 s: +170 MB at the peak; +29 MB in blocks: the padded audio, a block's
    7 MB and the features, 320 B a frame). Whisper's normalisation (the whole file's maximum
    less 8) comes last."""
    hop, n_fft = fe.hop_length, fe.n_fft
    # fe() pads 160 zeros at the end (its default ``padding``), then n_fft / 2 reflected.
    padded = np.pad(np.pad(np.asarray(samples, np.float32), (0, 160)), (n_fft // 2, n_fft // 2),
                    mode="reflect")
    n = (len(padded) - n_fft) // hop  # the frames fe() keeps: it drops the last one
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    out = np.empty((fe.mel_filters.shape[0], n), np.float32)
    starts = list(range(0, n, FEATURE_BLOCK))
    if len(starts) > 1 and n - starts[-1] < MIN_BLOCK:
        starts.pop()  # a block of one frame is a matrix-vector product: not bit for bit
    for a, b in zip(starts, [*starts[1:], n], strict=True):
        frames = np.lib.stride_tricks.sliding_window_view(
            padded[a * hop:(b - 1) * hop + n_fft], n_fft)[::hop]
        spectrum = np.fft.rfft(frames * window, n=n_fft, axis=-1).astype(np.complex64).T
        power = np.abs(spectrum) ** 2
        out[:, a:b] = np.log10(np.clip(fe.mel_filters @ power, a_min=1e-10, a_max=None))
    out = np.maximum(out, out.max() - 8.0)
    return (out + 4.0) / 4.0


def loops(text: str) -> bool:
    """Whether ``text`` repeats a short phrase over and over (see LOOP_WORDS)."""
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    for n in range(1, LOOP_WORDS + 1):
        for i in range(len(words) - n * LOOP_TIMES + 1):
            phrase = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == phrase for k in range(1, LOOP_TIMES)):
                return True
    return False


_SPACELESS = {"zh", "ja", "yue", "th", "lo", "my", "bo", "km"}


def _join(parts: list[str], language: str) -> str:
    sep = "" if language in _SPACELESS else " "
    text = re.sub(r"\s+", " ", sep.join(parts)).strip()
    for pattern, short in FILLERS:
        text = pattern.sub(short, text)
    return text
