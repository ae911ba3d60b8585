"""Synthetic screens: rendered screen content on TV, monitor, laptop and phone bodies, warped in
perspective onto real backgrounds, with bezels, glare, reflections, hands and motion blur.

Every image is a pure function of (seed, index, source lists), so a dataset is reproducible.
Labels are YOLO boxes of the whole device (a laptop's keyboard and a monitor's stand included),
as COCO boxes them. Some images also get distractors that are not screens (framed pictures,
paper, windows) with no label, to keep false positives down.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import cv2
import numpy as np

WORDS = [
    "Inbox", "Settings", "Search", "Home", "Report", "Status", "Unit 12", "Dispatch", "Map",
    "Call", "Messages", "Open", "Cancel", "OK", "Profile", "Camera", "Files", "Edit", "View",
    "12:45", "Priority", "Case 2291", "Login", "Password", "Download", "News", "Weather",
]
FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX]


@dataclass
class Sources:
    """BGR images to draw screen content from and to use as backgrounds (no screens in them)."""

    content: list[np.ndarray]
    backgrounds: list[np.ndarray]
    # Real screens from the training part of the split: (crop with some context, inner box).
    real: list[tuple[np.ndarray, tuple[int, int, int, int]]] = field(default_factory=list)


def _color(rng: np.random.Generator, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi + 1, 3))


def _word(rng: np.random.Generator) -> str:
    if rng.random() < 0.6:
        return str(rng.choice(WORDS))
    n = int(rng.integers(2, 10))
    return "".join(rng.choice(list(string.ascii_letters + string.digits), n))


def _text_lines(img: np.ndarray, rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int,
                color: tuple[int, int, int]) -> None:
    h = max(1, y1 - y0)
    scale = float(rng.uniform(0.3, 1.2)) * max(img.shape[:2]) / 640
    step = max(8, int(28 * scale))
    font = int(rng.choice(FONTS))
    y = y0 + step
    while y < y0 + h:
        x = x0 + int(rng.integers(0, 12))
        line = " ".join(_word(rng) for _ in range(int(rng.integers(1, 7))))
        cv2.putText(img, line, (x, y), font, scale, color, max(1, int(scale * 1.5)), cv2.LINE_AA)
        y += step + int(rng.integers(0, step // 2 + 1))


def _crop(rng: np.random.Generator, img: np.ndarray, w: int, h: int) -> np.ndarray:
    ih, iw = img.shape[:2]
    scale = max(w / iw, h / ih) * float(rng.uniform(1.0, 1.6))
    resized = cv2.resize(img, (max(w, int(iw * scale) + 1), max(h, int(ih * scale) + 1)))
    y = int(rng.integers(0, resized.shape[0] - h + 1))
    x = int(rng.integers(0, resized.shape[1] - w + 1))
    return resized[y:y + h, x:x + w].copy()


def render_content(rng: np.random.Generator, w: int, h: int, src: Sources) -> np.ndarray:
    """What a screen shows: a UI, text, a photo or video frame, or nothing (off/dim)."""
    kind = rng.choice(["ui", "text", "photo", "photo", "off", "dim", "solid"],
                      p=[0.25, 0.15, 0.2, 0.1, 0.17, 0.08, 0.05])
    if kind in ("photo", "dim") and src.content:
        img = _crop(rng, src.content[int(rng.integers(len(src.content)))], w, h)
        if kind == "dim":
            img = (img * rng.uniform(0.15, 0.45)).astype(np.uint8)
        elif rng.random() < 0.4:  # an overlay bar, like a player or a video call
            bar = int(h * rng.uniform(0.06, 0.15))
            img[-bar:] = (img[-bar:] * 0.3).astype(np.uint8)
            _text_lines(img, rng, 4, h - bar, w, h, (230, 230, 230))
        return img
    if kind == "off":
        base = int(rng.integers(5, 45))
        img = np.full((h, w, 3), base, np.uint8)
        tint = rng.integers(-6, 7, 3)
        img = np.clip(img.astype(int) + tint, 0, 255).astype(np.uint8)
        # A faint reflection of the room.
        if src.backgrounds and rng.random() < 0.7:
            refl = _crop(rng, src.backgrounds[int(rng.integers(len(src.backgrounds)))], w, h)
            refl = cv2.GaussianBlur(refl, (0, 0), max(1.0, w / 60))
            a = float(rng.uniform(0.05, 0.25))
            img = cv2.addWeighted(img, 1 - a, refl, a, 0)
        return img
    if kind == "solid":
        img = np.full((h, w, 3), _color(rng), np.uint8)
        _text_lines(img, rng, 4, 0, w, h // 3, _color(rng))
        return img
    dark = rng.random() < 0.4
    bg = _color(rng, 0, 60) if dark else _color(rng, 190, 255)
    fg = _color(rng, 180, 255) if dark else _color(rng, 0, 80)
    img = np.full((h, w, 3), bg, np.uint8)
    if kind == "text":
        _text_lines(img, rng, 2, 0, w, h, fg)
        return img
    # A UI: title bar, maybe a sidebar, panels, buttons, text and thumbnails.
    bar = max(2, int(h * rng.uniform(0.04, 0.12)))
    cv2.rectangle(img, (0, 0), (w, bar), _color(rng), -1)
    _text_lines(img, rng, 4, 0, w, bar, _color(rng, 200, 255))
    x0 = 0
    if rng.random() < 0.5:
        x0 = int(w * rng.uniform(0.15, 0.3))
        cv2.rectangle(img, (0, bar), (x0, h), _color(rng), -1)
        _text_lines(img, rng, 3, bar, x0, h, fg)
    for _ in range(int(rng.integers(1, 6))):
        px = int(rng.integers(x0, max(x0 + 1, w - 10)))
        py = int(rng.integers(bar, max(bar + 1, h - 10)))
        pw, ph = int(rng.integers(10, max(11, w // 2))), int(rng.integers(8, max(9, h // 3)))
        if src.content and rng.random() < 0.4:
            thumb = _crop(rng, src.content[int(rng.integers(len(src.content)))], pw, ph)
            region = img[py:py + ph, px:px + pw]
            region[:] = thumb[:region.shape[0], :region.shape[1]]
        else:
            cv2.rectangle(img, (px, py), (px + pw, py + ph), _color(rng), -1)
    _text_lines(img, rng, x0 + 4, bar, w, h, fg)
    return img


def _with_bezel(rng: np.random.Generator, screen: np.ndarray, frac: float,
                color: tuple[int, int, int], radius: int = 0) -> tuple[np.ndarray, np.ndarray]:
    h, w = screen.shape[:2]
    b = max(1, int(min(w, h) * frac))
    body = np.full((h + 2 * b, w + 2 * b, 3), color, np.uint8)
    body[b:b + h, b:b + w] = screen
    mask = np.full(body.shape[:2], 255, np.uint8)
    if radius > 0:
        mask[:] = 0
        r = min(radius, min(body.shape[:2]) // 2)
        hh, ww = body.shape[:2]
        cv2.rectangle(mask, (r, 0), (ww - r, hh), 255, -1)
        cv2.rectangle(mask, (0, r), (ww, hh - r), 255, -1)
        for cx, cy in ((r, r), (ww - r - 1, r), (r, hh - r - 1), (ww - r - 1, hh - r - 1)):
            cv2.circle(mask, (cx, cy), r, 255, -1)
    return body, mask


def make_device(rng: np.random.Generator, src: Sources, px: int) -> tuple[np.ndarray, np.ndarray]:
    """A flat device image and its mask, about ``px`` pixels on its long side."""
    kind = rng.choice(["tv", "monitor", "laptop", "phone", "phone_back"],
                      p=[0.22, 0.18, 0.2, 0.32, 0.08])
    dark_body = _color(rng, 5, 50) if rng.random() < 0.8 else _color(rng, 120, 220)
    if kind in ("phone", "phone_back"):
        ratio = float(rng.uniform(1.7, 2.2))
        h, w = px, max(6, int(px / ratio))
        if kind == "phone_back":
            body = np.full((h, w, 3), _color(rng), np.uint8)
            cv2.circle(body, (w // 4, h // 10), max(1, w // 8), (20, 20, 20), -1)
            _, mask = _with_bezel(rng, body[1:-1, 1:-1], 0.0, (0, 0, 0), radius=w // 6)
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            screen = render_content(rng, w, h, src)
            body, mask = _with_bezel(rng, screen, float(rng.uniform(0.02, 0.08)), dark_body,
                                     radius=max(1, w // 7))
        if rng.random() < 0.3:  # held sideways
            body, mask = np.rot90(body).copy(), np.rot90(mask).copy()
        return body, mask
    ratio = float(rng.choice([16 / 9, 16 / 10, 4 / 3, 21 / 9], p=[0.5, 0.25, 0.2, 0.05]))
    w, h = px, max(6, int(px / ratio))
    screen = render_content(rng, w, h, src)
    if kind == "laptop":
        body, mask = _with_bezel(rng, screen, float(rng.uniform(0.02, 0.07)), dark_body)
        bh, bw = body.shape[:2]
        kb_h = max(3, int(bh * rng.uniform(0.15, 0.6)))  # keyboard deck, foreshortened
        spread = int(bw * rng.uniform(0.0, 0.12))
        canvas = np.zeros((bh + kb_h, bw + 2 * spread, 3), np.uint8)
        cmask = np.zeros(canvas.shape[:2], np.uint8)
        canvas[:bh, spread:spread + bw] = body
        cmask[:bh, spread:spread + bw] = mask
        deck = np.array([[spread, bh], [spread + bw, bh], [bw + 2 * spread - 1, bh + kb_h - 1],
                         [0, bh + kb_h - 1]], np.int32)
        deck_color = _color(rng, 20, 210)
        cv2.fillPoly(canvas, [deck], deck_color)
        cv2.fillPoly(cmask, [deck], 255)
        keys = tuple(max(0, c - 35) for c in deck_color)
        rows = int(rng.integers(3, 6))
        for r in range(rows):
            y = bh + int(kb_h * (0.1 + 0.6 * r / rows))
            cv2.line(canvas, (spread + bw // 10, y), (spread + bw - bw // 10, y), keys,
                     max(1, kb_h // 25))
        return canvas, cmask
    body, mask = _with_bezel(rng, screen, float(rng.uniform(0.01, 0.08)), dark_body)
    if kind == "monitor" and rng.random() < 0.7:
        bh, bw = body.shape[:2]
        sh = int(bh * rng.uniform(0.1, 0.3))
        canvas = np.zeros((bh + sh, bw, 3), np.uint8)
        cmask = np.zeros(canvas.shape[:2], np.uint8)
        canvas[:bh], cmask[:bh] = body, mask
        nw = max(2, bw // 12)
        cv2.rectangle(canvas, (bw // 2 - nw // 2, bh), (bw // 2 + nw // 2, bh + sh), dark_body, -1)
        cv2.rectangle(cmask, (bw // 2 - nw // 2, bh), (bw // 2 + nw // 2, bh + sh), 255, -1)
        cv2.rectangle(canvas, (bw // 2 - bw // 6, bh + sh - max(2, sh // 5)),
                      (bw // 2 + bw // 6, bh + sh), dark_body, -1)
        cv2.rectangle(cmask, (bw // 2 - bw // 6, bh + sh - max(2, sh // 5)),
                      (bw // 2 + bw // 6, bh + sh), 255, -1)
        return canvas, cmask
    return body, mask


def make_distractor(rng: np.random.Generator, src: Sources,
                    px: int) -> tuple[np.ndarray, np.ndarray]:
    """Screen-like things that are not screens: framed pictures, paper, windows, signs."""
    kind = rng.choice(["frame", "paper", "window", "sign"])
    w = px
    h = max(6, int(px / rng.uniform(0.6, 1.8)))
    if kind == "paper":
        img = np.full((h, w, 3), _color(rng, 215, 255), np.uint8)
        _text_lines(img, rng, 3, 0, w, h, _color(rng, 0, 60))
        return img, np.full((h, w), 255, np.uint8)
    if kind == "window":
        sky = np.zeros((h, w, 3), np.uint8)
        top, bottom = np.array(_color(rng, 150, 255)), np.array(_color(rng, 100, 230))
        for y in range(h):
            sky[y] = (top * (1 - y / h) + bottom * y / h).astype(np.uint8)
        frame = _color(rng, 150, 255)
        t = max(1, w // 20)
        cv2.rectangle(sky, (0, 0), (w - 1, h - 1), frame, t)
        cv2.line(sky, (w // 2, 0), (w // 2, h), frame, t)
        cv2.line(sky, (0, h // 2), (w, h // 2), frame, t)
        return sky, np.full((h, w), 255, np.uint8)
    if kind == "sign":
        img = np.full((h, w, 3), _color(rng), np.uint8)
        _text_lines(img, rng, 3, 0, w, h, _color(rng))
        return img, np.full((h, w), 255, np.uint8)
    inner = _crop(rng, src.content[int(rng.integers(len(src.content)))], w, h) if src.content \
        else np.full((h, w, 3), _color(rng), np.uint8)
    wood = (int(rng.integers(20, 90)), int(rng.integers(60, 140)), int(rng.integers(100, 200)))
    return _with_bezel(rng, inner, float(rng.uniform(0.06, 0.15)), wood)


def _warp_onto(rng: np.random.Generator, canvas: np.ndarray, obj: np.ndarray, mask: np.ndarray,
               side: float, tilt: float) -> tuple[float, float, float, float] | None:
    """Paste ``obj`` in perspective so its sqrt-area is about ``side``; returns its box."""
    H, W = canvas.shape[:2]
    oh, ow = obj.shape[:2]
    scale = side / np.sqrt(oh * ow)
    tw, th = ow * scale, oh * scale
    if tw > W * 0.95 or th > H * 0.95:
        f = min(W * 0.95 / tw, H * 0.95 / th)
        tw, th = tw * f, th * f
    cx = rng.uniform(tw / 2 - tw * 0.15, W - tw / 2 + tw * 0.15)
    cy = rng.uniform(th / 2 - th * 0.15, H - th / 2 + th * 0.15)
    ang = np.deg2rad(rng.uniform(-tilt, tilt))
    base = np.array([[-tw / 2, -th / 2], [tw / 2, -th / 2], [tw / 2, th / 2], [-tw / 2, th / 2]])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = base @ rot.T
    # Perspective: shrink one side (a screen seen at an angle) plus corner jitter.
    k = rng.uniform(0.0, 0.35)
    if rng.random() < 0.5:
        side_idx = [0, 3] if rng.random() < 0.5 else [1, 2]
        dst[side_idx, 1] *= 1 - k
    else:
        side_idx = [0, 1] if rng.random() < 0.5 else [2, 3]
        dst[side_idx, 0] *= 1 - k
    dst += rng.normal(0, 0.03, dst.shape) * np.array([tw, th])
    dst += np.array([cx, cy])
    src_pts = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32)
    M = cv2.getPerspectiveTransform(src_pts, dst.astype(np.float32))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    warped = cv2.warpPerspective(obj, M, (W, H), flags=interp)
    wmask = cv2.warpPerspective(mask, M, (W, H), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(wmask > 127)
    if len(xs) < 16:
        return None
    alpha = (wmask.astype(np.float32) / 255)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _glare(rng: np.random.Generator, canvas: np.ndarray, box: tuple[float, ...]) -> None:
    x1, y1, x2, y2 = (int(v) for v in box)
    w, h = x2 - x1, y2 - y1
    if w < 4 or h < 4:
        return
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    d = (xx * np.cos(ang) + yy * np.sin(ang))
    d = (d - d.min()) / max(1e-6, np.ptp(d))
    center, width = rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.3)
    a = np.exp(-((d - center) / width) ** 2) * rng.uniform(0.2, 0.7)
    region = canvas[y1:y2, x1:x2].astype(np.float32)
    canvas[y1:y2, x1:x2] = np.clip(region + a[..., None] * (255 - region), 0, 255).astype(np.uint8)


def _hand(rng: np.random.Generator, canvas: np.ndarray, box: tuple[float, ...]) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    skin = (int(rng.integers(40, 190)), int(rng.integers(70, 200)), int(rng.integers(110, 235)))
    cx = int(rng.uniform(x1, x2))
    cy = int(y2 - h * rng.uniform(0.0, 0.3))
    axes = (max(2, int(w * rng.uniform(0.3, 0.7))), max(2, int(h * rng.uniform(0.2, 0.4))))
    cv2.ellipse(canvas, (cx, cy), axes, float(rng.uniform(-40, 40)), 0, 360, skin, -1, cv2.LINE_AA)
    for i in range(int(rng.integers(1, 4))):  # fingers over the edge
        fx = int(x1 if rng.random() < 0.5 else x2)
        fy = int(y1 + h * (0.3 + 0.15 * i))
        cv2.ellipse(canvas, (fx, fy), (max(2, int(w * 0.12)), max(1, int(h * 0.04))), 0, 0, 360,
                    skin, -1, cv2.LINE_AA)


def _motion_blur(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    n = int(rng.integers(3, 15))
    k = np.zeros((n, n), np.float32)
    k[n // 2] = 1
    M = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1)
    k = cv2.warpAffine(k, M, (n, n))
    return cv2.filter2D(img, -1, k / max(1e-6, k.sum()))


def _paste_real(rng: np.random.Generator, canvas: np.ndarray,
                crop: np.ndarray, inner: tuple[int, int, int, int],
                side: float) -> tuple[float, float, float, float] | None:
    """Paste a real screen crop (its context feathered into the background) so the screen's
    sqrt-area is about ``side``; returns the screen's box."""
    H, W = canvas.shape[:2]
    x1, y1, x2, y2 = inner
    s = side / max(1.0, np.sqrt((x2 - x1) * (y2 - y1)))
    ch, cw = crop.shape[:2]
    nw, nh = max(2, int(cw * s)), max(2, int(ch * s))
    if nw >= W or nh >= H:
        f = min((W - 1) / nw, (H - 1) / nh)
        s, nw, nh = s * f, max(2, int(nw * f)), max(2, int(nh * f))
    img = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        img = img[:, ::-1]
        x1, x2 = cw - x2, cw - x1
    ox, oy = int(rng.integers(0, W - nw + 1)), int(rng.integers(0, H - nh + 1))
    alpha = np.zeros((nh, nw), np.float32)
    bx1, by1, bx2, by2 = (int(x1 * s), int(y1 * s), int(np.ceil(x2 * s)), int(np.ceil(y2 * s)))
    alpha[max(0, by1 - 1):by2 + 1, max(0, bx1 - 1):bx2 + 1] = 1
    k = max(3, int(min(nw, nh) * 0.15) | 1)
    soft = np.zeros((nh, nw), np.float32)
    soft[k // 2:nh - k // 2, k // 2:nw - k // 2] = 1
    soft = cv2.GaussianBlur(soft, (k, k), 0)
    alpha = np.maximum(alpha, soft)[..., None]
    region = canvas[oy:oy + nh, ox:ox + nw]
    region[:] = (region * (1 - alpha) + img * alpha).astype(np.uint8)
    return ox + x1 * s, oy + y1 * s, ox + x2 * s, oy + y2 * s


def make_image(seed: int, index: int, src: Sources,
               size: tuple[int, int] = (640, 480)) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """One synthetic training image and its screen boxes (x1, y1, x2, y2 pixels)."""
    rng = np.random.default_rng([seed, index])
    W, H = size if rng.random() < 0.6 else (size[1], size[0]) if rng.random() < 0.3 else \
        (size[0], int(size[0] * 9 / 16))
    bg = src.backgrounds[int(rng.integers(len(src.backgrounds)))]
    canvas = _crop(rng, bg, W, H)
    boxes: list[tuple[float, ...]] = []
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 3))):
            side = float(np.exp(rng.uniform(np.log(16), np.log(0.6 * min(W, H)))))
            obj, mask = make_distractor(rng, src, int(np.clip(side * 1.4, 8, 900)))
            _warp_onto(rng, canvas, obj, mask, side, 20)
    n = 0 if rng.random() < 0.08 else int(rng.choice([1, 1, 1, 2, 2, 3, 4]))
    for _ in range(n):
        # Log-uniform size: as many small screens as large ones.
        side = float(np.exp(rng.uniform(np.log(10), np.log(0.75 * min(W, H)))))
        if src.real and rng.random() < 0.5:
            crop, inner = src.real[int(rng.integers(len(src.real)))]
            orig = np.sqrt((inner[2] - inner[0]) * (inner[3] - inner[1]))
            box = _paste_real(rng, canvas, crop, inner, min(side, 2 * orig))
            if box is not None:
                boxes.append(box)
            continue
        obj, mask = make_device(rng, src, int(np.clip(side * 1.5, 12, 1000)))
        is_phone = obj.shape[0] > obj.shape[1] * 1.3 or obj.shape[1] > obj.shape[0] * 1.6
        box = _warp_onto(rng, canvas, obj, mask, side, 40 if is_phone else 12)
        if box is None:
            continue
        if rng.random() < 0.25:
            _glare(rng, canvas, box)
        if is_phone and rng.random() < 0.4:
            _hand(rng, canvas, box)
        boxes.append(box)
    if rng.random() < 0.2:
        canvas = _motion_blur(rng, canvas)
    if rng.random() < 0.3:
        canvas = np.clip(canvas * rng.uniform(0.5, 1.3), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(2, 8), canvas.shape)
        canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return canvas, boxes
