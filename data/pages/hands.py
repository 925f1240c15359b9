"""The people who wrote a page: officers' hands, the later hand of amendments, and real scanned address lines.

One officer writes a whole entry (often several in a row) with one pen: a :class:`PageHand` fixes the source
(VNOnDB ink re-composed by :class:`data.synth.LineSynthesizer`, or a handwriting font), the writer or font, the
pen colour and density, the writing size and slant. Amendments in the notes column come later, from another
officer with another pen.

:class:`CinnamonBank` serves real handwritten address lines from the Cinnamon scans (shared data) for
residence and place cells: the scan is turned into an ink mask (local paper level minus pixel), cropped to the
ink and written in the entry's pen colour, with its label as the exact text.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from data.ink.render import BLACK_INKS, BLUE_INKS

# Pens of later amendments: red and violet were common for corrections, besides ordinary blue and black.
AMENDMENT_INKS = ((150, 30, 40), (175, 35, 45), (80, 40, 130), (60, 35, 110), *BLUE_INKS[:2], BLACK_INKS[0])
PLACE_ATTRIBUTES = frozenset({"NoiCuTru", "QueQuan", "NoiSinh", "NoiChet"})


@dataclass(frozen=True)
class PageHand:
    """How one officer writes: source, writer or font, pen and habits.

    ``size`` scales the page's nominal line height; ``spacing`` is the line pitch in line heights;
    ``shear`` a slant (tan of the angle) applied to font writing (ink has the writer's own slant);
    ``align`` where a short text sits in a tall cell (``top`` or ``middle``).
    """

    source: str
    font: str | None
    stroke: int
    writer: str | None
    style: object | None  # data.ink.InkStyle for the ink source
    rgb: tuple[int, int, int]
    density: float
    size: float
    spacing: float
    shear: float
    align: str
    separator: str

    def to_meta(self) -> dict:
        return {"source": self.source, "font": Path(self.font).stem if self.font else None, "writer": self.writer,
                "rgb": list(self.rgb)}


def sample_hand(rng: np.random.Generator, fonts: tuple[Path, ...], writers: list[str] | None,
                ink_share: float = 0.5, amendment: bool = False) -> PageHand:
    """A random officer's hand. ``writers`` None (no ink corpus) always gives a font hand."""
    use_ink = writers is not None and len(writers) > 0 and rng.random() < ink_share
    style = None
    writer = None
    font = None
    if use_ink:
        from data.ink import InkStyle

        style = InkStyle.sample(rng)
        writer = writers[int(rng.integers(len(writers)))]
        rgb = tuple(int(c) for c in style.rgb)
    else:
        font = str(fonts[int(rng.integers(len(fonts)))])
        palette = BLUE_INKS if rng.random() < 0.6 else BLACK_INKS
        base = palette[int(rng.integers(len(palette)))]
        rgb = tuple(int(np.clip(b + rng.normal(0, 6), 0, 255)) for b in base)
    if amendment:
        base = AMENDMENT_INKS[int(rng.integers(len(AMENDMENT_INKS)))]
        rgb = tuple(int(np.clip(b + rng.normal(0, 6), 0, 255)) for b in base)
        if style is not None:
            from dataclasses import replace

            style = replace(style, rgb=rgb)
    return PageHand(
        source="ink" if use_ink else "font", font=font, stroke=int(rng.random() < 0.3), writer=writer,
        style=style, rgb=rgb, density=float(rng.uniform(0.7, 1.0)), size=float(rng.uniform(0.85, 1.08)),
        spacing=float(rng.uniform(1.02, 1.2)), shear=float(rng.uniform(-0.05, 0.22)),
        align="top" if rng.random() < 0.55 else "middle",
        separator=str(rng.choice([",", ",", ",", "-", ";"])),
    )


def shear_mask(mask: np.ndarray, shear: float) -> np.ndarray:
    """Slant a mask to the right by ``shear`` (x += shear * (height - y)), widening it."""
    if abs(shear) < 0.02:
        return mask
    h, w = mask.shape
    extra = int(np.ceil(abs(shear) * h))
    # x' = x + shear * (h - y): the top leans right for shear > 0; a leftward lean is shifted back into view.
    matrix = np.float32([[1, -shear, shear * h + (extra if shear < 0 else 0)], [0, 1, 0]])
    return cv2.warpAffine(mask, matrix, (w + extra, h), flags=cv2.INTER_LINEAR, borderValue=0)


class MaskWriter:
    """Renders text in one hand at a given height, with a per-page cache (layout retries re-ask for the same
    text at the same size) and a running estimate of how wide text will be before it is rendered, so that
    wrapping renders each line about once."""

    def __init__(self, synth, hand: PageHand, rng: np.random.Generator):
        self.synth, self.hand, self.rng = synth, hand, rng
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        # Width per character in line heights: a typical hand to start with, then learnt from what it wrote.
        self._ratio_sum, self._ratio_n = (0.5, 1) if hand.source == "ink" else (_font_ratio(hand.font), 1)

    def estimate(self, text: str, height: int) -> float:
        """Expected mask width of ``text`` at ``height`` without rendering it."""
        return len(text) * height * self._ratio_sum / self._ratio_n

    def __call__(self, text: str, height: int) -> np.ndarray:
        key = (text, int(height))
        got = self._cache.get(key)
        if got is not None:
            return got
        hand = self.hand
        if hand.source == "ink":
            mask, _ = self.synth.ink_mask(text, int(height), self.rng, "ink", writer=hand.writer, style=hand.style)
        else:
            mask, _ = self.synth.ink_mask(text, int(height), self.rng, "font", font=hand.font, stroke=hand.stroke)
            mask = shear_mask(mask, hand.shear)
        mask = trim_columns(mask)
        self._cache[key] = mask
        if len(text) >= 4:
            self._ratio_sum += mask.shape[1] / (len(text) * height)
            self._ratio_n += 1
        return mask


@lru_cache(maxsize=64)
def _font_ratio(font: str | None) -> float:
    """Mask width per character per line height of a font, on a typical register value."""
    if font is None:
        return 0.45
    from data.fonts import render_font_mask

    sample = "Nguyễn Thị Hoa, 12/3/1998, xã Thạch Khôi"
    return render_font_mask(sample, font, 40).shape[1] / (len(sample) * 40)


def trim_columns(mask: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Drop empty columns on both sides (the renderers leave pen margins)."""
    cols = (mask > threshold).any(axis=0)
    if not cols.any():
        return mask
    return mask[:, int(cols.argmax()):len(cols) - int(cols[::-1].argmax())]


# -- real scanned address lines ----------------------------------------------------------------------------
def scan_to_mask(image: np.ndarray) -> np.ndarray:
    """Ink mask of a scanned line: darkness below the local paper level, cropped to the ink.

    The paper level is a 15 px maximum filter of the grey image (ink strokes are thinner than that), so uneven
    scan lighting does not turn into ink.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    gray = gray.astype(np.float32)
    paper = cv2.dilate(gray, np.ones((15, 15), np.uint8))
    contrast = max(float(np.percentile(paper - gray, 99.5)), 40.0)
    ink = np.clip((paper - gray) / contrast, 0.0, 1.0)
    ink[ink < 0.15] = 0.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.35)
    cols = np.flatnonzero(ink.max(axis=0) > 0.35)
    if rows.size == 0 or cols.size == 0:
        return ink
    return ink[max(0, rows[0] - 1):rows[-1] + 2, max(0, cols[0] - 1):cols[-1] + 2]


@lru_cache(maxsize=512)
def _scan_mask(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return scan_to_mask(image)


class CinnamonBank:
    """Real address lines for residence and place cells (Cinnamon split ``train`` for training pages, ``val``
    for held-out pages); empty when the shared data is absent."""

    # Ink width over height of a Cinnamon line per character of its label, measured on the training lines
    # (median 0.30): used to skip lines that cannot fit before reading them.
    WIDTH_PER_CHAR = 0.30

    def __init__(self, split: str = "train"):
        from data.datasets import cinnamon_records
        from data.settings import SharedDataMissing

        try:
            records = cinnamon_records("train" if split == "train" else "val")
        except SharedDataMissing:
            records = []
        self.items = [(str(r.image), r.text) for r in records]
        self.lengths = np.array([len(t) for _, t in self.items])

    def __len__(self) -> int:
        return len(self.items)

    def pick(self, rng: np.random.Generator, height: int, max_width: float,
             tries: int = 4) -> tuple[np.ndarray, str, str] | None:
        """A real line whose ink, scaled to ``height``, is at most ``max_width`` wide: (mask, text, file)."""
        if not self.items:
            return None
        max_chars = max_width / (height * self.WIDTH_PER_CHAR)
        candidates = np.flatnonzero(self.lengths <= max_chars * 1.1)
        if candidates.size == 0:
            return None
        for _ in range(tries):
            path, text = self.items[int(candidates[int(rng.integers(candidates.size))])]
            mask = _scan_mask(path)
            width = mask.shape[1] * height / mask.shape[0]
            if width <= max_width:
                scaled = cv2.resize(mask, (max(1, int(round(width))), int(height)), interpolation=cv2.INTER_AREA)
                return scaled, text, Path(path).name
        return None


def python_rng(rng: np.random.Generator) -> random.Random:
    """A ``random.Random`` seeded from ``rng`` (the text generators take the standard library's generator)."""
    return random.Random(int(rng.integers(0, 2**63)))
