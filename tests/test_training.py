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
    assert "CPU-hours" in card and "synth-val" in card and "at step **3**" in card

    # Peer and speed results measured on another hotich model stay out of this model's card.
    row = {"n": 5, "cer": 0.5, "cer_base": 0.4, "cer_marks": 0.1, "wer": 0.9, "line_acc": 0.0}
    for measured_on in ("hotich-other", "tiny-test"):
        (tmp_path / "peers.json").write_text(json.dumps(
            {"synth-val": {f"hotich ({measured_on})": row, "tesseract-5-vie": row}}))
        (tmp_path / "speed.json").write_text(json.dumps(
            {"model": f"/somewhere/{measured_on}", "batch_size": 16, "threads": 2, "lines": 8,
             "lines_per_s_median": 12.5, "runs": [12.5]}))
        out = release_module.release(tmp_path / "runs" / "tiny", "tiny-test", tmp_path / "peers.json",
                                     tmp_path / "speed.json")
        card = (out / "README.md").read_text()
        mine = measured_on == "tiny-test"
        assert ("tesseract-5-vie" in card) == mine and ("12.5 lines/s" in card) == mine
        assert "at step **3**" in card


def test_release_carries_the_lineage_of_an_init_chain(tmp_path, monkeypatch):
    """A run started with --init from a release adds a stage to that release's history: the next card counts
    both stages' steps and CPU-hours and shows both stages' evaluations on one step axis."""
    from training import release as release_module

    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setattr(release_module, "ZOO", tmp_path / "zoo")
    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(tmp_path / "a"), "--max-steps", "3"]) == 0
    first = release_module.release(tmp_path / "a" / "tiny", "tiny-chain")
    first_metrics = json.loads((first / "metrics.json").read_text())
    assert [st["best_step"] for st in first_metrics["lineage"]] == [3]

    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(tmp_path / "b"), "--max-steps", "6",
                 "--init", str(first)]) == 0
    # The second release replaces the first in the zoo: the parent's history must survive that.
    second = release_module.release(tmp_path / "b" / "tiny", "tiny-chain")
    metrics = json.loads((second / "metrics.json").read_text())
    stages = metrics["lineage"]
    assert len(stages) == 2 and stages[1]["init"] == str(first) and stages[0]["init"] is None
    assert stages[0]["cpu_hours"] == first_metrics["cpu_hours"]
    points = release_module.cumulative_evals(stages)
    assert points[0] == {"step": 3, "cer": first_metrics["lineage"][0]["evals"][0]["cer"], "run": "tiny"}
    assert [p["step"] for p in points[1:]] == [3 + e["step"] for e in stages[1]["evals"]]
    assert points[-1]["step"] == 3 + metrics["step"]
    card = (second / "README.md").read_text()
    total = sum(st["best_step"] for st in stages)
    assert f"**{total:,} steps of batch 4 in all" in card
    assert f"{sum(st['cpu_hours'] for st in stages):.2f} CPU-hours" in card
    assert (second / "curve.png").stat().st_size > 1000

    # A stage started from another run's best checkpoint (never released) still carries the whole chain.
    assert main(["train", "recognizer", "--config", TINY, "--runs-dir", str(tmp_path / "c"), "--max-steps", "2",
                 "--init", str(tmp_path / "b" / "tiny" / "best")]) == 0
    third = release_module.release(tmp_path / "c" / "tiny", "tiny-chain")
    chain = json.loads((third / "metrics.json").read_text())["lineage"]
    assert [st["init"] for st in chain] == [None, str(first), str(tmp_path / "b" / "tiny" / "best")]
    assert [st["best_step"] for st in chain[:2]] == [st["best_step"] for st in stages]


def test_steps_to_target_solves_a_power_law():
    from training.release import steps_to_target

    points = [{"step": s, "cer": {"x": 3.0 * s ** -0.5}} for s in (1000, 2000, 4000, 8000)]
    fit = steps_to_target(points, "x", target=0.01)
    assert abs(fit["exponent"] - 0.5) < 1e-3
    assert abs(fit["steps"] - (3.0 / 0.01) ** 2) <= 100  # rounded to hundreds
    rising = [{"step": s, "cer": {"x": 0.1 * s ** 0.1}} for s in (1000, 2000, 4000)]
    assert steps_to_target(rising, "x", target=0.01)["steps"] is None
    assert steps_to_target(points[:2], "x", target=0.01) is None  # two points fit any line: no estimate
    reached = steps_to_target(points, "x", target=0.05)  # 3·4000^-0.5 = 0.047: met at the third evaluation
    assert reached["reached_at"] == 4000 and reached["steps"] == 4000
