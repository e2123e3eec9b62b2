"""Page images (.jpg, .jpeg, .png, .tif, .tiff; a multi-page TIFF is several pages) → articles: each page
is read by OCR into lines (see ``ocr``), which go through the e-paper reader's layout stage as a scanned
PDF's do. Dated by a masthead date line or the file name."""
from __future__ import annotations

from pathlib import Path

from . import ocr
from .model import Article, IngestError
from .pdf import PdfPage, articles_from_lines

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def read_image(path: Path, source: str) -> list[Article]:
    """A scan or photo of newspaper pages → its articles, every paragraph marked as read by OCR."""
    pages = image_lines(path)
    return ocr.mark_ocr(articles_from_lines(pages, source, path), pages)


def image_lines(path: Path) -> list[PdfPage]:
    """The lines of every page (frame) of an image file, read by OCR; unreadable or blank images are
    refused by name."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise IngestError(path, f"not a readable image ({error})") from None
    with image:
        count = getattr(image, "n_frames", 1)

        def render(number: int):
            image.seek(number - 1)
            frame = ImageOps.exif_transpose(image)  # a phone photo stands as it was taken
            return _fitted(frame)

        try:
            return ocr.read_pages(list(range(1, count + 1)), render, path)
        except (OSError, ValueError) as error:
            raise IngestError(path, f"not a readable image ({error})") from None


def _fitted(frame) -> tuple:
    """A frame as a grey array at about ocr.DPI (by its stated resolution, when it has a believable one;
    at most ocr.MAX_SIDE long), and the points per pixel that make its lines' sizes type sizes."""
    from PIL import Image

    dpi = frame.info.get("dpi", (0, 0))[0] or 0
    believable = 100 <= float(dpi) <= 1200
    scale = min(1.0, ocr.DPI / float(dpi)) if believable else 1.0
    scale = min(scale, ocr.MAX_SIDE / max(frame.size))
    if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:  # a see-through background is paper
        page = Image.new("RGBA", frame.size, "white")
        page.alpha_composite(frame.convert("RGBA"))
        frame = page
    grey = frame.convert("L")
    if scale < 1.0:
        size = (max(1, round(frame.size[0] * scale)), max(1, round(frame.size[1] * scale)))
        grey = grey.resize(size, Image.Resampling.LANCZOS)
    points = 72 / (float(dpi) * scale) if believable else 72 / ocr.DPI
    return ocr.to_grey(grey), points
