"""A tiny recognizer trains, evaluates, checkpoints and resumes through the real CLI entry."""
import json

import yaml

from hotich.cli import main
from models.recognition.recognizer import load_recognizer

TINY = "training/configs/tiny.yaml"


def test_tiny_training_run_resume_and_best(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "no-shared"))  # font path only: runs anywhere
    runs = tmp_path / "runs"
    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(runs), "--max-steps", "4"]) == 0
    run = runs / "tiny"
    history = [json.loads(l) for l in (run / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if h["event"] == "train"] == [2, 4]
    assert any(h["event"] == "eval" for h in history)
    assert (run / "curve.png").stat().st_size > 1000
    model, tok, proc = load_recognizer(run / "best")
    assert proc.height == 32 and model.config.encoder.hidden_size == 64

    # Resume continues from step 4 to 6 instead of starting over.
    capsys.readouterr()
    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(runs), "--resume"]) == 0
    history = [json.loads(l) for l in (run / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if h["event"] == "train"] == [2, 4, 6]
    assert "resumed at step 4" in (run / "train.log").read_text()


def test_config_rejects_unknown_keys(tmp_path):
    from training.train_recognizer import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"learning_rate": 1}))
    import pytest

    with pytest.raises(ValueError, match="unknown config keys"):
        load_config(bad)


def test_learning_rate_schedule():
    from training.train_recognizer import learning_rate

    config = {"lr": 1.0, "warmup_steps": 10, "max_steps": 110, "min_lr_ratio": 0.1}
    assert learning_rate(0, config) == 0.1 and learning_rate(9, config) == 1.0
    assert abs(learning_rate(10, config) - 1.0) < 1e-9
    assert abs(learning_rate(110, config) - 0.1) < 1e-9
    assert learning_rate(60, config) < learning_rate(30, config)


def test_release_writes_fp16_model_with_card(tmp_path, monkeypatch):
    import torch
    from safetensors import safe_open

    from training import release as release_module

    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "no-shared"))
    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(tmp_path / "runs"), "--max-steps", "3"]) == 0
    monkeypatch.setattr(release_module, "ZOO", tmp_path / "zoo")
    out = release_module.release(tmp_path / "runs" / "tiny", "tiny-test")
    with safe_open(out / "model.safetensors", "pt") as weights:
        dtypes = {weights.get_tensor(k).dtype for k in weights.keys()}
    assert {d for d in dtypes if d.is_floating_point} == {torch.float16}  # (BatchNorm step counters stay int64)
    model, tok, proc = load_recognizer(out)
    assert next(model.parameters()).dtype == torch.float32
    card = (out / "README.md").read_text()
    assert "CPU-hours" in card and "synth-val" in card and "Best checkpoint at step **3**" in card
