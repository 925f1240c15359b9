"""``hotich train finetune`` and ``hotich annotate worker``: the command-line front of retraining on corrections.

Each prints JSON (one object; the worker's loop mode one line per job). Modules are imported in the handlers so
that ``hotich --help`` stays quick.
"""
from __future__ import annotations

import argparse
import json


def _finetune_options(p) -> None:
    p.add_argument("--steps", type=int, help="optimizer steps (default 400)")
    p.add_argument("--replay", type=float, help="share of each batch drawn from the original training data "
                                                "(default 0.5)")
    p.add_argument("--replay-sources", nargs="+", metavar="SOURCE=WEIGHT",
                   help="what the replay share is drawn from, e.g. cinnamon=0.6 synth_ink=0.2 vnondb=0.2 "
                        "(default: cinnamon=0.6 synth_ink=0.2 vnondb=0.1 synth_font=0.1, those this machine has)")
    p.add_argument("--feature-distillation", type=float,
                   help="weight of a loss keeping the starting model's stem features on the replayed lines "
                        "(learning without forgetting; default 1, 0 = off)")
    p.add_argument("--heldout", type=float, dest="heldout_share",
                   help="share of the corrections held out for the promotion gate, by image hash (default 0.2)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 2e-4)")
    p.add_argument("--batch-size", type=int, help="lines per step (default 16)")
    p.add_argument("--val-sets", nargs="*", help="fixed validation sets (default cinnamon-val vnondb-val synth-val)")
    p.add_argument("--val-manifest", action="append", metavar="NAME=MANIFEST", default=[],
                   help="another fixed validation set, as a line manifest (repeatable)")
    p.add_argument("--val-limit", type=int, help="first N lines of each validation set (default 200)")
    p.add_argument("--max-minutes", type=float, help="stop (after a final evaluation) once this much time is spent")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int)
    p.add_argument("--freeze-batchnorm", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the starting model's BatchNorm statistics, so the corrections never re-estimate them "
                        "(default: on)")
    p.add_argument("--train-only", nargs="+", metavar="PREFIX", dest="trainable",
                   help="train only parameters whose names start with these prefixes (default: encoder.stem); "
                        "'all' trains the whole model")


def _val_manifests(items: list[str]) -> dict[str, str] | None:
    manifests = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--val-manifest wants NAME=MANIFEST, got {item!r}")
        manifests[name] = path
    return manifests or None


def _finetune_settings(args) -> dict:
    from training.finetune import parse_replay_sources

    values = {"steps": args.steps, "replay": args.replay, "heldout_share": args.heldout_share, "lr": args.lr,
              "batch_size": args.batch_size, "val_sets": args.val_sets, "val_limit": args.val_limit,
              "val_manifests": _val_manifests(args.val_manifest), "threads": args.threads, "seed": args.seed,
              "max_seconds": args.max_minutes * 60 if args.max_minutes else None,
              "freeze_batchnorm": args.freeze_batchnorm,
              "trainable": [] if args.trainable == ["all"] else args.trainable,
              "feature_distillation": args.feature_distillation,
              "replay_sources": parse_replay_sources(args.replay_sources) if args.replay_sources else None}
    return {k: v for k, v in values.items() if v is not None}


def add_finetune_parser(tsub) -> None:
    ft = tsub.add_parser("finetune", help="fine-tune a recognizer on pulled corrections mixed with a replay of its "
                                          "training data")
    ft.add_argument("--from", dest="model", required=True, help="recognizer directory to start from")
    ft.add_argument("--data", required=True, help="a `hotich annotate pull` folder, or a line manifest")
    ft.add_argument("--out", help="run folder (default runs/finetune/<model>-<time>); the candidate is OUT/best")
    ft.add_argument("--overwrite", action="store_true", help="reuse an --out that already holds a run")
    _finetune_options(ft)
    ft.add_argument("--gate", action="store_true",
                    help="also run the promotion gate against --serving (default: the --from model)")
    ft.add_argument("--serving", help="the serving recognizer the gate compares with (default --from)")
    ft.add_argument("--register", action="store_true",
                    help="record the candidate (and the gate's decision) in the model registry")
    ft.add_argument("--registry", help="registry folder (default $HOTICH_REGISTRY or runs/registry)")


def finetune_command(args) -> int:
    import time
    from pathlib import Path

    from training.finetune import finetune

    out = args.out or f"runs/finetune/{Path(args.model).resolve().name}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = finetune(args.model, args.data, out, overwrite=args.overwrite, **_finetune_settings(args))
    summary = {"candidate": result.model_dir, "data_hash": result.data_hash, "corrections": result.n_corrections,
               "finetune_lines": result.n_finetune, "heldout_lines": result.n_heldout, "too_long": result.n_too_long,
               "steps": result.steps, "seconds": result.seconds,
               "metrics": {k: v["cer"] for k, v in result.metrics.items()}}
    decision = None
    if args.gate or args.register:
        from training.promotion import run_gate

        decision = run_gate(result.model_dir, args.serving or args.model, result.manifests.get("heldout"),
                            val_sets=result.config["val_sets"], val_manifests=result.config["val_manifests"],
                            val_limit=result.config["val_limit"],
                            candidate_metrics=result.metrics, batch_size=result.config["eval_batch_size"])
        summary["gate"] = {"promote": decision.promote, "reasons": decision.reasons}
    if args.register:
        from models.registry import REJECTED, Registry

        registry = Registry(args.registry)
        parent = registry.ensure_baseline(args.serving or args.model)
        version = registry.register(result.model_dir, parent=parent.version, data_hash=result.data_hash,
                                    metrics=result.metrics, decision=decision.to_json(),
                                    status="candidate" if decision.promote else REJECTED,
                                    source={"corrections": result.n_corrections, "steps": result.steps},
                                    reason="passed the promotion gate; promote with `hotich models promote`"
                                    if decision.promote else "; ".join(r.removeprefix("FAIL ") for r in
                                                                        decision.reasons if r.startswith("FAIL ")))
        summary["registered"] = {"version": version.tag, "status": version.status}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def add_worker_parser(asub) -> None:
    worker = asub.add_parser("worker", help="run queued retraining jobs: pull, fine-tune, gate, register, reload")
    mode = worker.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run at most one job, print its summary and exit")
    mode.add_argument("--poll", type=float, default=30.0, help="loop mode: seconds between queue checks when idle")
    worker.add_argument("--jobs-dir", help="the ML backend's queue (default $HOTICH_JOBS_DIR or runs/jobs)")
    worker.add_argument("--registry", help="model registry folder (default $HOTICH_REGISTRY or runs/registry)")
    worker.add_argument("--work-dir", help="pulled corrections and fine-tuning runs (default REGISTRY/runs)")
    worker.add_argument("--model", help="the recognizer the server serves now; registered as the baseline when the "
                                        "registry has no serving version")
    worker.add_argument("--server", help="hotich server to hot-reload promoted versions into, e.g. "
                                         "http://127.0.0.1:8000 (its key: $HOTICH_API_KEY)")
    worker.add_argument("--url", help="Label Studio URL (default: the job's, else $LABEL_STUDIO_URL)")
    worker.add_argument("--token", help="Label Studio API token (default $LABEL_STUDIO_API_KEY, the ML backend's "
                                        "connection, or .labelstudio/)")
    worker.add_argument("--min-corrections", type=int, default=10, help="fewer corrections skip the job (default 10)")
    worker.add_argument("--max-val-worsening", type=float, default=0.3,
                        help="gate: allowed CER rise on each fixed validation set, in points (default 0.3)")
    _finetune_options(worker)


def worker_command(args) -> int:
    import logging
    import os
    import signal
    import threading

    from training.retrain_worker import RetrainWorker, WorkerSettings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = WorkerSettings(jobs_dir=args.jobs_dir, registry_dir=args.registry, work_dir=args.work_dir,
                              model=args.model, server=args.server, api_key=os.environ.get("HOTICH_API_KEY"),
                              labelstudio_url=args.url, labelstudio_token=args.token,
                              min_corrections=args.min_corrections, max_val_worsening=args.max_val_worsening / 100,
                              finetune=_finetune_settings(args))
    worker = RetrainWorker(settings)
    if args.once:
        result = worker.run_once()
        print(json.dumps(result if result is not None else {"job": None, "outcome": "no pending job"},
                         ensure_ascii=False))
        return 1 if result and result["outcome"] == "failed" else 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the job at hand, then stop
        signal.signal(sig, lambda *_: stop.set())
    worker.run_forever(args.poll, stop, on_result=lambda r: print(json.dumps(r, ensure_ascii=False), flush=True))
    return 0
