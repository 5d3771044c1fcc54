"""A landmark-space face rig: ARKit-52 values + head angles → moved Face Mesh landmarks.

Most channels are linear: each moves groups of landmarks by a fixed offset, spread to nearby
landmarks with a Gaussian falloff (``MOVES`` in :mod:`~visemic.render.portrait.rig_tables`, the
one table of per-channel displacements, in units of the distance between the eyes, in the face's
own frame). Three motions are not
linear and are computed per frame: the jaw turns about its hinge (behind the cheek, under the
ear), the lids close onto a line between them, and the head turns the whole landmark set in
3D about a point in the neck. Anchor rings around the head follow it partly (hair, neck) and
the frame's border not at all, so the background stays put.

Conventions (ARKit's): "Left" is the subject's left (the picture's right); the lips are apart
by ``jawOpen − mouthClose``; head angles in degrees, ``headYaw`` > 0 turns the nose towards
the picture's right, ``headPitch`` > 0 nods it down, ``headRoll`` > 0 tilts the top of the
head towards the picture's left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visemic.motion.arkit import CHANNELS, INDEX
from visemic.render.portrait import mesh
from visemic.render.portrait.rig_jaw import JawRig, jaw_turn
from visemic.render.portrait.rig_lids import EyelidRig
from visemic.render.portrait.rig_tables import (
    ANCHOR_JAW,
    BOUNDARY_SPACING,
    LOWER_TEETH,
    MOVES,
    NECK_BELOW_EYES,
    NECK_DEPTH,
    RING_FOLLOW,
    RING_SCALE,
    ROUND_OPENING,
    ROUND_OUTLINE,
    ROUND_PUSH,
    ROUND_REACH,
    ROUND_TEETH,
    ROUNDING,
    TUCK_FROM,
    TUCK_FULL,
    TUCK_UNDER,
    TURN_SLOPE,
    UPPER_TEETH,
)


@dataclass
class Pose:
    """The rig's output for one frame, in image pixels."""

    points: np.ndarray  # 478×3 landmarks
    anchors: np.ndarray  # A×2 anchor points around the head
    teeth_upper: np.ndarray  # 11×2 lower edge of the upper incisors, right corner → left
    teeth_lower: np.ndarray  # 11×2 upper edge of the lower incisors
    tongue_out: float
    # Per side, the eyeball: the 16-point eye loop at its most open (the lids slide over it,
    # they do not squash it) and the iris centre, 17×2.
    eyeballs: dict[str, np.ndarray]
    blink: dict[str, float]


class Rig(JawRig, EyelidRig):
    """Poses the landmarks of one face.

    ``landmarks`` (478×3, image pixels) are the face as photographed. A mouth photographed open
    is closed for the rest pose (:attr:`rest`); :attr:`mouth_was_open` says so.
    """

    def __init__(self, landmarks: np.ndarray, crop: tuple[int, int, int, int]) -> None:
        self.source = np.asarray(landmarks, np.float64).copy()
        self._set_frame(self.source)
        self._fix_iris_centres(self.source)
        self.mouth_was_open = self._mouth_gap(self.source) > 0.03 * self.iod
        rest = self.source.copy()
        if self.mouth_was_open:
            rest = self._close_mouth(rest)
        self.rest = rest
        self._set_frame(rest)
        self.jaw_weight = self._jaw_weights(rest)
        self._set_jaw(rest)
        self._basis = self._linear_basis(rest)
        self._set_rounding(rest)
        self._set_closure(rest)
        self._basis_flat = self._basis.reshape(52, -1)
        self._set_lids(rest)
        # How far each landmark's depth is brought forward for turns (see TURN_SLOPE).
        self._depth_cut = rest[:, 2] - _flattened_depth(rest)
        self._eyeball_cut = self._depth_cut[[i for side in mesh.SIDES
                                             for i in self._lids[side]["loop"]]]
        self.anchor_rest, self.anchor_follow = self._anchors(rest, crop)
        # Anchors beside and below the jaw (the face's edge, the neck) go most of the way
        # with the chin as it drops: the soft edge of the face moves as a piece instead of
        # being squeezed into a hard line with a kink at the hinge.
        self.anchor_jaw = (np.minimum(1.0, ANCHOR_JAW * self.anchor_follow)
                           * self._jaw_field(rest, self.to_face(self.anchor_rest)))
        # The neck turns less than the head (the outer ring, still, stays still).
        self.anchor_follow[(self.anchor_jaw > 0.05) & (self.anchor_follow > 0)] = 0.5
        self._set_teeth(rest)

    # ------------------------------------------------------------------ public

    def pose(self, values: np.ndarray, head_scale: float = 1.0) -> Pose:
        """Landmarks for one row of values in :data:`visemic.motion.arkit.CHANNELS` order."""
        v = np.asarray(values, np.float64)
        shapes = np.clip(v[:52], 0.0, 1.0)
        jaw_open = jaw_turn(float(shapes[INDEX["jawOpen"]]))
        pts = self.rest.copy()
        moving = np.flatnonzero(shapes)
        if moving.size:
            # (einsum, not a BLAS product: threads would cost more than this small sum)
            pts[:, :2] += np.einsum("c,cp->p", shapes[moving],
                                    self._basis_flat[moving]).reshape(-1, 2)
        eyeballs = self._apply_lids(pts, shapes)
        pts += self.jaw_weight[:, None] * self._jaw_delta(pts, jaw_open)
        self._close_lips(pts, shapes)
        rounding = self._round_lips(pts, shapes)
        self._uncross_lips(pts)
        tl = self.teeth_lower_rest.copy()
        tl += self._jaw_delta(tl, jaw_open)
        side = (shapes[INDEX["jawLeft"]] - shapes[INDEX["jawRight"]]) * 0.08 * self.iod
        tl[:, :2] += side * self.ex
        tu = self.teeth_upper_rest.copy()
        if rounding > 0.0:
            tu[:, :2] -= rounding * ROUND_TEETH[0] * self.iod * self.ey
            tl[:, :2] += rounding * ROUND_TEETH[1] * self.iod * self.ey
        self._tuck_lower_lip(pts, tu, float(shapes[INDEX["mouthRollLower"]]))
        anchors = self.anchor_rest.copy()
        anchors += self.anchor_jaw[:, None] * self._jaw_delta(anchors, jaw_open)
        angles = np.radians(v[52:55] * head_scale) if v.shape[0] >= 55 else np.zeros(3)
        if np.any(angles != 0.0):
            rot = _rotation(*angles)
            pts[:, 2] -= self._depth_cut
            eyeballs[:, 2] -= self._eyeball_cut
            anchors[:, 2] -= self._anchor_cut
            pts, tu, tl, eyeballs = (self._turn(p, rot) for p in (pts, tu, tl, eyeballs))
            pts[:, 2] += self._depth_cut
            for follow in np.unique(self.anchor_follow):
                if follow > 0:
                    sel = self.anchor_follow == follow
                    anchors[sel] = self._turn(anchors[sel], _rotation(*(angles * follow)))
        return Pose(pts, anchors[:, :2], tu[:, :2], tl[:, :2],
                    float(np.clip(v[INDEX["tongueOut"]], 0.0, 1.0)),
                    {side: eyeballs[i * 17:(i + 1) * 17, :2]
                     for i, side in enumerate(mesh.SIDES)},
                    {side: float(shapes[INDEX[f"eyeBlink{side.capitalize()}"]])
                     for side in mesh.SIDES})

    def to_face(self, p: np.ndarray) -> np.ndarray:
        """Image points (N×2) → face frame (x: towards the subject's left, y: down; eye
        distances, origin between the eyes)."""
        d = np.asarray(p)[..., :2] - self.origin
        return np.stack([d @ self.ex, d @ self.ey], axis=-1) / self.iod

    # ------------------------------------------------------------------ set-up

    def _set_frame(self, pts: np.ndarray) -> None:
        right = pts[list(mesh.eye_contour("right")), :2].mean(axis=0)
        left = pts[list(mesh.eye_contour("left")), :2].mean(axis=0)
        axis = left - right
        self.iod = float(np.hypot(*axis))
        self.ex = axis / self.iod
        self.ey = np.array([-self.ex[1], self.ex[0]])  # image y is down: ey points down
        self.origin = (left + right) / 2.0

    def _fix_iris_centres(self, pts: np.ndarray) -> None:
        """Keep each eye's fan centre inside its opening (a half-shut eye may hide the iris
        centre under the lid)."""
        import cv2

        for side in mesh.SIDES:
            loop = pts[list(mesh.eye_contour(side)), :2].astype(np.float32)
            c = mesh.IRIS[side][0]
            inside = cv2.pointPolygonTest(loop.reshape(-1, 1, 2),
                                          (float(pts[c, 0]), float(pts[c, 1])), True)
            height = float(np.max(loop @ self.ey) - np.min(loop @ self.ey))
            if inside < 0.2 * height:
                upper = pts[list(mesh.EYE_UPPER[side]), :2]
                lower = pts[list(mesh.EYE_LOWER[side]), :2]
                pts[c, :2] = (upper[4] + lower[4]) / 2.0

    def _groups(self, pts: np.ndarray) -> dict[str, list[int]]:
        f = self.to_face(pts)
        lips = sorted(set(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER + mesh.LIPS_INNER_UPPER
                          + mesh.LIPS_INNER_LOWER))
        jaw = [i for i in range(mesh.N_REFINED) if self.jaw_weight[i] > 0]

        def half(ids: tuple[int, ...], side: str) -> list[int]:
            sign = 1 if side == "left" else -1
            return [i for i in ids if sign * f[i, 0] >= -0.01]

        g: dict[str, list[int]] = {
            "lips": lips, "jaw": jaw,
            "upper_inner": list(mesh.LIPS_INNER_UPPER[1:-1]),
            "lower_inner": list(mesh.LIPS_INNER_LOWER[1:-1]),
            "upper_outer": list(mesh.LIPS_OUTER_UPPER[1:-1]),
            "lower_outer": list(mesh.LIPS_OUTER_LOWER[1:-1]),
            "upper_lip": list(mesh.LIPS_OUTER_UPPER[1:-1] + mesh.LIPS_INNER_UPPER[1:-1]),
            "lower_lip": list(mesh.LIPS_OUTER_LOWER[1:-1] + mesh.LIPS_INNER_LOWER[1:-1]),
        }
        for side in mesh.SIDES:
            corner = (61, 78) if side == "right" else (291, 308)
            g[f"corner_{side}"] = list(corner)
            g[f"upper_outer_{side}"] = half(mesh.LIPS_OUTER_UPPER[1:-1], side)
            g[f"lower_outer_{side}"] = half(mesh.LIPS_OUTER_LOWER[1:-1], side)
            g[f"upper_lip_{side}"] = half(mesh.LIPS_OUTER_UPPER[1:-1]
                                          + mesh.LIPS_INNER_UPPER[1:-1], side)
            g[f"lower_lip_{side}"] = half(mesh.LIPS_OUTER_LOWER[1:-1]
                                          + mesh.LIPS_INNER_LOWER[1:-1], side)
            g[f"brow_{side}"] = list(mesh.BROW_UPPER[side] + mesh.BROW_LOWER[side])
            g[f"brow_inner_{side}"] = [mesh.BROW_UPPER[side][-1], mesh.BROW_LOWER[side][-1],
                                       mesh.BROW_UPPER[side][-2], mesh.BROW_LOWER[side][-2]]
            g[f"brow_outer_{side}"] = [mesh.BROW_UPPER[side][0], mesh.BROW_LOWER[side][0],
                                       mesh.BROW_UPPER[side][1], mesh.BROW_LOWER[side][1]]
            g[f"cheek_{side}"] = list(mesh.CHEEK[side])
            g[f"nose_wing_{side}"] = list(mesh.NOSE_WING[side])
        return g

    def _linear_basis(self, pts: np.ndarray) -> np.ndarray:
        """52 × 478 × 2 image-pixel displacements at value 1 for the linear channels."""
        basis = np.zeros((52, mesh.N_REFINED, 2))
        groups = self._groups(pts)
        f = self.to_face(pts)
        surface = np.zeros(mesh.N_REFINED, bool)
        surface[: mesh.N_SURFACE] = True
        lid_margins = [i for side in mesh.SIDES
                       for i in mesh.EYE_UPPER[side] + mesh.EYE_LOWER[side]]
        for name, moves in MOVES.items():
            sided = "{S}" in name
            for side in (mesh.SIDES if sided else (None,)):
                channel = name.replace("{S}", side.capitalize()) if side else name
                for group, outward, up, radius, region in moves:
                    ids = groups[group.replace("{s}", side or "")]
                    sign = (1.0 if side == "left" else -1.0) if side else 1.0
                    if not sided and group.endswith("_right"):
                        sign = 1.0  # unsided moves give signed offsets per side already
                    vec = (sign * outward * self.ex - up * self.ey) * self.iod
                    weight = self._spread(f, ids, radius, region)
                    if channel.startswith("brow"):
                        # The lids answer a brow through LIDS (tapered into their corners), not
                        # through the brow's falloff, which would pull one end of a lid.
                        weight[lid_margins] = 0.0
                    basis[INDEX[channel]] += weight[:, None] * vec[None, :]
        return basis

    def _set_rounding(self, pts: np.ndarray) -> None:
        """Adds the rounding channels' linear part (gather, inset, thicken) to the basis and
        keeps what :meth:`_round_lips` needs per frame."""
        f = self.to_face(pts)
        corners = f[[61, 291]]
        cx = float(corners[:, 0].mean())
        half = max(float(abs(corners[1, 0] - corners[0, 0])) / 2, 1e-3)
        lips = sorted(set(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER + mesh.LIPS_INNER_UPPER
                          + mesh.LIPS_INNER_LOWER))
        reach = self._spread(f, lips, ROUND_REACH, "all")
        toward = -(f[:, 0] - cx)[:, None] * self.ex[None, :] * self.iod  # to the centre line
        inner = np.zeros(mesh.N_REFINED)
        inner[list(mesh.LIPS_INNER_UPPER + mesh.LIPS_INNER_LOWER)] = 1.0
        # Thicker towards the middle: the lips' outer edges, and the skin just beyond them.
        thick = np.zeros((mesh.N_REFINED, 2))
        for ids, region, sign in ((mesh.LIPS_OUTER_UPPER[1:-1], "upper", 1.0),
                                  (mesh.LIPS_OUTER_LOWER[1:-1], "lower", -1.0)):
            ids = list(ids)
            d2 = ((f[:, None, :] - f[None, ids, :]) ** 2).sum(axis=-1)
            near = np.argmin(d2, axis=1)
            u = (f[ids, 0][near] - cx) / half
            w = np.exp(-d2[np.arange(len(f)), near] / 0.06 ** 2) * np.clip(1 - u * u, 0, 1)
            if region == "lower":
                w = w * self.jaw_weight
            else:
                w = w * (1.0 - self.jaw_weight)
            thick -= sign * w[:, None] * self.ey[None, :] * self.iod
        for name, (gather, inset, thicken, _seal) in ROUNDING.items():
            self._basis[INDEX[name]] += ((gather * reach + inset * inner)[:, None] * toward
                                         + thicken * thick)
        self._push = -ROUND_PUSH * self.iod * reach
        self._iu = list(mesh.LIPS_INNER_UPPER)
        self._il = list(mesh.LIPS_INNER_LOWER)
        self._ou = list(mesh.LIPS_OUTER_UPPER)
        self._ol = list(mesh.LIPS_OUTER_LOWER)
        self._least_gap = np.minimum((pts[self._il, :2] - pts[self._iu, :2]) @ self.ey, 0.0)

    def _round_lips(self, pts: np.ndarray, shapes: np.ndarray) -> float:
        """The rounding channels' non-linear part, in place: the opening and (half as much)
        the lips' outline become oval, pucker presses the lips together, the lips come
        forward. Gaps are scaled, never crossed: sealed lips stay sealed. Returns the
        rounding (0…1)."""
        pucker = float(shapes[INDEX["mouthPucker"]])
        rounding = min(1.0, pucker + float(shapes[INDEX["mouthFunnel"]]))
        if rounding <= 0.0:
            return 0.0
        ex, ey = self.ex, self.ey
        seal = 1.0 - ROUNDING["mouthPucker"][3] * pucker
        mid = (pts[self._iu, :2] + pts[self._il, :2]) / 2.0
        for opening, upper, lower, share in ((True, self._iu, self._il, ROUND_OPENING),
                                             (False, self._ou, self._ol, ROUND_OUTLINE)):
            top, bottom = pts[upper, :2], pts[lower, :2]
            ends = (top[0] + bottom[0]) / 2.0, (top[-1] + bottom[-1]) / 2.0
            centre = (ends[0] + ends[1]) / 2.0
            half = max(abs(float((ends[1] - ends[0]) @ ex)) / 2.0, 1e-6)
            u = np.clip(((mid - centre) @ ex) / half, -1.0, 1.0)
            oval = np.sqrt(1.0 - u * u)
            h_top = (mid - top) @ ey  # how far each edge lies from the mouth line
            h_bottom = (bottom - mid) @ ey
            grow_top = rounding * share * (h_top.max() * oval - h_top)
            grow_bottom = rounding * share * (h_bottom.max() * oval - h_bottom)
            if opening:  # an oval, scaled about the mouth line
                grow_top = (h_top + grow_top) * seal - h_top
                grow_bottom = (h_bottom + grow_bottom) * seal - h_bottom
            else:  # the outline: rounder and fuller, never thinner
                np.maximum(grow_top, 0.0, out=grow_top)
                np.maximum(grow_bottom, 0.0, out=grow_bottom)
            pts[upper, :2] -= grow_top[:, None] * ey
            pts[lower, :2] += grow_bottom[:, None] * ey
            if opening:  # the lips' outer edges go along with the inner ones
                pts[self._ou[1:-1], :2] -= grow_top[1:-1, None] * ey
                pts[self._ol[1:-1], :2] += grow_bottom[1:-1, None] * ey
        pts[:, 2] += rounding * self._push
        return rounding

    def _uncross_lips(self, pts: np.ndarray) -> None:
        """Where pressed or rolled lips would pass each other, they meet half way instead (a
        crossed opening would show a sliver of teeth on /p b m/)."""
        gap = (pts[self._il, :2] - pts[self._iu, :2]) @ self.ey
        short = self._least_gap - gap  # lips photographed a little crossed may stay so
        if short.max() > 0.0:
            move = np.maximum(short, 0.0)[:, None] / 2.0 * self.ey
            pts[self._iu, :2] -= move
            pts[self._il, :2] += move

    def _tuck_lower_lip(self, pts: np.ndarray, teeth_upper: np.ndarray, roll: float) -> None:
        """/f v/ (mouthRollLower): the lower lip rises under the upper teeth' edge, so the
        opening shows the upper teeth resting on it, not the lower teeth."""
        tuck = min(1.0, max(0.0, (roll - TUCK_FROM) / TUCK_FULL))
        if tuck <= 0.0:
            return
        inner = self._il[1:-1]
        edge = teeth_upper[1:-1, :2] - TUCK_UNDER * self.iod * self.ey
        rise = np.minimum(((edge - pts[inner, :2]) @ self.ey), 0.0) * tuck
        pts[inner, :2] += rise[:, None] * self.ey
        outer = list(mesh.LIPS_OUTER_LOWER[1:-1])
        pts[outer, :2] += 0.5 * rise[:, None] * self.ey

    def _set_closure(self, pts: np.ndarray) -> None:
        f = self.to_face(pts)
        lower = list(mesh.LIPS_INNER_LOWER[1:-1] + mesh.LIPS_OUTER_LOWER[1:-1])
        upper = list(mesh.LIPS_INNER_UPPER[1:-1] + mesh.LIPS_OUTER_UPPER[1:-1])
        # mouthClose moves the lower lip 70 % of the way, the upper lip the rest.
        self._close_weight = (-0.7 * self._spread(f, lower, 0.1, "lower")
                              + 0.3 * self._spread(f, upper, 0.1, "upper"))
        mid = (f[list(mesh.LIPS_INNER_UPPER)] + f[list(mesh.LIPS_INNER_LOWER)]) / 2.0
        self._close_order = np.argsort(mid[:, 0])
        self._close_x = mid[self._close_order, 0]
        self._point_x = f[:, 0]

    def _close_lips(self, pts: np.ndarray, shapes: np.ndarray) -> None:
        """mouthClose: the lips close over the open jaw; their gap shrinks by
        mouthClose / jawOpen of itself (ARKit: the lips are apart by jawOpen − mouthClose)."""
        close = float(shapes[INDEX["mouthClose"]])
        if close <= 0.0:
            return
        share = min(1.0, close / max(float(shapes[INDEX["jawOpen"]]), 1e-3))
        gap = (pts[list(mesh.LIPS_INNER_LOWER), :2] - pts[list(mesh.LIPS_INNER_UPPER), :2])
        gap = gap[self._close_order]
        gx = np.interp(self._point_x, self._close_x, gap[:, 0])
        gy = np.interp(self._point_x, self._close_x, gap[:, 1])
        w = share * self._close_weight
        pts[:, 0] += w * gx
        pts[:, 1] += w * gy

    def _spread(self, f: np.ndarray, ids: list[int], radius: float, region: str) -> np.ndarray:
        """Weights: 1 at ``ids``, a Gaussian falloff of ``radius`` around them, limited to
        the jaw's ("lower") or the skull's ("upper") side of the mouth."""
        if radius <= 0:
            w = np.zeros(len(f))
            w[ids] = 1.0
        else:
            d2 = ((f[:, None, :] - f[None, ids, :]) ** 2).sum(axis=-1).min(axis=1)
            w = np.exp(-d2 / (radius * radius))
        if region == "lower":
            w = w * self.jaw_weight
        elif region == "upper":
            w = w * (1.0 - self.jaw_weight)
        return w

    def _anchors(self, pts: np.ndarray,
                 crop: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Anchor points around the head (A×3) and the share of the head's turn each follows.

        The inner rings are the face's outline scaled about its centre (where they fall inside
        the crop). The last ring is the still boundary (:attr:`anchor_still`): the outline's
        convex hull scaled by ``RING_SCALE[-1]`` and cut to the crop. The warp has no
        triangles beyond it, so that nothing there moves (a triangle from an inner anchor
        straight to the crop's border would carry the hair beyond the ring along with the
        head). Convex, because a three-quarter face's outline is hollow at the far cheekbone:
        scaled, it would run along the cheek, and a turn would carry the cheek across it."""
        import cv2

        oval = pts[list(mesh.FACE_OVAL)]
        centre = oval.mean(axis=0)
        centre[2] = 0.0
        lo = np.array([crop[0] + 4.0, crop[1] + 4.0])
        hi = np.array([crop[2] - 5.0, crop[3] - 5.0])
        spacing = BOUNDARY_SPACING * self.iod
        outer = centre[:2] + (oval[:, :2] - centre[:2]) * RING_SCALE[-1]
        outer = cv2.convexHull(outer.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        boundary = _densify(_clip_to_box(outer, lo, hi), spacing)
        inside = boundary.astype(np.float32).reshape(-1, 1, 2)
        rings, follow, cut = [], [], []
        for scale, share in zip(RING_SCALE[:-1], RING_FOLLOW[:-1], strict=True):
            # Each anchor keeps the depth of the outline point it comes from, so that a turn
            # of the head moves the two alike.
            ring = centre + (oval[::2] - centre) * np.array([scale, scale, 1.0])
            keep = np.array([cv2.pointPolygonTest(inside, (float(x), float(y)), True) > spacing
                             for x, y in ring[:, :2]], bool)
            rings.append(ring[keep])
            follow += [share] * int(keep.sum())
            cut.append(self._depth_cut[list(mesh.FACE_OVAL)][::2][keep])
        rings.append(np.concatenate([boundary, np.full((len(boundary), 1), self.z_lip)],
                                    axis=1))
        follow += [0.0] * len(boundary)
        cut.append(np.zeros(len(boundary)))
        self._anchor_cut = np.concatenate(cut)
        self.anchor_still = np.zeros(len(follow), bool)
        self.anchor_still[-len(boundary):] = True
        return np.concatenate(rings).astype(np.float64), np.array(follow)

    def _set_teeth(self, pts: np.ndarray) -> None:
        upper = pts[list(mesh.LIPS_INNER_UPPER), :2]
        lower = pts[list(mesh.LIPS_INNER_LOWER), :2]
        line = (upper + lower) / 2.0
        f = self.to_face(line)
        half = max(abs(f[0, 0] - f[-1, 0]) / 2, 1e-3)
        mid = (f[0, 0] + f[-1, 0]) / 2
        # The arch turns away towards the corners, so less of each tooth shows there.
        profile = np.clip(1.0 - ((f[:, 0] - mid) / half) ** 2, 0.0, 1.0) ** 0.3
        upper_edge = line + (UPPER_TEETH * profile * self.iod)[:, None] * self.ey
        lower_edge = line - (LOWER_TEETH * profile * self.iod)[:, None] * self.ey
        depth = np.full((len(line), 1), self.z_lip)
        self.teeth_upper_rest = np.concatenate([upper_edge, depth], axis=1)
        self.teeth_lower_rest = np.concatenate([lower_edge, depth], axis=1)

    def _turn(self, p3: np.ndarray, rot: np.ndarray) -> np.ndarray:
        centre = np.array([*(self.origin + NECK_BELOW_EYES * self.iod * self.ey),
                           self.z_lip + NECK_DEPTH * self.iod])
        return (p3 - centre) @ rot.T + centre


def _flattened_depth(pts: np.ndarray) -> np.ndarray:
    """The landmarks' depth with no point more than TURN_SLOPE × its distance in the picture
    behind any other (the largest such depth not behind Face Mesh's: the face's middle keeps
    its shape, the steep sides at its outline come forward)."""
    xy, z = pts[:, :2], pts[:, 2]
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1))
    return np.min(z[None, :] + TURN_SLOPE * d, axis=1)


def _clip_to_box(poly: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The polygon ``poly`` (N×2) cut to the box ``lo``…``hi`` (Sutherland–Hodgman), with
    points closer than a pixel merged."""
    out = poly
    for axis, bound, keep_below in ((0, lo[0], False), (0, hi[0], True), (1, lo[1], False),
                                    (1, hi[1], True)):
        if len(out) == 0:
            break
        res = []
        for k in range(len(out)):
            a, b = out[k - 1], out[k]
            a_in = a[axis] <= bound if keep_below else a[axis] >= bound
            b_in = b[axis] <= bound if keep_below else b[axis] >= bound
            if a_in != b_in:
                t = (bound - a[axis]) / (b[axis] - a[axis])
                res.append(a + t * (b - a))
            if b_in:
                res.append(b)
        out = np.array(res)
    merged = [p for k, p in enumerate(out) if np.hypot(*(p - out[k - 1])) >= 1.0]
    return np.array(merged if len(merged) >= 3 else out)


def _densify(poly: np.ndarray, spacing: float) -> np.ndarray:
    """The closed polygon ``poly`` (N×2) with points added along its edges, at most
    ``spacing`` apart."""
    out = []
    for k in range(len(poly)):
        a, b = poly[k], poly[(k + 1) % len(poly)]
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / spacing)))
        out.append(a + (b - a) * (np.arange(n) / n)[:, None])
    return np.concatenate(out)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix in image axes (x right, y down, z away from the camera)."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


assert len(CHANNELS) >= 55
