"""Where pre-annotations come from: the recognizer itself (the same onnxruntime path the server uses), or a
predictions file written earlier (``hotich eval --predictions``).

A line predictor maps line images to ``(text, score)`` pairs and names its ``model_version``; the version string
is ``<model name>@<first 12 hex of the weights' SHA-256>``, the same as the server reports, so predictions
pushed ahead of time and live predictions from the ML backend name one model the same way.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from data.charset import nfc


class LinePredictor(Protocol):
    model_version: str

    def __call__(self, images: list[np.ndarray]) -> list[tuple[str, float | None]]: ...


def model_version(name: str, weights_sha256: str) -> str:
    return f"{name}@{weights_sha256[:12]}"


class RecognizerPredictor:
    """The line recognizer through :func:`inference.server.load_runtime` (a recognizer directory is exported to
    ONNX once and cached; an export directory is used as is)."""

    def __init__(self, model: str | os.PathLike | None = None, batch_size: int = 16, threads: int | None = None):
        from inference.server import load_runtime

        self.runtime, path = load_runtime(model, threads)
        name = Path(model).name if model else path.name.rsplit("-", 1)[0]
        self.model_version = model_version(name, self.runtime.config["source"]["weights_sha256"])
        self.batch_size = batch_size

    def __call__(self, images: list[np.ndarray]) -> list[tuple[str, float | None]]:
        results = self.runtime.recognize(images, batch_size=self.batch_size)
        return [(nfc(r.text), float(r.confidence)) for r in results]


class PredictionsFile:
    """Predictions read from JSON Lines: ``image`` (absolute, or relative to the file), the text as
    ``hypothesis`` (``hotich eval --predictions``) or ``text``, the score as ``confidence`` or ``score``, and an
    optional ``model_version`` per line (else the one given, else ``predictions:<file name>``).

    Raises:
        ValueError: a malformed line (named by file and line number).
    """

    def __init__(self, path: str | os.PathLike, version: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: predictions file not found")
        self.by_image: dict[Path, tuple[str, float | None, str | None]] = {}
        base = self.path.resolve().parent
        with self.path.open(encoding="utf-8") as handle:
            for number, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    raise ValueError(f"{self.path}:{number}: not JSON") from None
                text = obj.get("hypothesis", obj.get("text")) if isinstance(obj, dict) else None
                if not isinstance(obj, dict) or not isinstance(obj.get("image"), str) or not isinstance(text, str):
                    raise ValueError(f"{self.path}:{number}: needs string 'image' and 'hypothesis' (or 'text')")
                score = obj.get("confidence", obj.get("score"))
                if score is not None and not isinstance(score, (int, float)):
                    raise ValueError(f"{self.path}:{number}: score must be a number")
                self.by_image[(base / obj["image"]).resolve()] = (nfc(text), score, obj.get("model_version"))
        self.model_version = version or f"predictions:{self.path.name}"

    def lookup(self, image: Path) -> tuple[str, float | None, str] | None:
        found = self.by_image.get(Path(image).resolve())
        if found is None:
            return None
        text, score, version = found
        return text, score, version or self.model_version
