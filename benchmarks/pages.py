"""Synthetic page throughput: pages per second for 10-entry birth-register pages.

    python benchmarks/pages.py [--pages 6] [--repeats 5] [--long-side 1600]

Two measurements, each the median over ``--repeats`` runs of ``--pages`` pages after a warm-up:

- ``render``: one process, in memory (``PageRenderer.render``), with all handwriting sources the machine has
  (VNOnDB ink and Cinnamon lines when the shared data is present) and with fonts only, side by side;
- ``write``: ``write_pages`` with 1 and with 2 worker processes, including JPEG, ground-truth JSON and PAGE-XML
  files (what ``hotich data pages`` does), as steady pages per second of wall time (the start-up of the
  worker processes is measured separately).

Pages are the training variants of the birth register drawn per seed, 10 entry rows, none blank. Prints one
JSON object and writes it to ``benchmarks/results/pages.json``. The machine may be shared with other work:
the load average at the start is recorded next to the numbers, and CPU seconds per page (which contention
inflates far less than wall time) are reported beside pages per second; ``pages_per_s_per_free_core`` is
1 / (CPU seconds per page), what one idle core would deliver.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def render_rate(renderer, pages: int, repeats: int, first_seed: int) -> dict:
    for seed in range(2):  # warm-up: glyph caches, ink composer plans, seal bank
        renderer.render("khai_sinh", None, seed=10_000 + seed, entries=10, blank=False)
    rates, cpu, templates = [], [], {}
    for r in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(pages):
            _, truth = renderer.render("khai_sinh", None, seed=first_seed + r * pages + i, entries=10, blank=False)
            templates[truth.template] = templates.get(truth.template, 0) + 1
        rates.append(pages / (time.perf_counter() - start))
        cpu.append((time.process_time() - start_cpu) / pages)
    return {"pages_per_s_median": round(statistics.median(rates), 3), "runs": [round(x, 3) for x in rates],
            "cpu_s_per_page_median": round(statistics.median(cpu), 3),
            "pages_per_s_per_free_core": round(1 / statistics.median(cpu), 3), "templates": templates}


def _timed_write(specs, workers: int, long_side: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished workers) of one ``write_pages`` run."""
    from data.pages.dataset import write_pages

    with tempfile.TemporaryDirectory() as tmp:
        before, start = os.times(), time.perf_counter()
        write_pages(specs, tmp, workers=workers, long_side=long_side, entries=10, progress=False)
        wall, after = time.perf_counter() - start, os.times()
    cpu = sum(getattr(after, k) - getattr(before, k) for k in ("user", "system", "children_user", "children_system"))
    return wall, cpu


def write_rate(workers: int, pages: int, repeats: int, long_side: int, first_seed: int) -> dict:
    """Steady throughput of ``write_pages``: runs of ``pages`` and ``2 * pages`` pages, the difference divided
    out, so that starting the worker processes (imports, fonts, ink corpus) does not count."""
    from data.pages.dataset import page_specs

    rates, cpu, startup = [], [], []
    for r in range(repeats):
        seed = first_seed + r * 3 * pages
        short_wall, short_cpu = _timed_write(page_specs("khai_sinh", pages, seed=seed), workers, long_side)
        long_wall, long_cpu = _timed_write(page_specs("khai_sinh", 2 * pages, seed=seed + pages), workers, long_side)
        per_page = max(long_wall - short_wall, 1e-6) / pages
        rates.append(1 / per_page)
        cpu.append(max(long_cpu - short_cpu, 0.0) / pages)
        startup.append(max(0.0, short_wall - pages * per_page))
    return {"workers": workers, "pages_per_s_median": round(statistics.median(rates), 3),
            "runs": [round(x, 3) for x in rates], "cpu_s_per_page_median": round(statistics.median(cpu), 3),
            "startup_s_median": round(statistics.median(startup), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long-side", type=int, default=1600)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages.json")
    args = parser.parse_args()

    from data.datasets import ink_available
    from data.pages import PageRenderer
    from data.pages.hands import CinnamonBank

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result: dict = {
        "machine": {"cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load or ()]},
        "page": {"book": "khai_sinh", "entries": 10, "blank_rows": 0, "long_side": args.long_side,
                 "variants": "training variants, drawn per seed"},
        "sources": {"ink": ink_available(), "cinnamon": len(CinnamonBank("train")) > 0},
    }
    full = PageRenderer(long_side=args.long_side)
    fonts = PageRenderer(long_side=args.long_side, use_ink=False, use_cinnamon=False)
    result["render_one_process"] = {
        "all_sources": render_rate(full, args.pages, args.repeats, 0),
        "fonts_only": render_rate(fonts, args.pages, args.repeats, 0),
    }
    result["write_pages"] = [write_rate(w, args.pages, max(3, args.repeats // 2), args.long_side, 1000)
                             for w in (1, 2)]
    one, two = (r["pages_per_s_median"] for r in result["write_pages"])
    result["write_pages_speedup_2_workers"] = round(two / one, 2) if one else None
    if load and load[0] > (os.cpu_count() or 1):
        result["note"] = ("the machine was shared (load average above the core count): wall-time rates are lower "
                          "bounds and the 2-worker speed-up is not meaningful; cpu_s_per_page tells the cost")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
