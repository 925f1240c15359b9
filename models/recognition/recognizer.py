"""The TrOCR-style recognizer: :class:`LineEncoder` + a TrOCR Transformer decoder with cross-attention,
joined by ``transformers.VisionEncoderDecoderModel`` and saved as one ``from_pretrained`` directory
(config, safetensors weights, tokenizer, processor config).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TrOCRConfig, TrOCRForCausalLM, VisionEncoderDecoderConfig, VisionEncoderDecoderModel

from models.recognition.configuration_line_encoder import LineEncoderConfig
from models.recognition.modeling_line_encoder import LineEncoder
from models.recognition.processor import LineImageProcessor
from models.recognition.tokenizer import CharTokenizer


@dataclass
class RecognizerShape:
    """The few numbers that define a recognizer; training configs carry these as plain values."""

    image_height: int = 48
    encoder_hidden_size: int = 256
    encoder_layers: int = 4
    encoder_heads: int = 4
    encoder_ffn: int = 1024
    stem_channels: tuple[int, ...] = (32, 64, 128, 192)
    decoder_hidden_size: int = 256
    decoder_layers: int = 3
    decoder_heads: int = 4
    decoder_ffn: int = 1024
    max_text_tokens: int = 160
    dropout: float = 0.1


def build_recognizer(shape: RecognizerShape, tokenizer: CharTokenizer) -> VisionEncoderDecoderModel:
    """A freshly initialised recognizer for ``tokenizer``'s vocabulary."""
    encoder = LineEncoder(LineEncoderConfig(
        image_height=shape.image_height, stem_channels=list(shape.stem_channels),
        hidden_size=shape.encoder_hidden_size, num_hidden_layers=shape.encoder_layers,
        num_attention_heads=shape.encoder_heads, intermediate_size=shape.encoder_ffn,
        hidden_dropout_prob=shape.dropout))
    decoder = TrOCRForCausalLM(TrOCRConfig(
        vocab_size=tokenizer.vocab_size, d_model=shape.decoder_hidden_size, decoder_layers=shape.decoder_layers,
        decoder_attention_heads=shape.decoder_heads, decoder_ffn_dim=shape.decoder_ffn,
        max_position_embeddings=shape.max_text_tokens, dropout=shape.dropout, activation_function="gelu",
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.bos_token_id,
        cross_attention_hidden_size=shape.encoder_hidden_size, is_decoder=True, add_cross_attention=True,
        use_learned_position_embeddings=True, layernorm_embedding=True, tie_word_embeddings=True))
    model = VisionEncoderDecoderModel(encoder=encoder, decoder=decoder)
    configure_special_tokens(model, tokenizer)
    return model


def configure_special_tokens(model: VisionEncoderDecoderModel, tokenizer: CharTokenizer) -> None:
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = tokenizer.bos_token_id
        config.pad_token_id = tokenizer.pad_token_id
        config.eos_token_id = tokenizer.eos_token_id
    model.config.vocab_size = tokenizer.vocab_size
    model.generation_config.max_length = model.decoder.config.max_position_embeddings


def save_recognizer(directory: str | os.PathLike, model: VisionEncoderDecoderModel, tokenizer: CharTokenizer,
                    processor: LineImageProcessor, dtype: torch.dtype | None = None) -> Path:
    """Write a self-contained model directory; ``dtype=torch.float16`` halves the weights for release."""
    directory = Path(directory)
    if dtype is not None:
        import copy

        model = copy.deepcopy(model).to(dtype)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def load_recognizer(directory: str | os.PathLike, dtype: torch.dtype = torch.float32):
    """``(model, tokenizer, processor)`` from a directory written by :func:`save_recognizer` (eval mode)."""
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory} is not a recognizer directory (no config.json)")
    model = VisionEncoderDecoderModel.from_pretrained(directory, dtype=dtype)
    model.eval()
    return model, CharTokenizer.from_pretrained(directory), LineImageProcessor.from_pretrained(directory)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
