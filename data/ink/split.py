"""Writer-disjoint train/val split of VNOnDB, recorded in ``data/splits/vnondb_writers.json``.

Many writers copied the same source texts (TEXTID), so a writer-disjoint split alone still lets the model see
the validation *texts* in training. The validation writers are therefore chosen so that some source texts
are copied by validation writers only: CER on those lines (``val_text_disjoint_text_ids``) measures unseen
writers writing unseen text.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from data.settings import PROJECT_ROOT

DEFAULT_SPLIT_PATH = PROJECT_ROOT / "data" / "splits" / "vnondb_writers.json"


@dataclass
class WriterSplit:
    seed: int
    val_fraction: float
    train: list[str]
    val: list[str]
    text_ids: dict[str, list[str]]  # writer -> source text ids they copied
    val_text_disjoint_text_ids: list[str]  # text ids copied by validation writers only
    counts: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str):
        """Dict-style access (``split["train"]``), as for the JSON file."""
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def to_json(self) -> str:
        """Stable, diff-friendly JSON: one key per line, short lists inline, one writer per line."""
        d = asdict(self)
        dumps = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
        lines = ["{"]
        for key in ("seed", "val_fraction", "train", "val", "val_text_disjoint_text_ids", "counts"):
            lines.append(f"  {dumps(key)}: {dumps(d[key])},")
        lines.append('  "text_ids": {')
        items = sorted(d["text_ids"].items())
        lines += [f"    {dumps(w)}: {dumps(t)}" + ("," if i < len(items) - 1 else "") for i, (w, t) in enumerate(items)]
        lines += ["  }", "}"]
        return "\n".join(lines) + "\n"


def choose_val_writers(text_ids: dict[str, list[str]], val_fraction: float, seed: int,
                       text_disjoint_share: float = 0.6) -> list[str]:
    """Pick about ``val_fraction`` of the writers: first whole groups of writers that are the only copyists of
    some text (until ``text_disjoint_share`` of the budget is used), then random writers."""
    rng = np.random.default_rng(seed)
    writers = sorted(text_ids)
    n_val = max(1, int(round(val_fraction * len(writers))))
    by_text: dict[str, set[str]] = {}
    for w in writers:
        for t in text_ids[w]:
            by_text.setdefault(t, set()).add(w)
    val: set[str] = set()
    texts = sorted(by_text)
    rng.shuffle(texts)
    budget = int(round(text_disjoint_share * n_val))
    for t in texts:
        group = by_text[t] - val
        if len(val) + len(group) <= budget and len(by_text[t]) <= max(2, budget // 2):
            val |= group
    rest = [w for w in writers if w not in val]
    rng.shuffle(rest)
    val |= set(rest[: max(0, n_val - len(val))])
    return sorted(val)


def split_writers(corpus, val_fraction: float = 0.15, seed: int = 0,
                  path: Path | str | None = DEFAULT_SPLIT_PATH) -> WriterSplit:
    """Split ``corpus`` (an :class:`InkCorpus`) by writer and write the JSON file (unless ``path`` is None)."""
    text_ids = corpus.text_ids()
    val = choose_val_writers(text_ids, val_fraction, seed)
    vset = set(val)
    train = sorted(w for w in text_ids if w not in vset)
    train_texts = {t for w in train for t in text_ids[w]}
    val_texts = {t for w in val for t in text_ids[w]}
    disjoint = sorted(val_texts - train_texts)
    words = {w: 0 for w in text_ids}
    for d in corpus.documents:
        words[d.writer_id] += d.n_words
    counts = {
        "writers_train": len(train), "writers_val": len(val),
        "words_train": sum(words[w] for w in train), "words_val": sum(words[w] for w in val),
        "text_ids_val": len(val_texts), "text_ids_val_disjoint": len(disjoint),
        "words_val_text_disjoint": sum(d.n_words for d in corpus.documents
                                       if d.writer_id in vset and d.text_id in set(disjoint)),
    }
    split = WriterSplit(seed, val_fraction, train, val, text_ids, disjoint, counts)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(split.to_json(), encoding="utf-8")
    return split


def load_writer_split(path: Path | str | None = None) -> WriterSplit:
    """Read the recorded split (default ``data/splits/vnondb_writers.json``)."""
    path = Path(path) if path is not None else DEFAULT_SPLIT_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; create it with data.ink.split_writers(load_corpus())")
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        return WriterSplit(**data)
    except TypeError as exc:
        raise ValueError(f"{path}: not a writer split ({exc})") from exc
