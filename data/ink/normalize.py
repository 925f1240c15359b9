"""Turning raw tablet strokes into compact, size-normalised word ink (pass 1 of the corpus build).

Everything here is vectorised over a whole document (about 75k raw points): consecutive duplicate samples
are dropped, a pressure-like value is derived from pen speed (slow = heavier) with tapered stroke ends, each
line gets a size unit (median over its words of the arc-length-weighted inter-quartile range of y) and a
"median line" fitted through its words, and strokes are simplified with a turning-budget rule (a point is
kept when the accumulated turning since the last kept point exceeds 0.7 rad or the path grew 1.2 line units,
after dropping samples closer than 0.06 units and a light smoothing), which is RDP-like in effect (about
2.5x fewer points than the raw samples, invisible at line heights up to 128 px) but needs no per-stroke
Python loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.ink.inkml import InkLine, InkWord

# Simplification and pressure parameters, in line units (one unit ~ 0.63 x-height).
FINE_STEP = 0.06  # drop samples closer than this along the path (tablet jitter)
TURN_BUDGET = 0.7  # radians of accumulated turning between kept points
MAX_SEGMENT = 1.2  # longest kept segment along a gentle curve
SPEED_WINDOW = 3  # half-width (samples) of the speed smoothing window
POINT_SCALE = 256.0  # int16 quantisation: stored value = units * POINT_SCALE
DEFAULT_K = 1.594  # line units per x-height, as calibrated on all of VNOnDB (used for raw lines, tiny corpora)


def group_quantiles(groups: np.ndarray, values: np.ndarray, weights: np.ndarray | None, qs: tuple[float, ...],
                    n_groups: int) -> np.ndarray:
    """Weighted quantiles of ``values`` within each group id in ``[0, n_groups)``: array ``(len(qs), n_groups)``,
    NaN for empty groups. One sort serves all quantiles."""
    out = np.full((len(qs), n_groups), np.nan)
    if values.size == 0:
        return out
    w = np.ones(values.size) if weights is None else weights.astype(np.float64) + 1e-9
    v64 = values.astype(np.float64)
    lo, hi = float(v64.min()), float(v64.max())
    span = (hi - lo) * 1.001 + 1.0
    order = np.argsort(groups * span + (v64 - lo), kind="stable")  # by group, then by value
    g, v, w = groups[order], v64[order], w[order]
    cw = np.cumsum(w)
    tot = np.bincount(g, weights=w, minlength=n_groups)
    start = np.concatenate([[0.0], np.cumsum(tot)[:-1]])
    key = g + np.minimum((cw - start[g]) / np.maximum(tot[g], 1e-12), 1.0)
    present = np.flatnonzero(tot > 0)
    for i, q in enumerate(qs):
        idx = np.searchsorted(key, present + q, side="left")
        out[i, present] = v[np.minimum(idx, v.size - 1)]
    return out


def group_quantile(groups: np.ndarray, values: np.ndarray, weights: np.ndarray | None, q: float,
                   n_groups: int) -> np.ndarray:
    """Weighted ``q``-quantile of ``values`` within each group (NaN for empty groups)."""
    return group_quantiles(groups, values, weights, (q,), n_groups)[0]


@dataclass
class DocInk:
    """Pass-1 output for one document; point arrays are word-local, in line units (see module doc)."""

    points: np.ndarray  # (M, 2) int16, (x - word_x0, y - line_median_line) / unit * POINT_SCALE
    pressure: np.ndarray  # (M,) uint8
    stroke_len: np.ndarray  # (S,) int32 points per stroke
    word_strokes: np.ndarray  # (W,) int32 strokes per word
    word_text: list[str]
    word_pos: np.ndarray  # (W, 3) int32 paragraph, line, index
    word_line: np.ndarray  # (W,) int32 line number within the document
    word_x0: np.ndarray  # (W,) float32 word's left edge in line units from the line's left edge
    word_width: np.ndarray  # (W,) float32
    word_median: np.ndarray  # (W,) float32 weighted median y of the word (line units, from median line)
    word_iqr: np.ndarray  # (W,) float32 weighted IQR of y (line units)
    word_top: np.ndarray  # (W,) float32 min y
    word_bottom: np.ndarray  # (W,) float32 max y
    line_unit: np.ndarray  # (L,) float32 raw tablet units per line unit
    line_slant: np.ndarray  # (L,) float32 dx/dy of down strokes, positive = leaning right
    raw_points: int = 0


def process_words(words: list[InkWord]) -> DocInk:
    """Normalise and simplify the raw strokes of a document's words (any order; sorted by P, L, W here)."""
    words = sorted(words, key=lambda w: (w.paragraph, w.line, w.index))
    n_words = len(words)
    line_keys = sorted({(w.paragraph, w.line) for w in words})
    line_of = {k: i for i, k in enumerate(line_keys)}
    n_lines = len(line_keys)
    word_line = np.array([line_of[(w.paragraph, w.line)] for w in words], np.int32)
    strokes = [s for w in words for s in w.strokes]
    word_strokes = np.array([len(w.strokes) for w in words], np.int32)
    n_raw = np.array([len(s) for s in strokes], np.int64)
    raw = np.concatenate(strokes).astype(np.float64) if strokes else np.zeros((0, 2))
    n_strokes = len(strokes)
    stroke_word = np.repeat(np.arange(n_words), word_strokes)
    sid = np.repeat(np.arange(n_strokes), n_raw)
    st = np.concatenate([[0], np.cumsum(n_raw)[:-1]])
    k = np.arange(raw.shape[0]) - st[sid]
    k_end = n_raw[sid] - 1 - k

    d = np.zeros(raw.shape[0])
    if raw.shape[0] > 1:
        d[1:] = np.hypot(*(raw[1:] - raw[:-1]).T)
    d[k == 0] = 0.0
    # Smoothed speed (raw units per sample) within each stroke.
    c = np.concatenate([[0.0], np.cumsum(d)])
    lo = np.maximum(np.arange(raw.shape[0]) - SPEED_WINDOW, st[sid])
    hi = np.minimum(np.arange(raw.shape[0]) + SPEED_WINDOW, st[sid] + n_raw[sid] - 1)
    speed = (c[hi + 1] - c[lo]) / (hi - lo + 1)
    taper = np.clip(0.35 + 0.65 * np.minimum(k, k_end) / 4.0, 0.0, 1.0)

    keep = (d > 0) | (k == 0)
    p = raw[keep]
    psid = sid[keep]
    pd = d[keep]
    pword = stroke_word[psid]
    pline = word_line[pword]
    nxt = np.zeros_like(pd)
    same_next = np.zeros(pd.size, bool)
    if pd.size > 1:
        same_next[:-1] = psid[1:] == psid[:-1]
        nxt[:-1] = np.where(same_next[:-1], pd[1:], 0.0)
    wts = 0.5 * (pd + nxt) + 1e-3

    # Word and line statistics in raw units.
    x, y = p[:, 0], p[:, 1]
    w_q25, w_med, w_q75 = group_quantiles(pword, y, wts, (0.25, 0.5, 0.75), n_words)
    w_iqr = np.maximum(w_q75 - w_q25, 1e-6)
    w_x0 = np.full(n_words, np.inf)
    w_x1 = np.full(n_words, -np.inf)
    np.minimum.at(w_x0, pword, x)
    np.maximum.at(w_x1, pword, x)
    w_cx = 0.5 * (w_x0 + w_x1)
    w_len = np.bincount(pword, weights=pd, minlength=n_words)
    unit = group_quantile(word_line, w_iqr, None, 0.5, n_lines)
    unit = np.where(np.isfinite(unit) & (unit > 0), unit, 1.0)
    # Median line y = a + b x through the word medians, weighted by sqrt(arc length); slope clipped.
    ww = np.sqrt(w_len + 1.0)
    sw = np.bincount(word_line, ww, n_lines)
    sx = np.bincount(word_line, ww * w_cx, n_lines)
    sy = np.bincount(word_line, ww * w_med, n_lines)
    sxx = np.bincount(word_line, ww * w_cx * w_cx, n_lines)
    sxy = np.bincount(word_line, ww * w_cx * w_med, n_lines)
    den = sw * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(den > 1e-9 * np.maximum(sw * sxx, 1e-12), (sw * sxy - sx * sy) / den, 0.0)
    b = np.clip(np.nan_to_num(b), -0.15, 0.15)
    a = (sy - b * sx) / np.maximum(sw, 1e-12)
    line_x0 = np.full(n_lines, np.inf)
    np.minimum.at(line_x0, word_line, w_x0)

    # Word-local line units: x from the word's left edge, y from the median line at the word's centre.
    u_pt = unit[pline]
    ref_y = a[pline] + b[pline] * w_cx[pword]
    xn = (x - w_x0[pword]) / u_pt
    yn = (y - ref_y) / u_pt

    # Slant per line from near-vertical segments.
    dx = np.zeros_like(xn)
    dy = np.zeros_like(yn)
    if xn.size > 1:
        dx[1:] = (x[1:] - x[:-1]) / u_pt[1:]
        dy[1:] = (y[1:] - y[:-1]) / u_pt[1:]
    seg_ok = np.zeros(xn.size, bool)
    if xn.size > 1:
        seg_ok[1:] = psid[1:] == psid[:-1]
    vert = seg_ok & (np.abs(dy) > 1.5 * np.abs(dx)) & (np.hypot(dx, dy) > 0.02)
    # A down stroke (dy > 0) moving left (dx < 0) leans right, as does an up stroke moving right: -dx/dy.
    slant = group_quantile(pline[vert], -dx[vert] / dy[vert], np.hypot(dx[vert], dy[vert]), 0.5, n_lines)
    slant = np.nan_to_num(slant, nan=0.0)

    # Pressure-like value: slow = heavy, relative to the line's median speed; tapered stroke ends.
    v = speed[keep] / u_pt
    v_med = group_quantile(pline, v, None, 0.5, n_lines)
    r = v / np.maximum(v_med[pline], 1e-6)
    pres = np.clip(0.55 - 0.3 * np.log2(np.maximum(r, 1e-3)), 0.0, 1.0) * taper[keep]

    # Simplify: fine decimation, then turning budget / maximum segment length.
    seg = np.zeros(xn.size)
    if xn.size > 1:
        seg[1:] = np.where(seg_ok[1:], np.hypot(dx[1:], dy[1:]), 0.0)
    first = ~np.concatenate([[False], seg_ok[1:]]) if xn.size else np.zeros(0, bool)
    last = np.concatenate([~seg_ok[1:], [True]]) if xn.size else np.zeros(0, bool)
    s_cum = _cumsum_reset(seg, first)
    fine = first | last | _bin_changed(s_cum, FINE_STEP, first)
    xn, yn, pres, s_cum, psid2 = xn[fine], yn[fine], pres[fine], s_cum[fine], psid[fine]
    first, last = first[fine], last[fine]
    # Light [1 2 1] smoothing inside strokes removes the tablet's zig-zag before measuring turning.
    if xn.size > 2:
        inner = ~first & ~last
        inner[0] = inner[-1] = False
        for arr in (xn, yn):
            sm = arr.copy()
            sm[1:-1] = 0.25 * arr[:-2] + 0.5 * arr[1:-1] + 0.25 * arr[2:]
            arr[inner] = sm[inner]
    ang = np.zeros(xn.size)
    if xn.size > 1:
        ang[1:] = np.arctan2(yn[1:] - yn[:-1], xn[1:] - xn[:-1])
    turn = np.zeros(xn.size)
    if xn.size > 2:
        dt = np.abs((ang[2:] - ang[1:-1] + np.pi) % (2 * np.pi) - np.pi)
        ok = ~first[1:-1] & ~first[2:]
        turn[2:] = np.where(ok, dt, 0.0)
    t_cum = _cumsum_reset(turn, first)
    keep2 = first | last | _bin_changed(t_cum, TURN_BUDGET, first) | _bin_changed(s_cum, MAX_SEGMENT, first)
    xn, yn, pres, psid2 = xn[keep2], yn[keep2], pres[keep2], psid2[keep2]
    stroke_len = np.bincount(psid2, minlength=n_strokes).astype(np.int32)
    # Single-point strokes (dots) become a tiny segment so that polylines draw them.
    dots = np.flatnonzero(stroke_len == 1)
    if dots.size:
        starts = np.concatenate([[0], np.cumsum(stroke_len)[:-1]])[dots]
        xn = np.insert(xn, starts + 1, xn[starts] + 0.03)
        yn = np.insert(yn, starts + 1, yn[starts] + 0.02)
        pres = np.insert(pres, starts + 1, pres[starts])
        stroke_len[dots] = 2
    # Strokes reduced to nothing cannot happen (each keeps its first point), but guard the invariant.
    assert stroke_len.sum() == xn.size

    pts = np.stack([xn, yn], 1)
    word_pt = np.repeat(np.arange(n_words), np.bincount(stroke_word, weights=stroke_len, minlength=n_words).astype(int))
    top = np.full(n_words, np.inf)
    bottom = np.full(n_words, -np.inf)
    np.minimum.at(top, word_pt, pts[:, 1])
    np.maximum.at(bottom, word_pt, pts[:, 1])
    u_w = unit[word_line]
    return DocInk(
        points=np.clip(np.round(pts * POINT_SCALE), -32767, 32767).astype(np.int16),
        pressure=np.round(pres * 255).astype(np.uint8),
        stroke_len=stroke_len,
        word_strokes=word_strokes,
        word_text=[w.text for w in words],
        word_pos=np.array([(w.paragraph, w.line, w.index) for w in words], np.int32).reshape(-1, 3),
        word_line=word_line,
        word_x0=((w_x0 - line_x0[word_line]) / u_w).astype(np.float32),
        word_width=((w_x1 - w_x0) / u_w).astype(np.float32),
        word_median=((w_med - (a[word_line] + b[word_line] * w_cx)) / u_w).astype(np.float32),
        word_iqr=(w_iqr / u_w).astype(np.float32),
        word_top=top.astype(np.float32),
        word_bottom=bottom.astype(np.float32),
        line_unit=unit.astype(np.float32),
        line_slant=slant.astype(np.float32),
        raw_points=int(raw.shape[0]),
    )


def _cumsum_reset(values: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts (at the value itself) wherever ``reset`` is True."""
    c = np.cumsum(values)
    if c.size == 0:
        return c
    base = np.maximum.accumulate(np.where(reset, np.arange(c.size), 0))
    return c - (c[base] - values[base])


def _bin_changed(cum: np.ndarray, step: float, first: np.ndarray) -> np.ndarray:
    b = np.floor(cum / step)
    out = np.zeros(cum.size, bool)
    if cum.size > 1:
        out[1:] = (b[1:] != b[:-1]) & ~first[1:]
    return out


def pressure_from_samples(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Pressure-like values for raw (timed) strokes, as :func:`process_words` computes them."""
    out = []
    speeds = []
    for s in strokes:
        d = np.zeros(len(s))
        if len(s) > 1:
            d[1:] = np.hypot(*(np.diff(s.astype(np.float64), axis=0)).T)
        c = np.concatenate([[0.0], np.cumsum(d)])
        i = np.arange(len(s))
        lo, hi = np.maximum(i - SPEED_WINDOW, 0), np.minimum(i + SPEED_WINDOW, len(s) - 1)
        speeds.append((c[hi + 1] - c[lo]) / (hi - lo + 1))
    med = float(np.median(np.concatenate(speeds))) if speeds else 1.0
    for s, v in zip(strokes, speeds):
        k = np.arange(len(s))
        taper = np.clip(0.35 + 0.65 * np.minimum(k, len(s) - 1 - k) / 4.0, 0, 1)
        out.append((np.clip(0.55 - 0.3 * np.log2(np.maximum(v / max(med, 1e-6), 1e-3)), 0, 1) * taper)
                   .astype(np.float32))
    return out


def normalize_line(line: InkLine, k_xheight: float) -> InkLine:
    """A raw line (tablet units) in the corpus's normalised coordinates: x-height units, x from the line's left
    edge, y from the line's median line; pressure added. ``k_xheight`` is line units per x-height."""
    ink = process_words(line.words)
    pts = ink.points.astype(np.float32) / POINT_SCALE / k_xheight
    pres = ink.pressure.astype(np.float32) / 255.0
    bounds = np.cumsum(ink.stroke_len)[:-1]
    strokes = np.split(pts, bounds)
    press = np.split(pres, bounds)
    words = []
    si = 0
    for wi, n in enumerate(ink.word_strokes):
        off = np.array([ink.word_x0[wi] / k_xheight, 0.0], np.float32)
        p_, l_, i_ = (int(v) for v in ink.word_pos[wi])
        words.append(InkWord(ink.word_text[wi], [s + off for s in strokes[si : si + n]], p_, l_, i_,
                             press[si : si + n]))
        si += n
    return InkLine(words, line.writer_id, line.text_id, line.paragraph, line.line, True)
