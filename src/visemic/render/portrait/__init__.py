"""Portraits: a photo, painting or drawing of a face animated by landmark-driven warping.

:class:`PortraitRenderer` is the renderer the video writer uses (``portrait=IMAGE``); the
modules are: ``landmarks`` (Face Mesh detection, landmark files), ``mesh`` (landmark groups and
triangles), ``lids`` (eyelid landmarks fitted to the picture), ``rig`` (ARKit values →
landmarks), ``warp`` (piecewise-affine remap), ``lid_cover`` (what a closing lid hides, and the
texture of the lid skin it stretches), ``mouth`` (the painted mouth interior), ``real_mouth``
(the mouth of a video of the same person, dubbing's atlas), ``quality`` (measures for tests and
benchmarks) and ``renderer``.
"""

from visemic.render.portrait.landmarks import detect_faces, load_landmarks, save_landmarks
from visemic.render.portrait.renderer import PortraitRenderer

__all__ = ["PortraitRenderer", "detect_faces", "load_landmarks", "save_landmarks"]
