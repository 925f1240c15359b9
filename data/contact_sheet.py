"""Contact sheets: line images with their ground truth underneath, for judging data at a glance."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from data.fonts import fallback_fonts


def contact_sheet(items: Sequence[tuple[np.ndarray | Image.Image, str]], columns: int = 2, cell_width: int = 640,
                  line_height: int = 64, title: str | None = None) -> Image.Image:
    """Lay out ``(image, caption)`` pairs in a grid; each image is scaled to ``line_height`` (or narrower to fit
    ``cell_width``) and its caption is printed beneath it in a Vietnamese-complete font."""
    if not items:
        raise ValueError("contact_sheet needs at least one image")
    font = ImageFont.truetype(str(fallback_fonts()[0]), 15)
    caption_h, pad = 22, 8
    title_h = 34 if title else 0
    rows = -(-len(items) // columns)
    cell_h = line_height + caption_h + pad
    sheet = Image.new("RGB", (columns * (cell_width + pad) + pad, title_h + rows * cell_h + pad), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 8), title, fill=(20, 20, 20), font=ImageFont.truetype(str(fallback_fonts()[0]), 20))
    for i, (image, caption) in enumerate(items):
        image = Image.fromarray(np.asarray(image)) if not isinstance(image, Image.Image) else image
        image = image.convert("RGB")
        scale = min(line_height / image.height, cell_width / image.width)
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))), Image.LANCZOS)
        x = pad + (i % columns) * (cell_width + pad)
        y = title_h + pad + (i // columns) * cell_h
        sheet.paste(image, (x, y + (line_height - image.height) // 2))
        text = caption if font.getlength(caption) <= cell_width else caption[: int(len(caption) * cell_width / font.getlength(caption)) - 1] + "…"
        draw.text((x, y + line_height + 2), text, fill=(180, 20, 20), font=font)
    return sheet


def save_contact_sheet(items, out: str | Path, **options) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(items, **options).save(out)
    return out
