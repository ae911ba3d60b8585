"""The CenterFace network in torch (converted from the same verified ONNX graph by onnx2torch),
for GPUs whose Python has torch but no ``onnxruntime-gpu`` (a 250 MB wheel, separate from
``onnxruntime``). Same weights, same outputs within float rounding (tests/test_batched.py).

It answers the two calls CenterFaceDetector makes of an ONNX Runtime session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Input:
    name: str
    shape: tuple


def torch_available(device: str) -> bool:
    try:
        import onnx2torch  # noqa: F401
        import torch
    except ImportError:
        return False
    return device != "cuda" or bool(torch.cuda.is_available())


class TorchSession:
    """``run(None, {name: NCHW float32})`` → the graph's outputs as float32 numpy arrays."""

    def __init__(self, model_bytes: bytes, device: str = "cuda", half: bool = False) -> None:
        import onnx
        import torch
        from onnx2torch import convert

        model = onnx.load_from_string(model_bytes)
        self._name = model.graph.input[0].name
        self.device = torch.device("cuda:0" if device == "cuda" else "cpu")
        self.half = half
        net = convert(model).eval().to(self.device)
        self.net = net.half() if half else net

    def get_inputs(self) -> list[_Input]:
        return [_Input(self._name, ("B", 3, "H", "W"))]

    def get_providers(self) -> list[str]:
        """Where it runs, named as ONNX Runtime names its providers: ``run_batch`` splits a
        batch across the cores for ORT's CPU sessions only; torch gets it whole."""
        return ["CUDAExecutionProvider" if self.device.type == "cuda" else "TorchCPU"]

    def run(self, _outputs: None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        (blob,) = feed.values()
        with torch.inference_mode():
            x = torch.from_numpy(blob).to(self.device, non_blocking=True)
            outs = self.net(x.half() if self.half else x)
            return [o.float().cpu().numpy() for o in outs]
