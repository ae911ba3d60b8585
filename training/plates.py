"""Fine-tune the plate detector on small, angled and washed-out plates (issue 18, item 5).

    python -m training.plates all        # prepare data, train, export to models/plates/
    python -m training.plates prepare    # data only (build/plates/data)
    python -m training.plates train      # resumes from build/plates/run/weights/last.pt
    python -m training.plates export     # best.pt -> models/plates/plates-yolov8n.pt

Start weights: the fastanpr plate YOLOv8n (``redact models fetch``). Data, all synthesised
from ``../shared/data`` under ``build/`` (nothing is copied into the repository):

* **plates**: each photo of ``plates/`` shrunk until its plate is 10-160 px wide, seen from
  another angle (a perspective warp: turned about the vertical axis, foreshortened as from
  above, rolled), sometimes blurred, resampled or washed out (a white plate on a white car
  in an overexposed frame), JPEG-compressed, and cut to a square around the plate;
* **negatives**: squares of the face photos and of the screen set's plate-free photos.

Only photos in the ``tune`` half of *both* plate benchmarks are used: ``training/split.py``'s
halves (benchmarks/leak_images.py) and ``benchmarks/small_plates.py``'s (every other photo
in file order), so both benchmarks' ``report`` halves stay unseen. The real footage of
``../shared/data/videos`` is never read here: it is what benchmarks/real_footage.py scores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from training.screens import (
    ROOT,
    _write_labels,
    default_weights,
    export,
    train,
    training_parser,
)
from training.split import split_halves

BUILD = ROOT / "build" / "plates"
WEIGHTS_OUT = ROOT / "models" / "plates" / "plates-yolov8n.pt"
SEED = 0
SIZE = 320  # training squares; the plates are what is small, not the input


def plate_photos(shared: Path) -> list[dict]:
    """The plate photos both plate benchmarks hold in their ``tune`` half."""
    images = sorted(json.loads((shared / "plates" / "annotations.json").read_text())["images"],
                    key=lambda e: e["file"])
    small_tune = {e["file"] for k, e in enumerate(images) if k % 2 == 0}
    return [e for e in split_halves(images)["tune"] if e["file"] in small_tune]


def negative_photos(shared: Path) -> list[Path]:
    faces = json.loads((shared / "faces" / "annotations.json").read_text())["images"]
    screens = json.loads((shared / "screens" / "annotations.json").read_text())["negatives"]
    return ([shared / "faces" / e["file"] for e in split_halves(faces)["tune"]]
            + [shared / "screens" / e["file"] for e in split_halves(screens)["tune"]])


def warp(image: np.ndarray, box: list[int], rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The photo shrunk and seen from another angle, where its pixels landed, and the
    plate's new box."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    scale = min(1.0, float(np.exp(rng.uniform(np.log(10), np.log(160)))) / (x2 - x1))
    turn = np.cos(np.radians(rng.uniform(0, 65)))      # about the vertical axis
    squash = rng.uniform(0.55, 1.0)                     # seen from above or below
    roll = np.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.25, 0.25)
    affine = np.array([[turn, shear, 0], [0, squash, 0], [0, 0, 1]], np.float64)
    rot = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    keystone = np.eye(3)
    keystone[2, :2] = rng.uniform(-0.35, 0.35, 2) / np.array([w, h])
    m = np.diag([scale, scale, 1.0]) @ rot @ affine @ keystone
    corners = cv2.perspectiveTransform(np.float32([[[0, 0], [w, 0], [w, h], [0, h]]]), m)[0]
    m = np.array([[1, 0, -corners[:, 0].min()], [0, 1, -corners[:, 1].min()], [0, 0, 1]]) @ m
    size = np.ceil(corners.max(0) - corners.min(0)).astype(int) + 1
    # Trap: a reflected border mirrors the plate when it is near the photo's edge, and an
    # unlabelled copy teaches the model that plates are background. Outside the warped
    # photo is left to the background (``inside``).
    dsize = (int(size[0]), int(size[1]))
    out = cv2.warpPerspective(image, m, dsize, flags=cv2.INTER_AREA)
    inside = cv2.warpPerspective(np.ones((h, w), np.uint8), m, dsize,
                                 flags=cv2.INTER_NEAREST) > 0
    plate = cv2.perspectiveTransform(
        np.float32([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]]), m)[0]
    return out, inside, np.concatenate([plate.min(0), plate.max(0)])


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera and compression faults footage has and the plate photos do not."""
    img = image.astype(np.float32)
    if rng.random() < 0.35:  # washed out: low contrast, bright (overexposure, glare)
        a = rng.uniform(0.45, 0.85)
        img = img * a + (1 - a) * 255 * rng.uniform(0.55, 1.0)
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # video scaled down and up again
        h, w = img.shape[:2]
        f = rng.uniform(0.45, 0.8)
        small = cv2.resize(img, (max(1, int(w * f)), max(1, int(h * f))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 91))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def square(image: np.ndarray, box: np.ndarray | None, rng: np.random.Generator,
           background: np.ndarray, inside: np.ndarray | None = None
           ) -> tuple[np.ndarray, list[list[float]]]:
    """A SIZE x SIZE cut holding ``box`` whole, ``image`` (where ``inside``) pasted on
    ``background`` (a plate-free photo, so a shrunk car is not the only thing in view)."""
    h, w = image.shape[:2]
    px, py = int(rng.integers(0, max(0, SIZE - w) + 1)), int(rng.integers(0, max(0, SIZE - h) + 1))
    canvas = cv2.resize(background, (max(w, SIZE), max(h, SIZE)), interpolation=cv2.INTER_AREA)
    region = canvas[py:py + h, px:px + w]
    region[...] = image if inside is None else np.where(inside[..., None], image, region)
    h, w = canvas.shape[:2]
    if box is None:
        x0, y0 = int(rng.integers(0, w - SIZE + 1)), int(rng.integers(0, h - SIZE + 1))
        return canvas[y0:y0 + SIZE, x0:x0 + SIZE], []
    bx1, by1, bx2, by2 = box + np.array([px, py, px, py])
    # the cut's corner: anywhere that keeps the plate inside it (the plate is under SIZE)
    x0 = int(rng.uniform(max(0, bx2 - SIZE), max(0, min(bx1, w - SIZE))))
    y0 = int(rng.uniform(max(0, by2 - SIZE), max(0, min(by1, h - SIZE))))
    return (canvas[y0:y0 + SIZE, x0:x0 + SIZE],
            [[bx1 - x0, by1 - y0, bx2 - x0, by2 - y0]])


def prepare(shared: Path, out: Path, n_train: int, n_val: int) -> Path:
    photos = plate_photos(shared)
    negatives = negative_photos(shared)
    for part, n, seed in (("train", n_train, SEED), ("val", n_val, SEED + 1)):
        for sub in ("images", "labels"):
            folder = out / part / sub
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
        rng = np.random.default_rng(seed)
        for i in range(n):
            back = cv2.imread(str(negatives[int(rng.integers(len(negatives)))]))
            f = rng.uniform(1.0, 2.0) * SIZE / min(back.shape[:2])
            back = cv2.resize(back, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            back = square(back, None, rng, back)[0]
            if rng.random() < 0.15:
                pic, boxes = back, []
            else:
                entry = photos[int(rng.integers(len(photos)))]
                img, inside, box = warp(cv2.imread(str(shared / "plates" / entry["file"])),
                                        entry["boxes"][0], rng)
                pic, boxes = square(img, box, rng, back, inside)
            pic = degrade(pic, rng)
            name = f"{part}_{i:05d}"
            cv2.imwrite(str(out / part / "images" / f"{name}.jpg"), pic,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            _write_labels(out / part / "labels" / f"{name}.txt", boxes, SIZE, SIZE)
    print(f"prepared {n_train} train and {n_val} val squares from {len(photos)} plate photos "
          f"and {len(negatives)} plate-free photos", flush=True)
    yaml = out / "data.yaml"
    # The class keeps fastanpr's name: the registry maps it to the plate category.
    yaml.write_text(f"path: {out}\ntrain: train/images\nval: val/images\n"
                    "names:\n  0: License_Plate\n")
    return yaml


def main(argv: list[str] | None = None) -> None:
    p = training_parser("python -m training.plates", __doc__, BUILD)
    p.add_argument("--train", type=int, default=1600)
    p.add_argument("--val", type=int, default=150)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--freeze", type=int, default=5,
                   help="layers kept as trained (the backbone's first five)")
    args = p.parse_args(argv)
    yaml = args.out / "data" / "data.yaml"
    if args.step in ("all", "prepare"):
        yaml = prepare(args.shared, args.out / "data", args.train, args.val)
    if args.step in ("all", "train"):
        # No mosaic: it halves every plate again, and these are small already. A low
        # learning rate and a half-frozen backbone: a fine-tune, not a new model.
        train(yaml, args.out, weights=default_weights(), epochs=args.epochs, imgsz=SIZE,
              batch=args.batch, device=args.device, workers=args.workers, mosaic=0.0,
              freeze=args.freeze, optimizer="AdamW", lr0=0.0005, lrf=0.2, warmup_epochs=0.5)
    if args.step in ("all", "export"):
        export(args.out / "run" / "weights" / "best.pt", WEIGHTS_OUT)


if __name__ == "__main__":
    main()
