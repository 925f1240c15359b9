"""Configuration of :class:`models.recognition.modeling_line_encoder.LineEncoder`."""
from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig


@strict
class LineEncoderConfig(PreTrainedConfig):
    r"""A convolutional stem followed by a Transformer encoder over the width of a text line.

    Args:
        num_channels: input channels (3 for RGB).
        image_height: input height in pixels; the stem reduces it to ``image_height / 16`` rows.
        stem_channels: output channels of the four stem stages (height /2, /4, /8, /16; width /2, /4, /8, /8).
        hidden_size: width of the Transformer.
        num_hidden_layers, num_attention_heads, intermediate_size: Transformer shape.
        hidden_dropout_prob, attention_probs_dropout_prob: dropout.
        layer_norm_eps: epsilon of the layer norms.

    Example:

    ```python
    >>> from models.recognition import LineEncoder, LineEncoderConfig
    >>> encoder = LineEncoder(LineEncoderConfig(hidden_size=128, num_hidden_layers=2))
    ```"""

    model_type = "hotich_line_encoder"

    num_channels: int = 3
    image_height: int = 48
    stem_channels: list[int] | tuple[int, ...] = (32, 64, 128, 192)
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02

    def validate_architecture(self):
        if self.image_height % 16:
            raise ValueError(f"image_height must be a multiple of 16, got {self.image_height}")
        if len(self.stem_channels) != 4:
            raise ValueError("stem_channels needs four stages")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")


__all__ = ["LineEncoderConfig"]
