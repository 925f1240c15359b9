"""Label Studio's ML backend protocol on the hotich inference server: live predictions for annotators and
retraining requests from annotation events.

Label Studio calls, relative to the backend URL it was given (``http://HOST:PORT/labelstudio``):

``GET /health``
    ``{"status": "UP"}`` once the recognizer is loaded (503 before).
``POST /setup``
    ``{"project": "<id>.<created timestamp>", "schema": <label config>, "hostname", "access_token"}`` when the
    backend is connected or checked. hotich checks that it understands the config and remembers where that
    project's Label Studio is (to fetch task images); answers ``{"model_version": ...}``.
``POST /predict``
    ``{"tasks": [...], "label_config", "params": {"context": ...}}``. Line tasks: the recognizer's text as a
    TextArea pre-annotation with ``score`` and ``model_version``. Page tasks: for each rectangle in the
    interactive ``context`` (what the annotator just drew), the text of that region; without one, an empty
    prediction (there is no page model yet).
``POST /webhook``
    Label Studio's project webhook (it registers one for every ML backend). ``ANNOTATION_CREATED``,
    ``ANNOTATION_UPDATED`` and ``START_TRAINING`` queue a retraining job in the on-disk :class:`~annotation.jobs.
    JobQueue` (one pending job per project, surviving restarts) and answer at once; Label Studio gives webhooks
    1 s. Other actions are acknowledged and ignored.
``POST /train``
    What Label Studio calls for "Start Training" when its training-webhook feature flag is off: same as
    ``START_TRAINING``.

hotich adds ``GET /jobs`` (the queue, ids and counts only). Running the jobs (fine-tune, gate, promotion, hot
reload) is the retraining worker's part; it reads the same queue.

Mount it with ``app.include_router(ml_backend_router(...))``; it reads the recognizer from ``app.state.hotich``
as :func:`inference.server.create_app` sets it.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from annotation.configs import LINE, ConfigError, ConfigNames, parse_config
from annotation.jobs import JobQueue
from annotation.predictors import model_version as version_string
from annotation.tasks import line_result

log = logging.getLogger("hotich.ml_backend")

TRAINING_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING")
DEFAULT_PREFIX = "/labelstudio"
CONNECTIONS_FILE = "labelstudio-connections.json"


def default_jobs_dir() -> Path:
    """``$HOTICH_JOBS_DIR``, else ``runs/jobs`` in the project."""
    from data.settings import PROJECT_ROOT

    return Path(os.environ.get("HOTICH_JOBS_DIR") or PROJECT_ROOT / "runs" / "jobs")


class Connections:
    """Where each Label Studio project lives (URL and access token from ``/setup``), kept in a 0600 JSON file
    beside the job queue so that image fetching and the retraining worker work after a restart."""

    def __init__(self, directory: Path, url: str | None = None, token: str | None = None):
        self.path = Path(directory) / CONNECTIONS_FILE
        self.default = {"hostname": url, "access_token": token} if url else None
        self._lock = threading.Lock()
        self._known = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, project: str | None) -> dict | None:
        return self._known.get(str(project)) or self.default

    def set(self, project: str, hostname: str, token: str | None) -> None:
        with self._lock:
            if self._known.get(project) == {"hostname": hostname, "access_token": token}:
                return
            self._known[project] = {"hostname": hostname, "access_token": token}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(self._known, handle)
            tmp.replace(self.path)


def project_id(value) -> str | None:
    """Label Studio names a project ``"<id>.<timestamp>"`` in ML requests and as an object in webhooks."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        return None
    return str(value).split(".", 1)[0]


def _check_key(api_key: str | None):
    """Authentication for these routes when the server has an API key: the X-API-Key / Bearer header like the
    recognition API, or HTTP Basic with the key as password (Label Studio's ML backend "basic auth")."""

    def check(request: Request) -> None:
        if not api_key:
            return
        supplied = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            supplied = auth.removeprefix("Bearer ")
        elif auth.startswith("Basic "):
            try:
                supplied = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)[-1]
            except (binascii.Error, UnicodeDecodeError):
                supplied = ""
        if supplied != api_key:
            raise HTTPException(401, "missing or wrong API key (X-API-Key, Bearer, or Basic auth password)")

    return check


def ml_backend_router(jobs_dir: str | os.PathLike | None = None, prefix: str = DEFAULT_PREFIX,
                      api_key: str | None = None, labelstudio_url: str | None = None,
                      labelstudio_token: str | None = None, fetch_timeout: float = 30.0) -> APIRouter:
    """The ML backend routes under ``prefix``.

    Args:
        jobs_dir: the retraining queue's directory (default :func:`default_jobs_dir`).
        api_key: require this key (see :func:`_check_key`); None = open (local use).
        labelstudio_url, labelstudio_token: where to fetch task images when ``/setup`` has not said (e.g. right
            after a restart before Label Studio checks the backend again).
    """
    directory = Path(jobs_dir) if jobs_dir else default_jobs_dir()
    queue = JobQueue(directory)
    connections = Connections(directory, labelstudio_url, labelstudio_token)
    router = APIRouter(prefix=prefix, tags=["label studio ml backend"], dependencies=[Depends(_check_key(api_key))])
    router.job_queue = queue  # for the app (and tests) to reach the queue this router writes

    def runtime(request: Request) -> dict:
        state = getattr(request.app.state, "hotich", None)
        if not state or not state.get("ready"):
            raise HTTPException(503, "the recognizer is not loaded yet")
        return state

    def current_version(state: dict) -> str:
        return version_string(state["model"]["name"], state["model"]["version"])

    @router.get("/health", summary="ML backend health (Label Studio protocol)")
    def health(request: Request):
        state = getattr(request.app.state, "hotich", None)
        if not state or not state.get("ready"):
            return JSONResponse({"status": "DOWN", "model_class": "hotich"}, status_code=503)
        return {"status": "UP", "model_class": "hotich", "model_version": current_version(state)}

    @router.post("/setup", summary="Connect a Label Studio project")
    async def setup(request: Request):
        state = runtime(request)
        body = await _json(request)
        try:
            parse_config(body.get("schema") or "")
        except ConfigError as exc:
            raise HTTPException(400, f"hotich cannot predict for this project: {exc}") from None
        project = project_id(body.get("project"))
        if project and body.get("hostname"):
            connections.set(project, body["hostname"], body.get("access_token"))
        return {"model_version": current_version(state)}

    @router.get("/versions", summary="Model versions this backend serves")
    def versions(request: Request):
        return {"versions": [current_version(runtime(request))]}

    @router.post("/predict", summary="Predictions for Label Studio tasks")
    async def predict(request: Request):
        state = runtime(request)
        body = await _json(request)
        tasks = body.get("tasks")
        if not isinstance(tasks, list):
            raise HTTPException(400, "expected {'tasks': [...], 'label_config': ...}")
        try:
            names = parse_config(body.get("label_config") or "")
        except ConfigError as exc:
            raise HTTPException(400, str(exc)) from None
        connection = connections.get(project_id(body.get("project")))
        version = current_version(state)
        context = (body.get("params") or {}).get("context") or {}
        async with httpx.AsyncClient(timeout=fetch_timeout) as http:
            if names.kind == LINE:
                results = await _predict_lines(state, http, connection, names, tasks, version)
            else:
                results = await _predict_regions(state, http, connection, names, tasks, version, context)
        return {"results": results, "model_version": version}

    @router.post("/webhook", summary="Label Studio events; queues retraining", status_code=201)
    async def webhook(request: Request):
        body = await _json(request)
        action = body.get("action")
        if action not in TRAINING_ACTIONS:
            return JSONResponse({"status": "ignored", "action": action}, status_code=200)
        return await asyncio.to_thread(_enqueue, body, action)

    @router.post("/train", summary="Start training (Label Studio without training webhooks)", status_code=201)
    async def train(request: Request):
        body = await _json(request)
        return await asyncio.to_thread(_enqueue, body, "START_TRAINING")

    def _enqueue(body: dict, action: str) -> dict:
        project = project_id(body.get("project"))
        if not project:
            raise HTTPException(400, "the event names no project")
        connection = connections.get(project) or {}
        payload = {"labelstudio_url": connection.get("hostname"), "last_action": action}
        if isinstance(body.get("project"), dict) and body["project"].get("title"):
            payload["project_title"] = body["project"]["title"]
        if isinstance(body.get("annotation"), dict):
            payload["last_annotation"] = body["annotation"].get("id")
        job, created = queue.enqueue(project, action, payload)
        log.info("webhook %s for project %s: %s job %d (%d events)", action, project,
                 "queued" if created else "merged into", job.id, job.events)
        return {"status": "queued", "job": job.id, "created": created, "events": job.events}

    @router.get("/jobs", summary="Retraining jobs (ids, counts and times)")
    def list_jobs(status: str | None = None, project: str | None = None):
        return {"jobs": [j.to_json() for j in queue.list(status=status, project=project)]}

    return router


async def _json(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "expected a JSON object")
    return body


async def _fetch(http: httpx.AsyncClient, connection: dict | None, url: str) -> bytes:
    """A task's image: a ``data:`` URI, or a file on the project's Label Studio (a relative ``/data/...`` URL or
    an absolute URL on that same host). Other hosts are refused: a task must not make the server fetch
    arbitrary URLs."""
    if url.startswith("data:"):
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError):
            raise ValueError("malformed data: URI") from None
    if not connection or not connection.get("hostname"):
        raise ValueError("Label Studio's address is unknown (no /setup yet and no --labelstudio-url)")
    base = connection["hostname"].rstrip("/") + "/"
    target = urljoin(base, url)
    if urlsplit(target)[:2] != urlsplit(base)[:2]:
        raise ValueError("image URL is not on the project's Label Studio host")
    headers = {"Authorization": f"Token {connection['access_token']}"} if connection.get("access_token") else {}
    response = await http.get(target, headers=headers)
    response.raise_for_status()
    return response.content


async def _images(http, connection, names: ConfigNames, tasks: list[dict], max_pixels: int):
    from inference.images import BadImage, decode_image

    async def one(task):
        try:
            url = (task.get("data") or {}).get(names.image_key)
            if not isinstance(url, str):
                raise ValueError(f"task has no {names.image_key!r}")
            return decode_image(await _fetch(http, connection, url), f"task {task.get('id')}", max_pixels)
        except (ValueError, BadImage, httpx.HTTPError) as exc:
            log.warning("no prediction for task %s: %s", task.get("id"), getattr(exc, "message", exc))
            return None

    return await asyncio.gather(*(one(t) for t in tasks))


async def _predict_lines(state, http, connection, names, tasks, version) -> list[dict]:
    images = await _images(http, connection, names, tasks, state["settings"].max_pixels)
    ok = [i for i, im in enumerate(images) if im is not None]
    recognized = await state["batcher"].submit([images[i] for i in ok]) if ok else []
    results = [{"result": [], "model_version": version} for _ in tasks]
    for i, r in zip(ok, recognized):
        results[i] = {"result": line_result(names, r.text), "score": round(float(r.confidence), 6),
                      "model_version": version}
    return results


async def _predict_regions(state, http, connection, names, tasks, version, context) -> list[dict]:
    """Page tasks: recognize the rectangles of the interactive context (Label Studio sends one task then)."""
    regions = [r for r in context.get("result") or [] if r.get("type") == "rectanglelabels" and r.get("value")]
    results = [{"result": [], "model_version": version} for _ in tasks]
    if not regions or len(tasks) != 1:
        return results
    (page,) = await _images(http, connection, names, tasks, state["settings"].max_pixels)
    if page is None:
        return results
    height, width = page.shape[:2]
    crops, kept = [], []
    for region in regions:
        v = region["value"]
        x0, y0 = int(v["x"] * width / 100), int(v["y"] * height / 100)
        x1, y1 = int((v["x"] + v["width"]) * width / 100), int((v["y"] + v["height"]) * height / 100)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            crops.append(page[max(0, y0):y1, max(0, x0):x1])
            kept.append(region)
    if not crops:
        return results
    recognized = await state["batcher"].submit(crops)
    out = []
    for region, r in zip(kept, recognized):
        value = {k: region["value"][k] for k in ("x", "y", "width", "height", "rotation") if k in region["value"]}
        out.append({"id": region.get("id"), "from_name": names.text, "to_name": names.image, "type": "textarea",
                    "value": {**value, "text": [r.text]}, "score": round(float(r.confidence), 6)})
    scores = [o["score"] for o in out]
    results[0] = {"result": out, "score": min(scores), "model_version": version}
    return results
