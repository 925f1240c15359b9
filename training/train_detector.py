"""Train the page layout detector. Read top to bottom: config → pages → model → loop → checkpoints.

    hotich train detector --config training/configs/detector.yaml [--resume] [--init DIR] [--max-steps N]

Pages are rendered once into ``pages_dir`` (resumable, see :func:`data.pages.dataset.write_pages`) and then
sampled with light augmentation. Validation uses pages of unseen seeds on the training layouts (``val``) and
pages of the layout variant held out from training, per book (``heldout``). Writes under ``runs/<name>/``:
``checkpoint.pt``, ``best/`` (by mean field F1), ``history.jsonl``, ``curve.png``, ``train.log``.
"""
from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from data.pages.dataset import page_specs, write_pages
from data.pages.templates import heldout_template, templates
from data.pages.truth import HEADING_CELL_LEVELS, PageTruth
from data.schema import BOOKS
from models.detection import INSTANCE_MAPS, LayoutDetector, LayoutDetectorConfig, decode_logits, match_f1, \
    paint_targets, prepare_page
from models.detection.layout import collate_pages
from training.config import learning_rate, load_yaml_config

log = logging.getLogger("hotich.train")

DEFAULTS = {
    "name": "detector", "seed": 0, "runs_dir": "runs", "pages_dir": ".cache/pages",
    "input_size": 768, "channels": [16, 32, 48, 64, 96], "shrink": 0.2,
    # A fourth map of the printed heading cells (column and group headings, the title): the page pipeline reads
    # them to name the fields under them (inference/headings.py).
    "heading_map": False,
    "render_long_side": 1600, "train_pages": 800, "val_pages_per_book": 6, "render_workers": 2,
    # Share of training pages on generated layouts (data/pages/generated.py); > 0 adds a "val_generated" set of
    # generated layouts of unseen seeds, which then counts in choosing the best checkpoint.
    "generated_layouts": 0.0,
    "batch_size": 4, "max_steps": 2000, "lr": 2e-3, "weight_decay": 1e-4, "warmup_steps": 100,
    "min_lr_ratio": 0.05, "grad_clip": 5.0,
    "log_every": 10, "eval_every": 250, "checkpoint_every": 100, "threads": None,
}


def load_config(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    return load_yaml_config(path, DEFAULTS, overrides)


def all_field_keys() -> list[str]:
    """Every field key any template (held-out ones included) has a place for: the detector's classes."""
    return sorted({k for t in templates() for k in t.field_keys})


# -- pages ---------------------------------------------------------------------------------------------------
def render_sets(config: dict) -> dict[str, list[Path]]:
    """Render (once) the training pages and the two validation sets; returns ``{set: [gt json paths]}``."""
    root = Path(config["pages_dir"]) / f"long{config['render_long_side']}"
    sets = {"train": page_specs("all", config["train_pages"], split="train", generated=config["generated_layouts"])}
    n = config["val_pages_per_book"]
    # Seeds far from the training ones, on the training layouts: unseen pages, seen layouts.
    sets["val"] = [s for b in BOOKS for s in page_specs(b, n, seed=500_000_000, split="train")]
    if config["generated_layouts"]:
        # Generated layouts of unseen seeds: layouts never trained on, without looking at the held-out ones.
        sets["val_generated"] = [s for b in BOOKS for s in page_specs(b, n, seed=600_000_000, split="train",
                                                                        generated=1.0)]
    sets["heldout"] = [s for b in BOOKS for s in page_specs(b, n, split="heldout", variant=heldout_template(b).id)]
    out = {}
    for name, specs in sets.items():
        folder = root / name
        write_pages(specs, folder, workers=config["render_workers"], long_side=config["render_long_side"])
        out[name] = [folder / "gt" / f"{s.page_id}.json" for s in specs]
    return out


def load_page(gt_path: Path) -> tuple[Image.Image, PageTruth]:
    truth = PageTruth.from_dict(json.loads(gt_path.read_text(encoding="utf-8")))
    images = list((gt_path.parent.parent / "images").glob(f"{gt_path.stem}.*"))
    return Image.open(images[0]).convert("RGB"), truth


def truth_boxes(truth: PageTruth) -> dict[str, list]:
    """``{"entry": [box], "field": [(box, key)], "line": [box], "heading": [box]}`` of the filled page."""
    fields = [(b.bbox, f.key) for f in truth.fields() for b in f.boxes]
    return {"entry": [e.region.bbox for e in truth.entries if not e.blank], "field": fields,
            "line": [ln.region.bbox for ln in truth.lines()],
            "heading": [h.region.bbox for h in truth.headings if h.level in HEADING_CELL_LEVELS]}


def make_example(image: Image.Image, truth: PageTruth, config: dict, key_index: dict[str, int],
                 rng: random.Random | None = None):
    """One page → (prepared input, instance targets, key targets). With ``rng``, a random rescale of the page
    (0.85–1.0 of the input size) so the detector does not learn one text height."""
    size = config["input_size"]
    if rng is not None:
        size = int(size * rng.uniform(0.85, 1.0)) // 32 * 32
    page = prepare_page(image, size)
    h, w = page.pixel_values.shape[1:]
    boxes = truth_boxes(truth)
    inst, keys = paint_targets((h // 2, w // 2), page.scale, config["shrink"], boxes["entry"],
                               [(b, key_index[k]) for b, k in boxes["field"]], boxes["line"],
                               boxes["heading"] if config.get("heading_map") else None)
    return page, inst, keys


def batch_of(examples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pixels = collate_pages([e[0] for e in examples])
    h, w = pixels.shape[2] // 2, pixels.shape[3] // 2
    inst = torch.zeros((len(examples), examples[0][1].shape[0], h, w))
    keys = torch.full((len(examples), h, w), -100, dtype=torch.long)
    for i, (_, ins, key) in enumerate(examples):
        inst[i, :, : ins.shape[1], : ins.shape[2]] = torch.from_numpy(ins)
        keys[i, : key.shape[0], : key.shape[1]] = torch.from_numpy(key)
    return pixels, inst, keys


# -- evaluation ----------------------------------------------------------------------------------------------
@torch.no_grad()
def detect(model: LayoutDetector, image: Image.Image) -> dict:
    page = prepare_page(image, model.config.input_size)
    out = model(torch.from_numpy(page.pixel_values)[None])
    return decode_logits(out.instance_logits[0].numpy(), out.key_logits[0].numpy(), page.scale, model.config.shrink,
                         list(model.config.field_keys))


def evaluate(model: LayoutDetector, pages: list[Path]) -> dict:
    """Field F1 at IoU 0.5 (key must match) per book, plus entry, line and any-key field F1 over all pages."""
    model.eval()
    per_book: dict[str, dict] = {}
    kinds = ("entry", "line", "field_any_key") + (("heading",) if "heading" in model.config.instance_maps else ())
    totals = {kind: {"tp": 0, "fp": 0, "fn": 0} for kind in kinds}
    for gt in pages:
        image, truth = load_page(gt)
        regions = detect(model, image)
        boxes = truth_boxes(truth)
        counts = per_book.setdefault(truth.book, {"tp": 0, "fp": 0, "fn": 0})
        m = match_f1([(r.bbox, r.key) for r in regions["field"]], boxes["field"])
        for k in counts:
            counts[k] += m[k]
        for kind in totals:
            source = "field" if kind == "field_any_key" else kind
            truth_boxes_ = [b[0] if source == "field" else b for b in boxes[source]]
            m = match_f1([(r.bbox, None) for r in regions[source]], [(b, None) for b in truth_boxes_])
            for k in totals[kind]:
                totals[kind][k] += m[k]
    model.train()

    def f1(c):
        return round(2 * c["tp"] / max(1, 2 * c["tp"] + c["fp"] + c["fn"]), 4)

    return {"field_f1": {b: f1(c) for b, c in sorted(per_book.items())},
            "entry_f1": f1(totals["entry"]), "line_f1": f1(totals["line"]),
            **({"heading_f1": f1(totals["heading"])} if "heading" in totals else {}),
            # Boxes right whatever their key: separates finding fields from naming them.
            "field_any_key_f1": f1(totals["field_any_key"])}


def selection_sets(config: dict) -> tuple[str, ...]:
    """The validation sets whose mean field F1 (averaged) chooses the best checkpoint; never ``heldout``."""
    return ("val", "val_generated") if config["generated_layouts"] else ("val",)


def eval_sets(config: dict) -> tuple[str, ...]:
    return (*selection_sets(config), "heldout")


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
    for split in ("val", "val_generated", "heldout"):
        if evals and split in evals[-1]:
            ax2.plot([h["step"] for h in evals], [h[split]["mean_field_f1"] for h in evals], marker="o",
                     label=f"{split} field F1")
    ax2.set(xlabel="step", ylabel="F1 @ IoU 0.5", ylim=(0, 1), title="validation")
    ax2.grid(alpha=0.3)
    if evals:
        ax2.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# -- training ------------------------------------------------------------------------------------------------
def init_from(model: LayoutDetector, init: Path) -> LayoutDetector:
    """``model`` with the weights of the detector in ``init``; refuses one whose classes or shape differ,
    since silently re-mapping field keys would train the wrong heads. A parent without this run's ``heading``
    map gives its other maps; the new map's output channel starts from scratch."""
    parent = LayoutDetector.from_pretrained(init)
    for attr in ("field_keys", "channels", "num_channels"):
        mine, theirs = getattr(model.config, attr), getattr(parent.config, attr)
        if isinstance(mine, (list, tuple)):  # a config read from JSON holds lists where code built tuples
            mine, theirs = list(mine), list(theirs)
        if mine != theirs:
            raise ValueError(f"--init {init}: its {attr} differ from this run's ({theirs!r} vs {mine!r})")
    state = parent.state_dict()
    mine = list(model.config.instance_maps)
    theirs = list(parent.config.instance_maps)
    if mine != theirs:
        if mine[: len(theirs)] != theirs:
            raise ValueError(f"--init {init}: its instance maps {theirs} are not a prefix of this run's {mine}")
        for name in ("instance_head.weight", "instance_head.bias"):
            grown = model.state_dict()[name].clone()
            grown[: len(theirs)] = state[name]
            state[name] = grown
    model.load_state_dict(state)
    return model


def train(config: dict, resume: bool = False, init: str | None = None) -> Path:
    """Run the loop of ``config`` (:data:`DEFAULTS` keys). ``init`` starts from a released detector directory
    instead of random weights (its field keys must be this code's); ``resume`` wins over ``init``."""
    run_dir = Path(config["runs_dir"]) / config["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    rng = random.Random(config["seed"])
    torch.manual_seed(config["seed"])

    sets = render_sets(config)
    keys = all_field_keys()
    key_index = {k: i + 1 for i, k in enumerate(keys)}
    model = LayoutDetector(LayoutDetectorConfig(input_size=config["input_size"], channels=config["channels"],
                                                field_keys=keys, shrink=config["shrink"],
                                                instance_maps=INSTANCE_MAPS[: 4 if config["heading_map"] else 3]))
    if init and not (resume and (run_dir / "checkpoint.pt").exists()):
        model = init_from(model, Path(init))
        parent = Path(init) / "metrics.json"
        (run_dir / "init.json").write_text(json.dumps(
            {"path": str(init), "metrics": json.loads(parent.read_text()) if parent.is_file() else None}))
        log.info("initialised from %s", init)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    step, best, history, cpu_seconds = 0, -1.0, [], 0.0
    checkpoint_path = run_dir / "checkpoint.pt"
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best, cpu_seconds = state["step"], state["best"], state["cpu_seconds"]
        rng.setstate(state["rng"])
        history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]
        history = [h for h in history if h["step"] <= step]
        log.info("resumed at step %d", step)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("detector: %d parameters, %d field classes, %d training pages", n_params, len(keys), len(sets["train"]))

    def save_checkpoint():
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "best": best,
                    "cpu_seconds": cpu_seconds, "rng": rng.getstate(), "config": config}, tmp)
        tmp.replace(checkpoint_path)
        (run_dir / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))

    model.train()
    bar = tqdm(total=config["max_steps"], initial=step, desc=config["name"], unit="step", dynamic_ncols=True)
    window = {"loss": [], "pages": 0, "t": time.perf_counter()}
    last_f1 = float("nan")
    while step < config["max_steps"]:
        chosen = rng.sample(sets["train"], config["batch_size"])
        pixels, inst, key_targets = batch_of([make_example(*load_page(p), config, key_index, rng) for p in chosen])
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        t0 = time.process_time()
        loss = model(pixels, inst, key_targets).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
        optimizer.step()
        cpu_seconds += time.process_time() - t0
        step += 1
        window["loss"].append(loss.item())
        window["pages"] += len(chosen)
        if step % config["log_every"] == 0:
            elapsed = time.perf_counter() - window["t"]
            entry = {"event": "train", "step": step, "loss": float(np.mean(window["loss"])),
                     "lr": learning_rate(step, config), "pages_per_s": window["pages"] / elapsed}
            history.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.3f}", f1=f"{last_f1:.3f}", pps=f"{entry['pages_per_s']:.2f}")
            window = {"loss": [], "pages": 0, "t": time.perf_counter()}
        bar.update(1)

        if step % config["eval_every"] == 0 or step == config["max_steps"]:
            result = {"event": "eval", "step": step, "cpu_hours": cpu_seconds / 3600}
            for split in eval_sets(config):
                metrics = evaluate(model, sets[split])
                metrics["mean_field_f1"] = float(np.mean(list(metrics["field_f1"].values())))
                result[split] = metrics
            result["selection_f1"] = float(np.mean([result[s]["mean_field_f1"] for s in selection_sets(config)]))
            history.append(result)
            last_f1 = result["selection_f1"]
            log.info("eval step %d: %s", step, json.dumps({k: result[k] for k in eval_sets(config)}))
            if last_f1 > best:
                best = last_f1
                model.save_pretrained(run_dir / "best")
                (run_dir / "best" / "metrics.json").write_text(json.dumps(result, indent=2))
            plot_curve(history, run_dir / "curve.png")
        if step % config["checkpoint_every"] == 0 or step == config["max_steps"]:
            save_checkpoint()
    bar.close()
    save_checkpoint()
    return run_dir
