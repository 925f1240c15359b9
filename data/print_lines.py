"""Printed register lines (column headings, titles, page labels) with text drawn at random, for a recognizer
that reads print.

The page pipeline names the fields of a page by reading its printed headings. A recognizer that learnt
headings only from rendered pages knows a few hundred heading texts by heart, and on a layout it never saw
it writes the heading it knows ("Họ tên, quan hệ") over the one printed ("Họ tên, giới tính"): its decoder
trusts the words it has seen together more than the letters. Lines here put the same words in orders no
register prints, mixed with names, places and single words, so that only the letters tell what a line says:

- the text (:func:`print_text`): heading phrases of the books' attributes and persons joined in random ways,
  titles and group headings in capitals, page-header labels, column numbers, names, places and words; then,
  like a heading wrapped in a narrow cell, often only a run of its words;
- the type: DejaVu Serif or Sans (the registers' type in :mod:`data.pages.render`), regular or bold, now and
  then slanted, at the sizes of a page of 1,600 px (8-20 px);
- the crop: the line's ink box with a margin, as :func:`data.pages.lines.crop_line` cuts heading lines, with
  the edges of the lines above and below and the cell's rules showing where a heading cell is tight;
- the paper and the scan: aged paper, faded print, blur, noise, JPEG (:mod:`data.degrade`).

Nothing here reads the held-out page layouts: the words are the generated layouts' (:mod:`data.pages
.generated`), the training layouts' and the code tables'.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
from PIL import Image, ImageDraw

from data.degrade import INK_COLOURS, ScanNoise, fit_height, ink_on_paper, reseed
from data.pages.layout import pil_font, ttf_dir

#: DejaVu faces (all complete for Vietnamese) with how often each is drawn.
PRINT_FACES: dict[str, float] = {
    "DejaVuSerif.ttf": 0.30, "DejaVuSans.ttf": 0.30, "DejaVuSerif-Bold.ttf": 0.12, "DejaVuSans-Bold.ttf": 0.12,
    "DejaVuSerif-Italic.ttf": 0.06, "DejaVuSans-Oblique.ttf": 0.06, "DejaVuSerif-BoldItalic.ttf": 0.02,
    "DejaVuSans-BoldOblique.ttf": 0.02,
}
#: Sizes (PIL font size, px) of printed lines on a page 1,600 px on its long side: small column headings to titles.
PRINT_SIZES = (8, 20)
_JOINERS = (", ", " / ", " và ", " của ", " - ", ", ", " ")
_WORD = re.compile(r"\S+")


@dataclass
class PrintLine:
    """One synthetic printed line: ``image`` uint8 RGB ``(height, width, 3)``, its text and the face used."""

    image: np.ndarray
    text: str
    face: str
    seed: int


@lru_cache(maxsize=1)
def _phrases() -> dict[str, tuple[str, ...]]:
    """Words and phrases by kind, from the generated layouts' wording, the training layouts and the code tables."""
    from data.pages.generated import ATTRIBUTE_PHRASES, ROLE_PHRASES
    from data.pages.templates import templates_for
    from data.schema import BOOKS
    from data.text.vocab import ETHNIC_GROUPS, NATIONALITIES

    attributes = sorted({p for options in ATTRIBUTE_PHRASES.values() for p in options})
    roles = sorted({p for options in ROLE_PHRASES.values() for p in options})
    headings, titles, labels = set(), set(), set()
    for book in BOOKS:
        for t in templates_for(book, "train"):
            titles.add(t.title)
            headings.update(c.heading for c in t.columns)
            headings.update(c.group for c in t.columns if c.group)
            labels.update(lb for c in t.columns for lb in (c.labels or ()))
            labels.update(h.label for h in t.header)
            if t.footer:
                labels.add(t.footer)
    words = sorted({w.strip(",.:;()/") for text in attributes + roles + sorted(headings) + sorted(titles)
                    for w in _WORD.findall(text)} - {""})
    return {"attributes": tuple(attributes), "roles": tuple(roles), "headings": tuple(sorted(headings)),
            "titles": tuple(sorted(titles)), "labels": tuple(sorted(labels)), "words": tuple(words),
            "codes": tuple(sorted(ETHNIC_GROUPS)) + tuple(sorted(NATIONALITIES))}


def _case(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.12:
        return text.upper()
    if roll < 0.2:
        return text.lower()
    return text[:1].upper() + text[1:]


def _heading_phrase(rng: random.Random, p: dict) -> str:
    """Attributes and persons joined as no layout necessarily prints them ("Họ tên mẹ / năm sinh cha")."""
    parts = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        part = rng.choice(p["attributes"])
        if rng.random() < 0.5:
            part += " " + rng.choice(p["roles"])
        parts.append(part if not parts else part[:1].lower() + part[1:])
    text = parts[0]
    for part in parts[1:]:
        text += rng.choice(_JOINERS) + part
    return text


def _random_words(rng: random.Random, p: dict) -> str:
    pool = p["words"] if rng.random() < 0.7 else p["codes"]
    text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 5)))
    if rng.random() < 0.3:
        text += rng.choice((",", ":", ";", ".", ")"))
    return _case(rng, text)


def print_text(rng: random.Random) -> str:
    """A printed line's text: a heading, title, label, column number, name, place or words, often only a
    run of its words (a heading wrapped in a narrow cell prints a word or three per line)."""
    p = _phrases()
    roll = rng.random()
    if roll < 0.30:
        text = _heading_phrase(rng, p)
    elif roll < 0.40:
        text = rng.choice(p["headings"])
    elif roll < 0.47:
        text = rng.choice(p["titles"]) if rng.random() < 0.6 else _heading_phrase(rng, p).upper()
    elif roll < 0.54:
        text = rng.choice(p["labels"])
    elif roll < 0.62:
        n = rng.randint(1, 30)
        text = rng.choice((f"({n})", f"({n})", str(n), f"{n}."))
    elif roll < 0.70:
        from data.text.names import random_name

        text = str(random_name(rng))
        text = text.upper() if rng.random() < 0.3 else text
    elif roll < 0.76:
        from data.text.places import random_place

        text = random_place(rng)
    else:
        text = _random_words(rng, p)
    words = text.split()
    if len(words) > 1 and rng.random() < 0.55:
        start = rng.randrange(len(words))
        text = " ".join(words[start:start + rng.randint(1, 3)])
    return text


def _face(rng: random.Random) -> Path:
    names, weights = zip(*PRINT_FACES.items())
    return ttf_dir() / rng.choices(names, weights)[0]


class PrintLineSynthesizer:
    """Render printed register lines as the page pipeline crops them, scaled to ``height``.

    Args:
        height: output height in pixels (the width follows the text).
    """

    def __init__(self, height: int = 64):
        if height < 16:
            raise ValueError(f"height must be at least 16 px, got {height}")
        self.height = height
        self.scan = A.Compose([
            A.OneOf([A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.9)), A.MotionBlur(blur_limit=(3, 3))],
                    p=0.4),
            A.RandomBrightnessContrast(brightness_limit=0.12, contrast_limit=0.25, p=0.5),
            ScanNoise(std_range=(2.0, 9.0), p=0.4),
            A.ImageCompression(quality_range=(35, 90), p=0.5),
        ])

    def sample(self, seed: int, text: str | None = None) -> PrintLine:
        """One line; the same ``seed`` gives the same line. ``text`` replaces the random text."""
        rng = random.Random(seed)
        np_rng = np.random.default_rng(seed)
        text = text if text is not None else print_text(rng)
        if not text.strip():
            raise ValueError("a printed line needs some text")
        face = _face(rng)
        size = rng.randint(*PRINT_SIZES)
        # Drawn four times larger and scaled down: antialiased strokes as thin as print at page scale.
        scale = 4
        font = pil_font(str(face), size * scale)
        left, top, right, bottom = font.getbbox(text)
        ascent, descent = font.getmetrics()
        line_h = ascent + descent
        gap = int(line_h * rng.uniform(0.05, 0.45))
        pad_x = int(size * scale * rng.uniform(0.1, 0.6))
        width = right - left + 2 * pad_x
        canvas_h = 3 * line_h + 2 * gap
        mask = Image.new("L", (width, canvas_h), 0)
        draw = ImageDraw.Draw(mask)
        y_main = line_h + gap
        draw.text((pad_x - left, y_main), text, font=font, fill=255)
        for y in (y_main - line_h - gap, y_main + line_h + gap):  # the lines above and below in the cell
            if rng.random() < 0.35:
                draw.text((pad_x - left + rng.randint(-pad_x, pad_x), y), print_text(rng), font=font, fill=255)
        ink = np.asarray(mask)
        rows = np.nonzero(ink[y_main:y_main + line_h].max(axis=1))[0]
        ink_top, ink_bottom = y_main + int(rows[0]), y_main + int(rows[-1]) + 1
        ink_h = ink_bottom - ink_top
        # crop_line pads the detected box by LINE_PAD (0.15) of its height; detected boxes wobble around that.
        y0 = max(0, ink_top - int(ink_h * rng.uniform(0.05, 0.35)))
        y1 = min(canvas_h, ink_bottom + int(ink_h * rng.uniform(0.05, 0.35)))
        crop = ink[y0:y1].astype(np.float32) / 255.0
        crop = self._rules(crop, rng, scale)
        small_w = max(4, int(round(crop.shape[1] / scale)))
        small_h = max(4, int(round(crop.shape[0] / scale)))
        small = cv2.resize(crop, (small_w, small_h), interpolation=cv2.INTER_AREA)
        colour = INK_COLOURS["black"] if rng.random() < 0.95 else INK_COLOURS[rng.choice(("blue", "violet"))]
        image = ink_on_paper(small, colour, np_rng)
        reseed(self.scan, int(np_rng.integers(2**62)))
        image = self.scan(image=image)["image"]
        return PrintLine(fit_height(image, self.height), text, face.name, seed)

    @staticmethod
    def _rules(mask: np.ndarray, rng: random.Random, scale: int) -> np.ndarray:
        """The cell's printed rules where the crop reaches them: a vertical one at a side, a horizontal one at
        the top or bottom."""
        h, w = mask.shape
        thick = max(1, int(scale * rng.uniform(0.6, 1.6)))
        if rng.random() < 0.25:
            x = rng.choice((rng.randint(0, max(0, scale)), w - 1 - rng.randint(0, max(0, scale))))
            mask[:, max(0, x - thick // 2):x + thick // 2 + 1] = 1.0
        if rng.random() < 0.15:
            y = rng.choice((rng.randint(0, scale), h - 1 - rng.randint(0, scale)))
            mask[max(0, y - thick // 2):y + thick // 2 + 1, :] = 1.0
        return mask


__all__ = ["PRINT_FACES", "PRINT_SIZES", "PrintLine", "PrintLineSynthesizer", "print_text"]
