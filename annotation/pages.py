"""Page annotations: a register page image and its field regions (box + text), as ``push`` reads them and ``pull``
writes them.

One JSON file next to each page image (same stem, ``.json``)::

    {"image": "page-001.jpg", "width": 2480, "height": 3508, "book": "khai_sinh",
     "model_version": "layout-v1",        # present when the file holds a model's prediction
     "score": 0.81,                       # page-level confidence (optional; the lowest field score otherwise)
     "fields": [{"key": "nksHoTen", "box": [412, 880, 1630, 960], "text": "Nguyễn Văn An", "score": 0.93}]}

``box`` is ``[x0, y0, x1, y1]`` in pixels of the image; ``rotation`` (degrees clockwise about the top-left corner,
Label Studio's convention) appears only when an annotator rotated a box. Any other key, on the page or on a
field, is carried through a push/pull round trip untouched.

How pages are found is pluggable: :data:`PAGE_READERS` holds functions ``image path -> Page | None`` tried in
order. The synthetic page generator's ground truth (``data.pages.truth``) is read first, then this format; the
page pipeline's predictions can register their reader the same way.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from data.charset import nfc

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
_PAGE_KEYS = ("image", "width", "height", "book", "model_version", "score", "fields")
_FIELD_KEYS = ("key", "box", "text", "score", "rotation")


class PageFormatError(ValueError):
    """A page JSON file that cannot be read; the message names the file and the problem."""


@dataclass
class PageField:
    key: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    text: str = ""
    score: float | None = None
    rotation: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"key": self.key, "box": [_number(v) for v in self.box], "text": nfc(self.text)}
        if self.score is not None:
            out["score"] = self.score
        if self.rotation:
            out["rotation"] = _number(self.rotation)
        return {**out, **self.extra}


@dataclass
class Page:
    """A page image (absolute path) with its size and fields; ``model_version`` set when it is a prediction."""

    image: Path
    width: int
    height: int
    fields: list[PageField] = field(default_factory=list)
    book: str | None = None
    model_version: str | None = None
    score: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def confidence(self) -> float | None:
        """The page score, else its least confident field's score, else None (unknown)."""
        if self.score is not None:
            return self.score
        scores = [f.score for f in self.fields if f.score is not None]
        return min(scores) if scores else None

    def to_json(self, image_name: str | None = None) -> dict:
        out: dict = {"image": image_name or self.image.name, "width": self.width, "height": self.height}
        if self.book:
            out["book"] = self.book
        if self.model_version:
            out["model_version"] = self.model_version
        if self.score is not None:
            out["score"] = self.score
        out.update(self.extra)
        out["fields"] = [f.to_json() for f in self.fields]
        return out


def _number(value: float):
    """Pixel values: ints stay ints, others keep two decimals (sub-pixel precision means nothing on a scan)."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded == int(rounded) else rounded


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) as displayed: EXIF orientations 5-8 (phone photos stored sideways) swap the sides, as the
    browser in Label Studio and :func:`load_upright` do."""
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        return (height, width) if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (width, height)


def load_upright(path: str | os.PathLike):
    """The image as an RGB PIL image, EXIF orientation applied."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def read_page_json(json_path: str | os.PathLike, image: str | os.PathLike | None = None) -> Page:
    """Read a page file; ``image`` (default: the file's ``image`` next to it) is the page image."""
    json_path = Path(json_path)
    try:
        obj = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PageFormatError(f"{json_path}: not readable JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise PageFormatError(f"{json_path}: expected an object")
    image = Path(image) if image else json_path.parent / str(obj.get("image", ""))
    if not image.is_file():
        raise PageFormatError(f"{json_path}: page image {image} not found")
    width, height = obj.get("width"), obj.get("height")
    if not (isinstance(width, int) and isinstance(height, int)):
        width, height = image_size(image)
    fields = []
    for i, raw in enumerate(obj.get("fields") or []):
        where = f"{json_path}: fields[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
            raise PageFormatError(f"{where}: needs a string 'key'")
        box = raw.get("box")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise PageFormatError(f"{where}: 'box' must be [x0, y0, x1, y1] in pixels")
        x0, y0, x1, y1 = box
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise PageFormatError(f"{where}: box {box} is empty or outside the {width}x{height} image")
        text = raw.get("text", "")
        if not isinstance(text, str):
            raise PageFormatError(f"{where}: 'text' must be a string")
        fields.append(PageField(raw["key"], (x0, y0, x1, y1), nfc(text), raw.get("score"),
                                float(raw.get("rotation") or 0.0),
                                {k: v for k, v in raw.items() if k not in _FIELD_KEYS}))
    return Page(image.resolve(), width, height, fields, obj.get("book"), obj.get("model_version"), obj.get("score"),
                {k: v for k, v in obj.items() if k not in _PAGE_KEYS})


def read_sidecar(image: Path) -> Page | None:
    """The ``<stem>.json`` next to ``image``, or None when there is none."""
    sidecar = image.with_suffix(".json")
    return read_page_json(sidecar, image) if sidecar.is_file() else None


def read_page_truth(image: Path) -> Page | None:
    """A synthetic page's ground truth (:class:`data.pages.truth.PageTruth` JSON, ``<stem>.json`` or
    ``<stem>.truth.json``) as a page with one field region per field box; None when there is none.

    A field written across several boxes (a wrapped value in merged cells) gives one region per box, each with
    the text of its own lines; ``entry`` (the row) is kept on every field.
    """
    for candidate in (image.with_suffix(".truth.json"), image.with_suffix(".json")):
        if not candidate.is_file():
            continue
        try:
            obj = json.loads(candidate.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PageFormatError(f"{candidate}: not readable JSON ({exc})") from None
        if not (isinstance(obj, dict) and "entries" in obj and "template" in obj):
            continue
        try:
            # Imported only for a truth file: the page generator package is heavy to import.
            from data.pages.truth import PageTruth
        except ImportError:  # the page generator is not part of this checkout
            return None
        try:
            truth = PageTruth.from_dict(obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise PageFormatError(f"{candidate}: not a valid page truth ({exc})") from None
        fields = []
        for f in truth.fields():
            for i, box in enumerate(f.boxes):
                text = " ".join(ln.text for ln in f.lines if ln.box == i) if len(f.boxes) > 1 else f.text
                fields.append(PageField(f.key, box.bbox, nfc(text), extra={"entry": f.entry}))
        extra = {"template": truth.template, "seed": truth.seed, "split": truth.split}
        return Page(image.resolve(), truth.width, truth.height, fields, truth.book, "ground-truth", extra=extra)
    return None


PAGE_READERS: list[Callable[[Path], Page | None]] = [read_page_truth, read_sidecar]


def read_page(image: str | os.PathLike) -> Page:
    """The page for ``image`` from the first reader that knows it; a bare page (no fields) otherwise."""
    image = Path(image).resolve()
    for reader in PAGE_READERS:
        page = reader(image)
        if page is not None:
            return page
    width, height = image_size(image)
    return Page(image, width, height)


def find_pages(folder: str | os.PathLike) -> list[Page]:
    """Every page image directly in ``folder`` (sorted by name), with its fields when a reader has them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PageFormatError(f"{folder}: not a folder")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise PageFormatError(f"{folder}: no page images ({', '.join(IMAGE_SUFFIXES)})")
    return [read_page(p) for p in images]


def write_page_json(page: Page, path: str | os.PathLike, image_name: str | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(page.to_json(image_name), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
