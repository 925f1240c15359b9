"""Synthesis throughput (ink and font paths, one core), VNOnDB parse time and cache size, realism sheet.

    python benchmarks/synthesis.py [--lines 300] [--repeats 5] [--sheet docs/synthetic_vs_real.png]

Throughput is the median over ``--repeats`` runs of ``--lines`` sampled ledger field lines each, after a
warm-up run, with the process pinned to one CPU and OpenCV single-threaded. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pin_one_core() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)


def field_texts(lines: int) -> list[str]:
    """Texts of random register fields of random books (short on average: names, dates, "Kinh")."""
    import random

    from data.schema import BOOKS
    from data.text.fields import generate_field

    rng = random.Random(0)
    pairs = [(b, f.key) for b in sorted(BOOKS) for f in BOOKS[b].register_fields]
    return [generate_field(*rng.choice(pairs), rng) for _ in range(lines)]


def address_texts(lines: int) -> list[str]:
    """Address-length texts (about as long as a Cinnamon line): the worst case for the ink path."""
    import random

    from data.text.places import random_place

    rng = random.Random(1)
    texts: list[str] = []
    while len(texts) < lines:
        text = random_place(rng)
        if len(text) >= 30:
            texts.append(text)
    return texts


def throughput(synth, source: str, texts: list[str], repeats: int) -> dict:
    # Texts are generated outside the timed loop: the benchmark measures rendering + degradation.
    lines = len(texts)
    for i, text in enumerate(texts):  # warm-up: glyph and style caches
        synth.render(text, 10_000 + i, source=source)
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        for i, text in enumerate(texts):
            synth.render(text, r * lines + i, source=source)
        rates.append(lines / (time.perf_counter() - start))
    return {"lines_per_s_median": round(statistics.median(rates), 1), "runs": [round(x, 1) for x in rates],
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1)}


def parse_benchmark() -> dict:
    from data.ink import load_corpus

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOTICH_CACHE"] = tmp
        start = time.perf_counter()
        corpus = load_corpus(use_cache=True, progress=False)
        cold = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        start = time.perf_counter()
        load_corpus(use_cache=True, progress=False)
        warm = time.perf_counter() - start
        del os.environ["HOTICH_CACHE"]
    return {"parse_cold_s": round(cold, 2), "load_cached_s": round(warm, 3), "cache_bytes": size,
            "cache_mib": round(size / 2**20, 2), **corpus.stats()}


def realism_sheet(synth, out: Path, n: int = 8) -> None:
    import random

    from PIL import Image

    from data.contact_sheet import save_contact_sheet
    from data.datasets import cinnamon_records
    from data.text.places import random_place

    real = cinnamon_records("val")[:n]
    rng = random.Random(5)
    items = []
    for i, record in enumerate(real):
        items.append((Image.open(record.image), f"real Cinnamon scan · {record.text}"))
        text = random_place(rng)
        source = "ink" if i % 2 == 0 else "font"
        items.append((synth.render(text, 500 + i, source=source).image, f"synthetic {source} · {text}"))
    save_contact_sheet(items, out, columns=2, cell_width=760, title="Real scans (left) next to synthetic ledger lines (right)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--sheet", type=Path, help="also write the real-vs-synthetic contact sheet here")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "synthesis.json")
    args = parser.parse_args()
    pin_one_core()

    from data.ink import load_corpus, load_writer_split
    from data.synth import LineSynthesizer

    result = {"machine": {"cpus_used": 1, "cpu_count": os.cpu_count()}, "height": args.height}
    result["vnondb"] = parse_benchmark()
    synth = LineSynthesizer(height=args.height, writers=load_writer_split()["train"],
                            ink_corpus=load_corpus(progress=False))
    texts = {"fields": field_texts(args.lines), "addresses": address_texts(args.lines)}
    for source in ("font", "ink"):
        result[source] = {kind: throughput(synth, source, t, args.repeats) for kind, t in texts.items()}
    if args.sheet:
        realism_sheet(synth, args.sheet)
        result["sheet"] = str(args.sheet)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
