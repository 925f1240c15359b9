"""Places from the administrative gazetteer as it stood before the 2025 merger, written as officers write them.

The gazetteer is the ``vietnam-provinces`` package's nested divisions file (63 provinces, their districts and
communes/wards), loaded once. Hải Dương, where the first books come from, is weighted up. Written forms vary
the unit prefixes (full "Huyện", lower "huyện", abbreviated "H.", or none), the depth (commune, district,
province or a subset) and may start with a village or street ("thôn Đông", "số 12 đường Trần Phú").

:func:`random_place` returns the written text; :func:`random_structured_place` returns a :class:`Place`
carrying the divisions (names and codes) next to that text, which is what gazetteer matching is evaluated
against.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping, Sequence

import vietnam_provinces

from data.charset import nfc

HAI_DUONG_CODE = 30
DEFAULT_HAI_DUONG_SHARE = 0.35

# Unit prefixes in the gazetteer's names, longest first so "Thành phố" wins over shorter matches.
_UNITS = ("Thành phố", "Thị trấn", "Thị xã", "Phường", "Huyện", "Quận", "Tỉnh", "Xã")
# Abbreviations officers use, most common first.
_ABBREVIATIONS = {
    "Tỉnh": ("T.", "tỉnh"), "Thành phố": ("TP", "TP.", "Tp", "Tp."), "Thị xã": ("TX", "TX.", "Tx."),
    "Thị trấn": ("TT", "TT.", "Tt."), "Huyện": ("H.", "H"), "Quận": ("Q.", "Q"), "Phường": ("P.", "P"),
    "Xã": ("xã", "X."),
}
# Short names some provinces go by in handwriting.
_PROVINCE_SHORT = {79: ("TP HCM", "TP.HCM", "Tp.HCM"), 77: ("BR-VT", "Bà Rịa - Vũng Tàu"), 1: ("HN", "Hà Nội")}

# Region by province code, for the word in front of a village: "ấp" in the south, "bản" in the northern
# mountains, "buôn"/"thôn" in the central highlands, "thôn"/"xóm" elsewhere.
_SOUTH_FROM = 70
_NORTH_MOUNTAINS = frozenset({2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 20})
_HIGHLANDS = frozenset({62, 64, 66, 67, 68})

VILLAGE_NAMES = (
    "Đông", "Đoài", "Nam", "Bắc", "Thượng", "Hạ", "Trung", "Đông Thượng", "An Lạc", "Phú Xá", "Tân Lập",
    "Đồng Tâm", "Đại Đồng", "Thanh Xá", "Cao Xá", "Hòa Bình", "Bình Minh", "Phương Độ", "Tiền Trung",
    "Lương Xá", "Nhân Lý", "Mỹ Xá", "Văn Xá", "Kim Đôi", "Kim Lai", "Hậu Bổng", "An Thái", "Hữu Chung",
    "Quan Đình", "Thọ Xuân", "Lạc Dục", "Nghĩa Xá", "Bình Lao", "Ngọc Lâm", "Phú Lộc", "Tân Hưng",
    "Đông Cận", "Kênh Triều", "Hoàng Xá", "Đào Xá", "Ninh Xá", "Mạc Xá", "Tràng Kênh", "Vạn Tải",
)
STREET_NAMES = (
    "Trần Phú", "Lê Lợi", "Nguyễn Trãi", "Quang Trung", "Hai Bà Trưng", "Lê Thanh Nghị", "Nguyễn Lương Bằng",
    "Thống Nhất", "Điện Biên Phủ", "Trần Hưng Đạo", "Lý Thường Kiệt", "Nguyễn Du", "Phạm Ngũ Lão", "Chi Lăng",
    "Bạch Đằng", "Ngô Quyền", "Nguyễn Văn Cừ", "Tuệ Tĩnh", "Thanh Niên", "Hồng Quang", "Lê Hồng Phong",
    "Võ Thị Sáu", "Nguyễn Thị Minh Khai", "Hoàng Văn Thụ", "Trường Chinh", "Lê Duẩn", "Cách Mạng Tháng Tám",
    "Nguyễn Huệ", "Trần Quốc Toản", "Phan Bội Châu", "Yết Kiêu", "Bà Triệu", "Lê Quý Đôn", "Ngô Gia Tự",
)


@dataclass(frozen=True)
class AdminUnit:
    """One administrative division: official ``name`` ("Huyện Gia Lộc"), GSO ``code``, ``unit`` ("Huyện")
    and ``bare`` name ("Gia Lộc"). Numbered units keep their number as bare name ("Quận 1" → "1")."""

    name: str
    code: int
    unit: str
    bare: str

    @property
    def numbered(self) -> bool:
        return self.bare.isdigit()


Triple = tuple[AdminUnit, AdminUnit, AdminUnit]


@dataclass(frozen=True, eq=False)  # identity equality: hashing 10,000 triples per lookup would be slow
class Gazetteer:
    """The pre-2025 divisions: provinces, (province, district) pairs and (province, district, ward) triples."""

    provinces: tuple[AdminUnit, ...]
    districts: tuple[tuple[AdminUnit, AdminUnit], ...]
    wards: tuple[Triple, ...]
    by_province: Mapping[int, tuple[Triple, ...]]

    def province(self, code: int) -> AdminUnit:
        return self.wards_of_province(code)[0][0]

    def wards_of_province(self, code: int) -> tuple[Triple, ...]:
        try:
            return self.by_province[code]
        except KeyError:
            raise KeyError(f"no province with code {code}; codes: {sorted(self.by_province)}") from None


def split_unit(name: str) -> tuple[str, str]:
    """``"Huyện Gia Lộc"`` → ``("Huyện", "Gia Lộc")``; ``("", name)`` when there is no unit prefix."""
    for unit in _UNITS:
        if name.lower().startswith(unit.lower() + " "):
            return unit, name[len(unit) + 1:].strip()
    return "", name


def _unit(raw: dict) -> AdminUnit:
    unit, bare = split_unit(nfc(raw["name"]))
    # The package spells two cities "Thành Phố"; use the standard form.
    return AdminUnit(f"{unit} {bare}" if unit else bare, int(raw["code"]), unit, bare)


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The gazetteer, parsed once from ``vietnam_provinces.NESTED_DIVISIONS_JSON_PATH``."""
    with open(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH, encoding="utf-8") as fh:
        data = json.load(fh)
    provinces, districts, wards = [], [], []
    by_province: dict[int, list[Triple]] = {}
    for p in data:
        prov = _unit(p)
        provinces.append(prov)
        for d in p["districts"]:
            dist = _unit(d)
            districts.append((prov, dist))
            for w in d["wards"]:
                triple = (prov, dist, _unit(w))
                wards.append(triple)
                by_province.setdefault(prov.code, []).append(triple)
    return Gazetteer(tuple(provinces), tuple(districts), tuple(wards),
                     MappingProxyType({k: tuple(v) for k, v in by_province.items()}))




def random_admin_units(rng: random.Random, *, hai_duong_share: float = DEFAULT_HAI_DUONG_SHARE,
                       province_code: int | None = None) -> Triple:
    """A random (province, district, ward): with probability ``hai_duong_share`` inside Hải Dương, else any
    commune of the country (so provinces weigh by their number of communes)."""
    if not 0.0 <= hai_duong_share <= 1.0:
        raise ValueError(f"hai_duong_share must be in [0, 1], got {hai_duong_share}")
    gz = gazetteer()
    if province_code is not None:
        return rng.choice(gz.wards_of_province(province_code))
    if rng.random() < hai_duong_share:
        return rng.choice(gz.wards_of_province(HAI_DUONG_CODE))
    return rng.choice(gz.wards)


@dataclass(frozen=True)
class PlaceStyle:
    """How one writer writes addresses.

    ``prefixes``: "full" (Huyện Gia Lộc), "lower" (huyện Gia Lộc), "abbrev" (H. Gia Lộc), "bare" (Gia Lộc) or
    "first" (only the first unit prefixed: "Xã Thạch Khôi, Gia Lộc, Hải Dương"). ``separator`` between units.
    """

    prefixes: str = "first"
    separator: str = ", "

    @classmethod
    def random(cls, rng: random.Random) -> "PlaceStyle":
        prefixes = rng.choices(("full", "lower", "abbrev", "bare", "first"), (18, 22, 18, 14, 28))[0]
        separator = rng.choices((", ", " - ", ",", " "), (80, 10, 6, 4))[0]
        return cls(prefixes, separator)


@dataclass(frozen=True)
class Place:
    """A written place and the divisions it names (``None`` where the writer left a level out; the province
    is always set, since a district or commune determines it)."""

    text: str
    province: AdminUnit
    district: AdminUnit | None
    ward: AdminUnit | None
    locality: str | None = None

    @property
    def codes(self) -> tuple[int, int | None, int | None]:
        return (self.province.code, self.district.code if self.district else None,
                self.ward.code if self.ward else None)

    @property
    def is_hai_duong(self) -> bool:
        return self.province.code == HAI_DUONG_CODE


def write_unit(rng: random.Random, unit: AdminUnit, mode: str, *, is_province: bool = False) -> str:
    """One division in a prefix ``mode`` (see :class:`PlaceStyle`); numbered units always keep a prefix."""
    if mode == "bare" and unit.numbered:
        mode = "abbrev"
    if mode == "bare":
        if is_province and unit.code in _PROVINCE_SHORT and rng.random() < 0.3:
            return rng.choice(_PROVINCE_SHORT[unit.code])
        return unit.bare
    if mode == "full":
        return unit.name
    if mode == "lower":
        return f"{unit.unit.lower()} {unit.bare}"
    if mode == "abbrev":
        if is_province and unit.code in _PROVINCE_SHORT and rng.random() < 0.3:
            return rng.choice(_PROVINCE_SHORT[unit.code])
        abbr = rng.choice(_ABBREVIATIONS[unit.unit][:2])
        glue = "" if abbr.endswith(".") and (unit.numbered or rng.random() < 0.3) else " "
        return f"{abbr}{glue}{unit.bare}"
    raise ValueError(f"unknown prefix mode {mode!r}; valid: full, lower, abbrev, bare")


def random_locality(rng: random.Random, province: AdminUnit, ward: AdminUnit, *, era: int | None = None) -> str:
    """A village, hamlet or street address in front of the commune: "thôn Đông", "xóm 5", "số 12 đường Lê Lợi"."""
    urban = ward.unit in ("Phường", "Thị trấn")
    if urban:
        kind = rng.choices(("street", "lane", "to", "khu"), (50, 15, 20, 15))[0]
        number = rng.randint(1, 250)
        if kind == "street":
            slash = f"/{rng.randint(1, 30)}" if rng.random() < 0.15 else ""
            return f"số {number}{slash} đường {rng.choice(STREET_NAMES)}"
        if kind == "lane":
            return f"số {rng.randint(1, 60)} ngõ {rng.randint(1, 200)} phố {rng.choice(STREET_NAMES)}"
        if kind == "to":
            return f"tổ {rng.randint(1, 30)}"
        return f"khu phố {rng.randint(1, 12)}" if province.code >= _SOUTH_FROM else f"khu {rng.randint(1, 12)}"
    if province.code >= _SOUTH_FROM:
        word = "ấp"
    elif province.code in _NORTH_MOUNTAINS:
        word = rng.choices(("bản", "thôn", "xóm"), (6, 3, 1))[0]
    elif province.code in _HIGHLANDS:
        word = rng.choices(("buôn", "thôn", "làng"), (4, 5, 1))[0]
    else:
        word = rng.choices(("thôn", "xóm", "làng", "đội"), (60, 30, 5, 5 if (era or 2000) < 1990 else 0))[0]
    if word == "đội" or rng.random() < 0.25:  # cooperative brigades and many hamlets are numbered
        return f"{word} {rng.randint(1, 15)}"
    return f"{word} {rng.choice(VILLAGE_NAMES)}"


# Which levels a written place spells out, and how often.
_DEPTHS = {("w", "d", "p"): 55, ("w", "d"): 18, ("d", "p"): 12, ("p",): 5, ("w",): 3, ("w", "p"): 7}


def write_place(rng: random.Random, units: Triple, *, style: PlaceStyle | None = None,
                levels: Sequence[str] | None = None, locality: str | None = None) -> Place:
    """Write ``(province, district, ward)`` as a ledger cell. ``levels`` picks the divisions spelled out
    (subset of "w", "d", "p"; random when ``None``); ``locality`` goes in front ("thôn Đông, ...")."""
    province, district, ward = units
    style = style or PlaceStyle.random(rng)
    if levels is None:
        levels = rng.choices(list(_DEPTHS), list(_DEPTHS.values()))[0]
    bad = set(levels) - {"w", "d", "p"}
    if bad or not levels:
        raise ValueError(f"levels must be a non-empty subset of 'w', 'd', 'p'; got {levels!r}")
    levels = set(levels)
    # "TP Hải Dương, Hải Dương" reads as a repetition: officers drop the province after a same-named city.
    if {"d", "p"} <= levels and district.bare == province.bare and rng.random() < 0.7:
        levels.discard("p")
    # A numbered ward or district alone is meaningless without its city.
    if "p" not in levels and ((("w" in levels) and ward.numbered) or (("d" in levels) and district.numbered)):
        levels |= {"d", "p"}
    parts: list[str] = []
    for key, unit in (("w", ward), ("d", district), ("p", province)):
        if key not in levels:
            continue
        mode = style.prefixes
        if mode == "first":
            mode = "full" if not parts else "bare"
        parts.append(write_unit(rng, unit, mode, is_province=key == "p"))
    if locality:
        parts.insert(0, locality)
    text = nfc(style.separator.join(parts))
    return Place(text, province, district if "d" in levels else None, ward if "w" in levels else None,
                 locality)


def random_structured_place(rng: random.Random, *, hai_duong_share: float = DEFAULT_HAI_DUONG_SHARE,
                            province_code: int | None = None, units: Triple | None = None,
                            locality_prob: float = 0.25, levels: Sequence[str] | None = None,
                            style: PlaceStyle | None = None, era: int | None = None) -> Place:
    """A random written place with the divisions it names (for gazetteer matching); see
    :func:`random_admin_units` and :func:`write_place`."""
    units = units or random_admin_units(rng, hai_duong_share=hai_duong_share, province_code=province_code)
    locality = None
    if rng.random() < locality_prob and (levels is None or "w" in levels):
        locality = random_locality(rng, units[0], units[2], era=era)
        if levels is None:
            levels = rng.choices((("w", "d", "p"), ("w", "d")), (6, 4))[0]
    return write_place(rng, units, style=style, levels=levels, locality=locality)


def random_place(rng: random.Random, **kwargs) -> str:
    """Just the written text of :func:`random_structured_place` (same keyword arguments)."""
    return random_structured_place(rng, **kwargs).text


def registration_office(rng: random.Random, units: Triple, *, level: str = "ward", era: int | None = None) -> str:
    """The registering office of ``units``: "UBND xã Thạch Khôi", "Ủy ban nhân dân phường 3", "UBND huyện
    Gia Lộc" (``level="district"``, for cases with a foreign element). Before 1977 northern offices were
    still "UBHC" (Ủy ban hành chính) in many books."""
    province, district, ward = units
    unit = ward if level == "ward" else district if level == "district" else None
    if unit is None:
        raise ValueError(f"level must be 'ward' or 'district', got {level!r}")
    body = "UBHC" if era is not None and era < 1977 and rng.random() < 0.6 else \
        rng.choices(("UBND", "Ủy ban nhân dân", "UB"), (75, 20, 5))[0]
    mode = rng.choices(("lower", "abbrev", "full"), (70, 15, 15))[0]
    if mode == "abbrev" and unit.unit == "Xã":
        mode = "lower"  # "UBND X. Thạch Khôi" is not how offices are named
    return f"{body} {write_unit(rng, unit, mode)}"


def birth_facility(rng: random.Random, units: Triple, *, era: int | None = None) -> str:
    """Where a child was born, as written in nksNoiSinh: a hospital, health station, or at home (old books)."""
    province, district, ward = units
    year = era or 2000
    home_share = 0.45 if year < 1990 else 0.15 if year < 2005 else 0.03
    if rng.random() < home_share:
        return rng.choice(("Tại nhà", "tại nhà", "Nhà riêng", f"Tại nhà, {write_unit(rng, ward, 'lower')}"))
    prov = province.bare if province.unit == "Tỉnh" else f"{province.unit.lower()} {province.bare}"
    options = (
        (f"Trạm y tế {write_unit(rng, ward, 'lower')}", 30 if year < 2005 else 10),
        (f"Bệnh viện Đa khoa tỉnh {province.bare}" if province.unit == "Tỉnh" else
         f"Bệnh viện Đa khoa {prov}", 20),
        (f"BVĐK tỉnh {province.bare}" if province.unit == "Tỉnh" else f"BVĐK {province.bare}", 6),
        (f"Bệnh viện Phụ sản {province.bare}", 10),
        (f"Bệnh viện Đa khoa {write_unit(rng, district, 'lower')}", 15),
        (f"Trung tâm Y tế {write_unit(rng, district, 'lower')}", 12),
        (f"Nhà hộ sinh {write_unit(rng, ward, 'lower')}", 4 if ward.unit == "Phường" else 0),
    )
    return nfc(rng.choices([o for o, _ in options], [w for _, w in options])[0])
