"""visemic: speech in, a talking face out.

>>> import visemic
>>> result = visemic.animate("speech.wav", text="Go forward ten meters.")
>>> result.save("speech.json")          # or .csv, .tsv, .xml, .dat, .mp4 …
"""

from visemic.api import Result, animate
from visemic.types import Animation, Audio, Cue, Phone, Prosody, Timeline, Word

__version__ = "0.1.0"

__all__ = [
    "Animation", "Audio", "Cue", "Phone", "Prosody", "Result", "Timeline", "Word",
    "animate", "__version__",
]
