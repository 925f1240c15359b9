"""Serving speed and accuracy: PyTorch against onnxruntime fp32/int8/int8-static offline, then an HTTP load test.

    python benchmarks/serving.py [--model DIR] [--quick] [--threads N]

One run measures, on Cinnamon validation crops (synthetic font lines when ../shared is absent, and it says so):

1. offline decoding at batch 1/8/32 for PyTorch eager ``model.generate`` (greedy), the PyTorch predictor of
   ``models.recognition.predictor`` (explicit key/value cache), and the onnxruntime runtime's variants (fp32,
   int8, int8-static; ``inference.onnx_export``):
   lines/s (median over ``--repeats`` passes) and per-batch latency p50/p95 (pre-processing included);
2. accuracy of the export: each int8 variant's CER against fp32's on Cinnamon val, and the fraction of validation lines whose fp32
   ONNX greedy tokens are identical to PyTorch greedy (200 lines);
3. an HTTP load test against ``hotich serve`` started here on 127.0.0.1 (a free port, the serving default
   variant: ``auto``): single-line requests at concurrency 1/8/32, a bounded number each, the levels run
   ``--http-repeats`` times interleaved, reporting medians of lines/s, latency p50/p95/p99 and the batcher's
   mean batch size, all errors, and the server's peak RSS (sampled every 50 ms); then the single-line p50 of an
   idle server.

PyTorch ``generate`` dominates the run time (it is several times slower per step than the cached predictor on
this model). The load-test client runs on the same machine as the server and competes with it for the cores, so
the headline client is a lean keep-alive HTTP/1.1 one (:class:`RawConnection`, prepared requests, answers parsed
and checked), the way a load tool would be; httpx runs interleaved with it for comparison, and each client's CPU
per request is reported. Writes
``benchmarks/results/serving.json`` (``--quick``: ``serving-quick.json``, tiny counts for a smoke run) and a
Markdown file beside it, and prints the Markdown tables.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.ort_runtime import VARIANT_PREFERENCE, OnnxRecognizer, exported_once, is_onnx_dir  # noqa: E402
from models.metrics import recognition_metrics  # noqa: E402

BATCH_SIZES = (1, 8, 32)
CONCURRENCY = (1, 8, 32)


def percentile(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


# -- data ---------------------------------------------------------------------------------------------
def validation_lines(n: int | None) -> tuple[list[np.ndarray], list[str], str]:
    """Up to ``n`` Cinnamon validation crops (RGB arrays) with their texts, or synthetic lines without ../shared."""
    from data.datasets import cinnamon_records
    from data.settings import SharedDataMissing

    try:
        records = cinnamon_records("val")[:n]
        images = [np.asarray(Image.open(r.image).convert("RGB")) for r in records]
        return images, [r.text for r in records], f"Cinnamon val ({len(records)} lines)"
    except SharedDataMissing:
        from data.datasets import synthetic_lines

        rows = list(synthetic_lines(n or 200, seed=0, source="font"))
        return ([row["image"] for row in rows], [row["text"] for row in rows],
                f"synthetic font lines ({len(rows)}): ../shared not found, so NOT Cinnamon val")


def line_uploads(n: int) -> tuple[list[tuple[str, bytes, str]], str]:
    """What the HTTP load test sends: up to ``n`` Cinnamon validation crops as their files are stored (JPEG),
    the way the pipeline would send scanned crops, as ``(filename, bytes, content type)``; without ../shared,
    synthetic font lines encoded as PNG."""
    from data.datasets import cinnamon_records
    from data.settings import SharedDataMissing

    try:
        records = cinnamon_records("val")[:n]
        uploads = []
        for r in records:
            path = Path(r.image)
            kind = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}.get(path.suffix.lower(),
                                                                                        "application/octet-stream")
            uploads.append((path.name, path.read_bytes(), kind))
        return uploads, f"Cinnamon val crops as stored ({len(uploads)} files)"
    except SharedDataMissing:
        images, _, data = validation_lines(n)
        uploads = []
        for i, image in enumerate(images):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            uploads.append((f"line-{i}.png", buffer.getvalue(), "image/png"))
        return uploads, f"{data}, as PNG"


def width_batches(images: list, processor, batch_size: int) -> list[list[int]]:
    """Indices cut into width-sorted batches, as the predictor and the runtime bucket them."""
    widths = [round(im.shape[1] * processor.height / im.shape[0]) for im in images]
    order = sorted(range(len(images)), key=widths.__getitem__)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


# -- engines: pixel_values (torch) -> token ids per row --------------------------------------------------
class Engines:
    """The four decoders over one ``pixel_values`` batch; ``limit`` caps the generated tokens (every engine)."""

    def __init__(self, model_dir: Path | None, onnx_dir: Path, threads: int):
        import torch

        torch.set_num_threads(threads)
        fp32 = OnnxRecognizer(onnx_dir, variant="fp32", intra_op_threads=threads)
        self.variants = [v for v in reversed(VARIANT_PREFERENCE) if v in fp32.config["graphs"]]  # fp32 first
        self.onnx = {variant: fp32 if variant == "fp32" else OnnxRecognizer(onnx_dir, variant=variant,
                                                                             intra_op_threads=threads)
                     for variant in self.variants}
        self.processor = self.onnx["fp32"].processor
        self.max_limit = self.limit = self.onnx["fp32"].config["max_new_tokens"]
        self.model = None
        if model_dir is not None:
            from models.recognition.recognizer import load_recognizer

            self.model, self.tokenizer, _ = load_recognizer(model_dir)

    def names(self) -> list[str]:
        return ((["pytorch_generate", "pytorch_cached"] if self.model is not None else [])
                + [f"ort_{v}" for v in self.variants])

    def decode(self, name: str, pixel_values) -> list[list[int]]:
        import torch

        if name.startswith("ort_"):
            return self.onnx[name.removeprefix("ort_")].decode_batch(pixel_values.numpy(), self.limit)[0]
        with torch.inference_mode():
            if name == "pytorch_cached":
                from models.recognition.cached_decoder import greedy_decode

                return greedy_decode(self.model, pixel_values, self.tokenizer.bos_token_id,
                                     self.tokenizer.eos_token_id, self.limit).token_ids
            # max_length counts the decoder start token (given alone, transformers does not warn about both).
            sequences = self.model.generate(pixel_values=pixel_values, max_length=self.limit + 1, do_sample=False,
                                            num_beams=1)
        ids = []
        for row in sequences[:, 1:].tolist():  # drop the decoder start token
            ids.append(row[:row.index(self.tokenizer.eos_token_id)] if self.tokenizer.eos_token_id in row else row)
        return ids


def offline_speed(engines: Engines, images: list, repeats: int) -> dict:
    results: dict = {}
    jobs = [(name, b) for name in engines.names() for b in BATCH_SIZES]
    for name, batch_size in tqdm(jobs, desc="offline decoding", unit="config"):
        batches = width_batches(images, engines.processor, batch_size)
        engines.decode(name, engines.processor(images[:2])["pixel_values"])  # warm-up: first-call allocations
        rates, latencies = [], []
        for _ in range(repeats):
            total = 0.0
            for idx in batches:
                start = time.perf_counter()
                engines.decode(name, engines.processor([images[i] for i in idx])["pixel_values"])
                elapsed = time.perf_counter() - start
                latencies.append(elapsed)
                total += elapsed
            rates.append(len(images) / total)
        results.setdefault(name, {})[str(batch_size)] = {
            "lines_per_s": round(statistics.median(rates), 2), "runs": [round(r, 2) for r in rates],
            "batch_p50_ms": round(1000 * percentile(latencies, 50), 1),
            "batch_p95_ms": round(1000 * percentile(latencies, 95), 1)}
    return results


def accuracy(engines: Engines, images: list, texts: list[str], parity_lines: int) -> dict:
    """Each variant's CER on all ``images`` (and the int8 ones' difference to fp32); fp32-vs-PyTorch greedy token identity on the first ``parity_lines``
    (both without a token cap)."""
    engines.limit = engines.max_limit
    out = {}
    for variant in engines.variants:
        hypotheses = []
        for start in tqdm(range(0, len(images), 64), desc=f"CER {variant}", unit="chunk"):
            hypotheses += [r.text for r in engines.onnx[variant].recognize(images[start:start + 64], batch_size=16)]
        out[f"cer_{variant}"] = round(recognition_metrics(hypotheses, texts)["cer"], 5)
    out["cer_n"] = len(images)
    for variant in engines.variants[1:]:
        out[f"{variant}_minus_fp32_cer_points"] = round(100 * (out[f"cer_{variant}"] - out["cer_fp32"]), 3)
    if engines.model is not None:
        subset = images[:parity_lines]
        same = 0
        for idx in tqdm(width_batches(subset, engines.processor, 16), desc="parity", unit="batch"):
            pixel_values = engines.processor([subset[i] for i in idx])["pixel_values"]
            ours = engines.decode("ort_fp32", pixel_values)
            reference = engines.decode("pytorch_cached", pixel_values)
            same += sum(a == b for a, b in zip(ours, reference))
        out["parity"] = {"n": len(subset), "token_identical": round(same / len(subset), 4)}
    return out


# -- HTTP load test -------------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Peak resident memory of one process, sampled every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.process, self.interval, self.peak = psutil.Process(pid), interval, 0
        self._stop_event = threading.Event()

    def current(self) -> int:
        return self.process.memory_info().rss

    def reset(self) -> None:
        self.peak = self.current()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.peak = max(self.peak, self.current())
            except (psutil.Error, OSError):  # the process ended
                return
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop_event.set()


def start_server(onnx_dir: Path, threads: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import free_port  # the tests' helper: a port the OS says is free

    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "hotich", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--model", str(onnx_dir), "--threads", str(threads)],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hotich serve exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("hotich serve did not become ready in 300 s")


def multipart_request(host: str, upload: tuple[str, bytes, str]) -> bytes:
    """A complete HTTP/1.1 ``POST /v1/lines:recognize`` of one ``(filename, bytes, content type)`` upload
    (multipart field ``files``, keep-alive), built once."""
    name, payload, kind = upload
    boundary = "hotich-benchmark-7d3f"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /v1/lines:recognize HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hotich-benchmark\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class RawConnection:
    """A keep-alive HTTP/1.1 connection that sends prepared requests and reads ``(status, body)``.

    The load generator shares the server's two cores, so it should cost as little as a load tool such as
    ``wrk`` would: httpx spends about 3 ms of CPU on each request (measured against a stub server), as much as
    the server itself once its encoding was made lean. Answers are still parsed and checked."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            body = await self.reader.readexactly(int(fields.get("content-length", "0")))
            if fields.get("connection", "").lower() == "close":
                await self.close()
            return status, body
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load_level(url: str, uploads: list[tuple[str, bytes, str]], concurrency: int, requests: int, progress,
                     client: str = "raw") -> dict:
    """``requests`` single-line requests from ``concurrency`` clients, each sending its next request when its
    last one is answered. ``client``: ``raw`` (:class:`RawConnection`) or ``httpx`` (``httpx.AsyncClient``)."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(requests))
    host, port = url.removeprefix("http://").split(":")
    prepared = [multipart_request(f"{host}:{port}", u) for u in uploads]

    def failed(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    def answered(status: int, body: bytes, start: float) -> None:
        if status != 200:
            return failed(str(status))
        if len(json.loads(body)["lines"]) != 1:
            return failed("wrong_line_count")
        latencies.append(time.perf_counter() - start)

    async def raw_worker():
        connection = RawConnection(host, int(port))
        try:
            for i in counter:
                start = time.perf_counter()
                try:
                    answered(*await connection.request(prepared[i % len(prepared)]), start)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    failed(type(exc).__name__)
                progress.update(1)
        finally:
            await connection.close()

    async def httpx_worker(session):
        for i in counter:
            start = time.perf_counter()
            try:
                response = await session.post(url + "/v1/lines:recognize", timeout=120,
                                              files=[("files", uploads[i % len(uploads)])])
                answered(response.status_code, response.content, start)
            except (httpx.HTTPError, ValueError) as exc:
                failed(type(exc).__name__)
            progress.update(1)

    cpu_start, start = time.process_time(), time.perf_counter()
    if client == "raw":
        await asyncio.gather(*(raw_worker() for _ in range(concurrency)))
    elif client == "httpx":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as session:
            await asyncio.gather(*(httpx_worker(session) for _ in range(concurrency)))
    else:
        raise ValueError(f"unknown client {client!r}; expected raw or httpx")
    wall, client_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"requests": requests, "lines_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(1000 * percentile(latencies, 50), 1), "p95_ms": round(1000 * percentile(latencies, 95), 1),
            "p99_ms": round(1000 * percentile(latencies, 99), 1), "errors": sum(errors.values()),
            "errors_by_kind": errors, "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, requests), 2)}


def batch_size_totals(url: str) -> tuple[float, float]:
    """``(lines, batches)`` the server's batcher has run so far, from its ``hotich_batch_size`` histogram."""
    import httpx

    totals = {"sum": 0.0, "count": 0.0}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        for kind in totals:
            if line.startswith(f"hotich_batch_size_{kind} "):
                totals[kind] = float(line.split()[1])
    return totals["sum"], totals["count"]


def median_run(runs: list[dict]) -> dict:
    """One level's repeated runs → medians of each number (errors summed, RSS the peak), plus every run's rate."""
    out = {key: round(statistics.median(run[key] for run in runs), 2)
           for key in ("lines_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_batch", "client_cpu_ms_per_request")}
    out.update(requests=runs[0]["requests"], errors=sum(run["errors"] for run in runs),
               rss_peak_mb=max(run["rss_peak_mb"] for run in runs), runs=len(runs),
               lines_per_s_runs=[run["lines_per_s"] for run in runs])
    kinds: dict = {}
    for run in runs:
        for kind, n in run["errors_by_kind"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    out["errors_by_kind"] = kinds
    return out


def http_load(onnx_dir: Path, uploads: list[tuple[str, bytes, str]], threads: int, requests: int, idle_requests: int,
              repeats: int = 1, clients: tuple[str, ...] = ("raw", "httpx")) -> dict:
    """The load test with ``uploads`` (:func:`line_uploads`); ``clients`` are the load generators, run interleaved
    against the same server. The first one's figures are ``concurrency`` (the server's numbers); every client's
    are in ``by_client``."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        started = time.perf_counter()
        process, url = start_server(onnx_dir, threads, log_path)
        out: dict = {"startup_s": round(time.perf_counter() - started, 2)}
        sampler = RssSampler(process.pid)
        sampler.start()
        try:
            out["rss_ready_mb"] = round(sampler.current() / 2**20, 1)
            for upload in uploads[:4]:  # warm-up: first-call allocations, connection setup
                httpx.post(url + "/v1/lines:recognize", files=[("files", upload)], timeout=120)
            runs: dict = {client: {str(c): [] for c in CONCURRENCY} for client in clients}
            counts = {c: max(requests, c) for c in CONCURRENCY}  # every level fills its concurrency at least once
            with tqdm(total=repeats * len(clients) * sum(counts.values()), desc="HTTP load", unit="req") as progress:
                for _ in range(repeats):  # the levels interleaved, so that a slow spell does not hit one level only
                    for client in clients:
                        for concurrency, count in counts.items():
                            sampler.reset()
                            lines_before, batches_before = batch_size_totals(url)
                            run = asyncio.run(load_level(url, uploads, concurrency, count, progress, client))
                            run["rss_peak_mb"] = round(sampler.peak / 2**20, 1)
                            lines_after, batches_after = batch_size_totals(url)
                            # How well the micro-batcher filled its batches at this level.
                            run["mean_batch"] = round((lines_after - lines_before)
                                                      / max(1.0, batches_after - batches_before), 2)
                            runs[client][str(concurrency)].append(run)
            out["client"] = clients[0]
            out["by_client"] = {client: {level: median_run(level_runs) for level, level_runs in by_level.items()}
                                for client, by_level in runs.items()}
            out["concurrency"] = out["by_client"][clients[0]]
            time.sleep(1.0)
            idle = []
            with httpx.Client(timeout=120) as client:
                for i in tqdm(range(idle_requests), desc="idle single line", unit="req"):
                    time.sleep(0.05)  # nothing else in flight: the batcher waits its max_wait_ms alone
                    start = time.perf_counter()
                    response = client.post(url + "/v1/lines:recognize", files=[("files", uploads[i % len(uploads)])])
                    if response.status_code == 200:
                        idle.append(time.perf_counter() - start)
            out["idle_single_line_p50_ms"] = round(1000 * percentile(idle, 50), 1)
            out["rss_peak_mb"] = round(max(level["rss_peak_mb"] for by_level in out["by_client"].values()
                                           for level in by_level.values()), 1)
        finally:
            sampler.stop()
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    return out


# -- report ---------------------------------------------------------------------------------------------
def markdown(result: dict) -> str:
    offline = result["offline"]
    rows = [f"Data: {result['data']}; {result['threads']} threads on {result['cpus']} cores; "
            f"load average at start {result['load_average_start']}"
            + ("; QUICK smoke run, not a measurement." if result["quick"] else "."), "",
            (f"Offline: {result['lines']} lines, median of {result['repeats']} passes, at most "
             f"{result['offline_max_new_tokens']} tokens per line."), "",
            "| engine | " + " | ".join(f"batch {b}: lines/s (p50 / p95 ms per batch)" for b in BATCH_SIZES) + " |",
            "|---|" + "---|" * len(BATCH_SIZES)]
    for name, by_batch in offline.items():
        cells = [f"{m['lines_per_s']} ({m['batch_p50_ms']} / {m['batch_p95_ms']})" for m in by_batch.values()]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    for baseline, ratio in result.get("ort_speedup_at_batch_32", {}).items():
        rows.append(f"\nBest ORT variant vs {baseline} at batch 32: **{ratio}x**")
    acc = result["accuracy"]
    variants = [k.removeprefix("cer_") for k in acc if k.startswith("cer_") and k != "cer_n"]
    rows += ["", f"CER on {acc['cer_n']} lines: " + ", ".join(
        f"{v} {100 * acc['cer_' + v]:.2f}%" + (f" ({acc[v + '_minus_fp32_cer_points']:+.2f} points vs fp32)"
                                            if v != "fp32" else "") for v in variants) + "."]
    if "parity" in acc:
        rows.append(f"fp32 ONNX greedy token-identical to PyTorch greedy on "
                    f"{100 * acc['parity']['token_identical']:.1f}% of {acc['parity']['n']} lines.")
    http = result.get("http")
    if http:
        rows += ["", f"HTTP load: single-line requests of {result.get('http_data', result['data'])}."]
        rows += ["", ("| load client | concurrency | requests × runs | lines/s (median; each run) | p50 ms | p95 ms | "
                      "p99 ms | errors | mean batch | client CPU ms/request | server RSS peak MB |"),
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for client, by_level in http.get("by_client", {http.get("client", "httpx"): http["concurrency"]}).items():
            for concurrency, m in by_level.items():
                each = " / ".join(str(r) for r in m.get("lines_per_s_runs", [m["lines_per_s"]]))
                rows.append(f"| {client} | {concurrency} | {m['requests']} × {m.get('runs', 1)} | {m['lines_per_s']} "
                            f"({each}) | {m['p50_ms']} | {m['p95_ms']} | {m['p99_ms']} | {m['errors']} | "
                            f"{m.get('mean_batch', '–')} | {m.get('client_cpu_ms_per_request', '–')} | "
                            f"{m['rss_peak_mb']} |")
        rows += ["", (f"Idle single-line p50: {http['idle_single_line_p50_ms']} ms; RSS when ready "
                      f"{http['rss_ready_mb']} MB, peak {http['rss_peak_mb']} MB; startup {http['startup_s']} s.")]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="recognizer or ONNX export directory (default: the released model)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run, not a measurement")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for torch and onnxruntime")
    parser.add_argument("--lines", type=int, help="validation lines timed offline (default 48; quick 4)")
    parser.add_argument("--max-new-tokens", type=int,
                        help="cap on generated tokens in the offline timing (default: the model's; quick 16)")
    parser.add_argument("--repeats", type=int, help="offline passes per configuration (default 3; quick 1)")
    parser.add_argument("--requests", type=int, help="HTTP requests per concurrency level (default 256; quick 8)")
    parser.add_argument("--http-repeats", type=int,
                        help="runs of each HTTP concurrency level, interleaved; medians reported (default 3; quick 1)")
    parser.add_argument("--clients", nargs="+", choices=("raw", "httpx"), default=["raw", "httpx"],
                        help="HTTP load generators, run interleaved; the first one's figures are the headline "
                             "(default: raw httpx)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = args.lines or (4 if args.quick else 48)
    repeats = args.repeats or (1 if args.quick else 3)
    requests = args.requests or (8 if args.quick else 256)
    http_repeats = args.http_repeats or (1 if args.quick else 3)
    parity_lines = 8 if args.quick else 200
    out = args.out or ROOT / "benchmarks" / "results" / ("serving-quick.json" if args.quick else "serving.json")

    from inference.evaluate import default_model_dir

    model = Path(args.model or default_model_dir())
    onnx_dir = exported_once(model, int8=True)
    if is_onnx_dir(model):  # an export: PyTorch only when its source directory is still there
        source = Path(json.loads((model / "onnx_config.json").read_text())["source"]["directory"])
        model = source if (source / "config.json").is_file() else None
        if "int8" not in json.loads((onnx_dir / "onnx_config.json").read_text())["graphs"]:
            raise SystemExit(f"{onnx_dir} has no int8 graphs: export with `hotich export --int8`")
    images, texts, data = validation_lines(None if not args.quick else max(lines, parity_lines))
    engines = Engines(model, onnx_dir, args.threads)
    engines.limit = min(args.max_new_tokens or (16 if args.quick else engines.max_limit), engines.max_limit)
    result = {"model": str(model), "onnx": str(onnx_dir), "data": data, "quick": args.quick, "threads": args.threads,
              "cpus": os.cpu_count(), "load_average_start": [round(x, 2) for x in os.getloadavg()],
              "lines": min(lines, len(images)), "repeats": repeats, "offline_max_new_tokens": engines.limit}
    result["offline"] = offline_speed(engines, images[:lines], repeats)
    ort_best = max(result["offline"][f"ort_{v}"]["32"]["lines_per_s"] for v in engines.variants)
    result["ort_speedup_at_batch_32"] = {
        baseline: round(ort_best / result["offline"][baseline]["32"]["lines_per_s"], 2)
        for baseline in ("pytorch_generate", "pytorch_cached") if baseline in result["offline"]}
    result["accuracy"] = accuracy(engines, images, texts, parity_lines)
    del engines  # the server gets the memory and the cores
    uploads, result["http_data"] = line_uploads(max(lines, 32))
    result["http"] = http_load(onnx_dir, uploads, args.threads, requests, 5 if args.quick else 50,
                               repeats=http_repeats, clients=tuple(args.clients))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    print(table)
    print(f"written: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
