"""External alignments (``--alignment FILE``) → a :class:`~visemic.types.Timeline`, and back.

Read: Praat TextGrid (long or short text format, UTF-8 or UTF-16), CTM (word or phone level),
JSON (visemic's ``phones`` format or its full result, and WhisperX output). Write: TextGrid and
CTM, so that an import round-trips.

Conventions:

- Labels ``""``, ``sil``, ``sp``, ``spn``, ``<eps>`` (and the like) are silence: gaps, not phones.
- ARPABET phone labels (MFA's English models, Kaldi; with or without stress digits and Kaldi's
  ``_B _I _E _S`` position suffixes) become IPA; IPA labels are kept, one label one phone, with a
  leading ``ˈ``/``ˌ`` read as stress.
- Without a phone level, phones come from :func:`visemic.phonetics.espeak.phonemize`, spread over
  each word's span in proportion to typical durations (vowels about twice consonants).
- Several speakers' tiers are merged; where they overlap in time the earlier interval wins.
- A phone belongs to the word whose span holds the phone's midpoint.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from visemic.errors import VisemicError
from visemic.outputs.atomic import write_text
from visemic.phonetics.arpabet import arpabet_to_ipa, is_arpabet
from visemic.phonetics.espeak import phonemize
from visemic.phonetics.ipa_split import LIGATURES, phone_weight, split_ipa
from visemic.types import Phone, Timeline, Word

SILENCE = frozenset({
    "", "sil", "sp", "spn", "nsn", "<eps>", "<sil>", "!sil", "<s>", "</s>", "<unk>", "<noise>",
    "[noise]", "[laughter]", "[silence]", "h#", "pau", "epi", "#", "_", "<p:>", "<pau>",
})
_WORD_TIERS = frozenset({"words", "word", "wrd", "wrds", "orthography", "ortho", "text",
                         "transcript", "transcription", "tokens", "lexical"})
_PHONE_TIERS = frozenset({"phones", "phone", "phonemes", "phoneme", "phn", "phons", "segments",
                          "segment", "phonetic", "ipa"})
_KALDI_POSITION = re.compile(r"_[BIES]$")

Interval = tuple[str, float, float]  # label, start, end


class _BadFile(Exception):
    """Reason a file cannot be read; reported as a VisemicError naming the file."""


# ---------------------------------------------------------------------------------------------
# Reading


def load_alignment(path: str | os.PathLike[str], language: str = "en") -> Timeline:
    """Read an alignment file (TextGrid, CTM or JSON, told apart by extension, else by content).

    ``language`` is used for phonemising words that come without phones, and as the timeline's
    language unless the file names its own (JSON ``"language"``).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise VisemicError(f"cannot read alignment {str(p)!r}: {exc.strerror or exc}") from None
    try:
        text = _decode(raw)
        kind = _kind(p, text)
        if kind == "textgrid":
            words, phones = _read_textgrid(text)
        elif kind == "json":
            words, phones, language = _read_json(text, language)
        else:
            words, phones = _read_ctm(text)
        return _build(words, phones, language)
    except _BadFile as exc:
        raise VisemicError(f"cannot read alignment {str(p)!r}: {exc}") from None


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "replace")
    if raw.startswith(b"ooBinaryFile"):
        raise _BadFile("binary Praat files are not supported (save as a text file)")
    head = raw[:200]
    if len(head) > 8 and head.count(0) > len(head) // 3:  # UTF-16 without a byte-order mark
        return raw.decode("utf-16-le" if head[1] == 0 else "utf-16-be", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _kind(path: Path, text: str) -> str:
    ext = path.suffix.lower()
    if ext == ".textgrid":
        return "textgrid"
    if ext == ".json":
        return "json"
    if ext == ".ctm":
        return "ctm"
    head = text.lstrip()[:200]
    if head.startswith(("{", "[")):
        return "json"
    if "ooTextFile" in head or "TextGrid" in head:
        return "textgrid"
    return "ctm"


# -- TextGrid

_TG_TOKEN = re.compile(
    r'"((?:[^"]|"")*)"'                                   # string, "" escapes a quote
    r"|<(exists|absent)>"                                 # flag
    r"|(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"  # number
    r"|\[[^\]\n]*\]"                                      # "item [1]:" indices: skipped
    r"|!.*$",                                             # comment
    re.MULTILINE)


def _textgrid_tokens(text: str) -> list[str | float | bool]:
    """Praat's text formats, long or short, reduce to the same stream of strings and numbers:
    everything else ("xmin =", "intervals [3]:") is commentary."""
    out: list[str | float | bool] = []
    for m in _TG_TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            out.append(m.group(2) == "exists")
        elif m.group(3) is not None:
            out.append(float(m.group(3)))
    return out


def _read_textgrid(text: str) -> tuple[list[Interval], list[Interval]]:
    toks = _textgrid_tokens(text)
    pos = 0

    def take(kind: type) -> object:
        nonlocal pos
        if pos >= len(toks):
            raise _BadFile("TextGrid ends early")
        tok = toks[pos]
        pos += 1
        if kind is float and isinstance(tok, float) and not isinstance(tok, bool):
            return tok
        if kind is str and isinstance(tok, str):
            return tok
        raise _BadFile(f"malformed TextGrid near item {pos} ({tok!r})")

    # Old Praat versions name the short format "ooTextFile short".
    if (len(toks) < 2 or not isinstance(toks[0], str) or not toks[0].startswith("ooTextFile")
            or toks[1] != "TextGrid"):
        raise _BadFile("not a Praat TextGrid text file")
    pos = 2
    take(float)
    take(float)
    if pos < len(toks) and isinstance(toks[pos], bool):
        if not toks[pos]:
            return [], []
        pos += 1
    tiers: list[tuple[str, list[Interval]]] = []
    for _ in range(int(take(float))):  # type: ignore[call-overload]
        cls, name = take(str), take(str)
        take(float)
        take(float)
        count = int(take(float))  # type: ignore[call-overload]
        if cls == "IntervalTier":
            items = []
            for _ in range(count):
                a, b, label = take(float), take(float), take(str)
                items.append((str(label), float(a), float(b)))  # type: ignore[arg-type]
            tiers.append((str(name), items))
        elif cls == "TextTier":
            for _ in range(count):
                take(float)
                take(str)
        else:
            raise _BadFile(f"unknown tier class {cls!r}")
    return _pick_tiers(tiers)


def _tier_role(name: str) -> str:
    last = re.split(r"[\s_\-:/.()]+", name.strip().lower())
    last = [w for w in last if w]
    word = last[-1] if last else ""
    if word in _WORD_TIERS:
        return "words"
    if word in _PHONE_TIERS:
        return "phones"
    return ""


def _pick_tiers(tiers: list[tuple[str, list[Interval]]]) -> tuple[list[Interval], list[Interval]]:
    """Word and phone intervals: tiers chosen by name ("words", "spk1 - phones"), else by order,
    else (a single tier) by what its labels look like."""
    words = [iv for name, items in tiers if _tier_role(name) == "words" for iv in items]
    phones = [iv for name, items in tiers if _tier_role(name) == "phones" for iv in items]
    if words or phones or any(_tier_role(n) for n, _ in tiers):
        return words, phones
    if len(tiers) >= 2:
        return tiers[0][1], tiers[1][1]
    if len(tiers) == 1:
        items = tiers[0][1]
        return ([], items) if _phone_like([lab for lab, _, _ in items]) else (items, [])
    raise _BadFile("the TextGrid has no interval tiers")


# -- CTM


def _read_ctm(text: str) -> tuple[list[Interval], list[Interval]]:
    """``utt chan start dur token [conf]`` per line; utterance and channel are not used (one
    recording)."""
    items: list[Interval] = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or line.lstrip().startswith(";;"):
            continue
        if len(fields) < 5:
            raise _BadFile(f"line {n}: expected 'utt channel start duration token [conf]'")
        try:
            start, dur = float(fields[2]), float(fields[3])
        except ValueError:
            raise _BadFile(f"line {n}: start and duration must be numbers") from None
        items.append((fields[4], start, round(start + dur, 9)))  # 0.2 + 0.1 ≠ 0.3 otherwise
    if not items:
        raise _BadFile("no CTM lines")
    if _phone_like([lab for lab, _, _ in items]):
        return [], items
    return items, []


# -- JSON


def _read_json(text: str, language: str) -> tuple[list[Interval], list[Interval], str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadFile(f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("timeline"), dict):
        data = data["timeline"]  # visemic's full result
    if not isinstance(data, dict):
        raise _BadFile("expected a JSON object")
    if isinstance(data.get("language"), str) and data["language"].strip():
        language = data["language"].strip()
    if "phones" in data or ("words" in data and "segments" not in data):
        words = _json_items(data.get("words") or [], ("word", "text"), "words")
        phones = _json_items(data.get("phones") or [], ("phone", "symbol", "text"), "phones")
        if not words and not phones:
            raise _BadFile("no words or phones")
        return words, phones, language
    if "segments" in data or "word_segments" in data:
        return _whisperx(data), [], language
    raise _BadFile("unrecognised JSON alignment (expected visemic 'words'/'phones' or WhisperX "
                   "'segments')")


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _BadFile(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _json_items(items: object, keys: Sequence[str], what: str) -> list[Interval]:
    if not isinstance(items, list):
        raise _BadFile(f"'{what}' must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _BadFile(f"{what}[{i}] must be an object")
        label = next((item[k] for k in keys if k in item), None)
        if not isinstance(label, str):
            raise _BadFile(f"{what}[{i}] has no '{keys[0]}' text")
        if "start" not in item or "end" not in item:
            raise _BadFile(f"{what}[{i}] needs 'start' and 'end'")
        out.append((label, _number(item["start"], f"{what}[{i}].start"),
                    _number(item["end"], f"{what}[{i}].end")))
    return out


def _whisperx(data: dict) -> list[Interval]:
    """WhisperX words; a word it could not align (no times: often numbers) is placed evenly in
    the gap between its aligned neighbours."""
    if isinstance(data.get("segments"), list) and data["segments"]:
        segments = data["segments"]
    else:
        segments = [{"words": data.get("word_segments") or []}]
    out: list[Interval] = []
    for si, seg in enumerate(segments):
        if not isinstance(seg, dict) or not isinstance(seg.get("words", []), list):
            raise _BadFile(f"segments[{si}] must be an object with a 'words' list")
        lo = seg.get("start")
        hi = seg.get("end")
        rows: list[list] = []
        for wi, w in enumerate(seg.get("words", [])):
            if not isinstance(w, dict) or not isinstance(w.get("word", w.get("text")), str):
                raise _BadFile(f"segments[{si}].words[{wi}] has no 'word' text")
            a, b = w.get("start"), w.get("end")
            timed = a is not None and b is not None
            rows.append([w.get("word", w.get("text")).strip(),
                         _number(a, "start") if timed else None,
                         _number(b, "end") if timed else None])
        prev = _number(lo, "segment start") if lo is not None else (out[-1][2] if out else 0.0)
        k = 0
        while k < len(rows):
            if rows[k][1] is not None:
                prev = rows[k][2]
                k += 1
                continue
            run = k
            while run < len(rows) and rows[run][1] is None:
                run += 1
            nxt = rows[run][1] if run < len(rows) else (
                _number(hi, "segment end") if hi is not None else None)
            if nxt is not None and nxt > prev:
                step = (nxt - prev) / (run - k)
                for q in range(k, run):
                    rows[q][1], rows[q][2] = prev + step * (q - k), prev + step * (q - k + 1)
            k = run
        out.extend((t, a, b) for t, a, b in rows if a is not None and t)
    return out


# -- Labels → timeline


def _phone_like(labels: Sequence[str]) -> bool:
    """Whether a tier's labels are phones rather than words (nearly all single phones)."""
    labels = [lab for lab in (lab.strip() for lab in labels) if lab.lower() not in SILENCE]
    if not labels:
        return False
    hits = 0
    for lab in labels:
        base = _KALDI_POSITION.sub("", lab)
        if is_arpabet(base) or (len(base) <= 4 and len(split_ipa(base)) == 1):
            hits += 1
    return hits >= 0.9 * len(labels)


def _phone_converter(labels: Iterable[str]):  # type: ignore[no-untyped-def]
    """A label → (IPA, stress) function for a whole tier: ARPABET if every label is ARPABET and
    something marks it so (upper case, a stress digit, a two-letter code), else IPA."""
    bases = [_KALDI_POSITION.sub("", lab) for lab in labels]
    arpa = bool(bases) and all(is_arpabet(b) for b in bases) and any(
        any(c.isupper() or c.isdigit() for c in b) or len(b) >= 2 for b in bases)

    def convert(label: str) -> tuple[str, int]:
        base = _KALDI_POSITION.sub("", label)
        if arpa:
            return arpabet_to_ipa(base)
        stress = 1 if "ˈ" in base else 2 if "ˌ" in base else 0
        symbol = re.sub(r"[ˈˌ\u0361\u035c\s]", "", base).translate(LIGATURES)
        return symbol, stress

    return convert


def _clean(items: list[Interval], what: str) -> list[Interval]:
    """Drop silence and empty spans, sort, and keep the earlier of overlapping intervals."""
    out: list[Interval] = []
    for label, a, b in items:
        if not (math.isfinite(a) and math.isfinite(b)):
            raise _BadFile(f"{what} '{label}' has a non-finite time")
        if b < a:
            raise _BadFile(f"{what} '{label}' ends ({b}) before it starts ({a})")
        label = label.strip()
        if label.lower() in SILENCE or b == a or not any(c.isalnum() for c in label):
            continue
        out.append((label, a, b))
    out.sort(key=lambda iv: (iv[1], iv[2]))
    kept: list[Interval] = []
    for iv in out:
        if kept and iv[1] < kept[-1][2] - 1e-6:
            continue
        kept.append(iv)
    return kept


def _build(words_in: list[Interval], phones_in: list[Interval], language: str) -> Timeline:
    words_iv = _clean(words_in, "word")
    phones_iv = _clean(phones_in, "phone")
    words = [Word(t, a, b) for t, a, b in words_iv]
    tl = Timeline(language=language, words=words, source="imported")
    if phones_iv:
        convert = _phone_converter(lab for lab, _, _ in phones_iv)
        starts = [w.start for w in words]
        for label, a, b in phones_iv:
            try:
                symbol, stress = convert(label)
            except ValueError:
                raise _BadFile(f"unknown phone label {label!r}") from None
            mid = 0.5 * (a + b)
            j = bisect.bisect_right(starts, mid) - 1
            index = j if j >= 0 and words[j].start <= mid <= words[j].end else -1
            tl.phones.append(Phone(symbol, a, b, index, stress))
    elif words:
        tl.phones = _derive_phones(words, language)
    return tl


def _derive_phones(words: list[Word], language: str) -> list[Phone]:
    """Phonemise each word and spread its phones over the word's span, vowels about twice as
    long as consonants."""
    cache: dict[str, list[tuple[str, int]]] = {}
    out: list[Phone] = []
    for index, w in enumerate(words):
        if w.text not in cache:
            cache[w.text] = [(p, s) for g in phonemize(w.text, language)
                             for p, s in zip(g.phones, g.stress, strict=True)]
        phones = cache[w.text]
        if not phones:
            continue
        weights = [phone_weight(p) for p, _ in phones]
        total = sum(weights)
        t = w.start
        for k, ((symbol, stress), wt) in enumerate(zip(phones, weights, strict=True)):
            end = w.end if k == len(phones) - 1 else t + (w.end - w.start) * wt / total
            out.append(Phone(symbol, t, end, index, stress))
            t = end
    return out


# ---------------------------------------------------------------------------------------------
# Writing


def _num(x: float) -> str:
    s = f"{round(x, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _label(p: Phone) -> str:
    return ("ˈ" if p.stress == 1 else "ˌ" if p.stress == 2 else "") + p.symbol


def _tile(items: list[tuple[str, float, float]], xmax: float) -> list[tuple[str, float, float]]:
    """Intervals covering 0…xmax: the labelled ones, with empty ones in the gaps."""
    out: list[tuple[str, float, float]] = []
    t = 0.0
    for label, a, b in sorted(items, key=lambda iv: iv[1]):
        a = max(a, t)
        if b <= a:
            continue
        if a > t:
            out.append(("", t, a))
        out.append((label, a, b))
        t = b
    if xmax > t or not out:
        out.append(("", t, max(xmax, t)))
    return out


def save_textgrid(timeline: Timeline, path: str | os.PathLike[str]) -> None:
    """Write a Praat TextGrid (long text format, UTF-8) with tiers "words" and "phones".

    Phone labels are IPA with a leading ``ˈ``/``ˌ`` for stress, which :func:`load_alignment`
    reads back.
    """
    tiers = [
        ("words", [(w.text, w.start, w.end) for w in timeline.words]),
        ("phones", [(_label(p), p.start, p.end) for p in timeline.phones]),
    ]
    xmax = max([b for _, items in tiers for _, _, b in items], default=0.0)
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "",
             "xmin = 0", f"xmax = {_num(xmax)}", "tiers? <exists>", f"size = {len(tiers)}",
             "item []:"]
    for i, (name, items) in enumerate(tiers, 1):
        tiled = _tile(items, xmax)
        lines += [f"    item [{i}]:", '        class = "IntervalTier"',
                  f'        name = "{name}"', "        xmin = 0", f"        xmax = {_num(xmax)}",
                  f"        intervals: size = {len(tiled)}"]
        for k, (label, a, b) in enumerate(tiled, 1):
            text = label.replace('"', '""')
            lines += [f"        intervals [{k}]:", f"            xmin = {_num(a)}",
                      f"            xmax = {_num(b)}", f'            text = "{text}"']
    write_text(path, "\n".join(lines) + "\n")


def save_ctm(timeline: Timeline, path: str | os.PathLike[str], level: str = "words") -> None:
    """Write a CTM file, one ``utt 1 start duration token`` line per word (``level="words"``) or
    per phone (``level="phones"``, IPA with stress marks). The utterance id is the file's stem.
    Spaces inside a word become ``_`` (CTM tokens cannot hold them)."""
    if level not in ("words", "phones"):
        raise VisemicError(f"CTM level must be 'words' or 'phones', not {level!r}")
    utt = re.sub(r"\s+", "_", Path(path).stem) or "utt"
    if level == "words":
        rows = [(re.sub(r"\s+", "_", w.text.strip()), w.start, w.end) for w in timeline.words]
    else:
        rows = [(_label(p), p.start, p.end) for p in timeline.phones]
    # The duration is taken between the rounded times, so that start + duration lands on the
    # rounded end and back-to-back items never come back overlapping.
    lines = [f"{utt} 1 {_num(a)} {_num(round(b, 6) - round(a, 6))} {tok}"
             for tok, a, b in rows if tok]
    write_text(path, "\n".join(lines) + ("\n" if lines else ""))
