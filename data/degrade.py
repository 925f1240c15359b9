"""Aged-ledger degradation: ink on paper, then an albumentations pipeline of what decades do to a register.

The synthesizer hands over an ink mask (1 = ink) and an ink colour; :func:`ink_on_paper` lays faded ink on
yellowed, textured paper with bleed-through from the back of the page, and :class:`LedgerDegradation`
(an ``albumentations.Compose``) adds ruled lines, partial cell borders, stains, rotation and shear, blur,
noise and JPEG artefacts. Both are driven by explicit seeds, so one seed always gives the same image.
"""
from __future__ import annotations

import random
from functools import lru_cache

import albumentations as A
import cv2
import numpy as np

# Paper shades from fresh white to the brown-yellow of 1980s registers (RGB).
PAPER_SHADES = np.array([[246, 245, 240], [240, 234, 214], [233, 222, 190], [226, 212, 176], [236, 230, 220]],
                        dtype=np.float32)
INK_COLOURS = {"blue": (28, 45, 140), "black": (32, 30, 36), "violet": (70, 40, 120)}
_TEXTURE_BANK = 6
_TEXTURE_SIZE = (192, 2048)


@lru_cache(maxsize=1)
def _paper_textures() -> np.ndarray:
    """A fixed bank of grey paper textures (fibres and blotches), built once; float32 ``(K, H, W)`` near 1."""
    rng = np.random.default_rng(20260101)
    height, width = _TEXTURE_SIZE
    bank = []
    for _ in range(_TEXTURE_BANK):
        blotch = cv2.resize(rng.normal(0, 1, (height // 32, width // 32)).astype(np.float32), (width, height),
                            interpolation=cv2.INTER_CUBIC)
        fibres = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), sigmaX=2.0, sigmaY=0.7)
        grain = rng.normal(0, 1, (height, width)).astype(np.float32)
        bank.append(1.0 + 0.025 * blotch + 0.02 * fibres + 0.012 * grain)
    return np.stack(bank)


def _crop(bank_item: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    th, tw = bank_item.shape
    if height > th or width > tw:
        reps = (-(-height // th), -(-width // tw))
        bank_item = np.tile(bank_item, reps)
        th, tw = bank_item.shape
    y = int(rng.integers(0, th - height + 1))
    x = int(rng.integers(0, tw - width + 1))
    return bank_item[y:y + height, x:x + width]


def _low_frequency(height: int, width: int, rng: np.random.Generator, cells: int = 6) -> np.ndarray:
    """A smooth random field in [0, 1], for patchy fading."""
    small = rng.random((2, max(2, cells * width // max(height, 1) // 4 + 2))).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def ink_on_paper(mask: np.ndarray, ink_rgb: tuple[int, int, int], rng: np.random.Generator,
                 bleed_mask: np.ndarray | None = None) -> np.ndarray:
    """Composite an ink mask onto aged paper.

    Args:
        mask: float32 ``(H, W)`` in [0, 1], 1 = full ink.
        ink_rgb: the pen colour.
        rng: drives paper shade, texture crop, fading and bleed-through.
        bleed_mask: ink from "the back of the page" (any mask, flipped and blurred here); None = none.

    Returns:
        uint8 RGB ``(H, W, 3)``.
    """
    height, width = mask.shape
    weights = rng.dirichlet(np.ones(len(PAPER_SHADES)) * 0.6)
    paper_rgb = weights @ PAPER_SHADES + rng.normal(0, 3, 3)
    paper = _crop(_paper_textures()[int(rng.integers(_TEXTURE_BANK))], height, width, rng).copy()

    if bleed_mask is not None and rng.random() < 0.5:
        back = cv2.flip(bleed_mask, 1)
        if back.shape != (height, width):
            back = cv2.resize(back, (width, height), interpolation=cv2.INTER_AREA)
        back = cv2.GaussianBlur(back, (0, 0), sigmaX=1.5)
        paper *= 1.0 - rng.uniform(0.06, 0.18) * back

    # Faded ink ("chữ bị chìm"): overall strength times a patchy field, a little feathering into the fibres.
    strength = rng.uniform(0.45, 1.0) if rng.random() < 0.5 else rng.uniform(0.85, 1.0)
    patchy = 1.0 - rng.uniform(0.0, 0.5) * _low_frequency(height, width, rng)
    alpha = np.minimum(mask * patchy * strength, 1.0)
    if rng.random() < 0.3:
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    ink = np.asarray(ink_rgb, dtype=np.float32) + rng.normal(0, 8, 3)
    # Per pixel and channel: paper_level * (1 - alpha) * paper_rgb + alpha * ink_rgb. Worked plane by plane:
    # numpy broadcasting over a trailing axis of 3 is several times slower than three 2-D passes.
    paper *= 1.0 - alpha
    return _to_uint8([paper * float(paper_rgb[c]) + alpha * float(ink[c]) for c in range(3)])


def _to_uint8(planes: list[np.ndarray]) -> np.ndarray:
    """Merge float planes into a uint8 image, saturating at 0 and 255."""
    return cv2.merge([cv2.convertScaleAbs(np.maximum(plane, 0.0)) for plane in planes])


class RuledLines(A.ImageOnlyTransform):
    """Printed table rules crossing or touching the text: horizontal rules and partial vertical cell borders."""

    def __init__(self, p: float = 0.7):
        super().__init__(p=p)

    def get_params_dependent_on_data(self, params, data):
        height, width = params["shape"][:2]
        rng = self.random_generator
        rules = []
        for _ in range(int(rng.integers(1, 3))):
            # Where officers' writing meets the rule: through the middle, on the baseline, or at the top.
            y = float(rng.choice([rng.uniform(0.02, 0.15), rng.uniform(0.7, 0.95), rng.uniform(0.35, 0.65)],
                                 p=[0.35, 0.45, 0.2])) * height
            rules.append(("h", y, float(rng.uniform(-1.5, 1.5)), int(rng.integers(1, 3))))
        for side in (0, 1):
            if rng.random() < 0.35:
                x = rng.uniform(0, 0.02) * width if side == 0 else rng.uniform(0.98, 1.0) * width
                # A partial border: the cell edge often stops short where the paper is torn or faded.
                span = (float(rng.uniform(0, 0.4)), float(rng.uniform(0.6, 1.0)))
                rules.append(("v", float(x), span, int(rng.integers(1, 3))))
        tone = rng.uniform(60, 150)
        tint = np.array([tone, tone, tone + rng.uniform(-10, 40)], dtype=np.float32)
        return {"rules": rules, "rule_rgb": tint, "rule_alpha": float(rng.uniform(0.35, 0.85))}

    def apply(self, img, rules=(), rule_rgb=None, rule_alpha=0.6, **params):
        overlay = img.copy()
        height, width = img.shape[:2]
        colour = tuple(float(c) for c in rule_rgb)
        for kind, pos, extent, thickness in rules:
            if kind == "h":
                cv2.line(overlay, (0, int(pos)), (width - 1, int(pos + extent)), colour, thickness, cv2.LINE_AA)
            else:
                top, bottom = int(extent[0] * height), int(extent[1] * height)
                cv2.line(overlay, (int(pos), top), (int(pos), bottom), colour, thickness, cv2.LINE_AA)
        # Only the rule pixels change; the darker of ink and rule wins where they cross, as with print under ink.
        blended = cv2.addWeighted(np.minimum(overlay, img), rule_alpha, img, 1.0 - rule_alpha, 0)
        return blended


class Stains(A.ImageOnlyTransform):
    """Water and foxing stains: soft brownish blobs."""

    def __init__(self, p: float = 0.3):
        super().__init__(p=p)

    def get_params_dependent_on_data(self, params, data):
        height, width = params["shape"][:2]
        rng = self.random_generator
        blobs = [(float(rng.uniform(0, width)), float(rng.uniform(0, height)), float(rng.uniform(0.3, 1.5) * height),
                  float(rng.uniform(0.3, 1.0) * height), float(rng.uniform(0.08, 0.3)))
                 for _ in range(int(rng.integers(1, 4)))]
        colour = np.array([rng.uniform(120, 170), rng.uniform(90, 130), rng.uniform(40, 80)], dtype=np.float32)
        return {"blobs": blobs, "stain_rgb": colour}

    def apply(self, img, blobs=(), stain_rgb=None, **params):
        height, width = img.shape[:2]
        # Stains are smooth: draw and blur them at 1/8 resolution, then scale up.
        scale = 8
        small = np.zeros((max(1, height // scale), max(1, width // scale)), dtype=np.float32)
        for cx, cy, ax, ay, strength in blobs:
            cv2.ellipse(small, (int(cx / scale), int(cy / scale)), (max(1, int(ax / scale)), max(1, int(ay / scale))),
                        0, 0, 360, strength, -1)
        small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, height / scale / 6))
        layer = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        # Multiplicative tint towards the stain colour: factor_c = 1 - layer * (1 - stain_c / 255).
        tint = 1.0 - stain_rgb / 255.0
        return _to_uint8([cv2.multiply(plane, 1.0 - layer * float(tint[c]), dtype=cv2.CV_32F)
                          for c, plane in enumerate(cv2.split(img))])


class ScanNoise(A.ImageOnlyTransform):
    """Sensor and paper-grain noise, cropped from a fixed noise bank (drawing fresh Gaussian noise per pixel
    would cost more than the rest of the pipeline together)."""

    def __init__(self, std_range: tuple[float, float] = (2.0, 10.0), p: float = 0.3):
        super().__init__(p=p)
        self.std_range = std_range

    def get_params_dependent_on_data(self, params, data):
        rng = self.random_generator
        return {"std": float(rng.uniform(*self.std_range)), "offset": int(rng.integers(0, 1 << 30))}

    def apply(self, img, std=5.0, offset=0, **params):
        bank = _noise_bank()
        height, width = img.shape[:2]
        need = img.size
        noise = bank[offset % (bank.size - need):][:need] if bank.size > need else np.resize(bank, need)
        out = img.astype(np.float32)
        cv2.scaleAdd(noise.reshape(img.shape), std, out, dst=out)
        return cv2.convertScaleAbs(np.maximum(out, 0.0, out=out))


class SlantRotate(A.ImageOnlyTransform):
    """Small rotation and horizontal shear (a writer's slant, a crooked scan); the result keeps the height.

    ``A.Affine(fit_output=True)`` does the same but spends more time validating its matrix than warping.
    """

    def __init__(self, rotate: float = 1.5, shear: float = 8.0, p: float = 0.6):
        super().__init__(p=p)
        self.rotate, self.shear = rotate, shear

    def get_params_dependent_on_data(self, params, data):
        rng = self.random_generator
        return {"angle": float(rng.uniform(-self.rotate, self.rotate)),
                "shear": float(rng.uniform(-self.shear, self.shear))}

    def apply(self, img, angle=0.0, shear=0.0, **params):
        height, width = img.shape[:2]
        theta = np.deg2rad(angle)
        shear_matrix = np.array([[1.0, np.tan(np.deg2rad(shear)), 0.0], [0.0, 1.0, 0.0]])
        rotation = np.array([[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0]])
        matrix = rotation[:, :2] @ shear_matrix[:, :2]
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64) @ matrix.T
        low, high = corners.min(axis=0), corners.max(axis=0)
        # Fit the tilted line back into the original height inside the same warp: a line keeps its height
        # and no second resize is needed.
        scale = height / (high[1] - low[1])
        affine = scale * np.hstack([matrix, -low[:, None]])
        size = (max(1, int(np.ceil((high[0] - low[0]) * scale))), height)
        return cv2.warpAffine(img, affine, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    return np.random.default_rng(7).standard_normal(1 << 21).astype(np.float32)


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Scale an image back to ``height`` keeping its aspect ratio (rotation and shear grow the canvas)."""
    if image.shape[0] == height:
        return image
    width = max(1, int(round(image.shape[1] * height / image.shape[0])))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def reseed(pipeline: A.BaseCompose, seed: int) -> None:
    """Seed ``pipeline`` so that its transforms draw from one shared stream started at ``seed``.

    ``Compose.set_random_seed`` gives every transform its own generator with the *same* seed, so their first
    draws (whether to apply) coincide and a line gets either every degradation or none. One shared
    generator, drawn from in pipeline order, makes the draws independent and costs one generator per line.
    """
    generator = np.random.default_rng(int(seed) % (2**63))
    py_random = random.Random(int(seed))
    stack = [pipeline]
    while stack:
        node = stack.pop()
        node.random_generator, node.py_random = generator, py_random
        if isinstance(node, A.BaseCompose):
            stack.extend(node.transforms)


def LedgerDegradation(strength: float = 1.0) -> A.Compose:
    """The albumentations pipeline applied after :func:`ink_on_paper`; ``strength`` in [0, 1] scales it."""
    s = float(np.clip(strength, 0.0, 1.0))
    return A.Compose([
        RuledLines(p=0.7 * s),
        Stains(p=0.3 * s),
        SlantRotate(rotate=1.5 * s, shear=8.0 * s, p=0.6 * s),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 1.1)),
                 A.MotionBlur(blur_limit=(3, 5))], p=0.4 * s),
        A.RandomBrightnessContrast(brightness_limit=0.12 * s, contrast_limit=0.2 * s, p=0.5 * s),
        ScanNoise(std_range=(2.0, 10.0), p=0.3 * s),
        A.Downscale(scale_range=(0.5, 0.9), p=0.2 * s),
        A.ImageCompression(quality_range=(35, 90), p=0.6 * s),
    ])
