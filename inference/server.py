"""The hotich HTTP service (FastAPI + uvicorn): line recognition through one shared dynamic micro-batcher
over the onnxruntime recognizer, with input limits, API-key auth, request ids and Prometheus metrics.

Recognized text never goes to the logs: only counts, sizes, timings and request ids do.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from hotich import __version__
from inference.batcher import MicroBatcher, QueueFull
from inference.images import BadImage, decode_image

log = logging.getLogger("hotich.server")


@dataclass
class ServerSettings:
    """Limits and batching; each can be set by an environment variable ``HOTICH_<NAME>`` (upper case)."""

    model: str | None = None
    max_batch: int = 32
    max_wait_ms: float = 10.0
    max_queue: int = 512
    max_request_bytes: int = 20 * 2**20
    max_images: int = 64
    max_pixels: int = 16_000_000
    intra_op_threads: int | None = None

    @classmethod
    def from_env(cls, **overrides) -> "ServerSettings":
        values = {}
        for name, default in cls.__dataclass_fields__.items():
            raw = os.environ.get(f"HOTICH_{name.upper()}")
            if raw is not None:
                kind = type(cls.__dataclass_fields__[name].default)
                values[name] = raw if kind in (str, type(None)) else kind(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def load_runtime(model: str | Path | None, threads: int | None = None):
    """An :class:`~inference.ort_runtime.OnnxRecognizer` for an export directory, or for a recognizer directory
    exported once into ``.cache/onnx/<weights hash>`` (so ``make serve`` works on the released model)."""
    from data.settings import cache_dir
    from inference.evaluate import default_model_dir
    from inference.ort_runtime import OnnxRecognizer, is_onnx_dir

    path = Path(model) if model else default_model_dir()
    if not is_onnx_dir(path):
        digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:16]
        exported = cache_dir() / "onnx" / f"{path.name}-{digest}"
        if not is_onnx_dir(exported):
            from inference.onnx_export import export_recognizer

            log.info("exporting %s to ONNX once, into %s", path, exported)
            export_recognizer(path, exported)
        path = exported
    return OnnxRecognizer(path, intra_op_threads=threads), path


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    settings = settings or ServerSettings.from_env()
    registry = CollectorRegistry()
    requests_total = Counter("hotich_requests_total", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("hotich_request_seconds", "Request latency", ["endpoint"], registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
    batch_sizes = Histogram("hotich_batch_size", "Lines per recognition batch", registry=registry,
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128))
    queue_depth = Gauge("hotich_queue_depth", "Lines waiting for the recognizer", registry=registry)
    lines_total = Counter("hotich_lines_total", "Lines recognized", registry=registry)
    state: dict = {"ready": False}
    api_key = os.environ.get("HOTICH_API_KEY") or None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime, path = load_runtime(settings.model, settings.intra_op_threads)
        state["model"] = {"name": Path(settings.model).name if settings.model else path.name.rsplit("-", 1)[0],
                          "version": runtime.config["source"]["weights_sha256"][:12]}
        state["model_path"] = str(path)

        def recognize(images):
            return runtime.recognize(images, batch_size=settings.max_batch)

        batcher = MicroBatcher(recognize, settings.max_batch, settings.max_wait_ms, settings.max_queue,
                               on_batch=batch_sizes.observe)
        batcher.start()
        state["batcher"], state["ready"] = batcher, True
        queue_depth.set_function(lambda: batcher.depth)
        if api_key is None:
            log.warning("HOTICH_API_KEY is not set: the API is open to anyone who can reach %s (local use only)",
                        "this port")
        log.info("serving %s (version %s)", state["model"]["name"], state["model"]["version"])
        yield
        state["ready"] = False
        log.info("shutting down: finishing in-flight batches")
        await batcher.close()

    app = FastAPI(title="hotich", version=__version__, lifespan=lifespan,
                  description="Handwriting recognition and field extraction for Vietnamese civil-status registers. "
                              "Send line images to `/v1/lines:recognize`.")

    @app.middleware("http")
    async def request_context(request: Request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        start = time.perf_counter()
        endpoint = request.url.path
        if api_key and endpoint.startswith("/v1/"):
            supplied = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
            if supplied != api_key:
                response = _error(401, "unauthorized", "missing or wrong API key (header X-API-Key)")
                response.headers["x-request-id"] = request_id
                requests_total.labels(endpoint, "401").inc()
                return response
        response = await call_next(request)
        response.headers["x-request-id"] = request_id
        if endpoint != "/metrics":
            requests_total.labels(endpoint, str(response.status_code)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - start)
        log.info("request %s %s %s %d %.1f ms", request_id, request.method, endpoint, response.status_code,
                 1000 * (time.perf_counter() - start))
        return response

    @app.get("/healthz", summary="Liveness", tags=["ops"],
             responses={200: {"content": {"application/json": {"example": {"status": "ok", "version": "0.1.0"}}}}})
    def healthz() -> dict:
        """The process is up and answering; says nothing about the model."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", summary="Readiness", tags=["ops"])
    def readyz():
        """200 once the model is loaded and the batcher runs; 503 before that and while shutting down."""
        if not state["ready"]:
            return _error(503, "not_ready", "the model is not loaded")
        return {"status": "ready", "model": state["model"]}

    @app.get("/metrics", summary="Prometheus metrics", tags=["ops"])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", summary="The served model", tags=["recognition"])
    def models() -> dict:
        return {"models": [state["model"]] if state.get("model") else []}

    example = {"model": {"name": "hotich-rec-base", "version": "3f2a9c1b7d4e"},
               "lines": [{"text": "Xã Thạch Khôi", "confidence": 0.97,
                          "chars": [{"c": "X", "p": 0.99}, {"c": "ã", "p": 0.98}]}]}

    @app.post("/v1/lines:recognize", summary="Recognize handwritten line images", tags=["recognition"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
                      "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
                  "application/json": {"schema": {"type": "object", "required": ["images"], "properties": {
                      "images": {"type": "array", "items": {"type": "string", "format": "byte"}}}},
                      "example": {"images": ["iVBORw0KGgo..."]}}}}},
              responses={200: {"content": {"application/json": {"example": example}}},
                         400: {"description": "bad input (empty, corrupt, malformed request)"},
                         401: {"description": "missing or wrong API key"},
                         413: {"description": "request, image or pixel count over the limits"},
                         415: {"description": "not an image / unsupported content type"},
                         503: {"description": "queue full or not ready; retry after the Retry-After seconds"}})
    async def recognize_lines(request: Request):
        """One or more line images (multipart field `files`, or JSON `{"images": [base64, …]}`) → text with a
        line confidence and per-character probabilities, in input order."""
        if not state["ready"]:
            return _error(503, "not_ready", "the model is not loaded", {"Retry-After": "5"})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            return _error(413, "request_too_large", f"request of {declared} bytes exceeds {settings.max_request_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > settings.max_request_bytes:
                return _error(413, "request_too_large", f"request exceeds {settings.max_request_bytes} bytes")
        # The capped copy becomes the request's body, so the form parser reads it instead of the spent stream.
        request._body = bytes(body)
        content_type = request.headers.get("content-type", "")
        try:
            uploads = await _uploads(request, bytes(body), content_type, settings.max_images)
            images = [decode_image(data, name, settings.max_pixels) for name, data in uploads]
        except BadImage as exc:
            return _error(exc.status, exc.code, exc.message)
        try:
            results = await state["batcher"].submit(images)
        except QueueFull as exc:
            return _error(503, "overloaded", str(exc), {"Retry-After": "1"})
        lines_total.inc(len(results))
        return {"model": state["model"], "lines": [
            {"text": r.text, "confidence": round(r.confidence, 5),
             "chars": [{"c": c, "p": round(p, 5)} for c, p in zip(r.text, r.char_probs)]} for r in results]}

    return app


async def _uploads(request: Request, body: bytes, content_type: str, max_images: int) -> list[tuple[str, bytes]]:
    """The request's images as (name, bytes); raises :class:`BadImage` for malformed requests."""
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=max_images + 1, max_fields=max_images + 16)
        except Exception as exc:  # starlette names the problem (too many files, malformed multipart)
            raise BadImage(400, "bad_multipart", f"malformed multipart request: {exc}") from None
        files = form.getlist("files")
        uploads = []
        for i, item in enumerate(files):
            if isinstance(item, str):
                raise BadImage(400, "bad_multipart", f"files[{i}] is a text field, not a file")
            uploads.append((item.filename or f"files[{i}]", await item.read()))
    elif content_type.startswith("application/json"):
        import json

        try:
            payload = json.loads(body)
        except ValueError:
            raise BadImage(400, "bad_json", "the body is not valid JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
            raise BadImage(400, "bad_json", 'expected {"images": ["<base64>", ...]}')
        uploads = []
        for i, item in enumerate(payload["images"]):
            if not isinstance(item, str):
                raise BadImage(400, "bad_base64", f"images[{i}] is not a base64 string")
            try:
                uploads.append((f"images[{i}]", base64.b64decode(item, validate=True)))
            except (binascii.Error, ValueError):
                raise BadImage(400, "bad_base64", f"images[{i}] is not valid base64") from None
    else:
        raise BadImage(415, "unsupported_content_type",
                       "send multipart/form-data with field 'files' or application/json with 'images'")
    if not uploads:
        raise BadImage(400, "no_images", "the request holds no images")
    if len(uploads) > max_images:
        raise BadImage(413, "too_many_images", f"{len(uploads)} images exceeds the limit of {max_images} per request")
    return uploads


def serve(host: str = "127.0.0.1", port: int = 8000, model: str | None = None, log_level: str = "info",
          **settings) -> None:
    import uvicorn

    uvicorn.run(create_app(ServerSettings.from_env(model=model, **settings)), host=host, port=port,
                log_level=log_level, timeout_graceful_shutdown=60)
