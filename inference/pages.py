"""Page → records: deskew → layout → line crops → batched recognition → normalization → validation.

The result is one document tree (page → entries → fields → lines, every node with a box in the coordinates of
the page as sent, and a confidence) plus the validated records of :func:`inference.records.build_record`::

    {"page": {"width", "height", "book", "book_score", "skew_degrees", "entries": [...], "page_fields": [...],
              "models": {...}},
     "records": [{"book", "entry", "fields": [{"key", "text", "value", "confidence", "bbox", "flags"}],
                  "flags", "needs_review"}]}

No recognized text is logged.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from data.pages.lines import crop_line
from data.schema import BOOKS, get_book
from inference.layout import LayoutPredictor, estimate_skew, map_box, rotate_page, skew_is_significant
from inference.records import build_record, default_review_threshold
from models.detection.layout import Region

log = logging.getLogger("hotich.pages")

DEFAULT_DETECTOR = Path(__file__).resolve().parents[1] / "models" / "zoo" / "hotich-layout-base"


def default_detector_dir() -> Path:
    """The newest released layout detector under ``models/zoo`` (``hotich-layout-*``)."""
    zoo = DEFAULT_DETECTOR.parent
    found = sorted((p for p in zoo.glob("hotich-layout-*") if (p / "config.json").is_file()),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no layout detector under {zoo}; train one with `hotich train detector` "
                                "or pass --detector")
    return found[-1]


def book_of_key(key: str) -> str | None:
    """The one book that has field ``key``; ``None`` for keys several books share (registration date…)."""
    owners = [book.key for book in BOOKS.values() if key in book]
    return owners[0] if len(owners) == 1 else None


@dataclass
class LineResult:
    bbox: tuple[float, float, float, float]
    text: str = ""
    confidence: float = 0.0
    detection_score: float = 0.0

    def to_dict(self) -> dict:
        return {"bbox": [round(v, 1) for v in self.bbox], "text": self.text,
                "confidence": round(self.confidence, 4), "detection_score": round(self.detection_score, 4)}


@dataclass
class FieldResult:
    key: str
    bbox: tuple[float, float, float, float]
    key_score: float
    detection_score: float
    lines: list[LineResult] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines if line.text)

    @property
    def confidence(self) -> float:
        # The weakest line decides: one wrong line makes the whole value wrong.
        recognized = min((line.confidence for line in self.lines), default=0.0)
        return recognized * min(1.0, self.key_score / 0.5)

    def to_dict(self) -> dict:
        return {"key": self.key, "bbox": [round(v, 1) for v in self.bbox], "text": self.text,
                "confidence": round(self.confidence, 4), "key_score": round(self.key_score, 4),
                "lines": [line.to_dict() for line in self.lines]}


def _center_inside(inner, outer, slack: float = 0.0) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] - slack <= cx <= outer[2] + slack and outer[1] - slack <= cy <= outer[3] + slack


def _overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max(1e-6, (a[2] - a[0]) * (a[3] - a[1]))
    return ix * iy / area


class PagePipeline:
    """Chains the layout predictor, the recognition runtime and the domain rules.

    ``recognizer`` is anything with ``recognize(images, batch_size=...) -> [Recognition]`` (the onnxruntime
    runtime of :mod:`inference.ort_runtime`, or a server's batcher wrapped to that shape).
    """

    def __init__(self, layout: LayoutPredictor, recognizer, review_threshold: float | None = None,
                 batch_size: int = 32, deskew: bool = True):
        self.layout = layout
        self.recognizer = recognizer
        self.review_threshold = default_review_threshold() if review_threshold is None else review_threshold
        self.batch_size = batch_size
        self.deskew = deskew

    @classmethod
    def from_dirs(cls, detector: str | Path | None = None, recognizer: str | Path | None = None,
                  threads: int | None = None, **options) -> "PagePipeline":
        from inference.server import load_runtime

        runtime, _ = load_runtime(recognizer, threads)
        return cls(LayoutPredictor(detector or default_detector_dir(), intra_op_threads=threads), runtime, **options)

    # -- steps ---------------------------------------------------------------------------------------------
    def detect(self, image: Image.Image) -> tuple[dict[str, list[Region]], Image.Image, np.ndarray, float]:
        """Deskew, then the layout; boxes stay in the deskewed frame (``back`` maps them to the original)."""
        skew = estimate_skew(image) if self.deskew else 0.0
        if skew_is_significant(skew):
            work, back = rotate_page(image, skew)
        else:
            work, back = image.convert("RGB"), np.array([[1.0, 0, 0], [0, 1.0, 0]])
        return self.layout(work), work, back, skew

    @staticmethod
    def group(regions: dict[str, list[Region]]) -> tuple[list[tuple[Region, list[FieldResult]]], list[FieldResult]]:
        """Lines → the field holding most of each line; fields → the entry holding their centre; fields outside
        every entry are page-header fields. Entries and fields come out top to bottom."""
        fields = [FieldResult(r.key or "", r.bbox, r.key_score, r.score) for r in regions.get("field", [])]
        for line in regions.get("line", []):
            best = max(fields, key=lambda f: _overlap(line.bbox, f.bbox), default=None)
            if best is not None and _overlap(line.bbox, best.bbox) > 0.5:
                best.lines.append(LineResult(line.bbox, detection_score=line.score))
        for f in fields:
            f.lines.sort(key=lambda ln: (ln.bbox[1], ln.bbox[0]))
            if not f.lines:
                # The line map missed it: read the whole field region as one line.
                f.lines.append(LineResult(f.bbox, detection_score=f.detection_score))
        entries = sorted(regions.get("entry", []), key=lambda r: r.bbox[1])
        grouped: list[tuple[Region, list[FieldResult]]] = [(e, []) for e in entries]
        page_fields = []
        for f in fields:
            holder = next((g for g in grouped if _center_inside(f.bbox, g[0].bbox)), None)
            (holder[1] if holder else page_fields).append(f)
        for _, members in grouped:
            # Top to bottom: the pieces of one wrapped value (same key, several boxes) join in reading order.
            members.sort(key=lambda f: (f.bbox[1], f.bbox[0]))
        return grouped, page_fields

    def recognize_fields(self, work: Image.Image, fields: list[FieldResult]) -> None:
        lines = [line for f in fields for line in f.lines]
        if not lines:
            return
        crops = [np.asarray(crop_line(work, line.bbox).convert("RGB")) for line in lines]
        for line, result in zip(lines, self.recognizer.recognize(crops, batch_size=self.batch_size)):
            line.text, line.confidence = result.text, float(result.confidence)

    @staticmethod
    def choose_book(fields: list[FieldResult], requested: str | None) -> tuple[str, float]:
        """The requested book, or the book most detected field keys belong to (weighted by key scores)."""
        if requested:
            return get_book(requested).key, 1.0
        votes: Counter = Counter()
        for f in fields:
            book = book_of_key(f.key)
            if book:
                votes[book] += f.key_score
        if not votes:
            return "khai_sinh", 0.0
        book, score = votes.most_common(1)[0]
        return book, score / sum(votes.values())

    # -- the whole page ------------------------------------------------------------------------------------
    def __call__(self, image: Image.Image, book: str | None = None) -> dict:
        t0 = time.perf_counter()
        regions, work, back, skew = self.detect(image)
        t_layout = time.perf_counter()
        grouped, page_fields = self.group(regions)
        all_fields = page_fields + [f for _, members in grouped for f in members]
        self.recognize_fields(work, all_fields)
        t_recognize = time.perf_counter()
        book_key, book_score = self.choose_book(all_fields, book)
        book_obj = get_book(book_key)

        def original(box):
            return map_box(box, back)

        for f in all_fields:
            f.bbox = original(f.bbox)
            for line in f.lines:
                line.bbox = original(line.bbox)

        records, entries = [], []
        header = [f for f in page_fields if f.key in book_obj]
        for number, (entry, members) in enumerate(grouped, start=1):
            own = [f for f in members if f.key in book_obj and f.text]
            if not own:
                continue  # a blank row
            items = [(f.key, f.text, f.confidence, list(f.bbox)) for f in header + own]
            record = build_record(book_key, number, items, review_threshold=self.review_threshold)
            record["bbox"] = [round(v, 1) for v in original(entry.bbox)]
            records.append(record)
            entries.append({"entry": number, "bbox": record["bbox"], "score": round(entry.score, 4),
                            "fields": [f.to_dict() for f in members]})
        t_end = time.perf_counter()
        log.info("page: %d entries, %d fields, %d lines, skew %.2f°, %.2f s (layout %.2f, recognition %.2f)",
                 len(records), len(all_fields), sum(len(f.lines) for f in all_fields), skew, t_end - t0,
                 t_layout - t0, t_recognize - t_layout)
        w, h = image.size
        page = {"width": w, "height": h, "book": book_key, "book_score": round(book_score, 4),
                "skew_degrees": round(skew, 2), "entries": entries,
                "page_fields": [f.to_dict() for f in page_fields],
                "timing_s": {"layout": round(t_layout - t0, 3), "recognition": round(t_recognize - t_layout, 3),
                             "total": round(t_end - t0, 3)},
                "review_threshold": self.review_threshold}
        return {"page": page, "records": records}


__all__ = ["FieldResult", "LineResult", "PagePipeline", "book_of_key", "crop_line", "default_detector_dir"]
