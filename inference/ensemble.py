"""Several recognizers reading the same lines as one: each proposes its reading, every one scores every reading,
and the reading they find likeliest together wins.

Two recognizers trained apart (or one fine-tuned further on other data) misread different lines; where one of
them is unsure, the other's reading often scores better under both. The choice is the reading with the highest
sum over members of its log-probability (teacher-forced, :meth:`OnnxRecognizer.score_batch`), and its
confidence the geometric mean of the members' probabilities of it: a reading only one member believes in comes
back doubted, which is what review routing wants.

Where two members' readings differ in words here and there ("Nguyễn Ngọc Hoa" / "Nguyễn Ngọc Hòa"; "Xã Đông
Phú, Huyện Quế Sơn" / "Xã Đông Phù, Huyện Quế Sơn"), each may be right in a different place: the readings that
take each differing run of words from either member compete too.
"""
from __future__ import annotations

import difflib
import itertools
import math

import numpy as np

from models.recognition.predictor import Recognition, recognize_bucketed


def _log(probs) -> np.ndarray:
    """Log-probabilities in float64, a probability of 0 read as 1e-30 (so one impossible token does not make
    every reading equally impossible)."""
    return np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-30))


class EnsembleRecognizer:
    """``recognize(images)`` over several :class:`~inference.ort_runtime.OnnxRecognizer` members that share one
    tokenizer and one image processor (the same vocabulary, line height and normalisation)."""

    def __init__(self, members: list, mixed_runs: int = 3):
        """``mixed_runs``: the most runs of differing words two readings may hold for the readings mixed from
        both to compete (``2 ** runs - 2`` of them); 0 lets only the members' own readings compete."""
        if len(members) < 2:
            raise ValueError(f"an ensemble needs two recognizers at least, got {len(members)}")
        first = members[0]
        for other in members[1:]:
            if other.tokenizer.vocab != first.tokenizer.vocab:
                raise ValueError(f"{other.directory}: another vocabulary than {first.directory}'s; "
                                 f"an ensemble's members must share one tokenizer")
            if vars(other.processor) != vars(first.processor):
                raise ValueError(f"{other.directory}: another image processor than {first.directory}'s "
                                 f"({vars(other.processor)} vs {vars(first.processor)})")
        self.members = list(members)
        self.tokenizer, self.processor = first.tokenizer, first.processor
        self.mixed_runs = mixed_runs

    def decode_batch(self, pixel_values: np.ndarray, max_new_tokens: int | None = None,
                     beam_width: int | None = None) -> tuple[list[list[int]], list[list[float]]]:
        """``(token_ids, token_probs)`` per row, as :meth:`OnnxRecognizer.decode_batch` returns them; a token's
        probability is the geometric mean of the members' probabilities of it."""
        proposals = [m.decode_batch(pixel_values, max_new_tokens, beam_width) for m in self.members]
        # candidates[row]: reading -> number of probabilities it is scored on (its tokens, then </s> unless it
        # was cut at the token limit, as decoding scores it). A reading several members agree on is scored
        # once; the first member's stays first (ties go to it).
        candidates: list[dict[tuple[int, ...], int]] = []
        for row in range(len(pixel_values)):
            found: dict[tuple[int, ...], int] = {}
            for ids, probs in proposals:
                key = tuple(ids[row])
                found[key] = max(found.get(key, 0), len(probs[row]))
            if self.mixed_runs and len(found) >= 2:
                (first, n_first), (second, n_second) = list(found.items())[:2]
                if n_first == len(first) + 1 and n_second == len(second) + 1:  # neither cut at the token limit
                    for mixed in mixed_readings(first, second, self.tokenizer.vocab[" "], self.mixed_runs):
                        if len(mixed) < self.token_limit:
                            found.setdefault(mixed, len(mixed) + 1)
            candidates.append(found)
        # A member already holds its probabilities of its own reading from decoding; it scores by teacher
        # forcing only the others' readings (none where all members agree, as on most lines), encoding only
        # the lines it must score.
        member_probs: list[dict[tuple[int, tuple[int, ...]], list[float]]] = []
        for member, (ids, probs) in zip(self.members, proposals):
            known = {(row, tuple(ids[row])): probs[row] for row in range(len(pixel_values))}
            wanted = [(row, c) for row, cs in enumerate(candidates) for c, n in cs.items()
                      if len(known.get((row, c), ())) < n]
            if wanted:
                lines = sorted({row for row, _ in wanted})
                local = {row: i for i, row in enumerate(lines)}
                scores = member.score_batch(pixel_values[lines], [list(c) for _, c in wanted],
                                            [local[row] for row, _ in wanted])
                known.update(zip(wanted, scores))
            member_probs.append(known)
        ids_out: list[list[int]] = []
        probs_out: list[list[float]] = []
        for row, cs in enumerate(candidates):
            best, best_score, best_probs = None, -math.inf, None
            for c, n in cs.items():
                per_member = [_log(known[(row, c)][:n]) for known in member_probs]
                total = float(sum(lp.sum() for lp in per_member))
                if total > best_score:
                    best, best_score = c, total
                    best_probs = np.exp(np.mean(per_member, axis=0)).tolist()
            ids_out.append(list(best))
            probs_out.append(best_probs)
        return ids_out, probs_out

    @property
    def token_limit(self) -> int:
        """The most tokens every member can read."""
        return min(m.token_limit for m in self.members)

    def score_batch(self, pixel_values: np.ndarray, sequences: list[list[int]],
                    rows: list[int] | None = None) -> list[list[float]]:
        """As :meth:`OnnxRecognizer.score_batch`: each token's probability, the geometric mean of the members'."""
        scored = [m.score_batch(pixel_values, sequences, rows) for m in self.members]
        return [np.exp(np.mean([_log(s[j]) for s in scored], axis=0)).tolist() for j in range(len(sequences))]

    def recognize(self, images: list, batch_size: int = 16, max_new_tokens: int | None = None,
                  beam_width: int | None = None) -> list[Recognition]:
        """Recognize line images (RGB arrays or PIL images); results in input order."""
        return recognize_bucketed(
            images, self.processor, self.tokenizer,
            lambda pixel_values: self.decode_batch(pixel_values.numpy(), max_new_tokens, beam_width), batch_size)


class ShiftedView:
    """One recognizer reading every line image moved ``shift`` pixels down inside its frame (up where negative),
    the rows left bare white: a member of an :class:`EnsembleRecognizer` beside the recognizer itself. A field
    line's crop sits a few pixels off where training lines sat (the detector's box, not the ink's), and the
    same weights read a line moved by two pixels differently where they are unsure of it; a third opinion so
    drawn costs no model. Same interface as :class:`~inference.ort_runtime.OnnxRecognizer` (``decode_batch``,
    ``score_batch``, ``tokenizer``, ``processor``, ``token_limit``)."""

    def __init__(self, recognizer, shift: int):
        if isinstance(shift, bool) or not isinstance(shift, int) or shift == 0:
            raise ValueError(f"shift must be a whole number of pixels other than 0, got {shift!r}")
        self.recognizer, self.shift = recognizer, shift
        self.tokenizer, self.processor = recognizer.tokenizer, recognizer.processor
        # The recognizer's own weights: a view is that model, and is named as it is.
        self.directory = getattr(recognizer, "directory", None)
        self.label = f"{getattr(self.directory, 'name', 'recognizer')} (moved {shift:+d} px)"

    @property
    def token_limit(self) -> int:
        return self.recognizer.token_limit

    def moved(self, pixel_values: np.ndarray) -> np.ndarray:
        """``(batch, channels, height, width)`` pixel values moved ``shift`` rows, white (as the processor
        normalizes 255) where no row comes from."""
        white = (1.0 - self.processor.mean) / self.processor.std
        out = np.full_like(pixel_values, white)
        n = abs(self.shift)
        if n >= pixel_values.shape[2]:
            return out
        if self.shift > 0:
            out[:, :, n:] = pixel_values[:, :, :-n]
        else:
            out[:, :, :-n] = pixel_values[:, :, n:]
        return out

    def decode_batch(self, pixel_values: np.ndarray, max_new_tokens: int | None = None,
                     beam_width: int | None = None) -> tuple[list[list[int]], list[list[float]]]:
        return self.recognizer.decode_batch(self.moved(pixel_values), max_new_tokens, beam_width)

    def score_batch(self, pixel_values: np.ndarray, sequences: list[list[int]],
                    rows: list[int] | None = None) -> list[list[float]]:
        return self.recognizer.score_batch(self.moved(pixel_values), sequences, rows)


def field_members(recognizer, second, view_shift: int = 0) -> list:
    """The members of the ensemble the page pipeline reads field lines with: ``recognizer``, the ``second``
    opinion, and (unless ``view_shift`` is 0) ``recognizer`` reading the lines moved ``view_shift`` pixels."""
    return [recognizer, second] + ([ShiftedView(recognizer, view_shift)] if view_shift else [])


def mixed_readings(first: tuple[int, ...], second: tuple[int, ...], space: int, max_runs: int
                   ) -> list[tuple[int, ...]]:
    """The token sequences that take each run of words where ``first`` and ``second`` differ (words split at
    the ``space`` token, aligned by :class:`difflib.SequenceMatcher`) from one or the other, neither reading
    itself among them; none where they differ in more than ``max_runs`` runs (or in one: nothing to mix)."""
    def words(ids):
        out, word = [], []
        for i in ids:
            if i == space:
                out.append(tuple(word))
                word = []
            else:
                word.append(i)
        return out + [tuple(word)]

    a, b = words(first), words(second)
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    runs = [op for op in ops if op[0] != "equal"]
    if not 1 < len(runs) <= max_runs:
        return []
    out = []
    for choice in itertools.product((0, 1), repeat=len(runs)):
        if len(set(choice)) == 1:
            continue
        picks = iter(choice)
        mixed: list[tuple[int, ...]] = []
        for tag, i1, i2, j1, j2 in ops:
            mixed += a[i1:i2] if tag == "equal" or next(picks) == 0 else b[j1:j2]
        ids = tuple(itertools.chain.from_iterable(
            (*([space] if k else ()), *w) for k, w in enumerate(mixed)))
        if ids and ids not in (first, second) and ids not in out:
            out.append(ids)
    return out


def reading_log_probs(reader, images: list, readings: list[tuple[int, str]]) -> np.ndarray:
    """``(len(readings),)``: the log-probability ``reader`` (an :class:`OnnxRecognizer` or an
    :class:`EnsembleRecognizer`) gives each ``(image index, text)`` of ``readings`` on ``images[index]`` (RGB
    arrays), ``</s>`` included, read by teacher forcing; each image is encoded once however many texts it
    scores."""
    if any(not 0 <= j < len(images) for j, _ in readings):
        raise ValueError(f"an image index out of range 0..{len(images) - 1}")
    if not readings:
        return np.zeros(0)
    resized = [reader.processor.resize(image) for image in images]
    pixel_values = reader.processor(resized)["pixel_values"].numpy()
    sequences = [reader.tokenizer.encode(t, add_special_tokens=False) for _, t in readings]
    probs = reader.score_batch(pixel_values, sequences, [j for j, _ in readings])
    return np.asarray([float(_log(p).sum()) for p in probs])


def text_log_probs(reader, images: list, texts: list[list[str]]) -> np.ndarray:
    """``(len(texts), len(images))``: the log-probability ``reader`` (an :class:`OnnxRecognizer` or an
    :class:`EnsembleRecognizer`) gives ``texts[i][j]`` on ``images[j]`` (RGB arrays), ``</s>`` included, read by
    teacher forcing: how well one reading fits each of several crops of the same value."""
    if any(len(row) != len(images) for row in texts):
        raise ValueError(f"each candidate needs one text per image ({len(images)})")
    logs = reading_log_probs(reader, images, [(j, t) for row in texts for j, t in enumerate(row)])
    return logs.reshape(len(texts), len(images))


__all__ = ["EnsembleRecognizer", "ShiftedView", "field_members", "mixed_readings", "reading_log_probs", "text_log_probs"]
