"""ultralytics' import-time behaviour, tamed (shared by the torch and ONNX YOLO paths)."""

from __future__ import annotations

import os


def quiet_ultralytics() -> None:
    """Must run before the first ``import ultralytics``: it otherwise probes DNS at import
    time, may pip-install missing extras, and reports usage unless ``sync`` is off."""
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    from ultralytics import settings

    if settings.get("sync", False):
        settings.update({"sync": False})
