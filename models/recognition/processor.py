"""Line image processor: any RGB line crop → a normalized, height-fixed, width-padded batch tensor."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

CONFIG_FILE = "preprocessor_config.json"


@dataclass
class LineImageProcessor:
    """Resize to ``height`` keeping the aspect ratio, cap the width, pad on the right with white, normalize.

    Attributes:
        height: model input height in pixels.
        max_width: longer lines are squeezed horizontally to this width.
        min_width: shorter lines are padded up to it (the encoder needs a few columns).
        pad_multiple: padded widths are multiples of this (the encoder's width stride).
        mean, std: ``(x / 255 - mean) / std`` per channel.
        fixed_width: when set, every line is stretched to exactly this width (what fixed-size ViT encoders
            such as ``microsoft/trocr-*`` expect); None keeps the aspect ratio.
    """

    height: int = 48
    max_width: int = 1024
    min_width: int = 32
    pad_multiple: int = 8
    mean: float = 0.5
    std: float = 0.5
    fixed_width: int | None = None

    def resize(self, image: np.ndarray | Image.Image) -> np.ndarray:
        """One image → uint8 RGB ``(height, w)`` with ``w <= max_width``."""
        array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 1:
            raise ValueError(f"expected an RGB image, got an array of shape {array.shape}")
        array = array[..., :3]
        h, w = array.shape[:2]
        if self.fixed_width:
            width = self.fixed_width
        else:
            width = int(np.clip(round(w * self.height / h), 1, self.max_width))
        interpolation = cv2.INTER_AREA if h > self.height else cv2.INTER_LINEAR
        return cv2.resize(np.ascontiguousarray(array), (width, self.height), interpolation=interpolation)

    def __call__(self, images) -> dict[str, torch.Tensor]:
        """A batch of images → ``{"pixel_values": (B, 3, height, W), "widths": (B,)}``, W a padded common width."""
        if isinstance(images, (np.ndarray, Image.Image)):
            images = [images]
        resized = [self.resize(im) for im in images]
        if not resized:
            raise ValueError("no images given")
        widest = max(self.min_width, max(r.shape[1] for r in resized))
        width = self.fixed_width or -(-widest // self.pad_multiple) * self.pad_multiple
        batch = np.full((len(resized), self.height, width, 3), 255, dtype=np.uint8)
        for i, r in enumerate(resized):
            batch[i, :, : r.shape[1]] = r
        pixels = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0).sub_(self.mean).div_(self.std)
        return {"pixel_values": pixels, "widths": torch.tensor([r.shape[1] for r in resized])}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_FILE).write_text(json.dumps({"processor_class": "LineImageProcessor", **asdict(self)},
                                                        indent=1), encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "LineImageProcessor":
        path = Path(directory) / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: not a hotich processor directory")
        values = json.loads(path.read_text(encoding="utf-8"))
        values.pop("processor_class", None)
        return cls(**values)
