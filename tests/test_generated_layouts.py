"""Generated page layouts (data/pages/generated.py) and page-line crops (data/pages/lines.py)."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from data.pages import check_truth
from data.pages.dataset import page_specs, write_pages
from data.pages.generated import generated_id, generated_raw
from data.pages.lines import crop_line, write_page_lines
from data.pages.render import PageRenderer
from data.pages.templates import (UnknownTemplateError, draw_template, get_template, heldout_template,
                                  templates_for)
from data.pages.truth import PageTruth
from data.schema import BOOKS

LONG_SIDE = 800


@pytest.fixture(scope="module", autouse=True)
def without_shared(tmp_path_factory):
    """Hermetic: no ../shared and a private cache (conftest.pages_without_shared)."""
    from conftest import pages_without_shared

    with pages_without_shared(tmp_path_factory):
        yield


def _cells(template) -> set[tuple[str, ...]]:
    return {c.fields for c in template.columns}


@pytest.mark.parametrize("book", list(BOOKS))
def test_generated_layouts_are_valid_varied_and_rebuilt_from_their_id(book):
    training_keys = {k for t in templates_for(book, "train") for k in t.entry_keys}
    made = [get_template(generated_id(book, seed)) for seed in range(40)]
    for seed, template in enumerate(made):
        assert template.id == f"{generated_id(book, seed)}" and template.book == book and template.split == "train"
        assert set(template.entry_keys) <= training_keys  # only fields some training variant has a column for
        assert len(template.entry_keys) == len(set(template.entry_keys))
        assert max(len(c.fields) for c in template.columns) <= 4
        assert template == get_template(generated_id(book, seed))  # the id is the whole description
    assert generated_raw(book, 7) == generated_raw(book, 7)
    # Variety: different column arrangements, both page kinds, merged cells of both modes, and two-person columns.
    assert len({t.columns for t in made}) == len(made)
    assert len({tuple(c.fields for c in t.columns) for t in made}) > 30
    assert {t.layout for t in made} == {"single", "spread"}
    assert {c.mode for t in made for c in t.columns if len(c.fields) > 1} == {"flow", "stack"}
    assert len({c.heading for t in made for c in t.columns}) > 30
    if book != "khai_tu":  # the books with a pair of persons (mother/father, husband/wife, the two of a recognition)
        from data.schema import get_book

        roles = [{get_book(book).field(k).role for k in c.fields} for t in made for c in t.columns]
        assert any(len(r - {""}) == 2 and len(r) == 2 for r in roles)
    # Never one of the held-out layouts.
    held = heldout_template(book)
    assert all(_cells(t) != _cells(held) for t in made)


def test_unknown_ids_are_refused_with_the_valid_forms():
    for bad in ("ks-gen-", "zz-gen-3", "ks-gen-3x", "ks-1980"):
        with pytest.raises(UnknownTemplateError, match="generated layout"):
            get_template(bad)


def test_training_draws_take_the_generated_share_and_heldout_never_does():
    drawn = [draw_template("khai_sinh", seed, "train", generated=0.5).id for seed in range(400)]
    share = sum("-gen-" in t for t in drawn) / len(drawn)
    assert 0.4 < share < 0.6
    assert all("-gen-" not in draw_template("khai_sinh", s, "heldout", generated=0.5).id for s in range(50))
    assert [draw_template("khai_sinh", s).id for s in range(50)] == \
        [draw_template("khai_sinh", s, generated=0.0).id for s in range(50)]  # the default is unchanged
    with pytest.raises(ValueError, match="share"):
        draw_template("khai_sinh", 0, "train", generated=1.5)
    specs = page_specs("all", 8, split="train", generated=1.0)
    assert all("-gen-" in s.template for s in specs) and len({s.book for s in specs}) == 4


@pytest.mark.parametrize("book", list(BOOKS))
def test_generated_pages_render_with_consistent_truth(book):
    renderer = PageRenderer(split="train", long_side=LONG_SIDE)
    for seed in (1, 2):
        template = get_template(generated_id(book, seed))
        image, truth = renderer.render(book, template.id, seed=seed)
        assert truth.template == template.id and max(image.size) == LONG_SIDE
        assert check_truth(truth) == []
        assert {f.key for f in truth.fields()} <= set(template.field_keys)
        assert template.entries[0] <= len(truth.entries) <= template.entries[1]
        headings = {h.text for h in truth.headings if h.level == "column"}
        assert headings and headings <= {c.heading for c in template.columns}


def test_page_lines_are_the_truth_lines_cropped_as_the_pipeline_crops(tmp_path):
    pages = tmp_path / "pages"
    specs = page_specs("all", 3, split="train", generated=0.5)
    write_pages(specs, pages, long_side=LONG_SIDE)
    summary = write_page_lines(pages, tmp_path / "lines", progress=False)
    records = [json.loads(line) for line in (tmp_path / "lines" / "manifest.jsonl").read_text().splitlines()]
    assert summary["pages"] == 3 and summary["lines"] == len(records) > 20
    truths = {gt.stem: PageTruth.from_dict(json.loads(gt.read_text(encoding="utf-8")))
              for gt in sorted((pages / "gt").glob("*.json"))}
    expected = Counter((stem, ln.field, ln.text) for stem, t in truths.items() for ln in t.lines() if ln.text.strip())
    got = Counter((r["page"], r["field"], r["text"]) for r in records)
    assert sum((expected - got).values()) == summary["skipped"] - sum(
        1 for t in truths.values() for ln in t.lines() if not ln.text.strip())
    assert all(r["source"].startswith("page-") and r["book"] in BOOKS for r in records)
    # A crop is the line's box grown by 15% of its height, as the page pipeline cuts it.
    first = records[0]
    from PIL import Image

    crop = Image.open(tmp_path / "lines" / first["image"])
    assert crop.size[1] >= 6
    # Re-running keeps the crops (same names) and can take an evenly spaced, shuffled part.
    names = {r["image"] for r in records}
    again = write_page_lines(pages, tmp_path / "lines", limit=2, shuffle=0, progress=False)
    part = [json.loads(line) for line in (tmp_path / "lines" / "manifest.jsonl").read_text().splitlines()]
    assert again["pages"] == 2 and {r["image"] for r in part} <= names
    assert {r["page"] for r in part} == {sorted(truths)[0], sorted(truths)[-1]}
    # A line whose box changed (the code now cuts it differently) gets a new crop, not the stale one.
    gt = sorted((pages / "gt").glob("*.json"))[0]
    page = json.loads(gt.read_text(encoding="utf-8"))
    line = next(ln for e in page["entries"] for f in e["fields"] for ln in f["lines"] if ln["text"].strip())
    line["bbox"] = [line["bbox"][0], line["bbox"][1] + 4, line["bbox"][2], line["bbox"][3] + 4]
    line["polygon"] = [[x, y + 4] for x, y in line["polygon"]]
    gt.write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    write_page_lines(pages, tmp_path / "lines", progress=False)
    redone = [json.loads(ln) for ln in (tmp_path / "lines" / "manifest.jsonl").read_text().splitlines()]
    assert len(redone) == len(records) and len({r["image"] for r in redone} - names) == 1
    with pytest.raises(FileNotFoundError, match="gt/"):
        write_page_lines(tmp_path / "nowhere", tmp_path / "x", progress=False)


def test_crop_line_pads_by_the_line_height_and_stays_on_the_page():
    from PIL import Image

    page = Image.fromarray(np.zeros((100, 200, 3), np.uint8))
    assert crop_line(page, (50, 40, 150, 60)).size == (107, 27)  # 3 px (15% of 20) on every side
    assert crop_line(page, (0, 0, 30, 20)).size == (34, 24)  # clipped at the top-left corner
