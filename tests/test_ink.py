"""VNOnDB ink: InkML reading, corpus, rendering, composition and the writer split.

Everything except the ``shared`` tests runs on the two hand-made fixtures in ``tests/fixtures``.
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from data.charset import nfc
from data.ink import (
    InkComposer,
    InkStyle,
    corpus_from_files,
    load_corpus,
    load_writer_split,
    read_inkml,
    render_line,
    render_strokes,
    split_writers,
)
from data.settings import shared_dir

FIXTURES = Path(__file__).parent / "fixtures"
DOC1 = FIXTURES / "20240101_0999_T1.inkml"
DOC2 = FIXTURES / "20240102_0998_T2.inkml"
SPLIT_FILE = Path(__file__).resolve().parents[1] / "data" / "splits" / "vnondb_writers.json"
VNONDB = shared_dir() / "datasets" / "vnondb-ink"
needs_vnondb = pytest.mark.skipif(not VNONDB.exists(), reason=f"{VNONDB} absent")


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_files([DOC1, DOC2])


@pytest.fixture(scope="module")
def composer(corpus):
    return InkComposer(corpus)


# ------------------------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("compressed", [False, True])
def test_read_fixture_plain_and_gzip(tmp_path, compressed):
    path = DOC1
    if compressed:
        path = tmp_path / (DOC1.name + ".gz")
        path.write_bytes(gzip.compress(DOC1.read_bytes()))
    doc = read_inkml(path)
    assert doc.writer.id == "id_0999"
    assert (doc.writer.gender, doc.writer.age, doc.writer.dominant_hand) == ("Female", 30, "Right")
    assert doc.text_id == "T1" and doc.part is None and doc.date == "20240101"
    assert [w.text for w in doc.words][:3] == ["xin", "chào", "bạn"]
    assert all(w.text == nfc(w.text) for w in doc.words)
    chao = doc.words[1]
    assert len(chao.strokes) == 2 and chao.strokes[0].dtype == np.float32 and chao.strokes[0].shape[1] == 2
    assert chao.strokes[0][0].tolist() == [370.0, 400.0]
    assert (chao.paragraph, chao.line, chao.index) == (0, 0, 1)


def test_lines_rebuilt_in_word_order():
    # The fixture stores line 1's word groups in reverse order (tg_0_1_2, tg_0_1_1, tg_0_1_0).
    lines = read_inkml(DOC1).lines()
    assert [ln.text for ln in lines] == ["xin chào bạn", "Hà Nội chào"]
    assert [w.index for w in lines[1].words] == [0, 1, 2]
    assert lines[1].writer_id == "id_0999" and lines[1].text_id == "T1" and not lines[1].normalized


def test_file_name_with_part(tmp_path):
    path = tmp_path / "20160512_0130_9539_2.inkml"
    shutil.copy(DOC1, path)
    doc = read_inkml(path)
    assert (doc.writer.id, doc.text_id, doc.part) == ("id_0130", "9539", 2)
    assert doc.writer.header_id == "id_0999"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.replace("</ink>", ""), "not well-formed XML"),
        (lambda s: s.replace('id="tg_0_0_1"', 'id="word7"'), "is not tg_P_L_W"),
        (lambda s: s.replace("370 400 ,380 300", "370 400 ,380 abc"), "not a list of 'x y' points"),
        (lambda s: s.replace("<Tg_Truth>xin</Tg_Truth>", ""), "no <Tg_Truth>"),
    ],
)
def test_malformed_file_names_file_and_problem(tmp_path, mutate, message):
    bad = tmp_path / DOC1.name
    bad.write_text(mutate(DOC1.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError) as err:
        read_inkml(bad)
    assert str(bad) in str(err.value) and message in str(err.value)


def test_truncated_gzip_is_a_value_error(tmp_path):
    bad = tmp_path / (DOC1.name + ".gz")
    bad.write_bytes(gzip.compress(DOC1.read_bytes())[:200])
    with pytest.raises(ValueError, match=str(bad.name)):
        read_inkml(bad)


# ------------------------------------------------------------------------------------------------- corpus
def test_corpus_indexes_and_stats(corpus):
    st = corpus.stats()
    assert st["files"] == 2 and st["writers"] == 2 and st["words"] == 9 and st["lines"] == 3
    assert st["stored_points"] < st["raw_points"]  # duplicates dropped
    assert corpus.text_ids() == {"id_0999": ["T1"], "id_0998": ["T2"]}
    assert len(corpus.words_for("chào")) == 2
    assert len(corpus.words_for("chào", "id_0998")) == 0
    assert [ln.text for ln in corpus.lines(["id_0998"])] == ["mẹ đi chợ"]
    assert all(ln.normalized for ln in corpus.lines())
    word = corpus.words_for("mẹ")[0]
    assert word.pressure is not None and len(word.pressure) == len(word.strokes) == 3
    assert all(len(s) >= 2 for s in word.strokes)  # dots became tiny segments
    assert corpus.subset(["id_0998"]).writer_ids == ["id_0998"]
    assert corpus.lines()[0].writer == "id_0999"


# ---------------------------------------------------------------------------------------------- rendering
def _check_mask(mask, height):
    assert mask.dtype == np.float32 and mask.ndim == 2 and mask.shape[0] == height and mask.shape[1] > 4
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert (mask > 0.25).sum() > 20  # thin pens at small heights are drawn faint


@pytest.mark.parametrize("height", [32, 64, 128])
def test_render_strokes_and_lines(corpus, height):
    rng = np.random.default_rng(0)
    doc = read_inkml(DOC1)
    _check_mask(render_strokes(doc.words[1].strokes, height, InkStyle(), rng), height)
    _check_mask(render_line(doc.lines()[0], height, InkStyle.sample(rng), rng), height)  # raw line
    _check_mask(render_line(corpus.lines()[0], height, InkStyle.sample(rng), rng), height)  # corpus line


def test_style_sample_is_plausible():
    rng = np.random.default_rng(1)
    styles = [InkStyle.sample(rng) for _ in range(200)]
    assert {s.colour for s in styles} == {"blue", "black"}
    for s in styles:
        assert 0.34 <= s.x_height <= 0.46 and 0.08 <= s.pen_width <= 0.22 and len(s.rgb) == 3
        if s.colour == "blue":
            assert s.rgb[2] > s.rgb[0]


def test_thicker_pen_means_more_ink():
    strokes = read_inkml(DOC1).words[0].strokes
    thin = render_strokes(strokes, 64, InkStyle(pen_width=0.06, thickness_variation=0), np.random.default_rng(0))
    thick = render_strokes(strokes, 64, InkStyle(pen_width=0.2, thickness_variation=0), np.random.default_rng(0))
    assert thick.sum() > 1.5 * thin.sum()


# ---------------------------------------------------------------------------------------------- composer
def test_composer_sources(composer):
    mask, info = composer.compose("chào mẹ 12/5", "id_0999", 64, np.random.default_rng(0))
    _check_mask(mask, 64)
    assert info["pieces"] == [("chào", "writer"), ("mẹ", "other"), ("12", "font"), ("/", "drawn"), ("5", "font")]
    assert info["chars"] == 10
    assert info["writer"] == pytest.approx(0.4) and info["other"] == pytest.approx(0.2)
    assert info["font"] == pytest.approx(0.3) and info["drawn"] == pytest.approx(0.1)
    assert info["font_file"] is not None and isinstance(info["style"], InkStyle)


def test_composer_glues_pieces(composer):
    # "chàoxin," is no ink word: it is built from two ink words and a drawn comma.
    assert [(p.text, p.kind) for p in composer.plan("chàoxin,", "id_0998")] == [
        ("chào", "ink"), ("xin", "ink"), (",", "drawn")]
    assert [(p.text, p.kind) for p in composer.plan("Q9", "id_0998")] == [("Q9", "font")]


def test_composer_is_deterministic(composer):
    a = composer.compose("xin chào Hà Nội 2024", "id_0998", 48, np.random.default_rng(7))
    b = composer.compose("xin chào Hà Nội 2024", "id_0998", 48, np.random.default_rng(7))
    c = composer.compose("xin chào Hà Nội 2024", "id_0998", 48, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and a[1]["pieces"] == b[1]["pieces"] and a[1]["style"] == b[1]["style"]
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_composer_restricted_to_writers(corpus):
    only = InkComposer(corpus, writers=["id_0999"])
    assert only.corpus.writer_ids == ["id_0999"]
    _, info = only.compose("chào mẹ", "id_0999", 48, np.random.default_rng(0))
    assert info["other"] == 0.0  # "mẹ" (written by id_0998 only) falls back to pieces or fonts
    with pytest.raises(KeyError):
        only.compose("chào", "id_0998", 48, np.random.default_rng(0))


def test_composer_empty_and_unknown_writer(composer):
    mask, info = composer.compose("", "id_0999", 32, np.random.default_rng(0))
    assert mask.shape[0] == 32 and info["chars"] == 0
    with pytest.raises(KeyError):
        composer.compose("xin", "id_nobody", 32, np.random.default_rng(0))


def _ink_rows(mask):
    """Height of the inked rows of a mask (first to last row holding ink), in pixels."""
    rows = np.flatnonzero(mask.max(1) > 0.3)
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _ink_heights(composer, text, writer, height=48, seeds=range(12)):
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        out.append(_ink_rows(composer.compose(text, writer, height, rng, style=InkStyle.sample(rng))[0]))
    return np.array(out, float)


def _word_strokes(x0, top, bottom):
    """A stand-in word in x-height units: an x-height zig-zag, one stroke up to ``top`` and one down to
    ``bottom`` (baseline at +0.5)."""
    zig = np.array([[x0 + 0.25 * i, 0.5 if i % 2 else -0.5] for i in range(8)], np.float32)
    return [zig, np.array([[x0 + 0.3, top], [x0 + 0.3, 0.5]], np.float32),
            np.array([[x0 + 1.2, -0.5], [x0 + 1.2, bottom]], np.float32)]


def _rasterize_words(words, height=48, seed=0):
    from data.ink.render import _flatten, rasterize

    pts, starts, _ = _flatten([s for w in words for s in w], None)
    style = InkStyle.sample(np.random.default_rng(seed))
    return rasterize(pts, starts, None, height, style, np.random.default_rng(seed))


def test_one_word_is_written_as_large_as_a_line():
    # Ledgers are full of one-word fields ("Kinh", "Nam"): their writing must not shrink to a speck in a mask
    # sized for a line. "Kinh": a capital and an ascender, no descender; the line adds marks and descenders.
    for seed in range(20):
        one = _ink_rows(_rasterize_words([_word_strokes(0, -1.3, 0.5)], seed=seed))
        line = _ink_rows(_rasterize_words([_word_strokes(3 * i, -1.3 - 0.2 * i, 1.5 + 0.1 * i) for i in range(5)],
                                          seed=seed))
        assert 1 / 1.5 <= one / line <= 1.5, seed


def test_writing_fills_the_mask_height():
    # Capitals with stacked marks at the top, descenders at the bottom: the ink spans most of the mask, and
    # the x-height stays a sizeable part of it.
    for seed in range(20):
        for words in ([_word_strokes(0, -1.1, 1.3)], [_word_strokes(0, -1.8, 0.5), _word_strokes(3, -1.2, 1.6)]):
            assert _ink_rows(_rasterize_words(words, seed=seed)) >= 0.6 * 48, seed


# ------------------------------------------------------------------------------------------ real VNOnDB
@pytest.fixture(scope="module")
def real_composer():
    if not VNONDB.exists():
        pytest.skip(f"{VNONDB} absent")
    corpus = corpus_from_files(sorted((VNONDB / "words").glob("*.inkml.gz"))[:3])
    return InkComposer(corpus), corpus.writer_ids[0]


@pytest.mark.shared
@needs_vnondb
def test_real_one_word_field_and_line_sizes(real_composer):
    composer, writer = real_composer
    one = _ink_heights(composer, "Nam", writer)
    line = _ink_heights(composer, "Người Việt Nam không học", writer)
    assert 1 / 1.5 <= np.median(one) / np.median(line) <= 1.5
    assert one.min() >= 0.4 * 48
    # A line with capitals, stacked marks and descenders fills the mask.
    assert _ink_heights(composer, "Giang Hoàng người Quảng", writer).min() >= 0.6 * 48


@pytest.mark.shared
@needs_vnondb
def test_real_digits_are_single_ink_digits_at_ascender_height(real_composer):
    composer, writer = real_composer
    assert [(p.text, p.kind) for p in composer.plan("2,1")] == [("2", "ink"), (",", "drawn"), ("1", "ink")]
    assert all(len(p.text) == 1 for p in composer.plan("100"))  # never "100" ink, whose digits vary in size
    # A tall mask and a small x-height: no line is shrunk to fit, so pixels compare sizes directly.
    style = InkStyle(x_height=0.15, pen_width=0.1)
    for digits in ("1", "2", "3"):
        d = [_ink_rows(composer.compose(digits, writer, 240, np.random.default_rng(s), style)[0]) for s in range(8)]
        ascender = [_ink_rows(composer.compose("là", writer, 240, np.random.default_rng(s), style)[0])
                    for s in range(8)]
        assert 0.75 <= np.median(d) / np.median(ascender) <= 1.3, digits


@pytest.mark.shared
@needs_vnondb
def test_real_files_parse_and_compose():
    files = sorted((VNONDB / "words").glob("*.inkml.gz"))
    assert len(files) == 230
    corpus = corpus_from_files(files[:3])
    st = corpus.stats()
    assert st["words"] > 500 and 1.2 < st["line_units_per_x_height"] < 2.0
    writer = corpus.writer_ids[0]
    split_writer = load_writer_split(SPLIT_FILE)
    assert writer in split_writer.text_ids
    mask, info = InkComposer(corpus).compose("Số 253 đường Trần Phú, Hải Dương", writer, 64,
                                             np.random.default_rng(0))
    _check_mask(mask, 64)
    assert info["writer"] + info["other"] > 0.5


@pytest.mark.shared
@pytest.mark.slow
@needs_vnondb
def test_full_corpus_split_and_ledger_text():
    """Parses all of VNOnDB on the first run (about 25 s), then reads the cache."""
    corpus = load_corpus(progress=False)
    st = corpus.stats()
    assert (st["files"], st["writers"], st["words"]) == (230, 178, 99937)
    split = load_writer_split(SPLIT_FILE)
    assert set(split.text_ids) == set(corpus.writer_ids)
    assert split.text_ids == corpus.text_ids()
    train = corpus.subset(split.train)
    assert set(train.writer_ids) == set(split.train)
    composer = InkComposer(train)
    rng = np.random.default_rng(0)
    chars = font = 0
    for text in ["Phường Bến Nghé, Quận 1, TP Hồ Chí Minh", "Huyện Quỳnh Phụ, tỉnh Thái Bình",
                 "Xã Tân Hòa, sinh ngày 12/05/1987"]:
        mask, info = composer.compose(text, split.train[int(rng.integers(len(split.train)))], 64, rng)
        _check_mask(mask, 64)
        chars += info["chars"]
        font += info["font"] * info["chars"]
    assert font / chars < 0.05  # capitals and digits come from ink (split-off first letters, digit words)
