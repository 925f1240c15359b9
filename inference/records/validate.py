"""Cross-field rules over one normalized record.

Each rule reads normalized values and, when it fires, adds its flag to the record and to the fields
involved. Dates may be partial (a parent's year alone): a rule only fires when the written precision makes
it certain (``spouse_age_uncertain`` is the one rule that reports a possibility).

| flag | severity | books | fires when |
|---|---|---|---|
| missing_required | error | all | no principal name, no ngayDangKy, no birth (births) / death (deaths) date |
| birth_after_registration | error | all | anyone's NgaySinh is after ngayDangKy |
| date_words_mismatch | error | births | nksNgaySinhBangChu and nksNgaySinh are different dates |
| parent_age_implausible | error | births, recogn. | parent under 12 (or born after child), mother > 60, father > 80 |
| parent_age_unusual | warning | births, recogn. | parent under 16, mother over 50, father over 65 at the birth |
| death_before_birth | error | deaths | nktNgayChet before nktNgaySinh |
| death_after_registration | error | deaths | nktNgayChet after ngayDangKy |
| age_implausible | error | all | someone over 120 at registration (the deceased: at death) |
| spouse_under_age | error | marriages | husband under 20 or wife under 18 at registration (Marriage Law) |
| spouse_age_uncertain | warning | marriages | as above, possible but not certain (a year-only birth date) |
| registration_type_inconsistent | warning | births, deaths | loaiDangKy 1 past the 60/15-day deadline, 4 within it |
| declarant_mismatch | warning | births, recogn. | declarant is the father / mother / child, but the names differ |
| gender_name_mismatch | warning | all | middle name "Thị" for a man or "Văn" for a woman |
| birth_case_inconsistent | warning | births | nksLoaiKhaiSinh says a parent is unknown, but the parent is filled in |
| id_number_type_mismatch | error | all | the number's layout does not fit the document type (CMND 9/12, CCCD 12...) |
| id_number_holder_mismatch | warning | all | CCCD / personal ID century-gender or year digits contradict the holder |
| id_issued_before_birth | error | all | NgayCapGiayToTuyThan before the holder's birth |
| id_issued_after_registration | error | all | NgayCapGiayToTuyThan after ngayDangKy |
| entry_year_mismatch | error | all | the year in ``so`` ("125/2008") or ``quyenSo`` is not the registration year |
| death_notice_date_order | warning | deaths | gbtNgay before the death or after the registration |
| later_date_before_registration | warning | births | an annotation date (NgayGhiChu...) before the registration |

Field-level checks (unreadable dates, unknown ethnicity, ID number layout...) are the normalizers' flags
(:mod:`inference.records.normalize`); :func:`validate_record` lifts their warnings and errors to the record.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from data.schema import ROLES, Book
from data.text.dates import ParsedDate
from data.text.names import guess_gender
from inference.records.dates import parse_iso
from inference.records.flags import FLAGS, Severity, add_flag
from inference.records.identity import FORMATS_BY_DOCUMENT, cccd_holder, number_format
from inference.records.normalize import fold_name

MAN_MIN_MARRIAGE_AGE, WOMAN_MIN_MARRIAGE_AGE = 20, 18
BIRTH_DEADLINE_DAYS, DEATH_DEADLINE_DAYS = 60, 15
MAX_AGE = 120
# Parents' ages at the child's birth: (implausible below, unusual below, unusual above, implausible above).
MOTHER_AGES = (12, 16, 50, 60)
FATHER_AGES = (12, 16, 65, 80)
UNKNOWN_PARENT_AGES = (12, 16, 65, 80)


class RecordView:
    """The fields of one record by key, with typed accessors and flagging."""

    def __init__(self, book: Book, fields: list[dict], flags: list[str]) -> None:
        self.book = book
        self.fields = {f["key"]: f for f in fields}
        self.flags = flags

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def value(self, key: str):
        f = self.fields.get(key)
        return None if f is None else f["value"]

    def date(self, key: str) -> ParsedDate | None:
        return parse_iso(self.value(key))

    def flag(self, code: str, *keys: str) -> None:
        add_flag(self.flags, code)
        for key in keys:
            if key in self.fields:
                add_flag(self.fields[key]["flags"], code)


# --- date arithmetic on possibly partial dates --------------------------------------------------------------
def _bounds(pd: ParsedDate) -> tuple[dt.date, dt.date]:
    """The earliest and latest day a (partial) date can be."""
    if pd.day is not None:
        d = pd.to_date()
        return d, d
    if pd.month is not None:
        first = dt.date(pd.year, pd.month, 1)
        nxt = dt.date(pd.year + (pd.month == 12), pd.month % 12 + 1, 1)
        return first, nxt - dt.timedelta(days=1)
    return dt.date(pd.year, 1, 1), dt.date(pd.year, 12, 31)


def _after(a: ParsedDate, b: ParsedDate) -> bool:
    """``a`` is certainly after ``b``."""
    return _bounds(a)[0] > _bounds(b)[1]


def _age_range(birth: ParsedDate, on: ParsedDate) -> tuple[int, int]:
    """The youngest and oldest whole-year age someone born ``birth`` can have on ``on``."""
    b_lo, b_hi = _bounds(birth)
    o_lo, o_hi = _bounds(on)

    def age(b: dt.date, o: dt.date) -> int:
        return o.year - b.year - ((o.month, o.day) < (b.month, b.day))

    return age(b_hi, o_lo), age(b_lo, o_hi)


def _same_date(a: ParsedDate, b: ParsedDate) -> bool:
    """Equal on the parts both write (a year alone agrees with any date in that year)."""
    if a.year != b.year:
        return False
    if a.month is not None and b.month is not None and a.month != b.month:
        return False
    return not (a.day is not None and b.day is not None and a.day != b.day)


# --- rules ---------------------------------------------------------------------------------------------------
def _people(book: Book) -> list[str]:
    return [r for r in book.roles if f"{r}NgaySinh" in book or f"{r}HoTen" in book]


def rule_missing_required(v: RecordView) -> None:
    book = v.book
    required = ["ngayDangKy", f"{book.prefix}HoTen"]
    required += {"khai_sinh": ["nksNgaySinh"], "khai_tu": ["nktNgayChet"], "ket_hon": ["voHoTen"],
                 "nhan_cha_me_con": ["ncHoTen"]}.get(book.key, [])
    missing = [k for k in required if v.value(k) is None]
    if missing:
        v.flag("missing_required", *missing)


def rule_birth_after_registration(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    if reg is None:
        return
    for role in _people(v.book):
        born = v.date(f"{role}NgaySinh")
        if born is not None and _after(born, reg):
            v.flag("birth_after_registration", f"{role}NgaySinh", "ngayDangKy")


def rule_age_implausible(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    for role in _people(v.book):
        born = v.date(f"{role}NgaySinh")
        on = v.date("nktNgayChet") if role == "nkt" else reg
        if born is not None and on is not None and _age_range(born, on)[0] > MAX_AGE:
            v.flag("age_implausible", f"{role}NgaySinh")


def rule_words_date(v: RecordView) -> None:
    """Cross-check nksNgaySinhBangChu with nksNgaySinh; fill the numeric date from the words when unreadable,
    and let two readings that agree vouch for each other."""
    words_key, numeric_key = "nksNgaySinhBangChu", "nksNgaySinh"
    if words_key not in v or numeric_key not in v:
        return
    words, numeric = v.date(words_key), v.date(numeric_key)
    wf, nf = v.fields[words_key], v.fields[numeric_key]
    if words is None:
        return
    if numeric is None:
        if nf["text"] and {"date_unreadable", "date_invalid"} & set(nf["flags"]):
            nf["value"] = wf["value"]
            nf["flags"] = [f for f in nf["flags"] if f not in ("date_unreadable", "date_invalid")]
            add_flag(nf["flags"], "filled_from_words")
            nf["confidence"] = round(wf["confidence"] * 0.9, 4)
        return
    if not _same_date(words, numeric):
        v.flag("date_words_mismatch", words_key, numeric_key)
    elif words.is_complete and numeric.is_complete:
        best = max(wf["confidence"], nf["confidence"])
        wf["confidence"] = nf["confidence"] = best


def _parent_gender(v: RecordView, role: str) -> int | None:
    if ROLES[role].gender is not None:
        return ROLES[role].gender
    if role == "cm":
        return {"Nhận cha": 1, "Nhận mẹ": 2}.get(v.value("loaiXacNhan"))
    return None


def rule_parent_ages(v: RecordView) -> None:
    pairs = {"khai_sinh": [("me", "nks"), ("cha", "nks")], "nhan_cha_me_con": [("cm", "nc")]}.get(v.book.key, [])
    for parent, child in pairs:
        p_birth, c_birth = v.date(f"{parent}NgaySinh"), v.date(f"{child}NgaySinh")
        if p_birth is None or c_birth is None:
            continue
        gender = _parent_gender(v, parent)
        low, unusual_low, unusual_high, high = {2: MOTHER_AGES, 1: FATHER_AGES}.get(gender, UNKNOWN_PARENT_AGES)
        youngest, oldest = _age_range(p_birth, c_birth)
        keys = (f"{parent}NgaySinh", f"{child}NgaySinh")
        if oldest < low or youngest > high:
            v.flag("parent_age_implausible", *keys)
        elif oldest < unusual_low or youngest > unusual_high:
            v.flag("parent_age_unusual", *keys)


def rule_death_dates(v: RecordView) -> None:
    died, born, reg = v.date("nktNgayChet"), v.date("nktNgaySinh"), v.date("ngayDangKy")
    if died is None:
        return
    if born is not None and _after(born, died):
        v.flag("death_before_birth", "nktNgayChet", "nktNgaySinh")
    if reg is not None and _after(died, reg):
        v.flag("death_after_registration", "nktNgayChet", "ngayDangKy")
    notice = v.date("gbtNgay")
    if notice is not None and (_after(died, notice) or (reg is not None and _after(notice, reg))):
        v.flag("death_notice_date_order", "gbtNgay")


def rule_marriage_age(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    if reg is None or v.book.key != "ket_hon":
        return
    for role, minimum in (("chong", MAN_MIN_MARRIAGE_AGE), ("vo", WOMAN_MIN_MARRIAGE_AGE)):
        born = v.date(f"{role}NgaySinh")
        if born is None:
            continue
        youngest, oldest = _age_range(born, reg)
        if oldest < minimum:
            v.flag("spouse_under_age", f"{role}NgaySinh", "ngayDangKy")
        elif youngest < minimum:
            v.flag("spouse_age_uncertain", f"{role}NgaySinh")


def rule_registration_type(v: RecordView) -> None:
    code = v.value("loaiDangKy")
    event_key, deadline = {"khai_sinh": ("nksNgaySinh", BIRTH_DEADLINE_DAYS),
                           "khai_tu": ("nktNgayChet", DEATH_DEADLINE_DAYS)}.get(v.book.key, (None, 0))
    if code not in (1, 4) or event_key is None:
        return
    event, reg = v.date(event_key), v.date("ngayDangKy")
    if event is None or reg is None or not (event.is_complete and reg.is_complete):
        return
    delay = (reg.to_date() - event.to_date()).days
    if (code == 1 and delay > deadline) or (code == 4 and 0 <= delay <= deadline):
        v.flag("registration_type_inconsistent", "loaiDangKy")


#: Per book: the key of the declarant's relationship, and the name key of the person each relationship makes
#: the declarant (the declarant "is the father": nycHoTen is chaHoTen).
DECLARANT_IS = {"khai_sinh": ("nycQuanHe", {"cha": "chaHoTen", "mẹ": "meHoTen"}),
                "nhan_cha_me_con": ("nycQHNguoiDuocNhan", {"cha": "cmHoTen", "mẹ": "cmHoTen", "con": "ncHoTen"})}


def rule_declarant(v: RecordView) -> None:
    relation_key, targets = DECLARANT_IS.get(v.book.key, ("nycQuanHe", {}))
    relation = v.value(relation_key)
    other = targets.get(relation)
    if other is None:
        return
    declarant, person = fold_name(v.value("nycHoTen")), fold_name(v.value(other))
    if declarant and person and declarant != person:
        v.flag("declarant_mismatch", "nycHoTen", other)


def _gender_of(v: RecordView, role: str) -> int | None:
    if ROLES[role].gender is not None:
        return ROLES[role].gender
    code = v.value(f"{role}GioiTinh")
    return code if code in (1, 2) else None


def rule_gender_name(v: RecordView) -> None:
    for role in _people(v.book):
        name, gender = v.value(f"{role}HoTen"), _gender_of(v, role)
        if isinstance(name, str) and gender is not None:
            guessed = guess_gender(name)
            if guessed is not None and guessed != gender:
                keys = [f"{role}HoTen"] + ([f"{role}GioiTinh"] if f"{role}GioiTinh" in v else [])
                v.flag("gender_name_mismatch", *keys)


def rule_birth_case(v: RecordView) -> None:
    code = v.value("nksLoaiKhaiSinh")
    if code in (3, 4) and v.value("chaHoTen"):
        v.flag("birth_case_inconsistent", "nksLoaiKhaiSinh", "chaHoTen")
    if code in (2, 4) and v.value("meHoTen"):
        v.flag("birth_case_inconsistent", "nksLoaiKhaiSinh", "meHoTen")


def rule_identity_documents(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    for role in v.book.roles:
        kind, number = v.value(f"{role}LoaiGiayToTuyThan"), v.value(f"{role}SoGiayToTuyThan")
        number_key = f"{role}SoGiayToTuyThan"
        if isinstance(number, str) and kind in FORMATS_BY_DOCUMENT:
            if number_format(number) not in FORMATS_BY_DOCUMENT[kind]:
                v.flag("id_number_type_mismatch", f"{role}LoaiGiayToTuyThan", number_key)
            elif kind == 4:
                _check_holder(v, role, number, number_key)
        for id_key in (f"{role}SoDinhDanh", f"{role}SoDinhDanhCaNhan"):
            personal = v.value(id_key)
            if isinstance(personal, str):
                _check_holder(v, role, personal, id_key)
        issued, born = v.date(f"{role}NgayCapGiayToTuyThan"), v.date(f"{role}NgaySinh")
        if issued is None:
            continue
        if born is not None and _after(born, issued):
            v.flag("id_issued_before_birth", f"{role}NgayCapGiayToTuyThan", f"{role}NgaySinh")
        if reg is not None and _after(issued, reg):
            v.flag("id_issued_after_registration", f"{role}NgayCapGiayToTuyThan", "ngayDangKy")


def _check_holder(v: RecordView, role: str, number: str, key: str) -> None:
    holder = cccd_holder(number)
    if holder is None:
        return
    gender, century, yy = holder
    expected_gender = _gender_of(v, role)
    born = v.date(f"{role}NgaySinh")
    wrong_gender = expected_gender is not None and gender != expected_gender
    wrong_year = born is not None and (born.year < 1900 or century + yy != born.year)
    if wrong_gender or wrong_year:
        v.flag("id_number_holder_mismatch", key)


def rule_entry_year(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    if reg is None:
        return
    for key in ("so", "quyenSo"):
        value = v.value(key)
        if isinstance(value, str) and "/" in value:
            year = value.rsplit("/", 1)[1]
            if year.isdigit() and len(year) == 4 and int(year) != reg.year:
                v.flag("entry_year_mismatch", key, "ngayDangKy")


def rule_annotation_dates(v: RecordView) -> None:
    reg = v.date("ngayDangKy")
    if reg is None:
        return
    for key in v.fields:
        if "NgayGhiChu" in key:
            noted = v.date(key)
            if noted is not None and _after(reg, noted):
                v.flag("later_date_before_registration", key)


RULES: tuple[Callable[[RecordView], None], ...] = (
    rule_missing_required, rule_birth_after_registration, rule_age_implausible, rule_words_date,
    rule_parent_ages, rule_death_dates, rule_marriage_age, rule_registration_type, rule_declarant,
    rule_gender_name, rule_birth_case, rule_identity_documents, rule_entry_year, rule_annotation_dates,
)


def validate_record(book: Book, fields: list[dict]) -> list[str]:
    """Run every rule on normalized ``fields`` (field dicts, changed in place: rule flags are added to the
    fields they concern) and return the record's flags: the rules' flags, then every warning or error flag
    of a field, each once."""
    flags: list[str] = []
    view = RecordView(book, fields, flags)
    for rule in RULES:
        rule(view)
    for f in fields:
        for code in f["flags"]:
            if FLAGS[code].severity is not Severity.INFO:
                add_flag(flags, code)
    return flags
