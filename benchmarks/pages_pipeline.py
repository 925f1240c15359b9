"""Issue 5's numbers: held-out synthetic pages (unseen seeds; about half on each book's held-out layout) through
the whole page pipeline.

    python benchmarks/pages_pipeline.py [--pages-per-book 6] [--detector DIR] [--model DIR] [--latency-runs 5]
        [--second-model DIR | --single-model] [--heading-model DIR | --no-heading-model]

Lines are read as ``hotich extract`` reads them: field lines by the released recognizer and the released second
opinion together (``inference/ensemble.py``), the printed headings by the released print reader
(``models/zoo/hotich-rec-print``), unless ``--single-model``; the page header's print by the first alone.

Reports, per book and split (training layouts vs the held-out layout):
- field detection F1 at IoU 0.5 (the detected key must match);
- end-to-end field exact match: a true field counts as right when the record of the matching entry holds the
  same key with the same normalized value (texts compared when a value cannot be read);
- record accuracy: entries whose every field is right;
- review routing: for review thresholds 0.0–0.99, the share of fields auto-accepted (confidence ≥ threshold and
  no error flag) and how many of those are exactly right; the chosen threshold is the lowest one with ≥ 99%;
- median page latency of a 10-entry birth page on this machine (whole pipeline, after a warm-up);
- the same field F1 and exact match with the detector's own keys (printed headings not read: the pipeline before
  heading naming), side by side on the same pages;
- the share of pages whose book the pipeline found by itself (title, else field keys);
- the exact match of what the import spreadsheet receives (a place as the gazetteer writes it where it
  matched, so a misread letter the gazetteer corrects counts as right; the exact match above compares the
  place as read too), beside the headline figure, not in its place;
- the same exact match and record accuracy with the *true* layout in place of the detector's (the page's ground
  truth entries, field boxes and keys, and text lines): what recognition and the domain rules alone reach,
  the ceiling a perfect detector would leave.
Writes ``benchmarks/results/pages_pipeline.json``. No field text is printed.
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

from data.pages.dataset import page_specs  # noqa: E402
from data.pages.lines import LINE_PAD  # noqa: E402
from data.pages.render import render_page  # noqa: E402
from data.schema import BOOKS  # noqa: E402
from inference.pages import (DATE_PRIOR, FIELD_LINE_PAD, FIELD_VIEW_SHIFT, FUSED_ENTRY_ROWS,  # noqa: E402
                             GIVEN_NAME_PRIOR, HEADER_NUMBER_PRIOR, LINE_END_COMMA_PRIOR, MIN_HEADING_CONFIDENCE,
                             PLACE_PRIOR, RELATIONSHIP_PRIOR, SEQUENCE_PRIOR, SURNAME_PRIOR, PagePipeline)
from inference.records import FLAGS, Severity, normalize_field  # noqa: E402
from models.detection.layout import Region, box_iou, match_f1  # noqa: E402

THRESHOLDS = [round(0.05 * i, 2) for i in range(20)] + [0.97, 0.99]
SEED = 700_000_000  # far from the seeds of training (0…) and of the detector's validation pages


def normalized(book: str, key: str, text: str):
    try:
        value = normalize_field(book, key, text).value
    except KeyError:
        value = None
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value is not None else "text:" + " ".join(text.split())


def exported(book: str, key: str, text: str):
    """What the import spreadsheet receives for the field (``inference.records.spreadsheet``): a place as
    the gazetteer writes it where it matched, else as read; other values as normalized."""
    try:
        value = normalize_field(book, key, text).value
    except KeyError:
        value = None
    if isinstance(value, dict) and value.get("normalized"):
        return "place:" + value["normalized"]
    return normalized(book, key, text)


def has_error(flags) -> bool:
    return any(FLAGS.get(f) is not None and FLAGS[f].severity == Severity.ERROR for f in flags)


def matched_records(truth, records: list[dict]) -> list[tuple[object, int | None]]:
    """Each filled true entry with the index of the record it matches (the unused one whose box overlaps its
    row most, IoU > 0.3), or ``None``."""
    used: set[int] = set()
    out = []
    for entry in truth.filled_entries:
        best, best_iou = None, 0.3
        for i, record in enumerate(records):
            iou = box_iou(entry.region.bbox, tuple(record["bbox"]))
            if i not in used and iou > best_iou:
                best, best_iou = i, iou
        if best is not None:
            used.add(best)
        out.append((entry, best))
    return out


def score_page(truth, result) -> dict:
    """Per-page counts: detection TP/FP/FN for fields, fields right, records right, and (confidence, right,
    error-flagged) for every predicted field."""
    # A field wrapped around another one's line takes several boxes, as in the ground truth.
    fields_pred = [(tuple(box), f["key"]) for e in result["page"]["entries"] for f in e["fields"]
                   for box in f.get("boxes") or [f["bbox"]]]
    fields_pred += [(tuple(box), f["key"]) for f in result["page"]["page_fields"] for box in f.get("boxes") or [f["bbox"]]]
    fields_true = [(b.bbox, f.key) for f in truth.fields() for b in f.boxes]
    detection = match_f1(fields_pred, fields_true)

    records = result["records"]
    right_fields = total_fields = right_records = right_exported = 0
    routed = []
    for entry, best in matched_records(truth, records):
        predicted = {f["key"]: f for f in records[best]["fields"]} if best is not None else {}
        all_right = True
        for key, text in entry.record.items():
            if not text.strip():
                continue
            total_fields += 1
            got = predicted.get(key)
            ok = got is not None and normalized(truth.book, key, got["text"]) == normalized(truth.book, key, text)
            right_fields += ok
            right_exported += got is not None and exported(truth.book, key, got["text"]) == exported(truth.book, key, text)
            all_right &= ok
        right_records += all_right
        if best is not None:
            for f in records[best]["fields"]:
                true_text = entry.record.get(f["key"])
                ok = true_text is not None and normalized(truth.book, f["key"], f["text"]) == normalized(truth.book, f["key"], true_text)
                routed.append((f["confidence"] or 0.0, bool(ok), has_error(f["flags"])))
    return {"detection": detection, "book_right": result["page"]["book"] == truth.book, "fields": total_fields, "fields_right": right_fields,
            "fields_right_exported": right_exported,
            "records": len(truth.filled_entries), "records_right": right_records, "routed": routed}


class TrueLayout:
    """A layout predictor that answers with the page's ground truth (shape of ``LayoutPredictor.__call__``)."""

    def __init__(self, truth):
        self.truth = truth

    def __call__(self, image) -> dict[str, list[Region]]:
        return {"entry": [Region("entry", e.region.bbox, 1.0) for e in self.truth.entries if not e.blank],
                "field": [Region("field", b.bbox, 1.0, key=f.key, key_score=1.0)
                          for f in self.truth.fields() for b in f.boxes],
                "line": [Region("line", line.region.bbox, 1.0) for line in self.truth.lines()]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages-per-book", type=int, default=6)
    parser.add_argument("--seed", type=int, default=SEED,
                        help="first page seed (default %(default)s; another one checks a setting chosen on these)")
    parser.add_argument("--detector")
    parser.add_argument("--model")
    parser.add_argument("--second-model", help="second recognizer (default: the released second opinion)")
    parser.add_argument("--single-model", action="store_true", help="read lines with --model alone")
    parser.add_argument("--heading-model", help="recognizer of the printed headings (default: the released print reader)")
    parser.add_argument("--no-heading-model", action="store_true",
                        help="read the printed headings with --model, as before the print reader")
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--heading-confidence", type=float, default=MIN_HEADING_CONFIDENCE,
                        help="headings read with less confidence name no field (default %(default)s)")
    parser.add_argument("--field-beam", type=int, default=1,
                        help="hypotheses per field line (1: greedy; headings are always read greedily)")
    parser.add_argument("--place-prior", type=float, default=PLACE_PRIOR,
                        help="log-probability a gazetteer unit name is worth in a place's reading (0: off; "
                             "default %(default)s)")
    parser.add_argument("--surname-prior", type=float, default=SURNAME_PRIOR,
                        help="log-probability a listed surname is worth in a name's reading (0: off; default %(default)s)")
    parser.add_argument("--field-view-shift", type=int, default=FIELD_VIEW_SHIFT,
                        help="pixels down the recognizer reads each field line a second time, beside the second "
                             "opinion (0: not; default %(default)s)")
    parser.add_argument("--given-name-prior", type=float, default=GIVEN_NAME_PRIOR,
                        help="log-probability each listed given or middle name is worth in a name's reading (0: off; "
                             "default %(default)s)")
    parser.add_argument("--date-prior", type=float, default=DATE_PRIOR,
                        help="log-probability per date contradiction a year read again resolves (0: off)")
    parser.add_argument("--relationship-prior", type=float, default=RELATIONSHIP_PRIOR,
                        help="log-probability a relationship is worth in the reading of a word alone on the last "
                             "line of a name (0: off; default %(default)s)")
    parser.add_argument("--header-number-prior", type=float, default=HEADER_NUMBER_PRIOR,
                        help="log-probability a volume or page number read as digits is worth where the number read "
                             "has none (0: off; default %(default)s)")
    parser.add_argument("--line-end-comma-prior", type=float, default=LINE_END_COMMA_PRIOR,
                        help="log-probability a comma is worth at the end of a place's line that another line goes "
                             "on from (0: off; default %(default)s)")
    parser.add_argument("--sequence-prior", type=float, default=SEQUENCE_PRIOR,
                        help="log-probability an entry number is worth where it runs on by one from the page's "
                             "others (0: off; default %(default)s)")
    parser.add_argument("--field-line-pad", type=float, default=FIELD_LINE_PAD,
                        help="share of a detected field line's height its crop is padded with (the true layout's "
                             "lines take the recognizer's training pad, 0.15; default %(default)s)")
    parser.add_argument("--fused-entry-rows", type=float, default=FUSED_ENTRY_ROWS,
                        help="an entry this many times the page's median entry is cut at the table's rules (inf: "
                             "never; default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages_pipeline.json")
    args = parser.parse_args()

    # The readings again, as every pipeline below makes them.
    priors = dict(place_prior=args.place_prior, surname_prior=args.surname_prior, date_prior=args.date_prior,
                  header_number_prior=args.header_number_prior, relationship_prior=args.relationship_prior,
                  line_end_comma_prior=args.line_end_comma_prior, sequence_prior=args.sequence_prior,
                  given_name_prior=args.given_name_prior)
    pipeline = PagePipeline.from_dirs(args.detector, args.model, args.threads, second_recognizer=args.second_model,
                                      single_recognizer=args.single_model, heading_recognizer=args.heading_model,
                                      field_view_shift=args.field_view_shift, review_threshold=0.0,
                                      heading_confidence=args.heading_confidence, field_beam_width=args.field_beam,
                                      field_line_pad=args.field_line_pad, fused_entry_rows=args.fused_entry_rows,
                                      **priors)
    if args.no_heading_model:
        pipeline.heading_recognizer = None
    # The same models with the printed headings ignored: the detector's keys stand (side by side, same pages).
    detector_keys = PagePipeline(pipeline.layout, pipeline.recognizer, review_threshold=0.0,
                                 heading_confidence=float("inf"), field_beam_width=args.field_beam,
                                 field_recognizer=pipeline.field_recognizer,
                                 heading_recognizer=pipeline.heading_recognizer, field_line_pad=args.field_line_pad,
                                 fused_entry_rows=args.fused_entry_rows, **priors)
    groups: dict[tuple[str, str], list[dict]] = {}
    keys_only: dict[tuple[str, str], list[dict]] = {}
    true_layout: dict[tuple[str, str], list[dict]] = {}
    specs = [s for b in BOOKS for s in page_specs(b, args.pages_per_book, seed=args.seed, split="heldout")]
    for spec in tqdm(specs, desc="held-out pages", unit="page"):
        image, truth = render_page(spec.book, spec.template, spec.seed, split="heldout")
        result = pipeline(image)
        groups.setdefault((truth.book, truth.template_split), []).append(score_page(truth, result))
        keys_only.setdefault((truth.book, truth.template_split), []).append(score_page(truth, detector_keys(image)))
        # The truth is in the coordinates of the page as rendered: no deskew, and the book as the page's.
        oracle = PagePipeline(TrueLayout(truth), pipeline.recognizer, review_threshold=0.0, deskew=False,
                              field_line_pad=LINE_PAD,
                              field_beam_width=args.field_beam, field_recognizer=pipeline.field_recognizer,
                              heading_recognizer=pipeline.heading_recognizer, **priors)
        true_layout.setdefault((truth.book, truth.template_split), []).append(
            score_page(truth, oracle(image, book=truth.book)))

    def summarize(pages: list[dict]) -> dict:
        tp = sum(p["detection"]["tp"] for p in pages)
        fp = sum(p["detection"]["fp"] for p in pages)
        fn = sum(p["detection"]["fn"] for p in pages)
        return {"pages": len(pages), "book_found": round(sum(p["book_right"] for p in pages) / max(1, len(pages)), 4),
                "field_f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4),
                "field_exact_match": round(sum(p["fields_right"] for p in pages) / max(1, sum(p["fields"] for p in pages)), 4),
                "field_exact_match_exported": round(sum(p["fields_right_exported"] for p in pages)
                                                    / max(1, sum(p["fields"] for p in pages)), 4),
                "record_accuracy": round(sum(p["records_right"] for p in pages) / max(1, sum(p["records"] for p in pages)), 4)}

    def summarize_both(key_filter) -> dict:
        row, ceiling, before = (summarize([p for key, pages in sorted(passes.items()) if key_filter(key) for p in pages])
                                for passes in (groups, true_layout, keys_only))
        row.update(detector_keys_field_f1=before["field_f1"], detector_keys_field_exact_match=before["field_exact_match"],
                   detector_keys_book_found=before["book_found"])
        row.update(true_layout_field_exact_match=ceiling["field_exact_match"],
                   true_layout_field_exact_match_exported=ceiling["field_exact_match_exported"],
                   true_layout_record_accuracy=ceiling["record_accuracy"])
        return row

    table = {f"{book}/{split}": summarize_both(lambda k, g=(book, split): k == g) for book, split in sorted(groups)}
    for book in BOOKS:
        table[f"{book}/all"] = summarize_both(lambda k, b=book: k[0] == b)
    table["all"] = summarize_both(lambda k: True)

    def routing_of(passes: dict) -> tuple[list[dict], int]:
        routed = [r for pages in passes.values() for p in pages for r in p["routed"]]
        rows = []
        for t in THRESHOLDS:
            accepted = [ok for conf, ok, err in routed if conf >= t and not err]
            rows.append({"threshold": t, "auto_accepted": round(len(accepted) / max(1, len(routed)), 4),
                         "accepted_right": round(sum(accepted) / len(accepted), 4) if accepted else None})
        return rows, len(routed)

    routing, n_routed = routing_of(groups)
    routing_detector_keys, _ = routing_of(keys_only)
    chosen = next((r for r in routing if r["accepted_right"] is not None and r["accepted_right"] >= 0.99), None)

    latencies = []
    image, _ = render_page("khai_sinh", None, args.seed + 99, split="heldout", entries=10)
    pipeline(image)  # warm-up
    for _ in range(args.latency_runs):
        t0 = time.perf_counter()
        pipeline(image)
        latencies.append(time.perf_counter() - t0)

    out = {"pages": len(specs), "seed": args.seed, "groups": table, "routing": routing, "chosen_threshold": chosen,
           "routing_detector_keys": routing_detector_keys, "fields_routed": n_routed, "latency_10_entry_birth_page_s": {
               "median": round(statistics.median(latencies), 3), "runs": [round(v, 3) for v in latencies]},
           "detector": str(pipeline.layout.directory), "threads": args.threads,
           "recognizers": [getattr(m, "label", None) or m.directory.name
                           for m in getattr(pipeline.field_recognizer, "members", [pipeline.recognizer])],
           "heading_recognizer": getattr(pipeline.heading_recognizer, "directory", Path("none")).name,
           "heading_confidence": args.heading_confidence, "place_prior": args.place_prior,
           "surname_prior": args.surname_prior, "date_prior": args.date_prior,
           "header_number_prior": args.header_number_prior, "field_line_pad": args.field_line_pad,
           "relationship_prior": args.relationship_prior, "line_end_comma_prior": args.line_end_comma_prior,
           "sequence_prior": args.sequence_prior, "given_name_prior": args.given_name_prior,
           "field_view_shift": args.field_view_shift,
           "fused_entry_rows": args.fused_entry_rows,
           # The steps' defaults that take no option here, as the pipeline ran them.
           **{name: getattr(pipeline, name) for name in ("nationality_prior", "gender_prior", "ethnicity_prior",
                                                         "page_from_entries_prior", "follow_column_rules",
                                                         "header_crop_reads", "heading_phrase_reads")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("| book / layouts | pages | book found | field F1 @0.5 | F1, detector keys | field exact match | "
          "exact, detector keys | record accuracy | exact match, true layout | record accuracy, true layout | "
          "exact match as exported (true layout) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['pages']} | {100 * row['book_found']:.0f}% | {row['field_f1']:.3f} | "
              f"{row['detector_keys_field_f1']:.3f} | {100 * row['field_exact_match']:.1f}% | "
              f"{100 * row['detector_keys_field_exact_match']:.1f}% | {100 * row['record_accuracy']:.1f}% | "
              f"{100 * row['true_layout_field_exact_match']:.1f}% | {100 * row['true_layout_record_accuracy']:.1f}% | "
              f"{100 * row['field_exact_match_exported']:.1f}% ({100 * row['true_layout_field_exact_match_exported']:.1f}%) |")
    print(f"\nreview routing: {json.dumps(chosen)}; median 10-entry page latency "
          f"{out['latency_10_entry_birth_page_s']['median']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
