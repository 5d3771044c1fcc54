"""Putting a chosen mouth into a video frame, touching nothing outside the lower face.

Two layers, both piecewise-affine landmark warps (as portraits are animated):

1. **Jaw**: the frame's own lower face is warped from where its landmarks are to where the new
   mouth puts them: lips and chin follow fully, the weights fall to zero at the jaw's sides, the
   cheeks and the nose, and a ring of fixed points below the chin keeps the neck and collar in
   place. The chin moves with the new speech, and no second chin can show (it is the frame's own
   chin, moved).
2. **Mouth**: the atlas crop is warped from its own landmarks onto the same new positions
   (lips, teeth and the skin around them), its colour matched to the frame in a ring of skin
   around the lips (smoothed over time), and blended with a feathered mask that lies inside the
   lower face.

Pixels outside the union of the two warps' areas are the source frame's, untouched, and so is
everything above the nose wings' lowest point: the jaw mesh's triangles that join the (pinned)
nose to the moving upper lip reach a little above it, where a wide mouth movement would
otherwise shift the nose's edge by a fraction of a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from visemic.dub import geometry
from visemic.dub.atlas import Atlas
from visemic.render.portrait import mesh

ANCHOR_OUT = 0.45     # IOD beyond the jaw line: the fixed ring below the chin
FEATHER = 0.14        # IOD over which the mouth's mask fades in from its edge
LIP_MARGIN = 0.04     # IOD around the outer lips always shown from the atlas
RING = (0.08, 0.30)   # skin ring for colour matching: IOD outside the outer lips
COLOUR_MEMORY = 0.8   # share of the previous frames' skin colour kept each frame
# Where the video's own mouth is open wider than the new one, its lips (their outline, this
# far around in IOD, plus this share of how much wider it is open) are painted over with the
# skin around them before the jaw warp: Face Mesh places the lips of a wide-open mouth a
# little inside their edge, and that edge would otherwise show faintly around a closed mouth.
HIDE_MARGIN = (0.06, 0.5)
HIDE_IOD_PX = 40.0    # resolution the painting over is done at (pixels per IOD)
HIDE_FROM = 0.02      # IOD wider than the new mouth's opening before the source lips are hidden
LIPS_OUTER_RING = list(mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER)))
COARSE_MAP_PIXELS = 160 * 160  # warps of larger areas compute their maps at half resolution
NOSE_WINGS = list(mesh.NOSE_WING["right"] + mesh.NOSE_WING["left"])


@dataclass
class Edit:
    """One output frame's edit: ``current`` 478×3 landmarks in the frame (NaN where not kept),
    ``target`` 478×2 where the edit moves them, ``entry`` the atlas entry shown (with optional
    ``second``/``mix`` blended in), ``strength`` 0 (source frame) … 1."""

    current: np.ndarray
    target: np.ndarray
    entry: int
    strength: float = 1.0
    second: int | None = None
    mix: float = 0.0


@dataclass
class Layers:
    """One frame's edit worked out by :meth:`Compositor.prepare`, in the ``box`` (x0, y0, x1, y1)
    of the frame it changes: ``base`` the frame's lower face moved (its own open lips painted
    over), ``mouth`` the atlas mouth warped onto it (float32, its colour not yet matched) and
    ``alpha`` its mask, both in the box ``sub`` of ``base`` (alpha 0 outside it),
    ``skin``/``mouth_skin`` the mean colours of the frame and of the mouth in the skin ring
    around the lips (None: too few pixels), ``keep`` the rows at the top of the box left as
    they are, ``strength`` the edit's."""

    box: tuple[int, int, int, int]
    base: np.ndarray
    sub: tuple[int, int, int, int]
    mouth: np.ndarray
    alpha: np.ndarray
    skin: np.ndarray | None
    mouth_skin: np.ndarray | None
    keep: int
    strength: float


class Compositor:
    """Edits frames of one video with mouths from one atlas (see the module docstring).

    ``rest_local`` (478×3, head frame, NaN where not kept) is the video's face at rest; it fixes
    the mesh and which points follow the mouth.
    """

    def __init__(self, atlas: Atlas, rest_local: np.ndarray) -> None:
        self.atlas = atlas
        self.layout = geometry.mouth_layout(rest_local)
        rest = np.asarray(rest_local, np.float64)
        finite = np.isfinite(rest[:, 0])
        finite[mesh.N_SURFACE:] = False
        # The jaw mesh: lower-face points and the fixed ring below the jaw line.
        lower = np.flatnonzero(finite & (rest[:, 1] > -0.3))
        oval = [i for i in mesh.FACE_OVAL if finite[i] and rest[i, 1] > self.layout.centre[1] - 0.1]
        c = self.layout.centre
        ring = []
        for i in oval:
            d = rest[i, :2] - c[:2]
            ring.append(np.r_[rest[i, :2] + ANCHOR_OUT * d / max(np.hypot(*d), 1e-6), rest[i, 2]])
        self.base_points = lower
        self.anchor_local = np.array(ring) if ring else np.zeros((0, 3))
        layout_xy = np.vstack([rest[lower, :2], self.anchor_local[:, :2]])
        self.base_tris = Delaunay(layout_xy).simplices.astype(np.int32)
        # The atlas's points indexed like the full landmark set (paste points must be kept).
        pos = {int(k): i for i, k in enumerate(atlas.kept)}
        paste = [int(k) for k in self.layout.paste if int(k) in pos]
        if len(paste) != len(self.layout.paste):
            raise ValueError("the atlas does not hold every mouth landmark")
        self.paste_in_atlas = np.array([pos[k] for k in paste], np.int32)
        self.lips_outer = [list(self.layout.paste).index(i)
                           for i in mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER))]
        self._skin: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the smoothed skin colour (after a cut or a lost face)."""
        self._skin = None

    def region(self, edit: Edit, shape: tuple[int, ...]
               ) -> tuple[int, int, int, int] | None:
        """The box (x0, y0, x1, y1) of a picture of ``shape`` (H, W, …) that :meth:`apply`
        may change for ``edit``; None where it changes nothing."""
        return self._layer_points(edit, shape)[0]

    def _layer_points(self, edit: Edit, shape: tuple[int, ...]) -> tuple[
            tuple[int, int, int, int] | None, np.ndarray, np.ndarray]:
        """(the box :meth:`region` gives, the jaw mesh's points where they are and where they
        go: image pixels)."""
        frame = geometry.head_frame(np.nan_to_num(edit.current))
        cur = edit.current[:, :2]
        new = np.asarray(edit.target, np.float64)
        anchors = geometry.to_image(self.anchor_local, frame)[:, :2]
        src = np.vstack([cur[self.base_points], anchors])
        dst = np.vstack([new[self.base_points], anchors])
        if edit.strength <= 0.0 or not (np.isfinite(src).all() and np.isfinite(dst).all()):
            return None, src, dst
        h, w = shape[:2]
        x0, y0 = np.floor(np.minimum(src.min(0), dst.min(0))).astype(int) - 2
        x1, y1 = np.ceil(np.maximum(src.max(0), dst.max(0))).astype(int) + 3
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None, src, dst
        return (int(x0), int(y0), int(x1), int(y1)), src, dst

    def apply(self, image: np.ndarray, edit: Edit) -> None:
        """Edit ``image`` (H×W×3 RGB uint8) in place: :meth:`prepare`, then :meth:`finish`."""
        if edit.strength <= 0.0:
            self.reset()
            return
        layers = self.prepare(image, edit)
        if layers is not None:
            self.finish(image, layers)

    def prepare(self, image: np.ndarray, edit: Edit) -> Layers | None:
        """All of :meth:`apply`'s work on ``image`` (read, not changed) but for the skin colour
        smoothed over frames: it keeps no state, so frames can be prepared on several threads
        at once and finished in order (None: the edit changes nothing)."""
        box, src, dst = self._layer_points(edit, image.shape)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        cur = edit.current[:, :2]
        new = np.asarray(edit.target, np.float64)
        iod = geometry.head_frame(np.nan_to_num(edit.current)).iod
        roi = image[y0:y1, x0:x1]
        off = np.array([x0, y0], np.float64)
        painted = _hide_open_lips(roi, cur - off, new - off, iod)
        source = roi
        if painted is not roi:
            # The frame, the frame with its lips painted over, and where: warped together.
            where = differs(painted, roi).astype(np.uint8) * 255
            source = np.dstack([roi, painted, where])
        # No triangle is left out of this layer even if it folds over (lips closing over an
        # open mouth): a left-out triangle would show the video's own mouth where it was.
        base, _ = warp(source, src - off, dst - off, self.base_tris, (x1 - x0, y1 - y0))
        hidden = painted_base = None
        if base.shape[2] > 3:
            hidden, painted_base = base[..., 6], base[..., 3:6]
            base = np.ascontiguousarray(base[..., :3])
        # The mouth layer.
        mouth, alpha, sub, base, skin, mouth_skin = self._mouth_parts(
            base, new[self.layout.paste] - off, iod, edit.entry, edit.second, edit.mix,
            None if hidden is None else (hidden, painted_base))
        # Rows above the nose wings' lowest point keep the frame's pixels exactly (see the
        # module docstring): the edit there is at most a sub-pixel shift.
        wings = cur[NOSE_WINGS, 1]
        keep = int(np.floor(np.nanmax(wings))) - y0 if np.isfinite(wings).any() else 0
        keep = min(max(keep, 0), y1 - y0)
        return Layers(box=box, base=base, sub=sub, mouth=mouth, alpha=alpha, skin=skin,
                      mouth_skin=mouth_skin, keep=keep, strength=edit.strength)

    def finish(self, image: np.ndarray, layers: Layers) -> None:
        """Lay the prepared ``layers`` into ``image`` (in place), the mouth's colour matched to
        the skin colour smoothed over the frames finished so far (call in frame order)."""
        x0, y0, x1, y1 = layers.box
        roi = image[y0:y1, x0:x1]
        shape = roi.shape[:2]
        mouth = _embedded(self._matched(layers.mouth, layers.skin, layers.mouth_skin),
                          layers.sub, shape)
        alpha = _embedded(layers.alpha, layers.sub, shape)
        # (OpenCV's per-pixel blend: a third of the time of the same NumPy arithmetic; over
        # the whole box, alpha 0 outside the mouth's own, so every pixel rounds as it did)
        a = np.ascontiguousarray(alpha * layers.strength, np.float32)
        out = cv2.blendLinear(layers.base.astype(np.float32), mouth, 1.0 - a, a)
        if layers.strength < 1.0:
            out = cv2.addWeighted(roi.astype(np.float32), 1.0 - layers.strength, out,
                                  layers.strength, 0.0)
        keep = layers.keep
        roi[keep:] = cv2.convertScaleAbs(out[keep:])  # rounded, saturated

    def mouth_layer(self, base: np.ndarray, paste_dst: np.ndarray, iod: float, entry: int,
                    second: int | None = None, mix: float = 0.0,
                    painted: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The atlas mouth ``entry`` (blended ``mix`` with ``second``) warped onto
        ``paste_dst`` (the layout's paste points, pixels of ``base``), its colour matched to
        ``base`` (H×W×3) in a skin ring around the lips: (picture H×W×3 float32, alpha H×W
        0…1, the base to lay them over). ``painted`` (where, 0…255, and ``base`` with the
        video's own open lips painted over with skin) hides those lips: inside the paste the
        mouth covers them, under its feather the painted skin shows."""
        mouth, alpha, box, base, skin, mouth_skin = self._mouth_parts(
            base, paste_dst, iod, entry, second, mix, painted)
        mouth = self._matched(mouth, skin, mouth_skin)
        return _embedded(mouth, box, base.shape[:2]), _embedded(alpha, box, base.shape[:2]), base

    def _mouth_parts(self, base: np.ndarray, paste_dst: np.ndarray, iod: float, entry: int,
                     second: int | None = None, mix: float = 0.0,
                     painted: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int], np.ndarray,
                                np.ndarray | None, np.ndarray | None]:
        """:meth:`mouth_layer` but for the colour match: (mouth and alpha in the box around
        the mouth, that box (x0, y0, x1, y1) of ``base``, whose alpha is 0 outside it; the
        base; the frame's mean skin colour in the ring around the lips and the mouth's there:
        None, None where the ring is too small to say)."""
        h, w = base.shape[:2]
        blur = max(0.5, LIP_MARGIN * iod / 2)
        # Everything below is worked out in the box of the mouth's triangles alone, grown by
        # what reaches into them (OpenCV's Gaussian kernel for float pictures: 4σ; a pixel of
        # rasterising, one more for the distance transforms' zero ring): the same numbers as
        # over the whole picture (outside the triangles the mouth's alpha is 0), at a fraction
        # of the cost.
        bx0, by0, bx1, by1 = _grown_box(paste_dst, int(np.ceil(4 * blur)) + 3, (w, h))
        sub = (slice(by0, by1), slice(bx0, bx1))
        size = (bx1 - bx0, by1 - by0)
        mouth, covered = self._mouth(entry, paste_dst, size, (bx0, by0))
        if second is not None and mix > 0:
            other, _ = self._mouth(second, paste_dst, size, (bx0, by0))
            mouth = mouth * (1 - mix) + other * mix
        edge = cv2.distanceTransform(covered.astype(np.uint8), cv2.DIST_L2, 3)
        alpha = geometry.smoothstep(edge / max(FEATHER * iod, 1.0)).astype(np.float32)
        # Colour: gain per channel so the skin ring around the lips matches the frame's.
        lips = np.round(paste_dst[self.lips_outer]).astype(np.int32) - [bx0, by0]
        near = np.zeros(covered.shape, np.uint8)
        cv2.fillPoly(near, [lips], 1)
        # The lips and the mouth opening are the atlas's whatever the feather: the video's own
        # (differently opened) mouth must never show through.
        # (one distance transform from the lips gives every band around them)
        from_lips = cv2.distanceTransform(1 - near, cv2.DIST_L2, 3) / iod
        solid = (from_lips <= LIP_MARGIN).astype(np.float32)
        solid = cv2.GaussianBlur(solid, (0, 0), blur)
        # (fading in over LIP_MARGIN from the paste's edge: where that edge is the lip's own
        # outline, at the top of the upper lip, a hard cut there showed the atlas lip's light
        # border as a thin bright line over the video's own lip edge)
        # (a smoothstep written out: np.clip takes twice the time)
        fade = np.minimum(edge * np.float32(1.0 / max(LIP_MARGIN * iod, 1.0)), np.float32(1.0))
        fade *= fade * (np.float32(3.0) - 2 * fade)
        fade *= solid
        alpha = np.maximum(alpha, fade)
        under = base[sub]  # the frame's own skin, for the colour match
        whole = base
        if painted is not None:
            hidden, painted_base = painted
            # The video's own lips, painted over, show nowhere: inside the paste the mouth
            # covers them (the person's own skin, beard and all), fading in from the paste's
            # edge; under its feather the painted skin shows, fading in as the mouth does (a
            # quicker fade drew the paste's outline on the cheek); beyond it, the frame as it
            # was (painted skin there would shave a beard).
            soft = cv2.GaussianBlur(hidden[sub].astype(np.float32) / 255.0, (0, 0), blur)
            inward = soft * geometry.smoothstep(edge / max(0.5 * FEATHER * iod, 1.0))
            alpha = np.maximum(alpha, inward)
            w_in = inward[..., None]
            whole = base.astype(np.float32)
            whole[sub] = (under.astype(np.float32) * (1 - w_in)
                          + painted_base[sub].astype(np.float32) * w_in)
        ring = (from_lips > RING[0]) & (from_lips <= RING[1]) & covered
        ring8 = ring.astype(np.uint8)
        box = (bx0, by0, bx1, by1)
        if cv2.countNonZero(ring8) < 10:
            return mouth, alpha, box, whole, None, None
        # (cv2.mean with a mask: a tenth of the time of NumPy's masked mean)
        skin = np.array(cv2.mean(np.ascontiguousarray(under), ring8)[:3], np.float32)
        return mouth, alpha, box, whole, skin, np.array(cv2.mean(mouth, ring8)[:3])

    def _matched(self, mouth: np.ndarray, skin: np.ndarray | None,
                 mouth_skin: np.ndarray | None) -> np.ndarray:
        """``mouth`` with a gain per channel so that its colour in the skin ring matches the
        frame's ``skin`` there, smoothed over the frames so far (the one stateful step)."""
        if skin is None or mouth_skin is None:
            return mouth
        if self._skin is None:
            self._skin = skin
        else:
            self._skin = COLOUR_MEMORY * self._skin + (1 - COLOUR_MEMORY) * skin
        gain = (self._skin + 4.0) / (mouth_skin + 4.0)
        return mouth * np.clip(gain, 0.6, 1.6)

    def _mouth(self, entry: int, dst: np.ndarray, size: tuple[int, int],
               origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        src = self.atlas.points[entry][self.paste_in_atlas].astype(np.float64)
        sign = np.sign(_areas(src[self.layout.paste_triangles]))
        pic, covered = warp(self.atlas.crops[entry], src, dst, self.layout.paste_triangles, size,
                            sign, origin=origin, within=False)
        return pic.astype(np.float32), covered


def _embedded(part: np.ndarray, box: tuple[int, int, int, int],
              shape: tuple[int, ...]) -> np.ndarray:
    """``part`` (float, the pixels of ``box`` (x0, y0, x1, y1)) in a float32 picture of
    ``shape`` (H, W) that is 0 outside the box."""
    x0, y0, x1, y1 = box
    out = np.zeros(tuple(shape[:2]) + part.shape[2:], np.float32)
    out[y0:y1, x0:x1] = part
    return out


def _grown_box(points: np.ndarray, margin: int, size: tuple[int, int]
               ) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the box of ``points`` grown by ``margin`` pixels, within a picture of
    ``size`` (w, h); all of it where a point is not finite."""
    w, h = size
    p = np.asarray(points, np.float64)
    if not np.isfinite(p).all():
        return 0, 0, w, h
    x0, y0 = np.floor(p.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(p.max(axis=0)).astype(int) + margin + 1
    return max(0, int(x0)), max(0, int(y0)), min(w, max(1, int(x1))), min(h, max(1, int(y1)))


def differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """H×W: where two H×W×3 pictures differ in any channel (NumPy's ``any(axis=2)`` reduces
    over the short last axis ten times slower)."""
    d = a != b
    return d[..., 0] | d[..., 1] | d[..., 2]


def _hide_open_lips(roi: np.ndarray, cur: np.ndarray, new: np.ndarray,
                    iod: float) -> np.ndarray:
    """``roi`` with the video's own lips painted over by the skin around them where its mouth
    is open wider than the new one (``cur``/``new``: landmarks in ROI pixels); ``roi`` itself
    (not a copy) where it is not."""
    gap_now = float(np.hypot(*(cur[14] - cur[13])))
    gap_new = float(np.hypot(*(new[14] - new[13])))
    wider = (gap_now - gap_new) / max(iod, 1e-6)
    if not np.isfinite(wider) or wider < HIDE_FROM:
        return roi
    lips = cur[LIPS_OUTER_RING]
    if not np.isfinite(lips).all():
        return roi
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(lips).astype(np.int32)], 255)
    grow = int(np.ceil((HIDE_MARGIN[0] + HIDE_MARGIN[1] * wider) * iod))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                       (2 * grow + 1, 2 * grow + 1)))
    # Upwards only the lip's own margin: an open mouth's upper lip hardly moves, and painting
    # reaching the nose would meet the rows kept exactly below it in a straight edge.
    top = int(np.floor(np.min(lips[:, 1]) - HIDE_MARGIN[0] * iod))
    mask[:max(0, top)] = 0
    # Only the face is painted over (a turned head's far cheek is near its mouth: hair or
    # background beyond it must not be smeared into the face).
    oval = cur[list(mesh.FACE_OVAL)]
    oval = oval[np.isfinite(oval).all(axis=1)]
    unknown = mask
    if len(oval) >= 8:
        face = np.zeros_like(mask)
        hull = cv2.convexHull(np.round(np.vstack([oval, lips])).astype(np.int32))
        cv2.fillPoly(face, [hull], 255)
        inset = max(1, int(round(HIDE_MARGIN[0] * iod)))
        face = cv2.erode(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                         (2 * inset + 1, 2 * inset + 1)))
        mask &= face
        if not mask.any():
            return roi
        # ... nor filled from it: the fill is inpainted from the face's own pixels only (on a
        # turned head the hole reaches the far cheek's edge, and the background beyond it,
        # drawn in, left a grey band that showed as a dark arc along the mouth's edge).
        unknown = mask | ~face
    # The fill is smooth skin: painted at most HIDE_IOD_PX pixels per IOD, then scaled up
    # (a full-size inpaint takes ~30 ms at 1080×1920).
    k = min(1.0, HIDE_IOD_PX / max(iod, 1e-6))
    h, w = roi.shape[:2]
    if k < 1.0:
        size = (max(2, round(w * k)), max(2, round(h * k)))
        small = cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
        hole = cv2.resize(unknown, size, interpolation=cv2.INTER_NEAREST)
        hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))
        filled = cv2.inpaint(small, hole, max(2, round(grow * k / 2)), cv2.INPAINT_TELEA)
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        filled = cv2.inpaint(roi, unknown, max(2, grow // 2), cv2.INPAINT_TELEA)
    out = roi.copy()
    inside = mask.astype(bool)
    out[inside] = filled[inside]
    return out


def warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray,
         size: tuple[int, int], sign: np.ndarray | None = None,
         origin: tuple[int, int] = (0, 0), within: bool | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of ``image``: triangle vertices at ``src`` (V×2, image pixels) go
    to ``dst`` (output pixels); the output is ``size`` (w, h), the output pixels from ``origin``
    (x, y) on. Returns the picture (pixels outside every triangle: the output position read
    from ``image`` as is) and which pixels a triangle covers. Triangles that turn over
    (orientation against ``sign``) or collapse are left out, but for slivers that turn over,
    drawn under the others. ``within``: whether ``image`` is warped within itself (output
    pixels are its pixels; default: when the sizes agree and the origin is 0)."""
    w, h = size
    ox, oy = origin
    if within is None:
        within = image.shape[:2] == (h, w) and origin == (0, 0)
    if within and origin != (0, 0):
        raise ValueError("a picture warped within itself starts at its origin")
    tri_d = np.asarray(dst, np.float64)[triangles]
    tri_s = np.asarray(src, np.float64)[triangles]
    coef, ok = _affines(tri_d, tri_s)
    slivers = np.zeros(0, np.int64)
    if sign is not None:
        area = _areas(tri_d)
        turned = ok & (np.sign(area) * sign < 0)
        ok &= ~turned
        # Slivers that turn over (at the corners of lips pressed together Face Mesh's inner
        # points cross) are drawn under the rest: left out, they were pinholes in the mouth
        # where the video's own open mouth showed through (a speck of its teeth).
        if ok.any():
            small = turned & (np.abs(area) < 0.25 * np.median(np.abs(area[ok])))
            slivers = np.flatnonzero(small)
    if within:
        # Triangles that do not move are the identity: no need to draw them.
        ok &= np.abs(tri_d - tri_s).max(axis=(1, 2)) > 0.01
    n = len(triangles)
    # Large areas: the maps are computed on every other pixel and scaled up (they are affine
    # inside each triangle and continuous across its edges, so this is exact but for a
    # sub-pixel rounding of the corners along the edges), a quarter of the work.
    # (only where the picture is warped within itself: outside every triangle it stays as
    # it is, so the maps are continuous everywhere; a mouth crop's maps are not, around
    # triangles left out)
    step = 2 if w * h >= COARSE_MAP_PIXELS and within else 1
    hw, hh = -(-w // step), -(-h // step)
    ids = np.full((hh, hw), n, np.int32)
    # (a coarse pixel's centre is at step·i + (step − 1)/2 in output pixels)
    # (an origin moves the fixed-point corners by whole pixels: the same pixels are drawn)
    fixed = np.round((tri_d - (step - 1) / 2) / step * 16).astype(np.int32) \
        - np.array([16 * ox, 16 * oy], np.int32)
    # Larger triangles are drawn last: a pixel on the edge between two is the larger one's (a
    # near-degenerate triangle's map, extrapolated half a pixel beyond it, reads far away: a
    # speck of teeth or collar at a lip corner).
    drawn = np.flatnonzero(ok)
    drawn = drawn[np.argsort(np.abs(_areas(tri_d[drawn])), kind="stable")]
    for k in np.r_[slivers, drawn].tolist():
        cv2.fillConvexPoly(ids, fixed[k], k, lineType=cv2.LINE_8, shift=4)
    gx = (np.arange(hw, dtype=np.float32) * step + (step - 1) / 2 + ox)[None, :]
    gy = (np.arange(hh, dtype=np.float32) * step + (step - 1) / 2 + oy)[:, None]
    # Per pixel, its triangle's affine map (one coefficient plane at a time).
    map_x = np.take(coef[:, 0], ids) * gx + np.take(coef[:, 1], ids) * gy \
        + np.take(coef[:, 2], ids)
    map_y = np.take(coef[:, 3], ids) * gx + np.take(coef[:, 4], ids) * gy \
        + np.take(coef[:, 5], ids)
    if step > 1:
        map_x = cv2.resize(map_x, (hw * step, hh * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
        map_y = cv2.resize(map_y, (hw * step, hh * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
        ids = cv2.resize(ids, (hw * step, hh * step), interpolation=cv2.INTER_NEAREST)[:h, :w]
        gx = np.arange(w, dtype=np.float32)[None, :]
        gy = np.arange(h, dtype=np.float32)[:, None]
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if within:
        # Where the warp does not move anything (pinned triangles), keep the pixels exactly:
        # interpolating at a position a rounding error away would change them by a level.
        still = (np.abs(map_x - gx) < 0.02) & (np.abs(map_y - gy) < 0.02)
        out[still] = image[still]
    return out, ids < n


def _affines(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the affine map dst → src (6 float32 coefficients; an identity row appended
    for pixels outside every triangle) and which triangles have area."""
    t0, e1, e2 = dst[:, 0], dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-6
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    i00, i01, i10, i11 = e2[:, 1] * inv, -e2[:, 0] * inv, -e1[:, 1] * inv, e1[:, 0] * inv
    f1, f2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
    a = f1[:, 0] * i00 + f2[:, 0] * i10
    b = f1[:, 0] * i01 + f2[:, 0] * i11
    c = f1[:, 1] * i00 + f2[:, 1] * i10
    d = f1[:, 1] * i01 + f2[:, 1] * i11
    tx = src[:, 0, 0] - a * t0[:, 0] - b * t0[:, 1]
    ty = src[:, 0, 1] - c * t0[:, 0] - d * t0[:, 1]
    coef = np.empty((len(dst) + 1, 6), np.float32)
    coef[:-1] = np.stack([a, b, tx, c, d, ty], axis=1)
    coef[-1] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    return coef, ok


def _areas(tri: np.ndarray) -> np.ndarray:
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]


