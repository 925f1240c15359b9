"""Closed vocabularies of register books: ethnic groups, nationalities, relationships, officers' titles,
identity-document types, residence types, causes of death and the code tables' written forms.

Each vocabulary is a canonical value (what a normalized record stores) with weights, plus the spellings
officers actually write for it ("Khmer" / "Khơ-me", "CMND" / "Giấy CMND"). Writers draw a written form.
"""
from __future__ import annotations

import random
from functools import lru_cache
from typing import Mapping

from data.schema import GIOI_TINH, LOAI_DANG_KY, LOAI_GIAY_TO_TUY_THAN, TUYEN_BO
from data.text.weighted import WeightedTable

# --- Ethnic groups -----------------------------------------------------------------------------------------
# The 54 groups of the official list as the 2019 census spells them, with their population share in percent
# (2019 census, rounded; the smallest groups get a floor so they still occur in large synthetic sets).
ETHNIC_GROUPS: dict[str, float] = {
    "Kinh": 85.3, "Tày": 1.9, "Thái": 1.9, "Mường": 1.5, "Mông": 1.5, "Khmer": 1.4, "Nùng": 1.1, "Dao": 0.9,
    "Hoa": 0.8, "Gia Rai": 0.5, "Ê Đê": 0.4, "Ba Na": 0.3, "Sán Chay": 0.2, "Chăm": 0.2, "Cơ Ho": 0.2,
    "Xơ Đăng": 0.2, "Sán Dìu": 0.2, "Hrê": 0.15, "Ra Glai": 0.15, "Mnông": 0.13, "Thổ": 0.09, "Xtiêng": 0.1,
    "Khơ Mú": 0.09, "Bru Vân Kiều": 0.1, "Cơ Tu": 0.07, "Giáy": 0.07, "Tà Ôi": 0.05, "Mạ": 0.05,
    "Giẻ Triêng": 0.07, "Co": 0.04, "Chơ Ro": 0.03, "Xinh Mun": 0.03, "Hà Nhì": 0.03, "Chu Ru": 0.02,
    "Lào": 0.02, "La Chí": 0.02, "Kháng": 0.02, "Phù Lá": 0.01, "La Hủ": 0.01, "La Ha": 0.01,
    "Pà Thẻn": 0.01, "Lự": 0.01, "Ngái": 0.01, "Chứt": 0.01, "Lô Lô": 0.01, "Mảng": 0.01, "Cơ Lao": 0.01,
    "Bố Y": 0.01, "Cống": 0.01, "Si La": 0.01, "Pu Péo": 0.01, "Rơ Măm": 0.01, "Brâu": 0.01, "Ơ Đu": 0.01,
}
# Other spellings found in books (older official spellings with hyphens, popular names).
ETHNIC_VARIANTS: dict[str, tuple[str, ...]] = {
    "Khmer": ("Khơ-me", "Khơ me"), "Mông": ("H'Mông", "HMông", "Hmông", "Mèo"), "Gia Rai": ("Gia-rai",),
    "Ê Đê": ("Ê-đê", "Êđê"), "Ba Na": ("Ba-na",), "Cơ Ho": ("Cơ-ho",), "Xơ Đăng": ("Xơ-đăng",),
    "Ra Glai": ("Ra-glai",), "Mnông": ("M'Nông",), "Xtiêng": ("Xơ Tiêng",), "Khơ Mú": ("Khơ-mú",),
    "Bru Vân Kiều": ("Bru-Vân Kiều", "Vân Kiều"), "Cơ Tu": ("Cơ-tu",), "Tà Ôi": ("Tà-ôi",),
    "Giẻ Triêng": ("Gié-Triêng",), "Chơ Ro": ("Chơ-ro",), "Xinh Mun": ("Xinh-mun",), "Chu Ru": ("Chu-ru",),
    "Sán Chay": ("Cao Lan",), "Rơ Măm": ("Rơ-măm",), "Ơ Đu": ("Ơ-đu",),
}

# --- Nationalities -----------------------------------------------------------------------------------------
NATIONALITIES: dict[str, float] = {
    "Việt Nam": 970, "Trung Quốc": 6, "Hàn Quốc": 6, "Đài Loan": 4, "Nhật Bản": 2, "Hoa Kỳ": 2, "Lào": 2,
    "Campuchia": 2, "Úc": 1, "Pháp": 1, "Đức": 1, "Canada": 1, "Anh": 0.5, "Nga": 0.5, "Thái Lan": 0.5,
    "Malaysia": 0.5, "Singapore": 0.5, "Philippines": 0.3, "Ấn Độ": 0.3, "Séc": 0.2, "Ba Lan": 0.2,
    "Hà Lan": 0.2, "Thụy Điển": 0.2, "Na Uy": 0.2, "Italia": 0.2, "Ukraina": 0.2, "Indonesia": 0.2,
}
NATIONALITY_VARIANTS: dict[str, tuple[str, ...]] = {
    "Việt Nam": ("VN", "Việt nam"), "Hoa Kỳ": ("Mỹ",), "Úc": ("Australia", "Ô-xtrây-li-a"),
    "Hàn Quốc": ("Hàn quốc",), "Trung Quốc": ("Trung quốc",), "Italia": ("Ý",), "Thụy Điển": ("Thuỵ Điển",),
}
# Cities foreigners in Vietnamese books give as residence, in the spellings Vietnamese officers use.
FOREIGN_CITIES: dict[str, tuple[str, ...]] = {
    "Trung Quốc": ("Quảng Tây", "Vân Nam", "Quảng Đông", "Bắc Kinh", "Thượng Hải"),
    "Hàn Quốc": ("Seoul", "Busan", "Incheon", "Daegu", "Gyeonggi"),
    "Đài Loan": ("Đài Bắc", "Cao Hùng", "Đài Trung"),
    "Nhật Bản": ("Tokyo", "Osaka", "Nagoya"), "Hoa Kỳ": ("California", "Texas", "New York"),
    "Lào": ("Viêng Chăn", "Luông Pha Băng"), "Campuchia": ("Phnôm Pênh", "Xiêm Riệp"),
    "Úc": ("Sydney", "Melbourne"),
    "Pháp": ("Paris", "Lyon"), "Đức": ("Berlin", "Leipzig"), "Canada": ("Toronto", "Vancouver"),
    "Nga": ("Moskva",), "Séc": ("Praha",), "Ba Lan": ("Warszawa",),
}
# Romanized names of foreign spouses, by nationality (Chinese and Taiwanese names are written in their
# Sino-Vietnamese reading, so the Vietnamese name generator covers them).
FOREIGN_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Hàn Quốc": (("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"),
                 ("Min Su", "Young Ho", "Jae Won", "Sung Min", "Dong Hyun", "Jin Woo", "Sang Hoon", "Ki Tae")),
    "Nhật Bản": (("Tanaka", "Sato", "Suzuki", "Takahashi", "Watanabe"), ("Hiroshi", "Kenji", "Takeshi", "Yuki")),
    "Hoa Kỳ": (("John", "Michael", "David", "James", "Robert"), ("Smith", "Johnson", "Brown", "Miller", "Wilson")),
    "Úc": (("Peter", "Mark", "Andrew", "Paul"), ("Taylor", "Walker", "White", "Harris")),
    "Pháp": (("Pierre", "Jean", "Nicolas", "Philippe"), ("Martin", "Bernard", "Dubois", "Laurent")),
    "Đức": (("Thomas", "Stefan", "Andreas", "Klaus"), ("Schmidt", "Meyer", "Weber", "Wagner")),
}

# --- Relationships ------------------------------------------------------------------------------------------
# Canonical relationship -> (gender of the declarant: 1 male, 2 female, None either; written forms).
RELATIONSHIPS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "cha": (1, ("Cha", "cha", "Bố", "bố", "Cha đẻ")), "mẹ": (2, ("Mẹ", "mẹ", "Mẹ đẻ")),
    "ông nội": (1, ("Ông nội", "ông nội")), "bà nội": (2, ("Bà nội", "bà nội")),
    "ông ngoại": (1, ("Ông ngoại", "ông ngoại")), "bà ngoại": (2, ("Bà ngoại", "bà ngoại")),
    "bác": (None, ("Bác", "bác", "Bác ruột")), "chú": (1, ("Chú", "chú", "Chú ruột")), "cô": (2, ("Cô", "cô")),
    "dì": (2, ("Dì", "dì")), "cậu": (1, ("Cậu", "cậu")), "anh": (1, ("Anh", "Anh ruột", "Anh trai")),
    "chị": (2, ("Chị", "Chị ruột", "Chị gái")), "em": (None, ("Em", "Em ruột")),
    "con": (None, ("Con", "con", "Con đẻ")), "con trai": (1, ("Con trai", "con trai")),
    "con gái": (2, ("Con gái", "con gái")), "con dâu": (2, ("Con dâu",)), "con rể": (1, ("Con rể",)),
    "cháu": (None, ("Cháu", "cháu")), "cháu nội": (None, ("Cháu nội",)), "vợ": (2, ("Vợ", "vợ")),
    "chồng": (1, ("Chồng", "chồng")), "người nuôi dưỡng": (None, ("Người nuôi dưỡng",)),
}
# Who declares a birth, how often.
BIRTH_DECLARANTS: dict[str, float] = {
    "cha": 55, "mẹ": 20, "ông nội": 8, "bà nội": 6, "ông ngoại": 3, "bà ngoại": 3, "bác": 1.5, "chú": 1.5,
    "cô": 0.5, "dì": 0.5, "cậu": 0.5, "anh": 0.3, "chị": 0.3, "người nuôi dưỡng": 0.3,
}

# --- Officers -----------------------------------------------------------------------------------------------
# Signers' titles by period: people's committees were "Ủy ban hành chính" (UBHC) in many northern communes
# until 1977; "công chức" replaced "cán bộ" for the civil-status officer after the 2008 civil-servant law.
_SIGNER_TITLES_OLD = {"Chủ tịch UBHC": 30, "Phó Chủ tịch UBHC": 20, "Chủ tịch": 25, "Phó Chủ tịch": 15,
                      "Ủy viên thư ký": 10}
_SIGNER_TITLES = {"Chủ tịch": 30, "Phó Chủ tịch": 28, "Chủ tịch UBND": 8, "Phó Chủ tịch UBND": 8,
                  "Chủ tịch UBND xã": 5, "Phó Chủ tịch UBND xã": 5, "PCT UBND xã": 2, "CT UBND": 2,
                  "KT. Chủ tịch - Phó Chủ tịch": 4, "Cán bộ Tư pháp - Hộ tịch": 4, "Cán bộ Tư pháp": 3}
_SIGNER_TITLES_NEW = {"Chủ tịch": 30, "Phó Chủ tịch": 30, "Chủ tịch UBND": 8, "Phó Chủ tịch UBND": 10,
                      "Phó Chủ tịch UBND xã": 5, "PCT UBND": 3, "KT. Chủ tịch - Phó Chủ tịch": 5,
                      "Công chức Tư pháp - Hộ tịch": 6, "Công chức TP-HT": 2}

# --- Documents, residence, death ----------------------------------------------------------------------------
# Written forms per LoaiGiayToTuyThan code.
ID_DOCUMENT_FORMS: dict[int, tuple[str, ...]] = {
    1: ("CMND", "Giấy CMND", "CMTND", "Chứng minh nhân dân"),
    2: ("Hộ chiếu", "HC"),
    3: ("Thẻ thường trú",),
    4: ("CCCD", "Thẻ CCCD", "Căn cước công dân", "Thẻ căn cước công dân"),
    5: ("CMQĐ", "Giấy CM quân đội", "Giấy CMQĐND"),
    6: ("CM sĩ quan", "Giấy CM sĩ quan QĐ"),
    7: ("CMCA", "Giấy CM công an", "Giấy CMCAND"),
    8: ("Giấy tờ khác", "Giấy khai sinh", "Giấy xác nhận"),
}
RESIDENCE_TYPES: dict[str, float] = {"Thường trú": 82, "Tạm trú": 14, "Nơi ở hiện tại": 4}
CAUSES_OF_DEATH: tuple[tuple[str, float], ...] = (
    ("Già yếu", 22), ("Tuổi già", 8), ("Bệnh già", 5), ("Ốm đau", 6), ("Ốm", 3), ("Bệnh", 3),
    ("Bệnh tim", 4), ("Suy tim", 4), ("Tai biến mạch máu não", 6), ("Đột quỵ", 4), ("Nhồi máu cơ tim", 3),
    ("Cao huyết áp", 3), ("Ung thư phổi", 3), ("Ung thư gan", 3), ("Ung thư dạ dày", 2), ("Ung thư", 4),
    ("Xơ gan", 2), ("Suy thận", 2), ("Viêm phổi", 2), ("Lao phổi", 1), ("Tiểu đường", 1),
    ("Tai nạn giao thông", 4), ("Đuối nước", 1), ("Tai nạn lao động", 0.5), ("Bệnh hiểm nghèo", 2),
    ("Suy kiệt", 2), ("Sốt xuất huyết", 0.5),
)
DEATH_NOTICE_TYPES: dict[str, float] = {
    "Giấy báo tử": 70, "Giấy báo tử của bệnh viện": 8, "Bản sao giấy báo tử": 5, "Giấy chứng tử": 4,
    "Văn bản xác nhận của UBND xã": 6, "Giấy xác nhận của Công an xã": 4, "Trích lục bản án": 1,
    "Quyết định tuyên bố chết": 2,
}
# nksLoaiKhaiSinh is a code (1-5) in the import template, but the template does not say what the codes
# mean; these are the birth-registration cases of the civil-status rules, written as officers note them.
BIRTH_CASES: dict[str, float] = {
    "Thông thường": 80, "Khai sinh thông thường": 5, "Trẻ bị bỏ rơi": 3, "Chưa xác định được cha": 6,
    "Chưa xác định được mẹ": 1, "Chưa xác định được cha, mẹ": 1, "Có yếu tố nước ngoài": 3, "Mang thai hộ": 1,
}
RECOGNITION_TYPES = ("Nhận cha", "Nhận mẹ", "Nhận con")
# Written forms of the loaiDangKy codes (the template labels are rarely copied verbatim).
REGISTRATION_TYPE_FORMS: dict[int, tuple[str, ...]] = {
    1: ("Đúng hạn", "đúng hạn", "Đăng ký đúng hạn"),
    2: ("Đăng ký lại", "ĐK lại", "đăng ký lại", "Khai sinh lại"),
    3: ("Ghi vào sổ", "Ghi chú khai sinh", "Đã đăng ký ở nước ngoài"),
    4: ("Quá hạn", "quá hạn", "Đăng ký quá hạn", "ĐK quá hạn"),
    5: ("Cấp bản chính", "Cấp lại bản chính"),
    6: ("Không xác định",),
}
GENDER_FORMS: dict[int, tuple[str, ...]] = {
    1: ("Nam", "nam", "Trai"), 2: ("Nữ", "nữ", "Gái"), 3: ("Không xác định",),
}


@lru_cache(maxsize=None)
def _table(name: str) -> WeightedTable:
    return WeightedTable({
        "ethnic": ETHNIC_GROUPS, "nationality": NATIONALITIES, "birth_declarant": BIRTH_DECLARANTS,
        "signer_old": _SIGNER_TITLES_OLD, "signer": _SIGNER_TITLES, "signer_new": _SIGNER_TITLES_NEW,
        "residence": RESIDENCE_TYPES, "cause": dict(CAUSES_OF_DEATH), "death_notice": DEATH_NOTICE_TYPES,
        "birth_case": BIRTH_CASES,
    }[name])


def _variant(rng: random.Random, canonical: str, variants: Mapping[str, tuple[str, ...]], share: float) -> str:
    options = variants.get(canonical)
    return rng.choice(options) if options and rng.random() < share else canonical


def random_ethnicity(rng: random.Random) -> str:
    """A canonical ethnic group, weighted by population (Kinh about 85%)."""
    return _table("ethnic").draw(rng)


def write_ethnicity(rng: random.Random, canonical: str) -> str:
    """How an officer writes ``canonical``: the census spelling, or an older/popular one ("H'Mông")."""
    if canonical not in ETHNIC_GROUPS:
        raise KeyError(f"unknown ethnic group {canonical!r}; valid: {', '.join(ETHNIC_GROUPS)}")
    return _variant(rng, canonical, ETHNIC_VARIANTS, 0.35)


def random_nationality(rng: random.Random, *, foreign: bool = False) -> str:
    """A canonical nationality (Việt Nam about 97%); ``foreign=True`` excludes Việt Nam."""
    for _ in range(100):
        value = _table("nationality").draw(rng)
        if not foreign or value != "Việt Nam":
            return value
    return "Hàn Quốc"


def write_nationality(rng: random.Random, canonical: str) -> str:
    return _variant(rng, canonical, NATIONALITY_VARIANTS, 0.08)


def relationship_gender(relationship: str) -> int | None:
    """The declarant's gender a canonical relationship implies (1 male, 2 female), or ``None``."""
    try:
        return RELATIONSHIPS[relationship][0]
    except KeyError:
        raise KeyError(f"unknown relationship {relationship!r}; valid: {', '.join(RELATIONSHIPS)}") from None


def write_relationship(rng: random.Random, relationship: str) -> str:
    gender, forms = RELATIONSHIPS[relationship] if relationship in RELATIONSHIPS else (None, ())
    if not forms:
        raise KeyError(f"unknown relationship {relationship!r}; valid: {', '.join(RELATIONSHIPS)}")
    return forms[0] if rng.random() < 0.6 else rng.choice(forms)


def random_birth_declarant(rng: random.Random) -> str:
    return _table("birth_declarant").draw(rng)


def random_officer_title(rng: random.Random, era: int | None = None) -> str:
    """The signer's title (chucVuNguoiKy) as written in a book of year ``era``."""
    year = era or 2000
    return _table("signer_old" if year < 1977 else "signer" if year < 2009 else "signer_new").draw(rng)


def write_id_document_type(rng: random.Random, code: int) -> str:
    """A written form of LoaiGiayToTuyThan ``code`` (1-8); the template label itself now and then."""
    if code not in LOAI_GIAY_TO_TUY_THAN:
        raise KeyError(f"unknown LoaiGiayToTuyThan code {code!r}; valid: {sorted(LOAI_GIAY_TO_TUY_THAN)}")
    if rng.random() < 0.1:
        return LOAI_GIAY_TO_TUY_THAN[code]
    forms = ID_DOCUMENT_FORMS[code]
    return forms[0] if rng.random() < 0.5 else rng.choice(forms)


def random_residence_type(rng: random.Random) -> str:
    value = _table("residence").draw(rng)
    return value.lower() if rng.random() < 0.2 else value


def random_cause_of_death(rng: random.Random, *, year: int | None = None, age: int | None = None) -> str:
    """A cause of death; old age for the old, accidents and illness for the young, Covid-19 in 2020-2022."""
    if year is not None and 2020 <= year <= 2022 and rng.random() < 0.08:
        return rng.choice(("Covid-19", "Nhiễm Covid-19", "Covid"))
    for _ in range(20):
        cause = _table("cause").draw(rng)
        if age is None or age >= 60 or cause not in ("Già yếu", "Tuổi già", "Bệnh già", "Suy kiệt"):
            return cause
    return "Tai nạn giao thông"


def random_death_notice_type(rng: random.Random) -> str:
    return _table("death_notice").draw(rng)


def random_birth_case(rng: random.Random) -> str:
    return _table("birth_case").draw(rng)


def write_gender(rng: random.Random, code: int, *, era: int | None = None) -> str:
    """GioiTinh ``code`` as written: "Nam"/"Nữ", lower case, "Trai"/"Gái" in some old books."""
    if code not in GIOI_TINH:
        raise KeyError(f"unknown GioiTinh code {code!r}; valid: {sorted(GIOI_TINH)}")
    forms = GENDER_FORMS[code]
    if len(forms) == 1:
        return forms[0]
    old = (era or 2000) < 1990
    return rng.choices(forms, (80, 14, 6 if old else 0))[0]


def write_registration_type(rng: random.Random, code: int) -> str:
    if code not in LOAI_DANG_KY:
        raise KeyError(f"unknown loaiDangKy code {code!r}; valid: {sorted(LOAI_DANG_KY)}")
    return LOAI_DANG_KY[code] if rng.random() < 0.1 else rng.choice(REGISTRATION_TYPE_FORMS[code])


def write_legal_status(rng: random.Random, code: int) -> str:
    return TUYEN_BO[code]


def write_recognition_type(rng: random.Random, canonical: str) -> str:
    if canonical not in RECOGNITION_TYPES:
        raise KeyError(f"unknown recognition type {canonical!r}; valid: {RECOGNITION_TYPES}")
    return canonical.lower() if rng.random() < 0.15 else canonical
