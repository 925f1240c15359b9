"""Weighted draws over fixed tables (names, vocabularies), with cumulative weights computed once."""
from __future__ import annotations

import random
from itertools import accumulate
from typing import Mapping, Sequence


class WeightedTable:
    """Items with relative weights; :meth:`draw` is one ``rng.choices`` call on precomputed cumulative weights."""

    def __init__(self, items: Mapping[str, float] | Sequence[tuple[str, float]]) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        if not pairs or any(w < 0 for _, w in pairs) or sum(w for _, w in pairs) <= 0:
            raise ValueError("a weighted table needs items with non-negative weights and a positive total")
        self.items = tuple(k for k, _ in pairs)
        self.cum_weights = tuple(accumulate(w for _, w in pairs))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cum_weights)[0]

    def __len__(self) -> int:
        return len(self.items)
