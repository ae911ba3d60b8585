"""I/O stage: media kinds, decode with timestamps, faithful encode, atomic output files."""

from pathlib import PurePath

# Videos written back into their own container (MPEG-TS: in-car and camcorder exports; 3GP:
# phones), with the FFmpeg muxer that writes each (io/encode.py).
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi",
          ".webm": "webm", ".ts": "mpegts", ".mts": "mpegts", ".m2ts": "mpegts",
          ".3gp": "3gp", ".3g2": "3g2"}
NATIVE_VIDEO_EXTS = tuple(MUXERS)
# Videos read but written as Matroska (``<name>.mkv``): their containers cannot hold H.264 as
# players expect it (MPEG program streams, ASF, Ogg) or are rare enough that one output
# container is the safer promise. Matroska takes most audio as it is (MP2, AC-3, MP3, PCM) and
# keeps times to the millisecond; an audio codec it cannot hold (WMA) fails the file.
MKV_OUT_VIDEO_EXTS = (".mpg", ".mpeg", ".vob", ".flv", ".wmv", ".asf", ".ogv")
VIDEO_EXTS = NATIVE_VIDEO_EXTS + MKV_OUT_VIDEO_EXTS
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
MEDIA_EXTS = VIDEO_EXTS + IMAGE_EXTS
# Pictures and videos redact does not read. In a folder they fail (the batch exits 1), not
# skipped like notes and metadata: a clerk must not mistake them for redacted.
UNREAD_MEDIA_EXTS = (".heic", ".heif", ".avif", ".gif", ".dng", ".cr2", ".nef", ".arw",
                     ".mxf", ".dv", ".dav", ".h264", ".264", ".h265", ".hevc", ".rmvb", ".rm")


def output_name(name: str) -> str:
    """The file name the redacted copy of input ``name`` gets: the same, but Matroska for
    the containers redact reads and does not write.

    >>> output_name("cam1.mp4"), output_name("dvr.MPG"), output_name("still.jpg")
    ('cam1.mp4', 'dvr.mkv', 'still.jpg')
    """
    path = PurePath(name)
    return str(path.with_suffix(".mkv")) if path.suffix.lower() in MKV_OUT_VIDEO_EXTS \
        else name


__all__ = ["IMAGE_EXTS", "MEDIA_EXTS", "MKV_OUT_VIDEO_EXTS", "MUXERS", "NATIVE_VIDEO_EXTS",
           "UNREAD_MEDIA_EXTS", "VIDEO_EXTS", "output_name"]
