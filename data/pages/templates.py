"""Register page templates as data: the printed layout of one book's page in one period.

Each book has a YAML file under ``data/pages/forms/`` listing its variants: column order and relative
widths, printed headings (with group headings spanning several columns), which fields share a merged cell and
how they are written in it, printed sub-labels inside cells, signature columns, the fields written once in the
page header (volume, page, office), one page or a two-page spread, how many entry rows a page holds and the
registration years the layout was in use.

Exactly one variant per book has ``split: heldout``: it is never drawn for training pages, so evaluation can
measure how the layout detector and the page pipeline do on a layout they have not seen (see
:func:`templates_for`).

A merged cell holds several fields. ``mode: flow`` writes them one after another on the same lines, separated
by a comma or a dash ("Nguyễn Thị Hoa, 1975, Kinh, xã ..."); ``mode: stack`` starts each field on a new line,
after its printed sub-label when ``labels`` are given.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml

from data.schema import BOOKS, get_book

TEMPLATE_DIR = Path(__file__).resolve().parent / "forms"
SPLITS = ("train", "heldout")
LAYOUTS = ("single", "spread")
ORIENTATIONS = ("landscape", "portrait")
MODES = ("stack", "flow")
MIN_ENTRIES, MAX_ENTRIES = 5, 12


class TemplateError(ValueError):
    """A template file that does not describe a valid page; the message names the file and the variant."""


class UnknownTemplateError(KeyError):
    """A template id that does not exist; the message lists the valid ids."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Column:
    """One printed column of the entry table.

    ``fields`` are written in the cell in this order (empty for a column that only holds a signature);
    ``page`` is 0, or 1 for the right-hand page of a spread. ``labels`` are printed sub-labels, one per
    field, dividing the cell into slots; ``label_rows`` gives the slots' relative heights (default equal), so
    that a long value (an address, a date in words) has room for two lines.
    """

    heading: str
    fields: tuple[str, ...]
    width: float
    group: str | None = None
    mode: str = "stack"
    labels: tuple[str, ...] | None = None
    label_rows: tuple[int, ...] | None = None
    signature: bool = False
    page: int = 0


@dataclass(frozen=True)
class HeaderField:
    """A field written once per page after a printed label in the page header ("Quyển số: 01/2008")."""

    key: str
    label: str


@dataclass(frozen=True)
class Template:
    """One printed page layout of one book (see the module doc)."""

    id: str
    book: str
    split: str
    description: str
    layout: str
    orientation: str
    entries: tuple[int, int]
    years: tuple[int, int]
    title: str
    columns: tuple[Column, ...]
    header: tuple[HeaderField, ...] = ()
    numbered: bool = True
    print_font: str = "serif"
    footer: str | None = None

    @property
    def spread(self) -> bool:
        return self.layout == "spread"

    @property
    def field_keys(self) -> tuple[str, ...]:
        """Every field the page has a place for: header fields first, then the columns left to right."""
        return tuple(h.key for h in self.header) + tuple(k for c in self.columns for k in c.fields)

    @property
    def entry_keys(self) -> tuple[str, ...]:
        """Fields written in each entry row."""
        return tuple(k for c in self.columns for k in c.fields)

    def columns_on(self, page: int) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.page == page)


# -- loading and validation ------------------------------------------------------------------------------
def _fail(source: str, what: str) -> TemplateError:
    return TemplateError(f"{source}: {what}")


def _pair(value, source: str, name: str, lo: int, hi: int) -> tuple[int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise _fail(source, f"{name} must be [min, max] integers, got {value!r}")
    a, b = value
    if not lo <= a <= b <= hi:
        raise _fail(source, f"{name} {value!r} must satisfy {lo} <= min <= max <= {hi}")
    return a, b


def _column(raw: dict, book_key: str, source: str, page: int) -> Column:
    if not isinstance(raw, dict):
        raise _fail(source, f"a column must be a mapping, got {raw!r}")
    unknown = set(raw) - {"heading", "fields", "width", "group", "mode", "labels", "label_rows", "signature"}
    if unknown:
        raise _fail(source, f"column {raw.get('heading')!r} has unknown keys {sorted(unknown)}")
    book = get_book(book_key)
    heading = raw.get("heading")
    if not isinstance(heading, str) or not heading.strip():
        raise _fail(source, f"every column needs a printed heading, got {heading!r}")
    fields = tuple(raw.get("fields") or ())
    for key in fields:
        if key not in book:
            raise _fail(source, f"column {heading!r}: {key!r} is not a field of {book_key}")
        if book.field(key).import_only:
            raise _fail(source, f"column {heading!r}: {key!r} is an import-only field (no column in books)")
    width = raw.get("width")
    if not isinstance(width, (int, float)) or width <= 0:
        raise _fail(source, f"column {heading!r}: width must be a positive number, got {width!r}")
    mode = raw.get("mode", "stack")
    if mode not in MODES:
        raise _fail(source, f"column {heading!r}: mode must be one of {MODES}, got {mode!r}")
    labels = raw.get("labels")
    if labels is not None:
        labels = tuple(labels)
        if len(labels) != len(fields) or mode != "stack":
            raise _fail(source, f"column {heading!r}: labels need mode stack and one label per field")
    label_rows = raw.get("label_rows")
    if label_rows is not None:
        label_rows = tuple(label_rows)
        if labels is None or len(label_rows) != len(labels) or not all(
                isinstance(r, int) and r > 0 for r in label_rows):
            raise _fail(source, f"column {heading!r}: label_rows needs one positive integer per label")
    signature = bool(raw.get("signature", False))
    if not fields and not signature:
        raise _fail(source, f"column {heading!r} has neither fields nor a signature")
    return Column(heading=heading, fields=fields, width=float(width), group=raw.get("group"), mode=mode,
                  labels=labels, label_rows=label_rows, signature=signature, page=page)


def _template(raw: dict, book_key: str, source: str) -> Template:
    required = ("id", "split", "description", "layout", "orientation", "entries", "years", "title", "columns")
    missing = [k for k in required if k not in raw]
    if missing:
        raise _fail(source, f"template {raw.get('id')!r} lacks {missing}")
    tid = raw["id"]
    where = f"{source} [{tid}]"
    if raw["split"] not in SPLITS:
        raise _fail(where, f"split must be one of {SPLITS}, got {raw['split']!r}")
    if raw["layout"] not in LAYOUTS:
        raise _fail(where, f"layout must be one of {LAYOUTS}, got {raw['layout']!r}")
    if raw["orientation"] not in ORIENTATIONS:
        raise _fail(where, f"orientation must be one of {ORIENTATIONS}, got {raw['orientation']!r}")
    if raw["layout"] == "spread" and raw["orientation"] != "landscape":
        raise _fail(where, "a two-page spread is a landscape image of two portrait pages: orientation landscape")
    entries = _pair(raw["entries"], where, "entries", MIN_ENTRIES, MAX_ENTRIES)
    years = _pair(raw["years"], where, "years", 1975, 2025)
    spread_at = raw.get("spread_at")
    if raw["layout"] == "spread":
        if not isinstance(spread_at, int) or not 0 < spread_at < len(raw["columns"]):
            raise _fail(where, f"a spread needs spread_at = index of the first right-hand column, got {spread_at!r}")
    elif spread_at is not None:
        raise _fail(where, "spread_at only applies to layout spread")
    columns = tuple(_column(c, book_key, where, int(spread_at is not None and i >= spread_at))
                    for i, c in enumerate(raw["columns"]))
    header = []
    for h in raw.get("header") or ():
        if not isinstance(h, dict) or set(h) != {"key", "label"}:
            raise _fail(where, f"header entries are {{key, label}} mappings, got {h!r}")
        if h["key"] not in BOOKS[book_key]:
            raise _fail(where, f"header field {h['key']!r} is not a field of {book_key}")
        header.append(HeaderField(h["key"], h["label"]))
    keys = [h.key for h in header] + [k for c in columns for k in c.fields]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise _fail(where, f"fields placed twice: {dupes}")
    if raw.get("print_font", "serif") not in ("serif", "sans"):
        raise _fail(where, f"print_font must be serif or sans, got {raw.get('print_font')!r}")
    groups = [c.group for c in columns]
    for g in {g for g in groups if g}:
        idx = [i for i, x in enumerate(groups) if x == g]
        if idx != list(range(idx[0], idx[-1] + 1)) or len({columns[i].page for i in idx}) > 1:
            raise _fail(where, f"group {g!r} must span consecutive columns on one page")
    return Template(id=tid, book=book_key, split=raw["split"], description=" ".join(raw["description"].split()),
                    layout=raw["layout"], orientation=raw["orientation"], entries=entries, years=years,
                    title=raw["title"], columns=columns, header=tuple(header),
                    numbered=bool(raw.get("numbered", True)), print_font=raw.get("print_font", "serif"),
                    footer=raw.get("footer"))


def load_template_file(path: str | Path) -> tuple[Template, ...]:
    """Read and validate one template file; :class:`TemplateError` says what is wrong and where."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or "book" not in raw or "templates" not in raw:
        raise TemplateError(f"{path.name}: expected a mapping with 'book' and 'templates'")
    if raw["book"] not in BOOKS:
        raise TemplateError(f"{path.name}: unknown book {raw['book']!r}; valid books: {', '.join(BOOKS)}")
    return tuple(_template(t, raw["book"], path.name) for t in raw["templates"])


@lru_cache(maxsize=1)
def _registry() -> Mapping[str, Template]:
    found: dict[str, Template] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.yaml")):
        for t in load_template_file(path):
            if t.id in found:
                raise TemplateError(f"{path.name}: template id {t.id!r} is defined twice")
            found[t.id] = t
    for book in BOOKS:
        mine = [t for t in found.values() if t.book == book]
        held = [t.id for t in mine if t.split == "heldout"]
        if len(mine) - len(held) < 3 or len(held) != 1:
            raise TemplateError(f"book {book!r} needs at least 3 training variants and exactly one held-out "
                                f"variant; has {[t.id for t in mine]} (held out: {held})")
    return MappingProxyType(found)


def templates() -> tuple[Template, ...]:
    """Every template, in book order then file order."""
    order = {b: i for i, b in enumerate(BOOKS)}
    return tuple(sorted(_registry().values(), key=lambda t: order[t.book]))


def template_from_raw(raw: dict, book_key: str, source: str) -> Template:
    """Validate one template mapping (a ``forms/*.yaml`` entry, or a generated one) into a :class:`Template`."""
    return _template(raw, book_key, source)


@lru_cache(maxsize=4096)
def _generated(template_id: str) -> Template | None:
    from data.pages.generated import generated_template

    return generated_template(template_id)


def get_template(template_id: str) -> Template:
    """A template of ``forms/`` by id, or a generated layout (``ks-gen-42``, see :mod:`data.pages.generated`)."""
    try:
        return _registry()[template_id]
    except KeyError:
        generated = _generated(template_id) if isinstance(template_id, str) else None
        if generated is not None:
            return generated
        raise UnknownTemplateError(
            f"unknown template {template_id!r}; valid templates: {', '.join(_registry())}, "
            f"or a generated layout <ks|kt|kh|nc>-gen-<seed>") from None


def templates_for(book: str, split: str = "train") -> tuple[Template, ...]:
    """The variants of ``book`` that pages of ``split`` are drawn from.

    ``train``: the training variants only (never the held-out one). ``heldout``: every variant, so that
    held-out pages measure both unseen seeds of known layouts and the unseen layout.
    """
    get_book(book)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    mine = [t for t in templates() if t.book == book]
    return tuple(t for t in mine if split == "heldout" or t.split == "train")


TEMPLATE_STREAM = 0x7E


def draw_template(book: str, seed: int, split: str = "train", generated: float = 0.0) -> Template:
    """The variant a page of ``book`` with ``seed`` uses when none is fixed: a uniform draw from
    :func:`templates_for`, except that ``heldout`` pages take the held-out variant about half of the time.
    Drawn from its own stream (``default_rng((seed, TEMPLATE_STREAM))``) so the choice is known before the page
    is rendered. ``generated``: for ``train`` pages, the share drawn on a generated layout of the same seed
    instead (:mod:`data.pages.generated`)."""
    import numpy as np

    rng = np.random.default_rng((int(seed), TEMPLATE_STREAM))
    if not 0.0 <= generated <= 1.0:
        raise ValueError(f"generated must be a share in [0, 1], got {generated!r}")
    if generated and split == "train" and rng.random() < generated:
        from data.pages.generated import generated_id

        return get_template(generated_id(book, seed))
    options = templates_for(book, split)
    if split == "heldout":
        held = [t for t in options if t.split == "heldout"]
        known = [t for t in options if t.split != "heldout"]
        pool = held if rng.random() < 0.5 else known
    else:
        pool = list(options)
    return pool[int(rng.integers(len(pool)))]


def heldout_template(book: str) -> Template:
    """The one variant of ``book`` never used for training pages."""
    get_book(book)
    return next(t for t in templates() if t.book == book and t.split == "heldout")


__all__ = ["Column", "HeaderField", "SPLITS", "Template", "TemplateError", "UnknownTemplateError",
           "draw_template", "get_template", "heldout_template", "load_template_file", "template_from_raw", "templates",
           "templates_for"]
