"""Page ground truth as COCO JSON and PAGE-XML (2019-07-15), and back.

COCO: one category per thing a layout detector finds: ``entry`` (a filled entry row), every field key of the
four books (the union, in schema order, so ids are the same whichever book a file holds), and ``text_line``.
:func:`coco_categories` is the fixed list. Each annotation carries a ``bbox`` (x, y, w, h) and a
``segmentation`` polygon (the warped quadrilateral) and, under ``attributes``, the entry index, the field key,
the text and, for field boxes, which box of the field it is. Blank rows are not annotated.

PAGE-XML: per page a ``TextRegion`` for each entry row (``custom="structure {type:entry;} entry {index:N;}"``)
and for each field box (``type="other"``, ``custom="structure {type:<field key>;} entry {index:N;} field
{box:K; boxes:M;}"``; page-header fields have ``type="header"`` and no entry) holding its ``TextLine`` elements
(``Coords`` + ``TextEquiv/Unicode``) and the box's text; seals and signatures as ``GraphicRegion`` of type
``stamp`` / ``signature``; the printed headings as ``TextRegion type="heading"`` (``custom="structure
{type:heading;} heading {level:L; column:C;}"``, the printed text as ``TextEquiv``); the boxes of one field
joined by ``Relation type="join"``; and a reading order
with one indexed group per entry. :func:`validate_page_xml` checks a document against the element structure
of the 2019 schema (names, namespace, order and multiplicity of children, required attributes, point syntax,
enumerations, references) without needing the XSD.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from data.pages.truth import EntryTruth, FieldTruth, Heading, Mark, PageTruth, Region, TextLine
from data.schema import BOOKS

ENTRY, TEXT_LINE, HEADING = "entry", "text_line", "heading"


# -- COCO ---------------------------------------------------------------------------------------------
def coco_categories() -> list[dict]:
    """``entry``, the register field keys of all books (schema order, no duplicates), ``text_line``."""
    keys = list(dict.fromkeys(f.key for book in BOOKS.values() for f in book.register_fields))
    names = [ENTRY, *keys, TEXT_LINE]
    return [{"id": i + 1, "name": n, "supercategory": "field" if n not in (ENTRY, TEXT_LINE) else n}
            for i, n in enumerate(names)]


def _category_ids() -> dict[str, int]:
    return {c["name"]: c["id"] for c in coco_categories()}


def _ann(ann_id: int, image_id: int, category: int, region: Region, attributes: dict) -> dict:
    x0, y0, x1, y1 = region.bbox
    flat = [round(v, 2) for p in region.polygon for v in p]
    return {"id": ann_id, "image_id": image_id, "category_id": category,
            "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
            "segmentation": [flat], "area": round(region.area, 2), "iscrowd": 0, "attributes": attributes}


def to_coco(pages: Iterable[tuple[PageTruth, str]], description: str = "hotich synthetic register pages") -> dict:
    """A COCO dataset of ``(truth, image file name)`` pairs (see the module doc)."""
    ids = _category_ids()
    images, annotations = [], []

    def add(image_id: int, category: str, region: Region, attributes: dict) -> None:
        annotations.append(_ann(len(annotations) + 1, image_id, ids[category], region, attributes))

    for image_id, (truth, file_name) in enumerate(pages, start=1):
        images.append({"id": image_id, "file_name": file_name, "width": truth.width, "height": truth.height,
                       "page_id": truth.page_id, "book": truth.book, "template": truth.template,
                       "template_split": truth.template_split, "split": truth.split, "seed": truth.seed})
        for entry in truth.filled_entries:
            add(image_id, ENTRY, entry.region, {"entry": entry.index, "record": entry.record})
        for f in truth.fields():
            for k, box in enumerate(f.boxes):
                text = " ".join(ln.text for ln in f.lines if ln.box == k)
                add(image_id, f.key, box, {"entry": f.entry, "key": f.key, "box": k, "boxes": len(f.boxes),
                                           "text": text, "column": f.column, "hand": f.hand})
            for i, ln in enumerate(f.lines):
                add(image_id, TEXT_LINE, ln.region, {"entry": f.entry, "field": f.key, "box": ln.box, "line": i,
                                                     "text": ln.text, "source": ln.source, "hand": ln.hand})
    return {"info": {"description": description, "version": "1.0",
                     "date_created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "licenses": [], "images": images, "annotations": annotations, "categories": coco_categories()}


def _polygon(ann: dict) -> Region:
    flat = ann["segmentation"][0]
    return Region([[float(flat[i]), float(flat[i + 1])] for i in range(0, len(flat), 2)])


def read_coco(source: str | Path | dict) -> dict[str, PageTruth]:
    """Pages of a COCO file written by :func:`to_coco`, keyed by image file name: entries (filled), fields
    with boxes and lines, header fields. Headings and marks are not part of COCO and come back empty."""
    coco = source if isinstance(source, dict) else json.loads(Path(source).read_text(encoding="utf-8"))
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_image: dict[int, list[dict]] = defaultdict(list)
    for ann in coco["annotations"]:
        by_image[ann["image_id"]].append(ann)
    pages = {}
    for image in coco["images"]:
        entries: dict[int, EntryTruth] = {}
        boxes: dict[tuple, dict[int, Region]] = defaultdict(dict)
        lines: dict[tuple, list[tuple[int, TextLine]]] = defaultdict(list)
        columns: dict[tuple, tuple] = {}
        for ann in by_image[image["id"]]:
            name, attrs = names[ann["category_id"]], ann.get("attributes", {})
            if name == ENTRY:
                entries[attrs["entry"]] = EntryTruth(attrs["entry"], _polygon(ann), False, dict(attrs["record"]))
            elif name == TEXT_LINE:
                key = (attrs["entry"], attrs["field"])
                lines[key].append((attrs["line"], TextLine(attrs["text"], _polygon(ann), attrs["field"],
                                                           attrs["entry"], attrs["box"], None,
                                                           attrs.get("source", "font"), attrs.get("hand", "main"))))
            else:
                key = (attrs["entry"], attrs["key"])
                boxes[key][attrs["box"]] = _polygon(ann)
                columns[key] = (attrs.get("column"), attrs.get("hand", "main"))
        page_fields = []
        for key, found in boxes.items():
            column, hand = columns[key]
            mine = [ln for _, ln in sorted(lines.get(key, []), key=lambda p: p[0])]
            for ln in mine:
                ln.column = column
            f = FieldTruth(key[1], " ".join(ln.text for ln in mine), [found[k] for k in sorted(found)], mine,
                           key[0], column, hand)
            if key[0] is None:
                page_fields.append(f)
            elif key[0] in entries:
                entries[key[0]].fields.append(f)
        pages[image["file_name"]] = PageTruth(
            book=image["book"], template=image["template"], template_split=image["template_split"],
            split=image["split"], seed=int(image["seed"]), width=int(image["width"]), height=int(image["height"]),
            entries=[entries[i] for i in sorted(entries)], page_fields=page_fields)
    return pages


# -- PAGE-XML ---------------------------------------------------------------------------------------------
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"
_CUSTOM = re.compile(r"(\w+)\s*\{([^}]*)\}")


def _q(tag: str) -> str:
    return f"{{{PAGE_NS}}}{tag}"


def _points(region: Region, width: int, height: int) -> str:
    """PAGE points: non-negative integers inside the image, "x,y x,y ..."."""
    pts = []
    for x, y in region.polygon:
        pts.append(f"{min(max(int(round(x)), 0), width - 1)},{min(max(int(round(y)), 0), height - 1)}")
    return " ".join(pts)


def _custom(**groups: dict) -> str:
    return " ".join(f"{name} {{{' '.join(f'{k}:{v};' for k, v in values.items())}}}" for name, values in groups.items())


def parse_custom(text: str) -> dict[str, dict[str, str]]:
    """``"structure {type:entry;} entry {index:3;}"`` → ``{"structure": {"type": "entry"}, ...}``."""
    out = {}
    for name, body in _CUSTOM.findall(text or ""):
        out[name] = {k.strip(): v.strip() for k, v in (p.split(":", 1) for p in body.split(";") if ":" in p)}
    return out


def _text_equiv(parent: ET.Element, text: str) -> None:
    ET.SubElement(ET.SubElement(parent, _q("TextEquiv")), _q("Unicode")).text = text


def to_page_xml(truth: PageTruth, image_filename: str, created: dt.datetime | None = None) -> str:
    """The page as a PAGE-XML 2019 document (see the module doc); returns the XML text."""
    ET.register_namespace("", PAGE_NS)
    ET.register_namespace("xsi", XSI_NS)
    w, h = truth.width, truth.height
    stamp = (created or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(_q("PcGts"), {f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION})
    meta = ET.SubElement(root, _q("Metadata"))
    ET.SubElement(meta, _q("Creator")).text = "hotich synthetic register pages"
    ET.SubElement(meta, _q("Created")).text = stamp
    ET.SubElement(meta, _q("LastChange")).text = stamp
    page = ET.SubElement(root, _q("Page"), {
        "imageFilename": image_filename, "imageWidth": str(w), "imageHeight": str(h),
        "custom": _custom(book={"key": truth.book}, template={"id": truth.template, "split": truth.template_split},
                          page={"split": truth.split, "seed": truth.seed})})
    order = ET.SubElement(ET.SubElement(page, _q("ReadingOrder")), _q("OrderedGroup"),
                          {"id": "ro", "caption": "header fields, then entries top to bottom"})
    relations: list[tuple[str, str, str]] = []
    regions: list[ET.Element] = []

    def field_regions(f: FieldTruth, prefix: str) -> list[str]:
        ids = []
        for k, box in enumerate(f.boxes):
            rid = f"{prefix}_b{k}"
            groups = {"structure": {"type": f.key}}
            if f.entry is not None:
                groups["entry"] = {"index": f.entry}
            groups["field"] = {"box": k, "boxes": len(f.boxes), "hand": f.hand}
            region = ET.Element(_q("TextRegion"), {"id": rid, "type": "other" if f.entry is not None else "header",
                                                   "custom": _custom(**groups)})
            ET.SubElement(region, _q("Coords"), {"points": _points(box, w, h)})
            mine = [(i, ln) for i, ln in enumerate(f.lines) if ln.box == k]
            for i, ln in mine:
                line = ET.SubElement(region, _q("TextLine"), {
                    "id": f"{rid}_l{i}", "custom": _custom(line={"index": i, "source": ln.source})})
                ET.SubElement(line, _q("Coords"), {"points": _points(ln.region, w, h)})
                _text_equiv(line, ln.text)
            _text_equiv(region, " ".join(ln.text for _, ln in mine))
            regions.append(region)
            ids.append(rid)
        for a, b in zip(ids, ids[1:], strict=False):
            relations.append((a, b, f.key))
        return ids

    index = 0
    for n, f in enumerate(truth.page_fields):
        for rid in field_regions(f, f"h{n}"):
            ET.SubElement(order, _q("RegionRefIndexed"), {"index": str(index), "regionRef": rid})
            index += 1
    for entry in truth.filled_entries:
        eid = f"e{entry.index}"
        custom = _custom(structure={"type": ENTRY}, entry={"index": entry.index})
        region = ET.Element(_q("TextRegion"), {"id": eid, "type": "other", "custom": custom})
        ET.SubElement(region, _q("Coords"), {"points": _points(entry.region, w, h)})
        regions.append(region)
        group = ET.SubElement(order, _q("OrderedGroupIndexed"), {"id": f"ro_{eid}", "index": str(index),
                                                                  "regionRef": eid, "caption": f"entry {entry.index}"})
        index += 1
        k = 0
        for n, f in enumerate(entry.fields):
            for rid in field_regions(f, f"{eid}_f{n}"):
                ET.SubElement(group, _q("RegionRefIndexed"), {"index": str(k), "regionRef": rid})
                k += 1
        if k == 0:  # an OrderedGroupIndexed needs a member: the entry region itself
            ET.SubElement(group, _q("RegionRefIndexed"), {"index": "0", "regionRef": eid})
    for n, heading in enumerate(truth.headings):
        level = {"level": heading.level} | ({} if heading.column is None else {"column": heading.column})
        region = ET.Element(_q("TextRegion"), {"id": f"t{n}", "type": "heading",
                                               "custom": _custom(structure={"type": HEADING}, heading=level)})
        ET.SubElement(region, _q("Coords"), {"points": _points(heading.region, w, h)})
        _text_equiv(region, heading.text)
        regions.append(region)
    for n, mark in enumerate(truth.marks):
        attrs = {"id": f"m{n}", "type": "stamp" if mark.kind == "seal" else "signature"}
        if mark.entry is not None:
            attrs["custom"] = _custom(entry={"index": mark.entry})
        region = ET.Element(_q("GraphicRegion"), attrs)
        ET.SubElement(region, _q("Coords"), {"points": _points(mark.region, w, h)})
        regions.append(region)
    if index == 0:
        page.remove(page.find(_q("ReadingOrder")))
    if relations:
        rel = ET.SubElement(page, _q("Relations"))
        for n, (a, b, key) in enumerate(relations):
            r = ET.SubElement(rel, _q("Relation"), {"id": f"rel{n}", "type": "join",
                                                    "custom": _custom(structure={"type": key})})
            ET.SubElement(r, _q("SourceRegionRef"), {"regionRef": a})
            ET.SubElement(r, _q("TargetRegionRef"), {"regionRef": b})
    page.extend(regions)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _region_of(element: ET.Element) -> Region:
    points = element.find(_q("Coords")).get("points")
    return Region([[float(v) for v in p.split(",")] for p in points.split()])


def _unicode(element: ET.Element) -> str:
    node = element.find(f"{_q('TextEquiv')}/{_q('Unicode')}")
    return node.text or "" if node is not None else ""


def read_page_xml(source: str | Path) -> PageTruth:
    """A page written by :func:`to_page_xml`: entries (filled), fields with boxes and lines, header fields,
    marks, printed headings. Records are rebuilt from the fields."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("<")) else source
    root = ET.fromstring(text)
    page = root.find(_q("Page"))
    custom = parse_custom(page.get("custom", ""))
    width, height = int(page.get("imageWidth")), int(page.get("imageHeight"))
    entries: dict[int, EntryTruth] = {}
    fields: dict[tuple, dict[int, tuple[Region, list[TextLine]]]] = defaultdict(dict)
    hands: dict[tuple, str] = {}
    marks, headings = [], []
    for element in page:
        tag = element.tag.split("}")[-1]
        attrs = parse_custom(element.get("custom", ""))
        entry = int(attrs["entry"]["index"]) if "entry" in attrs else None
        if tag == "GraphicRegion":
            marks.append(Mark("seal" if element.get("type") == "stamp" else "signature", _region_of(element), entry))
            continue
        if tag != "TextRegion":
            continue
        kind = attrs.get("structure", {}).get("type")
        if kind == ENTRY:
            entries[entry] = EntryTruth(entry, _region_of(element), False, {})
            continue
        if kind == HEADING:
            info = attrs.get("heading", {})
            column = info.get("column")
            headings.append(Heading(_unicode(element), _region_of(element), info.get("level", HEADING),
                                    None if column is None else int(column)))
            continue
        box = int(attrs["field"]["box"])
        lines = []
        for line in element.findall(_q("TextLine")):
            info = parse_custom(line.get("custom", "")).get("line", {})
            lines.append(TextLine(_unicode(line), _region_of(line), kind, entry, box, None,
                                  info.get("source", "font"), attrs["field"].get("hand", "main")))
        fields[(entry, kind)][box] = (_region_of(element), lines)
        hands[(entry, kind)] = attrs["field"].get("hand", "main")
    page_fields = []
    for (entry, key), found in fields.items():
        boxes = [found[k][0] for k in sorted(found)]
        lines = [ln for k in sorted(found) for ln in found[k][1]]
        f = FieldTruth(key, " ".join(ln.text for ln in lines), boxes, lines, entry, None, hands[(entry, key)])
        if entry is None:
            page_fields.append(f)
        elif entry in entries:
            entries[entry].fields.append(f)
    header = {f.key: f.text for f in page_fields}
    for e in entries.values():
        e.record = {**header, **{f.key: f.text for f in e.fields}}
    return PageTruth(book=custom.get("book", {}).get("key", ""), template=custom.get("template", {}).get("id", ""),
                     template_split=custom.get("template", {}).get("split", ""),
                     split=custom.get("page", {}).get("split", ""), seed=int(custom.get("page", {}).get("seed", 0)),
                     width=width, height=height, entries=[entries[i] for i in sorted(entries)],
                     page_fields=page_fields, marks=marks, headings=headings)


# -- PAGE-XML structure check ----------------------------------------------------------------------------
# Child sequences of the 2019-07-15 schema for the elements hotich writes: (name, min, max); "*" regions.
_REGIONS = ("TextRegion", "ImageRegion", "LineDrawingRegion", "GraphicRegion", "TableRegion", "ChartRegion",
            "MapRegion", "SeparatorRegion", "MathsRegion", "ChemRegion", "MusicRegion", "AdvertRegion",
            "NoiseRegion", "UnknownRegion", "CustomRegion")
_INF = 10 ** 9
_REGION_HEAD = [("AlternativeImage", 0, _INF), ("Coords", 1, 1), ("UserDefined", 0, 1), ("Labels", 0, _INF),
                ("Roles", 0, 1), (_REGIONS, 0, _INF)]
_SEQUENCES: dict[str, list] = {
    "PcGts": [("Metadata", 1, 1), ("Page", 1, 1)],
    "Metadata": [("Creator", 1, 1), ("Created", 1, 1), ("LastChange", 1, 1), ("Comments", 0, 1),
                 ("UserDefined", 0, 1), ("MetadataItem", 0, _INF)],
    "Page": [("AlternativeImage", 0, _INF), ("Border", 0, 1), ("PrintSpace", 0, 1), ("ReadingOrder", 0, 1),
             ("Layers", 0, 1), ("Relations", 0, 1), ("TextStyle", 0, 1), ("UserDefined", 0, 1), ("Labels", 0, _INF),
             (_REGIONS, 0, _INF)],
    "TextRegion": _REGION_HEAD + [("TextLine", 0, _INF), ("TextEquiv", 0, _INF), ("TextStyle", 0, 1)],
    "GraphicRegion": _REGION_HEAD,
    "TextLine": [("AlternativeImage", 0, _INF), ("Coords", 1, 1), ("Baseline", 0, 1), ("Word", 0, _INF),
                 ("TextEquiv", 0, _INF), ("TextStyle", 0, 1), ("UserDefined", 0, 1), ("Labels", 0, _INF)],
    "TextEquiv": [("PlainText", 0, 1), ("Unicode", 1, 1)],
    "ReadingOrder": [(("OrderedGroup", "UnorderedGroup"), 1, 1)],
    "OrderedGroup": [("UserDefined", 0, 1), ("Labels", 0, _INF),
                     (("RegionRefIndexed", "OrderedGroupIndexed", "UnorderedGroupIndexed"), 1, _INF)],
    "OrderedGroupIndexed": [("UserDefined", 0, 1), ("Labels", 0, _INF),
                            (("RegionRefIndexed", "OrderedGroupIndexed", "UnorderedGroupIndexed"), 1, _INF)],
    "Relations": [("Relation", 1, _INF)],
    "Relation": [("Labels", 0, _INF), ("SourceRegionRef", 1, 1), ("TargetRegionRef", 1, 1)],
    "Coords": [], "RegionRefIndexed": [], "SourceRegionRef": [], "TargetRegionRef": [], "Unicode": [],
    "PlainText": [], "Creator": [], "Created": [], "LastChange": [], "Comments": [],
}
_REQUIRED = {"Page": ("imageFilename", "imageWidth", "imageHeight"), "TextRegion": ("id",), "GraphicRegion": ("id",),
             "TextLine": ("id",), "Coords": ("points",), "OrderedGroup": ("id",),
             "OrderedGroupIndexed": ("id", "index"), "RegionRefIndexed": ("index", "regionRef"),
             "Relation": ("id",), "SourceRegionRef": ("regionRef",), "TargetRegionRef": ("regionRef",)}
_ENUMS = {
    ("TextRegion", "type"): {"paragraph", "heading", "caption", "header", "footer", "page-number", "drop-capital",
                             "credit", "floating", "signature-mark", "catch-word", "marginalia", "footnote",
                             "footnote-continued", "endnote", "TOC-entry", "list-label", "other"},
    ("GraphicRegion", "type"): {"logo", "letterhead", "decoration", "frame", "handwritten-annotation", "stamp",
                                "signature", "barcode", "paper-grow", "punch-hole", "other"},
    ("Relation", "type"): {"link", "join"},
}
_POINTS = re.compile(r"([0-9]+,[0-9]+ )+([0-9]+,[0-9]+)")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def _check_sequence(name: str, children: list[str], spec: list) -> str | None:
    i = 0
    for allowed, lo, hi in spec:
        names = (allowed,) if isinstance(allowed, str) else allowed
        count = 0
        while i < len(children) and children[i] in names and count < hi:
            i += 1
            count += 1
        if count < lo:
            return f"{name}: expected {lo}+ of {'/'.join(names)} at child {i}, found {children[i:i + 1] or 'none'}"
    if i < len(children):
        return f"{name}: unexpected child {children[i]!r} at position {i}"
    return None


def validate_page_xml(source: str | Path) -> list[str]:
    """Problems of a PAGE-XML document against the 2019-07-15 element structure (empty list: valid).

    Checks: well-formed XML; every element in the PAGE namespace; root ``PcGts``; for each element hotich
    writes, the order and multiplicity of its children as the schema's sequences define them; required
    attributes; integer image size; ``Coords/@points`` matching the schema's ``PointsType`` pattern and lying
    inside the image; ``dateTime`` metadata; enumerated ``type`` values; unique ids; reading-order and
    relation references to existing regions.
    """
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("<")) else source
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    problems: list[str] = []
    if root.tag != _q("PcGts"):
        return [f"root element {root.tag!r} is not PcGts in the PAGE 2019 namespace {PAGE_NS}"]
    page = root.find(_q("Page"))
    width = height = None
    if page is not None:
        try:
            width, height = int(page.get("imageWidth", "")), int(page.get("imageHeight", ""))
        except ValueError:
            problems.append("Page: imageWidth and imageHeight must be integers")
    ids: set[str] = set()
    refs: list[tuple[str, str]] = []
    for element in root.iter():
        if not element.tag.startswith(f"{{{PAGE_NS}}}"):
            problems.append(f"element {element.tag!r} is not in the PAGE 2019 namespace")
            continue
        name = element.tag.split("}")[-1]
        spec = _SEQUENCES.get(name)
        if spec is None:
            problems.append(f"element {name!r} is not one hotich writes or checks")
            continue
        problem = _check_sequence(name, [c.tag.split("}")[-1] for c in element], spec)
        if problem:
            problems.append(problem)
        for attr in _REQUIRED.get(name, ()):
            if element.get(attr) is None:
                problems.append(f"{name}: missing required attribute {attr!r}")
        for (tag, attr), allowed in _ENUMS.items():
            if tag == name and element.get(attr) is not None and element.get(attr) not in allowed:
                problems.append(f"{name}/@{attr} = {element.get(attr)!r} is not a schema value")
        if name in ("Created", "LastChange") and not _DATETIME.fullmatch(element.text or ""):
            problems.append(f"{name}: {element.text!r} is not an xsd:dateTime")
        if name == "Coords":
            points = element.get("points", "")
            if not _POINTS.fullmatch(points):
                problems.append(f"Coords/@points {points[:40]!r} does not match the PointsType pattern")
            elif width is not None:
                for p in points.split():
                    x, y = map(int, p.split(","))
                    if x > width or y > height:
                        problems.append(f"Coords point {p} lies outside the {width}x{height} image")
                        break
        if name in ("TextRegion", "GraphicRegion", "TextLine", "OrderedGroup", "OrderedGroupIndexed", "Relation"):
            rid = element.get("id")
            if rid in ids:
                problems.append(f"duplicate id {rid!r}")
            ids.add(rid)
        if name in ("RegionRefIndexed", "SourceRegionRef", "TargetRegionRef") or (
                name == "OrderedGroupIndexed" and element.get("regionRef")):
            refs.append((name, element.get("regionRef")))
    for name, ref in refs:
        if ref not in ids:
            problems.append(f"{name} refers to unknown region {ref!r}")
    return problems
