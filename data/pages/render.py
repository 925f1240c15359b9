"""Render a synthetic register page and its ground truth.

    from data.pages import render_page
    image, truth = render_page("khai_sinh", "ks-1980s", seed=3)   # PIL image, PageTruth

A page is built in four steps, all drawn from the page seed:

1. **Content**: a template variant, the number of entry rows and which are left blank, a registration year
   in the variant's period, and one consistent record per filled row from :func:`data.text.generate_record`
   (sorted by registration date, numbered consecutively, sharing the page's volume, page and office).
2. **Layout**: the printed form (:func:`data.pages.layout.plan_layout`), then each cell written by the
   entry's officer (:class:`data.pages.hands.PageHand`; notes by a later hand in another pen), wrapping,
   squeezing and shrinking as needed (:func:`data.pages.cells.write_cell`); real Cinnamon address lines for
   some residence and place cells when the shared data is present; signatures and seals.
3. **Paper**: aged paper, bleed-through of the back page, print, ink with patchy fading, stains and foxing,
   the binding shadow of a spread, a torn corner.
4. **Camera**: a flatbed scan or a phone photo (rotation up to ±3°, perspective, page smaller than the frame),
   uneven lighting, blur, noise and JPEG. The same homography moves every ground-truth polygon.

The ground truth is built in page coordinates during layout and transformed once at the end, so image and
truth can never disagree about geometry.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from data.pages import effects
from data.pages.cells import CellItem, Placement, write_cell
from data.pages.hands import PLACE_ATTRIBUTES, CinnamonBank, MaskWriter, PageHand, sample_hand
from data.pages.layout import (
    Box,
    PageLayout,
    PrintItem,
    page_size,
    pil_font,
    plan_layout,
    print_font_path,
    text_bbox,
)
from data.pages.marks import SEAL_INKS, seal_mask, signature_mask
from data.pages.templates import SPLITS, Template, draw_template, get_template
from data.pages.truth import (HEADING_CELL_LEVELS, CellTruth, EntryTruth, FieldTruth, Heading, Mark, PageTruth,
                              PrintedLine, Region, TextLine)
from data.schema import get_book

DEFAULT_LONG_SIDE = 1600
PRINT_INKS = ((28, 28, 32), (40, 38, 44), (52, 46, 60), (30, 34, 52))


@dataclass
class _Line:
    """A text line before geometry is final: its page-coordinate box and its place in the entry."""

    text: str
    box: tuple[float, float, float, float]
    key: str
    source: str


def _ink_box(p: Placement, cell: Box) -> tuple[float, float, float, float]:
    """Tight box of the ink of a placement (1 px margin), clipped to its cell."""
    ink = p.mask > 0.2
    rows, cols = ink.any(axis=1), ink.any(axis=0)
    if not rows.any():
        r0, r1, c0, c1 = 0, ink.shape[0] - 1, 0, ink.shape[1] - 1
    else:
        r0, r1 = int(rows.argmax()), len(rows) - 1 - int(rows[::-1].argmax())
        c0, c1 = int(cols.argmax()), len(cols) - 1 - int(cols[::-1].argmax())
    return (max(cell.x0, p.x + c0 - 1.0), max(cell.y0, p.y + r0 - 1.0),
            min(cell.x1, p.x + c1 + 2.0), min(cell.y1, p.y + r1 + 2.0))


def _intersects(a, b, tol: float = 0.5) -> bool:
    return a[0] < b[2] - tol and b[0] < a[2] - tol and a[1] < b[3] - tol and b[1] < a[3] - tol


def _union(boxes) -> tuple[float, float, float, float]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _printed_lines(items: list[PrintItem], cell: Box) -> list[PrintedLine]:
    """The printed lines of a heading cell: the print items whose ink centre lies in it, top to bottom."""
    lines = []
    for item in items:
        box = item.box()
        if cell.x0 <= (box.x0 + box.x1) / 2 <= cell.x1 and cell.y0 <= (box.y0 + box.y1) / 2 <= cell.y1:
            lines.append(PrintedLine(item.text, Region.from_box(*box.as_tuple())))
    return sorted(lines, key=lambda ln: ln.region.bbox[1])


def field_boxes(lines: list[_Line], others: list[tuple[float, float, float, float]], cell: Box,
                margin: float = 2.0) -> tuple[list[tuple[float, float, float, float]], list[int]]:
    """Group a field's lines (in writing order) into as few boxes as possible without covering another
    field's line; returns the boxes (with a margin, inside the cell) and each line's box index."""
    groups: list[list[int]] = []
    for i, line in enumerate(lines):
        if groups:
            candidate = _union([lines[j].box for j in groups[-1]] + [line.box])
            if not any(_intersects(candidate, o) for o in others):
                groups[-1].append(i)
                continue
        groups.append([i])
    boxes, index = [], [0] * len(lines)
    for g, members in enumerate(groups):
        x0, y0, x1, y1 = _union([lines[j].box for j in members])
        boxes.append((max(cell.x0, x0 - margin), max(cell.y0, y0 - margin), min(cell.x1, x1 + margin),
                      min(cell.y1, y1 + margin)))
        for j in members:
            index[j] = g
    return boxes, index


class PageRenderer:
    """Renders pages of one split; holds the handwriting sources and caches, so reuse one per process.

    Args:
        split: ``train`` (training variants only, VNOnDB training writers, Cinnamon training lines) or
            ``heldout`` (every variant, the held-out one for half the pages; validation writers and lines).
        long_side: the image's longer side in pixels.
        degradation: 0 = a clean, straight page; 1 = the full ageing and camera pipeline.
        use_ink / use_cinnamon: the real-handwriting sources; default: whenever the shared data is present.
        ink_share: share of officers writing with VNOnDB ink (the rest with handwriting fonts).
        cinnamon_share: share of residence / place values written with a real scanned line where one fits.
    """

    def __init__(self, split: str = "train", long_side: int = DEFAULT_LONG_SIDE, degradation: float = 1.0,
                 use_ink: bool | None = None, use_cinnamon: bool | None = None, ink_share: float = 0.5,
                 cinnamon_share: float = 0.5):
        from data.datasets import ink_available
        from data.synth import LineSynthesizer

        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if not 400 <= long_side <= 4000:
            raise ValueError(f"long_side must be 400..4000 px, got {long_side}")
        self.split, self.long_side = split, int(long_side)
        self.degradation = float(np.clip(degradation, 0.0, 1.0))
        self.ink_share, self.cinnamon_share = ink_share, cinnamon_share
        use_ink = ink_available() if use_ink is None else use_ink
        self.writers: list[str] | None = None
        if use_ink:
            from data.ink import load_writer_split

            self.writers = list(load_writer_split()["train" if split == "train" else "val"])
        self.synth = LineSynthesizer(height=64, writers=self.writers)
        self.cinnamon = CinnamonBank(split) if use_cinnamon is not False else None
        if self.cinnamon is not None and not len(self.cinnamon):
            self.cinnamon = None

    # -- content ---------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load what the first page would load (ink corpus, seal bank), e.g. before forking workers."""
        from data.pages.marks import seal_bank

        seal_bank()
        if self.writers:
            self.synth.ink_writers()

    @staticmethod
    def _records(template: Template, n: int, era: int, rng: random.Random, n_rows: int) -> list[dict[str, str]]:
        from data.text import generate_record, parse_date
        from data.text.numbers import entry_number, page_number

        records = [generate_record(template.book, rng, era) for _ in range(n)]

        def when(record: dict) -> tuple:
            try:
                d = parse_date(record.get("ngayDangKy", ""))
                return (d.year, d.month or 0, d.day or 0)
            except ValueError:
                return (era, 0, 0)

        records.sort(key=when)
        # One page: consecutive entry numbers in one writing habit, one volume, page and office.
        first = rng.randint(1, 250)
        form_seed = rng.getrandbits(32)
        year = when(records[0])[0] if records else era
        shared = dict(records[0]) if records else {}
        page_text = page_number(rng, (first - 1) // max(1, n_rows) + 1)
        for i, record in enumerate(records):
            record["so"] = entry_number(random.Random(form_seed), first + i, year)
            for key in ("quyenSo", "noiDangKy"):
                if key in shared:
                    record[key] = shared[key]
            record["trangSo"] = page_text
        for record in records:
            for key, value in list(record.items()):
                record[key] = " ".join(value.split())
                if not record[key]:
                    del record[key]
        return records

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, book: str, variant: str | None = None, seed: int = 0, entries: int | None = None,
               blank: bool | None = None) -> tuple[Image.Image, PageTruth]:
        """One page of ``book``: ``variant`` a template id (default: drawn for the split), ``entries`` the
        number of rows (default: drawn from the template's range), ``blank`` False for no blank rows.
        The same arguments always give the same page."""
        get_book(book)
        rng = np.random.default_rng(seed)
        text_rng = random.Random(seed)
        if variant is None:
            template = draw_template(book, seed, self.split)
        else:
            template = get_template(variant)
            if template.book != book:
                raise ValueError(f"template {variant!r} is a {template.book} layout, not {book}")
            if self.split == "train" and template.split == "heldout":
                raise ValueError(f"template {variant!r} is held out: it is never rendered for the train split")
        lo, hi = template.entries
        n_rows = int(entries) if entries is not None else int(rng.integers(lo, hi + 1))
        if not 1 <= n_rows <= 20:
            raise ValueError(f"entries must be 1..20, got {n_rows}")
        blank_rows: set[int] = set()
        if blank is not False and n_rows > 2:
            if rng.random() < 0.3:
                k = int(rng.integers(1, min(3, n_rows - 1) + 1))
                blank_rows |= set(range(n_rows - k, n_rows))
            if rng.random() < 0.1:
                blank_rows.add(int(rng.integers(1, n_rows - 1)))
        filled = [r for r in range(n_rows) if r not in blank_rows]
        era = int(rng.integers(template.years[0], template.years[1] + 1))
        records = self._records(template, len(filled), era, text_rng, n_rows)
        row_records = dict(zip(filled, records, strict=True))

        width, height = page_size(template, self.long_side)
        layout = plan_layout(template, n_rows, width, height, rng)
        page = _PageBuilder(self, template, layout, rng)
        page.write_rows(row_records, n_rows)
        page.write_header(row_records[filled[0]] if filled else {})
        page.add_seals()
        image, truth = page.finish(book, seed, era, blank_rows)
        return image, truth


class _PageBuilder:
    """State of one page while it is written: placements, print, marks and truth in page coordinates."""

    def __init__(self, renderer: PageRenderer, template: Template, layout: PageLayout, rng: np.random.Generator):
        self.r, self.t, self.layout, self.rng = renderer, template, layout, rng
        self.width, self.height = layout.width, layout.height
        self.items: list[PrintItem] = list(layout.items)
        self.headings: list[Heading] = [Heading(text, Region.from_box(*box.as_tuple()), level, col,
                                                _printed_lines(layout.items, box) if level in HEADING_CELL_LEVELS
                                                else [])
                                        for text, box, level, col in layout.headings]
        self.ink: list[tuple[Placement, tuple[int, int, int], float]] = []
        self.marks: list[tuple[Mark, np.ndarray, int, int, tuple[int, int, int], float]] = []
        self.entries: list[EntryTruth] = []
        self.page_fields: list[FieldTruth] = []
        self.cinnamon_lines = 0
        self.hands_meta: list[dict] = []
        self._writers: dict[int, MaskWriter] = {}
        row_h = layout.rows[0][1] - layout.rows[0][0]
        u = layout.unit
        self.lh = float(np.clip(0.3 * row_h, 13 * u, 27 * u))
        self.amendment = sample_hand(rng, renderer.synth.fonts, renderer.writers, renderer.ink_share, amendment=True)

    # -- handwriting ---------------------------------------------------------------------------------------
    def _writer(self, hand: PageHand) -> MaskWriter:
        """One writer per officer on the page, so that its width estimate and its cache carry over between the
        entries the officer wrote (a short word written again at the same size reuses its ink: cheaper, and
        "Kinh" in one hand looks much alike from one entry to the next anyway)."""
        writer = self._writers.get(id(hand))
        if writer is None:
            writer = self._writers[id(hand)] = MaskWriter(self.r.synth, hand, self.rng)
        return writer

    def _items(self, keys: tuple[str, ...], record: dict[str, str], width: float, lh: float) -> list[CellItem]:
        items = []
        bank = self.r.cinnamon
        for key in keys:
            if key not in record:
                continue
            attr = get_book(self.t.book).field(key).attribute
            if bank is not None and attr in PLACE_ATTRIBUTES and self.rng.random() < self.r.cinnamon_share:
                picked = bank.pick(self.rng, int(lh * 0.9), width / 0.8)
                if picked is not None:
                    scan, text, _ = picked
                    record[key] = text
                    items.append(CellItem(key, text, scan=scan, source="cinnamon"))
                    self.cinnamon_lines += 1
                    continue
            items.append(CellItem(key, record[key]))
        return items

    def _write(self, items, box: Box, hand: PageHand, writer: MaskWriter, mode: str, align: str,
               lh: float) -> list[Placement]:
        placements = write_cell(items, box, int(round(lh * hand.size)), writer, mode=mode, separator=hand.separator,
                                spacing=hand.spacing, align=align, rng=self.rng)
        source = hand.source
        for p in placements:
            if p.source == "font":
                p.source = source
        return placements

    def write_rows(self, row_records: dict[int, dict[str, str]], n_rows: int) -> None:
        hands: list[PageHand] = []
        hand: PageHand | None = None
        for _ in range(n_rows):
            if hand is None or self.rng.random() > 0.55:  # the same officer often writes several entries
                hand = sample_hand(self.rng, self.r.synth.fonts, self.r.writers, self.r.ink_share)
            hands.append(hand)
        self.row_hands = hands
        for row in range(n_rows):
            self._write_row(row, row_records.get(row), hands[row])

    def _labelled_slots(self, cell: Box, column) -> list[tuple[Box, PrintItem]]:
        """Pre-printed sub-labels: one slot per label down the cell, the label at the slot's top left."""
        labels = column.labels
        weights = column.label_rows or (1,) * len(labels)
        size = max(6, int(self.layout.heading_size * 0.85))
        font_path = print_font_path(self.t.print_font)
        font = pil_font(font_path, size)
        unit_h = cell.h / sum(weights)
        label_w = max(font.getlength(lb) for lb in labels)
        slots = []
        y0 = cell.y0
        for label, weight in zip(labels, weights, strict=True):
            slot_h = unit_h * weight
            item = PrintItem(label, cell.x0 + 0.3 * size, y0 + max(0.0, (unit_h - size) * 0.55), font_path, size)
            slots.append((Box(cell.x0 + label_w + 0.7 * size, y0, cell.x1, y0 + slot_h), item))
            y0 += slot_h
        return slots

    def _write_row(self, row: int, record: dict[str, str] | None, hand: PageHand) -> None:
        layout, t = self.layout, self.t
        row_box = layout.row_box(row)
        cells: list[CellTruth] = []
        placed: list[tuple[Placement, int, Box, str]] = []  # placement, column, cell box, hand name
        writer = self._writer(hand)
        amend_writer = self._writer(self.amendment) if record and "ghiChu" in record else None
        for c, column in enumerate(t.columns):
            cell = layout.cell(row, c)
            cells.append(CellTruth(c, list(column.fields), Region.from_box(*cell.as_tuple())))
            pad_x, pad_y = max(2.0, 0.12 * self.lh), max(1.0, 0.06 * self.lh)
            inner = cell.inset(pad_x, pad_y)
            if column.labels:
                slots = self._labelled_slots(inner, column)
                for _, item in slots:
                    self.items.append(item)
                    self.headings.append(Heading(item.text, Region.from_box(*item.box().as_tuple()), "label", c))
            if record is None:
                continue
            if column.signature:
                sig_h = min(inner.h * 0.5, 1.8 * self.lh)
                sig_w = min(inner.w * 0.8, 4.0 * self.lh)
                sx = inner.x0 + self.rng.uniform(0, max(1.0, inner.w - sig_w))
                mask = signature_mask(self.rng, int(sig_w), int(sig_h), pen=max(1.0, self.lh / 14))
                sy = inner.y0 + self.rng.uniform(0, max(0.0, inner.h * 0.1))
                region = Region.from_box(sx, sy, sx + mask.shape[1], sy + mask.shape[0])
                self.marks.append((Mark("signature", region, row), mask, int(sx), int(sy), hand.rgb, hand.density))
                if inner.h - sig_h * 0.8 >= self.lh * 0.9:
                    inner = Box(inner.x0, inner.y0 + sig_h * 0.8, inner.x1, inner.y1)
            keys = column.fields
            if column.labels:
                for (slot, _), key in zip(slots, keys, strict=True):
                    items = self._items((key,), record, slot.w, self.lh)
                    if not items:
                        continue
                    w, name = (amend_writer, "amendment") if key == "ghiChu" else (writer, "main")
                    h = self.amendment if key == "ghiChu" else hand
                    for p in self._write(items, slot.inset(0, 1), h, w, "stack", "middle", self.lh):
                        placed.append((p, c, cell, name))
                continue
            items = self._items(keys, record, inner.w, self.lh)
            if not items:
                continue
            is_note = keys == ("ghiChu",)
            h, w, name = (self.amendment, amend_writer, "amendment") if is_note else (hand, writer, "main")
            # Start a little in from the rule, as people do.
            indent = self.rng.uniform(0, 0.25) * self.lh
            box = Box(min(inner.x0 + indent, inner.x1 - 4), inner.y0, inner.x1, inner.y1)
            align = "bottom" if column.signature else h.align
            for p in self._write(items, box, h, w, column.mode, align, self.lh):
                placed.append((p, c, cell, name))
        for p, _, _, name in placed:
            self.ink.append((p, (self.amendment if name == "amendment" else hand).rgb,
                             (self.amendment if name == "amendment" else hand).density))
        fields = self._fields(placed, row) if record is not None else []
        written = {f.key: f.text for f in fields}
        header = {h.key: record[h.key] for h in t.header if record and h.key in record}
        entry_record = {**header, **written} if record is not None else {}
        self.entries.append(EntryTruth(row, Region.from_box(*row_box.as_tuple()), record is None, entry_record,
                                       fields, cells))
        if record is not None:
            self.hands_meta.append({"entry": row, **hand.to_meta()})

    def _fields(self, placed: list[tuple[Placement, int, Box, str]], entry: int | None) -> list[FieldTruth]:
        lines: dict[str, list[_Line]] = {}
        info: dict[str, tuple[int, Box, str]] = {}
        for p, c, cell, name in placed:
            if p.key is None:
                continue
            lines.setdefault(p.key, []).append(_Line(p.text, _ink_box(p, cell), p.key, p.source))
            info[p.key] = (c, cell, name)
        fields = []
        for key, mine in lines.items():
            column, cell, name = info[key]
            others = [ln.box for k, ls in lines.items() if k != key for ln in ls]
            boxes, index = field_boxes(mine, others, cell)
            regions = [Region.from_box(*b) for b in boxes]
            text_lines = [TextLine(ln.text, Region.from_box(*ln.box), key, entry, index[i], column, ln.source, name)
                          for i, ln in enumerate(mine)]
            fields.append(FieldTruth(key, " ".join(ln.text for ln in mine), regions, text_lines, entry, column, name))
        return fields

    def write_header(self, record: dict[str, str]) -> None:
        if not self.t.header or not record:
            return
        hand = self.row_hands[0] if self.row_hands else sample_hand(self.rng, self.r.synth.fonts, None)
        writer = self._writer(hand)
        placed = []
        for slot in self.layout.header_slots:
            if slot.key not in record:
                continue
            box = slot.value_box
            lh = box.h * 0.92 * hand.size
            for p in write_cell([CellItem(slot.key, record[slot.key])], box, int(lh), writer, mode="stack",
                                align="middle", rng=self.rng):
                p.source = hand.source
                placed.append((p, None, box, "main"))
                self.ink.append((p, hand.rgb, hand.density))
        self.page_fields = self._fields(placed, None)
        # The header values apply to every entry of the page: keep the records in step with what was written.
        written = {f.key: f.text for f in self.page_fields}
        for entry in self.entries:
            if not entry.blank:
                entry.record.update({k: v for k, v in written.items()})

    def add_seals(self) -> None:
        rng = self.rng
        footer = self.layout.footer_box
        if footer is not None:
            hand = self.row_hands[0]
            w, h = footer.w * rng.uniform(0.4, 0.7), min(footer.h * 0.6, 3 * self.lh)
            mask = signature_mask(rng, int(w), int(h), pen=max(1.0, self.lh / 14))
            x = footer.x0 + rng.uniform(0, max(1.0, footer.w - w))
            y = footer.y0 + rng.uniform(0, max(1.0, footer.h - h))
            self.marks.append((Mark("signature", Region.from_box(x, y, x + mask.shape[1], y + mask.shape[0])),
                               mask, int(x), int(y), hand.rgb, hand.density))
        if rng.random() > 0.6 * max(0.3, self.r.degradation):
            return
        anchors = [m for m in self.marks if m[0].kind == "signature"]
        for _ in range(int(rng.integers(1, 3))):
            diameter = int(self.lh * rng.uniform(3.2, 4.5))
            if anchors and rng.random() < 0.8:
                mark = anchors[int(rng.integers(len(anchors)))]
                x0, y0, x1, y1 = mark[0].region.bbox
                cx = x0 + rng.uniform(-0.3, 0.6) * (x1 - x0)
                cy = (y0 + y1) / 2 + rng.uniform(-0.3, 0.3) * diameter
                entry = mark[0].entry
            else:
                cx = rng.uniform(0.6, 0.95) * self.width
                cy = self.layout.table_bottom + rng.uniform(0.2, 0.8) * (self.height - self.layout.table_bottom)
                entry = None
            x = int(np.clip(cx - diameter / 2, 0, self.width - diameter))
            y = int(np.clip(cy - diameter / 2, 0, self.height - diameter))
            mask = seal_mask(rng, diameter)
            colour = SEAL_INKS[int(rng.integers(len(SEAL_INKS)))]
            self.marks.append((Mark("seal", Region.from_box(x, y, x + diameter, y + diameter), entry), mask, x, y,
                               colour, 1.0))

    # -- pixels ---------------------------------------------------------------------------------------
    def _print_layer(self) -> np.ndarray:
        canvas = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(canvas)
        for x0, y0, x1, y1, thickness in self.layout.rules:
            draw.line((x0, y0, x1, y1), fill=255, width=thickness)
        for item in self.items:
            left, top, _, _ = text_bbox(item.font, item.size, item.text)
            draw.text((item.x - left, item.y - top), item.text, font=pil_font(item.font, item.size), fill=255)
        return np.asarray(canvas, dtype=np.float32) / 255.0

    def finish(self, book: str, seed: int, era: int, blank_rows: set[int]) -> tuple[Image.Image, PageTruth]:
        rng, strength = self.rng, self.r.degradation
        width, height = self.width, self.height
        printed = self._print_layer()
        planes = effects.paper(height, width, rng)
        if rng.random() < 0.5 * strength:
            ink = printed * 0.6
            for p, _, _ in self.ink:
                h, w = p.mask.shape
                region = ink[p.y:p.y + h, p.x:p.x + w]
                np.maximum(region, p.mask[:region.shape[0], :region.shape[1]], out=region)
            effects.multiply(planes, effects.bleed_through(ink, rng))
        print_rgb = PRINT_INKS[int(rng.integers(len(PRINT_INKS)))]
        effects.blend(planes, printed * float(rng.uniform(0.75, 1.0)), print_rgb)
        fade_amount = rng.uniform(0.0, 0.5) if rng.random() < 0.5 * strength else rng.uniform(0.0, 0.12)
        fade = 1.0 - fade_amount * effects.smooth_field(height, width, rng, cells=6)
        for p, rgb, density in self.ink:
            h, w = p.mask.shape
            alpha = p.mask * (density * fade[p.y:p.y + h, p.x:p.x + w])
            effects.blend(planes, alpha, rgb, p.x, p.y)
        for _, mask, x, y, rgb, density in self.marks:
            effects.blend(planes, mask * density, rgb, x, y)
        if rng.random() < strength:
            factors = effects.stains(height, width, rng)
            if factors is not None:
                for plane, factor in zip(planes, factors, strict=True):
                    cv2.multiply(plane, factor, dst=plane)
        if self.t.spread:
            shadow = effects.gutter_shadow(width, rng)[None, :]
            for plane in planes:
                plane *= shadow

        truth = self._truth(book, seed, era, blank_rows)
        content = np.array([pt for e in truth.entries for pt in e.region.polygon]
                           + [pt for h in truth.headings for pt in h.region.polygon]
                           + [pt for m in truth.marks for pt in m.region.polygon]
                           + [pt for f in truth.page_fields for b in f.boxes for pt in b.polygon], dtype=np.float64)
        keep = (content[:, 0].min(), content[:, 1].min(), content[:, 0].max(), content[:, 1].max())
        mode = "photo" if rng.random() < 0.3 * strength else "scan"
        backgrounds = effects.PHOTO_BACKGROUNDS if mode == "photo" else effects.SCAN_BACKGROUNDS
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        torn = effects.tear(height, width, keep, rng) if rng.random() < strength else None
        if torn is not None:
            hole = np.zeros((height, width), np.uint8)
            cv2.fillPoly(hole, [np.round(torn).astype(np.int32)], 1)
            for plane, value in zip(planes, background, strict=True):
                plane[hole.astype(bool)] = value
        # Every step above keeps values non-negative; convertScaleAbs saturates at 255.
        page = cv2.merge([cv2.convertScaleAbs(plane) for plane in planes])

        if strength > 0:
            matrix, angle = effects.camera_matrix(width, height, rng, mode, max_rotation=3.0 * strength)
            matrix = effects.fit_inside(matrix, content, width, height)
            page = cv2.warpPerspective(page, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(int(v) for v in background))
            light = effects.lighting(height, width, rng, mode)
            lit = [cv2.multiply(plane.astype(np.float32), light) for plane in cv2.split(page)]
            page = effects.scan_finish(cv2.merge([cv2.convertScaleAbs(p) for p in lit]), rng, mode, strength)
        else:
            matrix, angle = np.eye(3), 0.0
        truth = truth.transformed(matrix, width, height)
        truth.meta.update({"mode": mode, "rotation": round(angle, 3),
                           "homography": [[round(float(v), 8) for v in row] for row in matrix],
                           "torn": torn is not None, "degradation": strength})
        return Image.fromarray(page), truth

    def _truth(self, book: str, seed: int, era: int, blank_rows: set[int]) -> PageTruth:
        marks = [m[0] for m in self.marks]
        return PageTruth(
            book=book, template=self.t.id, template_split=self.t.split, split=self.r.split, seed=int(seed),
            width=self.width, height=self.height, entries=self.entries, page_fields=self.page_fields,
            headings=self.headings, marks=marks,
            meta={"era": era, "rows": len(self.entries), "blank_rows": sorted(blank_rows),
                  "long_side": self.r.long_side, "cinnamon_lines": self.cinnamon_lines,
                  "hands": self.hands_meta},
        )


_RENDERERS: dict[tuple, PageRenderer] = {}


def render_page(book: str, variant: str | None = None, seed: int = 0, *, split: str = "train",
                long_side: int = DEFAULT_LONG_SIDE, entries: int | None = None, blank: bool | None = None,
                degradation: float = 1.0) -> tuple[Image.Image, PageTruth]:
    """Render one page: ``(PIL RGB image, PageTruth)``; the same arguments always give the same page.

    A :class:`PageRenderer` per (split, long side, degradation) is kept for the process.
    """
    from data.settings import shared_dir

    key = (split, int(long_side), float(degradation), str(shared_dir()))
    renderer = _RENDERERS.get(key)
    if renderer is None:
        renderer = _RENDERERS[key] = PageRenderer(split=split, long_side=long_side, degradation=degradation)
    return renderer.render(book, variant, seed, entries=entries, blank=blank)
