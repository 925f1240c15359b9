"""The recognizer's decoder as explicit-tensor steps with a key/value cache, for fast greedy decoding and
for export to ONNX (graphs with plain tensor inputs instead of ``transformers`` cache objects).

The maths is TrOCR's decoder exactly (learned positions with offset 2, post-norm layers, GELU feed-forward),
read from a trained ``VisionEncoderDecoderModel``'s own modules (only the self-attention's query, key and value
projections are concatenated into one matrix, built when the step is made: one product instead of three).

Cache layout, one tensor per layer in tuples: keys ``(batch, heads, head_dim, length)`` (stored transposed, so
``query @ keys`` needs no transpose of the whole cache on every step) and values ``(batch, heads, length,
head_dim)``. Self-attention caches grow by one position per step; cross-attention caches are computed once from
the encoder output. Per-layer tensors rather than one stacked tensor, because indexing a stacked cache costs a
copy of all of it on every step (the exported graph turned ``cache[i]`` into a Split of the whole cache).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class EncoderWithCrossCache(nn.Module):
    """pixel_values ``(B, 3, H, W)`` → cross-attention keys ``(B, heads, head_dim, T)`` and values
    ``(B, heads, T, head_dim)``, as tuples of one tensor per decoder layer."""

    def __init__(self, model):
        super().__init__()
        self.encoder = model.encoder
        self.enc_to_dec_proj = getattr(model, "enc_to_dec_proj", None)
        self.layers = model.decoder.model.decoder.layers

    def forward(self, pixel_values: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        hidden = self.encoder(pixel_values=pixel_values).last_hidden_state
        if self.enc_to_dec_proj is not None:
            hidden = self.enc_to_dec_proj(hidden)
        keys, values = [], []
        for layer in self.layers:
            attention = layer.encoder_attn
            b, t, _ = hidden.shape
            h, d = attention.num_heads, attention.head_dim
            keys.append(attention.k_proj(hidden).view(b, t, h, d).permute(0, 2, 3, 1))
            values.append(attention.v_proj(hidden).view(b, t, h, d).transpose(1, 2))
        return tuple(keys), tuple(values)


def _attend(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """query ``(B, h, 1, d)`` (already scaled), keys ``(B, h, d, S)``, values ``(B, h, S, d)`` → ``(B, h, 1, d)``."""
    return torch.softmax(query @ keys, dim=-1) @ values


class DecoderStep(nn.Module):
    """One greedy step for a batch: the last token of each row → next-token logits and the grown cache.

    Inputs: ``input_ids (B, 1)`` int64, ``position`` () int64 (number of tokens already in the cache),
    ``past_keys`` ``L × (B, h, d, S)``, ``past_values`` ``L × (B, h, S, d)``, ``cross_keys`` ``L × (B, h, d, T)``,
    ``cross_values`` ``L × (B, h, T, d)``. Outputs: ``logits (B, V)``, ``present_keys`` ``L × (B, h, d, S + 1)``,
    ``present_values`` ``L × (B, h, S + 1, d)``.
    """

    def __init__(self, model):
        super().__init__()
        decoder = model.decoder.model.decoder
        self.embed_tokens = decoder.embed_tokens
        self.embed_positions = decoder.embed_positions
        self.layernorm_embedding = decoder.layernorm_embedding
        self.layers = decoder.layers
        self.output_projection = model.decoder.output_projection
        if not model.decoder.config.use_learned_position_embeddings:
            raise ValueError("DecoderStep supports learned position embeddings only")
        self.qkv = nn.ModuleList()
        for layer in self.layers:
            attention = layer.self_attn
            fused = nn.Linear(attention.embed_dim, 3 * attention.embed_dim)
            projections = (attention.q_proj, attention.k_proj, attention.v_proj)
            with torch.no_grad():
                fused.weight.copy_(torch.cat([proj.weight for proj in projections]))
                fused.bias.copy_(torch.cat([proj.bias for proj in projections]))
            self.qkv.append(fused.to(attention.q_proj.weight.device, attention.q_proj.weight.dtype))

    def forward(self, input_ids, position, past_keys, past_values, cross_keys, cross_values):
        b = input_ids.shape[0]
        x = self.embed_tokens(input_ids) + self.embed_positions.weight[position + self.embed_positions.offset]
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        present_keys, present_values = [], []
        for i, layer in enumerate(self.layers):
            attention = layer.self_attn
            h, d = attention.num_heads, attention.head_dim
            query, key, value = self.qkv[i](x).view(b, 3, h, d).unbind(1)  # each (B, h, d)
            query = (query * attention.scaling).unsqueeze(2)  # (B, h, 1, d)
            keys = torch.cat([past_keys[i], key.unsqueeze(3)], dim=3)
            values = torch.cat([past_values[i], value.unsqueeze(2)], dim=2)
            present_keys.append(keys)
            present_values.append(values)
            attended = _attend(query, keys, values).transpose(1, 2).reshape(b, 1, h * d)
            x = layer.self_attn_layer_norm(x + attention.out_proj(attended))

            cross = layer.encoder_attn
            query = (cross.q_proj(x) * cross.scaling).view(b, 1, cross.num_heads, cross.head_dim).transpose(1, 2)
            attended = _attend(query, cross_keys[i], cross_values[i]).transpose(1, 2).reshape(b, 1, -1)
            x = layer.encoder_attn_layer_norm(x + cross.out_proj(attended))

            x = layer.final_layer_norm(x + layer.fc2(layer.activation_fn(layer.fc1(x))))
        logits = self.output_projection(x)[:, 0]
        return logits, tuple(present_keys), tuple(present_values)


@dataclass
class GreedyResult:
    token_ids: list[list[int]]  # without <s> and </s>
    token_probs: list[list[float]]  # probability of each kept token, then of </s> when it was reached
    finished: list[bool]


#: Tokens allowed beyond the number of encoder frames (see :func:`frame_token_limit`).
FRAME_SLACK = 2


def frame_token_limit(frames: int) -> int:
    """The most tokens a line with ``frames`` encoder columns can hold. Each character of a handwritten line
    spans at least one 8-pixel column at the model's height (the same bound CTC needs: frames ≥ characters),
    so a longer output can only be the decoder repeating itself once the image is read."""
    return frames + FRAME_SLACK


@torch.inference_mode()
def greedy_decode(model, pixel_values: torch.Tensor, bos_id: int, eos_id: int, max_new_tokens: int,
                  cap_to_frames: bool = False) -> GreedyResult:
    """Batched greedy decoding with a key/value cache; each row stops at its own ``</s>``.

    ``cap_to_frames`` stops every row after :func:`frame_token_limit` tokens of the batch's encoder length."""
    encoder = EncoderWithCrossCache(model).eval()
    step = DecoderStep(model).eval()
    cross_keys, cross_values = encoder(pixel_values)
    b, heads, frames, head_dim = cross_values[0].shape
    past_keys = tuple(k.new_zeros((b, heads, head_dim, 0)) for k in cross_keys)
    past_values = tuple(v.new_zeros((b, heads, 0, head_dim)) for v in cross_values)
    tokens = torch.full((b, 1), bos_id, dtype=torch.long)
    alive = torch.ones(b, dtype=torch.bool)
    ids: list[list[int]] = [[] for _ in range(b)]
    probs: list[list[float]] = [[] for _ in range(b)]
    limit = min(max_new_tokens, step.embed_positions.weight.shape[0] - step.embed_positions.offset - 1)
    if cap_to_frames:
        limit = min(limit, frame_token_limit(frames))
    for position in range(limit):
        logits, past_keys, past_values = step(tokens, torch.tensor(position), past_keys, past_values,
                                              cross_keys, cross_values)
        p = torch.softmax(logits.float(), dim=-1)
        best_p, best = p.max(dim=-1)
        for row in torch.nonzero(alive).flatten().tolist():
            probs[row].append(float(best_p[row]))
            if int(best[row]) == eos_id:
                alive[row] = False
            else:
                ids[row].append(int(best[row]))
        if not alive.any():
            break
        tokens = best[:, None]
    return GreedyResult(ids, probs, [not a for a in alive.tolist()])
