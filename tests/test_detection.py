"""The layout detector: shapes, save/load, target painting ↔ decoding, F1 matching, ONNX parity, and the page
pipeline's grouping of regions into records (with a layout that returns the ground truth)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from models.detection import LayoutDetector, LayoutDetectorConfig, decode_maps, match_f1, paint_targets, prepare_page
from models.detection.layout import Region, collate_pages

KEYS = ["nksHoTen", "nksNgaySinh", "ngayDangKy"]


def tiny_detector() -> LayoutDetector:
    torch.manual_seed(0)
    return LayoutDetector(LayoutDetectorConfig(input_size=128, channels=[4, 4, 8, 8, 8], field_keys=KEYS)).eval()


def test_forward_shapes_and_loss():
    model = tiny_detector()
    out = model(torch.zeros(2, 1, 96, 128), torch.zeros(2, 3, 48, 64), torch.zeros(2, 48, 64, dtype=torch.long))
    assert out.instance_logits.shape == (2, 3, 48, 64)
    assert out.key_logits.shape == (2, len(KEYS) + 1, 48, 64)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 1, 100, 128))


def test_save_load_round_trip(tmp_path):
    model = tiny_detector()
    model.save_pretrained(tmp_path)
    again = LayoutDetector.from_pretrained(tmp_path).eval()
    assert list(again.config.field_keys) == KEYS
    x = torch.rand(1, 1, 64, 64)
    assert torch.allclose(model(x).key_logits, again(x).key_logits, atol=1e-6)


def test_prepare_page_scales_long_side_and_pads():
    page = prepare_page(Image.new("RGB", (1600, 1000), "white"), 768)
    assert page.pixel_values.shape == (1, 480, 768)
    assert page.scale == pytest.approx(768 / 1600)
    assert page.pixel_values.max() < 1e-5  # white paper → 0, ink would be positive
    batch = collate_pages([page, prepare_page(Image.new("L", (500, 800)), 768)])
    assert batch.shape == (2, 1, 768, 768)


def test_painted_targets_decode_back_to_the_boxes():
    page = prepare_page(Image.new("RGB", (1600, 1100), "white"), 768)
    h, w = page.pixel_values.shape[1] // 2, page.pixel_values.shape[2] // 2
    entries = [(20, 100, 1580, 300), (20, 300, 1580, 500)]
    fields = [((20, 100, 600, 300), 1), ((600, 100, 1100, 300), 2), ((20, 300, 600, 500), 1)]
    lines = [(40, 120, 560, 170), (40, 200, 560, 250)]
    inst, keys = paint_targets((h, w), page.scale, 0.2, entries, fields, lines)
    assert inst.shape == (3, h, w) and keys.shape == (h, w)
    key_prob = np.eye(len(KEYS) + 1, dtype=np.float32)[keys].transpose(2, 0, 1)
    regions = decode_maps(inst, key_prob, page.scale, 0.2, KEYS)
    assert match_f1([(r.bbox, None) for r in regions["entry"]], [(b, None) for b in entries], 0.8)["f1"] == 1.0
    assert match_f1([(r.bbox, r.key) for r in regions["field"]],
                    [(b, KEYS[k - 1]) for b, k in fields], 0.8)["f1"] == 1.0
    assert match_f1([(r.bbox, None) for r in regions["line"]], [(b, None) for b in lines], 0.6)["f1"] == 1.0


def test_match_f1_counts_label_mismatches_as_errors():
    truth = [((0, 0, 10, 10), "a"), ((20, 0, 30, 10), "b")]
    assert match_f1(truth, truth)["f1"] == 1.0
    swapped = [((0, 0, 10, 10), "b"), ((20, 0, 30, 10), "a")]
    m = match_f1(swapped, truth)
    assert (m["tp"], m["fp"], m["fn"]) == (0, 2, 2)
    assert match_f1([], [])["f1"] == 1.0


def test_onnx_export_matches_pytorch(tmp_path):
    from inference.layout import LayoutPredictor, export_detector

    model = tiny_detector()
    model.save_pretrained(tmp_path / "model")
    out = export_detector(tmp_path / "model", tmp_path / "onnx")
    config = json.loads((out / "onnx_config.json").read_text())
    assert config["format"] == "hotich-onnx-detector" and len(config["source"]["weights_sha256"]) == 64
    predictor = LayoutPredictor(out)
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((300, 420)) * 255).astype("uint8"))
    page = prepare_page(image, 128)
    with torch.no_grad():
        expected = model(torch.from_numpy(page.pixel_values)[None]).instance_logits.numpy()
    got = predictor.session.run(None, {"pixel_values": page.pixel_values[None]})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert set(predictor(image)) == {"entry", "field", "line"}


def test_skew_estimate_finds_the_rotation():
    from inference.layout import estimate_skew, rotate_page

    canvas = np.full((800, 1200), 245, np.uint8)
    for y in range(100, 760, 60):
        canvas[y:y + 3, 80:1120] = 30
    page = Image.fromarray(canvas)
    skewed, _ = rotate_page(page, -2.0)  # undoing a skew of -2° rotates by +2°
    assert estimate_skew(skewed) == pytest.approx(2.0, abs=0.3) or estimate_skew(skewed) == pytest.approx(-2.0, abs=0.3)
    estimate = estimate_skew(skewed)
    straightened, _ = rotate_page(skewed, estimate)
    assert abs(estimate_skew(straightened)) <= 0.3


class TruthLayout:
    """A layout "predictor" that returns a page's ground truth, to test everything after detection."""

    version = "truth"

    def __init__(self, truth):
        self.truth = truth

    def __call__(self, image):
        fields = [Region("field", b.bbox, 1.0, f.key, 1.0) for f in self.truth.fields() for b in f.boxes]
        return {"entry": [Region("entry", e.region.bbox, 1.0) for e in self.truth.entries if not e.blank],
                "field": fields, "line": [Region("line", ln.region.bbox, 1.0) for ln in self.truth.lines()]}


def test_pipeline_groups_truth_regions_into_records(tmp_path):
    from data.pages.render import render_page
    from inference.pages import PagePipeline

    image, truth = render_page("khai_sinh", seed=3, long_side=900, degradation=0.0)
    pipeline = PagePipeline(TruthLayout(truth), None, deskew=False)

    def read(work, lines, **options):  # each detected line gets the text of the truth line with the same box
        by_box = {tuple(round(v, 1) for v in ln.region.bbox): ln.text for ln in truth.lines()}
        for line in lines:
            line.text, line.confidence = by_box.get(tuple(round(v, 1) for v in line.bbox), ""), 0.99

    pipeline.recognize_lines = read
    result = pipeline(image)
    assert result["page"]["book"] == "khai_sinh"
    filled = [e for e in truth.entries if not e.blank and e.fields]
    assert len(result["records"]) == len(filled)
    for record, entry in zip(result["records"], filled):
        texts = {f["key"]: f["text"] for f in record["fields"]}
        for f in entry.fields:
            assert texts.get(f.key) == f.text
        assert {"book", "entry", "fields", "flags", "needs_review"} <= set(record)


def test_only_page_header_keys_outside_the_rows_go_into_every_record():
    """A volume number above the table applies to every entry; a signature in the footer (or a row the detector
    missed) stays a page field and goes into no record."""
    from types import SimpleNamespace

    from inference.pages import PagePipeline

    class Layout:
        def __call__(self, image):
            def field(key, box):
                return Region("field", box, 0.9, key, 0.9)

            return {"entry": [Region("entry", (0, 100, 400, 140), 0.9), Region("entry", (0, 140, 400, 180), 0.9)],
                    "field": [field("quyenSo", (10, 10, 90, 30)), field("nguoiKy", (200, 300, 390, 330)),
                              field("nksHoTen", (10, 105, 190, 135)), field("nksHoTen", (10, 145, 190, 175))],
                    "line": []}

    class Reader:
        def recognize(self, images, batch_size=32):
            return [SimpleNamespace(text="01/2008" if i == 0 else "Nguyễn Văn An", confidence=0.95)
                    for i in range(len(images))]

    result = PagePipeline(Layout(), Reader(), deskew=False)(Image.new("RGB", (400, 400), "white"), book="khai_sinh")
    assert [f["key"] for f in result["page"]["page_fields"]] == ["quyenSo", "nguoiKy"]
    assert len(result["records"]) == 2
    for record in result["records"]:
        keys = [f["key"] for f in record["fields"]]
        assert "quyenSo" in keys and "nguoiKy" not in keys and "nksHoTen" in keys


def test_detector_training_runs_evaluates_and_resumes(tmp_path):
    """Three steps of the tiny config through the real loop: pages rendered, F1 evaluated, best/ saved, resumable."""
    from models.detection import LayoutDetector
    from training.train_detector import load_config, train

    overrides = {"runs_dir": str(tmp_path / "runs"), "pages_dir": str(tmp_path / "pages"), "train_pages": 2,
                 "val_pages_per_book": 1, "max_steps": 2, "eval_every": 2, "checkpoint_every": 1,
                 "generated_layouts": 0.5}
    run = train(load_config("training/configs/detector-tiny.yaml", overrides))
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    evals = [h for h in history if h["event"] == "eval"]
    assert evals and set(evals[-1]["heldout"]["field_f1"]) == {"khai_sinh", "khai_tu", "ket_hon", "nhan_cha_me_con"}
    assert 0.0 <= evals[-1]["val"]["field_any_key_f1"] <= 1.0
    # With generated layouts, their own unseen-seed set counts in the choice of the best checkpoint (held-out never).
    last = evals[-1]
    assert last["selection_f1"] == pytest.approx((last["val"]["mean_field_f1"] + last["val_generated"]["mean_field_f1"]) / 2)
    generated_val = list((tmp_path / "pages" / "long512" / "val_generated" / "gt").glob("*.json"))
    assert len(generated_val) == 4 and all("-gen-" in p.name for p in generated_val)
    from training.release_detector import model_card

    card = model_card("tiny", run, json.loads((run / "best" / "metrics.json").read_text()),
                      torch.load(run / "checkpoint.pt", weights_only=False)["config"], 1000, None)
    assert "val_generated (unseen generated layouts)" in card and "50% on layouts generated" in card
    assert (run / "curve.png").is_file()
    assert LayoutDetector.from_pretrained(run / "best").config.input_size == 256
    again = train(load_config("training/configs/detector-tiny.yaml", {**overrides, "max_steps": 3}), resume=True)
    state = torch.load(again / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3

    # --init starts a new run from the released weights of the same shape, and names a mismatch.
    from training.train_detector import init_from

    started = train(load_config("training/configs/detector-tiny.yaml",
                                {**overrides, "name": "from-best", "max_steps": 1, "eval_every": 1}),
                    init=str(run / "best"))
    assert json.loads((started / "init.json").read_text())["path"] == str(run / "best")
    assert "initialised from" in (started / "train.log").read_text()
    wider = LayoutDetector(LayoutDetectorConfig(input_size=256, channels=[8, 8, 16, 16, 32],
                                                field_keys=list(LayoutDetector.from_pretrained(run / "best")
                                                                .config.field_keys)))
    with pytest.raises(ValueError, match="channels differ"):
        init_from(wider, run / "best")


def test_release_card_names_the_init_detector_and_totals(tmp_path):
    from training.release_detector import init_line

    assert init_line(tmp_path, {"step": 300, "cpu_hours": 1.0}) == ""
    (tmp_path / "init.json").write_text(json.dumps({"path": "models/zoo/x", "metrics": {"step": 600,
                                                                                       "cpu_hours": 0.72}}))
    line = init_line(tmp_path, {"step": 300, "cpu_hours": 1.0})
    assert "`models/zoo/x` (step 600, 0.72 CPU-hours in its own run)" in line and "900 steps, 1.72" in line
    # A parent that was itself a later stage carries its lineage's totals: they add up across stages.
    (tmp_path / "init.json").write_text(json.dumps({"path": "models/zoo/x", "metrics": {
        "step": 600, "cpu_hours": 0.72, "totals": {"steps": 1500, "cpu_hours": 2.07}}}))
    assert "1800 steps, 3.07 CPU-hours" in init_line(tmp_path, {"step": 300, "cpu_hours": 1.0})
