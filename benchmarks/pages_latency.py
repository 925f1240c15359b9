"""Page latency of the pipeline's recognizer choices, side by side: a 10-entry birth page (held-out layout)
of each benchmark seed, read with the second opinion (field lines by both recognizers) and the print reader
(headings), the default of ``hotich extract``; with the released recognizer alone; with the second opinion but
the headings read by the first recognizer (no print reader); and with both but without reading places,
surnames, dates, header numbers, relationships, nationalities, places' line ends and entry numbers again
(``place_prior=0, surname_prior=0, date_prior=0, header_number_prior=0, relationship_prior=0,
nationality_prior=0, line_end_comma_prior=0, sequence_prior=0,
given_name_prior=0``: :meth:`inference.pages.PagePipeline.read_again`
and the steps beside it), in turns on the same warm pipeline.

    python benchmarks/pages_latency.py [--seeds 700000000 710000000 720000000 730000000] [--runs 5]

The page of seed S is the one ``benchmarks/pages_pipeline.py --seed S`` times. Writes
``benchmarks/results/pages_latency.json``: per page each variant's runs, their median, and the ratio of the
medians.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.pages.render import render_page  # noqa: E402
from inference.pages import PagePipeline  # noqa: E402

SEEDS = [700_000_000, 710_000_000, 720_000_000, 730_000_000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages_latency.json")
    args = parser.parse_args()

    with_second = PagePipeline.from_dirs(threads=args.threads, review_threshold=0.0)
    if with_second.field_recognizer is None:
        raise SystemExit("no released second opinion to compare with (models/zoo/hotich-rec-second-opinion)")
    if with_second.heading_recognizer is None:
        raise SystemExit("no released print reader to compare with (models/zoo/hotich-rec-print)")
    variants = {"second_opinion": with_second,
                "single": PagePipeline(with_second.layout, with_second.recognizer, review_threshold=0.0),
                "no_print_reader": PagePipeline(with_second.layout, with_second.recognizer, review_threshold=0.0,
                                                field_recognizer=with_second.field_recognizer),
                "no_reread": PagePipeline(with_second.layout, with_second.recognizer, review_threshold=0.0,
                                          field_recognizer=with_second.field_recognizer,
                                          heading_recognizer=with_second.heading_recognizer, place_prior=0.0,
                                          surname_prior=0.0, date_prior=0.0, header_number_prior=0.0,
                                          relationship_prior=0.0, nationality_prior=0.0,
                                          line_end_comma_prior=0.0, sequence_prior=0.0,
                                          given_name_prior=0.0)}
    pages = []
    for seed in tqdm(args.seeds, desc="pages", unit="page"):
        image, truth = render_page("khai_sinh", None, seed + 99, split="heldout", entries=10)
        runs: dict[str, list[float]] = {name: [] for name in variants}
        for pipeline in variants.values():
            pipeline(image)  # warm-up
        for _ in range(args.runs):
            for name, pipeline in variants.items():
                t0 = time.perf_counter()
                pipeline(image)
                runs[name].append(round(time.perf_counter() - t0, 3))
        medians = {name: round(statistics.median(v), 3) for name, v in runs.items()}
        pages.append({"seed": seed, "template": truth.template, "size": list(image.size), "runs": runs,
                      "median_s": medians, "ratio": round(medians["second_opinion"] / medians["single"], 2),
                      "print_reader_ratio": round(medians["second_opinion"] / medians["no_print_reader"], 2),
                      "reread_ratio": round(medians["second_opinion"] / medians["no_reread"], 2)})
    out = {"threads": args.threads, "runs": args.runs, "pages": pages,
           "recognizers": [getattr(m, "label", None) or m.directory.name for m in with_second.field_recognizer.members],
           "print_reader": getattr(with_second.heading_recognizer, "directory", Path("none")).name}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("| page (seed) | template | size (px) | default: median s | single: median s | ratio | "
          "no print reader: median s | ratio | not read again: median s | ratio |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for p in pages:
        print(f"| {p['seed']} | {p['template']} | {p['size'][0]}×{p['size'][1]} | {p['median_s']['second_opinion']} | "
              f"{p['median_s']['single']} | {p['ratio']}× | {p['median_s']['no_print_reader']} | "
              f"{p['print_reader_ratio']}× | {p['median_s']['no_reread']} | {p['reread_ratio']}× |")


if __name__ == "__main__":
    main()
