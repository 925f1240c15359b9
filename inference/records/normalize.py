"""Normalization of recognized cell text, one normalizer per :class:`data.schema.ValueKind`.

:func:`normalize_value` (by kind) and :func:`normalize_field` (by book and field key) return a
:class:`~inference.records.normalized.Normalized`: a JSON-ready value, a score in 0..1 and flags. They never
raise on bad text: what cannot be read gives ``value=None`` (or the cleaned text, for open-ended kinds) and
a flag naming the problem, and the original text stays in the field object.

| kind | value | example |
|---|---|---|
| date | ISO ``YYYY-MM-DD``; ``YYYY-MM`` / ``YYYY`` when partial | ``12/3/98`` → ``1998-03-12`` |
| date_in_words | ISO date | ``Ngày mười lăm tháng ba năm một nghìn chín trăm tám mươi`` → ``1980-03-15`` |
| time_of_day | ``HH:MM`` | ``14h30`` → ``14:30`` |
| gender | GioiTinh code 1 Nam, 2 Nữ, 3 Không xác định | ``nữ`` → ``2`` |
| ethnicity | one of the 54 groups, census spelling | ``H'Mông`` → ``Mông`` |
| nationality | country name | ``VN`` → ``Việt Nam`` |
| id_document_type | LoaiGiayToTuyThan code 1-8 | ``CCCD`` → ``4`` |
| id_number / personal_id | cleaned number | ``012 345 678`` → ``012345678`` |
| place | dict: text, official form, gazetteer units and codes | see :mod:`inference.records.places` |
| registration_type | loaiDangKy code 1-6 | ``Quá hạn`` → ``4`` |
| birth_case | nksLoaiKhaiSinh code 1-5 (:data:`BIRTH_CASE_CODES`) | ``Trẻ bị bỏ rơi`` → ``5`` |
| residence_type | LoaiCuTru code (:data:`RESIDENCE_TYPE_CODES`) | ``Tạm trú`` → ``2`` |
| legal_status | TuyenBo code 1-2 | ``Hủy tuyên bố`` → ``2`` |
| relationship | canonical relationship | ``Bố`` → ``cha`` |
| recognition_type | ``Nhận cha`` / ``Nhận mẹ`` / ``Nhận con`` | |
| person_name | Title Case | ``NGUYỄN VĂN AN`` → ``Nguyễn Văn An`` |
| entry_number / volume_number | ``125`` or ``125/2008``; volumes ``01`` / ``01/2008`` | ``Số 125/08`` → ``125/2008`` |
| page_number | int | ``Tr. 37`` → ``37`` |
| cause_of_death, death_notice_type | known wording when close, else the text | |
| other kinds | the cleaned text | |

The import template gives no code table for nksLoaiKhaiSinh (only ``i=[1,2,3,4,5]``) nor LoaiCuTru; the
codes used here follow the civil-status digitization tools (cả cha lẫn mẹ / chưa xác định mẹ / cha / cả hai /
bỏ rơi; thường trú / tạm trú), with 3 added for "nơi ở hiện tại" of the 2020 residence law.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType

from rapidfuzz import fuzz

from data.charset import modern_tone_placement, normalize_text, out_of_charset, strip_marks
from data.schema import GIOI_TINH, LOAI_DANG_KY, LOAI_GIAY_TO_TUY_THAN, TUYEN_BO, ValueKind, get_book
from data.text.dates import DEFAULT_MAX_YEAR, resolve_two_digit_year
from data.text.names import SURNAMES
from data.text.vocab import (
    CAUSES_OF_DEATH, DEATH_NOTICE_TYPES, ETHNIC_GROUPS, ETHNIC_VARIANTS, GENDER_FORMS, ID_DOCUMENT_FORMS,
    NATIONALITIES, NATIONALITY_VARIANTS, RECOGNITION_TYPES, REGISTRATION_TYPE_FORMS, RELATIONSHIPS,
)
from inference.records.dates import (
    _CONFUSABLE_CHARS, _CONFUSABLE_DIGITS, normalize_date, normalize_date_in_words, normalize_time,
)
from inference.records.flags import MAX_NAME_WORDS
from inference.records.identity import normalize_id_number, normalize_personal_id
from inference.records.matching import Match, Vocabulary, bare, fold
from inference.records.names import has_listed_surname
from inference.records.normalized import Normalized
from inference.records.places import normalize_place

log = logging.getLogger("hotich.records")
K = ValueKind

BIRTH_CASE_CODES: Mapping[int, str] = MappingProxyType({
    1: "Đã xác định được cả cha lẫn mẹ",
    2: "Chưa xác định được mẹ",
    3: "Chưa xác định được cha",
    4: "Chưa xác định được cả cha lẫn mẹ",
    5: "Trẻ bị bỏ rơi",
})
RESIDENCE_TYPE_CODES: Mapping[int, str] = MappingProxyType({1: "Thường trú", 2: "Tạm trú", 3: "Nơi ở hiện tại"})

# Labels officers sometimes write in front of a value ("Dân tộc: Kinh").
_LABELS = re.compile(r"^(?:dân tộc|dt|quốc tịch|qt|giới tính|gt|loại|quan hệ)\s*[:.]?\s+", re.IGNORECASE)


@cache
def _vocabulary(name: str) -> Vocabulary:
    if name == "gender":
        forms = {f: code for code, fs in GENDER_FORMS.items() for f in fs}
        forms.update({label: code for code, label in GIOI_TINH.items()})
        forms.update({"Nam giới": 1, "Con trai": 1, "Bé trai": 1, "Nữ giới": 2, "Con gái": 2, "Bé gái": 2,
                      "Chưa xác định": 3, "KXĐ": 3, "Chưa xác định được giới tính": 3})
        return Vocabulary(forms, cutoff=0.6)
    if name == "ethnicity":
        forms = {g: g for g in ETHNIC_GROUPS}
        forms.update({v: g for g, vs in ETHNIC_VARIANTS.items() for v in vs})
        forms.update({"Khơ Me": "Khmer", "Raglai": "Ra Glai", "RaGlay": "Ra Glai", "Ê-Đê": "Ê Đê",
                      "Bana": "Ba Na", "Giẻ-Triêng": "Giẻ Triêng", "Cơ-lao": "Cơ Lao", "Lô-lô": "Lô Lô",
                      "Pà thẻn": "Pà Thẻn", "Kinh (Việt)": "Kinh", "Việt": "Kinh"})
        return Vocabulary(forms, cutoff=0.72)
    if name == "nationality":
        forms = {n: n for n in NATIONALITIES}
        forms.update({v: n for n, vs in NATIONALITY_VARIANTS.items() for v in vs})
        forms.update({"Việt Nam": "Việt Nam", "Vietnam": "Việt Nam", "Không quốc tịch": "Không quốc tịch",
                      "Mỹ": "Hoa Kỳ", "Cam-pu-chia": "Campuchia", "Căm-pu-chia": "Campuchia"})
        return Vocabulary(forms, cutoff=0.75)
    if name == "id_document_type":
        forms = {f: code for code, fs in ID_DOCUMENT_FORMS.items() for f in fs}
        forms.update({label: code for code, label in LOAI_GIAY_TO_TUY_THAN.items()})
        forms.update({"CMT": 1, "Chứng minh thư": 1, "Giấy CMTND": 1, "Thẻ căn cước": 4, "Căn cước": 4,
                      "CCCD gắn chip": 4, "Hộ chiếu phổ thông": 2, "Passport": 2, "GKS": 8})
        return Vocabulary(forms, cutoff=0.7)
    if name == "registration_type":
        forms = {f: code for code, fs in REGISTRATION_TYPE_FORMS.items() for f in fs}
        forms.update({label: code for code, label in LOAI_DANG_KY.items()})
        forms.update({"Lần đầu": 1, "Đăng ký lần đầu": 1, "Đăng ký khai sinh lại": 2})
        return Vocabulary(forms, cutoff=0.72)
    if name == "birth_case":
        forms = {label: code for code, label in BIRTH_CASE_CODES.items()}
        forms.update({"Thông thường": 1, "Khai sinh thông thường": 1, "Bình thường": 1,
                      "Có yếu tố nước ngoài": 1, "Mang thai hộ": 1, "Chưa xác định được cha, mẹ": 4,
                      "Chưa xác định được cả cha và mẹ": 4, "Trẻ em bị bỏ rơi": 5, "Trẻ sơ sinh bị bỏ rơi": 5})
        return Vocabulary(forms, cutoff=0.75)
    if name == "residence_type":
        forms = {label: code for code, label in RESIDENCE_TYPE_CODES.items()}
        forms.update({"TT": 1, "HKTT": 1, "Hộ khẩu thường trú": 1, "Tạm trú": 2, "KT3": 2, "Nơi ở": 3})
        return Vocabulary(forms, cutoff=0.7)
    if name == "legal_status":
        forms = {label: code for code, label in TUYEN_BO.items()}
        forms.update({"Huỷ tuyên bố": 2, "Đã hủy tuyên bố": 2, "Có": 1, "Đã tuyên bố": 1})
        return Vocabulary(forms, cutoff=0.7)
    if name == "recognition_type":
        forms = {t: t for t in RECOGNITION_TYPES}
        forms.update({"Nhận cha cho con": "Nhận cha", "Nhận mẹ cho con": "Nhận mẹ", "Cha nhận con": "Nhận con",
                      "Mẹ nhận con": "Nhận con", "Nhận con ngoài giá thú": "Nhận con"})
        return Vocabulary(forms, cutoff=0.7)
    if name == "relationship":
        forms = {f: rel for rel, (_, fs) in RELATIONSHIPS.items() for f in (rel, *fs)}
        forms.update({"Ba": "cha", "Thân phụ": "cha", "Thân mẫu": "mẹ", "Má": "mẹ", "Ông": "ông nội",
                      "Bà": "bà nội"})
        return Vocabulary(forms, cutoff=0.75)
    if name == "cause_of_death":
        return Vocabulary({c: c for c, _ in CAUSES_OF_DEATH}, cutoff=0.88)
    if name == "death_notice_type":
        return Vocabulary({t: t for t in DEATH_NOTICE_TYPES}, cutoff=0.88)
    raise KeyError(f"no vocabulary {name!r}")


def _lookup(name: str, text: str) -> Match | None:
    vocabulary = _vocabulary(name)
    match = vocabulary.lookup(text)
    if match is None or not match.exact:
        stripped = _LABELS.sub("", text)
        if stripped != text:
            other = vocabulary.lookup(stripped)
            if other is not None and (match is None or other.score > match.score):
                match = other
    return match


def _closed(name: str, unknown_flag: str) -> Callable[[str, dict], Normalized]:
    """A normalizer for a closed vocabulary: the canonical value, or ``None`` and ``unknown_flag``."""

    def normalizer(text: str, ctx: dict) -> Normalized:
        match = _lookup(name, text)
        if match is None:
            return Normalized.failed(unknown_flag)
        flags = () if match.exact else ("fuzzy_match",)
        if match.ambiguous:
            flags += ("ambiguous_match",)
        return Normalized(match.value, match.score, flags)

    return normalizer


def _open(name: str | None, unknown_flag: str | None = None, unknown_score: float = 1.0):
    """An open vocabulary: known wording when close enough, else the cleaned text as written."""

    def normalizer(text: str, ctx: dict) -> Normalized:
        cleaned = normalize_text(text).strip(" ,;")
        match = _lookup(name, cleaned) if name else None
        if match is not None and not match.ambiguous:
            return Normalized(match.value, match.score, () if match.exact else ("fuzzy_match",))
        if unknown_flag:
            return Normalized(cleaned, unknown_score, (unknown_flag,))
        return Normalized(cleaned, 1.0, ())

    return normalizer


#: A wording below its vocabulary's cutoff is still taken for a known one ("Tại biết mạch máu ngãi" for "Tai biến
#: mạch máu não") when it is at least this alike as a whole, has as many words, each of them at least
#: ``WORDWISE_WORD_RATIO`` alike without marks, and no rival comes within the vocabulary's margin. Word by word,
#: a cause the list lacks ("Ung thư vú", "Ung thư vòm") is not pulled onto a listed one.
WORDWISE_CUTOFF = 0.78
WORDWISE_WORD_RATIO = 0.5


def _wordwise(name: str, text: str) -> Match | None:
    words = fold(text).split()
    scored = []
    for form, value in _vocabulary(name).forms():
        form_words = fold(form).split()
        if len(form_words) != len(words) or not all(
                fuzz.ratio(strip_marks(a), strip_marks(b)) / 100 >= WORDWISE_WORD_RATIO for a, b in zip(words, form_words)):
            continue
        scored.append((fuzz.ratio(" ".join(words), " ".join(form_words)) / 100, value))
    scored.sort(key=lambda sv: -sv[0])
    if not scored or scored[0][0] < WORDWISE_CUTOFF:
        return None
    if len(scored) > 1 and scored[1][1] != scored[0][1] and scored[1][0] > scored[0][0] - _vocabulary(name).margin:
        return None
    return Match(scored[0][1], round(scored[0][0], 4), False)


def _open_wordwise(name: str) -> Callable[[str, dict], Normalized]:
    """:func:`_open`, with known wordings also matched word by word (:func:`_wordwise`) below the cutoff. A
    text without a letter ("20-12-2017" as a death-notice type) is a value read into the wrong column."""
    plain = _open(name)
    known = _vocabulary(name).values

    def normalizer(text: str, ctx: dict) -> Normalized:
        result = plain(text, ctx)
        if result.value and not any(ch.isalpha() for ch in str(result.value)):
            return Normalized(result.value, 0.5, ("no_letters",))
        if result.value in known or not result.value:
            return result
        match = _wordwise(name, result.value)
        return Normalized(match.value, match.score, ("fuzzy_match",)) if match else result

    return normalizer


#: Words that alone name no nationality: a half of "Việt Nam" (written over two lines, or cut between an
#: ethnicity and the nationality: "Kinh Việt" over "Nam") or a gender read into the nationality's cell.
NATIONALITY_FRAGMENTS = frozenset({"việt", "nam", "nữ"})
#: The score of such a word read as the nationality (an unknown one keeps 0.6: a nationality the list lacks).
NATIONALITY_FRAGMENT_SCORE = 0.05


def _nationality(text: str, ctx: dict) -> Normalized:
    result = _open("nationality", "nationality_unknown", 0.6)(text, ctx)
    if "nationality_unknown" in result.flags and result.value:
        words = str(result.value).split()
        score = NATIONALITY_FRAGMENT_SCORE if fold(str(result.value)) in NATIONALITY_FRAGMENTS else result.score
        result = Normalized(" ".join(w[:1].upper() + w[1:] for w in words), score, result.flags)
    return result


def _relationship(text: str, ctx: dict) -> Normalized:
    return _open("relationship", "relationship_unknown", 0.6)(text, ctx)


# --- names and numbers -------------------------------------------------------------------------------------
def _title_word(word: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in word.split("-"))


#: The words that start a given name, never end one.
_MIDDLE_NAMES = frozenset({"văn", "thị"})
# Words of the relationship column that end no one's name ("Anh", "Chi", "Em" do: they are given names too).
_KINSHIP_WORDS = frozenset({"mẹ", "cha", "bố", "vợ", "chồng", "cháu", "con", "dì", "cậu", "chú", "bác", "ông",
                            "bà", "nội", "ngoại", "ruột", "đẻ", "trai", "gái", "dâu", "rể"})
#: The normalizer's score of an incomplete name (it multiplies the recognizer's confidence).
INCOMPLETE_NAME_SCORE = 0.5
#: ... and of a name of two words ("Lê Lợi" is a name, "Phạm Khánh" may be one cut short).
SHORT_NAME_SCORE = 0.85


#: A separator inside a name: what stands after it is another cell's (a relationship, a note).
_NAME_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+[-–]\s+")


def normalize_name(text: str) -> Normalized:
    """A person's name in Title Case ("NGUYỄN VĂN AN" → "Nguyễn Văn An", "HOÀ" → "Hòa"); digits are an error.

    What cannot be part of anyone's name is left out of the value, and flagged: what follows a separator
    ("Trần Thị Hiền, Nội"), words with digits, a kinship word at the end ("Lê Thị Phương Mẹ")."""
    s = normalize_text(text).strip(" .,;:-–")
    if not s:
        return Normalized(None, 1.0, ("empty",))
    flags: list[str] = []
    # Longer than any name: another cell's line (a second person's name, a relationship) joined to it.
    too_long = len(s.split()) > MAX_NAME_WORDS
    head, *rest = _NAME_SEPARATOR.split(s, maxsplit=1)
    separated = bool(rest) and len(head.split()) >= 2
    if separated:
        flags.append("name_has_separator")
        s = head
    words = s.split()
    # "Lê Văn Bình ngày 12 tháng 05 năm 1949", "Nguyễn Văn Ninh Hoàng Thị ...": a date in words or another
    # person's name (a surname, then Thị or Văn) joined after a whole name; the name is what stands before.
    # A name read twice ("Lê Văn Nam Lê Văn Nam") is a misreading, not two values: left to the check below.
    joined = None if _has_repeated_run([fold(w) for w in words]) else _joined_value_at(words)
    if joined is not None:
        flags.append("name_has_other_value")
        words = words[:joined]
        s = " ".join(words)
    if any(c.isdigit() for c in s):
        flags.append("name_has_digits")
        words = [w for w in words if not any(c.isdigit() for c in w)] or words
    # A name of one word, or one ending in a middle name ("Nguyễn Văn", "Trần Thị"), has lost a line or a
    # word: a doubtful reading, whatever the recognizer's confidence.
    incomplete = len(words) < 2 or fold(words[-1]) in _MIDDLE_NAMES
    if incomplete:
        flags.append("name_incomplete")
    # "Nguyễn Văn Văn Anh", "NGUYỄN NGUYỄN", "Lê Văn Nam Lê Văn Nam": words twice in a row are a line read
    # twice or a misreading.
    repeated = _has_repeated_run([fold(w) for w in words])
    if repeated:
        flags.append("name_repeated_word")
    if too_long:
        flags.append("name_too_long")
    # "Lê Thị Phương Mẹ": the relationship column's word joined to the name (a kinship word no one is named).
    kinship = len(words) > 1 and fold(words[-1]) in _KINSHIP_WORDS
    if kinship:
        flags.append("name_has_relationship")
        while len(words) > 3 and fold(words[-1]) in _KINSHIP_WORDS:
            words = words[:-1]
    # "Chủ tịch UBND" under "Người ký": the signer's title, read where the name was looked for.
    title = any(tuple(fold(w) for w in words[:len(t)]) == t for t in _TITLES_AFTER_NAME)
    if title:
        flags.append("name_is_a_title")
    # "Phạm Khánh" for "Phạm Khánh Phương": most names have three words or more, and a two-word one is as often
    # a name whose last word went to another cell or was never read. Doubted a little, not called incomplete.
    short = not incomplete and len(words) == 2
    if short:
        flags.append("name_short")
    # One tone placement: "Hoà" and "Hòa" are one name, written in the old style and the new.
    doubtful = incomplete or repeated or too_long or kinship or separated or joined is not None or title
    score = INCOMPLETE_NAME_SCORE if doubtful else SHORT_NAME_SCORE if short else 1.0
    return Normalized(" ".join(_title_word(modern_tone_placement(w)) for w in words), score, tuple(flags))


def _joined_value_at(words: list[str]) -> int | None:
    """Where another value starts after a whole name (three words at least) in ``words``: a date in words ("ngày"
    with "tháng" or "năm" after it), a post ("Phó Chủ tịch", "Cán bộ tư pháp") or a second person's name (a
    surname, then "Thị" or "Văn"); ``None``."""
    folded = [fold(w) for w in words]
    for i in range(3, len(words)):
        if folded[i] == "ngày" and any(w in ("tháng", "năm") for w in folded[i + 1:]):
            return i
        if any(tuple(folded[i:i + len(title)]) == title for title in _TITLES_AFTER_NAME):
            return i  # the signer's title from the next cell: "TRẦN THỊ NGỌC Phó Chủ tịch"
        if (i + 1 < len(words) and folded[i] in _SURNAMES_FOLDED and folded[i + 1] in _MIDDLE_NAMES
                and words[i][:1].isupper()):
            return i
    return None


_SURNAMES_FOLDED = frozenset(fold(name) for name in SURNAMES)
#: Posts that follow a signer's name when the title column's line is read into the name's.
_TITLES_AFTER_NAME = (("phó", "chủ", "tịch"), ("chủ", "tịch"), ("cán", "bộ"), ("công", "chức"))


def _has_repeated_run(words: list[str]) -> bool:
    """Whether some run of one or more words comes twice in a row (``a b a b``, ``a a``)."""
    n = len(words)
    return any(words[i:i + size] == words[i + size:i + 2 * size]
               for size in range(1, n // 2 + 1) for i in range(n - 2 * size + 1))


def _fix_digits(s: str) -> str:
    return "".join(c.translate(_CONFUSABLE_DIGITS) if c in _CONFUSABLE_CHARS else c for c in s)


def _numbered(text: str, label: str, pattern: str, build: Callable[[re.Match], object], misread: str) -> Normalized:
    """A number after an optional ``label``; ``misread`` matches (mark-less, lower case) the words a misread
    label may come out as."""
    s = normalize_text(text).strip(" .,;:")
    if not s:
        return Normalized(None, 1.0, ("empty",))
    written = s = re.sub(r"\s*/\s*", "/", s)
    s = re.sub(label, "", s, flags=re.IGNORECASE).strip()
    m = re.fullmatch(pattern, s)
    if m is not None:
        return Normalized(build(m), 1.0, ())
    # The label misread ("Trị 50" for "Tr. 50", "Quyền 01"): a short word starting as the label does.
    unlabelled = re.fullmatch(r"([^\W\d_]{1,6})\.?\s*(.+)", written)
    if (unlabelled is not None and re.fullmatch(misread, strip_marks(unlabelled[1]).lower())
            and (m := re.fullmatch(pattern, unlabelled[2])) is not None):
        return Normalized(build(m), 0.9, ())
    fixed = _fix_digits(s)
    m = re.fullmatch(pattern, fixed)
    if m is not None:
        return Normalized(build(m), 0.85, ("ocr_digits_fixed",))
    if any(c.isdigit() for c in s) and re.fullmatch(r"[\w/.\-]+", s):
        return Normalized(s, 0.9, ())  # "12a" (an inserted entry), "2004-57851" (a foreign register)
    return Normalized.failed("number_unreadable")


def _year(text: str, max_year: int) -> int:
    return resolve_two_digit_year(int(text), max_year) if len(text) == 2 else int(text)


def normalize_entry_number(text: str, *, max_year: int = DEFAULT_MAX_YEAR) -> Normalized:
    """``so``: "125", "Số 125", "125/2008", "125/08" → "125" or "125/2008"."""
    return _numbered(text, r"^(?:số|so|sô)\s*[.:]?\s*", r"(\d{1,6})(?:/(\d{4}|\d{2}))?",
                     lambda m: f"{int(m[1])}" + (f"/{_year(m[2], max_year)}" if m[2] else ""), r"s\w{0,2}")


def normalize_volume_number(text: str, *, max_year: int = DEFAULT_MAX_YEAR) -> Normalized:
    """``quyenSo``: "01/2008", "1/2008", "Quyển 02", "1" → "01/2008", "02", "01"."""
    return _numbered(text, r"^(?:quyển|quyen|q)\s*(?:số)?\s*[.:]?\s*", r"(\d{1,3})(?:/(\d{4}|\d{2}))?",
                     lambda m: f"{int(m[1]):02d}" + (f"/{_year(m[2], max_year)}" if m[2] else ""), r"q\w{1,4}")


def normalize_page_number(text: str) -> Normalized:
    """``trangSo``: "37", "Tr. 37", "trang 37", "07" → 37."""
    return _numbered(text, r"^(?:trang|tr)\s*(?:số)?\s*[.:]?\s*", r"(\d{1,4})", lambda m: int(m[1]), r"t[a-z]{1,4}")


def _document_number(text: str, ctx: dict) -> Normalized:
    s = re.sub(r"^(?:số|so)\s*[.:]?\s*", "", normalize_text(text).strip(" .,;:"), flags=re.IGNORECASE)
    if not any(c.isdigit() for c in s):
        return Normalized(s or None, 0.5, ("number_unreadable",))
    if _WHOLE_DATE.fullmatch(s):
        # "28-07-2002": a decision or notice is numbered "12/QĐ-UBND" or "125/2008", never by a day.
        return Normalized(s, 0.5, ("number_is_a_date",))
    return Normalized(re.sub(r"\s*/\s*", "/", s), 1.0, ())


_WHOLE_DATE = re.compile(r"\d{1,2}\s*[./-]\s*\d{1,2}\s*[./-]\s*\d{4}")


def _text(text: str, ctx: dict) -> Normalized:
    return Normalized(normalize_text(text).strip(" ,;"), 1.0, ())


def _named_text(text: str, ctx: dict) -> Normalized:
    """An office, authority or title: free text, but never without a letter. A bare number or date here is a
    value read into the wrong column (a volume number taken for the registering office, say)."""
    out = _text(text, ctx)
    if out.value and not any(ch.isalpha() for ch in out.value):
        return Normalized(out.value, 0.5, ("no_letters",))
    return out


# What a registering office and a signer's title are made of (compared without marks, for a reading that lost
# them): an office names a committee, a unit or a department; a title names a post. Anything else there (a
# volume label "Quyển 01", a relationship "Con trai") was read from another column or from the page header.
_OFFICE_WORDS = ("ubnd", "ubhc", "uy ban", "xa", "phuong", "thi tran", "huyen", "quan", "thi xa", "thanh pho",
                 "tp", "tinh", "so", "tu phap", "dai su quan", "lanh su", "co quan", "ho tich",
                 "ub", "p", "tt", "tx", "x", "h", "q")  # and their abbreviations: "UB P. Minh Tân", "UB TT Nam Sách"
_TITLE_WORDS = ("chu tich", "ct", "pct", "pho", "can bo", "cong chuc", "tu phap", "ho tich", "tp ht", "uy vien",
                "thu ky", "truong", "kt", "giam doc", "dai su", "lanh su")


def _naming(words: tuple[str, ...], flag: str) -> Callable[[str, dict], Normalized]:
    """An office or a title (:func:`_named_text`) that must also contain one of ``words``, else ``flag``."""

    def normalize(text: str, ctx: dict) -> Normalized:
        out = _named_text(text, ctx)
        padded = f" {' '.join(re.sub(r'[^0-9a-z]+', ' ', bare(out.value or '')).split())} "
        if out.value and not out.flags and not any(f" {w} " in padded for w in words):
            return Normalized(out.value, 0.5, (flag,))
        return out

    return normalize


def _title(text: str, ctx: dict) -> Normalized:
    """A signer's title (:func:`_naming` of ``_TITLE_WORDS``); one after a person's name, two words or more
    starting with a listed surname ("TRẦN MINH THÀNH Phó Chủ tịch"), is two values read as one."""
    out = _naming(_TITLE_WORDS, "not_a_title")(text, ctx)
    if out.flags or not out.value:
        return out
    words = out.value.split()
    plain = [" ".join(re.sub(r"[^0-9a-z]+", " ", bare(w)).split()) for w in words]
    starts = [i for i in range(len(words)) if any(f"{' '.join(plain[i:])} ".startswith(f"{w} ") for w in _TITLE_WORDS)]
    if starts and starts[0] >= 2 and has_listed_surname(" ".join(words[:starts[0]])):
        return Normalized(out.value, 0.5, ("title_has_name",))
    return out


_NORMALIZERS: dict[ValueKind, Callable[[str, dict], Normalized]] = {
    K.PERSON_NAME: lambda t, c: normalize_name(t),
    K.GENDER: _closed("gender", "gender_unknown"),
    K.DATE: lambda t, c: normalize_date(t, max_year=c["max_year"], reference_year=c.get("reference_year"),
                                        today=c.get("today")),
    K.DATE_IN_WORDS: lambda t, c: normalize_date_in_words(t, max_year=c["max_year"], today=c.get("today")),
    K.TIME_OF_DAY: lambda t, c: normalize_time(t),
    K.PLACE: lambda t, c: normalize_place(t),
    K.ETHNICITY: _closed("ethnicity", "ethnicity_unknown"),
    K.NATIONALITY: _nationality,
    K.ID_DOCUMENT_TYPE: _closed("id_document_type", "id_type_unknown"),
    K.ID_NUMBER: lambda t, c: normalize_id_number(t, c.get("document_type")),
    K.PERSONAL_ID: lambda t, c: normalize_personal_id(t),
    K.ISSUING_AUTHORITY: _named_text,
    K.RESIDENCE_TYPE: _closed("residence_type", "code_unknown"),
    K.RELATIONSHIP: _relationship,
    K.ENTRY_NUMBER: lambda t, c: normalize_entry_number(t, max_year=c["max_year"]),
    K.VOLUME_NUMBER: lambda t, c: normalize_volume_number(t, max_year=c["max_year"]),
    K.PAGE_NUMBER: lambda t, c: normalize_page_number(t),
    K.DOCUMENT_NUMBER: _document_number,
    K.REGISTRATION_TYPE: _closed("registration_type", "code_unknown"),
    K.BIRTH_CASE: _closed("birth_case", "code_unknown"),
    K.REGISTRATION_OFFICE: _naming(_OFFICE_WORDS, "not_an_office"),
    K.OFFICER_TITLE: _title,
    K.CAUSE_OF_DEATH: _open_wordwise("cause_of_death"),
    K.DEATH_NOTICE_TYPE: _open_wordwise("death_notice_type"),
    K.RECOGNITION_TYPE: _closed("recognition_type", "code_unknown"),
    K.LEGAL_STATUS: _closed("legal_status", "code_unknown"),
    K.FREE_TEXT: _text,
}
assert set(_NORMALIZERS) == set(ValueKind), "every value kind needs a normalizer"


def normalize_value(kind: ValueKind | str, text: object, *, max_year: int = DEFAULT_MAX_YEAR,
                    reference_year: int | None = None, today: dt.date | None = None,
                    document_type: int | None = None) -> Normalized:
    """Normalize ``text`` as a value of ``kind``. Never raises on bad text (``None``, numbers and garbage
    included); an unknown ``kind`` is a programming error and raises ``ValueError``.

    ``max_year`` resolves two-digit years (the registration year for dates before the registration);
    ``reference_year`` is the year an age ("25 tuổi") counts back from; ``today`` bounds dates (tests);
    ``document_type`` is the LoaiGiayToTuyThan code that goes with an ID number.
    """
    try:
        kind = ValueKind(kind)
    except ValueError:
        raise ValueError(f"unknown value kind {kind!r}; valid: {', '.join(k.value for k in ValueKind)}") from None
    if text is None:
        return Normalized(None, 1.0, ("empty",))
    text = text if isinstance(text, str) else str(text)
    if not normalize_text(text).strip(" .,;:-_"):
        return Normalized(None, 1.0, ("empty",))
    ctx = {"max_year": max_year, "reference_year": reference_year, "today": today,
           "document_type": document_type}
    try:
        result = _NORMALIZERS[kind](text, ctx)
    except Exception as exc:  # noqa: BLE001 - a normalizer bug must not lose the record; the text stays
        log.warning("normalizer for %s failed: %s", kind.value, type(exc).__name__)
        return Normalized(None, 0.0, ("normalizer_failed",))
    if out_of_charset(normalize_text(text)):
        result = result.with_flags("unusual_characters")
    if kind in _NAMING_KINDS and _unfinished(text):
        result = Normalized(result.value, result.score * UNFINISHED_SCORE, (*result.flags, "text_unfinished"))
    if kind == ValueKind.ISSUING_AUTHORITY and _ID_DIGITS.search(text):
        result = Normalized(result.value, result.score * UNFINISHED_SCORE, (*result.flags, "authority_has_number"))
    return result


#: Kinds whose text names something (a place, an office, a cause): one that stops on a separator or a word that
#: needs another after it ("Kinh Môn,", "Giấy báo tử của", "xã Hưng Đạo, huyện") lost its end to another cell
#: or to a cut, and keeps this share of its score.
UNFINISHED_SCORE = 0.5
_NAMING_KINDS = frozenset({ValueKind.PLACE, ValueKind.ISSUING_AUTHORITY, ValueKind.REGISTRATION_OFFICE,
                           ValueKind.CAUSE_OF_DEATH, ValueKind.DEATH_NOTICE_TYPE})
_DANGLING_WORDS = frozenset({"của", "và", "tại", "ở", "số"})
# A unit word ends a name too ("xã Thượng Quận"): it dangles only in lower case or after a separator.
_DANGLING_UNITS = frozenset({"xã", "phường", "huyện", "quận", "tỉnh"})
# An ID number (9 or 12 digits, or a passport's) read into an issuing authority's cell.
_ID_DIGITS = re.compile(r"\d{6,}")


def _unfinished(text: str) -> bool:
    cleaned = normalize_text(text).strip()
    if not cleaned:
        return False
    if cleaned[-1] in ",-–/(":
        return True
    words = cleaned.split()
    if len(words) < 2:
        return False
    last = fold(words[-1])
    return last in _DANGLING_WORDS or last in _DANGLING_UNITS and (words[-1].islower() or words[-2][-1] in ",-–;")


def normalize_field(book_key: str, field_key: str, text: object, **context) -> Normalized:
    """:func:`normalize_value` with the kind of ``field_key`` in ``book_key`` (``KeyError`` if unknown)."""
    return normalize_value(get_book(book_key).field(field_key).kind, text, **context)


def fold_name(name: object) -> str:
    """Comparison key for person names (case, spacing, tone placement)."""
    return fold(name) if isinstance(name, str) else ""
