"""Start a recognizer from an existing checkpoint directory with another vocabulary.

Two kinds of directories are accepted:
- a hotich recognizer (``vocab.json`` of a :class:`CharTokenizer`, possibly with other characters);
- a Hugging Face ``VisionEncoderDecoderModel`` directory with its own tokenizer (e.g. a downloaded
  ``microsoft/trocr-small-handwritten``), loaded from local files only.

The decoder's embedding and output rows are rebuilt for hotich's character vocabulary: a character the old
vocabulary has as one token keeps that token's row (for byte-level BPE also the ``Ġ``-prefixed form),
special tokens keep theirs, and every other row starts at the mean of the old rows.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import VisionEncoderDecoderModel

from models.recognition.processor import LineImageProcessor
from models.recognition.recognizer import configure_special_tokens
from models.recognition.tokenizer import SPECIAL_TOKENS, CharTokenizer


def _old_token_ids(directory: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(token string → id, special role → id) of the checkpoint's own tokenizer."""
    if (directory / "tokenizer_config.json").is_file():
        import json

        config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
        if config.get("tokenizer_class") == "CharTokenizer":
            old = CharTokenizer.from_pretrained(directory)
            return old.vocab, dict(zip(SPECIAL_TOKENS, range(4)))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    specials = {"<pad>": tokenizer.pad_token_id, "<s>": tokenizer.bos_token_id if tokenizer.bos_token_id is not None
                else tokenizer.cls_token_id, "</s>": tokenizer.eos_token_id if tokenizer.eos_token_id is not None
                else tokenizer.sep_token_id, "<unk>": tokenizer.unk_token_id}
    return tokenizer.get_vocab(), {k: v for k, v in specials.items() if v is not None}


def vocabulary_mapping(old_vocab: dict[str, int], old_specials: dict[str, int],
                       tokenizer: CharTokenizer) -> dict[int, int]:
    """New token id → old token id, for every new token the old vocabulary can stand for."""
    mapping = {}
    for token, new_id in tokenizer.vocab.items():
        if token in old_specials:
            mapping[new_id] = old_specials[token]
        elif token in old_vocab:
            mapping[new_id] = old_vocab[token]
        elif "\u0120" + token in old_vocab:  # byte-level BPE spells a leading space as Ġ
            mapping[new_id] = old_vocab["\u0120" + token]
    return mapping


def adapt_checkpoint(directory: str | os.PathLike, tokenizer: CharTokenizer | None = None):
    """``(model, tokenizer, processor)`` ready to fine-tune, with the decoder resized to ``tokenizer``."""
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory}: not a model directory (no config.json)")
    tokenizer = tokenizer or CharTokenizer()
    # float32 whatever the checkpoint stores: released models are fp16, and training needs full precision.
    model = VisionEncoderDecoderModel.from_pretrained(directory, local_files_only=True, dtype=torch.float32)
    old_vocab, old_specials = _old_token_ids(directory)
    mapping = vocabulary_mapping(old_vocab, old_specials, tokenizer)

    old_embeddings = model.decoder.get_input_embeddings().weight.detach().clone()
    old_output = model.decoder.get_output_embeddings()
    old_output_weight = old_output.weight.detach().clone() if old_output is not None else None
    model.decoder.resize_token_embeddings(tokenizer.vocab_size)
    with torch.no_grad():
        new_embeddings = model.decoder.get_input_embeddings().weight
        new_embeddings[:] = old_embeddings.mean(0)
        for new_id, old_id in mapping.items():
            new_embeddings[new_id] = old_embeddings[old_id]
        new_output = model.decoder.get_output_embeddings()
        if new_output is not None and old_output_weight is not None and new_output.weight is not new_embeddings:
            new_output.weight[:] = old_output_weight.mean(0)
            for new_id, old_id in mapping.items():
                new_output.weight[new_id] = old_output_weight[old_id]
    model.decoder.config.vocab_size = tokenizer.vocab_size
    configure_special_tokens(model, tokenizer)
    model.config.decoder.decoder_start_token_id = tokenizer.bos_token_id

    if (directory / "preprocessor_config.json").is_file():
        try:
            processor = LineImageProcessor.from_pretrained(directory)
        except TypeError:  # a Hugging Face image processor: fixed-size square input
            processor = _processor_for_fixed_size(model)
    else:
        processor = _processor_for_fixed_size(model)
    model.adapted_tokens = len(mapping)  # how many rows came from the checkpoint (reported by the trainer)
    return model, tokenizer, processor


def _processor_for_fixed_size(model) -> LineImageProcessor:
    size = getattr(model.config.encoder, "image_size", None)
    if size is None:
        return LineImageProcessor()
    size = size if isinstance(size, int) else size[0]
    mean = getattr(model.config.encoder, "image_mean", 0.5)
    return LineImageProcessor(height=size, max_width=size, min_width=size, fixed_width=size,
                              mean=mean if isinstance(mean, float) else 0.5)
