"""``POST /v1/pages:extract``: one page image → the document tree and validated records.

Mounted on the service by :func:`inference.server.create_app` (``routers``). The layout detector is loaded on
first use. Printed lines (headings, the page header) go through the service's one shared micro-batcher, so page
crops and line requests are batched together and the queue bound applies to both. Handwritten field lines are
read as ``hotich extract`` reads them: by the served recognizer and a second opinion together
(:mod:`inference.ensemble`; by default the released second opinion, when the served model is the released one),
at most :data:`PAGES_IN_FLIGHT` pages at a time (more get 503); without a second opinion, through the batcher.
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
                         "entries": [], "page_fields": [], "review_threshold": 0.95},
                "records": [{"book": "khai_sinh", "entry": 1, "needs_review": True, "flags": [],
                             "fields": [{"key": "nksHoTen", "text": "Nguyễn Văn An", "value": "Nguyễn Văn An",
                                         "confidence": 0.93, "bbox": [120, 310, 480, 352], "flags": []}]}]}


#: Pages read at once by the served recognizer and the second opinion (each page's lines are one batch already).
PAGES_IN_FLIGHT = 4


class _BatcherRecognizer:
    """The shape :class:`inference.pages.PagePipeline` wants (``recognize(images, batch_size)``), served by the
    event loop's micro-batcher from the worker thread the pipeline runs in."""

    def __init__(self, batcher, loop: asyncio.AbstractEventLoop):
        self.batcher, self.loop = batcher, loop

    def recognize(self, images: list, batch_size: int = 32) -> list:
        return asyncio.run_coroutine_threadsafe(self.batcher.submit(images), self.loop).result()


def pages_router(detector: str | Path | None = None, review_threshold: float | None = None,
                 second_model: str | Path | None = None, single_model: bool = False,
                 heading_model: str | Path | None = None) -> APIRouter:
    """The route; ``second_model`` reads page lines beside the served recognizer and ``heading_model`` the
    printed headings (defaults: the released second opinion and print reader, where the served model is the
    released one); ``single_model`` reads everything with the served one alone."""
    if single_model and (second_model or heading_model):
        raise ValueError("single_model reads page lines with the served recognizer alone: pass no second_model "
                         "or heading_model")
    router = APIRouter()
    holder: dict = {"in_flight": 0}
    lock = threading.Lock()

    def second_opinion(settings) -> Path | None:
        from inference.evaluate import default_second_opinion_dir

        if single_model:
            return None
        return Path(second_model) if second_model else default_second_opinion_dir() if settings.model is None else None

    def print_reader_dir(settings) -> Path | None:
        from inference.evaluate import default_print_reader_dir

        if single_model:
            return None
        return Path(heading_model) if heading_model else default_print_reader_dir() if settings.model is None else None

    def print_reader(state, path: Path):
        """The print reader, loaded on first use (it does not change with the served model)."""
        with lock:
            if holder.get("print_reader_key") != str(path):
                from inference.server import load_runtime

                settings = state["settings"]
                holder["print_reader"] = load_runtime(path, settings.intra_op_threads, 1, settings.variant)[0]
                holder["print_reader_key"] = str(path)
            return holder["print_reader"]

    def ensemble(state, second: Path):
        """The served recognizer and the second opinion, loaded on first use and again after a model reload."""
        with lock:
            key = (state["model_path"], str(second))
            if holder.get("ensemble_key") != key:
                from inference.ensemble import EnsembleRecognizer, field_members
                from inference.pages import FIELD_VIEW_SHIFT
                from inference.server import load_runtime

                settings = state["settings"]
                first, other = [load_runtime(path, settings.intra_op_threads, settings.beam_width, settings.variant)[0]
                                for path in (state["model_path"], second)]
                holder["ensemble"] = EnsembleRecognizer(field_members(first, other, FIELD_VIEW_SHIFT))
                holder["ensemble_key"] = key
            return holder["ensemble"]

    def layout():
        with lock:
            if "layout" not in holder:
                from inference.layout import LayoutPredictor
                from inference.pages import default_detector_dir

                holder["layout"] = LayoutPredictor(detector or default_detector_dir())
            return holder["layout"]

    @router.post("/v1/pages:extract", summary="Extract the records of one register page", tags=["pages"],
                 responses={200: {"content": {"application/json": {"example": PAGE_EXAMPLE}}},
                            400: {"description": "empty, corrupt or missing page image, or a file of several "
                                                  "pages (a multi-page TIFF or PDF: send one page)"},
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
        second = second_opinion(settings)
        reader, field_reader = _BatcherRecognizer(state["batcher"], asyncio.get_running_loop()), None
        if second is not None:
            with lock:
                if holder["in_flight"] >= PAGES_IN_FLIGHT:
                    return _error(503, "queue_full", f"{PAGES_IN_FLIGHT} pages are being read; retry shortly",
                                  {"Retry-After": "1"})
                holder["in_flight"] += 1
        try:
            if second is not None:
                try:
                    field_reader = await run_in_threadpool(ensemble, state, second)
                except (FileNotFoundError, ValueError) as bad:
                    return _error(503, "no_second_opinion", str(bad))
            heading_dir, heading_reader = print_reader_dir(settings), None
            if heading_dir is not None:
                try:
                    heading_reader = await run_in_threadpool(print_reader, state, heading_dir)
                except (FileNotFoundError, ValueError) as bad:
                    return _error(503, "no_print_reader", str(bad))
            pipeline = PagePipeline(predictor, reader, review_threshold=review_threshold, field_recognizer=field_reader,
                                    heading_recognizer=heading_reader)
            result = await run_in_threadpool(pipeline, Image.fromarray(array), book)
        except QueueFull:
            return _error(503, "queue_full", "the recognition queue is full; retry shortly", {"Retry-After": "1"})
        finally:
            if second is not None:
                with lock:
                    holder["in_flight"] -= 1
        models = {"recognizer": state.get("model"), "layout": {"version": predictor.version}}
        if second is not None:
            models["second_opinion"] = {"name": second.name,
                                        "version": field_reader.members[1].config["source"]["weights_sha256"][:12],
                                        # the served recognizer reads field lines a third time, moved this far
                                        "view_shift_px": getattr(field_reader.members[-1], "shift", 0)}
        if heading_reader is not None:
            models["print_reader"] = {"name": heading_dir.name,
                                      "version": heading_reader.config["source"]["weights_sha256"][:12]}
        result["page"]["models"] = models
        return result

    return router


__all__ = ["pages_router"]
