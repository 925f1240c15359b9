"""Places matched to the administrative gazetteer as it stood before the 2025 merger.

A written place ("thôn Đông, X. Thạch Khôi, H.Gia Lộc, Hải Dương", "Bệnh viện Đa khoa tỉnh Hải Dương",
"P.3 Q.5 TP HCM") is cut into chunks at separators and at unit words (tỉnh, thành phố, huyện, quận, thị xã,
xã, phường, thị trấn and their abbreviations). Village and street chunks ("thôn Đông", "số 12 đường Lê Lợi")
are kept as the locality; hospital and office chunks are searched for a trailing unit name only.

The remaining chunks are matched right to left, province first, by a small beam search: every chunk (or the
last few words of a chunk, for places written without separators) may be a ward, district or province below
the unit matched to its right; each candidate is scored by rapidfuzz similarity, scaled down when the written
unit word disagrees with the gazetteer's ("huyện" for a "Thị xã"). Provinces that were split or merged before
2025 ("Hải Hưng", "Hà Tây") stand for the provinces they became.

The value is a dict: the cleaned ``text``, the ``normalized`` official form ("thôn Đông, Xã Thạch Khôi, Huyện
Gia Lộc, Tỉnh Hải Dương", with the levels the writer left out but the gazetteer implies; ``None`` when the
text holds more than a locality and units, e.g. a hospital), and the matched units with their GSO codes.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

from rapidfuzz import fuzz, process

from data.charset import modern_tone_placement, normalize_text, strip_marks
from data.text.places import AdminUnit, gazetteer
from inference.records.matching import fold
from inference.records.normalized import Normalized

WARD, DISTRICT, PROVINCE = 0, 1, 2
_LEVEL_NAMES = ("ward", "district", "province")
# Which levels a gazetteer unit word belongs to.
_UNIT_LEVEL = {"Xã": WARD, "Phường": WARD, "Thị trấn": WARD, "Huyện": DISTRICT, "Quận": DISTRICT,
               "Thị xã": DISTRICT, "Thành phố": DISTRICT, "Tỉnh": PROVINCE}
# Written unit words (folded: lower case, punctuation as spaces) → the unit they stand for.
_UNIT_WORDS: dict[tuple[str, ...], str] = {
    ("thành", "phố"): "Thành phố", ("thanh", "pho"): "Thành phố", ("tp",): "Thành phố",
    ("thị", "xã"): "Thị xã", ("thi", "xa"): "Thị xã", ("tx",): "Thị xã",
    ("thị", "trấn"): "Thị trấn", ("thi", "tran"): "Thị trấn", ("tt",): "Thị trấn",
    ("tỉnh",): "Tỉnh", ("t",): "Tỉnh", ("huyện",): "Huyện", ("huyen",): "Huyện", ("h",): "Huyện",
    ("quận",): "Quận", ("q",): "Quận", ("phường",): "Phường", ("phuong",): "Phường", ("p",): "Phường",
    ("xã",): "Xã", ("x",): "Xã",
}
_LOCALITY_START = frozenset({
    "thôn", "xóm", "làng", "đội", "ấp", "bản", "buôn", "plei", "khu", "tổ", "số", "ngõ", "ngách", "hẻm",
    "kiệt", "đường", "phố", "khóm", "sóc", "cụm", "kp", "tdp", "nhà", "tại", "km",
})
_FACILITY_START = (
    ("bệnh", "viện"), ("bv",), ("bvđk",), ("trạm", "y", "tế"), ("trung", "tâm", "y"), ("ttyt",), ("nhà", "hộ", "sinh"),
    ("phòng", "khám"), ("ubnd",), ("ủy", "ban"), ("công", "an"), ("sở",), ("cơ", "quan"),
)
_COUNTRY = frozenset({"việt nam", "vn", "nước ngoài", "không rõ"})


@lru_cache(maxsize=1)
def _foreign_countries() -> frozenset[str]:
    from data.text.vocab import NATIONALITIES, NATIONALITY_VARIANTS

    names = set(NATIONALITIES) | {v for vs in NATIONALITY_VARIANTS.values() for v in vs}
    names |= {"Mỹ", "Campuchia", "Cam-pu-chia", "Hàn Quốc", "Trung Quốc", "Lào"}
    return frozenset(_key(n) for n in names) - {_key("Việt Nam"), "vn"}
# Short names and the pre-2025 names of provinces that were split, merged or renamed (books from 1975 on).
_PROVINCE_ALIASES: dict[str, tuple[str, ...]] = {
    "hcm": ("Hồ Chí Minh",), "tphcm": ("Hồ Chí Minh",), "hồ chí minh": ("Hồ Chí Minh",),
    "sài gòn": ("Hồ Chí Minh",), "hn": ("Hà Nội",), "brvt": ("Bà Rịa - Vũng Tàu",),
    "br vt": ("Bà Rịa - Vũng Tàu",), "thừa thiên huế": ("Huế",), "thừa thiên": ("Huế",),
    "tt huế": ("Huế",), "đắc lắc": ("Đắk Lắk",), "đắk lắc": ("Đắk Lắk",), "đắc nông": ("Đắk Nông",),
}
HISTORICAL_PROVINCES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "hải hưng": ("Hải Dương", "Hưng Yên"), "hà tây": ("Hà Nội",), "hà sơn bình": ("Hà Nội", "Hoà Bình"),
    "nghĩa bình": ("Quảng Ngãi", "Bình Định"), "bình trị thiên": ("Quảng Bình", "Quảng Trị", "Huế"),
    "nghệ tĩnh": ("Nghệ An", "Hà Tĩnh"), "vĩnh phú": ("Vĩnh Phúc", "Phú Thọ"),
    "hà nam ninh": ("Hà Nam", "Nam Định", "Ninh Bình"), "nam hà": ("Hà Nam", "Nam Định"),
    "bắc thái": ("Bắc Kạn", "Thái Nguyên"), "hoàng liên sơn": ("Lào Cai", "Yên Bái"),
    "hà bắc": ("Bắc Giang", "Bắc Ninh"), "hà tuyên": ("Hà Giang", "Tuyên Quang"),
    "cao lạng": ("Cao Bằng", "Lạng Sơn"), "cửu long": ("Vĩnh Long", "Trà Vinh"),
    "sông bé": ("Bình Dương", "Bình Phước"), "minh hải": ("Cà Mau", "Bạc Liêu"),
    "phú khánh": ("Phú Yên", "Khánh Hòa"), "thuận hải": ("Ninh Thuận", "Bình Thuận"),
    "gia lai kon tum": ("Gia Lai", "Kon Tum"), "quảng nam đà nẵng": ("Quảng Nam", "Đà Nẵng"),
})
_STEP = 0.6  # a matched level adds (score - _STEP): good matches help, poor ones hurt
_SKIP_PENALTY = 0.25
_START_SKIP_PENALTY = 0.06
_MIDDLE_SKIP_PENALTY = 0.1
_UNEXPLAINED_PENALTY = 0.12
_FUZZY_CUTOFF = 70
# A unit name read at least this close to the gazetteer's (rapidfuzz ratio of the folded names) is written out
# as the gazetteer spells it, under the conditions of _corrected_names.
CORRECTABLE_NAME_SCORE = 0.8
_SPAN_PUNCTUATION = ",.;:-–()"
_BEAM = 12
_MAX_WINDOW = 6


@dataclass(frozen=True)
class _Entry:
    unit: AdminUnit
    province: AdminUnit
    district: AdminUnit | None
    level: int


def _key(text: str) -> str:
    """Comparison key of a unit name: :func:`fold`, numbers without leading zeros ("Phường 03" = "3")."""
    # Apostrophes join syllables of minority-language names ("Ea H'leo", "M'Đrắk"): drop them, no space.
    text = re.sub(r"['’`]", "", text)
    return " ".join(w.lstrip("0") or "0" if w.isdigit() else w for w in fold(text).split())


class _Index:
    """Gazetteer units by level and by parent, keyed by their folded bare names."""

    def __init__(self) -> None:
        gz = gazetteer()
        self.by_scope: dict[tuple[int, str, int], dict[str, list[_Entry]]] = {}
        self.provinces_by_name: dict[str, AdminUnit] = {}
        for p in gz.provinces:
            self._add(_Entry(p, p, None, PROVINCE), ("all", 0))
            self.provinces_by_name[_key(p.bare)] = p
        for p, d in gz.districts:
            self._add(_Entry(d, p, None, DISTRICT), ("all", 0), ("province", p.code))
        for p, d, w in gz.wards:
            self._add(_Entry(w, p, d, WARD), ("all", 0), ("province", p.code), ("district", d.code))
        self.keys = {scope: list(table) for scope, table in self.by_scope.items()}
        self.bare = {scope: {strip_marks(k): k for k in table} for scope, table in self.by_scope.items()}
        self.aliases: dict[str, tuple[AdminUnit, ...]] = {}
        for alias, names in _PROVINCE_ALIASES.items():
            self.aliases[_key(alias)] = tuple(self.provinces_by_name[_key(n)] for n in names)
        self.historical: dict[str, tuple[AdminUnit, ...]] = {
            _key(alias): tuple(self.provinces_by_name[_key(n)] for n in names)
            for alias, names in HISTORICAL_PROVINCES.items()}
        self.hyphenated = sorted({_key(e.unit.bare) for t in self.by_scope.values() for es in t.values()
                                  for e in es if "-" in e.unit.bare}, key=len, reverse=True)

    def _add(self, entry: _Entry, *scopes: tuple[str, int]) -> None:
        key = _key(entry.unit.bare)
        for kind, code in scopes:
            self.by_scope.setdefault((entry.level, kind, code), {}).setdefault(key, []).append(entry)


@lru_cache(maxsize=1)
def _index() -> _Index:
    return _Index()


@lru_cache(maxsize=65536)
def _candidates(level: int, scope: tuple[str, int], query: str) -> tuple[tuple[_Entry, float], ...]:
    """Units of ``level`` inside ``scope`` whose name is close to ``query`` (best first, score 0..1)."""
    idx = _index()
    table = idx.by_scope.get((level, *scope))
    if not table:
        return ()
    if query in table:
        return tuple((e, 1.0) for e in table[query])
    plain = strip_marks(query)
    if plain in idx.bare[(level, *scope)]:
        return tuple((e, 0.95) for e in table[idx.bare[(level, *scope)][plain]])
    if query.isdigit() or len(query) < 2:
        return ()  # numbered units ("Phường 3") and single letters match exactly or not at all
    found = process.extract(query, idx.keys[(level, *scope)], scorer=fuzz.ratio, limit=3,
                            score_cutoff=_FUZZY_CUTOFF)
    return tuple((e, score / 100) for key, score, _ in found for e in table[key])


# --- cutting the text into chunks ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Chunk:
    words: tuple[str, ...]  # folded
    hint: str | None  # the unit word written in front, as a gazetteer unit ("Huyện")
    kind: str  # "admin", "facility", "locality" or "country"
    raw: str


def _protect_hyphens(text: str) -> str:
    """Hyphenated unit names ("Bà Rịa - Vũng Tàu") must not be split at their " - "."""
    for name in _index().hyphenated:
        parts = [re.escape(p) for p in name.split()]
        pattern = r"\s*[-‐]?\s*".join(parts)
        text = re.sub(pattern, lambda m: m.group(0).replace("-", "\x00"), text, flags=re.IGNORECASE)
    return text


def _unit_word_at(words: tuple[str, ...], i: int, letters: frozenset[str] | None = None) -> tuple[str, int] | None:
    """The unit word starting at ``words[i]``; single letters ("h", "p") only when in ``letters`` (``None``:
    any), since inside a part only a dotted "H." is an abbreviation ("Ia H' Drai" is a name)."""
    for n in (2, 1):
        unit = _UNIT_WORDS.get(words[i:i + n])
        if unit is None or len(words[i:i + n]) != n:
            continue
        if len(words[i]) == 1 and letters is not None and words[i] not in letters:
            continue
        return unit, n
    return None


def _split_units(raw: str) -> list[_Chunk]:
    """One separator-delimited part → chunks starting at unit words ("Xã A Huyện B" → two chunks)."""
    words = tuple(_key(raw).split())
    if not words:
        return []
    dotted = frozenset(m.lower() for m in re.findall(r"(?<![\w'’])([HhQqPpXxTt])\.", raw))
    chunks: list[_Chunk] = []
    start, hint, i = 0, None, 0
    head = _unit_word_at(words, 0)
    if head is not None and len(words) > head[1]:
        hint, i = head[0], head[1]
        start = i
    while i < len(words):
        found = _unit_word_at(words, i, dotted) if i > start else None
        # A unit word starts a new chunk only with a name after it and a name before it ("Xã Tân Xã" is one).
        if found is not None and i + found[1] < len(words):
            chunks.append(_make_chunk(words[start:i], hint, raw))
            hint, start = found[0], i + found[1]
            i = start
            continue
        i += 1
    chunks.append(_make_chunk(words[start:], hint, raw))
    return [c for c in chunks if c.words]


def _make_chunk(words: tuple[str, ...], hint: str | None, raw: str) -> _Chunk:
    if hint is None:
        joined = " ".join(words)
        if joined in _COUNTRY:
            return _Chunk(words, None, "country", raw)
        if joined in _foreign_countries():
            return _Chunk(words, None, "abroad", raw)
        if any(words[:len(f)] == f for f in _FACILITY_START):
            return _Chunk(words, None, "facility", raw)
        if words and (words[0] in _LOCALITY_START or words[0][0].isdigit()):
            return _Chunk(words, None, "locality", raw)
    return _Chunk(words, hint, "admin", raw)


def _chunks(text: str) -> list[_Chunk]:
    protected = _protect_hyphens(text)
    parts = [p.replace("\x00", "-").strip() for p in re.split(r"[,;]|\s+[-–]\s+|\n", protected)]
    return [c for p in parts if p for c in _split_units(p)]


# --- the search ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _State:
    chunk: int  # index of the chunk being consumed (right to left); -1 when done
    left: int  # words of that chunk not consumed yet
    below: int  # the next match must be a level below this
    scope: tuple[tuple[str, int], ...]  # where to search: (("all", 0),) or provinces / a district
    matched: tuple[tuple[int, _Entry, float, str, float], ...]  # level, unit, score, words read, name score
    objective: float
    unexplained: int  # words of admin chunks left unmatched
    historical: bool
    skipped: int = 0  # admin chunks left wholly unmatched


def _hint_factor(hint: str | None, entry: _Entry) -> float:
    if hint is None:
        return 1.0
    if hint == entry.unit.unit:
        return 1.0
    if _UNIT_LEVEL.get(hint) == entry.level:
        return 0.97  # right level, other unit word: communes became wards, districts towns, over the years
    return 0.7


def _expand(state: _State, chunks: list[_Chunk], idx: _Index) -> list[_State]:
    chunk = chunks[state.chunk]
    out: list[_State] = []
    # Leave the rest of this chunk unmatched and go on to the chunk on the left.
    whole_skip = chunk.kind == "admin" and state.left == len(chunk.words)
    rest_unexplained = state.left if chunk.kind == "admin" and not whole_skip else 0
    skip_penalty = _SKIP_PENALTY if whole_skip else 0.0
    out.append(_State(state.chunk - 1, len(chunks[state.chunk - 1].words) if state.chunk > 0 else 0, state.below,
                      state.scope, state.matched, state.objective - skip_penalty,
                      state.unexplained + rest_unexplained, state.historical, state.skipped + whole_skip))
    words = chunk.words[:state.left]
    windows = range(1, min(len(words), _MAX_WINDOW) + 1)
    if chunk.kind == "facility":
        windows = range(1, min(len(words) - 1, _MAX_WINDOW) + 1)  # a facility name is never a unit itself
    for n in windows:
        query = " ".join(words[len(words) - n:])
        whole = n == len(words)
        hint = chunk.hint if whole else None
        remaining = len(words) - n
        for level in range(state.below - 1, -1, -1):
            # (entry, provinces a name alias stands for, score, historical, how close the name is)
            options: list[tuple[_Entry | None, tuple[AdminUnit, ...], float, bool, float]] = []
            if level == PROVINCE and state.below == 3:
                for table, historical in ((idx.aliases, False), (idx.historical, True)):
                    if query in table:
                        options.append((None, table[query], 1.0, historical, 1.0))
            for scope in state.scope:
                for entry, score in _candidates(level, scope, query):
                    # A hospital's trailing words name a province ("Bệnh viện Phụ sản Hải Dương"); anything
                    # else there ("Bệnh viện Việt Đức", "Bệnh viện K") is a name, not an address.
                    if chunk.kind == "facility" and (level != PROVINCE or score < 0.95):
                        continue
                    options.append((entry, (), score * _hint_factor(hint, entry), False, score))
            for entry, provinces, score, historical, name_score in options:
                if entry is None and len(provinces) == 1:
                    entry = _Entry(provinces[0], provinces[0], None, PROVINCE)
                unit_read = (level, entry, score, query, name_score)
                if entry is None:  # a former province: search the provinces it became
                    new_scope = tuple(("province", p.code) for p in provinces)
                    matched = state.matched
                elif level == PROVINCE:
                    new_scope, matched = (("province", entry.unit.code),), state.matched + (unit_read,)
                elif level == DISTRICT:
                    new_scope, matched = (("district", entry.unit.code),), state.matched + (unit_read,)
                else:
                    new_scope, matched = (), state.matched + (unit_read,)
                if remaining:
                    nxt_chunk, nxt_left = state.chunk, remaining
                else:
                    nxt_chunk = state.chunk - 1
                    nxt_left = len(chunks[nxt_chunk].words) if nxt_chunk >= 0 else 0
                # Writers leave levels out less often than not: the province at the end ("Thạch Khôi, Gia
                # Lộc") now and then, a level in the middle ("Phường X, Hải Dương" with the city left out)
                # rarely, so a name that is both a province and a district reads as the city in between.
                skipped = state.below - 1 - level
                skip_cost = _START_SKIP_PENALTY if state.below == 3 else _MIDDLE_SKIP_PENALTY
                out.append(_State(nxt_chunk, nxt_left, level, new_scope, matched,
                                  state.objective + score - _STEP - skip_cost * skipped,
                                  state.unexplained, state.historical or historical, state.skipped))
    return out


def _finish(state: _State, chunks: list[_Chunk]) -> _State:
    """Charge what is left on the left like a skip: whole admin chunks the skip penalty, a chunk's remaining
    words as unexplained (so stopping early is no way around the penalty)."""
    objective, unexplained, skipped = state.objective, state.unexplained, state.skipped
    if state.chunk >= 0 and chunks[state.chunk].kind == "admin":
        if state.left == len(chunks[state.chunk].words):
            objective -= _SKIP_PENALTY
            skipped += 1
        else:
            unexplained += state.left
    left_admin = sum(c.kind == "admin" for c in chunks[:max(state.chunk, 0)])
    objective -= _SKIP_PENALTY * left_admin
    return _State(-1, 0, state.below, state.scope, state.matched, objective, unexplained, state.historical,
                  skipped + left_admin)


def _final_score(state: _State) -> float:
    return state.objective - _UNEXPLAINED_PENALTY * state.unexplained


@dataclass(frozen=True)
class PlaceMatch:
    """The gazetteer units a written place names (implied higher levels filled in)."""

    province: AdminUnit | None
    district: AdminUnit | None
    ward: AdminUnit | None
    score: float
    ambiguous: bool = False
    historical: bool = False
    successors: tuple[AdminUnit, ...] = ()  # the provinces a former province became, when unresolved
    partial: bool = False  # some written unit names did not fit with the matched ones
    # Each matched unit with the words read for it (folded) and how close they were to its name (1.0: the
    # same; 0.95: the same but for marks; less: a fuzzy match).
    names_read: tuple[tuple[str, AdminUnit, float], ...] = ()

    @property
    def codes(self) -> tuple[int | None, int | None, int | None]:
        return tuple(u.code if u else None for u in (self.province, self.district, self.ward))  # type: ignore


def _resolve(state: _State) -> PlaceMatch | None:
    if not state.matched and not state.historical:
        return None
    by_level = {level: (entry, score) for level, entry, score, _, _ in state.matched}
    lowest = min(by_level) if by_level else None
    province = district = ward = None
    if lowest is not None:
        entry = by_level[lowest][0]
        province = entry.province
        if lowest == WARD:
            ward, district = entry.unit, entry.district
        elif lowest == DISTRICT:
            district = entry.unit
    scores = [s for _, s in by_level.values()]
    score = sum(scores) / len(scores) if scores else 0.6  # a former province alone: which one is unknown
    return PlaceMatch(province, district, ward, round(score, 4), historical=state.historical,
                      partial=bool(state.skipped or state.unexplained),
                      names_read=tuple((query, entry.unit, name_score)
                                       for _, entry, _, query, name_score in state.matched))


def match_place(text: str) -> tuple[PlaceMatch | None, list[_Chunk]]:
    """The best gazetteer match for ``text`` (``None`` if no unit fits) and the chunks it was cut into."""
    chunks = [c for c in _chunks(text) if c.kind != "country"]
    if any(c.kind == "abroad" for c in chunks):
        return None, chunks  # a residence abroad ("Seoul, Hàn Quốc"): no Vietnamese units to match
    searchable = [i for i, c in enumerate(chunks) if c.kind in ("admin", "facility")]
    if not searchable:
        return None, chunks
    work = [chunks[i] for i in searchable][-4:]  # units come last; a long prefix is notes, not address
    idx = _index()
    start = _State(len(work) - 1, len(work[-1].words), 3, (("all", 0),), (), 0.0, 0, False)
    beam, finals = [start], []
    while beam:
        expanded: list[_State] = []
        for state in beam:
            if state.chunk < 0 or state.below == 0:
                finals.append(_finish(state, work))
                continue
            expanded.extend(_expand(state, work, idx))
        expanded.sort(key=lambda s: -s.objective)
        beam = expanded[:_BEAM]
    finals.sort(key=_final_score, reverse=True)
    best_by_codes: dict[tuple, tuple[float, _State]] = {}
    for state in finals:
        match = _resolve(state)
        if match is None:
            continue
        key = match.codes + (bool(match.successors),)
        if key not in best_by_codes:
            best_by_codes[key] = (_final_score(state), state)
    if not best_by_codes:
        return None, chunks
    ranked = sorted(best_by_codes.values(), key=lambda t: -t[0])
    best_score, best_state = ranked[0]
    match = _resolve(best_state)
    assert match is not None
    if match.historical and match.province is None:
        codes = {c for _, c in best_state.scope}
        successors = tuple(p for p in gazetteer().provinces if p.code in codes)
        match = replace(match, historical=True, successors=successors, ambiguous=len(successors) > 1)
    ambiguous = match.ambiguous or (len(ranked) > 1 and best_score - ranked[1][0] < 0.05
                                    and _is_different(match, _resolve(ranked[1][1])))
    if ambiguous and not match.ambiguous:
        match = replace(match, ambiguous=True)
    return match, chunks


def _is_different(a: PlaceMatch, b: PlaceMatch | None) -> bool:
    if b is None:
        return False
    # A less specific reading of the same units (ward and district vs district only) is not a rival.
    for x, y in zip(a.codes, b.codes, strict=True):
        if x is not None and y is not None and x != y:
            return True
    return False


def _official(match: PlaceMatch, localities: list[str]) -> str:
    names = [u.name for u in (match.ward, match.district, match.province) if u is not None]
    return ", ".join(localities + names)


def normalize_place(text: str) -> Normalized:
    """A written place → ``{"text", "normalized", "province", "provinceCode", "district", "districtCode",
    "ward", "wardCode"}`` with the gazetteer match score. Never raises."""
    # One spelling of the same text: a space after each comma, one tone placement ("Hạ Hoà" is "Hạ Hòa"), a
    # capital first letter ("tại nhà" is the cell "Tại nhà").
    cleaned = modern_tone_placement(re.sub(r"\s*,\s*", ", ", normalize_text(text))).strip()
    if not cleaned:
        return Normalized(None, 1.0, ("empty",))
    cleaned = cleaned[0].upper() + cleaned[1:]
    value: dict = {"text": cleaned, "normalized": None, "province": None, "provinceCode": None,
                   "district": None, "districtCode": None, "ward": None, "wardCode": None}
    if not any(ch.isalpha() for ch in cleaned):
        # "02", "12/3/1990": a number or date read into a place's column, no place at all.
        return Normalized(value, 0.5, ("no_letters",))
    facility = facility_phrase(cleaned)
    flags: list[str] = []
    if facility != cleaned:
        cleaned = value["text"] = facility
        flags.append("facility_name_corrected")
    match, chunks = match_place(cleaned)
    if match is None:
        if any(c.kind == "abroad" for c in chunks):
            return Normalized(value, 1.0, ("place_abroad",))
        has_admin = any(c.kind == "admin" for c in chunks)
        if has_admin:
            return Normalized(value, 0.5, (*flags, "place_unmatched"))
        return Normalized(value, 1.0, (*flags, "place_no_admin_unit"))
    for unit, name_key, code_key in ((match.province, "province", "provinceCode"),
                                     (match.district, "district", "districtCode"),
                                     (match.ward, "ward", "wardCode")):
        if unit is not None:
            value[name_key], value[code_key] = unit.name, unit.code
    if match.historical:
        flags.append("place_historical")
    if match.ambiguous:
        flags.append("place_ambiguous")
    if match.partial:
        flags.append("place_partly_matched")
    if match.score < 1.0:
        flags.append("fuzzy_match")
    corrected = _corrected_names(cleaned, match)
    if corrected != cleaned:
        value["text"] = corrected
        flags.append("place_name_corrected")
    only_units = all(c.kind in ("admin", "locality") for c in chunks)
    if only_units:
        value["text"] = units_written_alike(value["text"])
    if only_units and match.province is not None and not match.partial:
        localities = [" ".join(_raw_words(c)) for c in chunks if c.kind == "locality"]
        value["normalized"] = _official(match, localities)
    # When the value written out is the text itself (a hospital, a commune's health station), which of two
    # same-named communes is meant does not change it.
    ambiguity_matters = value["normalized"] is not None or not any(c.kind == "facility" for c in chunks)
    score = match.score * (0.85 if match.ambiguous and ambiguity_matters else 1.0) * (0.75 if match.partial else 1.0)
    return Normalized(value, round(min(score, 1.0), 4), tuple(flags))


#: How health facilities are written at the start of a place of birth or death, longest first within a kind.
#: The last word of those ending in a unit word is that unit's, not a name's.
FACILITY_PHRASES = tuple(tuple(phrase.split()) for phrase in (
    "Bệnh viện Đa khoa tỉnh", "Bệnh viện Đa khoa huyện", "Bệnh viện Đa khoa thành phố", "Bệnh viện Đa khoa thị xã",
    "Bệnh viện Đa khoa quận", "Bệnh viện Đa khoa", "Bệnh viện Phụ sản", "Bệnh viện",
    "Trung tâm Y tế huyện", "Trung tâm Y tế thành phố", "Trung tâm Y tế thị xã", "Trung tâm Y tế quận",
    "Trung tâm Y tế", "Trạm y tế xã", "Trạm y tế phường", "Trạm y tế thị trấn", "Trạm y tế",
    "Nhà hộ sinh", "Phòng khám đa khoa",
))
#: A facility phrase is taken for the text's first words when their mark-less letters are this alike...
FACILITY_PHRASE_RATIO = 0.8
#: ...and, where the phrase ends in a unit word, that word read is at least this alike to it ("Quyên" for
#: "huyện", not "Kim" in "Trung tâm Y tế Kim Thành").
FACILITY_UNIT_RATIO = 0.6
_FACILITY_UNIT_WORDS = frozenset({"tỉnh", "huyện", "quận", "xã", "phường", "thị", "trấn", "thành", "phố"})


def facility_phrase(text: str) -> str:
    """``text`` with a health facility's name misread at its start ("Trung tâm Y Tứ Quyên Kim Thành",
    "đệnh viện Đa khoa tỉnh Hải Dương") written as the phrase it is ("Trung tâm Y tế huyện", "Bệnh viện"):
    a closed set of phrases, so a word or two misread in one is no name. Only the words read wrong change
    (a word read right keeps its case); the phrase must be alike as a whole (``FACILITY_PHRASE_RATIO``), at
    least half its words read right, and something must follow it. Returns ``text`` where nothing fits."""
    tokens = list(re.finditer(r"\S+", text))
    best = None  # (matched letters, phrase, words read)
    for phrase in FACILITY_PHRASES:
        n = len(phrase)
        if len(tokens) <= n:
            continue
        read = [t.group() for t in tokens[:n]]
        folded_read, folded_phrase = [fold(w) for w in read], [fold(w) for w in phrase]
        if folded_read == folded_phrase:
            return text  # read right
        exact = sum(a == b for a, b in zip(folded_read, folded_phrase))
        if 2 * exact < n:
            continue
        ratio = fuzz.ratio(strip_marks(" ".join(folded_read)), strip_marks(" ".join(folded_phrase))) / 100
        if ratio < FACILITY_PHRASE_RATIO:
            continue
        units_alike = all(a == b or b not in _FACILITY_UNIT_WORDS
                          or fuzz.ratio(strip_marks(a), strip_marks(b)) / 100 >= FACILITY_UNIT_RATIO
                          for a, b in zip(folded_read, folded_phrase))
        if not units_alike:
            continue
        matched = ratio * len(" ".join(folded_phrase))
        if best is None or matched > best[0]:
            best = (matched, phrase, read)
    if best is None:
        return text
    _, phrase, read = best
    words = [w if fold(w) == fold(c) else c + w[len(w.rstrip(_SPAN_PUNCTUATION)):] for w, c in zip(read, phrase)]
    return " ".join(words) + text[tokens[len(phrase) - 1].end():]


#: A registering office's commune name is taken from the page's places only when it is this close to one.
OFFICE_NAME_RATIO = 0.7
_OFFICE_UNIT = re.compile(r"\b(xã|phường|thị\s+trấn|x\.|p\.|tt\.?)\s*", re.IGNORECASE)


def office_from_wards(office: str, wards: list[str]) -> tuple[str, str] | None:
    """The registering office ``office`` ("UBND thị trấn Kinh Giang") with its commune's name spelled as one
    of ``wards``, the communes the page's places matched in the gazetteer ("Thị trấn Ninh Giang"), where the
    name read is none of them but near one of the same kind of unit (mark-less letters at least
    ``OFFICE_NAME_RATIO`` alike) and nearer than any other: the people a commune registers mostly live in it.
    Returns ``(the office as corrected, the ward it follows)``, or ``None`` where nothing is to change."""
    found = _office_name(office)
    if found is None:
        return None
    m, kind, read = found
    names = {}
    for ward in wards:
        unit = _OFFICE_UNIT.match(ward)
        if unit and _KIND_OF_UNIT.get(strip_marks(fold(unit.group(1))).replace(" ", "")) == kind:
            names[ward[unit.end():].strip()] = ward
    if not names or any(strip_marks(fold(n)) == strip_marks(fold(read)) for n in names):
        return None
    scored = sorted(((fuzz.ratio(strip_marks(fold(read)), strip_marks(fold(n))) / 100, n) for n in names), reverse=True)
    best, name = scored[0]
    if best < OFFICE_NAME_RATIO or len(scored) > 1 and scored[1][0] >= best - 0.05:
        return None
    return office[:m.end()] + name, names[name]


def _office_name(office: str) -> tuple[re.Match, str, str] | None:
    """The last unit word of ``office`` ("UBND xã ..."), the kind of unit it names and the name read after it."""
    m = None
    for m in _OFFICE_UNIT.finditer(office):
        pass  # the last unit word: "UBND xã ..." (an office names one commune)
    if m is None:
        return None
    kind = _KIND_OF_UNIT.get(strip_marks(fold(m.group(1))).replace(" ", ""))
    read = office[m.end():].strip(" ,.-")
    return (m, kind, read) if read and kind is not None else None


@lru_cache(maxsize=256)
def _wards_of_kind(provinces: frozenset[int], kind: str) -> dict[str, str]:
    """The folded bare names (``_key``) of the communes of ``kind`` in ``provinces`` → their names."""
    idx = _index()
    out: dict[str, str] = {}
    for code in sorted(provinces):
        for key, entries in idx.by_scope.get((WARD, "province", code), {}).items():
            for e in entries:
                if _KIND_OF_UNIT.get(strip_marks(fold(e.unit.unit)).replace(" ", "")) == kind:
                    out.setdefault(key, e.unit.bare)
    return out


def office_readings(office: str, provinces: frozenset[int]) -> list[str]:
    """Other readings of the registering office ``office`` ("UBND xã Hiền Mỹ"), each with its commune's name
    replaced by the name of a commune of the same kind in ``provinces`` (the gazetteer codes of the provinces
    the page's places matched: a commune registers mostly its own people) near the name read (at most
    ``READINGS_PER_UNIT``, ``READING_NAME_RATIO`` alike): "UBND xã Điền Mỹ". None where the name read is one
    of them already; where no unit word is read, :func:`_office_readings_without_unit`."""
    found = _office_name(office)
    if not provinces:
        return []
    if found is None:
        return _office_readings_without_unit(office, provinces)
    m, kind, read = found
    names = _wards_of_kind(provinces, kind)
    if not names or _key(read) in names:
        return []
    out = []
    for key, _, _ in process.extract(_key(read), list(names), scorer=fuzz.ratio, limit=READINGS_PER_UNIT,
                                     score_cutoff=READING_NAME_RATIO):
        name = names[key]
        reading = office[:m.end()] + (name.upper() if read.isupper() else name)
        if reading != office and reading not in out:
            out.append(reading)
    return out


#: How an office names itself before its commune (:func:`data.text.places.registration_office`): the body, and
#: the unit word written small or capitalized.
_OFFICE_BODIES = ("UBND", "UB", "Ủy ban nhân dân", "UBHC")
_OFFICE_UNIT_WORDS = {"xa": ("xã", "Xã"), "phuong": ("phường", "Phường"), "thitran": ("thị trấn", "Thị trấn")}
#: An office read with no unit word has at most this many first words taken for its misread body and unit word;
#: the rest is a commune's name at least ``OFFICE_NAME_RATIO`` alike (``OFFICE_NAMES_PER_KIND`` per kind of unit).
OFFICE_WORDS_MISREAD = 3
_OFFICE_BODY_WORDS = frozenset({"uy", "ban", "nhan", "dan", "ubnd", "ub", "ubhc", "hanh", "chinh"})
OFFICE_NAMES_PER_KIND = 3


def _office_readings_without_unit(office: str, provinces: frozenset[int]) -> list[str]:
    """Readings of an office read with no unit word ("UBHồ Thanh Tân" for "UB Xã Thanh Tiên", "NGUYỄN Lê Xuân
    Phương" for "UBND xã Xuân Phương": its body and unit word misread, or read as a name): its first one to
    ``OFFICE_WORDS_MISREAD`` words replaced by each body and unit word offices write, the rest (not starting
    with a body's word) by the name of a commune in ``provinces`` near it."""
    words = office.split()
    out: list[str] = []
    for drop in range(1, min(OFFICE_WORDS_MISREAD, len(words) - 1) + 1):
        if strip_marks(fold(words[drop])) in _OFFICE_BODY_WORDS:
            continue  # "Ủy ban nhân dân" read right, its commune not: "dân" is no commune's name
        read = _key(" ".join(words[drop:]))
        for kind, spellings in _OFFICE_UNIT_WORDS.items():
            names = _wards_of_kind(provinces, kind)
            for key, _, _ in process.extract(read, list(names), scorer=fuzz.ratio, limit=OFFICE_NAMES_PER_KIND,
                                             score_cutoff=100 * OFFICE_NAME_RATIO):
                out += [f"{body} {unit} {names[key]}" for body in _OFFICE_BODIES for unit in spellings]
    return [reading for reading in dict.fromkeys(out) if reading != office]


def office_in_gazetteer(office: str, provinces: frozenset[int]) -> int:
    """1 where the commune ``office`` names is a commune of its kind in ``provinces``, else 0."""
    found = _office_name(office)
    return int(found is not None and _key(found[2]) in _wards_of_kind(provinces, found[1]))


_KIND_OF_UNIT = {"xa": "xa", "x.": "xa", "x": "xa", "phuong": "phuong", "p.": "phuong", "p": "phuong",
                 "thitran": "thitran", "tt": "thitran", "tt.": "thitran"}


#: Unit words written out, as :func:`units_written_alike` writes them (abbreviations stay as written).
_UNIT_SPELLING = {("xã",): "Xã", ("phường",): "Phường", ("thị", "trấn"): "Thị trấn", ("huyện",): "Huyện",
                  ("quận",): "Quận", ("thị", "xã"): "Thị xã", ("thành", "phố"): "Thành phố", ("tỉnh",): "Tỉnh"}


def units_written_alike(text: str) -> str:
    """A place of units and localities in one spelling of its separators and unit words, so that one place
    written two ways is one value: its parts joined by ", " (for " - ", ";" or no separator before a unit word
    that starts a new unit: "Xã Lê Ninh Thị xã Kinh Môn - tỉnh Hải Dương" → "Xã Lê Ninh, Thị xã Kinh Môn, Tỉnh
    Hải Dương"), each unit word written out capitalised (in capitals where written so: "XÃ PHÚ TÚC").
    Hyphenated names ("Bà Rịa - Vũng Tàu") stay whole; a unit word needs a name before and after it to start a
    unit ("Xã Tân Xã")."""
    protected = _protect_hyphens(text)
    parts: list[list[str]] = []
    for raw in re.split(r"\s*[,;]\s*|\s+[-–]\s+", protected):
        words = raw.replace("\x00", "-").split()
        if not words:
            continue
        part: list[str] = []
        i = 0
        while i < len(words):
            folded = tuple(w.lower() for w in words[i:i + 2])
            unit = next(((n, _UNIT_SPELLING[folded[:n]]) for n in (2, 1) if folded[:n] in _UNIT_SPELLING
                         and len(folded) >= n), None)
            after = tuple(w.lower() for w in words[i + unit[0]:i + unit[0] + 2]) if unit else ()
            if unit is not None and after and after[:1] not in _UNIT_SPELLING and after not in _UNIT_SPELLING:
                if part:
                    parts.append(part)
                capitals = all(w.isupper() for w in words[i:i + unit[0]])
                part = (unit[1].upper() if capitals else unit[1]).split()
                i += unit[0]
                continue
            part.append(words[i])
            i += 1
        parts.append(part)
    written = ", ".join(" ".join(part) for part in parts)
    return written[:1].upper() + written[1:]


def _corrected_names(text: str, match: PlaceMatch) -> str:
    """``text`` with each unit name misread in it ("Huyện Tâm Xuyên, Hà Tĩnh") spelled as the gazetteer
    spells it ("Huyện Cẩm Xuyên, Hà Tĩnh"). Only where the place matched whole, with no rival reading, and
    another of its units was read right (it narrows the search to that unit's own communes); a name is
    replaced only where it occurs once."""
    if match.partial or match.ambiguous:
        return text
    for query, unit, name_score in match.names_read:
        if name_score >= 1.0 or name_score < CORRECTABLE_NAME_SCORE or unit.numbered:
            continue
        if not any(other is not unit and score >= 0.95 for _, other, score in match.names_read):
            continue
        spans = _spans_reading(text, query)
        if len(spans) != 1:
            continue
        start, end = spans[0]
        written = text[start:end]
        text = text[:start] + (unit.bare.upper() if written.isupper() else unit.bare) + text[end:]
    return text


def _spans_reading(text: str, query: str) -> list[tuple[int, int]]:
    """The character spans of ``text``, whole words without the punctuation around them, whose comparison
    key is ``query``."""
    tokens = list(re.finditer(r"\S+", text))
    size = len(query.split())
    spans = set()
    for i in range(len(tokens)):
        for j in range(i, min(len(tokens), i + size + 1)):
            start, end = tokens[i].start(), tokens[j].end()
            while end > start and text[end - 1] in _SPAN_PUNCTUATION:
                end -= 1
            while start < end and text[start] in _SPAN_PUNCTUATION:
                start += 1
            if start < end and _key(text[start:end]) == query:
                spans.add((start, end))
    return sorted(spans)


def _raw_words(chunk: _Chunk) -> list[str]:
    """The locality as written (case and "131/6" kept): the shortest run of the part's words that folds to
    the chunk's words."""
    raw_words = normalize_text(chunk.raw).split()
    target = " ".join(chunk.words)
    for size in range(1, len(raw_words) + 1):
        for i in range(len(raw_words) - size + 1):
            if _key(" ".join(raw_words[i:i + size])) == target:
                return raw_words[i:i + size]
    return list(chunk.words)


#: Words that start a village, hamlet or residential group and nothing else ("thôn", "ấp"); other locality
#: words ("số", "khu", "phố") are also parts of names.
_VILLAGE_WORDS = frozenset({"thôn", "xóm", "ấp", "bản", "buôn", "khóm", "làng"})


def place_breaks(text: str) -> int:
    """How many places ``text`` seems to hold beyond one, by the order of its units: an address runs from the
    smallest unit to the largest ("thôn Đông, Xã A, Huyện B, Tỉnh C"), so a smaller unit after a larger one
    ("Huyện Đông Anh thôn Đình Ninh, Xã Mỹ Hưng") starts another place; a text ending in a separator ("thôn 3,
    Xã Kỳ Thượng,") is cut before its end and counts one too. Unit words are those of :data:`_UNIT_WORDS`
    (one letter only when dotted, "H."); villages those of :data:`_VILLAGE_WORDS`."""
    levels = []
    parts = _place_parts(text)
    for words, dotted in parts:
        i = 0
        while i < len(words):
            found = _unit_word_at(words, i, dotted)
            # A unit word counts only with a name after it ("Xã Tân Xã" is one unit).
            if found is not None and i + found[1] < len(words):
                levels.append(_UNIT_LEVEL[found[0]])
                i += found[1] + 1
                continue
            if words[i] in _VILLAGE_WORDS and i + 1 < len(words):
                levels.append(WARD - 1)
            i += 1
    cut_short = (text.rstrip()[-1:] in (",", ";", "-", "–") or text.lstrip()[:1] in (",", ";", "-", "–")
                 or len(parts) > 1 and _bare_unit_word(*parts[-1]))
    return int(cut_short) + sum(b < a for a, b in zip(levels, levels[1:]))


def _place_parts(text: str) -> list[tuple[tuple[str, ...], frozenset[str]]]:
    """The parts of the written place ``text`` between its separators: each one's words (:func:`_key`) and the
    letters dotted in it ("H." in "H. Tứ Kỳ"), which may stand for unit words."""
    parts = []
    for part in re.split(r"[,;]|\s+[-–]\s+|\n", _protect_hyphens(text)):
        parts.append((tuple(_key(part.replace("\x00", "-")).split()),
                      frozenset(m.lower() for m in re.findall(r"(?<![\w'’])([HhQqPpXxTt])\.", part))))
    return parts


#: First halves of two-word unit words ("thành" of "thành phố", "thị" of "thị xã", "thị trấn").
_HALF_UNIT_WORDS = frozenset({"thành", "thanh", "thị", "thi"})


def _bare_unit_word(words: tuple[str, ...], dotted: frozenset[str]) -> bool:
    """Whether a part of a place (:func:`_place_parts`) is a unit word alone, with no name after it ("Tỉnh" in
    "Xã Tân Phong, Huyện Ninh Giang, Tỉnh", "H.", the "thành" of a "thành phố" cut off): the place goes on in the
    next line."""
    if len(words) == 1 and words[0] in _HALF_UNIT_WORDS:
        return True
    found = _unit_word_at(words, 0, dotted) if words else None
    return found is not None and found[1] == len(words)


#: The gazetteer names :func:`place_readings` offers in place of one unit name read: at most this many per
#: unit, each at least this alike to the words read (rapidfuzz ratio of the folded names, 0–100).
READINGS_PER_UNIT = 8
READING_NAME_RATIO = 40


def gazetteer_names_read(text: str) -> int:
    """How many unit names in ``text`` the gazetteer holds exactly as read (folded) and together: the units
    of its best match whose name score is 1.0."""
    match, _ = match_place(text)
    return 0 if match is None else sum(score >= 1.0 for _, _, score in match.names_read)


def place_readings(text: str) -> list[str]:
    """Other readings of the written place ``text``, each with one unit name replaced by a gazetteer unit's
    of the same level and in the same parent as the best match places it (a district's siblings in the matched
    province; a commune's in the matched district, or in the province where no district matched) whose name is
    near the words read ("Huyện Quỳnh Lương, Nghệ An" → "Huyện Quỳnh Lưu, Nghệ An"). A unit name read exactly
    is left as it is; so is a written unit the match left out ("Huyện Gia Khê" where no district fits), which
    is searched for under the matched units; so is a last unit with no unit word that matches nothing where the
    units before it placed the province, among the provinces near it ("…, Huyện Thăng Bình, Quảng Ninh" →
    "…, Quảng Nam"). Names keep the case of the words read (capitals stay capitals). ``text`` itself is not
    among them; none where nothing matched."""
    match, chunks = match_place(text)
    if match is None or match.province is None:
        return []
    idx = _index()
    units = {WARD: match.ward, DISTRICT: match.district, PROVINCE: match.province}
    queries: list[tuple[str, int]] = []
    for query, unit, score in match.names_read:
        level = next((lv for lv, u in units.items() if u is unit), None)
        if level is not None and score < 1.0 and not unit.numbered:
            queries.append((query, level))
    read = {query for query, _, _ in match.names_read}
    admin = [chunk for chunk in chunks if chunk.kind == "admin"]
    # One unit alone, named by its unit word ("Trung tâm Y tế huyện A Liên"): nothing places its parents, so
    # the unit the match found may be of another level or province ("An Biên", Kiên Giang); its name is
    # searched for among the whole country's units of the level written.
    lone = len(admin) == 1 and admin[0].hint is not None and not any(w.isdigit() for w in admin[0].words)
    if lone:
        query, level = " ".join(admin[0].words), _UNIT_LEVEL[admin[0].hint]
        # A unit of that level somewhere so named is read as written.
        queries = [] if _key(query) in idx.by_scope.get((level, "all", 0), {}) else [(query, level)]
    for chunk in [] if lone else chunks:
        query = " ".join(chunk.words)
        if chunk.kind != "admin" or query in read or any(w.isdigit() for w in chunk.words):
            continue
        if chunk.hint:
            queries.append((query, _UNIT_LEVEL[chunk.hint]))
        elif chunk is admin[-1] and len(admin) > 1 and not any(unit is match.province for _, unit, _ in match.names_read):
            # The last unit, unnamed and matching nothing, where the units before it placed the province
            # ("Bình Chánh, Huyện Thăng Bình, Quảng Ninh"): that province's name misread.
            queries.append((query, PROVINCE))
    out: list[str] = []
    for query, level in queries:
        if lone:
            scope = ("all", 0)
        elif level == WARD:
            scope = ("district", match.district.code) if match.district else ("province", match.province.code)
        elif level == DISTRICT:
            scope = ("province", match.province.code)
        else:
            scope = ("all", 0)
        table = idx.by_scope.get((level, *scope))
        spans = _spans_reading(text, query)
        if not table or len(spans) != 1:
            continue
        start, end = spans[0]
        written = text[start:end]
        for key, _, _ in process.extract(query, idx.keys[(level, *scope)], scorer=fuzz.ratio,
                                         limit=READINGS_PER_UNIT, score_cutoff=READING_NAME_RATIO):
            name = table[key][0].unit.bare
            reading = text[:start] + (name.upper() if written.isupper() else name) + text[end:]
            if reading != text and reading not in out:
                out.append(reading)
    return out


#: The unit words :func:`unit_word_readings` offers in place of a word misread at the start of a part of a place,
#: and how alike (rapidfuzz ratio of the folded words, 0–100) the word read must be to one of them.
UNIT_WORD_READINGS = ("Tỉnh", "Huyện", "Quận", "Xã", "Phường")
UNIT_WORD_RATIO = 70
#: How alike the word after a "Thành" starting a part must be to "phố" to be read as it ("Thành Hồ Hải Dương").
CITY_WORD_RATIO = 60


def _written_as(word: str, like: str) -> str:
    """``word`` in the case of ``like``: capitals, capitalised or small letters."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word.lower()


def unit_word_readings(text: str) -> list[str]:
    """Other readings of the written place ``text``, each with one unit word misread put right: a word that
    starts a part and is near one of :data:`UNIT_WORD_READINGS` but no unit word ("Kinh Cà Mau", "Huyện Hạ Hòa,
    Bình Phú Thọ" for "Tỉnh …"; a part of that word alone, "Bình, Bình Phước", loses its separator too), or the
    word after a "Thành" that starts a part, near "phố" ("Thành Hồ Hải Dương"). Only readings the gazetteer
    explains better (:func:`place_fit`): a unit word in place of a name's first word ("TX Kinh Môn") loses that
    name; the word read where a unit word stands is left unexplained ("Kinh Cà Mau")."""
    tokens = list(re.finditer(r"\S+", text))
    out: list[str] = []
    for i, token in enumerate(tokens):
        starts = i == 0 or tokens[i - 1].group()[-1] in ",;" or tokens[i - 1].group() in ("-", "–")
        if not starts or i + 1 == len(tokens):
            continue
        word = token.group()
        bare = word.strip(",.;")
        if not bare or any(ch.isdigit() for ch in bare):
            continue
        folded = _key(bare)
        if strip_marks(folded) == "thanh":
            after = tokens[i + 1].group().rstrip(",.;")
            after_key = strip_marks(_key(after))
            if after_key != "pho" and fuzz.ratio(after_key, "pho") >= CITY_WORD_RATIO:
                start = tokens[i + 1].start()
                out.append(text[:start] + ("PHỐ" if bare.isupper() else "phố") + text[start + len(after):])
            continue
        if (folded,) in _UNIT_WORDS or any(folded == key[0] for key in _UNIT_WORDS if len(key) == 2):
            continue
        # A part that is the word alone ("Bình, Bình Phước"): the unit word and the name after it were split.
        alone = word[-1] in ",;"
        for unit in UNIT_WORD_READINGS:
            if fuzz.ratio(strip_marks(folded), strip_marks(_key(unit))) < UNIT_WORD_RATIO:
                continue
            written = text[:token.start()] + _written_as(unit, bare)
            if alone:
                reading = written + " " + text[token.end():].lstrip(" ")
            else:
                reading = written + text[token.start() + len(word.rstrip(",.;")):]
            if reading != text and reading not in out:
                out.append(reading)
    known = place_fit(text)
    return [reading for reading in out if place_fit(reading) > known]


def place_fit(text: str) -> int:
    """How well the gazetteer explains the written place ``text``: the unit names it holds exactly as read
    (:func:`gazetteer_names_read`), plus one where the match leaves no written unit name or word unexplained."""
    match, _ = match_place(text)
    if match is None:
        return 0
    return sum(score >= 1.0 for _, _, score in match.names_read) + int(not match.partial)
