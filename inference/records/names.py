"""Persons' names against the list of Vietnamese surnames.

Nearly every Vietnamese belongs to one of a few dozen clans (:data:`data.text.names.SURNAMES`: Nguyễn, Trần,
Lê, Phạm… cover well over nine in ten people), and the surname comes first. A first word that is no surname
("Thạm Văn Hải", "THẦN VĂN HOÈ") is most often one misread, so the listed surnames near it are the readings
worth trying on the line's crop (``inference.pages.PagePipeline.read_surnames_from_list``).
"""
from __future__ import annotations

from functools import lru_cache

from rapidfuzz import fuzz, process

from data.text.names import GIVEN_NAMES, MIDDLE_NAMES, SURNAMES
from inference.records.matching import bare, fold

#: Surnames besides the generator's weighted list (:data:`data.text.names.SURNAMES`): smaller Kinh clans and
#: those of the northern and central highland peoples (Hmong, Thái, Tày, Nùng, Dao…), so that a rare surname
#: read right is not read again as a common one.
MORE_SURNAMES = (
    "Âu", "Bạch", "Bành", "Bế", "Cấn", "Chử", "Cù", "Đàm", "Diệp", "Đồng", "Giáp", "Giàng", "Hàn", "Hầu", "Khổng",
    "Kim", "Lã", "Lạc", "Lầu", "Lục", "Lữ", "Lường", "Ma", "Mẫn", "Mùa", "Nhữ", "Ninh", "Ông", "Phí", "Quàng",
    "Sầm", "Sùng", "Thân", "Thào", "Tiêu", "Tôn", "Tòng", "Trình", "Từ", "Vàng", "Vi", "Viên", "Ưng",
)

#: The listed surnames :func:`surname_readings` offers for a first word that is none: at most this many, each
#: at least this alike to the word read (rapidfuzz ratio of the folded words without marks, 0–100).
SURNAME_READINGS = 4
SURNAME_RATIO = 50


@lru_cache(maxsize=1)
def _surnames() -> dict[str, str]:
    """Folded surname → as written ("nguyễn" → "Nguyễn"), the generator's list and :data:`MORE_SURNAMES`."""
    return {fold(name): name for name in (*SURNAMES, *MORE_SURNAMES)}


@lru_cache(maxsize=1)
def _surnames_by_bare() -> dict[str, str]:
    """Surname without marks → as written ("nguyen" → "Nguyễn"); of two alike but for marks, the later."""
    return {bare(name): name for name in _surnames().values()}


def has_listed_surname(text: str) -> int:
    """1 where the first word of the name ``text`` is a listed surname (case and tone placement aside), else 0."""
    words = text.split()
    return int(bool(words) and fold(words[0]) in _surnames())


def reads_as_a_person(text: str) -> bool:
    """Whether ``text`` is shaped like a person's name and like nothing else: two to five words without digits
    or separators, a listed surname, then "Thị" or "Văn" ("Trần Thị Hiền", "LÊ VĂN NINH"). A place, an office
    or a date is never written so."""
    words = text.split()
    return (2 <= len(words) <= 5 and not any(c.isdigit() or c in ",;:-–/()" for c in text)
            and fold(words[0]) in _surnames() and fold(words[1]) in ("thị", "văn"))


#: Surnames so common (a share of 1% of people or more) that one inside a name, with a word after it, begins
#: another person's name.
COMMON_SURNAME_SHARE = 1.0


@lru_cache(maxsize=1)
def _common_surnames() -> frozenset[str]:
    return frozenset(fold(name) for name, share in SURNAMES.items() if share >= COMMON_SURNAME_SHARE)


def holds_two_names(text: str) -> bool:
    """Whether ``text`` reads as one name run into the next: a common surname as its fourth word or later with
    a word after it ("PHẠM THỊ YẾN NGUYỄN TUẤN", "Nguyễn Văn Hùng Phan Thái"). A second surname second or third
    is a name's own ("Hoàng Nguyễn Thế Tiến", "Tôn Nữ Hoàng Lan"), and one last may be a given name
    ("Nguyễn Văn Đình Dương")."""
    words = text.split()
    return any(fold(word) in _common_surnames() for word in words[3:-1])


def surname_readings(text: str) -> list[str]:
    """The name ``text`` with its first word replaced by each listed surname near it, in the case of the word
    read ("THẠM VĂN HẢI" → "PHẠM VĂN HẢI", "THÁI VĂN HẢI"…); none where the first word is a listed surname
    already, or the name is one word (a given name alone, or no name)."""
    words = text.split(" ")
    if len(text.split()) < 2 or not words[0] or has_listed_surname(text):
        return []
    read = words[0]
    plain = _surnames_by_bare()
    out = []
    for key, _, _ in process.extract(bare(read), list(plain), scorer=fuzz.ratio, limit=SURNAME_READINGS,
                                     score_cutoff=SURNAME_RATIO):
        name = plain[key]
        name = name.upper() if read.isupper() and len(read) > 1 else name
        reading = " ".join([name, *words[1:]])
        if reading != text and reading not in out:
            out.append(reading)
    return out


#: Given and middle names besides the generator's lists (:data:`data.text.names.GIVEN_NAMES`,
#: :data:`data.text.names.MIDDLE_NAMES`): common names of every generation that it does not draw, so that such a
#: name read right is not read again as a listed one.
MORE_GIVEN_NAMES = (
    "Ái", "Bắc", "Bạch", "Biên", "Bội", "Cát", "Cầm", "Cần", "Chánh", "Châm", "Chinh", "Chức", "Cương", "Đại",
    "Đan", "Đảm", "Đang", "Đoan", "Đồng", "Du", "Dự", "Dung", "Dược", "Gia", "Hạ", "Hàm", "Hân", "Hiên", "Hiệu",
    "Hinh", "Hoan", "Hoán", "Hội", "Hợp", "Huấn", "Hữu", "Hy", "Kha", "Khả", "Khanh", "Khuê", "Khương", "Kỳ",
    "Lạc", "Lam", "Lập", "Lễ", "Liêm", "Lĩnh", "Lư", "Luyến", "Lý", "Mẫn", "Miên", "Minh", "Mừng", "Na", "Nam",
    "Nga", "Nghi", "Ngôn", "Nguyên", "Nhạn", "Nhật", "Nhiên", "Nhu", "Nương", "Phi", "Phong", "Phụng", "Quyền",
    "Sa", "Sang", "Sinh", "Sương", "Tài", "Tân", "Tấn", "Thạch", "Thái", "Thảnh", "Thiên", "Thiệu", "Thoại",
    "Thông", "Thục", "Thường", "Tiên", "Tín", "Tình", "Toại", "Toản", "Trà", "Trí", "Triều", "Trinh", "Trọng",
    "Trực", "Tư", "Tuân", "Tuệ", "Tứ", "Tước", "Tường", "Ước", "Uy", "Văn", "Vĩ", "Viên", "Vĩnh", "Vỹ", "Vương",
    "Vy", "Xoan", "Xuyến", "Yên",
)

#: The listed names :func:`given_name_readings` offers for a word of a name that is none: at most this many, each
#: at least this alike to the word read (rapidfuzz ratio of the folded words without marks, 0–100).
GIVEN_NAME_READINGS = 6
GIVEN_NAME_RATIO = 60


@lru_cache(maxsize=1)
def _name_words() -> dict[str, str]:
    """Folded word → as written, for every word a name's middle or end may hold: given and middle names (the
    generator's and :data:`MORE_GIVEN_NAMES`), and surnames (a mother's surname is often a middle name)."""
    words = {fold(name): name for name in (*GIVEN_NAMES, *MIDDLE_NAMES, *MORE_GIVEN_NAMES)}
    return {**_surnames(), **words}


@lru_cache(maxsize=1)
def _name_words_by_bare() -> dict[str, tuple[str, ...]]:
    """Name word without marks → every listed word so written ("hoa" → ("Hoa", "Hòa"))."""
    out: dict[str, list[str]] = {}
    for name in _name_words().values():
        out.setdefault(bare(name), []).append(name)
    return {key: tuple(names) for key, names in out.items()}


def listed_name_words(text: str) -> int:
    """How many words of the name ``text`` after its first are listed names (case and tone placement aside)."""
    words = _name_words()
    return sum(fold(w) in words for w in text.split()[1:])


def given_name_readings(text: str) -> list[str]:
    """The name ``text`` with one of its words after the first, which is no listed name, replaced by each
    listed name near it, in the case of the word read ("NGUYỄN THỊ HÀNG" → "NGUYỄN THỊ HẰNG"…); none for a name
    of one word or of more than four, or with digits or separators (another cell's text joined to it)."""
    words = text.split(" ")
    if not 2 <= len(text.split()) <= 4 or any(c.isdigit() or c in ",;:-–/()" for c in text):
        return []
    known = _name_words()
    by_bare = _name_words_by_bare()
    keys = list(by_bare)
    out = []
    for k, read in enumerate(words):
        if k == 0 or not read or fold(read) in known:
            continue
        for key, _, _ in process.extract(bare(read), keys, scorer=fuzz.ratio, limit=GIVEN_NAME_READINGS,
                                         score_cutoff=GIVEN_NAME_RATIO):
            for name in by_bare[key]:
                name = name.upper() if read.isupper() and len(read) > 1 else name
                reading = " ".join([*words[:k], name, *words[k + 1:]])
                if reading != text and reading not in out:
                    out.append(reading)
    return out


__all__ = ["COMMON_SURNAME_SHARE", "GIVEN_NAME_RATIO", "GIVEN_NAME_READINGS", "MORE_GIVEN_NAMES", "MORE_SURNAMES", "SURNAME_RATIO",
           "SURNAME_READINGS", "given_name_readings", "has_listed_surname", "holds_two_names", "listed_name_words",
           "reads_as_a_person", "surname_readings"]
