"""Line synthesizer: ledger field text → a degraded handwritten line image, deterministic for a seed.

Two hands write the text: real VNOnDB ink re-composed into new text (:mod:`data.ink`), or a handwriting font
(:mod:`data.fonts`). Either gives an ink mask; :mod:`data.degrade` turns it into an aged ledger crop.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from data.degrade import INK_COLOURS, LedgerDegradation, fit_height, ink_on_paper, reseed
from data.fonts import available_fonts, render_font_mask

Source = Literal["ink", "font"]
SOURCES: tuple[str, ...] = ("ink", "font")


@dataclass
class SynthLine:
    """One synthetic line: the image, its ground truth and where it came from."""

    image: np.ndarray  # uint8 RGB (height, width, 3)
    text: str
    source: str
    seed: int
    meta: dict = field(default_factory=dict)


class LineSynthesizer:
    """Render field text as aged handwritten ledger lines.

    Args:
        height: output height in pixels (the width follows the text).
        degradation: 0 = clean ink on paper, 1 = the full aged-ledger pipeline.
        writers: VNOnDB writer ids the ink path may use (pass the training split to keep validation writers
            unseen); None = all writers of the corpus.
        ink_corpus: a loaded :class:`data.ink.InkCorpus`; loaded lazily from the shared data when needed.
    """

    def __init__(self, height: int = 64, degradation: float = 1.0, writers: list[str] | None = None,
                 ink_corpus=None):
        if height < 16:
            raise ValueError(f"height must be at least 16 px, got {height}")
        self.height = height
        self.fonts = available_fonts()
        self._writers = list(writers) if writers is not None else None
        self._corpus = ink_corpus
        self._composer = None
        self._pipeline = LedgerDegradation(degradation)

    # -- the two hands -------------------------------------------------------------------------------
    def _ink_composer(self):
        if self._composer is None:
            from data.ink import InkComposer, load_corpus

            if self._corpus is None:
                self._corpus = load_corpus(progress=False)
            if self._writers is None:
                self._writers = sorted(self._corpus.writers)
            # Borrowed ink (words a writer never wrote) must also come from the allowed writers only,
            # or validation writers' hands would leak into training lines.
            self._composer = InkComposer(self._corpus, writers=self._writers)
        return self._composer

    def _font_mask(self, text: str, text_height: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        font = self.fonts[int(rng.integers(len(self.fonts)))]
        stroke = int(rng.random() < 0.25)
        mask = render_font_mask(text, font, text_height, stroke=stroke)
        colour = "blue" if rng.random() < 0.6 else "black"
        return mask, {"font": font.stem, "ink": colour}

    def _ink_mask(self, text: str, text_height: int, rng: np.random.Generator,
                  writer: str | None) -> tuple[np.ndarray, dict]:
        from data.ink import InkStyle

        composer = self._ink_composer()
        writer = writer or self._writers[int(rng.integers(len(self._writers)))]
        style = InkStyle.sample(rng)
        mask, info = composer.compose(text, writer, text_height, rng, style=style)
        return mask, {"writer": writer, "ink": style.colour, **{k: v for k, v in info.items() if k != "writer"}}

    # -- public ----------------------------------------------------------------------------------------
    def ink_mask(self, text: str, height: int, rng: np.random.Generator, source: Source = "font", *,
                 font=None, stroke: int = 0, writer: str | None = None, style=None) -> tuple[np.ndarray, dict]:
        """The bare ink mask of ``text`` in one fixed hand, for callers that lay out and colour it themselves
        (synthetic pages write every cell of an entry in the same officer's hand).

        ``source="font"``: ``font`` (a path; default a random one of :attr:`fonts`) with ``stroke`` extra pen
        width. ``source="ink"``: VNOnDB ``writer`` (default random among the allowed writers) with ``style``
        (an :class:`data.ink.InkStyle`; default sampled). Returns a float32 ``(height, width)`` mask in [0, 1]
        and the hand's metadata.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
        if not text.strip():
            raise ValueError("cannot render empty text")
        if source == "font":
            font = font if font is not None else self.fonts[int(rng.integers(len(self.fonts)))]
            return render_font_mask(text, font, height, stroke=stroke), {"font": str(getattr(font, "stem", font))}
        composer = self._ink_composer()
        writer = writer or self._writers[int(rng.integers(len(self._writers)))]
        mask, _ = composer.compose(text, writer, height, rng, style=style)
        return mask, {"writer": writer}

    def ink_writers(self) -> list[str]:
        """The VNOnDB writers the ink hand may use (loads the ink corpus on first use)."""
        self._ink_composer()
        return list(self._writers)

    def render(self, text: str, seed: int, source: Source = "font", writer: str | None = None) -> SynthLine:
        """Render ``text`` with the given hand; the same (text, seed, source, writer) gives the same image."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
        if not text.strip():
            raise ValueError("cannot render empty text")
        rng = np.random.default_rng(seed)
        text_height = int(round(self.height * rng.uniform(0.62, 0.82)))
        if source == "font":
            mask, meta = self._font_mask(text, text_height, rng)
        else:
            mask, meta = self._ink_mask(text, text_height, rng, writer)

        return self._finish(mask, meta, text, source, seed, rng)

    def render_real(self, line, seed: int) -> SynthLine:
        """Render a real VNOnDB line (:class:`data.ink.InkLine`) as the writer wrote it, on aged paper."""
        from data.ink import InkStyle, render_line

        rng = np.random.default_rng(seed)
        style = InkStyle.sample(rng)
        mask = render_line(line, int(round(self.height * rng.uniform(0.7, 0.85))), style, rng)
        return self._finish(mask, {"writer": str(line.writer), "ink": style.colour}, line.text, "vnondb", seed, rng)

    def _finish(self, mask: np.ndarray, meta: dict, text: str, source: str, seed: int,
                rng: np.random.Generator) -> SynthLine:
        """Ink mask → degraded RGB line of ``self.height``."""
        # Cell margins: a little paper around the writing, more on the right where the cell continues.
        left = int(rng.integers(2, max(3, self.height // 3)))
        right = int(rng.integers(2, max(3, self.height // 2)))
        top = int(rng.integers(0, self.height - mask.shape[0] + 1))
        canvas = np.zeros((self.height, mask.shape[1] + left + right), dtype=np.float32)
        canvas[top:top + mask.shape[0], left:left + mask.shape[1]] = mask
        bleed = np.roll(canvas, int(rng.integers(canvas.shape[1])), axis=1)
        image = ink_on_paper(canvas, INK_COLOURS[meta["ink"]], rng, bleed_mask=bleed)
        reseed(self._pipeline, seed)
        image = fit_height(self._pipeline(image=image)["image"], self.height)
        return SynthLine(image=np.ascontiguousarray(image), text=text, source=source, seed=seed, meta=meta)

    def sample(self, seed: int, source: Source | None = None, book: str | None = None,
               field_key: str | None = None) -> SynthLine:
        """Generate a ledger field's text (random book and field unless given) and render it."""
        from data.schema import BOOKS, get_book
        from data.text.fields import generate_field

        text_rng = random.Random(seed)
        book_key = book or text_rng.choice(sorted(BOOKS))
        book_obj = get_book(book_key)
        key = field_key or text_rng.choice([f.key for f in book_obj.register_fields])
        text = generate_field(book_key, key, text_rng)
        if source is None:
            source = "ink" if text_rng.random() < 0.5 else "font"
        line = self.render(text, seed, source=source)
        line.meta.update(book=book_key, field=key)
        return line
