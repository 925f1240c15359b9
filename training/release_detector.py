"""Release a trained layout detector into ``models/zoo/<name>/``: weights, config, curve and a model card
generated from the run's own records (``best/metrics.json``, ``history.jsonl``, the config in the checkpoint).

    python -m training.release_detector --run runs/detector --name hotich-layout-base [--status TEXT]
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from models.detection import LayoutDetector

ZOO = Path(__file__).resolve().parents[1] / "models" / "zoo"


def _f(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def lineage_totals(run: Path, metrics: dict) -> dict:
    """Steps and CPU-hours of the released checkpoint counting every earlier stage it was started from: the
    parent's own ``totals`` (or its step and CPU-hours, for a parent released before totals were kept) plus this
    run's."""
    record = run / "init.json"
    parent = (json.loads(record.read_text()).get("metrics") or {}) if record.is_file() else {}
    before = parent.get("totals") or ({"steps": parent["step"], "cpu_hours": parent["cpu_hours"]}
                                      if "step" in parent else {"steps": 0, "cpu_hours": 0.0})
    return {"steps": before["steps"] + metrics["step"], "cpu_hours": round(before["cpu_hours"] + metrics["cpu_hours"], 3)}


def init_line(run: Path, metrics: dict) -> str:
    """A bullet naming the detector the run started from (``--init``) and the totals over every stage, or nothing."""
    record = run / "init.json"
    if not record.is_file():
        return ""
    init = json.loads(record.read_text())
    parent = init.get("metrics") or {}
    if "step" not in parent:
        return f"- Started (`--init`) from `{init['path']}`.\n"
    totals = lineage_totals(run, metrics)
    return (f"- Started (`--init`) from `{init['path']}` (step {parent['step']}, {parent['cpu_hours']:.2f} CPU-hours "
            f"in its own run); over every stage "
            f"**{totals['steps']} steps, {totals['cpu_hours']:.2f} CPU-hours**.\n")


SPLIT_LABELS = {"val": "unseen seeds, training layouts", "val_generated": "unseen generated layouts",
                "heldout": "held-out layout per book"}


def model_card(name: str, run: Path, metrics: dict, config: dict, parameters: int, status: str | None) -> str:
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    evals = [h for h in history if h["event"] == "eval"]
    splits = [split for split in SPLIT_LABELS if split in metrics]
    rows = []
    for split in splits:
        m = metrics[split]
        books = " | ".join(f"{m['field_f1'][b]:.3f}" for b in sorted(m["field_f1"]))
        rows.append(f"| {split} ({SPLIT_LABELS[split]}) | {books} | {m['mean_field_f1']:.3f} | "
                    f"{_f(m.get('field_any_key_f1'))} | {m['entry_f1']:.3f} | {m['line_f1']:.3f} |")
    books = sorted(metrics["val"]["field_f1"])
    curve_head = " | ".join(f"{split} field F1" for split in splits)
    curve = "\n".join(f"| {e['step']} | " + " | ".join(f"{e[split]['mean_field_f1']:.3f}" if split in e else "–"
                                                      for split in splits)
                      + f" | {e['val']['entry_f1']:.3f} | {e['val']['line_f1']:.3f} |" for e in evals)
    generated = config.get("generated_layouts", 0.0)
    data = (f"{config['train_pages']} synthetic pages (`data/pages`: {100 * (1 - generated):.0f}% on the three training "
            f"layouts of each of the four books, {100 * generated:.0f}% on layouts generated from the page seed by "
            f"`data/pages/generated.py`)" if generated else
            f"{config['train_pages']} synthetic pages (`data/pages`, the three training layouts of each of the four books)")
    chosen = ("the mean of the `val` and `val_generated` mean field F1" if "val_generated" in metrics
              else "mean field F1 on the `val` pages")
    validation = ("pages of unseen seeds on the training layouts (`val`), on generated layouts of unseen seeds "
                  "(`val_generated`) and on each book's held-out layout (`heldout`, reported only, never used "
                  "to choose)" if "val_generated" in metrics else
                  "pages of unseen seeds on the training layouts (`val`) and pages of each book's held-out layout "
                  "(`heldout`)")
    return f"""# {name}

The hotich page layout detector: a U-Net (`models/detection/`, {parameters / 1e6:.2f}M parameters) that reads a
register page in grayscale at {config['input_size']} px on the long side and paints entry rows, field regions,
text lines and a field-key map ({len(LayoutDetector.from_pretrained(run / 'best').config.field_keys)} keys).
Decoding (connected components, boxes grown back by the shrink margin) is in `models/detection/layout.py`;
`inference/layout.py` exports it to ONNX and runs it with onnxruntime.

```python
from models.detection import LayoutDetector
detector = LayoutDetector.from_pretrained("models/zoo/{name}")
```

## Training
- Run `{run.name}`, config `training/configs/{config['name']}.yaml`; best checkpoint at step **{metrics['step']}** of
  {config['max_steps']} (batch {config['batch_size']}, AdamW lr {config['lr']}, {config['warmup_steps']} warm-up
  steps, cosine decay), chosen by {chosen}.
- **CPU-hours: {metrics['cpu_hours']:.2f}** (process CPU time of the training steps on this 2-core machine).
{init_line(run, metrics)}- Data: {data}, {config['render_long_side']} px long side, rescaled 0.85–1.0 at random. Validation:
  {validation}, {config['val_pages_per_book']} per book each.

## Metrics (F1 at IoU 0.5; a field counts only with the right key)
| pages | {' | '.join(books)} | mean field F1 | field F1, any key | entry F1 | line F1 |
|---|{'---|' * len(books)}---|---|---|---|
{chr(10).join(rows)}

### During training
| step | {curve_head} | val entry F1 | val line F1 |
|---|{'---|' * len(splits)}---|---|
{curve}

![training curve](curve.png)

## Status
{status or ''}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--status", help="a paragraph on where the run stands (goes into the card)")
    args = parser.parse_args()
    best = args.run / "best"
    metrics = json.loads((best / "metrics.json").read_text())
    config = torch.load(args.run / "checkpoint.pt", weights_only=False, map_location="cpu")["config"]
    model = LayoutDetector.from_pretrained(best)
    out = ZOO / args.name
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    (out / "metrics.json").write_text(json.dumps({**metrics, "totals": lineage_totals(args.run, metrics)}, indent=2))
    if (args.run / "curve.png").is_file():
        shutil.copy(args.run / "curve.png", out / "curve.png")
    parameters = sum(p.numel() for p in model.parameters())
    (out / "README.md").write_text(model_card(args.name, args.run, metrics, config, parameters, args.status))
    print(out)


if __name__ == "__main__":
    main()
