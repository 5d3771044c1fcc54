"""Streaming: animation frames from live audio (:class:`StreamAnimator`), engines in worker
processes for servers (:mod:`visemic.stream.pool`), Live Link Face UDP output
(:mod:`visemic.stream.livelink_udp`) and the ``visemic stream`` command.

>>> from visemic.stream import StreamAnimator
>>> eng = StreamAnimator(sample_rate=16000, fps=60)
>>> frames = eng.push(chunk)        # int16 or float32 mono samples; frames ready so far
>>> frames += eng.flush()           # end of stream: the frames still held back
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from visemic.stream.engine import LOOKAHEAD, StreamAnimator, StreamFrame

__all__ = ["LOOKAHEAD", "StreamAnimator", "StreamFrame"]


def __getattr__(name: str):
    # The engine loads the recogniser; import it on first use so that the CLI starts fast.
    if name in __all__:
        from visemic.stream import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'visemic.stream' has no attribute {name!r}")
