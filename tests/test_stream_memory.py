"""What a stream costs: its phone-loop decoder holds no word dictionary (28 → 6 MB a stream)
yet hears the same phones; and bench/soak.py runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pocketsphinx

from visemic import audio as audio_io
from visemic.phonetics import recognize
from visemic.stream import engine

ROOT = Path(__file__).resolve().parents[1]


def _pcm(spoken) -> bytes:
    x = audio_io.load(spoken[0]).samples  # at 16 kHz
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def _phones(decoder: pocketsphinx.Decoder, pcm: bytes) -> list[tuple[str, int, int]]:
    decoder.start_utt()
    for i in range(0, len(pcm), 1280):  # 40 ms at a time, as a stream comes
        decoder.process_raw(pcm[i:i + 1280], False, False)
    decoder.end_utt()
    return [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]


def _with_dictionary(**settings) -> pocketsphinx.Decoder:
    model = os.path.join(pocketsphinx.get_model_path(), "en-us")
    search = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0, "pip": 0.8} | settings
    return pocketsphinx.Decoder(allphone=os.path.join(model, "en-us-phone.lm.bin"), lm=None,
                                loglevel="FATAL", **search)


def test_stream_decoder_has_no_dictionary_and_hears_the_same_phones(spoken):
    pcm = _pcm(spoken)
    lean = engine._decoder()
    assert lean.lookup_word("hello") is None  # pocketsphinx's 134,000 words not loaded
    full = _with_dictionary(cmninit="50,3,-1", **engine.DECODER_SEARCH)
    assert full.lookup_word("hello") is not None
    heard = _phones(lean, pcm)
    assert len(heard) > 20 and heard == _phones(full, pcm)


def test_batch_phone_loop_has_no_dictionary_and_hears_the_same_phones(spoken):
    pcm = _pcm(spoken)
    lean = recognize._decoder("phones")
    assert lean.lookup_word("hello") is None
    lean.reinit_feat()
    lean.set_cmn(lean.config["cmninit"])
    full = _with_dictionary()
    assert _phones(lean, pcm) == _phones(full, pcm)


def test_soak_runs_end_to_end(tmp_path):
    """Two streams held open together for a few seconds: all get in, no frame is dropped, and
    the report has its figures (no timing is asserted)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), VISEMIC_CACHE=str(tmp_path / "c"))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--streams", "2",
                           "--minutes", "0.25", "--ramp", "1"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "all 2 open together" in out and "errors 0" in out
    assert ", dropped 0;" in out and "finished 2" in out
    assert "steady part, 2 streams open" in out and "spread" in out


def _hub(active: int, fresh: int, load_per_stream: float):
    """A stream hub with ``active`` streams open (``fresh`` of them just now, the rest for a
    minute) whose pushes took ``load_per_stream`` engine seconds per second each over the last
    10 s, on 2 engine processes."""
    import time

    from visemic.server.streaming import Load, StreamHub, StreamLimits

    hub = StreamHub(StreamLimits(max_streams=40))
    hub.load = Load(2, 10.0)
    hub.load._since -= 60  # measured for a minute already
    now = time.monotonic()
    for i in range(active):
        hub._opened[i] = now - (0 if i < fresh else 60)
    hub.active = active
    hub.load.add(load_per_stream * 10.0 * (active - fresh))  # fresh ones: nothing measured yet
    return hub


def test_admission_counts_measured_streams_at_what_they_cost():
    # 19 streams measured at 0.06 s a second (1.14 s of 2 engines, 57 %): a 20th fits.
    assert _hub(19, 0, 0.06)._admit()
    # Streams just opened, unmeasured, count at the floor (0.06 s a second): 23 fit in 75 %
    # of 2 engines (69 %), 30 would not (90 %).
    assert _hub(22, 22, 0.0)._admit()
    assert not _hub(29, 29, 0.0)._admit()
    # Measured streams that cost less than the floor count at what they cost.
    assert _hub(29, 0, 0.03)._admit()
    # Measured streams that cost more than the floor count at what they cost.
    assert not _hub(14, 0, 0.11)._admit()
    assert _hub(12, 0, 0.11)._admit()
