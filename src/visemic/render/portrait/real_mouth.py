"""A portrait's mouth taken from a video of the same person (``mouth_from=CLIP``).

The mouths are dubbing's (:mod:`visemic.dub`): the clip's mouth atlas, the map from visemic's
curves to this person's lip shapes learned on the clip's own speech, and the choice of a real
mouth per output frame (dynamic programming over the atlas, :func:`visemic.dub.pipeline.
choose_mouths`). The portrait's rig still moves the face (jaw, lips, cheeks); where the lips
part, the chosen mouth is warped from its own landmarks onto the rig's and laid over the warped
portrait with dubbing's feathered, colour-matched mouth layer
(:meth:`visemic.dub.composite.Compositor.mouth_layer`) in place of the painted interior.
Closed lips stay the portrait's own, so the first frame and the rest frames are the picture.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from visemic.dub import geometry
from visemic.dub.atlas import Atlas
from visemic.dub.composite import Compositor
from visemic.dub.shapes import ShapeProfile
from visemic.errors import VisemicError
from visemic.result import Result


class RealMouth:
    """The mouths of one clip, ready to be planned for a speech (:meth:`plan`) and pasted into
    a portrait's frames (:meth:`paste`). ``shapes`` maps curves to lip shapes: the clip's own
    (learned on its speech) until :meth:`attach` gives it the portrait's rig."""

    def __init__(self, atlas: Atlas, shapes: ShapeProfile, name: str = "the clip") -> None:
        self.atlas = atlas
        self.shapes = shapes
        self.name = name
        self._compositor: Compositor | None = None
        self._choice = np.zeros(0, np.int64)
        self._fps = 1.0

    @classmethod
    def from_clip(cls, clip: str | os.PathLike[str], language: str | None = None,
                  profile: Any = None,
                  progress: Callable[[float], None] | None = None) -> RealMouth:
        """Build the atlas of ``clip`` (raises :class:`VisemicError` without a usable mouth)."""
        from visemic.dub.pipeline import reference_mouths

        path = os.fspath(clip)
        if not os.path.isfile(path):
            raise VisemicError(f"{path}: no such file (mouth_from)")
        atlas, shapes = reference_mouths(path, language=language, profile=profile,
                                         progress=progress)
        return cls(atlas, shapes, path)

    def attach(self, renderer: Any) -> None:
        """Fit the paste layout to a :class:`~visemic.render.portrait.PortraitRenderer`'s face,
        and choose mouths by the lip shapes its rig poses: the real mouth is warped onto the
        rig's lips, so one opened as far needs no stretching (teeth pulled into streaks)."""
        rest = renderer.rig.rest
        frame = geometry.head_frame(rest)
        self._compositor = Compositor(self.atlas, geometry.to_local(rest, frame))
        self.shapes = _RigShapes(renderer)

    @property
    def paste_points(self) -> np.ndarray:
        """The landmarks whose area shows the real mouth (indices into the 478)."""
        if self._compositor is None:
            raise RuntimeError("attach() the portrait first")
        return self._compositor.layout.paste

    def plan(self, speech: Result, fps: float, count: int) -> None:
        """Choose a mouth for each of ``count`` output frames at ``fps`` of ``speech``."""
        from visemic.dub.pipeline import choose_mouths

        times = np.arange(count) / float(fps)
        self._choice, *_ = choose_mouths(self.atlas, self.shapes, speech, times)
        self._fps = float(fps)

    def entry(self, t: float | None, values: np.ndarray, channels: Any) -> int:
        """The atlas entry planned at ``t`` seconds; without a plan (or ``t``), the mouth
        whose shape is nearest what the curve row ``values`` asks for."""
        if t is not None and len(self._choice):
            k = int(np.clip(round(t * self._fps), 0, len(self._choice) - 1))
            return int(self._choice[k])
        from visemic.dub import select
        from visemic.dub.atlas import CLASSES

        target = np.asarray(self.shapes(np.atleast_2d(values), channels), np.float64)
        other = np.full((1, 3), CLASSES.index("other"), np.int32)
        return int(np.argmin(select.target_costs(self.atlas, target, other)[0]))

    def paste(self, image: np.ndarray, points: np.ndarray, iod: float, entry: int,
              opacity: float) -> None:
        """Lay atlas mouth ``entry`` over ``image`` (H×W×3/4 uint8, in place), its paste
        points at ``points`` (478×2, pixels of ``image``), ``opacity`` 0…1."""
        if self._compositor is None or opacity <= 0.0:
            return
        dst = points[self.paste_points, :2]
        h, w = image.shape[:2]
        pad = 0.1 * iod
        x0, y0 = np.floor(dst.min(axis=0) - pad).astype(int)
        x1, y1 = np.ceil(dst.max(axis=0) + pad).astype(int)
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return
        base = image[y0:y1, x0:x1, :3]
        mouth, alpha, base = self._compositor.mouth_layer(base, dst - [x0, y0], iod, entry)
        a = (alpha * float(opacity))[:, :, None]
        out = base.astype(np.float32) * (1.0 - a) + mouth * a
        image[y0:y1, x0:x1, :3] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


class _RigShapes:
    """Curve rows → the lip features (:data:`visemic.video.features.FEATURES`) of the lips a
    portrait's rig poses for them (a :class:`visemic.dub.shapes.ShapeProfile`)."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, values: np.ndarray, channels: Any) -> np.ndarray:
        from visemic.video import features

        rows = np.atleast_2d(np.asarray(values, np.float64))
        points = np.stack([self.renderer.pose(row, channels).points for row in rows])
        return features.lip_features(points)
