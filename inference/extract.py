"""``hotich extract PAGES_OR_FOLDER --out DIR``: pages → per-page JSON, overlay PNG and PAGE-XML, and per run the
Ministry import workbook of every book met.

A multi-page TIFF or a PDF is read page by page: each page is named ``<file stem>-p<page number>`` (from 1,
zero-padded to at least three digits) and records its file and page number.

Resumable: a page whose JSON is already in ``OUT/pages/`` is skipped (its records still go into the workbooks,
which are rebuilt from the JSON files at the end of every run). Outputs are written to a temporary name and
renamed, so an interrupted run never leaves a half-written page behind. No field text is logged.
"""
from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from data.files import atomic_write
from data.pages.export import HEADING, to_page_xml
from data.pages.truth import EntryTruth, FieldTruth, Heading, PageTruth, Region, TextLine
from inference.images import PDF_DPI, BadImage, decode_image, page_count
from inference.records import write_import_workbook

log = logging.getLogger("hotich.extract")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pdf"}
#: Files that may hold several pages (each is opened up front to count them, read only as far as that needs).
MULTI_PAGE_SUFFIXES = {".tif", ".tiff", ".pdf"}


def find_pages(sources: list[str | Path]) -> list[Path]:
    """Image files named directly or found (recursively, sorted) in the folders named."""
    pages: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            pages += sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif source.is_file():
            pages.append(source)
        else:
            raise FileNotFoundError(f"{source}: no such file or folder")
    return pages


def confidence_colour(confidence: float, threshold: float) -> tuple[int, int, int]:
    """Green when auto-accepted, orange just below the threshold, red far below it."""
    if confidence >= threshold:
        return (0, 150, 60)
    return (235, 140, 0) if confidence >= threshold - 0.2 else (210, 30, 30)


def draw_overlay(image: Image.Image, result: dict, show_text: bool = True) -> Image.Image:
    """Entry boxes in blue; field boxes coloured by confidence with ``key: text (confidence)``."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas, "RGBA")
    threshold = result["page"]["review_threshold"]
    size = max(11, canvas.size[0] // 110)
    try:
        from data.pages.layout import pil_font, print_font_path

        font = pil_font(print_font_path("sans"), size)
    except Exception:  # the overlay is still useful without a Vietnamese font
        font = ImageFont.load_default()
    for cell in result["page"].get("headings", []):  # the printed headings that named the columns
        draw.rectangle(cell["bbox"], outline=(120, 120, 120, 255), width=1)
    for entry in result["page"]["entries"]:
        draw.rectangle(entry["bbox"], outline=(40, 90, 220, 255), width=3)
    fields = result["page"]["page_fields"] + [f for e in result["page"]["entries"] for f in e["fields"]]
    for f in fields:
        colour = confidence_colour(f["confidence"], threshold)
        for box in f.get("boxes") or [f["bbox"]]:  # a value wrapped around another one's line: a box per part
            draw.rectangle(box, outline=colour + (255,), fill=colour + (28,), width=2)
        label = f"{f['key']}: {f['text']} ({f['confidence']:.2f})" if show_text else f"{f['key']} ({f['confidence']:.2f})"
        x, y = f["bbox"][0] + 2, max(0, f["bbox"][1] - size - 2)
        box = draw.textbbox((x, y), label, font=font)
        draw.rectangle(box, fill=(255, 255, 255, 200))
        draw.text((x, y), label, fill=colour, font=font)
    return canvas


def result_to_truth(result: dict, page_id: str) -> PageTruth:
    """The pipeline's tree as a :class:`PageTruth`, so predictions and ground truth share one PAGE-XML writer."""
    page = result["page"]

    def field_truth(f: dict, entry: int | None) -> FieldTruth:
        boxes = f.get("boxes") or [f["bbox"]]

        def box_of(line: dict) -> int:
            cx, cy = (line["bbox"][0] + line["bbox"][2]) / 2, (line["bbox"][1] + line["bbox"][3]) / 2
            return next((i for i, b in enumerate(boxes) if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]), 0)

        lines = [TextLine(ln["text"], Region.from_box(*ln["bbox"]), f["key"], entry, box_of(ln)) for ln in f["lines"]]
        return FieldTruth(f["key"], f["text"], [Region.from_box(*b) for b in boxes], lines, entry)

    entries = [EntryTruth(e["entry"], Region.from_box(*e["bbox"]), False, {f["key"]: f["text"] for f in e["fields"]},
                          [field_truth(f, e["entry"]) for f in e["fields"]]) for e in page["entries"]]
    return PageTruth(book=page["book"], template="predicted", template_split="", split="", seed=0,
                     width=page["width"], height=page["height"], entries=entries,
                     page_fields=[field_truth(f, None) for f in page["page_fields"]],
                     # The pipeline does not tell a title from a column heading: every cell is level "heading".
                     headings=[Heading(h["text"], Region.from_box(*h["bbox"]), HEADING)
                               for h in page.get("headings", [])],
                     meta={"page_id": page_id})


#: A 600 dpi A3 spread is ~70 Mpx; anything far larger is not a page scan.
MAX_PAGE_PIXELS = 80_000_000


def page_stems(files: list[Path]) -> dict[str, tuple[Path, int | None]]:
    """Each page of ``files`` under a unique name: ``{stem: (file, page index, None for a file of one page)}``.
    A multi-page file's pages are ``<stem>-p001``, ``<stem>-p002``, ...; a name already taken (the same file
    name in two folders) is prefixed with the file's folder name (and numbered if still taken). A file that
    cannot be opened counts as one page, which then fails with the reason."""
    stems: dict[str, tuple[Path, int | None]] = {}

    def unique(stem: str, path: Path) -> str:
        if stem not in stems:
            return stem
        stem = candidate = f"{path.parent.name}__{stem}"
        for n in itertools.count(2):
            if candidate not in stems:
                return candidate
            candidate = f"{stem}~{n}"

    for path in files:
        pages = 1
        if path.suffix.lower() in MULTI_PAGE_SUFFIXES:
            try:
                pages = page_count(path, path.name)
            except (BadImage, OSError):
                pages = 1  # read again page by page, where the reason is recorded
        if pages <= 1:
            stems[unique(path.stem, path)] = (path, None)
            continue
        digits = max(3, len(str(pages)))
        for n in range(pages):
            stems[unique(f"{path.stem}-p{n + 1:0{digits}d}", path)] = (path, n)
    return stems


def extract_folder(pipeline, sources: list[str | Path], out: str | Path, book: str | None = None,
                   overlay_text: bool = True, progress: bool = True, max_page_pixels: int = MAX_PAGE_PIXELS,
                   pdf_dpi: float = PDF_DPI) -> dict:
    """Run ``pipeline`` over every page; returns a summary (counts, workbook paths, failures by file name, with
    `` page N`` after it for one page of a multi-page file)."""
    out = Path(out)
    for sub in ("pages", "overlays", "page-xml"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    stems = page_stems(find_pages(sources))
    failures: dict[str, str] = {}
    done = {s for s in stems if (out / "pages" / f"{s}.json").is_file()}
    bar = tqdm(total=len(stems), initial=len(done), desc="extracting pages", unit="page", disable=not progress)
    held: tuple[Path, bytes] | None = None  # the file being read, kept while its pages are
    for stem, (path, index) in stems.items():
        if stem in done:
            continue
        name = path.name if index is None else f"{path.name} page {index + 1}"
        try:
            if held is None or held[0] != path:
                held = (path, path.read_bytes())
            image = Image.fromarray(decode_image(held[1], path.name, max_page_pixels, page=index, dpi=pdf_dpi))
        except (BadImage, OSError) as error:
            failures[name] = str(error)
            log.warning("skipped %s: %s", name, error)
            bar.update()
            continue
        result = pipeline(image, book=book)
        result["page"]["source"] = path.name
        if index is not None:
            result["page"]["source_page"] = index + 1
        atomic_write(out / "overlays" / f"{stem}.png", _png(draw_overlay(image, result, overlay_text)))
        xml = to_page_xml(result_to_truth(result, stem), path.name)
        atomic_write(out / "page-xml" / f"{stem}.xml", xml.encode("utf-8"))
        atomic_write(out / "pages" / f"{stem}.json", json.dumps(result, ensure_ascii=False, indent=1).encode("utf-8"))
        bar.update()
    bar.close()
    workbooks = write_workbooks(out)
    summary = {"pages": len(stems), "skipped_done": len(done), "failed": failures, "workbooks": workbooks}
    atomic_write(out / "summary.json", json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
    return summary


def write_workbooks(out: Path) -> dict[str, str]:
    """One import workbook per book from every page JSON under ``out/pages`` (pages in name order)."""
    by_book: dict[str, list[dict]] = {}
    for path in sorted((out / "pages").glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        for record in result["records"]:
            page = result["page"].get("source", path.stem)
            if result["page"].get("source_page"):
                page = f"{page} p.{result['page']['source_page']}"
            by_book.setdefault(record["book"], []).append({**record, "page": page})
    written = {}
    for book, records in sorted(by_book.items()):
        target = out / f"import-{book}.xlsx"
        write_import_workbook(records, book, target, review_sheet=True)
        written[book] = str(target)
    return written


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = ["draw_overlay", "extract_folder", "find_pages", "page_stems", "result_to_truth", "write_workbooks"]
