"""A persistent, de-duplicating queue of retraining jobs (SQLite in a directory of its own).

The ML backend's ``/webhook`` calls :meth:`JobQueue.enqueue` for every annotation event; a burst of events for one
project folds into one *pending* job (``events`` counts them), so annotators submitting 200 lines queue one
retraining, not 200. A job that is already *running* does not absorb new events: they open a new pending job,
which retrains again afterwards on the corrections that arrived meanwhile.

The retraining worker (fine-tune, promotion gate, registry, hot reload) is not part of this module; it drives
the queue with :meth:`claim` → work → :meth:`finish` / :meth:`fail`. A job claimed by a worker that died stays
``running``; :meth:`requeue_stale` puts such jobs back after a timeout.

Records hold ids, counts and times only, never annotation text (that is personal data).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)
FINETUNE = "finetune"
DB_NAME = "jobs.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    events INTEGER NOT NULL DEFAULT 1,
    payload TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
-- At most one pending job per project and kind: the de-duplication rule, enforced by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS one_pending_job ON jobs(project, kind) WHERE status = 'pending';
"""


@dataclass
class Job:
    """One retraining request for one Label Studio project.

    Attributes:
        project: Label Studio project id (as text).
        kind: what to run; ``finetune`` for now.
        reason: the event that opened the job (``ANNOTATION_CREATED``, ``START_TRAINING``, ...).
        events: how many events this job stands for.
        payload: what the worker needs to find the data (Label Studio URL, project title, last event); no text.
    """

    id: int
    project: str
    kind: str
    status: str
    reason: str
    events: int
    payload: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["payload"] = json.loads(values["payload"] or "{}")
    values["result"] = json.loads(values["result"]) if values["result"] else None
    return Job(**values)


class JobQueue:
    """Retraining jobs in ``directory/jobs.sqlite3``; safe across threads and processes (SQLite locking).

    Args:
        directory: where the database lives (created when missing).
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)  # idempotent; executescript manages its own transaction

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self):
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def enqueue(self, project: str | int, reason: str, payload: dict | None = None,
                kind: str = FINETUNE) -> tuple[Job, bool]:
        """Queue a job for ``project``, or fold the event into its pending job.

        Returns:
            ``(job, created)``: ``created`` is False when an existing pending job absorbed the event (its
            ``events`` count grows and its payload is updated with ``payload``).
        """
        project, now = str(project), time.time()
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE project = ? AND kind = ? AND status = ?",
                             (project, kind, PENDING)).fetchone()
            if row is not None:
                merged = {**json.loads(row["payload"]), **(payload or {})}
                db.execute("UPDATE jobs SET events = events + 1, payload = ?, updated_at = ? WHERE id = ?",
                           (json.dumps(merged), now, row["id"]))
                job_id, created = row["id"], False
            else:
                job_id = db.execute(
                    "INSERT INTO jobs (project, kind, status, reason, payload, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (project, kind, PENDING, reason, json.dumps(payload or {}), now, now)).lastrowid
                created = True
            return _job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()), created

    def claim(self, kind: str | None = None) -> Job | None:
        """Take the oldest pending job (of ``kind``) and mark it running; None when there is none."""
        now = time.time()
        with self._transaction() as db:
            query, args = "SELECT * FROM jobs WHERE status = ?", [PENDING]
            if kind:
                query, args = query + " AND kind = ?", args + [kind]
            row = db.execute(query + " ORDER BY created_at, id LIMIT 1", args).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status = ?, started_at = ?, updated_at = ? WHERE id = ?",
                       (RUNNING, now, now, row["id"]))
            return _job(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def finish(self, job_id: int, result: dict | None = None) -> Job:
        """Mark a running job done, with a result record (metrics, the promoted model version, ...)."""
        return self._close(job_id, DONE, result=json.dumps(result or {}), error=None)

    def fail(self, job_id: int, error: str) -> Job:
        """Mark a running job failed; ``error`` must not contain ledger text."""
        return self._close(job_id, FAILED, result=None, error=error)

    def _close(self, job_id: int, status: str, result: str | None, error: str | None) -> Job:
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"no job {job_id}")
            if row["status"] != RUNNING:
                raise ValueError(f"job {job_id} is {row['status']}, not running")
            db.execute("UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ?, updated_at = ? "
                       "WHERE id = ?", (status, result, error, now, now, job_id))
            return _job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def requeue_stale(self, older_than_s: float) -> list[int]:
        """Put running jobs started more than ``older_than_s`` ago back to pending (their worker died), unless a
        pending job for the same project already exists, in which case the stale one fails into it."""
        cutoff, now, moved = time.time() - older_than_s, time.time(), []
        with self._transaction() as db:
            stale = db.execute("SELECT * FROM jobs WHERE status = ? AND started_at < ?", (RUNNING, cutoff)).fetchall()
            for row in stale:
                pending = db.execute("SELECT id FROM jobs WHERE project = ? AND kind = ? AND status = ?",
                                     (row["project"], row["kind"], PENDING)).fetchone()
                if pending:
                    db.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                               (FAILED, f"worker lost; superseded by job {pending['id']}", now, now, row["id"]))
                else:
                    db.execute("UPDATE jobs SET status = ?, started_at = NULL, updated_at = ? WHERE id = ?",
                               (PENDING, now, row["id"]))
                    moved.append(row["id"])
        return moved

    def get(self, job_id: int) -> Job | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list(self, status: str | None = None, project: str | int | None = None) -> list[Job]:
        query, args = "SELECT * FROM jobs WHERE 1 = 1", []
        if status:
            query, args = query + " AND status = ?", args + [status]
        if project is not None:
            query, args = query + " AND project = ?", args + [str(project)]
        return [_job(r) for r in self._connection().execute(query + " ORDER BY id", args).fetchall()]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
