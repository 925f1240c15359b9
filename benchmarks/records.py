"""Domain rules: normalization accuracy on generated text, and build_record latency.

    python benchmarks/records.py [--records 200] [--places 2000] [--repeats 5]

Accuracy (text written by the data.text generators, whose truth is known): share of fields of generated
records read without an error flag; gazetteer matches right on every written level (and right or flagged
ambiguous); closed vocabularies after one simulated OCR error, right and "wrong but scored >= 0.9".
Latency: median over ``--repeats`` runs of the mean build_record time per record (one core, after a warm-up
run, which also fills the gazetteer caches the pipeline keeps warm). Prints one JSON object; writes
``benchmarks/results/records.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.charset import strip_marks  # noqa: E402
from data.schema import BOOKS  # noqa: E402
from data.text.fields import generate_record  # noqa: E402
from data.text.places import random_structured_place  # noqa: E402
from data.text.vocab import (  # noqa: E402
    ETHNIC_GROUPS, NATIONALITIES, write_ethnicity, write_gender, write_id_document_type, write_nationality,
    write_registration_type,
)
from inference.records import FLAGS, Severity, build_record, normalize_value  # noqa: E402


def generated(book: str, n: int, seed: int) -> list[dict]:
    return [generate_record(book, random.Random(seed + i), complete=i % 2 == 0) for i in range(n)]


def field_accuracy(n: int) -> dict:
    out = {}
    for book in BOOKS:
        fields = errors = review = 0
        for texts in generated(book, n, 10_000):
            record = build_record(book, 0, [(k, t, 1.0, None) for k, t in texts.items()], 0.9)
            review += record["needs_review"]
            for f in record["fields"]:
                fields += 1
                errors += any(FLAGS[c].severity is Severity.ERROR for c in f["flags"])
        out[book] = {"fields": fields, "fields_with_error_flag": round(errors / fields, 5),
                     "records_sent_to_review_at_recognizer_confidence_1": round(review / n, 4)}
    return out


def place_accuracy(n: int) -> dict:
    rng = random.Random(20_000)
    exact = explained = 0
    for _ in range(n):
        place = random_structured_place(rng)
        result = normalize_value("place", place.text)
        v = result.value
        got = (v["provinceCode"], v["districtCode"], v["wardCode"])
        ok = got[0] == place.codes[0] and all(w is None or g == w for g, w in
                                              zip(got[1:], place.codes[1:], strict=True))
        exact += ok
        explained += ok or "place_ambiguous" in result.flags
    return {"places": n, "right": round(exact / n, 4), "right_or_flagged_ambiguous": round(explained / n, 4)}


def vocabulary_noise(n: int) -> dict:
    rng = random.Random(30_000)

    def noisy(text: str) -> str:
        if rng.random() < 0.5:
            return strip_marks(text)
        i = rng.randrange(len(text))
        return text if text[i] == " " else text[:i] + rng.choice("aeiouơưănmtc") + text[i + 1:]

    draws = {
        "gender": lambda: ((c := rng.choice((1, 2))), write_gender(rng, c)),
        "ethnicity": lambda: ((e := rng.choice(list(ETHNIC_GROUPS))), write_ethnicity(rng, e)),
        "nationality": lambda: ((x := rng.choice(list(NATIONALITIES))), write_nationality(rng, x)),
        "id_document_type": lambda: ((c := rng.randint(1, 8)), write_id_document_type(rng, c)),
        "registration_type": lambda: ((c := rng.randint(1, 6)), write_registration_type(rng, c)),
    }
    out = {}
    for kind, draw in draws.items():
        right = confident_wrong = 0
        for _ in range(n):
            truth, text = draw()
            result = normalize_value(kind, noisy(text))
            right += result.value == truth
            confident_wrong += result.value not in (None, truth) and result.score >= 0.9
        out[kind] = {"right": round(right / n, 4), "wrong_with_score_ge_0.9": round(confident_wrong / n, 4)}
    return out


def latency(n: int, repeats: int) -> dict:
    items = {book: [[(k, t, 0.95, [0, 0, 1, 1]) for k, t in texts.items()] for texts in generated(book, n, 40_000)]
             for book in BOOKS}
    out = {}
    for book, records in items.items():
        runs = []
        for r in range(repeats + 1):
            start = time.perf_counter()
            for i, fields in enumerate(records):
                build_record(book, i, fields, 0.9)
            if r:  # the first run warms the caches
                runs.append((time.perf_counter() - start) / len(records) * 1000)
        out[book] = {"ms_per_record_median": round(statistics.median(runs), 2),
                     "ms_per_record_runs": [round(x, 2) for x in runs]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="records per book")
    parser.add_argument("--places", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "records.json")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    result = {
        "machine": {"cpus_used": 1, "cpu_count": os.cpu_count()},
        "fields": field_accuracy(args.records),
        "places": place_accuracy(args.places),
        "vocabulary_one_ocr_error": vocabulary_noise(args.records * 2),
        "build_record_latency": latency(args.records // 2, args.repeats),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
