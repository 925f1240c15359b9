"""The ruled table's bottom rule, and what the page pipeline drops under it (the print and signature block)."""
from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from models.detection import Region

PAPER, INK = (235, 228, 210), (30, 30, 30)


@pytest.fixture(scope="module")
def without_shared(tmp_path_factory):
    """Hermetic rendering: no ../shared and a private cache (conftest.pages_without_shared)."""
    from conftest import pages_without_shared

    with pages_without_shared(tmp_path_factory):
        yield


def _table_page(bottom_rule: bool = True, background: bool = False) -> Image.Image:
    """A 600 x 800 page: a table of 5 columns (x 40-560) and rows at y 100, 200, 300, 400, 500 (its bottom rule
    at 500 unless ``bottom_rule`` is False: the column rules then run on to 560 and stop), a line of "print"
    and a signature line (a rule no column meets) under it; on a dark background showing round the paper when
    ``background``."""
    page = Image.new("RGB", (600, 800), (40, 40, 40) if background else PAPER)
    draw = ImageDraw.Draw(page)
    if background:
        draw.rectangle((10, 10, 589, 760), fill=PAPER)
    bottom = 500 if bottom_rule else 560
    for x in (40, 144, 248, 352, 456, 560):
        draw.line((x, 100, x, bottom), fill=INK, width=2)
    for y in (100, 200, 300, 400) + ((500,) if bottom_rule else ()):
        draw.line((40, y, 560, y), fill=INK, width=2)
    for x in (60, 170, 270):
        draw.rectangle((x, 240, x + 60, 252), fill=INK)  # handwriting in the table
    draw.rectangle((330, 530, 520, 542), fill=INK)  # "Cán bộ Tư pháp - Hộ tịch"
    draw.line((330, 640, 520, 640), fill=INK, width=2)  # the signature line
    return page


def test_the_bottom_rule_is_the_lowest_rule_the_columns_meet():
    from inference.layout import below_table, table_bottoms

    (bottom,) = table_bottoms(_table_page())
    assert abs(bottom.y_at(300) - 500) <= 2 and abs(bottom.slope) < 0.01
    assert bottom.x0 <= 45 and bottom.x1 >= 555
    # The signature line below is no table's bottom; the row rules above are not its bottom either.
    assert below_table((330, 528, 520, 545), [bottom]) and below_table((330, 600, 520, 650), [bottom])
    assert not below_table((60, 420, 140, 495), [bottom])  # the last row's value
    assert not below_table((570, 520, 590, 540), [bottom])  # beside the table: not under it


def test_the_paper_edge_on_a_photo_is_no_rule():
    from inference.layout import table_bottoms

    (bottom,) = table_bottoms(_table_page(background=True))
    assert abs(bottom.y_at(300) - 500) <= 2


def test_a_table_whose_bottom_rule_is_lost_gives_no_bottom():
    from inference.layout import table_bottoms

    # The column rules go on under the last rule found: that rule is a row rule, and nothing may be cut.
    assert table_bottoms(_table_page(bottom_rule=False)) == []
    assert table_bottoms(Image.new("RGB", (300, 400), PAPER)) == []


def test_the_pipeline_drops_what_lies_under_the_table_and_cuts_the_last_entry_at_its_rule():
    from inference.pages import PagePipeline

    page = _table_page()
    regions = {
        "entry": [Region("entry", (40, 400, 560, 660), 0.9), Region("entry", (40, 600, 560, 700), 0.6)],
        "field": [Region("field", (60, 420, 140, 495), 0.9, key="nksHoTen", key_score=0.9),
                  Region("field", (330, 528, 520, 545), 0.7, key="nycHoTen", key_score=0.6),
                  Region("field", (330, 700, 520, 730), 0.7, key="quyenSo", key_score=0.6)],
        "line": [Region("line", (62, 440, 138, 460), 0.9), Region("line", (330, 528, 520, 545), 0.8)],
    }
    kept, dropped = PagePipeline.within_tables(page, regions)
    assert dropped == 1
    # The footer's print is no declarant's name; a page-header key stays a page field wherever it is read.
    assert [f.key for f in kept["field"]] == ["nksHoTen", "quyenSo"]
    assert [line.bbox for line in kept["line"]] == [(62, 440, 138, 460)]
    (entry,) = kept["entry"]  # the one wholly under the table is gone; the last row's ends at the rule
    assert entry.bbox[:3] == (40, 400, 560) and abs(entry.bbox[3] - 500) <= 2
    assert regions["entry"][0].bbox == (40, 400, 560, 660)  # the detector's regions are left as they were

    plain = Image.new("RGB", (600, 800), PAPER)  # no rules found: nothing is cut
    assert PagePipeline.within_tables(plain, regions) == (regions, 0)


@pytest.mark.parametrize("book", ["khai_sinh", "ket_hon"])
def test_the_bottom_rule_of_rendered_pages_is_the_table_bottom(book, without_shared):
    from data.pages.render import PageRenderer
    from data.pages.templates import templates
    from inference.layout import table_bottoms

    renderer = PageRenderer(split="heldout", long_side=1000, degradation=0.0)
    for i, template in enumerate(t for t in templates() if t.book == book):
        image, truth = renderer.render(book, template.id, seed=40 + i)
        bottom = max(e.region.bbox[3] for e in truth.entries)
        found = table_bottoms(image)
        assert found, template.id
        for rule in found:
            assert abs(rule.y_at((rule.x0 + rule.x1) / 2) - bottom) <= 6, template.id


def _spread_page(rows: int = 8) -> Image.Image:
    """A 1,000 x 900 two-page spread: one table of ``rows`` rows 90 px tall from y 100, its left page (x 40-480)
    and right page (x 520-960) ruled apart, the right page's rules 4 px lower (a tilt the deskew left), and a
    mark of "handwriting" in every row."""
    page = Image.new("RGB", (1000, 900), PAPER)
    draw = ImageDraw.Draw(page)
    for x0, x1, dy in ((40, 480, 0), (520, 960, 4)):
        for x in range(x0, x1 + 1, 110):
            draw.line((x, 100 + dy, x, 100 + 90 * rows + dy), fill=INK, width=2)
        for r in range(rows + 1):
            draw.line((x0, 100 + 90 * r + dy, x1, 100 + 90 * r + dy), fill=INK, width=2)
        for r in range(rows):
            draw.rectangle((x0 + 20, 130 + 90 * r + dy, x0 + 90, 142 + 90 * r + dy), fill=INK)
    return page


def test_row_rules_join_the_two_pages_rules_of_one_row():
    from inference.layout import row_rules

    heights = row_rules(_spread_page(), (40, 960), tolerance=20)
    assert len(heights) == 9
    for r, y in enumerate(heights):
        assert abs(y - (102 + 90 * r)) <= 3  # the mean of the two pages' rules, 4 px apart


def test_a_fused_entry_is_cut_into_the_rows_its_rules_bound():
    """The detector found the first three rows and ran the other five into one region wider than the table:
    that region is cut at the rules into five rows as wide as the others; rows found alone stay as found."""
    from inference.pages import PagePipeline

    found = [Region("entry", (45, 100 + 90 * r, 955, 190 + 90 * r), 0.9) for r in range(3)]
    fused = Region("entry", (-30, 370, 1030, 830), 0.9)
    regions = {"entry": found + [fused], "field": [], "line": []}
    out, cut = PagePipeline.split_fused_entries(_spread_page(), regions)
    assert cut == 1 and out["entry"][:3] == found
    rows = sorted(out["entry"][3:], key=lambda e: e.bbox[1])
    assert len(rows) == 5
    for r, entry in enumerate(rows, start=3):
        assert abs(entry.bbox[1] - (102 + 90 * r)) <= 3 and abs(entry.bbox[3] - (192 + 90 * r)) <= 3
        assert (entry.bbox[0], entry.bbox[2]) == (45, 955) and entry.score == 0.9
    # A page whose entries are all alike, or a fused region with no rules under it, stays as it was.
    assert PagePipeline.split_fused_entries(_spread_page(), {"entry": found})[1] == 0
    blank = Image.new("RGB", (1000, 900), PAPER)
    assert PagePipeline.split_fused_entries(blank, regions) == (regions, 0)
    # Cutting can be turned off (an entry is never "infinitely" taller than the others).
    assert PagePipeline.split_fused_entries(_spread_page(), regions, float("inf")) == (regions, 0)
    with pytest.raises(ValueError, match="fused_entry_rows"):
        PagePipeline(None, None, fused_entry_rows=1.0)


def _leaning_page() -> Image.Image:
    """A 600 x 800 page whose table (rows at y 100-700, every 100 px) was photographed at an angle: its column
    rules stand at x 40, 200, 360, 520 along the headings' row (y 100) and lean left by 1 px in 20 going down
    (30 px at the bottom), as on the far side of a keystoned photo."""
    page = Image.new("RGB", (600, 800), PAPER)
    draw = ImageDraw.Draw(page)
    for x in (40, 200, 360, 520):
        draw.line((x, 100, x - 30, 700), fill=INK, width=2)
    for y in range(100, 701, 100):
        draw.line((40 - (y - 100) / 20, y, 520 - (y - 100) / 20, y), fill=INK, width=2)
    return page


def test_column_rules_are_fitted_along_their_lean():
    from inference.layout import column_rules

    rules = column_rules(_leaning_page())
    assert len(rules) == 4
    for rule, x in zip(rules, (40, 200, 360, 520)):
        assert abs(rule.x_at(100) - x) <= 2 and abs(rule.x_at(700) - (x - 30)) <= 2
        assert rule.y0 <= 110 and rule.y1 >= 690
    # Written lines, print and a blank page give no rules.
    assert column_rules(_table_page().crop((0, 520, 600, 800))) == []
    assert column_rules(Image.new("RGB", (600, 800), PAPER)) == []


def test_a_point_followed_up_its_column_keeps_its_share_of_the_width():
    from inference.layout import column_rules, x_at_height

    rules = column_rules(_leaning_page())
    # Low on the page the second column runs from x 170 to 330: a line starting 10 px into it is left of the
    # rule the column has at the headings' height, and still in that column there.
    at_headings = x_at_height(rules, 180, 700, 100)
    assert 200 < at_headings < 360 and abs(at_headings - 210) <= 3
    assert abs(x_at_height(rules, 250, 100, 100) - 250) <= 1  # on the headings' row nothing moves
    # Beyond the last rule a point moves with that rule; with no rules, or none reaching its height, it stays.
    assert abs(x_at_height(rules, 500, 700, 100) - 530) <= 3
    assert x_at_height([], 180, 700, 100) == 180
    assert x_at_height(rules, 180, 790, 100, slack=20) == 180
