"""The one ONNX Runtime session factory: every ONNX detector gets its sessions here.

onnxruntime is imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redact.detect.base import cpu_threads


def ort_has_cuda() -> bool:
    """Whether this onnxruntime build has the CUDA provider (onnxruntime-gpu)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(model: Path | str | bytes, *, device: str = "cpu",
                 threads: int | None = None) -> Any:
    """An ``InferenceSession`` for a model file or serialised graph. ``device="cuda"`` puts
    the CUDA provider first when this onnxruntime has it (else the CPU runs it); ``threads``
    defaults to ``cpu_threads()`` (0: ORT's own choice)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Trap: ORT's worker threads busy-wait between ops by default. Here they share two
    # cores with the other detectors and x264, and the spinning starved both: turning it
    # off took per-frame 1080p speed from 0.26x to 0.30x of bare decode→encode.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # ORT ignores OMP_NUM_THREADS: the thread count is set here or nowhere.
    options.intra_op_num_threads = cpu_threads() if threads is None else threads
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and ort_has_cuda():
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=providers)
