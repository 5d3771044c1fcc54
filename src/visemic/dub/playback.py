"""Playing a planned dub: the source frames in the plan's order (forward, then backward and
forward again while the speech lasts), each edited and encoded as a stream.

:func:`schedule` works out which source frame shows at each output frame; :func:`render` decodes
them (on a thread of its own: :func:`prefetched`), works out the edit that places the chosen
real mouth on each a few frames ahead on worker threads (:func:`in_order`,
:meth:`~visemic.dub.composite.Compositor.prepare`), finishes each in order (the one step with
state, the skin colour smoothed over frames) and hands the frame to the writer, whose encoder
runs on its own thread too: every core works at once, and memory stays flat in the length.
"""

from __future__ import annotations

import collections
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np

from visemic.dub import geometry
from visemic.dub.atlas import CLASSES, Atlas
from visemic.dub.composite import Compositor, Edit, Layers, differs
from visemic.dub.encode import AudioTrack, VideoWriter, output_kind
from visemic.render.portrait import mesh
from visemic.video import decode, features

if TYPE_CHECKING:
    from visemic.dub.pipeline import Dub

Progress = Callable[[float], None]

PREFETCH = 4            # frames decoded ahead
# Threads working out the edits of the frames to come (at least two: they overlap with each
# other where decoding or encoding waits), and how many frames' edits are worked out at once.
WORKERS = max(2, min(4, os.cpu_count() or 2))
AHEAD = WORKERS + 2
# Eye distances the lower lip and jaw may be moved up where the chosen mouths are open wider
# than asked (they are never stretched open: opening them up to 0.08 IOD as asked made the
# self-reenactment's lips 0.004 IOD further from the real ones on face4 and 0.001–0.002 on
# swiz3n and the anchor, and was no better even asked for the real B's own openings; the
# cross-dubs' r with jawOpen were unchanged).
APERTURE_FIX = 0.08
# Pictures held at once when playing backward (each chunk is decoded from the key frame before
# it, and a clip may have one key frame in 250 or only one: bigger chunks, less decoding again).
BACKWARD_BYTES = 96 << 20
BACKWARD_MIN = 8        # frames, whatever their size


def prefetched(items: Iterator[Any], depth: int = PREFETCH) -> Iterator[Any]:
    """``items`` produced on a background thread, ``depth`` ahead (decoding overlaps work)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()
    failure: list[BaseException] = []

    def put(item: Any) -> bool:
        """Wait for room on the queue; False once the consumer has stopped."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:
            failure.append(exc)
        finally:
            put(done)

    thread = threading.Thread(target=run, name="visemic-dub-decoder", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join()



def video_length(times: np.ndarray, fps: float) -> float:
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / (fps or 25)
    return float(times[-1] - times[0]) + step


def schedule(times: np.ndarray, duration: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(source frame per output frame, output times) covering ``duration`` seconds: forward,
    then backward and forward again while the speech lasts (ping-pong); cut where it ends."""
    t = np.asarray(times, np.float64) - times[0]
    n = len(t)
    step = np.diff(t)
    last = float(np.median(step)) if n > 1 else 1.0 / (fps or 25)
    durations = np.r_[step, last]
    if n == 1:
        count = max(1, int(math.ceil(duration / last)))
        return np.zeros(count, np.int64), np.arange(count) * last
    plan: list[np.ndarray] = []
    clock: list[np.ndarray] = []
    now = 0.0
    forward = np.arange(n)
    backward = np.arange(n - 2, 0, -1)
    direction = 0
    while now < duration - 1e-6:
        run = forward if direction == 0 else backward
        if len(run) == 0:
            run = forward
        starts = now + np.r_[0.0, np.cumsum(durations[run])[:-1]]
        keep = starts < duration - 1e-6
        plan.append(run[keep])
        clock.append(starts[keep])
        now = float(starts[-1] + durations[run[-1]]) if keep.all() else duration
        direction ^= 1
    if not plan:
        return np.zeros(1, np.int64), np.zeros(1)
    return np.concatenate(plan), np.concatenate(clock)



def atlas_neutral(atlas: Atlas) -> np.ndarray:
    """The atlas's face with closed lips (478×3 local), measured as the video's rest is
    (:func:`visemic.dub.pipeline._rest_shape`): mouths are moved by their difference from it.
    Once a dub has matched it to its video (``pipeline._matched_neutral``), that one."""
    if atlas.neutral is not None:
        return atlas.neutral
    gaps = atlas.features[:, features.FEATURES.index("inner_aperture")]
    closed = gaps <= np.quantile(gaps, 0.25)
    out = np.full((mesh.N_REFINED, 3), np.nan)
    out[atlas.kept] = np.median(atlas.local[closed], axis=0)
    return out



def render(d: Dub, path: str | os.PathLike[str], progress: Progress | None) -> Path:
    edits = Edits(d)
    n = d.frames
    audio = None
    if output_kind(path) != "png":
        audio = AudioTrack(d.audio_path, d.audio_offset, float(d.times[-1]) + _last(d))
    # Frames stay as decoded (YUV 4:2:0) where the encoder takes them so: only the box around
    # the mouth goes to RGB and back, and every pixel outside the edit is the decoded one.
    i420 = passes_yuv(d.info, path)
    size = (d.info.width, d.info.height)
    step = max(1, n // 200)
    compositor = edits.compositor

    def prepare(item: tuple[int, tuple[int, np.ndarray]]) -> Any:
        """Frame ``i``'s edit worked out (on a worker thread; no state is kept)."""
        i, (k, picture) = item
        edit = edits(i, k)
        if edit is None:
            return None
        return prepare_i420(compositor, picture, edit) if i420 else \
            compositor.prepare(picture, edit)

    with VideoWriter(path, size, d.info.fps or 25.0, audio) as writer:
        frames = enumerate(prefetched(_source_frames(d, i420)))
        for (i, (k, picture)), work in in_order(frames, prepare):
            if work is None:
                if d.track.strength[k] <= 0:  # no edit (Edits gave None): a new start
                    compositor.reset()
            elif i420:
                finish_i420(compositor, picture, work)
            else:
                compositor.finish(picture, work)
            writer.put(picture, float(d.times[i]), i420=i420)
            if progress is not None and (i + 1) % step == 0:
                progress((i + 1) / n)
    if progress is not None:
        progress(1.0)
    return Path(path)


def in_order(items: Iterator[Any], work: Callable[[Any], Any], workers: int = WORKERS,
             ahead: int = AHEAD) -> Iterator[tuple[Any, Any]]:
    """(item, ``work(item)``) in the order of ``items``, ``work`` running on ``workers``
    threads for up to ``ahead`` items at once (the edits of the frames to come are worked out
    while the current one is finished and encoded: OpenCV and NumPy release the GIL)."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="visemic-dub-edit")
    pending: collections.deque[tuple[Any, Future[Any]]] = collections.deque()
    try:
        for item in items:
            pending.append((item, pool.submit(work, item)))
            if len(pending) >= ahead:
                first, job = pending.popleft()
                yield first, job.result()
        while pending:
            first, job = pending.popleft()
            yield first, job.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Edits:
    """The edit of each output frame of a planned dub: where the chosen mouth goes."""

    def __init__(self, d: Dub) -> None:
        self.d = d
        self.compositor = Compositor(d.atlas, d.rest_local)
        self.follow = self.compositor.layout.follow.astype(np.float64)[:, None]
        self.atlas_rest = atlas_neutral(d.atlas)
        # The chosen mouths open about as asked; where they are open wider, the lower lip and
        # jaw move up the rest of the way (at most APERTURE_FIX eye distances).
        aperture = features.FEATURES.index("inner_aperture")
        chosen = d.atlas.features[d.choice, aperture].astype(np.float64)
        chosen = np.convolve(np.pad(chosen, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
        fix = np.clip(d.shapes[:, aperture] - chosen, -APERTURE_FIX, 0.0)
        fix[d.silent] = 0.0
        self.fix = fix
        # Lips that must seal (/p b m/) are not placed wider open than the real mouth shown (a
        # 40 ms /b/ between two vowels showed a slit of teeth): see :func:`seal`.
        self.seal = (d.classes == CLASSES.index("bilabial")) & ~d.silent
        self.lower = lower_jaw(d.rest_local)
        self.anchoring = geometry.anchoring(d.track.head_faces(200)[1], d.rest_local)

    def __call__(self, i: int, k: int) -> Edit | None:
        """Output frame ``i``'s edit of source frame ``k`` (None: shown as it is)."""
        d = self.d
        strength = float(d.track.strength[k])
        if d.edit is not None:
            strength *= float(d.edit[i])
        if strength <= 0:
            return None
        return self.placed(i, k, strength)

    def placed(self, i: int, k: int, strength: float = 1.0) -> Edit:
        """Output frame ``i``'s edit of source frame ``k`` at ``strength``, however the plan
        weighs it."""
        d = self.d
        current = d.track.full(k)
        disp = _displacement(d, i, self.atlas_rest)
        frame = geometry.head_frame(np.nan_to_num(current))
        disp[:, 1] += self.fix[i] * self.lower
        if self.seal[i]:
            own = d.atlas.full_local(int(d.choice[i])) - self.atlas_rest
            disp[:, 1] += seal(d.rest_local, disp, own) * self.lower
        # The new mouth is placed on the head as its rigid points lie in this frame (the head
        # frame alone tilts as the video's own jaw drops).
        local = geometry.to_local(current, frame)
        rot, shift = geometry.rigid_fit(d.rest_local, local)
        wanted = geometry.to_image(
            geometry.anchored((d.rest_local + disp) @ rot.T + shift, local, self.anchoring),
            frame)
        target = current + strength * self.follow * (wanted - current)
        target = np.where(np.isfinite(target), target, current)[:, :2]
        return Edit(current=current, target=target, entry=int(d.choice[i]), strength=strength)


def rest_distances(d: Dub) -> np.ndarray:
    """[frames] for each pause frame, how far (eye distances) the video's lips shown there are
    from where the edit places the rest: the larger of their mean landmark distance and the
    difference in the opening between the lips; NaN elsewhere and where unknown."""
    edits = Edits(d)
    lips = list(geometry.LIPS)
    gap = features.FEATURES.index("inner_aperture")
    out = np.full(d.frames, np.nan)
    for i in np.flatnonzero(d.silent):
        k = int(d.plan[i])
        if d.track.strength[k] <= 0:
            continue
        e = edits.placed(int(i), k)
        iod = float(features.inter_ocular(np.nan_to_num(e.current)))
        if not iod > 0:
            continue
        placed = e.current.copy()
        placed[:, :2] = e.target
        opening = features.lip_features(np.stack([e.current, placed]))[:, gap]
        out[i] = max(np.linalg.norm(e.target[lips] - e.current[lips, :2], axis=1).mean() / iod,
                     abs(float(opening[0] - opening[1])))
    return out


def passes_yuv(info: decode.VideoInfo, path: str | os.PathLike[str]) -> bool:
    """Whether frames can go from decoder to encoder as YUV 4:2:0 (even sizes, upright, a
    video file out)."""
    return (output_kind(path) != "png" and not info.rotation
            and info.width % 2 == 0 and info.height % 2 == 0)


@dataclass
class YuvWork:
    """:func:`prepare_i420`'s result: the ``box`` (x0, y0, x1, y1, even) of the YUV picture
    that may change, as RGB (``rgb``), and the compositor's ``layers`` for that box."""

    box: tuple[int, int, int, int]
    rgb: np.ndarray
    layers: Layers


def apply_i420(compositor: Compositor, yuv: np.ndarray, edit: Edit) -> None:
    """:meth:`Compositor.apply` on a YUV 4:2:0 picture (planar, (H·3/2)×W uint8, edited in
    place): the box the edit may change goes to RGB, is edited, and only the pixels it changed
    (and the chroma of their 2×2 blocks) are written back. :func:`prepare_i420`, then
    :func:`finish_i420`."""
    work = prepare_i420(compositor, yuv, edit)
    if work is not None:
        finish_i420(compositor, yuv, work)


def _planes(yuv: np.ndarray, box: tuple[int, int, int, int]) -> list[np.ndarray]:
    """The Y, U and V parts (views) of a YUV 4:2:0 picture in an even ``box``."""
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    x0, y0, x1, y1 = box
    flat = yuv.reshape(-1)
    planes = (yuv[:h], flat[h * w:h * w * 5 // 4].reshape(h // 2, w // 2),
              flat[h * w * 5 // 4:].reshape(h // 2, w // 2))
    rows = (slice(y0, y1), slice(y0 // 2, y1 // 2), slice(y0 // 2, y1 // 2))
    cols = (slice(x0, x1), slice(x0 // 2, x1 // 2), slice(x0 // 2, x1 // 2))
    return [p[r, c] for p, r, c in zip(planes, rows, cols, strict=True)]


def prepare_i420(compositor: Compositor, yuv: np.ndarray, edit: Edit) -> YuvWork | None:
    """:meth:`Compositor.prepare` for a YUV 4:2:0 picture (read, not changed; None: nothing
    changes)."""
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    box = compositor.region(edit, (h, w))
    if box is None:
        return None
    x0, y0, x1, y1 = box
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    x1, y1 = min(w, x1 + x1 % 2), min(h, y1 + y1 % 2)
    parts = _planes(yuv, (x0, y0, x1, y1))
    bh, bw = y1 - y0, x1 - x0
    packed = np.concatenate([q.reshape(-1) for q in parts]).reshape(bh * 3 // 2, bw)
    rgb = cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420)
    shift = np.array([x0, y0, 0.0])
    layers = compositor.prepare(rgb, replace(edit, current=edit.current - shift,
                                             target=np.asarray(edit.target) - shift[:2]))
    return None if layers is None else YuvWork((x0, y0, x1, y1), rgb, layers)


def finish_i420(compositor: Compositor, yuv: np.ndarray, work: YuvWork) -> None:
    """:meth:`Compositor.finish` for a YUV 4:2:0 picture, edited in place (frames in order)."""
    rgb = work.rgb
    before = rgb.copy()
    compositor.finish(rgb, work.layers)
    changed = differs(rgb, before)
    if not changed.any():
        return
    x0, y0, x1, y1 = work.box
    parts = _planes(yuv, work.box)
    bh, bw = y1 - y0, x1 - x0
    back = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    n = bh * bw
    luma = back[:n].reshape(bh, bw)
    parts[0][changed] = luma[changed]
    blocks = changed[0::2, 0::2] | changed[0::2, 1::2] | changed[1::2, 0::2] | changed[1::2, 1::2]
    for part, chroma in ((parts[1], back[n:n * 5 // 4]), (parts[2], back[n * 5 // 4:])):
        part[blocks] = chroma.reshape(bh // 2, bw // 2)[blocks]


def _last(d: Dub) -> float:
    t = d.track.times
    return float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / (d.info.fps or 25)


def seal(rest_local: np.ndarray, placed: np.ndarray, own: np.ndarray) -> float:
    """How far (IOD, local y; ≤ 0) a /p b m/ frame's lower lip moves up (:func:`lower_jaw`) so
    that the mouth ``placed`` (478×3 displacement from ``rest_local``: the chosen mouths
    blended over neighbouring frames, closed as asked) is no wider open than the real mouth
    pasted there (``own``: the chosen entry's displacement), and never up past lips already
    together.

    The blend with open neighbours and the opening asked are what parted a closed mouth's
    lips (face4 speaking GRID's "lay blue": a closed mouth placed 0.04–0.07 IOD open, the
    dark between its lips stretched into a slit of teeth). A mouth Face Mesh measured open
    stays as open: on GRID's swiz3n a /b/ mouth measured 0.11 IOD open is closed in its pixels
    (the lower inner-lip landmarks lie on the red of the lip), and a seal to the rest opening
    worked out from the measured one (commit a5409a0, reverted) pushed its lower lip that far
    over the upper."""
    shown = float(geometry.inner_gap(rest_local + placed))
    real = float(geometry.inner_gap(rest_local + own))
    if not (np.isfinite(shown) and np.isfinite(real)):
        return 0.0
    return max(min(0.0, real - shown), min(shown, 0.0) - shown)


def lower_jaw(rest_local: np.ndarray) -> np.ndarray:
    """[478] how far each landmark moves when the lower lip moves up or down: the whole lower
    lip (its inner edge fading out towards the corners) and everything below it.

    Weighted by height alone, the lower lip's inner edge (level with the upper lip's in a closed
    rest) stayed and only its outer edge and the chin moved: the lip grew thicker or thinner
    instead of the mouth closing. Moving the inner edge half as far (as when the lower lip was
    also moved down to open a mouth) left a /b/'s lips apart, and Face Mesh read the lip as
    moved whole anyway (the rendered inner edge moved 0.8–1.1 times the outer edge's move on
    face4 and the anchor); moving it whole brought the lips of swiz3n's self-reenactment 0.002
    IOD closer to the real ones (face4, lbbc2a, anchor: 0.000–0.0003)."""
    r = np.nan_to_num(np.asarray(rest_local, np.float64), nan=-9.0)
    lip_line = float(np.mean(r[[13, 14], 1]))
    out = geometry.smoothstep((r[:, 1] - lip_line) / 0.05)
    lower = list(mesh.LIPS_INNER_LOWER[1:-1] + mesh.LIPS_OUTER_LOWER[1:-1])
    corners = r[[61, 291], 0]
    centre, half = float(corners.mean()), max(float(abs(corners[1] - corners[0])) / 2, 1e-3)
    along = np.abs(r[lower, 0] - centre) / half
    taper = 1.0 - geometry.smoothstep((along - 0.5) / 0.5)
    out[lower] = np.maximum(out[lower], taper)
    return out


def _displacement(d: Dub, i: int, atlas_rest: np.ndarray) -> np.ndarray:
    """The chosen mouths' shapes around output frame ``i`` relative to the atlas's rest,
    smoothed [1 2 1] over neighbouring frames (478×3, head frame; NaN where not kept); a pause
    frame shows its own (the rest) alone: silence does not move, not even towards the speech
    that follows."""
    total = np.zeros((mesh.N_REFINED, 3))
    weight = 0.0
    around = ((i, 1.0),) if d.silent[i] else ((i - 1, 1.0), (i, 2.0), (i + 1, 1.0))
    for j, w in around:
        if 0 <= j < d.frames:
            total += w * (d.atlas.full_local(int(d.choice[j])) - atlas_rest)
            weight += w
    return total / weight


def _source_frames(d: Dub, i420: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(source index, picture: RGB, or planar YUV 4:2:0 with ``i420``) in plan order: forward
    runs decode straight through, backward runs decode chunks after a seek and play them
    reversed."""
    plan = d.plan
    n = len(plan)
    i = 0
    while i < n:
        j = i
        if i + 1 < n and plan[i + 1] == plan[i] - 1:
            while j + 1 < n and plan[j + 1] == plan[j] - 1:
                j += 1
            yield from _backward(d.video, d.track.times, int(plan[i]), int(plan[j]), i420)
        else:
            while j + 1 < n and plan[j + 1] == plan[j] + 1:
                j += 1
            yield from _forward(d.video, int(plan[i]), int(plan[j]), i420)
        i = j + 1


def _forward(path: str, lo: int, hi: int, i420: bool = False) -> Iterator[tuple[int,
                                                                               np.ndarray]]:
    if not i420:
        frames = decode.frames(path)
        try:
            for frame in frames:
                if frame.index > hi:
                    break
                if frame.index >= lo:
                    yield frame.index, frame.image
        finally:
            frames.close()
        return
    # As decode.frames counts them: every decoded frame is one index.
    with av.open(path) as container:
        stream = [s for s in container.streams.video if not s.disposition & 1024][0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index > hi:
                break
            if index >= lo:
                yield index, _picture(frame, True)


def _backward(path: str, times: np.ndarray, hi: int, lo: int, i420: bool = False,
              budget: int = BACKWARD_BYTES) -> Iterator[tuple[int, np.ndarray]]:
    """Source frames ``hi`` down to ``lo``: chunks of at most ``budget`` bytes of pictures
    decoded after a seek, played reversed."""
    with av.open(path) as container:
        stream = [s for s in container.streams.video if not s.disposition & 1024][0]
        stream.thread_type = "AUTO"
        picture = max(1, (stream.width or 1) * (stream.height or 1) * (3 if not i420 else 1.5))
        size = max(BACKWARD_MIN, int(budget // picture))
        for end in range(hi, lo - 1, -size):
            start = max(lo, end - size + 1)
            got = _chunk(path, container, stream, times, start, end, i420)
            if not got:
                continue
            # Frames that did not decode are their nearest neighbour's copy, made before any
            # is handed on: the consumer edits the frames it is given (on another thread while
            # this one decodes ahead), and a copy made later would catch an edit half done.
            chunk = [(k, got[k] if k in got else
                      got[min(got, key=lambda g: abs(g - k))].copy())
                     for k in range(end, start - 1, -1)]
            yield from chunk


def _chunk(path: str, container: Any, stream: Any, times: np.ndarray, start: int,
           end: int, i420: bool) -> dict[int, np.ndarray]:
    """Source frames ``start``…``end`` by index, decoded from the last key frame before
    ``start``. Seeking is inexact in some containers (in MPEG program streams it lands up to
    a GOP after the time asked for, even when asked for 0) and the frames decoded before the
    first key frame after a seek are broken: those are skipped, and the seek goes further back
    until a key frame at or before ``start`` is found; near the start the file is decoded
    from its beginning, unseeked."""
    tb = stream.time_base
    back = 1.0
    while True:
        at = float(times[start]) - back
        if at <= float(times[0]) or not tb:
            with av.open(path) as fresh:
                video = [s for s in fresh.streams.video if not s.disposition & 1024][0]
                video.thread_type = "AUTO"
                return _decoded(fresh.decode(video), times, start, end, True, i420)[0]
        container.seek(int(at / tb), stream=stream, backward=True)
        got, first = _decoded(container.decode(stream), times, start, end, False, i420)
        if first is not None and first <= start:
            return got
        back *= 2.0


def _decoded(frames: Iterator[av.VideoFrame], times: np.ndarray, start: int, end: int,
             any_first: bool, i420: bool) -> tuple[dict[int, np.ndarray], int | None]:
    """(frames ``start``…``end`` of ``frames`` by index, the index of the first frame taken):
    frames before the first key frame are skipped unless ``any_first``."""
    got: dict[int, np.ndarray] = {}
    first: int | None = None
    for frame in frames:
        if frame.time is None:
            continue
        if first is None and not (frame.key_frame or any_first):
            continue
        k = _nearest(times, frame.time)
        first = k if first is None else first
        if k > end:
            break
        if k >= start:
            got[k] = _picture(frame, i420)
    return got, first


def _nearest(times: np.ndarray, t: float) -> int:
    k = int(np.searchsorted(times, t))
    if k >= len(times) or (k > 0 and t - times[k - 1] < times[k] - t):
        k -= 1
    return k


def _picture(frame: av.VideoFrame, i420: bool) -> np.ndarray:
    """The frame as RGB, upright; or as planar YUV 4:2:0 (as decoded: the caller keeps those
    to upright, even-sized videos)."""
    if i420:
        return frame.to_ndarray(format="yuv420p")
    image = frame.to_ndarray(format="rgb24")
    try:
        angle = int(round(float(frame.rotation or 0) / 90.0)) % 4
    except (AttributeError, TypeError, ValueError):
        angle = 0
    return np.ascontiguousarray(np.rot90(image, angle)) if angle else image
