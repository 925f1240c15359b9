"""Red seals and handwritten signatures.

A seal is the round stamp of a People's Committee: two rings, the office's name printed around the ring and
a star in the centre, in uneven red stamp ink. Seals are drawn once into a small bank (fixed seeds, so every
page draws from the same few stamps, as a commune uses one stamp for years) and then scaled, turned and
inked per page. A signature is a quick scribble: a few loops and a flourish drawn with an anti-aliased pen.
"""
from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw

from data.pages.layout import pil_font, print_font_path

SEAL_BANK = 6
SEAL_SIZE = 320
SEAL_INKS = ((196, 32, 44), (178, 28, 52), (210, 60, 60), (160, 30, 70))

_OFFICES = ("XÃ THẠCH KHÔI", "PHƯỜNG TRẦN PHÚ", "XÃ GIA XUYÊN", "THỊ TRẤN NAM SÁCH", "XÃ CẨM VĂN",
            "PHƯỜNG NGỌC CHÂU", "XÃ LIÊN HỒNG", "XÃ TÂN HƯNG", "THỊ TRẤN GIA LỘC", "XÃ ĐOÀN TÙNG")
_PROVINCES = ("TỈNH HẢI DƯƠNG", "TỈNH HƯNG YÊN", "THÀNH PHỐ HÀ NỘI", "TỈNH THÁI BÌNH", "TỈNH BẮC NINH")


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.4
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=255)


@lru_cache(maxsize=1)
def seal_bank() -> tuple[np.ndarray, ...]:
    """The stamps: float32 ``(SEAL_SIZE, SEAL_SIZE)`` masks in [0, 1]."""
    bank = []
    font_path = print_font_path("sans", bold=True)
    for i in range(SEAL_BANK):
        rng = np.random.default_rng(9000 + i)
        image = Image.new("L", (SEAL_SIZE, SEAL_SIZE), 0)
        draw = ImageDraw.Draw(image)
        c = SEAL_SIZE / 2
        outer = c - 4
        draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=255, width=7)
        inner = outer * 0.66
        draw.ellipse((c - inner, c - inner, c + inner, c + inner), outline=255, width=3)
        text = f"ỦY BAN NHÂN DÂN {_OFFICES[int(rng.integers(len(_OFFICES)))]} * " \
               f"{_PROVINCES[int(rng.integers(len(_PROVINCES)))]} *"
        size = 26
        font = pil_font(font_path, size)
        ring = (outer + inner) / 2
        step = 2 * math.pi / len(text)
        for k, ch in enumerate(text):
            if ch == " ":
                continue
            glyph = Image.new("L", (size * 2, size * 2), 0)
            ImageDraw.Draw(glyph).text((size * 0.5, size * 0.3), ch, font=font, fill=255)
            angle = -math.pi / 2 + k * step
            glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BILINEAR)
            gx = c + ring * math.cos(angle) - size
            gy = c + ring * math.sin(angle) - size
            image.paste(255, (int(gx), int(gy)), glyph)
        _star(draw, c, c, inner * 0.45)
        bank.append(np.asarray(image, dtype=np.float32) / 255.0)
    return tuple(bank)


def seal_mask(rng: np.random.Generator, diameter: int) -> np.ndarray:
    """A stamp from the bank, turned, scaled to ``diameter`` and inked unevenly (pressure, dry patches)."""
    stamp = seal_bank()[int(rng.integers(SEAL_BANK))]
    angle = float(rng.uniform(0, 360))
    matrix = cv2.getRotationMatrix2D((SEAL_SIZE / 2, SEAL_SIZE / 2), angle, diameter / SEAL_SIZE)
    matrix[:, 2] += diameter / 2 - SEAL_SIZE / 2
    mask = cv2.warpAffine(stamp, matrix, (diameter, diameter), flags=cv2.INTER_AREA, borderValue=0)
    cells = 5
    pressure = cv2.resize(rng.uniform(0.35, 1.0, (cells, cells)).astype(np.float32), (diameter, diameter),
                          interpolation=cv2.INTER_CUBIC)
    grain = rng.uniform(0.6, 1.0, mask.shape).astype(np.float32)
    return np.clip(mask * pressure * grain * rng.uniform(0.65, 0.95), 0.0, 1.0)


def _catmull_rom(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """A smooth curve through ``points`` (N, 2)."""
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2][None])
    return np.vstack(out)


def signature_mask(rng: np.random.Generator, width: int, height: int, pen: float = 1.4) -> np.ndarray:
    """A scribbled signature filling about ``width`` x ``height`` pixels (float32 mask).

    A signature is a capital-like opening loop, a run of up-and-down strokes of uneven height and spacing
    (now and then doubling back into a loop), and often a flourish: an underline or a sweep back to the left.
    """
    width, height = max(8, int(width)), max(6, int(height))
    strokes: list[np.ndarray] = []
    x, pts = 0.0, []
    if rng.random() < 0.7:  # the opening capital: a tall loop
        r = rng.uniform(0.25, 0.5)
        a = np.linspace(rng.uniform(0, 1), rng.uniform(4.5, 6.5), 9)
        pts += [(r * 0.6 * (1 + np.cos(t)), 0.5 - r * np.sin(t) * rng.uniform(0.8, 1.2)) for t in a]
        x = r * 1.2
    n = int(rng.integers(5, 14))
    up = True
    for _ in range(n):
        x += rng.uniform(0.08, 0.3) if rng.random() > 0.15 else -rng.uniform(0.05, 0.15)  # a loop back
        y = 0.5 + (-1 if up else 1) * rng.uniform(0.05, 0.45)
        pts.append((x, y))
        up = not up
    curve = _catmull_rom(np.array(pts, dtype=np.float64))
    strokes.append(curve)
    if rng.random() < 0.6:  # the flourish
        end = curve[-1]
        if rng.random() < 0.5:
            sweep = np.array([end, (end[0] + 0.1, 0.85), (x * 0.5, 0.95), (rng.uniform(-0.1, 0.2), 0.85)])
        else:
            sweep = np.array([end, (end[0] + 0.2, end[1] - 0.3), (end[0] + 0.35, 0.2)])
        strokes.append(_catmull_rom(sweep))
    if rng.random() < 0.3:  # a stroke across, or a dot
        y = rng.uniform(0.3, 0.7)
        # A signature that looped back past its start has x < 0: the stroke still needs a length.
        reach = max(x, 0.2)
        strokes.append(np.array([(rng.uniform(0, reach * 0.4), y),
                                 (rng.uniform(reach * 0.5, reach), y + rng.uniform(-0.1, 0.1))]))
    allpts = np.vstack(strokes)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    slant = rng.uniform(-0.1, 0.35)
    canvas = np.zeros((height, width), np.uint8)
    thickness = max(1, int(round(pen * rng.uniform(0.8, 1.3))))
    for stroke in strokes:
        xy = (stroke - lo) / span
        xy[:, 0] = (xy[:, 0] + slant * (1 - xy[:, 1])) / (1 + abs(slant))
        xy = xy * [width - 4, height - 4] + 2
        cv2.polylines(canvas, [np.round(xy * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0
