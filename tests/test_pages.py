"""Synthetic register pages: templates, rendering, ground truth invariants, COCO / PAGE-XML, CLI, datasets.

Every test but the last runs without the shared data (the module points HOTICH_SHARED at an empty folder), so
pages are written with the bundled fallback fonts; pages are rendered small (long side 800) to stay fast.
"""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from data.pages import (
    PageRenderer,
    PageTruth,
    TemplateError,
    check_truth,
    get_template,
    heldout_template,
    templates,
    templates_for,
)
from data.pages.cells import CellItem, write_cell
from data.pages.dataset import folder_dataset, page_specs, pages_dataset
from data.pages.export import (
    PAGE_NS,
    coco_categories,
    read_coco,
    read_page_xml,
    to_coco,
    to_page_xml,
    validate_page_xml,
)
from data.pages.layout import Box
from data.pages.templates import draw_template, load_template_file
from data.schema import BOOKS

from conftest import ScoringReader, scored_by

LONG_SIDE = 800


SAVED_ENV: dict[str, str | None] = {}


@pytest.fixture(scope="module", autouse=True)
def without_shared(tmp_path_factory):
    """Hermetic: no ../shared and a private cache (conftest.pages_without_shared)."""
    from conftest import pages_without_shared

    with pages_without_shared(tmp_path_factory) as saved:
        SAVED_ENV.update(saved)
        yield


@pytest.fixture(scope="module")
def renderers(without_shared):
    return {split: PageRenderer(split=split, long_side=LONG_SIDE) for split in ("train", "heldout")}


@pytest.fixture(scope="module")
def every_variant(renderers):
    """One page of every template (seed = its position), rendered once for the module."""
    pages = {}
    for i, t in enumerate(templates()):
        renderer = renderers["heldout" if t.split == "heldout" else "train"]
        pages[t.id] = renderer.render(t.book, t.id, seed=100 + i)
    return pages


# -- templates ---------------------------------------------------------------------------------------------
def test_every_book_has_three_training_variants_and_one_heldout():
    for book in BOOKS:
        mine = [t for t in templates() if t.book == book]
        assert len([t for t in mine if t.split == "train"]) >= 3
        assert [t.split for t in mine].count("heldout") == 1
        assert heldout_template(book).split == "heldout"
        assert heldout_template(book) not in templates_for(book, "train")
        assert heldout_template(book) in templates_for(book, "heldout")
    # Variants differ in layout: single pages and spreads, merged flow and labelled cells, portrait pages.
    layouts = {(t.layout, t.orientation) for t in templates()}
    assert {("single", "landscape"), ("spread", "landscape"), ("single", "portrait")} <= layouts
    assert any(c.mode == "flow" and len(c.fields) >= 3 for t in templates() for c in t.columns)
    assert any(c.labels for t in templates() for c in t.columns)


def test_heldout_variant_never_drawn_for_training():
    for book in BOOKS:
        held = heldout_template(book).id
        drawn = {draw_template(book, seed, "train").id for seed in range(300)}
        assert held not in drawn and len(drawn) >= 3
        assert held in {draw_template(book, seed, "heldout").id for seed in range(50)}
    assert not any(s.template == heldout_template(s.book).id for s in page_specs("all", 400, split="train"))
    assert any(s.template == heldout_template(s.book).id for s in page_specs("all", 40, split="heldout"))
    with pytest.raises(ValueError, match="held out"):
        page_specs("khai_sinh", 1, split="train", variant=heldout_template("khai_sinh").id)


def test_rendering_a_heldout_variant_for_training_is_refused(renderers):
    with pytest.raises(ValueError, match="held out"):
        renderers["train"].render("ket_hon", heldout_template("ket_hon").id, seed=0)
    with pytest.raises(ValueError, match="not khai_tu"):
        renderers["train"].render("khai_tu", "ks-1980s", seed=0)
    with pytest.raises(KeyError, match="valid templates"):
        get_template("ks-1066")


@pytest.mark.parametrize("body, message", [
    ("book: khai_sinh\ntemplates:\n- {id: x, split: train, description: d, layout: single, orientation: landscape,"
     " entries: [5, 8], years: [1980, 1990], title: T, columns: [{heading: H, fields: [nksTen], width: 3}]}",
     "not a field of khai_sinh"),
    ("book: khai_sinh\ntemplates:\n- {id: x, split: train, description: d, layout: single, orientation: landscape,"
     " entries: [5, 8], years: [1980, 1990], title: T, columns: [{heading: A, fields: [so], width: 3},"
     " {heading: B, fields: [so], width: 3}]}", "placed twice"),
    ("book: khai_sinh\ntemplates:\n- {id: x, split: train, description: d, layout: single, orientation: landscape,"
     " entries: [3, 30], years: [1980, 1990], title: T, columns: [{heading: A, fields: [so], width: 3}]}",
     "entries"),
    ("book: sổ\ntemplates: []", "unknown book"),
    ("book: [", "not valid YAML"),
])
def test_bad_template_files_name_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TemplateError, match=message):
        load_template_file(path)


# -- rendering ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("template_id", [t.id for t in templates()])
def test_every_variant_renders_with_consistent_truth(every_variant, template_id):
    image, truth = every_variant[template_id]
    template = get_template(template_id)
    assert image.size == (truth.width, truth.height) and max(image.size) == LONG_SIDE
    assert image.mode == "RGB"
    assert truth.template == template_id and truth.book == template.book
    assert template.entries[0] <= len(truth.entries) <= template.entries[1]
    assert truth.filled_entries, "every page has at least one filled entry"
    # Boxes inside the page, lines inside their field boxes, texts and records consistent.
    assert check_truth(truth) == []
    for f in truth.fields():
        assert f.key in template.field_keys
        assert f.text and all(ln.text for ln in f.lines)
    for entry in truth.filled_entries:
        assert set(entry.record) <= set(template.field_keys)
        assert {f.key for f in entry.fields} <= set(template.entry_keys)
    # Every line shows ink: the region of a text line is darker than the paper around the page centre.
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    line = max(truth.lines(), key=lambda ln: ln.region.area)
    x0, y0, x1, y1 = map(int, line.region.bbox)
    assert gray[y0:y1, x0:x1].min() < np.median(gray) - 40


def test_field_boxes_contain_their_lines_and_entries_contain_fields(every_variant):
    for _, truth in every_variant.values():
        for entry in truth.filled_entries:
            ex0, ey0, ex1, ey1 = entry.region.bbox
            for f in entry.fields:
                for ln in f.lines:
                    bx0, by0, bx1, by1 = f.boxes[ln.box].bbox
                    lx0, ly0, lx1, ly1 = ln.region.bbox
                    assert bx0 - 1 <= lx0 and by0 - 1 <= ly0 and lx1 <= bx1 + 1 and ly1 <= by1 + 1
                fx0, fy0, fx1, fy1 = f.bbox
                assert ex0 - 3 <= fx0 and ey0 - 3 <= fy0 and fx1 <= ex1 + 3 and fy1 <= ey1 + 3


def test_pages_show_the_variety_the_issue_asks_for(every_variant):
    truths = [t for _, t in every_variant.values()]
    fields = [f for t in truths for f in t.fields()]
    assert any(len(f.lines) >= 2 for f in fields), "values wrapping onto two lines"
    assert any(len(f.boxes) >= 2 for f in fields), "fields split over several boxes (merged flow cells)"
    assert any(e.blank for t in truths for e in t.entries), "blank entries"
    assert any(f.hand == "amendment" and f.key == "ghiChu" for f in fields), "notes in another hand"
    assert any(m.kind == "seal" for t in truths for m in t.marks)
    assert any(m.kind == "signature" for t in truths for m in t.marks)
    assert any(t.page_fields for t in truths), "volume / page number written in the page header"
    assert {t.meta["mode"] for t in truths} == {"scan", "photo"}
    assert max(abs(t.meta["rotation"]) for t in truths) > 1.0
    assert all(abs(t.meta["rotation"]) <= 3.0 for t in truths)


def test_records_follow_the_page(every_variant):
    _, truth = every_variant["kt-1980s"]
    entries = truth.filled_entries
    # One volume and page number for the page, written in its header and part of every record.
    header = {f.key: f.text for f in truth.page_fields}
    assert {"quyenSo", "trangSo"} <= set(header)
    assert all(e.record["quyenSo"] == header["quyenSo"] for e in entries)
    numbers = [int("".join(ch for ch in e.record["so"].split("/")[0] if ch.isdigit())) for e in entries]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_rendering_is_deterministic_per_seed(renderers):
    image_a, truth_a = renderers["train"].render("khai_sinh", "ks-2000s-spread", seed=7)
    renderers["train"].render("ket_hon", None, seed=3)  # other work in between changes nothing
    image_b, truth_b = PageRenderer(split="train", long_side=LONG_SIDE).render("khai_sinh", "ks-2000s-spread", seed=7)
    assert np.array_equal(np.asarray(image_a), np.asarray(image_b))
    assert truth_a.to_dict() == truth_b.to_dict()
    image_c, truth_c = renderers["train"].render("khai_sinh", "ks-2000s-spread", seed=8)
    assert truth_c.to_dict() != truth_a.to_dict()
    # Without a fixed variant, the seed picks the same template the dataset specs name.
    spec = page_specs("nhan_cha_me_con", 1, seed=41)[0]
    assert renderers["train"].render("nhan_cha_me_con", None, seed=41)[1].template == spec.template


def test_default_page_is_1600_px_and_clean_pages_are_straight(without_shared):
    image, truth = PageRenderer(degradation=0.0).render("khai_tu", "kt-2016-labelled", seed=1, entries=5, blank=False)
    assert max(image.size) == 1600
    assert truth.meta["rotation"] == 0.0 and np.allclose(truth.meta["homography"], np.eye(3))
    assert len(truth.filled_entries) == 5 and check_truth(truth) == []


def test_truth_round_trips_and_scales(every_variant):
    _, truth = every_variant["nc-2005-spread"]
    again = PageTruth.from_json(truth.to_json())
    assert again.to_dict() == truth.to_dict()
    half = truth.scaled(0.5)
    assert (half.width, half.height) == (round(truth.width / 2), round(truth.height / 2))
    a, b = next(truth.lines()).region.bbox, next(half.lines()).region.bbox
    assert np.allclose(np.array(b), np.array(a) / 2, atol=0.02)


# -- the cell writer -------------------------------------------------------------------------------------------
def _font_writer(text: str, height: int) -> np.ndarray:
    from data.fonts import fallback_fonts, render_font_mask

    return render_font_mask(text, fallback_fonts()[0], height)


def test_signatures_draw_for_every_seed():
    # Seed 854 draws a signature that loops back past its start, which once crashed page rendering.
    from data.pages.marks import signature_mask

    for seed in range(1000):
        mask = signature_mask(np.random.default_rng(seed), 80, 30)
        assert mask.shape == (30, 80) and mask.max() > 0


@pytest.mark.parametrize("mode", ["stack", "flow"])
def test_cell_writer_wraps_and_never_leaves_the_cell(mode):
    box = Box(10, 20, 170, 100)
    items = [CellItem("meHoTen", "Nguyễn Thị Hoa"), CellItem("meNgaySinh", "1975"),
             CellItem("meNoiCuTru", "xã Thạch Khôi, huyện Gia Lộc, tỉnh Hải Dương")]
    placements = write_cell(items, box, 24, _font_writer, mode=mode, rng=np.random.default_rng(0))
    for p in placements:
        h, w = p.mask.shape
        assert box.x0 <= p.x and p.x + w <= box.x1 and box.y0 <= p.y and p.y + h <= box.y1
    for item in items:
        parts = [p.text for p in placements if p.key == item.key]
        assert " ".join(parts) == item.text
    assert len([p for p in placements if p.key == "meNoiCuTru"]) >= 2  # the address wraps
    # A cell far too small still shows all of the text (written small and squeezed), inside the cell.
    tiny = Box(0, 0, 60, 14)
    placements = write_cell(items, tiny, 24, _font_writer, mode=mode)
    assert {p.key for p in placements if p.key} == {i.key for i in items}
    assert all(p.x + p.mask.shape[1] <= tiny.x1 and p.y + p.mask.shape[0] <= tiny.y1 for p in placements)


# -- COCO and PAGE-XML ------------------------------------------------------------------------------------------
def test_coco_round_trip(every_variant):
    pages = [(truth, f"images/{truth.page_id}.jpg") for _, truth in every_variant.values()]
    coco = json.loads(json.dumps(to_coco(pages)))
    names = [c["name"] for c in coco["categories"]]
    assert names[0] == "entry" and names[-1] == "text_line"
    assert set(names) >= {f.key for b in BOOKS.values() for f in b.register_fields}
    assert [c["id"] for c in coco["categories"]] == list(range(1, len(names) + 1))
    assert coco_categories() == coco["categories"]
    back = read_coco(coco)
    for truth, name in pages:
        again = back[name]
        assert len(again.entries) == len(truth.filled_entries)
        assert [f.key for f in again.page_fields] == [f.key for f in truth.page_fields]
        for a, b in zip(again.entries, truth.filled_entries, strict=True):
            assert a.index == b.index and a.record == b.record
            assert sorted((f.key, f.text, len(f.boxes), len(f.lines)) for f in a.fields) == \
                sorted((f.key, f.text, len(f.boxes), len(f.lines)) for f in b.fields)
        n_lines = sum(1 for _ in truth.lines())
        assert sum(1 for a in coco["annotations"] if a["image_id"] == pages.index((truth, name)) + 1
                   and a["category_id"] == len(names)) == n_lines
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        assert w >= 0 and h >= 0 and len(ann["segmentation"][0]) == 8


def test_page_xml_is_valid_and_round_trips(every_variant):
    for _, truth in every_variant.values():
        xml = to_page_xml(truth, f"{truth.page_id}.jpg")
        assert validate_page_xml(xml) == []
        root = ET.fromstring(xml)
        assert root.tag == f"{{{PAGE_NS}}}PcGts"
        page = root.find(f"{{{PAGE_NS}}}Page")
        assert [c.tag.split("}")[1] for c in root] == ["Metadata", "Page"]
        assert page.get("imageFilename") == f"{truth.page_id}.jpg"
        regions = page.findall(f"{{{PAGE_NS}}}TextRegion")
        n_boxes = sum(len(f.boxes) for f in truth.fields())
        assert len(regions) == n_boxes + len(truth.filled_entries) + len(truth.headings)
        assert sum(r.get("type") == "heading" for r in regions) == len(truth.headings) > 0
        again = read_page_xml(xml)
        assert [(h.text, h.level, h.column) for h in again.headings] == \
            [(h.text, h.level, h.column) for h in truth.headings]
        assert np.allclose(again.headings[0].region.bbox, truth.headings[0].region.bbox, atol=1.01)
        assert (again.book, again.template, again.seed) == (truth.book, truth.template, truth.seed)
        assert [e.index for e in again.entries] == [e.index for e in truth.filled_entries]
        for a, b in zip(again.entries, truth.filled_entries, strict=True):
            assert a.record == b.record
            assert {f.key: [ln.text for ln in f.lines] for f in a.fields} == \
                {f.key: [ln.text for ln in f.lines] for f in b.fields}
        assert len(again.marks) == len(truth.marks)
        first = next(truth.lines()).region.bbox
        assert np.allclose(next(again.lines()).region.bbox, first, atol=1.01)


@pytest.mark.parametrize("damage, message", [
    (lambda x: x.replace(PAGE_NS, "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"), "namespace"),
    (lambda x: x.replace("<Coords points=", "<Coordinates points=", 1), "Coordinates"),
    (lambda x: x.replace('regionRef="e', 'regionRef="missing', 1), "unknown region"),
    (lambda x: x.replace('type="stamp"', 'type="seal"', 1).replace('type="signature"', 'type="seal"', 1),
     "not a schema value"),
    (lambda x: x.replace("</PcGts>", ""), "well-formed"),
])
def test_page_xml_validator_reports_structural_errors(every_variant, damage, message):
    _, truth = every_variant["kh-1980s"]
    xml = to_page_xml(truth, "p.jpg")
    broken = damage(xml)
    assert broken != xml
    assert any(message in p for p in validate_page_xml(broken))
    # Coordinates must be non-negative integers, as the schema's PointsType pattern says.
    bad_points = xml.replace('points="', 'points="-3,4 ', 1)
    assert any("PointsType" in p for p in validate_page_xml(bad_points))


# -- storage: CLI folder and datasets -----------------------------------------------------------------------
def test_cli_writes_a_resumable_page_folder(tmp_path, capsys):
    from hotich.cli import main

    out = tmp_path / "pages"
    args = ["data", "pages", "--book", "khai_tu", "--n", "2", "--out", str(out), "--long-side", "640",
            "--seed", "5"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pages"] == 2 and summary["rendered"] == 2 and Path(summary["sheet"]).is_file()
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    for row in index:
        assert (out / row["image"]).is_file() and (out / row["gt"]).is_file()
        assert validate_page_xml(out / row["page_xml"]) == []
    coco = json.loads((out / "coco.json").read_text())
    assert len(coco["images"]) == 2
    assert {Path(i["file_name"]).name for i in coco["images"]} == {Path(r["image"]).name for r in index}
    before = (out / "gt" / f"{index[0]['page_id']}.json").stat().st_mtime_ns
    # A second run with one more page keeps the first two and renders only the new one.
    assert main([*args[:5], "3", *args[6:], "--sheet", "none"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["kept"], summary["rendered"], summary["pages"]) == (2, 1, 3)
    assert (out / "gt" / f"{index[0]['page_id']}.json").stat().st_mtime_ns == before
    ds = folder_dataset(out)
    assert len(ds) == 3 and PageTruth.from_json(ds[0]["truth"]).book == "khai_tu"
    assert ds[0]["image"].size == (ds[0]["width"], ds[0]["height"])
    # Bad input: a clear error and exit code 2, nothing written.
    assert main(["data", "pages", "--book", "khai_tu", "--n", "1", "--out", str(tmp_path / "x"),
                 "--variant", "ks-1980s"]) == 2
    assert "ks-1980s" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_pages_dataset_builder(without_shared):
    ds = pages_dataset("ket_hon", 2, seed=3, long_side=600)
    assert len(ds) == 2 and ds.features["truth"].dtype == "string"
    row = ds[1]
    truth = PageTruth.from_json(row["truth"])
    assert row["page_id"] == truth.page_id and row["template"] == truth.template
    assert row["image"].size == (truth.width, truth.height) and max(row["image"].size) == 600
    assert check_truth(truth) == []


# -- with the shared data: real ink and real Cinnamon address lines ------------------------------------------
@pytest.mark.shared
def test_real_handwriting_sources_are_used_when_shared_data_is_present(tmp_path):
    from data.settings import PROJECT_ROOT

    saved = {k: os.environ.get(k) for k in ("HOTICH_SHARED", "HOTICH_CACHE")}
    # The real shared folder and the usual cache (where the parsed ink corpus lives).
    os.environ["HOTICH_SHARED"] = SAVED_ENV["HOTICH_SHARED"] or str((PROJECT_ROOT / ".." / "shared").resolve())
    if SAVED_ENV["HOTICH_CACHE"] is None:
        os.environ.pop("HOTICH_CACHE")
    else:
        os.environ["HOTICH_CACHE"] = SAVED_ENV["HOTICH_CACHE"]
    try:
        renderer = PageRenderer(split="heldout", long_side=1200, ink_share=1.0, cinnamon_share=1.0)
        assert renderer.writers and renderer.cinnamon is not None
        sources = set()
        for seed in range(2):
            _, truth = renderer.render("ket_hon", "kh-1980s", seed=seed)
            assert check_truth(truth) == []
            sources |= {ln.source for ln in truth.lines()}
        assert {"ink", "cinnamon"} <= sources
        # Held-out pages use validation writers only.
        from data.ink import load_writer_split

        val = set(load_writer_split()["val"])
        assert {h["writer"] for h in truth.meta["hands"] if h["writer"]} <= val
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def _page_records(regions, text_of, confidence=0.5, size=(600, 300), page=None, **options) -> list[dict]:
    """The birth records a pipeline makes of a page of ``size`` (blank, or ``page``) whose detector answers
    ``regions``, each line read as ``text_of(line)`` with ``confidence``; ``options`` go to the pipeline."""
    from inference.pages import PagePipeline

    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0, **options)
    pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
    pipeline.heading_cells = lambda work, found: []

    def read(work, lines, **_):
        for line in lines:
            line.text, line.confidence = text_of(line), confidence

    pipeline.recognize_lines = read
    return pipeline(page or Image.new("RGB", size, "white"), book="khai_sinh")["records"]


def _one_record(regions, texts, confidence=0.5, **options) -> dict:
    """The fields (by key) of the one birth record a pipeline makes of ``regions`` (a detector's answer), each
    line read as ``texts[(x0, y0)]`` with ``confidence``; ``options`` go to the pipeline."""
    (record,) = _page_records(regions, lambda line: texts[(int(line.bbox[0]), int(line.bbox[1]))], confidence,
                              **options)
    return {f["key"]: f for f in record["fields"]}


def test_a_place_misread_is_read_again_against_the_gazetteer(monkeypatch):
    from inference.pages import REREAD_BELOW, PagePipeline, _changed_line
    from models.detection.layout import Region

    assert _changed_line(["Xã Quỳnh Thọ, Huyện", "Quỳnh Lương, Nghệ An"],
                         "Xã Quỳnh Thọ, Huyện Quỳnh Lưu, Nghệ An") == (1, "Quỳnh Lưu, Nghệ An")
    assert _changed_line(["Xã A, Huyện", "B"], "Xã A, Huyện C D") == (1, "C D")
    assert _changed_line(["ab", "cd"], "aXd") is None  # the change spans two lines

    # The recognizer's own reading scores a little better on its crop than the gazetteer's name; every other
    # reading far worse.
    scored_by(monkeypatch, {"Xã Quỳnh Thọ, Huyện": -0.2, "Quỳnh Lương, Nghệ An": -0.5,
                             "Quỳnh Lưu, Nghệ An": -1.0, "Thạm Thị Hoa": -0.5, "Phạm Thị Hoa": -1.0})

    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 180), 1.0, "meNoiCuTru", 0.9),
                         Region("field", (310, 110, 500, 130), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0), Region("line", (100, 150, 300, 170), 1.0),
                        Region("line", (310, 110, 500, 130), 1.0)]}
    texts = {(100, 110): "Xã Quỳnh Thọ, Huyện", (100, 150): "Quỳnh Lương, Nghệ An", (310, 110): "Thạm Thị Hoa"}

    def extract(prior, confidence=0.5):
        return _one_record(regions, texts, confidence, place_prior=prior, surname_prior=prior)

    # Worth 2 nats a gazetteer name, "Quỳnh Lưu" (0.5 nats less likely on the crop) wins.
    got = extract(2.0)["meNoiCuTru"]
    assert got["text"] == "Xã Quỳnh Thọ, Huyện Quỳnh Lưu, Nghệ An"
    assert got["read_text"] == "Xã Quỳnh Thọ, Huyện Quỳnh Lương, Nghệ An"
    assert "place_read_from_gazetteer" in got["flags"] and "name_read_jointly" not in got["flags"]
    assert got["confidence"] <= np.exp(-1.0) + 1e-6  # the changed line's probability on its crop
    # A first word that is no surname: "Phạm", listed, wins the same way.
    got = extract(2.0)["meHoTen"]
    assert (got["text"], got["read_text"]) == ("Phạm Thị Hoa", "Thạm Thị Hoa")
    assert "surname_read_from_list" in got["flags"]
    # Worth less than the crop's 0.5 nats, or turned off: read as the recognizer read it.
    for prior in (0.3, 0.0):
        got = extract(prior)
        assert got["meNoiCuTru"]["text"] == "Xã Quỳnh Thọ, Huyện Quỳnh Lương, Nghệ An" and "read_text" not in got["meNoiCuTru"]
        assert got["meHoTen"]["text"] == "Thạm Thị Hoa" and "read_text" not in got["meHoTen"]
    # Lines the recognizer was sure of are not read again.
    got = extract(2.0, confidence=REREAD_BELOW)
    assert got["meNoiCuTru"]["text"] == "Xã Quỳnh Thọ, Huyện Quỳnh Lương, Nghệ An" and got["meHoTen"]["text"] == "Thạm Thị Hoa"
    with pytest.raises(ValueError, match="place_prior"):
        PagePipeline(None, ScoringReader(), place_prior=-1.0)


def test_a_given_name_misread_is_read_again_against_the_list_of_names(monkeypatch):
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    # "HÀNG" (no name) reads 0.7 nats likelier on its crop than the listed "HẰNG"; "NGUYỄN THỊ HOÀNG", listed
    # too, far less likely. The father's "Lê Văn Tâm" is listed throughout: never read again.
    asked = scored_by(monkeypatch, {"NGUYỄN THỊ HÀNG": -0.3, "NGUYỄN THỊ HẰNG": -1.0, "NGUYỄN THỊ HOÀNG": -5.0})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 130), 1.0, "meHoTen", 0.9),
                         Region("field", (310, 110, 500, 130), 1.0, "chaHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0), Region("line", (310, 110, 500, 130), 1.0)]}
    texts = {(100, 110): "NGUYỄN THỊ HÀNG", (310, 110): "Lê Văn Tâm"}

    got = _one_record(regions, texts, given_name_prior=2.0)
    assert (got["meHoTen"]["text"], got["meHoTen"]["read_text"]) == ("NGUYỄN THỊ HẰNG", "NGUYỄN THỊ HÀNG")
    assert "given_name_read_from_list" in got["meHoTen"]["flags"]
    assert got["chaHoTen"]["text"] == "Lê Văn Tâm" and not any(t.startswith("Lê Văn") for t in asked)
    # Worth less than the crop's 0.7 nats, or turned off: as read.
    for prior in (0.5, 0.0):
        got = _one_record(regions, texts, given_name_prior=prior)
        assert got["meHoTen"]["text"] == "NGUYỄN THỊ HÀNG" and "read_text" not in got["meHoTen"]
    with pytest.raises(ValueError, match="given_name_prior"):
        PagePipeline(None, ScoringReader(), given_name_prior=-1.0)


def test_a_places_line_that_ends_without_its_comma_is_read_again_with_one(monkeypatch):
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    # The comma at the first line's end is 0.6 nats less likely on its crop than the line read without it; after
    # "Xã Bản", where the writer wrote none, far less.
    asked = scored_by(monkeypatch, {"Xã Lam Sơn, Thanh Miện": -0.4, "Xã Lam Sơn, Thanh Miện,": -1.0,
                                    "Xã Bản": -0.2, "Xã Bản,": -6.0})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 180), 1.0, "meNoiCuTru", 0.9),
                         Region("field", (310, 110, 500, 180), 1.0, "chaNoiCuTru", 0.9),
                         Region("field", (510, 110, 600, 180), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0), Region("line", (100, 150, 300, 170), 1.0),
                        Region("line", (310, 110, 500, 130), 1.0), Region("line", (310, 150, 500, 170), 1.0),
                        Region("line", (510, 110, 600, 130), 1.0), Region("line", (510, 150, 600, 170), 1.0)]}
    texts = {(100, 110): "Xã Lam Sơn, Thanh Miện", (100, 150): "Hải Dương", (310, 110): "Xã Bản",
             (310, 150): "Lầu, Mường Khương", (510, 110): "Nguyễn Văn", (510, 150): "An"}

    got = _one_record(regions, texts, place_prior=0.0, surname_prior=0.0)
    assert got["meNoiCuTru"]["text"] == "Xã Lam Sơn, Thanh Miện, Hải Dương"
    assert got["meNoiCuTru"]["read_text"] == "Xã Lam Sơn, Thanh Miện Hải Dương"
    assert "place_line_end_read_again" in got["meNoiCuTru"]["flags"]
    # The changed line's probability on its crop, the weakest of the value's lines (rounded to 4 places).
    assert got["meNoiCuTru"]["confidence"] == pytest.approx(np.exp(-1.0), abs=1e-4)
    assert got["chaNoiCuTru"]["text"] == "Xã Bản Lầu, Mường Khương" and "read_text" not in got["chaNoiCuTru"]
    # Only a place's lines with another line after them, each once: no name, no last line.
    assert sorted(set(asked)) == ["Xã Bản", "Xã Bản,", "Xã Lam Sơn, Thanh Miện", "Xã Lam Sơn, Thanh Miện,"]
    assert len(asked) == 4
    # Worth less than the crop's 0.6 nats, or turned off: read as the recognizer read it.
    for prior in (0.5, 0.0):
        asked.clear()
        got = _one_record(regions, texts, place_prior=0.0, surname_prior=0.0, line_end_comma_prior=prior)
        assert got["meNoiCuTru"]["text"] == "Xã Lam Sơn, Thanh Miện Hải Dương" and "read_text" not in got["meNoiCuTru"]
        assert bool(asked) == bool(prior)
    with pytest.raises(ValueError, match="line_end_comma_prior"):
        PagePipeline(None, ScoringReader(), line_end_comma_prior=-1.0)


def test_a_volume_number_read_as_no_number_is_read_again_as_the_likeliest_number(monkeypatch):
    from inference.pages import HEADER_NUMBERS, PagePipeline
    from models.detection.layout import Region

    assert {"1", "01", "99"} <= set(HEADER_NUMBERS) and "0" not in HEADER_NUMBERS
    # A faint "1" read "ba": on its crop "ba" scores best, "1" 1.5 nats less, every other number far worse.
    asked = scored_by(monkeypatch, {"ba": -0.5, "1": -2.0})
    Reader = ScoringReader

    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (20, 20, 60, 50), 1.0, "quyenSo", 0.9),
                         Region("field", (100, 110, 300, 130), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (20, 20, 60, 50), 1.0), Region("line", (100, 110, 300, 130), 1.0)]}
    texts = {(20, 20): "ba", (100, 110): "Nguyễn Thị Hoa"}

    def extract(prior, volume="ba"):
        texts[(20, 20)] = volume
        pipeline = PagePipeline(None, Reader(), deskew=False, header_number_prior=prior, review_threshold=0.0)
        pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
        pipeline.heading_cells = lambda work, found: []

        def read(work, lines, **options):
            for line in lines:
                # A box moved a few pixels (the volume read from moved crops) reads as the box.
                x, y = min(texts, key=lambda at: abs(at[0] - line.bbox[0]) + abs(at[1] - line.bbox[1]))
                line.text, line.confidence = texts[(x, y)], 0.5

        pipeline.recognize_lines = read
        (record,) = pipeline(Image.new("RGB", (600, 300), "white"), book="khai_sinh")["records"]
        return next(f for f in record["fields"] if f["key"] == "quyenSo")

    # Worth 3 nats a reading that is a number, "1" wins, as the volume "01".
    got = extract(3.0)
    assert (got["text"], got["value"], got["read_text"]) == ("1", "01", "ba")
    assert "header_number_read_again" in got["flags"]
    # Worth less than the 1.5 nats, or turned off: "ba", unreadable, stands.
    for prior in (1.0, 0.0):
        got = extract(prior)
        assert got["text"] == "ba" and "read_text" not in got and "number_unreadable" in got["flags"]
    # A number read with digits is not read again.
    asked.clear()
    assert extract(3.0, volume="7")["text"] == "7" and not asked
    with pytest.raises(ValueError, match="header_number_prior"):
        PagePipeline(None, Reader(), header_number_prior=-1.0)
    with pytest.raises(ValueError, match="surname_prior"):
        PagePipeline(None, Reader(), surname_prior=-1.0)


def test_a_volume_read_as_no_number_is_scored_on_its_box_grown_above_and_below(monkeypatch):
    import inference.pages as pages
    from data.pages.lines import LINE_PAD, crop_line
    from inference.pages import HEADER_NUMBER_TALLER, PagePipeline
    from models.detection.layout import Region

    # A lone "1" is one thin stroke, and the detector's box falls short of its ends: on the box as found it reads
    # "Kinh"; on the box grown above and below, "1" (and the crops are the grown box's).
    heights: set[int] = set()

    def scored(reader, images, readings):
        heights.update(images[j].shape[0] for j, _ in readings)
        tall = all(images[j].shape[0] > 60 for j, _ in readings)
        return np.asarray([{"Kinh": -2.0, "1": -0.1 if tall else -9.0}.get(text, -30.0) for _, text in readings])

    monkeypatch.setattr(pages, "reading_log_probs", scored)
    box = (20, 40, 40, 70)
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", box, 1.0, "quyenSo", 0.9),
                         Region("field", (100, 110, 300, 130), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", box, 1.0), Region("line", (100, 110, 300, 130), 1.0)]}
    texts = {(20, 40): "Kinh", (100, 110): "Nguyễn Thị Hoa"}
    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0, header_crop_reads=False)
    pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
    pipeline.heading_cells = lambda work, found: []

    def read(work, lines, **options):
        for line in lines:
            line.text, line.confidence = texts[(int(line.bbox[0]), int(line.bbox[1]))], 0.3

    pipeline.recognize_lines = read
    page = Image.new("RGB", (600, 300), "white")
    (record,) = pipeline(page, book="khai_sinh")["records"]
    got = next(f for f in record["fields"] if f["key"] == "quyenSo")
    assert (got["text"], got["read_text"]) == ("1", "Kinh") and "header_number_read_again" in got["flags"]
    grow = HEADER_NUMBER_TALLER * (box[3] - box[1])
    assert heights == {crop_line(page, (box[0], box[1] - grow, box[2], box[3] + grow), LINE_PAD).height}


def test_a_line_barely_found_and_unreadable_is_noise_not_a_value():
    from inference.pages import NOISE_CONFIDENCE, NOISE_DETECTION, PagePipeline
    from models.detection.layout import Region

    # A name, then a speck beside it the detector was unsure of and the recognizer could not read ("Họ").
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 400, 130), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 0.97), Region("line", (310, 112, 330, 128), 0.6)]}
    readings = {100: ("Lê Thị Hoa", 0.9), 310: ("Họ", 0.1)}

    def extract(speck_confidence):
        pipeline = PagePipeline(None, object(), deskew=False, review_threshold=0.0)
        pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
        pipeline.heading_cells = lambda work, found: []

        def read(work, lines, **options):
            for line in lines:
                line.text, line.confidence = readings[int(line.bbox[0])]
                if line.text == "Họ":
                    line.confidence = speck_confidence

        pipeline.recognize_lines = read
        return pipeline(Image.new("RGB", (600, 300), "white"), book="khai_sinh")

    result = extract(0.1)
    assert 0.6 < NOISE_DETECTION and 0.1 < NOISE_CONFIDENCE
    (record,) = result["records"]
    assert {f["key"]: f["text"] for f in record["fields"]}["meHoTen"] == "Lê Thị Hoa"
    (noise,) = result["page"]["noise_lines"]
    assert noise["bbox"] == [310, 112, 330, 128] and "text" not in noise
    # Read with some confidence, the same line is kept: the detector's doubt alone drops nothing.
    (record,) = extract(0.5)["records"]
    assert {f["key"]: f["text"] for f in record["fields"]}["meHoTen"] == "Lê Thị Hoa Họ"


def test_a_date_the_entrys_other_dates_contradict_is_read_again_with_the_year_that_agrees(monkeypatch):
    from inference.pages import PagePipeline
    from inference.records.date_readings import date_contradictions, year_readings
    from models.detection.layout import Region

    assert year_readings("12/3/1980")[:2] == ["12/3/1880", "12/3/1900"] and "12/3/1960" in year_readings("12/3/1980")
    assert "13/10/58" in year_readings("13/10/48") and year_readings("Nguyễn Văn An") == []
    entry = [("nksNgaySinh", "24/3/1984"), ("meNgaySinh", "12/3/1980"), ("ngayDangKy", "2/4/1984")]
    assert date_contradictions("khai_sinh", entry) == 1  # a mother four years old
    assert date_contradictions("khai_sinh", [entry[0], ("meNgaySinh", "12/3/1960"), entry[2]]) == 0

    # On its crop "1960" reads 1.5 nats less likely than "1980"; every other reading far worse.
    scored_by(monkeypatch, {"12/3/1980": -0.5, "12/3/1960": -2.0})

    keys = ["nksNgaySinh", "meNgaySinh", "ngayDangKy"]
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100 + 150 * i, 110, 240 + 150 * i, 130), 1.0, k, 0.9) for i, k in enumerate(keys)],
               "line": []}
    texts = dict(zip((100, 250, 400), ("24/3/1984", "12/3/1980", "2/4/1984")))

    def extract(prior, confidence=0.5):
        (record,) = _page_records(regions, lambda line: texts[int(line.bbox[0])], confidence, date_prior=prior)
        return record

    record = extract(3.0)
    mother = next(f for f in record["fields"] if f["key"] == "meNgaySinh")
    assert (mother["value"], mother["read_text"]) == ("1960-03-12", "12/3/1980")
    assert "date_read_against_entry" in mother["flags"] and "parent_age_implausible" not in record["flags"]
    # Worth less than the crop's 1.5 nats, turned off, or read surely: the date stands, and the entry is flagged.
    for prior, confidence in ((1.0, 0.5), (0.0, 0.5), (3.0, 0.95)):
        record = extract(prior, confidence)
        mother = next(f for f in record["fields"] if f["key"] == "meNgaySinh")
        assert mother["value"] == "1980-03-12" and "read_text" not in mother
        assert "parent_age_implausible" in record["flags"]
    with pytest.raises(ValueError, match="date_prior"):
        PagePipeline(None, ScoringReader(), date_prior=-1.0)


def test_a_registration_date_out_of_the_pages_order_is_read_again_between_its_neighbours(monkeypatch):
    """Entries are written as they are registered: "17/9/2004" between "15/3/2004" and "29/4/2004" is read
    again with one digit changed, dropped or added; "17/4/2004" (1 nat less likely on its crop, worth 3 as a date
    in order) wins. Dates in order, or two that could each be the one out, are not read again."""
    from inference.pages import PagePipeline
    from inference.records.date_readings import date_readings_between, dates_out_of_order
    from models.detection.layout import Region

    assert dates_out_of_order(["2004-01-10", "2004-03-15", "2004-09-17", "2004-04-29", "2004-05-02"]) == [
        None, None, ("2004-03-15", "2004-04-29"), None, None]
    # A first date unread: one year back from the run's first; two that could each be out of order: neither.
    assert dates_out_of_order([None, "2004-03-06", "2004-03-12", "2004-03-20"])[0] == ("2003-03-06", "2004-03-06")
    assert dates_out_of_order(["2004-03-15", "2004-02-17", "2004-04-29", "2004-05-01"]) == [None] * 4
    assert dates_out_of_order(["2004-03-15", "2004-02-17"]) == [None] * 2  # too few to judge by
    assert date_readings_between("17/9/2004", "2004-03-15", "2004-04-29") == ["17/3/2004", "17/4/2004"]
    assert "28/06/2003" in date_readings_between("38/06/2003", "2003-05-21", "2003-09-04")
    assert date_readings_between("22/1/2019", "1999-12-02", "1999-12-26") == []  # two digits off

    scored_by(monkeypatch, {"17/9/2004": -0.5, "17/4/2004": -1.5, "17/3/2004": -4.0})
    dates = ["10/1/2004", "15/3/2004", "17/9/2004", "29/4/2004", "2/5/2004"]
    regions = {"entry": [Region("entry", (0, 100 + 50 * i, 600, 145 + 50 * i), 1.0) for i in range(5)],
               "field": [Region("field", (400, 110 + 50 * i, 540, 130 + 50 * i), 1.0, "ngayDangKy", 0.9)
                         for i in range(5)],
               "line": []}

    def extract(prior, confidence=0.5):
        records = _page_records(regions, lambda line: dates[(int(line.bbox[1]) - 110) // 50], confidence,
                                size=(600, 400), date_prior=prior)
        return [next(f for f in r["fields"] if f["key"] == "ngayDangKy") for r in records]

    got = extract(3.0)
    assert [f["value"] for f in got] == ["2004-01-10", "2004-03-15", "2004-04-17", "2004-04-29", "2004-05-02"]
    assert got[2]["read_text"] == "17/9/2004" and "date_read_in_order" in got[2]["flags"]
    assert all("read_text" not in f for i, f in enumerate(got) if i != 2)
    # Worth less than the crop's nat, turned off, or read surely: the date stands as read.
    for prior, confidence in ((0.5, 0.5), (0.0, 0.5), (3.0, 0.95)):
        got = extract(prior, confidence)
        assert got[2]["value"] == "2004-09-17" and "read_text" not in got[2]


def test_a_date_read_as_no_date_is_read_again_as_the_likeliest_date_one_stroke_away(monkeypatch):
    """"19/6/193" (a stroke of the year missed) reads as no date: read again with one digit changed, dropped or
    added, or its digits cut by a separator, among the readings that are dates; "19/6/1938" (1 nat less likely
    on the crop, worth 3 as a date) wins. A date read as one, or text without digits, is not read again."""
    from inference.records.date_readings import date_readings_readable, readable_date
    from models.detection.layout import Region

    assert readable_date("19/6/1938") and readable_date("1936") and readable_date("3.9.70")
    assert not any(map(readable_date, ("19/6/193", "21.18.1997", "39.70", "196", "19/6/2093", "Kinh")))
    assert "19/6/1938" in date_readings_readable("19/6/193") and "21.8.1997" in date_readings_readable("21.18.1997")
    assert "3.9.70" in date_readings_readable("39.70") and "1936" in date_readings_readable("196")
    assert all(map(readable_date, date_readings_readable("19/6/193")))
    assert date_readings_readable("19/6/1938") == [] and date_readings_readable("Nguyễn Văn An") == []
    assert date_readings_readable("3357") == []  # two strokes away: left as read

    scored_by(monkeypatch, {"19/6/193": -0.5, "19/6/1938": -1.5, "19/6/1933": -4.0})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 240, 130), 1.0, "meNgaySinh", 0.9),
                         Region("field", (300, 110, 440, 130), 1.0, "nksNgaySinh", 0.9)],
               "line": []}
    texts = {100: "19/6/193", 300: "2/4/1984"}

    def extract(prior, confidence=0.5):
        (record,) = _page_records(regions, lambda line: texts[int(line.bbox[0])], confidence, date_prior=prior)
        return {f["key"]: f for f in record["fields"]}

    got = extract(3.0)
    assert (got["meNgaySinh"]["value"], got["meNgaySinh"]["read_text"]) == ("1938-06-19", "19/6/193")
    assert "date_read_as_a_date" in got["meNgaySinh"]["flags"] and "read_text" not in got["nksNgaySinh"]
    # Worth less than the crop's nat, turned off, or read surely: the date stands as read, unreadable.
    for prior, confidence in ((0.5, 0.5), (0.0, 0.5), (3.0, 0.95)):
        got = extract(prior, confidence)
        assert got["meNgaySinh"]["text"] == "19/6/193" and "read_text" not in got["meNgaySinh"]


def test_a_volume_number_read_doubtfully_is_read_from_moved_crops(monkeypatch):
    """"1/2004" read "4/2004" from the detector's box, and "1/2004" from the box with its left edge moved out:
    every text read is scored on every moved crop, and the likeliest by its median over them stands, its
    confidence its least probability on them; read surely, or with the step off, the volume stays as read."""
    from inference.pages import HEADER_CROP_OFFSETS, FieldResult, LineResult, PagePipeline
    from models.detection.layout import Region

    assert (0, 0, 0, 0) in HEADER_CROP_OFFSETS and len(HEADER_CROP_OFFSETS) > 2
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (20, 20, 90, 50), 1.0, "quyenSo", 0.9),
                         Region("field", (100, 110, 300, 130), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (20, 20, 90, 50), 1.0), Region("line", (100, 110, 300, 130), 1.0)]}

    def extract(scores, confidence=0.3, **options):
        asked = scored_by(monkeypatch, scores)
        pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0, **options)
        pipeline.detect = lambda page: (regions, page, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
        pipeline.heading_cells = lambda work, found: []

        def read(work, lines, **_):
            for line in lines:
                if line.bbox[0] >= 100:
                    line.text, line.confidence = "Nguyễn Thị Hoa", 0.95
                else:  # the volume: its box moved left reads "1/2004"
                    line.text, line.confidence = ("1/2004" if line.bbox[0] < 20 else "4/2004"), confidence

        pipeline.recognize_lines = read
        (record,) = pipeline(Image.new("RGB", (600, 300), "white"), book="khai_sinh")["records"]
        return next(f for f in record["fields"] if f["key"] == "quyenSo"), asked

    got, asked = extract({"4/2004": -1.0, "1/2004": -0.7})
    assert (got["text"], got["read_text"]) == ("1/2004", "4/2004")
    assert "header_number_read_from_crops" in got["flags"]
    assert got["confidence"] == pytest.approx(np.exp(-0.7), abs=1e-4)
    # Both texts scored on every moved crop.
    assert asked.count("1/2004") == asked.count("4/2004") == len(HEADER_CROP_OFFSETS)
    # The median over the crops decides, not the sum: "1/2004" far likelier on two crops (a stroke cut off on
    # them) but less likely on three stays "4/2004".
    import inference.pages as pages

    by_crop = {"4/2004": [-0.5, -9.0, -0.5, -0.5, -9.0], "1/2004": [-0.9, -0.1, -0.9, -0.9, -0.1]}
    monkeypatch.setattr(pages, "reading_log_probs", lambda reader, images, readings: np.asarray(
        [by_crop[text][j] for j, text in readings]))
    monkeypatch.setattr(pages, "HEADER_CROP_OFFSETS", ((0, 0, 0, 0), (-4, 0, 0, 0), (0, 0, 4, 0), (0, -2, 0, -2),
                                                       (-4, 2, 0, 2)))
    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0)
    volume = FieldResult("quyenSo", (20, 20, 90, 50), 0.9, 1.0, lines=[LineResult((20, 20, 90, 50), "4/2004", 0.3)])
    pipeline.recognize_lines = lambda work, lines, **_: [setattr(line, "text", "1/2004" if line.bbox[0] < 20
                                                                 else "4/2004") for line in lines]
    assert pipeline.read_header_numbers_from_crops(Image.new("RGB", (600, 300), "white"), [volume], "khai_sinh") == {}
    assert volume.text == "4/2004"
    monkeypatch.undo()
    # The text first read likelier over the crops, read surely, or the step off: as read.
    for scores, confidence, options in (({"4/2004": -0.5, "1/2004": -0.7}, 0.3, {}),
                                        ({"4/2004": -1.0, "1/2004": -0.7}, 0.95, {}),
                                        ({"4/2004": -1.0, "1/2004": -0.7}, 0.3, {"header_crop_reads": False})):
        got, _ = extract(scores, confidence, **options)
        assert got["text"] == "4/2004" and "read_text" not in got


def test_a_relationship_misread_alone_under_the_declarants_name_is_read_again(monkeypatch):
    """"Mẹ" alone under the declarant's name, read "Nữ": read again as each relationship the books write, the
    relationship (1 nat less likely on the crop, worth 2) wins and becomes the relationship field."""
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    scored_by(monkeypatch, {"Nữ": -0.5, "Mẹ": -1.5, "Lê Thị Hoa": -0.2})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 175), 1.0, "nycHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0), Region("line", (100, 150, 140, 170), 1.0)]}
    texts = {(100, 110): "Lê Thị Hoa", (100, 150): "Nữ"}

    def extract(prior):
        return _one_record(regions, texts, relationship_prior=prior, surname_prior=0.0)

    got = extract(2.0)
    assert got["nycHoTen"]["text"] == "Lê Thị Hoa" and "read_text" not in got["nycHoTen"]
    assert got["nycQuanHe"]["text"] == "Mẹ" and got["nycQuanHe"]["read_text"] == "Nữ"
    assert "relationship_read_again" in got["nycQuanHe"]["flags"]
    # Worth less than the crop's nat, or turned off: the name keeps the word read.
    for prior in (0.5, 0.0):
        got = extract(prior)
        assert got["nycHoTen"]["text"] == "Lê Thị Hoa Nữ" and "nycQuanHe" not in got
    with pytest.raises(ValueError, match="relationship_prior"):
        PagePipeline(None, ScoringReader(), relationship_prior=-1.0)


def test_a_relationship_a_heading_names_is_looked_for_at_the_end_of_a_name_without_one(monkeypatch):
    """Under "Người đi khai" naming the declarant's name and relationship, every entry holds a relationship:
    "Dương Đình Đức Chi" (four words, none a relationship) ends in one misread, and "Cha" (3 nats less likely on
    the crop) is read, worth 2.5 times ``relationship_prior``; with no heading naming the relationship the name
    stands, and a name of three words is never read again so."""
    from inference.pages import EXPECTED_RELATIONSHIP_WEIGHT, FieldResult, LineResult, PagePipeline

    assert EXPECTED_RELATIONSHIP_WEIGHT * 2.0 > 3.0 > 2.0
    scored_by(monkeypatch, {"Dương Đình Đức Chi": -0.5, "Dương Đình Đức Cha": -3.5, "trai": -3.0, "Anh": -2.5,
                             "Phạm Hữu Tâm Chết nơi": -0.5, "Phạm Hữu Tâm Cháu nội": -3.0,
                             "Dương Đình Đức": -0.5, "Dương Đình Cha": -1.0})
    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0, relationship_prior=2.0)
    work = Image.new("RGB", (600, 300), "white")

    def read(text, expected):
        name = FieldResult("nycHoTen", (100, 110, 300, 130), 0.9, 1.0,
                           lines=[LineResult((100, 110, 300, 130), text, 0.5)])
        pipeline.read_relationships_again(work, [name], "khai_sinh", expected)
        return name.text

    assert read("Dương Đình Đức Chi", {"nycHoTen", "nycQuanHe"}) == "Dương Đình Đức Cha"
    assert read("Phạm Hữu Tâm Chết nơi", {"nycQuanHe"}) == "Phạm Hữu Tâm Cháu nội"  # two words for two
    assert read("Dương Đình Đức Chi", {"nycHoTen"}) == "Dương Đình Đức Chi"
    assert read("Dương Đình Đức", {"nycQuanHe"}) == "Dương Đình Đức"
    # "trai" alone under "Nguyễn Văn Quang Kon": a relationship's second word, never read as another.
    first = FieldResult("nycHoTen", (100, 110, 300, 130), 0.9, 1.0,
                        lines=[LineResult((100, 110, 300, 130), "Nguyễn Văn Quang Kon", 0.5)])
    second = FieldResult("nycHoTen", (100, 135, 140, 155), 0.9, 1.0,
                         lines=[LineResult((100, 135, 140, 155), "trai", 0.5)])
    pipeline.read_relationships_again(work, [first, second], "khai_sinh", {"nycQuanHe"})
    assert second.text == "trai"


def test_a_relationship_on_the_last_piece_of_a_name_in_two_fields_is_read_again(monkeypatch):
    """"Nguyễn Văn Toàn" and, as a second piece of the name, "Chợ đẻ" ("Cha đẻ" misread): "đẻ" only ends a
    relationship, so the word before it is read again as each first word that goes with it, on that piece's
    own line, with or without a heading naming the relationship; a second piece of one word, or a name of
    fewer than four words in all, is not read so."""
    from inference.pages import FieldResult, LineResult, PagePipeline

    scored_by(monkeypatch, {"Chợ đẻ": -0.5, "Cha đẻ": -1.5, "Mẹ đẻ": -3.0, "Văn đẻ": -0.5, "Con đẻ": -3.0})
    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0, relationship_prior=2.0)
    work = Image.new("RGB", (600, 300), "white")

    def read(first, second, expected):
        pieces = [FieldResult("nycHoTen", (100, 110, 300, 130), 0.9, 1.0,
                              lines=[LineResult((100, 110, 300, 130), first, 0.5)]),
                  FieldResult("nycHoTen", (100, 135, 160, 155), 0.9, 1.0,
                              lines=[LineResult((100, 135, 160, 155), second, 0.5)])]
        pipeline.read_relationships_again(work, pieces, "khai_sinh", expected)
        return pieces[0].text, pieces[1].text

    assert read("Nguyễn Văn Toàn", "Chợ đẻ", {"nycQuanHe"}) == ("Nguyễn Văn Toàn", "Cha đẻ")
    assert read("Nguyễn Văn Toàn", "Chợ đẻ", set()) == ("Nguyễn Văn Toàn", "Cha đẻ")
    assert read("Toàn", "Văn đẻ", set()) == ("Toàn", "Văn đẻ")  # three words in all
    assert read("Nguyễn Văn Toàn", "đẻ", set()) == ("Nguyễn Văn Toàn", "đẻ")


def test_a_relationship_misread_after_a_separator_on_the_names_line_is_read_again(monkeypatch):
    """"Cha" after the declarant's name on its line, set apart by a comma and read "Châu": read again, the
    relationship wins and takes its own field; a last word that only continues the name is not read again."""
    from models.detection.layout import Region

    scored_by(monkeypatch, {"Nguyễn Văn Dũng, Châu": -0.5, "Nguyễn Văn Dũng, Cha": -1.5,
                             "Nguyễn Văn Đức Chi": -0.5, "Nguyễn Văn Đức Cha": -0.6})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 175), 1.0, "nycHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0)]}
    got = _one_record(regions, {(100, 110): "Nguyễn Văn Dũng, Châu"}, relationship_prior=2.0, surname_prior=0.0)
    assert got["nycHoTen"]["text"] == "Nguyễn Văn Dũng" and got["nycQuanHe"]["text"] == "Cha"
    assert "relationship_read_again" in got["nycQuanHe"]["flags"] and got["nycQuanHe"]["read_text"] == "Châu"
    got = _one_record(regions, {(100, 110): "Nguyễn Văn Đức Chi"}, relationship_prior=2.0, surname_prior=0.0)
    assert got["nycHoTen"]["text"] == "Nguyễn Văn Đức Chi" and "nycQuanHe" not in got


def test_a_relationships_first_word_misread_before_its_second_is_read_again(monkeypatch):
    """"Ông nội" written after the name, its "Ông" read "Giang" at the end of the line and "nội" alone below:
    "nội" only ends a relationship, so the word before it is read again as each first word that goes with it."""
    from models.detection.layout import Region

    scored_by(monkeypatch, {"Lê Văn Quý Giang": -0.5, "Lê Văn Quý Ông": -1.5, "Lê Văn Quý Bà": -2.0})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 300, 175), 1.0, "nycHoTen", 0.9)],
               "line": [Region("line", (100, 110, 300, 130), 1.0), Region("line", (100, 150, 140, 170), 1.0)]}
    texts = {(100, 110): "Lê Văn Quý Giang", (100, 150): "nội"}
    got = _one_record(regions, texts, relationship_prior=2.0, surname_prior=0.0)
    assert got["nycHoTen"]["text"] == "Lê Văn Quý" and got["nycQuanHe"]["text"] == "Ông nội"
    assert "relationship_read_again" in got["nycQuanHe"]["flags"] and got["nycQuanHe"]["read_text"] == "Giang nội"
    got = _one_record(regions, texts, relationship_prior=0.0, surname_prior=0.0)
    assert got["nycHoTen"]["text"] == "Lê Văn Quý Giang nội"


def test_a_line_two_fields_hold_is_read_once_and_a_fragment_of_a_line_not_at_all():
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    regions = {"entry": [Region("entry", (0, 100, 800, 300), 1.0)],
               # A date's box, and below it the place column's box reaching up over the date a little more.
               "field": [Region("field", (540, 119, 622, 147), 0.95, "nktNgayChet", 0.9),
                         Region("field", (525, 120, 712, 245), 0.89, "nktNoiChet", 0.9),
                         # A box over a note's first words, inside the line the note's own box holds.
                         Region("field", (100, 110, 300, 280), 0.9, "ghiChu", 0.9),
                         Region("field", (105, 114, 166, 142), 0.6, "ghiChu", 0.5)],
               "line": [Region("line", (538, 113, 615, 148), 0.92), Region("line", (537, 137, 700, 179), 0.92),
                        Region("line", (538, 168, 665, 202), 0.92),
                        Region("line", (100, 110, 228, 138), 0.9), Region("line", (100, 139, 241, 167), 0.9)]}
    grouped, page_fields = PagePipeline.group(regions)
    ((_, members),) = grouped
    lines = {f.key + str(i): [tuple(int(v) for v in ln.bbox) for ln in f.lines] for i, f in enumerate(members)}
    date = next(f for f in members if f.key == "nktNgayChet")
    place = next(f for f in members if f.key == "nktNoiChet")
    assert [tuple(ln.bbox) for ln in date.lines] == [(538, 113, 615, 148)], lines  # its line, not its own box
    assert [tuple(ln.bbox) for ln in place.lines] == [(537, 137, 700, 179), (538, 168, 665, 202)]
    notes = [f for f in members if f.key == "ghiChu"]
    assert sorted(len(f.lines) for f in notes) == [0, 2]  # the fragment reads nothing (then dropped as empty)
    every = [tuple(ln.bbox) for f in members for ln in f.lines]
    assert len(every) == len(set(every)) == 5  # each detected line read once


def test_a_names_last_word_written_a_little_higher_beside_it_still_ends_the_name():
    from inference.pages import _reading_order
    from models.detection.layout import Region

    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (200, 110, 410, 150), 1.0, "meHoTen", 0.9)],
               "line": [Region("line", (202, 118, 321, 154), 1.0), Region("line", (319, 115, 400, 150), 1.0)]}
    got = _one_record(regions, {(202, 118): "Nguyễn Thị", (319, 115): "Thơm"})
    assert got["meHoTen"]["text"] == "Nguyễn Thị Thơm"
    # Lines of a value wrapped onto the next row stay row by row.
    rows = [Region("line", (10, 40, 60, 70), 1.0), Region("line", (10, 10, 200, 40), 1.0)]
    assert [r.bbox for r in _reading_order(rows)] == [(10, 10, 200, 40), (10, 40, 60, 70)]


def test_a_documents_number_left_blank_in_a_cell_naming_it_leaves_the_other_values_their_keys():
    from inference.headings import parse_heading
    from inference.pages import FieldResult, LineResult, PagePipeline

    keys = parse_heading("Giấy báo tử (loại, số, ngày, nơi cấp)", "khai_tu")
    assert keys.readings[0] == ("gbtLoai", "gbtSo", "gbtNgay", "gbtCoQuanCap")
    assert ("gbtLoai", "gbtNgay", "gbtCoQuanCap") in keys.readings
    assert all("gbtNgay" in r and "gbtCoQuanCap" in r for r in keys.readings)  # only the number may be missing

    def fields_of(texts):
        lines = [LineResult((10, 10 + 20 * i, 120, 28 + 20 * i), text, 0.9, 0.9) for i, text in enumerate(texts)]
        detected = [FieldResult("", ln.bbox, 0.5, 0.9, [ln]) for ln in lines]
        parent = {id(ln): f for ln, f in zip(lines, detected)}
        fields, reading, _ = PagePipeline._best_reading(keys, detected, lines, parent, {}, "khai_tu")
        return [(key, f.text) for f, key in zip(fields, reading)]

    assert fields_of(["Giấy báo tử", "28-01-2002", "Bệnh", "viện Bạch Mai"]) == [
        ("gbtLoai", "Giấy báo tử"), ("gbtNgay", "28-01-2002"), ("gbtCoQuanCap", "Bệnh viện Bạch Mai")]
    assert fields_of(["Giấy báo tử", "475", "22/1/2002", "Bệnh viện Bạch Mai"]) == [
        ("gbtLoai", "Giấy báo tử"), ("gbtSo", "475"), ("gbtNgay", "22/1/2002"), ("gbtCoQuanCap", "Bệnh viện Bạch Mai")]


def test_two_stacked_residences_are_cut_where_each_reads_as_one_place():
    from inference.headings import parse_heading
    from inference.pages import FieldResult, LineResult, PagePipeline

    # "Nơi cư trú" over the recognising parent's residence and the child's, two lines each; the detector cut
    # them one line over three.
    keys = parse_heading("Nơi cư trú", "nhan_cha_me_con")
    texts = ["thôn 3, Xã Hưng Huy,", "Huyện Đông Anh", "thôn Đình Ninh, Xã Mỹ", "Hưng, Huyện Hợp An"]
    lines = [LineResult((10, 10 + 20 * i, 160, 28 + 20 * i), text, 0.9, 0.9) for i, text in enumerate(texts)]
    detected = [FieldResult("cmNoiCuTru", lines[0].bbox, 0.5, 0.9, lines[:1]),
                FieldResult("ncNoiCuTru", (10, 30, 160, 88), 0.5, 0.9, lines[1:])]
    parent = {id(ln): detected[min(i, 1)] for i, ln in enumerate(lines)}
    fields, reading, _ = PagePipeline._best_reading(keys, detected, lines, parent, {}, "nhan_cha_me_con")
    assert [(key, f.text) for f, key in zip(fields, reading)] == [
        ("cmNoiCuTru", "thôn 3, Xã Hưng Huy, Huyện Đông Anh"),
        ("ncNoiCuTru", "thôn Đình Ninh, Xã Mỹ Hưng, Huyện Hợp An")]


def test_a_date_with_the_next_values_words_after_it_is_cut_where_the_date_ends():
    from inference.headings import parse_heading
    from inference.pages import MIN_READS_AS, FieldResult, LineResult, PagePipeline, _reads_as

    assert _reads_as("khai_sinh", "nksNgaySinh", "21-8-1995 Bệnh viện Phụ sản") == pytest.approx(np.log(MIN_READS_AS))
    assert _reads_as("khai_sinh", "nksNgaySinh", "ngày 2 tháng 3 năm 1990 Nam") == pytest.approx(np.log(0.5))
    assert _reads_as("khai_sinh", "ngayDangKy", "1989 26/10/1989") == pytest.approx(np.log(MIN_READS_AS))
    assert _reads_as("khai_sinh", "ngayDangKy", "ngày 26/10/1989") == 0.0
    # ... and a place or an authority holding a whole date has the date column's value in it.
    for key, text in (("voNoiCapGiayToTuyThan", "15/12/2012 Công an tỉnh Hải Dương"), ("voNoiCuTru", "3.4.16 Hà Nội")):
        assert _reads_as("ket_hon", key, text) == pytest.approx(np.log(MIN_READS_AS))
    for text in ("số 28/20 đường Lê Duẩn", "Tổ 6, Thành phố Yên Bái", "Công an tỉnh Hải Dương"):
        assert _reads_as("ket_hon", "voNoiCuTru", text) == 0.0
    # ... and a document's type holding digits, its number.
    assert _reads_as("khai_tu", "gbtLoai", "Giấy báo tử 254/1969") == pytest.approx(np.log(MIN_READS_AS))
    assert _reads_as("khai_tu", "gbtLoai", "Giấy báo tử") == 0.0
    assert _reads_as("ket_hon", "voLoaiGiayToTuyThan", "CMND") == 0.0
    keys = parse_heading("Ngày sinh, nơi sinh", "khai_sinh")
    lines = [LineResult((10, 10, 200, 28), "21-8-1995 Bệnh viện Phụ sản", 0.9, 0.9),
             LineResult((10, 30, 120, 48), "Cần Thơ", 0.9, 0.9)]
    detected = [FieldResult("nksNgaySinh", lines[0].bbox, 0.5, 0.9, lines[:1]),
                FieldResult("nksNoiSinh", lines[1].bbox, 0.5, 0.9, lines[1:])]
    parent = {id(ln): f for ln, f in zip(lines, detected)}
    fields, reading, _ = PagePipeline._best_reading(keys, detected, lines, parent, {}, "khai_sinh")
    assert [(key, f.text) for f, key in zip(fields, reading)] == [("nksNgaySinh", "21-8-1995"),
                                                                  ("nksNoiSinh", "Bệnh viện Phụ sản Cần Thơ")]


def test_a_value_under_no_heading_that_is_no_value_of_the_detectors_key_takes_the_key_it_reads_as():
    from inference.pages import FieldResult, LineResult, _split_by_line_keys

    keys = ["nksNgaySinh", "nksNgaySinhBangChu", "nksNoiSinh"]

    def field(text, probs):
        line = LineResult((10, 10, 100, 28), text, 0.9, 0.9, np.array(probs))
        return FieldResult(keys[int(np.argmax(probs))], line.bbox, max(probs), 0.9, [line],
                           key_probs=np.array(probs))

    # The date in figures where the detector saw the date in words (a heading it could not read above them).
    (got,) = _split_by_line_keys(f := field("17-1-2015", [0.35, 0.55, 0.1]), f.lines, keys, "khai_sinh")
    assert (got.key, got.key_score) == ("nksNgaySinh", 0.35)
    # Words stay the date in words; a value that reads as its key keeps it.
    for text, probs in (("Ngày hai mươi tư tháng hai năm hai nghìn không trăm mười lăm", [0.35, 0.55, 0.1]),
                        ("17-1-2015", [0.55, 0.35, 0.1])):
        (got,) = _split_by_line_keys(f := field(text, probs), f.lines, keys, "khai_sinh")
        assert got is f


def test_a_names_last_word_on_the_relationships_line_stays_with_the_name():
    from inference.headings import parse_heading
    from inference.pages import MIN_READS_AS, FieldResult, LineResult, PagePipeline, _reads_as

    for text in ("Chính, Cháu", "DẦN Con trai", "Cha Trần Thị Nhi"):
        assert _reads_as("khai_tu", "nycQuanHe", text) == pytest.approx(np.log(MIN_READS_AS)), text
    for text in ("Cháu", "Con trai", "Mẹ đẻ", "Con nuôi", "ba ngoại"):
        assert _reads_as("khai_tu", "nycQuanHe", text) > np.log(MIN_READS_AS), text
    keys = parse_heading("Người đi khai (họ tên, quan hệ)", "khai_tu")
    lines = [LineResult((10, 10, 200, 28), "Phạm Văn", 0.9, 0.9),
             LineResult((10, 30, 200, 48), "Chính, Cháu", 0.9, 0.9)]
    detected = [FieldResult("nycHoTen", (10, 10, 200, 48), 0.5, 0.9, lines)]
    parent = {id(ln): detected[0] for ln in lines}
    fields, reading, _ = PagePipeline._best_reading(keys, detected, lines, parent, {}, "khai_tu")
    assert [(key, f.text) for f, key in zip(fields, reading)] == [("nycHoTen", "Phạm Văn Chính"), ("nycQuanHe", "Cháu")]


def test_the_pieces_of_one_value_stacked_in_a_column_become_one_field():
    from inference.pages import FieldResult, LineResult, _join_pieces

    def field(key, box, text, source="heading"):
        return FieldResult(key, box, 0.9, 0.8, [LineResult(box, text, 0.9)], key_source=source)

    first, second = field("nycHoTen", (824, 706, 936, 735), "LƯU DOÃN"), field("nycHoTen", (825, 737, 888, 758), "MINH")
    second.key_score = 0.6
    (joined,) = _join_pieces([first, second])
    assert (joined.key, joined.text, joined.bbox, joined.key_score) == ("nycHoTen", "LƯU DOÃN MINH",
                                                                        (824, 706, 936, 758), 0.6)
    # Not two columns' values of one key (a column the headings did not name, keyed by the detector), nor a
    # piece far below, nor other keys.
    apart = [field("cmNoiCuTru", (583, 261, 723, 290), "thôn 3, Xã Kỳ Thượng"),
             field("cmNoiCuTru", (281, 298, 391, 334), "Lê Bảo Hương", "detector")]
    assert _join_pieces(apart) == apart
    far = [field("nycHoTen", (824, 706, 936, 735), "LƯU DOÃN"), field("nycHoTen", (825, 800, 888, 821), "MINH")]
    assert _join_pieces(far) == far
    other = [first, field("nycQuanHe", (825, 737, 888, 758), "Cha")]
    assert _join_pieces(other) == other


def test_a_nationality_read_as_none_is_read_again_as_the_likeliest_nationality(monkeypatch):
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    # "Việt Nam" over two lines, the first misread "Con": on its crop "Con" scores a little better than "Việt".
    scored_by(monkeypatch, {"Con": -0.5, "Việt": -1.2, "Nam": -0.1})
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", (100, 110, 200, 175), 1.0, "nksQuocTich", 0.9)],
               "line": [Region("line", (100, 110, 160, 130), 1.0), Region("line", (100, 150, 160, 170), 1.0)]}
    texts = {(100, 110): "Con", (100, 150): "Nam"}
    got = _one_record(regions, texts, 0.5)["nksQuocTich"]
    assert (got["text"], got["read_text"]) == ("Việt Nam", "Con Nam") and "nationality_read_again" in got["flags"]
    assert got["value"] == "Việt Nam" and "nationality_unknown" not in got["flags"]
    # Scored on the line's box grown above and below ("Việt" stacks marks over and under its "ê").
    import inference.pages as pages
    from data.pages.lines import crop_line
    from inference.pages import FIELD_LINE_PAD, SHORT_WORD_TALLER

    heights: set[int] = set()

    def scored(reader, images, readings):
        heights.update(images[j].shape[0] for j, _ in readings)
        return np.asarray([{"Con": -0.5, "Việt": -1.2}.get(text, -30.0) for _, text in readings])

    monkeypatch.setattr(pages, "reading_log_probs", scored)
    assert _one_record(regions, texts, 0.5)["nksQuocTich"]["text"] == "Việt Nam"
    grow = SHORT_WORD_TALLER * 20
    page = Image.new("RGB", (600, 300), "white")
    assert heights == {crop_line(page, (100, 110 - grow, 160, 130 + grow), FIELD_LINE_PAD).height}
    scored_by(monkeypatch, {"Con": -0.5, "Việt": -1.2, "Nam": -0.1})
    # Turned off, or a line the recognizer was sure of: as read.
    for options, confidence in (({"nationality_prior": 0.0}, 0.5), ({}, 0.95)):
        got = _one_record(regions, texts, confidence, **options)["nksQuocTich"]
        assert got["text"] == "Con Nam" and "read_text" not in got and "nationality_unknown" in got["flags"]
    # A nationality read as one stays as read, even where another scores better on the crop.
    scored_by(monkeypatch, {"Lào": -0.5, "Việt Nam": -0.1})
    one_line = {**regions, "line": [Region("line", (100, 110, 160, 130), 1.0)]}
    assert _one_record(one_line, {(100, 110): "Lào"})["nksQuocTich"]["text"] == "Lào"
    with pytest.raises(ValueError, match="nationality_prior"):
        PagePipeline(None, ScoringReader(), nationality_prior=-1.0)


def _gender_after_date(date_text, piece_text="Nữ", piece_confidence=0.95) -> tuple[dict, list]:
    """The death record of a page whose one line (x 85-250) holds a date's ink (three strokes to x 200, a
    gap) and a short word after it (x 210-235), the line read ``date_text``, any shorter crop ending at its
    end read as ``piece_text`` where it starts after the gap (else "26 Nữ"); with the boxes of the crops
    read."""
    from inference.pages import PagePipeline
    from models.detection.layout import Region

    page = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(page)
    for x0, x1 in ((100, 130), (133, 160), (163, 200), (210, 235)):
        draw.rectangle((x0, 112, x1, 128), fill=(20, 20, 20))
    line = (85, 105, 250, 135)
    regions = {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
               "field": [Region("field", line, 1.0, "nktNgaySinh", 0.9),
                         Region("field", (300, 110, 440, 130), 1.0, "nktHoTen", 0.9)],
               "line": [Region("line", line, 1.0), Region("line", (300, 110, 440, 130), 1.0)]}
    read_boxes = []

    def read(work, lines, **_):
        for ln in lines:
            read_boxes.append(tuple(ln.bbox))
            if ln.bbox[0] == 300:
                ln.text, ln.confidence = "Lê Thị Hoa", 0.9
            elif ln.bbox[0] == 85:
                ln.text, ln.confidence = date_text, 0.9
            else:
                ln.text, ln.confidence = (piece_text, piece_confidence) if ln.bbox[0] > 205 else ("26 Nữ", 0.9)

    pipeline = PagePipeline(None, ScoringReader(), deskew=False, review_threshold=0.0)
    pipeline.detect = lambda image: (regions, image, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0)
    pipeline.heading_cells = lambda work, found: []
    pipeline.recognize_lines = read
    (record,) = pipeline(page, book="khai_tu")["records"]
    return {f["key"]: f for f in record["fields"]}, read_boxes


def test_a_gender_left_out_of_its_dates_reading_is_read_from_the_lines_last_pieces():
    """"11/09/1926 Nữ" read "11/09/1926": the pieces ending the line's ink 0.5 to 2.5 line heights long (from
    x 163 and from x 210) are read alone, and the one read as a gender becomes the gender field; the date's
    line ends where that piece's gap starts, and is read again."""
    fields, read_boxes = _gender_after_date("11/09/1926")
    gender, born = fields["nktGioiTinh"], fields["nktNgaySinh"]
    assert gender["text"] == "Nữ" and "gender_read_beside_date" in gender["flags"]
    assert gender["bbox"][0] == 210 and gender["bbox"][2] == 236
    assert born["value"] == "1926-09-11" and born["bbox"][2] == 201
    assert sorted(round(box[0]) for box in read_boxes if box[0] not in (85, 300)) == [163, 210]
    assert (85, 105, 201, 135) in read_boxes  # the date read again without the gender's ink

    # A gender the line's reading holds is cut off it as before, and no piece is read; a piece read doubtfully,
    # or as no gender, is left alone.
    fields, read_boxes = _gender_after_date("11/09/1926 Nữ")
    assert fields["nktGioiTinh"]["text"] == "Nữ" and "gender_read_beside_date" not in fields["nktGioiTinh"]["flags"]
    assert {round(box[0]) for box in read_boxes} == {85, 300}
    for piece_text, confidence in (("Nữ", 0.3), ("26", 0.95)):
        fields, _ = _gender_after_date("11/09/1926", piece_text, confidence)
        assert "nktGioiTinh" not in fields and fields["nktNgaySinh"]["bbox"][2] == 250


def test_the_page_the_entry_numbers_give():
    from inference.pages import _page_from_entries

    # Entry 137 first on a page of 11 rows: page 13 (entries 133-143). Forms and one misread do not matter.
    assert _page_from_entries(["137", "138/2015", "Số 139", "", "14"], 11) == 13
    assert _page_from_entries(["1", "2", "3"], 8) == 1 and _page_from_entries(["9", "10", "11"], 8) == 2
    # Too few agree, most disagree, no first entry, or no rows: no page.
    assert _page_from_entries(["137", "138"], 11) is None
    assert _page_from_entries(["137", "138", "139", "9", "10", "11"], 11) is None
    assert _page_from_entries(["0", "1", "2"], 8) is None and _page_from_entries(["5", "6", "7"], 0) is None


def _four_row_table() -> Image.Image:
    """A 600 x 300 page whose ruled table has a heading row (y 60-100) and four rows 40 px tall (to y 260)."""
    page = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(page)
    for y in (60, 100, 140, 180, 220, 260):
        draw.line((30, y, 570, y), fill=(20, 20, 20), width=2)
    for x in (30, 80, 350, 570):
        draw.line((x, 60, x, 260), fill=(20, 20, 20), width=2)
    return page


def test_a_page_number_the_entry_numbers_contradict_is_read_again_as_their_page(monkeypatch):
    """"11" read "1" (its first "1" one thin stroke) on a page of four ruled rows, the last blank and the others
    numbered 41-43, which put it on page 11: "11" scores 1.5 nats below "1" on the crop, and with the entries'
    3 nats it stands. A page scoring far worse, entry numbers that do not agree, no table rule to count the
    rows by, or the step turned off, leave the page number as read."""
    from models.detection.layout import Region

    ruled = _four_row_table()
    rows = [(0, 100 + 40 * i, 600, 140 + 40 * i) for i in range(3)]  # the blank fourth row is not found
    fields = [Region("field", (400, 10, 440, 40), 1.0, "trangSo", 0.9)]
    for x0, y0, x1, y1 in rows:
        fields += [Region("field", (10, y0 + 10, 60, y1 - 10), 1.0, "so", 0.9),
                   Region("field", (100, y0 + 10, 300, y1 - 10), 1.0, "nksHoTen", 0.9)]
    found = {"entry": [Region("entry", row, 1.0) for row in rows], "field": fields, "line": []}

    def pages(line_scores, numbers=("41", "42", "43"), page=ruled, **options):
        asked = scored_by(monkeypatch, line_scores)
        texts = {(400, 10): "1"} | {(10, 110 + 40 * i): n for i, n in enumerate(numbers)} | {
            (100, 110 + 40 * i): "Lê Văn An" for i in range(3)}
        records = _page_records(found, lambda line: texts[(int(line.bbox[0]), int(line.bbox[1]))], page=page,
                                header_crop_reads=False, **options)
        return [{f["key"]: f for f in r["fields"]}["trangSo"] for r in records], asked

    got, asked = pages({"1": -0.5, "11": -2.0})
    assert {f["text"] for f in got} == {"11"} and {f["read_text"] for f in got} == {"1"}
    assert all("page_number_from_entries" in f["flags"] for f in got) and asked == ["1", "11"]
    for line_scores, numbers, page, options in (
            ({"1": -0.5, "11": -5.0}, ("41", "42", "43"), ruled, {}),
            ({"1": -0.5, "11": -2.0}, ("41", "9", "12"), ruled, {}),
            ({"1": -0.5, "11": -2.0}, ("41", "42", "43"), None, {}),
            ({"1": -0.5, "11": -2.0}, ("41", "42", "43"), ruled, {"page_from_entries_prior": 0})):
        got, _ = pages(line_scores, numbers, page, **options)
        assert {f["text"] for f in got} == {"1"} and not any("read_text" in f for f in got)
    # Where the header gave no page number at all, the entries' page is given, unread: no box, no confidence.
    del fields[0]
    (got, *_), _ = pages({})
    assert (got["text"], got["confidence"], got["bbox"]) == ("11", 0.0, None) and "read_text" not in got
    assert "page_number_not_read" in got["flags"]


def test_a_tables_rows_are_counted_down_to_its_bottom_rule():
    from inference.layout import table_bottoms
    from inference.pages import _rows_of_table

    bottoms = table_bottoms(_four_row_table())
    found = [(0, 102 + 40 * i, 600, 138 + 40 * i) for i in range(3)] + [(300, 255, 600, 262)]  # and a sliver
    assert _rows_of_table(bottoms, found) == 4  # the blank row at the foot counts
    assert _rows_of_table(bottoms, found[:1]) is None  # no row pitch
    assert _rows_of_table(bottoms, [(0, 102, 600, 138), (0, 162, 600, 198)]) is None  # 2.6 rows: no whole number
    assert _rows_of_table([], found) is None  # no bottom rule


def _short_word_beside_a_name(key: str) -> dict:
    """A detector's answer for one entry: a short word's field ``key`` (x 100-160) beside the child's name."""
    from models.detection.layout import Region

    return {"entry": [Region("entry", (0, 100, 600, 190), 1.0)],
            "field": [Region("field", (100, 110, 160, 130), 1.0, key, 0.9),
                      Region("field", (300, 110, 500, 130), 1.0, "nksHoTen", 0.9)],
            "line": []}


def test_a_gender_read_as_none_is_read_again_as_the_likeliest_gender(monkeypatch):
    from inference.pages import GENDER_READINGS, PagePipeline

    # "nữ" of a few strokes read "194": on its crop "nữ" scores 1 nat below, and a gender is worth 2.
    asked = scored_by(monkeypatch, {"194": -0.5, "nữ": -1.5, "Nữ": -3.0})
    regions = _short_word_beside_a_name("nksGioiTinh")
    texts = {(100, 110): "194", (300, 110): "Lê Thị Hoa"}
    got = _one_record(regions, texts, 0.5)["nksGioiTinh"]
    assert (got["text"], got["read_text"]) == ("nữ", "194") and "gender_read_again" in got["flags"]
    assert set(asked) == {"194", *GENDER_READINGS}
    # Turned off, worth less than the crop's nats, or a gender read as one: as read.
    got = _one_record(regions, texts, 0.5, gender_prior=0.0)["nksGioiTinh"]
    assert got["text"] == "194" and "read_text" not in got
    scored_by(monkeypatch, {"194": -0.5, "nữ": -4.0})
    assert _one_record(regions, texts, 0.5)["nksGioiTinh"]["text"] == "194"
    scored_by(monkeypatch, {"Nam": -0.5, "nữ": -0.1})
    assert _one_record(regions, {**texts, (100, 110): "Nam"}, 0.5)["nksGioiTinh"]["text"] == "Nam"
    with pytest.raises(ValueError, match="gender_prior"):
        PagePipeline(None, ScoringReader(), gender_prior=-1.0)


def test_an_ethnicity_read_near_none_of_the_list_is_read_again_as_the_likeliest_group(monkeypatch):

    # "Tày" read "Tài" (only near a listed name): on its crop "Tày" scores 1 nat below, and a listed name is
    # worth 2; the spellings the list holds ("Hmông") are offered too.
    asked = scored_by(monkeypatch, {"Tài": -0.5, "Tày": -1.5})
    regions = _short_word_beside_a_name("nksDanToc")
    texts = {(100, 110): "Tài", (300, 110): "Lê Thị Hoa"}
    got = _one_record(regions, texts, 0.5)["nksDanToc"]
    assert (got["text"], got["read_text"]) == ("Tày", "Tài") and "ethnicity_read_again" in got["flags"]
    assert {"Kinh", "Mường", "Hmông", "H'Mông"} <= set(asked)
    # Turned off, a listed name read as one, or one near a single listed name ("Tây," is "Tày"): as read.
    assert _one_record(regions, texts, 0.5, ethnicity_prior=0.0)["nksDanToc"]["text"] == "Tài"
    for read in ("kinh", "Tây,"):
        asked = scored_by(monkeypatch, {read: -0.5, "Thái": -0.1})
        assert _one_record(regions, {**texts, (100, 110): read}, 0.5)["nksDanToc"]["text"] == read and not asked
