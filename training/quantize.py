"""Derive the int8 detectors that run on the CPU, ``models/int8/*.onnx``, from the float
models the registry pins: CenterFace and the plate YOLOs (the COCO CenterNet can be derived
too, as an experiment: ``python -m training.quantize DATA mb3-centernet-coco``). Nothing is
trained: ONNX Runtime's static quantisation (QDQ, int8 weights per channel, uint8
activations, min-max ranges) is calibrated on the ``tune`` half of the shared photo sets,
each image prepared exactly as the detector prepares a frame, at the input sizes video gets.

    python -m training.quantize [../shared/data]

The same inputs, the same onnxruntime and onnx versions give the same bytes; the sha256 of
each output is printed for ``models/registry.toml``. Parity with the float models is
measured by the benchmarks (models/int8/MODEL_CARD.md) and decides whether one ships.

The output layers stay float: the scores near the thresholds (faces from 0.1, plate
candidates from 0.05) are what recall rests on, and their rounding to 8 bits moved them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "int8"
SETS = ("faces", "plates", "screens")
PER_SET = 24  # calibration images from each set's tune half
METADATA = ("names", "stride", "task")
# Video inputs and the still passes' (1.5x and 2x 800): calibrated at 640 and 800 only, the
# int8 plate model found 63 of 96 tune plates at 1600 px against the float model's 96.
YOLO_SIZES = (640, 800, 1216, 1600)
CENTERFACE_SIZES = (640, 960, 1440)


def calibration_images(shared: Path) -> list[Path]:
    """The first ``PER_SET`` images, by name, of each set's tune half (scored sets are never
    calibrated on their report half)."""
    from training.split import split_halves

    out = []
    for name in SETS:
        ann = json.loads((shared / name / "annotations.json").read_text(encoding="utf-8"))
        tune = sorted(e["file"] for e in split_halves(ann["images"])["tune"])
        out += [shared / name / f for f in tune[:PER_SET]]
    return out


def _centerface_inputs(images: list[Path]) -> Iterator[dict[str, np.ndarray]]:
    import cv2

    from redact.detect.centerface import CenterFaceDetector

    for path in images:
        image = cv2.imread(str(path))
        for size in CENTERFACE_SIZES:
            yield {"input.1": CenterFaceDetector._prepare(image, size)[None]}


def _yolo_inputs(images: list[Path]) -> Iterator[dict[str, np.ndarray]]:
    import cv2

    from redact.detect.yolo_onnx import letterbox

    for path in images:
        image = cv2.imread(str(path))
        for size in YOLO_SIZES:
            boxed = letterbox(image, size)[0][..., ::-1].transpose(2, 0, 1)[None]
            yield {"images": np.ascontiguousarray(boxed, dtype=np.float32) / 255.0}


def _coco_inputs(images: list[Path]) -> Iterator[dict[str, np.ndarray]]:
    import cv2

    for path in images:
        image = cv2.imread(str(path))
        rgb = cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        yield {"tower_0/images:0": rgb[None].astype(np.float32)}


def _float_centerface(tmp: Path) -> Path:
    """The shipped graph with dynamic spatial dims and its weights out of its inputs
    (detect/centerface.py), at opset 13: per-channel quantisation needs it."""
    import onnx
    from onnx import version_converter

    from redact.detect.centerface import _dynamic_model_bytes

    model = onnx.load_from_string(_dynamic_model_bytes(_weights("centerface")))
    path = tmp / "centerface.onnx"
    onnx.save(version_converter.convert_version(model, 13), str(path))
    return path


def _float_yolo(name: str, tmp: Path) -> Path:
    from redact.detect.yolo_onnx import export_onnx

    spec = _store().specs()[name]
    return export_onnx(_weights(name), spec.sha256)


def _float_coco(tmp: Path) -> Path:
    return _weights("mb3-centernet-coco")


def _store():
    from redact.models import ModelStore

    return ModelStore(offline=True)


def _weights(name: str) -> Path:
    store = _store()
    return Path(store.ensure(store.specs()[name]))


def _name_nodes(path: Path) -> None:
    """Trap: CenterFace's nodes have no names, and excluding the name "" from quantisation
    excluded every node (the "int8" graph came out float)."""
    import onnx

    model = onnx.load(str(path))
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    onnx.save(model, str(path))


def _float_nodes(model_path: Path, depth: int, first: int) -> list[str]:
    """The layers kept float: the nodes within ``depth`` steps of the graph's outputs
    (walking back through their inputs), and the first ``first`` convolutions."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    convs = [n.name for n in graph.node if n.op_type in ("Conv", "ConvTranspose")][:first]
    producer = {out: node for node in graph.node for out in node.output}
    keep: set[str] = set()
    frontier = [o.name for o in graph.output]
    for _ in range(depth):
        nodes = [producer[name] for name in frontier if name in producer]
        keep |= {n.name for n in nodes}
        frontier = [i for n in nodes for i in n.input]
    return sorted(keep | set(convs))


# name → (float graph, calibration inputs, output-side depth kept float, convolutions from
# the input kept float). CenterFace's first convolutions in int8 changed a third of its
# low-score boxes on stills (faces of 1-3 px in a crowd leaked); with 8 kept float, a tenth.
MODELS: dict[str, tuple[Callable[[Path], Path],
                        Callable[[list[Path]], Iterator[dict[str, np.ndarray]]], int, int]] = {
    "centerface": (_float_centerface, _centerface_inputs, 2, 8),
    "fastanpr-plate": (partial(_float_yolo, "fastanpr-plate"), _yolo_inputs, 12, 8),
    "plates-yolov8n": (partial(_float_yolo, "plates-yolov8n"), _yolo_inputs, 12, 8),
}
# Tried and not shipped (models/int8/MODEL_CARD.md): the COCO CenterNet, (_float_coco,
# _coco_inputs, 6, 8). Its int8 twin found too few of the small vehicles behind the plate
# model's closer look: 5 of 24 plates under 20 px on 1080p frames against 15 (small_plates
# tune half), with 16 first convolutions or 30 output-side nodes kept float no better.
EXPERIMENTS = {"mb3-centernet-coco": (_float_coco, _coco_inputs, 6, 8)}


class _Reader:
    """ONNX Runtime's calibration reader protocol over a generator."""

    def __init__(self, inputs: Iterator[dict[str, np.ndarray]]) -> None:
        self.inputs = inputs

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.inputs, None)

    def rewind(self) -> None:  # pragma: no cover - min-max reads once
        raise NotImplementedError


def quantize(name: str, images: list[Path], out: Path) -> str:
    """Write ``out`` (the int8 twin of registry model ``name``); return its sha256."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    make_float, inputs, depth, first = {**EXPERIMENTS, **MODELS}[name]
    out = out.resolve()
    # Trap: ONNX Runtime's quantiser writes scratch files (sym_shape_infer_temp.onnx, a
    # uuid-named external-data file) into the working directory and leaves them there; run it
    # inside the temporary directory so they go with it.
    with tempfile.TemporaryDirectory(prefix="redact-quant-") as tmp, contextlib.chdir(tmp):
        source = make_float(Path(tmp))
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        _name_nodes(prepared)
        quantized = Path(tmp) / "int8.onnx"
        quantize_static(str(prepared), str(quantized), _Reader(inputs(images)),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=_float_nodes(prepared, depth, first))
        model = onnx.load(str(quantized))
        # The YOLO graph carries its class names as metadata (yolo_onnx.OnnxYolo reads them).
        # Only the keys that describe the network: the exporter also writes its date.
        original = onnx.load(str(source))
        del model.metadata_props[:]
        model.metadata_props.extend(p for p in original.metadata_props if p.key in METADATA)
        out.parent.mkdir(parents=True, exist_ok=True)
        data = model.SerializeToString()
        out.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else list(MODELS)
    images = calibration_images(shared)
    for name in names:
        digest = quantize(name, images, OUT / f"{name}-int8.onnx")
        print(f"{name}-int8.onnx sha256 {digest}")


if __name__ == "__main__":
    main()
