"""Offline peers against hotich on the same validation manifests, with the same metrics.

    python benchmarks/peers.py [--model DIR] [--manifests M1 M2 ...] [--systems hotich tesseract asterocr]

Peers: Tesseract 5 with Vietnamese data (Debian ``tesseract-ocr`` + ``tesseract-ocr-vie``, through
``tesserocr``, single-line page segmentation) and ``asterocr`` (PyPI; its bundled ONNX model, greedy CTC).
Install them with ``make peers``. Each system reads the same RGB line images one by one (``hotich`` in
width-sorted batches of 16, its normal mode); lines/s is wall-clock over the whole set on this machine.
Prints one JSON object; also writes ``benchmarks/results/peers.json`` and a Markdown table beside it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.manifest import read_manifest  # noqa: E402
from models.metrics import recognition_metrics  # noqa: E402


class Tesseract:
    name = "tesseract-5-vie"

    def __init__(self):
        import glob

        import tesserocr

        # The pip wheel of tesserocr does not know Debian's tessdata folder; point it there.
        found = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata/vie.traineddata"))
        if not found:
            raise SystemExit("Tesseract Vietnamese data not found: apt-get install tesseract-ocr tesseract-ocr-vie")
        self.api = tesserocr.PyTessBaseAPI(path=str(Path(found[-1]).parent), lang="vie",
                                           psm=tesserocr.PSM.SINGLE_LINE)

    def __call__(self, images):
        out = []
        for image in images:
            self.api.SetImage(Image.fromarray(image))
            out.append(" ".join(self.api.GetUTF8Text().split()))
        return out


class Aster:
    name = "asterocr-1.0.2"

    def __init__(self):
        from asterocr import AsterOCR

        self.engine = AsterOCR(backend="onnx", enable_telemetry=False)

    def __call__(self, images):
        return [" ".join(self.engine.predict(Image.fromarray(image)).split()) for image in images]


class Hotich:
    def __init__(self, model_dir):
        from models.recognition.recognizer import load_recognizer

        self.model, self.tokenizer, self.processor = load_recognizer(model_dir)
        self.name = f"hotich ({Path(model_dir).name})"

    def __call__(self, images):
        from models.recognition.predictor import recognize

        return [r.text for r in recognize(self.model, self.tokenizer, self.processor, images, batch_size=16)]


def default_manifests() -> list[Path]:
    from training.validation_sets import build_validation_sets

    return list(build_validation_sets().values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="hotich recognizer directory (default: the released model)")
    parser.add_argument("--manifests", nargs="+", type=Path, help="default: the fixed validation sets")
    parser.add_argument("--systems", nargs="+", default=["hotich", "tesseract", "asterocr"])
    parser.add_argument("--limit", type=int, help="only the first N lines of each manifest")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "peers.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other systems' rows already in --out (re-measure one system, e.g. a new "
                             "hotich release, without re-running the peers)")
    args = parser.parse_args()

    systems = []
    for key in args.systems:
        if key == "hotich":
            from inference.evaluate import default_model_dir

            systems.append(Hotich(args.model or default_model_dir()))
        elif key == "tesseract":
            systems.append(Tesseract())
        elif key == "asterocr":
            systems.append(Aster())
        else:
            raise SystemExit(f"unknown system {key!r}")

    results: dict = {}
    for manifest in args.manifests or default_manifests():
        records = read_manifest(manifest, check_images=True)[: args.limit]
        images = [np.asarray(Image.open(r.image).convert("RGB")) for r in records]
        references = [r.text for r in records]
        subsets = {"all": list(range(len(records)))}
        if any(r.extra.get("text_disjoint") for r in records):
            subsets["text_disjoint"] = [i for i, r in enumerate(records) if r.extra.get("text_disjoint")]
        set_name = manifest.parent.name
        for system in systems:
            start = time.perf_counter()
            hypotheses = system(images)
            lines_per_s = len(images) / (time.perf_counter() - start)
            for subset, idx in subsets.items():
                metrics = recognition_metrics([hypotheses[i] for i in idx], [references[i] for i in idx])
                key = set_name if subset == "all" else f"{set_name} ({subset})"
                results.setdefault(key, {})[system.name] = {
                    **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
                    "lines_per_s": round(lines_per_s, 1)}
            print(f"{set_name}: {system.name} cer={results[set_name][system.name]['cer']:.3f}", file=sys.stderr)

    if args.merge and args.out.is_file():
        previous = json.loads(args.out.read_text())
        measured = {system.name.split(" (")[0] for system in systems}
        for set_name, by_system in previous.items():
            kept = {name: m for name, m in by_system.items() if name.split(" (")[0] not in measured}
            results[set_name] = {**results.get(set_name, {}), **kept}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    rows = ["| validation set | system | n | CER | CER base | CER marks | WER | line acc. | lines/s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for set_name, by_system in results.items():
        for name, m in by_system.items():
            rows.append(f"| {set_name} | {name} | {m['n']} | {100 * m['cer']:.1f}% | {100 * m['cer_base']:.1f}% | "
                        f"{100 * m['cer_marks']:.1f}% | {100 * m['wer']:.1f}% | {100 * m['line_acc']:.1f}% | "
                        f"{m['lines_per_s']} |")
    args.out.with_suffix(".md").write_text("\n".join(rows) + "\n")
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
