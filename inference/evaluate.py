"""``hotich eval``: measure a recognizer on any line manifest.

Prints exactly one JSON object ``{"n", "cer", "wer", "line_acc", "cer_base", "cer_marks", "lines_per_s"}``;
``--predictions FILE`` writes one JSON line per input line with the hypothesis and its confidences (that
file holds recognized text, i.e. personal data when run on real ledgers: keep it where the data lives).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from data.manifest import read_manifest
from models.metrics import recognition_metrics


def _is_recognizer(path: Path) -> bool:
    """A released recognizer, not another model of the zoo (the layout detector lives there too)."""
    try:
        return json.loads((path / "config.json").read_text())["model_type"] == "vision-encoder-decoder"
    except (OSError, ValueError, KeyError):
        return False


#: The released recognizer that reads page lines beside the released one (``inference.ensemble``); never the
#: default recognizer itself.
SECOND_OPINION = "hotich-rec-second-opinion"
#: The released recognizer of printed lines, which reads a page's headings (``inference.pages``); never the
#: default recognizer itself.
PRINT_READER = "hotich-rec-print"


def default_model_dir() -> Path:
    """The released recognizer in ``models/zoo`` (the newest by name; the second opinion and the print reader
    are not candidates)."""
    zoo = Path(__file__).resolve().parents[1] / "models" / "zoo"
    candidates = sorted(p for p in zoo.glob("*") if _is_recognizer(p) and p.name not in (SECOND_OPINION, PRINT_READER)
                        ) if zoo.is_dir() else []
    if not candidates:
        raise FileNotFoundError(f"no released recognizer under {zoo}; pass --model DIR")
    return candidates[-1]


def default_second_opinion_dir() -> Path | None:
    """The released second-opinion recognizer for page lines, or ``None`` where it is not in ``models/zoo``."""
    path = Path(__file__).resolve().parents[1] / "models" / "zoo" / SECOND_OPINION
    return path if _is_recognizer(path) else None


def default_print_reader_dir() -> Path | None:
    """The released recognizer of printed lines (page headings), or ``None`` where it is not in ``models/zoo``."""
    path = Path(__file__).resolve().parents[1] / "models" / "zoo" / PRINT_READER
    return path if _is_recognizer(path) else None


def evaluate_manifest(manifest: str | Path, model_dir: str | Path | None = None, batch_size: int = 16,
                      predictions: str | Path | None = None, limit: int | None = None, variant: str = "fp32",
                      beam_width: int = 1) -> dict:
    """``beam_width`` > 1 decodes with beam search, which runs in onnxruntime: a recognizer directory is then
    exported once into the cache (see :func:`inference.ort_runtime.exported_once`)."""
    import time

    from inference.ort_runtime import OnnxRecognizer, exported_once, is_onnx_dir

    if beam_width < 1:
        raise ValueError(f"beam width must be >= 1, got {beam_width}")
    records = read_manifest(manifest, check_images=True)[:limit]
    if not records:
        raise ValueError(f"{manifest}: no lines to evaluate")
    model_dir = Path(model_dir or default_model_dir())
    if beam_width > 1:
        model_dir = exported_once(model_dir)  # with int8, as the server's: one cached export serves both
    if is_onnx_dir(model_dir):
        run = OnnxRecognizer(model_dir, variant=variant, beam_width=beam_width).recognize
    else:
        from models.recognition.predictor import recognize
        from models.recognition.recognizer import load_recognizer

        model, tokenizer, processor = load_recognizer(model_dir)

        def run(images, batch_size):
            return recognize(model, tokenizer, processor, images, batch_size=batch_size)
    images = [np.asarray(Image.open(r.image).convert("RGB")) for r in tqdm(records, desc="loading", unit="line")]
    start = time.perf_counter()
    results = run(images, batch_size=batch_size)
    lines_per_s = len(images) / (time.perf_counter() - start)
    metrics = recognition_metrics([r.text for r in results], [r.text for r in records])
    if predictions:
        path = Path(predictions)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for record, result in zip(records, results):
                handle.write(json.dumps({"image": str(record.image), "reference": record.text,
                                         "hypothesis": result.text, "confidence": round(result.confidence, 5),
                                         "char_probs": [round(p, 4) for p in result.char_probs],
                                         **record.extra}, ensure_ascii=False) + "\n")
    return {**{k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()},
            "lines_per_s": round(lines_per_s, 2)}
