"""PyTorch greedy recognition of line images with per-character probabilities (the reference predictor;
the served path is the onnxruntime runtime in ``inference``)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Recognition:
    text: str
    confidence: float  # product of the chosen tokens' probabilities, end token included
    char_probs: list[float]


@torch.inference_mode()
def recognize(model, tokenizer, processor, images: list, batch_size: int = 16,
              max_new_tokens: int | None = None) -> list[Recognition]:
    """Greedy-decode ``images`` in width-sorted batches; results come back in input order."""
    model.eval()
    max_new_tokens = max_new_tokens or model.decoder.config.max_position_embeddings - 2
    resized = [processor.resize(im) for im in images]
    order = sorted(range(len(resized)), key=lambda i: resized[i].shape[1])
    results: list[Recognition | None] = [None] * len(resized)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = processor([resized[i] for i in idx])
        out = model.generate(batch["pixel_values"], max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                             output_scores=True, return_dict_in_generate=True)
        sequences = out.sequences[:, 1:]
        probs = torch.stack([s.softmax(-1) for s in out.scores], dim=1)  # (B, T, V)
        chosen = probs.gather(-1, sequences[:, : probs.shape[1], None]).squeeze(-1)
        for row, i in enumerate(idx):
            ids = sequences[row].tolist()
            end = ids.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in ids else len(ids)
            p = chosen[row, : min(end + 1, chosen.shape[1])].tolist()
            results[i] = Recognition(text=tokenizer.decode(ids[:end]), confidence=float(np.prod(p)) if p else 0.0,
                                     char_probs=p[:end])
    return results  # type: ignore[return-value]


def timed_recognize(model, tokenizer, processor, images: list, batch_size: int = 16) -> tuple[list[Recognition], float]:
    start = time.perf_counter()
    results = recognize(model, tokenizer, processor, images, batch_size=batch_size)
    return results, len(images) / max(time.perf_counter() - start, 1e-9)
