"""Shared test helpers: real servers on 127.0.0.1 and the shared-data switch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from data.settings import shared_dir

ROOT = Path(__file__).resolve().parents[1]
HAS_SHARED = (shared_dir() / "datasets").is_dir()


@contextmanager
def pages_without_shared(tmp_path_factory):
    """Hermetic page rendering: no ../shared (no ink, no Cinnamon, fallback fonts) and a private cache. Yields the
    ``HOTICH_SHARED`` / ``HOTICH_CACHE`` values it replaced, which it puts back on exit."""
    saved = {k: os.environ.get(k) for k in ("HOTICH_SHARED", "HOTICH_CACHE")}
    os.environ["HOTICH_SHARED"] = str(tmp_path_factory.mktemp("no-shared"))
    os.environ["HOTICH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    from data.pages import render

    render._RENDERERS.clear()
    try:
        yield saved
    finally:
        render._RENDERERS.clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def pytest_collection_modifyitems(config, items):
    if HAS_SHARED:
        return
    skip = pytest.mark.skip(reason=f"shared data not found at {shared_dir()} (set HOTICH_SHARED)")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A `hotich serve` subprocess on 127.0.0.1; stopped (SIGTERM, then SIGKILL) when the test ends."""

    def __init__(self, args: list[str], env: dict | None = None, timeout: float = 60.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hotich-server-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotich", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not come up in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def server_factory():
    servers: list[RunningServer] = []

    def start(*args: str, env: dict | None = None) -> RunningServer:
        server = RunningServer(list(args), env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def tiny_shape(**overrides):
    """A recognizer small enough to build, train a step and export in seconds."""
    from models.recognition.recognizer import RecognizerShape

    values = dict(image_height=32, encoder_hidden_size=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64,
                  stem_channels=(8, 8, 16, 16), decoder_hidden_size=32, decoder_layers=1, decoder_heads=2,
                  decoder_ffn=64, max_text_tokens=40)
    return RecognizerShape(**{**values, **overrides})


@pytest.fixture(scope="session")
def tiny_onnx_model(tmp_path_factory) -> str:
    """A tiny random recognizer exported to ONNX, once per session (the export is the slow part): the real
    onnxruntime path, meaningless text."""
    import torch

    from inference.onnx_export import export_recognizer
    from models.recognition import CharTokenizer, LineImageProcessor
    from models.recognition.recognizer import build_recognizer, save_recognizer

    root = tmp_path_factory.mktemp("tiny-recognizer")
    torch.manual_seed(0)
    tok = CharTokenizer()
    save_recognizer(root / "model", build_recognizer(tiny_shape(max_text_tokens=12), tok), tok,
                    LineImageProcessor(height=32))
    return str(export_recognizer(root / "model", root / "onnx"))


@pytest.fixture(scope="session")
def other_tiny_onnx_model(tmp_path_factory) -> str:
    """A second tiny random recognizer (other weights, the same tokenizer and processor) exported to ONNX."""
    import torch

    from inference.onnx_export import export_recognizer
    from models.recognition import CharTokenizer, LineImageProcessor
    from models.recognition.recognizer import build_recognizer, save_recognizer

    root = tmp_path_factory.mktemp("other-tiny-recognizer")
    torch.manual_seed(1)
    tok = CharTokenizer()
    save_recognizer(root / "model", build_recognizer(tiny_shape(max_text_tokens=12), tok), tok,
                    LineImageProcessor(height=32))
    return str(export_recognizer(root / "model", root / "onnx"))


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory):
    """A real Label Studio (from .venv-ls) on 127.0.0.1 for the whole session, on a copy of the pre-migrated
    database template (the first run builds the template: about a minute, once)."""
    from annotation.labelstudio_server import LabelStudioServer, LabelStudioSetupError, installed_version

    try:
        installed_version()
    except LabelStudioSetupError as exc:
        pytest.skip(f"{exc} (`make test` installs it)")
    server = LabelStudioServer(tmp_path_factory.mktemp("labelstudio"), port=free_port())
    server.start(timeout=300)
    yield server
    server.stop()


@pytest.fixture
def ls_client(labelstudio):
    from annotation.labelstudio import LabelStudio

    with LabelStudio(labelstudio.url, labelstudio.credentials.token) as client:
        yield client


class ScoringReader:
    """A recognizer that scores readings only through ``inference.pages.reading_log_probs``, which
    :func:`scored_by` replaces (the page pipeline's steps that read a value again ask it)."""

    def score_batch(self, *args):
        raise AssertionError("scored through reading_log_probs")


def scored_by(monkeypatch, line_scores: dict[str, float]) -> list[str]:
    """Readings the page pipeline reads again score ``line_scores[text]`` on their crops (every other reading far
    worse). Returns the list the texts asked are appended to, in the order asked."""
    import numpy as np

    import inference.pages as pages

    asked: list[str] = []

    def scored(reader, images, readings):
        asked.extend(text for _, text in readings)
        return np.asarray([line_scores.get(text, -30.0) for _, text in readings])

    monkeypatch.setattr(pages, "reading_log_probs", scored)
    return asked
