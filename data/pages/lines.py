"""Text lines cut out of register pages: the crop the page pipeline hands the recognizer, and a line manifest of
every ground-truth line of a folder of rendered pages (for training the recognizer on page lines).

A line on a 1,600 px page is 20–45 px tall, ruled lines and stains beside it: far from the 64 px line images
the recognizer first learned from (its character error on such crops was 33–58% where it reads Cinnamon val at
8%), so the pipeline's own crops are what it should also learn from.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

from PIL import Image

from data.manifest import LineRecord, write_manifest

LINE_PAD = 0.15  # of the line's height, on every side: detected boxes hug the ink tightly


def crop_line(image: Image.Image, box, pad: float = LINE_PAD) -> Image.Image:
    """The line's box grown by ``pad`` of its height on every side, clipped to the page."""
    x0, y0, x1, y1 = box
    p = pad * (y1 - y0)
    w, h = image.size
    return image.crop((max(0, int(x0 - p)), max(0, int(y0 - p)), min(w, int(x1 + p) + 1), min(h, int(y1 + p) + 1)))


def _pages(folder: Path) -> Iterator[tuple[Path, Path]]:
    """``(ground-truth JSON, image)`` of every page in a folder written by ``hotich data pages``."""
    gt_dir = folder / "gt"
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"{folder}: no gt/ folder; expected a folder written by `hotich data pages`")
    for gt in sorted(gt_dir.glob("*.json")):
        images = sorted((folder / "images").glob(f"{gt.stem}.*"))
        if not images:
            raise FileNotFoundError(f"{gt}: no image {gt.stem}.* under {folder / 'images'}")
        yield gt, images[0]


def write_page_lines(pages: str | Path, out: str | Path, limit: int | None = None, min_height: int = 6,
                     shuffle: int | None = None, progress: bool = True) -> dict:
    """Every ground-truth text line of the pages in ``pages`` as a PNG crop (:func:`crop_line`) under
    ``out/images/`` plus ``out/manifest.jsonl`` (``source`` ``page-<hand source>``, ``book``, ``field``,
    ``page``). ``limit`` caps the number of pages (evenly spaced over the folder); ``shuffle`` (a seed) writes the manifest in a seeded random
    order, so that its first lines (a validation limit) span every page instead of the first one. Re-running
    rewrites the manifest and keeps the crops already written. Returns counts (no text)."""
    from tqdm.auto import tqdm

    from data.pages.truth import PageTruth

    pages, out = Path(pages), Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    found = list(_pages(pages))
    if limit is not None and limit < len(found):
        # Evenly spaced in name order: page ids start with the template, so a prefix would be one or two books.
        found = [found[round(i * (len(found) - 1) / max(1, limit - 1))] for i in range(limit)]
    if not found:
        raise FileNotFoundError(f"{pages}: no pages under gt/")
    records, skipped = [], 0
    for gt, image_path in tqdm(found, desc="page lines", unit="page", disable=not progress):
        truth = PageTruth.from_dict(json.loads(gt.read_text(encoding="utf-8")))
        image = None
        for i, line in enumerate(truth.lines()):
            x0, y0, x1, y1 = line.region.bbox
            if not line.text.strip() or y1 - y0 < min_height or x1 - x0 < min_height:
                skipped += 1
                continue
            # The crop's name is a hash of where it comes from: stable across re-runs, no text in it.
            name = hashlib.sha256(f"{gt.stem}/{i}".encode()).hexdigest()[:20] + ".png"
            target = out / "images" / name
            if not target.exists():
                if image is None:
                    image = Image.open(image_path).convert("RGB")
                crop_line(image, line.region.bbox).save(target)
            records.append(LineRecord(target, line.text, {"source": f"page-{line.source}", "book": truth.book,
                                                          "field": line.field, "page": gt.stem}))
    if shuffle is not None:
        import random

        random.Random(shuffle).shuffle(records)
    count = write_manifest(records, out / "manifest.jsonl")
    return {"pages": len(found), "lines": count, "skipped": skipped, "manifest": str(out / "manifest.jsonl")}


__all__ = ["LINE_PAD", "crop_line", "write_page_lines"]
