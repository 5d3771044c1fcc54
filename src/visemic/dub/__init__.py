"""Dubbing: the person in a video speaks new audio (``visemic dub``).

>>> import visemic
>>> visemic.dub("talk.mp4", "new_speech.wav").save("dubbed.mp4")

``visemic.dub(video, audio=None, *, text=None, language=None, mouth_from=None,
mouth_language=None, face=0, emotion=None, profile=None, shapes=None, progress=None)`` plans
the dub (parameters: :func:`visemic.dub.pipeline.dub`); the plan's ``save(path)`` renders it
to .mp4, .webm or frames/%05d.png.

Modules, one idea each: :mod:`~visemic.dub.geometry` (head frame, where the edit acts),
:mod:`~visemic.dub.atlas` (real mouths from the reference clip, labelled),
:mod:`~visemic.dub.shapes` (visemic's curves → the person's lip shapes: the profile),
:mod:`~visemic.dub.select` (a mouth per frame, dynamic programming),
:mod:`~visemic.dub.composite` (warp, colour, blend), :mod:`~visemic.dub.encode` (writing),
:mod:`~visemic.dub.pipeline` (the plan: all of it) and :mod:`~visemic.dub.playback` (the plan
played: decoded, edited, encoded as a stream).
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visemic.dub.pipeline import Dub


def dub(*args: Any, **kwargs: Any) -> Dub:
    """See :func:`visemic.dub.pipeline.dub`: ``dub(video, audio=None, *, text=None,
    language=None, mouth_from=None, mouth_language=None, face=0, emotion=None, profile=None,
    shapes=None, progress=None)`` plans the dub; ``.save(path)`` renders it."""
    from visemic.dub.pipeline import dub as plan

    return plan(*args, **kwargs)


class _CallableModule(types.ModuleType):
    # ``visemic.dub`` is both this package and the API function: once the package is imported,
    # Python binds the name ``visemic.dub`` to it, so calling the package must call the function.
    def __call__(self, *args: Any, **kwargs: Any) -> Dub:
        return dub(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        # inspect.signature / IDEs show the function's parameters, not (*args, **kwargs).
        from visemic.dub.pipeline import dub as plan

        return inspect.signature(plan)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["dub"]
