"""The whole correction loop against a real Label Studio 1.23 (from .venv-ls) and a real `hotich serve`:
push lines → the ML backend is connected → an annotator corrects lines → Label Studio's webhooks queue a job →
the worker pulls the corrections, fine-tunes a tiny recognizer, gates, registers → the server hot-reloads the
promoted version → Label Studio's next predictions come from it."""
import json
import time
from pathlib import Path

import httpx
import numpy as np
from conftest import RunningServer
from PIL import Image

from annotation.configs import parse_config
from annotation.jobs import DONE, JobQueue
from annotation.sync import push_lines
from annotation.tasks import line_result
from data.manifest import read_manifest
from models.registry import Registry
from training.retrain_worker import RetrainWorker, WorkerSettings

# Short enough for the tiny recognizer's 12 text positions.
TEXTS = ["Lê Thị Huệ", "Trần Đức", "Ngô Quyền", "Đỗ Thu Hằng", "Xã Đông Hà", "Vũ Thị Lan"]


def _lines(folder: Path, n: int, seed: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 60 + 5 * i, 3), dtype=np.uint8)).save(folder / f"l{i:02d}.png")
        rows.append(json.dumps({"image": f"l{i:02d}.png", "text": TEXTS[i % len(TEXTS)], "source": "test"},
                               ensure_ascii=False))
    (folder / "manifest.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "manifest.jsonl"


def test_corrections_retrain_gate_and_hot_reload(ls_client, labelstudio, tiny_onnx_model, tmp_path):
    serving_dir = Path(tiny_onnx_model).parent / "model"  # the recognizer the tiny export was made from
    lines = _lines(tmp_path / "lines", 16, seed=0)
    val = _lines(tmp_path / "val", 4, seed=1)
    jobs_dir, cache = tmp_path / "jobs", tmp_path / "cache"
    server = RunningServer(["--model", tiny_onnx_model, "--ml-backend", "--jobs-dir", str(jobs_dir)],
                           env={"HOTICH_CACHE": str(cache), "HOTICH_SHARED": str(tmp_path / "no-shared")})
    try:
        before = httpx.get(server.url + "/v1/models").json()["models"][0]
        push_lines(ls_client, lines, "correction loop", progress=False)
        project = ls_client.find_project("correction loop")
        names = parse_config(project["label_config"])
        ls_client.add_ml_backend(project["id"], server.url + "/labelstudio")

        # The annotator types the right text for every line (the tiny model knows none); each submission reaches
        # the ML backend's webhook, and the queue folds them into one job.
        texts = {}
        for task in ls_client.tasks(project["id"]):
            text = task["data"]["hotich"]["text"]
            ls_client.create_annotation(task["id"], line_result(names, text))
            texts[task["data"]["hotich"]["name"]] = text
        queue = JobQueue(jobs_dir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(j.events for j in queue.list(status="pending")) < 16:
            time.sleep(0.2)
        (job,) = queue.list(status="pending")
        assert job.project == str(project["id"]) and job.events == 16

        # The worker: real pull from Label Studio, fine-tune, gate (made permissive so the outcome is certain; its
        # rules are tested in test_retraining.py), registry, hot reload of the server.
        worker = RetrainWorker(WorkerSettings(
            jobs_dir=str(jobs_dir), registry_dir=str(tmp_path / "registry"), model=str(serving_dir),
            server=server.url, labelstudio_url=ls_client.url, labelstudio_token=labelstudio.credentials.token,
            min_corrections=10, max_val_worsening=100.0, min_heldout_gain=-100.0,
            finetune={"steps": 2, "batch_size": 4, "val_sets": [], "val_manifests": {"tiny-val": str(val)},
                      "val_limit": None, "replay_sources": {"synth_font": 1.0}, "eval_batch_size": 8}))
        result = worker.run_once()
        assert (result["job"], result["outcome"], result["version"]) == (job.id, "promoted", "v2"), result
        assert result["corrections"] == 16 and result["reload"]["ok"], result["reload"]
        pulled = read_manifest(tmp_path / "registry" / "runs" / "corrections" / f"project-{project['id']}" /
                               "manifest.jsonl", check_images=True)
        assert {r.image.name: r.text for r in pulled} == texts  # every correction, diacritics intact
        assert queue.get(job.id).status == DONE

        # The server now serves v2: /v1/models, /readyz, the ML backend, and Label Studio's next predictions.
        v2 = Registry(tmp_path / "registry").serving()
        assert v2.version == 2 and v2.parent == 1
        now = httpx.get(server.url + "/v1/models").json()["models"][0]
        assert (now["name"], now["version"]) == (v2.name, v2.weights_sha256[:12]) and now != before
        assert now["variant"] == "int8-static"  # the promoted recognizer is exported with int8; auto takes the fastest
        assert httpx.get(server.url + "/readyz").json()["model"] == now
        version = httpx.get(server.url + "/labelstudio/health").json()["model_version"]
        assert version == f"{v2.name}@{v2.weights_sha256[:12]}"
        task = next(iter(ls_client.tasks(project["id"])))
        ls_client.retrieve_predictions(project["id"], [task["id"]])
        assert version in {p["model_version"] for p in ls_client.task(task["id"])["predictions"]}
        assert "Huệ" not in server.log()
    finally:
        server.stop()
