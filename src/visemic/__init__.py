"""visemic: speech in, a talking face out.

>>> import visemic
>>> result = visemic.animate("speech.wav", text="Go forward ten meters.")
>>> result.save("speech.json")          # or .csv, .tsv, .xml, .dat, .mp4 …
"""

from typing import TYPE_CHECKING

from visemic.types import Animation, Audio, Cue, Phone, Prosody, Timeline, Word

__version__ = "0.1.0"

if TYPE_CHECKING:
    from visemic.api import animate, profile, say, sync_check
    from visemic.result import Result


def __getattr__(name: str):
    # The API pulls in the whole pipeline; import it on first use so that light users
    # (types, exporters, the Rhubarb shim's --help) start fast.
    if name == "Result":
        from visemic.result import Result

        return Result
    if name == "dub":
        # The package visemic.dub is callable: visemic.dub(VIDEO, AUDIO).save(OUT).
        import importlib

        return importlib.import_module("visemic.dub")
    if name in ("animate", "say", "sync_check", "profile"):
        from visemic import api

        return getattr(api, name)
    raise AttributeError(f"module 'visemic' has no attribute {name!r}")

__all__ = [
    "Animation", "Audio", "Cue", "Phone", "Prosody", "Result", "Timeline", "Word",
    "animate", "dub", "profile", "say", "sync_check", "__version__",
]
