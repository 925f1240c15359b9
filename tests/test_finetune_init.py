"""Fine-tuning from an existing checkpoint directory with vocabulary adaptation (tiny local checkpoints)."""
import json

import numpy as np
import pytest
import torch
from transformers import (PreTrainedTokenizerFast, TrOCRConfig, TrOCRForCausalLM, ViTConfig, ViTModel,
                          VisionEncoderDecoderModel)

from hotich.cli import main
from models.recognition import CharTokenizer, LineImageProcessor
from models.recognition.adaptation import adapt_checkpoint
from models.recognition.recognizer import build_recognizer, save_recognizer
from conftest import tiny_shape

SMALL = tiny_shape()


def test_hotich_checkpoint_with_smaller_vocabulary(tmp_path):
    old_tok = CharTokenizer("abcdefghijklmnopqrstuvwxyz ")
    old = build_recognizer(SMALL, old_tok)
    save_recognizer(tmp_path / "old", old, old_tok, LineImageProcessor(height=32))
    model, tok, proc = adapt_checkpoint(tmp_path / "old")
    assert tok.vocab_size > old_tok.vocab_size
    new_rows = model.decoder.get_input_embeddings().weight
    old_rows = old.decoder.get_input_embeddings().weight
    for c in "ak ":
        torch.testing.assert_close(new_rows[tok.vocab[c]], old_rows[old_tok.vocab[c]])
    torch.testing.assert_close(new_rows[tok.vocab["ễ"]], old_rows.mean(0))  # unknown to the old vocabulary
    assert model.adapted_tokens == 4 + 27
    assert proc.height == 32
    pixels = proc([np.zeros((40, 120, 3), np.uint8)])["pixel_values"]
    out = model(pixel_values=pixels, labels=torch.tensor([tok.encode("Việt")[1:]]))
    assert out.logits.shape[-1] == tok.vocab_size and torch.isfinite(out.loss)


def _tiny_trocr_directory(path):
    """A microsoft/trocr-shaped directory: ViT encoder, TrOCR decoder, its own word-level tokenizer."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "b": 5, "Ġc": 6, "Hà": 7, "7": 8}
    raw = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    encoder = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=64), add_pooling_layer=False)
    decoder = TrOCRForCausalLM(TrOCRConfig(vocab_size=len(vocab), d_model=32, decoder_layers=1,
                                           decoder_attention_heads=2, decoder_ffn_dim=64, max_position_embeddings=64,
                                           pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                           decoder_start_token_id=0, is_decoder=True, add_cross_attention=True))
    model = VisionEncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id, model.config.pad_token_id = 0, 1
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, vocab


def test_trocr_shaped_checkpoint_is_adapted_and_fine_tuned(tmp_path, monkeypatch):
    old, vocab = _tiny_trocr_directory(tmp_path / "trocr")
    model, tok, proc = adapt_checkpoint(tmp_path / "trocr")
    assert proc.fixed_width == 32 and proc.height == 32  # ViT wants its fixed square input
    rows = model.decoder.get_input_embeddings().weight
    old_rows = old.decoder.get_input_embeddings().weight
    torch.testing.assert_close(rows[tok.vocab["a"]], old_rows[vocab["a"]])
    torch.testing.assert_close(rows[tok.vocab["c"]], old_rows[vocab["Ġc"]])
    torch.testing.assert_close(rows[tok.bos_token_id], old_rows[vocab["<s>"]])
    pixels = proc([np.zeros((20, 200, 3), np.uint8)])["pixel_values"]
    assert pixels.shape == (1, 3, 32, 32)

    # The training CLI fine-tunes from it and saves a loadable hotich recognizer.
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOTICH_SHARED", str(tmp_path / "absent"))
    runs = tmp_path / "runs"
    assert main(["train", "recognizer", "--config", "training/configs/tiny.yaml", "--runs-dir", str(runs),
                 "--init", str(tmp_path / "trocr"), "--max-steps", "3"]) == 0
    from models.recognition.recognizer import load_recognizer

    tuned, tuned_tok, tuned_proc = load_recognizer(runs / "tiny" / "best")
    assert tuned_tok.vocab == tok.vocab and tuned_proc.fixed_width == 32
    assert tuned.config.encoder.model_type == "vit"


def test_init_requires_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        adapt_checkpoint(tmp_path)
