"""The ``hotich`` command line: a small front over the library (data, training, inference, annotation).

Subcommands import their modules lazily so that ``hotich --help`` and ``hotich serve`` start quickly.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from hotich import __version__


def _data_parsers(sub) -> None:
    data = sub.add_parser("data", help="build, export, inspect and preview line data")
    dsub = data.add_subparsers(dest="data_command", required=True)

    def common(p, with_n=True):
        p.add_argument("--seed", type=int, default=0, help="first seed; line i uses seed + i")
        p.add_argument("--height", type=int, default=64, help="line image height in pixels (default 64)")
        p.add_argument("--book", choices=["khai_sinh", "khai_tu", "ket_hon", "nhan_cha_me_con"])
        p.add_argument("--field", help="field key, e.g. nksHoTen (synthetic sources)")
        p.add_argument("--split", default="val", help="train | val (| photos for cinnamon)")
        if with_n:
            p.add_argument("--n", type=int, help="number of lines (required for synthetic sources)")

    build = dsub.add_parser("build", help="build the standard datasets and their line manifests")
    build.add_argument("--out", default="out/data", help="output folder (default out/data)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--height", type=int, default=64)
    build.add_argument("--synthetic-n", type=int, default=2000, help="synthetic training lines (default 2000)")
    build.add_argument("--synthetic-val-n", type=int, default=500, help="synthetic validation lines (default 500)")
    build.add_argument("--only", nargs="+", choices=["cinnamon", "vnondb", "synth"], help="build only these")

    export = dsub.add_parser("export-manifest", help="write one source as images + a line manifest")
    export.add_argument("--source", required=True, choices=["cinnamon", "vnondb", "synth", "ink", "font"])
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--name", default="manifest.jsonl", help="manifest file name")
    common(export)

    stats = dsub.add_parser("stats", help="statistics of manifests, or of the shared data when none is given")
    stats.add_argument("manifest", nargs="*", help="line manifests (JSON Lines)")

    preview = dsub.add_parser("preview", help="contact sheet of lines with their ground truth")
    preview.add_argument("--source", required=True, choices=["ink", "font", "cinnamon", "vnondb"])
    preview.add_argument("--out", required=True, help="PNG to write")
    preview.add_argument("--columns", type=int, default=2)
    common(preview)
    preview.set_defaults(n=24)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotich", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hotich {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _data_parsers(sub)

    train = sub.add_parser("train", help="train models")
    tsub = train.add_subparsers(dest="train_command", required=True)
    rec = tsub.add_parser("recognizer", help="train the line recognizer from a YAML config")
    rec.add_argument("--config", required=True, help="training/configs/NAME.yaml")
    rec.add_argument("--resume", action="store_true", help="continue from runs/NAME/checkpoint.pt")
    rec.add_argument("--init", help="fine-tune from an existing recognizer checkpoint directory")
    rec.add_argument("--max-steps", type=int, help="override max_steps")
    rec.add_argument("--name", help="override the run name")
    rec.add_argument("--runs-dir", help="override runs_dir (default runs/)")

    ev = sub.add_parser("eval", help="measure a recognizer on a line manifest (prints one JSON object)")
    ev.add_argument("manifest", help="line manifest (JSON Lines)")
    ev.add_argument("--model", help="recognizer or ONNX export directory (default: the released model)")
    ev.add_argument("--variant", default="fp32", help="ONNX variant: fp32 or int8 (exported directories only)")
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--predictions", help="write per-line hypotheses with confidences to this JSONL file")
    ev.add_argument("--limit", type=int, help="only the first N lines")

    export = sub.add_parser("export", help="export a recognizer to ONNX (encoder + cached decoder step)")
    export.add_argument("--model", help="recognizer directory (default: the released model)")
    export.add_argument("--out", required=True, help="output directory")
    export.add_argument("--int8", action="store_true", help="also write int8 dynamically quantized graphs")

    serve = sub.add_parser("serve", help="start the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--model", help="recognizer or ONNX export directory (default: the released model)")
    serve.add_argument("--max-batch", type=int, help="lines per recognition batch (default 32)")
    serve.add_argument("--max-wait-ms", type=float, help="how long a batch waits to fill (default 10)")
    serve.add_argument("--max-queue", type=int, help="lines waiting before requests get 503 (default 512)")
    serve.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: all cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from data.manifest import ManifestError
    from data.settings import SharedDataMissing

    try:
        if args.command == "data":
            from data import commands

            handler = {"build": commands.build_command, "export-manifest": commands.export_manifest_command,
                       "stats": commands.stats_command, "preview": commands.preview_command}[args.data_command]
            return handler(args)
        if args.command == "train":
            from training.train_recognizer import load_config, train

            overrides = {k: v for k, v in {"max_steps": args.max_steps, "name": args.name,
                                           "runs_dir": args.runs_dir}.items() if v is not None}
            run_dir = train(load_config(args.config, overrides), resume=args.resume, init=args.init)
            print(json.dumps({"run": str(run_dir), "best": str(run_dir / "best")}))
            return 0
        if args.command == "eval":
            from inference.evaluate import evaluate_manifest

            print(json.dumps(evaluate_manifest(args.manifest, args.model, args.batch_size, args.predictions,
                                               args.limit, variant=args.variant)))
            return 0
        if args.command == "export":
            from inference.evaluate import default_model_dir
            from inference.onnx_export import export_recognizer

            out = export_recognizer(args.model or default_model_dir(), args.out, int8=args.int8)
            print(json.dumps({"exported": str(out)}))
            return 0
        if args.command == "serve":
            from inference.server import serve

            serve(host=args.host, port=args.port, model=args.model, max_batch=args.max_batch,
                  max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, intra_op_threads=args.threads)
            return 0
    except (SharedDataMissing, ManifestError, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"hotich: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
