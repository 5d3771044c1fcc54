"""The streaming engine, Live Link Face UDP packets and ``visemic stream``."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from visemic import audio as audio_io
from visemic import evaluation as ev
from visemic.errors import VisemicError
from visemic.motion.arkit import BLENDSHAPES
from visemic.stream import StreamAnimator, StreamFrame, livelink_udp
from visemic.types import Audio, Cue

FPS = 60.0
JAW, CLOSE = BLENDSHAPES.index("jawOpen"), BLENDSHAPES.index("mouthClose")


@pytest.fixture(scope="module")
def speech16(spoken):
    """The conftest sentence at 16 kHz with a second of silence before and after, and its
    timeline shifted to match."""
    audio, tl = spoken
    x = audio_io.load(audio).samples
    pad = np.zeros(16000, np.float32)
    return np.concatenate([pad, x, pad]), tl.shifted(1.0)


def run(engine: StreamAnimator, x: np.ndarray, sizes) -> tuple[list[StreamFrame], list]:
    """Push ``x`` in chunks of the given sizes (cycled); returns the frames and, per frame,
    the seconds received before and after the push that returned it."""
    frames, when = [], []
    i, k = 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        before = engine.received
        got = engine.push(x[i:i + n])
        frames += got
        when += [(before, engine.received)] * len(got)
        i += n
        k += 1
    got = engine.flush()
    frames += got
    when += [(engine.received, None)] * len(got)
    return frames, when


@pytest.fixture(scope="module")
def streamed(speech16):
    x, _ = speech16
    engine = StreamAnimator(sample_rate=16000, fps=FPS)
    frames, when = run(engine, (x * 32767).astype(np.int16), [320])
    return engine, frames, when


def test_every_frame_once_in_order(streamed, speech16):
    engine, frames, _ = streamed
    x, _ = speech16
    assert [f.index for f in frames] == list(range(round(len(x) / 16000 * FPS)))
    assert all(abs(f.time - f.index / FPS) < 1e-9 for f in frames)
    values = np.array([f.values for f in frames])
    assert values.shape == (len(frames), 52) and values.dtype == np.float32
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert {f.viseme for f in frames} <= set("ABCDEFGHX")
    assert engine.flush() == []  # a second flush has nothing left


def test_frames_leave_as_soon_as_the_lookahead_has_arrived(streamed):
    engine, frames, when = streamed
    for f, (before, after) in zip(frames, when, strict=True):
        if after is None:  # from flush: the audio ended before its look-ahead did
            assert f.time + engine.lookahead > before - 1e-9
            continue
        assert after + 1e-9 >= f.time + engine.lookahead       # not before it may be
        assert before < f.time + engine.lookahead + 1e-9       # not a chunk later than that


def test_mouth_moves_with_speech_and_rests_in_silence(streamed, speech16):
    _, frames, _ = streamed
    _, tl = speech16
    values = np.array([f.values for f in frames])
    gap = values[:, JAW] - values[:, CLOSE]
    assert np.all(values[:, CLOSE] <= values[:, JAW] + 1e-6)
    # No pops: DESIGN.md §3's largest frame-to-frame step.
    assert np.abs(np.diff(values, axis=0)).max() <= 0.35
    lead = slice(0, int(0.8 * FPS))
    tail = slice(int((tl.phones[-1].end + 0.3) * FPS), len(frames))
    for part in (lead, tail):
        assert np.all(gap[part] <= 0.08)
        assert {f.viseme for f in frames[part]} <= {"X", "A"}
    speaking = gap[int(tl.phones[0].start * FPS):int(tl.phones[-1].end * FPS)]
    assert speaking.max() >= 0.3
    # The streamed shapes hit the decisive classes of the exact espeak timeline well above chance.
    cues = [Cue(f.time, f.time + 1 / FPS, f.viseme) for f in frames]
    tally = ev.score_shapes(tl.phones, cues, len(frames) / FPS)
    assert tally.rate("OPEN") >= 0.45
    assert tally.rate("SILENCE") >= 0.85
    assert tally.macro() >= 0.4


def test_eyes_blink_and_head_sways_smoothly(streamed, speech16):
    _, frames, _ = streamed
    blink = np.array([f.values[BLENDSHAPES.index("eyeBlinkLeft")] for f in frames])
    head = np.array([f.head for f in frames])
    assert np.array_equal(blink, [f.values[BLENDSHAPES.index("eyeBlinkRight")] for f in frames])
    starts = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    assert 1 <= len(starts) <= len(frames) / FPS / 60 * 17 * 3  # about 17 a minute
    assert np.abs(np.diff(blink)).max() <= 0.35
    assert head.std(axis=0).min() > 0.05 and np.abs(head).max() < 15
    assert np.abs(np.diff(head, axis=0)).max() < 0.5  # degrees per frame: no jolts
    x, _ = speech16
    still, _ = run(StreamAnimator(blink_rate=0, head_motion=0), x[:32000], [320])
    assert all(f.head == (0.0, 0.0, 0.0) and f.values[0] == 0 for f in still)


def test_any_chunking_and_rate(speech16):
    x, _ = speech16
    x44 = audio_io.from_array(x, 16000, rate=44100).samples
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(0, 3000, 40)]  # empty chunks too
    engine = StreamAnimator(sample_rate=44100, fps=30)
    frames, _ = run(engine, x44.astype(np.float32), sizes)
    assert [f.index for f in frames] == list(range(round(len(x44) / 44100 * 30)))
    assert abs(engine.received - len(x44) / 44100) < 0.01


@pytest.mark.parametrize("lookahead", [0.0, 0.03, 0.2])
def test_any_lookahead(speech16, lookahead):
    x, _ = speech16
    x = x[:3 * 16000]
    engine = StreamAnimator(lookahead=lookahead)
    frames, when = run(engine, x, [160, 480, 0, 1000])
    assert [f.index for f in frames] == list(range(3 * 60))
    for f, (_, after) in zip(frames, when, strict=True):
        if after is not None:
            assert after + 1e-9 >= f.time + lookahead


def test_streams_are_isolated(speech16):
    x, _ = speech16
    x = x[:5 * 16000]
    alone, _ = run(StreamAnimator(), x, [320])
    noise = np.random.default_rng(2).normal(0, 0.2, len(x)).astype(np.float32)
    a, b = StreamAnimator(), StreamAnimator()
    frames_a = []
    for i in range(0, len(x), 320):
        frames_a += a.push(x[i:i + 320])
        b.push(noise[i:i + 320])
    frames_a += a.flush()
    assert len(frames_a) == len(alone)
    for f, g in zip(frames_a, alone, strict=True):
        assert f.viseme == g.viseme
        np.testing.assert_array_equal(f.values, g.values)


def test_to_dict_is_json():
    engine = StreamAnimator()
    frames = engine.push(np.zeros(3200, np.int16)) + engine.flush()
    d = json.loads(json.dumps(frames[-1].to_dict()))
    assert set(d) >= {"time", "values", "viseme", "head"}
    assert list(d["values"]) == list(BLENDSHAPES)
    assert len(d["head"]) == 3 and d["viseme"] == "X"


def test_to_json_is_the_text_of_to_dict(streamed, speech16):
    # The server sends to_json(): the same text as json.dumps(to_dict()), compact.
    _, frames, _ = streamed
    x, _ = speech16
    engine = StreamAnimator(emotion="happy:0.6,surprised:0.3", head_motion=2.0, seed=3)
    more, _ = run(engine, x[:3 * 16000], [480])
    assert any(f.values.max() > 0.2 for f in more) and any(f.head[0] != 0 for f in more)
    for f in frames + more:
        assert f.to_json() == json.dumps(f.to_dict(), separators=(",", ":"))


@pytest.mark.parametrize("bad", [
    np.zeros((2, 100), np.float32), np.zeros(10, np.int32), np.array([0.0, np.nan], np.float32),
    [0, 1, 2],
])
def test_bad_chunks_raise(bad):
    with pytest.raises(VisemicError):
        StreamAnimator().push(bad)


@pytest.mark.parametrize("kwargs", [{"sample_rate": 0}, {"sample_rate": 16000.5},
                                    {"fps": 0}, {"fps": 5000}, {"language": ""}])
def test_bad_settings_raise(kwargs):
    with pytest.raises(VisemicError):
        StreamAnimator(**kwargs)


def test_push_after_flush_raises():
    engine = StreamAnimator()
    engine.flush()
    with pytest.raises(VisemicError):
        engine.push(np.zeros(10, np.float32))


# -- Live Link Face UDP ---------------------------------------------------------------------------


def test_packet_layout_and_round_trip():
    values = np.linspace(-1, 1, livelink_udp.COUNT).astype(np.float32)
    packet = livelink_udp.Packet("DEVICE-1", "visemic", 1234, 0.25, (30000, 1001), values)
    data = livelink_udp.encode(packet)
    # version, then big-endian length-prefixed strings, frame time, count, 61 floats
    assert data[0] == 6
    assert struct.unpack("!i", data[1:5]) == (8,) and data[5:13] == b"DEVICE-1"
    assert struct.unpack("!i", data[13:17]) == (7,) and data[17:24] == b"visemic"
    assert struct.unpack("!ifii", data[24:40]) == (1234, 0.25, 30000, 1001)
    assert data[40] == 61 and len(data) == 41 + 61 * 4
    assert struct.unpack("!f", data[41 + 17 * 4:45 + 17 * 4])[0] == pytest.approx(values[17])
    back = livelink_udp.decode(data)
    assert (back.device_id, back.subject, back.frame, back.sub_frame, back.rate) == \
        ("DEVICE-1", "visemic", 1234, 0.25, (30000, 1001))
    np.testing.assert_array_equal(back.values, values)
    assert back.value("jawOpen") == pytest.approx(values[17])
    assert back.value("HeadYaw") == pytest.approx(values[52])
    for broken in (data[:30], data[:-1], b"\x05" + data[1:], b""):
        with pytest.raises(VisemicError):
            livelink_udp.decode(broken)


def test_addresses_and_rates():
    assert livelink_udp.parse_address("10.0.0.5:12000") == ("10.0.0.5", 12000)
    assert livelink_udp.parse_address("localhost") == ("localhost", 11111)
    assert livelink_udp.parse_address("[::1]:9000") == ("::1", 9000)
    for bad in ("host:0", "host:99999", ":11111", "host:abc"):
        with pytest.raises(VisemicError):
            livelink_udp.parse_address(bad)
    assert livelink_udp.rate_of(60) == (60, 1)
    assert livelink_udp.rate_of(29.97) == (30000, 1001)
    assert livelink_udp.rate_of(12.5) == (25, 2)


# Linux's SO_TIMESTAMPNS (not in Python's socket module): each datagram carries the time the
# kernel received it, so arrival times do not depend on when the listener thread gets to run.
SO_TIMESTAMPNS = 35


class Listener:
    """A loopback UDP listener that decodes Live Link packets on a thread.

    Its socket buffer is made to hold ``burst`` packets unread (checked by sending them to it),
    so a sender that outruns a listener starved of CPU on a busy machine loses nothing: loopback
    UDP drops a datagram only when the receiver's buffer is full (the default holds ~166).
    """

    def __init__(self, burst: int = 400) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._holds(burst)
        if sys.platform == "linux":
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.2)
        self.packets: list[livelink_udp.Packet] = []
        self.arrivals: list[float] = []
        self._got = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _holds(self, burst: int) -> None:
        probe = livelink_udp.encode(livelink_udp.Packet(
            "DEVICE-1", "probe", 0, 0.0, (60, 1), np.zeros(livelink_udp.COUNT, np.float32)))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for _ in range(burst):
                out.sendto(probe, ("127.0.0.1", self.port))
        self.sock.settimeout(5.0)  # loopback delivers at once, or (buffer full) never
        held = 0
        with contextlib.suppress(TimeoutError):
            while held < burst:
                self.sock.recv(4096)
                held += 1
        if held < burst:
            self.sock.close()
            pytest.skip(f"a UDP socket here holds only {held} of {burst} packets unread "
                        "(net.core.rmem_max)")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, 64)
            except TimeoutError:
                continue
            when = time.monotonic()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    when = seconds + nanoseconds * 1e-9
            with self._got:
                self.packets.append(livelink_udp.decode(data))
                self.arrivals.append(when)
                self._got.notify_all()

    def received(self, count: int, timeout: float = 60.0) -> None:
        """Wait until ``count`` packets have arrived (the timeout only bounds a failure)."""
        with self._got:
            self._got.wait_for(lambda: len(self.packets) >= count, timeout)

    def wait(self, count: int, timeout: float = 60.0) -> None:
        self.received(count, timeout)
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_sender_over_loopback_udp(streamed):
    _, frames, _ = streamed
    listener = Listener(burst=50)
    with livelink_udp.Sender("127.0.0.1", listener.port, subject="Face", fps=FPS) as sender:
        for f in frames:
            sender.send(f)
            if sender.sent % 50 == 0:
                # This thread holds the GIL between sends: let the listener drain what was sent
                # before sending more than its buffer is known to hold.
                listener.received(sender.sent)
    listener.wait(len(frames))
    got = listener.packets
    assert len(got) == len(frames)
    assert [p.frame for p in got] == [f.index for f in frames]
    assert {p.subject for p in got} == {"Face"} and len({p.device_id for p in got}) == 1
    assert {p.rate for p in got} == {(60, 1)}
    jaw = np.array([p.value("JawOpen") for p in got])
    np.testing.assert_allclose(jaw, [f.values[JAW] for f in frames], atol=1e-6)
    assert np.allclose([p.values[55:] for p in got], 0.0)  # eye rotations


# -- visemic stream --------------------------------------------------------------------------------


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemic", "stream", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_cli_file_to_livelink_and_jsonl(spoken_wav, tmp_path):
    duration = audio_io.load(spoken_wav).duration
    listener = Listener(burst=round(duration * 60) + 10)  # --no-realtime: all in one burst
    out = tmp_path / "frames.jsonl"
    res = cli(str(spoken_wav), "--no-realtime", "--livelink", f"127.0.0.1:{listener.port}",
              "--subject", "Ada", "-o", str(out))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == round(duration * 60)
    assert [d["frame"] for d in lines] == list(range(len(lines)))
    listener.wait(len(lines))
    assert len(listener.packets) == len(lines)
    assert {p.subject for p in listener.packets} == {"Ada"}
    assert max(d["values"]["jawOpen"] for d in lines) > 0.2


def test_cli_paces_a_file_in_real_time(tmp_path):
    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    audio_io.save_wav(Audio((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000), wav)
    listener = Listener(burst=70)
    start = time.monotonic()
    res = cli(str(wav), "--livelink", f"127.0.0.1:{listener.port}", "-q")
    assert res.returncode == 0, res.stderr
    listener.wait(60)
    assert len(listener.packets) == 60
    # Packets spread over the second of audio instead of arriving in one burst (the kernel's
    # arrival times on Linux: a listener thread starved for a moment would read a burst).
    spread = listener.arrivals[-1] - listener.arrivals[0]
    assert spread >= 0.8
    assert time.monotonic() - start >= 1.0


@pytest.mark.parametrize("args, message", [
    (["x.wav"], "no output"),
    (["-o", "out.jsonl"], "AUDIO file or --microphone"),
    (["missing.wav", "-o", "out.jsonl"], "no such file"),
    (["x.wav", "--livelink", "host:0"], "port"),
])
def test_cli_errors_are_one_line(args, message, tmp_path, spoken_wav):
    args = [str(spoken_wav) if a == "x.wav" else a for a in args]
    args = [str(tmp_path / a) if a == "out.jsonl" else a for a in args]
    res = cli(*args)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ")
    assert message in res.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_microphone_without_portaudio_is_one_line_error():
    try:
        import sounddevice  # noqa: F401
    except OSError:
        pass
    else:
        pytest.skip("PortAudio is installed here")
    res = cli("--microphone", "-o", "-")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "PortAudio" in res.stderr


def test_engine_pool_matches_in_process_engines(speech16):
    from visemic.stream.pool import EnginePool

    x, _ = speech16
    x = x[:4 * 16000]
    alone, _ = run(StreamAnimator(fps=30), x, [640])
    with EnginePool(processes=1) as pool:
        with pytest.raises(VisemicError):
            pool.open(fps=-1)
        a, b = pool.open(fps=30), pool.open(fps=30)
        frames_a: list[StreamFrame] = []
        frames_b: list[StreamFrame] = []
        for i in range(0, len(x), 640):
            frames_a += a.push(x[i:i + 640])
            frames_b += b.push(x[i:i + 640][::-1].copy())
        frames_a += a.flush()
        frames_b += b.flush()
        with pytest.raises(VisemicError, match="ended"):
            a.push(x[:10])
        assert pool.open().flush() == []  # the worker still serves
    assert [f.index for f in frames_a] == [f.index for f in alone]
    assert [f.viseme for f in frames_a] == [f.viseme for f in alone]
    assert len(frames_b) == len(alone)


def test_engine_pool_answers_json_texts_without_a_waiting_thread(speech16):
    # What the server uses: submit() returns a future at once; push_json/flush_json answer the
    # frames' JSON texts, the same frames as an engine in this process.
    from visemic.stream.pool import EnginePool

    x, _ = speech16
    pcm = (x[:3 * 16000] * 32767).astype(np.int16)
    alone, _ = run(StreamAnimator(fps=FPS), pcm, [640])
    texts: list[str] = []
    with EnginePool(processes=1) as pool:
        stream = pool.open(fps=FPS)
        # Arrays, or PCM16LE bytes as the server's socket gives them.
        futures = [stream.submit("push_json", pcm[i:i + 640] if i % 1280 else
                                 pcm[i:i + 640].tobytes()) for i in range(0, len(pcm), 640)]
        futures.append(stream.submit("flush_json"))
        for future in futures:
            texts += future.result(timeout=60)
        with pytest.raises(VisemicError, match="ended"):
            stream.submit("push_json", pcm[:10]).result(timeout=60)
    assert texts == [f.to_json() for f in alone]


def test_long_stream_keeps_bounded_state(speech16):
    x, _ = speech16
    engine = StreamAnimator()
    sizes = []
    for _ in range(8):  # about a minute of speech with pauses
        for i in range(0, len(x), 1600):
            engine.push(x[i:i + 1600])
        sizes.append((len(engine._done) + len(engine._current), len(engine._pauses),
                      len(engine._recent_db)))
    # Phones, pauses and levels held do not grow with the stream's length, and the recogniser's
    # utterance is restarted in pauses.
    assert max(s[0] for s in sizes[4:]) <= max(s[0] for s in sizes[:4]) + 5
    assert max(s[1] for s in sizes) <= 3
    assert max(s[2] for s in sizes) <= 100
    assert engine.received - engine._utt_start / 16000 < 10.0
