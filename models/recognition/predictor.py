"""PyTorch greedy recognition of line images with per-character probabilities (the reference predictor;
the served path is the onnxruntime runtime in ``inference``). Decoding uses the explicit key/value cache of
:mod:`models.recognition.cached_decoder`, token-identical to ``model.generate`` greedy (tested)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from models.recognition.cached_decoder import greedy_decode


@dataclass
class Recognition:
    text: str
    confidence: float  # product of the chosen tokens' probabilities, end token included
    char_probs: list[float]


def recognize_bucketed(images: list, processor, tokenizer, decode_batch, batch_size: int = 16) -> list[Recognition]:
    """Resize ``images``, cut them into width-sorted batches (little padding), decode each batch with
    ``decode_batch(pixel_values) -> (token_ids, token_probs)`` and return results in input order.

    Shared by the PyTorch predictor and the onnxruntime runtime, so both bucket and score identically.
    """
    resized = [processor.resize(im) for im in images]
    order = sorted(range(len(resized)), key=lambda i: resized[i].shape[1])
    results: list[Recognition | None] = [None] * len(resized)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, probs = decode_batch(processor([resized[i] for i in idx])["pixel_values"])
        for row, i in enumerate(idx):
            p = probs[row]
            # Tokens that decode to no character (<s>, <pad>) drop out of the text, so they drop out of
            # char_probs too: the i-th probability always belongs to the i-th character.
            chars = [(tokenizer.decode([token]), q) for token, q in zip(ids[row], p)]
            results[i] = Recognition(text="".join(c for c, _ in chars), confidence=float(np.prod(p)) if p else 0.0,
                                     char_probs=[q for c, q in chars if c])
    return results  # type: ignore[return-value]


@torch.inference_mode()
def recognize(model, tokenizer, processor, images: list, batch_size: int = 16,
              max_new_tokens: int | None = None, cap_to_frames: bool = True) -> list[Recognition]:
    """Greedy-decode ``images`` in width-sorted batches; results come back in input order.

    ``cap_to_frames``: no line gets more tokens than its image has encoder columns (plus a little slack;
    :func:`~models.recognition.cached_decoder.frame_token_limit`)."""
    model.eval()
    max_new_tokens = max_new_tokens or model.decoder.config.max_position_embeddings - 2

    def decode_batch(pixel_values):
        decoded = greedy_decode(model, pixel_values, tokenizer.bos_token_id, tokenizer.eos_token_id, max_new_tokens,
                                cap_to_frames=cap_to_frames)
        return decoded.token_ids, decoded.token_probs

    return recognize_bucketed(images, processor, tokenizer, decode_batch, batch_size)


def timed_recognize(model, tokenizer, processor, images: list, batch_size: int = 16) -> tuple[list[Recognition], float]:
    start = time.perf_counter()
    results = recognize(model, tokenizer, processor, images, batch_size=batch_size)
    return results, len(images) / max(time.perf_counter() - start, 1e-9)
