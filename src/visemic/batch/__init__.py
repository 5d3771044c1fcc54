"""Batch lip-sync at scale: a folder or CSV manifest of clips → OUTDIR, resumable, on local
worker processes or a Ray cluster. See :func:`run_batch` and ``visemic batch --help``."""

from visemic.batch.runner import BatchReport, parse_formats, run_batch

__all__ = ["BatchReport", "parse_formats", "run_batch"]
