"""Does correcting lines teach the model a handwriting style it has not seen, without hurting the rest?

    python benchmarks/correction_loop.py [--style photos|writers] [--model DIR] [--counts 50 100 200]
                                         [--steps 400] [--minutes 10] [--repeats 1] [--quick]

A style the model never trained on, as a pool of "corrected" lines and a fixed set of held-out lines of the same
style (split apart so that no held-out image, and for ``writers`` no held-out text, is ever a correction):

``photos`` (default)
    Cinnamon training lines re-photographed: dimmer and greyer, a colour cast, perspective, uneven light, defocus
    or shake, sensor noise, resampling and JPEG (:func:`photo_degradation`). The 15 real phone photos of
    ``cinnamon-address-lines/photos`` are reported beside them as ``real-photos`` (too few to fine-tune on).
``writers``
    Real VNOnDB lines of the writers held out of training (the validation writers), re-rendered; held-out lines
    have texts that no correction has. (VNOnDB val shares these writers, so it is not a fair fixed set here and
    is not reported.)

For each number of corrections (50, 100, 200 by default; the smaller sets are prefixes of the larger), the model
is fine-tuned with ``hotich train finetune``'s code (``training.finetune``: corrections mixed half and half with a
replay of the original training data) under a wall-clock budget (``--minutes``, 10 by default, on the machine's
cores), then measured on the style's held-out lines and on Cinnamon val, and put through the promotion gate
(Cinnamon val may worsen by at most 0.3 points, the held-out style lines must improve). ``--repeats`` runs more
seeds; the summary takes medians. The issue's target: with 200 corrections, CER on the style's held-out lines
falls by at least 30% (relative) while Cinnamon val worsens by at most 0.3 points.

Writes ``benchmarks/results/correction_loop.json`` and ``correction_loop.png`` (``--quick``: a smoke run with
tiny counts and steps, into ``.cache/benchmarks/`` unless ``--out`` says otherwise). Needs the shared data.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.manifest import LineRecord, read_manifest, write_manifest

log = logging.getLogger("hotich.bench.correction_loop")
STYLE_SET, PHOTOS_SET, CINNAMON_SET = "style-heldout", "real-photos", "cinnamon-val"
TARGET = {"corrections": 200, "min_relative_reduction": 0.30, "max_cinnamon_worsening_points": 0.3, "minutes": 10}


def photo_degradation():
    """What a phone adds to a line written on paper (applied to a scan), after the 15 real photos: dimmer, greyer
    and lower in contrast, a colour cast from the light, perspective, uneven light, focus or shake blur, sensor
    noise, resampling and JPEG; sometimes the ruled lines of a notebook."""
    import albumentations as A
    import cv2

    from data.degrade import RuledLines

    return A.Compose([
        RuledLines(p=0.3),
        A.Perspective(scale=(0.02, 0.05), fit_output=True, border_mode=cv2.BORDER_REPLICATE, p=0.8),
        A.RandomBrightnessContrast(brightness_limit=(-0.35, -0.05), contrast_limit=(-0.45, -0.1), p=0.9),
        A.PlanckianJitter(mode="blackbody", temperature_limit=(4000, 9000), p=0.5),
        A.Illumination(mode="linear", intensity_range=(0.05, 0.2), effect_type="both", p=0.5),
        A.Illumination(mode="gaussian", intensity_range=(0.05, 0.15), effect_type="darken", p=0.3),
        A.OneOf([A.Defocus(radius=(1, 3), alias_blur=(0.1, 0.3)), A.MotionBlur(blur_limit=(3, 7))], p=0.6),
        A.ISONoise(color_shift=(0.01, 0.04), intensity=(0.1, 0.4), p=0.5),
        A.Downscale(scale_range=(0.4, 0.8), p=0.5),
        A.ImageCompression(quality_range=(30, 80), p=0.8),
    ])


def _save(image: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=92) if path.suffix == ".jpg" else Image.fromarray(image).save(path)
    return path


def photo_style(work: Path, n_pool: int, n_heldout: int, seed: int = 1234) -> tuple[Path, Path]:
    """(pool manifest, held-out manifest) of re-photographed Cinnamon training lines, distinct images."""
    from PIL import Image

    from data.datasets import cinnamon_records
    from data.degrade import reseed

    records = cinnamon_records("train")
    order = np.random.default_rng(seed).permutation(len(records))[: n_pool + n_heldout]
    pipeline = photo_degradation()
    made = []
    for k, index in enumerate(order):
        record = records[int(index)]
        path = work / "photos" / f"{k:04d}.jpg"
        if not path.is_file():
            reseed(pipeline, seed * 100_003 + k)
            image = np.asarray(Image.open(record.image).convert("RGB"))
            _save(pipeline(image=image)["image"], path)
        made.append(LineRecord(path, record.text, {"source": "cinnamon-photo-style", "file": record.extra["file"]}))
    write_manifest(made[n_heldout:], work / "pool.jsonl")
    write_manifest(made[:n_heldout], work / "heldout.jsonl")
    return work / "pool.jsonl", work / "heldout.jsonl"


def writer_style(work: Path, n_pool: int, n_heldout: int, seed: int = 1234) -> tuple[Path, Path]:
    """(pool, held-out) of VNOnDB validation writers' lines; held-out texts (text ids) never among the pool's."""
    from data.ink import load_corpus, load_writer_split
    from data.synth import LineSynthesizer

    corpus = load_corpus(progress=False)
    lines = [line for line in corpus.lines(writers=load_writer_split()["val"]) if 0 < len(line.text) <= 120]
    rng = np.random.default_rng(seed)
    text_ids = sorted({str(line.text_id) for line in lines})
    rng.shuffle(text_ids)
    heldout_ids, count = set(), 0
    for text_id in text_ids:  # whole texts go to the held-out side until it has enough lines
        if count >= n_heldout:
            break
        heldout_ids.add(text_id)
        count += sum(str(line.text_id) == text_id for line in lines)
    heldout = [line for line in lines if str(line.text_id) in heldout_ids]
    pool = [line for line in lines if str(line.text_id) not in heldout_ids]
    heldout = [heldout[i] for i in rng.permutation(len(heldout))[:n_heldout]]
    pool = [pool[i] for i in rng.permutation(len(pool))[:n_pool]]
    if len(pool) < n_pool:
        raise ValueError(f"only {len(pool)} lines of unseen writers left for corrections, {n_pool} wanted")
    synth = LineSynthesizer(height=64, degradation=0.3, ink_corpus=corpus)
    out = {}
    for part, chosen in (("pool", pool), ("heldout", heldout)):
        records = []
        for k, line in enumerate(chosen):
            path = work / part / f"{k:04d}.png"
            if not path.is_file():
                _save(synth.render_real(line, seed * 7919 + k + (0 if part == "pool" else 500_000)).image, path)
            records.append(LineRecord(path, line.text, {"source": "vnondb-unseen-writer", "writer": str(line.writer),
                                                        "text_id": str(line.text_id)}))
        write_manifest(records, work / f"{part}.jsonl")
        out[part] = work / f"{part}.jsonl"
    return out["pool"], out["heldout"]


def photos_manifest(work: Path) -> Path:
    from data.datasets import cinnamon_records

    write_manifest(cinnamon_records("photos"), work / "real-photos.jsonl")
    return work / "real-photos.jsonl"


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["summary"]
    counts = [r["corrections"] for r in rows]
    fig, (cer, style, cinnamon) = plt.subplots(1, 3, figsize=(15, 4))
    before = result["before"]
    for name, colour in ((STYLE_SET, "C0"), (PHOTOS_SET, "C2"), (CINNAMON_SET, "C1")):
        if name in before:
            cer.axhline(100 * before[name], color=colour, ls="--", lw=1)
            cer.plot(counts, [100 * r["after"][name] for r in rows], marker="o", color=colour,
                     label=f"{name} (dashed: before)")
    cer.set(xlabel="corrected lines", ylabel="CER %", title=f"{result['style']} style: CER after fine-tuning")
    cer.legend(fontsize=8)
    reductions = [100 * r["relative_reduction"] for r in rows]
    style.axhline(100 * TARGET["min_relative_reduction"], color="C3", ls="--", lw=1, label="target (30%)")
    style.plot(counts, reductions, marker="o", color="C0", label=STYLE_SET)
    style.set(xlabel="corrected lines", ylabel="relative CER reduction %", title="style held-out: CER cut",
              ylim=(min(-5, *reductions) - 2, max(35, *reductions) + 2))
    style.legend(fontsize=8)
    deltas = [r["cinnamon_delta_points"] for r in rows]
    cinnamon.axhline(TARGET["max_cinnamon_worsening_points"], color="C3", ls="--", lw=1, label="gate limit (+0.3)")
    cinnamon.plot(counts, deltas, marker="o", color="C1", label=CINNAMON_SET)
    cinnamon.set(xlabel="corrected lines", ylabel="CER change, points", title="Cinnamon val: change",
                 ylim=(min(-1, *deltas) - 0.2, max(1, *deltas) + 0.2))
    cinnamon.legend(fontsize=8)
    for ax in (cer, style, cinnamon):
        ax.set_xticks(counts)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def style_sheet(pool: Path, heldout: Path, out: Path) -> Path:
    """A look at the style's lines: kept in the working folder, never in the repository (dataset images)."""
    from PIL import Image

    from data.contact_sheet import save_contact_sheet

    records = read_manifest(pool)[:4] + read_manifest(heldout)[:4]
    return save_contact_sheet([(Image.open(r.image), r.text) for r in records], out, columns=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["photos", "writers"], default="photos")
    parser.add_argument("--model", help="recognizer directory (default: the released model)")
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 100, 200], help="corrections per run")
    parser.add_argument("--heldout", type=int, default=100, help="held-out lines of the style")
    parser.add_argument("--steps", type=int, default=400, help="fine-tuning steps (the time budget may stop earlier)")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per fine-tuning run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--replay", type=float, default=0.5)
    parser.add_argument("--replay-sources", nargs="+", metavar="SOURCE=WEIGHT",
                        help="what the replay is drawn from (hotich train finetune --replay-sources)")
    parser.add_argument("--val-limit", type=int, help="first N lines of each evaluation set (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="seeds per count; the summary takes medians")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--train-only", nargs="+", dest="trainable", metavar="PREFIX",
                        help="train only these parameter-name prefixes (hotich train finetune --train-only)")
    parser.add_argument("--feature-distillation", type=float, default=0.0,
                        help="keep the starting model's stem features on replayed lines "
                             "(hotich train finetune --feature-distillation)")
    parser.add_argument("--freeze-batchnorm", action="store_true",
                        help="keep the serving model's BatchNorm statistics while fine-tuning")
    parser.add_argument("--work", help="working folder (default .cache/benchmarks/correction_loop)")
    parser.add_argument("--out", help="results JSON (default benchmarks/results/correction_loop.json)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny counts, steps and sets")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.quick:
        args.counts, args.heldout, args.steps, args.batch_size = [4, 8], 6, 2, 4
        args.minutes, args.val_limit, args.repeats = 1.0, args.val_limit or 6, 1

    import torch

    from data.settings import cache_dir
    from inference.evaluate import default_model_dir
    from models.registry import weights_sha256
    from training.finetune import finetune, parse_replay_sources
    from training.promotion import decide, load_sets, measure

    model = Path(args.model) if args.model else default_model_dir()
    work = Path(args.work) if args.work else cache_dir() / "benchmarks" / "correction_loop"
    work = work / (f"{args.style}-quick" if args.quick else args.style)
    out = Path(args.out) if args.out else (cache_dir() / "benchmarks" / "correction_loop-quick.json" if args.quick
                                           else ROOT / "benchmarks" / "results" / "correction_loop.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)

    build = photo_style if args.style == "photos" else writer_style
    pool_manifest, heldout_manifest = build(work / "data", max(args.counts), args.heldout)
    pool = read_manifest(pool_manifest)
    style_sheet(pool_manifest, heldout_manifest, work / "data" / "sheet.png")
    extra = {STYLE_SET: str(heldout_manifest)}
    if args.style == "photos":
        extra[PHOTOS_SET] = str(photos_manifest(work / "data"))
    fixed = [CINNAMON_SET]
    log.info("measuring the serving model %s", model)
    before = measure(model, load_sets(fixed, args.val_limit, extra))

    replay_sources = parse_replay_sources(args.replay_sources) if args.replay_sources else None
    runs = []
    for n in sorted(args.counts):
        corrections = work / "corrections" / f"n{n}.jsonl"
        write_manifest(pool[:n], corrections)
        for seed in range(args.repeats):
            started = time.monotonic()
            tuned = finetune(model, corrections, work / "runs" / f"n{n}-seed{seed}", overwrite=True,
                             steps=args.steps, replay=args.replay, heldout_share=0.0, lr=args.lr,
                             batch_size=args.batch_size, val_sets=fixed, val_manifests=extra,
                             freeze_batchnorm=args.freeze_batchnorm, trainable=args.trainable,
                             replay_sources=replay_sources,
                             feature_distillation=args.feature_distillation,
                             val_limit=args.val_limit, seed=seed, threads=args.threads,
                             # the loop stops a minute early: loading and the final evaluation fit the budget
                             max_seconds=max(10.0, args.minutes * 60 - 60))
            gate = decide(tuned.metrics, before, fixed, heldout_set=STYLE_SET)
            # finetune_seconds: the whole fine-tuning call (loading, data, steps, the final evaluation).
            runs.append({"corrections": n, "seed": seed, "steps": tuned.steps, "finetune_seconds": tuned.seconds,
                         "wall_seconds": round(time.monotonic() - started, 1),
                         "too_long": tuned.n_too_long, "trained_on": tuned.n_finetune,
                         "after": {name: m["cer"] for name, m in tuned.metrics.items()},
                         "gate": {"promote": gate.promote, "reasons": gate.reasons}})
            log.info("n=%d seed=%d: %s", n, seed, json.dumps(runs[-1]["after"]))

    summary = []
    for n in sorted(args.counts):
        mine = [r for r in runs if r["corrections"] == n]
        after = {name: statistics.median(r["after"][name] for r in mine) for name in mine[0]["after"]}
        style_before = before[STYLE_SET]["cer"]
        reduction = (style_before - after[STYLE_SET]) / style_before if style_before else 0.0
        delta = 100 * (after[CINNAMON_SET] - before[CINNAMON_SET]["cer"])
        seconds = statistics.median(r["finetune_seconds"] for r in mine)
        summary.append({"corrections": n, "after": after, "relative_reduction": round(reduction, 4),
                        "cinnamon_delta_points": round(delta, 3), "finetune_seconds": seconds,
                        "steps": statistics.median(r["steps"] for r in mine),
                        "gate_promotes": sum(r["gate"]["promote"] for r in mine), "runs": len(mine),
                        "meets_target": bool(reduction >= TARGET["min_relative_reduction"]
                                             and delta <= TARGET["max_cinnamon_worsening_points"]
                                             and seconds <= 60 * TARGET["minutes"])})
    result = {
        "benchmark": "correction_loop", "style": args.style, "quick": args.quick,
        "model": str(model), "model_version": (weights_sha256(model) or "")[:12],
        "settings": {k: getattr(args, k) for k in ("counts", "heldout", "steps", "minutes", "batch_size", "lr",
                                                    "replay", "replay_sources", "val_limit", "repeats",
                                                    "freeze_batchnorm", "trainable", "feature_distillation")},
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "sets": {name: before[name]["n"] for name in before},
        "before": {name: m["cer"] for name, m in before.items()},
        "summary": summary, "runs": runs, "target": TARGET,
    }
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    plot(result, out.with_suffix(".png"))
    print(json.dumps({"out": str(out), "before": result["before"],
                      "summary": [{k: r[k] for k in ("corrections", "relative_reduction", "cinnamon_delta_points",
                                                     "finetune_seconds", "meets_target")} for r in summary]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
