"""Drawing pen strokes into an ink mask: pen width with pressure-like variation, slant, baseline wobble.

Masks are float32 ``(height, width)`` in [0, 1] (1 = ink). Colour is not applied here: :class:`InkStyle`
carries the ink colour so the synthesizer can colour the mask later.

Internally everything is laid out in *x-height units* (y down, y = 0 at the centre of the x-height band, so
the baseline is y = +0.5) and drawn with a few ``cv2.polylines`` calls, one per integer pen thickness
(segments are bucketed by their pressure-derived thickness), anti-aliased with sub-pixel coordinates.

Sizing follows tight line crops of real scans: the writing fills the mask height. The x-height is the
style's (about 0.34-0.46 of the height) when the ink's vertical extent fits at that size (a short word:
"Kinh", "Nam"), and otherwise shrinks so that the tallest mark touches the top and the lowest descender the
bottom, never below ``MIN_X_HEIGHT`` of the height (beyond that the outermost strokes are clipped, mostly
at the bottom, as in real crops, rather than one tall flourish making the whole line small).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from data.ink.inkml import InkLine
from data.ink.normalize import DEFAULT_K, pressure_from_samples

MIN_X_HEIGHT = 0.25  # smallest x-height, as a fraction of the height, before strokes are clipped
CLIP_TOP_SHARE = 0.3  # of an overflow, the share clipped at the top (marks) rather than the bottom (tails)
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = float(1 << _SHIFT)

BLUE_INKS = ((22, 38, 128), (30, 60, 160), (18, 30, 95), (40, 70, 170), (25, 45, 140))
BLACK_INKS = ((20, 20, 24), (35, 35, 40), (15, 18, 30), (45, 42, 40))


@dataclass(frozen=True)
class InkStyle:
    """How a pen writes a line.

    Attributes:
        x_height: x-height as a fraction of the output height when the ink fits at that size; lines whose
            ascenders, stacked marks and descenders would not fit shrink to fit (see the module doc).
        pen_width: pen width as a fraction of the x-height (about 2-3 px at a 64 px line); when a line
            shrinks to fit, the pen thins only by the square root of the shrink.
        thickness_variation: 0 = constant width; otherwise the width varies by +-this fraction with the
            pressure-like value derived from pen speed (slow = heavy) and tapered stroke ends.
        slant: extra slant in degrees on top of the writer's own (positive leans right).
        wobble: baseline wobble amplitude in x-heights (a slow wave plus per-word jitter).
        word_spacing: multiplier of the writer's own inter-word gap (composer only).
        colour: ink name, ``"blue"`` or ``"black"`` (a key of ``data.degrade.INK_COLOURS``).
        rgb: a sampled shade of that ink, for colouring the mask (the mask itself is colourless).
    """

    x_height: float = 0.40
    pen_width: float = 0.14
    thickness_variation: float = 0.35
    slant: float = 0.0
    wobble: float = 0.04
    word_spacing: float = 1.0
    colour: str = "blue"
    rgb: tuple[int, int, int] = (25, 45, 140)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "InkStyle":
        """A random pen: ballpoint blue (60%) or black, width, pressure variation, slant and wobble."""
        u = rng.random(8).tolist()  # one draw, plain floats: sampling a style costs microseconds
        n = rng.standard_normal(5).tolist()
        colour = "blue" if u[0] < 0.6 else "black"
        palette = BLUE_INKS if colour == "blue" else BLACK_INKS
        base = palette[min(int(u[1] * len(palette)), len(palette) - 1)]
        rgb = tuple(int(min(255.0, max(0.0, b + 6.0 * z))) for b, z in zip(base, n[:3]))
        return cls(
            x_height=0.34 + 0.12 * u[2],
            pen_width=min(0.22, max(0.08, 0.14 * math.exp(0.22 * n[3]))),
            thickness_variation=0.1 + 0.4 * u[3],
            slant=5.0 * n[4],
            wobble=0.08 * u[4],
            word_spacing=0.8 + 0.45 * u[5],
            colour=colour,
            rgb=rgb,  # type: ignore[arg-type]
        )

    def with_(self, **changes) -> "InkStyle":
        return replace(self, **changes)


@dataclass
class FontPiece:
    """A run of characters to paste from a font mask, laid out in x-height units."""

    mask_fn: object  # callable(scale_px_per_xheight, pen_px) -> (mask, baseline_row)
    x: float
    y_shift: float
    top: float  # ink extent relative to the x-height centre, x-height units
    bottom: float
    width: float


def draw_strokes(canvas: np.ndarray, pts: np.ndarray, starts: np.ndarray, pressure: np.ndarray | None,
                 pen_px: float, variation: float) -> None:
    """Draw polylines into a uint8 ``canvas`` (in place): ``pts`` ``(M, 2)`` pixels, ``starts[i]`` True where a
    stroke begins. Segments are bucketed by integer thickness, one ``cv2.polylines`` call per bucket."""
    m = len(pts)
    if m < 2:
        return
    ip = np.round(pts * _ONE).astype(np.int32)
    valid = ~starts[1:]
    if pressure is None or variation <= 0:
        width = np.full(m - 1, pen_px, np.float32)
    else:
        p = 0.5 * (pressure[1:] + pressure[:-1])
        width = pen_px * (1.0 + variation * (2.0 * p - 1.0))
    # An anti-aliased cv2 line of thickness k looks about k + 0.6 px wide; thinner pens are drawn with
    # thickness 1 at lower intensity (four levels), so the bucket key is (thickness, intensity).
    k = np.maximum(1, np.round(width - 0.6)).astype(np.int32)
    level = np.where(width >= 1.6, 4, np.clip(np.round(width / 1.6 * 4), 2, 4)).astype(np.int32)
    key = np.where(valid, k * 8 + level, 0)
    change = np.ones(m - 1, bool)
    change[1:] = key[1:] != key[:-1]
    run_start = np.flatnonzero(change)
    run_end = np.concatenate([run_start[1:], [m - 1]])  # exclusive, in segments
    run_key = key[run_start]
    for t in np.unique(run_key).tolist():
        if t == 0:
            continue
        sel = run_key == t
        runs = [ip[s:e + 1] for s, e in zip(run_start[sel].tolist(), run_end[sel].tolist())]
        cv2.polylines(canvas, runs, False, int(255 * (t % 8) // 4), t // 8, cv2.LINE_AA, _SHIFT)


def rasterize(pts: np.ndarray, starts: np.ndarray, pressure: np.ndarray | None, height: int, style: InkStyle,
              rng: np.random.Generator, fonts: list[FontPiece] = (), margin: float | None = None) -> np.ndarray:
    """Scale x-height-unit strokes (and font pieces) to ``height`` and draw them; returns the float mask.

    The x-height becomes ``style.x_height * height`` pixels unless the ink's vertical extent would not fit,
    in which case it shrinks until the ink fills the height exactly (to at most ``MIN_X_HEIGHT * height``;
    beyond that the outermost strokes are clipped, mostly at the bottom, as in real crops, rather than one
    tall flourish making the whole line small). Ink that fits is placed at a random height.
    """
    ys = [pts[:, 1].min(), pts[:, 1].max()] if len(pts) else [-0.5, 0.5]
    xs = [pts[:, 0].min(), pts[:, 0].max()] if len(pts) else [0.0, 0.0]
    for f in fonts:
        ys += [f.top + f.y_shift, f.bottom + f.y_shift]
        xs += [f.x, f.x + f.width]
    y_lo, y_hi, x_lo, x_hi = min(ys), max(ys), min(xs), max(xs)
    s = style.x_height * height
    pen_px = max(0.8, style.pen_width * s)
    if margin is None:
        margin = 0.5 * pen_px + 0.5
    avail = max(1.0, height - 2 * margin)
    extent = max(y_hi - y_lo, 1e-3)
    if extent * s > avail:
        s0 = s
        s = max(avail / extent, min(s, MIN_X_HEIGHT * height))
        # A pen does not get finer because the line holds tall strokes: it thins only half as much (in log
        # scale) as the writing shrinks.
        pen_px = max(0.8, style.pen_width * math.sqrt(s * s0))
    free = avail - extent * s
    oy = margin + (rng.uniform(0.25, 0.75) * free if free > 0 else CLIP_TOP_SHARE * free) - y_lo * s
    ox = margin - x_lo * s
    width = max(1, int(math.ceil((x_hi - x_lo) * s + 2 * margin)))
    canvas = np.zeros((height, width), np.uint8)
    if len(pts):
        px = pts * np.float32(s)
        px[:, 0] += ox
        px[:, 1] += oy
        draw_strokes(canvas, px, starts, pressure, pen_px, style.thickness_variation)
    out = canvas.astype(np.float32)
    out *= np.float32(1 / 255)
    faint = min(1.0, pen_px / 1.6)  # thin pens are drawn at lower intensity (see draw_strokes)
    for f in fonts:
        mask, base_row = f.mask_fn(s, pen_px)
        if faint < 1.0:
            mask = mask * np.float32(max(faint, 0.5))
        x0 = int(round(ox + f.x * s))
        y0 = int(round(oy + (0.5 + f.y_shift) * s)) - base_row
        _paste_max(out, mask, x0, y0)
    return out


def _paste_max(dst: np.ndarray, src: np.ndarray, x0: int, y0: int) -> None:
    h, w = src.shape
    ya, yb = max(0, y0), min(dst.shape[0], y0 + h)
    xa, xb = max(0, x0), min(dst.shape[1], x0 + w)
    if ya < yb and xa < xb:
        np.maximum(dst[ya:yb, xa:xb], src[ya - y0:yb - y0, xa - x0:xb - x0], out=dst[ya:yb, xa:xb])


def shear(pts: np.ndarray, slant: float) -> None:
    """Lean ``pts`` (x-height units, y down) right by ``slant`` (dx per unit of height), in place."""
    if slant:
        pts[:, 0] -= np.float32(slant) * pts[:, 1]


def _flatten(strokes: list[np.ndarray], pressure: list[np.ndarray] | None):
    strokes = [np.asarray(s, np.float32).reshape(-1, 2) for s in strokes if len(s)]
    if not strokes:
        return np.zeros((0, 2), np.float32), np.zeros(0, bool), None
    fixed, press = [], []
    for i, s in enumerate(strokes):
        p = None if pressure is None else np.asarray(pressure[i], np.float32)
        if len(s) == 1:  # a dot: a tiny segment so that it is drawn
            s = np.vstack([s, s + 0.01])
            p = None if p is None else np.repeat(p, 2)
        fixed.append(s)
        press.append(p)
    pts = np.concatenate(fixed)
    starts = np.zeros(len(pts), bool)
    starts[np.cumsum([0] + [len(s) for s in fixed[:-1]])] = True
    pres = None if pressure is None else np.concatenate(press)
    return pts, starts, pres


def render_strokes(strokes: list[np.ndarray], height: int, style: InkStyle | None = None,
                   rng: np.random.Generator | None = None, *, pressure: list[np.ndarray] | None = None,
                   x_height: float | None = None) -> np.ndarray:
    """Draw arbitrary strokes (``(N, 2)`` arrays, y down, any units) at ``height`` pixels.

    Args:
        strokes: point arrays; raw tablet samples or normalised ink.
        height: output height in pixels.
        style: pen (default :class:`InkStyle`); its slant is applied, wobble is not (no words here).
        rng: randomness for vertical placement (default: seed 0).
        pressure: per-point 0..1 values; when None they are derived from the sample spacing (pen speed).
        x_height: size of one x-height in the strokes' units; estimated from the ink when None.

    Returns:
        float32 ``(height, width)`` mask in [0, 1].
    """
    style = style or InkStyle()
    rng = rng if rng is not None else np.random.default_rng(0)
    if pressure is None and strokes:
        pressure = pressure_from_samples([np.asarray(s, np.float32).reshape(-1, 2) for s in strokes if len(s)])
        strokes = [s for s in strokes if len(s)]
    pts, starts, pres = _flatten(strokes, pressure)
    if len(pts) == 0:
        return np.zeros((height, 1), np.float32)
    seg = np.zeros(len(pts))
    seg[1:] = np.where(starts[1:], 0.0, np.hypot(*np.diff(pts, axis=0).T))
    w = seg + np.concatenate([seg[1:], [0.0]]) + 1e-6
    order = np.argsort(pts[:, 1])
    cw = np.cumsum(w[order]) / w.sum()
    q25, q50, q75 = (pts[order, 1][np.searchsorted(cw, q)] for q in (0.25, 0.5, 0.75))
    if x_height is None:
        x_height = max(float(q75 - q25) * DEFAULT_K, 1e-6)
    pts = (pts - np.array([pts[:, 0].min(), q50], np.float32)) / np.float32(x_height)
    shear(pts, math.tan(math.radians(style.slant)))
    return rasterize(pts, starts, pres, height, style, rng)


def render_line(line: InkLine, height: int, style: InkStyle | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Draw a real VNOnDB line as written (the writer's own spacing, sizes and baseline drift).

    ``line`` comes from :meth:`InkCorpus.lines` (normalised) or :meth:`InkDocument.lines` (raw; normalised
    here). The style's pen, slant and a light per-word wobble are applied.
    """
    from data.ink.normalize import normalize_line

    style = style or InkStyle()
    rng = rng if rng is not None else np.random.default_rng(0)
    if not line.normalized:
        line = normalize_line(line, DEFAULT_K)
    all_pts, all_starts, all_pres = [], [], []
    for w in line.words:
        pts, starts, pres = _flatten(w.strokes, w.pressure)
        if not len(pts):
            continue
        pts = pts.copy()
        pts[:, 1] += np.float32(rng.normal(0.0, style.wobble * 0.5))
        all_pts.append(pts)
        all_starts.append(starts)
        all_pres.append(pres if pres is not None else np.full(len(pts), 0.5, np.float32))
    if not all_pts:
        return np.zeros((height, 1), np.float32)
    pts = np.concatenate(all_pts)
    shear(pts, math.tan(math.radians(style.slant)))
    return rasterize(pts, np.concatenate(all_starts), np.concatenate(all_pres), height, style, rng)
