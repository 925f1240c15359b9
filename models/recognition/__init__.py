"""The line recognizer: a character tokenizer, an image processor and a TrOCR-style encoder–decoder."""
from models.recognition.configuration_line_encoder import LineEncoderConfig
from models.recognition.modeling_line_encoder import LineEncoder
from models.recognition.processor import LineImageProcessor
from models.recognition.tokenizer import CharTokenizer

__all__ = ["CharTokenizer", "LineEncoder", "LineEncoderConfig", "LineImageProcessor"]
