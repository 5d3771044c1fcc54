"""Face geometry for dubbing: the head frame lip shapes are measured in, and the landmark sets the
edit moves (the lower face, with the jaw) and pastes (the mouth).

Shapes are held in head-frame coordinates ("local"): origin near the nose base, x along the
eyes, y down the face, z away from the camera, in inter-ocular distances (IOD), as the tracker's
lip features are (:mod:`visemic.video.features`). The origin is placed from the eyes alone (a
typical nose base below them), not from the nose's landmark: Face Mesh moves that landmark
with the upper lip, and a mouth placed relative to it would move with the video's own speech.
A shape measured on one frame is put into another frame's pose by :func:`to_image`, so a mouth
taken from a frontal frame lands correctly on a slightly turned or tilted head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visemic.easing import smoothstep
from visemic.render.portrait import mesh
from visemic.video import features

NOSE_BASE = 2
EYE_CORNERS = (33, 133, 263, 362)
# The nose base from the eyes' midpoint, in the head frame (IOD; measured on real faces with
# Face Mesh: 0.72–0.74 down, 0.46–0.47 towards the camera).
NOSE_FROM_EYES = np.array([0.0, 0.73, -0.47])
# Points the head frame is computed from (eye corners, forehead, chin, nose base).
FRAME_POINTS = (33, 133, 263, 362, 10, 152, NOSE_BASE)
# Tracked points kept per frame: those below this height (IOD, local y; the eyes are near −0.9)
# and the head-frame points. Everything the edit touches lies below it.
KEEP_BELOW = -0.45
# IOD below the chin where the follow of the new mouth starts to fade (the chin and the jaw
# line beside it rise and fall together: a jaw line left behind reads as a longer face)
JAW_REACH = 0.25
# Points that do not move when the face speaks (eye corners, the bridge between the eyes;
# Face Mesh moves the nose, its wings and the forehead a little with the jaw): the pose is
# refitted on them (:func:`rigid_fit`), the head frame's own down axis running
# to the chin, which drops with the jaw.
RIGID = (33, 133, 263, 362, 168, 6)
LIPS = tuple(sorted(set(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER + mesh.LIPS_INNER_UPPER
                        + mesh.LIPS_INNER_LOWER)))
# The middle of the upper lip's outer edge: where a new mouth is anchored to the video's own
# (the upper lip is carried by the skull and hardly moves in speech, :func:`anchored`).
UPPER_ANCHOR = mesh.LIPS_OUTER_UPPER[3:8]
# IOD: the most an atlas mouth is moved to the video's upper lip (its pose errors are 0.01–0.05)
ANCHOR_REACH = 0.12
LOWER_LIP = 17          # the middle of the lower lip's outer edge
CHIN = 152
GAP_UPPER, GAP_LOWER = mesh.LIPS_INNER_UPPER[4:7], mesh.LIPS_INNER_LOWER[4:7]


@dataclass(frozen=True)
class HeadFrame:
    """One frame's head pose in image pixels: ``origin`` (3,), rotation ``axes`` (3×3, columns
    x, y, z), ``iod`` the inter-ocular distance in pixels."""

    origin: np.ndarray
    axes: np.ndarray
    iod: float


def head_frame(points: np.ndarray) -> HeadFrame:
    """The head frame of 478×3 landmarks (image pixels)."""
    p = np.asarray(points, np.float64)
    axes = features.head_axes(p)
    iod = float(max(features.inter_ocular(p), 1e-6))
    origin = p[list(EYE_CORNERS)].mean(axis=0) + iod * (axes @ NOSE_FROM_EYES)
    return HeadFrame(origin=origin, axes=axes, iod=iod)


def to_local(points: np.ndarray, frame: HeadFrame) -> np.ndarray:
    """Image pixels (…×3) → head-frame coordinates in IOD."""
    return (np.asarray(points, np.float64) - frame.origin) @ frame.axes / frame.iod


def to_image(local: np.ndarray, frame: HeadFrame) -> np.ndarray:
    """Head-frame coordinates (…×3, IOD) → image pixels (…×3)."""
    return frame.origin + (np.asarray(local, np.float64) * frame.iod) @ frame.axes.T


def rigid_fit(rest: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R 3×3, t 3): the rotation and shift that best carry the :data:`RIGID` points of
    ``rest`` onto those of ``local`` (both 478×3 head-frame coordinates; NaN rows ignored)."""
    a = np.asarray(rest, np.float64)[list(RIGID)]
    b = np.asarray(local, np.float64)[list(RIGID)]
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if ok.sum() < 4:
        return np.eye(3), np.zeros(3)
    a, b = a[ok], b[ok]
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cb - r @ ca


def kept_points(points: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the landmarks a dub keeps per frame, chosen on one face."""
    local = to_local(points, head_frame(points))
    keep = set(np.flatnonzero(local[:, 1] > KEEP_BELOW).tolist()) | set(FRAME_POINTS)
    keep |= set(RIGID)
    keep &= set(range(mesh.N_SURFACE))
    return np.array(sorted(keep), np.int32)


@dataclass(frozen=True)
class MouthLayout:
    """Where the edit acts, derived once from a face at rest (local coordinates, IOD).

    ``follow`` [478]: how far each landmark follows the new mouth (1 on the lips and chin,
    falling to 0 at the jaw sides, cheeks and nose, which stay where the video has them).
    ``paste`` [P]: the landmarks around the mouth whose area shows the atlas's pixels;
    ``paste_triangles`` index ``paste`` (the skin around the lips and the mouth opening).
    """

    follow: np.ndarray
    paste: np.ndarray
    paste_triangles: np.ndarray
    centre: np.ndarray
    half_width: float


def mouth_layout(rest_local: np.ndarray) -> MouthLayout:
    """The :class:`MouthLayout` of a face whose rest shape is ``rest_local`` (478×3, local)."""
    r = np.asarray(rest_local, np.float64)
    outer = r[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER)]
    centre = outer.mean(axis=0)
    half = float((outer[:, 0].max() - outer[:, 0].min()) / 2)
    nose = float(r[NOSE_BASE, 1])
    top = float(outer[:, 1].min())
    philtrum = max(top - nose, 0.02)
    bottom = float(outer[:, 1].max())
    chin = float(r[152, 1])

    def rho(ax: float, up: float, down: float) -> np.ndarray:
        dx = (r[:, 0] - centre[0]) / ax
        dy = r[:, 1] - centre[1]
        dy = np.where(dy < 0, dy / up, dy / down)
        return np.hypot(dx, dy)

    # Follow: lips and chin fully, fading out towards the jaw sides and the nose.
    follow = 1.0 - smoothstep((rho(half + 0.15, centre[1] - top + 0.08,
                                   chin - centre[1] + JAW_REACH) - 1.0) / 0.8)
    # The silhouette beside the mouth is the jaw's side: held, so the cheek and collar stay
    # (a taper, not a cut: neighbouring points that move very differently fold the outline
    # into steps where the video's jaw is dropped far from the new one)
    follow *= 1.0 - smoothstep((np.abs(r[:, 0] - centre[0]) - half) / 0.35)
    # Nothing above the middle of the philtrum moves (the nose and everything above it stay).
    follow *= smoothstep((r[:, 1] - nose - 0.4 * philtrum) / (0.4 * philtrum))
    follow[mesh.N_SURFACE:] = 0.0
    follow = np.nan_to_num(follow, nan=0.0)  # points not kept
    # Paste: the lips and the skin around them, down to halfway to the chin's edge.
    inside = rho(half + 0.2, centre[1] - top + 0.45 * philtrum,
                 bottom - centre[1] + 0.55 * (chin - bottom)) <= 1.0
    inside &= np.isfinite(r[:, 0])
    inside[mesh.N_SURFACE:] = False
    inside[list(LIPS)] = True
    paste = np.flatnonzero(inside).astype(np.int32)
    where = {int(k): i for i, k in enumerate(paste)}
    tris = [t for t in mesh.surface_triangles().tolist() if all(v in where for v in t)]
    tris += [t for t in mesh.hole_triangles()["mouth"].tolist() if all(v in where for v in t)]
    local_tris = np.array([[where[v] for v in t] for t in tris], np.int32)
    return MouthLayout(follow=follow.astype(np.float32), paste=paste,
                       paste_triangles=local_tris, centre=centre, half_width=half)


@dataclass(frozen=True)
class Anchoring:
    """How a video's own mouth moves, for placing a new one where it would be
    (:func:`anchored`): ``lift`` the upper lip's rise (local y) per unit of inner-lip gap;
    ``chin`` the chin's drop per unit of the lower lip's (None: the new mouth's own chin is
    kept); ``jaw`` [478] per landmark 0 (at and above the lower lip) … 1 (the chin and below):
    how far it moves as the video's jaw does rather than as the new mouth's own landmarks."""

    lift: float
    chin: float | None
    jaw: np.ndarray


def inner_gap(local: np.ndarray) -> np.ndarray:
    """The inner-lip gap at the middle (…, IOD) of head-frame faces (…×478×3)."""
    p = np.asarray(local, np.float64)
    return p[..., list(GAP_LOWER), 1].mean(axis=-1) - p[..., list(GAP_UPPER), 1].mean(axis=-1)


def anchoring(faces: np.ndarray, rest_local: np.ndarray) -> Anchoring:
    """The :class:`Anchoring` of a video from its faces (n × 478 × 3, head frame; rows with NaN
    in the points used are ignored) and its face at rest: straight lines through the frames,
    the upper lip against the gap and the chin against the lower lip."""
    f = np.asarray(faces, np.float64)
    gap = inner_gap(f)
    upper = f[:, list(UPPER_ANCHOR), 1].mean(axis=1)
    lower, chin = f[:, LOWER_LIP, 1], f[:, CHIN, 1]
    ok = np.isfinite(gap) & np.isfinite(upper) & np.isfinite(lower) & np.isfinite(chin)
    lift, gain = 0.0, None
    if ok.sum() >= 8 and float(np.std(gap[ok])) > 0.01:
        lift = float(np.clip(np.polyfit(gap[ok], upper[ok], 1)[0], -0.5, 0.2))
        gain = float(np.clip(np.polyfit(lower[ok], chin[ok], 1)[0], 0.3, 1.2))
    r = np.asarray(rest_local, np.float64)
    y0, y1 = float(r[LOWER_LIP, 1]), float(r[CHIN, 1])
    jaw = smoothstep((np.nan_to_num(r[:, 1], nan=-9.0) - y0) / max(y1 - y0, 1e-3))
    return Anchoring(lift=lift, chin=gain, jaw=jaw)


def anchored(wanted: np.ndarray, current: np.ndarray, how: Anchoring) -> np.ndarray:
    """A new mouth's face ``wanted`` (478×3 head frame) placed on this frame's own ``current``:
    shifted so that its upper lip lies where the video's does in this frame (down the face; its
    lips centred on the video's across it and in depth), raised as the video's rises for the
    new mouth's wider opening; below the lower lip the jaw and chin are the frame's own, moved
    as the video's chin moves with its lower lip.

    An atlas mouth's head-frame coordinates carry its reference frame's pose error (Face
    Mesh's depth under a nod or a turn, the head frame's jitter: 0.01–0.02 IOD on the upper
    lip, and on a turning head a whole mouth 0.05 IOD low); the video's own upper lip, held
    by the skull, says where the mouth is in this frame. The depth counts on a turned head:
    the image shows x, y and depth mixed (a three-quarter view's upper lip, placed at the
    video's x and y but 0.04–0.05 IOD deeper, landed 0.03–0.05 IOD beside it in the picture)."""
    out = np.array(wanted, np.float64)
    cur = np.asarray(current, np.float64)
    up = list(UPPER_ANCHOR)
    if not (np.isfinite(out[up]).all() and np.isfinite(cur[up]).all()):
        return out
    # The pose: the whole new mouth moves (its skin, its lips, its chin), by no more than
    # ANCHOR_REACH across the face and in depth (a tracking slip on the video's lips must not
    # carry the mouth off). Down the face by the upper lip's middle (the lower lip drops as a
    # mouth opens); across it and in depth by the centre of all the lips, which open and
    # round about it (the upper lip's middle alone left the lower lip and the corners
    # 0.01–0.015 IOD to one side on the three-quarter view).
    pose = cur[up].mean(axis=0) - out[up].mean(axis=0)
    lips = list(LIPS)
    if np.isfinite(out[lips]).all() and np.isfinite(cur[lips]).all():
        pose[[0, 2]] = cur[lips][:, [0, 2]].mean(axis=0) - out[lips][:, [0, 2]].mean(axis=0)
    pose[:2] *= min(1.0, ANCHOR_REACH / max(float(np.hypot(*pose[:2])), 1e-9))
    pose[2] = np.clip(pose[2], -ANCHOR_REACH, ANCHOR_REACH)
    out += pose
    # The lift: the upper lip and what lies below it, fading out up to the nose base (the
    # skin above a rising lip is squeezed, the nose stays: moving the philtrum and a
    # moustache with the lip doubled their edges at the paste's feather).
    rise = float(inner_gap(out) - inner_gap(cur))
    top, lip = float(out[NOSE_BASE, 1]), float(out[up, 1].min())
    if np.isfinite(rise) and np.isfinite(top) and lip > top:
        w = smoothstep((np.nan_to_num(out[:, 1], nan=top) - top) / (lip - top))
        out[:, 1] += how.lift * rise * w
    if how.chin is not None and np.isfinite(out[LOWER_LIP]).all() \
            and np.isfinite(cur[LOWER_LIP]).all():
        jaw = cur[:, :2] + how.chin * (out[LOWER_LIP, :2] - cur[LOWER_LIP, :2])
        w = how.jaw[:, None]
        moved = (1 - w) * out[:, :2] + w * jaw
        out[:, :2] = np.where(np.isfinite(moved), moved, out[:, :2])
    return out
