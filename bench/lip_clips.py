"""The real talking-head clips of ../shared/samples/video as calibration observations, cached.

Each clip: the face tracked (:mod:`visemic.video`) and the clip's own audio analysed by visemic
(no transcript, except where a ``.txt`` transcript lies beside the clip; German for ``de_``
clips). Observations are pickled under out/lip_motion/cache/ (the tracker takes a while on two
shared cores), keyed by the clip's size and modification time and the source of the analysis.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

from visemic import calibrate

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "samples" / "video"
if not CLIPS.is_dir():  # worktrees sit one level deeper than the main checkout
    CLIPS = Path("/work/shared/samples/video")
CACHE = ROOT / "out" / "lip_motion" / "cache"
VIDEO = (".mp4", ".mpg", ".mov", ".mkv", ".webm")
GRID = "_grid_"  # the clips whose frames may be published (GRID corpus, CC BY 4.0)


def clips(folder: Path = CLIPS) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO)


def transcript(clip: Path) -> str | None:
    """The LRS2-style ``Text:`` line of a ``.txt`` beside the clip, if any."""
    txt = clip.with_suffix(".txt")
    if not txt.is_file():
        return None
    for line in txt.read_text(encoding="utf-8").splitlines():
        if line.startswith("Text:"):
            return line.split(":", 1)[1].strip().lower()
    return None


def language(clip: Path) -> str:
    return clip.name.split("_", 1)[0] if clip.name[:3] in ("de_", "en_") else "en"


def observe(clip: Path, text: bool = True) -> calibrate.Observation:
    """The clip's observation (cached). ``text``: use the transcript when there is one."""
    words = transcript(clip) if text else None
    st = clip.stat()
    key = hashlib.sha1(f"{clip.name}|{st.st_size}|{st.st_mtime_ns}|{words}|"
                       f"{_code_stamp()}".encode()).hexdigest()[:16]
    path = CACHE / f"{clip.stem}.{key}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    print(f"  tracking and analysing {clip.name} …", file=sys.stderr, flush=True)
    obs = calibrate.observe(clip, text=words, language=language(clip))
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obs))
    return obs


def _code_stamp() -> str:
    """The analysis and tracker code's version: a change there invalidates the cache."""
    src = ROOT / "src" / "visemic"
    h = hashlib.sha1()
    for folder in ("video", "phonetics"):
        for f in sorted((src / folder).glob("*.py")):
            h.update(f.read_bytes())
    return h.hexdigest()[:8]


if __name__ == "__main__":
    for c in clips():
        o = observe(c)
        print(f"{c.name}: {len(o.times)} frames, {len(o.timeline.phones)} phones, "
              f"{o.speech_seconds:.1f} s tracked speech")
