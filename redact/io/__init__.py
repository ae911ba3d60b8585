"""I/O stage: media kinds, decode with timestamps, faithful encode, atomic output files."""

VIDEO_EXTS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
MEDIA_EXTS = VIDEO_EXTS + IMAGE_EXTS

__all__ = ["IMAGE_EXTS", "MEDIA_EXTS", "VIDEO_EXTS"]
