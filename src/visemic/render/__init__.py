"""Renderers that turn an animation into pictures: the built-in avatar and mouth sprites.

A renderer has ``size`` (width, height) and ``frame(animation, t, values) -> H×W×4 RGBA uint8``,
which the video writer calls once per output frame with the curve row for time ``t``.
"""

from visemic.render.avatar import AvatarRenderer
from visemic.render.looks import LOOKS

__all__ = ["AvatarRenderer", "LOOKS"]
