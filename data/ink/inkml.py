"""Reading VNOnDB InkML files (plain or gzip) into words, lines and writer metadata.

A VNOnDB file is one paragraph copied by one writer from a source text (``TEXTID``). Its ``<ink>`` header
carries the writer's metadata; each ``<traceGroup id="tg_P_L_W">`` is one word (paragraph P, line L, word W)
with its text in ``<annotationXML><Tg_Truth>`` and its pen strokes in ``<trace>`` elements
("x y ,x y ,..." in tablet units, y growing downward, no pressure channel).
"""
from __future__ import annotations

import gzip
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.charset import nfc

# DATE_WRITERID_TEXTID[_PART].inkml[.gz]
_NAME_RE = re.compile(r"^(?P<date>\d{8})_(?P<writer>[^_]+)_(?P<text>[^_.]+)(?:_(?P<part>\d+))?\.inkml(?:\.gz)?$")
_TG_RE = re.compile(r"^tg_(\d+)_(\d+)_(\d+)$")


@dataclass(frozen=True)
class WriterInfo:
    """A VNOnDB writer. ``id`` is ``id_NNNN`` from the file name (the header's Writer_ID is occasionally a
    personal name instead, kept in ``header_id``); the rest comes from the ``<ink>`` header."""

    id: str
    gender: str | None = None
    age: int | None = None
    dominant_hand: str | None = None
    writing_hand: str | None = None
    job: str | None = None
    native_language: str | None = None
    header_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class InkWord:
    """One written word.

    ``strokes`` are ``(N, 2)`` float32 point arrays (x, y; y down). Words from :func:`read_inkml` are in raw
    tablet units; words from an :class:`~data.ink.corpus.InkCorpus` are normalised: one unit is the writer's
    x-height, y = 0 is the centre of the line's x-height band, and x is in line coordinates (so the real
    spacing between the words of a line is kept). ``pressure`` (0..1 per point, derived from pen speed) is
    set for corpus words only.
    """

    text: str
    strokes: list[np.ndarray]
    paragraph: int
    line: int
    index: int
    pressure: list[np.ndarray] | None = None

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of all points."""
        pts = np.concatenate(self.strokes) if self.strokes else np.zeros((1, 2), np.float32)
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        return float(x0), float(y0), float(x1), float(y1)


@dataclass(frozen=True, eq=False)
class InkLine:
    """Words of one written line in W order; ``normalized`` tells which coordinates the strokes are in."""

    words: list[InkWord]
    writer_id: str = ""
    text_id: str = ""
    paragraph: int = 0
    line: int = 0
    normalized: bool = False

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def writer(self) -> str:
        """Alias of ``writer_id``."""
        return self.writer_id


@dataclass(eq=False)
class InkDocument:
    """One VNOnDB file: a writer's copy of (part of) a source text."""

    path: Path
    writer: WriterInfo
    text_id: str
    part: int | None
    date: str
    words: list[InkWord]

    def lines(self) -> list[InkLine]:
        """Lines rebuilt from the ``tg_P_L_W`` ids, in (P, L) order, words in W order."""
        groups: dict[tuple[int, int], list[InkWord]] = {}
        for w in self.words:
            groups.setdefault((w.paragraph, w.line), []).append(w)
        return [
            InkLine(sorted(ws, key=lambda w: w.index), self.writer.id, self.text_id, p, l_, False)
            for (p, l_), ws in sorted(groups.items())
        ]


def parse_file_name(path: Path | str) -> dict[str, str | int | None] | None:
    """``{date, writer, text_id, part}`` from ``DATE_WRITERID_TEXTID[_PART].inkml[.gz]`` (writer as ``id_NNNN``);
    None when the name does not follow that pattern."""
    m = _NAME_RE.match(Path(path).name)
    if not m:
        return None
    writer = m["writer"]
    return {
        "date": m["date"],
        "writer": writer if writer.startswith("id_") else f"id_{writer}",
        "text_id": m["text"],
        "part": int(m["part"]) if m["part"] else None,
    }


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from exc


def _parse_points(text: str | None, where: str) -> np.ndarray:
    """Parse "x y ,x y ,..." (extra channels ignored) into an ``(N, 2)`` int/float array."""
    if text is None or not text.strip():
        raise ValueError(f"{where}: empty <trace>")
    rows = [r.split() for r in text.strip().strip(",").split(",")]
    try:
        pts = np.array([(float(r[0]), float(r[1])) for r in rows], dtype=np.float32)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"{where}: <trace> is not a list of 'x y' points ({exc})") from exc
    return pts


def _fast_points(traces: list[str]) -> list[np.ndarray] | None:
    """Parse many traces at once; None when any trace is not plain "x y ," pairs (the slow path then names it)."""
    counts = []
    for t in traces:
        t = t.strip().rstrip(",")
        counts.append(t.count(",") + 1)
    flat = ",".join(t.strip().rstrip(",") for t in traces).replace(",", " ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a malformed number only stops the parse; the size check catches it
        # VNOnDB coordinates are integers, and integer parsing is six times faster than float parsing.
        dtype = np.float32 if ("." in flat or "e" in flat or "E" in flat) else np.int32
        values = np.fromstring(flat, dtype=dtype, sep=" ") if flat.strip() else np.zeros(0, np.float32)
    if values.size != 2 * sum(counts) or not np.isfinite(values).all():
        return None
    pts = values.reshape(-1, 2).astype(np.float32)
    return np.split(pts, np.cumsum(counts)[:-1])


def read_inkml(path: Path | str) -> InkDocument:
    """Read one VNOnDB InkML file (plain or gzip-compressed).

    Raises:
        ValueError: naming the file and the problem, when it is not well-formed InkML or lacks word groups.
    """
    path = Path(path)
    data = _read_bytes(path)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not well-formed XML ({exc})") from exc
    if root.tag.rsplit("}", 1)[-1] != "ink":
        raise ValueError(f"{path}: root element is <{root.tag}>, expected <ink>")
    # Tolerate a W3C namespace by stripping it.
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.rsplit("}", 1)[1]

    header = root.find("annotationXML")
    fields = {c.tag: (c.text or "").strip() for c in header} if header is not None else {}
    age = fields.get("Age", "")
    meta = parse_file_name(path)
    if meta is None:  # unconventional name: fall back to the header
        gt = fields.get("Gt_File_Name", "") or path.name.split(".")[0]
        text_id, _, part = gt.partition("_")
        meta = {"date": fields.get("Start_Time", "")[:10].replace("-", ""),
                "writer": fields.get("Writer_ID") or "unknown",
                "text_id": text_id, "part": int(part) if part.isdigit() else None}
    writer = WriterInfo(
        id=str(meta["writer"]),
        gender=fields.get("Gender") or None,
        age=int(age) if age.isdigit() else None,
        dominant_hand=fields.get("Dominant_Hand") or None,
        writing_hand=fields.get("Writing_Hand") or None,
        job=fields.get("Job") or None,
        native_language=fields.get("Native_Language") or None,
        header_id=fields.get("Writer_ID") or None,
        extra=fields,
    )

    groups = root.findall("traceGroup")
    if not groups:
        raise ValueError(f"{path}: no <traceGroup> word groups")
    specs: list[tuple[str, int, int, int, int]] = []  # text, P, L, W, n_traces
    traces: list[str] = []
    for tg in groups:
        gid = tg.get("id", "")
        m = _TG_RE.match(gid)
        if not m:
            raise ValueError(f"{path}: traceGroup id {gid!r} is not tg_P_L_W")
        truth = tg.findtext("annotationXML/Tg_Truth")
        if truth is None or not truth.strip():
            raise ValueError(f"{path}: traceGroup {gid} has no <Tg_Truth> text")
        trs = tg.findall("trace")
        if not trs:
            raise ValueError(f"{path}: traceGroup {gid} has no <trace>")
        for tr in trs:
            if tr.text is None or not tr.text.strip():
                raise ValueError(f"{path}: traceGroup {gid} has an empty <trace>")
            traces.append(tr.text)
        specs.append((nfc(truth.strip()), int(m[1]), int(m[2]), int(m[3]), len(trs)))

    points = _fast_points(traces)
    if points is None:  # find and name the bad trace
        points = []
        k = 0
        for _, p, l_, w, n in specs:
            for _ in range(n):
                points.append(_parse_points(traces[k], f"{path}: traceGroup tg_{p}_{l_}_{w}"))
                k += 1
    words = []
    k = 0
    for text, p, l_, w, n in specs:
        words.append(InkWord(text, points[k : k + n], p, l_, w))
        k += n
    return InkDocument(path, writer, str(meta["text_id"]), meta["part"], str(meta["date"]), words)
