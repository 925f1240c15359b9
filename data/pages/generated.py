"""Generated page layouts: new column arrangements of a book's fields, composed at random from a seed.

The hand-written variants in ``forms/`` are few (three training layouts per book), and a detector trained on
them learns where each column sits instead of what its heading says (the held-out layouts fell while the
training layouts rose, README "Page layout detector"). A generated layout draws, from one seed:

- which of the book's fields it has a column for (the fields of the book's *training* variants; optional ones
  are left out at random), in the book's usual order, with neighbouring persons sometimes swapped;
- for each person (mother, husband, the deceased, ...) one of four arrangements: one column per attribute
  under a group heading; one merged cell for all of them (written one after another, ``flow``, or one per line,
  ``stack``, with or without printed sub-labels); attribute pairs merged ("Ngày sinh, nơi sinh"); or, for the
  two persons of a pair (mother and father, husband and wife, the one who recognizes and the one recognized),
  one column per attribute holding both persons one above the other ("Họ và tên chồng / vợ");
- the heading wording, from several ways registers print each attribute and person;
- column widths (jittered), one page or a two-page spread, orientation, print font, numbering and page header.

The phrases come from the training variants and the code tables' wording; no held-out variant is read. The
generator makes the *kinds* of cell the held-out variants use (real books mix them; excluding them would make
the generator less like the books), never those variants themselves, so held-out pages still measure layouts
the detector has not seen. Ids are ``<book prefix>-gen-<seed>``; :func:`generated_template` rebuilds the same
layout from its id, so a page spec stays a plain string.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from data.schema import get_book

ID_PREFIX = {"khai_sinh": "ks", "khai_tu": "kt", "ket_hon": "kh", "nhan_cha_me_con": "nc"}
GENERATED_ID = re.compile(r"^(ks|kt|kh|nc)-gen-(\d{1,12})$")

# How registers print an attribute in a column heading (first: the commonest).
ATTRIBUTE_PHRASES: dict[str, tuple[str, ...]] = {
    "HoTen": ("Họ và tên", "Họ tên", "Họ, chữ đệm, tên"),
    "GioiTinh": ("Giới tính", "Nam hay nữ", "Nam, nữ"),
    "NgaySinh": ("Ngày sinh", "Năm sinh", "Ngày, tháng, năm sinh"),
    "NgaySinhBangChu": ("Ngày sinh bằng chữ", "Ngày, tháng, năm sinh bằng chữ"),
    "NoiSinh": ("Nơi sinh",),
    "QueQuan": ("Quê quán",),
    "DanToc": ("Dân tộc",),
    "QuocTich": ("Quốc tịch",),
    "NoiCuTru": ("Nơi cư trú", "Nơi thường trú", "Nơi cư trú cuối cùng"),
    "LoaiCuTru": ("Loại cư trú",),
    "SoDinhDanh": ("Số định danh cá nhân", "Số định danh"),
    "LoaiGiayToTuyThan": ("Loại giấy tờ", "Giấy tờ tùy thân"),
    "SoGiayToTuyThan": ("Số giấy tờ", "Số giấy tờ tùy thân"),
    "NgayCapGiayToTuyThan": ("Ngày cấp",),
    "NoiCapGiayToTuyThan": ("Nơi cấp",),
    "QuanHe": ("Quan hệ", "Quan hệ với người được khai sinh"),
    "QHNguoiDuocNhan": ("Quan hệ", "Quan hệ với người được nhận"),
    "NgayChet": ("Ngày chết", "Chết ngày", "Ngày, tháng, năm chết"),
    "GioPhutChet": ("Giờ chết", "Giờ, phút chết"),
    "NoiChet": ("Nơi chết",),
    "NguyenNhanChet": ("Nguyên nhân chết", "Nguyên nhân"),
    "Loai": ("Loại giấy",),
    "So": ("Số",),
    "Ngay": ("Ngày cấp",),
    "CoQuanCap": ("Cơ quan cấp", "Nơi cấp"),
    # the entry's own fields
    "so": ("Số", "Số TT", "Số đăng ký"),
    "ngayDangKy": ("Ngày đăng ký", "Ngày, tháng, năm đăng ký"),
    "loaiXacNhan": ("Loại việc", "Nhận cha, mẹ hay con"),
    "quyetDinhSo": ("Quyết định số", "Số quyết định"),
    "nguoiKy": ("Cán bộ hộ tịch ký", "Người ký", "Cán bộ ký, ghi rõ họ tên"),
    "nguoiThucHien": ("Người thực hiện", "Cán bộ thực hiện"),
    "chucVuNguoiKy": ("Chức vụ",),
    "ghiChu": ("Ghi chú",),
}
# How a person is named after an attribute ("Họ tên mẹ", "... của người nhận") and as a group heading.
ROLE_PHRASES: dict[str, tuple[str, ...]] = {
    "nks": ("người được khai sinh", "con"),
    "me": ("mẹ",),
    "cha": ("cha",),
    "nyc": ("người đi khai", "người yêu cầu", "người đi đăng ký"),
    "nkt": ("người chết", "người đã chết"),
    "gbt": ("giấy báo tử",),
    "chong": ("chồng",),
    "vo": ("vợ",),
    "cm": ("người nhận",),
    "nc": ("người được nhận",),
}
PAIRS = (("me", "cha"), ("chong", "vo"), ("cm", "nc"))
# Relative widths of one value in a column of its own (a name needs more room than a gender).
WIDTHS = {"HoTen": 10, "GioiTinh": 3.5, "NgaySinh": 6.5, "NgaySinhBangChu": 10, "NoiSinh": 10, "QueQuan": 9,
          "DanToc": 4.5, "QuocTich": 5, "NoiCuTru": 11, "LoaiCuTru": 5, "SoDinhDanh": 8, "LoaiGiayToTuyThan": 6,
          "SoGiayToTuyThan": 6, "NgayCapGiayToTuyThan": 6, "NoiCapGiayToTuyThan": 7, "QuanHe": 5,
          "QHNguoiDuocNhan": 5, "NgayChet": 7, "GioPhutChet": 5, "NoiChet": 10, "NguyenNhanChet": 8, "Loai": 5,
          "So": 4, "Ngay": 6, "CoQuanCap": 8, "so": 3.5, "ngayDangKy": 6.5, "loaiXacNhan": 6, "quyetDinhSo": 6.5,
          "nguoiKy": 8, "nguoiThucHien": 7, "chucVuNguoiKy": 6, "ghiChu": 8.5}
SIGNERS = ("nguoiKy", "nguoiThucHien")


class _Draw:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng((int(seed), 0x6E7))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def jitter(self, width: float) -> float:
        return round(float(width * self.rng.uniform(0.85, 1.2)), 2)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _phrase(draw: _Draw, attribute: str) -> str:
    return draw.pick(ATTRIBUTE_PHRASES[attribute])


@lru_cache(maxsize=None)
def _inventory(book: str) -> tuple[tuple[str, ...], dict]:
    """The book's fields that have a column in some training variant, in the book's order, and the header
    fields, title and years of those variants."""
    from data.pages.templates import templates_for

    variants = templates_for(book, "train")
    placed = {k for t in variants for k in t.entry_keys}
    order = [f.key for f in get_book(book) if f.key in placed]
    return tuple(order), {"headers": tuple(t.header for t in variants), "titles": tuple(t.title for t in variants),
                          "years": tuple(t.years for t in variants)}


def _person_columns(draw: _Draw, role: str, attributes: list[str], single_person: bool) -> list[dict]:
    """Columns for one person's attributes (see the module doc); ``single_person``: the page's main person,
    whose attributes may stand without the person's name."""
    role_name = draw.pick(ROLE_PHRASES[role])
    keys = [role + a for a in attributes]
    style = draw.pick(("split", "split", "merged", "pairs")) if len(attributes) > 1 else "split"
    columns = []
    if style == "split":
        group = _upper_first(role_name) if len(attributes) > 1 and draw.chance(0.85) else None
        for attribute, key in zip(attributes, keys):
            heading = _phrase(draw, attribute)
            if group is None and not (single_person and draw.chance(0.5)):
                heading = f"{heading} {role_name}"
            columns.append({"heading": heading, "fields": [key], "width": draw.jitter(WIDTHS[attribute]),
                            "group": group})
        return columns
    chunks = [list(range(len(attributes)))]
    if style == "pairs" or len(attributes) > 4:  # a merged cell holds at most four values
        size = 2 if style == "pairs" else int(draw.rng.integers(2, 5))
        chunks = [list(range(i, min(i + size, len(attributes)))) for i in range(0, len(attributes), size)]
    for chunk in chunks:
        attrs = [attributes[i] for i in chunk]
        phrases = [_phrase(draw, a) for a in attrs]
        joined = ", ".join([phrases[0]] + [_lower_first(p) for p in phrases[1:]])
        named = f"{joined} {'của ' if draw.chance(0.5) else ''}{role_name}"
        if len(attrs) == 1:
            columns.append({"heading": named, "fields": [role + attrs[0]], "width": draw.jitter(WIDTHS[attrs[0]])})
            continue
        widths = [WIDTHS[a] for a in attrs]
        mode = "flow" if draw.chance(0.45) else "stack"
        column = {"heading": named if not (single_person and draw.chance(0.3)) else joined,
                  "fields": [role + a for a in attrs], "mode": mode}
        if mode == "flow":
            column["width"] = draw.jitter(max(max(widths) * 1.2, 0.55 * sum(widths)))
        else:
            column["width"] = draw.jitter(max(widths) * 1.15)
            if len(attrs) >= 3 and draw.chance(0.5):  # printed sub-labels: the heading names the person only
                column["labels"] = [f"{p}:" for p in phrases]
                column["heading"] = _upper_first(role_name)
                column["width"] = draw.jitter(max(widths) * 1.35)
        columns.append(column)
    return columns


def _pair_columns(draw: _Draw, first: str, second: str, attributes: list[str]) -> list[dict]:
    """One column per shared attribute holding both persons, the first above the second."""
    names = (draw.pick(ROLE_PHRASES[first]), draw.pick(ROLE_PHRASES[second]))
    columns = []
    for attribute in attributes:
        phrase = _phrase(draw, attribute)
        heading = draw.pick((f"{phrase} {names[0]} / {names[1]}", f"{phrase} {names[0]} / {_lower_first(phrase)} "
                                                                     f"{names[1]}", phrase))
        columns.append({"heading": heading, "fields": [first + attribute, second + attribute],
                        "width": draw.jitter(WIDTHS[attribute] * 1.1)})
    return columns


def _entry_columns(draw: _Draw, keys: list[str]) -> list[dict]:
    """Columns for the entry's own fields (number, dates, signer, notes)."""
    out, rest = [], list(keys)
    if "so" in rest and "ngayDangKy" in rest and draw.chance(0.3):
        out.append({"heading": draw.pick(("Số, ngày đăng ký", "Số và ngày đăng ký")), "fields": ["so", "ngayDangKy"],
                    "width": draw.jitter(8)})
        rest = [k for k in rest if k not in ("so", "ngayDangKy")]
    for key in rest:
        if key == "chucVuNguoiKy":
            continue
        if key == "nguoiKy" and "chucVuNguoiKy" in keys:
            out.append({"heading": _phrase(draw, key), "fields": ["nguoiKy", "chucVuNguoiKy"], "width": draw.jitter(9)})
            continue
        column = {"heading": _phrase(draw, key), "fields": [key], "width": draw.jitter(WIDTHS[key])}
        if key in SIGNERS:
            column["signature"] = True
        out.append(column)
    return out


def generated_raw(book: str, seed: int) -> dict:
    """The template mapping (as a ``forms/*.yaml`` entry holds it) of the generated layout ``seed`` of ``book``."""
    draw = _Draw(seed)
    fields, meta = _inventory(book)
    spec = get_book(book)
    chosen = [k for k in fields if not (spec.field(k).optional and draw.chance(0.4))]
    by_role: dict[str, list[str]] = {}
    for key in chosen:
        field = spec.field(key)
        by_role.setdefault(field.role, []).append(field.attribute if field.role else key)
    entry = by_role.pop("", [])
    head = [k for k in entry if k in ("so", "ngayDangKy", "quyetDinhSo", "loaiXacNhan")]
    tail = [k for k in entry if k not in head]
    roles = list(by_role)
    if len(roles) > 2 and draw.chance(0.3):  # neighbouring persons the other way round (father before mother)
        i = int(draw.rng.integers(0, len(roles) - 1))
        roles[i], roles[i + 1] = roles[i + 1], roles[i]
    main = spec.prefix
    columns = _entry_columns(draw, head)
    done: set[str] = set()
    for role in roles:
        if role in done:
            continue
        partner = next((b if a == role else a for a, b in PAIRS if role in (a, b)), None)
        if partner in by_role and partner not in done and draw.chance(0.3):
            first, second = (role, partner) if roles.index(role) < roles.index(partner) else (partner, role)
            shared = [a for a in by_role[first] if a in by_role[second]]
            columns += _pair_columns(draw, first, second, shared)
            for who in (first, second):  # what only one of the two has goes in columns of its own
                own = [a for a in by_role[who] if a not in shared]
                if own:
                    columns += _person_columns(draw, who, own, False)
            done |= {first, second}
            continue
        columns += _person_columns(draw, role, by_role[role], role == main)
        done.add(role)
    columns += _entry_columns(draw, tail)

    total = sum(c["width"] for c in columns)
    most_stacked = max(len(c["fields"]) for c in columns if c.get("mode", "stack") == "stack")
    raw = {"id": f"{ID_PREFIX[book]}-gen-{int(seed)}", "split": "train",
           "description": f"Generated layout {int(seed)} of {book} (data/pages/generated.py).",
           "title": draw.pick(meta["titles"]), "years": list(draw.pick(meta["years"])),
           "header": [{"key": h.key, "label": h.label} for h in draw.pick(meta["headers"])],
           "print_font": draw.pick(("serif", "sans")), "numbered": draw.chance(0.7)}
    if total > 150 or (total > 110 and draw.chance(0.5)):
        # A spread: the right-hand page starts at the column boundary nearest the middle, outside any group.
        edges, run = [], 0.0
        for i, c in enumerate(columns[:-1]):
            run += c["width"]
            if c.get("group") is None or c.get("group") != columns[i + 1].get("group"):
                edges.append((abs(run - total / 2), i + 1))
        raw.update(layout="spread", orientation="landscape", spread_at=min(edges)[1])
    else:
        raw.update(layout="single", orientation="portrait" if total < 90 and draw.chance(0.6) else "landscape")
    # Rows must hold the tallest stacked cell: fewer entries per page when cells stack many values.
    lo, hi = {1: (6, 12), 2: (6, 11), 3: (5, 9), 4: (5, 7)}.get(min(most_stacked, 4), (5, 7))
    if raw["orientation"] == "landscape" and raw["layout"] == "single":
        hi = min(hi, 9)
    raw["entries"] = [lo, hi]
    raw["columns"] = [{k: v for k, v in c.items() if v is not None} for c in columns]
    return raw


def generated_template(template_id: str):
    """The :class:`~data.pages.templates.Template` of a generated id (``ks-gen-42``); ``None`` for other ids."""
    from data.pages.templates import template_from_raw

    match = GENERATED_ID.match(template_id)
    if not match:
        return None
    book = next(b for b, p in ID_PREFIX.items() if p == match.group(1))
    return template_from_raw(generated_raw(book, int(match.group(2))), book, "generated")


def generated_id(book: str, seed: int) -> str:
    get_book(book)
    return f"{ID_PREFIX[book]}-gen-{int(seed)}"


__all__ = ["ATTRIBUTE_PHRASES", "GENERATED_ID", "ROLE_PHRASES", "generated_id", "generated_raw", "generated_template"]
