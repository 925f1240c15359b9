"""ONNX export parity on a tiny model: onnxruntime greedy decoding is token-identical to PyTorch."""
import json

import numpy as np
import pytest
import torch

from hotich.cli import main
from inference.ort_runtime import OnnxRecognizer
from models.recognition import CharTokenizer, LineImageProcessor
from models.recognition.cached_decoder import greedy_decode
from models.recognition.recognizer import build_recognizer, load_recognizer, save_recognizer
from conftest import tiny_shape

TINY = tiny_shape(decoder_layers=2, max_text_tokens=24)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    tok = CharTokenizer()
    model = build_recognizer(TINY, tok).eval()
    with torch.no_grad():  # sharpen the random decoder so rows end at different lengths
        model.decoder.output_projection.weight.mul_(40)
    save_recognizer(root / "model", model, tok, LineImageProcessor(height=32))
    assert main(["export", "--model", str(root / "model"), "--out", str(root / "onnx"), "--int8"]) == 0
    return root


def test_export_directory_describes_itself(exported):
    config = json.loads((exported / "onnx" / "onnx_config.json").read_text())
    assert config["graphs"]["fp32"] == {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx"}
    assert "int8" in config["graphs"] and config["opset"] >= 17
    assert len(config["source"]["weights_sha256"]) == 64
    assert (exported / "onnx" / "vocab.json").is_file() and (exported / "onnx" / "preprocessor_config.json").is_file()


def test_ort_greedy_is_token_identical_to_pytorch(exported):
    model, tok, proc = load_recognizer(exported / "model")
    runtime = OnnxRecognizer(exported / "onnx", intra_op_threads=1)
    images = [np.random.default_rng(i).integers(0, 255, (32, 30 + 41 * i, 3), dtype=np.uint8) for i in range(7)]
    pixels = proc(images)["pixel_values"]
    reference = greedy_decode(model, pixels, tok.bos_token_id, tok.eos_token_id, 16)
    ids, probs = runtime.decode_batch(pixels.numpy(), 16)
    assert ids == reference.token_ids
    for a, b in zip(probs, reference.token_probs):
        np.testing.assert_allclose(a, b, atol=1e-4)
    # The public entries bucket by width the same way and keep input order.
    from models.recognition.predictor import recognize

    expected = recognize(model, tok, proc, images, batch_size=3)
    recognized = runtime.recognize(images, batch_size=3)
    assert [r.text for r in recognized] == [r.text for r in expected]
    np.testing.assert_allclose([r.confidence for r in recognized], [r.confidence for r in expected], atol=1e-4)


def test_int8_variant_runs_and_bad_variant_is_named(exported):
    images = [np.full((32, 90, 3), 200, np.uint8)]
    assert len(OnnxRecognizer(exported / "onnx", variant="int8").recognize(images)) == 1
    with pytest.raises(ValueError, match="not exported"):
        OnnxRecognizer(exported / "onnx", variant="fp16")
    with pytest.raises(FileNotFoundError, match="not an exported recognizer"):
        OnnxRecognizer(exported / "model")
