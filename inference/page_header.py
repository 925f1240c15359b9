"""The page header: values written after printed labels above the table ("Quyển: 01/2003", "Trang: 6").

Every register prints a label before each value of its page header (volume, page, registration office), and
the header values are copied into every record of the page, so one of them lost or misnamed costs a field in
each entry. The layout detector, on a layout it never saw, misses a short page number ("6" is a few strokes)
or takes it for the volume. The pipeline therefore reads the band above the table itself:

- :func:`header_band` is that band: above the column headings, across the table, less the title;
- :func:`header_chunks` cuts the band's ink into text chunks (words close together on one line, a dotted
  leader left out), which are read with the page's other lines;
- :func:`label_crop` is where the label of a value the detector found is printed (the ink just left of it),
  read on its own: the recognizer reads print, or handwriting, far better than the two in one crop;
- :func:`header_labels` finds the chunks that start with a label; a label whose value the detector missed
  gives one from the ink right of it: the chunk is cut at the gap whose left piece reads as the label alone
  (:func:`value_cuts`, :func:`label_alone`), or, for a chunk that is the label alone, the next chunk on its
  line (:func:`value_after`).

The labels are matched on folded text (:func:`inference.records.matching.fold`), then without diacritics.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from data.pages.lines import gray_crop
from inference.records.matching import bare, fold

Box = tuple[float, float, float, float]

#: The printed labels of each page-header key, as registers word them (folded). Longer ones are tried first.
LABELS: dict[str, tuple[str, ...]] = {
    "quyenSo": ("quyển số", "quyển", "sổ số"),
    "trangSo": ("trang số", "trang", "tờ số"),
    "noiDangKy": ("nơi đăng ký", "ủy ban nhân dân", "ubnd", "cơ quan đăng ký"),
}
_BY_WORDS = sorted(((tuple(fold(label).split()), key) for key, labels in LABELS.items() for label in labels),
                   key=lambda item: -len(item[0]))
#: Ink components shorter and narrower than this share of the band's text height are dots (a leader's, a
#: diacritic's): left out when chunks are formed.
DOT_SIZE = 0.45
#: Components flatter than this share of the text height are a leader's dashes (or a stroke through a cell).
FLAT = 0.35
#: Horizontal ink runs longer than this many text heights are a leader or a rule, not writing.
LEADER_RUN = 2.5
#: A label read alone takes the next chunk on its line as its value when that starts within this many of the
#: label's heights (farther off, the slot was left blank and the chunk is another's).
VALUE_REACH = 8.0
#: A chunk is cut into label and value only at gaps at least this share of its letters' median height.
MIN_CUT_GAP = 0.4
#: Components on one line join a chunk while the gap between them is under this many text heights.
CHUNK_GAP = 1.0


@dataclass
class HeaderChunk:
    """Ink close together on one line of the header band: its box, the boxes of its components (left to
    right) and, once read, its text and confidence."""

    bbox: Box
    parts: list[Box]
    text: str = ""
    confidence: float = 0.0


def header_band(cells: list[Box], page_size: tuple[int, int]) -> Box | None:
    """The page header's band from the printed heading cells (page pixels): above the column headings'
    top, across the table's width. ``None`` without at least two cells (no table found)."""
    if len(cells) < 2:
        return None
    ordered = sorted(cells, key=lambda b: b[1])
    # The title stands above the column headings (a spread prints the header along the right page's top, at
    # the title's height, so the band starts at the page's top, not under the title).
    title = ordered[0] if ordered[0][3] <= ordered[1][1] + 2 else None
    rest = [b for b in cells if b is not title]
    top_of_table = min(b[1] for b in rest)
    x0, x1 = min(b[0] for b in rest), max(b[2] for b in rest)
    if top_of_table < 8 or x1 - x0 < 16:
        return None
    return (max(0.0, x0), 0.0, min(float(page_size[0]), x1), top_of_table)


def _ink(gray: np.ndarray) -> np.ndarray:
    # A local threshold: the band holds paper, shading and, at a torn or tilted edge, what lies behind the page.
    block = max(15, (min(gray.shape) // 6) | 1)
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 18)


def _components(ink: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    comps = [(int(s[0]), int(s[1]), int(s[0] + s[2]), int(s[1] + s[3])) for s in stats[1:n] if s[4] >= 4]
    # Rules and page edges run long; a seal or a blot is taller than any text of the header.
    return [c for c in comps if c[2] - c[0] < 0.3 * width and c[3] - c[1] < 0.6 * height]


def header_chunks(image: Image.Image, band: Box, exclude: list[Box] = ()) -> list[HeaderChunk]:
    """The text chunks of ``band`` (page pixels), left to right on each line, top line first; ink inside
    ``exclude`` (the title) is left out."""
    cropped = gray_crop(image, band, 16, 8)
    if cropped is None:
        return []
    gray, x0, y0 = cropped
    height_px, width_px = gray.shape
    ink = _ink(gray)
    for bx0, by0, bx1, by1 in exclude:
        ink[max(0, int(by0) - y0):max(0, int(np.ceil(by1)) - y0), max(0, int(bx0) - x0):max(0, int(np.ceil(bx1)) - x0)] = 0
    comps = _components(ink, width_px, height_px)
    tall = [c[3] - c[1] for c in comps if c[3] - c[1] >= 6]
    if not tall:
        return []
    height = float(np.median(tall))
    # A dotted leader, blurred into a line, runs under the value and joins it to the label: horizontal runs
    # longer than a few text heights go, as rules do.
    run = max(9, int(round(LEADER_RUN * height)))
    ink = ink & ~cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    comps = _components(ink, width_px, height_px)
    # Dots and the dashes of a leader (flat) are no letters; a seal's ring is taller than any.
    letters = [c for c in comps if max(c[2] - c[0], c[3] - c[1]) >= DOT_SIZE * height
               and FLAT * height <= c[3] - c[1] <= 4 * height]
    # Union of components on one line (their middles within a text height's half of each other) that are close.
    letters.sort(key=lambda c: c[0])
    parent = list(range(len(letters)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(letters):
        for j in range(i + 1, len(letters)):
            b = letters[j]
            if b[0] - a[2] > CHUNK_GAP * height:
                break
            if abs((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) < 0.6 * height or min(a[3], b[3]) - max(a[1], b[1]) > 0:
                parent[find(j)] = find(i)
    groups: dict[int, list] = {}
    for i, c in enumerate(letters):
        groups.setdefault(find(i), []).append(c)
    chunks = []
    for members in groups.values():
        box = (min(c[0] for c in members), min(c[1] for c in members), max(c[2] for c in members),
               max(c[3] for c in members))
        if box[3] - box[1] < 0.6 * height:
            continue  # a run of dots or specks
        parts = sorted(((c[0] + x0, c[1] + y0, c[2] + x0, c[3] + y0) for c in members), key=lambda c: c[0])
        chunks.append(HeaderChunk((box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0), parts))
    return _in_lines(chunks)


def _in_lines(chunks: list[HeaderChunk]) -> list[HeaderChunk]:
    """Chunks ordered top line first, left to right on a line (a line: chunks overlapping vertically)."""
    lines: list[list[HeaderChunk]] = []
    for chunk in sorted(chunks, key=lambda c: (c.bbox[1] + c.bbox[3]) / 2):
        mid = (chunk.bbox[1] + chunk.bbox[3]) / 2
        line = next((ln for ln in lines if ln[0].bbox[1] <= mid <= ln[0].bbox[3]), None)
        (line.append(chunk) if line is not None else lines.append([chunk]))
    return [c for line in lines for c in sorted(line, key=lambda c: c.bbox[0])]


def _label_words(words: list[str], label: tuple[str, ...]) -> float:
    if tuple(words) == label:
        return 1.0
    return 0.9 if tuple(bare(w) for w in words) == tuple(bare(w) for w in label) else 0.0


def label_at_start(text: str) -> tuple[str, int, float] | None:
    """``(key, characters the label takes in text, score)`` when ``text`` starts with a page-header label
    ("Quyển số: 01" → quyenSo, 10, 1.0; score 1 read exactly, 0.9 without its diacritics); the label's colon
    and the space after it, when read, are part of it."""
    words = fold(text).split()
    for label, key in _BY_WORDS:
        score = _label_words(words[:len(label)], label) if len(words) >= len(label) else 0.0
        if not score:
            continue
        # fold() keeps the words of the text: the label ends after as many runs of letters and digits.
        end = 0
        for _ in label:
            while end < len(text) and not text[end].isalnum():
                end += 1
            while end < len(text) and text[end].isalnum():
                end += 1
        while end < len(text) and text[end] in " :.,;-_":
            end += 1
        return key, end, score
    return None


def label_at_end(text: str) -> tuple[str, float] | None:
    """``(key, score)`` when ``text`` ends with a page-header label ("... Trang:" → trangSo): the print just
    left of a value."""
    words = fold(text).split()
    for label, key in _BY_WORDS:
        score = _label_words(words[-len(label):], label) if len(words) >= len(label) else 0.0
        if score:
            return key, score
    return None


def same_line(a: Box, b: Box) -> bool:
    """Boxes overlapping vertically over 40% of the lower one's height (a value is often written a little above
    or below its label's line)."""
    return min(a[3], b[3]) - max(a[1], b[1]) > 0.4 * min(a[3] - a[1], b[3] - b[1])


def label_crop(box: Box, chunks: list[HeaderChunk]) -> Box | None:
    """Where the label of a value at ``box`` is printed: the ink of the value's line just left of it (the
    components of the chunk it starts in that lie left of it, or the chunk ending just before it)."""
    x0, y0, x1, y1 = box
    on_line = [c for c in chunks if same_line(box, c.bbox)]
    for chunk in on_line:
        if chunk.bbox[0] < x0 < chunk.bbox[2] + 2:
            left = [p for p in chunk.parts if (p[0] + p[2]) / 2 < x0]
            if left:
                return (min(p[0] for p in left), min(p[1] for p in left), max(p[2] for p in left),
                        max(p[3] for p in left))
    height = max(1.0, y1 - y0)
    before = [c for c in on_line if c.bbox[2] <= x0 + 2 and x0 - c.bbox[2] < 2 * CHUNK_GAP * height]
    return max(before, key=lambda c: c.bbox[2]).bbox if before else None


@dataclass(frozen=True)
class HeaderLabel:
    """A printed label found in the header band: its key, how surely it was read (1 exact, less without
    diacritics), the chunk it starts, and where on the line it ends (page x)."""

    key: str
    score: float
    chunk: HeaderChunk
    end_x: float
    #: characters of the chunk's text the label takes
    end: int


def header_labels(chunks: list[HeaderChunk]) -> list[HeaderLabel]:
    """The chunks, as read, that start with a page-header label. The label's end on the page is the gap
    between the chunk's components nearest to where its characters end (in proportion to the characters)."""
    out = []
    for chunk in chunks:
        found = label_at_start(chunk.text)
        if found is None:
            continue
        key, end, score = found
        x0, _, x1, _ = chunk.bbox
        at = x0 + (x1 - x0) * end / max(1, len(chunk.text))
        gaps = [(a[2] + b[0]) / 2 for a, b in zip(chunk.parts, chunk.parts[1:]) if b[0] > a[2]]
        end_x = min(gaps, key=lambda g: abs(g - at), default=at) if end < len(chunk.text.rstrip()) else x1
        out.append(HeaderLabel(key, score, chunk, end_x, end))
    return out


def value_cuts(chunk: HeaderChunk) -> list[tuple[Box, Box]]:
    """Where a chunk holding a label and its value may be cut in two, left to right: at every gap between
    its components at least ``MIN_CUT_GAP`` of their median height wide, as ``(left box, right box)``. Which
    cut is the label's end is for the reading of the pieces to say (the printed colon is too small to keep)."""
    parts = chunk.parts
    if len(parts) < 2:
        return []
    height = float(np.median([p[3] - p[1] for p in parts]))
    cuts, reach = [], parts[0][2]
    for i in range(1, len(parts)):
        if parts[i][0] - reach >= MIN_CUT_GAP * height:
            left, right = parts[:i], parts[i:]
            cuts.append((_union(left), _union(right)))
        reach = max(reach, parts[i][2])
    return cuts


def value_after(label: HeaderChunk, chunks: list[HeaderChunk]) -> HeaderChunk | None:
    """The chunk a label read alone is followed by on its line: its value, unless that starts with a label of
    its own (a colon read after it: the slot was left blank) or lies farther than ``VALUE_REACH`` heights."""
    height = label.bbox[3] - label.bbox[1]
    after = [c for c in chunks if c.bbox[0] >= label.bbox[2] and same_line(label.bbox, c.bbox)
             and c.bbox[0] - label.bbox[2] <= VALUE_REACH * height]
    following = min(after, key=lambda c: c.bbox[0], default=None)
    if following is None or not following.text.strip(" :.,;"):
        return None
    found = label_at_start(following.text)
    if found is not None and ":" in following.text[:found[1]]:
        return None
    return following


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def label_alone(text: str, key: str) -> bool:
    """Whether ``text`` reads as a label of ``key`` and nothing more."""
    found = label_at_start(text)
    return found is not None and found[0] == key and found[1] >= len(text.rstrip(" :.,;"))


__all__ = ["CHUNK_GAP", "HeaderChunk", "HeaderLabel", "LABELS", "header_band", "header_chunks", "header_labels",
           "label_at_end", "label_at_start", "label_alone", "label_crop", "same_line",
           "value_after", "value_cuts"]
