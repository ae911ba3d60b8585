"""Train the shipped screen detector (YOLOv8n, one class ``screen``).

    python -m training.screens all              # prepare data, train, export to models/screens/
    python -m training.screens prepare          # data only (build/screens/data)
    python -m training.screens train            # resumes from build/screens/run/weights/last.pt
    python -m training.screens export           # best.pt -> models/screens/screens-yolov8n.pt

Data: the training part of ``../shared/data/screens`` (see training/split.py; the validation
part is never read here) plus synthetic screens (training/synth.py) on backgrounds from
``../shared/data/{plates,faces}`` and screen-free clips of ``../shared/data/videos``. Nothing
from ``../shared/data`` is copied into the repository: everything goes under ``build/``
(ignored). Start weights: the fastanpr plate YOLOv8n (``redact models fetch``), whose
backbone was pretrained; nothing is downloaded (ultralytics runs offline).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

from training.split import load_split
from training.synth import Sources, make_image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BUILD = ROOT / "build" / "screens"
WEIGHTS_OUT = ROOT / "models" / "screens" / "screens-yolov8n.pt"
SEED = 0
# Clips with no screen in view: safe as backgrounds (the others show a monitor or a TV,
# and serve as screen content only).
BACKGROUND_CLIPS = ("intel_car-detection", "intel_one-by-one-person-detection",
                    "intel_people-detection", "intel_store-aisle-detection",
                    "intel_worker-zone-detection", "intel_face-demographics-walking",
                    "intel_face-demographics-walking-and-pause", "intel_head-pose-male",
                    "intel_head-pose-female-and-male")

_SOURCES: Sources | None = None


def _read_images(folder: Path, long_side: int = 800) -> list[np.ndarray]:
    out = []
    for path in sorted(folder.glob("*.jpg")):
        img = cv2.imread(str(path))
        if img is None:
            continue
        s = long_side / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def _video_frames(path: Path, every: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % every == 0:
            s = 800 / max(frame.shape[:2])
            frames.append(cv2.resize(frame, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                          if s < 1 else frame)
        i += 1
    cap.release()
    return frames


def load_sources(shared: Path) -> Sources:
    photos = _read_images(shared / "plates" / "images") + _read_images(shared / "faces" / "images")
    clip_frames, backgrounds = [], list(photos)
    for clip in sorted((shared / "videos").glob("*.mp4")):
        frames = _video_frames(clip, every=15)
        clip_frames += frames
        if clip.stem in BACKGROUND_CLIPS:
            backgrounds += frames
    return Sources(content=photos + clip_frames, backgrounds=backgrounds,
                   real=_real_screens(shared))


def _real_screens(shared: Path) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Crops of the training part's screens with 30% context per side (for pasting)."""
    ann_path = shared / "screens" / "annotations.json"
    if not ann_path.is_file():
        return []
    train = set(load_split()["train"])
    out = []
    for im in json.loads(ann_path.read_text(encoding="utf-8"))["images"]:
        if im["file"] not in train:
            continue
        img = cv2.imread(str(shared / "screens" / im["file"]))
        if img is None:
            continue
        h, w = img.shape[:2]
        for x1, y1, x2, y2 in im["boxes"]:
            if (x2 - x1) * (y2 - y1) < 12 * 12:
                continue
            mx, my = int((x2 - x1) * 0.3), int((y2 - y1) * 0.3)
            cx1, cy1, cx2, cy2 = max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my)
            out.append((img[cy1:cy2, cx1:cx2].copy(), (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)))
    return out


def _init_worker(shared: str) -> None:
    global _SOURCES
    cv2.setNumThreads(1)
    _SOURCES = load_sources(Path(shared))


def _write_synth(job: tuple[str, int, int, str]) -> None:
    folder, seed, index, name = job
    assert _SOURCES is not None
    img, boxes = make_image(seed, index, _SOURCES)
    h, w = img.shape[:2]
    cv2.imwrite(str(Path(folder) / "images" / f"{name}.jpg"), img,
                [cv2.IMWRITE_JPEG_QUALITY, int(60 + (index * 7919) % 36)])
    _write_labels(Path(folder) / "labels" / f"{name}.txt", boxes, w, h)


def _write_labels(path: Path, boxes, w: int, h: int) -> None:
    lines = []
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        lines.append(f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                     f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def prepare(shared: Path, out: Path, n_synth: int, n_val: int, real_repeat: int,
            workers: int) -> Path:
    """Write a YOLO dataset under ``out`` and return its data.yaml."""
    split = load_split()
    ann = json.loads((shared / "screens" / "annotations.json").read_text(encoding="utf-8"))
    train_files = set(split["train"])
    for part in ("train", "val"):
        for sub in ("images", "labels"):
            folder = out / part / sub
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
    # Real photos: the training part of the split only, each written `real_repeat` times
    # (ultralytics augments each copy differently).
    n_real = 0
    for im in ann["images"]:
        if im["file"] not in train_files:
            continue
        src = shared / "screens" / im["file"]
        for r in range(real_repeat):
            name = f"real_{Path(im['file']).stem}_{r}"
            shutil.copyfile(src, out / "train" / "images" / f"{name}.jpg")
            _write_labels(out / "train" / "labels" / f"{name}.txt", im["boxes"], im["width"],
                          im["height"])
        n_real += 1
    jobs = [(str(out / "train"), SEED, i, f"syn_{i:05d}") for i in range(n_synth)]
    # Validation during training is synthetic (another seed), so the real validation part
    # stays unseen also by model selection.
    jobs += [(str(out / "val"), SEED + 1, i, f"synval_{i:05d}") for i in range(n_val)]
    t0 = time.monotonic()
    with Pool(workers, initializer=_init_worker, initargs=(str(shared),)) as pool:
        for _ in pool.imap_unordered(_write_synth, jobs, chunksize=16):
            pass
    print(f"prepared {n_real} real images x{real_repeat}, {n_synth} synthetic, {n_val} "
          f"synthetic val in {time.monotonic() - t0:.0f}s", flush=True)
    yaml = out / "data.yaml"
    yaml.write_text(f"path: {out}\ntrain: train/images\nval: val/images\nnames:\n  0: screen\n")
    return yaml


def _offline_ultralytics(device: str) -> None:
    """Keep ultralytics off the network: no font, AMP-check or asset downloads."""
    sys.path.insert(0, str(ROOT))
    from redact.detect.ultralytics_env import quiet_ultralytics

    quiet_ultralytics()
    import ultralytics.data.utils as data_utils
    import ultralytics.engine.trainer as trainer

    # Trap: the dataset check downloads Arial.ttf, and the AMP check downloads yolo26n.pt.
    data_utils.check_font = lambda *a, **k: None
    trainer.check_amp = lambda *a, **k: device != "cpu"
    try:
        import polars  # noqa: F401
    except ImportError:
        # Trap: ultralytics imports polars (outside its try) only to read results.csv back.
        def read_results_csv(self):
            with open(self.csv, newline="") as fh:
                rows = list(csv.DictReader(fh))
            return {k.strip(): [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}

        trainer.BaseTrainer.read_results_csv = read_results_csv


def train(data_yaml: Path, out: Path, *, weights: Path, epochs: int, imgsz: int, batch: int,
          device: str, workers: int, hours: float = 0.0, **overrides) -> Path:
    """Train (or resume) under ``out``/run; ``overrides`` go to ultralytics as they are."""
    _offline_ultralytics(device)
    from ultralytics import YOLO

    last = out / "run" / "weights" / "last.pt"
    t0 = time.monotonic()
    if last.is_file():
        print(f"resuming from {last}", flush=True)
        YOLO(str(last)).train(resume=True)
    else:
        YOLO(str(weights)).train(
            data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, device=device,
            workers=workers, seed=SEED, deterministic=True, project=str(out), name="run",
            exist_ok=True, plots=False, amp=device != "cpu", close_mosaic=max(1, epochs // 6),
            cache="ram", patience=epochs, verbose=True, val=True,
            # A wall-time budget, if set, makes ultralytics fit the epoch count (and the LR
            # schedule) to it after the first epoch; the epochs it ran are in results.csv.
            **({"time": hours} if hours else {}), **overrides,
        )
    print(f"training wall time {time.monotonic() - t0:.0f}s", flush=True)
    return out / "run" / "weights" / "best.pt"


def export(best: Path, dest: Path = WEIGHTS_OUT) -> str:
    """Strip the optimizer state and copy the weights into the repository; returns sha256."""
    _offline_ultralytics("cpu")
    from ultralytics.utils.torch_utils import strip_optimizer

    from redact.io.hashing import sha256_file

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.pt")
    shutil.copyfile(best, tmp)
    strip_optimizer(str(tmp))
    os.replace(tmp, dest)
    digest = sha256_file(dest)
    print(f"{dest}: sha256 {digest}")
    return digest


def default_weights() -> Path:
    sys.path.insert(0, str(ROOT))
    from redact.models import ModelStore

    store = ModelStore()
    return store.ensure(store.specs()["fastanpr-plate"])


def training_parser(prog: str, doc: str | None, out: Path) -> argparse.ArgumentParser:
    """The options every training command has: the step, where the shared data is, where
    the run goes, and how it runs."""
    p = argparse.ArgumentParser(prog=prog, description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["all", "prepare", "train", "export"], default="all", nargs="?")
    p.add_argument("--shared", type=Path, default=SHARED)
    # Trap: ultralytics puts a relative project under its own runs/ folder, and reads a
    # relative dataset path against its datasets folder.
    p.add_argument("--out", type=lambda v: Path(v).resolve(), default=out)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="cpu", help="cpu or a CUDA index such as 0")
    p.add_argument("--workers", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> None:
    p = training_parser("python -m training.screens", __doc__, BUILD)
    p.add_argument("--weights", type=Path, default=None, help="start weights (default: plates)")
    p.add_argument("--synth", type=int, default=6000)
    p.add_argument("--val", type=int, default=300)
    p.add_argument("--real-repeat", type=int, default=6)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--hours", type=float, default=0.0, help="wall-time budget (0: --epochs)")
    args = p.parse_args(argv)
    yaml = args.out / "data" / "data.yaml"
    if args.step in ("all", "prepare"):
        yaml = prepare(args.shared, args.out / "data", args.synth, args.val, args.real_repeat,
                       max(1, args.workers))
    if args.step in ("all", "train"):
        weights = args.weights or default_weights()
        train(yaml, args.out, weights=weights, epochs=args.epochs, imgsz=args.imgsz,
              batch=args.batch, device=args.device, workers=args.workers, hours=args.hours)
    if args.step in ("all", "export"):
        export(args.out / "run" / "weights" / "best.pt")


if __name__ == "__main__":
    main()
