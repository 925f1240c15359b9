"""The line manifest: hotich's interchange format for evaluation, Label Studio and retraining.

JSON Lines, one object per line image::

    {"image": "<path relative to the manifest file>", "text": "<NFC text>", "source": ..., "book": ..., ...}

``image`` and ``text`` are required; ``source``, ``book``, ``field`` and ``writer`` are the documented optional
keys, and any other key is carried through untouched so that a round trip loses nothing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from data.charset import nfc

OPTIONAL_KEYS = ("source", "book", "field", "writer")


class ManifestError(ValueError):
    """A manifest line that cannot be read; the message names the file and line number."""


@dataclass
class LineRecord:
    """One manifest entry. ``image`` is absolute once read; :func:`write_manifest` makes it relative."""

    image: Path
    text: str
    extra: dict = field(default_factory=dict)

    @property
    def source(self) -> str | None:
        return self.extra.get("source")

    def to_json(self, base: Path) -> dict:
        rel = os.path.relpath(Path(self.image).resolve(), base.resolve())
        return {"image": Path(rel).as_posix(), "text": nfc(self.text), **self.extra}


def read_manifest(path: str | os.PathLike, check_images: bool = False) -> list[LineRecord]:
    """Read a manifest; image paths come back absolute.

    Raises:
        ManifestError: on invalid JSON, a missing or non-string ``image``/``text``, or (with
            ``check_images``) an image file that does not exist.
    """
    return list(iter_manifest(path, check_images=check_images))


def iter_manifest(path: str | os.PathLike, check_images: bool = False) -> Iterator[LineRecord]:
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    base = path.resolve().parent
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ManifestError(f"{path}:{number}: expected an object, got {type(obj).__name__}")
            for key in ("image", "text"):
                if not isinstance(obj.get(key), str):
                    raise ManifestError(f"{path}:{number}: missing or non-string {key!r}")
            image = (base / obj.pop("image")).resolve()
            if check_images and not image.is_file():
                raise ManifestError(f"{path}:{number}: image {image} does not exist")
            yield LineRecord(image=image, text=nfc(obj.pop("text")), extra=obj)


def write_manifest(records: Iterable[LineRecord], path: str | os.PathLike) -> int:
    """Write records as JSON Lines (atomically: a partial file never replaces a good one). Returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.resolve().parent
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(base), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
