"""Eyelid margins fitted to the picture, so that a blink closes the eye that is painted.

Face Mesh often puts the eyelid landmarks inside the visible opening (on the iris of a painted
eye, well inside a cartoon's large eyes). The blink slides the lid, the skin above the upper
margin landmarks, down over the eyeball, the skin inside them: with the margin inside the eye,
a piece of iris would be dragged down with the lid and the top of the eye would stay uncovered.

So before rigging, each lid margin point is moved out along the face's vertical to where the
eye really ends in the picture: from the landmark outwards while the pixels are not lid skin
(white, iris, lashes), then back over the lash line, which belongs to the lid (it slides down
with it and stays dark on the shut eye). It moves out only where the white of the eye or an
iris's hue lies beyond the landmark (a painted socket's shadow is darker skin, not eye); a
landmark on skin moves in to the eye's edge; the corners move out over white beyond them.
Rows of skin above and below make way where a margin comes close. Lids already right move
little; a margin never moves more than :data:`MAX_SHIFT` of the eye's height.
"""

from __future__ import annotations

import cv2
import numpy as np

from visemic.render.portrait import mesh

MAX_SHIFT = 0.6  # the most a margin point moves out, as a share of the eye's height
INWARD = 0.3  # the most it moves in (a landmark on the skin beside the eye)
CORNER_SHIFT = 0.2  # the most a corner moves out, as a share of the eye's width
SKIN_DISTANCE = 20.0  # Lab distance beyond which a pixel is not lid skin
DARK = 0.7  # a pixel darker than this share of the skin's lightness is lash (or pupil)
BLACK = 0.45  # ...and this dark, surely lash (an iris is lighter)
BRIGHTER = 12.0  # a pixel this much lighter (Lab L, 0…255) than the lid skin is eye white
WHITE_CHROMA = 0.75  # the white of the eye has at most this share of the skin's chroma
IRIS_HUE = 15.0  # Lab a/b distance from the skin's hue that marks an iris, not a shadow
GAP_SAMPLES = 4  # half-pixel samples of skin colour bridged inside the eye
MAX_LASH = 0.06  # thickest lash line (eye distances)
LASH_ANGLE = 40.0  # a lash pixel's Lab hue is within this many degrees of the skin's...
LASH_CHROMA = 8.0  # ...with at least this chroma (Lab a/b, 0…255 scale)


def fit_eyelids(image: np.ndarray, points: np.ndarray, down: np.ndarray,
                eye_distance: float) -> np.ndarray:
    """``points`` (478×3, ``image``'s pixels) with the lid margins moved to the eye's edge in
    ``image`` (H×W×3/4 uint8); ``down`` is the face's unit vector down."""
    out = np.asarray(points, np.float64).copy()
    lab = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2LAB)
    lab = lab.astype(np.float32)
    down = np.asarray(down, np.float64)
    for side in mesh.SIDES:
        upper = list(mesh.EYE_UPPER[side][1:-1])
        lower = list(mesh.EYE_LOWER[side][1:-1])
        row = list(mesh.EYE_UPPER_FOLD[side][:7])
        crease = list(mesh.EYE_UPPER_FOLD[side][7:])
        below = list(mesh.EYE_LOWER_SKIN[side][1:-1])
        height = float(np.max((out[lower, :2] - out[upper, :2]) @ down))
        if height < 3.0:
            continue
        skin_up = _skin(lab, out, crease, row)
        skin_low = _skin_below(lab, out, below, down, 0.05 * eye_distance)
        if skin_up is None or skin_low is None:
            continue
        lash = max(1.5, MAX_LASH * eye_distance)
        for ids, direction, skin in ((upper, -1.0, skin_up), (lower, 1.0, skin_low)):
            step = direction * down
            shifts = np.zeros(len(ids))
            caps = np.zeros(len(ids))
            for k, i in enumerate(ids):
                reach = MAX_SHIFT * height
                if reach < 1.0:
                    continue
                caps[k] = reach
                shifts[k] = _edge(lab, out[i, :2], step, reach, skin, lash,
                                  lid_lash=direction < 0)
            # A lid's edge is smooth: neighbours agree (a median of three, then a light blur).
            padded = np.concatenate([shifts[:1], shifts, shifts[-1:]])
            med = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
            padded = np.concatenate([med[:1], med, med[-1:]])
            smooth = np.minimum(0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:],
                                caps)
            # Next to the corners (which stay) the margin moves less: no kink into a corner.
            taper = 0.5 + 0.5 * np.sin(np.pi * np.arange(1, len(ids) + 1) / (len(ids) + 1))
            out[ids, :2] += (smooth * taper)[:, None] * step[None, :]
        _fit_corners(lab, out, side, skin_up, lash)
        _make_way(out, [(upper, row), (row, crease)], -down)
        _make_way(out, [(lower, below)], down)
    return out


def _skin(lab: np.ndarray, pts: np.ndarray, crease: list[int], row: list[int]
          ) -> np.ndarray | None:
    """Median Lab of the upper lid's skin (between the crease and the row above the
    margin; its lighter part: lashes and the crease are darker)."""
    mask = np.zeros(lab.shape[:2], np.uint8)
    band = np.concatenate([pts[crease[:7], :2], pts[row[::-1], :2]])
    cv2.fillPoly(mask, [np.round(band).astype(np.int32)], 1)
    return _lighter_median(lab[mask > 0])


def _skin_below(lab: np.ndarray, pts: np.ndarray, below: list[int], down: np.ndarray,
                offset: float) -> np.ndarray | None:
    """Median Lab of the skin under the lower lid (a little below its skin row)."""
    mask = np.zeros(lab.shape[:2], np.uint8)
    for i in below:
        c = np.round(pts[i, :2] + offset * down).astype(int)
        cv2.circle(mask, (int(c[0]), int(c[1])), max(2, int(offset / 2)), 1, -1)
    return _lighter_median(lab[mask > 0])


def _lighter_median(pixels: np.ndarray) -> np.ndarray | None:
    if len(pixels) < 8:
        return None
    light = pixels[:, 0]
    return np.median(pixels[light >= np.percentile(light, 40)], axis=0)


def _edge(lab: np.ndarray, start: np.ndarray, step: np.ndarray, reach: float,
          skin: np.ndarray, lash: float, lid_lash: bool = True) -> float:
    """How far from ``start`` along ``step`` the eye ends: the end of the run of non-skin
    pixels that starts there, less the lash line at its end when it belongs to the lid
    (``lid_lash``: the upper lid's, which slides down with it; the lower lid's lash line is
    left in the eye, which a shut upper lid covers: else the white between it and a margin
    landmark inside the eye stays as a pale rim under the shut eye)."""
    n = int(reach * 2) + 1
    t = np.arange(n) * 0.5
    xy = start[None, :] + t[:, None] * step[None, :]
    h, w = lab.shape[:2]
    xi = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    px = lab[yi, xi]
    dark = px[:, 0] < DARK * skin[0]
    # Not lid skin: another hue (an iris), lashes (dark) or the white of the eye. (The skin's
    # own hue a little lighter or darker is the lid's shading: a 3D render's lid is shaded.)
    bright = _white(px, skin)
    hue = np.hypot(px[:, 1] - skin[1], px[:, 2] - skin[2]) > IRIS_HUE
    eye = hue | dark | bright
    # Bridge short gaps (an anti-aliased step from white to lashes passes skin's colour).
    g = GAP_SAMPLES
    before = np.maximum.accumulate(np.where(eye, np.arange(n), -g - 1))
    after = np.minimum.accumulate(np.where(eye, np.arange(n), n + g + 1)[::-1])[::-1]
    eye |= (np.arange(n) - before <= g) & (after - np.arange(n) <= g)
    if not lid_lash:
        ring = _lash_ring(px, skin, lash)
        if ring > 0:
            return float(t[ring])
    elif not eye[0]:
        above = _lash_above(px, skin, lash)
        if above > 0:
            return float(t[above])
    if not eye[0]:
        return -_inward(lab, start, -step, INWARD * reach / MAX_SHIFT, skin, lash)
    stop = int(np.argmin(eye)) if not eye.all() else n
    if stop <= 1:
        return 0.0
    # Back over the lash line: the dark run at the run's outer end (past the few lighter,
    # anti-aliased samples between a drawn-black lash line and the skin).
    end = stop - 1
    black = px[:, 0] < BLACK * skin[0]
    fringe = end
    while fringe > 0 and not dark[fringe] and end - fringe < GAP_SAMPLES:
        fringe -= 1
    if black[fringe] and lid_lash:
        end = fringe
    back = end
    if lid_lash:
        # Lashes have the skin's hue, darker; a pupil or an iris in the lid's shadow under
        # them is grey or of another hue: where the dark run turns from the one to the other,
        # the lashes end (a drawn eye's lash line sits on a dark band of iris).
        lashy = _lash_hued(px, skin)
        seen = False
        while back > 0 and dark[back] and (end - back) * 0.5 < lash:
            if seen and not lashy[back]:
                break
            seen |= bool(lashy[back])
            back -= 1
    # Only the white of the eye or an iris's colour beyond the landmark says the eye goes on
    # there: a dark run alone may be the shadow of the eye socket (a painting's), whose hue
    # is the skin's.
    if int((bright | hue)[1:back + 1].sum()) < 3:
        return 0.0
    return float(t[back])


def _lash_ring(px: np.ndarray, skin: np.ndarray, lash: float) -> int:
    """A drawn eye's lower lash line beyond a margin landmark (``px``: Lab samples every half
    pixel outwards): the sample just past it, or 0 when there is none. It is a thin line with
    a surely-black core, skin beyond it, and only the pale white of the eye (not darker than
    the skin beside it) or the eye's other colours between it and the landmark: a painted
    shadow under the eye is wider and has the skin's own tone before it."""
    n = len(px)
    black = px[:, 0] < BLACK * skin[0]
    if not black.any():
        return 0
    core = int(np.argmax(black))
    darker = px[:, 0] < skin[0] - BRIGHTER
    # Before the line: the eye (lighter than the skin, or another hue), save the anti-aliased
    # samples next to the line.
    first = core
    while first > 0 and darker[first - 1] and (core - first) < 2 * lash:
        first -= 1
    hue = np.hypot(px[:, 1] - skin[1], px[:, 2] - skin[2]) > IRIS_HUE
    # (The white in the lower lid's shade is about as light as the skin, but greyer.)
    grey = np.hypot(px[:, 1] - 128.0, px[:, 2] - 128.0) < \
        WHITE_CHROMA * np.hypot(skin[1] - 128.0, skin[2] - 128.0)
    k = max(first - GAP_SAMPLES, 0)
    eye = hue[:k] | (px[:k, 0] >= skin[0] - 2.0) | (grey[:k] & ~darker[:k])
    if k < 2 or not eye.all():
        return 0
    end = core
    while end < n and darker[end]:
        end += 1
    if end >= n or (end - first) * 0.5 > lash:
        return 0
    return end


def _lash_above(px: np.ndarray, skin: np.ndarray, lash: float) -> int:
    """A drawn eye's upper lash line beyond a margin landmark that lies on the white in the
    lid's shade (about as light as the lid, but greyer): the sample where the lashes start,
    or 0 when there is none. The lashes are a thin dark run with a surely-black core and
    some of the skin's hue (not a pupil)."""
    n = len(px)
    dark = px[:, 0] < DARK * skin[0]
    if not dark.any():
        return 0
    first = int(np.argmax(dark))
    end = first
    while end < n and dark[end]:
        end += 1
    if end >= n or (end - first) * 0.5 > lash or \
            not (px[first:end, 0] < BLACK * skin[0]).any() or \
            not _lash_hued(px[first:end], skin).any():
        return 0
    grey = np.hypot(px[:, 1] - 128.0, px[:, 2] - 128.0) < \
        WHITE_CHROMA * np.hypot(skin[1] - 128.0, skin[2] - 128.0)
    k = max(first - GAP_SAMPLES, 0)
    if k < 2 or not (grey[:k] & (px[:k, 0] >= skin[0] - BRIGHTER)).all():
        return 0
    return first


def _lash_hued(px: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Which Lab pixels (N×3) have the skin's hue (within :data:`LASH_ANGLE`) with some
    colour (a dark brown or red lash line, not a grey pupil or a blue iris)."""
    a, b = px[:, 1] - 128.0, px[:, 2] - 128.0
    sa, sb = skin[1] - 128.0, skin[2] - 128.0
    chroma = np.hypot(a, b)
    cos = (a * sa + b * sb) / np.maximum(chroma * np.hypot(sa, sb), 1e-6)
    return (chroma >= LASH_CHROMA) & (cos >= np.cos(np.radians(LASH_ANGLE)))


def _white(px: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Which Lab pixels (N×3) are the white of the eye: lighter than the lid's ``skin`` and
    greyer (a highlight on the lid, or light skin beside the eye, is as colourful as the lid)."""
    return (px[:, 0] > skin[0] + BRIGHTER) & \
        (np.hypot(px[:, 1] - 128.0, px[:, 2] - 128.0)
         < WHITE_CHROMA * np.hypot(skin[1] - 128.0, skin[2] - 128.0))


def _fit_corners(lab: np.ndarray, pts: np.ndarray, side: str, skin: np.ndarray,
                 lash: float) -> None:
    """Move each corner of the eye outwards along the eye's axis over the white that lies
    beyond it (a painted or drawn eye is often wider than Face Mesh's outline): a shut lid
    then covers the eye to its ends."""
    upper = mesh.EYE_UPPER[side]
    outer, inner = upper[0], upper[-1]
    across = pts[outer, :2] - pts[inner, :2]
    width = float(np.hypot(*across))
    if width < 4.0:
        return
    across /= width
    for corner, direction in ((outer, across), (inner, -across)):
        n = int(CORNER_SHIFT * width * 2) + 1
        t = np.arange(n) * 0.5
        xy = pts[corner, :2][None, :] + t[:, None] * direction[None, :]
        h, w = lab.shape[:2]
        px = lab[np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1),
                 np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)]
        white = _white(px, skin)
        if n < 3 or not white[1:3].any():
            continue
        run = int(np.argmin(white[1:])) + 1 if not white[1:].all() else n
        # A drawn eye's lash ring closes it beyond the white at the outer corner: the corner
        # goes to its far side (a shut lid covers the ring's end; left out, it shows as a hook
        # of lashes and white). (The inner corner is the tear duct's, not lashes.)
        # (Its lashes' tips are lighter than their roots, but darker than the skin; a ring
        # has a surely-black core.)
        if corner == outer:
            run = _past_ring(px, run, skin, lash)
        shift = float(t[run - 1])
        if shift > 0.5:
            pts[corner, :2] += shift * direction


def _past_ring(px: np.ndarray, run: int, skin: np.ndarray, lash: float) -> int:
    """The sample just past a lash ring that starts at sample ``run`` (``px``: Lab samples
    every half pixel), or ``run`` when there is none."""
    n = len(px)
    darker = px[:, 0] < skin[0] - BRIGHTER
    ring = run
    # (The white in the corner's shade darkens gradually into the ring: grey, not skin.)
    grey = np.hypot(px[:, 1] - 128.0, px[:, 2] - 128.0) < \
        WHITE_CHROMA * np.hypot(skin[1] - 128.0, skin[2] - 128.0)
    while ring < n and not darker[ring] and (ring - run) * 0.5 < lash and \
            (grey[ring] or ring - run < GAP_SAMPLES):
        ring += 1
    start = ring
    while ring < n and darker[ring] and (ring - start) * 0.5 < lash:
        ring += 1
    if ring > start and (ring == n or not darker[ring]) and \
            bool((px[run:ring, 0] < BLACK * skin[0]).any()):
        return ring
    return run


def _inward(lab: np.ndarray, start: np.ndarray, step: np.ndarray, reach: float,
            skin: np.ndarray, lash: float) -> float:
    """A margin landmark on skin: how far towards the eye (``step``) its edge is, the lash
    line at the edge left on the lid's side (0 when no eye is found within ``reach``)."""
    n = int(reach * 2) + 1
    t = np.arange(n) * 0.5
    xy = start[None, :] + t[:, None] * step[None, :]
    h, w = lab.shape[:2]
    px = lab[np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1),
             np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)]
    far = np.hypot(np.hypot(px[:, 0] - skin[0], px[:, 1] - skin[1]), px[:, 2] - skin[2])
    dark = px[:, 0] < DARK * skin[0]
    eye = (far > SKIN_DISTANCE) | dark | _white(px, skin)
    if not eye.any():
        return 0.0
    k = int(np.argmax(eye))
    end = k
    while end + 1 < n and dark[end + 1] and (end + 1 - k) * 0.5 < lash:
        end += 1
    return float(t[end])


def _make_way(pts: np.ndarray, pairs: list[tuple[list[int], list[int]]],
              out: np.ndarray) -> None:
    """For each (inner row, outer row): keep the outer row at least a little further out
    (direction ``out``) than the inner one (the mesh must not fold)."""
    for inner, outer in pairs:
        for k, o in enumerate(outer):
            i = inner[min(k, len(inner) - 1)]
            gap = float((pts[o, :2] - pts[i, :2]) @ out)
            least = 1.5
            if gap < least:
                pts[o, :2] += (least - gap) * out
