"""The layout detector at inference time: ONNX export, an onnxruntime predictor, and page deskew.

``export_detector(model_dir, out_dir)`` writes ``detector.onnx`` (dynamic batch, height and width) beside the
model's ``config.json`` and a ``onnx_config.json`` naming the source weights' SHA-256, so an export directory
is all :class:`LayoutPredictor` needs. ``LayoutPredictor`` also accepts a PyTorch ``from_pretrained``
directory and exports it once into the cache, like the recognizer runtime.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from data.pages.lines import flat_background
from data.settings import cache_dir
from inference.onnx_export import sha256_file as _sha256
from models.detection.configuration_layout_detector import LayoutDetectorConfig
from models.detection.layout import Region, box_inside, box_iou, decode_logits, prepare_page

OPSET = 18
CONFIG_FILE = "onnx_config.json"
GRAPH = "detector.onnx"


def export_detector(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export a :class:`~models.detection.LayoutDetector` directory to ONNX (fp32)."""
    import torch

    from models.detection import LayoutDetector

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model = LayoutDetector.from_pretrained(model_dir).float().eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    example = torch.zeros((1, 1, 256, 192))
    batch = torch.export.Dim("batch", min=1, max=64)
    height = torch.export.Dim("height_32", min=1, max=128)
    width = torch.export.Dim("width_32", min=1, max=128)
    torch.onnx.export(model, (example,), out_dir / GRAPH, input_names=["pixel_values"],
                      output_names=["instance_logits", "key_logits"], opset_version=OPSET, dynamo=True,
                      dynamic_shapes={"pixel_values": {0: batch, 2: 32 * height, 3: 32 * width}},
                      external_data=False)
    shutil.copy(model_dir / "config.json", out_dir / "config.json")
    for extra in ("README.md", "metrics.json"):
        if (model_dir / extra).is_file():
            shutil.copy(model_dir / extra, out_dir / ("source_" + extra))
    weights = model_dir / "model.safetensors"
    (out_dir / CONFIG_FILE).write_text(json.dumps({
        "format": "hotich-onnx-detector", "opset": OPSET, "graph": GRAPH,
        "source": {"directory": str(model_dir), "weights_sha256": _sha256(weights)}}, indent=1))
    return out_dir


def exported_detector(path: str | Path) -> Path:
    """``path`` if it is an export directory, else its export under ``.cache/onnx/`` (made once)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return path
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is neither a layout detector directory nor an ONNX export of one")
    target = cache_dir() / "onnx" / f"{path.name}-{_sha256(path / 'model.safetensors')[:16]}"
    if not (target / CONFIG_FILE).is_file():
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        export_detector(path, tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.replace(target)
    return target


def estimate_skew(image: Image.Image, max_degrees: float = 4.0, step: float = 0.1) -> float:
    """Skew of a page in degrees (positive = the content is rotated counter-clockwise), from the ruled lines
    and text rows: the angle whose horizontal projection profile is the sharpest."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    scale = 800 / max(gray.shape)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ink = np.clip((np.median(small) - small) / 64.0, 0, 1)
    h, w = ink.shape
    center = (w / 2, h / 2)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-max_degrees, max_degrees + step / 2, step):
        matrix = cv2.getRotationMatrix2D(center, float(angle), 1.0)
        rotated = cv2.warpAffine(ink, matrix, (w, h), flags=cv2.INTER_LINEAR)
        profile = rotated.sum(axis=1)
        score = float(np.square(np.diff(profile)).sum())
        if score > best_score:
            best, best_score = float(angle), score
    return -best


def rotate_page(image: Image.Image, degrees: float) -> tuple[Image.Image, np.ndarray]:
    """``image`` rotated by ``-degrees`` (undoing a skew of ``degrees``) on a canvas of the same size, and the
    2x3 matrix mapping deskewed coordinates back to the original image."""
    w, h = image.size
    forward = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    array = np.asarray(image.convert("RGB"))
    border = tuple(int(v) for v in np.median(array.reshape(-1, 3), axis=0))
    rotated = cv2.warpAffine(array, forward, (w, h), flags=cv2.INTER_LINEAR, borderValue=border)
    back = cv2.invertAffineTransform(forward)
    return Image.fromarray(rotated), back


def map_box(box, matrix: np.ndarray) -> tuple[float, float, float, float]:
    """The axis-aligned box of ``box``'s corners under a 2x3 affine ``matrix``."""
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=np.float64) @ matrix.T
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


class LayoutPredictor:
    """Page image → ``{"entry": [Region], "field": [Region], "line": [Region]}`` in page pixels (onnxruntime)."""

    def __init__(self, model_dir: str | Path, intra_op_threads: int | None = None, threshold: float = 0.5):
        import onnxruntime as ort

        self.directory = exported_detector(model_dir)
        self.onnx_config = json.loads((self.directory / CONFIG_FILE).read_text())
        self.config = LayoutDetectorConfig.from_pretrained(self.directory)
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(str(self.directory / GRAPH), options, providers=["CPUExecutionProvider"])
        self.threshold = threshold

    @property
    def version(self) -> str:
        return self.onnx_config["source"]["weights_sha256"][:12]

    def __call__(self, image: Image.Image) -> dict[str, list[Region]]:
        page = prepare_page(image, self.config.input_size)
        instance_logits, key_logits = self.session.run(None, {"pixel_values": page.pixel_values[None]})
        return decode_logits(instance_logits[0], key_logits[0], page.scale, self.config.shrink,
                             list(self.config.field_keys), threshold=self.threshold)


def _rule_masks(gray: np.ndarray, long_side: int, min_vertical: int) -> tuple[np.ndarray, np.ndarray]:
    """The printed rules of a grayscale page (or part of one, ``long_side`` being the page's): ink
    (adaptive threshold), opened to horizontal runs a 40th of the page long and vertical runs of
    ``min_vertical`` px (at least 8)."""
    block = max(15, long_side // 64) | 1
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (max(10, long_side // 40), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(8, min_vertical))))
    return horizontal, vertical


def ruled_cells(image: Image.Image, zone) -> list[tuple[float, float, float, float]]:
    """The ruled cells inside ``zone`` (page pixels) of a deskewed page: the blank areas the printed rules
    enclose, each as the box of its rules.

    Rules are the ink that survives an opening with a long thin kernel (horizontal: 1/40 of the page's long
    side, vertical: 1/90, which print letters do not reach); the cells are the connected areas between them
    that do not reach the zone's edge. A rule broken by a tear or fading merges two cells into one, which
    :func:`snap_to_cells` then declines."""
    x0, y0 = max(0, int(zone[0])), max(0, int(zone[1]))
    x1, y1 = min(image.width, int(math.ceil(zone[2]))), min(image.height, int(math.ceil(zone[3])))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    long_side = max(image.size)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)[y0:y1, x0:x1]
    horizontal, vertical = _rule_masks(gray, long_side, min_vertical=long_side // 90)
    rules = cv2.dilate(horizontal | vertical, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats((rules == 0).astype(np.uint8), connectivity=4)
    min_w, min_h = max(8, long_side // 100), max(6, long_side // 160)
    cells = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        enclosed = x > 0 and y > 0 and x + w < rules.shape[1] and y + h < rules.shape[0]
        if enclosed and w >= min_w and h >= min_h and area >= 0.5 * w * h:
            # The dilation took a pixel or two off each side: the cell reaches to the middle of its rules.
            cells.append((float(x0 + x - 1), float(y0 + y - 1), float(x0 + x + w + 1), float(y0 + y + h + 1)))
    return cells


def snap_to_cells(boxes: list, cells: list) -> list[list[tuple[float, float, float, float]]]:
    """For each detected box (a printed heading), the ruled cells it stands for: those lying mostly (≥ 60%)
    inside it (a box the detector drew over two neighbouring headings gives both), else the one cell holding
    its centre when they overlap well (IoU ≥ 0.4: a box drawn a few pixels off its rules), else the box
    itself (no ruling there, as for a title, or the rules broken)."""
    out = []
    for box in boxes:
        within = [c for c in cells if box_inside(c, box) >= 0.6]
        if not within:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            holding = [c for c in cells if c[0] <= cx <= c[2] and c[1] <= cy <= c[3] and box_iou(c, box) >= 0.4]
            within = holding[:1]
        out.append(within or [tuple(box)])
    return out


@dataclass(frozen=True)
class RuledBottom:
    """The bottom rule of a ruled table: ``y = slope * x + intercept`` from ``x0`` to ``x1`` (page pixels)."""

    x0: float
    x1: float
    slope: float
    intercept: float

    def y_at(self, x: float) -> float:
        return self.slope * x + self.intercept


def table_bottoms(image: Image.Image) -> list[RuledBottom]:
    """The bottom rules of the ruled tables of a deskewed page (one per table: two on a two-page spread).

    A rule is a run of ink that survives an opening with a long thin kernel (1/40 of the long side, as in
    :func:`ruled_cells`), at least 1/8 of the page's width long, its pieces broken by a tear joined when they
    lie on one line. A table's bottom rule is the lowest rule that the table's column rules reach from above
    and do not cross: a rule the column rules go on below is a row rule of a table whose bottom rule is faded
    or torn away, and a rule that no column rule reaches (a signature line) bounds no table; for those pages
    nothing is returned, and nothing is cut."""
    long_side = max(image.size)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    horizontal, vertical = _rule_masks(gray, long_side, min_vertical=long_side // 60)
    band = max(6, long_side // 100)
    rules = []
    for x, w, xs, ys in _horizontal_rules(image, horizontal, image.width / 8):
        slope, intercept = np.polyfit(xs, ys, 1) if np.ptp(xs) > 0 else (0.0, float(np.mean(ys)))
        rules.append(RuledBottom(float(x), float(x + w), float(slope), float(intercept)))

    def columns_at(rule: RuledBottom, above: bool) -> int:
        """How many column rules meet ``rule`` from above (or leave it below)."""
        count, inside = 0, False
        for xi in range(int(rule.x0), int(rule.x1)):
            yr = int(round(rule.y_at(xi)))
            y0, y1 = (yr - 2 * band, yr - 3) if above else (yr + 3, yr + 2 * band)
            y0, y1 = max(0, y0), min(image.height, y1)
            hit = y1 > y0 and vertical[y0:y1, max(0, xi - 1):xi + 2].any(axis=1).mean() > 0.6
            count += hit and not inside
            inside = bool(hit)
        return count

    # Lowest first: a table's bottom rule is the first of its rules met from below; a rule that decides
    # nothing (no column meets it) is passed over.
    bottoms: list[RuledBottom] = []
    decided: list[RuledBottom] = []  # the bottoms, and the rules that showed a table with no bottom found
    for rule in sorted(rules, key=lambda r: -r.y_at((r.x0 + r.x1) / 2)):
        if any(min(rule.x1, d.x1) - max(rule.x0, d.x0) > 0.5 * (rule.x1 - rule.x0) for d in decided):
            continue
        if columns_at(rule, above=True) < 2:
            continue  # a signature line, a box's edge: no table ends here
        decided.append(rule)
        if columns_at(rule, above=False) < 2:
            bottoms.append(rule)
        # else the column rules go on below: a row rule of a table whose bottom rule was not found, and no
        # rule above it is that table's bottom either.
    return bottoms


@dataclass(frozen=True)
class RuledColumn:
    """A printed column rule of a table: ``x = slope * y + intercept`` from ``y0`` to ``y1`` (page pixels)."""

    y0: float
    y1: float
    slope: float
    intercept: float

    def x_at(self, y: float) -> float:
        return self.slope * y + self.intercept


#: A column rule is a vertical run of ink at least this share of the page's height (after joining the pieces
#: that crossing writing, a seal or a tear broke), leaning less than ``COLUMN_RULE_MAX_LEAN`` (dx/dy).
COLUMN_RULE_MIN_HEIGHT = 1 / 6
COLUMN_RULE_MAX_LEAN = 0.1


def column_rules(image: Image.Image) -> list[RuledColumn]:
    """The printed column rules of a deskewed page, left to right.

    A photographed page keeps a perspective the deskew cannot take out: its columns lean, by a few degrees at
    one side of the page and none at the other, so a column's width at the headings is not its width twenty
    rows lower. Each rule is fitted as a straight line through its ink (vertical runs of 1/30 of the long side,
    pieces on one line joined)."""
    long_side = max(image.size)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    _, vertical = _rule_masks(gray, long_side, min_vertical=long_side // 30)
    joined = cv2.morphologyEx(vertical, cv2.MORPH_CLOSE, np.ones((long_side // 40, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    rules = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        if h < COLUMN_RULE_MIN_HEIGHT * image.height:
            continue
        ys, xs = np.nonzero((labels[y:y + h, x:x + w] == i) & (vertical[y:y + h, x:x + w] > 0))
        # A printed rule is a few pixels thick in each row; the paper's edge on a photo is a band.
        per_row = np.bincount(ys)
        thick = np.median(per_row[per_row > 0]) > max(4, long_side // 250)
        slope, intercept = np.polyfit(ys + y, xs + x, 1)
        if not thick and abs(slope) < COLUMN_RULE_MAX_LEAN:
            rules.append(RuledColumn(float(y), float(y + h), float(slope), float(intercept)))
    return sorted(rules, key=lambda r: r.x_at((r.y0 + r.y1) / 2))


def x_at_height(rules: list[RuledColumn], x: float, y: float, height: float, slack: float = 40.0) -> float:
    """Where the point ``(x, y)`` lies at ``height`` when followed up or down its column: at the same share of
    the way between the column rules left and right of it (shifted with the one rule found where only one is;
    ``x`` itself where none is). Only rules reaching ``y`` (within ``slack`` px) count: the other page of a
    spread, or a box in the page's header, may lie on another line."""
    here = [r for r in rules if r.y0 - slack <= y <= r.y1 + slack]
    left = max((r for r in here if r.x_at(y) <= x), key=lambda r: r.x_at(y), default=None)
    right = min((r for r in here if r.x_at(y) > x), key=lambda r: r.x_at(y), default=None)
    if left is not None and right is not None:
        share = (x - left.x_at(y)) / (right.x_at(y) - left.x_at(y))
        return left.x_at(height) + share * (right.x_at(height) - left.x_at(height))
    rule = left or right
    return x if rule is None else x + rule.x_at(height) - rule.x_at(y)


def _horizontal_rules(image: Image.Image, horizontal: np.ndarray, min_length: float
                      ) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """The printed horizontal rules of a page at least ``min_length`` px wide (and half that in ink pixels) in its
    rule mask ``horizontal`` (:func:`_rule_masks`): each ``(x, width, xs, ys)``, its ink pixels in page
    coordinates. The pieces of a torn rule lying on one line are one rule."""
    long_side = max(image.size)
    # A tilt the deskew left (perspective) bends a rule across rows: a short vertical closing keeps it whole.
    joined = cv2.morphologyEx(horizontal, cv2.MORPH_CLOSE, np.ones((5, long_side // 40), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    rules = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        if w < min_length or h > long_side // 40:
            continue
        ys, xs = np.nonzero((labels[y:y + h, x:x + w] == i) & (horizontal[y:y + h, x:x + w] > 0))
        if len(xs) < min_length / 2 or w > 0.98 * image.width:
            continue  # a rule of dots, or the paper's edge across the whole photo
        # A printed rule is a few pixels thick; the paper's edge against a dark background thresholds into a
        # band as thick as the threshold's window.
        if np.median(np.bincount(xs)[np.bincount(xs) > 0]) > max(4, long_side // 250):
            continue
        rules.append((int(x), int(w), xs + x, ys + y))
    return rules


def row_rules(image: Image.Image, span: tuple[float, float], tolerance: float) -> list[float]:
    """The heights of the horizontal rules across a table spanning ``span`` = ``(x0, x1)`` on a deskewed page,
    top to bottom. A rule counts when it covers a fifth of the span (one page of a two-page spread covers
    about half); the two pages' rules of one row, a few pixels apart where the deskew left some tilt, and
    the pieces of a torn rule become one height (their mean, each taken at its own middle) when they lie
    within ``tolerance`` px of each other."""
    long_side = max(image.size)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    horizontal, _ = _rule_masks(gray, long_side, min_vertical=long_side // 60)
    x0, x1 = span
    min_length = (x1 - x0) / 5
    heights = [float(np.mean(ys)) for x, w, _, ys in _horizontal_rules(image, horizontal, min_length)
               if min(x + w, x1) - max(x, x0) >= min_length]
    merged: list[list[float]] = []
    for height in sorted(heights):
        if merged and height - merged[-1][-1] <= tolerance:
            merged[-1].append(height)
        else:
            merged.append([height])
    return [float(np.mean(group)) for group in merged]


def below_table(box, bottoms: list[RuledBottom], margin: float = 3.0) -> bool:
    """Whether ``box`` lies under the bottom rule of the table above it (its top below the rule)."""
    cx = (box[0] + box[2]) / 2
    return any(b.x0 <= cx <= b.x1 and box[1] >= b.y_at(cx) - margin for b in bottoms)


def skew_is_significant(degrees: float) -> bool:
    # Below ~0.2° a rotation only blurs the strokes; a 1,600 px row drifts by under 6 px.
    return math.fabs(degrees) >= 0.2


__all__ = ["LayoutPredictor", "RuledBottom", "RuledColumn", "below_table", "column_rules", "estimate_skew",
           "export_detector", "exported_detector", "map_box", "rotate_page", "row_rules", "ruled_cells",
           "skew_is_significant", "snap_to_cells", "stacked_lines", "table_bottoms", "x_at_height"]


#: A handwritten line box is cut where a run of rows holds at most this share of the ink of its busiest rows
#: (the 90th percentile of its rows' ink): two written lines one above the other, which the detector's line
#: map ran into one box.
STACKED_GAP_SHARE = 0.2
#: Each piece cut off is at least this share of the page's usual line height (its ink's own height too), and
#: holds at least this share of the box's ink: a descender's tail or an accent is no line of its own. (At 0.45,
#: lines of capitals were cut between their accents and their letters, and the halves read as column numbers.)
STACKED_MIN_HEIGHT = 0.65
STACKED_MIN_INK = 0.04


def stacked_lines(image: Image.Image, box, line_height: float) -> list[tuple[float, float, float, float]]:
    """The written lines one above the other inside the line box ``box`` (page pixels) of a page whose lines
    are usually ``line_height`` tall, top to bottom, each the box of its own ink; ``[box]`` where the box holds
    one.

    The box is binarized against its paper (its brightest level around each pixel, so that a stain is paper);
    rows and columns mostly ink are a ruled line and count as blank, so that a rule between two cells is a gap.
    A run of rows with little ink (:data:`STACKED_GAP_SHARE`) between two pieces tall enough and inked enough
    (:data:`STACKED_MIN_HEIGHT`, :data:`STACKED_MIN_INK`) is a cut, in the run's middle."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(image.width, x1), min(image.height, y1)
    if x1 - x0 < 4 or y1 - y0 < 2 * STACKED_MIN_HEIGHT * line_height:
        return [tuple(map(float, box))]
    gray = np.asarray(image.convert("L").crop((x0, y0, x1, y1)), dtype=np.uint8)
    flat = flat_background(gray, max(5, int(round(line_height * 0.6)) | 1))
    _, ink = cv2.threshold(flat, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink[ink.sum(axis=1) > 0.6 * ink.shape[1]] = 0
    ink[:, ink.sum(axis=0) > 0.6 * ink.shape[0]] = 0
    rows = np.convolve(ink.sum(axis=1).astype(np.float32), np.ones(3, np.float32) / 3, mode="same")
    total = float(rows.sum())
    if total <= 0:
        return [tuple(map(float, box))]
    low = rows <= STACKED_GAP_SHARE * float(np.percentile(rows, 90))
    # Runs of low rows, each a candidate cut at its middle.
    cuts, y = [], 0
    while y < len(low):
        if low[y]:
            start = y
            while y < len(low) and low[y]:
                y += 1
            if start > 0 and y < len(low):
                cuts.append((start + y - 1) // 2)
        else:
            y += 1
    edges = [0]
    for cut in cuts:
        above = rows[edges[-1]:cut]
        below = rows[cut:]
        if (cut - edges[-1] >= STACKED_MIN_HEIGHT * line_height and len(rows) - cut >= STACKED_MIN_HEIGHT * line_height
                and above.sum() >= STACKED_MIN_INK * total and below.sum() >= STACKED_MIN_INK * total):
            edges.append(cut)
    if len(edges) == 1:
        return [tuple(map(float, box))]
    edges.append(len(rows))
    pieces = []
    for a, b in zip(edges, edges[1:]):
        # Each piece hugs its own ink, as the detector's boxes do: the crop's pad then falls around the line,
        # not around the gap or a neighbour's stroke reaching into it.
        inked_rows = np.nonzero(ink[a:b].sum(axis=1))[0]
        inked_cols = np.nonzero(ink[a:b].sum(axis=0))[0]
        if inked_rows.size == 0 or inked_rows[-1] + 1 - inked_rows[0] < STACKED_MIN_HEIGHT * line_height:
            continue
        pieces.append((float(x0 + inked_cols[0]), float(y0 + a + inked_rows[0]),
                       float(x0 + inked_cols[-1] + 1), float(y0 + a + inked_rows[-1] + 1)))
    return pieces if len(pieces) > 1 else [tuple(map(float, box))]
