"""Batched greedy recognition with onnxruntime and a key/value cache, on a directory from ``hotich export``.

Lines are bucketed by width (sorted, then cut into batches) so that padding wastes little; each row stops at
its own ``</s>`` and finished rows leave the batch, so long lines never make short ones pay.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from models.recognition.predictor import Recognition, recognize_bucketed
from models.recognition.processor import LineImageProcessor
from models.recognition.tokenizer import CharTokenizer

CONFIG_FILE = "onnx_config.json"


def is_onnx_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


class OnnxRecognizer:
    """Recognizer over exported ONNX graphs.

    Args:
        directory: an export directory (``onnx_config.json``, graphs, tokenizer, processor config).
        variant: ``fp32`` or ``int8`` (when exported).
        intra_op_threads: onnxruntime threads per operator (None = onnxruntime's default, all cores).
        inter_op_threads: threads across independent operators.
    """

    def __init__(self, directory: str | os.PathLike, variant: str = "fp32", intra_op_threads: int | None = None,
                 inter_op_threads: int | None = None):
        import onnxruntime as ort

        self.directory = Path(directory)
        if not is_onnx_dir(self.directory):
            raise FileNotFoundError(f"{self.directory}: not an exported recognizer (no {CONFIG_FILE})")
        self.config = json.loads((self.directory / CONFIG_FILE).read_text())
        if variant not in self.config["graphs"]:
            raise ValueError(f"variant {variant!r} not exported; available: {sorted(self.config['graphs'])}")
        self.variant = variant
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        if inter_op_threads:
            options.inter_op_num_threads = inter_op_threads
        graphs = self.config["graphs"][variant]
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(self.directory / graphs["encoder"]), options, providers=providers)
        self.step = ort.InferenceSession(str(self.directory / graphs["decoder_step"]), options, providers=providers)
        self.tokenizer = CharTokenizer.from_pretrained(self.directory)
        self.processor = LineImageProcessor.from_pretrained(self.directory)

    def decode_batch(self, pixel_values: np.ndarray, max_new_tokens: int | None = None):
        """Greedy-decode one batch; returns ``(token_ids, token_probs)`` per row (``</s>`` prob included)."""
        limit = min(max_new_tokens or self.config["max_new_tokens"], self.config["max_new_tokens"])
        bos, eos = self.config["bos_token_id"], self.config["eos_token_id"]
        cross_keys, cross_values = self.encoder.run(None, {"pixel_values": pixel_values.astype(np.float32)})
        layers, b, heads, _, head_dim = cross_keys.shape
        past_keys = np.zeros((layers, b, heads, 0, head_dim), dtype=np.float32)
        past_values = past_keys.copy()
        tokens = np.full((b, 1), bos, dtype=np.int64)
        rows = np.arange(b)  # batch position → original row, shrinking as rows finish
        ids: list[list[int]] = [[] for _ in range(b)]
        probs: list[list[float]] = [[] for _ in range(b)]
        for position in range(limit):
            logits, past_keys, past_values = self.step.run(None, {
                "input_ids": tokens, "position": np.array(position, dtype=np.int64), "past_keys": past_keys,
                "past_values": past_values, "cross_keys": cross_keys, "cross_values": cross_values})
            logits = logits - logits.max(axis=-1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=-1, keepdims=True)
            best = p.argmax(axis=-1)
            keep = best != eos
            for k, row in enumerate(rows):
                probs[row].append(float(p[k, best[k]]))
                if keep[k]:
                    ids[row].append(int(best[k]))
            if not keep.all():
                if not keep.any():
                    break
                rows, best = rows[keep], best[keep]
                past_keys, past_values = past_keys[:, keep], past_values[:, keep]
                cross_keys, cross_values = cross_keys[:, keep], cross_values[:, keep]
            tokens = best[:, None].astype(np.int64)
        return ids, probs

    def recognize(self, images: list, batch_size: int = 16, max_new_tokens: int | None = None) -> list[Recognition]:
        """Recognize line images (RGB arrays or PIL images); results in input order."""
        return recognize_bucketed(images, self.processor, self.tokenizer,
                                  lambda pixel_values: self.decode_batch(pixel_values.numpy(), max_new_tokens),
                                  batch_size)
