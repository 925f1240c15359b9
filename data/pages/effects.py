"""Paper, decades of ageing, and the scanner or phone camera, for whole pages.

Working images are three float32 planes (R, G, B) in 0..255: contiguous planes make the per-pixel work a few
OpenCV calls instead of strided numpy passes. Smooth fields (paper blotches, stains, fading, lighting) are drawn
at a fraction of the page size and scaled up, and per-pixel noise comes from a fixed noise bank, so a page
costs a few full-frame passes. Geometry changes only in :func:`camera_matrix` (+ ``cv2.warpPerspective``),
and the renderer moves all ground truth through the same matrix.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from data.degrade import PAPER_SHADES

# Scanner lids and tables the page lies on.
SCAN_BACKGROUNDS = ((236, 236, 232), (222, 224, 226), (245, 244, 240), (40, 40, 42))
PHOTO_BACKGROUNDS = ((92, 64, 42), (60, 58, 55), (120, 110, 96), (30, 32, 36), (150, 140, 128))


@lru_cache(maxsize=1)
def noise_bank() -> np.ndarray:
    return np.random.default_rng(11).standard_normal(1 << 22).astype(np.float32)


def bank_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal noise of ``shape`` cut from the bank at a random offset."""
    bank = noise_bank()
    need = int(np.prod(shape))
    if need >= bank.size:
        return np.resize(bank, need).reshape(shape)
    start = int(rng.integers(0, bank.size - need))
    return bank[start:start + need].reshape(shape)


def smooth_field(height: int, width: int, rng: np.random.Generator, cells: int = 8) -> np.ndarray:
    """A smooth random field in [0, 1] with about ``cells`` blobs along the longer side."""
    gh = max(2, int(cells * height / max(height, width)) + 2)
    gw = max(2, int(cells * width / max(height, width)) + 2)
    small = rng.random((gh, gw)).astype(np.float32)
    # Linear: cubic interpolation looks the same at these amplitudes and costs eight times more.
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def paper(height: int, width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Aged paper as R, G, B planes: a shade between white and the brown of 1980s books, blotches, fibres,
    edges darkened and yellowed by handling."""
    weights = rng.dirichlet(np.ones(len(PAPER_SHADES)) * 0.6)
    shade = weights @ PAPER_SHADES + rng.normal(0, 3, 3)
    level = smooth_field(height, width, rng, cells=10)
    cv2.scaleAdd(level, 0.05, np.full_like(level, 0.975), dst=level)
    cv2.scaleAdd(bank_noise((height, width), rng), 0.012, level, dst=level)
    edge = float(rng.uniform(0.03, 0.12))
    scale = 0.05 * min(height, width)
    ys = np.exp(-np.arange(height, dtype=np.float32) / scale)
    xs = np.exp(-np.arange(width, dtype=np.float32) / scale)
    fall = np.maximum.outer(ys + ys[::-1], xs + xs[::-1]).clip(0, 1)
    cv2.multiply(level, 1.0 - edge * fall, dst=level)
    planes = [level * float(shade[c]) for c in range(3)]
    # Yellowing: the blue channel loses more at the edges.
    cv2.multiply(planes[2], 1.0 - 0.05 * fall, dst=planes[2])
    return planes


def blend(planes: list[np.ndarray], alpha: np.ndarray, rgb, x: int = 0, y: int = 0) -> None:
    """Lay colour ``rgb`` with coverage ``alpha`` (h, w in [0, 1]) onto the planes at ``(x, y)``, in place."""
    h, w = alpha.shape
    H, W = planes[0].shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    if a.shape == planes[0].shape:  # the whole page (print): OpenCV in place
        keep = 1.0 - a
        for c in range(3):
            cv2.multiply(planes[c], keep, dst=planes[c])
            cv2.scaleAdd(a, float(rgb[c]), planes[c], dst=planes[c])
        return
    keep = 1.0 - a
    for c in range(3):
        region = planes[c][y0:y1, x0:x1]
        region *= keep
        region += a * float(rgb[c])


def multiply(planes: list[np.ndarray], factor: np.ndarray) -> None:
    """Multiply every plane by ``factor`` (H, W), in place."""
    for plane in planes:
        cv2.multiply(plane, factor, dst=plane)


def stains(height: int, width: int, rng: np.random.Generator) -> list[np.ndarray] | None:
    """Water stains with darker rims and foxing spots as multiplicative factors per plane; None = none."""
    n_stains = int(rng.choice([0, 0, 1, 1, 2, 3]))
    n_fox = int(rng.choice([0, 0, 5, 15, 40]))
    if not n_stains and not n_fox:
        return None
    scale = 4
    sh, sw = max(2, height // scale), max(2, width // scale)
    layer = np.zeros((sh, sw), np.float32)
    for _ in range(n_stains):
        blob = np.zeros((sh, sw), np.float32)
        axes = (int(rng.uniform(0.05, 0.25) * sw), int(rng.uniform(0.05, 0.25) * sh))
        centre = (int(rng.uniform(0, sw)), int(rng.uniform(0, sh)))
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        soft = cv2.GaussianBlur(blob, (0, 0), sigmaX=max(1.0, min(axes) * 0.25))
        edge = cv2.GaussianBlur(blob, (0, 0), sigmaX=max(1.0, min(axes) * 0.05))
        rim = 4.0 * edge * (1.0 - edge)  # the tide line where the water dried
        layer += rng.uniform(0.04, 0.12) * soft + rng.uniform(0.1, 0.3) * rim
    for _ in range(n_fox):
        cv2.circle(layer, (int(rng.uniform(0, sw)), int(rng.uniform(0, sh))), int(rng.integers(1, 3)),
                   float(rng.uniform(0.1, 0.35)), -1)
    layer = cv2.GaussianBlur(layer, (0, 0), sigmaX=1.0)
    layer = cv2.resize(layer, (width, height), interpolation=cv2.INTER_LINEAR)
    tint = 1.0 - np.array([rng.uniform(120, 170), rng.uniform(90, 130), rng.uniform(40, 80)]) / 255.0
    return [1.0 - layer * float(t) for t in tint]


def bleed_through(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The back page showing through: its writing mirrored and blurred, as a darkening factor (H, W)."""
    height, width = ink.shape
    small = cv2.resize(ink, (max(2, width // 2), max(2, height // 2)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(cv2.flip(small, 1), (0, 0), sigmaX=1.2)
    # The back page is not aligned with the front: shift it a little.
    dx, dy = rng.uniform(-0.03, 0.03) * small.shape[1], rng.uniform(-0.02, 0.02) * small.shape[0]
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    small = cv2.warpAffine(small, shift, (small.shape[1], small.shape[0]))
    back = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return 1.0 - float(rng.uniform(0.05, 0.16)) * back


def gutter_shadow(width: int, rng: np.random.Generator) -> np.ndarray:
    """Darkening along the binding of an open book (per column, broadcast over rows)."""
    x = np.arange(width, dtype=np.float32)
    spread = width * rng.uniform(0.01, 0.03)
    return 1.0 - rng.uniform(0.15, 0.4) * np.exp(-((x - width / 2) / spread) ** 2)


def tear(height: int, width: int, keep: tuple[float, float, float, float],
         rng: np.random.Generator) -> np.ndarray | None:
    """A torn-off corner that stays clear of ``keep`` (the box holding all content): a polygon, or None."""
    if rng.random() > 0.25:
        return None
    corner = int(rng.integers(4))
    x0, y0, x1, y1 = keep
    # Distances from the chosen corner to the content box along each edge.
    gap_x = x0 if corner in (0, 3) else width - x1
    gap_y = y0 if corner in (0, 1) else height - y1
    a = width * rng.uniform(0.04, 0.2)
    b = height * rng.uniform(0.04, 0.2)
    # The content corner must stay outside the cut triangle (with room for the jagged edge).
    reach = gap_x / a + gap_y / b
    if reach < 1.25:
        a, b = a * reach / 1.25, b * reach / 1.25
    if min(a, b) < 6:
        return None
    ts = np.linspace(0, 1, 14)[1:-1]
    normal = np.array([b, a]) / np.hypot(a, b)
    jag = rng.uniform(-0.04, 0.04, ts.size)[:, None] * np.hypot(a, b) * 0.5
    edge = np.stack([a * (1 - ts), b * ts], axis=1) + jag * normal
    poly = np.concatenate([[[0.0, 0.0], [a, 0.0]], np.clip(edge, 0, None), [[0.0, b]]])
    if corner in (1, 2):
        poly[:, 0] = width - poly[:, 0]
    if corner in (2, 3):
        poly[:, 1] = height - poly[:, 1]
    return poly.astype(np.float32)


def camera_matrix(width: int, height: int, rng: np.random.Generator, mode: str,
                  max_rotation: float = 3.0) -> tuple[np.ndarray, float]:
    """The page-to-image homography of a flatbed scan or a phone photo, and its rotation in degrees.

    Scans: a small rotation and almost no perspective; photos: the same rotation range, a keystone
    perspective and the page a little smaller than the frame.
    """
    c = np.array([width / 2, height / 2])
    if rng.random() < 0.5:
        angle = float(rng.uniform(-1.0, 1.0))
    else:
        angle = float(rng.uniform(-max_rotation, max_rotation))
    rot = np.eye(3)
    rot[:2] = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, 1.0)
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    jitter = (0.004 if mode == "scan" else rng.uniform(0.01, 0.04)) * min(width, height)
    moved = corners + rng.uniform(-jitter, jitter, corners.shape).astype(np.float32)
    persp = cv2.getPerspectiveTransform(corners, moved)
    s = rng.uniform(0.97, 1.0) if mode == "scan" else rng.uniform(0.86, 0.96)
    scale = np.array([[s, 0, (1 - s) * c[0]], [0, s, (1 - s) * c[1]], [0, 0, 1]])
    return scale @ persp @ rot, angle


def fit_inside(matrix: np.ndarray, points: np.ndarray, width: int, height: int, margin: float = 3.0) -> np.ndarray:
    """Shrink ``matrix`` about the image centre until ``points`` (N, 2, page coordinates) land inside."""
    hom = np.c_[points, np.ones(len(points))] @ matrix.T
    warped = hom[:, :2] / hom[:, 2:3]
    c = np.array([width / 2, height / 2])
    d = warped - c
    limit = np.array([width / 2 - margin, height / 2 - margin])
    with np.errstate(divide="ignore"):
        ratios = np.where(np.abs(d) > 1e-6, limit / np.abs(d), np.inf)
    s = float(min(1.0, ratios.min()))
    if s >= 1.0:
        return matrix
    s *= 0.995
    shrink = np.array([[s, 0, (1 - s) * c[0]], [0, s, (1 - s) * c[1]], [0, 0, 1]])
    return shrink @ matrix


def lighting(height: int, width: int, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Uneven illumination (H, W): a gradient and vignette for photos, a faint lamp falloff for scans."""
    ys = np.linspace(-1, 1, 24, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, 24, dtype=np.float32)[None, :]
    gx, gy = rng.uniform(-1, 1, 2)
    strength = rng.uniform(0.1, 0.3) if mode == "photo" else rng.uniform(0.0, 0.06)
    field = 1.0 - strength * (0.5 + 0.5 * (gx * xs + gy * ys) / (abs(gx) + abs(gy) + 1e-6))
    vignette = rng.uniform(0.05, 0.25) if mode == "photo" else rng.uniform(0.0, 0.04)
    field *= 1.0 - vignette * (xs ** 2 + ys ** 2) / 2
    if mode == "photo" and rng.random() < 0.4:
        # A soft shadow (the phone or a hand) across one side.
        edge = rng.uniform(-0.6, 0.6)
        field *= 1.0 - rng.uniform(0.1, 0.3) * (1 / (1 + np.exp(-(xs * rng.choice([-1, 1]) - edge) * 6)))
    return cv2.resize(field.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def scan_finish(image: np.ndarray, rng: np.random.Generator, mode: str, strength: float = 1.0) -> np.ndarray:
    """Optics and encoding: blur, resolution loss, sensor noise, JPEG. uint8 RGB in, uint8 RGB out."""
    out = image
    if rng.random() < 0.5 * strength:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(rng.uniform(0.3, 0.9 if mode == "scan" else 1.3)))
    if rng.random() < 0.3 * strength:
        h, w = out.shape[:2]
        f = float(rng.uniform(0.55, 0.85))
        small = cv2.resize(out, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6 * strength:
        noisy = out.astype(np.float32)
        # Sensor noise is mostly luminance: one plane shared by the channels keeps it cheap.
        noisy += float(rng.uniform(2.0, 7.0)) * bank_noise(out.shape[:2], rng)[..., None]
        out = cv2.convertScaleAbs(np.maximum(noisy, 0))
    if rng.random() < 0.85 * strength:
        quality = int(rng.integers(35, 92))
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out
