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
    data = sub.add_parser("data", help="build, export, inspect and preview line and page data")
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
    export.add_argument("--source", required=True, choices=["cinnamon", "vnondb", "synth", "ink", "font", "print"])
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--name", default="manifest.jsonl", help="manifest file name")
    common(export)

    stats = dsub.add_parser("stats", help="statistics of manifests, or of the shared data when none is given")
    stats.add_argument("manifest", nargs="*", help="line manifests (JSON Lines)")

    preview = dsub.add_parser("preview", help="contact sheet of lines with their ground truth")
    preview.add_argument("--source", required=True, choices=["ink", "font", "print", "cinnamon", "vnondb"])
    preview.add_argument("--out", required=True, help="PNG to write")
    preview.add_argument("--columns", type=int, default=2)
    common(preview)
    preview.set_defaults(n=24)

    books = ["khai_sinh", "khai_tu", "ket_hon", "nhan_cha_me_con"]
    pages = dsub.add_parser("pages", help="render synthetic register pages: images, ground truth, COCO, PAGE-XML")
    pages.add_argument("--book", required=True, choices=[*books, "all"], help="a book, or all (the books in turn)")
    pages.add_argument("--n", type=int, required=True, help="number of pages")
    pages.add_argument("--out", required=True, help="output folder (pages already there are kept: resumable)")
    pages.add_argument("--seed", type=int, help="first seed; page i uses seed + i (default 0; 900000000 held out)")
    pages.add_argument("--split", default="train", choices=["train", "heldout"],
                       help="train: training layouts only; heldout: every layout, the held-out one for half")
    pages.add_argument("--variant", help="render only this template id (see `hotich data templates`)")
    pages.add_argument("--generated", type=float, default=0.0,
                       help="train split: the share of pages on generated layouts (data/pages/generated.py)")
    pages.add_argument("--entries", type=int, help="entry rows per page (default: the template's range)")
    pages.add_argument("--long-side", type=int, default=1600, help="image long side in pixels (default 1600)")
    pages.add_argument("--degradation", type=float, default=1.0, help="0 = clean straight page, 1 = full ageing")
    pages.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    pages.add_argument("--format", default="jpg", choices=["jpg", "png"])
    pages.add_argument("--sheet", help="contact sheet PNG of the first pages with boxes (default OUT/sheet.png; "
                                       "'none' to skip)")

    page_lines = dsub.add_parser("page-lines", help="every ground-truth text line of rendered pages, cropped as "
                                                    "the page pipeline crops it, with a line manifest")
    page_lines.add_argument("--pages", required=True, help="a folder written by `hotich data pages`")
    page_lines.add_argument("--out", required=True, help="output folder: images/ and manifest.jsonl")
    page_lines.add_argument("--limit", type=int, help="at most this many pages")
    page_lines.add_argument("--shuffle", type=int, metavar="SEED",
                            help="write the manifest in a seeded random order (for a validation set read in part)")
    page_lines.add_argument("--headings", action="store_true",
                            help="the printed headings' lines (title, column and group headings, labels) instead "
                                 "of the handwritten ones")

    sheet = dsub.add_parser("pages-sheet", help="contact sheet: one page of every template with its boxes drawn")
    sheet.add_argument("--out", default="docs/synthetic_pages.png", help="PNG to write")
    sheet.add_argument("--seed", type=int, default=0)
    sheet.add_argument("--columns", type=int, default=4)
    sheet.add_argument("--long-side", type=int, default=1600)
    sheet.add_argument("--tile-width", type=int, default=640, help="width of each page on the sheet (default 640)")

    dsub.add_parser("templates", help="list the page templates (id, book, split, layout, columns)")


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
    from training.commands import add_finetune_parser, add_worker_parser

    add_finetune_parser(tsub)
    det = tsub.add_parser("detector", help="train the page layout detector from a YAML config")
    det.add_argument("--config", required=True, help="training/configs/NAME.yaml")
    det.add_argument("--resume", action="store_true", help="continue from runs/NAME/checkpoint.pt")
    det.add_argument("--init", help="start from a released detector directory (same field keys and channels)")
    det.add_argument("--max-steps", type=int, help="override max_steps")
    det.add_argument("--name", help="override the run name")
    det.add_argument("--runs-dir", help="override runs_dir (default runs/)")

    ev = sub.add_parser("eval", help="measure a recognizer on a line manifest (prints one JSON object)")
    ev.add_argument("manifest", help="line manifest (JSON Lines)")
    ev.add_argument("--model", help="recognizer or ONNX export directory (default: the released model)")
    ev.add_argument("--variant", default="fp32", help="ONNX variant: fp32, int8 or int8-static (exported directories only)")
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--predictions", help="write per-line hypotheses with confidences to this JSONL file")
    ev.add_argument("--limit", type=int, help="only the first N lines")
    ev.add_argument("--beam-width", type=int, default=1,
                    help="beam search with this many hypotheses per line (default 1: greedy); runs in onnxruntime, "
                         "exporting a recognizer directory once into the cache")

    export = sub.add_parser("export", help="export a recognizer to ONNX (encoder + cached decoder step)")
    export.add_argument("--model", help="recognizer directory (default: the released model)")
    export.add_argument("--out", required=True, help="output directory")
    export.add_argument("--int8", action="store_true",
                        help="also write the int8 variants: dynamically quantized matrix products (int8), and "
                             "those plus a statically quantized convolutional stem (int8-static)")

    serve = sub.add_parser("serve", help="start the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--model", help="recognizer or ONNX export directory (default: the released model)")
    serve.add_argument("--max-batch", type=int, help="lines per recognition batch (default 32)")
    serve.add_argument("--max-wait-ms", type=float,
                       help="how long a batch waits for another line before it leaves, counted from the latest line "
                            "(default 10; at most max_hold_ms in all)")
    serve.add_argument("--max-queue", type=int, help="lines waiting before requests get 503 (default 512)")
    serve.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: all cores)")
    serve.add_argument("--variant", choices=("auto", "int8-static", "int8", "fp32"),
                       help="ONNX graphs to serve (default auto: int8-static, else int8, when exported; "
                            "$HOTICH_VARIANT)")
    serve.add_argument("--beam-width", type=int,
                       help="beam search with this many hypotheses per line (default 1: greedy; $HOTICH_BEAM_WIDTH)")
    serve.add_argument("--detector", help="layout detector directory for /v1/pages:extract (default: the released one)")
    serve.add_argument("--pages-second-model", help="a second recognizer that reads page field lines beside the served "
                       "one (default: the released second opinion, when serving the released model)")
    serve.add_argument("--pages-single-model", action="store_true",
                       help="read page lines with the served recognizer alone, through the shared batcher")
    serve.add_argument("--pages-heading-model", help="a recognizer of print that reads the pages' printed headings "
                       "(default: the released print reader, when serving the released model)")
    serve.add_argument("--review-threshold", type=float,
                       help="fields below this confidence need review (default $HOTICH_REVIEW_THRESHOLD or 0.95)")
    serve.add_argument("--ml-backend", action="store_true",
                       help="also serve Label Studio's ML backend protocol under /labelstudio")
    serve.add_argument("--jobs-dir", help="retraining queue for the ML backend (default $HOTICH_JOBS_DIR or runs/jobs)")
    serve.add_argument("--labelstudio-url", help="Label Studio to fetch task images from before its /setup call "
                                                 "(default $LABEL_STUDIO_URL; its token: $LABEL_STUDIO_API_KEY)")

    extract = sub.add_parser("extract", help="register pages → records: JSON, overlay PNG and PAGE-XML per page, "
                                             "the Ministry import workbook per book (resumable)")
    extract.add_argument("pages", nargs="+", help="page images (a multi-page TIFF or a PDF: every page) and/or "
                                                  "folders of them")
    extract.add_argument("--out", required=True, help="output folder")
    extract.add_argument("--book", choices=["khai_sinh", "khai_tu", "ket_hon", "nhan_cha_me_con"],
                         help="the register book (default: detected per page)")
    extract.add_argument("--model", help="recognizer or ONNX export directory (default: the released model)")
    extract.add_argument("--detector", help="layout detector directory (default: the released one)")
    extract.add_argument("--second-model", help="a second recognizer that reads every handwritten field line too, "
                         "the likelier reading of the two winning (default: the released second opinion, with the released model)")
    extract.add_argument("--single-model", action="store_true", help="read lines with --model alone")
    extract.add_argument("--heading-model", help="a recognizer of print that reads the printed headings (default: the "
                         "released print reader, with the released model)")
    extract.add_argument("--review-threshold", type=float,
                         help="fields below this confidence need review (default $HOTICH_REVIEW_THRESHOLD or 0.95)")
    extract.add_argument("--threads", type=int, help="onnxruntime intra-op threads")
    extract.add_argument("--field-beam", type=int, default=1,
                         help="beam search with this many hypotheses per handwritten field line, printed lines "
                              "greedy (default 1: greedy; 3 read held-out pages a little better and 1.6x slower)")
    extract.add_argument("--no-overlay-text", action="store_true",
                         help="overlays show keys and confidences only (no personal data in the PNGs)")
    extract.add_argument("--pdf-dpi", type=float, default=200,
                         help="resolution PDF pages are rendered at (default 200)")

    from annotation.commands import add_parsers as annotate_parsers

    add_worker_parser(annotate_parsers(sub))
    from models.commands import add_parsers as models_parsers

    models_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from annotation.labelstudio import LabelStudioError
    from data.manifest import ManifestError
    from data.settings import SharedDataMissing

    try:
        if args.command == "data":
            from data import commands

            handler = {"build": commands.build_command, "export-manifest": commands.export_manifest_command,
                       "stats": commands.stats_command, "preview": commands.preview_command,
                       "pages": commands.pages_command, "pages-sheet": commands.pages_sheet_command,
                       "page-lines": commands.page_lines_command,
                       "templates": commands.templates_command}[args.data_command]
            return handler(args)
        if args.command == "train" and args.train_command == "finetune":
            from training.commands import finetune_command

            return finetune_command(args)
        if args.command == "train":
            overrides = {k: v for k, v in {"max_steps": args.max_steps, "name": args.name,
                                           "runs_dir": args.runs_dir}.items() if v is not None}
            if args.train_command == "detector":
                from training import train_detector

                run_dir = train_detector.train(train_detector.load_config(args.config, overrides), resume=args.resume,
                                               init=args.init)
                print(json.dumps({"run": str(run_dir), "best": str(run_dir / "best")}))
                return 0
            from training.train_recognizer import load_config, train

            run_dir = train(load_config(args.config, overrides), resume=args.resume, init=args.init)
            print(json.dumps({"run": str(run_dir), "best": str(run_dir / "best")}))
            return 0
        if args.command == "eval":
            from inference.evaluate import evaluate_manifest

            print(json.dumps(evaluate_manifest(args.manifest, args.model, args.batch_size, args.predictions,
                                               args.limit, variant=args.variant, beam_width=args.beam_width)))
            return 0
        if args.command == "export":
            from inference.evaluate import default_model_dir
            from inference.onnx_export import export_recognizer

            out = export_recognizer(args.model or default_model_dir(), args.out, int8=args.int8)
            print(json.dumps({"exported": str(out)}))
            return 0
        if args.command == "serve":
            from inference.server import serve

            from inference.pages_api import pages_router

            routers = [pages_router(args.detector, args.review_threshold, args.pages_second_model,
                                    args.pages_single_model, args.pages_heading_model)]
            if args.ml_backend:
                import os

                from annotation.ml_backend import ml_backend_router

                ls_url = args.labelstudio_url or os.environ.get("LABEL_STUDIO_URL")
                routers.append(ml_backend_router(args.jobs_dir, api_key=os.environ.get("HOTICH_API_KEY") or None,
                                                 labelstudio_url=ls_url,
                                                 labelstudio_token=os.environ.get("LABEL_STUDIO_API_KEY")))
            serve(host=args.host, port=args.port, model=args.model, max_batch=args.max_batch,
                  max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, intra_op_threads=args.threads,
                  beam_width=args.beam_width, variant=args.variant,
                  routers=routers)
            return 0
        if args.command == "extract":
            from inference.extract import extract_folder
            from inference.pages import PagePipeline

            if not 36 <= args.pdf_dpi <= 1200:
                parser.error(f"--pdf-dpi must be between 36 and 1200, got {args.pdf_dpi:g}")
            pipeline = PagePipeline.from_dirs(args.detector, args.model, args.threads,
                                              second_recognizer=args.second_model,
                                              single_recognizer=args.single_model,
                                              heading_recognizer=args.heading_model,
                                              review_threshold=args.review_threshold,
                                              field_beam_width=args.field_beam)
            summary = extract_folder(pipeline, args.pages, args.out, book=args.book,
                                     overlay_text=not args.no_overlay_text, pdf_dpi=args.pdf_dpi)
            print(json.dumps(summary, ensure_ascii=False))
            return 0 if not summary["failed"] else 2
        if args.command == "annotate":
            if args.annotate_command == "worker":
                from training.commands import worker_command

                return worker_command(args)
            from annotation.commands import HANDLERS

            return HANDLERS[args.annotate_command](args)
        if args.command == "models":
            from models.commands import models_command

            return models_command(args)
    except LabelStudioError as exc:
        print(f"hotich: error: {exc}", file=sys.stderr)
        return 1
    except (SharedDataMissing, ManifestError, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"hotich: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
