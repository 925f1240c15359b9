"""Contact sheets of pages with their ground truth drawn over them, for checking data by eye.

Entry rows are green, field boxes blue (with the field key), text lines red, seals and signatures magenta,
page-header fields orange. Field text is not printed on the sheet, only keys.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from data.fonts import fallback_fonts
from data.pages.layout import pil_font
from data.pages.truth import PageTruth

COLOURS = {"entry": (0, 150, 60), "field": (20, 60, 230), "line": (220, 30, 30), "mark": (200, 0, 200),
           "header": (240, 130, 0)}


def overlay(image: Image.Image, truth: PageTruth, keys: bool = True) -> Image.Image:
    """A copy of ``image`` with ``truth`` drawn on it."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    font = pil_font(str(fallback_fonts()[0]), max(9, truth.height // 110))

    def poly(region, colour, width=1):
        draw.line([tuple(p) for p in region.polygon + region.polygon[:1]], fill=colour, width=width)

    for entry in truth.filled_entries:
        poly(entry.region, COLOURS["entry"], 2)
    for f in truth.fields():
        colour = COLOURS["header"] if f.entry is None else COLOURS["field"]
        for box in f.boxes:
            poly(box, colour, 2)
        for line in f.lines:
            poly(line.region, COLOURS["line"], 1)
        if keys:
            x0, y0, _, _ = f.boxes[0].bbox
            draw.text((x0 + 1, y0 - font.size), f.key, fill=colour, font=font)
    for mark in truth.marks:
        poly(mark.region, COLOURS["mark"], 2)
    return out


def pages_sheet(pages: Sequence[tuple[Image.Image, PageTruth]], columns: int = 4, tile_width: int = 900,
                title: str | None = None, keys: bool = True) -> Image.Image:
    """Overlaid pages in a grid, each scaled to ``tile_width`` with its template and split underneath."""
    if not pages:
        raise ValueError("pages_sheet needs at least one page")
    font = pil_font(str(fallback_fonts()[0]), 20)
    caption_h, pad = 30, 12
    tiles = []
    for image, truth in pages:
        drawn = overlay(image, truth, keys)
        scale = tile_width / max(drawn.width, drawn.height)
        tiles.append((drawn.resize((int(drawn.width * scale), int(drawn.height * scale)), Image.LANCZOS), truth))
    cell_w = tile_width
    cell_h = max(t.height for t, _ in tiles) + caption_h
    rows = -(-len(tiles) // columns)
    title_h = 44 if title else 0
    sheet = Image.new("RGB", (columns * (cell_w + pad) + pad, title_h + rows * (cell_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 10), title, fill=(20, 20, 20), font=pil_font(str(fallback_fonts()[0]), 26))
    for i, (tile, truth) in enumerate(tiles):
        x = pad + (i % columns) * (cell_w + pad)
        y = title_h + pad + (i // columns) * (cell_h + pad)
        sheet.paste(tile, (x + (cell_w - tile.width) // 2, y))
        held = " (HELD OUT)" if truth.template_split == "heldout" else ""
        caption = f"{truth.template}{held} · {len(truth.filled_entries)} entries · {truth.meta.get('mode', '')}"
        draw.text((x, y + tile.height + 4), caption, fill=(30, 30, 30), font=font)
    return sheet


def save_pages_sheet(pages, out: str | Path, colours: int | None = 256, **options) -> Path:
    """Write the sheet as PNG; ``colours`` quantizes it to a palette (a sheet of photographs is otherwise
    many megabytes), None keeps full colour."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet = pages_sheet(pages, **options)
    if colours:
        sheet = sheet.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    sheet.save(out, optimize=True)
    return out
