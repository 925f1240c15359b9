"""Batched recognition with onnxruntime and a key/value cache, on a directory from ``hotich export``:
greedy decoding (the default) or beam search.

Lines are bucketed by width (sorted, then cut into batches) so that padding wastes little; each row stops at
its own ``</s>`` and finished rows leave the batch, so long lines never make short ones pay. Beam search keeps
``k`` hypotheses per line as ``k`` rows of the same cache (rows are reordered as beams are re-ranked) and
ranks finished hypotheses by length-normalised log-probability.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from models.recognition.cached_decoder import frame_token_limit
from models.recognition.predictor import Recognition, recognize_bucketed
from models.recognition.processor import LineImageProcessor
from models.recognition.tokenizer import CharTokenizer

CONFIG_FILE = "onnx_config.json"
#: The graph interface (inputs, outputs, cache layout) that ``inference.onnx_export`` writes and this runtime
#: reads; bumped when it changes, and exports of another version are refused.
FORMAT_VERSION = 3
#: How the int8 graphs are made (2: a statically quantized stem beside the dynamic variant; 3: the stem's weights in
#: 7 bits, and a probe batch beside them); a cached export of another recipe is made again when int8 graphs are
#: asked for.
INT8_RECIPE = 3
#: What ``variant="auto"`` takes, the first one exported that passes the probe: the fastest on CPU first.
VARIANT_PREFERENCE = ("int8-static", "int8", "fp32")
#: The export's probe batch (:func:`inference.onnx_export.write_probe`).
PROBE_FILE = "probe.npz"
#: ``auto`` serves a quantized variant only while its outputs on the probe batch (the cross-attention cache and the
#: first step's logits) stay within this relative L2 error of the fp32 graphs'. Sound variants measured 0.01-0.08;
#: the 8-bit convolution stem on a CPU without VNNI 0.75, reading page lines at 56% CER instead of 6%.
PROBE_TOLERANCE = 0.25
log = logging.getLogger("hotich.inference")


def is_onnx_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def graph_format(config: dict) -> int:
    """The graph-interface version in an export's ``onnx_config.json`` (1 for exports older than the field)."""
    return config.get("format_version", 1)


def _reusable(exported: Path, int8: bool) -> bool:
    """Whether a cached export speaks this runtime's format and holds the graphs asked for."""
    if not is_onnx_dir(exported):
        return False
    config = json.loads((exported / CONFIG_FILE).read_text())
    return graph_format(config) == FORMAT_VERSION and (not int8 or config.get("int8_recipe") == INT8_RECIPE)


def exported_once(path: str | os.PathLike, int8: bool = True) -> Path:
    """``path`` itself when it is an export directory; for a recognizer directory, its export into
    ``.cache/onnx/<name>-<weights hash>``, written the first time it is needed (again when ``int8`` asks
    for the quantized graphs and the cached export lacks them, or when the cached export is of an older
    graph interface)."""
    path = Path(path)
    if is_onnx_dir(path):
        return path
    import hashlib

    from data.settings import cache_dir

    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{path}: neither an exported recognizer ({CONFIG_FILE}) nor a recognizer "
                                f"directory (model.safetensors)")
    exported = cache_dir() / "onnx" / f"{path.name}-{hashlib.sha256(weights.read_bytes()).hexdigest()[:16]}"
    if not _reusable(exported, int8):
        import shutil

        from inference.onnx_export import export_recognizer

        log.info("exporting %s to ONNX once, into %s", path, exported)
        # Written beside and renamed into place, so a process loading the cache never sees half a directory.
        fresh = exported.with_name(f"{exported.name}.tmp-{os.getpid()}")
        export_recognizer(path, fresh, int8=int8)
        stale = exported.with_name(f"{exported.name}.old-{os.getpid()}")
        if exported.exists():
            exported.rename(stale)
        fresh.rename(exported)
        shutil.rmtree(stale, ignore_errors=True)
    return exported


class OnnxRecognizer:
    """Recognizer over exported ONNX graphs.

    Args:
        directory: an export directory (``onnx_config.json``, graphs, tokenizer, processor config).
        variant: ``fp32``, ``int8`` or ``int8-static`` (when exported, see :mod:`inference.onnx_export`), or
            ``auto``: the first of :data:`VARIANT_PREFERENCE` the export has whose outputs on the export's probe
            batch stay near the fp32 graphs' on this CPU (:data:`PROBE_TOLERANCE`; ``probe_errors`` holds what
            was measured, and a variant that fails is logged as a warning). The int8 variants are the faster
            ones on CPU, and their CER stays within 0.5 points of fp32 (README, "Serving"); exports made with
            ``hotich export`` without ``--int8`` serve fp32.
        intra_op_threads: onnxruntime threads per operator (None = onnxruntime's default, all cores).
        inter_op_threads: threads across independent operators.
        beam_width: hypotheses kept per line; 1 (the default) is greedy decoding.
        spin_wait: let onnxruntime's idle worker threads spin for new work (its default: lowest latency when the
            process has the cores to itself); False puts them to sleep, leaving the cores to whatever else runs
            beside them (a server's request handling, say).
        length_penalty: beam hypotheses are ranked by ``log p / length ** length_penalty`` (length counts
            ``</s>``); 1.0 is the mean log-probability per token, 0.0 the plain sequence log-probability.
    """

    #: Greedy decoding drops finished rows from the batch once no more than this share of it is still decoding.
    compact_at = 0.75

    def __init__(self, directory: str | os.PathLike, variant: str = "auto", intra_op_threads: int | None = None,
                 inter_op_threads: int | None = None, beam_width: int = 1, length_penalty: float = 1.0,
                 cap_to_frames: bool = True, spin_wait: bool = True):
        import onnxruntime as ort

        # As in the PyTorch predictor: no line outgrows its image (models.recognition.cached_decoder).
        self.cap_to_frames = cap_to_frames
        self.beam_width = _check_beam_width(beam_width)
        self.length_penalty = float(length_penalty)

        self.directory = Path(directory)
        if not is_onnx_dir(self.directory):
            raise FileNotFoundError(f"{self.directory}: not an exported recognizer (no {CONFIG_FILE})")
        self.config = json.loads((self.directory / CONFIG_FILE).read_text())
        if graph_format(self.config) != FORMAT_VERSION:
            raise ValueError(f"{self.directory}: exported with graph format {graph_format(self.config)}, "
                             f"this runtime reads format {FORMAT_VERSION}; export it again with `hotich export`")
        self.step_inputs = self.config["inputs"]["decoder_step"]
        if variant != "auto" and variant not in self.config["graphs"]:
            raise ValueError(f"variant {variant!r} not exported; available: {sorted(self.config['graphs'])}")
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        if inter_op_threads:
            options.inter_op_num_threads = inter_op_threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
        #: relative error against fp32 on the probe batch, per quantized variant ``auto`` tried
        self.probe_errors: dict[str, float] = {}
        if variant == "auto":
            self.variant, (self.encoder, self.step) = self._sound_variant(options)
        else:
            self.variant, (self.encoder, self.step) = variant, self._sessions(variant, options)
        self.tokenizer = CharTokenizer.from_pretrained(self.directory)
        self.processor = LineImageProcessor.from_pretrained(self.directory)

    def _sessions(self, variant: str, options) -> tuple:
        """``(encoder, decoder_step)`` inference sessions of one exported variant."""
        import onnxruntime as ort

        graphs = self.config["graphs"][variant]
        return tuple(ort.InferenceSession(str(self.directory / graphs[graph]), options,
                                          providers=["CPUExecutionProvider"]) for graph in ("encoder", "decoder_step"))

    def _probe_outputs(self, sessions: tuple, pixel_values: np.ndarray) -> list[np.ndarray]:
        """The cross-attention cache and the first decoding step's logits of ``pixel_values`` ``(B, C, H, W)``."""
        encoder, step = sessions
        cross = encoder.run(None, {"pixel_values": pixel_values})
        cross_keys, cross_values = cross[: len(cross) // 2], cross[len(cross) // 2:]
        b, heads, _, head_dim = cross_values[0].shape
        past_keys = [np.zeros((b, heads, head_dim, 0), dtype=np.float32) for _ in cross_keys]
        past_values = [np.zeros((b, heads, 0, head_dim), dtype=np.float32) for _ in cross_values]
        tokens = np.full((b, 1), self.config["bos_token_id"], dtype=np.int64)
        values = [tokens, np.array(0, dtype=np.int64), *past_keys, *past_values, *cross_keys, *cross_values]
        logits = step.run(None, dict(zip(self.step_inputs, values)))[0]
        return [*cross, logits]

    def _sound_variant(self, options) -> tuple[str, tuple]:
        """The first exported variant of :data:`VARIANT_PREFERENCE` whose probe outputs stay within
        :data:`PROBE_TOLERANCE` of fp32's, and its sessions. Quantized arithmetic differs between CPUs (onnxruntime
        picks kernels by instruction set), so this is checked where the model is served, not at export. An
        export without a probe batch takes its first variant unchecked."""
        exported = [v for v in VARIANT_PREFERENCE if v in self.config["graphs"]]
        probe = self.directory / PROBE_FILE
        if exported[0] == "fp32" or not probe.is_file():
            return exported[0], self._sessions(exported[0], options)
        pixel_values = np.load(probe)["pixel_values"].astype(np.float32)
        reference_sessions = self._sessions("fp32", options)
        reference = self._probe_outputs(reference_sessions, pixel_values)
        for variant in exported:
            if variant == "fp32":
                return variant, reference_sessions
            sessions = self._sessions(variant, options)
            error = max(float(np.linalg.norm(out - ref) / max(float(np.linalg.norm(ref)), 1e-12))
                        for out, ref in zip(self._probe_outputs(sessions, pixel_values), reference))
            self.probe_errors[variant] = round(error, 4)
            if error <= PROBE_TOLERANCE:
                return variant, sessions
            log.warning("%s: the %s graphs depart from fp32 on this CPU (relative error %.2f on the probe batch, "
                        "tolerance %.2f); not serving them", self.directory, variant, error, PROBE_TOLERANCE)
        raise AssertionError("VARIANT_PREFERENCE ends with fp32")

    @property
    def token_limit(self) -> int:
        """The most tokens a reading can have (decoding stops there; longer ones cannot be scored)."""
        return int(self.config["max_new_tokens"])

    def _limit(self, max_new_tokens: int | None) -> int:
        return min(max_new_tokens or self.config["max_new_tokens"], self.config["max_new_tokens"])

    def _encode(self, pixel_values: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """pixel values → cross-attention keys ``(B, h, d, T)`` and values ``(B, h, T, d)``, one array per layer."""
        outputs = self.encoder.run(None, {"pixel_values": pixel_values.astype(np.float32)})
        layers = len(outputs) // 2
        return outputs[:layers], outputs[layers:]

    def _step(self, tokens, position, past_keys, past_values, cross_keys, cross_values):
        """One decoder step → ``(probs, log_probs, present_keys, present_values)``; probs ``(N, V)``; the caches
        are lists of one array per layer, keys ``(N, h, d, S)`` and values ``(N, h, S, d)``."""
        values = [tokens, np.array(position, dtype=np.int64), *past_keys, *past_values, *cross_keys, *cross_values]
        logits, *present = self.step.run(None, dict(zip(self.step_inputs, values)))
        layers = len(present) // 2
        shifted = logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(shifted)
        total = p.sum(axis=-1, keepdims=True)
        p /= total
        return p, shifted - np.log(total), present[:layers], present[layers:]

    def decode_batch(self, pixel_values: np.ndarray, max_new_tokens: int | None = None,
                     beam_width: int | None = None):
        """Decode one batch; returns ``(token_ids, token_probs)`` per row (``</s>`` prob included).

        ``beam_width`` (default: the recognizer's) above 1 runs :meth:`beam_decode_batch`.
        """
        beam_width = _check_beam_width(self.beam_width if beam_width is None else beam_width)
        if beam_width > 1:
            return self.beam_decode_batch(pixel_values, beam_width, max_new_tokens)
        limit = self._limit(max_new_tokens)
        bos, eos = self.config["bos_token_id"], self.config["eos_token_id"]
        cross_keys, cross_values = self._encode(pixel_values)
        b, heads, frames, head_dim = cross_values[0].shape
        if self.cap_to_frames:
            limit = min(limit, frame_token_limit(frames))
        past_keys = [np.zeros((b, heads, head_dim, 0), dtype=np.float32) for _ in cross_keys]
        past_values = [np.zeros((b, heads, 0, head_dim), dtype=np.float32) for _ in cross_values]
        tokens = np.full((b, 1), bos, dtype=np.int64)
        rows = np.arange(b)  # batch position → original row, shrinking as finished rows leave
        live = np.ones(b, dtype=bool)  # batch positions still decoding (finished ones may linger until a compaction)
        ids: list[list[int]] = [[] for _ in range(b)]
        probs: list[list[float]] = [[] for _ in range(b)]
        for position in range(limit):
            p, _, past_keys, past_values = self._step(tokens, position, past_keys, past_values, cross_keys,
                                                      cross_values)
            best = p.argmax(axis=-1)
            for k in np.flatnonzero(live):
                probs[rows[k]].append(float(p[k, best[k]]))
                if best[k] == eos:
                    live[k] = False
                else:
                    ids[rows[k]].append(int(best[k]))
            if not live.any():
                break
            # Finished rows leave once at most compact_at of the batch is live: every compaction copies all caches,
            # which costs more than a few rows of wasted steps (a row finishing alone would copy them each time).
            if not live.all() and live.sum() <= self.compact_at * len(live):
                rows, best = rows[live], best[live]
                past_keys, past_values = _rows(past_keys, live), _rows(past_values, live)
                cross_keys, cross_values = _rows(cross_keys, live), _rows(cross_values, live)
                live = np.ones(len(rows), dtype=bool)
            tokens = best[:, None].astype(np.int64)
        return ids, probs

    def beam_decode_batch(self, pixel_values: np.ndarray, beam_width: int, max_new_tokens: int | None = None,
                          length_penalty: float | None = None):
        """Beam-search one batch; returns the best hypothesis of each row as ``(token_ids, token_probs)``,
        in the same form as greedy decoding (so width 1 gives exactly the greedy result).

        Each line keeps ``beam_width`` live hypotheses as consecutive rows of the key/value cache. A step
        ranks the ``2 k`` best continuations of a line by summed log-probability: ``</s>`` among the top
        ``k`` finishes a hypothesis, the best ``k`` others become the next beams (their cache rows gathered
        from their parents). A line is done once it holds ``k`` finished hypotheses, or once no live beam
        can still beat its best finished one; hypotheses still live at the token limit count as finished
        (without ``</s>``, as in greedy decoding). Finished hypotheses are ranked by
        ``sum log p / length ** length_penalty``.
        """
        k = _check_beam_width(beam_width)
        alpha = self.length_penalty if length_penalty is None else float(length_penalty)
        limit = self._limit(max_new_tokens)
        bos, eos = self.config["bos_token_id"], self.config["eos_token_id"]
        row_cross_keys, row_cross_values = self._encode(pixel_values)
        b, heads, frames, head_dim = row_cross_values[0].shape
        if self.cap_to_frames:
            limit = min(limit, frame_token_limit(frames))

        def normalised(score: float, length: int) -> float:
            return score / max(length, 1) ** alpha

        # Every line starts as k copies of <s>; all but the first score -inf so that the first step expands
        # one hypothesis only (the copies would propose the same continuations).
        lines = np.arange(b)  # lines still decoding, in cache order (k consecutive cache rows each)
        beam_tokens: list[list[int]] = [[] for _ in range(b * k)]
        beam_probs: list[list[float]] = [[] for _ in range(b * k)]
        scores = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], b)
        finished: list[list[tuple[float, list[int], list[float]]]] = [[] for _ in range(b)]
        cross_keys = [np.repeat(c, k, axis=0) for c in row_cross_keys]
        cross_values = [np.repeat(c, k, axis=0) for c in row_cross_values]
        past_keys = [np.zeros((b * k, heads, head_dim, 0), dtype=np.float32) for _ in row_cross_keys]
        past_values = [np.zeros((b * k, heads, 0, head_dim), dtype=np.float32) for _ in row_cross_values]
        tokens = np.full((b * k, 1), bos, dtype=np.int64)
        for position in range(limit):
            p, log_p, past_keys, past_values = self._step(tokens, position, past_keys, past_values, cross_keys,
                                                          cross_values)
            vocab = p.shape[-1]
            candidates = (scores[:, None] + log_p).reshape(len(lines), k * vocab)
            width = min(2 * k, k * vocab)
            top = np.argpartition(-candidates, width - 1, axis=1)[:, :width]
            # Descending score; ties go to the lower beam, then the lower token id (as greedy's argmax does).
            top = np.take_along_axis(top, np.lexsort((top, -np.take_along_axis(candidates, top, axis=1)), axis=1),
                                     axis=1)
            last = position == limit - 1
            kept_slots, sources, next_tokens, next_scores = [], [], [], []
            for slot, line in enumerate(lines):
                chosen = []
                for rank, flat in enumerate(top[slot]):
                    beam, token = divmod(int(flat), vocab)
                    row, score = slot * k + beam, float(candidates[slot, flat])
                    if score == -np.inf:
                        break
                    if token == eos:
                        if rank < k:
                            finished[line].append((normalised(score, len(beam_tokens[row]) + 1), beam_tokens[row],
                                                   beam_probs[row] + [float(p[row, token])]))
                        continue
                    chosen.append((row, token, score))
                    if len(chosen) == k:
                        break
                if last:  # the token limit: live hypotheses end here, without </s> (as greedy rows do)
                    for row, token, score in chosen:
                        finished[line].append((normalised(score, len(beam_tokens[row]) + 1),
                                               beam_tokens[row] + [token], beam_probs[row] + [float(p[row, token])]))
                    continue
                if not chosen or len(finished[line]) >= k:
                    continue
                if finished[line]:
                    # Live scores only fall as tokens are added; dividing by the longest possible length is
                    # the best a live hypothesis can still reach under length normalisation.
                    bound = chosen[0][2] / limit ** alpha if alpha > 0 else chosen[0][2]
                    if bound <= max(f[0] for f in finished[line]):
                        continue
                kept_slots.append(slot)
                chosen += [(chosen[0][0], chosen[0][1], -np.inf)] * (k - len(chosen))  # padding, never expanded
                for row, token, score in chosen:
                    sources.append(row)
                    next_tokens.append(token)
                    next_scores.append(score)
            if not kept_slots:
                break
            beam_tokens = [beam_tokens[row] + [token] for row, token in zip(sources, next_tokens)]
            beam_probs = [beam_probs[row] + [float(p[row, token])] for row, token in zip(sources, next_tokens)]
            index = np.array(sources)
            past_keys, past_values = _rows(past_keys, index), _rows(past_values, index)
            if len(kept_slots) != len(lines):
                lines = lines[kept_slots]
                cross_keys = [np.repeat(c[lines], k, axis=0) for c in row_cross_keys]
                cross_values = [np.repeat(c[lines], k, axis=0) for c in row_cross_values]
            scores = np.array(next_scores)
            tokens = np.array(next_tokens, dtype=np.int64)[:, None]
        ids, probs = [], []
        for line in range(b):
            # max() keeps the first of equal scores: the hypothesis that finished first (the shorter one).
            _, best_ids, best_probs = max(finished[line], key=lambda f: f[0]) if finished[line] else (0.0, [], [])
            ids.append(best_ids)
            probs.append(best_probs)
        return ids, probs

    def score_batch(self, pixel_values: np.ndarray, sequences: list[list[int]],
                    rows: list[int] | None = None) -> list[list[float]]:
        """The probability this recognizer gives each token of each of ``sequences`` (then ``</s>``), read with
        the sequence itself as the decoder's input (teacher forcing): one list of ``len(sequence) + 1`` per
        sequence. ``rows[j]`` is the row of ``pixel_values`` (``(B, C, H, W)``) that sequence ``j`` belongs to
        (default: row ``j``), so several hypotheses of one line share its encoding.
        """
        rows = list(range(len(sequences))) if rows is None else list(rows)
        if len(rows) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(rows)} rows")
        if not sequences:
            return []
        if min(rows) < 0 or max(rows) >= len(pixel_values):
            raise ValueError(f"rows must index the {len(pixel_values)} images, got {min(rows)}..{max(rows)}")
        if max(map(len, sequences)) > self.token_limit:
            raise ValueError(f"a sequence of {max(map(len, sequences))} tokens is longer than this recognizer "
                             f"reads ({self.token_limit})")
        bos, eos = self.config["bos_token_id"], self.config["eos_token_id"]
        cross_keys, cross_values = self._encode(pixel_values)
        index = np.asarray(rows)
        cross_keys, cross_values = _rows(cross_keys, index), _rows(cross_values, index)
        n, heads, _, head_dim = cross_values[0].shape
        targets = [list(map(int, sequence)) + [eos] for sequence in sequences]
        length = max(map(len, targets))
        # Input at step t is the target before it (<s> first); rows whose target has ended feed </s> and are
        # not read: a row's probabilities never depend on the rows beside it.
        inputs = np.full((n, length), eos, dtype=np.int64)
        inputs[:, 0] = bos
        for j, target in enumerate(targets):
            inputs[j, 1:len(target)] = target[:-1]
        past_keys = [np.zeros((n, heads, head_dim, 0), dtype=np.float32) for _ in cross_keys]
        past_values = [np.zeros((n, heads, 0, head_dim), dtype=np.float32) for _ in cross_values]
        probs: list[list[float]] = [[] for _ in range(n)]
        for position in range(length):
            p, _, past_keys, past_values = self._step(inputs[:, position:position + 1], position, past_keys,
                                                      past_values, cross_keys, cross_values)
            for j, target in enumerate(targets):
                if position < len(target):
                    probs[j].append(float(p[j, target[position]]))
        return probs

    def recognize(self, images: list, batch_size: int = 16, max_new_tokens: int | None = None,
                  beam_width: int | None = None) -> list[Recognition]:
        """Recognize line images (RGB arrays or PIL images); results in input order.

        ``beam_width`` overrides the recognizer's for this call (1 = greedy).
        """
        return recognize_bucketed(
            images, self.processor, self.tokenizer,
            lambda pixel_values: self.decode_batch(pixel_values.numpy(), max_new_tokens, beam_width), batch_size)


def _rows(cache: list[np.ndarray], index: np.ndarray) -> list[np.ndarray]:
    """The rows ``index`` (a mask or positions) of every layer's cache array."""
    return [layer[index] for layer in cache]


def _check_beam_width(beam_width: int) -> int:
    if not isinstance(beam_width, (int, np.integer)) or isinstance(beam_width, bool) or beam_width < 1:
        raise ValueError(f"beam width must be a whole number >= 1, got {beam_width!r}")
    return int(beam_width)
