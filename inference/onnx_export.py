"""Export a recognizer to ONNX: ``encoder.onnx`` (image → cross-attention cache) and ``decoder_step.onnx``
(one greedy step with the self-attention key/value cache), plus two int8 variants:

``int8``
    dynamic quantization of the matrix products only (weights int8, activations quantized on the fly).
``int8-static``
    the same matrix products, and the convolutional stem quantized statically (QDQ, per-channel weights) with
    activation ranges calibrated on synthetic ledger lines. The stem is about half of the encoder's arithmetic;
    onnxruntime's dynamically quantized convolution (ConvInteger) measured slower than its fp32 one, while the
    statically quantized one is faster (README, "Serving"), so only the static route pays for convolutions.
    Its weights are quantized to 7 bits (``reduce_range``): on x86 CPUs without VNNI (AVX2 only, as the AMD
    EPYC this was found on), onnxruntime's uint8 x int8 convolution adds pairs of products in 16 bits, which
    overflow with full-range weights; the 8-bit stem read page lines at 56% CER there (fp32 6.3%), and the
    7-bit one at 6.2%.

With the int8 variants the export also keeps ``probe.npz``, a batch of synthetic font lines as the processor
prepares them: the runtime runs it through a quantized variant and the fp32 graphs before serving that variant
(:class:`inference.ort_runtime.OnnxRecognizer`), so a CPU on which a variant goes wrong falls back to another.

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

from inference.ort_runtime import CONFIG_FILE, FORMAT_VERSION, INT8_RECIPE, PROBE_FILE
from models.recognition.cached_decoder import DecoderStep, EncoderWithCrossCache
from models.recognition.recognizer import load_recognizer

OPSET = 20
CALIBRATION_LINES = 64
PROBE_LINES = 8


def calibration_images(n: int = CALIBRATION_LINES, seed: int = 20_241) -> list:
    """``n`` synthetic ledger-field lines (fonts, moderate degradation; no shared data needed), seeded: the same
    export twice calibrates the same."""
    from data.synth import LineSynthesizer

    synthesizer = LineSynthesizer(height=64, degradation=0.5)
    return [synthesizer.sample(seed + i, source="font").image for i in range(n)]


def write_probe(path: Path, processor, images: list, lines: int = PROBE_LINES) -> Path:
    """``path`` (``.npz``): ``pixel_values`` of ``lines`` of ``images`` of middling width, one padded batch as the
    runtime makes them (fp16: the check compares graphs, not digits)."""
    import numpy as np

    ordered = sorted(images, key=lambda image: image.shape[1] / image.shape[0])
    start = max(0, (len(ordered) - lines) // 2)
    pixel_values = processor(ordered[start:start + lines])["pixel_values"].numpy().astype(np.float16)
    np.savez_compressed(path, pixel_values=pixel_values)
    return path


def fold_batchnorm(module: torch.nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d that follows a Conv2d in an ``nn.Sequential`` into that convolution, in
    place (the BatchNorm becomes an Identity); returns how many were folded. onnxruntime folds them at load time
    anyway, but not once quantize/dequantize nodes sit between the two, so the export does it first."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for parent in module.modules():
        if not isinstance(parent, torch.nn.Sequential):
            continue
        for i in range(len(parent) - 1):
            conv, norm = parent[i], parent[i + 1]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d):
                parent[i], parent[i + 1] = fuse_conv_bn_eval(conv.eval(), norm.eval()), torch.nn.Identity()
                folded += 1
    return folded


def quantize_static_convolutions(fp32_encoder: Path, out: Path, processor, images: list, batch_size: int = 8) -> Path:
    """``out``: ``fp32_encoder`` with its convolutions quantized statically (QDQ, int8 per-channel weights, uint8
    activations calibrated on ``images``) and its matrix products dynamically, as in the ``int8`` variant."""
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self):
            # Similar widths together, as the runtime batches them: less padding in the calibrated ranges.
            ordered = sorted(images, key=lambda image: image.shape[1] / image.shape[0])
            self.batches = iter([processor(ordered[i:i + batch_size])["pixel_values"].numpy().astype(np.float32)
                                 for i in range(0, len(ordered), batch_size)])

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"pixel_values": batch}

    staged = [out.with_suffix(".pre.onnx"), out.with_suffix(".qdq.onnx")]
    try:
        quant_pre_process(str(fp32_encoder), str(staged[0]), skip_symbolic_shape=True)
        quantize_static(str(staged[0]), str(staged[1]), Batches(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, reduce_range=True)
        quantize_dynamic(staged[1], out, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    return out


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


def export_recognizer(model_dir: str | Path, out_dir: str | Path, int8: bool = False,
                      calibration: list | None = None) -> Path:
    """Write the ONNX graphs of ``model_dir`` to ``out_dir`` (fp32; with ``int8`` also the ``int8`` and
    ``int8-static`` variants, the latter calibrated on ``calibration`` images, by default
    :func:`calibration_images`)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model, tokenizer, processor = load_recognizer(model_dir)
    model.eval()
    fold_batchnorm(model.encoder)
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
        source = "given" if calibration is not None else "synthetic font lines"
        calibration = calibration if calibration is not None else calibration_images()
        calibrated_on = {"lines": len(calibration), "source": source}
        quantize_static_convolutions(out_dir / "encoder.onnx", out_dir / "encoder.int8-static.onnx", processor,
                                     calibration)
        graphs["int8-static"] = {"encoder": "encoder.int8-static.onnx", "decoder_step": "decoder_step.int8.onnx"}
        write_probe(out_dir / PROBE_FILE, processor, calibration)

    tokenizer.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    for extra in ("config.json", "README.md"):
        if (model_dir / extra).is_file():
            shutil.copy(model_dir / extra, out_dir / ("source_" + extra))
    config = {
        "format": "hotich-onnx-recognizer", "format_version": FORMAT_VERSION, "opset": OPSET, "graphs": graphs,
        **({"int8_recipe": INT8_RECIPE, "int8_static_calibration": calibrated_on} if int8 else {}),
        "layers": layers, "heads": heads, "head_dim": head_dim,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "max_new_tokens": int(step.embed_positions.weight.shape[0] - step.embed_positions.offset - 1),
        "source": {"directory": str(model_dir), "weights_sha256": sha256_file(model_dir / "model.safetensors")},
        "inputs": {graph: n["inputs"] for graph, n in names.items()},
        "outputs": {graph: n["outputs"] for graph, n in names.items()},
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return out_dir
