"""The one ONNX Runtime session factory: every ONNX detector gets its sessions here.

onnxruntime is imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from redact.detect.base import batch_workers, op_threads


def ort_has_cuda() -> bool:
    """Whether this onnxruntime build has the CUDA provider (onnxruntime-gpu)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(model: Path | str | bytes, *, device: str = "cpu",
                 threads: int | None = None) -> Any:
    """An ``InferenceSession`` for a model file or serialised graph. ``device="cuda"`` puts
    the CUDA provider first when this onnxruntime has it (else the CPU runs it); ``threads``
    (intra-op) defaults to ``op_threads()``, 0 is ORT's own choice."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Trap: ORT's worker threads busy-wait between ops by default. Here they share two
    # cores with the other detectors and x264, and the spinning starved both: turning it
    # off took per-frame 1080p speed from 0.26x to 0.30x of bare decode→encode.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # ORT ignores OMP_NUM_THREADS: the thread count is set here or nowhere.
    options.intra_op_num_threads = op_threads() if threads is None else threads
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and ort_has_cuda():
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=providers)


_pool: tuple[int, ThreadPoolExecutor] | None = None  # (owning pid, pool)
_pool_lock = threading.Lock()


def _batch_pool(workers: int) -> ThreadPoolExecutor:
    # Trap: batch engines fork worker processes; a pool made before the fork has no threads
    # in the child, so each process makes its own.
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="batch"))
        return _pool[1]


def run_batch(session: Any, input_name: str, batch: np.ndarray) -> list[np.ndarray]:
    """``session.run`` over an NCHW batch, split along the batch into ``batch_workers()``
    calls that run side by side (sessions are safe to run from several threads; each call
    uses ``op_threads()``). The outputs are those of one call over the whole batch. A GPU
    session gets the batch whole: splitting is for the CPU's cores (``--detect-batch`` is
    there to fill the GPU)."""
    parts = min(len(batch), batch_workers())
    if parts <= 1 or session.get_providers()[0] != "CPUExecutionProvider":
        return session.run(None, {input_name: batch})
    pool = _batch_pool(batch_workers())
    futures = [pool.submit(session.run, None, {input_name: chunk})
               for chunk in np.array_split(batch, parts)]
    outs = [future.result() for future in futures]
    return [np.concatenate([out[k] for out in outs]) for k in range(len(outs[0]))]
