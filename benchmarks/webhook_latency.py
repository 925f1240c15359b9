"""How fast the ML backend's ``/webhook`` answers: Label Studio gives a webhook 1 s, then drops it.

    python benchmarks/webhook_latency.py [--model DIR] [--events 200]

Starts ``hotich serve --ml-backend`` on 127.0.0.1 (a throwaway job queue), then posts ``--events``
ANNOTATION_CREATED events for three projects one after another: first on an idle server, then while two clients
keep the recognizer busy with batches of line images (the annotators' live predictions). Reports median, 95th
percentile and maximum latency per phase and the job count (3: one per project, whatever the number of events).
Prints one JSON object and writes ``benchmarks/results/webhook_latency.json``.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import RunningServer  # noqa: E402


def _line_png(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (64, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _post_events(url: str, n: int) -> list[float]:
    latencies = []
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            event = {"action": "ANNOTATION_CREATED", "project": {"id": 1 + i % 3, "title": "bench"},
                     "annotation": {"id": i}}
            start = time.perf_counter()
            client.post(url + "/labelstudio/webhook", json=event).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return latencies


def _summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"n": len(ordered), "median_ms": round(1000 * statistics.median(ordered), 2),
            "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max_ms": round(1000 * ordered[-1], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="recognizer or ONNX export (default: the released model)")
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as jobs:
        server = RunningServer((["--model", args.model] if args.model else []) + ["--ml-backend", "--jobs-dir", jobs],
                               timeout=300)
        try:
            while httpx.get(server.url + "/readyz").status_code != 200:
                time.sleep(0.2)
            idle = _post_events(server.url, args.events)
            stop = threading.Event()
            recognized = [0]
            files = [("files", (f"{i}.png", _line_png(i), "image/png")) for i in range(16)]

            def keep_busy():
                with httpx.Client(timeout=120) as client:
                    while not stop.is_set():
                        client.post(server.url + "/v1/lines:recognize", files=files).raise_for_status()
                        recognized[0] += len(files)

            workers = [threading.Thread(target=keep_busy) for _ in range(2)]
            for w in workers:
                w.start()
            time.sleep(1.0)
            busy = _post_events(server.url, args.events)
            stop.set()
            for w in workers:
                w.join()
            jobs_seen = httpx.get(server.url + "/labelstudio/jobs").json()["jobs"]
        finally:
            server.stop()
    result = {"idle": _summary(idle), "recognizer_busy": _summary(busy), "lines_recognized_meanwhile": recognized[0],
              "jobs": len(jobs_seen), "events_per_job": [j["events"] for j in jobs_seen],
              "model": args.model or "released", "label_studio_timeout_ms": 1000}
    out = ROOT / "benchmarks" / "results" / "webhook_latency.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
