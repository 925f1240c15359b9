"""The page layout detector: a light U-Net with heatmap heads, small enough to train and run on two CPU cores."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from models.detection.configuration_layout_detector import LayoutDetectorConfig

#: Binary instance maps painted by the detector, in output-channel order; ``heading`` only where the config has
#: it (see ``LayoutDetectorConfig.instance_maps``).
INSTANCE_MAPS = ("entry", "field", "line", "heading")


class ConvBlock(nn.Sequential):
    """3x3 conv (optionally strided) + BN + ReLU, then a depthwise-separable 3x3: cheap on CPU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, groups=out_channels, bias=False),
            nn.Conv2d(out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


@dataclass
class LayoutDetectorOutput(ModelOutput):
    """``instance_logits``: ``(B, M, H/2, W/2)`` (entry, field, line[, heading]); ``key_logits``: ``(B, K+1, H/2, W/2)``;
    ``loss``: a scalar when targets were given."""

    loss: torch.Tensor | None = None
    instance_logits: torch.Tensor | None = None
    key_logits: torch.Tensor | None = None


class LayoutDetector(PreTrainedModel):
    """Page image → per-pixel maps at half resolution.

    Input ``pixel_values``: ``(B, 1, H, W)``, ink ≈ 1 and paper ≈ 0, ``H`` and ``W`` multiples of 32.
    Targets (optional): ``instance_targets`` ``(B, M, H/2, W/2)`` in {0, 1}, ``M = len(config.instance_maps)``;
    ``key_targets`` ``(B, H/2, W/2)``
    with the key index on field pixels and -100 elsewhere (ignored).
    """

    config_class = LayoutDetectorConfig
    base_model_prefix = "layout_detector"
    main_input_name = "pixel_values"

    def __init__(self, config: LayoutDetectorConfig):
        super().__init__(config)
        c = list(config.channels)
        self.down = nn.ModuleList([ConvBlock(config.num_channels, c[0], 2)]
                                  + [ConvBlock(c[i - 1], c[i], 2) for i in range(1, 5)])
        # Wide context at the bottom: a field's key depends on its column heading, far above it.
        self.context = nn.Sequential(
            nn.Conv2d(c[4], c[4], 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True),
            nn.Conv2d(c[4], c[4], 3, padding=4, dilation=4, bias=False), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True),
        )
        self.column_context = nn.Conv2d(c[4], c[4], (9, 1), padding=(4, 0))
        self.up = nn.ModuleList([ConvBlock(c[i + 1] + c[i], c[i]) for i in range(4)])
        self.instance_head = nn.Conv2d(c[0], len(config.instance_maps), 1)
        self.key_head = nn.Conv2d(c[0], config.num_keys, 1)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, pixel_values: torch.Tensor, instance_targets: torch.Tensor | None = None,
                key_targets: torch.Tensor | None = None, **kwargs) -> LayoutDetectorOutput:
        if pixel_values.dim() != 4 or pixel_values.shape[-1] % 32 or pixel_values.shape[-2] % 32:
            raise ValueError(f"expected (B, {self.config.num_channels}, H, W) with H, W multiples of 32, "
                             f"got {tuple(pixel_values.shape)}")
        skips = []
        x = pixel_values
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.context(x)
        # Average each column of the deepest map over the page height: every cell sees its column's heading.
        x = x + self.column_context(x.mean(dim=2, keepdim=True)).expand_as(x)
        for i in reversed(range(4)):
            x = F.interpolate(x, size=skips[i].shape[-2:], mode="nearest")
            x = self.up[i](torch.cat([x, skips[i]], dim=1))
        instance_logits, key_logits = self.instance_head(x), self.key_head(x)
        loss = None
        if instance_targets is not None and key_targets is not None:
            loss = detection_loss(instance_logits, key_logits, instance_targets, key_targets)
        return LayoutDetectorOutput(loss=loss, instance_logits=instance_logits, key_logits=key_logits)


def detection_loss(instance_logits, key_logits, instance_targets, key_targets) -> torch.Tensor:
    """BCE + soft dice per instance map (dice keeps thin text lines from drowning in background), plus
    cross-entropy of the key on field pixels."""
    bce = F.binary_cross_entropy_with_logits(instance_logits, instance_targets)
    prob = instance_logits.sigmoid()
    inter = (prob * instance_targets).sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(0, 2, 3)) + instance_targets.sum(dim=(0, 2, 3)) + 1)
    key = F.cross_entropy(key_logits, key_targets, ignore_index=-100) if (key_targets >= 0).any() \
        else key_logits.sum() * 0
    return bce + dice.mean() + key


AutoConfig.register(LayoutDetectorConfig.model_type, LayoutDetectorConfig, exist_ok=True)
AutoModel.register(LayoutDetectorConfig, LayoutDetector, exist_ok=True)

__all__ = ["INSTANCE_MAPS", "LayoutDetector", "LayoutDetectorOutput", "detection_loss"]
