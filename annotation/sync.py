"""``push`` hotich data into a Label Studio project with the model's pre-annotations, and ``pull`` the corrected
annotations back as a line manifest and page files.

push
    Creates the project (or reuses the one with that title), uploads images, and imports one task per line or
    page, each with the model's prediction (``model_version``, ``score``). New tasks are imported most uncertain
    first, and the project samples by uncertainty over the current model's predictions, so annotators see the
    lines the model is least sure of first. Pushing again is safe: tasks already in the project (same image
    bytes) are not duplicated; unannotated ones get the new model's prediction when the model changed.

pull
    Reads the full JSON export. For every task, the winning annotation (completed, not skipped, the latest) is
    turned back into data: for lines, the manifest record with its corrected text (NFC) and every original key;
    for pages, the page file with boxes and text per field, plus a manifest of the field crops. Images are the
    bytes that were uploaded, checked against their SHA-256. Tasks whose annotation cannot be used are listed in
    ``pull.json`` by task id (never by text) and left out.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from annotation.configs import LINE, PAGE, ConfigError, ConfigNames, field_keys, line_config, page_config, parse_config
from annotation.labelstudio import LabelStudio, LabelStudioError
from annotation.pages import Page, find_pages, load_upright, write_page_json
from annotation.predictors import LinePredictor, PredictionsFile
from annotation.tasks import (
    HOTICH,
    Prediction,
    ResultProblem,
    fields_of,
    line_result,
    line_task_data,
    page_result,
    page_task_data,
    provenance,
    sha256,
    text_of,
    winning_annotation,
)
from data.manifest import LineRecord, read_manifest, write_manifest
from data.schema import BOOKS

log = logging.getLogger("hotich.annotation")

PROJECT_SETTINGS = {
    "show_collab_predictions": True,  # pre-annotations are shown to annotators
    "sampling": "Uncertainty sampling",  # lowest prediction score of the project's model_version first
    "maximum_annotations": 1,
    "show_skip_button": True,
    "enable_empty_annotation": False,
}
PREDICT_BATCH = 64


def _check_title(title: str) -> None:
    if not 3 <= len(title) <= 50:
        raise ValueError(f"project name must have 3 to 50 characters (Label Studio's rule), got {len(title)}")


def ensure_project(client: LabelStudio, title: str, kind: str, book: str | None = None,
                   required_labels: set[str] = frozenset()) -> tuple[dict, ConfigNames, bool]:
    """The project called ``title``, created with hotich's config for ``kind`` when missing.

    Returns:
        (project, the names in its config, whether it was created).

    Raises:
        LabelStudioError: the project exists but holds the other kind of task, its config is unusable, or
            (pages) it lacks labels for field keys being pushed.
    """
    _check_title(title)
    project = client.find_project(title)
    created = project is None
    if created:
        config = line_config() if kind == LINE else page_config(book)
        description = ("hotich: chép lại dòng viết tay" if kind == LINE else
                       "hotich: khoanh vùng và chép lại các trường của trang sổ")
        project = client.create_project(title, config, description=description, **PROJECT_SETTINGS)
    try:
        names = parse_config(project["label_config"])
    except ConfigError as exc:
        raise LabelStudioError(f"project {title!r} (id {project['id']}): {exc}") from None
    if names.kind != kind:
        raise LabelStudioError(f"project {title!r} (id {project['id']}) is a {names.kind} project; "
                               f"pushing {kind}s needs another project name")
    missing = sorted(required_labels - set(names.label_values))
    if missing:
        raise LabelStudioError(f"project {title!r} has no labels for field keys {missing}; push to a project "
                               "made for this book (--book) or add the labels to its config")
    return project, names, created


@dataclass
class PushReport:
    project: int
    title: str
    url: str
    kind: str
    created: bool
    new_tasks: int = 0
    existing_tasks: int = 0
    predictions: int = 0
    refreshed_predictions: int = 0
    without_prediction: int = 0
    model_version: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class _Item:
    """One line or page on its way into Label Studio."""

    key: str
    digest: str
    name: str
    path: Path
    upload_name: str
    record: LineRecord | None = None
    page: Page | None = None
    prediction: Prediction | None = None


def _keys(paths: list[Path]) -> list[tuple[str, str, bytes]]:
    """(key, digest, bytes) per file; the key is the content hash, plus ``~n`` for the n-th repeat of a file."""
    seen: Counter = Counter()
    out = []
    for path in paths:
        data = path.read_bytes()
        digest = sha256(data)
        seen[digest] += 1
        key = digest[:24] + (f"~{seen[digest]}" if seen[digest] > 1 else "")
        out.append((key, digest, data))
    return out


def _existing(client: LabelStudio, project_id: int) -> dict[str, dict]:
    return {t["data"][HOTICH]["key"]: t for t in client.tasks(project_id)
            if isinstance(t.get("data", {}).get(HOTICH), dict) and "key" in t["data"][HOTICH]}


def _needs_prediction(task: dict, version: str) -> bool:
    versions = {v.strip() for v in str(task.get("predictions_model_versions") or "").split(",")}
    return not task.get("total_annotations") and not task.get("cancelled_annotations") and version not in versions


def _order(items: list[_Item]) -> list[_Item]:
    """Most uncertain first; tasks without a score (no prediction) last; ties keep the input order."""
    return sorted(items, key=lambda i: (i.prediction is None or i.prediction.score is None,
                                        i.prediction.score if i.prediction and i.prediction.score is not None else 0))


def _import(client: LabelStudio, project_id: int, items: list[_Item], names: ConfigNames, data_of,
            progress: bool) -> None:
    files = {}
    for item in items:
        files[item.upload_name] = item.path.read_bytes()
    urls = {}
    names_list = list(files)
    for start in tqdm(range(0, len(names_list), 50), desc="uploading", unit="batch", disable=not progress):
        chunk = names_list[start:start + 50]
        urls.update(client.upload_files(project_id, [(n, files[n]) for n in chunk]))
    tasks = []
    for item in _order(items):
        task = {"data": data_of(item, urls[item.upload_name])}
        if item.prediction is not None:
            task["predictions"] = [item.prediction.to_json()]
        tasks.append(task)
    client.import_tasks(project_id, tasks)


def push_lines(client: LabelStudio, manifest: str | os.PathLike, title: str, predictor: LinePredictor | None = None,
               predictions: PredictionsFile | None = None, progress: bool = True) -> PushReport:
    """Push a line manifest; pre-annotations from ``predictor`` (run here) or ``predictions`` (read from a file)."""
    started = time.monotonic()
    records = read_manifest(manifest, check_images=True)
    if not records:
        raise ValueError(f"{manifest}: no lines to push")
    project, names, created = ensure_project(client, title, LINE)
    report = PushReport(project["id"], title, client.url, LINE, created)
    existing = _existing(client, project["id"])
    items = [_Item(key, digest, r.image.name, r.image, f"{key.replace('~', '-')}{r.image.suffix.lower()}", record=r)
             for r, (key, digest, _) in zip(records, _keys([r.image for r in records]))]
    new = [i for i in items if i.key not in existing]
    report.new_tasks, report.existing_tasks = len(new), len(items) - len(new)

    version = predictor.model_version if predictor else None
    refresh = [i for i in items if i.key in existing and version and _needs_prediction(existing[i.key], version)]
    if predictor is not None:
        todo = new + refresh
        for start in tqdm(range(0, len(todo), PREDICT_BATCH), desc="predicting", unit="batch",
                          disable=not progress or not todo):
            batch = todo[start:start + PREDICT_BATCH]
            from PIL import Image

            images = [np.asarray(Image.open(i.path).convert("RGB")) for i in batch]
            for item, (text, score) in zip(batch, predictor(images)):
                item.prediction = Prediction(line_result(names, text), score, version)
    elif predictions is not None:
        versions = Counter()
        for item in new:
            found = predictions.lookup(item.path)
            if found is not None:
                text, score, item_version = found
                item.prediction = Prediction(line_result(names, text), score, item_version)
                versions[item_version] += 1
        version = versions.most_common(1)[0][0] if versions else None

    def data_of(item: _Item, url: str) -> dict:
        return line_task_data(names, url, item.key, item.digest, item.name, item.record.text, item.record.extra)

    if new:
        _import(client, project["id"], new, names, data_of, progress)
    if refresh:
        client.add_predictions(project["id"], [{"task": existing[i.key]["id"], **i.prediction.to_json()}
                                               for i in refresh])
    report.predictions = sum(i.prediction is not None for i in new)
    report.refreshed_predictions = len(refresh)
    report.without_prediction = len(new) - report.predictions
    if version:
        # Label Studio shows, and samples by, the predictions of the project's model_version only.
        client.update_project(project["id"], model_version=version)
        report.model_version = version
    report.seconds = round(time.monotonic() - started, 2)
    return report


def push_pages(client: LabelStudio, folder: str | os.PathLike, title: str, book: str | None = None,
               progress: bool = True) -> PushReport:
    """Push a folder of page images; a page's fields (its JSON file) become the pre-annotation."""
    started = time.monotonic()
    pages = find_pages(folder)
    books = {p.book for p in pages if p.book}
    if book is None and len(books) == 1:
        book = books.pop()
    if book is not None and book not in BOOKS:
        raise ValueError(f"unknown book {book!r}; one of {sorted(BOOKS)}")
    used = {f.key for p in pages for f in p.fields}
    unknown = sorted(used - set(field_keys(book)))
    if unknown:  # checked before anything is created in Label Studio
        where = f"book {book!r}" if book else "any book"
        raise ValueError(f"{folder}: field keys {unknown} are not handwritten fields of {where} (data/schema.py)")
    project, names, created = ensure_project(client, title, PAGE, book, required_labels=used)
    report = PushReport(project["id"], title, client.url, PAGE, created)
    existing = _existing(client, project["id"])
    items = [_Item(key, digest, p.image.name, p.image, f"{key.replace('~', '-')}{p.image.suffix.lower()}", page=p)
             for p, (key, digest, _) in zip(pages, _keys([p.image for p in pages]))]
    new = [i for i in items if i.key not in existing]
    report.new_tasks, report.existing_tasks = len(new), len(items) - len(new)
    versions = Counter()
    for item in new:
        if item.page.fields:
            version = item.page.model_version or "page-json"
            item.prediction = Prediction(page_result(names, item.page), item.page.confidence, version)
            versions[version] += 1

    def data_of(item: _Item, url: str) -> dict:
        return page_task_data(names, url, item.key, item.digest, item.name, item.page)

    if new:
        _import(client, project["id"], new, names, data_of, progress)
    report.predictions = sum(versions.values())
    report.without_prediction = len(new) - report.predictions
    if versions:
        report.model_version = versions.most_common(1)[0][0]
        client.update_project(project["id"], model_version=report.model_version)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def push(client: LabelStudio, source: str | os.PathLike, title: str, **options) -> PushReport:
    """A line manifest (a file) or a folder of pages (a directory)."""
    source = Path(source)
    if source.is_dir():
        return push_pages(client, source, title, book=options.get("book"), progress=options.get("progress", True))
    if source.is_file():
        return push_lines(client, source, title, predictor=options.get("predictor"),
                          predictions=options.get("predictions"), progress=options.get("progress", True))
    raise FileNotFoundError(f"{source}: no such line manifest or page folder")


# --- pull -----------------------------------------------------------------------------------------------------
@dataclass
class PullReport:
    project: int
    title: str
    kind: str
    out: str
    tasks: int = 0
    pulled: int = 0
    skipped: int = 0  # every annotation was a skip
    unannotated: int = 0
    problems: list[dict] = field(default_factory=list)  # {"task": id, "reason": ...}; never text
    manifest: str | None = None
    field_manifest: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def _file_names(tasks: list[dict]) -> dict[int, str]:
    """Output file name per task: the original name, with the key added where two tasks share a name."""
    def original(task):
        meta = task["data"].get(HOTICH) or {}
        return Path(meta.get("name") or str(task["data"].get("image", f"task-{task['id']}")).rsplit("/", 1)[-1]).name

    counts = Counter(original(t) for t in tasks)
    out = {}
    for task in tasks:
        name = original(task)
        if counts[name] > 1:
            key = (task["data"].get(HOTICH) or {}).get("key") or f"task{task['id']}"
            name = f"{Path(name).stem}-{key[:10].replace('~', '-')}{Path(name).suffix}"
        out[task["id"]] = name
    return out


def _fetch_image(client: LabelStudio, task: dict, names: ConfigNames, target: Path) -> None:
    """The task's image into ``target``, unless already there with the right hash; verified against the hash
    recorded at push time."""
    digest = (task["data"].get(HOTICH) or {}).get("sha256")
    if digest and target.is_file() and sha256(target.read_bytes()) == digest:
        return
    url = task["data"].get(names.image_key)
    if not isinstance(url, str) or not url:
        raise ResultProblem(f"task data has no {names.image_key!r} image URL")
    data = client.download(url)
    if digest and sha256(data) != digest:
        raise ResultProblem("downloaded image differs from the pushed one (SHA-256 mismatch)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def pull(client: LabelStudio, title: str, out: str | os.PathLike, progress: bool = True) -> PullReport:
    """Export project ``title`` into ``out``: ``manifest.jsonl`` + ``images/`` (lines), or ``pages/`` +
    ``fields/manifest.jsonl`` (pages); and ``pull.json``, the report."""
    started = time.monotonic()
    _check_title(title)
    project = client.find_project(title)
    if project is None:
        raise LabelStudioError(f"no project called {title!r} at {client.url}")
    try:
        names = parse_config(project["label_config"])
    except ConfigError as exc:
        raise LabelStudioError(f"project {title!r}: {exc}") from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = sorted(client.export(project["id"]), key=lambda t: t["id"])
    report = PullReport(project["id"], title, names.kind, str(out), tasks=len(tasks))
    file_names = _file_names(tasks)
    records: list[LineRecord] = []
    field_records: list[LineRecord] = []
    for task in tqdm(tasks, desc="pulling", unit="task", disable=not progress):
        annotation = winning_annotation(task)
        if annotation is None:
            if any(a.get("was_cancelled") for a in task.get("annotations") or []):
                report.skipped += 1
            else:
                report.unannotated += 1
            continue
        meta = task["data"].get(HOTICH) or {}
        origin = provenance(project["id"], task, annotation, names)
        try:
            if names.kind == LINE:
                text = text_of(names, annotation["result"])
                image = out / "images" / file_names[task["id"]]
                _fetch_image(client, task, names, image)
                extra = {k: v for k, v in (meta.get("extra") or {}).items() if k != "labelstudio"}
                records.append(LineRecord(image, text, {**extra, "labelstudio": origin}))
            else:
                image = out / "pages" / file_names[task["id"]]
                _fetch_image(client, task, names, image)
                width, height = meta.get("width"), meta.get("height")
                if not (width and height):
                    from annotation.pages import image_size

                    width, height = image_size(image)
                fields = fields_of(names, annotation["result"], width, height, meta.get("field_extra"))
                extra = {k: v for k, v in (meta.get("extra") or {}).items() if k != "labelstudio"}
                page = Page(image, width, height, fields, meta.get("book"), extra={**extra, "labelstudio": origin})
                write_page_json(page, image.with_suffix(".json"), image.name)
                field_records.extend(_field_crops(page, out / "fields", task["id"]))
        except ResultProblem as exc:
            report.problems.append({"task": task["id"], "annotation": annotation.get("id"), "reason": str(exc)})
            continue
        report.pulled += 1
    if names.kind == LINE:
        report.manifest = str(out / "manifest.jsonl")
        write_manifest(records, report.manifest)
    else:
        report.field_manifest = str(out / "fields" / "manifest.jsonl")
        write_manifest(field_records, report.field_manifest)
    report.seconds = round(time.monotonic() - started, 2)
    (out / "pull.json").write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n")
    if report.problems:
        log.warning("%d annotated tasks could not be used; see %s", len(report.problems), out / "pull.json")
    return report


def _field_crops(page: Page, folder: Path, task_id: int) -> list[LineRecord]:
    """Line crops of a page's fields that have text, for the recognizer (axis-aligned bounding boxes)."""
    todo = [f for f in page.fields if f.text]
    if not todo:
        return []
    import math

    image = load_upright(page.image)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, f in enumerate(todo):
        x0, y0, x1, y1 = f.box
        if f.rotation:
            # Rotation is about the top-left corner (Label Studio): crop the rotated rectangle's bounding box.
            cos, sin = math.cos(math.radians(f.rotation)), math.sin(math.radians(f.rotation))
            corners = [(x0 + dx * cos - dy * sin, y0 + dx * sin + dy * cos)
                       for dx, dy in ((0, 0), (x1 - x0, 0), (0, y1 - y0), (x1 - x0, y1 - y0))]
            x0, x1 = min(c[0] for c in corners), max(c[0] for c in corners)
            y0, y1 = min(c[1] for c in corners), max(c[1] for c in corners)
        box = (max(0, math.floor(x0)), max(0, math.floor(y0)), min(page.width, math.ceil(x1)),
               min(page.height, math.ceil(y1)))
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        crop = folder / "images" / f"{page.image.stem}-{i:03d}-{f.key}.png"
        crop.parent.mkdir(parents=True, exist_ok=True)
        image.crop(box).save(crop)
        out.append(LineRecord(crop, f.text, {"source": "labelstudio", "book": page.book, "field": f.key,
                                             "page": page.image.name, "box": list(box), "task": task_id}))
    return out
