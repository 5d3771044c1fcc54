"""The one Python API that the CLI, server and batch runner stand on."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from visemic import audio as audio_io
from visemic import prosody as prosody_mod
from visemic.errors import VisemicError
from visemic.limits import check_fps
from visemic.motion import expression, visemes
from visemic.motion import profile as profile_mod
from visemic.motion.emotion import EmotionTrack
from visemic.motion.profile import Profile
from visemic.motion.style import Style
from visemic.phonetics import japanese, segmenter
from visemic.phonetics import text as text_mod
from visemic.phonetics import timeline as timeline_mod
from visemic.result import Result
from visemic.textfile import check_text
from visemic.types import Audio, Prosody, Timeline

Progress = Callable[[float], None]


# Files longer than this are analysed in pause-delimited segments, never held whole.
LONG_FILE = 180.0


def animate(source: str | os.PathLike[str] | Audio | np.ndarray, text: str | None = None, *,
            sample_rate: int | None = None, language: str | None = None, fps: float = 60.0,
            method: str = "whisper", alignment: str | os.PathLike[str] | Timeline | None = None,
            asr_model: str | None = None, progress: Progress | None = None,
            emotion: str | dict[str, float] | EmotionTrack | None = None,
            style: str | Style | None = None, blink_rate: float | None = None,
            head_motion: float | None = None, still: bool = False,
            seed: int | None = None,
            profile: Profile | str | os.PathLike[str] | None = None) -> Result:
    """Speech → phonetic timeline → ARKit-52 curves + viseme tracks.

    ``source`` is a path to any audio file, an :class:`Audio`, or a NumPy array of samples (then
    ``sample_rate`` is required). With ``text`` the transcript is force-aligned to the speech;
    without it the speech is recognised (``method``: "whisper", the default, Whisper's words then
    the same alignment, see :mod:`visemic.phonetics.whisper`; "phones", phone-loop decoding,
    fast and vocabulary-free; or "words", pocketsphinx's word recognition then alignment).
    ``language`` is an espeak-ng code; None means: detected from the speech by Whisper without a
    transcript, English otherwise. ``asr_model`` is the Whisper model ("tiny.en", "base" or a
    folder; default tiny.en for English, base otherwise); what it heard is recorded in the
    result's ``settings["asr"]``. ``progress`` is called with
    0…1 as work advances. ``alignment`` (a TextGrid / CTM / JSON file, see
    :func:`visemic.phonetics.imports.load_alignment`, or a :class:`Timeline`) replaces the
    analysis: its words and phones are used as they are.

    Expression (:mod:`visemic.motion.expression`): ``emotion`` a mix such as
    ``"happy:0.6,surprised:0.3"`` or ``{"sad": 0.8}``, or an
    :class:`~visemic.motion.emotion.EmotionTrack` of keyframes; ``style`` a preset name
    (:data:`visemic.motion.style.PRESETS`, e.g. "clear", "mumbled,jaw=1.2") or a
    :class:`~visemic.motion.style.Style`; ``blink_rate`` blinks per minute (default 17);
    ``head_motion`` scales head motion (default 1); ``still`` fixes head and gaze; ``seed`` makes
    blinks, gaze and head motion reproducible (default 0). ``profile``: a personal profile
    (:func:`visemic.profile`, a :class:`~visemic.motion.profile.Profile` or its JSON file's path)
    makes the mouth motion that person's. Raises :class:`visemic.errors.VisemicError` on bad
    input.
    """
    fps = check_fps(fps)
    if text is not None:
        check_text(text, "transcript")
    if method not in timeline_mod.METHODS:
        raise VisemicError(f"unknown recognition method {method!r} "
                           f"(one of {', '.join(timeline_mod.METHODS)})")
    expr = expression.settings(emotion, style, blink_rate, head_motion, still, seed)
    recognising = text is None and alignment is None
    if language is None and not (recognising and method == "whisper"):
        language = "en"
    settings = {"text": text, "language": language, "fps": fps,
                "method": "align" if text is not None else method,
                "expression": expr.to_json()}
    _use_profile(settings, profile)
    if alignment is not None:
        return _animate_imported(source, alignment, sample_rate, language or "en", fps,
                                 settings, progress, expr)
    if isinstance(source, str | os.PathLike):
        declared = audio_io.probe_duration(source)
        if declared is not None and declared > LONG_FILE:
            return _animate_long(Path(source), text, language, fps, method, progress, settings,
                                 expr, asr_model)
    audio = audio_io.load(source, sample_rate=sample_rate)
    tl, report = timeline_mod.analyse_speech(audio, text=text, language=language,
                                             method=method, progress=progress,
                                             asr_model=asr_model)
    _record_recognition(settings, tl, report)
    pros = prosody_mod.analyse(audio)
    return _finish(audio, tl, pros, fps, settings, progress, expr)


def _record_recognition(settings: dict[str, Any], tl: Timeline, report: dict[str, Any]) -> None:
    """Note in ``settings`` what the recogniser heard, and the language it settled on."""
    if report:
        settings["asr"] = report
    if settings["language"] is None:
        settings["language"] = tl.language


def say(text: str, *, language: str = "en", voice: str | None = None, rate: int | None = None,
        fps: float = 60.0, progress: Progress | None = None,
        emotion: str | dict[str, float] | EmotionTrack | None = None,
        style: str | Style | None = None, blink_rate: float | None = None,
        head_motion: float | None = None, still: bool = False,
        seed: int | None = None,
        profile: Profile | str | os.PathLike[str] | None = None) -> Result:
    """Speak ``text`` with espeak-ng and animate it from the synthesiser's own phone timings
    (no alignment step). ``language`` is any espeak-ng language code (see
    :func:`visemic.phonetics.espeak.languages`), ``voice`` an espeak variant, ``rate`` words per
    minute. The result's audio is the synthesised speech (22.05 kHz). The expression
    arguments (``emotion``, ``style``, ``blink_rate``, ``head_motion``, ``still``, ``seed``)
    and ``profile`` are :func:`animate`'s."""
    from visemic.phonetics import espeak

    if not text or not text.strip():
        raise VisemicError("nothing to say: the text is empty")
    fps = check_fps(fps)
    check_text(text)
    expr = expression.settings(emotion, style, blink_rate, head_motion, still, seed)
    # espeak-ng reads Japanese kana only ("Chinese letter" for each kanji).
    spoken = japanese.kana_text(text) if japanese.applies(language) else text
    audio, tl = espeak.synthesize(spoken, language, voice=voice, rate=rate)
    tl.language = language
    settings = {"text": text, "language": language, "fps": fps, "method": "synthesised",
                "voice": voice, "rate": rate, "expression": expr.to_json()}
    _use_profile(settings, profile)
    return _finish(audio, tl, prosody_mod.analyse(audio), fps, settings, progress, expr)


def profile(source: str | os.PathLike[str], text: str | None = None, *, language: str = "en",
            audio: str | os.PathLike[str] | None = None, method: str = "phones", face: int = 0,
            name: str = "", progress: Progress | None = None) -> Profile:
    """Learn one person's mouth (:mod:`visemic.motion.profile`) from ``source``: a video of them
    speaking (its own audio is analysed; ``text``, the transcript, helps), or a Live Link Face
    CSV take with its ``audio``. ``face`` picks the face (0: the largest). Use the result as
    ``animate(..., profile=...)``; save it with :func:`visemic.motion.profile.dumps`.

    Raises :class:`VisemicError` for a clip with no face or no speech, or too little speech
    (the message says how much is needed)."""
    from visemic import calibrate

    if str(source).lower().endswith(".csv"):
        if audio is None:
            raise VisemicError("a Live Link Face CSV take needs its audio")
        obs = calibrate.observe_livelink(source, audio, text=text, language=language,
                                         method=method)
    else:
        obs = calibrate.observe(source, text=text, language=language, method=method,
                                face=face, progress=progress)
    learnt = calibrate.learn(obs)
    learnt.name = name
    if progress:
        progress(1.0)
    return learnt


def _use_profile(settings: dict[str, Any],
                 profile: Profile | str | os.PathLike[str] | None) -> None:
    """Read the profile before any work (a bad file fails first) and note it in the settings."""
    loaded = profile_mod.resolve(profile)
    if loaded is not None:
        settings["_profile"] = loaded
        settings["profile"] = (os.fspath(profile) if isinstance(profile, str | os.PathLike)
                               else loaded.name or "custom")


def _animate_imported(source: Any, alignment: str | os.PathLike[str] | Timeline,
                      sample_rate: int | None, language: str, fps: float,
                      settings: dict[str, Any], progress: Progress | None,
                      expr: expression.Expression | None = None) -> Result:
    from visemic.phonetics import imports

    if isinstance(alignment, Timeline):
        tl = alignment
    else:
        tl = imports.load_alignment(alignment, language=language)
        settings["alignment"] = os.fspath(alignment)
    settings["method"] = "imported"
    audio = audio_io.load(source, sample_rate=sample_rate)
    if tl.phones and tl.phones[-1].end > audio.duration + 0.5:
        raise VisemicError(f"the alignment ends at {tl.phones[-1].end:.2f} s but the audio lasts "
                           f"{audio.duration:.2f} s: is it the right file?")
    return _finish(audio, tl, prosody_mod.analyse(audio), fps, settings, progress, expr)


def _finish(audio: Audio, tl: Timeline, pros: Prosody, fps: float, settings: dict[str, Any],
            progress: Progress | None, expr: expression.Expression | None = None) -> Result:
    anim = expression.animate(tl, pros, fps=fps, duration=audio.duration, expression=expr,
                              text=settings.get("text"),
                              profile=settings.pop("_profile", None))
    anim.visemes = visemes.tracks(tl, duration=audio.duration)
    if progress:
        progress(1.0)
    return Result(audio=audio, timeline=tl, prosody=pros, animation=anim, settings=settings)


def _animate_long(path: Path, text: str | None, language: str | None, fps: float, method: str,
                  progress: Progress | None, settings: dict[str, Any],
                  expr: expression.Expression | None = None,
                  asr_model: str | None = None) -> Result:
    """Analyse a long file segment by segment, holding at most a minute of audio at once.

    With Whisper, segments are cut to fit its 30 s window (no padding paid twice), and a
    language detected in the first segment with words is kept for the rest."""
    declared = audio_io.probe_duration(path) or 1.0
    words = text_mod.normalize(text, language or "en") if text is not None else None
    if text is not None and not words:
        raise VisemicError("the transcript has no words to align")
    whisper = words is None and method == "whisper"
    bounds = segmenter.WHISPER_BOUNDS if whisper else None
    parts: list[Timeline] = []
    pros_parts: list[Prosody] = []
    heard: list[str] = []
    reports: list[dict[str, Any]] = []
    total = 0
    recognised: list[tuple[str | None, Any]] = []
    if whisper:
        # Whisper first, over the whole file, while nothing else is resident beside it (the
        # peak); then a second pass over the same segments aligns its words (issue 22).
        def first_pass(end: int) -> None:
            if progress:
                progress(min(0.5, end / audio_io.RATE / declared / 2))

        recognised = timeline_mod.recognise_segments(
            segmenter.segments(audio_io.stream(path), bounds=bounds), audio_io.RATE, language,
            asr_model, first_pass)
    segments = segmenter.segments(audio_io.stream(path), bounds=bounds)
    if words is not None:
        # Each segment gets the words spoken in it, found by matching what is heard against
        # the transcript (phonetics.longform), then is aligned to exactly those words.
        from visemic.phonetics import longform

        prons = timeline_mod.pronunciations(words, language or "en")
        shared = longform.share(segments, prons, audio_io.RATE)
    else:
        shared = ((offset, seg, 0, 0) for offset, seg in segments)
    for k, (offset, seg, first, last) in enumerate(shared):
        seg_audio = Audio(samples=seg, sample_rate=audio_io.RATE)
        t0 = offset / audio_io.RATE
        end = t0 + seg_audio.duration
        if whisper:
            if k >= len(recognised):
                raise VisemicError(f"{path}: the file changed while it was analysed")
            tl, report = timeline_mod.words_timeline(seg_audio, *recognised[k])
            recognised[k] = (None, None)
            reports.append(report)
            if report.get("text"):
                heard.append(report["text"])
                if language is None and "fallback" not in report:
                    language = tl.language
        elif words is None:
            tl = timeline_mod.analyse(seg_audio, language=language or "en", method=method)
        else:
            tl = longform.analyse_segment(seg_audio, words[first:last], prons[first:last],
                                          language or "en", method)
        n_words = sum(len(p.words) for p in parts)
        parts.append(tl.shifted(t0, n_words))
        pros_parts.append(prosody_mod.analyse(seg_audio))
        total = offset + len(seg)
        if progress:
            progress(min(0.95, (0.5 + end / declared / 2) if whisper else end / declared))
    if total == 0:
        raise VisemicError(f"{path}: no audio samples in the file")
    language = language or (parts[0].language if parts else "en")
    tl = Timeline(language=language, source=parts[0].source if parts else "recognised",
                  words=[w for p in parts for w in p.words],
                  phones=[ph for p in parts for ph in p.phones])
    if whisper:
        first = next((r for r in reports if r.get("text")), reports[0] if reports else {})
        report = {**first, "text": " ".join(heard)}
        report.pop("fallback", None)
        fallbacks = sum("fallback" in r for r in reports)
        if fallbacks:
            report["fallback_segments"] = fallbacks
        _record_recognition(settings, tl, report)
    pros = Prosody(rate=pros_parts[0].rate,
                   loudness=np.concatenate([p.loudness for p in pros_parts]),
                   f0=np.concatenate([p.f0 for p in pros_parts]),
                   voiced=np.concatenate([p.voiced for p in pros_parts]))
    audio = Audio(samples=np.zeros(0, np.float32), sample_rate=audio_io.RATE, path=str(path),
                  length=total)
    # The curve stage's peak stacks on whatever the analysis still holds: drop the
    # transcript's pronunciations (~0.5 kB a word), the segments' parts and the last segment's
    # audio, and hand the heap the decoders freed back to the system first (issue 22).
    del parts, pros_parts, shared, segments, seg, seg_audio
    if words is not None:
        del prons, words
    from visemic.phonetics.longform import release_freed_memory

    release_freed_memory()
    return _finish(audio, tl, pros, fps, settings, progress, expr)


def sync_check(video: str | os.PathLike[str], audio: str | os.PathLike[str] | Audio | None = None,
               *, text: str | None = None, language: str = "en", face: int = 0,
               progress: Progress | None = None) -> Any:
    """Measure the audio/video offset of a talking-face video: a
    :class:`visemic.sync.measure.SyncReport` (``offset_ms`` > 0: the picture is late, delay the
    audio by that much; ``confidence`` 0…1; ``segments``; ``drift_ms_per_min``; ``summary()``;
    ``to_json()``). ``audio`` replaces the video's own track; ``text`` is its transcript if
    known; ``face`` which face speaks (0 the largest). See :mod:`visemic.sync.measure`."""
    from visemic.sync import measure

    return measure.sync_check(video, audio, text=text, language=language, face=face,
                              progress=progress)
