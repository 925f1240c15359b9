"""The page layout detector: entry rows, field regions (class = field key) and text lines."""
from models.detection.configuration_layout_detector import LayoutDetectorConfig
from models.detection.layout import Region, decode_logits, decode_maps, match_f1, paint_targets, prepare_page
from models.detection.modeling_layout_detector import INSTANCE_MAPS, LayoutDetector

__all__ = ["INSTANCE_MAPS", "LayoutDetector", "LayoutDetectorConfig", "Region", "decode_logits", "decode_maps",
           "match_f1", "paint_targets", "prepare_page"]
