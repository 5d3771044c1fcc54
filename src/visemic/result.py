"""The result of one run: what the API returns and every exporter and renderer reads.

It lives below both :mod:`visemic.api` (which makes it) and :mod:`visemic.outputs` (which write
it), so neither imports the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visemic.types import Animation, Audio, Prosody, Timeline


@dataclass
class Result:
    """Everything one run produced. ``save`` writes any export format (or video)."""

    audio: Audio
    timeline: Timeline
    prosody: Prosody
    animation: Animation
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str], format: str | None = None,
             **options: Any) -> Path:
        """Write the result to ``path`` atomically; ``format`` defaults to the extension's.

        Formats: json, csv, rhubarb-tsv, rhubarb-xml, rhubarb-json, rhubarb-dat, phones, gltf,
        glb, and the video formats of :mod:`visemic.outputs.video`. Returns the path written.
        """
        from visemic.outputs import formats  # the exporters import this module

        return formats.save(self, path, format=format, **options)
