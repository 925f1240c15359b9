"""Text recognition metrics: character and word error rates, line accuracy, the diacritics split."""
from __future__ import annotations

from typing import Sequence

from rapidfuzz.distance import Levenshtein

from data.charset import nfc, strip_marks


def edit_distance(a: Sequence, b: Sequence) -> int:
    return Levenshtein.distance(a, b)


def recognition_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus-level metrics (errors summed over lines, divided by reference lengths).

    Returns ``{"n", "cer", "wer", "line_acc", "cer_base", "cer_marks"}``: ``cer_base`` is the CER after
    stripping tone and vowel marks from both sides, and ``cer_marks = cer - cer_base`` is the share of the
    error that is marks alone.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    chars = char_errors = words = word_errors = base_errors = exact = 0
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = nfc(hyp), nfc(ref)
        chars += len(ref)
        char_errors += edit_distance(hyp, ref)
        base_errors += edit_distance(strip_marks(hyp), strip_marks(ref))
        ref_words = ref.split()
        words += len(ref_words)
        word_errors += edit_distance(hyp.split(), ref_words)
        exact += hyp == ref
    n = len(references)
    cer = char_errors / max(chars, 1)
    cer_base = base_errors / max(chars, 1)
    return {"n": n, "cer": cer, "wer": word_errors / max(words, 1), "line_acc": exact / max(n, 1),
            "cer_base": cer_base, "cer_marks": cer - cer_base}
