"""Safe decoding of uploaded line images: every bad input becomes a :class:`BadImage` with an HTTP status and
a message naming the problem, before any large allocation happens."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError


class BadImage(ValueError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def decode_image(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """Bytes of one upload → RGB uint8 array; raises :class:`BadImage` (400/413/415) naming ``name``."""
    if not data:
        raise BadImage(400, "empty_image", f"{name}: the upload is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # read from the header, before any pixel is decoded
            if width * height > max_pixels:
                raise BadImage(413, "image_too_large",
                               f"{name}: {width}x{height} pixels exceeds the limit of {max_pixels} pixels")
            image.load()
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage(415, "not_an_image", f"{name}: not a recognised image format (PNG, JPEG, TIFF, BMP, WebP)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(413, "decompression_bomb", f"{name}: the image declares too many pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(400, "corrupt_image", f"{name}: truncated or corrupt image ({exc.__class__.__name__})") from None
    if min(image.size) < 1:
        raise BadImage(400, "empty_image", f"{name}: the image has no pixels")
    return np.asarray(image.convert("RGB"))
