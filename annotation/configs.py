"""Label Studio labeling configs for hotich, and the names inside them that predictions and exports refer to.

Two kinds of project:

* ``line``: one line crop per task; an ``Image`` and a ``TextArea`` that the model's text pre-fills.
* ``page``: one register page per task; ``RectangleLabels`` whose labels are the field keys of
  :mod:`data.schema` (``nksHoTen``, ``meNgaySinh``, ...) and a per-region ``TextArea`` for the field's text.

Predictions, the ML backend and ``pull`` find the tag names with :func:`parse_config`, so a project whose config
an administrator renamed (``<Image name="crop" value="$img">``) keeps working.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from data.schema import BOOKS, get_book

LINE = "line"
PAGE = "page"
# Names used by the configs hotich writes; parse_config reads whatever a project actually uses.
IMAGE, TEXT, FIELD = "image", "text", "field"


def line_config() -> str:
    """One line crop and its text. ``maxSubmissions=1``: a line has exactly one transcription."""
    return f"""<View>
  <Header value="Chép lại dòng chữ viết tay (giữ nguyên dấu)"/>
  <Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>
  <TextArea name="{TEXT}" toName="{IMAGE}" editable="true" maxSubmissions="1" rows="2" required="true"
            showSubmitButton="false" placeholder="Văn bản của dòng"/>
</View>
"""


def field_keys(book: str | None = None) -> list[str]:
    """Field keys written by hand on a page of ``book`` (all books when None), in schema order, no duplicates.
    Import-only keys (codes the spreadsheet derives, never handwritten) are left out."""
    books = [get_book(book)] if book else list(BOOKS.values())
    keys: dict[str, None] = {}
    for b in books:
        for f in b:
            if not f.import_only:
                keys.setdefault(f.key, None)
    return list(keys)


def page_config(book: str | None = None) -> str:
    """A page with one rectangle per field region, labelled with the field key, and the region's text."""
    labels = []
    for key in field_keys(book):
        hint = next((b.field(key).label for b in ([get_book(book)] if book else BOOKS.values()) if key in b), key)
        labels.append(f"    <Label value={quoteattr(key)} hint={quoteattr(hint)}/>")
    label_lines = "\n".join(labels)
    return f"""<View>
  <Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>
  <RectangleLabels name="{FIELD}" toName="{IMAGE}" showInline="false">
{label_lines}
  </RectangleLabels>
  <TextArea name="{TEXT}" toName="{IMAGE}" editable="true" perRegion="true" maxSubmissions="1" rows="1"
            required="false" placeholder="Văn bản của trường"/>
</View>
"""


class ConfigError(ValueError):
    """A labeling config that hotich cannot use (no Image, no TextArea on it, ...)."""


@dataclass(frozen=True)
class ConfigNames:
    """The tags of a project's config that hotich reads and writes.

    Attributes:
        kind: ``line`` or ``page``.
        image: the Image tag's name; ``image_key`` the task data key it shows (``$image`` → ``image``).
        text: the TextArea's name (whole-image for lines, per region for pages).
        labels: the RectangleLabels tag's name (pages only).
        label_values: the labels it offers (pages only).
    """

    kind: str
    image: str
    image_key: str
    text: str
    labels: str | None = None
    label_values: tuple[str, ...] = ()


def parse_config(xml: str) -> ConfigNames:
    """Find the Image, TextArea and (for pages) RectangleLabels of a labeling config.

    Raises:
        ConfigError: when the config is not XML or has no Image with a ``$variable``, or no TextArea on it.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ConfigError(f"labeling config is not valid XML: {exc}") from None
    images = [e for e in root.iter("Image") if (e.get("value") or "").startswith("$") and e.get("name")]
    if not images:
        raise ConfigError("labeling config has no <Image name=... value=\"$key\"> tag")
    image = images[0]
    name = image.get("name")
    areas = [e for e in root.iter("TextArea") if e.get("toName") == name and e.get("name")]
    if not areas:
        raise ConfigError(f"labeling config has no <TextArea toName={name!r}>")
    rects = [e for e in root.iter("RectangleLabels") if e.get("toName") == name and e.get("name")]
    if rects:
        area = next((a for a in areas if a.get("perRegion") == "true"), None)
        if area is None:
            raise ConfigError("a page config needs a <TextArea perRegion=\"true\"> for the field text")
        values = tuple(label.get("value") for label in rects[0].iter("Label") if label.get("value"))
        return ConfigNames(PAGE, name, image.get("value")[1:], area.get("name"), rects[0].get("name"), values)
    area = next((a for a in areas if a.get("perRegion") != "true"), areas[0])
    return ConfigNames(LINE, name, image.get("value")[1:], area.get("name"))
