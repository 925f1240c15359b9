"""Page → records: deskew → layout → line crops → batched recognition → normalization → validation.

The result is one document tree (page → entries → fields → lines, every node with a box in the coordinates of
the page as sent, and a confidence) plus the validated records of :func:`inference.records.build_record`::

    {"page": {"width", "height", "book", "book_score", "skew_degrees", "entries": [...], "page_fields": [...],
              "headings": [...], "fields_below_tables", "fused_entries_cut", "stacked_lines_cut", "noise_lines": [...],
              "models": {...}},
     "records": [{"book", "entry", "fields": [{"key", "text", "value", "confidence", "bbox", "flags"}],
                  "flags", "needs_review"}]}

No recognized text is logged.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import statistics
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from rapidfuzz import fuzz

from data.pages.lines import LINE_PAD, crop_line, heading_line_boxes
from data.schema import BOOKS, ValueKind, get_book
from data.text.vocab import ETHNIC_GROUPS, ETHNIC_VARIANTS, NATIONALITIES
from inference.headings import (HeadingKeys, book_of_title, is_title, names_person, pair_reading, parse_heading,
                                phrase_readings)
from inference.page_header import (HeaderChunk, header_band, header_chunks, header_labels, label_alone,
                                   label_at_end, label_crop, same_line, value_after, value_cuts)
from inference.layout import (LayoutPredictor, RuledBottom, RuledColumn, below_table, column_rules, estimate_skew, map_box,
                              rotate_page, row_rules, ruled_cells, skew_is_significant, snap_to_cells, stacked_lines,
                              table_bottoms, x_at_height)
from inference.records import FLAGS, Severity, build_record, default_review_threshold
from inference.ensemble import reading_log_probs, text_log_probs
from inference.records.matching import bare, fold
from inference.records.normalize import normalize_field, normalize_value
from inference.records.validate import DECLARANT_IS
from inference.records.names import (given_name_readings, has_listed_surname, holds_two_names, listed_name_words,
                                     reads_as_a_person, surname_readings)
from inference.records.dates import DATE_WORDS
from inference.records.date_readings import (date_contradictions, date_readings_between, date_readings_readable,
                                             dates_out_of_order, full_date, readable_date, year_readings)
from inference.records.places import (gazetteer_names_read, office_from_wards, office_in_gazetteer, office_readings,
                                      place_breaks, place_fit, place_readings, unit_word_readings)
from inference.records.sequence import (entry_number_years_from_dates, entry_numbers_from_sequence, page_year,
                                        registration_years_from_sequence, registration_years_from_volume,
                                        sequence_reading, sequence_starts, sequence_suffix, volume_year_from_dates,
                                        vouching_pair, with_year)
from models.detection.layout import Region, box_inside

log = logging.getLogger("hotich.pages")

#: A heading read with less confidence than this names no field: the detector's keys stand.
#: 0.3 against 0.1 / 0.2 / 0.4 / 0.5 on the held-out pages of benchmarks/pages_pipeline.py with the stage-6
#: recognizer (F1 0.763 / 0.776 / 0.785 / 0.784 / 0.772); on a second set 0.714 → 0.724, a third unchanged.
MIN_HEADING_CONFIDENCE = 0.3
#: With at least this many headings read and naming keys, the page's header counts as read: a detector key
#: that none of its headings names has its key score multiplied by ``UNCONFIRMED_KEY_FACTOR``. One routed best
#: against 2 and 3 on the held-out pages of benchmarks/pages_pipeline.py, and against 3 on a second set.
MIN_HEADINGS_READ = 1
UNCONFIRMED_KEY_FACTOR = 0.25
#: Heading lines shorter than this (page pixels) are specks or rules, not print (as for the training crops).
HEADING_MIN_HEIGHT = 6
#: How far around the detector's heading boxes (page pixels) the rules of their cells are looked for.
HEADING_ZONE_MARGIN = 12
#: Choosing among a heading's readings (:meth:`PagePipeline._best_reading`): the log-probability each value
#: a reading explains is worth (log 4: one person's value over two stacked persons' needs the detector 75% sure).
READING_BONUS = float(np.log(4.0))
#: ... and the cost of a cut of the lines that is neither the detector's fields nor one value per line.
RECUT_PENALTY = float(np.log(4.0))
MAX_CUT_LINES = 8
#: ... and of each cut inside a line, where the text shows one value ending and the next beginning
#: (:func:`_break_points`), which the detector saw as one line: "Nguyễn Thị Giang 1971 Kinh" under
#: "Mẹ: họ tên, năm sinh, dân tộc". A line cut at its text has its box cut in proportion to the characters.
SPLIT_PENALTY = float(np.log(2.0))
#: Lines cut inside are looked for only while the lines' pieces are at most this many.
MAX_CUT_UNITS = 10
#: ... and of a reading that leaves one of the heading's stacked values unwritten (or its line unseen), looked
#: for only where the best cut makes a line a value it reads as none of: "Phạm Khánh" over "Phương" under "Họ
#: tên, giới tính" is one name wrapped, the gender's line not found. One value fewer also forgoes its
#: ``READING_BONUS``.
BLANK_VALUE_PENALTY = float(np.log(2.0))
#: A value the normalizer cannot read as its key at all still keeps this score (its log is the evidence).
MIN_READS_AS = 0.05
_FREE_KINDS = frozenset({ValueKind.PLACE, ValueKind.FREE_TEXT, ValueKind.ISSUING_AUTHORITY,
                         ValueKind.REGISTRATION_OFFICE, ValueKind.CAUSE_OF_DEATH})
#: Kinds whose values name a document in words ("Giấy báo tử"), never with its number. (Not an identity
#: document's type: its code is read from the words, "Chứng minh nhân dân 106632282" is still a CMND, and
#: cutting the number off such a cell lost more types than it found on the fifth set of held-out pages.)
_NAMED_DOCUMENT_KINDS = frozenset({ValueKind.DEATH_NOTICE_TYPE})
#: A whole numeric date ("15/12/2012", "3.4.16"): in a place, an office or a cause, another column's value.
_WHOLE_DATE = re.compile(r"(?<!\d)\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{2,4}(?!\d)")

DEFAULT_DETECTOR = Path(__file__).resolve().parents[1] / "models" / "zoo" / "hotich-layout-base"


def default_detector_dir() -> Path:
    """The newest released layout detector under ``models/zoo`` (``hotich-layout-*``)."""
    zoo = DEFAULT_DETECTOR.parent
    found = sorted((p for p in zoo.glob("hotich-layout-*") if (p / "config.json").is_file()),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no layout detector under {zoo}; train one with `hotich train detector` "
                                "or pass --detector")
    return found[-1]


@cache
def page_header_keys() -> frozenset[str]:
    """The keys the training layouts print once per page, in the page header (volume, page, office)."""
    from data.pages.templates import templates

    return frozenset(h.key for t in templates() if t.split == "train" for h in t.header)


def book_of_key(key: str) -> str | None:
    """The one book that has field ``key``; ``None`` for keys several books share (registration date…)."""
    owners = [book.key for book in BOOKS.values() if key in book]
    return owners[0] if len(owners) == 1 else None


@dataclass
class LineResult:
    bbox: tuple[float, float, float, float]
    text: str = ""
    confidence: float = 0.0
    detection_score: float = 0.0
    #: the detector's mean probability of each of its field keys over the line (``None`` without one)
    key_probs: np.ndarray | None = None
    #: a piece of a line cut at its text (:func:`_line_piece`): the detected line's box and its mean character
    #: width, so that the cut can move to the ink's gap (:func:`_snap_cuts`)
    cut_from: tuple[tuple[float, float, float, float], float] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"bbox": [round(v, 1) for v in self.bbox], "text": self.text,
                "confidence": round(self.confidence, 4), "detection_score": round(self.detection_score, 4)}


@dataclass
class FieldResult:
    key: str
    bbox: tuple[float, float, float, float]
    key_score: float
    detection_score: float
    lines: list[LineResult] = field(default_factory=list)
    #: the detector's mean probability of each of its field keys over the region (``None`` without one)
    key_probs: np.ndarray | None = None
    #: where the key came from: ``heading`` when the printed column heading chose it; ``label`` when the
    #: printed label of the page header it follows did (:mod:`inference.page_header`); ``detector``; or
    #: ``detector-unconfirmed`` when the page's headings were read and none names it (its key score is cut)
    key_source: str = "detector"
    #: the rectangles the field takes (:func:`_field_boxes`): one, ``bbox``, unless that would cover another
    #: field's line (a value wrapped in a merged cell); empty until the page is done
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines if line.text)

    @property
    def confidence(self) -> float:
        # The weakest line decides: one wrong line makes the whole value wrong.
        recognized = min((line.confidence for line in self.lines), default=0.0)
        return recognized * min(1.0, self.key_score / 0.5)

    def to_dict(self) -> dict:
        return {"key": self.key, "bbox": [round(v, 1) for v in self.bbox], "text": self.text,
                "confidence": round(self.confidence, 4), "key_score": round(self.key_score, 4),
                "key_source": self.key_source,
                "boxes": [[round(v, 1) for v in box] for box in (self.boxes or [self.bbox])],
                "lines": [line.to_dict() for line in self.lines]}


class HeaderFix(NamedTuple):
    """A page-header value that the rest of the page corrects or gives: its key, text, confidence, box (``None``:
    none was found), the text read (kept in the record's ``read_text``; ``None``: none) and the flag saying why."""

    key: str
    text: str
    confidence: float
    box: list[float] | None
    read_text: str | None
    flag: str


@dataclass
class HeadingResult:
    """A printed heading cell (a column or group heading, or the title) and the printed lines read in it."""

    bbox: tuple[float, float, float, float]
    detection_score: float
    lines: list[LineResult] = field(default_factory=list)
    keys: HeadingKeys | None = None
    #: whether the box is a ruled cell of the table (else the detector's box: a title, or print it took for
    #: a heading)
    ruled: bool = False

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines if line.text)

    @property
    def confidence(self) -> float:
        # The mean, not the weakest line: a heading is read to find keys, and one doubtful line of a wrapped
        # heading seldom hides them (measured against the minimum on two sets of held-out pages: F1 0.471 ->
        # 0.493 and 0.416 -> 0.423, routing precision at 0.9 96.8 -> 97.1% and 95.8 -> 97.1%).
        return float(np.mean([line.confidence for line in self.lines])) if self.lines else 0.0

    def to_dict(self) -> dict:
        keys = self.keys or HeadingKeys((), False)
        return {"bbox": [round(v, 1) for v in self.bbox], "text": self.text, "confidence": round(self.confidence, 4),
                "keys": list(keys.keys), "ordered": keys.ordered, "lines": [line.to_dict() for line in self.lines]}


def _center_inside(inner, outer, slack: float = 0.0) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] - slack <= cx <= outer[2] + slack and outer[1] - slack <= cy <= outer[3] + slack


#: A field without a line of its own that lies this much inside another field's line is a piece of that
#: value (the detector's box over its first words), not a value to read.
FRAGMENT_INSIDE = 0.6

#: A field's box covers another field's line when it holds this share of the line: detected lines of
#: neighbouring values touch.
COVERED_LINE_SHARE = 0.5
#: The kinds of value written in a word or two beside a wrapped name's last line in a merged cell, and the share
#: of such a line a field's box covers it from (:func:`_field_boxes`). A relationship's: field F1 0.9296 ->
#: 0.9311 and 0.9177 -> 0.9180 on the first two held-out sets; counting genders and ethnicities too gained as
#: much on the first and lost 0.0024 on the second (a residence's line box reaches over "Kinh" beside it).
BESIDE_LINE_KINDS = frozenset({ValueKind.RELATIONSHIP})
BESIDE_LINE_SHARE = 0.15


def _shared_confidence(confidence: float, copies: int) -> float:
    """The confidence of a value read once and copied into ``copies`` records (the page header's volume, page
    and office): ``1 - copies * (1 - confidence)``, so that a misreading, which is wrong in every copy, is
    auto-accepted no more readily than one field's would be (a page number "7" for "1" read at 0.992 is
    eight wrong fields on an eight-entry page)."""
    return max(0.0, 1.0 - max(1, copies) * (1.0 - confidence))


def _union(boxes) -> tuple[float, float, float, float]:
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _field_boxes(fields: list[FieldResult], book: str | None = None) -> None:
    """Give each of ``fields`` (one entry's, or the page header's) its ``boxes``: its own box, unless that
    covers another field's line; then its lines, in writing order, grouped into as few rectangles as cover
    none (a value wrapped in a merged cell, whose second line starts at the cell's edge under the next value),
    as the ground truth draws them (:func:`data.pages.render.field_boxes`).

    The line of a relationship of ``book`` (:data:`BESIDE_LINE_KINDS`: "Cha" beside the last line of the
    declarant's name) counts as covered from ``BESIDE_LINE_SHARE`` of it: the ground truth cuts a name's box
    wherever it would touch such a line, and the detector's line boxes of one word run a few pixels wide of
    the ink, so a name's first line may reach over a third of the word beside its second."""
    register = get_book(book) if book else None

    def beside(g: FieldResult) -> bool:
        return register is not None and g.key in register and register.field(g.key).kind in BESIDE_LINE_KINDS

    for f in fields:
        others = [(line.bbox, BESIDE_LINE_SHARE if beside(g) else COVERED_LINE_SHARE)
                  for g in fields if g is not f for line in g.lines]

        def covers(box) -> bool:
            return any(box_inside(other, box) > share for other, share in others)

        if not covers(f.bbox):
            f.boxes = [f.bbox]
            continue
        groups: list[list[LineResult]] = []
        for line in _reading_order(f.lines):
            if groups and not covers(_union(ln.bbox for ln in groups[-1] + [line])):
                groups[-1].append(line)
            else:
                groups.append([line])
        f.boxes = [_union(ln.bbox for ln in group) for group in groups]


def _stacked(a: FieldResult, b: FieldResult) -> bool:
    """Whether ``b`` lies under ``a`` as a value's next line does: named the same way, sharing columns, and no
    further below it than a line's height."""
    gap = max(a.bbox[1], b.bbox[1]) - min(a.bbox[3], b.bbox[3])
    height = min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
    return (a.key_source == b.key_source and min(a.bbox[2], b.bbox[2]) > max(a.bbox[0], b.bbox[0])
            and gap < height)


def _join_pieces(fields: list[FieldResult]) -> list[FieldResult]:
    """One entry's ``fields`` with the pieces of one value (fields of one key, one under the other
    (:func:`_stacked`): a name wrapped onto a second line that the detector took for a region of its own)
    joined into one field, at the place of its first piece; its key score is the weakest piece's.
    :func:`_field_boxes` then draws its rectangles as the ground truth does."""
    out: list[FieldResult] = []
    first: dict[str, FieldResult] = {}
    for f in fields:
        g = first.get(f.key)
        if g is None or not _stacked(g, f):
            first[f.key] = f
            out.append(f)
            continue
        pieces = (g, f)
        joined = FieldResult(g.key, _union(p.bbox for p in pieces), min(p.key_score for p in pieces),
                             float(np.mean([p.detection_score for p in pieces])),
                             _reading_order(g.lines + f.lines), key_probs=g.key_probs, key_source=g.key_source)
        out[out.index(g)] = first[f.key] = joined
    return out


def _reading_order(fields: list) -> list:
    """Fields or lines (anything with a ``bbox``): rows top to bottom, left to right inside a row; two boxes
    share a row when they overlap vertically by half the smaller height (a value flowing "name, year,
    ethnicity" along one line is one row)."""
    rows: list[list] = []
    for f in sorted(fields, key=lambda f: (f.bbox[1] + f.bbox[3]) / 2):
        row = rows[-1] if rows else None
        if row is not None:
            r0, r1 = min(g.bbox[1] for g in row), max(g.bbox[3] for g in row)
            overlap = min(r1, f.bbox[3]) - max(r0, f.bbox[1])
            if overlap >= 0.5 * min(r1 - r0, f.bbox[3] - f.bbox[1]):
                row.append(f)
                continue
        rows.append([f])
    return [f for row in rows for f in sorted(row, key=lambda f: f.bbox[0])]


def _field_of(key: str, lines: list[LineResult], parent: dict[int, FieldResult], key_score: float,
              source: str = "heading") -> FieldResult:
    """A field made of ``lines`` (its box: theirs together); ``parent`` maps each line to the detected field it
    came from, whose detection score and key probabilities the new field inherits."""
    parents = list({id(parent[id(line)]): parent[id(line)] for line in lines}.values())
    return FieldResult(key, _union(ln.bbox for ln in lines), key_score,
                       float(np.mean([f.detection_score for f in parents])),
                       _reading_order(lines), key_probs=parents[0].key_probs,
                       key_source=source)


def _split_by_line_keys(f: FieldResult, lines: list[LineResult], field_keys: list[str], book: str
                        ) -> list[FieldResult]:
    """A detected field's ``lines`` that no heading names: one field with the detector's key, unless the
    lines read as different values of ``book`` by the detector's key probabilities of each line and their
    text together ("Kinh" above "Việt Nam": an ethnicity, then a nationality); then one field per run of
    lines of one key."""
    register = get_book(book)
    mine = [i for i, k in enumerate(field_keys) if k in register]
    parent = {id(line): f for line in lines}
    ordered = _reading_order(lines)
    keys = []
    if len(lines) > 1 and mine and all(line.key_probs is not None for line in lines):
        keys = [max(mine, key=lambda i: line.key_probs[i] * np.exp(_reads_as(book, field_keys[i], line.text)))
                for line in ordered]
    if len(set(keys)) < 2:
        text = " ".join(line.text for line in ordered if line.text)
        floor = float(np.log(MIN_READS_AS))
        if mine and f.key_probs is not None and text and _reads_as(book, f.key, text) <= floor:
            # The text is no value of the detector's key ("17-2-2015" as the date in words): the likeliest key
            # it reads as ("Ngày sinh", the date in figures).
            best = max(mine, key=lambda i: f.key_probs[i] * np.exp(_reads_as(book, field_keys[i], text)))
            if field_keys[best] != f.key and _reads_as(book, field_keys[best], text) > floor:
                return [_field_of(field_keys[best], lines, parent, float(f.key_probs[best]), "detector")]
        return [f] if len(lines) == len(f.lines) else [_field_of(f.key, lines, parent, f.key_score, "detector")]
    fields = []
    for key, run in itertools.groupby(zip(keys, ordered), key=lambda pair: pair[0]):
        run = [line for _, line in run]
        score = float(np.mean([line.key_probs[key] for line in run]))
        fields.append(_field_of(field_keys[key], run, parent, score, source="detector"))
    return fields


#: Relationship forms that are also given names ("Nguyễn Văn Anh"): split off a name only after a separator
#: or in another case than the name ("TRẦN VĂN HÙNG Anh").
_RELATIONSHIP_NAME_WORDS = frozenset({"anh", "ba", "chi"})
#: A relationship read at this normalizer score or better counts as one ("Me" for "Mẹ": 0.95).
MIN_RELATIONSHIP_SCORE = 0.95


@lru_cache(maxsize=1)
def _relationship_forms() -> tuple[str, ...]:
    """Every relationship as the books write it, capitalised as it stands alone under a name ("Mẹ", "Bà nội")."""
    from data.text.vocab import RELATIONSHIPS

    return tuple(dict.fromkeys(form[:1].upper() + form[1:] for _, forms in RELATIONSHIPS.values() for form in forms))


def _ends_in_relationship(text: str) -> bool:
    """Whether the last word or two of ``text`` read as a relationship."""
    words = text.split()
    return any(_relationship_score(" ".join(words[-k:])) >= MIN_RELATIONSHIP_SCORE for k in (1, 2) if len(words) >= k)


def _in_capitals(word: str) -> bool:
    """Whether ``word`` is written in capitals: two letters at least, all capitals ("HÙNG"; not "P.", an initial)."""
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) > 1 and all(ch.isupper() for ch in letters)


@lru_cache(maxsize=1)
def _folded_relationship_forms() -> frozenset[str]:
    """:func:`_relationship_forms`, folded ("bà nội")."""
    return frozenset(fold(form) for form in _relationship_forms())


def _ends_in_relationship_form(text: str) -> bool:
    """Whether the last word or two of ``text`` are a relationship as the books write it, marks and all ("Cha",
    "Bà nội"; not "Chi", which :func:`_ends_in_relationship` takes for "Chị")."""
    words = [w.strip(" ,;-–.:") for w in text.split()]
    return any(fold(" ".join(words[-k:])) in _folded_relationship_forms() for k in (1, 2) if len(words) >= k)


def _relationship_score(text: str) -> float:
    """The normalizer's score of ``text`` as a relationship ("Cha", "Bà nội", "Con trai"), 0 when it is none.
    Two words that are a relationship's with marks misread ("ba ngoại" for "bà ngoại") count as
    ``MIN_RELATIONSHIP_SCORE``; one word so read does not, since many are given names too ("Bắc" is no "Bác")."""
    words = text.strip(" ,;-–.:").split()
    if not words or len(words) > 2:
        return 0.0
    result = normalize_value(ValueKind.RELATIONSHIP, " ".join(words))
    if "relationship_unknown" in result.flags:
        return 0.0
    if len(words) == 2 and isinstance(result.value, str) and bare(result.value) == bare(" ".join(words)):
        return max(result.score, MIN_RELATIONSHIP_SCORE)
    return result.score


def _relationship_with_more(text: str) -> bool:
    """Whether ``text`` is no relationship but begins or ends in one, other words beside it ("Chính, Cháu",
    "DẦN Con trai", "Cha Trần Thị Nhi"): the end of the name read into the relationship's value, or the other
    way round."""
    words = text.strip(" ,;-–.:").split()
    if len(words) < 2 or _relationship_score(text) >= MIN_RELATIONSHIP_SCORE:
        return False
    for k in (1, 2):
        if k >= len(words):
            continue
        # The other words are a name's (a capital, or a separator between): "Con nuôi" is one relationship.
        for part, other, between in ((words[-k:], words[:-k], words[-k - 1]), (words[:k], words[k:], words[k - 1])):
            apart = other[0][:1].isupper() or between[-1:] in (",", ";", "-", "–")
            if apart and _relationship_score(" ".join(part)) >= MIN_RELATIONSHIP_SCORE:
                return True
    return False


def _follows_name_as_relationship(text: str, name: str) -> bool:
    """Whether ``text``, written after the words ``name``, is a relationship rather than the name's end: it
    reads as one, and a relationship that is also a given name ("Anh") stands apart from the name by a
    separator or by its case ("TRẦN VĂN HÙNG Anh")."""
    if _relationship_score(text) < MIN_RELATIONSHIP_SCORE:
        return False
    words = text.strip(" ,;-–.:").split()
    if not name.strip() or len(words) > 1 or words[0].lower() not in _RELATIONSHIP_NAME_WORDS:
        return True
    separated = name.rstrip()[-1:] in (",", ";", "-", "–") or text.lstrip()[:1] in (",", ";", "-", "–")
    letters = name.strip(" ,;-–")
    return separated or (letters.isupper() and not words[0].isupper())


def _relationship_tail(text: str, name_words: int = 2) -> int | None:
    """Where a relationship written after a name on one line starts in ``text`` ("NGÔ VĂN TUẤN - Cha",
    "Lê Thị Hoa, Mẹ đẻ"), or ``None``: its last one or two words follow the name as a relationship
    (:func:`_follows_name_as_relationship`), and at least ``name_words`` words of name stand before them."""
    words = list(re.finditer(r"[^\s,;\-–]+", text))
    for size in (2, 1):
        if len(words) < size + name_words:
            continue
        start = words[-size].start()
        if _follows_name_as_relationship(text[start:], text[:start]):
            return start
    return None


#: A row of heading cells is the row of column numbers when at least this share of its cells read without a
#: letter ("1", "(2)", "13"); its other cells are numbers misread ("10" read "con").
NUMBER_ROW_SHARE = 0.6
#: A column number ("(10)") read as a word is no longer than this.
NUMBER_CELL_CHARS = 4


def _column_number_cells(headings: list[HeadingResult], min_confidence: float = 0.0) -> set[int]:
    """Indices of the heading cells in a row of column numbers: cells side by side (overlapping in height by
    half the shorter one), at least three of them, most reading without letters; or, under other heading
    cells (the title aside), read on average with less than ``min_confidence`` (numbers misread as words:
    "(2)" read "Việt", "(4)" read "tộc"); or each a word of at most ``NUMBER_CELL_CHARS`` characters right
    under a heading cell ("tộc", "tử", "127")."""
    rows: list[list[int]] = []
    for i in sorted(range(len(headings)), key=lambda i: headings[i].bbox[1]):
        top, bottom = headings[i].bbox[1], headings[i].bbox[3]
        for row in rows:
            first = headings[row[0]].bbox
            overlap = min(bottom, first[3]) - max(top, first[1])
            if overlap >= 0.5 * min(bottom - top, first[3] - first[1]):
                row.append(i)
                break
        else:
            rows.append([i])
    out: set[int] = set()
    for row in rows:
        read = [i for i in row if headings[i].text]
        bare_numbers = [i for i in read if not any(ch.isalpha() for ch in headings[i].text)]
        if len(read) < 3:
            continue
        top = min(headings[i].bbox[1] for i in row)
        under = any(headings[j].bbox[3] <= top + 4 and not is_title(headings[j].text) for j in range(len(headings))
                    if j not in row)
        unread = under and float(np.mean([headings[i].confidence for i in read])) < min_confidence
        # Each cell a short word right under a heading cell: "(4)" read "tộc", "(5)" "tộc", "(1)" "tử", read
        # surely enough to pass for headings and to come between the columns' headings and their fields.
        height = max(headings[i].bbox[3] - headings[i].bbox[1] for i in row)
        columns = [headings[j].bbox for j in range(len(headings)) if j not in row
                   and top - height <= headings[j].bbox[3] <= top + 4 and not is_title(headings[j].text)]

        def short_word_under_a_column(i: int) -> bool:
            text, box = headings[i].text.strip(), headings[i].bbox
            middle = (box[0] + box[2]) / 2
            return (len(text.strip("()., ")) <= NUMBER_CELL_CHARS and " " not in text
                    and any(b[0] <= middle <= b[2] for b in columns))

        numbered = all(short_word_under_a_column(i) for i in read)
        if len(bare_numbers) >= NUMBER_ROW_SHARE * len(read) or unread or numbered:
            out.update(row)
    return out


def _header_one_per_key(header: list[FieldResult], book: str) -> list[FieldResult]:
    """The page header's fields with two of one key sorted out: a header prints each of its values once, so of
    several fields taking one key, those whose text is no such value ("La" beside "14" as the page number: a
    stain, a label's edge) are left out where one of them is; and two numbers both taken for the volume, or
    both for the page, with the other missing, are the volume and the page in the order registers print them
    ("Quyển số: 01  Trang: 17"), unless a printed label keyed them."""
    readable = {id(f) for f in header if _reads_as(book, f.key, f.text) > np.log(MIN_READS_AS)}
    by_key: dict[str, list[FieldResult]] = {}
    for f in header:
        by_key.setdefault(f.key, []).append(f)
    dropped = {id(f) for fields in by_key.values() if any(id(g) in readable for g in fields)
               for f in fields if id(f) not in readable}
    kept = [f for f in header if id(f) not in dropped]
    for key, other in (("quyenSo", "trangSo"), ("trangSo", "quyenSo")):
        same = [f for f in kept if f.key == key]
        if (len(same) == 2 and not any(f.key == other for f in kept)
                and all(f.key_source != "label" and id(f) in readable for f in same)):
            a, b = same
            one_line = min(a.bbox[3], b.bbox[3]) > max(a.bbox[1], b.bbox[1])
            first, second = sorted(same, key=lambda f: f.bbox[0] if one_line else f.bbox[1])
            first.key, second.key = "quyenSo", "trangSo"
    return kept


def _apart(a, b) -> bool:
    """Whether two boxes stand side by side, neither reaching over the other's width (two columns, not a
    group heading above its columns)."""
    return a[2] <= b[0] or b[2] <= a[0]


#: The persons whose keys say their sex (a mother, a wife; a father, a husband) and the middle names of the
#: other sex: "Thị" names a woman, "Văn" a man, nearly without exception.
_OTHER_SEX_MIDDLE_NAME = {"me": "văn", "vo": "văn", "cha": "thị", "chong": "thị"}
#: How well a person's name reads as the name of a person of the other sex (``_reads_as``).
OTHER_SEX_NAME = 0.1


def _name_of_the_other_sex(key: str, text: str) -> bool:
    """Whether ``text``, a name under ``key``, holds the middle name of the other sex than the person of
    ``key`` is ("Dương Thị Trang" as ``chaHoTen``)."""
    other = _OTHER_SEX_MIDDLE_NAME.get(_role(key))
    return other is not None and other in (fold(w) for w in text.split()[1:-1])


def _role(key: str) -> str:
    """The person a key belongs to, by its lower-case prefix (``nyc`` of ``nycHoTen``)."""
    return re.match(r"[a-z]+", key).group(0)


#: Two persons of a book whose values share the cells under one heading ("Họ tên mẹ / họ tên cha", "Năm sinh
#: mẹ / cha"), one of whom may be missing: a birth without a father leaves the father's values unwritten.
_PARTNERS = (("me", "cha"), ("vo", "chong"))


def _values_to_the_named_partner(fields: list[FieldResult], book: str) -> None:
    """One entry's ``fields``, each value of one of two partnered persons (:data:`_PARTNERS`) who has no name in
    the entry rekeyed, in place, as the other's where the other has a name but no such value: "1968" under
    "Năm sinh mẹ / cha", taken for the father's year where the mother's name stands alone above it, is the
    mother's."""
    register = get_book(book)
    for a, b in _PARTNERS:
        for absent, named in ((a, b), (b, a)):
            keys = {f.key for f in fields}
            if absent + "HoTen" in keys or named + "HoTen" not in keys:
                continue
            for f in fields:
                other = named + f.key[len(absent):] if _role(f.key) == absent else None
                if other is not None and other in register and other not in keys:
                    keys.add(other)
                    f.key = other


def _one_person(keys: tuple[str, ...]) -> bool:
    """Whether ``keys`` are all one person's (the same role prefix: ``nycHoTen``, ``nycQuanHe``)."""
    roles = {_role(k) for k in keys}
    return len(roles) == 1 and len(keys) > 1


def _parse_entry_number(text: str | None) -> int | None:
    """The number of an entry number read as ``text`` ("146/94" → 146), else ``None``."""
    value = normalize_value(ValueKind.ENTRY_NUMBER, text).value if text else None
    m = re.match(r"\d+", value) if isinstance(value, str) else None
    return int(m[0]) if m else None


def _registration_evidence(entries: list[list[FieldResult]]) -> list[tuple[int, float]]:
    """The years a page's entries say they were registered in, each with the confidence of its reading: each
    registration date's, and each entry number's that is written with its year ("200/2005", "201/05"; a
    register numbers its entries anew each year)."""
    out = []
    for fields in entries:
        for f in fields:
            kind = ValueKind.DATE if f.key == "ngayDangKy" else ValueKind.ENTRY_NUMBER if f.key == "so" else None
            value = normalize_value(kind, f.text).value if kind is not None else None
            year = (value[:4] if kind is ValueKind.DATE else value.rpartition("/")[2]) if isinstance(value, str) else ""
            if kind is not None and len(year) == 4 and year.isdigit() and (kind is ValueKind.DATE or "/" in value):
                out.append((int(year), f.confidence))
    return out


def _registration_year(dates: list[FieldResult]) -> int | None:
    """The year of an entry's registration date as read (its one ``ngayDangKy`` field), else ``None``."""
    value = normalize_value(ValueKind.DATE, dates[0].text).value if len(dates) == 1 else None
    return int(value[:4]) if isinstance(value, str) and value[:4].isdigit() else None


def _persons_from_neighbours(cells: list[HeadingResult], alone: list[HeadingKeys], book: str) -> list[HeadingKeys]:
    """``alone`` (each heading cell's keys) with a heading that names one attribute and no person, and so
    several persons' ("Quốc tịch" → the husband's and the wife's, its group heading "Vợ" unread), narrowed to
    the person of the columns beside it: the nearest column on each side in its row that names one person's
    keys, where those on both sides (or the only one) agree. A spread prints each person's columns side by
    side."""
    roles = set(get_book(book).roles)
    person = [(lambda found: found.pop() if len(found) == 1 else None)({_role(k) for k in keys.keys})
              if keys and all(_role(k) in roles for k in keys.keys) else None for keys in alone]
    out = list(alone)
    for i, keys in enumerate(alone):
        found = {_role(k) for k in keys.keys}
        attributes = {k[len(_role(k)):] for k in keys.keys}
        if len(found) < 2 or len(attributes) != 1 or not found <= roles or names_person(cells[i].text, book):
            continue  # "Năm sinh mẹ / cha" names both persons itself
        box = cells[i].bbox
        row = [j for j in range(len(cells)) if j != i and person[j] and _apart(box, cells[j].bbox)
               and min(box[3], cells[j].bbox[3]) - max(box[1], cells[j].bbox[1])
               >= 0.5 * min(box[3] - box[1], cells[j].bbox[3] - cells[j].bbox[1])]
        left = max((j for j in row if cells[j].bbox[2] <= box[0] + 4), key=lambda j: cells[j].bbox[2], default=None)
        right = min((j for j in row if cells[j].bbox[0] >= box[2] - 4), key=lambda j: cells[j].bbox[0], default=None)
        sides = {person[j] for j in (left, right) if j is not None}
        if len(sides) == 1 and (key := sides.pop() + attributes.pop()) in keys.keys:
            out[i] = HeadingKeys((key,), True, ((key,),))
    return out


def _whole_person(keys: HeadingKeys) -> str | None:
    """The person a heading names whole (every key one person's, in no order and no reading: "Người đi khai"),
    else ``None``."""
    if keys.ordered or keys.readings or not _one_person(keys.keys):
        return None
    return _role(keys.keys[0])


def _sure_keys(keys: HeadingKeys) -> tuple[str, ...]:
    """The keys a heading names for sure: all of them in order, else its likeliest reading, else its set."""
    return keys.keys if keys.ordered else (keys.readings[0] if keys.readings else keys.keys)


def _pairs_misread(cells: list, alone: list[HeadingKeys], book: str) -> list[HeadingKeys]:
    """``alone`` with each heading read with a person its column cannot hold taken for both persons of the
    book's pair (:func:`inference.headings.pair_reading`: "Họ tên người nhận cha" is "Họ tên mẹ / họ tên
    cha"), where no other heading names either of the two keys. The declarant counts as such a person where
    another heading names the declarant's column whole ("Người đi khai")."""
    out = list(alone)
    for i, cell in enumerate(cells):
        others = [keys for j, keys in enumerate(alone) if j != i]
        # Only a surer heading beside this one (not a group heading above it) says its person is elsewhere.
        whole = {_role(alone[j].keys[0]) for j, other in enumerate(cells)
                 if j != i and _one_person(alone[j].keys) and other.confidence > cell.confidence
                 and _apart(other.bbox, cell.bbox)}
        pair = pair_reading(cell.text, book, whole)
        if pair is None or pair == alone[i].keys:
            continue
        if not set(pair) & {k for keys in others for k in _sure_keys(keys)}:
            out[i] = HeadingKeys(pair, True, (pair,))
    return out


def _relationship_across(lines: list[LineResult], name_words: int = 2) -> int | None:
    """Where the first word of a two-word relationship starts in the last but one of ``lines`` when the last
    line is its second word alone ("Lê Văn Quý Ông" above "nội"; "Lê Thị Phương", "Mẹ" above "đẻ"), or
    ``None``; at least ``name_words`` words of name stand before it, on that line or the lines above."""
    if len(lines) < 2 or len(lines[-1].text.split()) != 1:
        return None
    words = list(re.finditer(r"[^\s,;\-–]+", lines[-2].text))
    above = [line.text for line in lines[:-2]]
    if not words or len(" ".join(above).split()) + len(words) - 1 < name_words:
        return None
    start = words[-1].start()
    relation = lines[-2].text[start:] + " " + lines[-1].text
    if len(relation.split()) != 2 or not _follows_name_as_relationship(relation,
                                                                        " ".join([*above, lines[-2].text[:start]])):
        return None
    return start


@lru_cache(maxsize=1)
def _qualifiers() -> frozenset[str]:
    """The second words of the books' two-word relationships ("nội", "ngoại", "đẻ", "ruột", "trai", "gái")."""
    return frozenset(fold(form.split()[1]) for form in _relationship_forms() if len(form.split()) == 2)


def _qualifier_at_end(name: str) -> bool:
    """Whether ``name`` (two words of name at least) ends in a word that only ends a relationship ("Lê Văn Quý
    Giang nội"): the word before it is the relationship's first, whatever it was read as."""
    words = name.split()
    return len(words) >= 4 and fold(words[-1].strip(",.;")) in _qualifiers()


def _set_apart(name: str) -> bool:
    """Whether the last word of ``name`` stands apart from its two words or more before it: after a separator
    ("Nguyễn Văn Dũng, Châu", "Trần Văn Tuyên - Châu") or in small letters after a name in capitals ("BÙI THỊ
    HẰNG Cơ")."""
    head, _, word = name.rstrip().rpartition(" ")
    letters = head.strip(" ,;-–")
    if len(letters.split()) < 2 or not word:
        return False
    separated = head.rstrip()[-1:] in (",", ";", "-", "–") or word[:1] in (",", ";", "-", "–")
    return separated or (letters.isupper() and not word.isupper())


def _in_case_of(word: str, like: str) -> str:
    """``word`` written in the case of ``like`` (all capitals, a capital first, or all small)."""
    if like.isupper():
        return word.upper()
    if like.islower():
        return word.lower()
    if like[:1].isupper() and (len(like) == 1 or like[1:].islower()):
        return word[:1].upper() + word[1:].lower()
    return word


def name_readings(a: str, b: str, most_differing: int = 3, least_alike: float = 50.0) -> list[tuple[str, str]]:
    """The readings of one name written in two cells and read as ``a`` and ``b``: every choice, word by word,
    between the two readings where they differ, each written in each cell's own case (one cell may be in
    capitals). ``(text for a's cell, text for b's cell)`` per reading; none where they have different numbers
    of words, differ in no word or in more than ``most_differing``, or where two differing words are less alike
    than ``least_alike`` (rapidfuzz ratio without diacritics): names that different are two people, a
    relationship misread, not one name misread."""
    wa, wb = a.split(), b.split()
    if len(wa) != len(wb):
        return []
    differ = [i for i, (x, y) in enumerate(zip(wa, wb)) if fold(x.strip(",.;:-")) != fold(y.strip(",.;:-"))]
    if not differ or len(differ) > most_differing:
        return []
    if any(fuzz.ratio(bare(wa[i]), bare(wb[i])) < least_alike for i in differ):
        return []
    readings = []
    for choice in itertools.product((0, 1), repeat=len(differ)):
        ta, tb = list(wa), list(wb)
        for i, c in zip(differ, choice):
            word = (wa[i], wb[i])[c]
            ta[i], tb[i] = _in_case_of(word, wa[i]), _in_case_of(word, wb[i])
        readings.append((" ".join(ta), " ".join(tb)))
    return readings


def _share_words(text: str, counts: list[int]) -> list[str]:
    """``text``'s words cut into runs of ``counts`` words (one run per line), joined back by spaces."""
    words, out, start = text.split(), [], 0
    for n in counts:
        out.append(" ".join(words[start:start + n]))
        start += n
    return out


def _split_relationships(fields: list[FieldResult], book: str) -> list[FieldResult]:
    """One entry's ``fields`` with a declarant's name and relationship read as one value cut in two ("Người đi
    khai" over "NGÔ VĂN MINH TUẤN Cha", or "Cha" on the name's last line): for each person of ``book`` with a
    name and a relationship field and no relationship read yet, a name (or relationship) field whose last
    line is, or ends in, a relationship gives it up to a relationship field; a "name" that is only a
    relationship is one."""
    register = get_book(book)
    out = list(fields)
    for role in register.roles:
        keys = [f.key for f in register.fields_of(role)]
        name_key = role + "HoTen"
        relation_key = next((k for k in keys if register.field(k).kind is ValueKind.RELATIONSHIP), None)
        if name_key not in keys or relation_key is None:
            continue
        relations = [f for f in out if f.key == relation_key and f.text and f.lines]
        read = [f for f in relations if _relationship_score(f.text) >= MIN_RELATIONSHIP_SCORE]
        if read:
            # A relationship is read; a piece before it that reads as none is the name's end, which the
            # detector took for the relationship too ("Phạm Văn" above "Chính," beside "Cháu").
            order = _reading_order([f for f in out if f.key in (name_key, relation_key) and f.lines])
            first = min(order.index(f) for f in read)
            for f in relations:
                at = order.index(f)
                if f not in read and at < first and any(g.key == name_key for g in order[:at]) \
                        and not any(c.isdigit() for c in f.text):
                    f.key = name_key
            continue
        candidates = _reading_order([f for f in out if f.key in (name_key, relation_key) and f.lines])
        whole = [i for i, f in enumerate(candidates)
                 if _follows_name_as_relationship(f.text, " ".join(g.text for g in candidates[:i]))]
        if whole:
            candidates[whole[-1]].key = relation_key
            continue
        if not candidates:
            continue
        # The relationship follows the name: only the last of the person's pieces (a name the detector cut
        # in two, "ĐỖ VĂN" above "CHIẾN Cha") may end in it.
        f = candidates[-1]
        lines = _reading_order(f.lines)
        last = lines[-1]
        parent = {id(line): f for line in lines}
        # A line after other lines of the name may hold its last word alone before the relationship.
        name_words = 1 if len(candidates) > 1 or len(lines) > 1 else 2
        before = " ".join([g.text for g in candidates[:-1]] + [line.text for line in lines[:-1]])
        if len(lines) > 1 and _follows_name_as_relationship(last.text, before):
            name_lines, relation_lines = lines[:-1], [last]
        elif (split := _relationship_across(lines, name_words)) is not None:
            # A relationship of two words broken over the last two lines ("Lê Văn Quý Ông" above "nội").
            name_lines, relation_lines = _cut_across(lines, split, parent, f)
        elif (len(candidates) > 1 and len(lines) == 1 and candidates[-2].key == name_key
              and (split := _relationship_across(_reading_order(candidates[-2].lines) + lines,
                                                 1 if len(candidates) > 2 else 2)) is not None):
            # ... its second word read apart as a piece of the name ("Phạm Thị Vân, Bà" above "ngoại"): the
            # two pieces are one name and one relationship.
            g = candidates[-2]
            joined = _reading_order(g.lines) + lines
            parent.update({id(line): g for line in g.lines})
            name_lines, relation_lines = _cut_across(joined, split, parent, g)
            out.remove(f)
            f = g
        elif (start := _relationship_tail(last.text, name_words)) is not None:
            name_piece, relation_piece = _cut_line(last, start)
            parent[id(name_piece)] = parent[id(relation_piece)] = f
            name_lines, relation_lines = lines[:-1] + [name_piece], [relation_piece]
        else:
            continue
        name = _field_of(name_key, name_lines, parent, f.key_score, f.key_source)
        relation = _field_of(relation_key, relation_lines, parent, f.key_score, f.key_source)
        out[out.index(f):out.index(f) + 1] = [name, relation]
    return out


def _cut_across(lines: list[LineResult], split: int, parent: dict[int, FieldResult], f: FieldResult
                ) -> tuple[list[LineResult], list[LineResult]]:
    """``lines`` (name, then a relationship whose first word starts at character ``split`` of the last but one
    line, :func:`_relationship_across`) cut into the name's lines and the relationship's; the pieces of the cut
    line belong to ``f`` in ``parent``."""
    previous, last = lines[-2], lines[-1]
    if split == 0:
        return lines[:-2], [previous, last]
    name_piece, word = _cut_line(previous, split)
    parent[id(name_piece)] = parent[id(word)] = f
    return lines[:-2] + [name_piece], [word, last]


#: How a gender is written after a date of birth or a name on one line.
_GENDER_WORDS = frozenset({"nam", "nữ"})

#: A gender after the date of birth on its line, which the line's reading left out, is looked for in the last
#: pieces of the line's ink between these many line heights long (a blank column run starts each), read alone;
#: a piece read as a gender with at least ``GENDER_PIECE_CONFIDENCE`` is taken.
GENDER_PIECE_HEIGHTS = (0.5, 2.5)
GENDER_PIECE_CONFIDENCE = 0.5


def _last_word_pieces(work: Image.Image, box, shortest: float, longest: float
                      ) -> list[tuple[float, tuple[float, float, float, float]]]:
    """The pieces that end a line's ink (``box``, page pixels) ``shortest`` to ``longest`` px long, each
    starting where a blank column run inside the ink ends: ``(where the run starts, the piece's box)``."""
    gaps = _ink_gaps(work, box)
    if not gaps:
        return []
    x0, y0, x1, y1 = box
    trailing = [g for g in gaps if g[1] >= x1 - 1]
    end = trailing[0][0] if trailing else x1
    return [(start, (stop, y0, end, y1)) for start, stop in gaps
            if start > x0 + 1 and stop < end and shortest <= end - stop <= longest]


#: A table's count of rows is taken where it spans within this share of a whole number of rows.
ROWS_WHOLE_WITHIN = 0.35


def _rows_of_table(bottoms: list[RuledBottom], row_boxes: list) -> int | None:
    """How many rows the ruled table of a page holds, blank ones too, from the boxes of the rows found
    (``row_boxes``): the rows from the first found down to the table's bottom rule (``bottoms``, the page's
    :func:`table_bottoms`), one row pitch (the median step between the rows found) each. A blank row is seldom
    found, and those at the table's foot not at all. ``None`` where no bottom rule is found under the rows, fewer than two rows are, or
    the span is no whole number of rows (:data:`ROWS_WHOLE_WITHIN`)."""
    heights = [box[3] - box[1] for box in row_boxes]
    # A sliver the bottom rule cut off a row's box is no row.
    boxes = sorted((box for box, height in zip(row_boxes, heights) if height >= 0.5 * statistics.median(heights)),
                   key=lambda box: box[1]) if heights else []
    if len(boxes) < 2:
        return None
    pitch = statistics.median(np.diff([box[1] for box in boxes]))
    middle = statistics.median([(box[0] + box[2]) / 2 for box in boxes])
    under = [y for rule in bottoms if rule.x0 <= middle <= rule.x1 and (y := rule.y_at(middle)) > boxes[-1][1]]
    if not under or pitch <= 0:
        return None
    span = (min(under) - boxes[0][1]) / pitch
    return round(span) if abs(span - round(span)) <= ROWS_WHOLE_WITHIN and round(span) >= len(boxes) else None


def _page_from_entries(entry_numbers: list[str], rows: int) -> int | None:
    """The page that a page's entry numbers (its filled rows' "so" as read, in order: "137", "138/2015", "Số
    139") put it at, or ``None`` where too few agree (:data:`PAGE_FROM_ENTRIES_VOTES`). A register's entries run
    on from page to page, ``rows`` to a page: the page whose first row holds entry ``f`` is page
    ``(f - 1) // rows + 1``. Each number read gives the first entry as itself less its place on the page."""
    firsts: Counter[int] = Counter()
    for place, text in enumerate(entry_numbers):
        if found := re.match(r"\D*(\d+)", text):
            firsts[int(found.group(1)) - place] += 1
    if not firsts or rows < 1:
        return None
    first, votes = firsts.most_common(1)[0]
    if first < 1 or votes < PAGE_FROM_ENTRIES_VOTES or 2 * votes <= sum(firsts.values()):
        return None
    return (first - 1) // rows + 1


def _split_genders(fields: list[FieldResult], book: str) -> list[FieldResult]:
    """One entry's ``fields`` with a person's gender read on the line of their date of birth or name
    ("19/6/1972 Nữ", "Hoàng Minh Tiến nam": under "Họ tên, năm sinh, giới tính người chết", whose first line
    the recognizer read as another register's heading) cut off into the person's gender field, where the entry
    has none; such a field that is the gender alone is the gender field. A date never ends in a gender; a name
    ends in "Nam" often enough ("Trần Đăng Nam") that only a lower-case "nam" or "nữ" after it is taken."""
    register = get_book(book)
    out = list(fields)
    for role in register.roles:
        gender_key = role + "GioiTinh"
        if gender_key not in register or any(f.key == gender_key and f.text for f in out):
            continue
        for f in _reading_order([f for f in out if f.key in (role + "NgaySinh", role + "HoTen") and f.lines]):
            lines = _reading_order(f.lines)
            last = lines[-1]
            words = last.text.rstrip(" .,;").split()
            if not words or words[-1].lower() not in _GENDER_WORDS:
                continue
            if len(words) == 1 and len(lines) == 1:
                f.key = gender_key  # the gender alone, on a line of its own
                break
            if f.key.endswith("HoTen") and not words[-1].islower():
                continue
            parent = {id(line): f for line in lines}
            if len(words) == 1:  # the gender on the value's last line
                kept_lines, gender_lines = lines[:-1], [last]
            else:
                start = last.text.rstrip(" .,;").rfind(words[-1])
                kept, gender = _cut_line(last, start)
                parent[id(kept)] = parent[id(gender)] = f
                kept_lines, gender_lines = lines[:-1] + [kept], [gender]
            out[out.index(f):out.index(f) + 1] = [_field_of(f.key, kept_lines, parent, f.key_score, f.key_source),
                                                  _field_of(gender_key, gender_lines, parent, f.key_score,
                                                            f.key_source)]
            break
    return out


def _key_shares(key_probs: np.ndarray | None, keys: tuple[str, ...], index: dict[str, int]) -> np.ndarray:
    """The detector's probabilities of ``keys`` (a field's ``key_probs``), as shares summing to 1. A key the
    detector does not know takes the least of the others' (it has no opinion of it); no probabilities at
    all: equal shares."""
    known = [key_probs[index[k]] for k in keys if key_probs is not None and k in index]
    if not known or sum(known) <= 0:
        return np.full(len(keys), 1 / len(keys))
    floor = min(known)
    probs = np.array([key_probs[index[k]] if k in index else floor for k in keys], dtype=np.float64)
    return probs / probs.sum()


def _run_shares(run: list[LineResult], parent: dict[int, "FieldResult"], keys: tuple[str, ...],
                index: dict[str, int]) -> np.ndarray:
    """:func:`_key_shares` of a run of lines: the mean of its lines' own (where the detector gave them), else
    of the fields they came from."""
    own = [line.key_probs for line in run if line.key_probs is not None]
    if own:
        return np.mean([_key_shares(p, keys, index) for p in own], axis=0)
    return _key_shares(parent[id(run[0])].key_probs, keys, index)


_WORD = re.compile(r"[^\s,;]+")
#: Words that begin a date ("Lê Thị Hồng | Ngày 27 tháng 8", "Nguyễn Văn | tháng 9 năm 1950"); no person's
#: name holds one ("năm" may be a given name, "Nguyễn Văn Năm").
_DATE_START = frozenset({"ngày", "mồng", "mùng", "tháng"})
#: Words that hold a number in a date, time or address ("ngày 3 tháng 6", "10 giờ", "số 113"): no value ends there.
_NUMBER_WORDS = frozenset({"ngày", "tháng", "năm", "lúc", "giờ", "phút", "số", "thôn", "ấp", "xóm", "tổ", "khu",
                           "khóm", "đội", "bản", "phường", "quận", "đường", "phố", "ngõ", "hẻm", "kiệt", "lô"})


@cache
def _ethnicity_ends() -> frozenset[str]:
    """The last words of the ethnic groups' names and spellings, folded ("kinh", "đê", "mường")."""
    names = list(ETHNIC_GROUPS) + [v for variants in ETHNIC_VARIANTS.values() for v in variants]
    return frozenset(fold(name).split()[-1] for name in names)


@cache
def _ethnicity_readings() -> tuple[str, ...]:
    """The ethnic groups' names and their listed spellings ("Mông", "Hmông", "H'Mông", …)."""
    return tuple(dict.fromkeys([*ETHNIC_GROUPS, *(v for spellings in ETHNIC_VARIANTS.values() for v in spellings)]))


def _ends_an_ethnicity(word: str) -> bool:
    """Whether ``word`` is an ethnic group's name or its last word ("Kinh", "Ê-đê", "Đăng")."""
    folded = fold(word).split()
    return bool(folded) and folded[-1] in _ethnicity_ends()


#: Words a residence starts with ("thôn", "số", "xã"): one after an ethnicity begins the next value.
_RESIDENCE_START = frozenset({"thôn", "xóm", "làng", "đội", "ấp", "bản", "buôn", "khu", "tổ", "số", "ngõ", "hẻm",
                              "kiệt", "đường", "phố", "khóm", "cụm", "xã", "phường", "thị", "huyện", "quận",
                              "tỉnh", "thành", "tp", "tx", "tt"})


def _break_points(text: str) -> list[tuple[int, int]]:
    """Where one value may end and the next begin inside a line's ``text``, as ``(end of the left value,
    start of the right one)``: at a comma or semicolon between words, before a word that begins a date after
    one that is no date's (:data:`_DATE_START`: "Lê Thị Hồng | Ngày 27"), where a word with digits meets one
    without ("Nguyễn Thị Giang | 1971 | Kinh", "tháng 9 năm 1912 | nữ"), except beside a word that holds a
    number in a date, time or address ("ngày 3 tháng 6", "số 113"); and before the nationality "Việt Nam",
    or its "Việt" ending a line, after an ethnicity ("Kinh | Việt Nam", "Mường | Việt" above "Nam"); and after an
    ethnicity before a word that starts a residence ("Kinh | số 113 đường", "Mường | thôn 3")."""
    words = list(_WORD.finditer(text))
    points = []
    for k, (left, right) in enumerate(zip(words, words[1:])):
        between = text[left.end():right.start()]
        a, b = left.group(), right.group()
        digits_meet = any(c.isdigit() for c in a) != any(c.isdigit() for c in b)
        after = words[k + 2].group() if k + 2 < len(words) else None
        date_starts = (fold(b) in _DATE_START and not any(c.isdigit() for c in a)
                       and fold(a) not in DATE_WORDS)
        if "," in between or ";" in between or date_starts or (
                digits_meet and a.lower() not in _NUMBER_WORDS and b.lower() not in _NUMBER_WORDS) or (
                b.isalpha() and bare(b).lower() == "viet" and (after is None or bare(after).lower() == "nam")) or (
                _ends_an_ethnicity(a) and fold(b) in _RESIDENCE_START):
            points.append((left.end(), right.start()))
    return points


def _line_piece(line: LineResult, start: int, end: int) -> LineResult:
    """The part of ``line`` that its text's characters ``start:end`` take, its box cut in proportion to the
    characters (the recognizer gives no character positions)."""
    text = line.text
    x0, y0, x1, y1 = line.bbox
    width = (x1 - x0) / max(1, len(text))
    return LineResult((x0 + start * width, y0, x0 + end * width, y1), text[start:end].strip(" ,;"),
                      line.confidence, line.detection_score, line.key_probs,
                      cut_from=line.cut_from or (line.bbox, width))


def _cut_line(line: LineResult, at: int) -> tuple[LineResult, LineResult]:
    """``line`` cut before its text's character ``at`` into the value before (its trailing separators dropped)
    and the value after (:func:`_line_piece`): "NGÔ VĂN MINH TUẤN - Cha" → "NGÔ VĂN MINH TUẤN", "Cha"."""
    left, right = _line_piece(line, 0, at), _line_piece(line, at, len(line.text))
    left.text = left.text.rstrip(" ,;-–")
    return left, right


#: A cut inside a line moves to the ink's gap nearest it within this many mean character widths.
CUT_SNAP_CHARS = 3.0


def _ink_gaps(work: Image.Image, box) -> list[tuple[float, float]] | None:
    """The blank column runs ``(x_start, x_end)`` (page pixels) across a line's crop: where no stroke is, with
    the rows of a ruled line through the crop left out; ``None`` where the crop shows no clear ink."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(work.width, int(np.ceil(box[2]))), min(work.height, int(np.ceil(box[3])))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    gray = np.asarray(work.crop((x0, y0, x1, y1)).convert("L"), dtype=np.float32)
    dark, light = np.percentile(gray, 2), np.percentile(gray, 90)
    if light - dark < 40:
        return None
    ink = gray < (dark + light) / 2
    ink = ink[ink.mean(axis=1) < 0.8]  # a rule crossing the crop is ink in (nearly) every column
    if not len(ink):
        return None
    blank = np.concatenate([[False], ink.sum(axis=0) == 0, [False]])
    edges = np.flatnonzero(np.diff(blank.astype(np.int8)))
    return [(float(x0 + a), float(x0 + b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]


def _snap_cuts(work: Image.Image, lines: list[LineResult]) -> bool:
    """Move every cut of a line cut at its text (:func:`_line_piece`: in proportion to the characters, which
    handwriting does not keep) to the gap of the line's ink nearest it: the piece left of the cut then ends
    where the gap starts and the piece right of it starts where the gap ends. Both sides of one cut move to
    the same gap. Returns whether any cut moved."""
    pieces: dict[tuple, list[LineResult]] = {}
    for line in lines:
        if line.cut_from is not None:
            pieces.setdefault((tuple(line.cut_from[0]), line.cut_from[1]), []).append(line)
    moved = False
    for (source, char_width), cut in pieces.items():
        found = _ink_gaps(work, source)
        if not found:
            continue
        reach = max(6.0, CUT_SNAP_CHARS * char_width)

        def nearest(x):
            near = [g for g in found if (0 if g[0] <= x <= g[1] else min(abs(g[0] - x), abs(g[1] - x))) < reach]
            return min(near, key=lambda g: abs((g[0] + g[1]) / 2 - x), default=None)

        cut.sort(key=lambda line: line.bbox[0])
        left = [line.bbox[0] for line in cut]
        right = [line.bbox[2] for line in cut]
        # A cut is where one piece ends and the next starts; an end no piece meets (a part dropped) is a cut
        # of its own.
        for i, piece in enumerate(cut):
            after = cut[i + 1] if i + 1 < len(cut) else None
            if after is not None and after.bbox[0] - piece.bbox[2] < reach:
                gap = nearest((piece.bbox[2] + after.bbox[0]) / 2)
                if gap is not None:
                    right[i], left[i + 1] = gap[0], gap[1]
                continue
            if piece.bbox[2] < source[2] - 1 and (gap := nearest(piece.bbox[2])) is not None:
                right[i] = gap[0]
        for i, piece in enumerate(cut):
            before = cut[i - 1] if i else None
            if piece.bbox[0] > source[0] + 1 and (before is None or piece.bbox[0] - before.bbox[2] >= reach) \
                    and (gap := nearest(piece.bbox[0])) is not None:
                left[i] = gap[1]
        for piece, x0, x1 in zip(cut, left, right):
            if x1 - x0 >= 2 and (x0, x1) != (piece.bbox[0], piece.bbox[2]):
                piece.bbox, moved = (x0, piece.bbox[1], x1, piece.bbox[3]), True
    return moved


@lru_cache(maxsize=256)
def _readings_with_a_blank(readings: tuple[tuple[str, ...], ...], book: str) -> tuple[tuple[str, ...], ...]:
    """Each reading of two or more values with one of them left out (none twice), where no value beside the
    one left out is of a kind that reads anything as itself (a place, an office, a note: ``_FREE_KINDS``):
    the lines of the value left out go to its neighbours, and only a name's, a date's or a code's reading
    can say whether they belong there ("Số 96", a date misread, is a fine start for a place)."""
    register = get_book(book)

    def free(key: str) -> bool:
        return key not in register or register.field(key).kind in _FREE_KINDS

    return tuple(dict.fromkeys(reading[:i] + reading[i + 1:] for reading in readings if len(reading) > 1
                               for i in range(len(reading))
                               if not any(free(k) for k in reading[max(i - 1, 0):i] + reading[i + 1:i + 2])))


@lru_cache(maxsize=4096)
def _reads_as(book: str, key: str, text: str) -> float:
    """How well ``text`` reads as a value of ``key``: the log of the normalizer's score (floored at
    ``MIN_READS_AS``), 0 for text that anything may hold (places, offices, notes: free wording) or none; the
    floor for text the normalizer finds an error in (a date that is no date, an office without a letter), for
    a person's name as a place (:func:`inference.records.names.reads_as_a_person`), and for text that holds
    another value of its cell: words or figures beside a date, a whole date in a place, office or cause, digits
    in a death notice's type, a document's number in its authority of issue, a name's word beside a
    relationship, figures as the date in words; the floor once for each place a place holds beyond one
    (:func:`inference.records.places.place_breaks`); ``OTHER_SEX_NAME`` for a name of the other sex than the
    person of its key (:func:`_name_of_the_other_sex`)."""
    try:
        kind = get_book(book).field(key).kind
    except KeyError:
        return 0.0
    if not text:
        return 0.0
    result = normalize_value(kind, text)
    if any(FLAGS[flag].severity is Severity.ERROR for flag in result.flags if flag in FLAGS):
        # An error the normalizer finds ("01/2003" for an office: no letters) says the text is no such value.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.PERSON_NAME and any(fold(w) in _DATE_START for w in text.split()):
        # "Lê Văn An Ngày" over "mười ba tháng bảy…": the date's first word read into the name.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.PERSON_NAME and holds_two_names(text):
        # "PHẠM THỊ YẾN NGUYỄN TUẤN" over "QUYẾT" under "Họ tên mẹ / họ tên cha": the father's name, wrapped, cut
        # after its first line.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.PLACE and reads_as_a_person(text):
        # "Trần Thị Hiền" under a merged "name, residence" heading: a place is never written so.
        return float(np.log(MIN_READS_AS))
    whole = _WHOLE_DATE.search(text)
    beside = text[:whole.start()] + text[whole.end():] if whole else ""
    if kind is ValueKind.DATE and "date_extra_text" in result.flags and any(c.isdigit() for c in text) and (
            len(re.split(r"\d", text)[-1].split()) >= 2 or any(c.isdigit() for c in beside)):
        # Words after the date's last digit: the next value of the cell on the date's line ("21-8-1995 Bệnh
        # viện Phụ sản Cần Thơ" under "Ngày sinh, nơi sinh"; a single word may be a mark of the date's own),
        # or figures beside a whole date: the number's ("112/" above "1989 26/10/1989" under "Số, ngày").
        return float(np.log(MIN_READS_AS))
    if kind in _NAMED_DOCUMENT_KINDS and re.search(r"\d\d", text):
        # "Giấy báo tử 254/1969": a document's type is words; the digits are its number's, read into it.
        return float(np.log(MIN_READS_AS))
    if kind in _FREE_KINDS and kind is not ValueKind.FREE_TEXT and whole:
        # "15/12/2012 Công an tỉnh Hải Dương" as the issuing authority: the date of issue read into it. A place,
        # an office or a cause holds numbers ("Tổ 6", "số 12/3") but never a whole date; a note may.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.PERSON_NAME and _name_of_the_other_sex(key, text):
        # "Dương Thị Trang" as the father, "Nguyễn Văn Hùng" as the mother: stacked parents cut the wrong way
        # round, or a lone mother's name taken for the father's.
        return float(np.log(OTHER_SEX_NAME))
    if kind is ValueKind.ISSUING_AUTHORITY and "authority_has_number" in result.flags:
        # "CMND 059750302" as the authority of issue: the document's type and number, read as one value.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.RELATIONSHIP and _relationship_with_more(text):
        # "Chính, Cháu", "Cha Trần Thị Nhi": a relationship with a word of the name beside it.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.DATE_IN_WORDS and not any(c.isalpha() for c in text):
        # "17-2-2015" under "bằng chữ": the date in figures, the other column's.
        return float(np.log(MIN_READS_AS))
    if kind is ValueKind.PLACE and (breaks := place_breaks(text)):
        # Two stacked residences cut in the wrong place: "thôn 3, Xã Hưng Huy," over "Huyện Đông Anh thôn
        # Đình Ninh, ...": one ends in a comma, the other runs from a district back down to a village.
        return breaks * float(np.log(MIN_READS_AS))
    if kind in _FREE_KINDS:
        return 0.0
    return float(np.log(max(result.score, MIN_READS_AS)))


#: A line the detector found with less than ``NOISE_DETECTION`` and the recognizer read with less than
#: ``NOISE_CONFIDENCE`` is noise, not a value: a stroke's tail, a stain, a printed label's edge, which the
#: recognizer reads as "Họ", "Ngày", "Số". On the first set of held-out pages, 17 of the 24 such lines covered no
#: written line at all and the others mostly a sliver of one; of the lines that did cover one, the detector
#: found 9 in 10 with 0.9 or more.
#: An entry this many times taller than the page's median entry is taken for rows the detector ran together
#: (:meth:`PagePipeline.split_fused_entries`).
FUSED_ENTRY_ROWS = 1.8
NOISE_DETECTION = 0.8
NOISE_CONFIDENCE = 0.2


#: An entry's line this many times taller than the page's median entry line may be written lines one above the
#: other that the detector's line map ran together (:func:`inference.layout.stacked_lines` looks for the gaps).
STACKED_LINE_FACTOR = 1.7


def _split_stacked_lines(work: Image.Image, grouped: list[tuple[Region, list[FieldResult]]],
                         headings: list[HeadingResult], factor: float = STACKED_LINE_FACTOR) -> int:
    """Each line of the entries' fields taller than ``factor`` times their median line cut into the written lines
    stacked in it (in place; the pieces keep the line's detection score and key probabilities), but for pieces
    whose middle lies outside the line's entry (the next entry's first line) or no lower than the bottom of a
    printed heading cell over it (the row of column numbers above the first entry), and pieces lying mostly
    within another line of the field (ink that line reads already; read alone, a stroke came out "(2)");
    returns how many lines were cut. Read as one crop, two lines of a wrapped place or name
    come out as neither (the recognizer, taught one line per crop, reads a blend, or a printed heading it
    learned)."""
    heights = [line.bbox[3] - line.bbox[1] for _, members in grouped for f in members for line in f.lines]
    if not heights or not factor:
        return 0
    usual = float(np.median(heights))
    cut = 0
    for entry, members in grouped:
        top, bottom = entry.bbox[1], entry.bbox[3]
        for f in members:
            lines = []
            for line in f.lines:
                if line.bbox[3] - line.bbox[1] <= factor * usual:
                    lines.append(line)
                    continue
                pieces = stacked_lines(work, line.bbox, usual)
                others = [other.bbox for other in f.lines if other is not line]
                inside = [p for p in pieces if top <= (p[1] + p[3]) / 2 <= bottom and not any(
                    c.bbox[0] <= (p[0] + p[2]) / 2 <= c.bbox[2] and (p[1] + p[3]) / 2 <= c.bbox[3] for c in headings)
                    and not any(box_inside(p, other) > 0.5 for other in others)]
                if len(pieces) == 1 or not inside:
                    lines.append(line)
                    continue
                cut += 1
                lines += [LineResult(p, detection_score=line.detection_score, key_probs=line.key_probs) for p in inside]
            f.lines = _reading_order(lines)
    return cut


def _drop_noise_lines(fields: list[FieldResult]) -> list[LineResult]:
    """Take the noise lines (``NOISE_DETECTION``, ``NOISE_CONFIDENCE``) out of ``fields`` (in place); returns
    them. A field left without lines keeps none of its text."""
    dropped = []
    for f in fields:
        keep = []
        for line in f.lines:
            noise = line.detection_score < NOISE_DETECTION and line.confidence < NOISE_CONFIDENCE
            (dropped if noise else keep).append(line)
        f.lines = keep
    return dropped


#: The log-probability a unit name the gazetteer holds is worth in a place's reading
#: (:meth:`PagePipeline.read_places_from_gazetteer`); 0 turns the step off.
PLACE_PRIOR = 4.0
#: Rounds of :meth:`PagePipeline.read_places_from_gazetteer`: a district read right narrows its communes.
PLACE_ROUNDS = 2
#: Lines read with at least this confidence are not read again (:meth:`PagePipeline.read_again`): on 12 held-out
#: pages none of the 225 such place and name lines (of 621) changed when they were; skipping them leaves fewer
#: readings to score.
REREAD_BELOW = 0.9
#: The flags of the steps that read a value again, in the order they speak for a value two of them read.
REREAD_STEPS = ("name_read_jointly", "place_read_from_gazetteer", "place_line_end_read_again", "surname_read_from_list",
                "given_name_read_from_list", "date_read_as_a_date", "date_read_against_entry", "date_read_in_order",
                "relationship_read_again", "nationality_read_again", "entry_number_read_in_sequence",
                "gender_read_beside_date", "gender_read_again", "ethnicity_read_again")
#: How many pixels down the pipeline's recognizer reads each field line a second time, as a third member of
#: the ensemble that reads field lines (:class:`inference.ensemble.ShiftedView`); 0: not.
FIELD_VIEW_SHIFT = 2
#: The log-probability a listed surname is worth in a name's reading (:meth:`PagePipeline.read_surnames_from_list`);
#: 0 turns the step off.
SURNAME_PRIOR = 2.0
#: The log-probability each listed given or middle name is worth in a name's reading
#: (:meth:`PagePipeline.read_given_names_from_list`); 0 turns the step off.
GIVEN_NAME_PRIOR = 2.0
#: The log-probability a relationship is worth in the reading of a word alone on the last line of a name
#: (:meth:`PagePipeline.read_relationships_again`); 0 turns the step off.
RELATIONSHIP_PRIOR = 2.0
#: How many times ``relationship_prior`` a relationship is worth where a heading names the relationship (every
#: entry then holds one) and none was found.
EXPECTED_RELATIONSHIP_WEIGHT = 3.5
#: The log-probability a nationality is worth in the reading of a nationality read as none ("Con Nam" for "Việt
#: Nam" written over two lines; :meth:`PagePipeline.read_nationalities_again`); 0 turns the step off.
NATIONALITY_PRIOR = 2.0
#: A nationality's, a gender's or an ethnicity's lines are scored on their boxes grown by this share of their
#: height above and below (:meth:`PagePipeline.read_nationalities_again`, :meth:`PagePipeline._read_words_again`):
#: "Việt" stacks a mark above its "ê" and a dot below, and the
#: detector's box of it, as tall as the "Nam" beside it, cuts them off. On four such boxes of one page "Việt"
#: scored 1 to 10 nats below the misreading ("Lan", "Kinh"); grown by 0.4, 0.3 below to 15 above it.
SHORT_WORD_TALLER = 0.4
#: The log-probability a gender is worth in the reading of a gender read as none
#: (:meth:`PagePipeline.read_genders_again`; 0 turns the step off), and the ways the books write one.
GENDER_PRIOR = 2.0
GENDER_READINGS = ("Nam", "Nữ", "nam", "nữ", "NAM", "NỮ")
#: The log-probability an ethnic group's name is worth in the reading of an ethnicity read as none of them
#: (:meth:`PagePipeline.read_ethnicities_again`); 0 turns the step off.
ETHNICITY_PRIOR = 2.0
#: The log-probability a comma is worth at the end of a place's line that another line goes on from ("Thanh
#: Miện" over "Hải Dương"; :meth:`PagePipeline.read_place_line_ends_again`); 0 turns the step off.
LINE_END_COMMA_PRIOR = 2.0
#: The log-probability an entry number is worth where it runs on by one from the page's others
#: (:meth:`PagePipeline.read_entry_numbers_in_sequence`); 0 turns the step off.
SEQUENCE_PRIOR = 3.0
#: At most this many first numbers of a page's run of entry numbers are tried.
SEQUENCE_STARTS = 8
#: Heading lines the first recognizer reads with less confidence than this are read again by both
#: (:meth:`PagePipeline.read_doubtful_headings_again`).
HEADING_REREAD_BELOW = 0.5
#: The share of a detected field line's height its crop is padded with on every side. The recognizer learned
#: from crops of the lines' true boxes padded with ``LINE_PAD`` (0.15); the detector's line boxes run past the
#: ink by about a tenth of the line's height on every side (median over 1,147 lines of 12 held-out pages:
#: top -0.11, bottom +0.12, left -0.10, right +0.11 of the true height), so they take less. Chosen on the fifth
#: set of held-out pages (field exact match with 0.15 / 0.1 / 0.075 / 0.05: 65.2 / 66.0 / 66.2 / 65.1%; none at
#: all, on the first set, 1 point below 0.15).
FIELD_LINE_PAD = 0.075
#: The log-probability a reading of a page-header number as digits is worth where the number read has none
#: ("ba", "La" for a faint "1"; :meth:`PagePipeline.read_header_numbers_again`); 0 turns the step off.
HEADER_NUMBER_PRIOR = 3.0
#: A volume or page number read as no number is scored on its box grown by this share of its height above and
#: below (:meth:`PagePipeline.read_header_numbers_again`): a lone "1" is one thin stroke, and the detector's box
#: of it falls short of both its ends (14 px of a 23 px stroke). On such a box the recognizer read "Kinh", "ba";
#: grown by 0.4, it read "1" with 0.96, and "1" scored 8 to 10 nats above those.
HEADER_NUMBER_TALLER = 0.4
#: The log-probability the page number is worth where it is the page that the entry numbers put the page at
#: (:meth:`PagePipeline.read_page_number_from_entries`); 0 turns the step off.
PAGE_FROM_ENTRIES_PRIOR = 3.0
#: The entry numbers put the page at a page where at least this many of them, and more than half of those read,
#: agree on the page's first entry number.
PAGE_FROM_ENTRIES_VOTES = 3
#: The page header's numbers: the volume and the page.
HEADER_NUMBER_KEYS = ("quyenSo", "trangSo")
#: A volume or page number read doubtfully is read again from its box moved by each of these offsets (x0, y0,
#: x1, y1 in pixels: as boxed, the left edge out, the right edge out, the box up, the box down): one number
#: stands for a whole page's entries, and its reading turns on a few pixels of crop (a detector's box 4 px right
#: of the ink and 8 px taller read "4/2004" for "1/2004"; the ink's own box, "1/2004"). Boxes cut 3 px shorter
#: at the top and bottom lost strokes of small numbers: a page number "16" scored likelier as "14" on them.
HEADER_CROP_OFFSETS = ((0, 0, 0, 0), (-4, 0, 0, 0), (0, 0, 4, 0), (0, -2, 0, -2), (0, 2, 0, 2))
#: The numbers a volume or page number is read again as: 1 to 99, and 01 to 09 as volumes are often written.
HEADER_NUMBERS = tuple(str(n) for n in range(1, 100)) + tuple(f"{n:02d}" for n in range(1, 10))
#: The log-probability each contradiction among an entry's dates that a reading of a year resolves is worth
#: (:meth:`PagePipeline.read_dates_against_entry`); 0 turns the step off.
DATE_PRIOR = 3.0


def _prior(name: str, value: float, read: str) -> float:
    """``value``, a prior of :meth:`PagePipeline.read_again` named ``name``: at least 0, where 0 leaves what it is
    for (``read``) as the recognizer read it."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (0: {read} are read as the recognizer reads them), got {value}")
    return value


def _scorable(reader, text: str) -> bool:
    """Whether ``reader`` can score ``text`` by teacher forcing: no longer than its decoder reads."""
    limit = getattr(reader, "token_limit", None)
    return limit is None or len(reader.tokenizer.encode(text, add_special_tokens=False)) <= limit


def _changed_line(lines: list[str], reading: str) -> tuple[int, str] | None:
    """Where ``reading`` (the lines' texts joined by spaces, changed in one place) differs from ``lines``: the
    index of the one line the change falls in and that line's new text; ``None`` where the change spans two."""
    joined = " ".join(lines)
    prefix = 0
    while prefix < min(len(joined), len(reading)) and joined[prefix] == reading[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(joined), len(reading)) - prefix
           and joined[len(joined) - 1 - suffix] == reading[len(reading) - 1 - suffix]):
        suffix += 1
    start = 0
    for i, text in enumerate(lines):
        end = start + len(text)
        if start <= prefix and len(joined) - suffix <= end:
            return i, text[:prefix - start] + reading[prefix:len(reading) - suffix] + text[len(joined) - suffix - start:]
        start = end + 1
    return None


class PagePipeline:
    """Chains the layout predictor, the recognition runtime and the domain rules.

    ``recognizer`` is anything with ``recognize(images, batch_size=...) -> [Recognition]`` (the onnxruntime
    runtime of :mod:`inference.ort_runtime`, or a server's batcher wrapped to that shape); with
    ``field_beam_width`` above 1 it must also take ``beam_width=``: the handwritten field lines are then read
    by beam search and the printed ones (headings, page header) greedily, since a beam cut headings short.
    ``field_recognizer`` (same shape), where given, reads the handwritten field lines in its place: an ensemble
    (:mod:`inference.ensemble`) reads handwriting better, while the printed headings keep the one recognizer
    whose confidences the heading threshold was chosen on, save the heading lines it reads doubtfully
    (:meth:`read_doubtful_headings_again`). ``heading_recognizer`` (same shape), where given, reads the lines of
    the printed heading cells instead: a recognizer of print (``models/zoo/hotich-rec-print``) reads the words
    printed where one that learnt the headings of a few layouts writes the heading it knows best.
    """

    def __init__(self, layout: LayoutPredictor, recognizer, review_threshold: float | None = None,
                 batch_size: int = 32, deskew: bool = True, heading_confidence: float = MIN_HEADING_CONFIDENCE,
                 field_beam_width: int = 1, field_recognizer=None, place_prior: float = PLACE_PRIOR,
                 surname_prior: float = SURNAME_PRIOR, fused_entry_rows: float = FUSED_ENTRY_ROWS,
                 date_prior: float = DATE_PRIOR, header_number_prior: float = HEADER_NUMBER_PRIOR,
                 field_line_pad: float = FIELD_LINE_PAD, heading_recognizer=None,
                 relationship_prior: float = RELATIONSHIP_PRIOR, nationality_prior: float = NATIONALITY_PRIOR,
                 line_end_comma_prior: float = LINE_END_COMMA_PRIOR, sequence_prior: float = SEQUENCE_PRIOR,
                 given_name_prior: float = GIVEN_NAME_PRIOR, stacked_line_factor: float = STACKED_LINE_FACTOR,
                 header_crop_reads: bool = True, heading_phrase_reads: bool = True, follow_column_rules: bool = True,
                 page_from_entries_prior: float = PAGE_FROM_ENTRIES_PRIOR, gender_prior: float = GENDER_PRIOR,
                 ethnicity_prior: float = ETHNICITY_PRIOR):
        if isinstance(field_beam_width, bool) or not isinstance(field_beam_width, int) or field_beam_width < 1:
            raise ValueError(f"field_beam_width must be a whole number >= 1, got {field_beam_width!r}")
        self.layout = layout
        self.field_beam_width = field_beam_width
        self.heading_confidence = heading_confidence
        self.recognizer = recognizer
        self.field_recognizer = field_recognizer
        self.heading_recognizer = heading_recognizer
        self.review_threshold = default_review_threshold() if review_threshold is None else review_threshold
        self.batch_size = batch_size
        self.deskew = deskew
        self.place_prior = _prior("place_prior", place_prior, "places")
        self.surname_prior = _prior("surname_prior", surname_prior, "names")
        self.given_name_prior = _prior("given_name_prior", given_name_prior, "given names")
        self.date_prior = _prior("date_prior", date_prior, "dates")
        self.header_number_prior = _prior("header_number_prior", header_number_prior, "header numbers")
        self.relationship_prior = _prior("relationship_prior", relationship_prior, "relationships")
        self.nationality_prior = _prior("nationality_prior", nationality_prior, "nationalities")
        self.line_end_comma_prior = _prior("line_end_comma_prior", line_end_comma_prior, "places' line ends")
        self.sequence_prior = _prior("sequence_prior", sequence_prior, "entry numbers")
        self.page_from_entries_prior = _prior("page_from_entries_prior", page_from_entries_prior, "page numbers")
        self.gender_prior = _prior("gender_prior", gender_prior, "genders")
        self.ethnicity_prior = _prior("ethnicity_prior", ethnicity_prior, "ethnicities")
        if not 0 <= field_line_pad <= 1:
            raise ValueError(f"field_line_pad must be in [0, 1] (of a line's height), got {field_line_pad}")
        self.field_line_pad = field_line_pad
        if not fused_entry_rows > 1:
            raise ValueError(f"fused_entry_rows must be > 1 (inf: entries are never cut), got {fused_entry_rows}")
        self.fused_entry_rows = fused_entry_rows
        if stacked_line_factor and not stacked_line_factor > 1:
            raise ValueError(f"stacked_line_factor must be > 1 (of the median line's height; 0: lines are never cut), "
                             f"got {stacked_line_factor}")
        self.stacked_line_factor = stacked_line_factor
        self.header_crop_reads = header_crop_reads
        self.heading_phrase_reads = heading_phrase_reads
        self.follow_column_rules = follow_column_rules

    @classmethod
    def from_dirs(cls, detector: str | Path | None = None, recognizer: str | Path | None = None,
                  threads: int | None = None, second_recognizer: str | Path | None = None,
                  single_recognizer: bool = False, heading_recognizer: str | Path | None = None,
                  field_view_shift: int = FIELD_VIEW_SHIFT, **options) -> "PagePipeline":
        """The pipeline over model directories (each defaults to the released one).

        Field lines are read by ``recognizer`` and ``second_recognizer`` together (:mod:`inference.ensemble`),
        the heading cells' printed lines by ``heading_recognizer``, the other printed lines (the page header) by
        ``recognizer`` alone; without ``second_recognizer`` or ``heading_recognizer``, the released second
        opinion and print reader join the released recognizer (not one passed as ``recognizer``: they were
        chosen beside the released one only). ``single_recognizer`` reads everything with ``recognizer``
        alone. Beside the two, the first reads field lines moved ``field_view_shift`` pixels down
        (:class:`inference.ensemble.ShiftedView`; 0: not)."""
        from inference.evaluate import default_print_reader_dir, default_second_opinion_dir
        from inference.server import load_runtime

        if single_recognizer and (second_recognizer or heading_recognizer):
            raise ValueError("single_recognizer reads with one recognizer: pass no second_recognizer or "
                             "heading_recognizer")
        runtime, _ = load_runtime(recognizer, threads)
        second = None if single_recognizer else second_recognizer or (
            default_second_opinion_dir() if recognizer is None else None)
        if second is not None:
            from inference.ensemble import EnsembleRecognizer, field_members

            second_runtime, _ = load_runtime(second, threads)
            options["field_recognizer"] = EnsembleRecognizer(field_members(runtime, second_runtime, field_view_shift))
        print_reader = None if single_recognizer else heading_recognizer or (
            default_print_reader_dir() if recognizer is None else None)
        if print_reader is not None:
            options["heading_recognizer"], _ = load_runtime(print_reader, threads)
        return cls(LayoutPredictor(detector or default_detector_dir(), intra_op_threads=threads), runtime, **options)

    @property
    def field_keys(self) -> list[str]:
        """The detector's field keys, in the order of its key probabilities (none for a layout without them)."""
        return list(getattr(getattr(self.layout, "config", None), "field_keys", None) or [])

    @property
    def scorer(self):
        """The recognizer that scores readings by teacher forcing for the steps that read values again: the
        pipeline's own, else the field lines' reader; ``None`` where neither can (the server's micro-batcher)."""
        reader = self.recognizer if hasattr(self.recognizer, "score_batch") else self.field_recognizer
        return reader if hasattr(reader, "score_batch") else None

    # -- steps ---------------------------------------------------------------------------------------------
    def detect(self, image: Image.Image) -> tuple[dict[str, list[Region]], Image.Image, np.ndarray, float]:
        """Deskew, then the layout; boxes stay in the deskewed frame (``back`` maps them to the original)."""
        skew = estimate_skew(image) if self.deskew else 0.0
        if skew_is_significant(skew):
            work, back = rotate_page(image, skew)
        else:
            work, back = image.convert("RGB"), np.array([[1.0, 0, 0], [0, 1.0, 0]])
        return self.layout(work), work, back, skew

    @staticmethod
    def within_tables(work: Image.Image, regions: dict[str, list[Region]], bottoms: list[RuledBottom] | None = None
                      ) -> tuple[dict[str, list[Region]], int]:
        """The regions without what lies under a ruled table's bottom rule (:func:`inference.layout.table_bottoms`),
        and how many fields that dropped. Under the table a page holds only print and the signature block:
        the officer's title ("Cán bộ Tư pháp - Hộ tịch"), "(ký, ghi rõ họ tên)", a seal, a signature. The
        detector, on a layout it never saw, takes some of it for values (a declarant's name), and the last
        row's entry box runs on into it; entries are cut at the rule. Page-header fields stay wherever they
        are: they are page fields, never an entry's. ``bottoms``: the page's table bottoms where already found."""
        bottoms = table_bottoms(work) if bottoms is None else bottoms
        if not bottoms:
            return regions, 0
        header = page_header_keys()
        out = dict(regions)
        entries = []
        for entry in regions.get("entry", []):
            if below_table(entry.bbox, bottoms):
                continue
            x0, y0, x1, y1 = entry.bbox
            cx = (x0 + x1) / 2
            rule = next((b.y_at(cx) for b in bottoms if b.x0 <= cx <= b.x1 and y0 < b.y_at(cx) < y1), None)
            entries.append(dataclasses.replace(entry, bbox=(x0, y0, x1, rule)) if rule is not None else entry)
        out["entry"] = entries
        fields = regions.get("field", [])
        out["field"] = [f for f in fields if f.key in header or not below_table(f.bbox, bottoms)]
        out["line"] = [line for line in regions.get("line", []) if not below_table(line.bbox, bottoms)]
        return out, len(fields) - len(out["field"])

    @staticmethod
    def split_fused_entries(work: Image.Image, regions: dict[str, list[Region]], fused_rows: float = FUSED_ENTRY_ROWS
                            ) -> tuple[dict[str, list[Region]], int]:
        """The regions with every fused entry cut into the table rows it covers, and how many were cut.

        On a photographed page the detector's entry map sometimes runs the lower rows into one region, wider
        than the table and many rows tall; every field under it then joined one record and the other rows'
        records were lost (4 of 10 entries found on one held-out death-register spread). An entry taller than
        ``fused_rows`` times the page's median entry is cut at the table's horizontal rules
        (:func:`inference.layout.row_rules`) into rows as wide as the other entries, leaving out rows that an
        entry found on its own already holds and bands too thin or too tall to be a row; without rules there
        it stays as it was."""
        entries = regions.get("entry", [])
        if len(entries) < 3:
            return regions, 0
        pitch = statistics.median(e.bbox[3] - e.bbox[1] for e in entries)
        fused = [e for e in entries if e.bbox[3] - e.bbox[1] > fused_rows * pitch]
        rows = [e for e in entries if e.bbox[3] - e.bbox[1] <= fused_rows * pitch]
        if not fused or len(rows) < 2:
            return regions, 0
        x0 = statistics.median(e.bbox[0] for e in rows)
        x1 = statistics.median(e.bbox[2] for e in rows)
        rules = row_rules(work, (x0, x1), tolerance=0.25 * pitch)
        out, cut = list(rows), 0
        for entry in fused:
            top, bottom = entry.bbox[1] - 0.25 * pitch, entry.bbox[3] + 0.25 * pitch
            heights = [y for y in rules if top <= y <= bottom]
            bands = [(a, b) for a, b in zip(heights, heights[1:]) if 0.4 * pitch <= b - a <= fused_rows * pitch
                     and not any(r.bbox[1] <= (a + b) / 2 <= r.bbox[3] for r in rows)]
            if not bands:
                out.append(entry)
                continue
            cut += 1
            out.extend(dataclasses.replace(entry, bbox=(x0, a, x1, b)) for a, b in bands)
        return {**regions, "entry": out}, cut

    @staticmethod
    def group(regions: dict[str, list[Region]]) -> tuple[list[tuple[Region, list[FieldResult]]], list[FieldResult]]:
        """Lines → the field holding most of each line (each line in one field only, a field's lines in reading
        order); fields → the entry holding their centre; fields outside every entry are page fields (of which only
        page-header keys reach the records). Entries and fields come out top to bottom."""
        fields = [FieldResult(r.key or "", r.bbox, r.key_score, r.score, key_probs=r.key_probs)
                  for r in regions.get("field", [])]
        for line in regions.get("line", []):
            best = max(fields, key=lambda f: box_inside(line.bbox, f.bbox), default=None)
            if best is not None and box_inside(line.bbox, best.bbox) > 0.5:
                best.lines.append(LineResult(line.bbox, detection_score=line.score, key_probs=line.key_probs))
        for f in fields:
            if f.lines:
                continue
            # A field holding a line that a wider field overlapping it holds a little more of (a date's box inside
            # the place column's box below it) takes that line, where the wider one keeps others: read from its
            # own box instead, the same ink would be read twice, once into each value.
            held = [(box_inside(line.bbox, f.bbox), line, owner) for owner in fields if owner is not f
                    and len(owner.lines) > 1 for line in owner.lines if box_inside(line.bbox, f.bbox) > 0.5]
            if held:
                _, line, owner = max(held, key=lambda h: h[0])
                owner.lines.remove(line)
                f.lines.append(line)
        for f in fields:
            # In reading order: a name's last word beside its first ones, written a little higher, still ends it.
            f.lines[:] = _reading_order(f.lines)
            if not f.lines and not any(box_inside(f.bbox, line.bbox) > FRAGMENT_INSIDE for g in fields
                                       for line in g.lines):
                # The line map missed it: read the whole field region as one line. (A field lying within a
                # line that another field holds is a piece of that value, whose ink would be read twice.)
                f.lines.append(LineResult(f.bbox, detection_score=f.detection_score))
        entries = sorted(regions.get("entry", []), key=lambda r: r.bbox[1])
        grouped: list[tuple[Region, list[FieldResult]]] = [(e, []) for e in entries]
        page_fields = []
        for f in fields:
            # Rows of a tilted or warped page overlap as boxes: a field belongs to the row holding most of it,
            # and of two holding it whole, to the one whose middle is nearest.
            cy = (f.bbox[1] + f.bbox[3]) / 2
            holders = [g for g in grouped if _center_inside(f.bbox, g[0].bbox)]
            holder = max(holders, key=lambda g: (round(box_inside(f.bbox, g[0].bbox), 2),
                                                 -abs((g[0].bbox[1] + g[0].bbox[3]) / 2 - cy)), default=None)
            (holder[1] if holder else page_fields).append(f)
        for _, members in grouped:
            # Top to bottom: the pieces of one wrapped value (same key, several boxes) join in reading order.
            members.sort(key=lambda f: (f.bbox[1], f.bbox[0]))
        return grouped, page_fields

    @staticmethod
    def heading_cells(work: Image.Image, regions: dict[str, list[Region]]) -> list[HeadingResult]:
        """The printed heading cells the detector found (one without the heading map finds none), each as the
        ruled cell(s) it stands for (:func:`inference.layout.snap_to_cells`) and cut into its printed lines
        (:func:`heading_line_boxes`), top to bottom."""
        detected = regions.get("heading", [])
        if not detected:
            return []
        # The detector's boxes sit a few pixels off the rules, or span two neighbouring headings; the ruled
        # cells are exact, and a cell cut on its rules reads as the recognizer learned print.
        m = HEADING_ZONE_MARGIN
        zone = (min(r.bbox[0] for r in detected) - m, min(r.bbox[1] for r in detected) - m,
                max(r.bbox[2] for r in detected) + m, max(r.bbox[3] for r in detected) + m)
        ruled = ruled_cells(work, zone)
        snapped = snap_to_cells([r.bbox for r in detected], ruled)
        ruled = set(ruled)
        seen, cells = set(), []
        for region, boxes in zip(detected, snapped):
            for box in boxes:
                if box in seen:
                    continue
                seen.add(box)
                lines = [b for b in heading_line_boxes(work, box) if b[3] - b[1] >= HEADING_MIN_HEIGHT]
                cells.append(HeadingResult(box, region.score, [LineResult(b, detection_score=region.score)
                                                               for b in lines], ruled=box in ruled))
        return sorted(cells, key=lambda c: (c.bbox[1], c.bbox[0]))

    @staticmethod
    def header_chunks(work: Image.Image, headings: list[HeadingResult]) -> list[HeaderChunk]:
        """The ink chunks of the page header's band (:mod:`inference.page_header`), above the column headings
        and across the table, the title's cell left out; none without a table's headings."""
        ruled = [cell.bbox for cell in headings if cell.ruled]
        if len(ruled) >= 2:
            # The table's ruled heading cells say where it starts; print the detector took for headings above
            # them (a piece of the title, the header's own line) must not move the band's bottom up past the
            # header. The title's line is left out: the topmost other cell and those beside it.
            band = (max(0.0, min(b[0] for b in ruled)), 0.0, min(float(work.size[0]), max(b[2] for b in ruled)),
                    min(b[1] for b in ruled))
            above = sorted((cell.bbox for cell in headings if not cell.ruled and cell.bbox[1] < band[3]),
                           key=lambda b: b[1])
            title = [b for b in above if b[1] < above[0][3] and b[3] > above[0][1]]
            return header_chunks(work, band, exclude=title)
        boxes = [cell.bbox for cell in headings]
        band = header_band(boxes, work.size)
        if band is None:
            return []
        return header_chunks(work, band, exclude=[min(boxes, key=lambda b: b[1])])

    def read_header(self, work: Image.Image, page_fields: list[FieldResult], chunks: list[HeaderChunk],
                    label_lines: dict[int, LineResult]) -> list[FieldResult]:
        """Page fields keyed by the printed label they are written after ("Trang:" → trangSo): on a layout
        it never saw, the detector takes a page number for the volume. ``label_lines``: the print just left of
        each page field (:func:`inference.page_header.label_crop`), read, by the field's ``id``. A label with
        no value found after it gives one from the ink right of it in its chunk, read on its own (a page
        number of a stroke or two the detector missed). Label-keyed fields come out left to right."""
        labels = header_labels(chunks)
        keyed = []
        for f in page_fields:
            line = label_lines.get(id(f))
            found = label_at_end(line.text) if line is not None else None
            if found is None:
                # The detector's box may hold the label too: the chunk it starts in starts with the label.
                mid = (f.bbox[0] + f.bbox[2]) / 2
                label = next((lb for lb in labels if lb.chunk.bbox[0] <= mid <= lb.chunk.bbox[2]
                              and lb.end_x <= mid and same_line(f.bbox, lb.chunk.bbox)), None)
                found = (label.key, label.score) if label is not None else None
            if found is not None:
                f.key, f.key_score, f.key_source = found[0], found[1], "label"
                keyed.append(f)
        header = page_header_keys()
        have = {f.key for f in page_fields if f.key in header}
        missing = []
        for label in labels:
            if label.key not in have:
                # A chunk read as the label alone is cut too: a one-stroke value close after the colon ("Trang: 1")
                # joins the label's chunk, and the line's reading drops it.
                cuts = value_cuts(label.chunk)
                missing.append((label, [(LineResult(left), LineResult(right)) for left, right in cuts]))
        self.recognize_lines(work, [line for _, cuts in missing for pair in cuts for line in pair])
        for label, cuts in missing:
            if label.key in have:
                continue
            # The last cut whose left piece is the label alone: the value is what follows it. A chunk that is
            # the label alone is followed by its value's chunk.
            # What a chunk read as the label alone is cut into is a number, not the label's last word ("số").
            alone = label_alone(label.chunk.text, label.key)
            cut = next((pair for pair in reversed(cuts) if label_alone(pair[0].text, label.key)
                        and pair[1].text.strip(" :.,;") and (not alone or any(c.isdigit() for c in pair[1].text))),
                       None)
            value = cut[1] if cut is not None else None
            if value is None and alone:
                after = value_after(label.chunk, chunks)
                value = LineResult(after.bbox, after.text, after.confidence) if after is not None else None
            if value is not None:
                have.add(label.key)
                keyed.append(FieldResult(label.key, value.bbox, label.score, label.chunk.confidence,
                                         lines=[dataclasses.replace(value, detection_score=label.chunk.confidence)],
                                         key_source="label"))
        keyed.sort(key=lambda f: f.bbox[0])
        return [f for f in page_fields if f.key_source != "label"] + keyed

    def recognize_lines(self, work: Image.Image, lines: list[LineResult], beam_width: int | None = None,
                        recognizer=None, pad: float | list[float] = LINE_PAD) -> None:
        """``lines`` read in one batched call (greedy, or ``beam_width`` hypotheses per line) by ``recognizer``
        (default: the pipeline's), each cropped with ``pad`` of its height around it (:func:`crop_line`; one
        for all, or one per line)."""
        if not lines:
            return
        pads = [pad] * len(lines) if isinstance(pad, (int, float)) else list(pad)
        if len(pads) != len(lines):
            raise ValueError(f"{len(pads)} pads for {len(lines)} lines")
        crops = [np.asarray(crop_line(work, line.bbox, p).convert("RGB")) for line, p in zip(lines, pads)]
        options = {"beam_width": beam_width} if beam_width and beam_width > 1 else {}
        reader = recognizer or self.recognizer
        for line, result in zip(lines, reader.recognize(crops, batch_size=self.batch_size, **options)):
            line.text, line.confidence = result.text, float(result.confidence)

    @staticmethod
    def choose_book(fields: list[FieldResult], requested: str | None,
                    headings: list[HeadingResult] = ()) -> tuple[str, float]:
        """The requested book; else the book the page title names (its reading's confidence as the score);
        else the book most detected field keys belong to (weighted by key scores)."""
        if requested:
            return get_book(requested).key, 1.0
        for cell in headings:  # top to bottom: the title comes first
            titled = book_of_title(cell.text)
            if titled:
                return titled, cell.confidence
        votes: Counter = Counter()
        for f in fields:
            book = book_of_key(f.key)
            if book:
                votes[book] += f.key_score
        if not votes:
            return "khai_sinh", 0.0
        book, score = votes.most_common(1)[0]
        return book, score / sum(votes.values())

    def keys_of_book(self, fields: list[FieldResult], book: str) -> None:
        """Each field's detector key becomes the key of ``book`` that the detector's probabilities and the
        field's text together make likeliest (in place; :func:`_reads_as`): on a layout it never saw, the
        detector's likeliest key is often another book's ("nktHoTen" on a marriage page), which no record of
        this page could hold, or one its text cannot be ("Nam" for a name, beside the gender column). The key
        score is the detector's probability of the key chosen."""
        field_keys = self.field_keys
        register = get_book(book)
        mine = [i for i, k in enumerate(field_keys) if k in register]
        if not mine:
            return
        for f in fields:
            if f.key_probs is None or f.key_source == "label":
                continue
            text = f.text
            best = max(mine, key=lambda i: f.key_probs[i] * np.exp(_reads_as(book, field_keys[i], text)))
            if field_keys[best] != f.key:
                f.key, f.key_score = field_keys[best], float(f.key_probs[best])

    def name_fields(self, grouped: list[tuple[Region, list[FieldResult]]], headings: list[HeadingResult],
                    book: str, rules: list[RuledColumn] = ()) -> None:
        """Rebuild each entry's fields from its text lines and the printed headings above them, where they
        can be read (in place: ``grouped``'s member lists are replaced).

        A line's column heading is the lowest heading cell above it whose width holds the line's centre (followed
        up its column between the printed column ``rules`` where given: a photographed page's columns lean); the
        next one up holding it is the group heading ("Mẹ" over "Họ tên", "Năm sinh"). The heading gives the
        keys the column can mean (:func:`parse_heading`); the lines of one entry under it then make:

        - by the heading's reading that fits them best (:meth:`_best_reading`; a heading naming no person has
          one reading per person, and two stacked persons): the detector's fields, where they are as many
          as the reading's values (taken in writing order); else one field per line, where the lines are as
          many ("Họ tên mẹ / cha" over two stacked names the detector saw as one); else, for one value, one
          field of all the lines (a value the detector split);
        - else (no reading fits) the detector's fields, each with the heading's key the detector finds
          likeliest.

        A detected field reaching past its column is cut to its lines under each heading: the text lines are
        what the detector finds best on layouts it never saw. The key score becomes the heading reading's
        confidence (times the detector's share among the heading's keys in the last case), so that a doubtful
        heading sends its fields to review. Lines under no heading read with at least ``heading_confidence``,
        or under one naming none of the book's keys, stay in the detector's fields with the detector's keys;
        where the page's header was read (``MIN_HEADINGS_READ`` heading naming keys), such a key that no
        heading names keeps a fraction of its score (``UNCONFIRMED_KEY_FACTOR``): the layout has no such
        column, or its heading was not read."""
        field_keys = self.field_keys
        index = {k: i for i, k in enumerate(field_keys)}
        # The title names no column (a group heading "Người được khai sinh" does); a heading read too doubtfully
        # names nothing; nor does the row of column numbers under the headings ("(3)" read "631", "10" read
        # "con"), which would stand between a column's lines and its heading.
        numbers = _column_number_cells(headings, self.heading_confidence)
        cells = [c for i, c in enumerate(headings) if c.text and c.confidence >= self.heading_confidence
                 and not is_title(c.text) and any(ch.isalpha() for ch in c.text) and i not in numbers]
        if not cells:  # no heading read: the detector's fields, cut where their lines read as different values
            for _, members in grouped:
                members[:] = sorted((g for f in members for g in _split_by_line_keys(f, f.lines, field_keys, book)),
                                    key=lambda f: (f.bbox[1], f.bbox[0]))
            return
        alone = [parse_heading(c.text, book) for c in cells]
        # One attribute printed once per person side by side ("Họ và tên" over the husband's columns and again
        # over the wife's, their group headings unread): the persons in the book's order, left to right.
        alike: dict[tuple[str, ...], list[int]] = {}
        for i, keys in enumerate(alone):
            if keys:
                alike.setdefault(keys.keys, []).append(i)
        for keys, same in alike.items():
            apart = all(_apart(cells[i].bbox, cells[j].bbox) for i, j in itertools.combinations(same, 2))
            if 1 < len(same) == len(keys) == len({_role(k) for k in keys}) and apart:
                for i, key in zip(sorted(same, key=lambda i: cells[i].bbox[0]), keys):
                    alone[i] = HeadingKeys((key,), True, ((key,),))
        # A page prints each column once: of two headings naming the same keys, the more doubtful reading is
        # a misread ("Cán bộ hộ tịch ký, ghi rõ họ tên" read "Ngày, tháng, rõ họ tên" beside the real "Ngày,
        # tháng, năm đăng ký") and names nothing.
        for i, j in itertools.combinations(range(len(cells)), 2):
            if alone[i] and alone[i].keys == alone[j].keys:
                weaker = i if cells[i].confidence < cells[j].confidence else j
                alone[weaker] = HeadingKeys((), False)
        # Likewise a heading naming a person and some of its keys that a surer heading in another column names
        # too ("Họ tên mẹ / họ tên cha" misread "Họ tên người yêu cha": the declarant's name, beside the real
        # "Người đi khai"). One naming no person ("Quốc tịch") is a column of its own beside the person's.
        for i, j in itertools.permutations(range(len(cells)), 2):
            if (alone[i] and alone[j] and set(alone[i].keys) < set(alone[j].keys)
                    and cells[i].confidence < cells[j].confidence and _one_person(alone[j].keys)
                    and _apart(cells[i].bbox, cells[j].bbox) and names_person(cells[i].text, book)):
                alone[i] = HeadingKeys((), False)
        alone = _pairs_misread(cells, alone, book)
        alone = _persons_from_neighbours(cells, alone, book)
        # A column naming a whole person ("Người đã chết") holds that person's values that no column beside it
        # names ("Quốc tịch", "Chết": the death's date, hour, place and cause).
        whole = [_whole_person(keys) for keys in alone]
        for i, person in enumerate(whole):
            if person:
                # Only a column that is this person's alone says so ("Giấy tờ tùy thân" may be anyone's).
                elsewhere = {k for j, keys in enumerate(alone) if j != i and _apart(cells[i].bbox, cells[j].bbox)
                             and not whole[j] and keys and all(_role(k) == person for k in keys.keys)
                             for k in keys.keys}
                kept = tuple(k for k in alone[i].keys if k not in elsewhere)
                if kept and len(kept) < len(alone[i].keys):
                    alone[i] = HeadingKeys(kept, False, ())
        parsed: dict[tuple[int, int | None], tuple[HeadingKeys, float]] = {}

        heading_row = float(np.median([c.bbox[3] for c in cells]))

        def column_of(box) -> tuple[int, int | None] | None:
            """The (column heading, group heading) over ``box`` when they name keys, else ``None``."""
            cx, slack = x_at_height(rules, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, heading_row), 4.0
            above = sorted((i for i, c in enumerate(cells)
                            if c.bbox[3] <= box[1] + slack and c.bbox[0] - slack <= cx <= c.bbox[2] + slack),
                           key=lambda i: -cells[i].bbox[3])
            if not above:
                return None
            column, group = above[0], (above[1] if len(above) > 1 else None)
            if (column, group) not in parsed:
                keys = alone[column] if group is None else parse_heading(cells[column].text, book, cells[group].text)
                # A heading above that changes nothing (a wide header cell, the title misread) is no group.
                readings = [cells[column]] + ([cells[group]] if keys != alone[column] else [])
                parsed[(column, group)] = (keys, min(c.confidence for c in readings))
                cells[column].keys = keys
            return (column, group) if parsed[(column, group)][0] else None

        # The keys the page's headings name: where the header was read, a detector key none of them names
        # (a signer column on a layout without one) is doubtful, and its key score says so.
        named_keys = {key for keys in alone for key in keys.keys}
        header_read = sum(map(bool, alone)) >= MIN_HEADINGS_READ
        for _, members in grouped:
            kept: list[FieldResult] = []
            columns: dict[tuple[int, int | None], list[tuple[LineResult, FieldResult]]] = {}
            for f in members:
                unnamed = []
                for line in f.lines:
                    column = column_of(line.bbox)
                    if column is None:
                        unnamed.append(line)
                    else:
                        columns.setdefault(column, []).append((line, f))
                if len(unnamed) == len(f.lines):
                    kept += _split_by_line_keys(f, f.lines, field_keys, book)
                elif unnamed:
                    kept += _split_by_line_keys(f, unnamed, field_keys, book)
            for column, pairs in columns.items():
                allowed, trust = parsed[column]
                kept += self._fields_under(allowed, trust, pairs, index, book)
                named_keys.update(allowed.keys)
            if header_read:
                for f in kept:
                    if f.key_source == "detector" and f.key not in named_keys:
                        f.key_score *= UNCONFIRMED_KEY_FACTOR
                        f.key_source = "detector-unconfirmed"
            members[:] = sorted(kept, key=lambda f: (f.bbox[1], f.bbox[0]))

    def _fields_under(self, allowed: HeadingKeys, trust: float, pairs: list[tuple[LineResult, FieldResult]],
                      index: dict[str, int], book: str) -> list[FieldResult]:
        """The fields that the lines of one entry under one heading make (see :meth:`name_fields`); ``pairs``
        are ``(line, the detected field it came from)``."""
        parent = {id(line): f for line, f in pairs}
        lines = _reading_order([line for line, _ in pairs])
        by_field: dict[int, list[LineResult]] = {}
        for line in lines:
            by_field.setdefault(id(parent[id(line)]), []).append(line)
        # A detected field wholly under this heading keeps its own box; one reaching past it is cut to its lines.
        pieces = _reading_order([parent[id(group[0])] if len(group) == len(parent[id(group[0])].lines)
                                 else _field_of("", group, parent, 0.0) for group in by_field.values()])
        chosen = self._best_reading(allowed, pieces, lines, parent, index, book)
        if chosen is None:
            for piece in pieces:
                piece.key, piece.key_score = self._likeliest(piece, allowed.keys, index, trust, book)
                piece.key_source = "heading"
            return pieces
        fields, reading, belief = chosen
        for piece, key in zip(fields, reading):
            piece.key, piece.key_score, piece.key_source = key, trust * belief, "heading"
        return fields

    @staticmethod
    def _best_reading(allowed: HeadingKeys, pieces: list[FieldResult], lines: list[LineResult],
                      parent: dict[int, FieldResult], index: dict[str, int], book: str
                      ) -> tuple[list[FieldResult], tuple[str, ...], float] | None:
        """The fields one entry's lines under a heading make, by the reading of the heading and the cut of
        its lines into values that fit best: ``(fields, reading, belief)``, or ``None`` when none fits.

        A reading fits the detector's fields when it names as many values (they agree); the lines, one value
        each, when it names as many (stacked values the detector saw as one); all the lines together when it
        names one value (a value the detector split); and, for up to ``MAX_CUT_LINES`` lines, any cut of the
        lines (in writing order) into as many runs, at a cost of ``RECUT_PENALTY`` (a value wrapped onto a
        second line beside a value of one line: "203" above "ngày 01 / tháng 01 năm 2004").

        Each fit is scored by the detector's key probabilities (among the heading's keys), by how well each
        value's text reads as its key (:func:`_reads_as`: "203" is no date, "Nam" no name), and by
        ``READING_BONUS`` per value explained, so that two stacked persons win over one unless the detector
        is sure of one. ``belief`` is the chosen fit's share of the scores (softmax)."""
        n = len(lines)
        fits: dict[tuple, tuple[tuple[str, ...], list[list[LineResult]], list[FieldResult] | None, float]] = {}

        def fit(reading, runs, detected=None, penalty=0.0):
            # The same cut reached two ways (one detected field of one line is also "all the lines") counts once.
            fits.setdefault((reading, tuple(tuple(map(id, run)) for run in runs)), (reading, runs, detected, penalty))

        def fit_readings(readings, blank=0.0):
            for reading in readings:
                size = len(reading)
                if size == len(pieces):
                    fit(reading, [p.lines for p in pieces], pieces, penalty=blank)
                if size == n:
                    fit(reading, [[ln] for ln in lines], penalty=blank)
                if size == 1:
                    fit(reading, [lines], penalty=blank)
                if 1 < size < n <= MAX_CUT_LINES:
                    for cuts in itertools.combinations(range(1, n), size - 1):
                        bounds = [0, *cuts, n]
                        fit(reading, [lines[a:b] for a, b in zip(bounds, bounds[1:])], penalty=RECUT_PENALTY + blank)

        fit_readings(allowed.readings)
        for reading, runs, inside in PagePipeline._cuts_inside_lines(allowed, lines, parent):
            fit(reading, runs, penalty=RECUT_PENALTY + SPLIT_PENALTY * inside)
        if not fits:
            return None
        floor = float(np.log(MIN_READS_AS))
        scored: dict[tuple, tuple[float, float]] = {}  # fit -> (score, how badly its worst value reads)

        def best_fit():
            for key, (reading, runs, detected, penalty) in fits.items():
                if key in scored:
                    continue
                score, worst = READING_BONUS * len(reading) - penalty, 0.0
                for run, k in zip(runs, reading):
                    share = _run_shares(run, parent, allowed.keys, index)[allowed.keys.index(k)]
                    reads = _reads_as(book, k, " ".join(ln.text for ln in run if ln.text))
                    score += float(np.log(max(share, 1e-6))) + reads
                    worst = min(worst, reads)
                scored[key] = (score, worst)
            return max(scored, key=lambda key: scored[key][0])

        best = best_fit()
        if scored[best][1] <= floor:
            # The likeliest cut makes a line a value it reads as none of ("Phạm Khánh" over "Phương" read as the
            # gender): one of the heading's values may be unwritten, or its line unseen. Such a reading stands
            # only where every value it keeps reads as what it is.
            plain = set(scored)
            fit_readings([r for r in _readings_with_a_blank(allowed.readings, book) if r not in allowed.readings],
                         BLANK_VALUE_PENALTY)
            best_fit()
            for key in [key for key in scored if key not in plain and scored[key][1] <= floor]:
                del scored[key]
            best = max(scored, key=lambda key: scored[key][0])
        scores = np.array([score for score, _ in scored.values()])
        reading, runs, detected, _ = fits[best]
        fields = detected or [_field_of("", run, parent, 0.0) for run in runs]
        return fields, reading, float(np.exp(scored[best][0] - scores.max()) / np.exp(scores - scores.max()).sum())

    @staticmethod
    def _cuts_inside_lines(allowed: HeadingKeys, lines: list[LineResult], parent: dict[int, FieldResult]):
        """The cuts of ``lines`` into as many values as a reading names that cut at least one line inside, at
        its text's break points (:func:`_break_points`): ``(reading, runs of lines, cuts inside)``. A line cut
        inside is replaced in its runs by its pieces (:func:`_line_piece`, added to ``parent``)."""
        units = []  # (line index, start, end) in writing order
        for i, line in enumerate(lines):
            points = _break_points(line.text)
            starts = [0] + [b for _, b in points]
            ends = [a for a, _ in points] + [len(line.text)]
            units += [(i, a, b) for a, b in zip(starts, ends)]
        n = len(units)
        if n == len(lines) or n > MAX_CUT_UNITS:
            return
        inside_at = {k for k in range(1, n) if units[k][0] == units[k - 1][0]}
        pieces: dict[tuple[int, int, int], LineResult] = {}

        def run_of(part):
            run = []
            for i, group in itertools.groupby(part, key=lambda u: u[0]):
                group = list(group)
                start, end = group[0][1], group[-1][2]
                if start == 0 and end == len(lines[i].text):
                    run.append(lines[i])
                    continue
                if (i, start, end) not in pieces:
                    piece = pieces[(i, start, end)] = _line_piece(lines[i], start, end)
                    parent[id(piece)] = parent[id(lines[i])]
                run.append(pieces[(i, start, end)])
            return run

        for reading in allowed.readings:
            size = len(reading)
            if not 1 < size <= n:
                continue
            for cuts in itertools.combinations(range(1, n), size - 1):
                inside = len(inside_at.intersection(cuts))
                if inside:
                    bounds = [0, *cuts, n]
                    yield reading, [run_of(units[a:b]) for a, b in zip(bounds, bounds[1:])], inside

    @staticmethod
    def _likeliest(f: FieldResult, keys: tuple[str, ...], index: dict[str, int], trust: float,
                   book: str) -> tuple[str, float]:
        """The key of ``keys`` that the detector's probabilities and the field's text together make likeliest
        (:func:`_reads_as`), with ``trust`` times its share."""
        reads = np.array([np.exp(_reads_as(book, k, f.text)) for k in keys])
        odds = _key_shares(f.key_probs, keys, index) * reads
        best = int(odds.argmax())
        return keys[best], trust * float(odds[best] / odds.sum())

    def header_fields(self, page_fields: list[FieldResult], book: str) -> list[FieldResult]:
        """The page fields that are the page header's (volume, page, office; :func:`page_header_keys`), each
        keyed by the header key that the detector and its text together make likeliest: the detector, on a
        layout it never saw, takes a volume number "01/2003" for the office, which no office reads as."""
        register = get_book(book)
        keys = tuple(k for k in sorted(page_header_keys()) if k in register)
        field_keys = self.field_keys
        index = {k: i for i, k in enumerate(field_keys)}
        header = [f for f in page_fields if f.key in keys]
        for f in header:
            if f.key_probs is not None and len(keys) > 1 and f.key_source != "label":
                f.key, share = self._likeliest(f, keys, index, 1.0, book)
                f.key_score = min(f.key_score, share) if f.key_score else share
        return _header_one_per_key(header, book)

    @staticmethod
    def header_values_from_labels(page_fields: list[FieldResult], chunks: list[HeaderChunk], book: str
                                  ) -> dict[int, str]:
        """A page-header number read again with its printed label: the chunk of the header line that starts
        with the label ("Quyển 01", read as one line) reads a small or faint value in the context of the
        label, where the detector's box of the value alone may read a stroke as letters ("La" for "1") or a
        "0" as a "1". The value the chunk reads after its label (or, for a label read alone, the chunk that
        follows it) replaces the field's where it reads as a value of the key and differs from the field's,
        and either the field's reads as no such value or the chunk was read the surer. Changes fields in
        place; returns ``{id(field): the text read}`` for those it changed. Boxes in the working image."""
        changed: dict[int, str] = {}
        floor = float(np.log(MIN_READS_AS))
        register = get_book(book)
        for label in header_labels(chunks):
            # The office is free wording: that the chunk's reading reads as one says nothing of which is right.
            if label.key not in HEADER_NUMBER_KEYS or label.key not in register:
                continue
            chunk = label.chunk
            value = chunk.text[label.end:].strip(" :.,;")
            if not value:
                after = value_after(chunk, chunks)
                if after is None:
                    continue
                chunk, value = after, after.text.strip(" :.,;")
            value_start = label.end_x if chunk is label.chunk else chunk.bbox[0]
            height = chunk.bbox[3] - chunk.bbox[1]
            near = [f for f in page_fields if f.key == label.key and same_line(f.bbox, chunk.bbox)
                    and value_start - height <= (f.bbox[0] + f.bbox[2]) / 2 <= chunk.bbox[2] + height]
            # A value the detector found in pieces ("Tr." and "6") is for _header_one_per_key to sort out.
            if len(near) != 1 or id(near[0]) in changed:
                continue
            (f,) = near
            value_reads, text_reads = _reads_as(book, f.key, value), _reads_as(book, f.key, f.text)
            if (value_reads <= floor or value_reads < text_reads
                    or normalize_field(book, f.key, value).value == normalize_field(book, f.key, f.text).value
                    or text_reads > floor and chunk.confidence <= f.confidence):
                continue
            changed[id(f)] = f.text
            f.lines = [LineResult(_union(line.bbox for line in f.lines) if f.lines else f.bbox, value,
                                  chunk.confidence, chunk.confidence)]
        return changed

    def read_header_numbers_again(self, work: Image.Image, page_fields: list[FieldResult], book: str
                                  ) -> dict[int, str]:
        """The volume or page number read as no number at all ("ba", "La": a faint or one-stroke "1" in the
        detector's box) is read again as each of :data:`HEADER_NUMBERS`, scored by teacher forcing on its crop
        grown by ``HEADER_NUMBER_TALLER`` of its height above and below, ``header_number_prior`` for a reading that
        is a number (:meth:`read_again`, one round)."""
        register = get_book(book)
        keys = Counter(f.key for f in page_fields)
        # One of two pieces of a value ("Tr." beside "6") is for _header_one_per_key to sort out.
        numbers = [f for f in page_fields if f.key in HEADER_NUMBER_KEYS and f.key in register
                   and keys[f.key] == 1 and len(f.lines) == 1 and not any(c.isdigit() for c in f.text)]
        # Every reading offered is a number both keys read as one; the readings being replaced have no digit.
        return self.read_again(work, numbers, lambda text: list(HEADER_NUMBERS),
                               lambda text: float(any(c.isdigit() for c in text)), self.header_number_prior, 1,
                               pad=LINE_PAD, taller=HEADER_NUMBER_TALLER)

    def read_header_numbers_from_crops(self, work: Image.Image, page_fields: list[FieldResult], book: str
                                       ) -> dict[int, str]:
        """The volume or page number read with less than ``REREAD_BELOW`` confidence is read from its box moved by
        each of :data:`HEADER_CROP_OFFSETS`: every text so read is scored by teacher forcing on every one of those
        crops, and the text with the highest median log-probability stands (its confidence the least of its
        probabilities on them).
        Returns ``{id(field): the text it read}`` for every field it changed; nothing with ``header_crop_reads``
        off or without a recognizer that scores readings."""
        reader = self.scorer
        if not self.header_crop_reads or reader is None:
            return {}
        register = get_book(book)
        # A number read as no number is for read_header_numbers_again; so is a text without digits read from a
        # moved crop (the label beside it, "Số").
        numbers = [f for f in page_fields if f.key in HEADER_NUMBER_KEYS and f.key in register and len(f.lines) == 1
                   and any(c.isdigit() for c in f.lines[0].text) and f.lines[0].confidence < REREAD_BELOW]
        if not numbers:
            return {}
        moved = [[LineResult((x0 + a, y0 + b, x1 + c, y1 + d)) for a, b, c, d in HEADER_CROP_OFFSETS
                  if y1 + d - (y0 + b) >= 4] for x0, y0, x1, y1 in (f.lines[0].bbox for f in numbers)]
        self.recognize_lines(work, [line for lines in moved for line in lines], recognizer=self.field_recognizer)
        read = {}
        for f, lines in zip(numbers, moved):
            line = f.lines[0]
            texts = list(dict.fromkeys([line.text] + [m.text for m in lines if any(c.isdigit() for c in m.text)
                                                      and _scorable(reader, m.text)]))
            if len(texts) < 2 or not _scorable(reader, line.text):
                continue
            crops = [np.asarray(crop_line(work, m.bbox, LINE_PAD).convert("RGB")) for m in lines]
            scores = np.asarray(reading_log_probs(reader, crops, [(j, t) for t in texts for j in range(len(crops))]),
                                dtype=np.float64).reshape(len(texts), len(crops))
            # The median, not the sum: a crop that cuts a stroke off or takes one in ("3" moved down read "8")
            # speaks for a misreading by many nats.
            best = int(np.argmax(np.median(scores, axis=1)))
            if best:
                read[id(f)] = line.text
                line.text, line.confidence = texts[best], float(np.exp(scores[best].min()))
        return read

    def read_page_number_from_entries(self, work: Image.Image, header: list[FieldResult], page: int | None
                                      ) -> dict[int, str]:
        """The page number read again as ``page``, the page the entry numbers put the page at
        (:func:`_page_from_entries`, over the rows :func:`_rows_of_table` counts), where it reads otherwise ("3"
        for a "13" whose "1" is a thin hooked stroke): that page, written in the form read ("Tr. 3" as "Tr. 13"),
        is scored by teacher forcing against the reading on the number's crop
        (grown by ``HEADER_NUMBER_TALLER`` of its height above and below) and stands if its log-probability plus
        ``page_from_entries_prior`` is the higher.
        Returns ``{id(field): the text it read}`` where it changed the page number; nothing with a prior of 0 or
        without a recognizer that scores readings."""
        reader = self.scorer
        pages = [f for f in header if f.key == "trangSo" and len(f.lines) == 1 and f.lines[0].text]
        if not self.page_from_entries_prior or reader is None or len(pages) != 1:
            return {}
        (f,), line = pages, pages[0].lines[0]
        digits = re.findall(r"\d+", line.text)
        if page is None or digits and int(digits[-1]) == page:
            return {}
        reading = re.sub(r"\d+(?=\D*$)", str(page), line.text) if digits else str(page)
        if not (_scorable(reader, line.text) and _scorable(reader, reading)):
            return {}
        x0, y0, x1, y1 = line.bbox
        grow = HEADER_NUMBER_TALLER * (y1 - y0)
        crop = np.asarray(crop_line(work, (x0, y0 - grow, x1, y1 + grow), LINE_PAD).convert("RGB"))
        old, new = reading_log_probs(reader, [crop], [(0, line.text), (0, reading)])
        if new + self.page_from_entries_prior <= old:
            return {}
        read, line.text, line.confidence = line.text, reading, float(np.exp(new))
        return {id(f): read}

    @staticmethod
    def _entry_numbers(entries: list[list[FieldResult]], dates: list[list[FieldResult]],
                       years: list[int | None]) -> list[tuple[str | None, float, str | None]]:
        """Per filled entry (its fields; its registration-date fields and their year, :func:`_registration_year`),
        top to bottom: ``(number, confidence, flag)``, the entry number its
        neighbours fix (:func:`inference.records.sequence.entry_numbers_from_sequence`) with the weaker of the
        two neighbours' readings as its confidence, else the number written with the year of the page's
        registration dates where its own year contradicts them
        (:func:`inference.records.sequence.entry_number_years_from_dates`), with the weaker of its own reading
        and the dates'; ``(None, 0.0, None)`` to keep the number read."""
        so = [[f for f in fields if f.key == "so"] for fields in entries]
        values = [normalize_value(ValueKind.ENTRY_NUMBER, " ".join(f.text for f in fs)).value if fs else None
                  for fs in so]
        dated = entry_number_years_from_dates(values, years)
        # The year fixed first, so that a number read with a wrong year still vouches for its neighbours.
        sequence = entry_numbers_from_sequence([d or v for d, v in zip(dated, values)])
        year = page_year(years)
        date_confidence = min((f.confidence for fs, y in zip(dates, years) if y == year for f in fs), default=0.0)
        out = []
        for i, (fs, by_year, fixed) in enumerate(zip(so, dated, sequence)):
            if not fs:
                # An entry whose number the detector missed (a one- or two-digit number is a speck on the page)
                # takes the number its vouching neighbours count to (never one counted from afar), as unseen:
                # confidence 0, for review.
                vouched = fixed is not None and fixed[1] == vouching_pair(i, len(so))
                out.append((fixed[0], 0.0, "entry_number_unseen") if vouched else (None, 0.0, None))
            elif fixed is not None:
                number, (a, b) = fixed
                out.append((number, min(f.confidence for f in so[a] + so[b]), "entry_number_from_sequence"))
            elif by_year is not None:
                out.append((by_year, min([date_confidence] + [f.confidence for f in fs]), "entry_number_year_from_dates"))
            else:
                out.append((None, 0.0, None))
        return out

    def read_entry_numbers_in_sequence(self, work: Image.Image, entries: list[list[FieldResult]]) -> dict[int, str]:
        """The page's entry numbers read again as one run, where those read do not run on by one: for each first
        number worth trying (:func:`inference.records.sequence.sequence_starts`), every entry whose number field
        holds one line is read as the number the run gives it (:func:`~inference.records.sequence.sequence_reading`,
        the page's way of writing its numbers), by teacher forcing on its crop; the run whose readings are
        likeliest over the page stands, and each entry takes its number there where that, with
        ``sequence_prior`` in its favour, beats its reading as it stands. Numbers misread down a page ("45/1988",
        "năm", "4/2005", "14/2005", "19/2005" for 43 and 45 to 48) leave no two neighbours to vouch for the
        others (:func:`~inference.records.sequence.entry_numbers_from_sequence`), but the crops, read together,
        may; a misreading the crops share ("12", "42", "13", "16" for 71, 72, 73, 76, a hand's 7 read as 1) they
        cannot undo. Two neighbours read running on by one stay as read and give the run's start (their crops read
        "113", "114": the run from 112 only, whatever a third crop's "182" reads likelier as). ``entries``: the
        filled entries' fields, top to bottom. Returns ``{id(field): the text it read}`` for every number field
        it changed (the pipeline's own recognizer scores, as in :meth:`read_again`)."""
        reader = self.scorer
        if not self.sequence_prior or reader is None:
            return {}
        rows: list[tuple[int, FieldResult, LineResult]] = []
        for i, fields in enumerate(entries):
            so = [f for f in fields if f.key == "so"]
            lines = [line for f in so for line in f.lines if line.text]
            if len(so) == 1 and len(lines) == 1:
                rows.append((i, so[0], lines[0]))
        texts = [None] * len(entries)
        for i, _, line in rows:
            texts[i] = line.text
        numbers = [_parse_entry_number(t) for t in texts]
        read = [(i, n) for i, n in enumerate(numbers) if n is not None]
        if len(rows) < 3 or (len(read) == len(entries) and len({n - i for i, n in read}) == 1):
            return {}  # too few to count on, or already in sequence
        # Two neighbours read running on by one vouch for each other: they stay as read, and fix the run's start.
        anchored = {i for i, n in read if any(0 <= j < len(numbers) and numbers[j] is not None
                                              and numbers[j] - j == n - i for j in (i - 1, i + 1))}
        starts = sorted({numbers[i] - i for i in anchored}) or sequence_starts(texts, SEQUENCE_STARTS)
        rows = [row for row in rows if row[0] not in anchored]
        suffix = sequence_suffix(texts)
        options: list[tuple[int, int, str]] = []  # (start, row, reading)
        for start in starts:
            for r, (i, _, line) in enumerate(rows):
                options += [(start, r, t) for t in sequence_reading(line.text, start + i, suffix)
                            if _scorable(reader, t)]
        if not options:
            return {}
        crops = [np.asarray(crop_line(work, line.bbox, self.field_line_pad).convert("RGB")) for _, _, line in rows]
        logs = reading_log_probs(reader, crops, [(r, line.text) for r, (_, _, line) in enumerate(rows)]
                                 + [(r, t) for _, r, t in options])
        as_read, scored = logs[:len(rows)], logs[len(rows):]
        best: dict[tuple[int, int], tuple[float, str]] = {}  # (start, row) -> its likeliest reading there
        for (start, r, t), score in zip(options, scored):
            if (start, r) not in best or score > best[(start, r)][0]:
                best[(start, r)] = (float(score), t)

        def in_run(start: int, r: int) -> tuple[float, str]:
            """Row ``r``'s reading in the run from ``start`` and its log-probability: as read, where it reads so."""
            i, _, line = rows[r]
            if numbers[i] == start + i:
                return float(as_read[r]), line.text
            return best.get((start, r), (-np.inf, line.text))

        starts = {start for start, _, _ in options}
        chosen = max(sorted(starts), key=lambda start: sum(max(in_run(start, r)[0], as_read[r] - self.sequence_prior)
                                                           for r in range(len(rows))))
        changed = {}
        for r, (i, f, line) in enumerate(rows):
            score, text = in_run(chosen, r)
            if text != line.text and score + self.sequence_prior > as_read[r]:
                changed[id(f)] = f.text
                line.text, line.confidence = text, float(np.exp(score))
        return changed

    def read_names_jointly(self, work: Image.Image, entries: list[list[FieldResult]], book: str) -> dict[int, str]:
        """Where an entry's relationship makes the declarant one of the persons named in the entry (the declarant
        "is the father") and the two names are read differently by a letter or two, both cells take the reading
        of the one name likeliest on all their lines' crops together (:func:`name_readings`,
        :func:`inference.ensemble.text_log_probs`; a name on two lines is scored line by line, its words
        shared out as each line read them), each line's confidence its probability on its own crop. Returns
        ``{id(field): the text it read}`` for every field of a name it changed; nothing without a recognizer
        that scores readings (the server's micro-batcher does not)."""
        reader = self.field_recognizer or self.recognizer
        relation_key, persons = DECLARANT_IS.get(book, (None, {}))
        if relation_key is None or not hasattr(reader, "score_batch") or not hasattr(reader, "token_limit"):
            return {}
        changed: dict[int, str] = {}
        for fields in entries:
            relations = [f for f in fields if f.key == relation_key]
            if len(relations) != 1:
                continue
            other = persons.get(normalize_field(book, relation_key, relations[0].text).value)
            sides = [[f for f in fields if f.key == key] for key in ("nycHoTen", other)]
            lines = [[line for f in side for line in f.lines if line.text.split()] for side in sides]
            if not all(lines):
                continue
            readings = name_readings(*(" ".join(line.text for line in side) for side in lines))
            counts = [[len(line.text.split()) for line in side] for side in lines]
            # Per reading, the text of each line of both sides, in the order of the crops.
            texts = [[chunk for side_text, side_counts in zip(reading, counts)
                      for chunk in _share_words(side_text, side_counts)] for reading in readings]
            if not texts or max(len(reader.tokenizer.encode(t, add_special_tokens=False))
                                for row in texts for t in row) > reader.token_limit:
                continue
            every_line = [line for side in lines for line in side]
            crops = [np.asarray(crop_line(work, line.bbox, self.field_line_pad).convert("RGB")) for line in every_line]
            scores = text_log_probs(reader, crops, texts)
            best = int(scores.sum(axis=1).argmax())
            if all(t == line.text for t, line in zip(texts[best], every_line)):
                continue
            for side in sides:
                for f in side:
                    changed[id(f)] = f.text
            for line, text, score in zip(every_line, texts[best], scores[best]):
                line.text, line.confidence = text, float(np.exp(score))
        return changed

    def read_places_from_gazetteer(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each place is read again against the gazetteer: every reading with one unit name replaced by a
        gazetteer name near it (:func:`inference.records.places.place_readings`) competes with the reading as it
        stands, scored by teacher forcing on the crop of the line it changes plus ``place_prior`` per unit name
        the gazetteer holds (:func:`gazetteer_names_read`); ``PLACE_ROUNDS`` rounds, one name each
        (:meth:`read_again`). Then each unit word misread at the start of a part ("Kinh Cà Mau", "Thành Hồ Hải
        Dương") is read as the unit word near it (:func:`inference.records.places.unit_word_readings`), at the same
        prior per point of :func:`place_fit` (one round)."""
        register = get_book(book)
        places = [f for f in fields if f.key in register and register.field(f.key).kind is ValueKind.PLACE]
        read = self.read_again(work, places, place_readings, gazetteer_names_read, self.place_prior, PLACE_ROUNDS)
        for i, text in self.read_again(work, places, unit_word_readings, place_fit, self.place_prior, 1).items():
            read.setdefault(i, text)
        return read

    def read_place_line_ends_again(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each line of a place but its last that ends in a letter or digit where the next line starts with one
        ("Thanh Miện" over "Hải Dương") is read again with a comma after it (a dash where the place separates its
        units with dashes and no comma), by teacher forcing on its crop, the mark worth ``line_end_comma_prior``.
        A comma ending a line lies at the crop's very edge, where the detector's box may stop a few pixels short
        of the ink (on one held-out page, the three lines read without their comma had boxes ending 3–4 px short
        of the true ones; the thirteen read with it, from 2 px short to 3 px past), and the greedy reading then
        ends without it; where the writer wrote none, the crop gives a comma little probability. Without the
        comma between two of its units a place reads as another text, and the gazetteer match splits places at
        commas. Returns ``{id(field): the text it read}`` for every field it changed (the pipeline's own
        recognizer scores, as in :meth:`read_again`)."""
        reader = self.scorer
        if not self.line_end_comma_prior or reader is None:
            return {}
        register = get_book(book)
        ends: list[tuple[FieldResult, LineResult]] = []
        for f in fields:
            if f.key not in register or register.field(f.key).kind is not ValueKind.PLACE:
                continue
            lines = [line for line in f.lines if line.text]
            ends += [(f, line) for line, after in zip(lines, lines[1:]) if line.text[-1].isalnum()
                     and after.text[0].isalnum() and _scorable(reader, line.text + " -")]
        if not ends:
            return {}
        read = {id(f): f.text for f, _ in ends}
        # A place written with dashes between its units ("Phường Phạm Thái - Kinh Môn -") ends a line with one.
        marks = [" -" if " - " in f.text and "," not in f.text else "," for f, _ in ends]
        crops = [np.asarray(crop_line(work, line.bbox, self.field_line_pad).convert("RGB")) for _, line in ends]
        logs = reading_log_probs(reader, crops, [(i, line.text) for i, (_, line) in enumerate(ends)]
                                 + [(i, line.text + mark) for i, ((_, line), mark) in enumerate(zip(ends, marks))])
        for (f, line), mark, old, new in zip(ends, marks, logs[:len(ends)], logs[len(ends):]):
            if new - old + self.line_end_comma_prior > 0:
                line.text, line.confidence = line.text + mark, float(np.exp(new))
        return {id(f): read[id(f)] for f, _ in ends if f.text != read[id(f)]}

    def read_surnames_from_list(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each person's name whose first word is no surname on the list (:data:`data.text.names.SURNAMES`,
        the clans of nearly every Vietnamese) is read again with each listed surname near that word in its
        place (:func:`inference.records.names.surname_readings`), ``surname_prior`` for a listed surname
        (:meth:`read_again`, one round)."""
        register = get_book(book)
        names = [f for f in fields if f.key in register and register.field(f.key).kind is ValueKind.PERSON_NAME]
        return self.read_again(work, names, surname_readings, has_listed_surname, self.surname_prior, 1)

    def read_given_names_from_list(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each person's name of two to four words with a word after its first that is no listed given or middle
        name (:func:`inference.records.names.given_name_readings`: "NGUYỄN THỊ HÀNG", where the recognizer lost
        the breve of "HẰNG") is read again with each listed name near that word in its place, ``given_name_prior``
        per listed word (:meth:`read_again`, two rounds: two such words)."""
        register = get_book(book)
        names = [f for f in fields if f.key in register and register.field(f.key).kind is ValueKind.PERSON_NAME]
        return self.read_again(work, names, given_name_readings, listed_name_words, self.given_name_prior, 2)

    def read_nationalities_again(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each nationality read as none the books write ("Con Nam", "Việt THONG": "Việt Nam" over two lines, one
        of them misread) is read again as each nationality (:data:`data.text.vocab.NATIONALITIES`) that changes
        one of its lines, by teacher forcing on that line's crop grown by ``SHORT_WORD_TALLER`` of its height
        above and below, ``nationality_prior`` for a nationality (:meth:`read_again`, one round)."""
        register = get_book(book)

        def known(text: str) -> int:
            return int("nationality_unknown" not in normalize_value(ValueKind.NATIONALITY, text).flags)

        unknown = [f for f in fields if f.key in register and register.field(f.key).kind is ValueKind.NATIONALITY
                   and f.text and not known(f.text)]

        def readings(text: str) -> list[str]:
            upper = text.isupper() and len(text) > 2
            return [name.upper() if upper else name for name in NATIONALITIES if name != text]

        return self.read_again(work, unknown, readings, known, self.nationality_prior, 1, taller=SHORT_WORD_TALLER)

    def read_relationships_again(self, work: Image.Image, fields: list[FieldResult], book: str,
                                 expected: Collection[str] = ()) -> dict[int, str]:
        """One entry's declarant (or other person with a relationship field) with no relationship read, whose
        name ends in a word alone on its last line that reads as no relationship ("Mẹ" read "Nữ" or "Hà" under
        the name in "Người đi khai"): that word is read again as each relationship the books write
        (:data:`data.text.vocab.RELATIONSHIPS`), by teacher forcing on the line's crop, ``relationship_prior``
        for a relationship (:meth:`read_again`, one round); :func:`_split_relationships` then gives a
        relationship so read its own field. Where ``expected`` (the keys the page's headings name) holds the
        role's relationship, every entry holds one, so a name of four words or more without one is read again too
        (its last word, or its last two of five words or more, as each relationship), against relationships
        written as the books write them, at ``EXPECTED_RELATIONSHIP_WEIGHT`` times the prior. Returns
        ``{id(line): the text it read}`` for every line changed."""
        if not self.relationship_prior:
            return {}
        register = get_book(book)
        candidates: list[FieldResult] = []
        promised: set[int] = set()  # id(name field) of the roles whose relationship a heading names
        qualified: set[int] = set()  # id(name field) of the names ending in a relationship's second word
        for role in register.roles:
            keys = [f.key for f in register.fields_of(role)]
            relation_key = next((k for k in keys if register.field(k).kind is ValueKind.RELATIONSHIP), None)
            if role + "HoTen" not in keys or relation_key is None:
                continue
            if any(f.key == relation_key and f.text for f in fields):
                continue
            # The name's last line, or the last of its pieces where the name came in several fields.
            names = _reading_order([f for f in fields if f.key == role + "HoTen" and f.lines])
            if not names:
                continue
            last = names[-1].lines[-1]
            alone = len(last.text.split()) == 1 and (len(names) > 1 or len(names[0].lines) > 1)
            # A word alone on a line under the name, set apart from the name by a separator or its case
            # ("Nguyễn Văn Dũng, Châu", "BÙI THỊ HẰNG Cơ"), or before a word that only ends a relationship
            # ("Lê Văn Quý Giang nội"); a word that only continues the line is the name's end ("Đức Chi"),
            # whose letters say more.
            # Where a heading names the relationship, every entry holds one: a name of four words or more
            # without one written as the books write it ends in it, misread ("Dương Đình Đức Chi" for "Cha").
            whole = " ".join(f.text for f in names)
            if relation_key in expected:
                named, ends = len(whole.split()) >= 4, _ends_in_relationship_form(whole)
            else:
                named, ends = False, _ends_in_relationship(whole)
            if (_reading_order(names[-1].lines)[-1] is last and last.text.split()
                    and (alone or named or _set_apart(names[-1].text) or _qualifier_at_end(whole))
                    and not any(ch.isdigit() for ch in last.text.split()[-1]) and not ends):
                candidates.append(names[-1])
                if relation_key in expected:
                    promised.add(id(names[-1]))
                if _qualifier_at_end(whole):
                    qualified.add(id(names[-1]))
        if not candidates:
            return {}
        texts = {" ".join(line.text for line in f.lines if line.text) for f in candidates}
        # The last piece of a name that came in several fields ("Nguyễn Văn Toàn" and "Chợ đẻ"), ending in a
        # relationship's second word: its words before that one are the relationship's first.
        qualified_texts = {" ".join(line.text for line in f.lines if line.text)
                           for f in candidates if id(f) in qualified}
        promised_texts = {" ".join(line.text for line in f.lines if line.text)
                          for f in candidates if id(f) in promised}
        before = {id(line): line.text for f in candidates for line in f.lines}

        def readings(text: str) -> list[str]:
            if text not in texts:
                return []
            words = text.split(" ")
            if _qualifier_at_end(text) or (text in qualified_texts and len(words) >= 2):
                # The first word of each relationship of two words ending in the qualifier read.
                qualifier = fold(words[-1].strip(",.;"))
                firsts = {form.split()[0] for form in _relationship_forms()
                          if len(form.split()) == 2 and fold(form.split()[1]) == qualifier}
                word = words[-2]
                firsts = {w.upper() if _in_capitals(word) else w for w in firsts}
                return [" ".join([*words[:-2], w, words[-1]]) for w in sorted(firsts) if w != word]
            head, _, word = text.rpartition(" ")
            if fold(word.strip(",.;")) in _qualifiers():
                # "trai" alone under "Kon": a relationship's second word, its first misread in the line above.
                return []
            forms = [form.upper() if _in_capitals(word) else form for form in _relationship_forms()]
            out = [f"{head} {form}".strip() for form in forms if form != word]
            if text in promised_texts and len(words) >= 5:
                # A relationship of two words misread as two ("Phạm Hữu Tâm Chết nơi" for "Cháu nội").
                out += [" ".join([*words[:-2], form]) for form in forms if len(form.split()) == 2]
            return out

        steps = (([f for f in candidates if id(f) in promised], _ends_in_relationship_form,
                  self.relationship_prior * EXPECTED_RELATIONSHIP_WEIGHT),
                 ([f for f in candidates if id(f) not in promised], _ends_in_relationship, self.relationship_prior))
        for group, known, prior in steps:
            if group:
                self.read_again(work, group, readings, lambda text, known=known: int(known(text)), prior, 1)
        return {id(line): before[id(line)] for f in candidates for line in f.lines
                if id(line) in before and line.text != before[id(line)]}

    def read_doubtful_headings_again(self, work: Image.Image, headings: list[HeadingResult]) -> None:
        """Heading lines the first recognizer read with less than ``HEADING_REREAD_BELOW`` confidence, read again
        by the field recognizer (both models together, where there is one); the surer of the two readings
        stands (in place). A held-out layout's heading the first recognizer cannot read, it often writes as a
        training layout's ("Họ tên, năm sinh, dân tộc, nơi thường trú của" for "Họ tên, năm sinh, giới"); every
        heading read by both read worse on the first set of held-out pages."""
        doubtful = [line for cell in headings for line in cell.lines if line.confidence < HEADING_REREAD_BELOW]
        if not doubtful or self.field_recognizer is None:
            return
        first = [(line.text, line.confidence) for line in doubtful]
        self.recognize_lines(work, doubtful, recognizer=self.field_recognizer)
        for line, (text, confidence) in zip(doubtful, first):
            if line.confidence < confidence:
                line.text, line.confidence = text, confidence

    def read_headings_as_phrases(self, work: Image.Image, headings: list[HeadingResult]) -> None:
        """The lines of each heading cell read with less than ``heading_confidence`` (which would name nothing)
        read again as the printed phrases they are near (:func:`inference.headings.phrase_readings`: "Ngày sinh,
        số sinh" → "Ngày sinh, nơi sinh"), scored by teacher forcing on the line's crop by the reader of the
        headings; the likeliest reading stands where it is likelier than the line as read, its probability on the
        crop its confidence (in place). Greedy reading is no search: it took "số" there, while "nơi" scored
        0.39 nats likelier on the crop. Nothing with ``heading_phrase_reads`` off or without a reader that
        scores readings."""
        reader = self.heading_recognizer or self.recognizer
        if not self.heading_phrase_reads or not hasattr(reader, "score_batch"):
            return
        lines = [line for cell in headings if cell.lines and cell.confidence < self.heading_confidence
                 for line in cell.lines if line.text and line.confidence < self.heading_confidence
                 and _scorable(reader, line.text)]
        work_items = [(line, texts) for line in lines
                      if len(texts := [line.text] + [t for t in phrase_readings(line.text) if _scorable(reader, t)]) > 1]
        if not work_items:
            return
        crops = [np.asarray(crop_line(work, line.bbox, LINE_PAD).convert("RGB")) for line, _ in work_items]
        scores = reading_log_probs(reader, crops, [(j, t) for j, (_, texts) in enumerate(work_items) for t in texts])
        at = 0
        for line, texts in work_items:
            mine = scores[at:at + len(texts)]
            at += len(texts)
            best = int(np.argmax(mine))
            if best:
                line.text, line.confidence = texts[best], float(np.exp(mine[best]))

    def read_dates_against_entry(self, work: Image.Image, entries: list[list[FieldResult]], book: str) -> dict[int, str]:
        """In each entry whose dates contradict one another (:data:`inference.records.date_readings.
        DATE_CONTRADICTIONS`: a mother born after her child's fourth year, a death after its registration), each
        date but the registration's (which its neighbours on the page vouch for) is read again with one digit
        of its year changed, among the years that leave fewer contradictions (:func:`year_readings`),
        ``date_prior`` per contradiction resolved (:meth:`read_again`, one round), until none is left."""
        register = get_book(book)
        changed: dict[int, str] = {}
        if not self.date_prior:
            return changed
        for fields in entries:
            own = [f for f in fields if f.key in register and f.text]

            def texts(field=None, text=None):
                return [(f.key, text if f is field else f.text) for f in own]

            if not date_contradictions(book, texts()):
                continue
            dates = [f for f in own if f.key != "ngayDangKy" and register.field(f.key).kind is ValueKind.DATE]
            for f in dates:
                counts: dict[str, int] = {}

                def broken(text, field=f):
                    if text not in counts:
                        counts[text] = date_contradictions(book, texts(field, text))
                    return counts[text]

                changed.update(self.read_again(work, [f], lambda text: [r for r in year_readings(text)
                                                                        if broken(r) < broken(text)],
                                               lambda text: -broken(text), self.date_prior, 1))
                if not date_contradictions(book, texts()):
                    break
        return changed

    def read_genders_beside_dates(self, work: Image.Image, entries: list[list[FieldResult]], book: str
                                  ) -> list[FieldResult]:
        """A person's gender written after their date of birth on its line ("11/09/1926 Nữ"), which the line's
        reading left out (the recognizer ends many a line at its date), for each person of an entry with no
        gender field: the last pieces of the date line's ink (:data:`GENDER_PIECE_HEIGHTS`) are read alone, and
        the surest reading that is a gender (at least :data:`GENDER_PIECE_CONFIDENCE`) becomes the gender field,
        and the date's line, ending where its piece starts, is read again. The fields are added to ``entries``
        (in place) and returned."""
        register = get_book(book)
        tries: list[tuple[list[FieldResult], FieldResult, LineResult, str, float, LineResult]] = []
        for members in entries:
            for role in register.roles:
                gender_key = role + "GioiTinh"
                if gender_key not in register or any(f.key == gender_key for f in members):
                    continue
                date = next((f for f in members if f.key == role + "NgaySinh" and f.lines), None)
                line = _reading_order(date.lines)[-1] if date is not None else None
                if line is None or not re.search(r"\d\W*$", line.text or ""):
                    continue  # no date read, or it ends in a word: a gender there was read (_split_genders)
                height = line.bbox[3] - line.bbox[1]
                shortest, longest = (share * height for share in GENDER_PIECE_HEIGHTS)
                tries += [(members, date, line, gender_key, start,
                           LineResult(piece, detection_score=line.detection_score))
                          for start, piece in _last_word_pieces(work, line.bbox, shortest, longest)]
        self.recognize_lines(work, [piece for *_, piece in tries], recognizer=self.field_recognizer,
                             pad=self.field_line_pad)
        best: dict[tuple[int, str], tuple] = {}
        for attempt in tries:
            members, _, _, gender_key, _, piece = attempt
            word = piece.text.strip(" .,;·-")
            if word.lower() in _GENDER_WORDS and piece.confidence >= GENDER_PIECE_CONFIDENCE:
                piece.text = word
                kept = best.get((id(members), gender_key))
                if kept is None or piece.confidence > kept[-1].confidence:
                    best[(id(members), gender_key)] = attempt
        found, cut = [], []
        for members, date, line, gender_key, start, piece in best.values():
            line.bbox = (line.bbox[0], line.bbox[1], start, line.bbox[3])
            date.bbox = _union(ln.bbox for ln in date.lines)
            gender = FieldResult(gender_key, piece.bbox, date.key_score, date.detection_score, [piece],
                                 key_probs=date.key_probs, key_source=date.key_source)
            members.insert(members.index(date) + 1, gender)
            found.append(gender)
            cut.append(line)
        # The date read again without the gender's ink, which may have cost it its last digit.
        self.recognize_lines(work, cut, recognizer=self.field_recognizer, pad=self.field_line_pad)
        return found

    def read_ethnicities_again(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each ethnicity read as none of the list, or near several ("Sơn", "Tài", "con" for "Tày", "Tày",
        "Ê-đê"), is read again as each ethnic group and its listed spellings (:meth:`_read_words_again`),
        ``ethnicity_prior`` for a name the list holds as read. One near a single name ("Nường") is that one: it
        stands."""
        def doubtful(text: str) -> bool:
            flags = normalize_value(ValueKind.ETHNICITY, text).flags
            return "ethnicity_unknown" in flags or "ambiguous_match" in flags

        return self._read_words_again(work, fields, book, ValueKind.ETHNICITY, doubtful, _ethnicity_readings(),
                                      lambda text: int(not normalize_value(ValueKind.ETHNICITY, text).flags),
                                      self.ethnicity_prior)

    def read_genders_again(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each gender read as none ("194", "VN" for a "nữ" of two or three strokes) is read again as each way the
        books write a gender (:meth:`_read_words_again`), ``gender_prior`` for a gender."""
        def known(text: str) -> int:
            return int("gender_unknown" not in normalize_value(ValueKind.GENDER, text).flags)

        return self._read_words_again(work, fields, book, ValueKind.GENDER, lambda text: not known(text),
                                      GENDER_READINGS, known, self.gender_prior)

    def _read_words_again(self, work: Image.Image, fields: list[FieldResult], book: str, kind: ValueKind, doubtful,
                          readings: tuple[str, ...], known, prior: float) -> dict[int, str]:
        """Each field of ``kind`` on one line whose text is ``doubtful(text)`` read again as each of ``readings``,
        by teacher forcing on its line's crop grown by ``SHORT_WORD_TALLER`` of its height above and below (a
        short word whose marks the detector's box cuts off), ``prior`` per ``known(text)`` (:meth:`read_again`,
        one round)."""
        register = get_book(book)
        chosen = [f for f in fields if f.key in register and register.field(f.key).kind is kind and f.text
                  and doubtful(f.text) and len(f.lines) == 1]
        return self.read_again(work, chosen, lambda text: [r for r in readings if r != text], known, prior, 1,
                               taller=SHORT_WORD_TALLER)

    def read_unreadable_dates_again(self, work: Image.Image, fields: list[FieldResult], book: str) -> dict[int, str]:
        """Each date read as no date ("19/6/193", "21.18.1997", "39.70", a year "196") is read again with one
        digit changed, dropped or added, or a run of digits cut by a separator, among the readings that are dates
        (:func:`inference.records.date_readings.date_readings_readable`), ``date_prior`` for a date
        (:meth:`read_again`, one round): a stroke missed or doubled costs a date its every use."""
        if not self.date_prior:
            return {}
        register = get_book(book)
        dates = [f for f in fields if f.key in register and register.field(f.key).kind is ValueKind.DATE
                 and f.text and not readable_date(f.text)]
        return self.read_again(work, dates, date_readings_readable, lambda text: int(readable_date(text)),
                               self.date_prior, 1)

    def read_registration_dates_in_order(self, work: Image.Image, entries: list[list[FieldResult]]
                                         ) -> dict[int, str]:
        """Each entry's registration date that lies out of the page's order (the entries are written as they are
        registered, top to bottom: :func:`inference.records.date_readings.dates_out_of_order`) is read again with
        one digit changed, dropped or added so that it falls between the dates on either side
        (:func:`~inference.records.date_readings.date_readings_between`), by teacher forcing on its line's crop,
        ``date_prior`` for a date in order (:meth:`read_again`, one round). An entry with more than one
        registration-date field is left as read. Returns ``{id(field): the text it read}``."""
        if not self.date_prior:
            return {}
        dated = [own[0] for own in ([f for f in fields if f.key == "ngayDangKy"] for fields in entries)
                 if len(own) == 1 and own[0].text]
        changed: dict[int, str] = {}
        for f, window in zip(dated, dates_out_of_order([full_date(f.text) for f in dated])):
            if window is None:
                continue
            low, high = window

            def between(text: str, low=low, high=high) -> int:
                value = full_date(text)
                return int(value is not None and low <= value <= high)

            changed.update(self.read_again(work, [f], lambda text, low=low, high=high:
                                           date_readings_between(text, low, high), between, self.date_prior, 1))
        return changed

    def read_again(self, work: Image.Image, fields: list[FieldResult], readings_of, known_in, prior: float,
                   rounds: int, pad: float | None = None, taller: float = 0.0) -> dict[int, str]:
        """Read ``fields`` again against a closed vocabulary: ``readings_of(text)`` gives the field's other
        readings (one part changed), ``known_in(text)`` how many of its parts the vocabulary holds. Each
        reading whose change falls in one line read with less than ``REREAD_BELOW`` confidence is scored by teacher forcing on that line's crop against the
        line as it stands; the reading with the highest log-probability plus ``prior`` per part known stands,
        if that beats the reading as it stands; then again, ``rounds`` times at most. A line changed takes its
        probability on its crop as its confidence. Every field's readings of a round are scored in one batch.
        Crops take ``pad`` of a line's height around it (default: ``field_line_pad``, the entries' lines'), after
        its box is grown by ``taller`` of its height above and below.
        Returns ``{id(field): the text it read}`` for every field it changed; nothing without a recognizer that
        scores readings (the server's micro-batcher does not) or with a prior of 0.

        The pipeline's own recognizer scores, not the second opinion beside it: on the fifth set of held-out
        pages both gave the same exact match (59.10% against 59.13%), and one scorer takes half the time."""
        reader = self.scorer
        if not prior or reader is None:
            return {}
        fields = [f for f in fields if any(line.text for line in f.lines)]
        read = {id(f): f.text for f in fields}
        crops: dict[int, np.ndarray] = {}
        pending = fields
        for _ in range(rounds):
            # (field, its lines with text, [(None, None, parts known now)] + [(line index, line text, parts known)])
            work_items = []
            for f in pending:
                lines = [line for line in f.lines if line.text]
                texts = [line.text for line in lines]
                if all(line.confidence >= REREAD_BELOW for line in lines):
                    continue
                current = " ".join(texts)
                options = [(None, None, known_in(current))]
                for reading in readings_of(current):
                    changed = _changed_line(texts, reading)
                    if changed is not None and lines[changed[0]].confidence < REREAD_BELOW:
                        options.append((*changed, known_in(reading)))
                if len(options) > 1:
                    work_items.append((f, lines, options))
            if not work_items:
                break
            pairs: list[tuple[LineResult, str]] = []
            for f, lines, options in work_items:
                pairs += [(lines[i], lines[i].text) for i in sorted({i for i, _, _ in options[1:]})]
                pairs += [(lines[i], text) for i, text, _ in options[1:]]
            pairs = [(line, t) for line, t in pairs if _scorable(reader, t)]
            order = list({id(line): line for line, _ in pairs}.values())
            for line in order:
                if id(line) not in crops:
                    x0, y0, x1, y1 = line.bbox
                    grown = (x0, y0 - taller * (y1 - y0), x1, y1 + taller * (y1 - y0))
                    crops[id(line)] = np.asarray(crop_line(work, grown, self.field_line_pad if pad is None
                                                           else pad).convert("RGB"))
            where = {id(line): j for j, line in enumerate(order)}
            scored = dict(zip(((id(line), t) for line, t in pairs),
                              reading_log_probs(reader, [crops[id(line)] for line in order],
                                                [(where[id(line)], t) for line, t in pairs])))
            # A field no reading changed would offer the same readings again: only those changed go on.
            pending = []
            for f, lines, options in work_items:
                known_now = options[0][2]
                best, best_gain = None, 0.0
                for i, text, known in options[1:]:
                    new, old = scored.get((id(lines[i]), text)), scored.get((id(lines[i]), lines[i].text))
                    if new is None or old is None:
                        continue
                    gain = new - old + prior * (known - known_now)
                    if gain > best_gain:
                        best, best_gain = (i, text, new), gain
                if best is not None:
                    i, text, new = best
                    lines[i].text, lines[i].confidence = text, float(np.exp(new))
                    pending.append(f)
            if not pending:
                break
        return {id(f): read[id(f)] for f in fields if f.text != read[id(f)]}

    @staticmethod
    def _registration_dates(dates: list[list[FieldResult]], years: list[int | None], header: list[FieldResult],
                            evidence: list[int] | None = None) -> list[tuple[str | None, float, str | None]]:
        """Per filled entry (its registration-date fields and their year, :func:`_registration_year`), top to
        bottom: its registration date written with the year the page's volume and most of its dates give (or of
        ``evidence``, the years its dates and entry numbers give: :func:`_registration_evidence`)
        (:func:`inference.records.sequence.registration_years_from_volume`; its confidence the weakest of its own,
        the volume's and those dates'), or, where they do not vouch for one, the year its neighbours give
        (:func:`inference.records.sequence.registration_years_from_sequence`; the weakest of its own and the
        neighbours' dates), with the flag that says which; ``(None, 0.0, None)`` to keep the date read. An entry
        with more than one registration-date field is left as read."""
        volume = [f for f in header if f.key == "quyenSo"]
        by_volume = registration_years_from_volume(
            normalize_value(ValueKind.VOLUME_NUMBER, " ".join(f.text for f in volume)).value, years,
            evidence) if volume else None
        out: list[tuple[str | None, float, str | None]] = []
        if by_volume is not None:
            for fs, own, fixed in zip(dates, years, by_volume):
                text = with_year(fs[0].text, own, fixed) if fixed is not None else None
                if text is None:
                    out.append((None, 0.0, None))
                    continue
                vouching = [f for other, year in zip(dates, years) if year == fixed for f in other]
                out.append((text, min(f.confidence for f in fs + volume + vouching), "registration_year_from_volume"))
            return out
        for fs, own, fixed in zip(dates, years, registration_years_from_sequence(years)):
            text = with_year(fs[0].text, own, fixed[0]) if fixed is not None else None
            if text is None:
                out.append((None, 0.0, None))
            else:
                a, b = fixed[1]
                out.append((text, min(f.confidence for f in fs + dates[a] + dates[b]),
                            "registration_year_from_sequence"))
        return out

    @staticmethod
    def _volume_from_dates(header: list[FieldResult], evidence: list[tuple[int, float]]) -> HeaderFix | None:
        """The page's volume number with the year its registration dates and entry numbers give
        (``evidence``: :func:`_registration_evidence`), where they contradict the year read by one digit
        (:func:`inference.records.sequence.volume_year_from_dates`), its confidence the weaker of the volume's
        and theirs."""
        volume = [f for f in header if f.key == "quyenSo"]
        if not volume:
            return None
        read = " ".join(f.text for f in volume)
        fixed = volume_year_from_dates(normalize_value(ValueKind.VOLUME_NUMBER, read).value,
                                       [y for y, _ in evidence])
        if fixed is None:
            return None
        confidence = min([min(f.confidence for f in volume)] + [c for y, c in evidence if y == int(fixed[-4:])])
        return HeaderFix("quyenSo", fixed, confidence, list(_union(f.bbox for f in volume)), read,
                         "volume_year_from_dates")

    @staticmethod
    def _page_number_unread(header: list[FieldResult], page: int | None, book: str) -> HeaderFix | None:
        """The page number where the page header gave none (its ink a stroke or two the detector missed): the
        page the entry numbers put the page at (:meth:`read_page_number_from_entries`), with no box and no
        confidence, for review."""
        if page is None or "trangSo" not in get_book(book) or any(f.key == "trangSo" for f in header):
            return None
        return HeaderFix("trangSo", str(page), 0.0, None, None, "page_number_not_read")

    def read_office_again(self, work: Image.Image, header: list[FieldResult], wards: dict[str, float],
                          provinces: set[int]) -> dict[int, str]:
        """The registering office's commune read again against the communes of the provinces the page's places
        matched (:func:`inference.records.places.office_readings`: "UBND xã Hiền Mỹ" → "UBND xã Điền Mỹ"),
        ``place_prior`` for a commune there (:meth:`read_again`, one round). The office is one value copied into
        every record of the page, so its one misread word costs each entry a field. An office near a commune
        the page's places name is left to :meth:`_office_from_places` (its people live there). ``wards`` and
        ``provinces``: :meth:`_page_places`."""
        office = [f for f in header if f.key == "noiDangKy"]
        if not office:
            return {}
        if office_from_wards(" ".join(f.text for f in office), list(wards)) is not None:
            return {}
        scope = frozenset(provinces)
        return self.read_again(work, office, lambda text: office_readings(text, scope),
                               lambda text: office_in_gazetteer(text, scope), self.place_prior, 1, pad=LINE_PAD)

    @staticmethod
    def _page_places(entries: list[list[FieldResult]], book: str) -> tuple[dict[str, float], set[int]]:
        """The communes the entries' places matched in the gazetteer (name → the most confident place's
        confidence) and the codes of the provinces they matched."""
        register = get_book(book)
        wards: dict[str, float] = {}
        provinces: set[int] = set()
        for f in (f for fields in entries for f in fields):
            if f.key in register and register.field(f.key).kind is ValueKind.PLACE:
                value = normalize_value(ValueKind.PLACE, f.text).value
                if not isinstance(value, dict):
                    continue
                if value.get("ward"):
                    wards[value["ward"]] = max(wards.get(value["ward"], 0.0), f.confidence)
                if value.get("provinceCode"):
                    provinces.add(value["provinceCode"])
        return wards, provinces

    @staticmethod
    def _office_from_places(header: list[FieldResult], wards: dict[str, float]) -> HeaderFix | None:
        """The registering office with its commune's name as the gazetteer spells a commune that the page's
        places matched, where the name read is near it (:func:`inference.records.places.office_from_wards`),
        its confidence the weaker of the office's and that place's (``wards``: :meth:`_page_places`)."""
        office = [f for f in header if f.key == "noiDangKy"]
        if not office:
            return None
        read = " ".join(f.text for f in office)
        found = office_from_wards(read, list(wards))
        if found is None:
            return None
        fixed, ward = found
        return HeaderFix("noiDangKy", fixed, min(min(f.confidence for f in office), wards[ward]),
                         list(_union(f.bbox for f in office)), read, "office_name_from_places")

    # -- the whole page ------------------------------------------------------------------------------------
    def __call__(self, image: Image.Image, book: str | None = None) -> dict:
        t0 = time.perf_counter()
        regions, work, back, skew = self.detect(image)
        bottoms = table_bottoms(work)  # found once: the rows are counted down to them too
        regions, below_tables = self.within_tables(work, regions, bottoms)
        regions, entries_cut = self.split_fused_entries(work, regions, self.fused_entry_rows)
        t_layout = time.perf_counter()
        grouped, page_fields = self.group(regions)
        all_fields = page_fields + [f for _, members in grouped for f in members]
        headings = self.heading_cells(work, regions)
        stacked_cut = _split_stacked_lines(work, grouped, headings, self.stacked_line_factor)
        chunks = self.header_chunks(work, headings)
        chunk_lines = [LineResult(c.bbox) for c in chunks]
        label_lines = {id(f): LineResult(box) for f in page_fields if (box := label_crop(f.bbox, chunks))}
        field_lines = [line for f in all_fields for line in f.lines]
        # The entries' lines take the detected lines' pad; the page header's numbers, a stroke or two whose box
        # is as often short of the ink as past it, the pad the recognizer learned with.
        header_lines = sum(len(f.lines) for f in page_fields)
        field_pads = [LINE_PAD] * header_lines + [self.field_line_pad] * (len(field_lines) - header_lines)
        print_lines = [line for cell in headings for line in cell.lines] + chunk_lines + list(label_lines.values())
        if self.heading_recognizer is not None:
            self.recognize_lines(work, [line for cell in headings for line in cell.lines],
                                 recognizer=self.heading_recognizer)
            print_lines = chunk_lines + list(label_lines.values())
        if self.field_beam_width > 1 or self.field_recognizer is not None:
            self.recognize_lines(work, field_lines, beam_width=self.field_beam_width, recognizer=self.field_recognizer,
                                 pad=field_pads)
            self.recognize_lines(work, print_lines)
            self.read_doubtful_headings_again(work, headings)
        else:
            self.recognize_lines(work, field_lines + print_lines, pad=field_pads + [LINE_PAD] * len(print_lines))
        self.read_headings_as_phrases(work, headings)
        for chunk, line in zip(chunks, chunk_lines):
            chunk.text, chunk.confidence = line.text, line.confidence
        page_fields = self.read_header(work, page_fields, chunks, label_lines)
        t_recognize = time.perf_counter()
        noise = _drop_noise_lines([f for _, members in grouped for f in members])
        for _, members in grouped:
            members[:] = [f for f in members if f.lines]
        all_fields = page_fields + [f for _, members in grouped for f in members]
        book_key, book_score = self.choose_book(all_fields, book, headings)
        self.keys_of_book(all_fields, book_key)
        # id(header field) -> (the text read, the flag of the step that read it again)
        relabelled = {i: (text, "header_value_read_with_label") for i, text in
                      self.header_values_from_labels(page_fields, chunks, book_key).items()}
        relabelled.update((i, (text, "header_number_read_again")) for i, text in
                          self.read_header_numbers_again(work, page_fields, book_key).items())
        # A number another step read again is left as that step read it.
        unread = [f for f in page_fields if id(f) not in relabelled]
        relabelled.update((i, (text, "header_number_read_from_crops")) for i, text in
                          self.read_header_numbers_from_crops(work, unread, book_key).items())
        self.name_fields(grouped, headings, book_key, column_rules(work) if self.follow_column_rules else [])
        named_keys = {key for cell in headings if cell.keys for key in cell.keys.keys}
        relationships_read: dict[int, str] = {}  # id(line) -> the text read before
        read_lines: dict[tuple, str] = {}  # the box of each such line -> the text read before
        for _, members in grouped:
            relationships_read.update(self.read_relationships_again(work, members, book_key, named_keys))
            read_lines.update((tuple(line.bbox), relationships_read[id(line)]) for f in members for line in f.lines
                              if id(line) in relationships_read)
            members[:] = _join_pieces(_split_genders(_split_relationships(members, book_key), book_key))
            _values_to_the_named_partner(members, book_key)
            if _snap_cuts(work, [line for f in members for line in f.lines]):
                for f in members:
                    if any(line.cut_from is not None for line in f.lines):
                        f.bbox = _union(line.bbox for line in f.lines)
        # id(field) -> (the text read, the flag of the step that read it again)
        reread = {id(f): ("", "gender_read_beside_date") for f in
                  self.read_genders_beside_dates(work, [members for _, members in grouped], book_key)}
        reread.update((i, (text, "name_read_jointly")) for i, text in
                      self.read_names_jointly(work, [members for _, members in grouped], book_key).items())
        entry_fields = [f for _, members in grouped for f in members]
        # A place read again at its line ends and then against the gazetteer keeps the text first read.
        line_ends = self.read_place_line_ends_again(work, entry_fields, book_key)
        reread.update((i, (text, "place_line_end_read_again")) for i, text in line_ends.items())
        reread.update((i, (line_ends.get(i, text), "place_read_from_gazetteer")) for i, text in
                      self.read_places_from_gazetteer(work, entry_fields, book_key).items())
        # A name read jointly with another cell keeps the reading the two share.
        reread.update((i, (text, "surname_read_from_list")) for i, text in
                      self.read_surnames_from_list(work, [f for f in entry_fields if id(f) not in reread],
                                                   book_key).items())
        # A name whose surname was read again keeps the text first read and that step's flag.
        for i, text in self.read_given_names_from_list(work, [f for f in entry_fields if id(f) not in reread
                                                              or reread[id(f)][1] == "surname_read_from_list"],
                                                       book_key).items():
            reread.setdefault(i, (text, "given_name_read_from_list"))
        reread.update((i, (text, "date_read_as_a_date")) for i, text in
                      self.read_unreadable_dates_again(work, entry_fields, book_key).items())
        reread.update((i, (text, "date_read_against_entry")) for i, text in
                      self.read_dates_against_entry(work, [members for _, members in grouped], book_key).items())
        reread.update((i, (text, "date_read_in_order")) for i, text in
                      self.read_registration_dates_in_order(work, [members for _, members in grouped]).items())
        reread.update((id(f), (relationships_read[id(line)], "relationship_read_again")) for f in entry_fields
                      for line in f.lines if id(line) in relationships_read)
        # A relationship read again on the name's line and then cut from it: its piece of the line as read.
        register = get_book(book_key)

        def as_read(line: LineResult) -> str | None:
            """A piece of a line read again as it was read before (its last words), else ``None``."""
            if line.cut_from and tuple(line.cut_from[0]) in read_lines and line.text:
                return " ".join(read_lines[tuple(line.cut_from[0])].split()[-len(line.text.split()):])
            return None

        for f in entry_fields:
            relationship = f.key in register and register.field(f.key).kind is ValueKind.RELATIONSHIP
            if relationship and any(map(as_read, f.lines)):
                reread[id(f)] = (" ".join(as_read(line) or line.text for line in f.lines if line.text),
                                 "relationship_read_again")
        reread.update((i, (text, "nationality_read_again")) for i, text in
                      self.read_nationalities_again(work, entry_fields, book_key).items())
        reread.update((i, (text, "gender_read_again")) for i, text in
                      self.read_genders_again(work, entry_fields, book_key).items())
        reread.update((i, (text, "ethnicity_read_again")) for i, text in
                      self.read_ethnicities_again(work, entry_fields, book_key).items())
        book_obj = get_book(book_key)
        # A field outside every entry row applies to every record only if it is a page-header key: a value of
        # a row the detector missed, or a footer signature, must not be copied into every record of the page.
        header = self.header_fields(page_fields, book_key)
        filled = [(number, entry, members, [f for f in members if f.key in book_obj and f.text])
                  for number, (entry, members) in enumerate(grouped, start=1)]
        filled = [row for row in filled if row[3]]  # blank rows make no record
        owns = [own for *_, own in filled]
        wards, provinces = self._page_places(owns, book_key)
        # Read again on the deskewed page, while the boxes are still in its frame.
        relabelled.update((i, (text, "office_read_from_gazetteer")) for i, text in
                          self.read_office_again(work, header, wards, provinces).items())
        reread.update((i, (text, "entry_number_read_in_sequence")) for i, text in
                      self.read_entry_numbers_in_sequence(work, owns).items())
        # The page the entry numbers put the page at; a page number another step read again keeps the text first
        # read.
        entries_page = _page_from_entries([" ".join(f.text for f in own if f.key == "so") for own in owns],
                                          _rows_of_table(bottoms, [entry.bbox for entry, _ in grouped]) or 0)
        relabelled.update((i, (relabelled.get(i, (text,))[0], "page_number_from_entries")) for i, text in
                          self.read_page_number_from_entries(work, header, entries_page).items())

        def original(box):
            return map_box(box, back)

        # Naming rebuilt some fields (and cut some lines): the final ones, each box mapped once.
        all_fields = page_fields + [f for _, members in grouped for f in members]
        mapped: set[int] = set()
        for f in [*all_fields, *headings]:
            f.bbox = original(f.bbox)
            for line in f.lines:
                if id(line) not in mapped:
                    mapped.add(id(line))
                    line.bbox = original(line.bbox)
        for fields in [page_fields] + [members for _, members in grouped]:
            _field_boxes(fields, book_key)

        records, entries = [], []
        header_read = {f.key: relabelled[id(f)] for f in header if id(f) in relabelled}
        dates = [[f for f in own if f.key == "ngayDangKy"] for own in owns]
        years = [_registration_year(fs) for fs in dates]
        numbers = self._entry_numbers(owns, dates, years)
        evidence = _registration_evidence(owns)
        registered = self._registration_dates(dates, years, header, [y for y, _ in evidence])
        fixes = {fix.key: fix for fix in (self._volume_from_dates(header, evidence),
                                          self._office_from_places(header, wards),
                                          self._page_number_unread(header, entries_page, book_key))
                 if fix is not None}
        for (number, entry, members, own), so_fix, date_fix in zip(filled, numbers, registered):
            (so_text, so_confidence, so_flag), (date_text, date_confidence, date_flag) = so_fix, date_fix
            items = [(f.key, f.text, _shared_confidence(f.confidence, len(filled)), list(f.bbox)) for f in header
                     if f.key not in fixes]
            items += [(fix.key, fix.text, _shared_confidence(fix.confidence, len(filled)), fix.box)
                      for fix in fixes.values()]
            items += [(f.key, f.text, f.confidence, list(f.bbox)) for f in own
                      if not (f.key == "so" and so_text is not None or f.key == "ngayDangKy" and date_text is not None)]
            if so_text is not None:
                so = [f for f in own if f.key == "so"]
                items.append(("so", so_text, so_confidence, list(_union(f.bbox for f in so)) if so else None))
            if date_text is not None:
                registration = next(f for f in own if f.key == "ngayDangKy")
                items.append(("ngayDangKy", date_text, date_confidence, list(registration.bbox)))
            record = build_record(book_key, number, items, review_threshold=self.review_threshold)
            # Per key, the pieces read again (a value in several fields), joined; where one key's pieces were
            # read again by two steps, the step earlier in REREAD_STEPS speaks for the value.
            read_as: dict[str, tuple[str, str]] = {}
            for f in own:
                if id(f) not in reread:
                    continue
                text, flag = reread[id(f)]
                kept = read_as.get(f.key)
                if kept is None or REREAD_STEPS.index(flag) < REREAD_STEPS.index(kept[1]):
                    read_as[f.key] = (text, flag)
                elif kept[1] == flag:
                    read_as[f.key] = (" ".join(filter(None, (kept[0], text))), flag)
            for f in record["fields"]:
                if f["key"] in read_as:
                    f["read_text"], flag = read_as[f["key"]]
                    f["flags"].append(flag)
                if f["key"] == "so" and so_text is not None:
                    if "so" in read_as:  # read again in sequence first: the text first read
                        f["read_text"] = read_as["so"][0]
                    elif so:
                        f["read_text"] = " ".join(g.text for g in so)
                    f["flags"].append(so_flag)
                if f["key"] == "ngayDangKy" and date_text is not None:
                    f["read_text"] = registration.text
                    f["flags"].append(date_flag)
                if f["key"] in fixes:
                    if fixes[f["key"]].read_text is not None:
                        f["read_text"] = fixes[f["key"]].read_text
                    f["flags"].append(fixes[f["key"]].flag)
                if f["key"] in header_read:
                    f["read_text"], flag = header_read[f["key"]]
                    f["flags"].append(flag)
            record["bbox"] = [round(v, 1) for v in original(entry.bbox)]
            records.append(record)
            entries.append({"entry": number, "bbox": record["bbox"], "score": round(entry.score, 4),
                            "fields": [f.to_dict() for f in members]})
        t_end = time.perf_counter()
        log.info("page: %d entries, %d fields, %d lines, skew %.2f°, %.2f s (layout %.2f, recognition %.2f)",
                 len(records), len(all_fields), sum(len(f.lines) for f in all_fields), skew, t_end - t0,
                 t_layout - t0, t_recognize - t_layout)
        w, h = image.size
        page = {"width": w, "height": h, "book": book_key, "book_score": round(book_score, 4),
                "skew_degrees": round(skew, 2), "entries": entries, "fields_below_tables": below_tables,
                "fused_entries_cut": entries_cut,
                "stacked_lines_cut": stacked_cut,
                "page_fields": [f.to_dict() for f in page_fields],
                # Where they were and how sure each model was; their text is noise, and may be personal data.
                "noise_lines": [{"bbox": [round(v, 1) for v in original(line.bbox)],
                                 "confidence": round(line.confidence, 4),
                                 "detection_score": round(line.detection_score, 4)} for line in noise],
                "headings": [cell.to_dict() for cell in headings],
                "timing_s": {"layout": round(t_layout - t0, 3), "recognition": round(t_recognize - t_layout, 3),
                             "total": round(t_end - t0, 3)},
                "review_threshold": self.review_threshold}
        return {"page": page, "records": records}


__all__ = ["FieldResult", "HeadingResult", "LineResult", "PagePipeline", "book_of_key", "crop_line",
           "default_detector_dir", "page_header_keys"]
