"""The promotion gate: may a fine-tuned candidate replace the serving recognizer?

Both conditions must hold:

1. on every fixed validation set (Cinnamon val, VNOnDB val, synthetic val), the candidate's CER is at most
   ``max_val_worsening`` (0.3 CER points, absolute) above the serving model's: corrections must not buy one
   style at the price of the others;
2. on the held-out corrections (lines of the new style that fine-tuning never saw), the candidate's CER is lower
   than the serving model's by more than ``min_heldout_gain`` (default 0: any improvement).

Both models are measured by the same code (:func:`training.train_recognizer.evaluate`: greedy decoding, corpus
CER) on the same lines; a candidate's numbers from its fine-tuning run's final evaluation are reused as they are.
A missing set counts against the candidate: nothing is promoted on numbers that were not measured.

The decision carries every number and one reason per check, for the registry and the job record.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.finetune import FIXED_VAL_SETS, HELDOUT_SET

log = logging.getLogger("hotich.promotion")

MAX_VAL_WORSENING = 0.003  # 0.3 CER points
_EPS = 1e-9  # CERs arrive rounded to 5 decimals; equality must not fail on float noise


@dataclass
class GateDecision:
    """The gate's answer.

    Attributes:
        promote: True when the candidate may serve.
        reasons: one line per check, failing ones first.
        checks: set name → ``{"serving": cer, "candidate": cer, "delta_points": candidate - serving in CER
            points, "limit_points": the allowed change, "n": lines, "passed": bool}``.
        candidate, serving: the full metrics per set.
    """

    promote: bool
    reasons: list[str]
    checks: dict
    max_val_worsening_points: float
    min_heldout_gain_points: float
    candidate: dict = field(default_factory=dict)
    serving: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _points(cer: float) -> float:
    return round(100 * cer, 4)


def decide(candidate: dict, serving: dict, fixed_sets: list[str] | tuple[str, ...] = tuple(FIXED_VAL_SETS),
           heldout_set: str = HELDOUT_SET, max_val_worsening: float = MAX_VAL_WORSENING,
           min_heldout_gain: float = 0.0) -> GateDecision:
    """The decision from metrics already measured (set name → ``{"cer": ..., "n": ...}``) for both models."""
    checks, failed, passed = {}, [], []
    if not fixed_sets:
        failed.append("no fixed validation set to check the candidate against")
    for name in fixed_sets:
        if name not in candidate or name not in serving:
            who = " and ".join(w for w, m in (("candidate", candidate), ("serving model", serving)) if name not in m)
            failed.append(f"{name}: not measured for the {who}")
            continue
        delta = candidate[name]["cer"] - serving[name]["cer"]
        ok = delta <= max_val_worsening + _EPS
        checks[name] = {"serving": serving[name]["cer"], "candidate": candidate[name]["cer"],
                        "delta_points": _points(delta), "limit_points": _points(max_val_worsening),
                        "n": candidate[name].get("n"), "passed": ok}
        line = (f"{name}: CER {_points(serving[name]['cer']):.2f} -> {_points(candidate[name]['cer']):.2f} "
                f"({_points(delta):+.2f} points, at most +{_points(max_val_worsening):.2f} allowed)")
        (passed if ok else failed).append(line)
    if heldout_set not in candidate or heldout_set not in serving or not candidate[heldout_set].get("n"):
        failed.append(f"{heldout_set}: no held-out corrections measured, so no evidence the candidate improves "
                      "on the new lines (more corrections are needed)")
    else:
        delta = candidate[heldout_set]["cer"] - serving[heldout_set]["cer"]
        ok = delta < -min_heldout_gain - _EPS
        checks[heldout_set] = {"serving": serving[heldout_set]["cer"], "candidate": candidate[heldout_set]["cer"],
                               "delta_points": _points(delta), "limit_points": -_points(min_heldout_gain),
                               "n": candidate[heldout_set].get("n"), "passed": ok}
        line = (f"{heldout_set}: CER {_points(serving[heldout_set]['cer']):.2f} -> "
                f"{_points(candidate[heldout_set]['cer']):.2f} ({_points(delta):+.2f} points, "
                f"must fall by more than {_points(min_heldout_gain):.2f})")
        (passed if ok else failed).append(line)
    return GateDecision(promote=not failed, reasons=[f"FAIL {r}" for r in failed] + [f"ok {r}" for r in passed],
                        checks=checks, max_val_worsening_points=_points(max_val_worsening),
                        min_heldout_gain_points=_points(min_heldout_gain), candidate=candidate, serving=serving)


def load_sets(val_sets: list[str], val_limit: int | None, manifests: dict[str, str | os.PathLike] | None = None):
    """The evaluation sets as the training loop loads them: name → (images, texts)."""
    from training.train_recognizer import load_val_sets

    return load_val_sets({"val_sets": list(val_sets), "val_limit": val_limit, "val_manifests": dict(manifests or {})})


def measure(model_dir: str | os.PathLike, sets: dict, batch_size: int = 32) -> dict:
    """Metrics of the recognizer in ``model_dir`` on ``sets`` (name → (images, texts))."""
    from models.recognition.recognizer import load_recognizer
    from training.train_recognizer import evaluate

    model, tokenizer, processor = load_recognizer(model_dir)
    return evaluate(model, tokenizer, processor, sets, batch_size)


def run_gate(candidate_dir: str | os.PathLike, serving_dir: str | os.PathLike,
             heldout_manifest: str | os.PathLike | None, val_sets: list[str] = tuple(FIXED_VAL_SETS),
             val_manifests: dict[str, str | os.PathLike] | None = None, val_limit: int | None = 200,
             candidate_metrics: dict | None = None, serving_metrics: dict | None = None,
             max_val_worsening: float = MAX_VAL_WORSENING, min_heldout_gain: float = 0.0,
             batch_size: int = 32) -> GateDecision:
    """Measure what is not measured yet (both models, same sets and lines) and decide.

    The fixed sets are ``val_sets`` (built-in names) and ``val_manifests`` (name → line manifest).
    ``candidate_metrics`` / ``serving_metrics`` are reused for the sets they hold, so they must come from the same
    ``val_limit`` (a fine-tuning run's final evaluation does, with the same options).
    """
    fixed = list(val_sets) + list(val_manifests or {})
    manifests = {**(val_manifests or {}), **({HELDOUT_SET: heldout_manifest} if heldout_manifest else {})}
    names = fixed + ([HELDOUT_SET] if heldout_manifest else [])
    metrics = {"candidate": dict(candidate_metrics or {}), "serving": dict(serving_metrics or {})}
    for who, model_dir in (("candidate", candidate_dir), ("serving", serving_dir)):
        todo = [n for n in names if n not in metrics[who]]
        if todo:
            log.info("gate: measuring the %s model on %s", who, ", ".join(todo))
            sets = load_sets([n for n in todo if n in val_sets], val_limit,
                             {n: p for n, p in manifests.items() if n in todo})
            metrics[who].update(measure(Path(model_dir), sets, batch_size))
    decision = decide(metrics["candidate"], metrics["serving"], fixed, HELDOUT_SET, max_val_worsening,
                      min_heldout_gain)
    log.info("gate: %s", "promote" if decision.promote else "reject")
    return decision
