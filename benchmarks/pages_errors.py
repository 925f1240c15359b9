"""Where the page pipeline's wrong fields come from: per field key, how many true fields come back right, wrong
(and how far off: the character error rate of the text read), or missing, through the pipeline and through the
pipeline handed the page's true layout, on the same held-out pages as ``benchmarks/pages_pipeline.py``.

    python benchmarks/pages_errors.py [--seed 700000000] [--pages-per-book 6] [--out FILE]

A field wrong with the detector's layout but right with the true one is the layout's; wrong with both, the
recognizer's or the domain rules'. "near" counts wrong fields whose text is within 10% character error of the
truth (a letter or two: recognition), "far" the rest (another field's text, merged or cut values: layout, or a
line read badly). Writes counts only; no field text is printed or stored.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pages_pipeline import SEED, TrueLayout, matched_records, normalized  # noqa: E402
from data.pages.dataset import page_specs  # noqa: E402
from data.pages.lines import LINE_PAD  # noqa: E402
from data.pages.render import render_page  # noqa: E402
from data.schema import BOOKS  # noqa: E402
from inference.pages import PagePipeline  # noqa: E402
from models.metrics import edit_distance  # noqa: E402

NEAR = 0.10


def field_outcomes(truth, result) -> dict[str, str]:
    """``{"<entry>/<key>": "right" | "near" | "far" | "missing" | "no_record"}`` for every filled true field."""
    records = result["records"]
    outcomes = {}
    for entry, best in matched_records(truth, records):
        predicted = {f["key"]: f for f in records[best]["fields"]} if best is not None else {}
        for key, text in entry.record.items():
            if not text.strip():
                continue
            name = f"{entry.index}/{key}"
            got = predicted.get(key)
            if best is None:
                outcomes[name] = "no_record"
            elif got is None:
                outcomes[name] = "missing"
            elif normalized(truth.book, key, got["text"]) == normalized(truth.book, key, text):
                outcomes[name] = "right"
            else:
                read, true = " ".join(got["text"].split()), " ".join(text.split())
                cer = edit_distance(read, true) / max(1, len(true))
                outcomes[name] = "near" if cer <= NEAR else "far"
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages-per-book", type=int, default=6)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages_errors.json")
    args = parser.parse_args()

    pipeline = PagePipeline.from_dirs(None, None, args.threads, review_threshold=0.0)
    by_key: dict[str, dict[str, Counter]] = defaultdict(lambda: {"pipeline": Counter(), "true_layout": Counter(),
                                                                 "layout_only": Counter()})
    specs = [s for b in BOOKS for s in page_specs(b, args.pages_per_book, seed=args.seed, split="heldout")]
    for spec in tqdm(specs, desc="held-out pages", unit="page"):
        image, truth = render_page(spec.book, spec.template, spec.seed, split="heldout")
        got = field_outcomes(truth, pipeline(image))
        oracle = PagePipeline(TrueLayout(truth), pipeline.recognizer, review_threshold=0.0, deskew=False,
                              field_line_pad=LINE_PAD,
                              field_recognizer=pipeline.field_recognizer,
                              heading_recognizer=pipeline.heading_recognizer)
        ceiling = field_outcomes(truth, oracle(image, book=truth.book))
        for name, outcome in got.items():
            key = f"{truth.book}.{name.split('/', 1)[1]}"
            by_key[key]["pipeline"][outcome] += 1
            by_key[key]["true_layout"][ceiling[name]] += 1
            if outcome != "right" and ceiling[name] == "right":
                by_key[key]["layout_only"][outcome] += 1

    total = {p: Counter() for p in ("pipeline", "true_layout", "layout_only")}
    for counts in by_key.values():
        for p, c in counts.items():
            total[p].update(c)
    n = sum(total["pipeline"].values())
    rows = sorted(by_key.items(), key=lambda kv: -(sum(kv[1]["pipeline"].values()) - kv[1]["pipeline"]["right"]))
    out = {"seed": args.seed, "pages": len(specs), "fields": n, "near_cer": NEAR,
           "total": {p: dict(c) for p, c in total.items()},
           "by_key": {k: {p: dict(c) for p, c in v.items()} for k, v in rows}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")

    print(f"{n} true fields; pipeline {dict(total['pipeline'])}; true layout {dict(total['true_layout'])}; "
          f"wrong only through the detector's layout {dict(total['layout_only'])}")
    print("| key | fields | wrong | near | far | missing | no record | wrong, true layout | near | far | layout's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, c in rows[:40]:
        p, t = c["pipeline"], c["true_layout"]
        fields = sum(p.values())
        print(f"| {key} | {fields} | {fields - p['right']} | {p['near']} | {p['far']} | {p['missing']} | "
              f"{p['no_record']} | {fields - t['right']} | {t['near']} | {t['far']} | {sum(c['layout_only'].values())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
