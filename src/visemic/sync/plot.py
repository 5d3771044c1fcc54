"""``--plot``: the correlation curve over the offsets tried, and each window's offset over time
(a drift shows as a slope)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from visemic.outputs.atomic import atomic_path
from visemic.sync.measure import SyncReport


def plot(report: SyncReport, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Draw ``report`` as a PNG at ``path`` (written atomically); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    fig.suptitle(title or f"{Path(report.video).name}\n{report.summary()}", fontsize=10)

    left.axhline(0, color="#bbbbbb", lw=0.8)
    left.axvline(0, color="#bbbbbb", lw=0.8)
    if len(report.lags_ms):
        left.plot(report.lags_ms, report.correlation, color="#1f1f1f", lw=1.5)
    if report.offset_ms is not None:
        left.axvline(report.offset_ms, color="#d8452f", lw=1.2,
                     label=f"offset {report.offset_ms:+.0f} ms")
        left.legend(loc="lower left", fontsize=8, frameon=False)
    left.set_xlabel("offset (ms; > 0: picture late)")
    left.set_ylabel("correlation: lips vs expected from the audio")
    left.set_title("correlation curve", fontsize=9)

    right.axhline(0, color="#bbbbbb", lw=0.8)
    if report.segments:
        mid = np.array([(s.start + s.end) / 2 for s in report.segments])
        off = np.array([s.offset_ms for s in report.segments])
        conf = np.array([s.confidence for s in report.segments])
        for s in report.segments:
            right.plot([s.start, s.end], [s.offset_ms] * 2, color="#9fb4cc", lw=1, zorder=1)
        right.scatter(mid, off, s=12 + 50 * conf, c=conf, cmap="viridis", vmin=0, vmax=1,
                      zorder=2, label="window (size, colour: confidence)")
        if report.offset_ms is not None:
            line = np.full(2, report.offset_ms)
            span = np.array([report.segments[0].start, report.segments[-1].end])
            if report.drift_ms_per_min is not None:
                centre = float(np.average(mid, weights=conf))
                line = report.offset_ms + report.drift_ms_per_min / 60 * (span - centre)
            right.plot(span, line, color="#d8452f", lw=1.2,
                       label="offset" + (f", drift {report.drift_ms_per_min:+.0f} ms/min"
                                         if report.drift_ms_per_min is not None else ""))
        right.legend(loc="best", fontsize=8, framealpha=0.8)
        lo = min(-100.0, float(off.min()) - 40)
        hi = max(100.0, float(off.max()) + 40)
        right.set_ylim(lo, hi)
    right.set_xlabel("time (s)")
    right.set_ylabel("offset (ms)")
    right.set_title("offset per window", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
