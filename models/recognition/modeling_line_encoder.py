"""LineEncoder: the image half of the TrOCR-style recognizer (VietOCR's vgg_transformer is this shape).

A four-stage convolutional stem turns a ``(B, 3, H, W)`` line into ``W/8`` column features — cheap on a CPU
and robust to handwriting's local shapes — and a pre-norm Transformer encoder relates the columns across
the whole line. The output sequence feeds the decoder's cross-attention through
``transformers.VisionEncoderDecoderModel``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from models.recognition.configuration_line_encoder import LineEncoderConfig


class ConvStage(nn.Sequential):
    """Two 3x3 convolutions with batch norm and GELU; the first one strides."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int]):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.GELU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.GELU(),
        )


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward block."""

    def __init__(self, config: LineEncoderConfig):
        super().__init__()
        d = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.norm1 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.ff = nn.Sequential(nn.Linear(d, config.intermediate_size), nn.GELU(),
                                nn.Linear(config.intermediate_size, d))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.attention_dropout = config.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: ``(B, T, D)`` → ``(B, T, D)``."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attention_dropout if self.training else 0.0)
        x = x + self.dropout(self.proj(attn.transpose(1, 2).reshape(b, t, d)))
        return x + self.dropout(self.ff(self.norm2(x)))


def sinusoidal_positions(length: int, dim: int, device, dtype) -> torch.Tensor:
    """``(length, dim)`` sinusoidal position codes; no maximum length, so any line width works."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.cat([torch.sin(position * div), torch.cos(position * div)], dim=1)
    return table.to(dtype)


class LineEncoder(PreTrainedModel):
    """Encode a batch of text-line images into a sequence of column features.

    Input ``pixel_values``: ``(B, num_channels, image_height, W)`` with ``W`` a multiple of 8.
    Output ``last_hidden_state``: ``(B, W / 8, hidden_size)``.
    """

    config_class = LineEncoderConfig
    base_model_prefix = "line_encoder"
    main_input_name = "pixel_values"

    def __init__(self, config: LineEncoderConfig):
        super().__init__(config)
        c = list(config.stem_channels)
        self.stem = nn.Sequential(
            ConvStage(config.num_channels, c[0], (2, 2)),
            ConvStage(c[0], c[1], (2, 2)),
            ConvStage(c[1], c[2], (2, 2)),
            ConvStage(c[2], c[3], (2, 1)),
        )
        rows = config.image_height // 16
        self.column_projection = nn.Linear(c[3] * rows, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self):
        return None

    def forward(self, pixel_values: torch.Tensor, output_attentions=None, output_hidden_states=None,
                return_dict=None, **kwargs) -> BaseModelOutput:
        if pixel_values.dim() != 4 or pixel_values.shape[2] != self.config.image_height:
            raise ValueError(f"expected pixel_values of shape (B, {self.config.num_channels}, "
                             f"{self.config.image_height}, W), got {tuple(pixel_values.shape)}")
        features = self.stem(pixel_values)  # (B, C, H/16, W/8)
        b, c, h, w = features.shape
        columns = features.permute(0, 3, 1, 2).reshape(b, w, c * h)
        x = self.column_projection(columns)
        x = self.dropout(x + sinusoidal_positions(w, x.shape[-1], x.device, x.dtype)[None])
        hidden_states = [x] if output_hidden_states else None
        for layer in self.layers:
            x = layer(x)
            if output_hidden_states:
                hidden_states.append(x)
        x = self.norm(x)
        return BaseModelOutput(last_hidden_state=x, hidden_states=tuple(hidden_states) if hidden_states else None)


AutoConfig.register(LineEncoderConfig.model_type, LineEncoderConfig, exist_ok=True)
AutoModel.register(LineEncoderConfig, LineEncoder, exist_ok=True)

__all__ = ["LineEncoder"]
