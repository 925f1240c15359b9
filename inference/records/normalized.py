"""What every normalizer returns: a value, how sure the normalization is, and flags."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inference.records.flags import severity


@dataclass(frozen=True)
class Normalized:
    """The value read from one cell's text.

    ``value`` is JSON-ready (ISO date string, code int, canonical name, place dict) or ``None`` when nothing
    could be read; ``score`` in 0..1 is how well the text fit (1.0 = an exact, unambiguous reading; a fuzzy
    match gives its similarity); ``flags`` are codes of :data:`inference.records.flags.FLAGS`.
    """

    value: Any
    score: float = 1.0
    flags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for code in self.flags:
            severity(code)  # a typo in a flag code is a bug: fail loudly in tests
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in 0..1, got {self.score}")

    @classmethod
    def failed(cls, *flags: str, score: float = 0.0) -> Normalized:
        return cls(None, score, tuple(flags))

    def with_flags(self, *flags: str, score: float | None = None) -> Normalized:
        merged = tuple(dict.fromkeys(self.flags + flags))
        return Normalized(self.value, self.score if score is None else score, merged)
