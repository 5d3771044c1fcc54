"""A language nobody knows is a typo (an error); one only espeak-ng knows falls back (warning)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import visemic
from visemic.errors import VisemicError
from visemic.phonetics import timeline


@pytest.fixture(scope="module")
def speech():
    return visemic.say("Hello there.").audio


def test_a_language_neither_whisper_nor_espeak_knows_is_an_error(speech):
    with pytest.raises(VisemicError, match="unknown language 'x y'"):
        timeline.recognise_words(speech, "x y")


def test_a_language_only_espeak_knows_uses_the_phone_loop(speech, caplog):
    # Esperanto: espeak-ng speaks it, Whisper does not recognise it.
    with caplog.at_level(logging.WARNING):
        tl, report = timeline.recognise_words(speech, "eo")
    assert "fallback" in report and tl.phones
    assert "Whisper does not know the language 'eo'" in caplog.text


def test_cli_says_so_in_one_line(tmp_path, speech):
    from visemic.audio import save_wav

    wav = save_wav(speech, tmp_path / "s.wav")
    run = subprocess.run([sys.executable, "-m", "visemic", "animate", str(wav), "--language",
                          "x y", "-o", str(tmp_path / "out.json")], capture_output=True, text=True)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last == "error: unknown language 'x y' (see visemic languages)"
    assert not (tmp_path / "out.json").exists()


def test_dub_refuses_an_unknown_mouth_language(tmp_path):
    from visemic.dub import pipeline

    with pytest.raises(VisemicError, match="unknown language 'x y'"):
        pipeline.dub(tmp_path / "missing.mp4", mouth_language="x y")
