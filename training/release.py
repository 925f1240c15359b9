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

import numpy as np
import torch

from models.recognition.recognizer import count_parameters, load_recognizer, save_recognizer

ZOO = Path(__file__).resolve().parents[1] / "models" / "zoo"


# The numbers issue 3 asks of the recognizer, per validation set (CER).
TARGET_CER = {"cinnamon-val": 0.10, "vnondb-val": 0.08, "synth-val": 0.02}


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def lineage(run: Path, metrics: dict, config: dict, history: list[dict]) -> list[dict]:
    """Every training stage behind this run's best model, oldest first: the stages its ``--init`` parent carried
    (``init.json``, written by the trainer) and then this run, cut at its best step. A stage is
    ``{"run", "config", "init", "steps", "best_step", "cpu_hours", "evals": [{"step", "cer": {set: CER}}]}``
    with steps counted inside the stage."""
    stages, init = [], None
    init_file = run / "init.json"
    if init_file.is_file():
        parent = json.loads(init_file.read_text())
        init = parent["path"]
        parent_metrics = parent.get("metrics") or {}
        stages = list(parent_metrics.get("lineage") or [])
        parent_run = Path(init).parent
        if not stages and parent_metrics and Path(init).name == "best" and (parent_run / "checkpoint.pt").is_file():
            # A parent that is another run's best checkpoint, never released: that run's own lineage.
            stages = lineage(parent_run, parent_metrics, _run_config(parent_run), _run_history(parent_run))
        if not stages and parent_metrics:  # a parent released before lineages were recorded: its best point only
            stages = [{"run": "unknown", "config": None, "init": None, "steps": parent_metrics["step"],
                       "best_step": parent_metrics["step"], "cpu_hours": parent_metrics["cpu_hours"],
                       "evals": [{"step": parent_metrics["step"],
                                  "cer": {k: v["cer"] for k, v in parent_metrics["val"].items()}}]}]
    evals = [{"step": h["step"], "cer": {k: v["cer"] for k, v in h["val"].items()}}
             for h in history if h["event"] == "eval" and h["step"] <= metrics["step"]]
    stages.append({"run": run.name, "config": f"training/configs/{config['name']}.yaml", "init": init,
                   "steps": metrics["step"], "best_step": metrics["step"], "cpu_hours": metrics["cpu_hours"],
                   "evals": evals})
    return stages


def _run_config(run: Path) -> dict:
    return torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")["config"]


def _run_history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]


def cumulative_evals(stages: list[dict]) -> list[dict]:
    """The stages' evaluations on one step axis: a stage starts where its parent's best step left off."""
    points, offset = [], 0
    for stage in stages:
        points += [{"step": offset + e["step"], "cer": e["cer"], "run": stage["run"]} for e in stage["evals"]]
        offset += stage["best_step"]
    return points


def steps_to_target(points: list[dict], set_name: str, target: float, min_step: int = 1000) -> dict | None:
    """Fit CER = a · step^(−b) to the evaluations from ``min_step`` on (the earlier ones belong to warm-up) and
    solve for the step where it reaches ``target``. A power law is what such curves follow between warm-up and
    saturation; the end of a cosine decay drops faster than the law, so the estimate leans optimistic."""
    reached = next((p["step"] for p in points if p["cer"].get(set_name, float("inf")) <= target), None)
    if reached is not None:
        return {"set": set_name, "target": target, "reached_at": reached, "steps": reached, "points": 0,
                "exponent": None}
    xy = [(p["step"], p["cer"][set_name]) for p in points if p["step"] >= min_step and set_name in p["cer"]]
    if len(xy) < 3:
        return None
    x, y = np.log([s for s, _ in xy]), np.log([c for _, c in xy])
    slope, intercept = np.polyfit(x, y, 1)
    if slope >= 0:
        return {"set": set_name, "target": target, "exponent": float(-slope), "steps": None, "points": len(xy)}
    steps = float(np.exp((np.log(target) - intercept) / slope))
    return {"set": set_name, "target": target, "exponent": round(float(-slope), 3), "steps": round(steps, -2),
            "points": len(xy), "a": float(np.exp(intercept))}


def plot_lineage_curve(points: list[dict], fits: list[dict], out: Path, boundaries: list[int] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max(p["step"] for p in points)
    for i, name in enumerate(sorted({k for p in points for k in p["cer"]})):
        colour = f"C{i}"
        xs = [p["step"] for p in points if name in p["cer"]]
        ax.plot(xs, [100 * p["cer"][name] for p in points if name in p["cer"]], "o-", color=colour, label=name)
        fit = next((f for f in fits if f and f["set"] == name and f.get("steps") and "a" in f), None)
        if fit:
            end = min(fit["steps"], 20 * top)
            grid = np.geomspace(1000, end, 50)
            ax.plot(grid, 100 * fit["a"] * grid ** -fit["exponent"], "--", color=colour, lw=0.9)
            ax.axhline(100 * fit["target"], color=colour, lw=0.6, ls=":")
    for step in boundaries:
        ax.axvline(step, color="grey", lw=0.8, ls="-.")
        ax.annotate("next stage (--init)", (step, 1), xycoords=("data", "axes fraction"), rotation=90, va="top",
                    ha="right", fontsize=7, color="grey")
    ax.set(xlabel="training step (all stages)", ylabel="validation CER %", xscale="log", yscale="log",
           title="validation CER, power-law fits (dashed) and targets (dotted)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _fit_row(fit: dict) -> str:
    if fit.get("reached_at") is not None:
        return f"| {fit['set']} | {_pct(fit['target'])} | – | – | reached at step {fit['reached_at']:,} |"
    steps = "not falling" if fit["steps"] is None else f"{int(fit['steps']):,}"
    return f"| {fit['set']} | {_pct(fit['target'])} | {fit['points']} | {fit['exponent']} | {steps} |"


HANDWRITING = "A TrOCR-style handwritten Vietnamese line recognizer"
VALIDATION_SETS = """Validation sets no training step saw: `cinnamon-val` (the 200 recorded Cinnamon validation scans),
`vnondb-val` (real lines of the 27 validation writers; the text-disjoint subset holds lines whose source text
no training writer copied), `synth-val` (held-out seeds, ink from validation writers). Peers from
`python benchmarks/peers.py` on the same manifests."""


def model_card(name: str, run: Path, metrics: dict, config: dict, parameters: int, peers: dict | None,
               speed: dict | None, status: str | None, stages: list[dict], fits: list[dict | None],
               summary: str = HANDWRITING) -> str:
    points = cumulative_evals(stages)
    curriculum = "\n".join(f"- from step {p['start_step']}: " + ", ".join(f"{k} {v}" for k, v in p["weights"].items())
                           for p in config["curriculum"])
    shape = ", ".join(f"{k}={v}" for k, v in config["model"].items()) or "from the --init parent"
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
    set_names = sorted({k for p in points for k in p["cer"]})
    curve = "\n".join(["| step (all stages) | run | " + " | ".join(set_names) + " |",
                       "|---" * (len(set_names) + 2) + "|"]
                      + [f"| {p['step']} | {p['run']} | " + " | ".join(_pct(p["cer"].get(k)) for k in set_names) + " |"
                         for p in points])
    total_steps = sum(st["best_step"] for st in stages)
    total_hours = sum(st["cpu_hours"] for st in stages)
    stage_rows = "\n".join(["| stage | run | config | initialised from | steps kept | CPU-hours |", "|---|---|---|---|---|---|"]
                           + [f"| {i + 1} | `{st['run']}` | {st['config'] or '–'} | {st['init'] or 'from scratch'} | "
                              f"{st['best_step']} | {st['cpu_hours']:.2f} |" for i, st in enumerate(stages)])
    fit_rows = "\n".join(["| validation set | target CER | points fitted | exponent b | steps to target |",
                          "|---|---|---|---|---|"] + [_fit_row(f) for f in fits if f])
    speed_line = (f"PyTorch greedy decoding: {speed['lines_per_s_median']} lines/s at batch {speed['batch_size']} on "
                  f"{speed['threads']} CPU threads (`python benchmarks/recognizer_speed.py`, median of "
                  f"{len(speed['runs'])} passes over {speed['lines']} Cinnamon validation crops)." if speed else "")
    own_sets = ", ".join(f"`{k}`" for k in config.get("val_manifests") or {})
    validation = VALIDATION_SETS if "cinnamon-val" in table else (
        f"Validation: {own_sets} (the line manifests of the run's config, first {config.get('val_limit') or 'all'} lines).")
    return f"""# {name}

{summary}: a convolutional stem + Transformer encoder
(`LineEncoder`) and a TrOCR Transformer decoder with cross-attention, joined by
`transformers.VisionEncoderDecoderModel`; {parameters / 1e6:.2f}M parameters; character vocabulary of
NFC Vietnamese (`vocab.json`); input lines resized to {config['model'].get('image_height', 48)} px height.
Weights are stored in float16 (`model.safetensors`); `load_recognizer` loads them as float32.

```python
from models.recognition.recognizer import load_recognizer
model, tokenizer, processor = load_recognizer("models/zoo/{name}")
```

## Training
**{total_steps:,} steps of batch {config['batch_size']} in all, {total_hours:.2f} CPU-hours** (process CPU time of
the training steps on this 2-core machine; evaluation excluded), in these stages (each later stage starts from
the released model of the one before):

{stage_rows}

- Last stage: run `{run.name}`, config `training/configs/{config['name']}.yaml` (shape: {shape}); best checkpoint
  at step **{metrics['step']}** of {config['max_steps']} planned (AdamW lr {config['lr']},
  {config['warmup_steps']} warm-up steps, cosine decay), selected by mean validation CER.
- Data, drawn on the fly with the curriculum below: `synth_font` / `synth_ink` (ledger field lines from the
  synthesizer, ink of the 151 training writers only), `vnondb` (real VNOnDB lines of the training writers,
  re-rendered), `cinnamon` (the 1,623 Cinnamon training scans, lightly augmented), `synth_print` (printed
  register lines with text drawn at random, `data/print_lines.py`), `manifest:` (line crops of rendered
  pages, see the config). Last stage's curriculum:
{curriculum}

## Metrics
{validation}

{chr(10).join(rows)}

{speed_line}

### Validation CER during training
Evaluated on the first {config.get('val_limit') or 'all'} lines of each set, on one step axis across the stages.

{curve}

![validation CER across stages](curve.png)

### Steps the curve says are needed
A power law CER = a · step^(−b) fitted to the evaluations from step 1,000 on, solved for the target CER of
each set. The end of a cosine decay falls faster than the law, so these estimates lean optimistic, and a
curve this short says little about where it saturates: read them as an order of magnitude. Steps count
from the first stage's start; the steps still needed are the figure minus the {total_steps:,} trained so far
(at this machine's 1.5–1.8 s per step of batch {config['batch_size']}).

{fit_rows}

## Limits
Trained on a CPU for a short time: this is a checkpoint of a run in progress, not a converged model.
Synthetic ledger lines are tidier than real registers; real register pages have not been measured yet.
{(chr(10) + "## Status" + chr(10) + status + chr(10)) if status else ""}"""


def release(run: Path, name: str, peers: Path | None = None, speed: Path | None = None,
            status: str | None = None, summary: str = HANDWRITING) -> Path:
    best = run / "best"
    model, tokenizer, processor = load_recognizer(best)
    metrics = json.loads((best / "metrics.json").read_text())
    config = _run_config(run)
    history = _run_history(run)
    # Read before the zoo folder is replaced: the parent of this run may be the release it replaces.
    stages = lineage(run, metrics, config, history)
    points = cumulative_evals(stages)
    fits = [steps_to_target(points, set_name, target) for set_name, target in TARGET_CER.items()]
    out = ZOO / name
    if out.exists():
        shutil.rmtree(out)
    save_recognizer(out, model, tokenizer, processor, dtype=torch.float16)
    (out / "metrics.json").write_text(json.dumps({**metrics, "lineage": stages,
                                                  "steps_to_target": [f for f in fits if f]}, indent=1))
    if points:
        ends = np.cumsum([st["best_step"] for st in stages])[:-1]
        plot_lineage_curve(points, fits, out / "curve.png", [int(e) for e in ends])
    peer_results = json.loads(peers.read_text()) if peers and peers.is_file() else None
    speed_result = json.loads(speed.read_text()) if speed and speed.is_file() else None
    # Both files are measured on one hotich model: they belong in this card only when it is the one released.
    if peer_results and not any(system == f"hotich ({name})" for by_system in peer_results.values()
                                for system in by_system):
        peer_results = None
    if speed_result and speed_result.get("model") and Path(speed_result["model"]).name != name:
        speed_result = None
    (out / "README.md").write_text(model_card(name, run, metrics, config, count_parameters(model), peer_results,
                                              speed_result, status, stages, fits, summary), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--peers", type=Path, default=Path("benchmarks/results/peers.json"))
    parser.add_argument("--speed", type=Path, default=Path("benchmarks/results/recognizer_speed.json"))
    parser.add_argument("--status", help="a paragraph on where the run stands (goes into the card)")
    parser.add_argument("--summary", default=HANDWRITING,
                        help="what the model is, the card's first words (default: %(default)r)")
    args = parser.parse_args()
    print(release(args.run, args.name, args.peers, args.speed, args.status, args.summary))


if __name__ == "__main__":
    main()
