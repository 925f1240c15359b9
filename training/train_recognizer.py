"""Train the line recognizer. Read top to bottom: config → data → model → loop → checkpoints.

    hotich train recognizer --config training/configs/base.yaml [--resume] [--init DIR] [--max-steps N]

Writes under ``runs/<name>/``: ``checkpoint.pt`` (resumable: model, optimizer, schedule, data stream state),
``best/`` (the best model so far by mean validation CER, a ``from_pretrained`` directory), ``history.jsonl``
(one line per log/eval event), ``curve.png`` and ``train.log``. No recognized text is logged.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from data.manifest import read_manifest
from models.metrics import recognition_metrics
from models.recognition import CharTokenizer, LineImageProcessor
from models.recognition.predictor import timed_recognize
from models.recognition.recognizer import (RecognizerShape, build_recognizer, count_parameters, save_recognizer)
from training.config import learning_rate, load_yaml_config
from training.data import MixedLineStream
from training.validation_sets import build_validation_sets

log = logging.getLogger("hotich.train")

DEFAULTS = {
    "name": "recognizer", "seed": 0, "runs_dir": "runs",
    "model": {}, "synth_height": 64,
    "batch_size": 16, "max_steps": 20000, "lr": 5e-4, "weight_decay": 0.01, "warmup_steps": 500,
    "min_lr_ratio": 0.05, "grad_clip": 1.0, "label_smoothing": 0.0, "ctc_weight": 0.0,
    "log_every": 25, "eval_every": 500, "checkpoint_every": 250, "eval_batch_size": 32,
    "val_sets": ["cinnamon-val", "vnondb-val", "synth-val"], "val_limit": None,
    # Further validation sets as line manifests, name -> path (fine-tuning adds its held-out corrections here).
    "val_manifests": {},
    "curriculum": [{"start_step": 0, "weights": {"synth_font": 1.0}}],
    "threads": None,
    "max_seconds": None,  # wall-clock budget: stop (after a last evaluation) once it is spent
    # Keep the BatchNorm running statistics of the --init model instead of re-estimating them from this run's
    # batches (fine-tuning on a small, differently lit set moves them far; see training.finetune).
    "freeze_batchnorm": False,
    # Parameter-name prefixes that train (e.g. ["encoder.stem"]); None trains everything. The others keep the
    # --init model's values, which is how a fine-tune adapts to a new input style without moving the rest.
    "trainable": None,
    # Learning without forgetting, on the features: lines from these sources (a fine-tune's replay) add
    # feature_distillation * |h - h0|^2 / |h0|^2 to the loss, h and h0 the convolutional stem's output for this
    # model and for the --init model. Replayed lines are ones the model has long memorised, so their text loss is
    # near zero and constrains nothing; the stem's features are what the rest of the network was trained to read.
    # The stem's, not the encoder's output: the transformer's dropout would make h differ from h0 at step 0.
    "feature_distillation": 0.0,
    "distill_sources": [],
}


def load_config(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    return load_yaml_config(path, DEFAULTS, overrides)


def make_batch(lines, tokenizer: CharTokenizer, processor: LineImageProcessor) -> dict[str, torch.Tensor]:
    """Images → pixel values; texts → labels ``text </s>`` padded with -100 (ignored by the loss)."""
    batch = processor([image for image, _, _ in lines])
    ids = [tokenizer.encode(text)[1:] for _, text, _ in lines]  # drop <s>: the model shifts labels right itself
    labels = torch.full((len(ids), max(map(len, ids))), -100, dtype=torch.long)
    for i, seq in enumerate(ids):
        labels[i, : len(seq)] = torch.tensor(seq)
    return {"pixel_values": batch["pixel_values"], "labels": labels}


class CTCHead(torch.nn.Module):
    """Auxiliary CTC over encoder columns (blank = <pad>): an experiment switch, off unless ``ctc_weight`` > 0."""

    def __init__(self, hidden: int, vocab: int):
        super().__init__()
        self.proj = torch.nn.Linear(hidden, vocab)

    def loss(self, encoder_states: torch.Tensor, labels: torch.Tensor, eos_id: int) -> torch.Tensor:
        log_probs = self.proj(encoder_states).log_softmax(-1).transpose(0, 1)  # (T, B, V)
        targets = labels.clone()
        targets[(targets == -100) | (targets == eos_id)] = 0
        lengths = (targets != 0).sum(1)
        t = torch.full((labels.shape[0],), log_probs.shape[0], dtype=torch.long)
        return torch.nn.functional.ctc_loss(log_probs, targets, t, lengths, blank=0, zero_infinity=True)


def set_training_mode(model, freeze_batchnorm: bool = False) -> None:
    """``model.train()``, except that with ``freeze_batchnorm`` the BatchNorm layers stay in eval mode: they
    normalise with the statistics they came with and no batch updates them (their affine weights still train)."""
    model.train()
    if freeze_batchnorm:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def restrict_training(model, prefixes: list[str]) -> int:
    """Train only the parameters whose names start with one of ``prefixes``; returns how many values train."""
    prefixes = tuple(prefixes)
    count = 0
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(prefixes))
        count += parameter.numel() if parameter.requires_grad else 0
    if not count:
        raise ValueError(f"trainable prefixes {list(prefixes)} match no parameter (names look like "
                         f"{next(n for n, _ in model.named_parameters())!r})")
    log.info("training %d of %d parameter values (%s)", count, sum(p.numel() for p in model.parameters()),
             ", ".join(prefixes))
    return count


def evaluate(model, tokenizer, processor, val_sets: dict, batch_size: int,
             freeze_batchnorm: bool = False) -> dict:
    results = {}
    for name, (images, texts) in val_sets.items():
        recognitions, lines_per_s = timed_recognize(model, tokenizer, processor, images, batch_size=batch_size)
        metrics = recognition_metrics([r.text for r in recognitions], texts)
        results[name] = {**{k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()},
                         "lines_per_s": round(lines_per_s, 1)}
    set_training_mode(model, freeze_batchnorm)
    return results


def load_val_sets(config: dict) -> dict:
    from PIL import Image

    paths = build_validation_sets(only=tuple(config["val_sets"])) if config["val_sets"] else {}
    for name, path in (config["val_manifests"] or {}).items():
        if name in paths:
            raise ValueError(f"validation set {name!r} is named twice (val_sets and val_manifests)")
        paths[name] = Path(path)
    sets = {}
    for name, path in paths.items():
        records = read_manifest(path)[: config["val_limit"]]
        sets[name] = ([np.asarray(Image.open(r.image).convert("RGB")) for r in records], [r.text for r in records])
    return sets


def plot_curve(history: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [h for h in history if h["event"] == "train"]
    evals = [h for h in history if h["event"] == "eval"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        ax1.plot([h["step"] for h in train], [h["loss"] for h in train], lw=0.8)
    ax1.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")
    for name in sorted({k for h in evals for k in h["val"]}):
        ax2.plot([h["step"] for h in evals], [100 * h["val"][name]["cer"] for h in evals], marker="o", label=name)
    ax2.set(xlabel="step", ylabel="CER %", yscale="log", title="validation CER")
    ax2.grid(alpha=0.3, which="both")
    if evals:
        ax2.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def train(config: dict, resume: bool = False, init: str | None = None) -> Path:
    """Run the loop of ``config`` (:data:`DEFAULTS` keys); ``init`` starts from a checkpoint directory instead of a
    fresh model (fine-tuning). Returns the run directory."""
    run_dir = Path(config["runs_dir"]) / config["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:  # a process may train several times (the retraining worker): each run logs into its own file only
        return _train(config, resume, init, run_dir)
    finally:
        log.removeHandler(handler)
        handler.close()


def _train(config: dict, resume: bool, init: str | None, run_dir: Path) -> Path:
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    random.seed(config["seed"])
    np.random.seed(config["seed"])
    torch.manual_seed(config["seed"])

    # -- model -------------------------------------------------------------------------------------------
    if init:
        from models.recognition.adaptation import adapt_checkpoint

        model, tokenizer, processor = adapt_checkpoint(init, CharTokenizer())
        log.info("initialised from %s: %d of %d token rows kept from its vocabulary", init,
                 model.adapted_tokens, tokenizer.vocab_size)
        # The release of this run carries its parent's training history (steps, CPU-hours, curve) forward.
        parent_metrics = Path(init) / "metrics.json"
        (run_dir / "init.json").write_text(json.dumps(
            {"path": str(init), "metrics": json.loads(parent_metrics.read_text()) if parent_metrics.is_file() else None},
            indent=1))
    else:
        shape = RecognizerShape(**config["model"])
        tokenizer = CharTokenizer()
        processor = LineImageProcessor(height=shape.image_height)
        model = build_recognizer(shape, tokenizer)
    set_training_mode(model, config["freeze_batchnorm"])
    if config["trainable"]:
        restrict_training(model, config["trainable"])
    ctc = CTCHead(model.config.encoder.hidden_size, tokenizer.vocab_size) if config["ctc_weight"] > 0 else None
    params = [p for p in model.parameters() if p.requires_grad]
    params += list(ctc.parameters()) if ctc else []
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    if config["feature_distillation"] and not (init and config["distill_sources"]):
        raise ValueError("feature_distillation keeps the --init model's stem features on distill_sources' lines: "
                         "it needs --init and at least one distill source")
    # Copied before a resume loads its checkpoint: the teacher is always the --init model.
    teacher, student_features = None, {}
    if config["feature_distillation"]:
        teacher = copy.deepcopy(model.encoder.stem).eval().requires_grad_(False)
        model.encoder.stem.register_forward_hook(lambda module, args, output: student_features.update(stem=output))
    distill_sources = set(config["distill_sources"])
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config["lr"], betas=(0.9, 0.98))
    log.info("model: %.2fM parameters", count_parameters(model) / 1e6)

    # -- data --------------------------------------------------------------------------------------------
    stream = MixedLineStream(config["curriculum"], height=config["synth_height"], seed=config["seed"])
    val_sets = load_val_sets(config)

    # -- resume ------------------------------------------------------------------------------------------
    step, best, history, cpu_seconds = 0, float("inf"), [], 0.0
    checkpoint_path = run_dir / "checkpoint.pt"
    if resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ctc and state.get("ctc"):
            ctc.load_state_dict(state["ctc"])
        stream.set_state(state["stream"])
        step, best, cpu_seconds = state["step"], state["best"], state.get("cpu_seconds", 0.0)
        history = [json.loads(l) for l in (run_dir / "history.jsonl").read_text().splitlines() if l.strip()]
        history = [h for h in history if h["step"] <= step]
        log.info("resumed at step %d (best mean CER %.4f)", step, best)
    elif resume:
        log.info("no checkpoint at %s: starting fresh", checkpoint_path)

    def save_checkpoint():
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "ctc": ctc.state_dict() if ctc else None, "stream": stream.state(), "step": step,
                    "best": best, "cpu_seconds": cpu_seconds, "config": config}, tmp)
        tmp.replace(checkpoint_path)
        (run_dir / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))

    # -- loop --------------------------------------------------------------------------------------------
    bar = tqdm(total=config["max_steps"], initial=step, desc=config["name"], unit="step", dynamic_ncols=True)
    text_positions, empty_batches = model.decoder.config.max_position_embeddings, 0
    deadline = time.monotonic() + config["max_seconds"] if config["max_seconds"] else None
    pending: list = []
    window = {"loss": [], "lines": 0, "t": time.perf_counter()}
    last_cer = float("nan")
    while step < config["max_steps"]:
        if not pending:
            pending = stream.batches(step, config["batch_size"])
        # A text longer than the decoder's positions cannot be a target (a short model, a long correction): skipped.
        lines = [line for line in pending.pop() if len(tokenizer.encode(line[1])) - 1 <= text_positions]
        if not lines:
            empty_batches += 1
            if empty_batches >= 100:
                raise ValueError(f"100 batches in a row hold no text short enough for the model's {text_positions} "
                                 "text positions: its max_text_tokens is too small for this data")
            continue
        empty_batches = 0
        batch = make_batch(lines, tokenizer, processor)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)

        t0 = time.process_time()
        if ctc:
            encoder_out = model.encoder(pixel_values=batch["pixel_values"])
            out = model(encoder_outputs=encoder_out, labels=batch["labels"])
            loss = out.loss + config["ctc_weight"] * ctc.loss(encoder_out.last_hidden_state, batch["labels"],
                                                               tokenizer.eos_token_id)
        else:
            out = model(pixel_values=batch["pixel_values"], labels=batch["labels"])
            loss = out.loss
        if teacher is not None:
            keep = torch.tensor([source in distill_sources for _, _, source in lines])
            if keep.any():
                with torch.no_grad():
                    target = teacher(batch["pixel_values"][keep])
                drift = (student_features["stem"][keep] - target).pow(2).mean() / target.pow(2).mean()
                loss = loss + config["feature_distillation"] * drift
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config["grad_clip"])
        optimizer.step()
        cpu_seconds += time.process_time() - t0
        step += 1
        window["loss"].append(loss.item())
        window["lines"] += len(lines)

        if step % config["log_every"] == 0:
            elapsed = time.perf_counter() - window["t"]
            entry = {"event": "train", "step": step, "loss": float(np.mean(window["loss"])),
                     "lr": learning_rate(step, config), "lines_per_s": window["lines"] / elapsed}
            history.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.3f}", cer=f"{last_cer:.3f}", lps=f"{entry['lines_per_s']:.1f}")
            window = {"loss": [], "lines": 0, "t": time.perf_counter()}
        bar.update(1)

        out_of_time = deadline is not None and time.monotonic() >= deadline
        if out_of_time:
            log.info("time budget of %.0f s spent at step %d", config["max_seconds"], step)
        if step % config["eval_every"] == 0 or step == config["max_steps"] or out_of_time:
            val = evaluate(model, tokenizer, processor, val_sets, config["eval_batch_size"],
                           config["freeze_batchnorm"])
            mean_cer = float(np.mean([v["cer"] for v in val.values()]))
            last_cer = mean_cer
            history.append({"event": "eval", "step": step, "val": val, "mean_cer": mean_cer,
                            "cpu_hours": cpu_seconds / 3600})
            log.info("step %d eval %s", step, json.dumps(val))
            if mean_cer < best:
                best = mean_cer
                save_recognizer(run_dir / "best", model, tokenizer, processor)
                (run_dir / "best" / "metrics.json").write_text(json.dumps(
                    {"step": step, "val": val, "mean_cer": mean_cer, "cpu_hours": cpu_seconds / 3600}, indent=1))
            plot_curve(history, run_dir / "curve.png")
            save_checkpoint()
            window = {"loss": [], "lines": 0, "t": time.perf_counter()}
        elif step % config["checkpoint_every"] == 0:
            save_checkpoint()
        if out_of_time:
            break
    bar.close()
    save_checkpoint()
    plot_curve(history, run_dir / "curve.png")
    return run_dir
