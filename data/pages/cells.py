"""Writing field values into a ruled cell the way an officer does: wrap at spaces, squeeze, write smaller.

:func:`write_cell` places the items of one cell (one field, or several sharing a merged cell) as ink masks.
A value that does not fit the rest of a line wraps at a space onto the next line; the last line of a cell
is squeezed (handwriting gets cramped before it leaves the cell); when the text still does not fit, the whole
cell is written again smaller. Nothing is ever dropped, so the image always shows exactly the ground-truth
text, and every mask stays inside the cell.

``flow`` cells write their fields one after another on the same lines with a separator (a comma or dash in
the officer's hand, not part of any field); ``stack`` cells start each field on a new line. A real scanned
line (``CellItem.scan``) is never split: it moves to a fresh line and is squeezed or written smaller.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from data.pages.layout import Box

MIN_LINE_HEIGHT = 9
# Squeezing beyond this makes writing look machine-compressed; smaller writing is preferred below it.
MIN_SQUEEZE = 0.72


@dataclass
class CellItem:
    """One field to write: key, text, and optionally a real scanned line that already shows this text."""

    key: str
    text: str
    scan: np.ndarray | None = None
    source: str = "font"


@dataclass
class Placement:
    """A mask at ``(x, y)`` (top-left) on the page. ``key`` None marks a separator, which belongs to no field."""

    mask: np.ndarray
    x: int
    y: int
    key: str | None
    text: str
    source: str
    line: int = 0


def squeeze(mask: np.ndarray, width: float) -> np.ndarray:
    width = max(2, int(width))
    if mask.shape[1] <= width:
        return mask
    return cv2.resize(mask, (width, mask.shape[0]), interpolation=cv2.INTER_AREA)


def _scaled_scan(scan: np.ndarray, height: int) -> np.ndarray:
    width = max(2, int(round(scan.shape[1] * height / scan.shape[0])))
    return cv2.resize(scan, (width, height), interpolation=cv2.INTER_AREA)


def _estimator(write) -> Callable[[str, int], float] | None:
    return getattr(write, "estimate", None)


def _attempt(items: list[CellItem], box: Box, lh: int, pitch: float, write: Callable[[str, int], np.ndarray],
             mode: str, separator: str, force: bool) -> list[Placement] | None:
    """One layout at line height ``lh``; None when the text does not fit (unless ``force``)."""
    x0, x1 = int(box.x0), int(box.x1)
    n_lines = max(1, int((box.h - lh) // pitch) + 1)
    gap = max(2, int(0.3 * lh))
    estimate = _estimator(write)
    out: list[Placement] = []
    line, cx = 0, x0
    ends: dict[int, int] = {}

    def put(mask: np.ndarray, key: str | None, text: str, source: str) -> None:
        nonlocal cx
        out.append(Placement(mask, cx, 0, key, text, source, line))
        cx += mask.shape[1] + gap
        ends[line] = cx

    for index, item in enumerate(items):
        if index:
            if mode == "stack":
                line, cx = line + 1, x0
            elif cx > x0 and separator:
                sep = write(separator, lh)
                if cx - gap + int(0.1 * lh) + sep.shape[1] <= x1:
                    cx = cx - gap + int(0.1 * lh)
                    put(sep, None, separator, "separator")
        words = [item.text] if item.scan is not None else item.text.split(" ")
        while words:
            if line >= n_lines:
                if not force:
                    return None
                # Forced: the rest is crammed into what is left of the last line.
                line = n_lines - 1
                cx = min(ends.get(line, x0), x1 - 2)
            avail = x1 - cx
            last = line == n_lines - 1
            rest = " ".join(words)
            guess = estimate(rest, lh) if estimate is not None and item.scan is None else None
            if guess is None or guess <= 1.15 * avail or len(words) == 1:
                mask = _scaled_scan(item.scan, lh) if item.scan is not None else write(rest, lh)
                if mask.shape[1] <= avail:
                    put(mask, item.key, rest, item.source)
                    break
                if (last or len(words) == 1) and mask.shape[1] * MIN_SQUEEZE <= avail:
                    put(squeeze(mask, avail), item.key, rest, item.source)
                    break
                width = float(mask.shape[1])
            else:
                width = guess
            placed = False
            if len(words) > 1:
                # Longest prefix that fits, starting from the share of characters that would fit and
                # correcting the share with each rendered prefix.
                budget = len(rest) * avail / max(width, 1.0)
                k = len(words) - 1
                while k > 1 and len(" ".join(words[:k])) > budget:
                    k -= 1
                while k >= 1:
                    prefix = " ".join(words[:k])
                    pm = write(prefix, lh)
                    if pm.shape[1] * (0.92 if k > 1 else MIN_SQUEEZE) <= avail:
                        put(squeeze(pm, avail), item.key, prefix, item.source)
                        words = words[k:]
                        placed = True
                        break
                    budget = len(prefix) * avail / pm.shape[1]
                    k -= 1
                    while k > 1 and len(" ".join(words[:k])) > budget:
                        k -= 1
            if placed:
                line, cx = line + 1, x0
                continue
            if cx > x0 and not (force and last):
                line, cx = line + 1, x0  # start the value on a fresh line
                continue
            if force:
                mask = _scaled_scan(item.scan, lh) if item.scan is not None else write(rest, lh)
                put(squeeze(mask, avail), item.key, rest, item.source)
                break
            return None
    return out


def _lines_needed(items: list[CellItem], width: float, size: int, mode: str, estimate) -> float:
    usable = 0.85 * width
    if mode == "stack":
        return sum(np.ceil(_item_width(i, size, estimate) / usable) for i in items)
    total = sum(_item_width(i, size, estimate) for i in items) + 0.5 * size * (len(items) - 1)
    return float(np.ceil(total / usable))


def _item_width(item: CellItem, size: int, estimate) -> float:
    if item.scan is not None:
        return item.scan.shape[1] * size / item.scan.shape[0] * MIN_SQUEEZE
    return estimate(item.text, size)


def write_cell(items: list[CellItem], box: Box, lh: int, write: Callable[[str, int], np.ndarray], *,
               mode: str = "stack", separator: str = ",", spacing: float = 1.1, align: str = "top",
               rng: np.random.Generator | None = None) -> list[Placement]:
    """Place ``items`` inside ``box`` (page pixels) at nominal line height ``lh``; see the module doc.

    ``write(text, height)`` renders a mask of exactly ``height`` rows; when it also has
    ``estimate(text, height)`` (the expected width), the writing size is chosen up front and wrapping renders
    each line about once. ``align``: ``top``, ``middle`` or ``bottom`` for the block of lines inside the box.
    Returns the placements with page coordinates.
    """
    if not items:
        return []
    rng = rng or np.random.default_rng(0)
    lh = int(max(MIN_LINE_HEIGHT, min(lh, box.h)))
    size = lh
    estimate = _estimator(write)
    if estimate is not None:
        while size > MIN_LINE_HEIGHT:
            capacity = max(1, int((box.h - size) // (spacing * size)) + 1)
            if _lines_needed(items, box.w, size, mode, estimate) <= capacity:
                break
            size = max(MIN_LINE_HEIGHT, int(size * 0.9))
    placements: list[Placement] | None = None
    while placements is None:
        force = size <= MIN_LINE_HEIGHT or size <= 0.5 * lh
        placements = _attempt(items, box, size, spacing * size, write, mode, separator, force)
        if placements is None:
            size = max(MIN_LINE_HEIGHT, int(size * 0.86))
    pitch = spacing * size
    used = max(p.line for p in placements) + 1
    block = (used - 1) * pitch + size
    slack = max(0.0, box.h - block)
    offset = {"top": slack * rng.uniform(0.0, 0.25), "middle": slack * 0.5, "bottom": slack}.get(align, 0.0)
    for p in placements:
        jitter = rng.uniform(-0.06, 0.06) * size if slack > 0.12 * size else 0.0
        y = box.y0 + offset + p.line * pitch + jitter
        p.y = int(round(min(max(y, box.y0), box.y1 - p.mask.shape[0])))
        p.x = int(min(p.x, box.x1 - p.mask.shape[1]))
    return placements
