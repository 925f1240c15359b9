"""Printed headings → the field keys they name.

The layout detector places fields well on layouts it has never seen, but it names them after the column
positions it was trained on. The printed heading over a column says what the column holds ("Họ tên mẹ / họ
tên cha", "Năm sinh mẹ / cha", "Người đi khai"); this module reads that text:

- :func:`parse_heading` turns the heading of one column (and the group heading above it, if any) into the keys
  of the book it can mean: an ordered list when the heading names every value in writing order, else the set
  of keys of the person it names;
- :func:`book_of_title` reads the book from the page title ("SỔ ĐĂNG KÝ KHAI TỬ").

(:func:`data.pages.lines.heading_line_boxes` cuts a heading cell into the printed lines the recognizer reads.)

The vocabulary below is how registers print attributes, persons and the entry's own fields; it was written
from the schema's labels (``data/schema.py``) and the training layouts' headings, and is matched on folded
text (lower case, one tone placement, punctuation as spaces: :func:`inference.records.matching.fold`), with a
diacritic-free pass for words the recognizer read without their marks.
"""
from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass

from data.schema import ValueKind, get_book
from inference.records.matching import bare, fold

# -- vocabulary --------------------------------------------------------------------------------------------
# What a phrase names: ("person", prefix), ("attr", attribute names...), ("entry", keys...), ("group", attrs),
# or ("skip",) for words that only decorate ("ghi rõ họ tên" under a signature is not a person's name).
_PHRASES: dict[str, tuple] = {}


def _add(kind: tuple, *phrases: str) -> None:
    for phrase in phrases:
        _PHRASES[fold(phrase)] = kind


# Persons. "con" and "cha/mẹ" depend on the book (see _PERSON_BY_BOOK).
_add(("person", "nks"), "người được khai sinh", "người được đăng ký khai sinh", "trẻ em")
_add(("person", "child"), "con")
_add(("person", "me"), "mẹ", "người mẹ")
_add(("person", "cha"), "cha", "người cha", "bố")
_add(("person", "nyc"), "người đi khai", "người yêu cầu", "người đi đăng ký", "người khai", "người đăng ký")
_add(("person", "nkt"), "người chết", "người đã chết", "người đã mất")
_add(("person", "gbt"), "giấy báo tử")
_add(("person", "chong"), "chồng", "bên chồng")
_add(("person", "vo"), "vợ", "bên vợ")
_add(("person", "cm"), "người nhận", "người nhận cha mẹ con")
_add(("person", "nc"), "người được nhận")
# A person's attributes.
_add(("attr", "HoTen"), "họ và tên", "họ tên", "họ chữ đệm tên", "họ chữ đệm và tên", "tên")
_add(("attr", "GioiTinh"), "giới tính", "nam hay nữ", "nam nữ", "nam hoặc nữ")
_add(("attr", "NgaySinh"), "ngày tháng năm sinh", "ngày sinh", "năm sinh", "sinh ngày", "sinh năm", "bằng số")
_add(("attr", "NgaySinhBangChu"), "ngày tháng năm sinh bằng chữ", "ngày sinh bằng chữ", "bằng chữ")
_add(("attr", "NoiSinh"), "nơi sinh")
_add(("attr", "QueQuan"), "quê quán", "nguyên quán")
_add(("attr", "DanToc"), "dân tộc")
_add(("attr", "QuocTich"), "quốc tịch")
_add(("attr", "NoiCuTru"), "nơi cư trú cuối cùng", "nơi cư trú", "nơi thường trú", "cư trú", "thường trú",
     "trú quán", "chỗ ở", "địa chỉ")
_add(("attr", "LoaiCuTru"), "loại cư trú")
_add(("attr", "SoDinhDanh", "SoDinhDanhCaNhan"), "số định danh cá nhân", "số định danh")
_add(("attr", "LoaiGiayToTuyThan"), "loại giấy tờ", "loại giấy tờ tùy thân")
_add(("attr", "SoGiayToTuyThan"), "số giấy tờ", "số giấy tờ tùy thân")
_add(("attr", "NgayCapGiayToTuyThan", "Ngay"), "ngày cấp")
_add(("attr", "NoiCapGiayToTuyThan", "CoQuanCap"), "nơi cấp")
_add(("attr", "CoQuanCap"), "cơ quan cấp")
_add(("attr", "QuanHe", "QHNguoiDuocNhan"), "quan hệ", "quan hệ với người được khai sinh",
     "quan hệ với người được nhận", "quan hệ với người được đăng ký")
_add(("attr", "NgayChet"), "ngày tháng năm chết", "ngày chết", "chết ngày", "chết lúc")
_add(("attr", "GioPhutChet"), "giờ phút chết", "giờ chết", "giờ phút", "giờ", "lúc")
_add(("attr", "NoiChet"), "nơi chết", "chết tại", "tại")
_add(("attr", "NguyenNhanChet"), "nguyên nhân chết", "nguyên nhân")
_add(("attr", "Loai"), "loại giấy", "loại")
_add(("group", "LoaiGiayToTuyThan", "SoGiayToTuyThan", "NgayCapGiayToTuyThan", "NoiCapGiayToTuyThan"),
     "giấy tờ tùy thân", "giấy tờ")
# "Chết" over a cell or a group of columns is the death (its date, hour, place and cause), not the deceased,
# whose name and particulars a column of their own holds beside it.
_add(("group", "NgayChet", "GioPhutChet", "NoiChet", "NguyenNhanChet"), "chết")
# The entry's own fields.
_add(("entry", "so"), "số", "số tt", "số thứ tự", "số đăng ký", "stt")
_add(("entry", "ngayDangKy"), "ngày đăng ký", "ngày tháng năm đăng ký", "ngày đk", "ngày")
_add(("entry", "loaiXacNhan"), "loại việc", "nhận cha mẹ hay con", "loại xác nhận", "nhận cha mẹ con")
_add(("entry", "quyetDinhSo"), "quyết định số", "số quyết định")
_add(("signer", "nguoiKy"), "cán bộ hộ tịch ký", "cán bộ ký", "người ký", "ký", "cán bộ hộ tịch",
     "cán bộ tư pháp hộ tịch")
_add(("signer", "nguoiThucHien"), "người thực hiện", "cán bộ thực hiện")
_add(("entry", "chucVuNguoiKy"), "chức vụ", "chức vụ người ký")
_add(("entry", "ghiChu"), "ghi chú")
_add(("entry", "loaiDangKy"), "loại đăng ký")
_add(("skip",), "ghi rõ họ tên", "ghi rõ họ và tên", "của", "và", "với", "hay", "giấy khai sinh")

# In the giấy báo tử's columns, "số" / "ngày" are the notice's number and date, not the entry's.
_GBT_ENTRY = {"so": "So", "ngayDangKy": "Ngay"}
# The person an attribute without one most often belongs to, per book (none where the book has two alike).
_DEFAULT_PERSON = {"khai_sinh": ("nks",), "khai_tu": ("nkt",), "ket_hon": (), "nhan_cha_me_con": ()}
_PERSON_BY_BOOK = {("child", "khai_sinh"): "nks", ("child", "nhan_cha_me_con"): "nc",
                   ("me", "nhan_cha_me_con"): "cm", ("cha", "nhan_cha_me_con"): "cm"}
# The two persons a column may stack one above the other under a heading naming neither (generated layouts'
# pair columns; the first is the first one in the book's order).
_PAIRS = {"khai_sinh": ("me", "cha"), "ket_hon": ("chong", "vo"), "nhan_cha_me_con": ("cm", "nc")}
#: How a heading names each person (the first phrase of its role).
_PERSON_PHRASE: dict[str, str] = {}
for _phrase, _kind in _PHRASES.items():
    if _kind[0] == "person":
        _PERSON_PHRASE.setdefault(_kind[1], _phrase)
_MAX_WORDS = max(len(p.split()) for p in _PHRASES)
_BARE = {}
for _phrase, _kind in _PHRASES.items():
    _BARE.setdefault(bare(_phrase), _kind)  # first wins: a mark-less collision keeps the commoner reading
#: A misread phrase is matched when its mark-less letters agree this well (difflib ratio) and it is this long.
_NEAR_RATIO, _NEAR_MIN_CHARS = 0.75, 7
_GENDER_SLASH = re.compile(r"nam\s*/\s*n[ữu]", re.IGNORECASE)
_BOOK_TITLES = (("khai sinh", "khai_sinh"), ("khai tử", "khai_tu"), ("kết hôn", "ket_hon"),
                ("nhận cha", "nhan_cha_me_con"), ("nhận con", "nhan_cha_me_con"))


@dataclass(frozen=True)
class HeadingKeys:
    """The keys a heading can mean. ``ordered``: the heading names each value, in writing order (``keys[i]``
    is the i-th value of the cell); otherwise ``keys`` is the set to choose from."""

    keys: tuple[str, ...]
    ordered: bool
    #: the ordered readings the heading allows, each one ``keys[i]`` = the i-th value of the cell: the keys
    #: themselves when ``ordered``; for a heading naming attributes and no person ("Ngày sinh, nơi sinh"),
    #: one per person having every attribute, and for one attribute both persons of a pair stacked, in
    #: either order ("Ngày sinh" over a husband's and a wife's). Empty: only the set ``keys``.
    readings: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keys)


def _near(chunk: str, n: int) -> tuple | None:
    """The phrase of ``n`` words (n ≥ 2) that ``chunk`` is a slight misreading of ("quối tính" for "giới tính",
    "ngày đăng" for "ngày đăng ký"), on mark-less text; ``None`` when none is near enough. Single words are
    never guessed: too many short ones differ by a letter ("số", "sổ")."""
    plain = bare(chunk)
    if n < 2 or len(plain) < _NEAR_MIN_CHARS:
        return None
    best, kind = _NEAR_RATIO, None
    for phrase, candidate in _BARE.items():
        if abs(phrase.count(" ") + 1 - n) <= 1:
            ratio = difflib.SequenceMatcher(None, plain, phrase).ratio()
            if ratio > best:
                best, kind = ratio, candidate
    return kind


def phrase_readings(text: str) -> list[str]:
    """Other readings of one printed heading line ``text``: a run of two or three of its words replaced by a
    phrase of the vocabulary near it, as :func:`_near` finds one ("Ngày sinh, số sinh" → "Ngày sinh, nơi
    sinh"), in the case of the words read and with their punctuation after; each reading once, none the same as
    ``text``. For scoring on the line's crop: a heading the recognizer read doubtfully is most often a printed
    phrase with a word misread."""
    tokens = text.split()
    out: list[str] = []
    for n in (2, 3):
        for i in range(len(tokens) - n + 1):
            window = tokens[i:i + n]
            core = " ".join(window).rstrip(",.;:")
            tail = " ".join(window)[len(core):]
            plain = bare(core)
            if len(plain) < _NEAR_MIN_CHARS or any(ch.isdigit() for ch in core):
                continue
            for phrase in _PHRASES:
                words = phrase.count(" ") + 1
                if words < 2 or abs(words - n) > 1 or bare(phrase) == plain:
                    continue
                if difflib.SequenceMatcher(None, plain, bare(phrase)).ratio() <= _NEAR_RATIO:
                    continue
                if core.isupper():
                    written = phrase.upper()
                else:
                    written = phrase[0].upper() + phrase[1:] if core[0].isupper() else phrase
                reading = " ".join([*tokens[:i], written + tail, *tokens[i + n:]])
                if reading != text and reading not in out:
                    out.append(reading)
    return out


def _starts_phrase(words: list[str], i: int) -> bool:
    return any(_PHRASES.get(" ".join(words[i:i + n])) or _BARE.get(bare(" ".join(words[i:i + n])))
               for n in range(1, min(_MAX_WORDS, len(words) - i) + 1))


def _terms(text: str) -> list[tuple]:
    """Longest-first phrase matching over the words of folded ``text``, exact first, then (where nothing
    matches) a near phrase of two or more words; unknown words are passed over."""
    words = fold(text).split()
    out, i = [], 0
    while i < len(words):
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            chunk = " ".join(words[i:i + n])
            kind = _PHRASES.get(chunk) or _BARE.get(bare(chunk))
            if kind:
                break
        else:
            for n in range(min(_MAX_WORDS, len(words) - i), 1, -1):
                kind = _near(" ".join(words[i:i + n]), n)
                if kind:
                    break
        if kind and n == 1 and i + 1 < len(words) and not _starts_phrase(words, i + 1):
            # One word read exactly, then a word that starts nothing: the two may be a phrase slightly
            # misread ("giờ tính" is "giới tính", not "giờ", the hour of death, and a stray word).
            near = _near(" ".join(words[i:i + 2]), 2)
            if near:
                kind, n = near, 2
        if kind:
            if kind[0] != "skip":
                out.append(kind)
            i += n
        else:
            i += 1
    return out


def _persons(terms: list[tuple], book: str, roles: tuple[str, ...]) -> list[str]:
    """The book's persons that ``terms`` name; a person the book has no fields for ("con" read on a death
    register) names nothing."""
    found = (_PERSON_BY_BOOK.get((t[1], book), t[1]) for t in terms if t[0] == "person")
    return [p for p in found if p in roles]


def _resolve(person: str, attrs: tuple[str, ...], fields: set[str]) -> str | None:
    return next((person + a for a in attrs if person + a in fields), None)


def _pair_part_mended(text: str, book: str, roles) -> str | None:
    """``text`` with the person a two-part heading's other part names written into the part whose person was
    misread: "Họ tên ngọ / họ tên cha" (mẹ read "ngọ") is "Họ tên mẹ / họ tên cha", since a column stacking
    one of the book's pair under a slash stacks the other beside it. ``None`` where the heading is not two parts
    of the same attribute, one naming one of the pair and the other naming no person."""
    parts = (text or "").split("/")
    pair = _PAIRS.get(book)
    if not pair or len(parts) != 2:
        return None
    terms = [_terms(part) for part in parts]
    persons = [_persons(t, book, roles) for t in terms]
    attrs = [{tuple(t[1:]) for t in part if t[0] == "attr"} for part in terms]
    for named, unnamed in ((0, 1), (1, 0)):
        if (len(persons[named]) == 1 and persons[named][0] in pair and not persons[unnamed] and attrs[unnamed]
                and attrs[named] in (attrs[unnamed], set())
                and not any(t[0] == "person" for t in terms[unnamed])):
            other = pair[1 - pair.index(persons[named][0])]
            mended = list(parts)
            mended[unnamed] = f"{parts[unnamed]} {_PERSON_PHRASE[other]}"
            return "/".join(mended)
    return None


#: Kinds of value a register may leave blank inside a cell that names several (see :func:`parse_heading`).
_NUMBER_KINDS = frozenset({ValueKind.DOCUMENT_NUMBER, ValueKind.ID_NUMBER, ValueKind.PERSONAL_ID})


def parse_heading(text: str, book: str, group: str | None = None) -> HeadingKeys:
    """The keys of ``book`` that a column heading (under the group heading ``group``) names.

    ``parse_heading("Năm sinh mẹ / cha", "khai_sinh")`` → ``(meNgaySinh, chaNgaySinh)``, ordered;
    ``parse_heading("Người đi khai", "khai_tu")`` → every ``nyc…`` field of the book, unordered;
    ``parse_heading("Họ và tên", "khai_tu", group="Người đi khai")`` → ``(nycHoTen,)``.
    An unreadable heading gives an empty :class:`HeadingKeys` (the detector's own key then stands)."""
    register = get_book(book)
    book = register.key
    fields = {f.key for f in register.register_fields}
    book_persons = tuple(r for r in register.roles if r and r != "gbt")
    group_persons = _persons(_terms(group or ""), book, register.roles)
    if (mended := _pair_part_mended(text, book, register.roles)) is not None:
        text = mended
    keys: list[str] = []
    ordered = True
    named_person, named_other = bool(group_persons), False
    attr_terms: list[tuple] = []
    previous_attrs: list[tuple] = []
    previous_persons: list[str] = []
    group_runs: list[tuple[str, ...]] = []
    signer_keys: list[tuple[str, ...]] = []
    for part in _GENDER_SLASH.sub("nam nữ", text or "").split("/"):
        terms = _terms(part)
        persons = _persons(terms, book, register.roles)
        if "gbt" in persons or (not persons and "gbt" in group_persons):
            # "Giấy báo tử (loại, số, ngày, nơi cấp)": "số" and "ngày" are the notice's number and date.
            terms = [("attr", _GBT_ENTRY[t[1]]) if t[0] == "entry" and t[1] in _GBT_ENTRY else t for t in terms]
        attrs = [t for t in terms if t[0] in ("attr", "group")]
        named_person |= bool(persons)
        named_other |= any(t[0] in ("entry", "signer", "group") for t in terms)
        attr_terms += [t for t in attrs if t[0] == "attr"]
        part_keys: list[str] = []
        for t in terms:
            if t[0] == "entry" and t[1] in fields:
                part_keys.append(t[1])
            elif t[0] == "signer":
                # A signature column: the signer's name, and on some books the title under it.
                part_keys += [k for k in (t[1], "chucVuNguoiKy") if k in fields]
                signer_keys.append(tuple(k for k in (t[1], "chucVuNguoiKy") if k in fields))
                ordered = False
        if persons and not attrs:
            attrs = previous_attrs  # "Năm sinh mẹ / cha": the second person takes the first one's attributes
        if attrs and not persons:
            persons = previous_persons or group_persons
            if not persons:
                # A heading naming no person ("Ngày sinh"): the book's main person first, but a column may
                # also stack both parents' values; the detector chooses among every person's. Still in order
                # where only one person of the book has each attribute named ("Chết ngày, giờ").
                persons = list(dict.fromkeys(_DEFAULT_PERSON[book] + book_persons))
                owners = [sum(_resolve(p, tuple(names), fields) is not None for p in persons)
                          for kind, *names in attrs if kind == "attr"]
                if any(n > 1 for n in owners):
                    ordered = False
        if persons and not attrs:
            # A person alone ("Người đi khai"): any of that person's fields; the detector chooses.
            part_keys += [f.key for p in persons for f in register.fields_of(p) if f.key in fields]
            ordered = False
        for p in persons:
            for kind, *names in attrs:
                if kind == "group":  # "giấy tờ tùy thân": its type, number, date and place of issue
                    run = tuple(p + n for n in names if p + n in fields)
                    part_keys += run
                    group_runs.append(run)
                    ordered = False
                elif (key := _resolve(p, tuple(names), fields)) is not None:
                    part_keys.append(key)
        keys += part_keys
        previous_attrs, previous_persons = attrs or previous_attrs, persons or previous_persons
    unique = tuple(dict.fromkeys(keys))  # "năm sinh (bằng số, …)" names one value twice
    ordered = ordered and bool(unique)
    readings: list[tuple[str, ...]] = [unique] if ordered else []
    if ordered and len(unique) > 2:
        # A document's number is often left blank ("Giấy báo tử (loại, số, ngày, nơi cấp)" filled "Giấy báo tử,
        # 28-01-2002, Bệnh viện Bạch Mai"): without it, the date would be read as the number, the place as the
        # date. The value read as what it is decides (a date reads as no number).
        readings += [unique[:i] + unique[i + 1:] for i, key in enumerate(unique)
                     if register.field(key).kind in _NUMBER_KINDS]
    if unique and not ordered and attr_terms and not named_person and not named_other:
        names = [tuple(t[1:]) for t in attr_terms]
        for p in dict.fromkeys(_DEFAULT_PERSON[book] + book_persons):
            found = [_resolve(p, n, fields) for n in names]
            if all(found):
                readings.append(tuple(dict.fromkeys(found)))
        if len(set(names)) == 1 and book in _PAIRS:
            first, second = (_resolve(p, names[0], fields) for p in _PAIRS[book])
            if first and second:
                if not _DEFAULT_PERSON[book]:
                    # A book of two persons (husband and wife…) prints one column per person under headings
                    # that name them; a column naming neither holds both.
                    readings = [r for r in readings if r not in ((first,), (second,))]
                readings += [(first, second), (second, first)]
    if len(signer_keys) == 1 and len(signer_keys[0]) == 2 and set(unique) == set(signer_keys[0]):
        # The signer's column: a name, a title, or both, the title over the name or under it; what each reads
        # as decides (a name is no title: "Võ Hữu Giang" over "Chủ tịch").
        name, title = signer_keys[0]
        readings += [(name,), (title,), (name, title), (title, name)]
    if group_runs and set(unique) == {k for run in group_runs for k in run}:
        # A heading naming only a group ("Giấy tờ tùy thân"): one person's documents, any of its parts
        # written, in the group's order (type, number, date, place of issue).
        for run in group_runs:
            readings += [tuple(run[i] for i in chosen) for size in range(1, len(run) + 1)
                         for chosen in itertools.combinations(range(len(run)), size)]
    return HeadingKeys(unique, ordered, tuple(dict.fromkeys(readings)))


def pair_reading(text: str, book: str, misread_persons: frozenset[str] | set[str] = frozenset()) -> tuple[str, ...] | None:
    """Both persons of the book's pair (mother and father, husband and wife...) for a column heading read with
    a person in it that the column cannot hold: "Họ tên mẹ / họ tên cha" read "Họ tên người nhận cha" (a
    person of another book) or "Họ tên người yêu cha" (the declarant, where ``misread_persons`` says another
    heading names the declarant's column whole). The recognizer, trained on other layouts' headings, writes a
    person it knows where it cannot read one; what stays readable is the attribute and at most one of the
    pair. Returns the pair's keys of that attribute in the book's order, or ``None`` where the heading names
    no foreign person, more than one attribute, another of the book's persons, or anything else."""
    pair = _PAIRS.get(book)
    if not pair:
        return None
    register = get_book(book)
    fields = {f.key for f in register.register_fields}
    terms = _terms(text or "")
    attrs = {tuple(t[1:]) for t in terms if t[0] == "attr"}
    if len(attrs) != 1 or any(t[0] in ("entry", "signer", "group") for t in terms):
        return None
    persons = [_PERSON_BY_BOOK.get((t[1], book), t[1]) for t in terms if t[0] == "person"]
    own = {p for p in persons if p in register.roles and p not in misread_persons}
    foreign = [p for p in persons if p not in register.roles or p in misread_persons]
    if not foreign or not own <= set(pair):
        return None
    names = next(iter(attrs))
    keys = tuple(_resolve(p, names, fields) for p in pair)
    return keys if all(keys) else None


def is_title(text: str) -> bool:
    """Whether a printed cell is the page title ("SỔ ĐĂNG KÝ KHAI SINH"), not a heading naming a person by the
    book's act ("Người được khai sinh", "Người nhận cha, mẹ, con"): titles name no "người"."""
    return book_of_title(text) is not None and "nguoi" not in bare(text or "").split()


def names_person(text: str, book: str) -> bool:
    """Whether a heading names one of ``book``'s persons in its own words ("Họ tên người yêu cha" does, "Quốc
    tịch" does not: its person is only the book's default)."""
    register = get_book(book)
    return bool(_persons(_terms(text or ""), register.key, register.roles))


def book_of_title(text: str) -> str | None:
    """The book a page title names ("SỔ ĐĂNG KÝ KẾT HÔN" → ``ket_hon``), or ``None``."""
    for normal in (fold, bare):  # with diacritics first, then without, as a recognizer may drop them
        folded = normal(text or "")
        for phrase, book in _BOOK_TITLES:
            if normal(phrase) in folded:
                return book
    return None


__all__ = ["HeadingKeys", "book_of_title", "is_title", "names_person", "parse_heading", "phrase_readings"]
