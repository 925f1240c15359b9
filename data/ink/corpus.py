"""The parsed VNOnDB corpus: one compact cache, per-word size/baseline normalisation, word indexes.

Building (pass 1, per file, :func:`data.ink.normalize.process_words`) keeps simplified int16 points and a
uint8 pressure per point. Pass 2 (here, over all words, vectorised, run at every load because it is cheap)
turns line units into x-heights and corrects each word's size and vertical position for its content:

* ``K`` (line units per x-height) is calibrated on words made only of x-height letters ("ra", "xe", "mua"),
  whose bounding box is their x-height;
* a word's arc-length IQR depends on what it contains (ascenders, marks), so its expected IQR is learnt per
  text over all its instances; the ratio actual/expected says how much larger this instance was written than
  its line, and is applied partially (exponent ``SIZE_TRUST``);
* likewise the offset of a word's median y from the centre of its x-height band is learnt per text, so that
  every word gets its own x-height band centre (y = 0 in word-normalised coordinates): words of one writer,
  or of several writers, then share one baseline and one size when composed.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from data.ink.inkml import InkLine, InkWord, WriterInfo, read_inkml
from data.ink.normalize import (
    DEFAULT_K,
    FINE_STEP,
    MAX_SEGMENT,
    POINT_SCALE,
    TURN_BUDGET,
    group_quantile,
    process_words,
)
from data.settings import cache_dir, require_shared

CACHE_VERSION = 4  # bump whenever pass 1 (parsing, normalisation, simplification) changes
CORE_LETTERS = frozenset("acemnorsuvwxz")  # lowercase letters that stay inside the x-height band
SIZE_TRUST = 0.7  # how much of a word's measured size deviation from its line is believed
MIN_INSTANCES = 3  # instances of a text needed to learn its expected IQR / centre offset


def _letter_width(ch: str) -> float:
    """Rough handwritten width of a letter in x-heights (marks ignored)."""
    import unicodedata

    base = unicodedata.normalize("NFD", ch)[:1]
    if base in "iltjfrI1":
        return 0.45
    if base in "mwMW":
        return 1.45
    if base in "NHQKAXUVYDGOBĐ" or ch in "Đ":
        return 1.35
    if base.isupper():
        return 1.15
    return 0.9


_ARRAYS = (
    "points", "pressure", "stroke_len", "word_strokes", "word_text", "word_doc", "word_pos", "word_line",
    "word_x0", "word_width", "word_median", "word_iqr", "word_top", "word_bottom", "line_doc", "line_unit",
    "line_slant", "doc_writer",
)


@dataclass(frozen=True)
class InkDocumentInfo:
    file: str
    writer_id: str
    text_id: str
    part: int | None
    date: str
    n_words: int
    n_lines: int


def default_root() -> Path:
    return require_shared("datasets", "vnondb-ink", "words")


def _inkml_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.iterdir() if p.name.endswith((".inkml", ".inkml.gz")))
    if not files:
        raise FileNotFoundError(f"{root}: no *.inkml or *.inkml.gz files")
    return files


def cache_key(files: list[Path]) -> str:
    h = hashlib.sha1()
    h.update(f"v{CACHE_VERSION} {FINE_STEP} {TURN_BUDGET} {MAX_SEGMENT} {POINT_SCALE}\n".encode())
    for f in files:
        h.update(f"{f.name} {f.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def build_arrays(files: list[Path], progress: bool = True) -> dict[str, np.ndarray]:
    """Parse and pass-1 normalise ``files`` into the flat arrays the cache stores."""
    from tqdm import tqdm

    parts: dict[str, list] = {k: [] for k in _ARRAYS}
    vocab: dict[str, int] = {}
    writers: dict[str, dict] = {}
    docs: list[dict] = []
    n_lines = 0
    raw_points = 0
    for f in tqdm(files, desc="parsing VNOnDB ink", unit="file", disable=not progress):
        doc = read_inkml(f)
        ink = process_words(doc.words)
        raw_points += ink.raw_points
        if doc.writer.id not in writers:
            writers[doc.writer.id] = asdict(doc.writer)
        d = len(docs)
        docs.append({"file": f.name, "writer_id": doc.writer.id, "text_id": doc.text_id, "part": doc.part,
                     "date": doc.date, "n_words": len(ink.word_text), "n_lines": len(ink.line_unit)})
        parts["points"].append(ink.points)
        parts["pressure"].append(ink.pressure)
        parts["stroke_len"].append(ink.stroke_len)
        parts["word_strokes"].append(ink.word_strokes)
        parts["word_text"].append(np.array([vocab.setdefault(t, len(vocab)) for t in ink.word_text], np.int32))
        parts["word_doc"].append(np.full(len(ink.word_text), d, np.int32))
        parts["word_pos"].append(ink.word_pos)
        parts["word_line"].append(ink.word_line + n_lines)
        for k in ("word_x0", "word_width", "word_median", "word_iqr", "word_top", "word_bottom"):
            parts[k].append(getattr(ink, k))
        parts["line_doc"].append(np.full(len(ink.line_unit), d, np.int32))
        parts["line_unit"].append(ink.line_unit)
        parts["line_slant"].append(ink.line_slant)
        n_lines += len(ink.line_unit)
    writer_ids = list(writers)
    widx = {w: i for i, w in enumerate(writer_ids)}
    parts["doc_writer"] = [np.array([widx[d["writer_id"]] for d in docs], np.int32)]
    out = {k: np.concatenate(v) for k, v in parts.items()}
    meta = {"version": CACHE_VERSION, "vocab": list(vocab), "writers": [writers[w] for w in writer_ids],
            "docs": docs, "raw_points": raw_points}
    out["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
    return out


def load_corpus(root: Path | str | None = None, use_cache: bool = True, progress: bool = True) -> "InkCorpus":
    """Load VNOnDB ink, parsing it once into ``cache_dir()/vnondb-ink-<hash>.npz``.

    Args:
        root: folder of ``*.inkml[.gz]`` files; default ``shared/datasets/vnondb-ink/words``.
        use_cache: read/write the cache (keyed by the file names and sizes and the simplification settings).
        progress: show a tqdm bar while parsing.
    """
    root = Path(root) if root is not None else default_root()
    files = _inkml_files(root)
    path = cache_dir() / f"vnondb-ink-{cache_key(files)}.npz"
    t0 = time.perf_counter()
    arrays = None
    if use_cache and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            arrays = None  # a damaged cache is rebuilt
    from_cache = arrays is not None
    if arrays is None:
        arrays = build_arrays(files, progress)
        if use_cache:
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
    corpus = InkCorpus(arrays)
    corpus.load_info = {"cache": str(path) if use_cache else None, "from_cache": from_cache,
                        "cache_bytes": path.stat().st_size if use_cache and path.exists() else 0,
                        "seconds": round(time.perf_counter() - t0, 3)}
    return corpus


def corpus_from_files(files: list[Path | str]) -> "InkCorpus":
    """A corpus from explicit files, never cached (tests, small experiments)."""
    return InkCorpus(build_arrays([Path(f) for f in files], progress=False))


class InkCorpus:
    """Normalised VNOnDB word ink with writer metadata and indexes for composition.

    Coordinates: ``words_for`` and the composer use *word-normalised* strokes (left edge x = 0, y = 0 at the
    centre of the word's x-height band, one unit = its x-height, y down); ``lines`` gives words in *line*
    coordinates (x-height units of the line, x from the line's left edge, y from the line's x-height centre)
    so that the writer's real spacing and baseline drift are kept.
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        meta = json.loads(str(arrays["meta"]))
        self._a = {k: arrays[k] for k in _ARRAYS}
        a = self._a
        self.vocab: list[str] = meta["vocab"]
        self.writers: dict[str, WriterInfo] = {w["id"]: WriterInfo(**w) for w in meta["writers"]}
        self.writer_ids: list[str] = [w["id"] for w in meta["writers"]]
        self.documents: list[InkDocumentInfo] = [InkDocumentInfo(**d) for d in meta["docs"]]
        self.raw_points: int = meta.get("raw_points", 0)
        self.load_info: dict = {}
        self._widx = {w: i for i, w in enumerate(self.writer_ids)}
        self._tidx = {t: i for i, t in enumerate(self.vocab)}

        # Offsets into the flat arrays.
        self._stroke_start = np.concatenate([[0], np.cumsum(a["stroke_len"])]).astype(np.int64)
        self._word_stroke0 = np.concatenate([[0], np.cumsum(a["word_strokes"])]).astype(np.int64)
        self._word_pt0 = self._stroke_start[self._word_stroke0]
        starts = np.zeros(len(a["points"]), bool)
        starts[self._stroke_start[:-1]] = True
        self._is_start = starts
        self.word_writer = a["doc_writer"][a["word_doc"]]
        self._calibrate()
        self._build_indexes()

    # ----------------------------------------------------------------------------------------------- pass 2
    def _calibrate(self) -> None:
        a = self._a
        n_words = len(a["word_text"])
        n_texts = len(self.vocab)
        tid = a["word_text"]
        core = np.array([bool(t) and set(t) <= CORE_LETTERS for t in self.vocab], bool)[tid] if n_words else \
            np.zeros(0, bool)
        heights = a["word_bottom"] - a["word_top"]
        k = float(np.median(heights[core])) if core.sum() >= 20 else DEFAULT_K
        self.k_xheight = k
        counts = np.bincount(tid, minlength=n_texts)
        self.text_counts = counts
        known = counts[tid] >= MIN_INSTANCES
        # Expected IQR per text (x-height units) and this instance's size ratio.
        e_iqr = group_quantile(tid, a["word_iqr"] / k, None, 0.5, n_texts)
        ratio = np.where(known, (a["word_iqr"] / k) / np.maximum(e_iqr[tid], 1e-6), 1.0)
        ratio = np.clip(ratio, 0.6, 1.6) ** SIZE_TRUST
        xh = k * ratio  # the word's x-height in line units
        # Offset of the median from the x-height centre, per text; calibrated on x-height-only words.
        d = a["word_median"] / xh
        e_off = group_quantile(tid, d, None, 0.5, n_texts)
        fallback = float(np.median(d)) if n_words else 0.0
        off = np.where(known, e_off[tid], fallback)
        if core.sum() >= 20:
            centre_core = 0.5 * (a["word_top"] + a["word_bottom"])
            delta = float(np.median((a["word_median"][core] - centre_core[core]) / xh[core] - off[core]))
        else:
            delta = 0.0
        # Instances far from their text's typical shape (a tone mark added far away, a squeezed or sprawling
        # word) are kept in the corpus but not used for composition.
        top_n, bottom_n = a["word_top"] / xh, a["word_bottom"] / xh
        rel_w = a["word_width"] / xh
        rel_h = bottom_n - top_n
        med_w = group_quantile(tid, rel_w, None, 0.5, n_texts)[tid]
        med_h = group_quantile(tid, rel_h, None, 0.5, n_texts)[tid]
        typical = (np.abs(np.log(rel_w / np.maximum(med_w, 1e-6))) < np.log(1.35)) & \
            (np.abs(np.log(rel_h / np.maximum(med_h, 1e-6))) < np.log(1.4))
        self.word_typical = ~known | typical
        self.word_xh = xh.astype(np.float32)
        self.word_centre = (a["word_median"] - xh * (off + delta)).astype(np.float32)  # line units
        # Line centre (line units) = median over its words' centres.
        n_lines = len(a["line_unit"])
        self.line_centre = np.nan_to_num(group_quantile(a["word_line"], self.word_centre, None, 0.5, n_lines))

        # Writer features: width per character (x-heights), slant, inter-word gap (x-heights).
        n_w = len(self.writer_ids)
        wr = self.word_writer
        lens = np.array([len(t) for t in self.vocab], np.float32)[tid] if n_words else np.zeros(0, np.float32)
        ok = lens >= 3
        wpc = a["word_width"] / xh / np.maximum(lens, 1)
        self.writer_wpc = np.nan_to_num(group_quantile(wr[ok], wpc[ok], None, 0.5, n_w), nan=float(
            np.median(wpc[ok])) if ok.any() else 0.6)
        line_writer = a["doc_writer"][a["line_doc"]]
        self.writer_slant = np.nan_to_num(group_quantile(line_writer, a["line_slant"], None, 0.5, n_w))
        same_line = np.zeros(n_words, bool)
        if n_words > 1:
            same_line[1:] = a["word_line"][1:] == a["word_line"][:-1]
        gaps = np.zeros(n_words, np.float32)
        gaps[1:] = (a["word_x0"][1:] - a["word_x0"][:-1] - a["word_width"][:-1]) / k
        g_ok = same_line
        med_gap = float(np.median(gaps[g_ok])) if g_ok.any() else 0.9
        self.writer_gap = np.nan_to_num(group_quantile(wr[g_ok], gaps[g_ok], None, 0.5, n_w), nan=med_gap)
        self.writer_gap = np.clip(self.writer_gap, 0.35, 2.5)

    def _build_indexes(self) -> None:
        a = self._a
        tid = a["word_text"]
        order = np.argsort(tid, kind="stable")
        bounds = np.searchsorted(tid[order], np.arange(len(self.vocab) + 1))
        self._text_words = [order[bounds[i]:bounds[i + 1]] for i in range(len(self.vocab))]
        # Composition pools: typical instances, or every instance of a text that has no typical one.
        has_typical = np.bincount(tid, weights=self.word_typical, minlength=len(self.vocab)) > 0
        self.word_pool = self.word_typical | ~has_typical[tid]
        self._build_units()
        self.vocabulary = frozenset(t for t, n in zip(self.vocab, self.text_counts) if n)
        self.max_word_len = max((len(t) for t in self.vocab), default=1)
        # Writer similarity from (log width per char, slant).
        f = np.stack([np.log(np.maximum(self.writer_wpc, 1e-3)), self.writer_slant], 1)
        if len(f) > 1:
            f = (f - f.mean(0)) / np.maximum(f.std(0), 1e-6)
        d2 = ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1)
        self.writer_similarity = np.exp(-d2 / 2.0)

    def first_letter_strokes(self) -> np.ndarray:
        """Per word, how many of its first strokes (in writing order) form exactly its first letter: the
        strokes end left of everything written after them, and their width fits that letter for this writer
        (relative to the word and in x-heights). 0 when the first letter is joined to the next or unsure."""
        a = self._a
        n_words = len(a["word_text"])
        n_strokes = len(a["stroke_len"])
        out = np.zeros(n_words, np.int8)
        if n_strokes == 0:
            return out
        xs = a["points"][:, 0].astype(np.float32) / POINT_SCALE
        s0 = self._stroke_start[:-1]
        smin = np.minimum.reduceat(xs, s0)
        smax = np.maximum.reduceat(xs, s0)
        stroke_word = np.repeat(np.arange(n_words), a["word_strokes"])
        # Suffix minimum of stroke left edges within each word (restarting at word boundaries).
        big = float(np.abs(xs).max() + 10.0) * 4
        rg = (n_words - 1 - stroke_word)[::-1].astype(np.float64)
        suf = (np.minimum.accumulate(smin[::-1] - rg * big) + rg * big)[::-1]
        texts = self.vocab
        exp_ratio = np.array([_letter_width(t[0]) / sum(_letter_width(c) for c in t) if len(t) > 1 else 0.0
                              for t in texts], np.float32)[a["word_text"]]
        first_w = np.array([_letter_width(t[0]) if t else 0.0 for t in texts], np.float32)[a["word_text"]]
        w0 = self._word_stroke0
        nst = a["word_strokes"].astype(np.int64)
        width = a["word_width"]
        xh = self.word_xh
        exp_w = first_w * self.writer_wpc[self.word_writer] * xh
        tol = 0.08 * xh
        done = np.zeros(n_words, bool)
        right = np.full(n_words, -np.inf, np.float32)
        left = np.full(n_words, np.inf, np.float32)  # a later stroke (a T's bar) may reach left of the first
        for k in range(1, 4):
            has = (nst > k) & ~done
            idx = np.flatnonzero(has)
            right[idx] = np.maximum(right[idx], smax[w0[idx] + k - 1])
            left[idx] = np.minimum(left[idx], smin[w0[idx] + k - 1])
            rest = suf[w0[idx] + k]
            sep = rest >= right[idx] - tol[idx]
            gw = right[idx] - left[idx]
            r = gw / np.maximum(width[idx], 1e-6)
            ok = sep & (r >= 0.7 * exp_ratio[idx]) & (r <= 1.3 * exp_ratio[idx]) & \
                (gw >= 0.65 * exp_w[idx]) & (gw <= 1.35 * exp_w[idx])
            out[idx[ok]] = k
            done[idx[sep]] = True  # the first separable group decides, accepted or not
        return out

    def _build_units(self) -> None:
        """Composition units: whole pool words, plus first letters and remainders of pool words whose first
        letter stands apart (see :meth:`first_letter_strokes`)."""
        a = self._a
        pool = np.flatnonzero(self.word_pool)
        k = self.first_letter_strokes()
        split = pool[k[pool] > 0]
        cut = self._stroke_start[self._word_stroke0[split] + k[split]]
        texts = [self.vocab[t] for t in a["word_text"][split]]
        unit_vocab = list(self.vocab)
        uidx = dict(self._tidx)

        def tid_of(t: str) -> int:
            i = uidx.get(t)
            if i is None:
                i = uidx[t] = len(unit_vocab)
                unit_vocab.append(t)
            return i

        first_t = np.array([tid_of(t[0]) for t in texts], np.int64)
        rest_t = np.array([tid_of(t[1:]) for t in texts], np.int64)
        lo, hi = self._word_pt0[:-1], self._word_pt0[1:]
        self.unit_word = np.concatenate([pool, split, split])
        self.unit_lo = np.concatenate([lo[pool], lo[split], cut])
        self.unit_hi = np.concatenate([hi[pool], cut, hi[split]])
        self.unit_text = np.concatenate([a["word_text"][pool].astype(np.int64), first_t, rest_t])
        self.unit_kind = np.concatenate([np.zeros(len(pool), np.int8), np.ones(len(split), np.int8),
                                         np.full(len(split), 2, np.int8)])
        self.unit_vocab = unit_vocab
        present = set(self.unit_text.tolist())
        self._unit_tidx = {t: i for t, i in uidx.items() if i in present}
        self.first_letter_split_share = float(len(split) / max(len(pool), 1))
        nv = max(len(unit_vocab), 1)
        writer = self.word_writer[self.unit_word].astype(np.int64)
        key = writer * nv + self.unit_text
        order = np.argsort(key, kind="stable")
        ks = key[order]
        uniq, first = np.unique(ks, return_index=True)
        last = np.concatenate([first[1:], [len(ks)]])
        self._writer_text_units = {(int(u // nv), int(u % nv)): order[f:l_] for u, f, l_ in zip(uniq, first, last)}
        tw: list[list[int]] = [[] for _ in range(nv)]
        for u in uniq.tolist():
            tw[u % nv].append(u // nv)
        self._text_writers = [np.array(v, np.int64) for v in tw]
        self._unit_whole = frozenset(self.unit_text[self.unit_kind == 0].tolist())
        self.max_unit_len = max((len(t) for t in unit_vocab), default=1)

    def subset(self, writers: list[str] | set[str]) -> "InkCorpus":
        """The corpus restricted to ``writers`` (e.g. the training writers, so that composed training lines
        never contain validation writers' ink); calibration is redone on the subset."""
        keep_w = {self._widx[w] for w in writers if w in self._widx}
        a = self._a
        keep_doc = np.array([i in keep_w for i in a["doc_writer"].tolist()], bool)
        keep_word = keep_doc[a["word_doc"]]
        keep_stroke = np.repeat(keep_word, a["word_strokes"])
        keep_point = np.repeat(keep_stroke, a["stroke_len"])
        keep_line = keep_doc[a["line_doc"]]
        doc_map = np.cumsum(keep_doc) - 1
        line_map = np.cumsum(keep_line) - 1
        writer_keep = sorted(keep_w)
        writer_map = {old: new for new, old in enumerate(writer_keep)}
        out = {
            "points": a["points"][keep_point], "pressure": a["pressure"][keep_point],
            "stroke_len": a["stroke_len"][keep_stroke],
            "line_doc": doc_map[a["line_doc"][keep_line]].astype(np.int32),
            "line_unit": a["line_unit"][keep_line], "line_slant": a["line_slant"][keep_line],
            "doc_writer": np.array([writer_map[w] for w in a["doc_writer"][keep_doc].tolist()], np.int32),
            "word_doc": doc_map[a["word_doc"][keep_word]].astype(np.int32),
            "word_line": line_map[a["word_line"][keep_word]].astype(np.int32),
        }
        for k in ("word_strokes", "word_text", "word_pos", "word_x0", "word_width", "word_median", "word_iqr",
                  "word_top", "word_bottom"):
            out[k] = a[k][keep_word]
        meta = {"version": CACHE_VERSION, "vocab": self.vocab,
                "writers": [asdict(self.writers[self.writer_ids[i]]) for i in writer_keep],
                "docs": [asdict(d) for d, k in zip(self.documents, keep_doc) if k],
                "raw_points": 0}
        out["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
        return InkCorpus(out)

    # -------------------------------------------------------------------------------------- word access
    def word_index(self, text: str, writer_id: str | None = None) -> np.ndarray:
        """Indices of the instances of ``text`` (exact NFC), optionally by one writer."""
        t = self._tidx.get(text)
        if t is None:
            return np.zeros(0, np.int64)
        if writer_id is None:
            return self._text_words[t]
        words = self._text_words[t]
        return words[self.word_writer[words] == self._widx[writer_id]]

    def word_ink(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word ``i`` in word-normalised coordinates: ``points (N, 2) float32``, ``is_stroke_start (N,) bool``,
        ``pressure (N,) float32``."""
        lo, hi = self._word_pt0[i], self._word_pt0[i + 1]
        a = self._a
        pts = a["points"][lo:hi].astype(np.float32) * np.float32(1.0 / (POINT_SCALE * self.word_xh[i]))
        pts[:, 1] -= self.word_centre[i] / self.word_xh[i]
        return pts, self._is_start[lo:hi], a["pressure"][lo:hi].astype(np.float32) * np.float32(1 / 255)

    def _word(self, i: int, line_coords: bool) -> InkWord:
        a = self._a
        lo, hi = self._word_pt0[i], self._word_pt0[i + 1]
        pts = a["points"][lo:hi].astype(np.float32) / POINT_SCALE
        if line_coords:
            k = self.k_xheight
            pts[:, 0] += a["word_x0"][i]
            pts[:, 1] -= self.line_centre[a["word_line"][i]]
            pts /= k
        else:
            pts[:, 1] -= self.word_centre[i]
            pts /= self.word_xh[i]
        s0, s1 = self._word_stroke0[i], self._word_stroke0[i + 1]
        cuts = (self._stroke_start[s0 + 1:s1] - lo).tolist()
        pres = a["pressure"][lo:hi].astype(np.float32) / 255
        p_, l_, w_ = (int(v) for v in a["word_pos"][i])
        return InkWord(self.vocab[a["word_text"][i]], np.split(pts, cuts), p_, l_, w_, np.split(pres, cuts))

    def words_for(self, text: str, writer_id: str | None = None) -> list[InkWord]:
        """All instances of ``text`` (exact NFC), word-normalised (see the class doc)."""
        return [self._word(int(i), False) for i in self.word_index(text, writer_id)]

    def lines(self, writers: list[str] | set[str] | None = None) -> list[InkLine]:
        """Real lines in line coordinates, optionally only of ``writers``."""
        a = self._a
        keep = None if writers is None else {self._widx[w] for w in writers if w in self._widx}
        out = []
        wl = a["word_line"]
        bounds = np.flatnonzero(np.diff(wl)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(wl)]])
        for s, e in zip(starts, ends):
            d = a["word_doc"][s]
            if keep is not None and a["doc_writer"][d] not in keep:
                continue
            doc = self.documents[d]
            words = [self._word(i, True) for i in range(s, e)]
            out.append(InkLine(words, doc.writer_id, doc.text_id, words[0].paragraph, words[0].line, True))
        return out

    def text_ids(self, writer_id: str | None = None) -> dict[str, list[str]] | list[str]:
        """Source text ids copied by ``writer_id`` (sorted), or a dict for every writer."""
        by: dict[str, set[str]] = {w: set() for w in self.writer_ids}
        for d in self.documents:
            by[d.writer_id].add(d.text_id)
        if writer_id is not None:
            return sorted(by[writer_id])
        return {w: sorted(v) for w, v in by.items()}

    def stats(self) -> dict:
        a = self._a
        return {
            "files": len(self.documents),
            "writers": len(self.writer_ids),
            "text_ids": len({d.text_id for d in self.documents}),
            "lines": int(len(a["line_unit"])),
            "words": int(len(a["word_text"])),
            "distinct_words": len(self.vocab),
            "characters": int(sum(len(self.vocab[t]) for t in a["word_text"])),
            "raw_points": self.raw_points,
            "stored_points": int(len(a["points"])),
            "strokes": int(len(a["stroke_len"])),
            "line_units_per_x_height": round(self.k_xheight, 3),
            **({"load": self.load_info} if self.load_info else {}),
        }
