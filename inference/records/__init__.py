"""Domain rules of the page pipeline: recognized cell text → normalized values → validated records → the
Ministry's import spreadsheet.

- :func:`normalize_value` / :func:`normalize_field`: one cell's text → value, score, flags
  (:mod:`inference.records.normalize` lists the value of every kind).
- :func:`build_record`: one entry's recognized fields → ``{"book", "entry", "fields", "flags",
  "needs_review"}`` (:mod:`inference.records.record`), with the cross-field rules of
  :mod:`inference.records.validate`.
- :func:`write_import_workbook`: records → the import workbook (:mod:`inference.records.spreadsheet`).
- :data:`FLAGS`: every flag code with its severity and meaning (:mod:`inference.records.flags`).
"""
from inference.records.flags import FLAGS, Severity
from inference.records.normalize import normalize_field, normalize_value
from inference.records.normalized import Normalized
from inference.records.record import (
    DEFAULT_REVIEW_THRESHOLD, build_record, default_review_threshold, review_reasons,
)
from inference.records.spreadsheet import KHAI_SINH_IMPORT_HEADER, import_header, write_import_workbook

__all__ = [
    "DEFAULT_REVIEW_THRESHOLD", "FLAGS", "KHAI_SINH_IMPORT_HEADER", "Normalized", "Severity", "build_record",
    "default_review_threshold", "import_header", "normalize_field", "normalize_value", "review_reasons",
    "write_import_workbook",
]
