"""A character tokenizer for NFC Vietnamese: one token per character of :data:`data.charset.CHARSET`.

Unknown characters follow one policy, applied in :meth:`CharTokenizer.encode`: the text is first normalized
(:func:`data.charset.normalize_text`: NFC, look-alike punctuation mapped), then a character still outside
the vocabulary is replaced by its unmarked base letter when that is known (``ç`` → ``c``), and only
otherwise by ``<unk>``. :meth:`CharTokenizer.unknown_chars` reports what a text would lose.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from data.charset import CHARSET, normalize_text, strip_marks

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "tokenizer_config.json"


class CharTokenizer:
    """Maps text to token ids and back.

    Ids 0–3 are ``<pad>``, ``<s>`` (decoder start), ``</s>`` (end) and ``<unk>``; characters follow.
    """

    pad_token, bos_token, eos_token, unk_token = SPECIAL_TOKENS

    def __init__(self, chars: str = CHARSET):
        if len(set(chars)) != len(chars):
            raise ValueError("tokenizer characters must be unique")
        self.chars = chars
        self.vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
        for c in chars:
            self.vocab[c] = len(self.vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}

    pad_token_id = property(lambda self: 0)
    bos_token_id = property(lambda self: 1)
    eos_token_id = property(lambda self: 2)
    unk_token_id = property(lambda self: 3)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return self.vocab_size

    def _char_id(self, c: str) -> int:
        if c in self.vocab:
            return self.vocab[c]
        base = strip_marks(c)
        return self.vocab.get(base, self.unk_token_id) if len(base) == 1 else self.unk_token_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of ``text``; with special tokens: ``<s> … </s>``."""
        ids = [self._char_id(c) for c in normalize_text(text)]
        return [self.bos_token_id, *ids, self.eos_token_id] if add_special_tokens else ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Text of ``ids``; stops at the first ``</s>``. ``<unk>`` decodes to U+FFFD when specials are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_token_id:
                break
            if i in (self.pad_token_id, self.bos_token_id):
                continue
            if i == self.unk_token_id:
                out.append("\ufffd" if skip_special_tokens else self.unk_token)
                continue
            out.append(self.id_to_token.get(i, "\ufffd"))
        return "".join(out)

    def batch_decode(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of ``text`` that would become ``<unk>``."""
        return {c for c in normalize_text(text) if self._char_id(c) == self.unk_token_id}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / VOCAB_FILE).write_text(json.dumps(self.vocab, ensure_ascii=False, indent=0), encoding="utf-8")
        config = {"tokenizer_class": "CharTokenizer", "special_tokens": list(SPECIAL_TOKENS),
                  "unknown_policy": "normalize_text, then unmarked base letter, then <unk>"}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "CharTokenizer":
        path = Path(directory) / VOCAB_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: not a hotich tokenizer directory")
        vocab = json.loads(path.read_text(encoding="utf-8"))
        ordered = sorted(vocab.items(), key=lambda kv: kv[1])
        if tuple(t for t, _ in ordered[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS or \
                [i for _, i in ordered] != list(range(len(ordered))):
            raise ValueError(f"{path}: expected {SPECIAL_TOKENS} at ids 0-3 and contiguous ids")
        return cls("".join(t for t, _ in ordered[len(SPECIAL_TOKENS):]))
