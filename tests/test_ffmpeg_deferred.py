"""PyAV's import deferred for one thread (faster-whisper's, issue 22: 18 MB) is PyAV for every
other thread meanwhile."""

from __future__ import annotations

import subprocess
import sys


def test_other_thread_imports_pyav_while_one_defers_it(tmp_path):
    (tmp_path / "uses_av.py").write_text("import av\n")
    code = f"""
import builtins, sys, threading, types
sys.path.insert(0, {str(tmp_path)!r})
from visemic import audio
plain = builtins.__import__
got = {{}}
def other():
    try:
        import av
        import av.audio.resampler
        from av.audio.frame import AudioFrame
        got["other"] = (type(av) is types.ModuleType, av is sys.modules["av"],
                        av.audio.resampler.AudioResampler.__name__, AudioFrame.__name__)
    except Exception as e:
        got["other"] = repr(e)
with audio.ffmpeg_deferred():
    import uses_av
    print(type(uses_av.av).__name__, "av" in sys.modules)
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    import av as again
print(got["other"])
print(again is sys.modules["av"], uses_av.av.AudioResampler is again.AudioResampler)
print(builtins.__import__ is plain)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "_Deferred False"  # this thread's import deferred
    assert out[1] == "(True, True, 'AudioResampler', 'AudioFrame')"  # the other's: PyAV
    assert out[2] == "True True"  # the stand-in hands on to the same PyAV
    assert out[3] == "True"  # the import hook gone after the block
