"""Fine-tune a recognizer on annotators' corrections, mixed with a replay of its original training data.

    hotich train finetune --from MODEL --data DIR [--steps N] [--replay 0.5] [--out DIR]

``DIR`` is what ``hotich annotate pull`` wrote (``manifest.jsonl``, or ``fields/manifest.jsonl`` for page projects),
or a line manifest itself. The corrections are split for good into a fine-tune part and a held-out part (20% by
default) by the SHA-256 of each line's image: a line stays on its side however many corrections arrive later, and
the same image pulled twice never lands on both. The held-out lines are what the promotion gate checks the
candidate improves on (:mod:`training.promotion`).

The training loop is :func:`training.train_recognizer.train` itself, configured here: one curriculum phase drawing
corrections with weight ``1 - replay`` and the original sources with weight ``replay`` (:data:`REPLAY_WEIGHTS`,
restricted to the sources this machine has), a lower learning rate, and a single evaluation at the end on the
fixed validation sets plus the held-out corrections, so the candidate is the last step and never one picked by
its held-out score. By default only the convolutional stem trains, its BatchNorm statistics kept, and the replayed
lines keep the starting model's stem features (:data:`FINETUNE_DEFAULTS`): the recipe that
``benchmarks/correction_loop.py`` measured best.

Writes under ``--out``: the run (``best/`` is the candidate, ``history.jsonl``, ``curve.png``, ``train.log``), the
two manifests of the split, and ``finetune.json`` (counts, data hash, metrics; no text).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from data.manifest import LineRecord, read_manifest, write_manifest

log = logging.getLogger("hotich.finetune")

HELDOUT_SET = "corrections-heldout"
FIXED_VAL_SETS = ["cinnamon-val", "vnondb-val", "synth-val"]

# The recipe measured by benchmarks/correction_loop.py (README, "Correction loop"): only the convolutional stem
# trains, with the starting model's BatchNorm statistics, and the replayed lines keep their stem features.
FINETUNE_DEFAULTS = {
    "steps": 400, "replay": 0.5, "heldout_share": 0.2, "batch_size": 16, "lr": 2e-4, "warmup_steps": 20,
    "min_lr_ratio": 0.1, "val_sets": FIXED_VAL_SETS, "val_limit": 200, "eval_batch_size": 32,
    "val_manifests": {},  # more fixed validation sets, name -> line manifest (e.g. a ledger validation set)
    "replay_sources": None,  # {source: weight}; None = REPLAY_WEIGHTS over the sources available here
    "synth_height": 64, "seed": 0, "threads": None, "max_seconds": None,
    # Corrections are few and unlike the training data (phone photos: the first BatchNorm's running variance
    # moved by 189% when they re-estimated it).
    "freeze_batchnorm": True,
    # Parameter-name prefixes to train; [] = all (an option given as None keeps this default). A new hand or a
    # new camera is first of all a new image: the stem is where the image is read, while the transformer and the
    # decoder keep what they know.
    "trainable": ["encoder.stem"],
    # Replayed lines keep the starting model's stem features (train_recognizer.DEFAULTS); 0 = off.
    "feature_distillation": 1.0,
}
#: What the replay share is drawn from: real scans first, as the fixed validation sets guard real-data skill.
REPLAY_WEIGHTS = {"cinnamon": 0.6, "synth_ink": 0.2, "vnondb": 0.1, "synth_font": 0.1}


def corrections_manifest(data: str | os.PathLike) -> Path:
    """The manifest in a ``hotich annotate pull`` folder (lines, else page field crops), or ``data`` itself."""
    data = Path(data)
    if data.is_file():
        return data
    for candidate in (data / "manifest.jsonl", data / "fields" / "manifest.jsonl"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{data}: no corrections there (expected manifest.jsonl or fields/manifest.jsonl, "
                            "as `hotich annotate pull` writes)")


def heldout_fraction(image: str | os.PathLike) -> float:
    """Where a line falls in [0, 1) by the SHA-256 of its image bytes: the stable key of the split."""
    return int(hashlib.sha256(Path(image).read_bytes()).hexdigest()[:12], 16) / 16**12


def split_corrections(records: list[LineRecord], heldout_share: float) -> tuple[list[LineRecord], list[LineRecord]]:
    """``(fine-tune, held-out)``: a line is held out when :func:`heldout_fraction` of its image is below
    ``heldout_share``; order within each part follows the manifest."""
    if not 0.0 <= heldout_share < 1.0:
        raise ValueError(f"heldout_share must be in [0, 1), got {heldout_share}")
    keep, heldout = [], []
    for record in records:
        (heldout if heldout_fraction(record.image) < heldout_share else keep).append(record)
    return keep, heldout


def text_limit(model_dir: Path) -> int:
    """The most label tokens (characters + ``</s>``) the recognizer's decoder has positions for."""
    config = json.loads((model_dir / "config.json").read_text())
    return int(config["decoder"]["max_position_embeddings"])


def fits(records: list[LineRecord], model_dir: Path) -> tuple[list[LineRecord], int]:
    """``(records the model can be trained on, how many were too long)``: a text with more characters than the
    decoder has positions cannot be a training target (evaluation just truncates, so held-out lines stay)."""
    from models.recognition import CharTokenizer

    tokenizer, limit = CharTokenizer.from_pretrained(model_dir), text_limit(model_dir)
    kept = [r for r in records if len(tokenizer.encode(r.text)) - 1 <= limit]
    return kept, len(records) - len(kept)


def default_replay_sources() -> dict[str, float]:
    """:data:`REPLAY_WEIGHTS` over the sources available here (the synthetic font lines always are)."""
    from data.datasets import ink_available
    from data.settings import shared_dir

    weights = dict(REPLAY_WEIGHTS)
    available = {"synth_font": True, "synth_ink": ink_available(), "vnondb": ink_available(),
                 "cinnamon": (shared_dir() / "datasets" / "cinnamon-address-lines" / "train").is_dir()}
    missing = sorted(n for n in weights if not available.get(n, False))
    if missing:
        log.warning("replay without %s: not available on this machine (shared data missing)", ", ".join(missing))
    kept = {n: w for n, w in weights.items() if available.get(n, False) and w > 0} or {"synth_font": 1.0}
    return {n: w / sum(kept.values()) for n, w in kept.items()}


def parse_replay_sources(items: list[str]) -> dict[str, float]:
    """``["cinnamon=0.6", "synth_ink=0.2", ...]`` (the ``--replay-sources`` option) -> ``{source: weight}``,
    normalised to sum to 1."""
    from training.data import MixedLineStream

    names = MixedLineStream.NAMED_SOURCES
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            raise ValueError(f"--replay-sources wants SOURCE=WEIGHT with SOURCE one of {', '.join(names)}, "
                             f"got {item!r}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"--replay-sources: {item!r} has no number after '='") from None
        if weights[name] < 0:
            raise ValueError(f"--replay-sources: weight of {name} must be >= 0, got {value}")
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("--replay-sources needs at least one source with a positive weight")
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


def curriculum(corrections: Path, replay: float, replay_sources: dict[str, float]) -> list[dict]:
    """One phase: the corrections with weight ``1 - replay``, the replay sources sharing ``replay``."""
    if not 0.0 <= replay < 1.0:
        raise ValueError(f"replay must be in [0, 1) (the share of original data per batch), got {replay}")
    total = sum(w for w in replay_sources.values() if w > 0)
    if replay > 0 and total <= 0:
        raise ValueError("replay > 0 needs at least one replay source with a positive weight")
    weights = {f"manifest:{corrections}": 1.0 - replay}
    if replay > 0:
        weights.update({name: replay * w / total for name, w in replay_sources.items() if w > 0})
    return [{"start_step": 0, "weights": weights}]


@dataclass
class FinetuneResult:
    """What a fine-tuning run produced. ``metrics``: validation set → metrics of the candidate, from the run's
    final evaluation (the held-out corrections under ``corrections-heldout``)."""

    run_dir: str
    model_dir: str
    parent: str
    corrections: str
    data_hash: str
    n_corrections: int
    n_finetune: int
    n_heldout: int
    n_too_long: int
    manifests: dict
    steps: int
    metrics: dict
    seconds: float
    config: dict

    def to_json(self) -> dict:
        return asdict(self)


def finetune(model: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
             overwrite: bool = False, **options) -> FinetuneResult:
    """Fine-tune the recognizer in ``model`` on the corrections in ``data``; the candidate lands in ``out/best``.

    Args:
        model: a recognizer directory (``model.safetensors``); an ONNX export cannot be trained.
        data: a pull folder or a line manifest.
        out: the run folder; refused when it already holds a fine-tuning run, unless ``overwrite``.
        options: any key of :data:`FINETUNE_DEFAULTS` (``steps``, ``replay``, ``heldout_share``, ``val_sets``,
            ``val_manifests``, ``val_limit``, ``lr``, ``batch_size``, ``replay_sources``, ``max_seconds``, ...).

    Raises:
        FileNotFoundError: no recognizer at ``model`` or no corrections at ``data``.
        ValueError: bad options, or no correction left to fine-tune on after the split.
    """
    from models.registry import corrections_hash
    from training.train_recognizer import DEFAULTS, train

    unknown = set(options) - set(FINETUNE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown fine-tuning options {sorted(unknown)}")
    settings = {**FINETUNE_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    settings["val_manifests"] = {name: str(path) for name, path in (settings["val_manifests"] or {}).items()}
    if int(settings["steps"]) < 1:
        raise ValueError(f"steps must be >= 1, got {settings['steps']}")
    model, out = Path(model), Path(out)
    if not (model / "model.safetensors").is_file() or not (model / "config.json").is_file():
        raise FileNotFoundError(f"{model}: not a recognizer directory (config.json + model.safetensors); "
                                "fine-tuning needs the PyTorch weights, not an ONNX export")
    if (out / "finetune.json").exists() and not overwrite:
        raise ValueError(f"{out} already holds a fine-tuning run; choose another --out or pass --overwrite")
    manifest = corrections_manifest(data)
    records = read_manifest(manifest, check_images=True)
    if not records:
        raise ValueError(f"{manifest}: no corrections in it")
    keep, heldout = split_corrections(records, float(settings["heldout_share"]))
    keep, too_long = fits(keep, model)
    if too_long:
        log.warning("%d corrections are longer than the model's %d-token limit: not trained on", too_long,
                    text_limit(model))
    if not keep:
        raise ValueError(f"{manifest}: no correction left to fine-tune on ({len(records)} in all, {len(heldout)} "
                         f"held out, {too_long} too long for the model); more corrections are needed")
    out.mkdir(parents=True, exist_ok=True)
    manifests = {"finetune": str(out / "finetune.manifest.jsonl")}
    write_manifest(keep, manifests["finetune"])
    val_manifests = {name: str(Path(path).resolve()) for name, path in (settings["val_manifests"] or {}).items()}
    if HELDOUT_SET in val_manifests:
        raise ValueError(f"{HELDOUT_SET!r} is the held-out corrections' name; give your validation set another")
    if heldout:
        manifests["heldout"] = str(out / "heldout.manifest.jsonl")
        write_manifest(heldout, manifests["heldout"])
        val_manifests[HELDOUT_SET] = manifests["heldout"]
    replay_sources = settings["replay_sources"] or default_replay_sources()
    steps = int(settings["steps"])
    config = {**DEFAULTS, "name": out.name, "runs_dir": str(out.parent), "seed": settings["seed"],
              "synth_height": settings["synth_height"], "batch_size": settings["batch_size"], "max_steps": steps,
              "lr": settings["lr"], "warmup_steps": min(settings["warmup_steps"], max(1, steps // 5)),
              "min_lr_ratio": settings["min_lr_ratio"], "log_every": max(1, min(25, steps // 4)),
              # One evaluation, at the end (or when the time budget runs out); checkpoints only at the end.
              "eval_every": steps, "checkpoint_every": steps, "eval_batch_size": settings["eval_batch_size"],
              "val_sets": list(settings["val_sets"]), "val_limit": settings["val_limit"],
              "val_manifests": val_manifests, "threads": settings["threads"], "max_seconds": settings["max_seconds"],
              "freeze_batchnorm": bool(settings["freeze_batchnorm"]),
              "trainable": list(settings["trainable"] or []) or None,
              "feature_distillation": float(settings["feature_distillation"]),
              "distill_sources": sorted(replay_sources) if settings["feature_distillation"] else [],
              "curriculum": curriculum(Path(manifests["finetune"]).resolve(), float(settings["replay"]),
                                       replay_sources)}
    log.info("fine-tuning %s on %d corrections (%d held out), %d steps, replay %.2f", model, len(keep), len(heldout),
             steps, settings["replay"])
    started = time.monotonic()
    run_dir = train(config, resume=False, init=str(model))
    seconds = time.monotonic() - started
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.is_file():
        checkpoint.unlink()  # optimizer state for a resume nobody will do: the candidate is best/
    final = json.loads((run_dir / "best" / "metrics.json").read_text())
    result = FinetuneResult(
        run_dir=str(run_dir), model_dir=str(run_dir / "best"), parent=str(model.resolve()), corrections=str(manifest),
        data_hash=corrections_hash(records), n_corrections=len(records), n_finetune=len(keep),
        n_heldout=len(heldout), n_too_long=too_long, manifests=manifests, steps=final["step"], metrics=final["val"],
        seconds=round(seconds, 1), config={k: v for k, v in settings.items()} | {"replay_sources": replay_sources})
    (out / "finetune.json").write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=1) + "\n")
    return result
