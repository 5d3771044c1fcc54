"""Streaming: animation frames from live audio (:class:`StreamAnimator`), Live Link Face UDP
output and the ``visemic stream`` command.

>>> from visemic.stream import StreamAnimator
>>> eng = StreamAnimator(sample_rate=16000, fps=60)
>>> frames = eng.push(chunk)        # int16 or float32 mono samples; frames ready so far
>>> frames += eng.flush()           # end of stream: the frames still held back
"""

from visemic.stream.engine import LOOKAHEAD, StreamAnimator, StreamFrame

__all__ = ["LOOKAHEAD", "StreamAnimator", "StreamFrame"]
