"""Recognized cells of one register entry → a normalized, validated record.

:func:`build_record` is what the page pipeline calls once per entry row. Its output is plain JSON::

    {"book": "khai_sinh", "entry": 3,
     "fields": [{"key": "nksNgaySinh", "text": "12/3/98", "value": "1998-03-12", "confidence": 0.93,
                 "bbox": [x0, y0, x1, y1], "flags": ["date_two_digit_year"]}, ...],
     "flags": [...], "needs_review": false}

A field's ``confidence`` is the recognizer's confidence times the normalizer's score, so a fuzzy code-table
match or a doubtful gazetteer match lowers it just as an unsure reading does. A record's ``flags`` are the
cross-field rules' flags (also put on the fields they concern) followed by every warning or error flag of its
fields. ``needs_review`` is true when any field's confidence is below ``review_threshold`` or any field or
record flag is an error (see :mod:`inference.records.flags`); :func:`review_reasons` says why in words.
Field order follows the book's columns; keys the book does not have are kept (as text, flagged
``unknown_field``) rather than dropped.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from data.schema import Book, get_book
from data.text.dates import DEFAULT_MAX_YEAR
from inference.records.dates import parse_iso
from inference.records.flags import FLAGS, Severity, add_flag, has_error, severity
from inference.records.normalize import normalize_value
from inference.records.validate import validate_record

# The lowest threshold at which the page benchmark's auto-accepted fields were at least 99% right on every set of
# held-out pages (benchmarks/pages_pipeline.py on five sets: 99.67 / 99.83 / 99.69 / 99.84 / 99.30% at 0.95, about
# a quarter of fields auto-accepted; at 0.9 the fifth set gave 98.51%, at 0.85 the third 97.39%).
DEFAULT_REVIEW_THRESHOLD = 0.95
REVIEW_THRESHOLD_ENV = "HOTICH_REVIEW_THRESHOLD"

#: Dates the books always write in full; a year alone there is a reading that lost a line.
FULL_DATE_KEYS = frozenset({"ngayDangKy", "nksNgaySinh", "nktNgayChet"})
INCOMPLETE_DATE_SCORE = 0.5
#: A field that another field contradicts (``Flag.contradiction``: the declarant "is the father" under another
#: name) keeps this share of its confidence: one of the two is misread, and the reader cannot tell which.
CONTRADICTED_SCORE = 0.5

# Dates written after the registration (annotations) resolve two-digit years against the books' end, not
# against the registration year.
_LATER_DATE_MARKERS = ("NgayGhiChu",)


def default_review_threshold() -> float:
    """``$HOTICH_REVIEW_THRESHOLD`` when set (0..1), else :data:`DEFAULT_REVIEW_THRESHOLD`."""
    value = os.environ.get(REVIEW_THRESHOLD_ENV)
    if value is None or value == "":
        return DEFAULT_REVIEW_THRESHOLD
    return check_review_threshold(value)


def check_review_threshold(value: Any) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"review threshold must be a number in 0..1, got {value!r}") from None
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise ValueError(f"review threshold must be in 0..1, got {threshold}")
    return threshold


def _json_bbox(bbox: Any) -> Any:
    if bbox is None:
        return None
    if hasattr(bbox, "tolist"):  # numpy arrays
        return bbox.tolist()
    if isinstance(bbox, (list, tuple)):
        return [_json_bbox(b) if isinstance(b, (list, tuple)) or hasattr(b, "tolist") else
                (b.item() if hasattr(b, "item") else b) for b in bbox]
    return bbox


def _is_box(bbox: Any) -> bool:
    return isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(x, (int, float)) for x in bbox)


def _confidence(value: Any) -> tuple[float | None, bool]:
    """(confidence in 0..1 or None when not given, whether the input was bad)."""
    if value is None:
        return None, False
    try:
        c = float(value)
    except (TypeError, ValueError):
        return 0.0, True
    if math.isnan(c):
        return 0.0, True
    if not 0.0 <= c <= 1.0:
        return min(max(c, 0.0), 1.0), True
    return c, False


def _unpack(item: Any) -> tuple[str, Any, Any, Any]:
    if isinstance(item, Mapping):
        return item.get("key"), item.get("text"), item.get("confidence"), item.get("bbox")
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 4:
        return tuple(item)  # type: ignore[return-value]
    raise TypeError(f"a recognized field is (key, text, confidence, bbox) or a dict with those keys; got "
                    f"{type(item).__name__}")


class _Cell:
    """The recognized lines of one field, merged."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.texts: list[str] = []
        self.confidences: list[float | None] = []
        self.bboxes: list[Any] = []
        self.bad_confidence = False

    def add(self, text: Any, confidence: Any, bbox: Any) -> None:
        self.texts.append("" if text is None else text if isinstance(text, str) else str(text))
        c, bad = _confidence(confidence)
        self.confidences.append(c)
        self.bad_confidence |= bad
        self.bboxes.append(_json_bbox(bbox))

    @property
    def text(self) -> str:
        return " ".join(t.strip() for t in self.texts if t.strip())

    @property
    def confidence(self) -> float | None:
        given = [c for c in self.confidences if c is not None]
        return min(given) if given else None

    @property
    def bbox(self) -> Any:
        boxes = [b for b in self.bboxes if b is not None]
        if not boxes:
            return None
        if len(boxes) == 1:
            return boxes[0]
        if all(_is_box(b) for b in boxes):
            return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                    max(b[3] for b in boxes)]
        return boxes


def _order(book: Book, cells: dict[str, _Cell]) -> list[str]:
    known = [f.key for f in book.fields if f.key in cells]
    return known + [k for k in cells if k not in book]


def build_record(book: str, entry: Any, recognized_fields: Iterable[Any],
                 review_threshold: float | None = None) -> dict:
    """Normalize and validate one entry's recognized fields.

    ``recognized_fields``: ``(key, text, confidence, bbox)`` tuples (or dicts with those keys), one per
    recognized line; lines with the same key are one cell read in several lines and are joined in order
    (confidence: the lowest; bbox: the union of ``[x0, y0, x1, y1]`` boxes, else the list of boxes).
    ``confidence`` is the recognizer's in 0..1 (``None`` when there is none, e.g. typed text); ``bbox`` is
    passed through. ``review_threshold`` defaults to :func:`default_review_threshold`.

    Raises ``KeyError`` for an unknown book, ``ValueError`` for a threshold outside 0..1 and ``TypeError`` for
    malformed items; never for bad text.
    """
    book_obj = get_book(book)
    threshold = default_review_threshold() if review_threshold is None else check_review_threshold(review_threshold)
    cells: dict[str, _Cell] = {}
    for item in recognized_fields:
        key, text, confidence, bbox = _unpack(item)
        if not isinstance(key, str) or not key:
            raise TypeError(f"a recognized field needs a str key, got {key!r}")
        cells.setdefault(key, _Cell(key)).add(text, confidence, bbox)

    # The registration date first: its year resolves two-digit years of the dates before it.
    reg_value = None
    if "ngayDangKy" in cells:
        reg_value = parse_iso(normalize_value("date", cells["ngayDangKy"].text).value)
    reg_year = reg_value.year if reg_value is not None else None
    context = {"max_year": min(reg_year, DEFAULT_MAX_YEAR) if reg_year else DEFAULT_MAX_YEAR,
               "reference_year": reg_year}

    fields: list[dict] = []
    values: dict[str, Any] = {}
    for key in sorted(_order(book_obj, cells), key=lambda k: k.endswith("SoGiayToTuyThan")):
        cell = cells[key]
        if key not in book_obj:
            result_value, score, flags = cell.text or None, 1.0, ["unknown_field"]
        else:
            f = book_obj.field(key)
            extra: dict[str, Any] = {}
            if f.attribute == "SoGiayToTuyThan":
                doc_type = values.get(f"{f.role}LoaiGiayToTuyThan")
                extra["document_type"] = doc_type if isinstance(doc_type, int) else None
            later = any(m in key for m in _LATER_DATE_MARKERS)
            result = normalize_value(f.kind, cell.text, max_year=DEFAULT_MAX_YEAR if later else context["max_year"],
                                     reference_year=context["reference_year"], **extra)
            result_value, score, flags = result.value, result.score, list(result.flags)
            if "date_partial" in flags and key in FULL_DATE_KEYS:
                add_flag(flags, "date_incomplete")
                score *= INCOMPLETE_DATE_SCORE
        values[key] = result_value
        if len(cell.texts) > 1:
            add_flag(flags, "merged_lines")
        if cell.bad_confidence:
            add_flag(flags, "bad_confidence")
        recognized = cell.confidence
        confidence = score if recognized is None else recognized * score
        fields.append({"key": key, "text": cell.text, "value": result_value, "confidence": round(confidence, 4),
                       "bbox": cell.bbox, "flags": flags})
    order = {k: i for i, k in enumerate(_order(book_obj, cells))}
    fields.sort(key=lambda f: order[f["key"]])

    record_flags = validate_record(book_obj, fields)
    for f in fields:
        if any(FLAGS[code].contradiction for code in f["flags"]):
            f["confidence"] = round(f["confidence"] * CONTRADICTED_SCORE, 4)
    low_confidence = any(f["confidence"] < threshold for f in fields)
    needs_review = low_confidence or has_error(record_flags) or any(has_error(f["flags"]) for f in fields)
    return {"book": book_obj.key, "entry": entry, "fields": fields, "flags": record_flags,
            "needs_review": bool(needs_review)}


def review_reasons(record: Mapping, review_threshold: float | None = None) -> list[str]:
    """Why a record needs review, for people: "nksNgaySinh: date_unreadable", "meHoTen: confidence 0.62"."""
    threshold = default_review_threshold() if review_threshold is None else check_review_threshold(review_threshold)
    reasons = [code for code in record.get("flags", []) if severity(code) is Severity.ERROR]
    for f in record.get("fields", []):
        errors = [c for c in f.get("flags", []) if severity(c) is Severity.ERROR]
        reasons += [f"{f['key']}: {c}" for c in errors]
        if f.get("confidence", 1.0) < threshold:
            reasons.append(f"{f['key']}: confidence {f['confidence']:.2f}")
    return list(dict.fromkeys(reasons))
