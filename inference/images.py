"""Safe decoding of uploaded images and scans: every bad input becomes a :class:`BadImage` with an HTTP status
and a message naming the problem, before any large allocation happens.

A file may hold several pages: a multi-page TIFF (what document scanners write) or a PDF (rendered at
``PDF_DPI``). :func:`page_count` says how many; :func:`decode_image` decodes one of them, and refuses a file of
several pages unless told which one, so that no page is silently dropped."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: PDF pages are rendered at this resolution: register books are scanned at 200-300 dpi, and the layout works
#: at 1,600 px on the long side (an A4 page at 200 dpi is 2,339 px high).
PDF_DPI = 200


class BadImage(ValueError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _corrupt(name: str, exc: Exception) -> BadImage:
    return BadImage(400, "corrupt_image", f"{name}: truncated or corrupt image ({exc.__class__.__name__})")


def _is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:1024]  # the header may follow up to 1 KiB of other bytes


def _open_pdf(source: bytes | Path, name: str):
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - a dependency of the project
        raise BadImage(415, "pdf_unsupported", f"{name}: reading PDF needs the pypdfium2 package") from None
    try:
        return pypdfium2.PdfDocument(str(source) if isinstance(source, Path) else source)
    except pypdfium2.PdfiumError as exc:
        raise BadImage(400, "corrupt_pdf", f"{name}: a PDF that cannot be read ({exc})") from None


def _open_image(source: bytes | Path, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except UnidentifiedImageError:
        raise BadImage(415, "not_an_image",
                       f"{name}: not a recognised image format (PNG, JPEG, TIFF, BMP, WebP, PDF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(413, "decompression_bomb", f"{name}: the image declares too many pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(name, exc) from None


def page_count(source: bytes | Path, name: str) -> int:
    """How many pages the file holds: the frames of a (multi-page) TIFF, the pages of a PDF, 1 for an image of
    one frame. ``source`` is the file's bytes or its path (read only as far as counting needs: a folder of
    large scans is counted without reading them whole). Raises :class:`BadImage` for a file that is neither."""
    head = source[:1024] if isinstance(source, bytes) else _head(source)
    if not head:
        raise BadImage(400, "empty_image", f"{name}: the upload is empty (0 bytes)")
    if _is_pdf(head):
        pdf = _open_pdf(source, name)
        try:
            return len(pdf)
        finally:
            pdf.close()
    image = _open_image(source, name)
    try:
        return int(getattr(image, "n_frames", 1))
    except (OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(name, exc) from None
    finally:
        image.close()


def _head(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read(1024)


def _several_pages(name: str, pages: int) -> BadImage:
    return BadImage(400, "several_pages", f"{name}: the file holds {pages} pages; send one page per request "
                                          f"(`hotich extract` reads every page of a multi-page TIFF or PDF)")


def _render_pdf_page(data: bytes, name: str, max_pixels: int, page: int | None, dpi: float) -> np.ndarray:
    pdf = _open_pdf(data, name)
    try:
        pages = len(pdf)
        if page is None and pages != 1:
            if pages == 0:
                raise BadImage(400, "empty_image", f"{name}: the PDF has no pages")
            raise _several_pages(name, pages)
        index = page or 0
        if not 0 <= index < pages:
            raise BadImage(400, "no_such_page", f"{name}: no page {index + 1} (the PDF has {pages})")
        where = name if pages == 1 else f"{name} page {index + 1}"
        try:
            sheet = pdf[index]
            width_pt, height_pt = sheet.get_size()
            scale = dpi / 72.0
            width, height = round(width_pt * scale), round(height_pt * scale)
            if width * height > max_pixels:
                raise BadImage(413, "image_too_large", f"{where}: {width}x{height} pixels at {dpi:g} dpi exceeds the "
                                                       f"limit of {max_pixels} pixels")
            if min(width, height) < 1:
                raise BadImage(400, "empty_image", f"{where}: the page has no area")
            image = sheet.render(scale=scale).to_pil()
        except BadImage:
            raise
        except Exception as exc:  # pypdfium2 raises its own and ctypes errors on a damaged page
            raise BadImage(400, "corrupt_pdf", f"{where}: the page cannot be rendered ({exc.__class__.__name__})") \
                from None
        return np.asarray(image.convert("RGB"))
    finally:
        pdf.close()


def decode_image(data: bytes, name: str, max_pixels: int, page: int | None = None, dpi: float = PDF_DPI
                 ) -> np.ndarray:
    """Bytes of one upload → RGB uint8 array; raises :class:`BadImage` (400/413/415) naming ``name``.

    ``page`` (0-based) picks one page of a multi-page TIFF or PDF (:func:`page_count`); without it a file of
    several pages is refused (``several_pages``) rather than read in part. PDF pages are rendered at ``dpi``."""
    if not data:
        raise BadImage(400, "empty_image", f"{name}: the upload is empty (0 bytes)")
    if _is_pdf(data):
        return _render_pdf_page(data, name, max_pixels, page, dpi)
    image = _open_image(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            frames = int(getattr(image, "n_frames", 1))
            if page is None and frames > 1:
                raise _several_pages(name, frames)
            if page is not None:
                if not 0 <= page < frames:
                    raise BadImage(400, "no_such_page", f"{name}: no page {page + 1} (the file has {frames})")
                image.seek(page)
            where = name if frames == 1 else f"{name} page {page + 1}"
            width, height = image.size  # read from the header, before any pixel is decoded
            if width * height > max_pixels:
                raise BadImage(413, "image_too_large",
                               f"{where}: {width}x{height} pixels exceeds the limit of {max_pixels} pixels")
            image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(413, "decompression_bomb", f"{name}: the image declares too many pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _corrupt(name, exc) from None
    if min(image.size) < 1:
        raise BadImage(400, "empty_image", f"{name}: the image has no pixels")
    return np.asarray(image.convert("RGB"))
