"""Shared benchmark helpers: the leak metric, size buckets, RESULTS.md sections, machine info."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
LEAK_SSIM = 0.75


def require_shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        sys.exit(f"skipped: {path} is absent; the benchmark needs ../shared/data")
    return path


def box_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two same-size BGR crops (grey). Boxes smaller than the 3x3
    minimum window count as similar unless any pixel changed."""
    from skimage.metrics import structural_similarity

    h, w = a.shape[:2]
    win = min(7, h, w)
    win -= 1 - win % 2
    ga, gb = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
    if win < 3:
        return 1.0 if np.abs(ga.astype(int) - gb.astype(int)).max() < 8 else 0.0
    return float(structural_similarity(ga, gb, win_size=win, data_range=255))


def leaked(orig: np.ndarray, redacted: np.ndarray, box) -> bool:
    x1, y1, x2, y2 = (round(v) for v in box)
    h, w = orig.shape[:2]
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return False
    return box_ssim(orig[y1:y2, x1:x2], redacted[y1:y2, x1:x2]) > LEAK_SSIM


def size_bucket(box) -> str:
    side = min(box[2] - box[0], box[3] - box[1])
    if side < 16:
        return "<16"
    if side < 32:
        return "16-32"
    if side < 64:
        return "32-64"
    return ">=64"


BUCKETS = ["<16", "16-32", "32-64", ">=64"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"commit {commit or '?'}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")


def publish(name: str, lines: list[str], write: bool) -> None:
    """Print a result section and, unless ``write`` is false, store it in RESULTS.md."""
    body = "\n".join(lines)
    print(body)
    if write:
        write_section(name, body)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the ``<!-- name -->`` section of RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if start in text else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text.rstrip() + "\n")
