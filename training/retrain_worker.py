"""The retraining worker: turns the ML backend's queued jobs into gated model versions.

    hotich annotate worker --once            # at most one job, then exit
    hotich annotate worker --poll 30         # keep going

For each job of :class:`annotation.jobs.JobQueue` (one per Label Studio project with new annotations):

1. pull the project's corrections from Label Studio (:func:`annotation.sync.pull`) into a folder kept per project
   (images already there are not downloaded again);
2. skip when there are fewer than ``min_corrections``, or when these very corrections (same data hash) made the
   serving version or were already tried on it;
3. fine-tune the serving version on them (:func:`training.finetune.finetune`) and register the result as a
   *candidate* (:class:`models.registry.Registry`);
4. run the promotion gate (:func:`training.promotion.run_gate`); the candidate becomes *promoted* or *rejected*;
5. if promoted and a server is named, ask it to hot-reload the new version (``POST /v1/models:reload``).

The job ends ``done`` with a result record (versions, counts, CERs, the gate's reasons; never text) or
``failed`` with the error. Jobs left ``running`` by a worker that died are put back after ``stale_after_s``.

Where it lives: the worker trains, so it belongs to ``training``, which may use ``annotation``'s queue and pull
client; ``annotation`` never imports ``training`` (the ML backend only queues jobs) and ``inference`` never imports
either (the server only exposes the reload endpoint the worker calls).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from annotation.jobs import FINETUNE, Job, JobQueue
from models.registry import PROMOTED, REJECTED, Registry, RegistryError, corrections_hash, request_reload

log = logging.getLogger("hotich.worker")

# (job, folder) -> the corrections manifest pulled into that folder
Puller = Callable[[Job, Path], Path]


@dataclass
class WorkerSettings:
    """Where things are and how to fine-tune; ``finetune`` holds :data:`training.finetune.FINETUNE_DEFAULTS`
    overrides (``steps``, ``replay``, ``val_sets``, ``val_limit``, ...)."""

    jobs_dir: str | None = None
    registry_dir: str | None = None
    work_dir: str | None = None  # default: <registry>/runs
    model: str | None = None  # the baseline to register when the registry has no serving version yet
    server: str | None = None  # a `hotich serve` URL to hot-reload promoted versions into
    api_key: str | None = None
    labelstudio_url: str | None = None
    labelstudio_token: str | None = None
    min_corrections: int = 10
    max_val_worsening: float = 0.003
    min_heldout_gain: float = 0.0
    stale_after_s: float = 6 * 3600
    finetune: dict = field(default_factory=dict)


class LabelStudioPuller:
    """Pulls a job's project from Label Studio: the URL and token from the settings, else what the ML backend saw
    at ``/setup`` (kept beside the job queue), else the usual ``LABEL_STUDIO_URL`` / ``.labelstudio`` defaults."""

    def __init__(self, url: str | None = None, token: str | None = None, jobs_dir: str | os.PathLike | None = None):
        self.url, self.token, self.jobs_dir = url, token, jobs_dir

    def __call__(self, job: Job, out: Path) -> Path:
        from annotation.labelstudio import LabelStudio
        from annotation.sync import pull

        connection = {}
        if self.jobs_dir is not None:
            from annotation.ml_backend import Connections

            connection = Connections(Path(self.jobs_dir)).get(job.project) or {}
        url = self.url or job.payload.get("labelstudio_url") or connection.get("hostname")
        token = self.token or os.environ.get("LABEL_STUDIO_API_KEY") or connection.get("access_token")
        with LabelStudio.from_settings(url, token) as client:
            title = job.payload.get("project_title") or client.project(int(job.project))["title"]
            report = pull(client, title, out, progress=False)
        if report.problems:
            log.warning("job %d: %d annotated tasks could not be used (see %s/pull.json)", job.id,
                        len(report.problems), out)
        return Path(report.manifest or report.field_manifest)


class RetrainWorker:
    """Runs retraining jobs one at a time.

    Args:
        settings: see :class:`WorkerSettings`.
        puller: how to get a job's corrections (default :class:`LabelStudioPuller`); tests pass a stub.
    """

    def __init__(self, settings: WorkerSettings, puller: Puller | None = None):
        from annotation.ml_backend import default_jobs_dir

        self.settings = settings
        self.queue = JobQueue(settings.jobs_dir or default_jobs_dir())
        self.registry = Registry(settings.registry_dir)
        self.work_dir = Path(settings.work_dir) if settings.work_dir else self.registry.directory / "runs"
        self.puller = puller or LabelStudioPuller(settings.labelstudio_url, settings.labelstudio_token,
                                                  self.queue.directory)

    def run_once(self) -> dict | None:
        """Claim and run one job; returns its summary (None when the queue had nothing pending)."""
        moved = self.queue.requeue_stale(self.settings.stale_after_s)
        if moved:
            log.warning("put back %d jobs whose worker was lost: %s", len(moved), moved)
        job = self.queue.claim(FINETUNE)
        if job is None:
            return None
        log.info("job %d: project %s, %d events", job.id, job.project, job.events)
        started = time.monotonic()
        try:
            result = self.process(job)
        except Exception as exc:  # the job fails, the worker goes on; the message names no ledger text
            error = f"{exc.__class__.__name__}: {exc}"[:1000]
            log.exception("job %d failed", job.id)
            self.queue.fail(job.id, error)
            return {"job": job.id, "project": job.project, "outcome": "failed", "error": error,
                    "seconds": round(time.monotonic() - started, 1)}
        result = {"job": job.id, "project": job.project, **result, "seconds": round(time.monotonic() - started, 1)}
        self.queue.finish(job.id, result)
        log.info("job %d: %s", job.id, result["outcome"])
        return result

    def run_forever(self, poll_s: float = 30.0, stop: threading.Event | None = None,
                    on_result: Callable[[dict], None] | None = None) -> None:
        """Run jobs as they come, polling every ``poll_s`` seconds when idle, until ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            result = self.run_once()
            if result is not None:
                if on_result:
                    on_result(result)
                continue
            stop.wait(poll_s)

    def serving_version(self):
        if self.settings.model:
            return self.registry.ensure_baseline(self.settings.model)
        serving = self.registry.serving()
        if serving is None:
            raise RegistryError(f"no serving version in {self.registry.path}: start the worker with --model "
                                "(the recognizer the server serves) to register it as the baseline")
        return serving

    def process(self, job: Job) -> dict:
        from data.manifest import read_manifest
        from training.finetune import finetune
        from training.promotion import run_gate

        settings = self.settings
        corrections_dir = self.work_dir / "corrections" / f"project-{job.project}"
        manifest = self.puller(job, corrections_dir)
        records = read_manifest(manifest, check_images=True)
        data_hash = corrections_hash(records)
        serving = self.serving_version()
        base = {"corrections": len(records), "data_hash": data_hash, "serving": serving.tag}
        if len(records) < settings.min_corrections:
            return {**base, "outcome": "skipped",
                    "reason": f"{len(records)} corrections, fewer than the {settings.min_corrections} needed"}
        if serving.data_hash == data_hash:
            return {**base, "outcome": "skipped", "reason": f"{serving.tag} was fine-tuned on these very corrections"}
        earlier = self.registry.find(data_hash=data_hash, parent=serving.version)
        if earlier:
            return {**base, "outcome": "skipped", "reason": f"{serving.tag} was already fine-tuned on these "
                                                            f"corrections ({earlier[-1].tag}, {earlier[-1].status})"}

        tuned = finetune(serving.path, manifest, self.work_dir / f"job-{job.id}", overwrite=True,
                         **settings.finetune)
        candidate = self.registry.register(
            tuned.model_dir, parent=serving.version, data_hash=tuned.data_hash, metrics=tuned.metrics,
            source={"job": job.id, "project": job.project, "corrections": tuned.n_corrections,
                    "finetune_lines": tuned.n_finetune, "heldout_lines": tuned.n_heldout,
                    "too_long": tuned.n_too_long, "steps": tuned.steps, "finetune_seconds": tuned.seconds},
            reason=f"fine-tuned from {serving.tag} by job {job.id}")
        decision = run_gate(tuned.model_dir, serving.path, tuned.manifests.get("heldout"),
                            val_sets=tuned.config["val_sets"], val_manifests=tuned.config["val_manifests"],
                            val_limit=tuned.config["val_limit"],
                            candidate_metrics=tuned.metrics, max_val_worsening=settings.max_val_worsening,
                            min_heldout_gain=settings.min_heldout_gain,
                            batch_size=tuned.config["eval_batch_size"])
        if decision.promote:
            candidate = self.registry.set_status(candidate.version, PROMOTED, "passed the promotion gate",
                                                 decision.to_json())
        else:
            failing = [r.removeprefix("FAIL ") for r in decision.reasons if r.startswith("FAIL ")]
            candidate = self.registry.set_status(candidate.version, REJECTED, "; ".join(failing),
                                                 decision.to_json())
        reload = None
        if decision.promote and settings.server:
            try:
                answer = request_reload(settings.server, candidate, settings.api_key)
                reload = {"ok": True, "model": answer["model"], "seconds": answer.get("seconds")}
            except RegistryError as exc:  # promoted all the same: the server picks it up at its next reload
                log.warning("job %d: %s promoted but the server did not reload it: %s", job.id, candidate.tag, exc)
                reload = {"ok": False, "error": str(exc)}
        return {**base, "outcome": "promoted" if decision.promote else "rejected", "version": candidate.tag,
                "name": candidate.name, "finetune_lines": tuned.n_finetune, "heldout_lines": tuned.n_heldout,
                "too_long": tuned.n_too_long, "checks": decision.checks, "reasons": decision.reasons, "reload": reload}
