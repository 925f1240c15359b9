"""Ground truth of a synthetic register page: a document tree page → entry → field → text line.

Every piece of geometry is a :class:`Region`: a polygon in the coordinates of the final page image (after
rotation, perspective and every other warp) with its axis-aligned ``bbox`` ``(x0, y0, x1, y1)``.

- :class:`PageTruth`: book, template, size; the entries; the fields written once in the page header
  (``page_fields``: volume, page number, office); printed headings; seals and signatures (``marks``).
- :class:`EntryTruth`: one ruled row (both halves of a spread), its ``record`` (field key → text as written,
  including the page-header fields that apply to every entry; empty for a blank row), its cells and fields.
- :class:`FieldTruth`: one field's text, the box(es) it occupies and its text lines. A field has several boxes
  when its lines cannot be covered by one rectangle without covering another field (a wrapped value in a
  merged cell). ``text == " ".join(line.text for line in lines)``.
- :class:`TextLine`: one handwritten line of one field (a wrapped field has several): the unit a recognizer
  reads. ``box`` is the index of the field box holding it.

Everything converts to plain JSON-ready dicts (``to_dict`` / ``from_dict``) and round-trips exactly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

TRUTH_VERSION = 1


@dataclass
class Region:
    """A polygon (list of ``[x, y]``, clockwise from the top-left corner) in page-image pixels."""

    polygon: list[list[float]]

    @classmethod
    def from_box(cls, x0: float, y0: float, x1: float, y1: float) -> "Region":
        return cls([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def area(self) -> float:
        """Polygon area (shoelace)."""
        pts = np.asarray(self.polygon, dtype=np.float64)
        x, y = pts[:, 0], pts[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    def transformed(self, matrix: np.ndarray) -> "Region":
        """The region under a 3x3 homography (affine maps are homographies with last row 0 0 1)."""
        pts = np.asarray(self.polygon, dtype=np.float64)
        hom = np.c_[pts, np.ones(len(pts))] @ np.asarray(matrix, dtype=np.float64).T
        out = hom[:, :2] / hom[:, 2:3]
        return Region([[round(float(x), 2), round(float(y), 2)] for x, y in out])

    def to_dict(self) -> dict:
        return {"bbox": [round(v, 2) for v in self.bbox], "polygon": self.polygon}

    @classmethod
    def from_dict(cls, d: dict) -> "Region":
        return cls([list(map(float, p)) for p in d["polygon"]])


@dataclass
class TextLine:
    """One handwritten line of one field.

    ``source`` is the hand that wrote it: ``font``, ``ink`` (VNOnDB ink) or ``cinnamon`` (a real scanned
    address line); ``hand`` is ``main`` (the entry's officer) or ``amendment`` (a later hand, notes column).
    """

    text: str
    region: Region
    field: str
    entry: int | None
    box: int = 0
    column: int | None = None
    source: str = "font"
    hand: str = "main"

    def to_dict(self) -> dict:
        return {"text": self.text, **self.region.to_dict(), "field": self.field, "entry": self.entry,
                "box": self.box, "column": self.column, "source": self.source, "hand": self.hand}

    @classmethod
    def from_dict(cls, d: dict) -> "TextLine":
        return cls(text=d["text"], region=Region.from_dict(d), field=d["field"], entry=d.get("entry"),
                   box=int(d.get("box", 0)), column=d.get("column"), source=d.get("source", "font"),
                   hand=d.get("hand", "main"))


@dataclass
class FieldTruth:
    """One field of one entry (``entry`` None: a page-header field)."""

    key: str
    text: str
    boxes: list[Region]
    lines: list[TextLine]
    entry: int | None
    column: int | None = None
    hand: str = "main"

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        boxes = [b.bbox for b in self.boxes]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                max(b[3] for b in boxes))

    def to_dict(self) -> dict:
        return {"key": self.key, "text": self.text, "entry": self.entry, "column": self.column,
                "hand": self.hand, "boxes": [b.to_dict() for b in self.boxes],
                "lines": [ln.to_dict() for ln in self.lines]}

    @classmethod
    def from_dict(cls, d: dict) -> "FieldTruth":
        return cls(key=d["key"], text=d["text"], boxes=[Region.from_dict(b) for b in d["boxes"]],
                   lines=[TextLine.from_dict(ln) for ln in d["lines"]], entry=d.get("entry"),
                   column=d.get("column"), hand=d.get("hand", "main"))


@dataclass
class CellTruth:
    """One ruled cell of an entry row: its column index, the field keys printed for it, and its outline."""

    column: int
    keys: list[str]
    region: Region

    def to_dict(self) -> dict:
        return {"column": self.column, "keys": self.keys, **self.region.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "CellTruth":
        return cls(column=int(d["column"]), keys=list(d["keys"]), region=Region.from_dict(d))


@dataclass
class EntryTruth:
    """One entry row. ``index`` counts rows from the top of the page (0-based), blank rows included."""

    index: int
    region: Region
    blank: bool
    record: dict[str, str]
    fields: list[FieldTruth] = field(default_factory=list)
    cells: list[CellTruth] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"index": self.index, **self.region.to_dict(), "blank": self.blank, "record": self.record,
                "fields": [f.to_dict() for f in self.fields], "cells": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, d: dict) -> "EntryTruth":
        return cls(index=int(d["index"]), region=Region.from_dict(d), blank=bool(d["blank"]),
                   record=dict(d["record"]), fields=[FieldTruth.from_dict(f) for f in d.get("fields", [])],
                   cells=[CellTruth.from_dict(c) for c in d.get("cells", [])])


#: The headings printed as ruled cells of the table header (and the title): what the detector's heading map
#: paints; the other levels are single printed words or numbers.
HEADING_CELL_LEVELS = ("title", "group", "column")


@dataclass
class PrintedLine:
    """One printed line of a heading wrapped over several: its text and the box of its ink."""

    text: str
    region: Region

    def to_dict(self) -> dict:
        return {"text": self.text, **self.region.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "PrintedLine":
        return cls(text=d["text"], region=Region.from_dict(d))


@dataclass
class Heading:
    """Printed text: the title (``title``), a group heading (``group``), a column heading (``column``), a
    column number (``number``), a printed label in the header or inside a cell (``label``), or the footer;
    ``heading`` for a heading cell the page pipeline found, which does not tell those apart. ``region`` is the
    heading's cell (title, group and column headings) or its ink; ``lines`` the lines a heading cell's text
    is printed on, top to bottom (empty for pages rendered before they were recorded)."""

    text: str
    region: Region
    level: str
    column: int | None = None
    lines: list[PrintedLine] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"text": self.text, **self.region.to_dict(), "level": self.level, "column": self.column}
        if self.lines:
            d["lines"] = [ln.to_dict() for ln in self.lines]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Heading":
        return cls(text=d["text"], region=Region.from_dict(d), level=d["level"], column=d.get("column"),
                   lines=[PrintedLine.from_dict(ln) for ln in d.get("lines", [])])


@dataclass
class Mark:
    """A seal (``seal``) or a signature (``signature``); ``entry`` is the row it belongs to, if any."""

    kind: str
    region: Region
    entry: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, **self.region.to_dict(), "entry": self.entry}

    @classmethod
    def from_dict(cls, d: dict) -> "Mark":
        return cls(kind=d["kind"], region=Region.from_dict(d), entry=d.get("entry"))


@dataclass
class PageTruth:
    """Everything known about one synthetic page (see the module doc). ``split`` is the split the page was
    drawn for; ``template_split`` whether its layout is a training or the held-out variant."""

    book: str
    template: str
    template_split: str
    split: str
    seed: int
    width: int
    height: int
    entries: list[EntryTruth]
    page_fields: list[FieldTruth] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    version: int = TRUTH_VERSION

    @property
    def page_id(self) -> str:
        return f"{self.template}-{self.seed:09d}"

    @property
    def filled_entries(self) -> list[EntryTruth]:
        return [e for e in self.entries if not e.blank]

    def fields(self) -> Iterator[FieldTruth]:
        """Every field on the page: the header fields, then each entry's fields."""
        yield from self.page_fields
        for entry in self.entries:
            yield from entry.fields

    def lines(self) -> Iterator[TextLine]:
        for f in self.fields():
            yield from f.lines

    def records(self) -> list[dict[str, str]]:
        """The records of the filled entries, top to bottom."""
        return [dict(e.record) for e in self.filled_entries]

    # -- geometry ------------------------------------------------------------------------------------------
    def regions(self) -> Iterator[Region]:
        """Every region of the page (entries with their fields, lines and cells; header fields; headings;
        marks)."""
        for f in self.fields():
            yield from f.boxes
            for ln in f.lines:
                yield ln.region
        for e in self.entries:
            yield e.region
            for c in e.cells:
                yield c.region
        for h in self.headings:
            yield h.region
            for ln in h.lines:
                yield ln.region
        for m in self.marks:
            yield m.region

    def transformed(self, matrix: np.ndarray, width: int, height: int) -> "PageTruth":
        """The same truth in the coordinates of an image warped by ``matrix`` (3x3) to ``width`` x ``height``."""
        regions = list(self.regions())
        moved: dict[int, list[list[float]]] = {}
        if regions:
            sizes = [len(r.polygon) for r in regions]
            pts = np.asarray([p for r in regions for p in r.polygon], dtype=np.float64)
            m = np.asarray(matrix, dtype=np.float64)
            hom = pts @ m[:, :2].T + m[:, 2]
            out = np.round(hom[:, :2] / hom[:, 2:3], 2).tolist()
            start = 0
            for r, n in zip(regions, sizes, strict=True):
                moved[id(r)] = out[start:start + n]
                start += n

        def reg(r: Region) -> Region:
            return Region(moved[id(r)])

        def fld(f: FieldTruth) -> FieldTruth:
            return FieldTruth(f.key, f.text, [reg(b) for b in f.boxes],
                              [TextLine(ln.text, reg(ln.region), ln.field, ln.entry, ln.box, ln.column, ln.source,
                                        ln.hand) for ln in f.lines], f.entry, f.column, f.hand)

        entries = [EntryTruth(e.index, reg(e.region), e.blank, dict(e.record), [fld(f) for f in e.fields],
                              [CellTruth(c.column, list(c.keys), reg(c.region)) for c in e.cells])
                   for e in self.entries]
        return PageTruth(self.book, self.template, self.template_split, self.split, self.seed, int(width),
                         int(height), entries, [fld(f) for f in self.page_fields],
                         [Heading(h.text, reg(h.region), h.level, h.column,
                                  [PrintedLine(ln.text, reg(ln.region)) for ln in h.lines]) for h in self.headings],
                         [Mark(m.kind, reg(m.region), m.entry) for m in self.marks], dict(self.meta), self.version)

    def scaled(self, factor: float) -> "PageTruth":
        """The truth of the page resized by ``factor`` (e.g. the detector's reduced training resolution)."""
        matrix = np.diag([factor, factor, 1.0])
        return self.transformed(matrix, round(self.width * factor), round(self.height * factor))

    # -- serialization -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": self.version, "book": self.book, "template": self.template,
                "template_split": self.template_split, "split": self.split, "seed": self.seed,
                "width": self.width, "height": self.height,
                "page_fields": [f.to_dict() for f in self.page_fields],
                "entries": [e.to_dict() for e in self.entries],
                "headings": [h.to_dict() for h in self.headings], "marks": [m.to_dict() for m in self.marks],
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "PageTruth":
        if d.get("version", TRUTH_VERSION) > TRUTH_VERSION:
            raise ValueError(f"page truth version {d['version']} is newer than this code ({TRUTH_VERSION})")
        return cls(book=d["book"], template=d["template"], template_split=d["template_split"], split=d["split"],
                   seed=int(d["seed"]), width=int(d["width"]), height=int(d["height"]),
                   entries=[EntryTruth.from_dict(e) for e in d["entries"]],
                   page_fields=[FieldTruth.from_dict(f) for f in d.get("page_fields", [])],
                   headings=[Heading.from_dict(h) for h in d.get("headings", [])],
                   marks=[Mark.from_dict(m) for m in d.get("marks", [])], meta=dict(d.get("meta", {})),
                   version=int(d.get("version", TRUTH_VERSION)))

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "PageTruth":
        return cls.from_dict(json.loads(text))


def _inside(inner: tuple, outer: tuple, tol: float) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol and inner[2] <= outer[2] + tol
            and inner[3] <= outer[3] + tol)


def check_truth(truth: PageTruth, tol: float = 1.0) -> list[str]:
    """Invariants every rendered page satisfies; returns the violations (empty when all hold).

    Boxes lie inside the image; each line lies inside its field box; a field's text is its lines joined by
    spaces; each filled entry's record holds exactly its fields' texts (plus the page-header fields); field
    boxes of an entry lie inside the entry row.
    """
    problems: list[str] = []
    page = (0.0, 0.0, float(truth.width), float(truth.height))
    header = {f.key: f.text for f in truth.page_fields}

    def where(f: FieldTruth) -> str:
        return f"entry {f.entry} field {f.key}"

    for f in truth.fields():
        if not f.boxes or not f.lines:
            problems.append(f"{where(f)}: no box or no line")
            continue
        for b in f.boxes:
            if not _inside(b.bbox, page, tol):
                problems.append(f"{where(f)}: box {b.bbox} outside the page")
        for ln in f.lines:
            if not 0 <= ln.box < len(f.boxes):
                problems.append(f"{where(f)}: line refers to box {ln.box}")
            elif not _inside(ln.region.bbox, f.boxes[ln.box].bbox, tol):
                problems.append(f"{where(f)}: line {ln.region.bbox} outside its box {f.boxes[ln.box].bbox}")
        if " ".join(ln.text for ln in f.lines) != f.text:
            problems.append(f"{where(f)}: lines do not join to the field text")
    for e in truth.entries:
        if not _inside(e.region.bbox, page, tol):
            problems.append(f"entry {e.index}: row outside the page")
        if e.blank:
            if e.fields or e.record:
                problems.append(f"entry {e.index}: blank row with fields")
            continue
        expected = {**header, **{f.key: f.text for f in e.fields}}
        if e.record != expected:
            problems.append(f"entry {e.index}: record differs from its fields")
        for f in e.fields:
            for b in f.boxes:
                if not _inside(b.bbox, e.region.bbox, tol + 2):
                    problems.append(f"{where(f)}: box outside its entry row")
    return problems
