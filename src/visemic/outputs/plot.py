"""One PNG an animator can read at a glance: waveform and words, phones (IPA), the Rhubarb viseme
track as coloured blocks, the main mouth/eye curves and the head angles, on one time axis."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from visemic.errors import VisemicError
from visemic.outputs.atomic import atomic_path

# Curves drawn by default; "gap", "mouthSmile", "eyeBlink" are derived (see _curve).
DEFAULT_CURVES = ("jawOpen", "gap", "mouthPucker", "mouthFunnel", "mouthSmile", "mouthRollLower",
                  "eyeBlink")

VISEME_COLOURS = {
    "A": "#8e2c3a", "B": "#6f8fb0", "C": "#e8923a", "D": "#d8452f", "E": "#9a6cc4",
    "F": "#5b3f9e", "G": "#3f9e6a", "H": "#2f9ba5", "X": "#c9cdd2",
}
VISEME_MEANING = {
    "A": "closed P B M", "B": "teeth", "C": "open", "D": "wide open", "E": "rounded",
    "F": "puckered", "G": "F V", "H": "L", "X": "rest",
}
_CURVE_COLOURS = ("#d8452f", "#1f1f1f", "#5b3f9e", "#9a6cc4", "#e8923a", "#3f9e6a", "#2f7fbf",
                  "#8c564b", "#e377c2", "#7f7f7f")


def _curve(animation: Any, name: str) -> np.ndarray | None:
    """A channel by name, or a derived one: gap = jawOpen − mouthClose, L/R averages."""
    chans = animation.channels
    if name in chans:
        return animation.channel(name)
    if name == "gap" and "jawOpen" in chans and "mouthClose" in chans:
        return animation.channel("jawOpen") - animation.channel("mouthClose")
    pair = (name + "Left", name + "Right")
    if all(p in chans for p in pair):
        return 0.5 * (animation.channel(pair[0]) + animation.channel(pair[1]))
    return None


def _label(name: str) -> str:
    return "gap (jaw − close)" if name == "gap" else name


def _blocks(ax: Any, spans: Sequence[tuple[float, float, str]], colours: Sequence[str],
            px_per_s: float, fontsize: float, text_colour: str = "#111111") -> None:
    """Labelled blocks on a 0…1 band; labels only where they fit."""
    for (start, end, text), colour in zip(spans, colours, strict=True):
        width = max(end - start, 1e-3)
        ax.axvspan(start, start + width, ymin=0.08, ymax=0.92, color=colour, lw=0)
        if text and width * px_per_s >= 0.62 * fontsize * max(1, len(text)):
            ax.text(start + width / 2, 0.5, text, ha="center", va="center", fontsize=fontsize,
                    color=text_colour, clip_on=True)


@lru_cache(maxsize=1)
def _font_families() -> list[str]:
    """DejaVu Sans (Latin, IPA) first, then IPAexGothic (kana and kanji, shipped in the
    matplotlib-fontja wheel) for the glyphs DejaVu lacks: matplotlib falls back glyph by
    glyph along this list."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    try:
        import matplotlib_fontja
    except ImportError:
        return families
    for font in sorted((Path(matplotlib_fontja.__file__).parent / "fonts").glob("*.ttf")):
        font_manager.fontManager.addfont(str(font))
        families.append(font_manager.FontProperties(fname=str(font)).get_name())
    return families


def plot_timeline(result: Any, path: str | os.PathLike[str], *,
                  channels: Sequence[str] | None = None, dpi: int = 110) -> Path:
    """Write the timeline picture for ``result`` (a :class:`visemic.Result`) to ``path`` (PNG).

    ``channels`` replaces the default curve list; besides channel names it takes "gap"
    (jawOpen − mouthClose) and L/R stems such as "mouthSmile" or "eyeBlink" (averaged).
    Words in any script the bundled fonts cover (Latin, IPA, Greek, Cyrillic, kana, kanji)
    are drawn as written.
    """
    import logging

    import matplotlib

    # The fallback font has no bold face; matplotlib says so for every bold label (which are
    # Latin, drawn in DejaVu's bold) unless told to keep quiet.
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context({"font.family": _font_families()}):
            return _plot(result, path, channels, dpi)
    finally:
        font_log.setLevel(level)


def _plot(result: Any, path: str | os.PathLike[str], channels: Sequence[str] | None,
          dpi: int) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    audio, timeline, animation = result.audio, result.timeline, result.animation
    duration = float(audio.duration if audio is not None else animation.frames / animation.fps)
    if duration <= 0:
        raise VisemicError("nothing to plot: the audio is empty")
    names = list(channels) if channels is not None else list(DEFAULT_CURVES)
    curves = [(n, _curve(animation, n)) for n in names]
    unknown = [n for n, c in curves if c is None and channels is not None]
    if unknown:
        raise VisemicError(f"unknown channels for the plot: {', '.join(unknown)}")
    curves = [(n, c) for n, c in curves if c is not None]
    head = [(n, animation.channel(n)) for n in ("headYaw", "headPitch", "headRoll")
            if n in animation.channels]
    show_head = bool(head) and any(np.abs(c).max() > 1e-3 for _, c in head if len(c))

    width_in = float(np.clip(2.0 + 2.2 * duration, 9.0, 60.0))
    ratios = [1.5, 0.45, 0.5, 2.4] + ([0.9] if show_head else [])
    fig = Figure(figsize=(width_in, sum(ratios) * 1.25 + 0.9), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios,
                                                                  "hspace": 0.12})
    ax_wave, ax_phone, ax_vis, ax_curve = axes[:4]
    px_per_s = (width_in - 1.6) * dpi / duration
    title = "visemic timeline"
    if getattr(audio, "path", None):
        title += f" — {Path(audio.path).name}"
    fig.suptitle(f"{title}  ({duration:.2f} s, {timeline.language}, {timeline.source})",
                 x=0.01, ha="left", fontsize=11)

    # Waveform as a min/max envelope (a few thousand columns whatever the length) + words.
    samples = np.asarray(audio.samples, dtype=np.float32) if audio is not None else np.zeros(1)
    cols = int(min(len(samples), max(200, px_per_s * duration)))
    if cols > 0 and len(samples):
        edges = np.linspace(0, len(samples), cols + 1).astype(np.int64)
        edges = np.minimum(edges, len(samples) - 1)
        lo = np.minimum.reduceat(samples, edges[:-1])
        hi = np.maximum.reduceat(samples, edges[:-1])
        t = edges[:-1] / float(audio.sample_rate)
        ax_wave.fill_between(t, lo, hi, color="#4a6a8a", lw=0, step="post")
    peak = float(np.abs(samples).max()) if len(samples) else 1.0
    ax_wave.set_ylim(-1.15 * max(peak, 1e-3), 1.45 * max(peak, 1e-3))
    for i, word in enumerate(timeline.words):
        ax_wave.axvspan(word.start, word.end, color="#f0c36a" if i % 2 else "#9fd0c9",
                        alpha=0.35, lw=0)
        ax_wave.text((word.start + word.end) / 2, 1.22 * max(peak, 1e-3), word.text,
                     ha="center", va="center", fontsize=10, fontweight="bold", clip_on=True)
    ax_wave.set_ylabel("audio\n+ words", fontsize=9)
    ax_wave.set_yticks([])

    phones = [(p.start, p.end, p.symbol) for p in timeline.phones]
    _blocks(ax_phone, phones, ["#dfe6ee" if i % 2 else "#c5d3e2" for i in range(len(phones))],
            px_per_s, 9)
    ax_phone.set_ylabel("phones\n(IPA)", fontsize=9)
    ax_phone.set_yticks([])

    cues = list(getattr(animation, "visemes", {}).get("rhubarb", []))
    spans = [(c.start, c.end, str(c.value)) for c in cues]
    _blocks(ax_vis, spans, [VISEME_COLOURS.get(s[2], "#999999") for s in spans], px_per_s, 9,
            text_colour="#ffffff")
    ax_vis.set_ylabel("Rhubarb\nshapes", fontsize=9)
    ax_vis.set_yticks([])
    used = [s for s in "ABCDEFGHX" if any(sp[2] == s for sp in spans)]
    if used:
        fig.legend(handles=[Patch(color=VISEME_COLOURS[s], label=f"{s} {VISEME_MEANING[s]}")
                            for s in used],
                   loc="lower center", ncol=len(used), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.2)

    t_anim = np.arange(animation.frames) / float(animation.fps)
    for (name, values), colour in zip(curves, _CURVE_COLOURS, strict=False):
        lw = 2.0 if name in ("jawOpen", "gap") else 1.3
        ls = "--" if name == "gap" else "-"
        ax_curve.plot(t_anim, values, color=colour, lw=lw, ls=ls, label=_label(name))
    ax_curve.axhline(0, color="#999999", lw=0.6)
    ax_curve.set_ylim(-0.1, 1.05)
    ax_curve.set_ylabel("curves (0…1)", fontsize=9)
    ax_curve.grid(True, alpha=0.25)
    ax_curve.legend(loc="upper left", bbox_to_anchor=(1.002, 1.0), fontsize=8, frameon=False)

    if show_head:
        ax_head = axes[4]
        for (name, values), colour in zip(head, ("#2f7fbf", "#d8452f", "#3f9e6a"), strict=True):
            ax_head.plot(t_anim, values, color=colour, lw=1.2, label=name)
        ax_head.axhline(0, color="#999999", lw=0.6)
        ax_head.set_ylabel("head (°)", fontsize=9)
        ax_head.grid(True, alpha=0.25)
        ax_head.legend(loc="upper left", bbox_to_anchor=(1.002, 1.0), fontsize=8, frameon=False)

    for ax in axes:
        ax.set_xlim(0, duration)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1].set_xlabel("time (s)", fontsize=9)
    fig.subplots_adjust(left=0.8 / width_in, right=1 - 1.6 / width_in, top=0.92, bottom=0.11)

    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return final
