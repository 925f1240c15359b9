"""Export a recognizer to ONNX: ``encoder.onnx`` (image → cross-attention cache) and ``decoder_step.onnx``
(one greedy step with the self-attention key/value cache), plus an int8 dynamically quantized variant.

Caches cross the graph boundary as one tensor per layer (``past_key.0``, …, ``cross_value.2``): a stacked cache
made every step copy the whole cross-attention cache. Opset 20, because from 20 on GELU exports as one ``Gelu``
node (onnxruntime runs it as one kernel) instead of five element-wise ones.

The exported directory is self-describing: ``onnx_config.json`` lists the graphs, opset, input/output names,
the model's special tokens, and the SHA-256 of the source weights; the tokenizer and processor config are
copied beside the graphs so the directory is all the runtime needs.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from inference.ort_runtime import CONFIG_FILE, FORMAT_VERSION
from models.recognition.cached_decoder import DecoderStep, EncoderWithCrossCache
from models.recognition.recognizer import load_recognizer

OPSET = 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def graph_names(layers: int) -> dict[str, dict[str, list[str]]]:
    """Input and output names of both graphs, in the order the runtime feeds and reads them."""
    def per_layer(*kinds):
        return [f"{kind}.{i}" for kind in kinds for i in range(layers)]

    return {"encoder": {"inputs": ["pixel_values"], "outputs": per_layer("cross_key", "cross_value")},
            "decoder_step": {"inputs": ["input_ids", "position"] + per_layer("past_key", "past_value", "cross_key",
                                                                             "cross_value"),
                             "outputs": ["logits"] + per_layer("present_key", "present_value")}}


def export_recognizer(model_dir: str | Path, out_dir: str | Path, int8: bool = False) -> Path:
    """Write the ONNX graphs of ``model_dir`` to ``out_dir`` (fp32; with ``int8`` also ``*.int8.onnx``)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model, tokenizer, processor = load_recognizer(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = EncoderWithCrossCache(model).eval()
    step = DecoderStep(model).eval()

    pixels = processor([__import__("numpy").full((processor.height, processor.height * 4, 3), 255, "uint8")] * 2)
    pixel_values = pixels["pixel_values"]
    with torch.no_grad():
        cross_keys, cross_values = encoder(pixel_values)
    layers = len(cross_keys)
    batch, heads, _, head_dim = cross_values[0].shape
    past_keys = tuple(torch.zeros((batch, heads, head_dim, 3)) for _ in range(layers))
    past_values = tuple(torch.zeros((batch, heads, 3, head_dim)) for _ in range(layers))
    ids = torch.full((batch, 1), tokenizer.bos_token_id, dtype=torch.long)
    names = graph_names(layers)

    batch_dim = torch.export.Dim("batch", min=1, max=1024)
    width_dim = torch.export.Dim("width_8", min=1, max=4096)
    frames_dim = torch.export.Dim("frames", min=1, max=4096)
    past_dim = torch.export.Dim("past", min=0, max=1024)
    # Keys are stored transposed (B, h, d, length), values as (B, h, length, d): see models.recognition.cached_decoder.
    key_shape = tuple({0: batch_dim, 3: past_dim} for _ in range(layers))
    value_shape = tuple({0: batch_dim, 2: past_dim} for _ in range(layers))
    cross_key_shape = tuple({0: batch_dim, 3: frames_dim} for _ in range(layers))
    cross_value_shape = tuple({0: batch_dim, 2: frames_dim} for _ in range(layers))
    torch.onnx.export(encoder, (pixel_values,), out_dir / "encoder.onnx", input_names=names["encoder"]["inputs"],
                      output_names=names["encoder"]["outputs"], opset_version=OPSET, dynamo=True,
                      dynamic_shapes={"pixel_values": {0: batch_dim, 3: 8 * width_dim}}, external_data=False)
    # Distinct tensors for every input: the exporter merges inputs that are one tensor into one graph input.
    torch.onnx.export(step, (ids, torch.tensor(3), past_keys, past_values, cross_keys, cross_values),
                      out_dir / "decoder_step.onnx", input_names=names["decoder_step"]["inputs"],
                      output_names=names["decoder_step"]["outputs"], opset_version=OPSET, dynamo=True,
                      dynamic_shapes={"input_ids": {0: batch_dim}, "position": None,
                                      "past_keys": key_shape, "past_values": value_shape,
                                      "cross_keys": cross_key_shape, "cross_values": cross_value_shape},
                      external_data=False)
    graphs = {"fp32": {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx"}}
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Matrix products only: onnxruntime's dynamically quantized convolution (ConvInteger) is slower than its
        # fp32 one on this CPU, while int8 MatMul is faster and reads a quarter of the weight bytes.
        for name in ("encoder", "decoder_step"):
            quantize_dynamic(out_dir / f"{name}.onnx", out_dir / f"{name}.int8.onnx", weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"])
        graphs["int8"] = {"encoder": "encoder.int8.onnx", "decoder_step": "decoder_step.int8.onnx"}

    tokenizer.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    for extra in ("config.json", "README.md"):
        if (model_dir / extra).is_file():
            shutil.copy(model_dir / extra, out_dir / ("source_" + extra))
    config = {
        "format": "hotich-onnx-recognizer", "format_version": FORMAT_VERSION, "opset": OPSET, "graphs": graphs,
        "layers": layers, "heads": heads, "head_dim": head_dim,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "max_new_tokens": int(step.embed_positions.weight.shape[0] - step.embed_positions.offset - 1),
        "source": {"directory": str(model_dir), "weights_sha256": sha256_file(model_dir / "model.safetensors")},
        "inputs": {graph: n["inputs"] for graph, n in names.items()},
        "outputs": {graph: n["outputs"] for graph, n in names.items()},
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return out_dir
