"""The one MediaPipe Face Mesh wrapper: still pictures or consecutive video frames, 478 points.

MediaPipe 0.10.21 carries its face models inside the wheel, so everything runs offline.
Landmarks come back as ``478×3`` float64 arrays in image pixels (x right, y down, z depth in
the same units, smaller is nearer the camera, 0 near the head's centre): MediaPipe's 468 surface
points, then 10 iris points. Portraits (:mod:`visemic.render.portrait.landmarks`), the portrait
quality meter and the video tracker (:mod:`visemic.video.tracker`) all go through this class.
"""

from __future__ import annotations

from types import TracebackType

import numpy as np

from visemic.video import native_log


class FaceMesh:
    """A Face Mesh graph with refined (iris) landmarks.

    ``tracking=False`` treats every picture on its own (face detection each time).
    ``tracking=True`` is MediaPipe's video mode: pictures must be consecutive frames of one
    video at one size; the face found in a frame seeds the next frame's search, and the face
    detector only runs again when the face is lost (faster, steadier). Use as a context manager
    or call :meth:`close`.
    """

    def __init__(self, *, tracking: bool = False, max_faces: int = 1,
                 min_confidence: float = 0.4) -> None:
        from mediapipe.python.solutions import face_mesh

        # MediaPipe's native log lines are kept off stderr while the graph lives (its threads
        # log after the calls that start them return).
        native_log.hold()
        self._held = True
        try:
            self._graph = face_mesh.FaceMesh(static_image_mode=not tracking,
                                             refine_landmarks=True, max_num_faces=max_faces,
                                             min_detection_confidence=min_confidence,
                                             min_tracking_confidence=0.5)
        except BaseException:
            self._held = False
            native_log.release()
            raise

    def __call__(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks (478×3, pixels) of each face in an H×W×3 RGB uint8 picture."""
        rgb = np.ascontiguousarray(rgb[:, :, :3])
        h, w = rgb.shape[:2]
        result = self._graph.process(rgb)
        faces = []
        scale = np.array([w, h, w], np.float64)
        for lm in result.multi_face_landmarks or []:
            # x, y are normalised by the image's width and height; z by its width.
            faces.append(np.array([(p.x, p.y, p.z) for p in lm.landmark], np.float64) * scale)
        return faces

    def close(self) -> None:
        try:
            self._graph.close()
        finally:
            if self._held:
                self._held = False
                native_log.release()

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
