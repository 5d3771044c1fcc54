"""Audio/video sync: measure the offset between a talking face's lips and its sound
(:mod:`~visemic.sync.measure`), fix it by moving the audio (:mod:`~visemic.sync.fix`), plot it
(:mod:`~visemic.sync.plot`), check a folder (:mod:`~visemic.sync.folder`).

>>> import visemic
>>> report = visemic.sync_check("talk.mp4")
>>> report.offset_ms, report.confidence, report.summary()
"""
