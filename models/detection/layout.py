"""Pre- and post-processing of the layout detector: page ↔ network input, boxes ↔ target maps, and scoring.

Boxes are ``(x0, y0, x1, y1)`` in page pixels, ``x1``/``y1`` exclusive.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from PIL import Image

from models.detection.modeling_layout_detector import INSTANCE_MAPS

Box = tuple[float, float, float, float]


@dataclass
class PageInput:
    """A page resized for the network: ``pixel_values`` ``(1, H, W)``; ``scale`` maps page px → input px."""

    pixel_values: np.ndarray
    scale: float
    page_size: tuple[int, int]  # (width, height) of the original page


def prepare_page(image: Image.Image, input_size: int) -> PageInput:
    """Grayscale, long side → ``input_size``, ink as high values, zero-padded to multiples of 32."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = gray.shape
    scale = input_size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(gray, (nw, nh), interpolation=cv2.INTER_AREA)
    ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
    canvas = np.zeros((ph, pw), np.float32)
    canvas[:nh, :nw] = 1.0 - resized / 255.0
    return PageInput(canvas[None], scale, (w, h))


def collate_pages(pages: list[PageInput]) -> torch.Tensor:
    """Zero-pad a list of prepared pages to one ``(B, 1, H, W)`` tensor."""
    h = max(p.pixel_values.shape[1] for p in pages)
    w = max(p.pixel_values.shape[2] for p in pages)
    out = np.zeros((len(pages), 1, h, w), np.float32)
    for i, p in enumerate(pages):
        out[i, :, : p.pixel_values.shape[1], : p.pixel_values.shape[2]] = p.pixel_values
    return torch.from_numpy(out)


def _shrunk(box: Box, scale: float, shrink: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (v * scale / 2 for v in box)  # network maps are at half the input resolution
    d = shrink * min(x1 - x0, y1 - y0)
    return (int(round(x0 + d)), int(round(y0 + d)), max(int(round(x1 - d)), int(round(x0 + d)) + 1),
            max(int(round(y1 - d)), int(round(y0 + d)) + 1))


def paint_targets(map_shape: tuple[int, int], scale: float, shrink: float, entries: list[Box],
                  fields: list[tuple[Box, int]], lines: list[Box],
                  headings: list[Box] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth boxes → ``(M, h, w)`` float instance maps and an ``(h, w)`` int64 key map (-100 = ignore);
    ``M`` is 3, or 4 when ``headings`` (printed heading cells) are given.

    ``fields`` holds ``(box, key_index)`` with key indices starting at 1 (0 = no field)."""
    h, w = map_shape
    instances = np.zeros((3 if headings is None else 4, h, w), np.float32)
    keys = np.full((h, w), 0, np.int64)
    for channel, boxes in ((0, entries), (2, lines), (3, headings or [])):
        for box in boxes:
            x0, y0, x1, y1 = _shrunk(box, scale, shrink)
            instances[channel, y0:y1, x0:x1] = 1
    for box, key in fields:
        x0, y0, x1, y1 = _shrunk(box, scale, shrink)
        instances[1, y0:y1, x0:x1] = 1
        fx0, fy0, fx1, fy1 = _shrunk(box, scale, 0.0)
        keys[fy0:fy1, fx0:fx1] = key
    return instances, keys


@dataclass
class Region:
    """One detected region in page pixels; ``key`` only for fields."""

    kind: str
    bbox: Box
    score: float
    key: str | None = None
    key_score: float = 0.0
    #: fields and lines: the mean probability of every key over the region, ``(K,)`` in ``field_keys`` order,
    #: so that later steps can choose among the keys a column's heading allows (a line's: which value of a
    #: cell the line belongs to).
    key_probs: np.ndarray | None = None
    children: list["Region"] = field(default_factory=list)


def decode_maps(instance_prob: np.ndarray, key_prob: np.ndarray, scale: float, shrink: float,
                field_keys: list[str], threshold: float = 0.5, min_area: int = 4) -> dict[str, list[Region]]:
    """``(M, h, w)`` probabilities (the maps of :data:`INSTANCE_MAPS`, in order) + ``(K+1, h, w)`` key
    probabilities → regions per kind, in page pixels.

    Each connected component above ``threshold`` is one instance; its box grows back by the shrink margin
    (solving ``d = shrink * min(side + 2d)`` for the painted side)."""
    out: dict[str, list[Region]] = {}
    for channel, kind in enumerate(INSTANCE_MAPS[: instance_prob.shape[0]]):
        mask = (instance_prob[channel] > threshold).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        regions = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < min_area:
                continue
            component = labels[y:y + h, x:x + w] == i
            score = float(instance_prob[channel, y:y + h, x:x + w][component].mean())
            d = shrink * min(w, h) / (1 - 2 * shrink)
            box = tuple(float(v) * 2 / scale for v in (x - d, y - d, x + w + d, y + h + d))
            region = Region(kind, box, score)
            if kind in ("field", "line") and field_keys:
                mean_key = key_prob[1:, y:y + h, x:x + w][:, component].mean(axis=1)
                region.key_probs = mean_key
                if kind == "field":
                    best = int(mean_key.argmax())
                    region.key, region.key_score = field_keys[best], float(mean_key[best])
            regions.append(region)
        out[kind] = regions
    return out


def decode_logits(instance_logits: np.ndarray, key_logits: np.ndarray, scale: float, shrink: float,
                  field_keys: list[str], threshold: float = 0.5) -> dict[str, list[Region]]:
    """The detector's raw ``(M, h, w)`` and ``(K+1, h, w)`` logits (from PyTorch or onnxruntime alike) → regions:
    sigmoid per instance map, softmax over keys, then :func:`decode_maps`."""
    instance_prob = 1 / (1 + np.exp(-instance_logits))
    key = np.exp(key_logits - key_logits.max(axis=0, keepdims=True))
    return decode_maps(instance_prob, key / key.sum(axis=0, keepdims=True), scale, shrink, field_keys,
                       threshold=threshold)


def _intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_inside(a: Box, b: Box) -> float:
    """The share of ``a``'s area that lies inside ``b`` (1: wholly inside)."""
    return _intersection(a, b) / max(1e-6, (a[2] - a[0]) * (a[3] - a[1]))


def match_f1(predicted: list[tuple[Box, str | None]], truth: list[tuple[Box, str | None]],
             iou: float = 0.5) -> dict[str, float]:
    """Greedy one-to-one matching by IoU (highest first); a match also needs equal labels (``None`` = any).
    Returns ``{"tp", "fp", "fn", "precision", "recall", "f1"}``."""
    pairs = sorted(((box_iou(p[0], t[0]), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)
                    if p[1] == t[1]), reverse=True)
    used_p, used_t, tp = set(), set(), 0
    for value, i, j in pairs:
        if value < iou:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        tp += 1
    fp, fn = len(predicted) - tp, len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


__all__ = ["Box", "PageInput", "Region", "box_inside", "box_iou", "collate_pages", "decode_maps", "match_f1",
           "paint_targets", "prepare_page"]
