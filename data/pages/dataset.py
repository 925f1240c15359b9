"""Page datasets: which pages to make, writing them to a folder, and Hugging Face ``datasets`` builders.

A run is a list of :class:`PageSpec` (book, template, seed, split): page ``i`` of a run uses seed
``seed + i`` and, unless a variant is fixed, a template drawn from that seed, so a spec names its page before
it is rendered and an interrupted run resumes where it stopped. :func:`write_pages` renders specs into a
folder::

    OUT/images/<page_id>.jpg     the page image
    OUT/gt/<page_id>.json        PageTruth.to_dict()            (written last: marks the page as done)
    OUT/page/<page_id>.xml       PAGE-XML 2019
    OUT/coco.json                COCO for every page of the folder
    OUT/index.jsonl              one line per page: ids, files, book, template, split, seed

:func:`pages_dataset` builds a ``datasets.Dataset`` (columns ``image``, ``page_id``, ``book``, ``template``,
``template_split``, ``split``, ``seed``, ``width``, ``height``, ``truth`` = the PageTruth as JSON) straight from
the renderer; :func:`folder_dataset` reads a folder written by :func:`write_pages`.
"""
from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import datasets
from PIL import Image
from tqdm.auto import tqdm

from data.files import atomic_write
from data.pages.templates import SPLITS, draw_template, get_template
from data.pages.truth import PageTruth
from data.schema import BOOKS, get_book

# Held-out pages live far from training seeds, so no held-out page ever repeats a training page.
DEFAULT_SEEDS = {"train": 0, "heldout": 900_000_000}
PAGE_FEATURES = datasets.Features({
    "image": datasets.Image(),
    "page_id": datasets.Value("string"),
    "book": datasets.Value("string"),
    "template": datasets.Value("string"),
    "template_split": datasets.Value("string"),
    "split": datasets.Value("string"),
    "seed": datasets.Value("int64"),
    "width": datasets.Value("int32"),
    "height": datasets.Value("int32"),
    "truth": datasets.Value("string"),
})


@dataclass(frozen=True)
class PageSpec:
    book: str
    template: str
    seed: int
    split: str

    @property
    def page_id(self) -> str:
        return f"{self.template}-{self.seed:09d}"


def page_specs(book: str | Sequence[str], n: int, seed: int | None = None, split: str = "train",
               variant: str | None = None, generated: float = 0.0) -> list[PageSpec]:
    """``n`` pages of ``book`` (a book key, a list of them, or ``"all"``: the books in turn); ``generated``: the
    share of ``train`` pages drawn on generated layouts (:mod:`data.pages.generated`) instead of ``forms/``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    books = list(BOOKS) if book == "all" else [book] if isinstance(book, str) else list(book)
    for b in books:
        get_book(b)
    if variant is not None:
        template = get_template(variant)
        if len(books) != 1 or template.book != books[0]:
            raise ValueError(f"template {variant!r} is a {template.book} layout; use it with --book {template.book}")
        if split == "train" and template.split == "heldout":
            raise ValueError(f"template {variant!r} is held out: it is never used for the train split")
    first = DEFAULT_SEEDS[split] if seed is None else int(seed)
    specs = []
    for i in range(n):
        b = books[i % len(books)]
        s = first + i
        specs.append(PageSpec(b, variant or draw_template(b, s, split, generated).id, s, split))
    return specs


# -- rendering in worker processes -------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(split: str, long_side: int, degradation: float) -> None:
    """Build this process's renderer (kept across calls with the same settings)."""
    from data.pages.render import PageRenderer
    from data.settings import shared_dir

    # The shared folder decides which handwriting sources a renderer has, so it is part of the key.
    settings = (split, int(long_side), float(degradation), str(shared_dir()))
    if _WORKER.get("settings") != settings:
        _WORKER["renderer"] = PageRenderer(split=split, long_side=long_side, degradation=degradation)
        _WORKER["settings"] = settings


def _child_init(split: str, long_side: int, degradation: float) -> None:
    """A worker process: one OpenCV thread (the processes are the parallelism) and its own renderer."""
    import cv2

    cv2.setNumThreads(1)
    _init_worker(split, long_side, degradation)


def _render(spec: PageSpec, entries: int | None = None) -> tuple[Image.Image, PageTruth]:
    return _WORKER["renderer"].render(spec.book, spec.template, spec.seed, entries=entries)


def _write_one(job: tuple[PageSpec, str, str, int | None]) -> dict:
    from data.pages.export import to_page_xml

    spec, out, fmt, entries = job
    out_dir = Path(out)
    image, truth = _render(spec, entries)
    name = f"{spec.page_id}.{fmt}"
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if fmt == "jpg" else "PNG", **({"quality": 92} if fmt == "jpg" else {}))
    atomic_write(out_dir / "images" / name, buffer.getvalue())
    atomic_write(out_dir / "page" / f"{spec.page_id}.xml", to_page_xml(truth, name).encode("utf-8"))
    atomic_write(out_dir / "gt" / f"{spec.page_id}.json", truth.to_json().encode("utf-8"))
    return truth.to_dict()


def _done(out_dir: Path, spec: PageSpec, fmt: str) -> bool:
    return (out_dir / "gt" / f"{spec.page_id}.json").is_file() and (
        out_dir / "images" / f"{spec.page_id}.{fmt}").is_file() and (out_dir / "page" / f"{spec.page_id}.xml").is_file()


def write_pages(specs: Sequence[PageSpec], out: str | Path, *, workers: int = 1, long_side: int = 1600,
                degradation: float = 1.0, fmt: str = "jpg", entries: int | None = None,
                progress: bool = True) -> dict:
    """Render ``specs`` into ``out`` (see the module doc); pages already there are kept, not redrawn.

    ``workers`` processes render in parallel; the output is the same for any number of workers. Returns a
    summary (counts, paths). No field text is printed.
    """
    if fmt not in ("jpg", "png"):
        raise ValueError(f"format must be jpg or png, got {fmt!r}")
    splits = {s.split for s in specs}
    if len(splits) > 1:
        raise ValueError(f"one run renders one split, got {sorted(splits)}")
    out_dir = Path(out)
    for sub in ("images", "gt", "page"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    split = specs[0].split if specs else "train"
    todo = [s for s in specs if not _done(out_dir, s, fmt)]
    truths: dict[str, dict] = {}
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc="rendering pages", unit="page",
               disable=not progress)
    jobs = [(s, str(out_dir), fmt, entries) for s in todo]
    if workers <= 1 or len(todo) <= 1:
        if todo:
            _init_worker(split, long_side, degradation)
        for job in jobs:
            truths[job[0].page_id] = _write_one(job)
            bar.update()
    else:
        # Spawned, not forked: a fork of a process whose OpenCV or BLAS thread pools are running can deadlock.
        context = mp.get_context("spawn")
        with context.Pool(workers, initializer=_child_init, initargs=(split, long_side, degradation)) as pool:
            for job, truth in zip(jobs, pool.imap(_write_one, jobs, chunksize=1), strict=True):
                truths[job[0].page_id] = truth
                bar.update()
    bar.close()
    summary = finalize_folder(out_dir, specs, fmt, truths)
    summary["rendered"] = len(todo)
    summary["kept"] = len(specs) - len(todo)
    return summary


def finalize_folder(out_dir: Path, specs: Sequence[PageSpec], fmt: str, truths: dict[str, dict] | None = None) -> dict:
    """Write ``coco.json`` and ``index.jsonl`` for every page of ``specs`` found in ``out_dir``."""
    from data.pages.export import to_coco

    truths = truths or {}
    pages = []
    index_lines = []
    entries = 0
    for spec in specs:
        d = truths.get(spec.page_id)
        if d is None:
            d = json.loads((out_dir / "gt" / f"{spec.page_id}.json").read_text(encoding="utf-8"))
        truth = PageTruth.from_dict(d)
        entries += len(truth.filled_entries)
        name = f"{spec.page_id}.{fmt}"
        pages.append((truth, f"images/{name}"))
        index_lines.append(json.dumps({**asdict(spec), "page_id": spec.page_id, "image": f"images/{name}",
                                       "gt": f"gt/{spec.page_id}.json", "page_xml": f"page/{spec.page_id}.xml",
                                       "template_split": truth.template_split,
                                       "entries": len(truth.filled_entries)}, ensure_ascii=False))
    coco = to_coco(pages)
    (out_dir / "coco.json").write_text(json.dumps(coco, ensure_ascii=False), encoding="utf-8")
    (out_dir / "index.jsonl").write_text("".join(line + "\n" for line in index_lines), encoding="utf-8")
    return {"out": str(out_dir), "pages": len(specs), "entries": entries, "annotations": len(coco["annotations"]),
            "coco": str(out_dir / "coco.json"), "index": str(out_dir / "index.jsonl")}


# -- Hugging Face datasets -------------------------------------------------------------------------------
def page_rows(specs: Sequence[dict], long_side: int = 1600, degradation: float = 1.0,
              entries: int | None = None) -> Iterator[dict]:
    """Rows of :data:`PAGE_FEATURES` for ``specs`` (plain dicts, so ``datasets`` can fingerprint them)."""
    if not specs:
        return
    _init_worker(specs[0]["split"], long_side, degradation)
    for d in specs:
        spec = PageSpec(**d)
        image, truth = _render(spec, entries)
        yield {"image": image, "page_id": spec.page_id, "book": spec.book, "template": spec.template,
               "template_split": truth.template_split, "split": spec.split, "seed": spec.seed,
               "width": truth.width, "height": truth.height, "truth": truth.to_json()}


def pages_dataset(book: str | Sequence[str], n: int, seed: int | None = None, split: str = "train",
                  variant: str | None = None, long_side: int = 1600, degradation: float = 1.0,
                  entries: int | None = None) -> datasets.Dataset:
    """A ``datasets.Dataset`` of ``n`` rendered pages (cached by ``datasets`` under the hotich cache)."""
    from data.settings import cache_dir

    specs = [asdict(s) for s in page_specs(book, n, seed, split, variant)]
    return datasets.Dataset.from_generator(
        page_rows, features=PAGE_FEATURES,
        gen_kwargs={"specs": specs, "long_side": long_side, "degradation": degradation, "entries": entries},
        cache_dir=str(cache_dir() / "hf-datasets" / "pages"))


def _folder_rows(folder: str) -> Iterator[dict]:
    root = Path(folder)
    for line in (root / "index.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        truth_text = (root / row["gt"]).read_text(encoding="utf-8")
        truth = json.loads(truth_text)
        yield {"image": str(root / row["image"]), "page_id": row["page_id"], "book": row["book"],
               "template": row["template"], "template_split": truth["template_split"], "split": row["split"],
               "seed": row["seed"], "width": truth["width"], "height": truth["height"], "truth": truth_text}


def folder_dataset(folder: str | Path) -> datasets.Dataset:
    """The pages of a folder written by :func:`write_pages` as a ``datasets.Dataset`` (images by path)."""
    folder = Path(folder)
    if not (folder / "index.jsonl").is_file():
        raise FileNotFoundError(f"{folder / 'index.jsonl'} not found: not a page folder written by hotich data pages")
    return datasets.Dataset.from_list(list(_folder_rows(str(folder))), features=PAGE_FEATURES)


def truth_of(row: dict) -> PageTruth:
    """The :class:`PageTruth` of a dataset row."""
    return PageTruth.from_json(row["truth"])
