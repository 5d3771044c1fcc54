"""Live Link Face CSV: the take file Epic's Live Link Face iOS app records.

Layout (as recorded by the app and read back by importers for Blender, Maya, MotionBuilder and
Unreal): a header ``Timecode,BlendShapeCount,<52 blendshapes>,HeadYaw,HeadPitch,HeadRoll,
LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll``, then one row per
frame: an ``HH:MM:SS:FF.sss`` timecode (FF counts frames at the take's rate, .sss the sub-frame),
the count 61, and the 61 values.

Two details differ from Apple's documented list and are kept because the app writes them so and
importers read columns by position: the blendshapes follow the app's own (Live Link packet)
order, which has JawRight before JawLeft and MouthRight before MouthLeft; and the head and eye
rotations are not degrees but Unreal's ARKit face-support encoding, the angle in degrees / 180
(−180…180° mapped to −1…1; Epic's ``ToBlendShapeMap`` in AppleARKitFaceSupport). Some
third-party importers treat those columns as radians instead, so ``head_units="radians"`` (or
``"degrees"``) is available.

Eye yaw and pitch are derived from the eyeLook* blendshapes (:func:`visemic.motion.eyes.
eye_angles`, 30° per unit; yaw > 0 towards the character's left, pitch > 0 down), as the app
records both the blendshapes and the eye rotations; eye roll is 0. A rig that drives its eyes
from the blendshapes (MetaHuman does) should not also apply these columns.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, TextIO

import numpy as np

from visemic.errors import VisemicError
from visemic.motion.arkit import BLENDSHAPES, HEAD
from visemic.motion.eyes import eye_angles

if TYPE_CHECKING:
    from visemic.result import Result


def _livelink_order() -> tuple[str, ...]:
    order = list(BLENDSHAPES)
    for a, b in (("jawLeft", "jawRight"), ("mouthLeft", "mouthRight")):
        i, j = order.index(a), order.index(b)
        order[i], order[j] = order[j], order[i]
    return tuple(order)


# Our channel names in the app's column order.
LIVELINK_ORDER: tuple[str, ...] = _livelink_order()
ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
             "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
HEADER: tuple[str, ...] = (("Timecode", "BlendShapeCount")
                           + tuple(n[0].upper() + n[1:] for n in LIVELINK_ORDER) + ROTATIONS)
COUNT = len(LIVELINK_ORDER) + len(ROTATIONS)  # 61, the app's BlendShapeCount
HEAD_UNITS = {"normalized": 1.0 / 180.0, "radians": math.pi / 180.0, "degrees": 1.0}
BLOCK = 2048
_TRAILING_ZERO = re.compile(r"\.0(?=[,\]])")

assert COUNT == 61


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF.sss`` for frame ``frame`` at ``fps`` frames per second."""
    if float(fps).is_integer():
        n = int(fps)
        whole, ff = divmod(frame, n)
        sub = 0.0
    else:
        # A fractional rate: FF counts whole frames since the second began, .sss the remainder.
        t = frame / fps
        whole = math.floor(t + 1e-9)
        pos = (t - whole) * fps
        ff = math.floor(pos + 1e-6)
        sub = max(0.0, pos - ff)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{min(999, round(sub * 1000)):03d}"


def write_csv(result: Result, out: TextIO, head_units: str = "normalized") -> None:
    """One row per animation frame, in the Live Link Face take layout."""
    if head_units not in HEAD_UNITS:
        raise VisemicError(f"head_units must be one of {', '.join(HEAD_UNITS)}, "
                           f"got {head_units!r}")
    anim = result.animation
    index = {name: i for i, name in enumerate(anim.channels)}
    missing = [n for n in LIVELINK_ORDER if n not in index]
    if missing:
        raise VisemicError(f"the animation lacks ARKit channels: {', '.join(missing[:5])}")
    cols = [index[n] for n in LIVELINK_ORDER]
    head_cols = [index.get(n) for n in HEAD]
    scale = HEAD_UNITS[head_units]
    out.write(",".join(HEADER) + "\n")
    fps = float(anim.fps)
    frames = anim.values.shape[0]
    for i0 in range(0, frames, BLOCK):
        chunk = anim.values[i0:i0 + BLOCK].astype(np.float64)
        block = np.zeros((len(chunk), COUNT))
        block[:, :len(cols)] = chunk[:, cols]
        for k, c in enumerate(head_cols):
            if c is not None:
                block[:, len(cols) + k] = chunk[:, c] * scale
        looks = {n: chunk[:, index[n]] for n in LIVELINK_ORDER if n.startswith("eyeLook")}
        for k, side in ((3, "Left"), (6, "Right")):
            yaw, pitch = eye_angles(looks, side)
            block[:, len(cols) + k] = yaw * scale
            block[:, len(cols) + k + 1] = pitch * scale
        block = np.nan_to_num(np.round(block, 6) + 0.0)
        for j, row in enumerate(block.tolist()):
            out.write(f"{timecode(i0 + j, fps)},{COUNT},"
                      f"{_TRAILING_ZERO.sub('', json.dumps(row, separators=(',', ':')))[1:-1]}\n")
