import numpy as np
import pytest
import torch

from data.charset import CHARSET, VOWELS
from models.metrics import recognition_metrics
from models.recognition import CharTokenizer, LineEncoder, LineEncoderConfig, LineImageProcessor
from models.recognition.recognizer import build_recognizer, load_recognizer, save_recognizer
from conftest import tiny_shape

TINY = tiny_shape()


def test_tokenizer_covers_vietnamese_and_round_trips(tmp_path):
    tok = CharTokenizer()
    assert all(c in tok.vocab for c in VOWELS + "đĐ0123456789/,.-")
    text = "Ngày hai mươi bảy tháng tám năm 2008, Xã Thạch Khôi"
    ids = tok.encode(text)
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    again = CharTokenizer.from_pretrained(tmp_path)
    assert again.vocab == tok.vocab and again.decode(again.encode(text)) == text


def test_tokenizer_unknown_policy():
    tok = CharTokenizer()
    assert tok.decode(tok.encode("Françoise")) == "Francoise"  # marked foreign letter → its base letter
    assert tok.decode(tok.encode("a\u2013b")) == "a-b"  # en dash mapped by normalize_text
    assert tok.unknown_chars("x€y") == {"€"}
    assert tok.decode(tok.encode("x€y")) == "x\ufffdy"
    # Decomposed input is normalised first.
    assert tok.encode("Nguye\u0302\u0303n") == tok.encode("Nguyễn")


def test_tokenizer_rejects_foreign_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a hotich tokenizer"):
        CharTokenizer.from_pretrained(tmp_path)


def test_processor_keeps_aspect_pads_and_round_trips(tmp_path):
    proc = LineImageProcessor(height=32, max_width=200, pad_multiple=8)
    wide = np.zeros((64, 1000, 3), np.uint8)
    short = np.zeros((64, 100, 3), np.uint8)
    batch = proc([wide, short])
    assert batch["pixel_values"].shape == (2, 3, 32, 200)
    assert batch["widths"].tolist() == [200, 50]
    assert torch.all(batch["pixel_values"][1, :, :, 50:] == 1.0)  # white padding after normalisation
    assert batch["pixel_values"][1, :, :, :50].min() == -1.0
    proc.save_pretrained(tmp_path)
    assert LineImageProcessor.from_pretrained(tmp_path) == proc
    with pytest.raises(ValueError, match="RGB image"):
        proc([np.zeros((4, 4, 5), np.uint8)])


def test_encoder_output_shape():
    encoder = LineEncoder(LineEncoderConfig(image_height=32, stem_channels=[8, 8, 16, 16], hidden_size=32,
                                            num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    out = encoder(torch.randn(2, 3, 32, 96)).last_hidden_state
    assert out.shape == (2, 12, 32)
    with pytest.raises(ValueError, match="pixel_values"):
        encoder(torch.randn(2, 3, 48, 96))


def test_encoder_config_validates():
    with pytest.raises(Exception, match="multiple of 16"):
        LineEncoder(LineEncoderConfig(image_height=40))


def test_recognizer_save_load_round_trip(tmp_path):
    tok = CharTokenizer()
    model = build_recognizer(TINY, tok).eval()
    proc = LineImageProcessor(height=32)
    pixels = proc([np.random.default_rng(0).integers(0, 255, (40, 160, 3), dtype=np.uint8)])["pixel_values"]
    labels = torch.tensor([tok.encode("Kinh")[1:]])
    save_recognizer(tmp_path / "m", model, tok, proc)
    loaded, tok2, proc2 = load_recognizer(tmp_path / "m")
    assert tok2.vocab == tok.vocab and proc2 == proc
    torch.testing.assert_close(model(pixel_values=pixels, labels=labels).logits,
                               loaded(pixel_values=pixels, labels=labels).logits)
    generated = loaded.generate(pixels, max_new_tokens=5)
    assert generated[0, 0].item() == tok.bos_token_id
    # fp16 release copies load back as float32 with the same weights (to fp16 precision).
    save_recognizer(tmp_path / "half", model, tok, proc, dtype=torch.float16)
    half, _, _ = load_recognizer(tmp_path / "half")
    torch.testing.assert_close(half(pixel_values=pixels, labels=labels).logits,
                               model(pixel_values=pixels, labels=labels).logits, atol=2e-2, rtol=2e-2)


def test_metrics_split_marks_from_base_errors():
    m = recognition_metrics(["Nguyen Thi Anh", "Kinh"], ["Nguyễn Thị Ánh", "Kinh"])
    assert m["n"] == 2 and m["line_acc"] == 0.5
    assert m["cer_base"] == 0.0 and m["cer"] == pytest.approx(3 / 18)
    assert m["cer_marks"] == pytest.approx(m["cer"])
    assert recognition_metrics(["abc"], ["abc"])["cer"] == 0.0
    with pytest.raises(ValueError):
        recognition_metrics(["a"], [])


def test_cached_greedy_decoding_matches_generate():
    from models.recognition.cached_decoder import greedy_decode

    torch.manual_seed(0)
    tok = CharTokenizer()
    model = build_recognizer(TINY, tok).eval()
    # Sharpen the random decoder so that rows end at different lengths, some before the limit.
    with torch.no_grad():
        model.decoder.output_projection.weight.mul_(40)
    pixels = LineImageProcessor(height=32)([np.random.default_rng(i).integers(0, 255, (32, 40 + 30 * i, 3),
                                                                               dtype=np.uint8) for i in range(5)])
    generated = model.generate(pixels["pixel_values"], max_new_tokens=12, do_sample=False, num_beams=1)
    result = greedy_decode(model, pixels["pixel_values"], tok.bos_token_id, tok.eos_token_id, 12)
    for row in range(5):
        ref = generated[row, 1:].tolist()
        ref = ref[: ref.index(tok.eos_token_id)] if tok.eos_token_id in ref else ref
        assert [t for t in ref if t != tok.pad_token_id] == result.token_ids[row]
        assert all(0.0 < p <= 1.0 for p in result.token_probs[row])
