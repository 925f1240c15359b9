"""Release a trained recognizer into ``models/zoo/<name>/``: fp16 weights, tokenizer, processor, model card.

    python -m training.release --run runs/base --name hotich-rec-base [--peers benchmarks/results/peers.json]

The card is generated from the run's own records (``best/metrics.json``, ``history.jsonl``, the config in
``checkpoint.pt``) and the benchmark results, so every number in it was measured, never typed.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from models.recognition.recognizer import count_parameters, load_recognizer, save_recognizer

ZOO = Path(__file__).resolve().parents[1] / "models" / "zoo"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def model_card(name: str, run: Path, metrics: dict, config: dict, parameters: int, peers: dict | None,
               speed: dict | None, status: str | None = None) -> str:
    history = [json.loads(l) for l in (run / "history.jsonl").read_text().splitlines() if l.strip()]
    evals = [h for h in history if h["event"] == "eval"]
    curriculum = "\n".join(f"- from step {p['start_step']}: " + ", ".join(f"{k} {v}" for k, v in p["weights"].items())
                           for p in config["curriculum"])
    shape = ", ".join(f"{k}={v}" for k, v in config["model"].items())
    # Peers' file holds every system on the full validation sets (hotich included); without it, the training
    # run's own evaluation (possibly on the first ``val_limit`` lines) stands alone.
    table = peers or {set_name: {name: m} for set_name, m in metrics["val"].items()}
    rows = ["| validation set | system | n | CER | CER base | CER marks | WER | line acc. |",
            "|---|---|---|---|---|---|---|---|"]
    for set_name, by_system in table.items():
        for system, m in by_system.items():
            bold = "**" if system.startswith("hotich") or system == name else ""
            rows.append(f"| {set_name} | {bold}{system}{bold} | {m['n']} | {bold}{_pct(m['cer'])}{bold} | "
                        f"{_pct(m['cer_base'])} | {_pct(m['cer_marks'])} | {_pct(m['wer'])} | {_pct(m['line_acc'])} |")
    curve = "\n".join(f"| {h['step']} | " + " | ".join(_pct(h['val'][k]['cer']) for k in sorted(h['val'])) + " |"
                      for h in evals)
    header = "| step | " + " | ".join(sorted(evals[-1]["val"])) + " |" if evals else ""
    speed_line = (f"PyTorch greedy decoding: {speed['lines_per_s_median']} lines/s at batch {speed['batch_size']} on "
                  f"{speed['threads']} CPU threads (`python benchmarks/recognizer_speed.py`, median of "
                  f"{len(speed['runs'])} passes over {speed['lines']} Cinnamon validation crops)." if speed else "")
    return f"""# {name}

A TrOCR-style handwritten Vietnamese line recognizer: a convolutional stem + Transformer encoder
(`LineEncoder`) and a TrOCR Transformer decoder with cross-attention, joined by
`transformers.VisionEncoderDecoderModel`; {parameters / 1e6:.2f}M parameters; character vocabulary of
NFC Vietnamese (`vocab.json`); input lines resized to {config['model'].get('image_height', 48)} px height.
Weights are stored in float16 (`model.safetensors`); `load_recognizer` loads them as float32.

```python
from models.recognition.recognizer import load_recognizer
model, tokenizer, processor = load_recognizer("models/zoo/{name}")
```

## Training
- Run `{run.name}`, config `training/configs/{config['name']}.yaml` (shape: {shape}).
- Best checkpoint at step **{metrics['step']}** of {config['max_steps']} planned (batch {config['batch_size']},
  AdamW lr {config['lr']}, {config['warmup_steps']} warm-up steps, cosine decay), selected by mean validation CER.
- **CPU-hours: {metrics['cpu_hours']:.2f}** (process CPU time of the training steps, both cores of this
  2-core machine; evaluation excluded).
- Data, drawn on the fly with the curriculum below: `synth_font` / `synth_ink` (ledger field lines from the
  synthesizer, ink of the 151 training writers only), `vnondb` (real VNOnDB lines of the training writers,
  re-rendered), `cinnamon` (the 1,623 Cinnamon training scans, lightly augmented).
{curriculum}

## Metrics
Validation sets no training step saw: `cinnamon-val` (the 200 recorded Cinnamon validation scans),
`vnondb-val` (real lines of the 27 validation writers; the text-disjoint subset holds lines whose source text
no training writer copied), `synth-val` (held-out seeds, ink from validation writers). Peers from
`python benchmarks/peers.py` on the same manifests.

{chr(10).join(rows)}

{speed_line}

### Validation CER during training
{header}
{"|---" * (len(evals[-1]['val']) + 1) + "|" if evals else ""}
{curve}

![training curve](curve.png)

## Limits
Trained on a CPU for a short time: this is a checkpoint of a run in progress, not a converged model.
Synthetic ledger lines are tidier than real registers; real register pages have not been measured yet.
{(chr(10) + "## Status" + chr(10) + status + chr(10)) if status else ""}"""


def release(run: Path, name: str, peers: Path | None = None, speed: Path | None = None,
            status: str | None = None) -> Path:
    best = run / "best"
    model, tokenizer, processor = load_recognizer(best)
    metrics = json.loads((best / "metrics.json").read_text())
    config = torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")["config"]
    out = ZOO / name
    if out.exists():
        shutil.rmtree(out)
    save_recognizer(out, model, tokenizer, processor, dtype=torch.float16)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    if (run / "curve.png").is_file():
        shutil.copy(run / "curve.png", out / "curve.png")
    peer_results = json.loads(peers.read_text()) if peers and peers.is_file() else None
    speed_result = json.loads(speed.read_text()) if speed and speed.is_file() else None
    (out / "README.md").write_text(model_card(name, run, metrics, config, count_parameters(model), peer_results,
                                              speed_result, status), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--peers", type=Path, default=Path("benchmarks/results/peers.json"))
    parser.add_argument("--speed", type=Path, default=Path("benchmarks/results/recognizer_speed.json"))
    parser.add_argument("--status", help="a paragraph on where the run stands (goes into the card)")
    args = parser.parse_args()
    print(release(args.run, args.name, args.peers, args.speed, args.status))


if __name__ == "__main__":
    main()
