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

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visemic.errors import VisemicError
from visemic.phonetics import asr_models
from visemic.types import Audio

# Before CTranslate2 (and its OpenMP runtime) loads: idle threads sleep instead of spinning, so a
# finished decode does not keep burning a core; the Hugging Face hub is never asked anything.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

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
# Whisper's language codes that espeak-ng (the aligner's pronunciations) names otherwise, and
# the reverse for codes given with --language.
TO_ESPEAK = {"nn": "nb"}
FROM_ESPEAK = {"cmn": "zh", "nb": "no", "hbs": "sr"}


_threads: int | None = None
_lock = threading.Lock()
_loaded: dict[tuple[str, int], Any] = {}
_resolved: dict[str, asr_models.ResolvedModel] = {}


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


def load(name: str) -> tuple[Any, asr_models.ResolvedModel]:
    """The loaded model ``name`` (the last one loaded is kept for the next call) and what it
    is."""
    n_threads = threads()
    with _lock:
        resolved = _resolved.get(name)
        if resolved is None:  # its files are checked once per process
            resolved = _resolved[name] = asr_models.resolve(name)
        key = (str(resolved.path), n_threads)
        model = _loaded.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            # One model at a time: a long file without a language is detected with the
            # multilingual model, then (English) transcribed with tiny.en; holding both took
            # 10 minutes of speech from 412 to 563 MB. A caller still using the old one keeps it
            # alive until it is done.
            _loaded.clear()

            try:
                model = WhisperModel(str(resolved.path), device="cpu", compute_type="int8",
                                     cpu_threads=n_threads, num_workers=1,
                                     local_files_only=True)
            except (RuntimeError, ValueError, OSError) as e:
                raise VisemicError(f"--asr-model {name}: cannot load it as a CTranslate2 Whisper "
                                   f"model ({_one_line(e)})") from None
            _loaded[key] = model
    return model, resolved


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200]


def recognise(audio: Audio, language: str | None = None,
              asr_model: str | None = None) -> Recognition:
    """Whisper's text for ``audio`` (16 kHz). ``language`` (an espeak-ng code) is used when
    given; else it is detected from the first 30 s. Raises VisemicError for a bad model and for a
    language the model cannot transcribe."""
    name = model_for(language, asr_model)
    model, resolved = load(name)
    wlang = None
    if language is not None:
        wlang = whisper_language(language)
        if wlang is None:
            raise VisemicError(f"Whisper does not know the language {language!r}")
    if wlang is not None and wlang != "en" and not model.model.is_multilingual:
        raise VisemicError(f"the Whisper model {name} is English only, not for {language!r}")
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    return _transcribe(model, samples, wlang, resolved)


def _transcribe(model: Any, samples: np.ndarray, language: str | None,
                resolved: asr_models.ResolvedModel) -> Recognition:
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

    fe = model.feature_extractor
    features = fe(samples)
    # The first window exactly as generate_segments would cut it, encoded once for both the
    # language detection and the first decoding step.
    first = pad_or_trim(features[:, :min(fe.nb_max_frames, features.shape[-1] - 1)])
    encoded = model.encode(first)
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
    for seg in model.generate_segments(features, tokenizer, options, False, encoded):
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
