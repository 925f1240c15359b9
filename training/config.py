"""What every training loop shares: YAML configs over plain defaults, and the learning-rate schedule."""
from __future__ import annotations

import math
import os
from pathlib import Path

import yaml


def load_yaml_config(path: str | os.PathLike, defaults: dict, overrides: dict | None = None) -> dict:
    """``defaults`` ← the YAML file ← ``overrides``; a key the loop does not know is an error, not a silent no-op."""
    config = {**defaults, **(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}), **(overrides or {})}
    unknown = set(config) - set(defaults)
    if unknown:
        raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
    return config


def learning_rate(step: int, config: dict) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at ``max_steps``."""
    if step < config["warmup_steps"]:
        return config["lr"] * (step + 1) / config["warmup_steps"]
    progress = min(1.0, (step - config["warmup_steps"]) / max(1, config["max_steps"] - config["warmup_steps"]))
    floor = config["min_lr_ratio"]
    return config["lr"] * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
