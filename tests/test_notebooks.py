"""Notebooks are executed on tiny models so that they never rot."""
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from data.datasets import export_manifest, synthetic_lines
from inference.evaluate import evaluate_manifest
from models.recognition import CharTokenizer, LineImageProcessor
from models.recognition.recognizer import build_recognizer, save_recognizer
from conftest import tiny_shape

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_shape(max_text_tokens=24)


def test_error_analysis_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "absent"))
    tokenizer = CharTokenizer()
    save_recognizer(tmp_path / "model", build_recognizer(TINY, tokenizer), tokenizer, LineImageProcessor(height=32))
    manifest = export_manifest(synthetic_lines(8, seed=1, source="font", height=32), tmp_path / "lines", total=8)
    predictions = tmp_path / "preds.jsonl"
    metrics = evaluate_manifest(manifest, tmp_path / "model", predictions=predictions)
    assert set(metrics) == {"n", "cer", "wer", "line_acc", "cer_base", "cer_marks", "lines_per_s"}

    notebook = nbformat.read(ROOT / "notebooks" / "01_error_analysis.ipynb", as_version=4)
    monkeypatch.setenv("HOTICH_PREDICTIONS", str(predictions))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    assert "cer_marks" in text and "deleted most" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    """The page quickstart on a tiny untrained detector and recognizer: the pipeline's plumbing, not accuracy."""
    import torch

    from models.detection import LayoutDetector, LayoutDetectorConfig
    from training.train_detector import all_field_keys

    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "absent"))
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    tokenizer = CharTokenizer()
    save_recognizer(tmp_path / "rec", build_recognizer(TINY, tokenizer), tokenizer, LineImageProcessor(height=32))
    torch.manual_seed(0)
    detector = LayoutDetector(LayoutDetectorConfig(input_size=256, channels=[4, 4, 8, 8, 8],
                                                   field_keys=all_field_keys()))
    with torch.no_grad():  # paint everything "field"/"line" so the pipeline has crops to read
        detector.instance_head.bias.fill_(3.0)
    detector.save_pretrained(tmp_path / "det")
    monkeypatch.setenv("HOTICH_DETECTOR", str(tmp_path / "det"))
    monkeypatch.setenv("HOTICH_RECOGNIZER", str(tmp_path / "rec"))
    monkeypatch.setenv("HOTICH_PAGE_LONG_SIDE", "700")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(ROOT / "notebooks" / "02_quickstart.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    assert "filled entries" in text and "fields read" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
