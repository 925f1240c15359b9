"""``hotich annotate ...``: the command-line front of the Label Studio loop (each prints one JSON object)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _client(args):
    import logging

    from annotation.labelstudio import LabelStudio

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise at INFO

    return LabelStudio.from_settings(args.url, args.token)


def push_command(args) -> int:
    from annotation.predictors import PredictionsFile, RecognizerPredictor
    from annotation.sync import push

    predictor = predictions = None
    if Path(args.source).is_file():
        if args.predictions:
            predictions = PredictionsFile(args.predictions, args.model_version)
        elif not args.no_predictions:
            predictor = RecognizerPredictor(args.model, batch_size=args.batch_size)
    with _client(args) as client:
        report = push(client, args.source, args.project, predictor=predictor, predictions=predictions,
                      book=args.book, progress=sys.stderr.isatty())
    print(json.dumps(report.to_json(), ensure_ascii=False))
    return 0


def pull_command(args) -> int:
    from annotation.sync import pull

    with _client(args) as client:
        report = pull(client, args.project, args.out, progress=sys.stderr.isatty())
    summary = report.to_json()
    summary["problems"] = len(report.problems)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def config_command(args) -> int:
    from annotation.configs import line_config, page_config

    print(line_config() if args.kind == "line" else page_config(args.book), end="")
    return 0


def connect_command(args) -> int:
    """Connect the hotich server's ML backend to a project, with live predictions when annotators open tasks."""
    from annotation.labelstudio import LabelStudioError

    with _client(args) as client:
        project = client.find_project(args.project)
        if project is None:
            raise LabelStudioError(f"no project called {args.project!r} at {client.url}")
        url = args.backend.rstrip("/")
        existing = [b for b in client.ml_backends(project["id"]) if b["url"].rstrip("/") == url]
        backend = existing[0] if existing else client.add_ml_backend(
            project["id"], url, title=args.title, is_interactive=args.interactive)
        client.update_project(project["id"], evaluate_predictions_automatically=True)
    print(json.dumps({"project": project["id"], "ml_backend": backend["id"], "url": url,
                      "state": backend.get("state"), "created": not existing}))
    return 0


def jobs_command(args) -> int:
    from annotation.jobs import JobQueue
    from annotation.ml_backend import default_jobs_dir

    queue = JobQueue(args.jobs_dir or default_jobs_dir())
    print(json.dumps({"jobs": [j.to_json() for j in queue.list(status=args.status)]}, ensure_ascii=False))
    return 0


def add_parsers(sub) -> None:
    annotate = sub.add_parser("annotate", help="the Label Studio loop: push pre-annotated tasks, pull corrections")
    asub = annotate.add_subparsers(dest="annotate_command", required=True)

    def server(p):
        p.add_argument("--url", help="Label Studio URL (default $LABEL_STUDIO_URL, else http://127.0.0.1:8080)")
        p.add_argument("--token", help="legacy API token (default $LABEL_STUDIO_API_KEY, else .labelstudio/)")

    push = asub.add_parser("push", help="create/update a project and import tasks with the model's predictions")
    push.add_argument("source", help="a line manifest (JSON Lines) or a folder of page images (+ page JSON)")
    push.add_argument("--project", required=True, help="project name (created when missing)")
    push.add_argument("--model", help="recognizer or ONNX export for the pre-annotations (default: released)")
    push.add_argument("--batch-size", type=int, default=16)
    push.add_argument("--predictions", help="JSON Lines of earlier predictions (hotich eval --predictions) "
                                            "instead of running the model")
    push.add_argument("--model-version", help="model_version for --predictions lines that name none")
    push.add_argument("--no-predictions", action="store_true", help="import lines without pre-annotations")
    push.add_argument("--book", help="pages: the register book whose field keys are the labels")
    server(push)

    pull = asub.add_parser("pull", help="export corrected annotations as a line manifest / page files")
    pull.add_argument("--project", required=True)
    pull.add_argument("--out", required=True, help="output folder")
    server(pull)

    config = asub.add_parser("config", help="print hotich's labeling config")
    config.add_argument("kind", choices=["line", "page"])
    config.add_argument("--book", help="pages: only this book's field keys")

    connect = asub.add_parser("connect", help="connect the hotich server (serve --ml-backend) to a project")
    connect.add_argument("--project", required=True)
    connect.add_argument("--backend", default="http://127.0.0.1:8000/labelstudio",
                         help="ML backend URL (default http://127.0.0.1:8000/labelstudio)")
    connect.add_argument("--title", default="hotich")
    connect.add_argument("--interactive", action="store_true", help="also predict text for regions as drawn")
    server(connect)

    jobs = asub.add_parser("jobs", help="list queued retraining jobs")
    jobs.add_argument("--jobs-dir", help="queue directory (default $HOTICH_JOBS_DIR or runs/jobs)")
    jobs.add_argument("--status", choices=["pending", "running", "done", "failed"])
    return asub  # hotich.cli adds `annotate worker` (it lives in training, which annotation never imports)


HANDLERS = {"push": push_command, "pull": pull_command, "config": config_command, "connect": connect_command,
            "jobs": jobs_command}
