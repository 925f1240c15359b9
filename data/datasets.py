"""Line datasets as Hugging Face ``datasets``: real Cinnamon scans, real VNOnDB ink lines, synthetic fields.

Every builder returns a :class:`datasets.Dataset` with the columns ``image`` (``datasets.Image``), ``text``,
``source`` and optional provenance (``book``, ``field``, ``writer``, ``file``), and every dataset can be
written out as a line manifest with :func:`export_manifest`. Splits are fixed and recorded in
``data/splits/``: Cinnamon by a seeded sample of file names, VNOnDB by writer.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import datasets
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from data.charset import normalize_text
from data.manifest import LineRecord, write_manifest
from data.settings import cache_dir, require_shared

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
FEATURES = datasets.Features({
    "image": datasets.Image(),
    "text": datasets.Value("string"),
    "source": datasets.Value("string"),
    "book": datasets.Value("string"),
    "field": datasets.Value("string"),
    "writer": datasets.Value("string"),
    "file": datasets.Value("string"),
})
_EMPTY = {"book": "", "field": "", "writer": "", "file": ""}


def _check_split(split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ValueError(f"unknown split {split!r}; expected one of {allowed}")


# -- Cinnamon -----------------------------------------------------------------------------------------
def cinnamon_split() -> dict:
    """The recorded Cinnamon train/val split (seed, method and the 200 validation file names)."""
    return json.loads((SPLITS_DIR / "cinnamon.json").read_text(encoding="utf-8"))


def cinnamon_records(split: str = "val") -> list[LineRecord]:
    """Cinnamon lines of ``split`` (``train``, ``val``, ``all`` or ``photos``) as manifest records."""
    _check_split(split, ("train", "val", "all", "photos"))
    folder = require_shared("datasets", "cinnamon-address-lines", "photos" if split == "photos" else "train")
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    val = set(cinnamon_split()["val"])
    names = sorted(labels)
    if split == "train":
        names = [n for n in names if n not in val]
    elif split == "val":
        names = [n for n in names if n in val]
    source = "cinnamon-photos" if split == "photos" else "cinnamon"
    return [LineRecord(image=folder / n, text=normalize_text(labels[n]), extra={"source": source, "file": n})
            for n in names]


def records_dataset(records: Iterable[LineRecord]) -> datasets.Dataset:
    """Any manifest records (images on disk) as a ``datasets.Dataset``."""
    rows = [{"image": str(r.image), "text": r.text, "source": r.extra.get("source", ""),
             **{k: str(r.extra.get(k, "")) for k in _EMPTY}} for r in records]
    return datasets.Dataset.from_list(rows, features=FEATURES)


def cinnamon_dataset(split: str = "val") -> datasets.Dataset:
    return records_dataset(cinnamon_records(split))


# -- VNOnDB lines --------------------------------------------------------------------------------------
def vnondb_lines(split: str = "val", height: int = 64, seed: int = 0, degradation: float = 0.3,
                 corpus=None) -> Iterator[dict]:
    """Real VNOnDB lines of the writer-disjoint ``split``, rendered with light scan degradation.

    Yields rows with an RGB ``image`` array; the ink style and degradation of line ``i`` come from
    ``seed + i``, so a split always renders the same.
    """
    _check_split(split, ("train", "val"))
    from data.ink import load_corpus, load_writer_split
    from data.synth import LineSynthesizer

    corpus = corpus or load_corpus(progress=False)
    synth = LineSynthesizer(height=height, degradation=degradation, ink_corpus=corpus)
    for i, line in enumerate(corpus.lines(writers=load_writer_split()[split])):
        rendered = synth.render_real(line, seed + i)
        yield {"image": rendered.image, "text": line.text, "source": "vnondb", **_EMPTY,
               "writer": str(line.writer), "file": f"{line.writer}_{i:06d}"}


def vnondb_dataset(split: str = "val", height: int = 64, seed: int = 0) -> datasets.Dataset:
    return _from_rows(vnondb_lines, {"split": split, "height": height, "seed": seed}, f"vnondb-{split}")


# -- synthetic field lines -------------------------------------------------------------------------------
def synthetic_lines(n: int, seed: int = 0, source: str | None = None, book: str | None = None,
                    field: str | None = None, height: int = 64, writers: list[str] | None = None,
                    progress: bool = False) -> Iterator[dict]:
    """``n`` synthetic ledger field lines; line ``i`` is fully determined by ``seed + i`` (and the options).

    ``writers`` restricts the ink path to those VNOnDB writers (default: the training split, so that
    validation writers stay unseen); without the shared ink data only the font path is available.
    """
    from data.synth import LineSynthesizer

    if source is None and not ink_available():
        source = "font"
    if source in (None, "ink") and writers is None:
        from data.ink import load_writer_split

        writers = load_writer_split()["train"]
    synth = LineSynthesizer(height=height, writers=writers)
    for i in tqdm(range(n), desc="synthesizing", unit="line", disable=not progress):
        line = synth.sample(seed + i, source=source, book=book, field_key=field)
        yield {"image": line.image, "text": line.text, "source": f"synth-{line.source}",
               "book": line.meta.get("book", ""), "field": line.meta.get("field", ""),
               "writer": str(line.meta.get("writer", "")), "file": f"synth_{seed + i:08d}"}


def synthetic_dataset(n: int, seed: int = 0, **options) -> datasets.Dataset:
    return _from_rows(synthetic_lines, {"n": n, "seed": seed, **options}, "synthetic")


def ink_available() -> bool:
    """Whether the shared VNOnDB ink is present (the ink hand of the synthesizer needs it)."""
    from data.settings import shared_dir

    return (shared_dir() / "datasets" / "vnondb-ink" / "words").is_dir()


def _pil_rows(builder, options: dict) -> Iterator[dict]:
    for row in builder(**options):
        yield {**row, "image": Image.fromarray(row["image"])}


def _from_rows(builder, options: dict, name: str) -> datasets.Dataset:
    """A dataset from a module-level row builder and its options (both picklable, so ``datasets`` can
    fingerprint and cache the result)."""
    return datasets.Dataset.from_generator(_pil_rows, features=FEATURES,
                                           gen_kwargs={"builder": builder, "options": options},
                                           cache_dir=str(cache_dir() / "hf-datasets" / name))


# -- manifests ---------------------------------------------------------------------------------------------
def export_manifest(rows: Iterable[dict], out_dir: str | Path, name: str = "manifest.jsonl",
                    image_format: str = "png", total: int | None = None) -> Path:
    """Write rows (from a dataset or a generator) as images under ``out_dir/images`` plus a line manifest.

    Rows whose image is a file path that already exists are referenced in place (a relative path), so
    exporting real datasets never copies them.
    """
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)

    def records() -> Iterator[LineRecord]:
        for i, row in enumerate(tqdm(rows, total=total, desc=f"exporting {name}", unit="line")):
            image = row["image"]
            if isinstance(image, dict) and image.get("path") and Path(image["path"]).is_file():
                path = Path(image["path"])
            elif isinstance(image, (str, Path)) and Path(image).is_file():
                path = Path(image)
            else:
                if isinstance(image, dict):  # a datasets.Image cell without a file: raw bytes
                    import io

                    image = Image.open(io.BytesIO(image["bytes"]))
                array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
                stem = row.get("file") or f"line_{i:07d}"
                path = image_dir / f"{stem}.{image_format}"
                Image.fromarray(array).save(path, **({"quality": 92} if image_format == "jpg" else {}))
            extra = {k: row[k] for k in ("source", "book", "field", "writer") if row.get(k)}
            yield LineRecord(image=path, text=row["text"], extra=extra)

    path = out_dir / name
    write_manifest(records(), path)
    return path
