"""The model registry: every recognizer version the retraining loop produced, which one serves, and why.

One JSON file, ``registry.json``, in a directory of its own (``$HOTICH_REGISTRY``, else ``runs/registry``)::

    {"format": 1,
     "versions": [{"version": 2, "name": "hotich-rec-base-v2", "path": ".../best", "status": "promoted",
                   "parent": 1, "data_hash": "9c1f...", "weights_sha256": "3f2a...", "created": "2025-...Z",
                   "metrics": {...}, "decision": {...}, "source": {"job": 7, "project": "3"},
                   "history": [{"status": "promoted", "at": "...", "reason": "passed the promotion gate"}]}],
     "serving": [1, 2]}

A version is a *candidate* until the promotion gate (or an operator) decides, then *promoted* or *rejected*.
``serving`` is the stack of promotions, the last one serving now; a rollback pops it (the rolled-back version
becomes *rejected*) and the one below serves again. Versions point at their model directories; the registry never
copies weights, so keep the directories it names.

``data_hash`` identifies the corrections a version was fine-tuned on: the SHA-256 over the sorted
``(image SHA-256, text)`` pairs of the correction manifest (:func:`corrections_hash`), so the same corrections
hash the same whatever their file names or order, and one changed character changes the hash.

Writers take a lock file, and the JSON is replaced atomically: the worker and an operator's ``hotich models``
commands can run at the same time. Records hold names, numbers and hashes, never ledger text.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

CANDIDATE, PROMOTED, REJECTED = "candidate", "promoted", "rejected"
STATUSES = (CANDIDATE, PROMOTED, REJECTED)
REGISTRY_FILE = "registry.json"
FORMAT = 1


class RegistryError(ValueError):
    """A request the registry cannot honour (unknown version, nothing to roll back to, ...); the message says why."""


def default_registry_dir() -> Path:
    """``$HOTICH_REGISTRY``, else ``runs/registry`` in the project."""
    from data.settings import PROJECT_ROOT

    return Path(os.environ.get("HOTICH_REGISTRY") or PROJECT_ROOT / "runs" / "registry")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def weights_sha256(model_dir: str | os.PathLike) -> str | None:
    """SHA-256 of a recognizer's ``model.safetensors`` (the server reports its first 12 hex digits as the version),
    or the one an ONNX export recorded; None when neither is there."""
    model_dir = Path(model_dir)
    weights = model_dir / "model.safetensors"
    if weights.is_file():
        digest = hashlib.sha256()
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    onnx_config = model_dir / "onnx_config.json"
    if onnx_config.is_file():
        return json.loads(onnx_config.read_text())["source"]["weights_sha256"]
    return None


def corrections_hash(records: Iterable) -> str:
    """The data hash of a set of corrections (:class:`data.manifest.LineRecord`): SHA-256 over the sorted
    ``(image SHA-256, NFC text)`` pairs."""
    pairs = sorted((hashlib.sha256(Path(r.image).read_bytes()).hexdigest(), r.text) for r in records)
    digest = hashlib.sha256()
    for image_hash, text in pairs:
        digest.update(image_hash.encode() + b"\0" + text.encode("utf-8") + b"\n")
    return digest.hexdigest()


@dataclass
class ModelVersion:
    """One registered recognizer.

    Attributes:
        version: 1, 2, ... in registration order (shown as ``v1``, ``v2``).
        name: what the server reports for it, e.g. ``hotich-rec-base-v2``.
        path: its model directory (a recognizer directory, or an ONNX export).
        status: ``candidate``, ``promoted`` or ``rejected``.
        parent: the version it was fine-tuned from (None for a baseline).
        data_hash: :func:`corrections_hash` of its fine-tuning corrections (None for a baseline).
        metrics: CER etc. per validation set, as measured when it was registered.
        decision: the promotion gate's decision, numbers and reasons included.
        source: where it came from (job id, Label Studio project, correction counts).
        history: status changes ``{"status", "at", "reason"}``, oldest first.
    """

    version: int
    name: str
    path: str
    status: str
    created: str
    parent: int | None = None
    data_hash: str | None = None
    weights_sha256: str | None = None
    metrics: dict = field(default_factory=dict)
    decision: dict | None = None
    source: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    def to_json(self) -> dict:
        return asdict(self)


class Registry:
    """The registry in ``directory`` (created on first write).

    Args:
        directory: default :func:`default_registry_dir`.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory else default_registry_dir()
        self.path = self.directory / REGISTRY_FILE

    # --- storage ----------------------------------------------------------------------------------------------
    def _read(self) -> dict:
        if not self.path.is_file():
            return {"format": FORMAT, "versions": [], "serving": []}
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RegistryError(f"{self.path} is not valid JSON ({exc}); restore it from a backup") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise RegistryError(f"{self.path}: not a hotich model registry (format {FORMAT})")
        return state

    @contextlib.contextmanager
    def _locked(self):
        """Read-modify-write under an exclusive lock; the file is replaced atomically on success."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".registry.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read()
            yield state
            tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
            tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)

    @staticmethod
    def _version(raw: dict) -> ModelVersion:
        return ModelVersion(**raw)

    # --- reading ----------------------------------------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        return [self._version(v) for v in self._read()["versions"]]

    def serving(self) -> ModelVersion | None:
        """The version serving now (the last promotion not rolled back); None before any."""
        state = self._read()
        return self._find(state, state["serving"][-1]) if state["serving"] else None

    def get(self, ref: int | str) -> ModelVersion:
        """A version by number (``3``, ``"3"``, ``"v3"``) or ``"serving"``."""
        state = self._read()
        if ref == "serving":
            if not state["serving"]:
                raise RegistryError(f"no version serves yet ({self.path})")
            return self._find(state, state["serving"][-1])
        return self._find(state, self._number(ref))

    @staticmethod
    def _number(ref: int | str) -> int:
        text = str(ref).strip().lower().removeprefix("v")
        if not text.isdigit():
            raise RegistryError(f"{ref!r} is not a version (e.g. 3, v3 or serving)")
        return int(text)

    def _find(self, state: dict, number: int) -> ModelVersion:
        for raw in state["versions"]:
            if raw["version"] == number:
                return self._version(raw)
        raise RegistryError(f"no version v{number} in {self.path}")

    def find(self, data_hash: str | None = None, parent: int | None = None) -> list[ModelVersion]:
        """Versions fine-tuned on these corrections (and from this parent, when given)."""
        return [v for v in self.versions() if (data_hash is None or v.data_hash == data_hash)
                and (parent is None or v.parent == parent)]

    # --- writing ----------------------------------------------------------------------------------------------
    def register(self, path: str | os.PathLike, *, name: str | None = None, status: str = CANDIDATE,
                 parent: int | None = None, data_hash: str | None = None, metrics: dict | None = None,
                 decision: dict | None = None, source: dict | None = None, reason: str = "registered") -> ModelVersion:
        """Add a version; ``status=promoted`` also makes it serve. ``name`` defaults to ``<lineage>-v<N>`` where the
        lineage is the name of the first version (or the directory's name for the first one)."""
        if status not in STATUSES:
            raise RegistryError(f"status must be one of {STATUSES}, got {status!r}")
        path = Path(path).resolve()
        if not path.is_dir():
            raise RegistryError(f"{path}: no model directory there")
        digest = weights_sha256(path)
        if digest is None:
            raise RegistryError(f"{path}: neither a recognizer (model.safetensors) nor an ONNX export")
        with self._locked() as state:
            if parent is not None:
                self._find(state, parent)  # must exist
            number = max((v["version"] for v in state["versions"]), default=0) + 1
            if name is None:
                lineage = state["versions"][0]["name"] if state["versions"] else None
                name = f"{lineage}-v{number}" if lineage else (path.name if path.name != "best" else path.parent.name)
            version = ModelVersion(number, name, str(path), status, _now(), parent, data_hash, digest,
                                   metrics or {}, decision, source or {}, [{"status": status, "at": _now(),
                                                                            "reason": reason}])
            state["versions"].append(version.to_json())
            if status == PROMOTED:
                state["serving"].append(number)
        return version

    def ensure_baseline(self, path: str | os.PathLike, name: str | None = None) -> ModelVersion:
        """The serving version; when nothing serves yet, ``path`` registered as the promoted baseline (or, when
        it is already registered, that version promoted)."""
        current = self.serving()
        if current is not None:
            return current
        digest = weights_sha256(path)
        for version in self.versions():
            if version.weights_sha256 == digest:
                return self.promote(version.version, reason="baseline: the model serving before any retraining",
                                    force=True)
        return self.register(path, name=name, status=PROMOTED,
                             reason="baseline: the model serving before any retraining")

    def set_status(self, ref: int | str, status: str, reason: str, decision: dict | None = None) -> ModelVersion:
        """Record a decision on a candidate (``promoted`` also makes it serve)."""
        if status not in STATUSES:
            raise RegistryError(f"status must be one of {STATUSES}, got {status!r}")
        number = self._number(ref)
        with self._locked() as state:
            raw = next((v for v in state["versions"] if v["version"] == number), None)
            if raw is None:
                raise RegistryError(f"no version v{number} in {self.path}")
            raw["status"] = status
            raw["history"].append({"status": status, "at": _now(), "reason": reason})
            if decision is not None:
                raw["decision"] = decision
            if status == PROMOTED and (not state["serving"] or state["serving"][-1] != number):
                state["serving"].append(number)
            return self._version(raw)

    def promote(self, ref: int | str, reason: str = "promoted by an operator", force: bool = False) -> ModelVersion:
        """Make a version serve. A version the gate rejected needs ``force`` (an operator overriding the gate)."""
        version = self.get(ref)
        if version.status == REJECTED and not force:
            raise RegistryError(f"{version.tag} was rejected ({version.history[-1]['reason']}); "
                                "promote it anyway with --force")
        current = self.serving()
        if current is not None and current.version == version.version:
            return version
        return self.set_status(version.version, PROMOTED, reason)

    def rollback(self, reason: str = "rolled back by an operator") -> tuple[ModelVersion, ModelVersion]:
        """Stop serving the current version (it becomes rejected) and serve the one promoted before it.

        Returns:
            ``(rolled back, serving now)``.
        """
        with self._locked() as state:
            if len(state["serving"]) < 2:
                raise RegistryError("nothing to roll back to: fewer than two promotions in "
                                    f"{self.path}")
            number = state["serving"].pop()
            # A version promoted twice (promote, rollback, promote) appears twice; it leaves the stack entirely.
            state["serving"] = [n for n in state["serving"] if n != number]
            if not state["serving"]:
                raise RegistryError("nothing to roll back to: only one version was ever promoted")
            raw = next(v for v in state["versions"] if v["version"] == number)
            raw["status"] = REJECTED
            raw["history"].append({"status": REJECTED, "at": _now(), "reason": reason})
            rolled_back = self._version(raw)
            now = self._find(state, state["serving"][-1])
        return rolled_back, now


def request_reload(server: str, version: ModelVersion, api_key: str | None = None, timeout: float = 600.0) -> dict:
    """Ask a running ``hotich serve`` to hot-reload ``version`` (``POST /v1/models:reload``); returns its answer.

    Raises:
        RegistryError: the server could not be reached or refused (the message has its error).
    """
    import httpx

    api_key = api_key or os.environ.get("HOTICH_API_KEY") or None
    headers = {"X-API-Key": api_key} if api_key else {}
    url = server.rstrip("/") + "/v1/models:reload"
    try:
        response = httpx.post(url, json={"path": version.path, "name": version.name}, headers=headers,
                              timeout=timeout)
    except httpx.HTTPError as exc:
        raise RegistryError(f"cannot reach the server at {server} ({exc.__class__.__name__}: {exc})") from None
    if response.status_code != 200:
        try:
            detail = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = response.text[:300]
        raise RegistryError(f"{url} answered {response.status_code}: {detail}")
    return response.json()
