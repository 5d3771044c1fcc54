"""Speech → timeline without a transcript, with pocketsphinx's bundled en-us models.

Two methods (``bench/accuracy.py`` measures both):
- ``"words"``: large-vocabulary word recognition with the bundled trigram language model, then a
  phone-level alignment of the recognised words (real pronunciations, so real phone sequences);
- ``"phones"``: phone-loop decoding with the bundled phone language model (no vocabulary, so
  it also copes with names, jargon and other languages, but with noisier phones).
"""

from __future__ import annotations

import os
import threading

import pocketsphinx

from visemic.phonetics import align
from visemic.phonetics.arpabet import ARPABET_TO_IPA
from visemic.types import Audio, Phone, Timeline, Word

METHODS = ("words", "phones")
_local = threading.local()
FRAME = 0.01  # recognition runs at the model's native 10 ms frames
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "SIL", "+NSN+", "+SPN+", "(NULL)"}
# The phone loop's "spoken noise" is, in practice, a filled pause ("uh", "um"): voiced, with the
# mouth half open. Shown as that vowel rather than as rest.
HESITATION = "ʌ"


def _model(name: str) -> str:
    return os.path.join(pocketsphinx.get_model_path(), "en-us", name)


def _decoder(method: str) -> pocketsphinx.Decoder:
    key = "dec_" + method
    dec = getattr(_local, key, None)
    if dec is None:
        if method == "words":
            dec = pocketsphinx.Decoder(loglevel="FATAL")
        else:
            # dict=None: the phone loop needs no word dictionary (pocketsphinx would load its
            # 134,000 words: +22 MB; the phones are the same without).
            dec = pocketsphinx.Decoder(allphone=_model("en-us-phone.lm.bin"), lm=None,
                                       dict=None, loglevel="FATAL", beam=1e-20, pbeam=1e-20,
                                       lw=2.0, pip=0.8)
        setattr(_local, key, dec)
    return dec


def recognise(audio: Audio, method: str = "words", offset: float = 0.0) -> Timeline:
    """Recognise ``audio`` (16 kHz) into a timeline of words (method "words") and IPA phones."""
    if method not in METHODS:
        raise ValueError(f"unknown recognition method {method!r}")
    dec = _decoder(method)
    # The cached decoder carries feature state (live cepstral-mean normalisation above all) from
    # one utterance into the next; reset it so a result never depends on what came before.
    dec.reinit_feat()
    dec.set_cmn(dec.config["cmninit"])
    data = align.pcm16(audio)
    dec.start_utt()
    dec.process_raw(data, full_utt=True)
    dec.end_utt()
    if method == "phones":
        phones = []
        # seg() is None, not empty, when the decoder found no path (a few frames of audio).
        for seg in dec.seg() or ():
            name = seg.word.upper()
            symbol = HESITATION if name == "+SPN+" else ARPABET_TO_IPA.get(name)
            if symbol is None:
                continue
            phones.append(Phone(symbol, seg.start_frame * FRAME + offset,
                                (seg.end_frame + 1) * FRAME + offset, -1, 0))
        return Timeline(language="en", phones=phones, source="recognised")

    words = [s.word for s in dec.seg() or ()
             if s.word not in _FILLERS and not s.word.startswith("[")]
    words = [w.split("(")[0] for w in words]
    if not words:
        return Timeline(language="en", source="recognised")
    from visemic.phonetics import lexicon

    prons = [lexicon.english(w) for w in words]
    try:
        tl = align.align(audio, prons, "en", offset=offset)
    except align.AlignmentError:
        segs = [s for s in dec.seg() if s.word.split("(")[0] in words]
        tl = Timeline(language="en", words=[
            Word(s.word.split("(")[0], s.start_frame * FRAME + offset,
                 (s.end_frame + 1) * FRAME + offset) for s in segs])
    tl.source = "recognised"
    return tl
