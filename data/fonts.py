"""Handwriting fonts: discovery and rendering text to an ink mask.

The six OFL handwriting fonts live in ``shared/fonts``. Where the shared folder is absent the font path keeps
working with the DejaVu faces that matplotlib ships (print-like, but complete for Vietnamese), so tests and
fresh machines never depend on the shared data.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from data.settings import shared_dir


@lru_cache(maxsize=1)
def fallback_fonts() -> tuple[Path, ...]:
    import matplotlib

    ttf = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    return tuple(ttf / n for n in ("DejaVuSans.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif-Italic.ttf"))


def handwriting_fonts() -> tuple[Path, ...]:
    """The shared handwriting fonts, sorted by name; empty when the shared folder is absent."""
    folder = shared_dir() / "fonts"
    return tuple(sorted(folder.glob("*.ttf"))) if folder.is_dir() else ()


def available_fonts() -> tuple[Path, ...]:
    """Handwriting fonts when present, otherwise the bundled fallbacks."""
    return handwriting_fonts() or fallback_fonts()


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _metrics(path: str, size: int) -> tuple[int, int]:
    """(top, bottom) of the tallest Vietnamese stack ("Ỗ" above, "g" below) relative to the text origin."""
    font = _font(path, size)
    top = font.getbbox("ỖỄẴẪỮỠỸẤẨỚÃÁ")[1]
    bottom = font.getbbox("gjpyqỵ")[3]
    return top, bottom


@lru_cache(maxsize=1024)
def _fit(path: str, height: int, stroke: int) -> tuple[int, int, int]:
    """The largest font size whose tallest stack fits ``height``, with that size's (top, bottom)."""
    # Marks stacked on capitals take about 1.35x the em box; start there and shrink until it fits.
    size = max(6, int(height / 1.25))
    top, bottom = _metrics(path, size)
    while bottom - top + 2 * stroke + 2 > height and size > 6:
        size -= 1
        top, bottom = _metrics(path, size)
    return size, top, bottom


@lru_cache(maxsize=16384)
def _glyph(path: str, size: int, char: str) -> tuple[np.ndarray, int, int, float]:
    """One character's coverage mask, its (x, y) offset from the pen position, and its advance."""
    font = _font(path, size)
    mask, offset = font.getmask2(char, mode="L")
    array = np.asarray(mask, dtype=np.uint8).reshape(mask.size[1], mask.size[0]).astype(np.float32) / 255.0
    return array, offset[0], offset[1], font.getlength(char)


def render_font_mask(text: str, font_path: Path | str, height: int, stroke: int = 0) -> np.ndarray:
    """Render ``text`` as an ink mask.

    Glyphs are cached per (font, size, character) and laid out by their advances: kerning is dropped, which
    handwriting never had, and rendering costs a few paste operations instead of a FreeType layout per line.

    Args:
        text: NFC text.
        font_path: a TrueType file.
        height: output height in pixels; the font is sized so that stacked marks and descenders fit.
        stroke: extra stroke width in pixels (a heavier pen).

    Returns:
        float32 array ``(height, width)`` in [0, 1], 1 = full ink, with no horizontal margin.
    """
    path = str(font_path)
    size, top, bottom = _fit(path, height, stroke)
    glyphs = [_glyph(path, size, c) for c in text]
    width = max(1, int(sum(g[3] for g in glyphs)) + 2 * stroke + 4)
    canvas = np.zeros((height, width + size), dtype=np.float32)
    baseline_y = (height - (bottom - top)) // 2 - top
    pen = float(stroke + 1)
    for array, dx, dy, advance in glyphs:
        h, w = array.shape
        x, y = int(round(pen)) + dx, baseline_y + dy
        y0, y1 = max(0, y), min(height, y + h)
        x0 = max(0, x)
        if y1 > y0 and w:
            region = canvas[y0:y1, x0:x0 + w - (x0 - x)]
            np.maximum(region, array[y0 - y:y1 - y, x0 - x:x0 - x + region.shape[1]], out=region)
        pen += advance
    canvas = canvas[:, :width]
    if stroke:
        # A heavier pen: grow the filled glyphs (FreeType's stroker would outline them instead).
        canvas = cv2.dilate(canvas, np.ones((2 * stroke, 2 * stroke), np.uint8))
    return canvas
