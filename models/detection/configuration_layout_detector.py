"""Configuration of :class:`models.detection.modeling_layout_detector.LayoutDetector`."""
from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig


@strict
class LayoutDetectorConfig(PreTrainedConfig):
    r"""A small U-Net that paints a register page with four maps: entry rows, field regions, text lines and,
    on field pixels, the field key.

    Args:
        num_channels: input channels (1: pages are read in grayscale; ink colour carries little layout).
        input_size: the long side pages are resized to before the network (pixels, a multiple of 32).
        channels: widths of the five encoder stages (strides 2, 4, 8, 16, 32).
        field_keys: the field classes, in output-channel order; channel 0 of the key head is "no field".
        instance_maps: the binary instance maps painted, in output-channel order: ``entry``, ``field``, ``line``
            and optionally ``heading`` (the printed column, group-heading and title cells, whose text names the
            fields under them; detectors saved before it existed have three maps).
        shrink: fraction of a box's short side removed from each edge when painting the instance maps, so that
            touching boxes (cells of one row, lines of one cell) stay separate components; decoding grows
            components back by the same amount.

    Example:

    ```python
    >>> from models.detection import LayoutDetector, LayoutDetectorConfig
    >>> detector = LayoutDetector(LayoutDetectorConfig(field_keys=["nksHoTen", "nksNgaySinh"]))
    ```"""

    model_type = "hotich_layout_detector"

    num_channels: int = 1
    input_size: int = 768
    channels: list[int] | tuple[int, ...] = (16, 32, 48, 64, 96)
    field_keys: list[str] | tuple[str, ...] = ()
    instance_maps: list[str] | tuple[str, ...] = ("entry", "field", "line")
    shrink: float = 0.2
    initializer_range: float = 0.02

    @property
    def num_keys(self) -> int:
        return len(self.field_keys) + 1

    def validate_architecture(self):
        if self.input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {self.input_size}")
        if len(self.channels) != 5:
            raise ValueError("channels needs five stages")
        if tuple(self.instance_maps) not in (("entry", "field", "line"), ("entry", "field", "line", "heading")):
            raise ValueError(f"instance_maps must be entry, field, line [, heading]; got {list(self.instance_maps)}")
        if not 0 <= self.shrink < 0.5:
            raise ValueError("shrink must be in [0, 0.5)")


__all__ = ["LayoutDetectorConfig"]
