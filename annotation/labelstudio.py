"""A small HTTP client for the parts of Label Studio's REST API that hotich uses (Label Studio 1.23).

Plain HTTP over httpx rather than label-studio-sdk: the SDK lives in ``.venv-ls`` with Label Studio, and the
project talks to Label Studio only over its API. Authentication is the legacy token
(``Authorization: Token <key>``).

Where the settings come from (first found wins): the arguments; ``LABEL_STUDIO_URL`` and
``LABEL_STUDIO_API_KEY`` (the names label-studio-sdk uses); for the URL, ``http://127.0.0.1:8080`` (what
``make labelstudio`` starts); for the token, the credentials file ``make labelstudio`` wrote in ``.labelstudio/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from annotation.labelstudio_server import CREDENTIALS_FILE, DEFAULT_DATA_DIR, DEFAULT_PORT

UPLOAD_BATCH = 50  # files per upload request (Label Studio accepts up to 100 by default)
IMPORT_BATCH = 500  # tasks per import request


class LabelStudioError(RuntimeError):
    """Label Studio refused a request or could not be reached; the message says which and why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _explain(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("validation_errors") or body.get("detail") or body
        return json.dumps(detail, ensure_ascii=False)[:1000]
    return json.dumps(body, ensure_ascii=False)[:1000]


class LabelStudio:
    """One Label Studio server.

    Args:
        url: e.g. ``http://127.0.0.1:8080``.
        token: a legacy API token.
        timeout: seconds per request (exports and imports of large projects take a while).
    """

    def __init__(self, url: str, token: str, timeout: float = 120.0):
        import httpx  # here, not at the top: `hotich --help` should not pay for it

        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Token {token}"}, timeout=timeout)

    @classmethod
    def from_settings(cls, url: str | None = None, token: str | None = None,
                      data_dir: str | os.PathLike = DEFAULT_DATA_DIR) -> "LabelStudio":
        url = url or os.environ.get("LABEL_STUDIO_URL") or f"http://127.0.0.1:{DEFAULT_PORT}"
        token = token or os.environ.get("LABEL_STUDIO_API_KEY")
        if not token:
            saved = Path(data_dir) / CREDENTIALS_FILE
            if saved.is_file():
                token = json.loads(saved.read_text())["token"]
        if not token:
            raise LabelStudioError("no Label Studio API token: pass --token, set LABEL_STUDIO_API_KEY, or start "
                                   "the local server with `make labelstudio` (it saves one in .labelstudio/)")
        return cls(url, token)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "LabelStudio":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, expect_json: bool = True, **kwargs):
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url} ({exc.__class__.__name__}: {exc}); "
                                   "is it running? (`make labelstudio`)") from None
        if response.status_code == 401:
            raise LabelStudioError(f"Label Studio at {self.url} rejected the API token (401); check "
                                   "LABEL_STUDIO_API_KEY and that legacy tokens are enabled", 401)
        if response.status_code >= 400:
            raise LabelStudioError(f"{method} {path} failed with {response.status_code}: {_explain(response)}",
                                   response.status_code)
        if not expect_json:
            return response
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- projects ---------------------------------------------------------------------------------------------
    def projects(self) -> list[dict]:
        found, page = [], 1
        while True:
            body = self.request("GET", "/api/projects", params={"page": page, "page_size": 100})
            found.extend(body["results"])
            if not body.get("next"):
                return found
            page += 1

    def find_project(self, title: str) -> dict | None:
        """The project called ``title``; None when there is none. Titles are not unique in Label Studio, so two
        projects with the title are an error rather than a guess."""
        matches = [p for p in self.projects() if p["title"] == title]
        if len(matches) > 1:
            ids = ", ".join(str(p["id"]) for p in matches)
            raise LabelStudioError(f"{len(matches)} projects are called {title!r} (ids {ids}); rename all but one")
        return self.project(matches[0]["id"]) if matches else None

    def project(self, project_id: int) -> dict:
        return self.request("GET", f"/api/projects/{project_id}")

    def create_project(self, title: str, label_config: str, **settings) -> dict:
        return self.request("POST", "/api/projects", json={"title": title, "label_config": label_config, **settings})

    def update_project(self, project_id: int, **fields) -> dict:
        return self.request("PATCH", f"/api/projects/{project_id}", json=fields)

    # --- data -------------------------------------------------------------------------------------------------
    def upload_files(self, project_id: int, files: list[tuple[str, bytes]]) -> dict[str, str]:
        """Upload files without creating tasks; returns ``{file name: URL in Label Studio}``.

        Names must be unique: Label Studio stores each as ``upload/<project>/<8 hex>-<name>``, which is how the
        URLs are matched back to the names.
        """
        names = [name for name, _ in files]
        if len(set(names)) != len(names):
            raise ValueError("upload_files needs unique file names")
        urls: dict[str, str] = {}
        for start in range(0, len(files), UPLOAD_BATCH):
            batch = files[start:start + UPLOAD_BATCH]
            multipart = {f"file{i}": (name, data) for i, (name, data) in enumerate(batch)}
            body = self.request("POST", f"/api/projects/{project_id}/import", params={"commit_to_project": "false"},
                                files=multipart)
            ids = body.get("file_upload_ids") or []
            uploads = self.request("GET", f"/api/projects/{project_id}/file-uploads", params={"ids": json.dumps(ids)})
            for upload in uploads:
                stored = upload["file"]
                original = stored.rsplit("/", 1)[-1].split("-", 1)[-1]
                urls[original] = "/data/" + stored.lstrip("/")
            missing = [name for name, _ in batch if name not in urls]
            if missing:
                raise LabelStudioError(f"Label Studio did not store {len(missing)} uploaded files: {missing[:5]}")
        return urls

    def import_tasks(self, project_id: int, tasks: list[dict]) -> list[int]:
        """Create tasks (with their predictions); returns the new task ids in the order given."""
        ids: list[int] = []
        for start in range(0, len(tasks), IMPORT_BATCH):
            body = self.request("POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"},
                                json=tasks[start:start + IMPORT_BATCH])
            ids.extend(body.get("task_ids", []))
        return ids

    def tasks(self, project_id: int, page_size: int = 200) -> Iterator[dict]:
        """Every task of the project, with its data and counts (no annotation bodies)."""
        page = 1
        while True:
            try:
                body = self.request("GET", "/api/tasks", params={"project": project_id, "page": page,
                                                                 "page_size": page_size})
            except LabelStudioError as exc:
                if exc.status == 404:  # asked for the page after the last one
                    return
                raise
            yield from body["tasks"]
            if page * page_size >= body.get("total", 0):
                return
            page += 1

    def task(self, task_id: int) -> dict:
        return self.request("GET", f"/api/tasks/{task_id}")

    def add_predictions(self, project_id: int, predictions: list[dict]) -> None:
        """Attach predictions ``{"task": id, "result", "score", "model_version"}`` to existing tasks."""
        for start in range(0, len(predictions), IMPORT_BATCH):
            self.request("POST", f"/api/projects/{project_id}/import/predictions",
                         json=predictions[start:start + IMPORT_BATCH])

    def export(self, project_id: int) -> list[dict]:
        """Full JSON export: every task with all its annotations (skipped ones included) and predictions."""
        return self.request("GET", f"/api/projects/{project_id}/export",
                            params={"exportType": "JSON", "download_all_tasks": "true"})

    def download(self, url: str) -> bytes:
        """A file Label Studio serves (an uploaded image: ``/data/upload/...``)."""
        return self.request("GET", url, expect_json=False).content

    # --- annotations ------------------------------------------------------------------------------------------
    def create_annotation(self, task_id: int, result: list[dict], was_cancelled: bool = False,
                          lead_time: float | None = None) -> dict:
        body = {"result": result, "was_cancelled": was_cancelled}
        if lead_time is not None:
            body["lead_time"] = lead_time
        return self.request("POST", f"/api/tasks/{task_id}/annotations", json=body)

    def update_annotation(self, annotation_id: int, result: list[dict]) -> dict:
        return self.request("PATCH", f"/api/annotations/{annotation_id}", json={"result": result})

    def next_task(self, project_id: int) -> dict | None:
        """The task Label Studio's labeling stream gives the current user next."""
        try:
            return self.request("GET", f"/api/projects/{project_id}/next")
        except LabelStudioError as exc:
            if exc.status == 404:
                return None
            raise

    # --- ML backends ------------------------------------------------------------------------------------------
    def ml_backends(self, project_id: int) -> list[dict]:
        return self.request("GET", "/api/ml", params={"project": project_id})

    def add_ml_backend(self, project_id: int, url: str, title: str = "hotich", is_interactive: bool = False,
                       **fields) -> dict:
        """Connect an ML backend; Label Studio checks its ``/health`` and ``/setup`` before saving it."""
        return self.request("POST", "/api/ml", json={"project": project_id, "url": url, "title": title,
                                                      "is_interactive": is_interactive, **fields})

    def retrieve_predictions(self, project_id: int, task_ids: Iterable[int] | None = None) -> dict:
        """Ask the project's ML backend for predictions of ``task_ids`` (all tasks when None), through Label
        Studio's data-manager action, exactly as the "Retrieve Predictions" button does."""
        ids = list(task_ids) if task_ids is not None else None
        selected = {"all": True, "excluded": []} if ids is None else {"all": False, "included": ids}
        return self.request("POST", "/api/dm/actions", params={"id": "retrieve_tasks_predictions",
                                                               "project": project_id},
                            json={"selectedItems": selected})

    def webhooks(self, project_id: int) -> list[dict]:
        return self.request("GET", "/api/webhooks", params={"project": project_id})
