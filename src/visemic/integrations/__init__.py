"""Plug-ins for other tools, shipped with visemic: the Blender add-on (``blender/``)."""
