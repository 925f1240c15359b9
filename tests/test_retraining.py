"""Retraining on corrections without a Label Studio: the stable held-out split, fine-tuning a tiny recognizer through
the CLI, the promotion gate, and the model registry with its CLI."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_shape
from PIL import Image

from data.manifest import LineRecord, read_manifest, write_manifest
from hotich.cli import main
from models.registry import PROMOTED, REJECTED, Registry, RegistryError, corrections_hash
from training.finetune import HELDOUT_SET, curriculum, split_corrections
from training.promotion import decide, run_gate

TEXTS = ["Nguyễn Văn An", "Lê Thị Huệ", "Trần Đức", "Phạm Ngọc Ánh", "Xã Thạch Khôi"]
LONG = "Số 253 đường Trần Phú, Thị trấn Nam Sách, Hải Dương"  # beyond the tiny models' 16 text positions


def write_lines(folder, n: int, seed: int = 0):
    """``n`` synthetic corrected lines (noise images of distinct sizes, Vietnamese names) as a pull folder."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        path = folder / "images" / f"line{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (32, 50 + 3 * i, 3), dtype=np.uint8)).save(path)
        text = LONG if i == 5 else TEXTS[i % len(TEXTS)]
        records.append(LineRecord(path, text, {"source": "labelstudio", "labelstudio": {"task": i}}))
    write_manifest(records, folder / "manifest.jsonl")
    return folder / "manifest.jsonl"


@pytest.fixture(autouse=True)
def no_shared(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "no-shared"))  # the synthetic font path: runs anywhere
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from models.recognition import CharTokenizer, LineImageProcessor
    from models.recognition.recognizer import build_recognizer, save_recognizer

    torch.manual_seed(0)
    tok = CharTokenizer()
    return save_recognizer(tmp_path_factory.mktemp("serving") / "hotich-rec-tiny",
                           build_recognizer(tiny_shape(max_text_tokens=16), tok), tok, LineImageProcessor(height=32))


def test_split_is_by_image_hash_and_stable_as_corrections_grow(tmp_path):
    records = read_manifest(write_lines(tmp_path / "a", 40))
    keep, heldout = split_corrections(records, 0.2)
    assert 3 <= len(heldout) <= 14 and len(keep) + len(heldout) == 40
    more = read_manifest(write_lines(tmp_path / "b", 60))  # the same 40 images (same seed) and 20 new ones
    keep2, heldout2 = split_corrections(more, 0.2)
    names = lambda rs: {r.image.name for r in rs}
    assert names(heldout) <= names(heldout2) and names(keep) <= names(keep2)
    # A copy of an image under another name lands on the same side.
    shutil.copy(records[0].image, tmp_path / "copy.png")
    copy = [LineRecord(tmp_path / "copy.png", "x")]
    assert bool(split_corrections(copy, 0.2)[1]) == (records[0].image.name in names(heldout))
    assert split_corrections(records, 0.0) == (records, [])
    with pytest.raises(ValueError, match="heldout_share"):
        split_corrections(records, 1.0)


def test_curriculum_mixes_corrections_with_replay(tmp_path):
    (phase,) = curriculum(tmp_path / "c.jsonl", 0.5, {"synth_font": 0.2, "cinnamon": 0.3})
    assert phase["start_step"] == 0
    assert phase["weights"] == pytest.approx({f"manifest:{tmp_path / 'c.jsonl'}": 0.5, "synth_font": 0.2,
                                              "cinnamon": 0.3})
    (only,) = curriculum(tmp_path / "c.jsonl", 0.0, {})
    assert list(only["weights"].values()) == [1.0]
    with pytest.raises(ValueError, match="replay"):
        curriculum(tmp_path / "c.jsonl", 1.0, {"synth_font": 1.0})


def test_finetune_cli_on_pulled_corrections(tiny_model, tmp_path, capsys):
    write_lines(tmp_path / "pulled", 24)
    val = write_lines(tmp_path / "val", 6, seed=9)
    out = tmp_path / "ft"
    args = ["train", "finetune", "--from", str(tiny_model), "--data", str(tmp_path / "pulled"), "--out", str(out),
            "--steps", "2", "--batch-size", "4", "--replay", "0.5", "--val-sets", "--val-manifest", f"tiny-val={val}",
            "--register", "--registry", str(tmp_path / "registry"), "--freeze-batchnorm"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    record = json.loads((out / "finetune.json").read_text())
    assert summary["candidate"] == str(out / "best") == record["model_dir"]
    assert (summary["corrections"], summary["steps"]) == (24, 2)
    assert summary["heldout_lines"] >= 2 and record["n_too_long"] == 1  # line 5 is trained on by no one
    assert summary["finetune_lines"] + summary["heldout_lines"] + record["n_too_long"] == 24
    finetuned = read_manifest(out / "finetune.manifest.jsonl", check_images=True)
    heldout = read_manifest(out / "heldout.manifest.jsonl", check_images=True)
    assert {r.image for r in finetuned}.isdisjoint({r.image for r in heldout})
    assert record["data_hash"] == corrections_hash(read_manifest(tmp_path / "pulled" / "manifest.jsonl"))
    # Replay without shared data: the synthetic font lines only, half of every batch.
    assert record["config"]["replay_sources"] == {"synth_font": 1.0} and record["config"]["replay"] == 0.5
    assert set(record["metrics"]) == {"tiny-val", HELDOUT_SET}
    assert record["metrics"][HELDOUT_SET]["n"] == summary["heldout_lines"]
    assert "initialised from" in (out / "train.log").read_text()
    assert not (out / "checkpoint.pt").exists()  # the candidate is best/; no optimizer state left behind
    from models.recognition.recognizer import load_recognizer

    model, _, processor = load_recognizer(out / "best")
    assert processor.height == 32 and next(model.parameters()).dtype == torch.float32
    # The corrections (noise images here, phone photos in life) never re-estimate the BatchNorm statistics.
    base_model, _, _ = load_recognizer(tiny_model)
    base_state, tuned_state = base_model.state_dict(), model.state_dict()
    running = [k for k in base_state if k.endswith(("running_mean", "running_var"))]
    assert running and all(torch.equal(base_state[k], tuned_state[k]) for k in running)
    assert record["config"]["freeze_batchnorm"] is True
    assert summary["gate"]["reasons"] and isinstance(summary["gate"]["promote"], bool)
    # --register: the starting model becomes the serving baseline v1, the candidate v2 with the gate's verdict
    # (a candidate that passed waits for `hotich models promote`).
    base, candidate = Registry(tmp_path / "registry").versions()
    assert (base.tag, base.status, candidate.tag, candidate.parent) == ("v1", PROMOTED, "v2", 1)
    assert candidate.status == ("candidate" if summary["gate"]["promote"] else REJECTED)
    assert candidate.data_hash == record["data_hash"] and candidate.decision["reasons"] == summary["gate"]["reasons"]
    assert "Nguy" not in (out / "train.log").read_text() + json.dumps(record)  # no ledger text in logs or records

    # Bad input: named errors, nothing half-written.
    capsys.readouterr()
    assert main(args) == 2 and "already holds a fine-tuning run" in capsys.readouterr().err
    assert main(["train", "finetune", "--from", str(tiny_model), "--data", str(tmp_path / "val" / "images"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "no corrections there" in capsys.readouterr().err
    assert main(["train", "finetune", "--from", str(tmp_path), "--data", str(tmp_path / "pulled"),
                 "--out", str(tmp_path / "y")]) == 2
    assert "not a recognizer directory" in capsys.readouterr().err
    assert main(["train", "finetune", "--from", str(tiny_model), "--data", str(tmp_path / "pulled"),
                 "--out", str(tmp_path / "z"), "--replay-sources", "photos=1"]) == 2
    assert "SOURCE one of" in capsys.readouterr().err and not (tmp_path / "z").exists()


def _metrics(**cers):
    return {name: {"cer": cer, "n": 10} for name, cer in cers.items()}


def test_gate_decisions():
    serving = _metrics(**{"cinnamon-val": 0.10, "vnondb-val": 0.20, "synth-val": 0.05, HELDOUT_SET: 0.40})
    sets = ["cinnamon-val", "vnondb-val", "synth-val"]

    good = decide(_metrics(**{"cinnamon-val": 0.102, "vnondb-val": 0.19, "synth-val": 0.053, HELDOUT_SET: 0.25}),
                  serving, sets)
    assert good.promote and all(r.startswith("ok ") for r in good.reasons)
    assert good.checks["synth-val"]["delta_points"] == pytest.approx(0.3)  # exactly at the limit: allowed
    assert good.checks[HELDOUT_SET] == {"serving": 0.40, "candidate": 0.25, "delta_points": pytest.approx(-15.0),
                                        "limit_points": 0.0, "n": 10, "passed": True}

    worse = decide(_metrics(**{"cinnamon-val": 0.1031, "vnondb-val": 0.10, "synth-val": 0.01, HELDOUT_SET: 0.05}),
                   serving, sets)
    assert not worse.promote
    assert worse.reasons[0].startswith("FAIL cinnamon-val: CER 10.00 -> 10.31 (+0.31 points")
    assert [r for r in worse.reasons if r.startswith("FAIL")] == [worse.reasons[0]]

    no_gain = decide(_metrics(**{"cinnamon-val": 0.10, "vnondb-val": 0.20, "synth-val": 0.05, HELDOUT_SET: 0.40}),
                     serving, sets)
    assert not no_gain.promote and no_gain.reasons[0].startswith(f"FAIL {HELDOUT_SET}")

    unmeasured = decide(_metrics(**{"cinnamon-val": 0.10, HELDOUT_SET: 0.1}), serving, sets)
    assert not unmeasured.promote
    assert "FAIL vnondb-val: not measured for the candidate" in unmeasured.reasons
    no_heldout = decide({k: v for k, v in good.candidate.items() if k != HELDOUT_SET}, serving, sets)
    assert not no_heldout.promote and "more corrections are needed" in no_heldout.reasons[0]
    assert not decide(good.candidate, serving, []).promote
    # A stricter gain requirement turns the good candidate down.
    assert not decide(good.candidate, serving, sets, min_heldout_gain=0.2).promote


def test_gate_measures_both_models_on_the_same_lines(tiny_model, tmp_path):
    val = write_lines(tmp_path / "val", 5, seed=3)
    heldout = write_lines(tmp_path / "heldout", 4, seed=4)
    decision = run_gate(tiny_model, tiny_model, heldout, val_sets=[], val_manifests={"tiny-val": val},
                        val_limit=None)
    # The same model twice: fixed sets unchanged (passes), no gain on the held-out lines (fails), so rejected.
    assert not decision.promote
    assert decision.checks["tiny-val"]["delta_points"] == 0 and decision.checks["tiny-val"]["passed"]
    assert decision.checks[HELDOUT_SET]["n"] == 4 and not decision.checks[HELDOUT_SET]["passed"]
    def speedless(metrics):
        return {name: {k: v for k, v in m.items() if k != "lines_per_s"} for name, m in metrics.items()}

    assert speedless(decision.candidate) == speedless(decision.serving)
    json.dumps(decision.to_json())


def _copy_model(src, dst, seed: int):
    """Another version of a recognizer: same shape, other weights."""
    from models.recognition.recognizer import load_recognizer, save_recognizer

    model, tok, proc = load_recognizer(src)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return save_recognizer(dst, model, tok, proc)


def test_registry_round_trip_and_cli(tiny_model, tmp_path, capsys):
    registry = Registry(tmp_path / "registry")
    assert registry.versions() == [] and registry.serving() is None
    base = registry.ensure_baseline(tiny_model)
    assert (base.version, base.status, base.name, base.parent) == (1, PROMOTED, "hotich-rec-tiny", None)
    assert registry.ensure_baseline(tiny_model) == base
    records = read_manifest(write_lines(tmp_path / "c", 6))
    good = registry.register(_copy_model(tiny_model, tmp_path / "r2" / "best", 2), parent=1,
                             data_hash=corrections_hash(records), metrics={"tiny-val": {"cer": 0.5}},
                             source={"job": 3})
    assert (good.tag, good.name, good.status, good.parent) == ("v2", "hotich-rec-tiny-v2", "candidate", 1)
    assert good.weights_sha256 != base.weights_sha256 and len(good.weights_sha256) == 64
    bad = registry.register(_copy_model(tiny_model, tmp_path / "r3" / "best", 3), parent=1,
                            status=REJECTED, reason="FAIL tiny-val")
    registry.set_status(2, PROMOTED, "passed the promotion gate", decision={"promote": True})

    again = Registry(tmp_path / "registry")  # everything is on disk
    assert again.serving().tag == "v2" and again.get("v2").decision == {"promote": True}
    assert [h["status"] for h in again.get(2).history] == ["candidate", "promoted"]
    assert again.find(data_hash=good.data_hash, parent=1) == [again.get(2)]
    # Same corrections in another order hash the same; one changed character does not.
    assert corrections_hash(records[::-1]) == good.data_hash
    records[0].text += "."
    assert corrections_hash(records) != good.data_hash

    with pytest.raises(RegistryError, match="rejected"):
        registry.promote(bad.version)
    with pytest.raises(RegistryError, match="no version v9"):
        registry.get("v9")
    with pytest.raises(RegistryError, match="not a version"):
        registry.get("latest")
    with pytest.raises(RegistryError, match="no model directory"):
        registry.register(tmp_path / "nowhere")

    def cli(*args):
        code = main(["models", *args, "--registry", str(tmp_path / "registry")])
        captured = capsys.readouterr()
        return code, json.loads(captured.out) if code == 0 else captured.err

    code, listing = cli("list")
    assert code == 0 and [(v["version"], v["status"], v["serving"]) for v in listing["versions"]] == [
        ("v1", "promoted", False), ("v2", "promoted", True), ("v3", "rejected", False)]
    assert listing["versions"][1]["cer"] == {"tiny-val": 0.5} and listing["versions"][1]["parent"] == "v1"
    assert cli("show")[1]["version"] == 2 and cli("show", "v1")[1]["name"] == "hotich-rec-tiny"
    code, err = cli("promote", "3")
    assert code == 2 and "--force" in err
    assert cli("promote", "v3", "--force")[1]["serving"] == "v3"
    assert cli("rollback")[1] == {"rolled_back": "v3", "serving": "v2", "name": "hotich-rec-tiny-v2",
                                  "reloaded": None}
    assert cli("rollback")[1]["serving"] == "v1"
    code, err = cli("rollback")
    assert code == 2 and "nothing to roll back to" in err
    assert [v.status for v in registry.versions()] == [PROMOTED, REJECTED, REJECTED]
    assert [h["reason"] for h in registry.get(2).history][-1] == "rolled back by an operator"

    (tmp_path / "registry" / "registry.json").write_text("{broken")
    code, err = cli("list")
    assert code == 2 and "not valid JSON" in err


def test_frozen_batchnorm_keeps_statistics_but_trains_affine_weights(tiny_model):
    from models.recognition.recognizer import load_recognizer
    from training.train_recognizer import set_training_mode

    model, _, _ = load_recognizer(tiny_model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    set_training_mode(model, freeze_batchnorm=True)
    assert model.training and all(not m.training for m in norms)
    pixel_values = torch.rand(2, 3, 32, 64) * 5  # far from the statistics the model came with
    labels = torch.tensor([[5, 6, 2], [7, 2, -100]])
    model(pixel_values=pixel_values, labels=labels).loss.backward()
    assert all(torch.equal(m.running_mean, a) and torch.equal(m.running_var, b) for m, (a, b) in zip(norms, before))
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in norms)

    set_training_mode(model)  # the default: ordinary training mode, statistics updated
    model(pixel_values=pixel_values, labels=labels)
    assert not torch.equal(norms[0].running_mean, before[0][0])


def test_finetune_can_train_only_the_stem(tiny_model, tmp_path):
    from models.recognition.recognizer import load_recognizer
    from training.finetune import finetune
    from training.train_recognizer import restrict_training

    write_lines(tmp_path / "pulled", 24)
    val = write_lines(tmp_path / "val", 6, seed=9)
    before = load_recognizer(tiny_model)[0].state_dict()

    def changed(**options):
        result = finetune(tiny_model, tmp_path / "pulled", tmp_path / "ft", overwrite=True, steps=2, batch_size=4,
                          val_sets=[], val_manifests={"tiny-val": val}, **options)
        after = load_recognizer(result.model_dir)[0].state_dict()
        return {k for k in before if not torch.equal(before[k], after[k])}

    stem_only = changed()  # the default recipe: the stem trains, its BatchNorm statistics kept
    assert stem_only and all(k.startswith("encoder.stem") and "running" not in k for k in stem_only)
    assert changed(trainable=["encoder.stem"], freeze_batchnorm=True) == stem_only
    whole = changed(trainable=[])  # `--train-only all`
    assert any(k.startswith("decoder.") for k in whole) and stem_only < whole
    with pytest.raises(ValueError, match="match no parameter"):
        restrict_training(load_recognizer(tiny_model)[0], ["decoder.nothing"])


def test_replay_sources_option_is_parsed_and_normalised():
    from training.finetune import parse_replay_sources

    assert parse_replay_sources(["cinnamon=3", "synth_ink=1"]) == {"cinnamon": 0.75, "synth_ink": 0.25}
    for bad, message in ((["photos=1"], "SOURCE one of"), (["cinnamon"], "SOURCE one of"),
                         (["cinnamon=lots"], "no number"), (["cinnamon=-1"], ">= 0"), (["cinnamon=0"], "positive")):
        with pytest.raises(ValueError, match=message):
            parse_replay_sources(bad)
    phase = curriculum(Path("c.jsonl"), 0.5,
                       parse_replay_sources(["cinnamon=3", "synth_ink=1"]))[0]["weights"]
    assert phase == {"manifest:c.jsonl": 0.5, "cinnamon": 0.375, "synth_ink": 0.125}


def test_feature_distillation_keeps_the_features_of_replayed_lines(tiny_model, tmp_path):
    """Stem-only fine-tunes with and without the feature loss on replayed (synthetic font) lines: with it, the
    encoder's output on fresh lines of that source stays nearer the starting model's."""
    from data.synth import LineSynthesizer
    from models.recognition.recognizer import load_recognizer
    from training.finetune import finetune

    write_lines(tmp_path / "pulled", 24)
    start, _, processor = load_recognizer(tiny_model)
    lines = [LineSynthesizer(height=64).sample(900 + i, source="font").image for i in range(6)]
    pixel_values = processor(lines)["pixel_values"]
    with torch.no_grad():
        reference = start.eval().encoder(pixel_values=pixel_values).last_hidden_state
    drift = {}
    for name, weight in (("free", 0.0), ("distilled", 50.0)):
        result = finetune(tiny_model, tmp_path / "pulled", tmp_path / name, steps=10, batch_size=8, lr=3e-3,
                          val_sets=[], trainable=["encoder.stem"], freeze_batchnorm=True, replay=0.5,
                          feature_distillation=weight)
        assert result.config["feature_distillation"] == weight
        tuned = load_recognizer(result.model_dir)[0].eval()
        with torch.no_grad():
            drift[name] = float((tuned.encoder(pixel_values=pixel_values).last_hidden_state - reference).norm())
    assert 0 < drift["distilled"] < 0.7 * drift["free"], drift
