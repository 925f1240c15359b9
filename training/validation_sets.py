"""The fixed validation sets every recognizer is measured on, written once as line manifests.

- ``cinnamon-val``: the 200 recorded Cinnamon validation scans (referenced in place);
- ``vnondb-val``: real lines of the validation writers only, evenly spread over writers, each tagged
  ``text_disjoint`` when no training writer copied its source text;
- ``synth-val``: ledger field lines from held-out seeds, ink from validation writers only.
"""
from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from data.manifest import LineRecord, write_manifest
from data.settings import cache_dir

SYNTH_VAL_SEED = 900_000_000
VNONDB_VAL_SEED = 10_000_000


def default_dir() -> Path:
    return cache_dir() / "val-sets"


def build_validation_sets(out: Path | None = None, height: int = 64, n_vnondb: int = 300, n_synth: int = 300,
                          only: tuple[str, ...] = ("cinnamon-val", "vnondb-val", "synth-val")) -> dict[str, Path]:
    """Write the missing sets under ``out``; returns name → manifest path (existing ones are kept as they are)."""
    from PIL import Image

    out = Path(out or default_dir())
    paths: dict[str, Path] = {}
    for name in only:
        manifest = out / name / "manifest.jsonl"
        paths[name] = manifest
        if manifest.is_file():
            continue
        (out / name / "images").mkdir(parents=True, exist_ok=True)
        if name == "cinnamon-val":
            from data.datasets import cinnamon_records

            write_manifest(cinnamon_records("val"), manifest)
            continue
        from data.datasets import ink_available
        from data.ink import load_corpus, load_writer_split
        from data.synth import LineSynthesizer

        records = []
        has_ink = ink_available()
        corpus = load_corpus(progress=False) if has_ink else None
        split = load_writer_split()
        if name == "vnondb-val":
            if corpus is None:
                from data.settings import require_shared

                require_shared("datasets", "vnondb-ink", "words")
            disjoint = set(split.val_text_disjoint_text_ids)
            lines = list(corpus.lines(writers=split["val"]))
            step = max(1, len(lines) // n_vnondb)
            synth = LineSynthesizer(height=height, degradation=0.3, ink_corpus=corpus)
            for i, line in enumerate(tqdm(lines[::step][:n_vnondb], desc=name)):
                rendered = synth.render_real(line, VNONDB_VAL_SEED + i)
                path = out / name / "images" / f"{i:05d}.png"
                Image.fromarray(rendered.image).save(path)
                records.append(LineRecord(path, line.text, {"source": "vnondb", "writer": str(line.writer),
                                                            "text_id": str(line.text_id),
                                                            "text_disjoint": str(line.text_id) in disjoint}))
        elif name == "synth-val":
            # Ink from validation writers only; without the shared ink only the font hand exists, and each
            # line's source says which hand wrote it.
            synth = LineSynthesizer(height=height, writers=list(split["val"]) if has_ink else None, ink_corpus=corpus)
            for i in tqdm(range(n_synth), desc=name):
                line = synth.sample(SYNTH_VAL_SEED + i, source="ink" if has_ink and i % 2 else "font")
                path = out / name / "images" / f"{i:05d}.png"
                Image.fromarray(line.image).save(path)
                records.append(LineRecord(path, line.text, {"source": f"synth-{line.source}",
                                                            "book": line.meta["book"], "field": line.meta["field"]}))
        else:
            raise ValueError(f"unknown validation set {name!r}")
        write_manifest(records, manifest)
    (out / "README.json").write_text(json.dumps({"sets": {k: str(v) for k, v in paths.items()}}, indent=1))
    return paths
