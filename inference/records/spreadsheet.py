"""The Ministry of Justice import spreadsheet: one row per record, one workbook per book.

Births follow the Ministry's template exactly: sheet "DL Import" with the 70 header cells of
``moj-import-khaisinh-header.xlsx`` (STT, then the field keys, written as the template writes them, trailing
spaces and ``i=[...]`` code hints included) and the code sheet "Ghi chu". When the template is present in
the shared folder (``data.settings.shared_dir() / "reference"``) it is the base of the workbook, so its
formatting and any later change of its header carry over; without it the same header and code sheet are
built from :data:`KHAI_SINH_IMPORT_HEADER` and :mod:`data.schema`. The other three books follow the same
pattern with their field keys from :mod:`data.schema` (``key \\ni=[...]`` for coded columns).

Cells: dates ``dd.mm.yyyy`` (``yyyy`` for a year alone), codes as integers (loaiDangKy, GioiTinh,
LoaiGiayToTuyThan, LoaiCuTru, nksLoaiKhaiSinh, TuyenBo), ethnic groups and countries by name, places in
their official form when the gazetteer match is clean, the date in words in its standard spelling. A field
that could not be normalized keeps its recognized text, so nothing is lost, and is highlighted, as are
fields with an error flag.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.schema import (
    GIOI_TINH, LOAI_DANG_KY, LOAI_GIAY_TO_TUY_THAN, TUYEN_BO, Book, Field, ValueKind, get_book,
)
from data.settings import shared_dir
from data.text.dates import date_in_words
from inference.records.dates import parse_iso, spreadsheet_date
from inference.records.flags import Severity, severity
from inference.records.normalize import BIRTH_CASE_CODES, RESIDENCE_TYPE_CODES
from inference.records.record import review_reasons

if TYPE_CHECKING:
    from openpyxl import Workbook

log = logging.getLogger("hotich.records")

IMPORT_SHEET = "DL Import"
CODES_SHEET = "Ghi chu"
REVIEW_SHEET = "Can kiem tra"
TEMPLATE_NAME = "moj-import-khaisinh-header.xlsx"

# The births template's header row, verbatim (tests/test_records.py checks it against the real file).
KHAI_SINH_IMPORT_HEADER: tuple[str, ...] = (
    "STT", "so ", "quyenSo ", "trangSo ", "ngayDangKy ", "loaiDangKy \ni=[1,2,3,4,5,6]", "noiDangKy", "nguoiKy",
    "chucVuNguoiKy", "nguoiThucHien", "ghiChu", "nksSoDinhDanh", "nksHoTen ", "nksGioiTinh", "nksNgaySinh ",
    "nksNgaySinhBangChu", "nksNoiSinh", "nksNoiSinhDVHC", "nksQueQuan", "nksDanToc ", "nksQuocTich ",
    "nksQuocTichStr", "nksQuocTichKhac", "nksQuocTichKhacStr", "nksLoaiKhaiSinh\ni=[1,2,3,4,5]", "nksMatTich",
    "nksMatTichNgayGhiChuTuyenBo", "nksMatTichCanCuTuyenBo", "nksMatTichNgayGhiChuHuyTuyenBo",
    "nksMatTichCanCuHuyTuyenBo", "nksHanCheNangLucHanhVi", "nksHanCheNangLucHanhViNgayGhiChuTuyenBo",
    "nksHanCheNangLucHanhViCanCuTuyenBo", "nksHanCheNangLucHanhViNgayGhiChuHuyTuyenBo",
    "nksHanCheNangLucHanhViNgayCanCuHuyTuyenBo", "meSoDinhDanhCaNhan", "meHoTen ", "meNgaySinh ", "meDanToc ",
    "meQuocTich ", "meQuocTichStr", "meQuocTichKhac", "meQuocTichKhacStr", "meLoaiCuTru ", "meNoiCuTru",
    "meLoaiGiayToTuyThan\ni=[1,2,3,4,5,6,7,8]", "meSoGiayToTuyThan", "chaSoDinhDanhCaNhan", "chaHoTen ",
    "chaNgaySinh ", "chaDanToc ", "chaQuocTich ", "chaQuocTichStr", "chaQuocTichKhac", "chaQuocTichKhacStr",
    "chaLoaiCuTru ", "chaNoiCuTru", "chaLoaiGiayToTuyThan\ni=[1,2,3,4,5,6,7,8]", "chaSoGiayToTuyThan",
    "nycHoTen", "nycQuanHe", "nycLoaiGiayToTuyThan", "nycGiayToKhac", "nycSoGiayToTuyThan",
    "nycNgayCapGiayToTuyThan", "nycNoiCapGiayToTuyThan", "soDangKyNuocNgoai", "ngayDangKyNuocNgoai",
    "cqNuocNgoaiDaDangKy", "qgNuocNgoaiDaDangKy",
)
_CODE_KINDS = {
    ValueKind.GENDER: GIOI_TINH, ValueKind.ID_DOCUMENT_TYPE: LOAI_GIAY_TO_TUY_THAN,
    ValueKind.REGISTRATION_TYPE: LOAI_DANG_KY, ValueKind.BIRTH_CASE: BIRTH_CASE_CODES,
    ValueKind.RESIDENCE_TYPE: RESIDENCE_TYPE_CODES, ValueKind.LEGAL_STATUS: TUYEN_BO,
}
HIGHLIGHT_COLOR = "FFFF99"


@cache
def _styles():
    """openpyxl styles, built on first use: importing openpyxl takes most of a second, and the page pipeline
    imports this package for build_record alone."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin")
    return {"highlight": PatternFill("solid", fgColor=HIGHLIGHT_COLOR),
            "header_font": Font(name="Times New Roman", size=13, bold=True),
            "header_alignment": Alignment(horizontal="center", vertical="center", wrap_text=True),
            "border": Border(left=thin, right=thin, top=thin, bottom=thin)}


def header_key(cell: Any) -> str:
    """The field key a header cell names: ``"loaiDangKy \\ni=[1,...]"`` → ``"loaiDangKy"``."""
    return str(cell).split()[0] if cell is not None and str(cell).split() else ""


def template_path() -> Path:
    """Where the births template is looked for (it may not exist)."""
    return shared_dir() / "reference" / TEMPLATE_NAME


def import_header(book: Book | str) -> tuple[str, ...]:
    """The header row of the import sheet of ``book`` (built in; the template file may refine births)."""
    book = get_book(book) if isinstance(book, str) else book
    if book.key == "khai_sinh":
        return KHAI_SINH_IMPORT_HEADER
    cells = ["STT"]
    for f in book.fields:
        table = _CODE_KINDS.get(f.kind)
        cells.append(f"{f.key} \ni=[{','.join(str(c) for c in table)}]" if table else f.key)
    return tuple(cells)


def _cell_value(f: Field, field: Mapping) -> Any:
    """What goes into the sheet for one normalized field (``None`` for an empty cell)."""
    value = field.get("value")
    if value is None:
        text = (field.get("text") or "").strip()
        return text or None  # unreadable: keep what was recognized
    kind = f.kind
    if kind is ValueKind.DATE:
        return spreadsheet_date(value) or str(value)
    if kind is ValueKind.DATE_IN_WORDS:
        pd = parse_iso(value)
        return date_in_words(pd) if pd is not None else str(value)
    if kind is ValueKind.PLACE and isinstance(value, Mapping):
        return value.get("normalized") or value.get("text")
    if kind in _CODE_KINDS:
        return value if isinstance(value, int) else str(value)
    if kind is ValueKind.RELATIONSHIP and isinstance(value, str):
        return value[:1].upper() + value[1:]
    return str(value)


def _needs_attention(field: Mapping) -> bool:
    if field.get("value") is None and (field.get("text") or "").strip():
        return True
    return any(severity(c) is Severity.ERROR for c in field.get("flags", ()))


def _row(book: Book, keys: Sequence[str], number: int, record: Mapping) -> tuple[list[Any], list[int]]:
    by_key = {f["key"]: f for f in record.get("fields", ())}
    row: list[Any] = []
    marked: list[int] = []
    for col, key in enumerate(keys):
        if col == 0 and key == "STT":
            row.append(number)
            continue
        field = by_key.get(key)
        if field is None and key.endswith("Str") and key[:-3] in by_key:
            field = by_key[key[:-3]]  # QuocTichStr: the nationality in words, which is what QuocTich holds
        if field is None or key not in book:
            row.append(None)
            continue
        row.append(_cell_value(book.field(key), field))
        if _needs_attention(field):
            marked.append(col)
    return row, marked


def _style_header(ws, n_columns: int) -> None:
    from openpyxl.utils import get_column_letter

    styles = _styles()
    for col in range(1, n_columns + 1):
        cell = ws.cell(row=1, column=col)
        cell.font = styles["header_font"]
        cell.alignment = styles["header_alignment"]
        cell.border = styles["border"]
        ws.column_dimensions[get_column_letter(col)].width = max(10, min(32, len(str(cell.value)) + 4))
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = "B2"


def _write_codes_sheet(wb: Workbook, book: Book) -> None:
    ws = wb.create_sheet(CODES_SHEET)
    tables: list[tuple[str, Mapping[int, str]]] = [("Loại đăng ký", LOAI_DANG_KY), ("Giới tính", GIOI_TINH)]
    kinds = {f.kind for f in book.fields}
    if ValueKind.LEGAL_STATUS in kinds:
        tables.append(("nksMatTich & nksHanCheNangLucHanhVi", TUYEN_BO))
    if ValueKind.BIRTH_CASE in kinds:
        tables.append(("Loại khai sinh", BIRTH_CASE_CODES))
    right: list[tuple[str, Mapping[int, str]]] = [("Loại giấy tờ tùy thân", LOAI_GIAY_TO_TUY_THAN)]
    if ValueKind.RESIDENCE_TYPE in kinds:
        right.append(("Loại cư trú", RESIDENCE_TYPE_CODES))
    # The template's layout: tables stacked in columns B-C and E-F, a blank row between tables.
    for first_col, group in ((2, tables), (5, right)):
        row = 2
        for title, table in group:
            ws.cell(row=row, column=first_col, value=title)
            ws.merge_cells(start_row=row, start_column=first_col, end_row=row, end_column=first_col + 1)
            for i, (code, label) in enumerate(table.items(), start=1):
                ws.cell(row=row + i, column=first_col, value=code)
                ws.cell(row=row + i, column=first_col + 1, value=label)
            row += len(table) + 2
    ws.column_dimensions["C"].width = 63
    ws.column_dimensions["F"].width = 48


def _new_workbook(book: Book) -> tuple[Workbook, tuple[str, ...]]:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = IMPORT_SHEET
    header = import_header(book)
    ws.append(list(header))
    _style_header(ws, len(header))
    _write_codes_sheet(wb, book)
    return wb, header


def _template_workbook() -> tuple[Workbook, tuple[str, ...]] | None:
    from openpyxl import load_workbook

    path = template_path()
    if not path.is_file():
        return None
    wb = load_workbook(path)
    if IMPORT_SHEET not in wb.sheetnames:
        raise ValueError(f"{path}: no sheet {IMPORT_SHEET!r} (sheets: {wb.sheetnames})")
    ws = wb[IMPORT_SHEET]
    header = tuple("" if c.value is None else str(c.value) for c in ws[1])
    while header and not header[-1]:
        header = header[:-1]
    known = set(get_book("khai_sinh").keys) | {"STT"}
    unknown = [header_key(h) for h in header if header_key(h) not in known]
    if unknown:
        log.warning("template %s has columns this version does not fill: %s", path.name, ", ".join(unknown))
    if ws.max_row > 1:
        ws.delete_rows(2, ws.max_row - 1)
    return wb, header


def write_import_workbook(records: Iterable[Mapping], book: str, path: str | os.PathLike, *,
                          review_sheet: bool = False, review_threshold: float | None = None,
                          use_template: bool = True) -> Path:
    """Write ``records`` (dicts from :func:`inference.records.build_record`) of ``book`` as the Ministry's
    import workbook at ``path`` (written to a temporary file and renamed, so a crash leaves no half file).

    ``review_sheet`` adds a sheet listing the rows that need review and why (STT, page, entry, reasons; low
    confidences judged against ``review_threshold``); ``use_template=False`` ignores the shared template.
    Raises ``ValueError`` if a record belongs to another book (nothing is written then).
    """
    book_obj = get_book(book)
    records = list(records)
    wrong = [(i, r.get("book")) for i, r in enumerate(records) if r.get("book") != book_obj.key]
    if wrong:
        shown = ", ".join(f"#{i} ({b!r})" for i, b in wrong[:5])
        raise ValueError(f"{len(wrong)} record(s) are not of book {book_obj.key!r}: {shown}")
    loaded = _template_workbook() if use_template and book_obj.key == "khai_sinh" else None
    wb, header = loaded or _new_workbook(book_obj)
    keys = [header_key(h) for h in header]
    ws = wb[IMPORT_SHEET]
    for number, record in enumerate(records, start=1):
        row, marked = _row(book_obj, keys, number, record)
        ws.append(row)
        for col in marked:
            ws.cell(row=number + 1, column=col + 1).fill = _styles()["highlight"]
    if review_sheet:
        _write_review_sheet(wb, records, review_threshold)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    wb.save(tmp)
    os.replace(tmp, out)
    return out


def _write_review_sheet(wb: Workbook, records: list[Mapping], review_threshold: float | None) -> None:
    ws = wb.create_sheet(REVIEW_SHEET)
    ws.append(["STT", "page", "entry", "reasons"])
    for number, record in enumerate(records, start=1):
        if record.get("needs_review"):
            reasons = review_reasons(record, review_threshold)
            ws.append([number, record.get("page"), record.get("entry"), "; ".join(reasons)])
