"""Render stage: paint the redaction regions onto a frame."""

from redact.render.styles import STYLES, apply_style

__all__ = ["STYLES", "apply_style"]
