"""``hotich data …`` commands: build datasets, export manifests, print statistics, draw contact sheets."""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import numpy as np

from data.charset import out_of_charset
from data.manifest import read_manifest

PREVIEW_SOURCES = ("ink", "font", "print", "cinnamon", "vnondb")


def _rows(source: str, split: str, n: int | None, seed: int, book: str | None, field: str | None,
          height: int, progress: bool = True):
    """Rows of one source as (iterator, total)."""
    from data import datasets as ds

    if source == "cinnamon":
        records = ds.cinnamon_records(split)[:n] if n else ds.cinnamon_records(split)
        rows = ({"image": str(r.image), "text": r.text, **r.extra} for r in records)
        return rows, len(records)
    if source == "vnondb":
        import itertools

        rows = ds.vnondb_lines(split, height=height, seed=seed)
        return (itertools.islice(rows, n) if n else rows), n
    if source == "print":
        if not n:
            raise ValueError("synthetic sources need --n (they are unlimited)")
        from data.print_lines import PrintLineSynthesizer

        synth = PrintLineSynthesizer(height)
        rows = ({"image": line.image, "text": line.text, "source": "print", "face": line.face}
                for line in (synth.sample(seed + i) for i in range(n)))
        return rows, n
    if source in ("synth", "ink", "font"):
        if not n:
            raise ValueError("synthetic sources need --n (they are unlimited)")
        kind = None if source == "synth" else source
        return ds.synthetic_lines(n, seed=seed, source=kind, book=book, field=field, height=height), n
    raise ValueError(f"unknown source {source!r}; expected cinnamon, vnondb, synth, ink, font or print")


def export_manifest_command(args) -> int:
    from data.datasets import export_manifest

    rows, total = _rows(args.source, args.split, args.n, args.seed, args.book, args.field, args.height)
    path = export_manifest(rows, args.out, name=args.name, total=total)
    print(json.dumps({"manifest": str(path), "lines": sum(1 for _ in path.open(encoding="utf-8"))}))
    return 0


def build_command(args) -> int:
    """Build the standard datasets: Cinnamon train/val, VNOnDB train/val lines, synthetic train/val fields."""
    from data.datasets import export_manifest
    from data.settings import SharedDataMissing

    out = Path(args.out)
    plan = [("cinnamon", "train", None, 0), ("cinnamon", "val", None, 0),
            ("vnondb", "train", None, args.seed), ("vnondb", "val", None, args.seed + 10_000_000),
            # Validation seeds live far from training seeds, so a synthetic val line is never a train line.
            ("synth", "train", args.synthetic_n, args.seed), ("synth", "val", args.synthetic_val_n, 900_000_000)]
    summary = {}
    for source, split, n, seed in plan:
        if args.only and source not in args.only:
            continue
        name = f"{source}-{split}"
        try:
            rows, total = _rows(source, split, n, seed, None, None, args.height)
            path = export_manifest(rows, out / name, total=total)
        except SharedDataMissing as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        summary[name] = {"manifest": str(path), "lines": sum(1 for _ in path.open(encoding="utf-8"))}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


def manifest_stats(path: str | Path) -> dict:
    records = read_manifest(path)
    lengths = np.array([len(r.text) for r in records]) if records else np.zeros(1)
    chars = collections.Counter(c for r in records for c in r.text)
    bad = sorted(set().union(*(out_of_charset(r.text) for r in records))) if records else []
    return {
        "manifest": str(path), "lines": len(records),
        "sources": dict(collections.Counter(r.extra.get("source", "?") for r in records)),
        "books": dict(collections.Counter(r.extra.get("book") for r in records if r.extra.get("book"))),
        "chars": int(lengths.sum()), "distinct_chars": len(chars),
        "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
        "out_of_charset": bad,
        "missing_images": sum(1 for r in records if not Path(r.image).is_file()),
    }


def shared_stats() -> dict:
    """Counts of the real data (no text is printed: ledger-like text stays out of logs)."""
    from data.datasets import cinnamon_records
    from data.settings import SharedDataMissing, shared_dir

    stats: dict = {"shared": str(shared_dir())}
    try:
        stats["cinnamon"] = {s: len(cinnamon_records(s)) for s in ("train", "val", "photos")}
    except SharedDataMissing as exc:
        stats["cinnamon"] = {"error": str(exc)}
    try:
        from data.ink import load_corpus, load_writer_split

        corpus = load_corpus(progress=True)
        split = load_writer_split()
        stats["vnondb"] = {**corpus.stats(), "train_writers": len(split["train"]), "val_writers": len(split["val"])}
    except SharedDataMissing as exc:
        stats["vnondb"] = {"error": str(exc)}
    from data.fonts import available_fonts, handwriting_fonts

    stats["fonts"] = {"handwriting": len(handwriting_fonts()), "in_use": [p.name for p in available_fonts()]}
    return stats


def stats_command(args) -> int:
    result = [manifest_stats(m) for m in args.manifest] if args.manifest else shared_stats()
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    return 0


def preview_command(args) -> int:
    from data.contact_sheet import save_contact_sheet

    if args.source not in PREVIEW_SOURCES:
        raise ValueError(f"--source must be one of {PREVIEW_SOURCES}")
    if args.source == "cinnamon":
        from PIL import Image

        from data.datasets import cinnamon_records

        records = cinnamon_records(args.split)
        picks = np.random.default_rng(args.seed).choice(len(records), size=min(args.n, len(records)), replace=False)
        items = [(Image.open(records[i].image), records[i].text) for i in sorted(picks)]
    else:
        rows, _ = _rows(args.source, args.split, args.n, args.seed, args.book, args.field, args.height)
        items = [(row["image"], row["text"]) for row in rows]
    path = save_contact_sheet(items, args.out, columns=args.columns, title=f"hotich data preview: {args.source}")
    print(json.dumps({"sheet": str(path), "lines": len(items)}))
    return 0


# -- synthetic pages ------------------------------------------------------------------------------------------
def pages_command(args) -> int:
    """Render synthetic register pages into a folder (resumable), with COCO, PAGE-XML and a contact sheet."""
    from data.pages.dataset import page_specs, write_pages

    if args.n < 1:
        raise ValueError("--n must be at least 1")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    specs = page_specs(args.book, args.n, args.seed, args.split, args.variant, generated=args.generated)
    summary = write_pages(specs, args.out, workers=args.workers, long_side=args.long_side,
                          degradation=args.degradation, fmt=args.format, entries=args.entries)
    if args.sheet != "none":
        from PIL import Image

        from data.pages.preview import save_pages_sheet
        from data.pages.truth import PageTruth

        out = Path(args.out)
        shown = specs[:8]
        items = [(Image.open(out / "images" / f"{s.page_id}.{args.format}"),
                  PageTruth.from_json((out / "gt" / f"{s.page_id}.json").read_text(encoding="utf-8"))) for s in shown]
        sheet = save_pages_sheet(items, args.sheet or out / "sheet.png", columns=4, tile_width=800,
                                 title=f"hotich synthetic pages: {args.book}, {args.split}")
        summary["sheet"] = str(sheet)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def page_lines_command(args) -> int:
    """Crop every ground-truth line of a folder of rendered pages into a line manifest (no text printed)."""
    from data.pages.lines import write_page_lines

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    print(json.dumps(write_page_lines(args.pages, args.out, limit=args.limit, shuffle=args.shuffle,
                                      headings=args.headings)))
    return 0


def pages_sheet_command(args) -> int:
    """One page of every template (held-out variants marked) with its ground truth drawn over it."""
    from tqdm.auto import tqdm

    from data.pages import PageRenderer, templates
    from data.pages.preview import save_pages_sheet

    renderers = {split: PageRenderer(split=split, long_side=args.long_side) for split in ("train", "heldout")}
    items = []
    for i, template in enumerate(tqdm(templates(), desc="rendering", unit="page")):
        renderer = renderers["heldout" if template.split == "heldout" else "train"]
        items.append(renderer.render(template.book, template.id, seed=args.seed + i))
    path = save_pages_sheet(items, args.out, columns=args.columns, tile_width=args.tile_width,
                            title="hotich synthetic register pages: every template (green entries, blue fields, "
                                  "red text lines, magenta seals and signatures, orange page-header fields)")
    print(json.dumps({"sheet": str(path), "pages": len(items)}))
    return 0


def templates_command(args) -> int:
    from data.pages import templates

    rows = [{"id": t.id, "book": t.book, "split": t.split, "layout": t.layout, "orientation": t.orientation,
             "entries": list(t.entries), "years": list(t.years), "columns": len(t.columns),
             "fields": len(t.field_keys), "description": t.description} for t in templates()]
    print(json.dumps(rows, ensure_ascii=False, indent=1))
    return 0
