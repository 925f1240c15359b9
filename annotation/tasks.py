"""Label Studio tasks from hotich data and back: line records and pages to task data and results, and the
annotations of an export back to text and field regions.

Every task carries, under ``data["hotich"]``, what a round trip needs and Label Studio does not keep for us:
the kind, a content key (SHA-256 of the image bytes), the original file name and every manifest / page key.
Coordinates in Label Studio are percentages of the displayed image; hotich keeps pixels.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from annotation.configs import LINE, PAGE, ConfigNames
from annotation.pages import Page, PageField
from data.charset import nfc

HOTICH = "hotich"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clean_text(text: str) -> str:
    """NFC (some Vietnamese keyboards type decomposed marks), outer whitespace and line breaks removed:
    a line's text is one line."""
    return " ".join(nfc(text).split("\n")).strip()


@dataclass
class Prediction:
    """A model's guess for one task: ``result`` in Label Studio's format, ``score`` in [0, 1] or None."""

    result: list[dict]
    score: float | None
    model_version: str

    def to_json(self) -> dict:
        out = {"model_version": self.model_version, "result": self.result}
        if self.score is not None:
            out["score"] = round(float(self.score), 6)
        return out


# --- lines ----------------------------------------------------------------------------------------------------
def line_result(names: ConfigNames, text: str) -> list[dict]:
    return [{"from_name": names.text, "to_name": names.image, "type": "textarea",
             "value": {"text": [clean_text(text)]}}]


def line_task_data(names: ConfigNames, image_url: str, key: str, digest: str, name: str, text: str,
                   extra: dict) -> dict:
    return {names.image_key: image_url,
            HOTICH: {"kind": LINE, "key": key, "sha256": digest, "name": name, "text": text, "extra": extra}}


class ResultProblem(ValueError):
    """An annotation whose result hotich cannot turn into training data; the message says why (no text)."""


def text_of(names: ConfigNames, result: list[dict]) -> str:
    """The corrected text of a line annotation.

    Raises:
        ResultProblem: no text, an empty text, or several texts (``maxSubmissions`` was raised in the config).
    """
    texts = [t for item in result if item.get("type") == "textarea" and item.get("from_name") == names.text
             for t in (item.get("value") or {}).get("text") or []]
    if not texts:
        raise ResultProblem("no text in the annotation")
    if len(texts) > 1:
        raise ResultProblem(f"{len(texts)} texts in one line annotation")
    text = clean_text(texts[0])
    if not text:
        raise ResultProblem("empty text")  # an empty target would teach the recognizer to write nothing
    return text


# --- pages ----------------------------------------------------------------------------------------------------
def region_id(index: int) -> str:
    return f"f{index}"


def page_result(names: ConfigNames, page: Page) -> list[dict]:
    """One rectangle per field (labelled with its key) and, when the field has text, its per-region text."""
    result = []
    for i, f in enumerate(page.fields):
        x0, y0, x1, y1 = f.box
        geometry = {"x": 100.0 * x0 / page.width, "y": 100.0 * y0 / page.height,
                    "width": 100.0 * (x1 - x0) / page.width, "height": 100.0 * (y1 - y0) / page.height,
                    "rotation": f.rotation}
        common = {"id": region_id(i), "to_name": names.image, "original_width": page.width,
                  "original_height": page.height, "image_rotation": 0}
        item = {**common, "from_name": names.labels, "type": "rectanglelabels",
                "value": {**geometry, "rectanglelabels": [f.key]}}
        if f.score is not None:
            item["score"] = float(f.score)
        result.append(item)
        if f.text:
            result.append({**common, "from_name": names.text, "type": "textarea",
                           "value": {**geometry, "text": [clean_text(f.text)]}})
    return result


def page_task_data(names: ConfigNames, image_url: str, key: str, digest: str, name: str, page: Page) -> dict:
    return {names.image_key: image_url,
            HOTICH: {"kind": PAGE, "key": key, "sha256": digest, "name": name, "width": page.width,
                     "height": page.height, "book": page.book, "extra": page.extra,
                     # Keys a field carried besides key/box/text: restored when the annotator kept the region.
                     "field_extra": {region_id(i): f.extra for i, f in enumerate(page.fields) if f.extra}}}


def fields_of(names: ConfigNames, result: list[dict], width: int, height: int,
              field_extra: dict | None = None) -> list[PageField]:
    """Field regions of a page annotation, in pixels, in the annotation's order.

    Raises:
        ResultProblem: a rectangle without exactly one label.
    """
    field_extra = field_extra or {}
    rects: dict[str, dict] = {}
    texts: dict[str, list[str]] = {}
    for item in result:
        value = item.get("value") or {}
        if item.get("type") == "rectanglelabels" and item.get("from_name") == names.labels:
            rects[item.get("id")] = item
        elif item.get("type") == "textarea" and item.get("from_name") == names.text and item.get("id"):
            texts.setdefault(item["id"], []).extend(value.get("text") or [])
    fields = []
    for rid, item in rects.items():
        value = item["value"]
        labels = value.get("rectanglelabels") or []
        if len(labels) != 1:
            raise ResultProblem(f"region {rid} has {len(labels)} labels; a field region needs exactly one")
        w = item.get("original_width") or width
        h = item.get("original_height") or height
        x0, y0 = value["x"] * w / 100.0, value["y"] * h / 100.0
        box = (x0, y0, x0 + value["width"] * w / 100.0, y0 + value["height"] * h / 100.0)
        parts = texts.get(rid, [])
        if len(parts) > 1:
            raise ResultProblem(f"region {rid} has {len(parts)} texts; a field has one")
        fields.append(PageField(labels[0], box, clean_text(parts[0]) if parts else "",
                                rotation=float(value.get("rotation") or 0.0), extra=dict(field_extra.get(rid, {}))))
    return fields


# --- annotations ----------------------------------------------------------------------------------------------
def _time(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else datetime.min


def winning_annotation(task: dict) -> dict | None:
    """The annotation that counts for a task: among completed ones (not skipped, non-empty result), the most
    recently updated (ties: the later created, then the higher id). None when there is none."""
    done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled") and a.get("result")]
    if not done:
        return None
    return max(done, key=lambda a: (_time(a.get("updated_at")), _time(a.get("created_at")), a.get("id", 0)))


def provenance(project_id: int, task: dict, annotation: dict, names: ConfigNames) -> dict:
    """Where a pulled record came from: ids, annotator, times and the prediction it started from."""
    out = {"project": project_id, "task": task["id"], "annotation": annotation["id"],
           "annotator": annotation.get("completed_by"), "updated_at": annotation.get("updated_at"),
           "lead_time": annotation.get("lead_time")}
    prediction = annotation.get("prediction") or {}
    if prediction:
        out["model_version"] = prediction.get("model_version")
        out["score"] = prediction.get("score")
        if names.kind == LINE:
            try:
                out["prediction"] = text_of(names, prediction.get("result") or [])
            except ResultProblem:
                pass
    return out
