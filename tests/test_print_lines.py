"""Printed lines: the random print the print reader learns from, the printed lines a page records for its
heading cells, and the heading crops cut from them."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from data.charset import in_charset
from data.pages.truth import HEADING_CELL_LEVELS, PageTruth
from data.print_lines import PrintLineSynthesizer, print_text


def test_print_text_is_varied_readable_text_in_the_charset():
    texts = [print_text(random.Random(seed)) for seed in range(600)]
    assert all(t.strip() and in_charset(t) for t in texts)
    assert len(set(texts)) > 300
    # Headings' words, in orders no layout prints, beside names, numbers and titles in capitals.
    assert any(t.startswith("(") and t.endswith(")") for t in texts)
    assert any(t.isupper() and len(t) > 6 for t in texts)
    assert sum(any(w in t.lower() for w in ("họ", "tên", "ngày", "sinh", "nơi")) for t in texts) > 100


def test_print_lines_are_deterministic_scaled_and_in_several_faces():
    synth = PrintLineSynthesizer(height=48)
    a, b = synth.sample(7), synth.sample(7)
    assert a.text == b.text and np.array_equal(a.image, b.image)
    lines = [synth.sample(seed) for seed in range(40)]
    assert all(ln.image.shape[0] == 48 and ln.image.shape[2] == 3 and ln.image.dtype == np.uint8 for ln in lines)
    assert len({ln.face for ln in lines}) >= 3
    # Longer text, wider line; print is dark on lighter paper.
    short, long = synth.sample(3, text="Số"), synth.sample(3, text="Họ tên, năm sinh, giới tính người chết")
    assert long.image.shape[1] > 3 * short.image.shape[1]
    gray = long.image.mean(axis=2)
    assert np.percentile(gray, 5) < np.percentile(gray, 60) - 40
    with pytest.raises(ValueError, match="height"):
        PrintLineSynthesizer(height=8)
    with pytest.raises(ValueError, match="text"):
        synth.sample(1, text="  ")


def test_the_training_stream_draws_print_lines_by_name():
    from training.data import MixedLineStream

    stream = MixedLineStream([{"start_step": 0, "weights": {"synth_print": 1.0}}], height=32, seed=3)
    drawn = [stream.draw(0) for _ in range(5)]
    assert all(name == "synth_print" and image.shape[0] == 32 and text for image, text, name in drawn)


@pytest.mark.parametrize("book", ["khai_sinh", "nhan_cha_me_con"])
def test_a_page_records_the_printed_lines_of_its_heading_cells(book):
    """Each title, group and column heading holds the lines it was printed on: their words are the heading's,
    in order, each line inside the cell, top to bottom; they survive the camera's warp and a round trip."""
    from data.pages.render import render_page
    from data.pages.templates import heldout_template

    image, truth = render_page(book, heldout_template(book).id, seed=5, split="heldout", long_side=1200)
    cells = [h for h in truth.headings if h.level in HEADING_CELL_LEVELS and h.text.strip()]
    assert cells and all(h.lines for h in cells)
    wrapped = 0
    for h in cells:
        assert " ".join(ln.text for ln in h.lines).split() == h.text.split()
        tops = [ln.region.bbox[1] for ln in h.lines]
        assert tops == sorted(tops)
        x0, y0, x1, y1 = h.region.bbox
        for ln in h.lines:
            cx = (ln.region.bbox[0] + ln.region.bbox[2]) / 2
            cy = (ln.region.bbox[1] + ln.region.bbox[3]) / 2
            assert x0 <= cx <= x1 and y0 <= cy <= y1
        wrapped += len(h.lines) > 1
    assert wrapped  # narrow columns wrap their headings
    assert all(not h.lines for h in truth.headings if h.level not in HEADING_CELL_LEVELS)
    again = PageTruth.from_dict(json.loads(truth.to_json()))
    assert [[(ln.text, ln.region.bbox) for ln in h.lines] for h in again.headings] == \
        [[(ln.text, ln.region.bbox) for ln in h.lines] for h in truth.headings]
    half = truth.scaled(0.5)
    first = next(h for h in half.headings if h.lines)
    original = next(h for h in truth.headings if h.lines)
    assert first.lines[0].region.bbox[0] == pytest.approx(original.lines[0].region.bbox[0] / 2, abs=0.05)


def test_heading_crops_are_labelled_with_the_lines_the_page_printed(tmp_path):
    """The heading-line manifest takes each crop's text from the printed line it was cut around, so a crop
    is never labelled with a neighbouring line's words (as splitting a cell's text by the widths of the ink
    found in it could)."""
    from data.pages.lines import write_page_lines
    from data.pages.render import render_page

    image, truth = render_page("khai_tu", "kt-1980s", seed=9, split="train", long_side=1200)
    pages = tmp_path / "pages"
    for folder in ("images", "gt"):
        (pages / folder).mkdir(parents=True)
    image.save(pages / "images" / "p.png")
    (pages / "gt" / "p.json").write_text(truth.to_json(), encoding="utf-8")
    summary = write_page_lines(pages, tmp_path / "lines", headings=True, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "lines" / "manifest.jsonl").read_text().splitlines()]
    assert summary["lines"] == len(rows) > 0
    printed = [ln.text for h in truth.headings if h.level in HEADING_CELL_LEVELS for ln in h.lines]
    cell_rows = [r["text"] for r in rows if r["field"] in HEADING_CELL_LEVELS]
    assert sorted(cell_rows) == sorted(printed)
