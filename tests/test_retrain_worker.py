"""The retraining worker on the ML backend's real job queue, with a stub puller standing in for Label Studio:
fine-tune → gate → registry, skipping data it has seen, recording failures. (The whole chain with a real Label
Studio and a hot reload is in tests/test_correction_loop_labelstudio.py.)"""
import json
import shutil

import pytest
import torch
from conftest import free_port, tiny_shape
from test_retraining import write_lines

from annotation.jobs import DONE, FAILED, JobQueue
from hotich.cli import main
from models.registry import PROMOTED, REJECTED, Registry
from training.retrain_worker import RetrainWorker, WorkerSettings


@pytest.fixture
def tiny_model(tmp_path):
    from models.recognition import CharTokenizer, LineImageProcessor
    from models.recognition.recognizer import build_recognizer, save_recognizer

    torch.manual_seed(0)
    tok = CharTokenizer()
    return save_recognizer(tmp_path / "hotich-rec-tiny", build_recognizer(tiny_shape(max_text_tokens=16), tok), tok,
                           LineImageProcessor(height=32))


class StubPuller:
    """Copies a prepared pull folder into the worker's folder, as `annotation.sync.pull` would write it."""

    def __init__(self, source):
        self.source, self.calls = source, []

    def __call__(self, job, out):
        self.calls.append(job.id)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(self.source, out)
        return out / "manifest.jsonl"


def test_worker_runs_jobs_end_to_end(tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    write_lines(tmp_path / "pulled", 24)
    val = write_lines(tmp_path / "val", 5, seed=7)
    queue = JobQueue(tmp_path / "jobs")
    puller = StubPuller(tmp_path / "pulled")
    finetune = {"steps": 1, "batch_size": 4, "val_sets": [], "val_manifests": {"tiny-val": str(val)},
                "val_limit": None, "replay_sources": {"synth_font": 1.0}, "eval_batch_size": 8}
    # A permissive gate makes the first outcome certain (the gate's own rules are tested in test_retraining.py);
    # the server URL points at a closed port: the version is promoted all the same, the failed reload recorded.
    settings = WorkerSettings(jobs_dir=str(tmp_path / "jobs"), registry_dir=str(tmp_path / "registry"),
                              model=str(tiny_model), server=f"http://127.0.0.1:{free_port()}", min_corrections=5,
                              max_val_worsening=100.0, min_heldout_gain=-100.0, finetune=finetune)
    worker = RetrainWorker(settings, puller=puller)
    assert worker.run_once() is None  # nothing queued

    job, _ = queue.enqueue("7", "ANNOTATION_CREATED", {"project_title": "lines"})
    queue.enqueue("7", "ANNOTATION_CREATED")  # folded into the same job
    result = worker.run_once()
    assert (result["job"], result["outcome"], result["version"], result["serving"]) == (job.id, "promoted", "v2", "v1")
    assert result["corrections"] == 24 and result["finetune_lines"] + result["heldout_lines"] == 23  # 1 too long
    assert result["reload"]["ok"] is False and "cannot reach the server" in result["reload"]["error"]
    assert set(result["checks"]) == {"tiny-val", "corrections-heldout"}
    done = queue.get(job.id)
    assert done.status == DONE and done.result["version"] == "v2" and done.events == 2
    assert "Nguy" not in json.dumps(done.to_json())  # ids, counts and CERs only
    registry = Registry(tmp_path / "registry")
    base, candidate = registry.versions()
    assert (base.status, base.parent, base.path) == (PROMOTED, None, str(tiny_model.resolve()))
    assert (candidate.status, candidate.parent, candidate.name) == (PROMOTED, 1, "hotich-rec-tiny-v2")
    assert candidate.data_hash == result["data_hash"] and candidate.source["job"] == job.id
    assert candidate.decision["promote"] and registry.serving().version == 2
    assert [h["status"] for h in candidate.history] == ["candidate", "promoted"]

    # The same corrections again: nothing to learn, no training.
    again, _ = queue.enqueue("7", "ANNOTATION_UPDATED")
    skipped = worker.run_once()
    assert (skipped["outcome"], skipped["serving"]) == ("skipped", "v2")
    assert "these very corrections" in skipped["reason"]
    assert len(registry.versions()) == 2 and queue.get(again.id).status == DONE

    # New corrections and a gate no candidate can pass: rejected, v2 keeps serving.
    write_lines(tmp_path / "pulled", 30)
    worker.settings.max_val_worsening, worker.settings.min_heldout_gain = -1.0, 0.0
    worker.settings.finetune = {**finetune, "steps": 50, "max_seconds": 0.01}  # the time budget ends it at step 1
    queue.enqueue("7", "START_TRAINING")
    rejected = worker.run_once()
    assert (rejected["outcome"], rejected["version"], rejected["reload"]) == ("rejected", "v3", None)
    assert any(r.startswith("FAIL tiny-val") for r in rejected["reasons"])
    v3 = registry.get(3)
    assert v3.status == REJECTED and v3.parent == 2 and "tiny-val" in v3.history[-1]["reason"]
    assert v3.source["steps"] == 1
    assert v3.path.startswith(str(tmp_path / "registry" / "runs" / f"job-{rejected['job']}"))
    assert registry.serving().version == 2

    # A failing pull fails its job with the error, and the worker goes on.
    def broken(job, out):
        raise ConnectionError("Label Studio is down")

    worker.puller = broken
    failing, _ = queue.enqueue("8", "ANNOTATION_CREATED")
    outcome = worker.run_once()
    assert outcome["outcome"] == "failed" and queue.get(failing.id).status == FAILED
    assert queue.get(failing.id).error == "ConnectionError: Label Studio is down"

    # The command line: an empty queue is not an error.
    capsys.readouterr()
    assert main(["annotate", "worker", "--once", "--jobs-dir", str(tmp_path / "jobs"),
                 "--registry", str(tmp_path / "registry")]) == 0
    assert json.loads(capsys.readouterr().out) == {"job": None, "outcome": "no pending job"}
