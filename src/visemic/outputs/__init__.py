"""Outputs: exporters (JSON, CSV, Rhubarb formats) and renderers (video, plots)."""
