"""Text lines cut out of register pages: the crop the page pipeline hands the recognizer, and a line manifest of
every ground-truth line of a folder of rendered pages (for training the recognizer on page lines).

A line on a 1,600 px page is 20–45 px tall, ruled lines and stains beside it: far from the 64 px line images
the recognizer first learned from (its character error on such crops was 33–58% where it reads Cinnamon val at
8%), so the pipeline's own crops are what it should also learn from.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image

from data.manifest import LineRecord, write_manifest
from data.pages.truth import HEADING_CELL_LEVELS

LINE_PAD = 0.15  # of the line's height, on every side: detected boxes hug the ink tightly
#: Printed headings cut into lines for the recognizer (``write_page_lines(..., headings=True)``).
HEADING_LINE_LEVELS = ("title", "group", "column", "label", "number")


def crop_line(image: Image.Image, box, pad: float = LINE_PAD) -> Image.Image:
    """The line's box grown by ``pad`` of its height on every side, clipped to the page."""
    x0, y0, x1, y1 = box
    p = pad * (y1 - y0)
    w, h = image.size
    return image.crop((max(0, int(x0 - p)), max(0, int(y0 - p)), min(w, int(x1 + p) + 1), min(h, int(y1 + p) + 1)))


def gray_crop(image: Image.Image, box, min_width: int, min_height: int) -> tuple[np.ndarray, int, int] | None:
    """``box`` (page pixels) clipped to the page, in grayscale, with its clipped top-left corner; ``None`` where
    less than ``min_width`` x ``min_height`` pixels are left."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.width, x1), min(image.height, y1)
    if x1 - x0 < min_width or y1 - y0 < min_height:
        return None
    return np.asarray(image.convert("L").crop((x0, y0, x1, y1)), dtype=np.uint8), x0, y0


def heading_line_boxes(image: Image.Image, box, min_gap: int = 2) -> list[tuple[float, float, float, float]]:
    """The printed text lines inside a heading cell ``box`` (page pixels), top to bottom.

    The cell's ruled border is cut away, the rest binarized (Otsu); rows with ink are grouped into lines
    (a gap of ``min_gap`` or more blank rows ends a line), each line's box spanning its ink."""
    cropped = gray_crop(image, box, 8, 6)
    if cropped is None:
        return []
    gray, x0, y0 = cropped
    mx, my = max(2, gray.shape[1] // 40), max(2, gray.shape[0] // 20)
    inner = gray[my:-my, mx:-mx]
    if inner.size == 0:
        return []
    _, ink = cv2.threshold(flat_background(inner), 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = _without_rules(ink)
    # A ruled line across the crop is a border that survived the margin, not text.
    rows = ink.sum(axis=1)
    ink[rows > 0.85 * ink.shape[1]] = 0
    ink[:, ink.sum(axis=0) > 0.85 * ink.shape[0]] = 0
    rows = ink.sum(axis=1)
    threshold = max(1, int(0.01 * ink.shape[1]))
    on = rows >= threshold
    lines, start, gap = [], None, 0
    for y, value in enumerate(on):
        if value:
            if start is None:
                start = y
            gap, end = 0, y
        elif start is not None:
            gap += 1
            if gap >= min_gap:
                lines.append((start, end))
                start, gap = None, 0
    if start is not None:
        lines.append((start, end))
    out = []
    for a, b in _marks_joined(_split_at_valleys(lines, rows)):
        if b - a < 3:
            continue  # specks
        cols = np.nonzero(ink[a:b + 1].sum(axis=0))[0]
        if cols.size == 0:
            continue
        pad = max(1, (b - a) // 4)
        out.append((float(x0 + mx + max(0, cols[0] - pad)), float(y0 + my + max(0, a - pad)),
                    float(x0 + mx + min(inner.shape[1], cols[-1] + 1 + pad)),
                    float(y0 + my + min(inner.shape[0], b + 1 + pad))))
    # A speck beside the cell's print (a stain's edge, a seal's dot) is no line: read, it became a word.
    tallest = max((b[3] - b[1] for b in out), default=0.0)
    return [b for b in out if max(b[3] - b[1], b[2] - b[0]) >= SPECK_SHARE * tallest]


#: A line in a heading cell less than this share of the cell's tallest line both high and wide is a speck,
#: not print.
SPECK_SHARE = 0.5


#: A stroke of ink at least this share of the crop's width (height), spanning at most ``RULE_THICKNESS`` of its
#: length across and on average at most ``RULE_INK`` pixels thick, is a rule of the cell, not print: on a
#: page tilted by a degree or two a rule crosses several rows, none of them all ink, and read as a line of its
#: own it became a word. Letters, even run together by blur, are thicker on average.
RULE_LENGTH = 0.5
RULE_THICKNESS = 0.2
RULE_INK = 4.0


def flat_background(gray: np.ndarray, size: int | None = None) -> np.ndarray:
    """``gray`` divided by its paper (the brightest level within ``size`` pixels around each pixel, smoothed;
    default 0.3 of its height, at least 5): a stain or a shadow across a heading cell is paper, not ink, to the
    threshold after it (thresholded as ink, a stain joined two printed lines into one, or stood as a line of its
    own)."""
    k = size or max(5, int(round(gray.shape[0] * 0.3)) | 1)
    paper = cv2.blur(cv2.dilate(gray, np.ones((k, k), np.uint8)), (k, k))
    return np.clip(gray.astype(np.float32) / np.maximum(paper, 1) * 255, 0, 255).astype(np.uint8)


def _without_rules(ink: np.ndarray) -> np.ndarray:
    """``ink`` (0/1) without the cell's rules: connected strokes long and thin along either axis, and thin
    slivers touching the crop's left or right edge (a tilted side rule cut by the crop's margin)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    height, width = ink.shape
    drop = np.zeros(count, dtype=bool)
    for i in range(1, count):
        x, y, w, h, area = stats[i, :5]
        across = w >= RULE_LENGTH * width and h <= RULE_THICKNESS * w and area <= RULE_INK * w
        down = h >= RULE_LENGTH * height and w <= RULE_THICKNESS * h and area <= RULE_INK * h
        sliver = w <= 3 and h >= 3 * w and (x == 0 or x + w == width)
        drop[i] = across or down or sliver
    if not drop.any():
        return ink
    return np.where(drop[labels], 0, ink).astype(ink.dtype)


#: Two printed lines touching (a descender on an accent) are cut at a row holding at most this share of the
#: ink of their densest row, in the middle of the run. (0.1 left faded print on a small cell, "Số, ngày" over
#: "đăng ký" with 0.146 at the valley, as one line; on the true cells of 40 validation pages, lines found one
#: for one with the printed ones: 641 of 671 cells at 0.1, 645 at 0.15, 644 at 0.2 and 0.25.)
VALLEY_SHARE = 0.15
#: A run of rows at most this share of the height of the line under it, and close above it, is that line's
#: accents (a title's "Ổ", "Ă" set apart by a gap), not a line of its own.
MARKS_SHARE = 0.45


def _split_at_valleys(lines: list[tuple[int, int]], rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of ink rows cut where a nearly blank row in their middle shows two lines touching."""
    out = []
    pending = list(lines)
    while pending:
        a, b = pending.pop(0)
        h = b - a + 1
        lo, hi = a + int(0.3 * h), b - int(0.3 * h)
        if h >= 16 and hi > lo:
            v = lo + int(np.argmin(rows[lo:hi + 1]))
            if rows[v] <= VALLEY_SHARE * rows[a:b + 1].max():
                pending[:0] = [(a, v - 1), (v + 1, b)]
                continue
        out.append((a, b))
    return out


def _marks_joined(lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A thin run of rows just above a line (its accents, set apart by a gap) joined to that line."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        a, b = lines[i]
        if i + 1 < len(lines):
            c, d = lines[i + 1]
            if b - a + 1 <= MARKS_SHARE * (d - c + 1) and c - b <= max(3, (b - a + 1)):
                out.append((a, d))
                i += 2
                continue
        out.append((a, b))
        i += 1
    return out


def _pages(folder: Path) -> Iterator[tuple[Path, Path]]:
    """``(ground-truth JSON, image)`` of every page in a folder written by ``hotich data pages``."""
    gt_dir = folder / "gt"
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"{folder}: no gt/ folder; expected a folder written by `hotich data pages`")
    for gt in sorted(gt_dir.glob("*.json")):
        images = sorted((folder / "images").glob(f"{gt.stem}.*"))
        if not images:
            raise FileNotFoundError(f"{gt}: no image {gt.stem}.* under {folder / 'images'}")
        yield gt, images[0]


def split_by_widths(text: str, widths: list[float]) -> list[str]:
    """``text`` broken at spaces into ``len(widths)`` lines whose lengths follow the lines' ink widths: a printed
    heading's characters are nearly one width, so where a wrapped heading broke can be read off its lines."""
    words = text.split()
    if len(widths) <= 1 or len(words) < len(widths):
        return [text] if len(widths) <= 1 else []
    total, chars = sum(widths), len(text)
    ends = np.cumsum([len(w) + 1 for w in words]) - 1  # character offset after each word
    out, start, cum = [], 0, 0.0
    for k, width in enumerate(widths[:-1]):
        cum += width
        target = chars * cum / total
        remaining = len(widths) - k - 1
        # The break: the word end nearest the target that leaves a word for every line after it.
        choices = range(start, len(words) - remaining)
        cut = min(choices, key=lambda i: abs(ends[i] - target))
        out.append(" ".join(words[start:cut + 1]))
        start = cut + 1
    out.append(" ".join(words[start:]))
    return out


def _heading_lines(truth, image: Image.Image) -> Iterator[tuple[tuple, str, str]]:
    """``(box, text, level)`` of the printed lines of every heading: the lines the page recorded it printed
    (each line's ink box with a quarter of its height around it, as :func:`heading_line_boxes` cuts lines on
    a page); on pages rendered before they were recorded, the lines :func:`heading_line_boxes` finds, the text
    split where :func:`split_by_widths` reads its breaks (which labels a rule's stub or a line cut in two with
    the wrong words). A printed label repeated on every row (the sub-labels inside cells, the column numbers)
    is written once per page."""
    seen, numbers = set(), 0
    for h in truth.headings:
        if h.level not in HEADING_LINE_LEVELS or not h.text.strip():
            continue
        if h.level not in HEADING_CELL_LEVELS:
            if (h.level, h.text) in seen or (h.level == "number" and numbers >= 3):
                continue
            seen.add((h.level, h.text))
            numbers += h.level == "number"
            yield h.region.bbox, h.text, h.level
            continue
        if h.lines:
            for line in h.lines:
                x0, y0, x1, y1 = line.region.bbox
                pad = max(1.0, (y1 - y0) / 4)
                yield (x0 - pad, y0 - pad, x1 + pad, y1 + pad), line.text, h.level
            continue
        boxes = heading_line_boxes(image, h.region.bbox)
        for box, text in zip(boxes, split_by_widths(h.text, [b[2] - b[0] for b in boxes])):
            yield box, text, h.level


def write_page_lines(pages: str | Path, out: str | Path, limit: int | None = None, min_height: int = 6,
                     shuffle: int | None = None, progress: bool = True, headings: bool = False) -> dict:
    """Every ground-truth text line of the pages in ``pages`` as a PNG crop (:func:`crop_line`) under
    ``out/images/`` plus ``out/manifest.jsonl`` (``source`` ``page-<hand source>``, ``book``, ``field``,
    ``page``). ``limit`` caps the number of pages (evenly spaced over the folder); ``shuffle`` (a seed) writes
    the manifest in a seeded random order, so that its first lines (a validation limit) span every page
    instead of the first one. ``headings`` writes the printed headings' lines instead of the handwritten ones
    (``source`` ``page-print``, ``field`` the heading level), for teaching the recognizer print. Re-running
    rewrites the manifest and keeps the crops already written where the line's box and the page image are the
    same; a line cut differently or a page drawn again gets a crop of its own. Returns counts (no text)."""
    from tqdm.auto import tqdm

    from data.pages.truth import PageTruth

    pages, out = Path(pages), Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    found = list(_pages(pages))
    if limit is not None and limit < len(found):
        # Evenly spaced in name order: page ids start with the template, so a prefix would be one or two books.
        found = [found[round(i * (len(found) - 1) / max(1, limit - 1))] for i in range(limit)]
    if not found:
        raise FileNotFoundError(f"{pages}: no pages under gt/")
    records, skipped = [], 0
    for gt, image_path in tqdm(found, desc="page lines", unit="page", disable=not progress):
        truth = PageTruth.from_dict(json.loads(gt.read_text(encoding="utf-8")))
        image = None

        def page_image() -> Image.Image:
            nonlocal image
            if image is None:
                image = Image.open(image_path).convert("RGB")
            return image

        # (where the crop comes from, box, text, metadata), or None for a line too small to read
        if headings:
            lines = [(f"heading/{i}", box, text, {"source": "page-print", "field": level})
                     if box[3] - box[1] >= min_height else None
                     for i, (box, text, level) in enumerate(_heading_lines(truth, page_image()))]
        else:
            lines = [(str(i), line.region.bbox, line.text, {"source": f"page-{line.source}", "field": line.field})
                     if line.text.strip() and min(line.region.bbox[2] - line.region.bbox[0],
                                                  line.region.bbox[3] - line.region.bbox[1]) >= min_height
                     else None
                     for i, line in enumerate(truth.lines())]
        for item in lines:
            if item is None:
                skipped += 1
                continue
            origin, box, text, meta = item
            # The crop's name is a hash of where it comes from, its box and the page file's size: stable across
            # re-runs, yet a line the code now cuts differently cannot keep a stale crop. No text in it.
            where = f"{gt.stem}/{origin}/{tuple(round(v) for v in box)}/{image_path.stat().st_size}"
            name = hashlib.sha256(where.encode()).hexdigest()[:20] + ".png"
            target = out / "images" / name
            if not target.exists():
                crop_line(page_image(), box).save(target)
            records.append(LineRecord(target, text, {"source": meta["source"], "book": truth.book,
                                                     "field": meta["field"], "page": gt.stem}))
    if shuffle is not None:
        import random

        random.Random(shuffle).shuffle(records)
    count = write_manifest(records, out / "manifest.jsonl")
    return {"pages": len(found), "lines": count, "skipped": skipped, "manifest": str(out / "manifest.jsonl")}


__all__ = ["HEADING_LINE_LEVELS", "LINE_PAD", "crop_line", "heading_line_boxes", "write_page_lines"]
