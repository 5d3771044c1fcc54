"""Video in: decoding (:mod:`~visemic.video.decode`), the shared Face Mesh wrapper
(:mod:`~visemic.video.facemesh`), lip features and head pose (:mod:`~visemic.video.features`)
and face tracking (:mod:`~visemic.video.tracker`).

>>> from visemic.video import track
>>> t = track("talk.mp4")              # FaceTrack: times, features, confidence, pose
>>> t.feature("inner_aperture")        # in inter-ocular distances, NaN where no face
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from visemic.video.decode import VideoInfo, probe
    from visemic.video.features import FEATURES
    from visemic.video.tracker import FaceTrack, Tracker, track

_LAZY = {"FaceTrack": "tracker", "Tracker": "tracker", "track": "tracker", "FEATURES": "features",
         "VideoInfo": "decode", "probe": "decode"}


def __getattr__(name: str):
    # Imported on first use: the portrait code imports the Face Mesh wrapper from this package,
    # and the tracker imports the portrait's face search, so nothing is imported eagerly here.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"visemic.video.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'visemic.video' has no attribute {name!r}")


__all__ = ["FEATURES", "FaceTrack", "Tracker", "VideoInfo", "probe", "track"]
