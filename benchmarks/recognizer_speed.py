"""PyTorch greedy decoding speed of a recognizer on real line crops.

    python benchmarks/recognizer_speed.py [--model DIR] [--batch-size 16] [--lines 96] [--repeats 5]

Median lines/s over ``--repeats`` passes of the first ``--lines`` Cinnamon validation crops (width-sorted
batches, as ``hotich eval`` runs), all threads of the machine; prints one JSON object and writes it under
``benchmarks/results/``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.datasets import cinnamon_records  # noqa: E402
from inference.evaluate import default_model_dir  # noqa: E402
from models.recognition.predictor import recognize  # noqa: E402
from models.recognition.recognizer import count_parameters, load_recognizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lines", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recognizer_speed.json")
    args = parser.parse_args()
    model_dir = args.model or default_model_dir()
    model, tokenizer, processor = load_recognizer(model_dir)
    images = [np.asarray(Image.open(r.image).convert("RGB")) for r in cinnamon_records("val")[: args.lines]]
    recognize(model, tokenizer, processor, images[: args.batch_size], batch_size=args.batch_size)  # warm-up
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        recognize(model, tokenizer, processor, images, batch_size=args.batch_size)
        rates.append(len(images) / (time.perf_counter() - start))
    result = {"model": str(model_dir), "parameters": count_parameters(model), "batch_size": args.batch_size,
              "lines": len(images), "threads": torch.get_num_threads(),
              "lines_per_s_median": round(statistics.median(rates), 2), "runs": [round(r, 2) for r in rates]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
