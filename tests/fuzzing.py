"""Fuzz targets for every parser and decoder that reads user input (issue 22), shared by the
CI-sized run in ``tests/test_fuzz.py`` and the long run in ``bench/fuzz.py``.

Each target takes one generated input and returns the outcome, "ok" or "user error"; anything
else (another exception, or a crash of the process) is a failure. The user error is
:class:`VisemicError`, and on the WebSocket a close with a code and a reason.
"""

from __future__ import annotations

import io
import json
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from visemic.errors import VisemicError

_SCRATCH = Path(tempfile.mkdtemp(prefix="visemic-fuzz-"))


def _file(name: str, data: bytes | str) -> Path:
    path = _SCRATCH / name
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


def _outcome(fn: Callable[[], object]) -> str:
    try:
        fn()
    except VisemicError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))
        return "user error"
    return "ok"


# --- inputs built from valid seeds, then damaged ---------------------------------------------

def _wav(channels: int, rate: int, width: int = 2, seconds: float = 0.05) -> bytes:
    rng = np.random.default_rng(channels * 7 + rate)
    n = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
        w.writeframes((rng.integers(0, 100, (n, channels))).astype(dtype).tobytes())
    return buf.getvalue()


def _encoded(codec: str, fmt: str, layout: str = "mono", rate: int = 16000) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        channels = len(av.AudioLayout(layout).channels)
        frame_format = "s16" if codec in ("flac", "pcm_s16le") else "fltp"
        samples = np.zeros((1, 1024 * channels) if frame_format == "s16" else (channels, 1024),
                           np.int16 if frame_format == "s16" else np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format=frame_format, layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def audio_seeds() -> list[bytes]:
    """Small valid files of several containers, channel counts and sample formats."""
    seeds = [_wav(1, 16000), _wav(2, 44100), _wav(8, 16000), _wav(12, 8000), _wav(1, 8000, 1),
             _wav(3, 22050, 4), _encoded("flac", "flac", "7.1"), _encoded("flac", "flac")]
    for codec, fmt in (("libopus", "ogg"), ("aac", "adts"), ("libmp3lame", "mp3")):
        try:
            seeds.append(_encoded(codec, fmt, rate=48000 if codec == "libopus" else 44100))
        except Exception:  # an encoder this PyAV build lacks
            pass
    return seeds


@st.composite
def damaged(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with random bytes overwritten, spans cut or repeated, and/or truncated."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "repeat", "insert", "int"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 256))] * draw(st.integers(1, 4))
        elif kind == "insert":
            data[at:at] = draw(st.binary(max_size=32))
        else:  # a header field set to an extreme
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                                    b"\xff\xff\xff\x7f", b"\x01\x00\x00\x80"]))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


def audio_target(data: bytes) -> str:
    from visemic import audio as audio_io

    def run() -> None:
        with audio_io.duration_limit(30):
            audio = audio_io.load(_file("clip.audio", data))
        assert np.isfinite(audio.samples).all() and audio.samples.ndim == 1

    return _outcome(run)


# --- text files ------------------------------------------------------------------------------

text_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=100).map(lambda t: t.encode("utf-16", "surrogatepass")),
    st.text(max_size=100).map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8", "surrogatepass")),
    st.tuples(st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b""]),
              st.binary(max_size=64)).map(lambda p: p[0] + p[1]),
)


def text_target(data: bytes) -> str:
    from visemic.textfile import read_text

    def run() -> None:
        text = read_text(_file("transcript.txt", data), "transcript")
        assert "\x00" not in text
        text.encode("utf-8")

    return _outcome(run)


# --- alignment files -------------------------------------------------------------------------

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**30),
                    st.sampled_from([0, 0.5, 1, -1, 1e308, 1e-320]))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["words", "phones", "word", "phone", "text", "start", "end",
                                 "segments", "language", "timeline", "symbol", "x"]), inner,
                                max_size=5)),
    max_leaves=20)
_LABELS = st.sampled_from(["hello", "world", "AH0", "B", "sil", "", "ʃ", "x y", '"'])


@st.composite
def alignment_files(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["json", "TextGrid", "ctm", "raw"]))
    if kind == "json":
        value = draw(json_values)
        if draw(st.booleans()):
            value = {"words": [{"word": draw(_LABELS), "start": draw(numbers),
                                "end": draw(numbers)} for _ in range(draw(st.integers(0, 3)))]}
        text = json.dumps(value, allow_nan=True)
        if draw(st.booleans()):
            text = "[" * draw(st.integers(0, 3000)) + text
        return "a.json", text
    if kind == "TextGrid":
        head = 'File type = "ooTextFile"\nObject class = "TextGrid"\n\n'
        tokens = [str(draw(numbers)) if draw(st.booleans()) else f'"{draw(_LABELS)}"'
                  for _ in range(draw(st.integers(0, 24)))]
        fixed = [draw(numbers), draw(numbers), "<exists>", draw(numbers), '"IntervalTier"',
                 '"words"', draw(numbers), draw(numbers), draw(numbers)]
        body = "\n".join(str(t) for t in (fixed if draw(st.booleans()) else []) + tokens)
        return "a.TextGrid", head + body
    if kind == "ctm":
        lines = [" ".join(draw(st.lists(st.one_of(_LABELS, numbers.map(str)), max_size=7)))
                 for _ in range(draw(st.integers(0, 5)))]
        return "a.ctm", "\n".join(lines)
    return draw(st.sampled_from(["a.json", "a.TextGrid", "a.ctm", "a.txt"])), \
        draw(st.text(max_size=200))


def alignment_target(case: tuple[str, str]) -> str:
    from visemic.phonetics.imports import load_alignment

    name, text = case
    return _outcome(lambda: load_alignment(_file(name, text)))


# --- emotion tracks ------------------------------------------------------------------------

_EMOTIONS = st.sampled_from(["happy", "sad", "neutral", "angry", "glad", "HAPPY", "", "happy:2",
                             "happy:0.5,sad:0.5", "surprised:nan"])


@st.composite
def emotion_tracks(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.booleans()):
        keys = [{"time": draw(st.one_of(numbers, st.text(max_size=4))),
                 "emotion": draw(st.one_of(_EMOTIONS, st.dictionaries(_EMOTIONS, numbers,
                                                                     max_size=3)))}
                for _ in range(draw(st.integers(0, 4)))]
        value = draw(st.one_of(st.just({"keyframes": keys}), st.just(keys), json_values))
        return "track.json", json.dumps(value, allow_nan=True)
    header = draw(st.sampled_from(["time,emotion", "time,happy,sad", "emotion,time", "time",
                                   ""]))
    rows = [",".join(draw(st.lists(st.one_of(numbers.map(str), _EMOTIONS), max_size=4)))
            for _ in range(draw(st.integers(0, 4)))]
    return "track.csv", "\n".join([header, *rows])


def emotion_target(case: tuple[str, str]) -> str:
    from visemic.motion.emotion import load_track

    name, text = case
    return _outcome(lambda: load_track(_file(name, text)))


# --- batch manifests -----------------------------------------------------------------------

_CELLS = st.one_of(st.sampled_from(["clip.wav", "missing.wav", "../x.wav", "/etc/passwd", "",
                                    "en", "xx-YY-ZZZZ", "words", "phones", "30", "1e-9",
                                    "1e999", "nan", '"', "a,b"]),
                   numbers.map(str), st.text(max_size=10))


@st.composite
def manifests(draw: st.DrawFn) -> str:
    columns = draw(st.lists(st.sampled_from(["audio", "text", "language", "output", "fps",
                                             "method", "Audio", "extra", ""]), min_size=0,
                            max_size=7))
    rows = [",".join(draw(st.lists(_CELLS, max_size=8))) for _ in range(draw(st.integers(0, 5)))]
    text = "\n".join([",".join(columns), *rows])
    if draw(st.integers(0, 9)) == 0:
        text += '\nclip.wav,"' + "x" * draw(st.integers(100_000, 200_000)) + '"'
    return text


def manifest_target(text: str) -> str:
    from visemic.batch.inputs import Defaults, discover

    _file("clip.wav", _wav(1, 16000))

    def run() -> None:
        for item in discover(_file("items.csv", text), Defaults()):
            assert item.problem is None or "\n" not in item.problem

    return _outcome(run)


# --- WebSocket messages --------------------------------------------------------------------

@st.composite
def stream_messages(draw: st.DrawFn) -> tuple[str, object]:
    kind = draw(st.sampled_from(["control", "audio", "query"]))
    if kind == "control":
        value = draw(st.one_of(
            json_values,
            st.fixed_dictionaries({"emotion": st.one_of(_EMOTIONS, st.none(), numbers,
                                                        st.dictionaries(_EMOTIONS, numbers,
                                                                        max_size=3))},
                                  optional={"ease": numbers, "mood": st.none()})))
        text = "{" + json.dumps(value, allow_nan=True) if draw(st.integers(0, 9)) == 0 \
            else json.dumps(value, allow_nan=True)
        if draw(st.integers(0, 19)) == 0:
            text = '{"emotion": ' + "[" * draw(st.integers(500, 5000)) + "}"
        return kind, text
    if kind == "audio":
        return kind, draw(st.binary(max_size=600))
    query = draw(st.dictionaries(st.sampled_from(["fps", "sample_rate", "language", "emotion"]),
                                 st.one_of(numbers.map(str), _EMOTIONS, st.text(max_size=12)),
                                 max_size=4))
    return kind, query


def stream_target(case: tuple[str, object]) -> str:
    from visemic.server import streaming

    kind, payload = case
    try:
        if kind == "control":
            assert isinstance(payload, str)
            streaming._control(payload) if payload.strip().startswith("{") else None
        elif kind == "audio":
            assert isinstance(payload, bytes)
            _hub()._pcm(payload)
        else:
            streaming._options(payload)
            streaming._emotion(payload)
    except streaming._Close as e:
        assert 1000 < e.code < 5000 and e.reason.strip(), (e.code, e.reason)
        return "user error"
    return "ok"


_HUBS: list[object] = []


def _hub() -> object:
    from visemic.server.streaming import StreamHub, StreamLimits

    if not _HUBS:
        _HUBS.append(StreamHub(StreamLimits(max_message_bytes=512)))
    return _HUBS[0]


TARGETS: dict[str, tuple[Callable[[], st.SearchStrategy], Callable[[object], str]]] = {
    "audio container/header": (lambda: damaged(audio_seeds()), audio_target),
    "text files": (lambda: text_bytes, text_target),
    "alignment JSON/TextGrid/CTM": (alignment_files, alignment_target),
    "emotion tracks": (emotion_tracks, emotion_target),
    "batch CSV": (manifests, manifest_target),
    "WebSocket messages": (stream_messages, stream_target),
}
