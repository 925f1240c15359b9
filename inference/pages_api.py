"""``POST /v1/pages:extract``: one page image → the document tree and validated records.

Mounted on the service by :func:`inference.server.create_app` (``routers``). Line recognition goes through the
service's one shared micro-batcher, so page crops and line requests are batched together and the queue bound
applies to both. The layout detector is loaded on first use.
"""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from data.schema import BOOKS
from inference.batcher import QueueFull
from inference.images import BadImage, decode_image
from inference.server import _error

PAGE_EXAMPLE = {"page": {"width": 1600, "height": 1131, "book": "khai_sinh", "book_score": 0.97, "skew_degrees": 0.4,
                         "entries": [], "page_fields": [], "review_threshold": 0.9},
                "records": [{"book": "khai_sinh", "entry": 1, "needs_review": True, "flags": [],
                             "fields": [{"key": "nksHoTen", "text": "Nguyễn Văn An", "value": "Nguyễn Văn An",
                                         "confidence": 0.93, "bbox": [120, 310, 480, 352], "flags": []}]}]}


class _BatcherRecognizer:
    """The shape :class:`inference.pages.PagePipeline` wants (``recognize(images, batch_size)``), served by the
    event loop's micro-batcher from the worker thread the pipeline runs in."""

    def __init__(self, batcher, loop: asyncio.AbstractEventLoop):
        self.batcher, self.loop = batcher, loop

    def recognize(self, images: list, batch_size: int = 32) -> list:
        return asyncio.run_coroutine_threadsafe(self.batcher.submit(images), self.loop).result()


def pages_router(detector: str | Path | None = None, review_threshold: float | None = None) -> APIRouter:
    router = APIRouter()
    holder: dict = {}
    lock = threading.Lock()

    def layout():
        with lock:
            if "layout" not in holder:
                from inference.layout import LayoutPredictor
                from inference.pages import default_detector_dir

                holder["layout"] = LayoutPredictor(detector or default_detector_dir())
            return holder["layout"]

    @router.post("/v1/pages:extract", summary="Extract the records of one register page", tags=["pages"],
                 responses={200: {"content": {"application/json": {"example": PAGE_EXAMPLE}}},
                            400: {"description": "empty, corrupt or missing page image"},
                            413: {"description": "page too large"}, 415: {"description": "not an image"},
                            422: {"description": "unknown book"}, 503: {"description": "queue full or not ready"}},
                 openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                     "type": "object", "required": ["file"],
                     "properties": {"file": {"type": "string", "format": "binary"},
                                    "book": {"type": "string", "enum": list(BOOKS)}}}}}}})
    async def extract_page(request: Request):
        from inference.pages import PagePipeline

        state = request.app.state.hotich
        settings = state["settings"]
        if not state.get("ready"):
            return _error(503, "not_ready", "the model is still loading", {"Retry-After": "1"})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            return _error(413, "request_too_large", f"request of {declared} bytes exceeds {settings.max_request_bytes}")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(415, "unsupported_media_type", "send the page as multipart/form-data field `file`")
        form = await request.form(max_files=2, max_fields=8)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _error(400, "missing_file", "multipart field `file` (one page image) is required")
        book = form.get("book") or None
        if book is not None and book not in BOOKS:
            return _error(422, "unknown_book", f"book must be one of {', '.join(BOOKS)}, got {book!r}")
        data = await upload.read()
        if len(data) > settings.max_request_bytes:
            return _error(413, "request_too_large", f"request exceeds {settings.max_request_bytes} bytes")
        try:
            array = decode_image(data, upload.filename or "file", settings.max_pixels)
        except BadImage as bad:
            return _error(bad.status, bad.code, bad.message)
        try:
            predictor = await run_in_threadpool(layout)
        except FileNotFoundError as missing:
            return _error(503, "no_layout_model", str(missing))
        pipeline = PagePipeline(predictor, _BatcherRecognizer(state["batcher"], asyncio.get_running_loop()),
                                review_threshold=review_threshold)
        try:
            result = await run_in_threadpool(pipeline, Image.fromarray(array), book)
        except QueueFull:
            return _error(503, "queue_full", "the recognition queue is full; retry shortly", {"Retry-After": "1"})
        result["page"]["models"] = {"recognizer": state.get("model"), "layout": {"version": predictor.version}}
        return result

    return router


__all__ = ["pages_router"]
