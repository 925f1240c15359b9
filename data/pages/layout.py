"""Where everything printed on a page goes: page and table geometry, headings, rules, header slots.

:func:`plan_layout` turns a :class:`~data.pages.templates.Template` and a page size into a :class:`PageLayout`:
the ruled table (column extents, row extents), the printed items (title, group and column headings wrapped to
their cells, column numbers, header labels, footer), the rules to draw, and the slots where header fields are
handwritten. Sizes scale with the page (``unit`` = shorter side / 1000), so a page rendered at another long side
keeps its proportions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import ImageFont

from data.pages.templates import Column, Template

A_RATIO = 2 ** 0.5  # ISO 216 paper


@lru_cache(maxsize=1)
def ttf_dir() -> Path:
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"


def print_font_path(style: str, bold: bool = False) -> str:
    """DejaVu Serif or Sans (complete for Vietnamese), regular or bold: the register's printed type."""
    name = {"serif": "DejaVuSerif", "sans": "DejaVuSans"}[style] + ("-Bold" if bold else "")
    return str(ttf_dir() / f"{name}.ttf")


@lru_cache(maxsize=256)
def pil_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(6, int(size)))


@lru_cache(maxsize=8192)
def text_bbox(path: str, size: int, text: str) -> tuple[int, int, int, int]:
    """Ink box of printed text relative to the drawing origin (cached: forms repeat their labels)."""
    return pil_font(path, size).getbbox(text)


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    def inset(self, dx: float, dy: float) -> "Box":
        return Box(self.x0 + dx, self.y0 + dy, self.x1 - dx, self.y1 - dy)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0, self.x1, self.y1


@dataclass
class PrintItem:
    """A run of printed text; ``x, y`` is the top-left of its ink box."""

    text: str
    x: float
    y: float
    font: str
    size: int

    def box(self) -> Box:
        left, top, right, bottom = text_bbox(self.font, self.size, self.text)
        return Box(self.x, self.y, self.x + right - left, self.y + bottom - top)


@dataclass
class HeaderSlot:
    """A printed label in the page header followed by the space where its field is handwritten."""

    key: str
    label: str
    label_box: Box
    value_box: Box


@dataclass
class PageLayout:
    template: Template
    width: int
    height: int
    unit: float
    pages: list[Box]  # one box per physical page (two for a spread)
    column_x: list[tuple[float, float]]  # per template column
    rows: list[tuple[float, float]]  # per entry row
    table_top: float
    rows_top: float
    table_bottom: float
    items: list[PrintItem] = field(default_factory=list)
    headings: list[tuple[str, Box, str, int | None]] = field(default_factory=list)  # text, box, level, column
    rules: list[tuple[float, float, float, float, int]] = field(default_factory=list)
    header_slots: list[HeaderSlot] = field(default_factory=list)
    footer_box: Box | None = None
    heading_size: int = 12

    def cell(self, row: int, column: int) -> Box:
        x0, x1 = self.column_x[column]
        y0, y1 = self.rows[row]
        return Box(x0, y0, x1, y1)

    def row_box(self, row: int) -> Box:
        y0, y1 = self.rows[row]
        return Box(self.column_x[0][0], y0, self.column_x[-1][1], y1)


def page_size(template: Template, long_side: int) -> tuple[int, int]:
    """Image size of a template at ``long_side``: landscape sheets and spreads are wide, portrait pages tall."""
    short = int(round(long_side / A_RATIO))
    return (long_side, short) if template.orientation == "landscape" else (short, long_side)


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap; a word wider than ``max_width`` stays on its own (over-long) line."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(lines[-1] + " " + word) <= max_width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _fits(text: str, font: ImageFont.FreeTypeFont, width: float) -> bool:
    return all(font.getlength(word) <= width for word in text.split())


def _block(lines: list[str], font_path: str, size: int, box: Box) -> tuple[list[PrintItem], float]:
    """Centre wrapped lines in ``box``; returns the items and the height they need."""
    step = size * 1.2
    height = step * len(lines)
    top = box.y0 + (box.h - height) / 2
    items = []
    for i, line in enumerate(lines):
        left, _, right, _ = text_bbox(font_path, size, line)
        items.append(PrintItem(line, box.x0 + (box.w - (right - left)) / 2, top + i * step + 0.1 * size,
                               font_path, size))
    return items, height


def _header_height(cols: list[tuple[int, Column, float, float]], font_path: str, size: int,
                   group_font: str) -> tuple[float, float] | None:
    """(group row height, total header height) at heading ``size``, or None when a word does not fit."""
    font = pil_font(font_path, size)
    gfont = pil_font(group_font, size)
    pad = 0.5 * size
    step = size * 1.2
    group_h = 0.0
    spans: dict[str, list[float]] = {}
    for _, col, x0, x1 in cols:
        if col.group:
            spans.setdefault(col.group, [x0, x1])[1] = x1
    for name, (x0, x1) in spans.items():
        if not _fits(name, gfont, x1 - x0 - pad):
            return None
        group_h = max(group_h, len(wrap(name, gfont, x1 - x0 - pad)) * step + pad)
    total = group_h
    for _, col, x0, x1 in cols:
        width = x1 - x0 - pad
        if not _fits(col.heading, font, width):
            return None
        need = len(wrap(col.heading, font, width)) * step + pad
        total = max(total, need + (group_h if col.group else 0.0))
    return group_h, total


def plan_layout(template: Template, n_rows: int, width: int, height: int, rng: np.random.Generator) -> PageLayout:
    """Lay out ``template`` with ``n_rows`` entry rows on a ``width`` x ``height`` page (see the module doc)."""
    unit = min(width, height) / 1000.0
    serif = template.print_font == "serif"
    regular = print_font_path("serif" if serif else "sans")
    bold = print_font_path("serif" if serif else "sans", bold=True)
    spread = template.spread

    # Physical pages and their writable area (margins jitter a little: books are not trimmed evenly).
    if spread:
        half = width / 2
        pages = [Box(0, 0, half, height), Box(half, 0, width, height)]
        outer = width * rng.uniform(0.03, 0.045)
        inner = width * rng.uniform(0.025, 0.035)
        areas = [Box(outer, 0, half - inner, height), Box(half + inner, 0, width - outer, height)]
    else:
        pages = [Box(0, 0, width, height)]
        side = width * rng.uniform(0.03, 0.05)
        areas = [Box(side, 0, width - side, height)]

    layout = PageLayout(template, width, height, unit, pages, [], [], 0.0, 0.0, 0.0)
    top = height * rng.uniform(0.03, 0.045)

    # Title on the first page, centred.
    title_size = int(round(24 * unit * rng.uniform(0.92, 1.08)))
    title_font = pil_font(bold, title_size)
    left, upper, right, lower = title_font.getbbox(template.title)
    title_x = areas[0].x0 + (areas[0].w - (right - left)) / 2
    title_box = Box(title_x, top, title_x + (right - left), top + (lower - upper))
    layout.items.append(PrintItem(template.title, title_box.x0, title_box.y0, bold, title_size))
    layout.headings.append((template.title, title_box, "title", None))

    # Header slots: on the title's page below the title, or along the top of the right-hand page.
    label_size = int(round(14 * unit))
    label_font = pil_font(regular, label_size)
    slot_area = areas[1] if spread else areas[0]
    slot_y = top if spread else title_box.y1 + 0.9 * label_size
    slot_h = 2.0 * label_size
    share = {"noiDangKy": 2.4, "quyenSo": 1.2, "trangSo": 0.8}
    weights = [share.get(h.key, 1.0) for h in template.header]
    total_w = sum(weights) or 1.0
    x = slot_area.x0
    for h, w in zip(template.header, weights, strict=True):
        slot_w = slot_area.w * w / total_w
        lw = label_font.getlength(h.label)
        label_box = Box(x, slot_y + 0.5 * label_size, x + lw, slot_y + 1.5 * label_size)
        value_box = Box(x + lw + 0.4 * label_size, slot_y - 0.8 * label_size, x + slot_w - 1.2 * label_size,
                        slot_y + slot_h)
        layout.items.append(PrintItem(h.label, label_box.x0, label_box.y0, regular, label_size))
        layout.headings.append((h.label, label_box, "label", None))
        layout.header_slots.append(HeaderSlot(h.key, h.label, label_box, value_box))
        # A dotted leader where the value is written.
        dots = "." * max(3, int(value_box.w / (0.3 * label_size)))
        layout.items.append(PrintItem(dots, value_box.x0, label_box.y0 + 0.35 * label_size, regular,
                                      max(6, int(label_size * 0.8))))
        x += slot_w
    band_bottom = max(title_box.y1, slot_y + slot_h if template.header else title_box.y1)
    table_top = band_bottom + 0.9 * label_size

    # Footer: a printed signature block at the bottom right of the last page.
    bottom_margin = height * rng.uniform(0.03, 0.045)
    table_bottom = height - bottom_margin
    if template.footer:
        table_bottom -= height * 0.11
        last = areas[-1]
        fsize = int(round(14 * unit))
        ffont = pil_font(bold, fsize)
        text = template.footer
        fw = ffont.getlength(text)
        fx = last.x1 - fw - last.w * 0.06
        fy = table_bottom + 0.8 * fsize
        layout.items.append(PrintItem(text, fx, fy, bold, fsize))
        fbox = PrintItem(text, fx, fy, bold, fsize).box()
        layout.headings.append((text, fbox, "footer", None))
        sub = "(Ký, ghi rõ họ tên)"
        sfont = pil_font(regular, int(fsize * 0.85))
        sx = fx + (fw - sfont.getlength(sub)) / 2
        layout.items.append(PrintItem(sub, sx, fy + 1.5 * fsize, regular, int(fsize * 0.85)))
        layout.footer_box = Box(fx - fsize, fy + 2.8 * fsize, fx + fw + fsize, height - bottom_margin * 0.6)

    # Columns: relative widths on each physical page.
    n_pages = len(areas)
    cols_by_page: list[list[tuple[int, Column, float, float]]] = [[] for _ in range(n_pages)]
    for page in range(n_pages):
        mine = [(i, c) for i, c in enumerate(template.columns) if c.page == page]
        total = sum(c.width for _, c in mine)
        x = areas[page].x0
        for i, c in mine:
            w = areas[page].w * c.width / total
            cols_by_page[page].append((i, c, x, x + w))
            x += w
    layout.column_x = [(0.0, 0.0)] * len(template.columns)
    for page_cols in cols_by_page:
        for i, _, x0, x1 in page_cols:
            layout.column_x[i] = (x0, x1)

    # Headings: the largest size at which every word fits its cell and the header stays under a fifth of
    # the table; a spread uses one size and one header height for both pages so that the rows line up.
    max_header = 0.2 * (table_bottom - table_top)
    size = int(round(13 * unit * rng.uniform(0.9, 1.1)))
    while True:
        dims = [_header_height(pc, regular, size, bold) for pc in cols_by_page]
        if all(d is not None for d in dims) and max(d[1] for d in dims) <= max_header or size <= 7:
            break
        size -= 1
    layout.heading_size = size
    header_h = max((d[1] if d else 3 * size) for d in dims)
    number_h = 1.7 * size * 0.85 if template.numbered else 0.0
    rows_top = table_top + header_h + number_h
    row_h = (table_bottom - rows_top) / n_rows
    layout.table_top, layout.rows_top, layout.table_bottom = table_top, rows_top, table_bottom
    layout.rows = [(rows_top + r * row_h, rows_top + (r + 1) * row_h) for r in range(n_rows)]

    thick = 2 if unit >= 0.8 else 1
    for page, page_cols in enumerate(cols_by_page):
        if not page_cols:
            continue
        group_h = dims[page][0] if dims[page] else 0.0
        x_left, x_right = page_cols[0][2], page_cols[-1][3]
        # Outer frame, header and number-row rules, row rules.
        layout.rules += [(x_left, table_top, x_right, table_top, thick),
                         (x_left, table_bottom, x_right, table_bottom, thick),
                         (x_left, table_top, x_left, table_bottom, thick),
                         (x_right, table_top, x_right, table_bottom, thick),
                         (x_left, table_top + header_h, x_right, table_top + header_h, thick)]
        if number_h:
            layout.rules.append((x_left, rows_top, x_right, rows_top, 1))
        for y0, _ in layout.rows[1:]:
            layout.rules.append((x_left, y0, x_right, y0, 1))
        groups: dict[str, list[float]] = {}
        for k, (i, col, x0, x1) in enumerate(page_cols):
            if k:
                # Between two columns of one group the rule starts under the group heading.
                prev = page_cols[k - 1][1]
                y_start = table_top + group_h if col.group and col.group == prev.group else table_top
                layout.rules.append((x0, y_start, x0, table_bottom, 1))
            if col.group:
                groups.setdefault(col.group, [x0, x1])[1] = x1
                cell = Box(x0, table_top + group_h, x1, table_top + header_h)
            else:
                cell = Box(x0, table_top, x1, table_top + header_h)
            font = pil_font(regular, size)
            lines = wrap(col.heading, font, cell.w - 0.5 * size)
            items, _ = _block(lines, regular, size, cell)
            layout.items += items
            layout.headings.append((col.heading, cell, "column", i))
            if number_h:
                num = f"({i + 1})"
                nbox = Box(x0, table_top + header_h, x1, rows_top)
                items, _ = _block([num], regular, max(6, int(size * 0.85)), nbox)
                layout.items += items
                layout.headings.append((num, nbox, "number", i))
        for name, (x0, x1) in groups.items():
            cell = Box(x0, table_top, x1, table_top + group_h)
            layout.rules.append((x0, table_top + group_h, x1, table_top + group_h, 1))
            lines = wrap(name, pil_font(bold, size), cell.w - 0.5 * size)
            items, _ = _block(lines, bold, size, cell)
            layout.items += items
            layout.headings.append((name, cell, "group", None))
    return layout
