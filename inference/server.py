"""The hotich HTTP service (FastAPI + uvicorn): line recognition through one shared dynamic micro-batcher
over the onnxruntime recognizer, with input limits, API-key auth, request ids and Prometheus metrics.

Recognized text never goes to the logs: only counts, sizes, timings and request ids do.

``POST /v1/models:reload`` swaps in another recognizer without a restart: it loads in a worker thread while the
current one keeps serving, then the shared batcher switches over between two batches (see
:meth:`~inference.batcher.MicroBatcher.replace`), so every request is answered whole by one model, which its
response names, and none fails.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from hotich import __version__
from inference.batcher import MicroBatcher, QueueFull
from inference.images import BadImage, decode_image
from inference.ort_runtime import VARIANT_PREFERENCE
from models.recognition.predictor import Recognition

log = logging.getLogger("hotich.server")


@dataclass
class ServerSettings:
    """Limits and batching; each can be set by an environment variable ``HOTICH_<NAME>`` (upper case)."""

    model: str | None = None
    max_batch: int = 32
    max_wait_ms: float = 10.0  # a batch leaves once no line came for this long (counted from the latest line)
    max_hold_ms: float = 100.0  # the longest any batch stays open (inference.batcher)
    max_queue: int = 512
    max_request_bytes: int = 20 * 2**20
    max_images: int = 64
    max_pixels: int = 16_000_000
    intra_op_threads: int | None = None
    variant: str = "auto"  # auto (the fastest the export has), int8-static, int8 or fp32
    # 0: onnxruntime's idle threads sleep, 1: they spin for work (see OnnxRecognizer). The server's own request
    # handling shares the cores: sleeping measured 54.0 vs 52.5 lines/s at 32 clients and 46 vs 57 ms idle
    # (medians of 4 interleaved runs each, README "Serving").
    spin_wait: int = 0
    beam_width: int = 1  # 1 = greedy decoding; k > 1 = beam search keeping k hypotheses per line

    def __post_init__(self):
        for name in ("max_batch", "max_queue", "max_request_bytes", "max_images", "max_pixels", "beam_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (HOTICH_{name.upper()}), got {getattr(self, name)}")
        if self.spin_wait not in (0, 1):
            raise ValueError(f"spin_wait must be 0 or 1 (HOTICH_SPIN_WAIT), got {self.spin_wait!r}")
        if self.variant not in ("auto", *VARIANT_PREFERENCE):
            raise ValueError(f"variant must be one of auto, {', '.join(VARIANT_PREFERENCE)} (HOTICH_VARIANT), "
                             f"got {self.variant!r}")

    @classmethod
    def from_env(cls, **overrides) -> "ServerSettings":
        values = {}
        for name, spec in cls.__dataclass_fields__.items():
            raw = os.environ.get(f"HOTICH_{name.upper()}")
            if raw is not None:
                declared = str(spec.type)  # "int | None" and the like (annotations are strings here)
                kind = int if declared.startswith("int") else float if declared.startswith("float") else str
                try:
                    values[name] = kind(raw)
                except ValueError:
                    raise ValueError(f"HOTICH_{name.upper()}={raw!r} is not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# Response bodies, for the OpenAPI document (the handlers build plain dicts; tests check they conform).
class ModelInfo(BaseModel):
    name: str = Field(examples=["hotich-rec-base"])
    version: str = Field(description="first 12 hex digits of the SHA-256 of the weights", examples=["3f2a9c1b7d4e"])


class CharProbability(BaseModel):
    c: str = Field(description="one character of the recognized text")
    p: float = Field(ge=0, le=1, description="the model's probability for it")


class RecognizedLine(BaseModel):
    text: str
    confidence: float = Field(ge=0, le=1, description="probability of the whole line, end of line included")
    chars: list[CharProbability]


class RecognizeResponse(BaseModel):
    model: ModelInfo
    lines: list[RecognizedLine] = Field(description="one per input image, in input order")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_an_image"])
    message: str = Field(examples=["notes.txt: not a recognised image format (PNG, JPEG, TIFF, BMP, WebP)"])


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    model: ModelInfo


class ModelList(BaseModel):
    models: list[ModelInfo]


class ReloadResponse(BaseModel):
    model: ModelInfo = Field(description="the model serving from now on")
    previous: ModelInfo
    seconds: float = Field(description="time to load (and, for a recognizer directory, export) the new model")


@dataclass
class ServedRecognition(Recognition):
    """A recognition and the model that made it (``{"name", "version"}``): after a hot reload, a response names the
    model its lines were really recognized by."""

    model: dict | None = None


class RawJSONResponse(JSONResponse):
    """JSON of plain dicts, lists, strings and numbers, encoded as it is (UTF-8, no ASCII escapes)."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class RequestContext:
    """ASGI middleware: API-key check on ``/v1/``, a request id on every response (``X-Request-Id``, taken from
    the request when it has one), and ``observe(endpoint, status, seconds, request_id, method)`` once a response
    has gone out. Plain ASGI rather than ``@app.middleware``: that wrapper streams every request and response
    through extra tasks, a measurable cost per request under load."""

    def __init__(self, app, api_key: str | None, observe):
        self.app, self.api_key, self.observe = app, api_key, observe

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
        endpoint, method = scope["path"], scope.get("method", "")
        if self.api_key and endpoint.startswith("/v1/"):
            supplied = headers.get(b"x-api-key", b"").decode("latin-1") or \
                headers.get(b"authorization", b"").decode("latin-1").removeprefix("Bearer ")
            if not hmac.compare_digest(supplied.encode("utf-8"), self.api_key.encode("utf-8")):
                response = _error(401, "unauthorized", "missing or wrong API key (header X-API-Key)",
                                  {"x-request-id": request_id})
                await response(scope, receive, send)
                self.observe(endpoint, 401, time.perf_counter() - start, request_id, method)
                return
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.observe(endpoint, status, time.perf_counter() - start, request_id, method)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def load_runtime(model: str | Path | None, threads: int | None = None, beam_width: int = 1, variant: str = "auto",
                 spin_wait: bool = False):
    """An :class:`~inference.ort_runtime.OnnxRecognizer` for an export directory, or for a recognizer directory
    exported once into ``.cache/onnx/<weights hash>`` (so ``make serve`` works on the released model)."""
    from inference.evaluate import default_model_dir
    from inference.ort_runtime import OnnxRecognizer, exported_once

    path = exported_once(Path(model) if model else default_model_dir())
    return OnnxRecognizer(path, variant=variant, intra_op_threads=threads, beam_width=beam_width,
                          spin_wait=spin_wait), path


def create_app(settings: ServerSettings | None = None, routers: Iterable = ()) -> FastAPI:
    """The service; ``routers`` are mounted as they are (``hotich serve --ml-backend`` adds Label Studio's ML
    backend from ``annotation``). They reach the recognizer through ``app.state.hotich`` (``ready``, ``model``,
    ``batcher``, ``settings``)."""
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
    state: dict = {"ready": False, "settings": settings}
    api_key = os.environ.get("HOTICH_API_KEY") or None

    reloads = Counter("hotich_model_reloads_total", "Model hot reloads", ["status"], registry=registry)
    reload_lock = asyncio.Lock()

    def recognizer(runtime, info: dict):
        """The batcher's recognize function for one loaded model; its results carry that model's name."""

        def recognize(images):
            return [ServedRecognition(r.text, r.confidence, r.char_probs, model=info)
                    for r in runtime.recognize(images, batch_size=settings.max_batch)]

        return recognize

    def model_info(runtime, name: str) -> dict:
        return {"name": name, "version": runtime.config["source"]["weights_sha256"][:12],
                "variant": runtime.variant}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime, path = load_runtime(settings.model, settings.intra_op_threads, settings.beam_width, settings.variant,
                                     bool(settings.spin_wait))
        name = Path(settings.model).name if settings.model else path.name.rsplit("-", 1)[0]
        state["model"] = model_info(runtime, name)
        state["model_path"] = str(path)
        batcher = MicroBatcher(recognizer(runtime, state["model"]), settings.max_batch, settings.max_wait_ms,
                               settings.max_queue, on_batch=batch_sizes.observe, max_hold_ms=settings.max_hold_ms)
        batcher.start()
        state["batcher"], state["ready"] = batcher, True
        queue_depth.set_function(lambda: batcher.depth)
        if api_key is None:
            log.warning("HOTICH_API_KEY is not set: the API is open to anyone who can reach %s (local use only)",
                        "this port")
        log.info("serving %s (version %s, %s)", state["model"]["name"], state["model"]["version"],
                 f"beam search, width {settings.beam_width}" if settings.beam_width > 1 else "greedy decoding")
        yield
        state["ready"] = False
        log.info("shutting down: finishing in-flight batches")
        await batcher.close()

    app = FastAPI(title="hotich", version=__version__, lifespan=lifespan,
                  description="Handwriting recognition and field extraction for Vietnamese civil-status registers. "
                              "Send line images to `/v1/lines:recognize`.")
    app.state.hotich = state
    for router in routers:
        app.include_router(router)

    def observe(endpoint: str, status: int, seconds: float, request_id: str, method: str) -> None:
        if endpoint != "/metrics":
            requests_total.labels(endpoint, str(status)).inc()
            if status != 401:
                latency.labels(endpoint).observe(seconds)
        log.info("request %s %s %s %d %.1f ms", request_id, method, endpoint, status, 1000 * seconds)

    app.add_middleware(RequestContext, api_key=api_key, observe=observe)

    @app.get("/healthz", summary="Liveness", tags=["ops"], responses={200: {"model": Health}})
    def healthz() -> dict:
        """The process is up and answering; says nothing about the model."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", summary="Readiness", tags=["ops"],
             responses={200: {"model": Readiness}, 503: {"model": ErrorResponse, "description": "not ready"}})
    def readyz():
        """200 once the model is loaded and the batcher runs; 503 before that and while shutting down."""
        if not state["ready"]:
            return _error(503, "not_ready", "the model is not loaded")
        return {"status": "ready", "model": state["model"]}

    @app.get("/metrics", summary="Prometheus metrics", tags=["ops"], response_class=PlainTextResponse,
             responses={200: {"description": "Prometheus text exposition format",
                              "content": {"text/plain": {"example": "hotich_batch_size_count 12.0\n"}}}})
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", summary="The served model", tags=["recognition"],
             responses={200: {"model": ModelList},
                        401: {"model": ErrorResponse, "description": "missing or wrong API key"}})
    def models() -> dict:
        return {"models": [state["model"]] if state.get("model") else []}

    @app.post("/v1/models:reload", summary="Serve another recognizer, without a restart", tags=["recognition"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["path"], "properties": {
                      "path": {"type": "string", "description": "recognizer directory (exported to ONNX once) or "
                                                                "ONNX export directory, on the server's disk"},
                      "name": {"type": "string", "description": "name to serve it under (default: the folder's)"}}},
                  "example": {"path": "runs/registry/runs/v2/best", "name": "hotich-rec-base-v2"}}}}},
              responses={200: {"model": ReloadResponse},
                         **{status: {"model": ErrorResponse, "description": description} for status, description in (
                             (400, "malformed request"), (401, "missing or wrong API key"),
                             (404, "no recognizer at that path"), (409, "another reload is under way"),
                             (422, "the directory is there but does not load as a recognizer"),
                             (503, "not ready or shutting down"))}})
    async def reload_model(request: Request):
        """Load the recognizer at `path` while the current one keeps serving, then switch atomically: lines queued
        before the switch finish on the old model, later ones use the new one; `/v1/models`, `/readyz` and every
        response name the model that answered. One reload at a time."""

        if not state["ready"]:
            return _error(503, "not_ready", "the model is not loaded", {"Retry-After": "5"})
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return _error(400, "bad_json", "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("path"), str) or not body["path"].strip():
            return _error(400, "bad_request", 'expected {"path": "<model directory>", "name": "<optional>"}')
        if body.get("name") is not None and (not isinstance(body["name"], str) or not body["name"].strip()):
            return _error(400, "bad_request", "name must be a non-empty string")
        if reload_lock.locked():
            return _error(409, "reload_in_progress", "another reload is under way; retry when it is done")
        async with reload_lock:
            path, started = Path(body["path"]), time.perf_counter()
            try:
                runtime, loaded = await asyncio.to_thread(load_runtime, path, settings.intra_op_threads,
                                                          settings.beam_width, settings.variant,
                                                          bool(settings.spin_wait))
            except (FileNotFoundError, NotADirectoryError) as exc:
                reloads.labels("not_found").inc()
                return _error(404, "model_not_found", str(exc))
            except (OSError, ValueError) as exc:  # unreadable or impossible paths (too long, NUL bytes, ...)
                reloads.labels("not_found").inc()
                return _error(404, "model_not_found", f"{path}: {exc.__class__.__name__}: {exc}")
            except Exception as exc:  # present but not loadable: a broken export, a foreign checkpoint
                reloads.labels("failed").inc()
                log.warning("reload of %s failed: %s", path, exc.__class__.__name__)
                return _error(422, "model_load_failed", f"{path} does not load as a recognizer "
                                                        f"({exc.__class__.__name__}: {str(exc)[:300]})")
            info = model_info(runtime, body.get("name") or path.resolve().name)
            previous = state["model"]

            def switched():  # in the batcher, between two batches: what the server reports changes with the model
                state["model"], state["model_path"] = info, str(loaded)

            try:
                await state["batcher"].replace(recognizer(runtime, info), on_swap=switched)
            except QueueFull as exc:
                return _error(503, "not_ready", str(exc))
            reloads.labels("ok").inc()
            seconds = round(time.perf_counter() - started, 3)
            log.info("reloaded: now serving %s (version %s) instead of %s (version %s), loaded in %.1f s",
                     info["name"], info["version"], previous["name"], previous["version"], seconds)
            return {"model": info, "previous": previous, "seconds": seconds}

    example = {"model": {"name": "hotich-rec-base", "version": "3f2a9c1b7d4e"},
               "lines": [{"text": "Xã Thạch Khôi", "confidence": 0.97,
                          "chars": [{"c": "X", "p": 0.99}, {"c": "ã", "p": 0.98}]}]}

    async def _read_images(request: Request):
        """The request's decoded images, or the error response naming what is wrong with them."""
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
        return images

    @app.post("/v1/lines:recognize", summary="Recognize handwritten line images", tags=["recognition"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
                      "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
                  "application/json": {"schema": {"type": "object", "required": ["images"], "properties": {
                      "images": {"type": "array", "items": {"type": "string", "format": "byte"}}}},
                      "example": {"images": ["iVBORw0KGgo..."]}}}}},
              responses={200: {"model": RecognizeResponse, "content": {"application/json": {"example": example}}},
                         **{status: {"model": ErrorResponse, "description": description} for status, description in (
                             (400, "bad input (empty, corrupt, malformed request)"),
                             (401, "missing or wrong API key"),
                             (413, "request, image or pixel count over the limits"),
                             (415, "not an image / unsupported content type"),
                             (503, "queue full or not ready; retry after the Retry-After seconds"))}})
    async def recognize_lines(request: Request):
        """One or more line images (multipart field `files`, or JSON `{"images": [base64, …]}`) → text with a
        line confidence and per-character probabilities, in input order."""
        if not state["ready"]:
            return _error(503, "not_ready", "the model is not loaded", {"Retry-After": "5"})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            return _error(413, "request_too_large", f"request of {declared} bytes exceeds {settings.max_request_bytes}")
        with state["batcher"].arriving():  # batches in the making wait for this request's lines
            images = await _read_images(request)
        if isinstance(images, JSONResponse):
            return images
        try:
            results = await state["batcher"].submit(images)
        except QueueFull as exc:
            return _error(503, "overloaded", str(exc), {"Retry-After": "1"})
        lines_total.inc(len(results))
        # A request's lines are never split across a reload, so they all name the same model. The body is
        # encoded here: FastAPI's generic encoder walks every per-character dict again (~0.7 ms a request).
        return RawJSONResponse({"model": getattr(results[0], "model", None) or state["model"], "lines": [
            {"text": r.text, "confidence": round(r.confidence, 5),
             "chars": [{"c": c, "p": round(p, 5)} for c, p in zip(r.text, r.char_probs)]} for r in results]})

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
          routers: Iterable = (), **settings) -> None:
    import uvicorn

    uvicorn.run(create_app(ServerSettings.from_env(model=model, **settings), routers), host=host, port=port,
                log_level=log_level, timeout_graceful_shutdown=60)
