"""Writing any text in a real VNOnDB writer's hand.

Per word: the writer's own ink when they wrote that exact NFC word (a random instance); otherwise another
writer's instance, preferring writers of similar letter width and slant and adjusting width and slant to
this writer's; otherwise the word is assembled from pieces by dynamic programming over its substrings:
whole ink words glued together ("Phú" + ","), pen-drawn punctuation (, . - / : ; ' " ( ) +), and, for what
no ink covers (capitals and marks nobody wrote, rare symbols), font glyphs from
:func:`data.fonts.available_fonts` scaled to the ink's x-height and pen width. Words sit on a common
baseline with a slow wobble and are spaced like the writer spaces them, with jitter.

Digits are always written one by one from single-digit ink (a writer's own, else a similar writer's), each
scaled to stand on the baseline at about ascender height (``DIGIT_HEIGHT``): whole-number ink ("12",
"1998") often has one digit written much smaller than the others (a "1" reduced to a tick), and VNOnDB's
prose writers write digits smaller than letters, while ledger dates and numbers are written full size.
Single capital letters (split off the start of ink words, or the letters of an all-capitals name) are
likewise scaled to ``CAPITAL_HEIGHT``: as split off their words they vary from x-height to ascender size.

Labels stay exact: ink is only ever used for exactly the text it was written for (no case folding or
mark-insensitive matching, which would make the image disagree with its label).

Speed: choices are made in a Python loop over pieces with scalar work only; gathering, transforming and
laying out the points is then a fixed number of vectorised numpy calls per line, and font glyphs are
rendered once per (font, character) and resized.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from data.fonts import available_fonts, render_font_mask
from data.ink.corpus import InkCorpus
from data.ink.normalize import POINT_SCALE
from data.ink.render import FontPiece, InkStyle, rasterize

# Pen-drawn punctuation: strokes in x-height units (x from 0, y down, x-height band y in [-0.5, 0.5]).
_GLYPH_POINTS: dict[str, list[list[tuple[float, float]]]] = {
    ",": [[(0.10, 0.36), (0.13, 0.48), (0.09, 0.66), (0.0, 0.82)]],
    ".": [[(0.04, 0.42), (0.08, 0.46)]],
    "-": [[(0.0, 0.02), (0.25, 0.0), (0.5, -0.02)]],
    "/": [[(0.0, 0.55), (0.3, -0.35), (0.6, -1.25)]],
    ":": [[(0.04, -0.18), (0.08, -0.14)], [(0.04, 0.42), (0.08, 0.46)]],
    ";": [[(0.06, -0.18), (0.10, -0.14)], [(0.10, 0.36), (0.13, 0.48), (0.09, 0.66), (0.0, 0.82)]],
    "'": [[(0.08, -1.25), (0.02, -0.8)]],
    '"': [[(0.08, -1.25), (0.02, -0.8)], [(0.3, -1.25), (0.24, -0.8)]],
    "(": [[(0.38, -1.3), (0.12, -0.75), (0.02, -0.1), (0.1, 0.5), (0.35, 0.95)]],
    ")": [[(0.0, -1.3), (0.26, -0.75), (0.36, -0.1), (0.28, 0.5), (0.03, 0.95)]],
    "+": [[(0.0, -0.05), (0.6, -0.07)], [(0.29, -0.38), (0.31, 0.28)]],
}


def _glyph_arrays(strokes):
    pts = np.array([p for s in strokes for p in s], np.float32)
    starts = np.zeros(len(pts), bool)
    starts[np.cumsum([0] + [len(s) for s in strokes[:-1]])] = True
    return pts, starts


_GLYPHS = {k: _glyph_arrays(v) for k, v in _GLYPH_POINTS.items()}
DRAWN = frozenset(_GLYPHS)
_TIGHT_BEFORE = frozenset(",.:;)")  # attach to the previous piece with a small gap

COST_INK, COST_PART, COST_DRAWN, COST_FONT = 1.0, 0.2, 1.1, 2.0  # COST_PART: extra for a word part
CAPITAL_SCALE = 1.15  # handwritten capitals and digits stand taller than a font's
DONOR_WIDTH_RANGE = (0.88, 1.14)  # clip of the width adjustment of other writers' words
DONOR_SLANT_RANGE = 0.3  # clip of the slant adjustment (dx per unit height)
DIGIT_HEIGHT = 1.7  # digits' height in x-heights (baseline to top, like ascenders); jittered per line and glyph
CAPITAL_HEIGHT = 1.6  # single ink capitals without marks above, likewise
NORM_SCALE_RANGE = (0.7, 2.2)  # clip of such a glyph's vertical scale factor
NORM_WIDTH_RANGE = (0.8, 1.5)  # clip of its horizontal scale factor (follows the vertical one)
_DIGITS = frozenset("0123456789")
_NORM_HEIGHT = {**{c: DIGIT_HEIGHT for c in _DIGITS}, **{c: CAPITAL_HEIGHT for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZĐƠƯ"}}


@dataclass(frozen=True)
class Piece:
    text: str
    kind: str  # "ink" | "drawn" | "font"


def _band(mask: np.ndarray) -> tuple[int, int]:
    """(top, bottom) rows of the dense band of x-height letters (entry/exit flourishes ignored)."""
    rows = (mask > 0.5).sum(1)
    dense = np.flatnonzero(rows > 0.25 * max(rows.max(), 1))
    if not dense.size:
        return int(0.4 * len(rows)), int(0.7 * len(rows))
    return int(dense[0]), int(dense[-1])


class _FontInk:
    """A font measured once so that its glyphs can stand next to ink: x-height, baseline, stroke width.

    Each character is rendered once at ``PROBE`` px and then resized to the line's scale, with a dilation or
    erosion to approach the pen width.
    """

    PROBE = 96
    XCHARS = "nmuvwxo"

    def __init__(self, path: Path):
        self.path = str(path)
        m = render_font_mask(self.XCHARS, path, self.PROBE)
        top, bottom = _band(m)
        self.xh_px = max(1.0, bottom - top + 1.0)
        self.base_row = bottom + 1
        binary = (m > 0.5).astype(np.uint8)
        contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        perim = sum(cv2.arcLength(c, True) for c in contours)
        self.stroke_frac = (2.0 * binary.sum() / max(perim, 1.0)) / self.xh_px  # of the x-height
        self._canon: dict[str, tuple[np.ndarray, float, float, float]] = {}

    def char(self, ch: str) -> tuple[np.ndarray, float, float, float]:
        """(probe mask, advance, top, bottom) of ``ch``: sizes in x-heights, top/bottom from the x-height
        centre."""
        got = self._canon.get(ch)
        if got is None:
            m = render_font_mask(ch, self.path, self.PROBE)
            rows = np.flatnonzero(m.max(1) > 0.3)
            if rows.size:
                top = (rows[0] - self.base_row) / self.xh_px + 0.5
                bottom = (rows[-1] + 1 - self.base_row) / self.xh_px + 0.5
            else:
                top, bottom = -0.5, 0.5
            got = (m, m.shape[1] / self.xh_px, float(top), float(bottom))
            self._canon[ch] = got
        return got

    def mask(self, ch: str, scale: float, pen_px: float) -> tuple[np.ndarray, int]:
        """``ch`` at x-height ``scale`` px with a pen of about ``pen_px``: (mask, baseline row)."""
        f = scale / self.xh_px
        h = max(4, int(round(self.PROBE * f)))
        diff = pen_px - self.stroke_frac * scale
        adjust = int(max(-2, min(3, round(diff))))  # >0: dilate, <0: erode, by that kernel growth
        return _sized_mask(self, ch, h, adjust), int(round(self.base_row * h / self.PROBE))


@lru_cache(maxsize=8192)
def _sized_mask(font: _FontInk, ch: str, h: int, adjust: int) -> np.ndarray:
    m = font.char(ch)[0]
    w = max(1, int(round(m.shape[1] * h / m.shape[0])))
    out = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA if h < m.shape[0] else cv2.INTER_LINEAR)
    if adjust > 0:
        out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (adjust + 1, adjust + 1)))
    elif adjust < 0:
        out = cv2.erode(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (1 - adjust, 1 - adjust)))
    return out


class InkComposer:
    """Compose text in a VNOnDB writer's hand; see the module doc.

    Args:
        corpus: a loaded :class:`InkCorpus`.
        fonts: font files for characters no ink covers; default :func:`data.fonts.available_fonts`.
        writers: restrict all ink (own and donors) to these writers, e.g. the training split, so that
            validation writers' ink never appears in training lines; default every writer of ``corpus``.
    """

    def __init__(self, corpus: InkCorpus, fonts: list[Path] | tuple[Path, ...] | None = None,
                 writers: list[str] | set[str] | None = None):
        if writers is not None and set(writers) != set(corpus.writer_ids):
            corpus = corpus.subset(writers)
        self.corpus = corpus
        self.fonts = tuple(Path(f) for f in (fonts if fonts is not None else available_fonts()))
        self._font_ink = [_FontInk(p) for p in self.fonts]
        self._plans: dict[str, list[Piece]] = {}
        self._widx = {w: i for i, w in enumerate(corpus.writer_ids)}
        c = corpus
        a = c._a
        xh = c.word_xh.astype(np.float64)
        # Per-word constants for the vectorised gather: int16 * mul - off = word-normalised coordinates.
        self._mul = (1.0 / (POINT_SCALE * xh)).astype(np.float32)
        self._off = (c.word_centre / xh).astype(np.float32)
        self._unit_lo = c.unit_lo
        self._unit_hi = c.unit_hi
        self._unit_word = c.unit_word
        self._points = a["points"]
        self._pressure = a["pressure"]
        self._is_start = c._is_start
        self._wpc = c.writer_wpc.astype(float).tolist()
        self._slant = c.writer_slant.astype(float).tolist()
        self._word_writer = c.word_writer
        # Donor choice: per text, the writers in its pool and, per (writer, text), the instances.
        self._sim2 = (c.writer_similarity ** 2 + 1e-3).astype(np.float64)
        self._donors: dict[tuple[int, int], tuple[list[int], list[float]]] = {}

    # --------------------------------------------------------------------------------------- planning
    def plan(self, word: str, writer_id: str | None = None) -> list[Piece]:
        """How ``word`` (no spaces) will be written: the cheapest split into ink units, drawn punctuation and
        font runs (a whole ink word 1.0, a split-off first letter or remainder 1.2, drawn punctuation 1.1,
        a font character 2.0); ink containing a digit is only used one digit at a time. The plan does not
        depend on the writer (so it is cached per word): whose ink fills each unit is chosen afterwards, the
        writer's own first. ``writer_id`` is accepted for clarity."""
        got = self._plans.get(word)
        if got is not None:
            return got
        corpus = self.corpus
        tidx = corpus._unit_tidx
        whole = corpus._unit_whole
        n = len(word)
        best = [math.inf] * (n + 1)
        back: list[tuple[int, str]] = [(0, "")] * (n + 1)
        best[0] = 0.0
        max_len = corpus.max_unit_len
        for j in range(1, n + 1):
            for i in range(max(0, j - max_len), j):
                if best[i] == math.inf:
                    continue
                sub = word[i:j]
                t = tidx.get(sub) if (j - i == 1 or not _DIGITS.intersection(sub)) else None
                if t is not None:
                    cost, kind = COST_INK + (0.0 if t in whole else COST_PART), "ink"
                elif j - i == 1 and sub in DRAWN:
                    cost, kind = COST_DRAWN, "drawn"
                elif j - i == 1:
                    cost, kind = COST_FONT, "font"
                else:
                    continue
                if best[i] + cost < best[j] - 1e-9:
                    best[j] = best[i] + cost
                    back[j] = (i, kind)
        pieces: list[Piece] = []
        j = n
        while j > 0:
            i, kind = back[j]
            pieces.append(Piece(word[i:j], kind))
            j = i
        pieces.reverse()
        merged: list[Piece] = []  # consecutive font characters become one run
        for p in pieces:
            if p.kind == "font" and merged and merged[-1].kind == "font":
                merged[-1] = Piece(merged[-1].text + p.text, "font")
            else:
                merged.append(p)
        if len(self._plans) >= 500_000:
            self._plans.clear()
        self._plans[word] = merged
        return merged

    def _pick(self, text: str, w: int, u1: float, u2: float) -> tuple[int, bool]:
        """A unit (word or split-off part of a word) for ``text`` from two uniform draws: (unit, is_own)."""
        corpus = self.corpus
        t = corpus._unit_tidx[text]
        own = corpus._writer_text_units.get((w, t))
        if own is not None:
            return int(own[int(u1 * len(own))]), True
        key = (w, t)
        donors = self._donors.get(key)
        if donors is None:  # other writers of this text with cumulative similarity weights, cached
            cand = corpus._text_writers[t]
            if len(self._donors) > 1_000_000:
                self._donors.clear()
            donors = self._donors[key] = (cand.tolist(), np.cumsum(self._sim2[w, cand]).tolist())
        cand, cw = donors
        v = cand[min(bisect.bisect_left(cw, u1 * cw[-1]), len(cand) - 1)]
        inst = corpus._writer_text_units[(v, t)]
        return int(inst[int(u2 * len(inst))]), False

    def _pick_font(self, style: InkStyle, rng: np.random.Generator) -> _FontInk | None:
        """One of the two fonts whose stroke width is closest to the pen's (fonts stand out least then)."""
        if not self._font_ink:
            return None
        order = sorted(range(len(self._font_ink)), key=lambda i: abs(self._font_ink[i].stroke_frac - style.pen_width))
        return self._font_ink[order[int(rng.random() * min(2, len(order)))]]

    # ------------------------------------------------------------------------------------------ compose
    def compose(self, text: str, writer_id: str, height: int, rng: np.random.Generator,
                style: InkStyle | None = None) -> tuple[np.ndarray, dict]:
        """Write NFC ``text`` in ``writer_id``'s hand.

        Returns:
            ``(mask, info)``: a float32 ``(height, width)`` mask in [0, 1] and
            ``info = {"writer": share, "other": share, "drawn": share, "font": share, "chars": n,
            "pieces": [(text, source)], "font_file": name or None, "style": InkStyle, "writer_id": id}``
            where shares are of the non-space characters and source is "writer", "other", "drawn" or "font".
        """
        w = self._widx.get(writer_id)
        if w is None:
            raise KeyError(f"unknown writer {writer_id!r}")
        style = style or InkStyle.sample(rng)
        font = self._pick_font(style, rng)
        wpc_t, slant_t = self._wpc[w], self._slant[w]
        gap_t = float(self.corpus.writer_gap[w]) * style.word_spacing
        t_style = math.tan(math.radians(style.slant))
        counts = {"writer": 0, "other": 0, "drawn": 0, "font": 0}
        used: list[tuple[str, str]] = []

        # 1. Choices, scalar only. Per piece: kind 0 ink / 1 drawn / 2 font.
        kinds: list[int] = []
        gaps: list[float] = []  # gap before the piece
        sizes: list[float] = []
        word_of: list[int] = []
        ink_idx: list[int] = []
        ink_sx: list[float] = []
        ink_k: list[float] = []
        ink_norm: list[int] = []  # positions (among the ink pieces) of single digits and capitals
        norm_h: list[float] = []  # their target heights
        glyphs: list[tuple[np.ndarray, np.ndarray, float]] = []
        font_runs: list[tuple[str, float]] = []
        word_jitter: list[float] = []
        plans = [self.plan(word) for word in text.split()]
        # Random numbers in two block draws (scalar Generator calls cost about a microsecond each).
        normal = rng.standard_normal(3 * len(plans)).tolist()
        uniform = rng.random(3 * sum(len(p) for p in plans)).tolist()
        k = 0
        for wi, plan in enumerate(plans):
            size = min(1.1, max(0.9, math.exp(0.04 * normal[3 * wi])))
            word_jitter.append(0.35 * style.wobble * normal[3 * wi + 1])
            for pi, piece in enumerate(plan):
                u0, u1, u2 = uniform[k:k + 3]
                k += 3
                if pi == 0:
                    gap = gap_t * min(1.8, max(0.55, math.exp(0.22 * normal[3 * wi + 2]))) if wi else 0.0
                elif piece.text[0] in _TIGHT_BEFORE:
                    gap = 0.02 + 0.08 * u0
                else:
                    gap = 0.08 + 0.12 * u0
                gaps.append(gap)
                sizes.append(size)
                word_of.append(wi)
                if piece.kind == "ink":
                    unit, own = self._pick(piece.text, w, u1, u2)
                    kinds.append(0)
                    nh = _NORM_HEIGHT.get(piece.text)
                    if nh is not None:
                        ink_norm.append(len(ink_idx))
                        norm_h.append(nh)
                    ink_idx.append(unit)
                    if own:
                        ink_sx.append(1.0)
                        ink_k.append(t_style)
                    else:
                        v = int(self._word_writer[self._unit_word[unit]])
                        lo_w, hi_w = DONOR_WIDTH_RANGE
                        ink_sx.append(min(hi_w, max(lo_w, wpc_t / max(self._wpc[v], 1e-3))))
                        dk = slant_t - self._slant[v]
                        ink_k.append(t_style + min(DONOR_SLANT_RANGE, max(-DONOR_SLANT_RANGE, dk)))
                    src = "writer" if own else "other"
                elif piece.kind == "drawn":
                    kinds.append(1)
                    gp, gs = _GLYPHS[piece.text]
                    glyphs.append((gp + rng.normal(0.0, 0.025, gp.shape).astype(np.float32), gs, t_style))
                    src = "drawn"
                else:
                    if font is None:
                        raise ValueError(f"no font to render {piece.text!r} and no ink for it")
                    kinds.append(2)
                    font_runs.append((piece.text, size))
                    src = "font"
                counts[src] += len(piece.text)
                used.append((piece.text, src))

        n_pieces = len(kinds)
        kinds_a = np.array(kinds, np.int8)
        sizes_a = np.array(sizes, np.float32)
        # 2. Gather and transform the ink (corpus words, then drawn glyphs) in one go.
        n_ink = len(ink_idx)
        if n_ink:
            uidx = np.array(ink_idx, np.int64)
            widx = self._unit_word[uidx]
            lo = self._unit_lo[uidx]
            lens = self._unit_hi[uidx] - lo
            first = np.concatenate([[0], np.cumsum(lens)[:-1]])
            gidx = np.arange(int(lens.sum())) + np.repeat(lo - first, lens)
            raw = self._points[gidx].astype(np.float32)
            piece_of = np.repeat(np.arange(n_ink), lens)
            mul = self._mul[widx]
            y = raw[:, 1] * mul[piece_of] - self._off[widx][piece_of]
            sx = mul * np.array(ink_sx, np.float32)
            if ink_norm:  # digits and capitals: stand on the baseline at their height (x-heights), jittered
                d = np.array(ink_norm, np.int64)
                bottom = np.maximum.reduceat(y, first)[d]
                tall = np.maximum(bottom - np.minimum.reduceat(y, first)[d], 1e-3)
                jit = rng.standard_normal(2 * len(d) + 1).astype(np.float32)
                target = np.array(norm_h, np.float32) * np.float32(math.exp(0.05 * float(jit[-1]))) * \
                    np.exp(0.04 * jit[:len(d)])
                fy = np.clip(target / tall, *NORM_SCALE_RANGE).astype(np.float32)
                gain = np.ones(n_ink, np.float32)
                add = np.zeros(n_ink, np.float32)
                gain[d] = fy
                add[d] = 0.5 + 0.03 * jit[len(d):2 * len(d)] - bottom * fy
                y = y * gain[piece_of] + add[piece_of]
                sx[d] *= np.clip(fy, *NORM_WIDTH_RANGE)
            x = raw[:, 0] * sx[piece_of]
            x -= np.array(ink_k, np.float32)[piece_of] * y
            ink_pts = [np.stack([x, y], 1)]
            ink_starts = [self._is_start[gidx]]
            ink_pres = [self._pressure[gidx].astype(np.float32) * np.float32(1 / 255)]
            ink_lens = lens.tolist()
        else:
            ink_pts, ink_starts, ink_pres, ink_lens = [], [], [], []
        for gp, gs, k in glyphs:
            gp = gp.copy()
            gp[:, 0] -= k * gp[:, 1]
            ink_pts.append(gp)
            ink_starts.append(gs)
            ink_pres.append(np.full(len(gp), 0.6, np.float32))
            ink_lens.append(len(gp))
        if ink_pts:
            pts = np.concatenate(ink_pts)
            starts = np.concatenate(ink_starts)
            pres = np.concatenate(ink_pres)
        else:
            pts, starts, pres = np.zeros((0, 2), np.float32), np.zeros(0, bool), np.zeros(0, np.float32)
        # Stroke pieces in text order: ink pieces (kind 0) then glyphs (kind 1) are stored in that order.
        stroke_piece = np.concatenate([np.flatnonzero(kinds_a == 0), np.flatnonzero(kinds_a == 1)])
        lens_a = np.array(ink_lens, np.int64)
        seg0 = np.concatenate([[0], np.cumsum(lens_a)[:-1]]) if len(lens_a) else np.zeros(0, np.int64)
        x_lo = np.zeros(n_pieces, np.float32)
        x_hi = np.zeros(n_pieces, np.float32)
        if len(pts):
            sz = np.repeat(sizes_a[stroke_piece], lens_a)
            pts *= sz[:, None]
            x_lo[stroke_piece] = np.minimum.reduceat(pts[:, 0], seg0)
            x_hi[stroke_piece] = np.maximum.reduceat(pts[:, 0], seg0)
        # Font runs: glyph metrics (scalar loop over few characters).
        font_pieces_at = np.flatnonzero(kinds_a == 2).tolist()
        font_chars: list[tuple[int, str, float, float, float, float]] = []  # piece, ch, x, top, bottom, cs
        for p, (run, size) in zip(font_pieces_at, font_runs):
            adv = 0.0
            for ch in run:
                _, a, top, bottom = font.char(ch)
                cs = size * (CAPITAL_SCALE if (ch.isupper() or ch.isdigit()) else 1.0)
                font_chars.append((p, ch, adv, top, bottom, cs))
                adv += a * cs
            x_hi[p] = adv
        # 3. Layout: cursor positions are a cumulative sum of extents and gaps.
        ext = x_hi - x_lo
        gaps_a = np.array(gaps, np.float32)
        start = np.cumsum(gaps_a + ext) - ext  # left edge of each piece
        wob = np.zeros(n_pieces, np.float32)
        if style.wobble > 0 and n_pieces:
            period = rng.uniform(12.0, 30.0)
            phase = rng.uniform(0, 2 * math.pi)
            word_a = np.array(word_of)
            word_start = np.zeros(word_a.max() + 1, np.float32)
            word_start[word_a[::-1]] = start[::-1]  # first piece of each word wins
            wob = (style.wobble * np.sin(2 * np.pi * word_start / period + phase)
                   + np.array(word_jitter, np.float32))[word_a].astype(np.float32)
        if len(pts):
            shift_x = np.repeat((start - x_lo)[stroke_piece], lens_a)
            pts[:, 0] += shift_x
            pts[:, 1] += np.repeat(wob[stroke_piece], lens_a)
        fonts: list[FontPiece] = []
        for p, ch, adv, top, bottom, cs in font_chars:
            def mask_fn(scale, pen_px, ch=ch, cs=cs):
                return font.mask(ch, scale * cs, pen_px)

            # Scaling about the baseline (y = +0.5) keeps the glyph standing on it.
            size = float(sizes_a[p])
            fonts.append(FontPiece(mask_fn, float(start[p]) + adv, float(wob[p]) + 0.5 * (size - 1),
                                   0.5 + (top - 0.5) * cs, 0.5 + (bottom - 0.5) * cs, font.char(ch)[1] * cs))
        mask = rasterize(pts, starts, pres, height, style, rng, fonts)
        n = max(1, sum(counts.values()))
        info = {k: v / n for k, v in counts.items()}
        info.update(chars=sum(counts.values()), pieces=used,
                    font_file=Path(font.path).name if (font is not None and font_chars) else None,
                    style=style, writer_id=writer_id)
        return mask, info
