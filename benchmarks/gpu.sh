#!/usr/bin/env bash
# GPU benchmark, prepared for a machine with an NVIDIA GPU: 1080p throughput of `redact run
# --device cuda` with faces and plates, GPU utilisation (nvidia-smi sampled every 250 ms) and
# the ratio to a bare PyAV decode→encode of the same clip with the same x264 settings there.
#
#   bash benchmarks/gpu.sh [RESULT_DIR] [SOURCE_CLIP]
#
# Writes RESULT_DIR/gpu.md (a RESULTS.md section), RESULT_DIR/smi.csv and prints the section;
# store it with: python -c "from benchmarks.common import write_section as w; import sys;
#   w('gpu', open(sys.argv[1]).read())" RESULT_DIR/gpu.md
# For a machine without a package registry, prepare .gpu/ beside the repo (ignored by git):
#   .gpu/whl/*.whl     wheels for the GPU machine's Python (av, cryptography, cffi, pycparser,
#                      ultralytics, ultralytics-thop, onnx2torch), installed into /tmp/site
#   .gpu/models/       the verified model files (centerface, fastanpr-plate, yunet)
#   .gpu/source.mp4    a real clip with faces, upscaled to 1920x1080 here
# Made here with pip download --python-version 3.12 (the wheels, ~41 MB, with the models and
# the repo stay under a 64 MiB upload). NO_WHEELS=1 skips the install; FRAMES, COPIES and
# DEVICE=cpu make a quick smoke test on a machine without a GPU.
# The face model runs on the GPU through onnxruntime-gpu if installed, else as the same graph
# in torch (onnx2torch); decode stays on the CPU in the pipeline (see the decode probe below).
set -euo pipefail
cd "$(dirname "$0")/.."
RESULT_DIR=${1:-${OUT:-/tmp/redact-gpu}}
SOURCE=${2:-.gpu/source.mp4}
mkdir -p "$RESULT_DIR"
if [ -z "${NO_WHEELS:-}" ] && compgen -G ".gpu/whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ -d .gpu/models ]; then export REDACT_MODEL_DIR=$PWD/.gpu/models; fi
export REDACT_OFFLINE=1 YOLO_OFFLINE=true YOLO_AUTOINSTALL=false RAY_USAGE_STATS_ENABLED=0
export PYTHONUNBUFFERED=1
# FRAMES, COPIES and DEVICE (cuda) may be set to smoke-test the script on a CPU machine.
: >"$RESULT_DIR/smi.csv"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits \
    -lms 250 >"$RESULT_DIR/smi.csv" &
  SMI=$!
  trap 'kill $SMI 2>/dev/null || true' EXIT
fi
cat >/tmp/redact_gpu_bench.py <<'PY'
import json, os, shutil, sys, time
from datetime import datetime
from fractions import Fraction
from multiprocessing import get_context
from pathlib import Path

import av, cv2, numpy as np, torch

from benchmarks.speed import bare

result_dir, source = Path(sys.argv[1]), Path(sys.argv[2])
work = Path("/tmp/redact-gpu-work")
FRAMES, RATE = int(os.environ.get("FRAMES", "300")), 30
COPIES, DEVICE = int(os.environ.get("COPIES", "8")), os.environ.get("DEVICE", "cuda")
GPU = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
lines, t_start = [], time.time()


def log(msg):
    print(f"[{time.time() - t_start:6.1f}s] {msg}", flush=True)


def make_clip(path):
    """FRAMES frames of 1920x1080 at 30 fps: the source upscaled, played forward/backward."""
    images = []
    if source.exists():
        with av.open(str(source)) as src:
            images = [cv2.resize(f.to_ndarray(format="bgr24"), (1920, 1080))
                      for f in src.decode(video=0)]
    if not images:
        log(f"no {source}: synthetic frames (throughput only, no faces)")
        y, x = np.mgrid[0:1080, 0:1920]
        images = [((x + y + 7 * i) % 256).astype(np.uint8)[..., None].repeat(3, 2)
                  for i in range(30)]
    loop = images + images[-2:0:-1]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=RATE)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.options = {"crf": "16", "preset": "fast"}
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(loop[i % len(loop)], format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, RATE)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


def gpu_util(t0, t1):
    vals = []
    for row in (result_dir / "smi.csv").read_text().splitlines():
        parts = [p.strip() for p in row.split(",")]
        try:
            ts = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        except ValueError:
            continue
        if t0 <= ts <= t1:
            vals.append((float(parts[1]), float(parts[2])))
    if not vals:
        return "n/a"
    util = [v[0] for v in vals]
    return f"{np.mean(util):.0f}% mean, {max(util):.0f}% peak, {max(v[1] for v in vals):.0f} MiB"


def main():
    global lines
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clip = work / "clip1080.mp4"
    make_clip(clip)
    from redact.config import Config
    cfg = Config()
    log(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
        f"{GPU}; "
        f"{os.cpu_count()} CPU cores")
    try:
        import onnxruntime as ort
        providers = ort.get_available_providers()
    except ImportError:
        providers = []
    log(f"onnxruntime providers: {providers}")

    # Decode probe: PyAV's bundled FFmpeg and NVDEC.
    t0 = time.time()
    with av.open(str(clip)) as c:
        n = sum(1 for _ in c.decode(video=0))
    cpu_dec = n / (time.time() - t0)
    try:
        from av.codec.hwaccel import HWAccel
        t0 = time.time()
        with av.open(str(clip), hwaccel=HWAccel(device_type="cuda", allow_software_fallback=False)) as c:
            n = sum(1 for _ in c.decode(video=0))
        gpu_dec = f"{n / (time.time() - t0):.0f} fps"
    except Exception as exc:
        gpu_dec = f"not available ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
    log(f"decode 1080p: CPU {cpu_dec:.0f} fps; NVDEC through PyAV: {gpu_dec}")

    # Bare decode→encode: one process, and COPIES processes at once (the same parallelism as below).
    one_bare = bare(clip, work / "bare.mp4", cfg.crf, cfg.encoder_preset)
    t0, many_bare = time.time(), 0.0
    with get_context("spawn").Pool(max(1, COPIES)) as pool:
        # bare must come from an importable module: spawned children cannot see this script.
        pool.starmap(bare, [(clip, work / f"bare{i}.mp4", cfg.crf, cfg.encoder_preset)
                            for i in range(COPIES)])
    many_bare = COPIES * FRAMES / (time.time() - t0) if COPIES else 0.0
    log(f"bare decode→encode: {one_bare:.1f} fps one file, {many_bare:.1f} fps {COPIES} at once")

    import redact
    from redact.batch.runner import FileRunner
    from redact.batch.jobs import BatchRunner
from redact.batch.options import BatchOptions

    # Several files first, while this process holds no model: a fork after the detectors'
    # threads have started can hang (GPU workers are spawned anyway).
    rows = []
    inputs = work / "in"
    inputs.mkdir()
    for i in range(COPIES):  # COPIES=0 leaves this part out (a CPU smoke test forks)
        shutil.copy(clip, inputs / f"clip{i}.mp4")
    settings = redact.load_settings(overrides={"device": DEVICE, "detect_batch": 8},
                                    override_source="benchmark")
    if COPIES:
        t0 = time.time()
        report = BatchRunner(settings, work / "many", BatchOptions(workers=COPIES)).run(inputs)
        t1 = time.time()
        bad = [r for r in report.results if r.status != "ok"]
        if bad:
            raise SystemExit(f"batch failed: {bad[0].error}")
        fps = sum(r.frames for r in report.results) / (t1 - t0)
        rows.append((f"{COPIES} files, --workers {COPIES}, detect_batch 8 (wall incl. model "
                     "loads)", fps, many_bare, gpu_util(t0, t1), report.results[0].counts))
        log(rows[-1])

    for batch in (1, 8):
        settings = redact.load_settings(overrides={"device": DEVICE, "detect_batch": batch},
                                        override_source="benchmark")
        runner = FileRunner(settings)
        runner.detectors  # noqa: B018  (models load outside the timed region)
        t0 = time.time()
        res = runner.run(clip, work / f"one{batch}" / "clip.mp4")
        t1 = time.time()
        if res.status != "ok":
            raise SystemExit(f"redact failed: {res.error}")
        fps = res.frames / (t1 - t0)
        warn = json.loads(Path(res.audit).read_text()).get("warnings", [])
        rows.append((f"1 file, detect_batch {batch}", fps, one_bare, gpu_util(t0, t1), res.counts))
        log(f"{rows[-1]} warnings={warn}")
        del runner

    # Half precision: does the face network in fp16 find what fp32 finds? (same frames)
    half_line = "not measured (needs the torch face path)"
    try:
        from redact.detect.centerface import CenterFaceDetector, _dynamic_model_bytes
        from redact.detect.centerface_torch import TorchSession
    except ImportError:
        TorchSession = None
    if TorchSession is not None:
        from redact.models import ModelStore
        store = ModelStore(offline=True)
        spec = store.specs()["centerface"]
        det = CenterFaceDetector(spec=spec, weights=store.ensure(spec), categories=("face",),
                                 thresholds={"face": cfg.face.threshold}, size=cfg.face.size,
                                 device=DEVICE, coarse_size=cfg.face.coarse_size)
        frames = []
        with av.open(str(clip)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i % 5 == 0:
                    frames.append(f.to_ndarray(format="bgr24"))
        found = {}
        for half in (False, True):
            det.session = TorchSession(_dynamic_model_bytes(store.ensure(spec)), DEVICE, half=half)
            found[half] = det.detect(frames)
        kept = total = 0
        for a, b in zip(found[False], found[True]):
            total += len(a)
            for box in a.xyxy:
                if len(b):
                    ix1 = np.maximum(box[0], b.xyxy[:, 0]); iy1 = np.maximum(box[1], b.xyxy[:, 1])
                    ix2 = np.minimum(box[2], b.xyxy[:, 2]); iy2 = np.minimum(box[3], b.xyxy[:, 3])
                    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
                    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])
                    if (inter / (area(box) + area(b.xyxy) - inter)).max() >= 0.5:
                        kept += 1
        half_line = (f"fp16 finds {kept} of the {total} faces fp32 finds (IoU ≥ 0.5) on "
                     f"{len(frames)} frames; fp16 total {sum(len(b) for b in found[True])}")
    log(half_line)

    lines = [
        "## GPU throughput on 1080p (benchmarks/gpu.sh)",
        "",
        f"GPU: {GPU}, {os.cpu_count()} CPU cores, "
        f"{datetime.now().strftime('%Y-%m-%d %H:%M')}. Clip: {FRAMES} frames 1920x1080 at {RATE} "
        f"fps made from `{source.name}`; faces and plates, `--device {DEVICE}`, x264 crf {cfg.crf} "
        f"preset {cfg.encoder_preset}. Face model on "
        f"{'ONNX Runtime CUDA' if 'CUDAExecutionProvider' in providers else 'torch (onnx2torch)'}; "
        f"plates on ultralytics (fp16)"
        + (f"; the second face model ({cfg.face.second_model}, OpenCV) on the CPU"
           if cfg.face.second_model else "")
        + f". Decode on the CPU (NVDEC through PyAV: {gpu_dec}).",
        "",
        "| run | redact fps | × real time | bare fps | ratio to bare | GPU utilisation | regions |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, fps, base, util, counts in rows:
        lines.append(f"| {label} | {fps:.1f} | {fps / RATE:.1f}× | {base:.1f} | "
                     f"**{fps / base:.2f}×** | {util} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))} |")
    lines += ["", f"Half precision (face network): {half_line}."]
    (result_dir / "gpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

# Worker processes are spawned (CUDA does not survive a fork) and import this file: the
# benchmark itself runs only in the parent.
if __name__ == "__main__":
    main()
PY
python3 /tmp/redact_gpu_bench.py "$RESULT_DIR" "$SOURCE"
